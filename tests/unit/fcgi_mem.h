/* fcgi_mem.h: a FastCGI request in memory for the unit tests: parameters, a body to read, and what the handler writes, without a web server. */
#ifndef FCGI_MEM_H
#define FCGI_MEM_H

#include <stdarg.h>
#include <string.h>

#include "common.h"

/*
 * libfcgi's streams are buffers with two callbacks: fillBuffProc when a
 * reader has consumed its buffer, emptyBuffProc when a writer's is full
 * or flushed.  Here the reader's buffer is the whole body (the next fill
 * is the end of it) and the writer's is a small array emptied into a
 * struct buf, so that short writes and flushes happen as they would.
 */
#define MEM_OUT_CHUNK	64

struct mem_fcgi {
	FCGX_Request	 req;
	FCGX_Stream	 in, out, err;
	char		*env[40];
	size_t		 nenv;
	unsigned char	 chunk[MEM_OUT_CHUNK], errchunk[MEM_OUT_CHUNK];
	struct buf	 written;	/* everything the handler sent */
	struct buf	 errors;
	int		 fail_writes;	/* the web server went away */
};

static inline void
mem_fill(FCGX_Stream *s)
{
	s->isClosed = 1;	/* the body has no more */
}

static inline void
mem_empty(FCGX_Stream *s, int doClose)
{
	struct mem_fcgi	*m = s->data;
	int		 err = s == &m->err;
	unsigned char	*start = err ? m->errchunk : m->chunk;

	(void)doClose;
	if (m->fail_writes && !err) {
		s->FCGI_errno = 32;	/* EPIPE */
		s->isClosed = 1;
	} else
		buf_append(err ? &m->errors : &m->written, start,
		    (size_t)(s->wrNext - start));
	s->wrNext = start;
}

static inline void
mem_writer(struct mem_fcgi *m, FCGX_Stream *s, unsigned char *chunk)
{
	memset(s, 0, sizeof(*s));
	s->wrNext = chunk;
	s->stop = chunk + MEM_OUT_CHUNK;
	s->rdNext = s->stop;
	s->emptyBuffProc = mem_empty;
	s->data = m;
}

/*
 * A request with these parameters ("NAME=value", NULL-terminated) and
 * this body (len bytes, may be NULL).  Free with mem_fcgi_free().
 */
static inline void
mem_fcgi_init(struct mem_fcgi *m, const char *body, size_t len, ...)
{
	va_list		 ap;
	const char	*p;

	memset(m, 0, sizeof(*m));
	va_start(ap, len);
	while ((p = va_arg(ap, const char *)) != NULL &&
	    m->nenv < nitems(m->env) - 1)
		m->env[m->nenv++] = xstrdup(p);
	va_end(ap);
	m->in.rdNext = (unsigned char *)(body != NULL ? body : "");
	m->in.stop = m->in.rdNext + len;
	m->in.stopUnget = m->in.rdNext;
	m->in.wrNext = m->in.stop;
	m->in.isReader = 1;
	m->in.fillBuffProc = mem_fill;
	m->in.data = m;
	mem_writer(m, &m->out, m->chunk);
	mem_writer(m, &m->err, m->errchunk);
	m->req.in = &m->in;
	m->req.out = &m->out;
	m->req.err = &m->err;
	m->req.envp = m->env;
}

/* What was written: status line, headers and body, as one string. */
static inline const char *
mem_fcgi_output(struct mem_fcgi *m)
{
	if (m->out.wrNext != m->chunk)
		mem_empty(&m->out, 0);
	return m->written.data != NULL ? m->written.data : "";
}

/* The body: what follows the blank line after the headers. */
static inline const char *
mem_fcgi_body(struct mem_fcgi *m)
{
	const char	*o = mem_fcgi_output(m), *e = strstr(o, "\r\n\r\n");

	return e != NULL ? e + 4 : "";
}

/* Predicate: the headers hold this exact line ("Name: value"). */
static inline int
mem_fcgi_has(struct mem_fcgi *m, const char *line)
{
	const char	*o = mem_fcgi_output(m), *e = strstr(o, "\r\n\r\n");
	struct buf	 head = { 0 }, want = { 0 };
	int		 found;

	buf_puts(&head, "\r\n");
	buf_append(&head, o, e != NULL ? (size_t)(e - o) + 2 : strlen(o));
	buf_printf(&want, "\r\n%s\r\n", line);
	found = strstr(head.data, want.data) != NULL;
	buf_free(&head);
	buf_free(&want);
	return found;
}

static inline void
mem_fcgi_free(struct mem_fcgi *m)
{
	size_t	i;

	for (i = 0; i < m->nenv; i++)
		free(m->env[i]);
	buf_free(&m->written);
	buf_free(&m->errors);
}

#endif /* !FCGI_MEM_H */

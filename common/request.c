/* request.c: parse a FastCGI request into a struct req: method, decoded path, query, id, body. */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>

#include <stdlib.h>
#include <string.h>

#include "common.h"

#define QUERY_MAX_PARAMS	64

static const struct {
	const char	*name;
	enum method	 method;
} methods[] = {
	{ "GET", METHOD_GET },
	{ "POST", METHOD_POST },
	{ "PUT", METHOD_PUT },
	{ "PATCH", METHOD_PATCH },
	{ "DELETE", METHOD_DELETE },
	{ "HEAD", METHOD_HEAD },
	{ "OPTIONS", METHOD_OPTIONS },
};

static int
req_id_valid(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' ||
		    s[i] == '.'))
			return 0;
	return 1;
}

/* Split and decode "a=1&b=2"; -1 on a broken escape or too many pairs. */
static int
req_parse_query(struct req *r, const char *qs)
{
	char	*copy, *pair, *save, *eq;
	size_t	 len;

	if (*qs == '\0')
		return 0;
	r->query = arena_alloc(&r->arena, QUERY_MAX_PARAMS * sizeof(*r->query));
	copy = arena_strdup(&r->arena, qs);
	for (pair = strtok_r(copy, "&", &save); pair != NULL;
	    pair = strtok_r(NULL, "&", &save)) {
		if (r->nquery == QUERY_MAX_PARAMS)
			return -1;
		if ((eq = strchr(pair, '=')) != NULL)
			*eq++ = '\0';
		else
			eq = pair + strlen(pair);
		if (url_decode(pair, &len, 1) == -1 || url_decode(eq, &len, 1) == -1)
			return -1;
		r->query[r->nquery].key = pair;
		r->query[r->nquery].val = eq;
		r->nquery++;
	}
	return 0;
}

/*
 * Fill r from the FastCGI parameters.  Returns -1 when the URI cannot be
 * decoded (a broken escape, %00, not UTF-8); r is still usable for an
 * error response then.
 */
int
req_init(struct req *r, struct app *app, FCGX_Request *f)
{
	const char	*m, *uri, *id, *q;
	size_t		 i, len;

	memset(r, 0, sizeof(*r));
	r->t0 = now_ms();
	r->app = app;
	r->fcgi = f;
	r->status = 500;

	if ((id = req_header(r, "HTTP_X_REQUEST_ID")) != NULL && req_id_valid(id))
		strncpy(r->id, id, sizeof(r->id) - 1);
	else
		random_hex(r->id, 33);

	m = req_header(r, "REQUEST_METHOD");
	r->method = METHOD_OTHER;
	r->method_name = "OTHER";
	for (i = 0; m != NULL && i < nitems(methods); i++)
		if (strcmp(m, methods[i].name) == 0) {
			r->method = methods[i].method;
			r->method_name = methods[i].name;
		}

	if ((uri = req_header(r, "REQUEST_URI")) == NULL || *uri != '/')
		return -1;
	if ((q = strchr(uri, '?')) != NULL) {
		r->path = arena_strndup(&r->arena, uri, (size_t)(q - uri));
		q++;
	} else {
		r->path = arena_strdup(&r->arena, uri);
		q = "";
	}
	/* An encoded slash is refused, as lighttpd refuses it (400). */
	if (strcasestr(r->path, "%2f") != NULL || url_decode(r->path, &len, 0) == -1) {
		r->path = NULL;
		return -1;
	}
	return req_parse_query(r, q);
}

void
req_free(struct req *r)
{
	buf_free(&r->headers);
	arena_reset(&r->arena);
}

/* The first value of a query parameter, or NULL. */
const char *
req_param(const struct req *r, const char *key)
{
	size_t	i;

	for (i = 0; i < r->nquery; i++)
		if (strcmp(r->query[i].key, key) == 0)
			return r->query[i].val;
	return NULL;
}

/*
 * A FastCGI parameter ("HTTP_AUTHORIZATION", "CONTENT_TYPE").  The
 * pointer is valid until the request finishes; never keep it longer.
 */
const char *
req_header(const struct req *r, const char *name)
{
	return r->fcgi != NULL ? FCGX_GetParam(name, r->fcgi->envp) : NULL;
}

/*
 * Up to want bytes of the body, waiting until deadline (now_ms()) at
 * most.  What libfcgi holds already is taken at once; otherwise the
 * FastCGI socket gets a receive timeout of what remains and one byte is
 * asked for, which reads one record (libfcgi's read then fails with
 * EAGAIN past the timeout and closes the input stream).  So a client
 * that sends its body slowly, which a web server that streams bodies
 * (Apache's mod_proxy_fcgi) passes through as it comes, holds a worker
 * until the deadline and not longer.  Returns the count, 0 at the end,
 * -1 on an error, -2 past the deadline.
 */
static int
body_get(struct req *r, char *dst, int want, double deadline)
{
	FCGX_Stream	*in = r->fcgi->in;
	struct timeval	 tv;
	double		 left;
	int		 avail = (int)(in->stop - in->rdNext), n;

	if (avail > 0 && !in->isClosed)
		return FCGX_GetStr(dst, want < avail ? want : avail, in);
	if ((left = deadline - now_ms()) <= 0)
		return -2;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)((long long)left % 1000) * 1000 + 1;
	(void)setsockopt(r->fcgi->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = FCGX_GetStr(dst, 1, in);
	if (n <= 0 && (in->FCGI_errno == EAGAIN || in->FCGI_errno == EWOULDBLOCK))
		return -2;
	if (n <= 0 && in->FCGI_errno != 0)
		return -1;
	return n;
}

/*
 * A body given up on (too slow, too large, of no valid length) may
 * still be arriving on the connection.  Apache's mod_proxy_fcgi asks to keep its connections
 * (FCGI_KEEP_CONN); kept, this worker would next wait on that one for
 * the web server to finish with the slow client (mod_reqtimeout's 20 s)
 * while new connections queue in the backlog: so the connection is
 * closed after the answer, and the server opens another for its next
 * request, as it must after any backend close.
 */
static void
body_abandon(struct req *r)
{
	if (r->fcgi != NULL)
		r->fcgi->keepConnection = 0;
}

/*
 * Read the body into the arena, at most cfg.body_max bytes, within
 * body_timeout_ms.  Returns 0, or -1 after writing a 413 (declared or
 * actual length too large), a 400 (a body shorter than its
 * Content-Length) or a 408 (the body took too long).
 */
int
req_read_body(struct req *r)
{
	const char	*cl = req_header(r, "CONTENT_LENGTH");
	long long	 want = -1;
	size_t		 cap = (size_t)cfg.body_max, len = 0;
	double		 deadline = now_ms() + (cfg.body_timeout_ms > 0 ?
		    cfg.body_timeout_ms : 1e12);	/* unset: none (unit tests) */
	int		 n = 0;

	if (cl != NULL && *cl != '\0') {
		if (parse_int64(cl, &want) == -1 || want < 0) {
			body_abandon(r);
			http_error(r, ERR_BAD_REQUEST, "invalid Content-Length");
			return -1;
		}
		if (want > (long long)cap) {
			body_abandon(r);
			http_error(r, ERR_TOO_LARGE, "the limit is %zu bytes", cap);
			return -1;
		}
		cap = (size_t)want;
	}
	r->body = arena_alloc(&r->arena, cap + 1);
	while (len < cap &&
	    (n = body_get(r, r->body + len, (int)(cap - len), deadline)) > 0)
		len += (size_t)n;
	if (n == -2 || (len == cap && want < 0 &&
	    (n = body_get(r, (char[1]){ 0 }, 1, deadline)) == -2)) {
		LOG_WARN(r, "request: body not received within body_timeout_ms "
		    "(%d ms): %zu of %lld bytes", cfg.body_timeout_ms, len, want);
		body_abandon(r);
		http_error(r, ERR_REQUEST_TIMEOUT, "the body took longer than "
		    "%d ms", cfg.body_timeout_ms);
		return -1;
	}
	if (want < 0 && len == cap && n > 0) {
		body_abandon(r);
		http_error(r, ERR_TOO_LARGE, "the limit is %zu bytes", cap);
		return -1;
	}
	if (want >= 0 && len != (size_t)want) {
		http_error(r, ERR_BAD_REQUEST, "body shorter than Content-Length");
		return -1;
	}
	r->body[len] = '\0';
	r->body_len = len;
	return 0;
}

/*
 * Predicate: ip is in the comma list of addresses and CIDR blocks
 * ("10.0.0.0/8, 127.0.0.1, ::1").  Pure; an unparsable entry contains
 * nothing.
 */
int
ip_in_list(const char *ip, const char *list)
{
	unsigned char	 a[16], net[16];
	char		 item[64], *slash;
	const char	*p = list, *end;
	size_t		 n;
	int		 fam, bits, i, len;
	long long	 v;

	fam = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(fam, ip, a) != 1)
		return 0;
	len = fam == AF_INET ? 4 : 16;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = '\0';
			bits = len * 8;
			if ((slash = strchr(item, '/')) != NULL) {
				*slash = '\0';
				if (parse_int64(slash + 1, &v) == -1 || v < 0 ||
				    v > len * 8)
					goto next;
				bits = (int)v;
			}
			if (inet_pton(fam, item, net) != 1)
				goto next;
			for (i = 0; i < bits / 8; i++)
				if (a[i] != net[i])
					goto next;
			if (bits % 8 != 0 && ((a[i] ^ net[i]) &
			    (0xff << (8 - bits % 8)) & 0xff) != 0)
				goto next;
			return 1;
		}
next:
		p = end;
	}
	return 0;
}

/*
 * The client's address.  REMOTE_ADDR, unless it is a trusted proxy
 * (trusted_proxies): then X-Forwarded-For is walked from the right,
 * past the trusted proxies, to the first address that is not one.  A
 * client can prepend anything it likes to X-Forwarded-For; only what
 * trusted proxies appended is believed.
 */
const char *
req_client_ip(struct req *r)
{
	const char	*ip = req_header(r, "REMOTE_ADDR"), *xff;
	char		*copy, *tok, *save, **hops, addr[16];
	size_t		 n = 0, max = 1, len;
	int		 i;

	if (ip == NULL)
		return "unknown";
	if (*cfg.trusted_proxies == '\0' || !ip_in_list(ip, cfg.trusted_proxies) ||
	    (xff = req_header(r, "HTTP_X_FORWARDED_FOR")) == NULL)
		return ip;
	for (tok = (char *)xff; *tok != '\0'; tok++)
		max += *tok == ',';
	hops = arena_alloc(&r->arena, max * sizeof(*hops));
	copy = arena_strdup(&r->arena, xff);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		len = strlen(tok);
		while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
			tok[--len] = '\0';
		hops[n++] = tok;
	}
	for (i = (int)n - 1; i >= 0; i--) {
		if (inet_pton(strchr(hops[i], ':') ? AF_INET6 : AF_INET, hops[i],
		    addr) != 1)
			return ip;	/* garbage: the last believed address */
		ip = hops[i];
		if (!ip_in_list(ip, cfg.trusted_proxies))
			return ip;
	}
	return ip;
}

/* log.c: one JSON line per request and per error on stderr, written with one write(2). */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"

static const char	*log_service = "app";
static enum log_level	 log_min = LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };
static int		 progress_shown;	/* a progress line is on the terminal */

void
log_init(const char *service)
{
	log_service = service;
}

void
log_set_level(const char *name)
{
	size_t	i;

	for (i = 0; i < nitems(level_names); i++)
		if (name != NULL && strcmp(name, level_names[i]) == 0)
			log_min = (enum log_level)i;
}

/* Open a line: {"time":...,"level":...,"svc":...,"pid":... */
static void
log_open(struct buf *b, enum log_level level)
{
	struct timeval	tv;
	struct tm	tm;
	char		ts[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"svc\":",
	    ts, (long)tv.tv_usec / 1000, level_names[level]);
	buf_json_string(b, log_service, strlen(log_service));
	buf_printf(b, ",\"pid\":%ld", (long)getpid());
}

static void
log_field(struct buf *b, const char *key, const char *val)
{
	if (val == NULL || *val == '\0')
		return;
	buf_printf(b, ",\"%s\":", key);
	buf_json_string(b, val, strlen(val));
}

static void
log_write(const char *p, size_t len)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < len) {
		if ((n = write(STDERR_FILENO, p + off, len - off)) <= 0)
			break;
		off += (size_t)n;
	}
}

static void
log_close(struct buf *b)
{
	if (progress_shown) {
		log_write("\r\033[K", 4);	/* the line goes where progress was */
		progress_shown = 0;
	}
	buf_puts(b, "}\n");
	log_write(b->data, b->len);
	buf_reset(b);
}

void
log_msg(enum log_level level, const char *file, int line, const struct req *r,
    const char *fmt, ...)
{
	static struct buf	 b, msg;
	const char		*base;
	va_list			 ap;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	log_open(&b, level);
	buf_puts(&b, ",\"msg\":");
	buf_json_string(&b, msg.data, msg.len);
	buf_reset(&msg);
	if ((base = strrchr(file, '/')) != NULL)
		file = base + 1;
	buf_printf(&b, ",\"src\":\"%s:%d\"", file, line);
	if (r != NULL) {
		log_field(&b, "request_id", r->id);
		if (r->authed)
			log_field(&b, "tenant", r->auth.tenant_id);
	}
	log_close(&b);
}

/* The access log line: no query string, no headers, no body. */
void
log_request(const struct req *r)
{
	static struct buf	b;

	if (LOG_INFO < log_min)
		return;
	log_open(&b, r->status >= 500 ? LOG_ERROR : LOG_INFO);
	buf_puts(&b, ",\"msg\":\"request\"");
	log_field(&b, "request_id", r->id);
	log_field(&b, "method", r->method_name);
	if (r->path != NULL) {
		buf_puts(&b, ",\"path\":");
		buf_json_string(&b, r->path, strlen(r->path));
	}
	buf_printf(&b, ",\"status\":%d,\"duration_ms\":%.3f", r->status,
	    now_ms() - r->t0);
	if (r->authed) {
		log_field(&b, "tenant", r->auth.tenant_id);
		log_field(&b, "user", r->auth.user_id);
	}
	log_field(&b, "code", r->code);
	log_field(&b, "cache", r->cache);
	log_close(&b);
}

/*
 * A progress line for someone watching a cron binary at a terminal: one
 * line, rewritten in place, and erased by the next log line.  Nothing
 * at all when stderr is not a terminal (cron mails, log files).
 */
void
log_progress(const char *fmt, ...)
{
	static int	 tty = -1;
	struct buf	 b = { 0 };
	va_list		 ap;

	if (tty == -1)
		tty = isatty(STDERR_FILENO);
	if (!tty)
		return;
	buf_puts(&b, "\r\033[K");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_write(b.data, b.len);
	buf_free(&b);
	progress_shown = 1;
}

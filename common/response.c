/* response.c: the one place that writes a status line, the common headers and a body. */
#include <string.h>

#include "common.h"

/*
 * Queue a response header.  CR and LF in the value are replaced, so no
 * value can split the header block whatever it came from.
 */
void
http_header(struct req *r, const char *name, const char *fmt, ...)
{
	va_list	ap;
	size_t	start, i;

	buf_printf(&r->headers, "%s: ", name);
	start = r->headers.len;
	va_start(ap, fmt);
	buf_vprintf(&r->headers, fmt, ap);
	va_end(ap);
	for (i = start; i < r->headers.len; i++)
		if (r->headers.data[i] == '\r' || r->headers.data[i] == '\n')
			r->headers.data[i] = ' ';
	buf_puts(&r->headers, "\r\n");
}

static int
http_head(struct req *r, int status, const char *ctype, long long len)
{
	FCGX_Stream	*out = r->fcgi->out;

	if (r->responded) {
		LOG_ERR(r, "second response for one request (status %d)", status);
		return -1;
	}
	r->responded = 1;
	r->status = status;
	if (r->idem != NULL)
		idem_head(r, status, ctype);
	FCGX_FPrintF(out, "Status: %d %s\r\n", status, http_reason(status));
	if (ctype != NULL)
		FCGX_FPrintF(out, "Content-Type: %s\r\n", ctype);
	FCGX_FPrintF(out,
	    "X-Content-Type-Options: nosniff\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Request-Id: %s\r\n", r->id);
	if (r->headers.len > 0)
		FCGX_PutStr(r->headers.data, (int)r->headers.len, out);
	if (len >= 0)
		FCGX_FPrintF(out, "Content-Length: %lld\r\n", len);
	FCGX_PutStr("\r\n", 2, out);
	return 0;
}

/*
 * A whole response.  A 204 or a 304 has neither body nor Content-Length
 * (RFC 9110, 8.6, 15.4.5).  A HEAD gets what a GET would, body included: the web
 * server drops the body (CGI/1.1 and FastCGI leave HEAD to it), and
 * Apache sends the Content-Length only of a body it has seen.  ctype
 * NULL: no Content-Type.
 */
void
http_send(struct req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	int	bodiless = status == 204 || status == 304;

	if (r->capture != NULL) {	/* dispatch.c's If-Match probe */
		r->status = status;
		buf_append(r->capture, body, bodiless ? 0 : len);
		return;
	}
	if (http_head(r, status, ctype, bodiless ? -1 : (long long)len) == -1)
		return;
	if (!bodiless)
		FCGX_PutStr(body, (int)len, r->fcgi->out);
	if (!bodiless && r->idem != NULL)
		idem_body(r, body, len);
}

void
http_json(struct req *r, int status, const char *json, size_t len)
{
	http_send(r, status, "application/json; charset=utf-8", json, len);
}

/* Send obj as the body; obj is released. */
void
http_json_obj(struct req *r, int status, json_object *obj)
{
	const char	*s;
	size_t		 len;

	s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	http_json(r, status, s, len);
	json_object_put(obj);
}

/*
 * The error body: {"error": message, "code": code, ...extra}.  Keys of
 * extra (details, or the 429 counters) are merged in; extra is
 * released.  401 gets WWW-Authenticate and 503 gets Retry-After here,
 * so no call site can forget them.
 */
void
http_error_obj(struct req *r, enum err e, const char *message, json_object *extra)
{
	json_object	*body = json_object_new_object();
	int		 status = err_status(e);

	json_object_object_add(body, "error",
	    json_object_new_string(message != NULL ? message : err_message(e)));
	json_object_object_add(body, "code", json_object_new_string(err_code(e)));
	if (extra != NULL) {
		json_object_object_foreach(extra, key, val)
			json_object_object_add(body, key, json_object_get(val));
		json_object_put(extra);
	}
	r->code = err_code(e);
	if (status == 401)
		http_header(r, "WWW-Authenticate",
		    "Bearer realm=\"api\", error=\"invalid_token\"");
	if (status == 503 && strstr(r->headers.data ? r->headers.data : "",
	    "Retry-After:") == NULL)
		http_header(r, "Retry-After", "5");
	http_json_obj(r, status, body);
}

void
http_error(struct req *r, enum err e, const char *fmt, ...)
{
	json_object	*extra = NULL;
	struct buf	 details = { 0 };
	va_list		 ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		buf_vprintf(&details, fmt, ap);
		va_end(ap);
		extra = json_object_new_object();
		json_object_object_add(extra, "details",
		    json_object_new_string_len(details.data, (int)details.len));
		buf_free(&details);
	}
	http_error_obj(r, e, NULL, extra);
}

/*
 * Start a streamed response (SSE): headers now, body in pieces with
 * http_stream_write(), each flushed to the web server at once.
 */
int
http_stream_begin(struct req *r, int status, const char *ctype)
{
	http_header(r, "X-Accel-Buffering", "no");
	if (http_head(r, status, ctype, -1) == -1)
		return -1;
	return FCGX_FFlush(r->fcgi->out) == -1 ? -1 : 0;
}

/* Returns -1 once the web server (and so the client) has gone away. */
int
http_stream_write(struct req *r, const char *p, size_t len)
{
	if (r->idem != NULL)
		idem_body(r, p, len);
	if (FCGX_PutStr(p, (int)len, r->fcgi->out) != (int)len ||
	    FCGX_FFlush(r->fcgi->out) == -1)
		return -1;
	return FCGX_GetError(r->fcgi->out) != 0 ? -1 : 0;
}

/* http.c: the requests the broadcaster answers, read with libhttp-parser: Engine.IO at /socket.io/ (WebSocket upgrades, long-polling GETs and POSTs), the event stream at /api/events, CORS, and one place that writes every response head. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "push.h"

enum hdr {
	H_UPGRADE,
	H_CONNECTION,
	H_WS_KEY,
	H_WS_VERSION,
	H_ORIGIN,
	H_AUTHORIZATION,
	H_COOKIE,
	H_LAST_EVENT_ID,
	H_CONTENT_TYPE,
	H_ACR_METHOD,
	H__MAX
};
static const char *const hdr_names[H__MAX] = {
	"upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
	"origin", "authorization", "cookie", "last-event-id", "content-type",
	"access-control-request-method",
};

/* The broadcaster's two routes. */
enum endpoint {
	EP_NONE,
	EP_EIO,		/* /socket.io/ */
	EP_EVENTS,	/* /api/events */
	EP_METRICS	/* /metrics (metrics.c) */
};

/* Engine.IO's error codes, as its reference server answers them (400 unless said). */
enum eio_error {
	EIO_ERR_TRANSPORT,	/* unknown transport */
	EIO_ERR_SID,		/* unknown session */
	EIO_ERR_METHOD,		/* a handshake that is not a GET */
	EIO_ERR_REQUEST,	/* anything else */
	EIO_ERR_FORBIDDEN,	/* 403 */
	EIO_ERR_VERSION,	/* EIO other than 4 */
	EIO_ERR__MAX
};
static const char *const eio_messages[EIO_ERR__MAX] = {
	"Transport unknown", "Session ID unknown", "Bad handshake method",
	"Bad request", "Forbidden", "Unsupported protocol version",
};

/* A byte range of the request buffer (offsets: the buffer may move). */
struct span {
	size_t	off, len;
	int	set;
};

#define CUR_NONE	(-3)	/* no header yet */
#define CUR_FIELD	(-2)	/* a field name is being read */
#define CUR_SKIP	(-1)	/* the value of a header we ignore */

/*
 * What a request asks, once its head is in: the header values and the
 * path point into the request buffer (NUL-terminated there); the query
 * parameters the broadcaster reads are decoded copies.
 */
struct request {
	enum endpoint	 endpoint;
	const char	*h[H__MAX];
	int		 origin;	/* -1 not allowed, 0 none, else 1 + index */
	int		 bad_target;	/* the request target does not parse */
	int		 bad_query;
	char		 eio[8];
	char		 transport[16];
	char		 sid[PUSH_SID_LEN + 1];
	int		 has_sid, has_jsonp, sid_bad;
	char		 topics[64];
	char		 last_event_id[48];
	int		 has_topics, has_last_event_id;
	int		 unknown;		/* /api/events: a parameter it does not take */
	char		 unknown_name[64];
};

struct http_req {
	http_parser	 parser;
	char		*buf;		/* the request line and headers */
	size_t		 len, cap;
	struct span	 url, field, hdr[H__MAX];
	int		 cur;
	int		 head_done;	/* the parser paused after the headers */
	int		 head_seen;	/* and head_check() ran */
	int		 done;		/* the message is complete */
	int		 body_wanted;	/* a polling POST: its body is kept */
	int		 too_big;	/* the body passed push_message_max */
	int		 posting;	/* request's session is marked CF_POSTING */
	struct request	 q;
	struct buf	 body;
};

/* Reason phrases of the statuses the broadcaster sends. */
static const char *
reason(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* The session a POST marked as posting no longer is. */
static void
unmark_posting(struct http_req *r)
{
	struct client	*s;

	if (!r->posting)
		return;
	r->posting = 0;
	if ((s = polling_find(r->q.sid, strlen(r->q.sid))) != NULL)
		s->flags &= ~CF_POSTING;
}

/* Free a request of c (NULL is fine); a POST's mark on its session goes with it. */
void
push_http_req_free(struct client *c, struct http_req *r)
{
	(void)c;
	if (r == NULL)
		return;
	unmark_posting(r);
	buf_free(&r->body);
	free(r->buf);
	free(r);
}

/*
 * cors_origins, parsed once at start into srv.origins, by the rules the
 * API's own CORS follows (cors_parse, common/cors.c): scheme://host[:port],
 * no path, no wildcard (responses allow credentials, and CORS forbids *
 * with them), no "null", at most PUSH_ORIGINS_MAX so that an index fits
 * a client's byte.  0, or -1 with the reason logged.
 */
int
push_http_cors_load(void)
{
	return cors_parse(cfg.cors_origins, PUSH_ORIGINS_MAX, "push: ",
	    &srv.origins, &srv.norigins);
}

/* An Origin value (not NUL-terminated): 1 + its index in cors_origins, or 0 when it is not allowed. */
int
push_http_origin(const char *origin, size_t n)
{
	size_t	i;

	for (i = 0; i < srv.norigins; i++)
		if (strlen(srv.origins[i]) == n &&
		    strncasecmp(srv.origins[i], origin, n) == 0)
			return (int)i + 1;
	return 0;
}

/*
 * The status line and the headers every response of the broadcaster
 * carries: no caching, Vary: Origin (what it sends depends on it),
 * CORS for an allowed Origin, then extra (lines ending in CRLF), and
 * Connection: close.  The caller adds Content-Length if any and the
 * blank line.
 */
void
push_http_head(struct buf *b, const struct client *c, int status,
    const char *ctype, const char *extra)
{
	buf_printf(b, "HTTP/1.1 %d %s\r\n", status, reason(status));
	if (ctype != NULL)
		buf_printf(b, "Content-Type: %s\r\n", ctype);
	buf_puts(b, "Cache-Control: no-store\r\nVary: Origin\r\n");
	if (c->origin > 0 && (size_t)c->origin <= srv.norigins)
		buf_printf(b, "Access-Control-Allow-Origin: %s\r\n"
		    "Access-Control-Allow-Credentials: true\r\n",
		    srv.origins[c->origin - 1]);
	if (extra != NULL)
		buf_puts(b, extra);
	buf_puts(b, "Connection: close\r\n");
}

/*
 * Queue a whole response and end the connection once it is written.
 * len (size_t)-1: no Content-Length (the head of a stream, for HEAD).
 * A HEAD gets the head only.
 */
void
push_http_respond(struct client *c, int status, const char *ctype,
    const char *extra, const char *body, size_t len)
{
	struct buf	b = { 0 };

	push_http_head(&b, c, status, ctype, extra);
	if (status != 204 && len != (size_t)-1)
		buf_printf(&b, "Content-Length: %zu\r\n", len);
	buf_puts(&b, "\r\n");
	client_send(c, b.data, b.len);
	if (!(c->flags & CF_HEAD) && len != (size_t)-1 && len > 0)
		client_send(c, body, len);
	buf_free(&b);
	if (c->state == CS_HTTP) {
		push_http_req_free(c, c->u.req);
		c->u.req = NULL;
	}
	c->state = CS_REPLY;
	c->deadline = push_now() + PUSH_CLOSE_WAIT_MS;
	client_finish(c);
}

/* An error with the API's JSON body {"error", "code"}; extra as above. */
void
push_http_reply(struct client *c, int status, const char *code,
    const char *message, const char *extra)
{
	struct buf	 body = { 0 };
	const char	*fixed = message, *colon;
	int		 e;

	/* The API's body: the code's fixed message, the reason in details. */
	for (e = 0; e < ERR__PLATFORM; e++)
		if (strcmp(err_code((enum err)e), code) == 0)
			fixed = err_message((enum err)e);
	buf_puts(&body, "{\"error\":");
	buf_json_string(&body, fixed, strlen(fixed));
	buf_puts(&body, ",\"code\":");
	buf_json_string(&body, code, strlen(code));
	buf_puts(&body, ",\"details\":");
	if (strcmp(code, "validation_failed") == 0 &&
	    (colon = strstr(message, ": ")) != NULL) {
		/* "field: message", as the API's list of field errors */
		buf_puts(&body, "[{\"field\":");
		buf_json_string(&body, message, (size_t)(colon - message));
		buf_puts(&body, ",\"message\":");
		buf_json_string(&body, colon + 2, strlen(colon + 2));
		buf_puts(&body, "}]");
	} else
		buf_json_string(&body, message, strlen(message));
	buf_puts(&body, "}\n");
	push_http_respond(c, status, "application/json", extra, body.data,
	    body.len);
	buf_free(&body);
}

/* An Engine.IO error, with the reference server's body {"code":n,"message":"..."}. */
void
push_http_eio_error(struct client *c, int status, int code)
{
	struct buf	body = { 0 };

	if (code < 0 || code >= EIO_ERR__MAX)
		code = EIO_ERR_REQUEST;
	buf_printf(&body, "{\"code\":%d,\"message\":\"%s\"}", code,
	    eio_messages[code]);
	push_http_respond(c, status, "application/json", status == 426 ?
	    "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n" : NULL,
	    body.data, body.len);
	buf_free(&body);
}

static void
span_add(struct span *s, const struct http_req *r, const char *at, size_t len)
{
	if (!s->set) {
		s->off = (size_t)(at - r->buf);
		s->len = 0;
		s->set = 1;
	}
	s->len += len;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_req	*r = p->data;

	span_add(&r->url, r, at, len);
	return 0;
}

/*
 * Trailers of a chunked body come after the head, parsed from the read
 * rather than the request buffer: they are not read (nothing the
 * broadcaster reads may come in a trailer).
 */
static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_req	*r = p->data;

	if (r->head_done)
		return 0;
	if (r->cur != CUR_FIELD) {
		r->field.set = 0;
		r->cur = CUR_FIELD;
	}
	span_add(&r->field, r, at, len);
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_req	*r = p->data;
	int		 i;

	if (r->head_done)
		return 0;
	if (r->cur == CUR_FIELD) {
		r->cur = CUR_SKIP;
		for (i = 0; i < H__MAX; i++)
			if (strlen(hdr_names[i]) == r->field.len &&
			    strncasecmp(r->buf + r->field.off, hdr_names[i],
			    r->field.len) == 0) {
				r->cur = i;
				r->hdr[i].set = 0;	/* the last one wins */
				break;
			}
	}
	if (r->cur >= 0)
		span_add(&r->hdr[r->cur], r, at, len);
	return 0;
}

/* The head is in: stop, so that head_check() sees it before any body. */
static int
on_headers_complete(http_parser *p)
{
	struct http_req	*r = p->data;

	r->head_done = 1;
	http_parser_pause(p, 1);
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http_req	*r = p->data;

	if (!r->body_wanted)
		return 0;		/* a body nobody reads */
	if (len > (size_t)cfg.push_message_max - r->body.len) {
		r->too_big = 1;
		return -1;
	}
	buf_append(&r->body, at, len);
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct http_req	*r = p->data;

	r->done = 1;
	http_parser_pause(p, 1);	/* one request per connection */
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Predicate: the comma-separated header value list holds token (any case). */
static int
has_token(const char *list, const char *token)
{
	size_t		 n = strlen(token), len;
	const char	*p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, ", \t");
		if (len == n && strncasecmp(p, token, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

/*
 * The value of key in the query q[0..n), decoded into out (cap bytes,
 * NUL-terminated): 1 found, 0 absent, -1 malformed or too long.  The
 * first occurrence counts.
 */
static int
query_get(const char *q, size_t n, const char *key, char *out, size_t cap)
{
	const char	*p = q, *end = q + n, *amp, *eq;
	size_t		 klen = strlen(key), vlen;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && (size_t)(eq - p) == klen &&
		    memcmp(p, key, klen) == 0) {
			vlen = (size_t)(amp - eq - 1);
			if (vlen >= cap)
				return -1;
			memcpy(out, eq + 1, vlen);
			out[vlen] = '\0';
			return url_decode(out, &vlen, 1) == -1 ? -1 : 1;
		}
		p = amp + 1;
	}
	return 0;
}

/*
 * The API's rule for /api/events: a parameter other than topics and
 * lastEventId is refused.  1 with the first unknown name in out, or 0.
 */
static int
query_unknown(const char *q, size_t n, char *out, size_t cap)
{
	const char	*p = q, *end = q + n, *amp, *eq;
	size_t		 klen;

	for (; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		klen = (size_t)(eq - p);
		if (klen == 0 && eq == amp)
			continue;	/* "a&&b" */
		if ((klen == 6 && memcmp(p, "topics", 6) == 0) ||
		    (klen == 11 && memcmp(p, "lastEventId", 11) == 0))
			continue;
		klen = klen < cap - 1 ? klen : cap - 1;
		memcpy(out, p, klen);
		out[klen] = '\0';
		if (url_decode(out, &klen, 1) == -1 || !utf8_valid(out, klen))
			snprintf(out, cap, "(undecodable)");
		return 1;
	}
	return 0;
}

/*
 * Read the head into r->q: the route, the headers, the Origin against
 * cors_origins, the query parameters.  The spans are NUL-terminated in
 * place: each is followed by CR, LF or SP, which the parser has read.
 */
static void
parse_head(struct http_req *r)
{
	struct request		*q = &r->q;
	struct http_parser_url	 u;
	const char		*path, *query = "";
	size_t			 pathlen, querylen = 0;
	int			 i, rc;

	memset(q, 0, sizeof(*q));
	for (i = 0; i < H__MAX; i++)
		if (r->hdr[i].set) {
			r->buf[r->hdr[i].off + r->hdr[i].len] = '\0';
			q->h[i] = r->buf + r->hdr[i].off;
		}
	if (q->h[H_ORIGIN] != NULL && (q->origin = push_http_origin(
	    q->h[H_ORIGIN], strlen(q->h[H_ORIGIN]))) == 0)
		q->origin = -1;
	http_parser_url_init(&u);
	if (!r->url.set || http_parser_parse_url(r->buf + r->url.off,
	    r->url.len, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH))) {
		q->bad_target = 1;
		return;
	}
	path = r->buf + r->url.off + u.field_data[UF_PATH].off;
	pathlen = u.field_data[UF_PATH].len;
	if (u.field_set & (1 << UF_QUERY)) {
		query = r->buf + r->url.off + u.field_data[UF_QUERY].off;
		querylen = u.field_data[UF_QUERY].len;
	}
	if ((pathlen == 11 && memcmp(path, "/socket.io/", 11) == 0) ||
	    (pathlen == 10 && memcmp(path, "/socket.io", 10) == 0))
		q->endpoint = EP_EIO;
	else if (pathlen == 11 && memcmp(path, "/api/events", 11) == 0)
		q->endpoint = EP_EVENTS;
	else if (pathlen == 8 && memcmp(path, "/metrics", 8) == 0)
		q->endpoint = EP_METRICS;
	if (query_get(query, querylen, "EIO", q->eio, sizeof(q->eio)) == -1 ||
	    query_get(query, querylen, "transport", q->transport,
	    sizeof(q->transport)) == -1)
		q->bad_query = 1;
	if ((rc = query_get(query, querylen, "sid", q->sid,
	    sizeof(q->sid))) != 0) {
		q->has_sid = 1;
		q->sid_bad = rc == -1;
	}
	q->has_jsonp = query_get(query, querylen, "j", (char [8]){ 0 }, 8) != 0;
	if ((q->has_topics = query_get(query, querylen, "topics", q->topics,
	    sizeof(q->topics))) == -1 ||
	    (q->has_last_event_id = query_get(query, querylen, "lastEventId",
	    q->last_event_id, sizeof(q->last_event_id))) == -1)
		q->bad_query = 1;
	if (q->endpoint == EP_EVENTS)
		q->unknown = query_unknown(query, querylen, q->unknown_name,
		    sizeof(q->unknown_name));
}

/* Predicate: the query names transport t. */
static int
transport_is(const struct request *q, const char *t)
{
	return strcmp(q->transport, t) == 0;
}

/*
 * The head of a request with a body is in.  Only a long-polling POST
 * keeps its body (at most push_message_max, Engine.IO's maxPayload);
 * it is refused here, before any byte of the body is read, when its
 * session is unknown, when it already has a POST in flight (a protocol
 * error that closes the session) or when the body is announced too
 * big.  0 to read on, -1 when answered.
 */
static int
head_check(struct client *c, struct http_req *r)
{
	struct request	*q = &r->q;
	struct client	*s;

	parse_head(r);
	if (r->parser.method != HTTP_POST || q->endpoint != EP_EIO ||
	    q->origin < 0 || q->bad_target || q->bad_query || strcmp(q->eio, "4") != 0 ||
	    !transport_is(q, "polling") || !q->has_sid)
		return 0;	/* route() answers; no body kept */
	if (q->sid_bad || (s = polling_find(q->sid, strlen(q->sid))) == NULL) {
		c->origin = (uint8_t)(q->origin > 0 ? q->origin : 0);
		push_http_eio_error(c, 400, EIO_ERR_SID);
		return -1;
	}
	c->origin = (uint8_t)(q->origin > 0 ? q->origin : 0);
	if (s->flags & CF_POSTING) {
		push_http_eio_error(c, 400, EIO_ERR_REQUEST);
		polling_close(s);
		return -1;
	}
	if ((r->parser.flags & F_CONTENTLENGTH) &&
	    r->parser.content_length > (uint64_t)cfg.push_message_max) {
		push_http_eio_error(c, 413, EIO_ERR_REQUEST);
		polling_close(s);
		return -1;
	}
	s->flags |= CF_POSTING;
	r->posting = 1;
	r->body_wanted = 1;
	return 0;
}

/* Predicate: a Sec-WebSocket-Key is the base64 of 16 bytes. */
static int
ws_key_valid(const char *k)
{
	size_t	i;

	if (strlen(k) != 24 || k[22] != '=' || k[23] != '=')
		return 0;
	for (i = 0; i < 22; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '+' && k[i] != '/')
			return 0;
	return 1;
}

/* Predicate: the request is a WebSocket upgrade (the method is checked by the caller). */
static int
is_upgrade(const struct request *q)
{
	return q->h[H_UPGRADE] != NULL && has_token(q->h[H_UPGRADE], "websocket") &&
	    q->h[H_CONNECTION] != NULL && has_token(q->h[H_CONNECTION], "upgrade");
}

/* Answer the WebSocket handshake; 0, or -1 when refused (answered). */
static int
ws_handshake(struct client *c, const struct request *q)
{
	char		 accept[32];
	struct buf	 b = { 0 };

	if (q->h[H_WS_VERSION] == NULL || strcmp(q->h[H_WS_VERSION], "13") != 0) {
		push_http_eio_error(c, 426, EIO_ERR_REQUEST);
		return -1;
	}
	if (q->h[H_WS_KEY] == NULL || !ws_key_valid(q->h[H_WS_KEY])) {
		push_http_eio_error(c, 400, EIO_ERR_REQUEST);
		return -1;
	}
	ws_accept_key(q->h[H_WS_KEY], strlen(q->h[H_WS_KEY]), accept);
	buf_printf(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	client_send(c, b.data, b.len);
	buf_free(&b);
	ws_start(c);
	return 0;
}

/* Predicate: past push_max_clients (c's own slot counted), answered with a 503. */
static int
full(struct client *c)
{
	if (srv.nslots <= (size_t)cfg.push_max_clients)
		return 0;
	srv.stats.refused++;
	push_http_reply(c, 503, "service_unavailable", "Too many connections",
	    "Retry-After: 5\r\n");
	return 1;
}

/*
 * /socket.io/: the checks in Engine.IO's order, then a new session
 * (a WebSocket, or a polling handshake that is the session's first
 * GET), or a request of an existing polling session: its GET, its
 * POST, or the WebSocket that probes to take it over.
 */
static void
engine_io(struct client *c, struct http_req *r, const char *rest,
    size_t restlen)
{
	const struct request	*q = &r->q;
	struct client		*s;
	int			 method = r->parser.method;
	int			 get = method == HTTP_GET || method == HTTP_HEAD;

	if (strcmp(q->eio, "4") != 0) {
		push_http_eio_error(c, 400, EIO_ERR_VERSION);
		return;
	}
	if (!transport_is(q, "polling") && !transport_is(q, "websocket")) {
		push_http_eio_error(c, 400, EIO_ERR_TRANSPORT);
		return;
	}
	if (q->has_jsonp) {		/* JSONP polling: not offered */
		push_http_eio_error(c, 400, EIO_ERR_REQUEST);
		return;
	}
	if (!q->has_sid) {
		if (!get) {
			push_http_eio_error(c, 400, EIO_ERR_METHOD);
			return;
		}
		if (transport_is(q, "websocket")) {
			if (method != HTTP_GET || !is_upgrade(q)) {
				push_http_eio_error(c, 400, EIO_ERR_REQUEST);
				return;
			}
			if (full(c) || ws_handshake(c, q) == -1)
				return;
			eio_open(c);
			if (restlen > 0)
				ws_input(c, rest, restlen);
			return;
		}
		if (method == HTTP_HEAD) {	/* the handshake's head, no session */
			struct buf	 b = { 0 };

			eio_open_packet(&b, "xxxxxxxxxxxxxxxxxxxx", 1);
			push_http_respond(c, 200, "text/plain; charset=UTF-8",
			    NULL, b.data, b.len);
			buf_free(&b);
			return;
		}
		if (full(c))
			return;
		client_slot_release(c);	/* the session takes it */
		s = polling_open();
		eio_open(s);
		polling_get(c, s);
		return;
	}
	if (q->sid_bad || (s = polling_find(q->sid, strlen(q->sid))) == NULL) {
		push_http_eio_error(c, 400, EIO_ERR_SID);
		return;
	}
	client_slot_release(c);		/* the session holds one */
	if (transport_is(q, "websocket")) {
		/* One WebSocket per session, and not once it is closing. */
		if (method != HTTP_GET || !is_upgrade(q) ||
		    s->u.poll.peer != NULL || s->state == CS_CLOSING) {
			push_http_eio_error(c, 400, EIO_ERR_REQUEST);
			return;
		}
		if (ws_handshake(c, q) == -1)
			return;
		c->state = CS_PROBE;
		c->deadline = push_now() + cfg.push_handshake_timeout_ms;
		c->u.ws.peer = s;
		s->u.poll.peer = c;
		if (restlen > 0)
			ws_input(c, rest, restlen);
		return;
	}
	switch (method) {
	case HTTP_GET:
		polling_get(c, s);
		break;
	case HTTP_HEAD:
		push_http_respond(c, 200, "text/plain; charset=UTF-8", NULL,
		    NULL, (size_t)-1);
		break;
	case HTTP_POST:
		if (!r->posting) {	/* refused at its head already */
			push_http_eio_error(c, 400, EIO_ERR_REQUEST);
			break;
		}
		unmark_posting(r);
		if (q->h[H_CONTENT_TYPE] != NULL && strncasecmp(q->h[H_CONTENT_TYPE],
		    "application/octet-stream", 24) == 0) {
			/* Binary payloads are not used by this server. */
			push_http_eio_error(c, 400, EIO_ERR_REQUEST);
			polling_close(s);
			break;
		}
		polling_post(c, s, r->body.data != NULL ? r->body.data : "",
		    r->body.len);
		break;
	default:
		push_http_eio_error(c, 400, EIO_ERR_REQUEST);
		break;
	}
}

/* /api/events: the event stream, authenticated by the bearer token or the __session cookie. */
static void
event_stream(struct client *c, const struct request *q)
{
	struct principal p;
	const char	*tok, *why, *last, *t;
	char		 token[8300];
	int		 jobs = 1, proposals = 1;
	uint64_t	 ms, seq;
	size_t		 len;

	/* The API's answers, word for word (dispatch.c). */
	if ((tok = auth_token_from(q->h[H_AUTHORIZATION], q->h[H_COOKIE], token,
	    sizeof(token))) == NULL ||
	    auth_verify(&srv.keys, &cfg, tok, time(NULL), &p, &why) == -1) {
		if (tok != NULL && why == auth_no_keys)
			push_http_reply(c, 503, "service_unavailable", why,
			    "Retry-After: 5\r\n");
		else
			push_http_reply(c, 401, "unauthorized", tok == NULL ?
			    "a bearer token is required" : why,
			    "WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\"\r\n");
		return;
	}
	if (q->unknown) {
		char	msg[96];

		snprintf(msg, sizeof(msg), "%s: unknown parameter", q->unknown_name);
		push_http_reply(c, 400, "validation_failed", msg, NULL);
		return;
	}
	if (q->has_topics) {
		jobs = proposals = 0;
		for (t = q->topics; *t != '\0'; t += len + (t[len] == ',')) {
			len = strcspn(t, ",");
			if (len == 4 && strncmp(t, "jobs", 4) == 0)
				jobs = 1;
			else if (len == 9 && strncmp(t, "proposals", 9) == 0)
				proposals = 1;
			else {
				push_http_reply(c, 400, "validation_failed",
				    "topics: a comma list of jobs, proposals",
				    NULL);
				return;
			}
		}
		if (!jobs && !proposals) {
			push_http_reply(c, 400, "validation_failed",
			    "topics: a comma list of jobs, proposals", NULL);
			return;
		}
	}
	last = q->h[H_LAST_EVENT_ID] != NULL ? q->h[H_LAST_EVENT_ID] :
	    q->has_last_event_id ? q->last_event_id : NULL;
	if (last != NULL && *last == '\0')
		last = NULL;
	if (last != NULL && sse_id_parse(last, &ms, &seq) == -1) {
		push_http_reply(c, 400, "validation_failed",
		    "Last-Event-ID: not an event id", NULL);
		return;
	}
	if (c->flags & CF_HEAD) {	/* the stream's head, and no stream */
		push_http_respond(c, 200, "text/event-stream; charset=utf-8",
		    "X-Accel-Buffering: no\r\n", NULL, (size_t)-1);
		return;
	}
	if (full(c))
		return;
	sse_start(c, &p, jobs, proposals, last);
}

/* OPTIONS: a CORS preflight from an allowed Origin, or the methods of the route. */
static void
options(struct client *c, const struct request *q)
{
	struct buf	 b = { 0 };
	const char	*methods = q->endpoint == EP_EIO ? "GET, HEAD, POST, OPTIONS" :
			    "GET, HEAD, OPTIONS";

	buf_printf(&b, "Allow: %s\r\n", methods);
	if (q->origin > 0 && q->h[H_ACR_METHOD] != NULL)
		buf_printf(&b, "Access-Control-Allow-Methods: %s\r\n"
		    "Access-Control-Allow-Headers: Authorization, Content-Type, "
		    "Last-Event-ID\r\nAccess-Control-Max-Age: %d\r\n", methods,
		    PUSH_CORS_MAX_AGE);
	push_http_respond(c, 204, NULL, b.data, NULL, 0);
	buf_free(&b);
}

/*
 * The request is complete: answer it.  The request is detached from c
 * first (c->u becomes what c turns into) and freed last.
 */
static void
route(struct client *c, const char *rest, size_t restlen)
{
	struct http_req	*r = c->u.req;
	const struct request *q = &r->q;
	int		 method = r->parser.method;

	c->u.req = NULL;
	if (!r->head_seen)
		parse_head(r);
	c->origin = (uint8_t)(q->origin > 0 ? q->origin : 0);
	if (method == HTTP_HEAD)
		c->flags |= CF_HEAD;
	if (q->bad_target)
		push_http_reply(c, 400, "bad_request", "Malformed request target",
		    NULL);
	else if (q->endpoint == EP_NONE)
		push_http_reply(c, 404, "not_found", "Not found", NULL);
	else if (q->origin < 0) {
		if (q->endpoint == EP_EIO)
			push_http_eio_error(c, 403, EIO_ERR_FORBIDDEN);
		else
			push_http_reply(c, 403, "forbidden",
			    "Origin not allowed", NULL);
	} else if (q->bad_query) {
		if (q->endpoint == EP_EIO)
			push_http_eio_error(c, 400, EIO_ERR_REQUEST);
		else
			push_http_reply(c, 400, "bad_request",
			    "Malformed query string", NULL);
	} else if (q->endpoint == EP_METRICS)
		push_metrics(c, q->h[H_AUTHORIZATION], method);
	else if (method == HTTP_OPTIONS)
		options(c, q);
	else if (q->endpoint == EP_EIO)
		engine_io(c, r, rest, restlen);
	else if (method == HTTP_GET || method == HTTP_HEAD)
		event_stream(c, q);
	else
		push_http_reply(c, 405, "method_not_allowed",
		    "Method not allowed", "Allow: GET, HEAD, OPTIONS\r\n");
	push_http_req_free(c, r);
}

/*
 * Bytes of the request.  The head is copied into the request buffer
 * (at most PUSH_REQUEST_MAX) and parsed there, so that the header
 * spans stay valid; a body is parsed straight from the read, and only
 * a polling POST's is kept.  Answered once complete.
 */
void
push_http_input(struct client *c, const char *p, size_t n)
{
	struct http_req	*r = c->u.req;
	size_t		 off, take, pos = 0, k;
	enum http_errno	 err;

	if (r == NULL) {
		r = c->u.req = xcalloc(1, sizeof(*r));
		http_parser_init(&r->parser, HTTP_REQUEST);
		r->parser.data = r;
		r->cur = CUR_NONE;
	}
	off = r->len;
	take = 0;
	if (!r->head_done) {
		take = n < PUSH_REQUEST_MAX - r->len ? n : PUSH_REQUEST_MAX - r->len;
		if (r->len + take + 1 > r->cap) {
			r->cap = r->len + take + 1 < 1024 ? 1024 : r->len + take + 1;
			r->buf = xrealloc(r->buf, r->cap);
		}
		memcpy(r->buf + off, p, take);
		r->len += take;
		r->buf[r->len] = '\0';
	}
	while (pos < n && !r->done) {
		if (!r->head_done) {
			if (pos >= take) {
				push_http_reply(c, 431, "bad_request",
				    "Request header too large", NULL);
				return;
			}
			k = http_parser_execute(&r->parser, &settings,
			    r->buf + off + pos, take - pos);
		} else
			k = http_parser_execute(&r->parser, &settings, p + pos,
			    n - pos);
		pos += k;
		err = HTTP_PARSER_ERRNO(&r->parser);
		if (r->too_big) {
			struct client *s = polling_find(r->q.sid, strlen(r->q.sid));

			push_http_eio_error(c, 413, EIO_ERR_REQUEST);
			if (s != NULL)
				polling_close(s);
			return;
		}
		if (err != HPE_OK && err != HPE_PAUSED) {
			push_http_reply(c, 400, "bad_request",
			    "Malformed HTTP request", NULL);
			return;
		}
		if (err == HPE_PAUSED && !r->done) {
			if (r->head_done && !r->head_seen) {
				r->head_seen = 1;
				if (head_check(c, r) == -1)
					return;
			}
			http_parser_pause(&r->parser, 0);
		}
	}
	if (!r->done) {
		if (!r->head_done && take < n)
			push_http_reply(c, 431, "bad_request",
			    "Request header too large", NULL);
		return;
	}
	/* Bytes after an upgrade request are already the WebSocket's. */
	route(c, r->parser.upgrade ? p + pos : NULL,
	    r->parser.upgrade ? n - pos : 0);
}

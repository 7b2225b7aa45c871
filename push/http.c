/* http.c: the one request of a connection, read with libhttp-parser: the WebSocket upgrade at /socket.io/, the event stream at /api/events, JSON errors for the rest. */
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
	H__MAX
};
static const char *const hdr_names[H__MAX] = {
	"upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
	"origin", "authorization", "cookie", "last-event-id",
};

/* A byte range of the request buffer (offsets: the buffer may move). */
struct span {
	size_t	off, len;
	int	set;
};

#define CUR_NONE	(-3)	/* no header yet */
#define CUR_FIELD	(-2)	/* a field name is being read */
#define CUR_SKIP	(-1)	/* the value of a header we ignore */

struct http_req {
	http_parser	 parser;
	char		*buf;
	size_t		 len, cap;
	struct span	 url, field, hdr[H__MAX];
	int		 cur;
	int		 done;
};

/* The query parameters the broadcaster reads. */
struct query {
	const char	*eio, *transport, *topics, *last_event_id;
};

void
http_req_free(struct http_req *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
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

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_req	*r = p->data;

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
	.on_message_complete = on_message_complete,
};

/*
 * Queue a complete response with a JSON error body and end the
 * connection once it is written.  extra is more header lines, each
 * ending in CRLF, or NULL.
 */
void
http_reply(struct client *c, int status, const char *code, const char *message,
    const char *extra)
{
	struct buf	body = { 0 }, head = { 0 };

	buf_puts(&body, "{\"error\":");
	buf_json_string(&body, message, strlen(message));
	buf_puts(&body, ",\"code\":");
	buf_json_string(&body, code, strlen(code));
	buf_puts(&body, "}\n");
	buf_printf(&head, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n%s\r\n", status, http_reason(status), body.len,
	    extra != NULL ? extra : "");
	client_send(c, head.data, head.len);
	client_send(c, body.data, body.len);
	buf_free(&body);
	buf_free(&head);
	http_req_free(c->req);
	c->req = NULL;
	c->state = CS_REPLY;
	c->deadline = push_now() + PUSH_CLOSE_WAIT_MS;
	client_finish(c);
}

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

/* Predicate: origin (not NUL-terminated) is in push_origins. */
int
http_origin_allowed(const char *origin, size_t n)
{
	const char	*p = cfg.push_origins, *end;
	size_t		 len;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if ((len == 1 && *p == '*') ||
		    (len == n && len > 0 && strncasecmp(p, origin, n) == 0))
			return 1;
		p += len;
	}
	return 0;
}

/* Split and decode the query string in place; unknown keys are ignored. */
static int
parse_query(char *q, struct query *out)
{
	char	*pair, *eq, *save = NULL;
	size_t	 len;

	memset(out, 0, sizeof(*out));
	for (pair = strtok_r(q, "&", &save); pair != NULL;
	    pair = strtok_r(NULL, "&", &save)) {
		if ((eq = strchr(pair, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (url_decode(eq, &len, 1) == -1)
			return -1;
		if (strcmp(pair, "EIO") == 0)
			out->eio = eq;
		else if (strcmp(pair, "transport") == 0)
			out->transport = eq;
		else if (strcmp(pair, "topics") == 0)
			out->topics = eq;
		else if (strcmp(pair, "lastEventId") == 0)
			out->last_event_id = eq;
	}
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

static void
upgrade(struct client *c, const char **h, const struct query *q,
    const char *rest, size_t restlen)
{
	char		 accept[32];
	struct buf	 b = { 0 };

	if (q->eio == NULL || strcmp(q->eio, "4") != 0) {
		http_reply(c, 400, "bad_request",
		    "Unsupported Engine.IO protocol version: EIO=4 only", NULL);
		return;
	}
	if (q->transport == NULL || strcmp(q->transport, "websocket") != 0) {
		http_reply(c, 400, "bad_request", q->transport != NULL &&
		    strcmp(q->transport, "polling") == 0 ?
		    "HTTP long-polling is not supported: connect with "
		    "transports: ['websocket']" : "Unknown transport", NULL);
		return;
	}
	if (h[H_UPGRADE] == NULL || !has_token(h[H_UPGRADE], "websocket") ||
	    h[H_CONNECTION] == NULL || !has_token(h[H_CONNECTION], "upgrade")) {
		http_reply(c, 400, "bad_request",
		    "A WebSocket upgrade is required", NULL);
		return;
	}
	if (h[H_WS_VERSION] == NULL || strcmp(h[H_WS_VERSION], "13") != 0) {
		http_reply(c, 426, "bad_request",
		    "Unsupported WebSocket version: 13 only",
		    "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n");
		return;
	}
	if (h[H_WS_KEY] == NULL || !ws_key_valid(h[H_WS_KEY])) {
		http_reply(c, 400, "bad_request",
		    "Missing or malformed Sec-WebSocket-Key", NULL);
		return;
	}
	ws_accept_key(h[H_WS_KEY], strlen(h[H_WS_KEY]), accept);
	buf_printf(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	client_send(c, b.data, b.len);
	buf_free(&b);
	eio_open(c);
	if (restlen > 0)
		ws_input(c, rest, restlen);
}

static void
event_stream(struct client *c, const char **h, const struct query *q)
{
	struct principal p;
	const char	*tok, *why, *last, *t;
	char		 token[8300];
	int		 jobs = 1, proposals = 1;
	uint64_t	 ms, seq;
	size_t		 len;

	if ((tok = auth_token_from(h[H_AUTHORIZATION], h[H_COOKIE], token,
	    sizeof(token))) == NULL ||
	    auth_verify(&srv.keys, &cfg, tok, time(NULL), &p, &why) == -1) {
		http_reply(c, 401, "unauthorized", tok == NULL ?
		    "Missing bearer token" : "Invalid or expired token",
		    "WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\"\r\n");
		return;
	}
	if (q->topics != NULL) {
		jobs = proposals = 0;
		for (t = q->topics; *t != '\0'; t += len + (t[len] == ',')) {
			len = strcspn(t, ",");
			if (len == 4 && strncmp(t, "jobs", 4) == 0)
				jobs = 1;
			else if (len == 9 && strncmp(t, "proposals", 9) == 0)
				proposals = 1;
			else {
				http_reply(c, 400, "validation_failed",
				    "topics: a comma list of jobs, proposals",
				    NULL);
				return;
			}
		}
		if (!jobs && !proposals) {
			http_reply(c, 400, "validation_failed",
			    "topics: a comma list of jobs, proposals", NULL);
			return;
		}
	}
	last = h[H_LAST_EVENT_ID] != NULL ? h[H_LAST_EVENT_ID] : q->last_event_id;
	if (last != NULL && *last == '\0')
		last = NULL;
	if (last != NULL && sse_id_parse(last, &ms, &seq) == -1) {
		http_reply(c, 400, "validation_failed",
		    "Last-Event-ID: not an event id", NULL);
		return;
	}
	sse_start(c, &p, jobs, proposals, last);
}

/* The request is complete: check it and answer it. */
static void
route(struct client *c, const char *rest, size_t restlen)
{
	struct http_req		*r = c->req;
	struct http_parser_url	 u;
	const char		*h[H__MAX];
	struct query		 q;
	char			*path, *query = NULL;
	size_t			 pathlen;
	int			 i;

	/* NUL-terminate the spans in place: each is followed by CR, LF or SP. */
	for (i = 0; i < H__MAX; i++) {
		h[i] = NULL;
		if (r->hdr[i].set) {
			r->buf[r->hdr[i].off + r->hdr[i].len] = '\0';
			h[i] = r->buf + r->hdr[i].off;
		}
	}
	http_parser_url_init(&u);
	if (!r->url.set || http_parser_parse_url(r->buf + r->url.off,
	    r->url.len, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH))) {
		http_reply(c, 400, "bad_request", "Malformed request target", NULL);
		return;
	}
	path = r->buf + r->url.off + u.field_data[UF_PATH].off;
	pathlen = u.field_data[UF_PATH].len;
	if (u.field_set & (1 << UF_QUERY)) {
		query = r->buf + r->url.off + u.field_data[UF_QUERY].off;
		query[u.field_data[UF_QUERY].len] = '\0';
	}
	path[pathlen] = '\0';
	if (h[H_ORIGIN] != NULL && !http_origin_allowed(h[H_ORIGIN],
	    strlen(h[H_ORIGIN]))) {
		http_reply(c, 403, "forbidden", "Origin not allowed", NULL);
		return;
	}
	if (strcmp(path, "/socket.io/") != 0 && strcmp(path, "/socket.io") != 0 &&
	    strcmp(path, "/api/events") != 0) {
		http_reply(c, 404, "not_found", "Not found", NULL);
		return;
	}
	if (r->parser.method != HTTP_GET) {
		http_reply(c, 405, "method_not_allowed", "Method not allowed",
		    "Allow: GET\r\n");
		return;
	}
	if (parse_query(query != NULL ? query : (char []){ "" }, &q) == -1) {
		http_reply(c, 400, "bad_request", "Malformed query string", NULL);
		return;
	}
	if (strcmp(path, "/api/events") == 0)
		event_stream(c, h, &q);
	else
		upgrade(c, h, &q, rest, restlen);
	if (c->req != NULL) {
		http_req_free(c->req);
		c->req = NULL;
	}
}

/* Bytes of the request: parse what came, answer once it is complete. */
void
http_input(struct client *c, const char *p, size_t n)
{
	struct http_req	*r = c->req;
	size_t		 parsed, off;

	if (r == NULL) {
		r = c->req = xcalloc(1, sizeof(*r));
		http_parser_init(&r->parser, HTTP_REQUEST);
		r->parser.data = r;
		r->cur = CUR_NONE;
	}
	if (n > PUSH_REQUEST_MAX - r->len) {
		http_reply(c, 431, "bad_request", "Request header too large", NULL);
		return;
	}
	if (r->len + n + 1 > r->cap) {
		r->cap = r->len + n + 1 < 1024 ? 1024 : r->len + n + 1;
		r->buf = xrealloc(r->buf, r->cap);
	}
	off = r->len;
	memcpy(r->buf + off, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
	parsed = http_parser_execute(&r->parser, &settings, r->buf + off, n);
	if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK &&
	    HTTP_PARSER_ERRNO(&r->parser) != HPE_PAUSED) {
		http_reply(c, 400, "bad_request", "Malformed HTTP request", NULL);
		return;
	}
	if (!r->done)
		return;
	if (parsed > n)
		parsed = n;
	/* Bytes after an upgrade request are already the WebSocket's. */
	route(c, r->parser.upgrade ? r->buf + off + parsed : NULL,
	    r->parser.upgrade ? n - parsed : 0);
}

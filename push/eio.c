/* eio.c: Engine.IO v4 and Socket.IO v5 packets over the WebSocket: open, heartbeats, CONNECT with the token, events, acks, subscriptions. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "push.h"

/* Engine.IO packet types (text). */
#define EIO_OPEN	'0'
#define EIO_CLOSE	'1'
#define EIO_PING	'2'
#define EIO_PONG	'3'
#define EIO_MESSAGE	'4'
#define EIO_UPGRADE	'5'
#define EIO_NOOP	'6'

/* Socket.IO packet types. */
enum sio_type {
	SIO_CONNECT,
	SIO_DISCONNECT,
	SIO_EVENT,
	SIO_ACK,
	SIO_CONNECT_ERROR,
	SIO_BINARY_EVENT,
	SIO_BINARY_ACK
};

/* A parsed Socket.IO packet; the strings point into the message. */
struct sio_packet {
	enum sio_type	 type;
	const char	*nsp;		/* "/" when absent */
	size_t		 nsplen;
	long		 ack;		/* -1: none asked */
	const char	*data;
	size_t		 datalen;
};

/* The subscriptions a client may ask for. */
static const struct {
	const char	*event;
	enum room_kind	 kind;
	int		 join;
} subs[] = {
	{ "subscribe:jobs", ROOM_JOBS, 1 },
	{ "subscribe:proposals", ROOM_PROPOSALS, 1 },
	{ "unsubscribe:jobs", ROOM_JOBS, 0 },
	{ "unsubscribe:proposals", ROOM_PROPOSALS, 0 },
};

static void
sid(char *out)
{
	random_hex(out, 21);
}

/* After the upgrade: the open packet; Socket.IO's CONNECT must follow in time. */
void
eio_open(struct client *c)
{
	struct buf	b = { 0 };
	char		s[21];

	sid(s);
	c->state = CS_WS;
	c->deadline = push_now() + cfg.push_handshake_timeout_ms;
	buf_printf(&b, "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":%d,"
	    "\"pingTimeout\":%d,\"maxPayload\":%d}", s, cfg.push_ping_interval_ms,
	    cfg.push_ping_timeout_ms, cfg.push_message_max);
	ws_send_text(c, b.data, b.len);
	buf_free(&b);
}

/* The deadline passed: no CONNECT in time, no pong in time, or time to ping. */
void
eio_cron(struct client *c, double now)
{
	if (c->state == CS_WS) {
		ws_close(c, 1008, "handshake timeout");
		return;
	}
	if (c->flags & CF_PING_SENT) {
		client_close(c, "ping timeout");
		return;
	}
	client_queue(c, srv.ping);
	c->flags |= CF_PING_SENT;
	c->deadline = now + cfg.push_ping_timeout_ms;
}

/* Parse '<type>[/nsp,][ack id][json]'; -1 if malformed. */
static int
sio_parse(const char *p, size_t n, struct sio_packet *pk)
{
	size_t	i = 0;
	long	ack = 0;

	if (n == 0 || p[0] < '0' || p[0] > '6')
		return -1;
	pk->type = (enum sio_type)(p[0] - '0');
	i = 1;
	pk->nsp = "/";
	pk->nsplen = 1;
	if (i < n && p[i] == '/') {
		pk->nsp = p + i;
		while (i < n && p[i] != ',')
			i++;
		pk->nsplen = (size_t)(p + i - pk->nsp);
		if (i < n)
			i++;		/* the comma */
	}
	pk->ack = -1;
	if (i < n && p[i] >= '0' && p[i] <= '9') {
		for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
			if (ack > 99999999)
				return -1;	/* ids past 10^9 are not ours to keep */
			ack = ack * 10 + (p[i] - '0');
		}
		pk->ack = ack;
	}
	pk->data = p + i;
	pk->datalen = n - i;
	return 0;
}

static void
sio_send(struct client *c, const char *head, const struct sio_packet *pk,
    const char *json)
{
	struct buf	b = { 0 };

	buf_puts(&b, head);
	if (pk->nsplen != 1 || pk->nsp[0] != '/') {
		buf_append(&b, pk->nsp, pk->nsplen);
		buf_putc(&b, ',');
	}
	if (pk->ack >= 0 && head[1] == '3')
		buf_printf(&b, "%ld", pk->ack);
	buf_puts(&b, json);
	ws_send_text(c, b.data, b.len);
	buf_free(&b);
}

static void
sio_connect(struct client *c, const struct sio_packet *pk)
{
	struct principal p;
	json_object	*auth = NULL, *tok;
	const char	*why = "missing token", *token = NULL;
	struct buf	 b = { 0 };
	char		 s[21];

	if (pk->nsplen != 1 || pk->nsp[0] != '/') {
		sio_send(c, "44", pk, "{\"message\":\"Invalid namespace\"}");
		return;
	}
	if (c->state == CS_SIO)
		return;		/* already connected */
	if (pk->datalen > 0) {
		auth = json_parse_strict(pk->data, pk->datalen, 8, &why);
		if (auth == NULL || !json_object_is_type(auth, json_type_object)) {
			json_object_put(auth);
			ws_close(c, 1008, "malformed packet");
			return;
		}
		if (json_object_object_get_ex(auth, "token", &tok) &&
		    json_object_is_type(tok, json_type_string))
			token = json_object_get_string(tok);
		why = "missing token";
	}
	if (token == NULL || auth_verify(&srv.keys, &cfg, token, time(NULL), &p,
	    &why) == -1) {
		buf_puts(&b, "{\"message\":\"Authentication failed\",\"data\":"
		    "{\"code\":\"unauthorized\",\"reason\":");
		buf_json_string(&b, why, strlen(why));
		buf_puts(&b, "}}");
		sio_send(c, "44", pk, b.data);
		buf_free(&b);
		json_object_put(auth);
		/* Each try costs a signature check: a few, then the door. */
		if (++c->auth_failures >= PUSH_AUTH_FAILURES)
			ws_close(c, 1008, "authentication failed");
		return;
	}
	json_object_put(auth);
	free(c->user);
	c->user = xstrdup(p.user_id);
	c->expires = p.exp + cfg.jwt_leeway;
	if (room_join(c, ROOM_TENANT, p.tenant_id) == -1) {
		ws_close(c, 1011, "internal error");
		return;
	}
	c->state = CS_SIO;
	c->flags &= ~CF_PING_SENT;
	c->deadline = push_now() + cfg.push_ping_interval_ms;
	sid(s);
	buf_printf(&b, "{\"sid\":\"%s\"}", s);
	sio_send(c, "40", pk, b.data);
	buf_free(&b);
}

static void
sio_event(struct client *c, const struct sio_packet *pk)
{
	json_object	*args, *name;
	const char	*why, *ev;
	struct buf	 b = { 0 };
	size_t		 i;

	args = json_parse_strict(pk->data, pk->datalen, 8, &why);
	if (args == NULL || !json_object_is_type(args, json_type_array) ||
	    json_object_array_length(args) == 0 ||
	    !json_object_is_type((name = json_object_array_get_idx(args, 0)),
	    json_type_string)) {
		json_object_put(args);
		ws_close(c, 1008, "malformed packet");
		return;
	}
	if (pk->nsplen != 1 || pk->nsp[0] != '/' || c->state != CS_SIO) {
		json_object_put(args);
		return;		/* not connected to that namespace: dropped */
	}
	ev = json_object_get_string(name);
	for (i = 0; i < nitems(subs); i++)
		if (strcmp(ev, subs[i].event) == 0)
			break;
	if (i == nitems(subs)) {
		if (pk->ack >= 0)
			sio_send(c, "43", pk,
			    "[{\"ok\":false,\"error\":\"unknown event\"}]");
		json_object_put(args);
		return;
	}
	if (subs[i].join) {
		const char *tenant = room_tenant(c);

		if (tenant == NULL || room_join(c, subs[i].kind, tenant) == -1) {
			json_object_put(args);
			ws_close(c, 1011, "internal error");
			return;
		}
	} else
		room_leave(c, subs[i].kind);
	if (pk->ack >= 0) {
		struct buf	room = { 0 };

		buf_puts(&room, subs[i].kind == ROOM_JOBS ? "jobs:" : "proposals:");
		buf_puts(&room, subs[i].kind == ROOM_JOBS ? room_tenant(c) : c->user);
		buf_puts(&b, "[{\"ok\":true,\"room\":");
		buf_json_string(&b, room.data, room.len);
		buf_puts(&b, "}]");
		buf_free(&room);
		sio_send(c, "43", pk, b.data);
	}
	buf_free(&b);
	json_object_put(args);
}

/* One Socket.IO packet (the payload of an Engine.IO message). */
static void
sio_packet(struct client *c, const char *p, size_t n)
{
	struct sio_packet	pk;

	if (sio_parse(p, n, &pk) == -1) {
		ws_close(c, 1008, "malformed packet");
		return;
	}
	switch (pk.type) {
	case SIO_CONNECT:
		sio_connect(c, &pk);
		break;
	case SIO_DISCONNECT:
		if (pk.nsplen == 1 && pk.nsp[0] == '/' && c->state == CS_SIO) {
			rooms_leave_all(c);
			c->state = CS_WS;
			c->deadline = push_now() + cfg.push_handshake_timeout_ms;
		}
		break;
	case SIO_EVENT:
		sio_event(c, &pk);
		break;
	case SIO_ACK:
		break;		/* the server never asks for acks */
	case SIO_BINARY_EVENT:
	case SIO_BINARY_ACK:
		ws_close(c, 1003, "binary packets are not supported");
		break;
	default:
		ws_close(c, 1008, "malformed packet");
		break;
	}
}

/* One Engine.IO packet: a whole text message. */
void
eio_packet(struct client *c, const char *p, size_t n)
{
	if (n == 0) {
		ws_close(c, 1008, "malformed packet");
		return;
	}
	switch (p[0]) {
	case EIO_CLOSE:
		ws_close(c, 1000, NULL);
		break;
	case EIO_PING:		/* not sent by v4 clients; answered anyway */
		{
			struct buf b = { 0 };

			buf_putc(&b, EIO_PONG);
			buf_append(&b, p + 1, n - 1);
			ws_send_text(c, b.data, b.len);
			buf_free(&b);
		}
		break;
	case EIO_PONG:
		if (c->flags & CF_PING_SENT) {
			c->flags &= ~CF_PING_SENT;
			c->deadline = push_now() + cfg.push_ping_interval_ms;
		}
		break;
	case EIO_MESSAGE:
		sio_packet(c, p + 1, n - 1);
		break;
	case EIO_NOOP:
		break;
	default:		/* open, upgrade and anything else */
		ws_close(c, 1008, "malformed packet");
		break;
	}
}

/* The frame every Socket.IO recipient of ev shares: 42["type",data]. */
struct msg *
eio_event_msg(const struct event *ev)
{
	struct buf	 b = { 0 };
	struct msg	*m;

	buf_puts(&b, "42[");
	buf_json_string(&b, ev->type, strlen(ev->type));
	buf_putc(&b, ',');
	buf_append(&b, ev->data, ev->datalen);
	buf_putc(&b, ']');
	m = ws_frame(WSLAY_TEXT_FRAME, b.data, b.len);
	buf_free(&b);
	return m;
}

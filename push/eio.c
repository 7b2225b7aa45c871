/* eio.c: Engine.IO v4 and Socket.IO v5 packets, whatever the transport (WebSocket or long-polling): open, heartbeats, the upgrade probe, CONNECT with the token, events, acks, subscriptions. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

/*
 * A session id: 15 random bytes (120 bits, as Engine.IO's reference
 * server draws) in base64url, PUSH_SID_LEN characters and a NUL.  A
 * polling session's sid is all that guards its GETs: it is never
 * guessable.
 */
void
eio_sid(char *out)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char		 raw[15];
	size_t			 i, j;
	uint32_t		 v;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		LOG_ERR(NULL, "push: getrandom failed");
		abort();
	}
	for (i = 0, j = 0; i < sizeof(raw); i += 3) {
		v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		out[j++] = b64[v >> 18 & 63];
		out[j++] = b64[v >> 12 & 63];
		out[j++] = b64[v >> 6 & 63];
		out[j++] = b64[v & 63];
	}
	out[j] = '\0';
}

/* The open packet: a polling session may upgrade to a WebSocket, a WebSocket to nothing. */
void
eio_open_packet(struct buf *b, const char *sid, int polling)
{
	buf_printf(b, "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%d,"
	    "\"pingTimeout\":%d,\"maxPayload\":%d}", sid,
	    polling ? "\"websocket\"" : "", cfg.push_ping_interval_ms,
	    cfg.push_ping_timeout_ms, cfg.push_message_max);
}

/*
 * The session is open: the open packet, the heartbeat from now on
 * (Engine.IO's, whether or not Socket.IO connects), and Socket.IO's
 * CONNECT due within push_handshake_timeout_ms.
 */
void
eio_open(struct client *c)
{
	struct buf	b = { 0 };
	char		s[PUSH_SID_LEN + 1];
	double		now = push_now();

	if (c->flags & CF_POLL) {
		memcpy(s, c->u.poll.sid, PUSH_SID_LEN);
		s[PUSH_SID_LEN] = '\0';
	} else
		eio_sid(s);
	c->state = CS_EIO;
	c->deadline = now + cfg.push_ping_interval_ms;
	c->connect_by = now + cfg.push_handshake_timeout_ms;
	eio_open_packet(&b, s, (c->flags & CF_POLL) != 0);
	eio_send(c, b.data, b.len);
	buf_free(&b);
}

/* One packet for c alone, over its transport. */
void
eio_send(struct client *c, const char *p, size_t n)
{
	if (c->flags & CF_POLL)
		polling_send(c, p, n);
	else
		ws_send_text(c, p, n);
}

/*
 * The server ends the session: a WebSocket gets a close frame with
 * code and reason, a polling session a close packet on its next GET.
 */
void
eio_close(struct client *c, uint16_t code, const char *reason)
{
	if (c->flags & CF_POLL)
		polling_close(c);
	else
		ws_close(c, code, reason);
}

/*
 * A deadline passed: an upgrade probe that never finished, no CONNECT
 * in time, no pong in time, or time to ping.
 */
void
eio_cron(struct client *c, double now)
{
	if (c->state == CS_PROBE) {
		if (now >= c->deadline)
			ws_close(c, 1008, "upgrade timeout");
		return;
	}
	if (c->state == CS_EIO && now >= c->connect_by) {
		eio_close(c, 1008, "handshake timeout");
		return;
	}
	if (now < c->deadline)
		return;
	if (c->flags & CF_PING_SENT) {
		client_close(c, "ping timeout");
		return;
	}
	client_queue(c, (c->flags & CF_POLL) ? srv.polling_ping : srv.ping);
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
	eio_send(c, b.data, b.len);
	buf_free(&b);
}

static void
sio_connect(struct client *c, const struct sio_packet *pk)
{
	struct principal p;
	json_object	*auth = NULL, *tok;
	const char	*why = "missing token", *token = NULL;
	struct buf	 b = { 0 };
	char		 s[PUSH_SID_LEN + 1];

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
			eio_close(c, 1008, "malformed packet");
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
			eio_close(c, 1008, "authentication failed");
		return;
	}
	json_object_put(auth);
	free(c->user);
	c->user = xstrdup(p.user_id);
	c->expires = p.exp + cfg.jwt_leeway;
	if (room_join(c, ROOM_TENANT, p.tenant_id) == -1) {
		eio_close(c, 1011, "internal error");
		return;
	}
	c->state = CS_SIO;
	eio_sid(s);
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
		eio_close(c, 1008, "malformed packet");
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
			eio_close(c, 1011, "internal error");
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
		eio_close(c, 1008, "malformed packet");
		return;
	}
	switch (pk.type) {
	case SIO_CONNECT:
		sio_connect(c, &pk);
		break;
	case SIO_DISCONNECT:
		/*
		 * The namespace is left; the Engine.IO session stays open
		 * for a new CONNECT, due within push_handshake_timeout_ms.
		 */
		if (pk.nsplen == 1 && pk.nsp[0] == '/' && c->state == CS_SIO) {
			rooms_leave_all(c);
			c->state = CS_EIO;
			c->expires = 0;
			c->connect_by = push_now() + cfg.push_handshake_timeout_ms;
		}
		break;
	case SIO_EVENT:
		sio_event(c, &pk);
		break;
	case SIO_ACK:
		break;		/* the server never asks for acks */
	case SIO_BINARY_EVENT:
	case SIO_BINARY_ACK:
		eio_close(c, 1003, "binary packets are not supported");
		break;
	default:
		eio_close(c, 1008, "malformed packet");
		break;
	}
}

/*
 * A packet on a WebSocket probing to take over a polling session: the
 * probe ping is answered (and the session's GETs get a noop from now
 * on, so that the client can pause polling), then the upgrade packet
 * moves the session onto the WebSocket.  0, or -1 for anything else.
 */
static int
probe_packet(struct client *c, const char *p, size_t n)
{
	if (c->u.ws.peer == NULL)
		return -1;
	if (n == 6 && memcmp(p, "2probe", 6) == 0) {
		ws_send_text(c, "3probe", 6);
		polling_probe(c->u.ws.peer);
		return 0;
	}
	if (n == 1 && p[0] == EIO_UPGRADE &&
	    (c->u.ws.peer->flags & CF_PROBED)) {
		polling_upgrade(c);
		return 0;
	}
	return -1;
}

/*
 * One Engine.IO packet: a whole WebSocket text message, or one packet
 * of a POST's payload.  0, or -1 when it is not a packet a client may
 * send; the caller then ends the session as its transport does.
 */
int
eio_packet(struct client *c, const char *p, size_t n)
{
	struct buf	b = { 0 };

	if (n == 0)
		return -1;
	if (c->state == CS_PROBE)
		return probe_packet(c, p, n);
	switch (p[0]) {
	case EIO_CLOSE:
		if (n != 1)
			return -1;
		if (c->flags & CF_POLL)
			polling_bye(c);
		else
			ws_close(c, 1000, NULL);
		break;
	case EIO_PING:		/* not sent by v4 clients; answered anyway */
		buf_putc(&b, EIO_PONG);
		buf_append(&b, p + 1, n - 1);
		eio_send(c, b.data, b.len);
		buf_free(&b);
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
	default:		/* open, upgrade, binary and anything else */
		return -1;
	}
	return 0;
}

/*
 * The message every Socket.IO recipient of ev shares: 42["type",data],
 * as a WebSocket frame or as a bare packet for polling sessions.
 */
struct msg *
eio_event_msg(const struct event *ev, int polling)
{
	struct buf	 b = { 0 };
	struct msg	*m;

	buf_puts(&b, "42[");
	buf_json_string(&b, ev->type, strlen(ev->type));
	buf_putc(&b, ',');
	buf_append(&b, ev->data, ev->datalen);
	buf_putc(&b, ']');
	if (polling) {
		m = msg_new(b.len);
		msg_append(m, b.data, b.len);
	} else
		m = ws_frame(WSLAY_TEXT_FRAME, b.data, b.len);
	buf_free(&b);
	return m;
}

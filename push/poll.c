/* poll.c: Engine.IO's HTTP long-polling transport: sessions found by sid, the held GET, POSTed payloads, closing, and the upgrade that moves a session onto a WebSocket. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "push.h"

#define PACKET_SEP	'\x1e'	/* between the packets of a payload */

/*
 * The sessions, by sid: a chained hash table of power-of-two size that
 * grows with them.  A session stays in it until client_free(); a
 * closed one (CF_CLOSE) is never found.
 */
static struct client	**table;
static size_t		  nbuckets;

static size_t
bucket(const char *sid)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < PUSH_SID_LEN; i++)
		h = (h ^ (unsigned char)sid[i]) * 1099511628211ULL;
	return (size_t)h & (nbuckets - 1);
}

static void
rehash(void)
{
	struct client	**old = table, *s, *next;
	size_t		  i, oldn = nbuckets;

	nbuckets = oldn ? oldn * 2 : 256;
	table = xcalloc(nbuckets, sizeof(*table));
	for (i = 0; i < oldn; i++)
		for (s = old[i]; s != NULL; s = next) {
			next = s->u.poll.hnext;
			s->u.poll.hnext = table[bucket(s->u.poll.sid)];
			table[bucket(s->u.poll.sid)] = s;
		}
	free(old);
}

/* The live session with that sid, or NULL.  The comparison takes the same time wherever the sid differs. */
struct client *
polling_find(const char *sid, size_t n)
{
	struct client	*s;

	if (n != PUSH_SID_LEN || nbuckets == 0)
		return NULL;
	for (s = table[bucket(sid)]; s != NULL; s = s->u.poll.hnext)
		if (CRYPTO_memcmp(s->u.poll.sid, sid, PUSH_SID_LEN) == 0 &&
		    !(s->flags & CF_CLOSE))
			return s;
	return NULL;
}

/*
 * A new session, holding a client slot (the caller checked there is
 * one), with a fresh sid, in state CS_EIO; eio_open() says hello.
 */
struct client *
polling_open(void)
{
	struct client	*s = client_new(-1);
	char		 sid[PUSH_SID_LEN + 1];

	s->flags &= ~CF_HOLD;		/* a session, not a fuzzing stub */
	s->flags |= CF_POLL;
	s->state = CS_EIO;
	srv.nclients++;
	srv.npoll++;
	srv.stats.sessions++;
	client_slot_take(s);
	memset(&s->u.poll, 0, sizeof(s->u.poll));
	eio_sid(sid);
	memcpy(s->u.poll.sid, sid, PUSH_SID_LEN);
	if (srv.npoll > nbuckets)
		rehash();
	s->u.poll.hnext = table[bucket(sid)];
	table[bucket(sid)] = s;
	return s;
}

/* Out of the table: s is being freed. */
void
polling_unlink(struct client *s)
{
	struct client	**sp;

	if (nbuckets == 0)
		return;
	for (sp = &table[bucket(s->u.poll.sid)]; *sp != NULL;
	    sp = &(*sp)->u.poll.hnext)
		if (*sp == s) {
			*sp = s->u.poll.hnext;
			srv.npoll--;
			return;
		}
}

/*
 * End an upgrade under way, from either side: a session that goes
 * closes its probing WebSocket; a WebSocket that goes leaves its
 * session polling as before.
 */
void
polling_unpeer(struct client *c)
{
	struct client	*w, *s;

	if ((c->flags & CF_POLL) && (w = c->u.poll.peer) != NULL) {
		c->u.poll.peer = NULL;
		c->flags &= ~CF_PROBED;
		w->u.ws.peer = NULL;
		ws_close(w, 1000, "session closed");
	} else if ((c->flags & CF_WS) && (s = c->u.ws.peer) != NULL) {
		c->u.ws.peer = NULL;
		s->u.poll.peer = NULL;
		s->flags &= ~CF_PROBED;
	}
}

/* A packet for the session: its own entry, so that a GET can separate them. */
void
polling_send(struct client *s, const char *p, size_t n)
{
	struct msg	*m = msg_new(n);

	msg_append(m, p, n);
	client_queue(s, m);
	msg_unref(m);
}

/*
 * Answer a GET on conn with everything s has queued, the packets
 * separated by 0x1e, or with a noop when there is nothing (an upgrade
 * is under way, or the client said goodbye).  The packets move: the
 * shared ones are not copied.  A close packet in the payload ends s.
 */
static void
answer(struct client *s, struct client *conn)
{
	struct buf	 b = { 0 };
	struct qent	*q;
	size_t		 len = 0, n = 0;

	for (q = s->qhead; q != NULL; q = q->next) {
		len += q->m->len;
		n++;
	}
	len = n == 0 ? 1 : len + n - 1;
	push_http_head(&b, conn, 200, "text/plain; charset=UTF-8", NULL);
	buf_printf(&b, "Content-Length: %zu\r\n\r\n", len);
	if (n == 0)
		buf_putc(&b, '6');
	client_send(conn, b.data, b.len);
	buf_free(&b);
	for (q = s->qhead; q != NULL; q = q->next) {
		if (q != s->qhead)
			client_queue_moved(conn, srv.polling_sep);
		client_queue_moved(conn, q->m);
	}
	client_drop_queued(s, 0);
	conn->state = CS_REPLY;
	conn->deadline = push_now() + cfg.push_ping_timeout_ms;
	client_finish(conn);
	if (s->state == CS_CLOSING)
		client_close(s, "close packet delivered");
}

/*
 * A GET of session s on connection conn.  It is answered at once when
 * s has packets (or an upgrade is under way); otherwise the session
 * holds it, taking its descriptor, until something is queued.  A
 * second GET while one is held breaks the protocol: it gets a 400 and
 * the session is closed (the held one gets the close packet).
 */
void
polling_get(struct client *conn, struct client *s)
{
	if (s->flags & CF_HELD) {
		push_http_eio_error(conn, 400, 3);
		polling_close(s);
		return;
	}
	if (s->qhead != NULL || (s->flags & CF_PROBED)) {
		answer(s, conn);
		return;
	}
	client_give_fd(conn, s);
}

/* Before the loop sleeps: a held GET takes what was queued. */
void
polling_flush(struct client *s)
{
	if ((s->flags & CF_HELD) && (s->qhead != NULL || (s->flags & CF_PROBED)))
		answer(s, client_take_fd(s));
}

/*
 * A POST of session s on conn: its body is a payload of packets
 * separated by 0x1e, each handled as a WebSocket message would be.
 * "ok" when they were all packets a client may send; otherwise a 400
 * and the session is closed.
 */
void
polling_post(struct client *conn, struct client *s, const char *body, size_t len)
{
	const char	*p = body, *end = body + len, *sep;

	if (s->state == CS_CLOSING) {
		push_http_eio_error(conn, 400, 3);
		return;
	}
	if (!ws_utf8_valid((const uint8_t *)body, len)) {
		push_http_eio_error(conn, 400, 3);
		polling_close(s);
		return;
	}
	for (;;) {
		if ((sep = memchr(p, PACKET_SEP, (size_t)(end - p))) == NULL)
			sep = end;
		if (eio_packet(s, p, (size_t)(sep - p)) == -1) {
			push_http_eio_error(conn, 400, 3);
			polling_close(s);
			return;
		}
		if (sep == end || (s->flags & CF_CLOSE) || s->state == CS_CLOSING)
			break;
		p = sep + 1;
	}
	push_http_respond(conn, 200, "text/plain; charset=UTF-8", NULL, "ok", 2);
}

/*
 * The server ends the session: it leaves its rooms, what was queued is
 * dropped, and a close packet waits for the held GET or the next one
 * (PUSH_CLOSE_WAIT_MS at most).
 */
void
polling_close(struct client *s)
{
	if ((s->flags & CF_CLOSE) || s->state == CS_CLOSING)
		return;
	rooms_leave_all(s);
	polling_unpeer(s);
	client_drop_queued(s, 0);
	s->state = CS_CLOSING;
	s->deadline = push_now() + PUSH_CLOSE_WAIT_MS;
	polling_send(s, "1", 1);
}

/* The client sent a close packet: a held GET gets a noop, and the session ends. */
void
polling_bye(struct client *s)
{
	rooms_leave_all(s);
	client_drop_queued(s, 0);
	if (s->flags & CF_HELD)
		answer(s, client_take_fd(s));
	client_close(s, "closed by the client");
}

/* The probe was answered on the WebSocket: GETs get a noop from now on, the held one at once. */
void
polling_probe(struct client *s)
{
	s->flags |= CF_PROBED;
	client_kick(s);
}

/*
 * The upgrade packet came on w: the session moves onto the WebSocket
 * (its state, token, heartbeat, rooms, slot and queued packets) and
 * the polling side ends, a held GET answered with a noop.
 */
void
polling_upgrade(struct client *w)
{
	struct client	*s = w->u.ws.peer;
	struct qent	*q;

	w->u.ws.peer = NULL;
	s->u.poll.peer = NULL;
	w->state = s->state;
	w->deadline = s->deadline;
	w->connect_by = s->connect_by;
	w->expires = s->expires;
	w->auth_failures = s->auth_failures;
	w->flags |= s->flags & CF_PING_SENT;
	w->user = s->user;
	s->user = NULL;
	if (rooms_move(s, w) == -1) {
		ws_close(w, 1011, "internal error");
		client_close(s, "upgrade failed");
		return;
	}
	for (q = s->qhead; q != NULL; q = q->next)
		ws_send_text(w, q->m->data, q->m->len);
	client_drop_queued(s, 0);
	if (s->flags & CF_HELD)
		answer(s, client_take_fd(s));
	client_slot_release(s);
	client_slot_take(w);
	srv.stats.upgrades++;
	client_close(s, "upgraded to a WebSocket");
}

/* Call fn for every session (it may close them: they stay in the table until reaped). */
void
polling_foreach(void (*fn)(struct client *, void *), void *arg)
{
	struct client	*s, *next;
	size_t		 i;

	for (i = 0; i < nbuckets; i++)
		for (s = table[i]; s != NULL; s = next) {
			next = s->u.poll.hnext;
			fn(s, arg);
		}
}

/* At exit: every session, and the table. */
void
polling_free_all(void)
{
	size_t	i;

	for (i = 0; i < nbuckets; i++)
		while (table[i] != NULL)
			client_free(table[i]);
	free(table);
	table = NULL;
	nbuckets = 0;
}

/* client.c: the fd-indexed client table, shared outgoing messages, output queues written before the loop sleeps, client slots, closing and reaping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "push.h"

struct push_server srv;

/* Monotonic milliseconds: deadlines never jump with the wall clock. */
double
push_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A message with room for cap bytes and one reference, the caller's. */
struct msg *
msg_new(size_t cap)
{
	struct msg	*m;

	if (cap > SIZE_MAX / 2)
		oom();
	m = xmalloc(sizeof(*m) + cap);
	m->refs = 1;
	m->len = 0;
	m->cap = cap;
	m->id_ms = m->id_seq = 0;
	return m;
}

/* Append to a message that is not queued yet; it must have the room. */
void
msg_append(struct msg *m, const void *p, size_t n)
{
	if (n > m->cap - m->len)
		abort();
	memcpy(m->data + m->len, p, n);
	m->len += n;
}

void
msg_unref(struct msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}

static void
grow(struct client ***v, size_t *cap, size_t want)
{
	size_t	n = *cap ? *cap : 64;

	while (n < want) {
		if (n > SIZE_MAX / 2 / sizeof(**v))
			oom();
		n *= 2;
	}
	if (n != *cap) {
		*v = xrealloc(*v, n * sizeof(**v));
		memset(*v + *cap, 0, (n - *cap) * sizeof(**v));
		*cap = n;
	}
}

/*
 * A client for an accepted descriptor (fd -1: one that is never
 * written, for fuzzing; poll.c turns such a client into a session).
 */
struct client *
client_new(int fd)
{
	struct client	*c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->serial = ++srv.serial;
	c->state = CS_HTTP;
	c->deadline = push_now() + cfg.push_handshake_timeout_ms;
	if (fd >= 0) {
		grow(&srv.clients, &srv.clients_cap, (size_t)fd + 1);
		srv.clients[fd] = c;
		srv.nclients++;
		ev_io_init(&c->io, client_io_cb, fd, EV_READ);
		c->io.data = c;
		ev_io_start(srv.loop, &c->io);
	} else
		c->flags |= CF_HOLD;
	return c;
}

/*
 * push_max_clients counts slots: a connection takes one when accepted,
 * an Engine.IO session (WebSocket or polling) or an event stream keeps
 * one for its life, and a request for an existing session gives its
 * connection's back.  Both are idempotent.
 */
void
client_slot_take(struct client *c)
{
	if (!(c->flags & CF_COUNTED)) {
		c->flags |= CF_COUNTED;
		srv.nslots++;
	}
}

void
client_slot_release(struct client *c)
{
	if (c->flags & CF_COUNTED) {
		c->flags &= ~CF_COUNTED;
		srv.nslots--;
	}
}

/*
 * Move conn's descriptor into the polling session s, which holds the
 * GET it carried.  conn has nothing queued; it is closed (its struct
 * goes at the next reap) but the descriptor stays open, now s's.
 */
void
client_give_fd(struct client *conn, struct client *s)
{
	int	fd = conn->fd;

	if (fd < 0 || s->fd >= 0 || conn->qhead != NULL ||
	    (conn->flags & CF_PENDING))
		abort();
	ev_io_stop(srv.loop, &conn->io);
	conn->fd = -1;
	client_close(conn, "its descriptor moved into a polling session");
	s->fd = fd;
	s->flags |= CF_HELD;
	s->origin = conn->origin;
	srv.clients[fd] = s;
	ev_io_init(&s->io, client_io_cb, fd, EV_READ);
	s->io.data = s;
	ev_io_start(srv.loop, &s->io);
}

/* Take the held GET's descriptor out of s into a new connection client (returned) to answer it. */
struct client *
client_take_fd(struct client *s)
{
	struct client	*c;
	int		 fd = s->fd;

	ev_io_stop(srv.loop, &s->io);
	s->fd = -1;
	s->flags &= ~CF_HELD;
	srv.clients[fd] = NULL;
	c = client_new(fd);
	c->origin = s->origin;
	return c;
}

/* The live client on fd with that serial, or NULL (it went away). */
struct client *
client_find(int fd, uint64_t serial)
{
	struct client	*c;

	if (fd < 0 || (size_t)fd >= srv.clients_cap)
		return NULL;
	c = srv.clients[fd];
	if (c == NULL || c->serial != serial || (c->flags & CF_CLOSE))
		return NULL;
	return c;
}

/*
 * Mark c closed: it leaves its rooms and stops reading at once; its
 * memory and descriptor go in client_reap().  why is logged.
 */
void
client_close(struct client *c, const char *why)
{
	if (c->flags & CF_CLOSE)
		return;
	c->flags |= CF_CLOSE;
	LOG_DEBUG(NULL, "push: client %llu closed: %s",
	    (unsigned long long)c->serial, why);
	rooms_leave_all(c);
	polling_unpeer(c);
	if (c->fd >= 0)
		ev_io_stop(srv.loop, &c->io);
	grow(&srv.closing, &srv.closing_cap, srv.nclosing + 1);
	srv.closing[srv.nclosing++] = c;
}

static void
queue_clear(struct client *c)
{
	struct qent	*q;

	while ((q = c->qhead) != NULL) {
		c->qhead = q->next;
		msg_unref(q->m);
		free(q);
	}
	c->qtail = NULL;
	c->qoff = c->qbytes = 0;
}

/* Release everything c holds; its descriptor too. */
void
client_free(struct client *c)
{
	rooms_leave_all(c);
	polling_unpeer(c);
	queue_clear(c);
	if (c->state == CS_HTTP)
		push_http_req_free(c, c->u.req);
	if ((c->flags & CF_WS) && c->u.ws.ctx != NULL)
		wslay_event_context_free(c->u.ws.ctx);
	if (c->flags & CF_POLL)
		polling_unlink(c);
	free(c->user);
	client_slot_release(c);
	if (c->fd >= 0) {
		if (ev_is_active(&c->io))
			ev_io_stop(srv.loop, &c->io);
		close(c->fd);
		srv.clients[c->fd] = NULL;
	}
	if (!(c->flags & CF_HOLD))
		srv.nclients--;
	free(c);
}

void
client_reap(void)
{
	size_t	i;

	for (i = 0; i < srv.nclosing; i++)
		client_free(srv.closing[i]);
	srv.nclosing = 0;
}

static void
want_events(struct client *c, int writing)
{
	if (c->fd < 0 || !!(c->flags & CF_WRITING) == writing)
		return;
	ev_io_stop(srv.loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_READ | (writing ? EV_WRITE : 0));
	ev_io_start(srv.loop, &c->io);
	if (writing)
		c->flags |= CF_WRITING;
	else
		c->flags &= ~CF_WRITING;
}

/* Have c's queue written before the loop sleeps. */
void
client_kick(struct client *c)
{
	if (c->flags & (CF_PENDING | CF_WRITING | CF_HOLD))
		return;
	grow(&srv.pending, &srv.pending_cap, srv.npending + 1);
	srv.pending[srv.npending++] = c;
	c->flags |= CF_PENDING;
}

/* Append a reference to m to c's queue, uncapped. */
static void
queue_push(struct client *c, struct msg *m)
{
	struct qent	*q;

	q = xmalloc(sizeof(*q));
	q->m = m;
	q->next = NULL;
	m->refs++;
	if (c->qtail != NULL)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	c->qbytes += m->len;
	client_kick(c);
}

/*
 * Queue a reference to m for c (the caller keeps its own).  Past
 * push_output_max the client is a slow consumer and is closed.
 */
void
client_queue(struct client *c, struct msg *m)
{
	if ((c->flags & CF_CLOSE) || m->len == 0)
		return;
	if (m->len > (size_t)cfg.push_output_max - c->qbytes ||
	    c->qbytes > (size_t)cfg.push_output_max) {
		srv.stats.slow_closed++;
		LOG_INFO(NULL, "push: client %llu closed: slow consumer "
		    "(%zu bytes queued)", (unsigned long long)c->serial,
		    c->qbytes);
		client_close(c, "slow consumer");
		return;
	}
	queue_push(c, m);
}

/*
 * Queue m for c without the cap: m was counted against another queue's
 * already (a polling session's packets moving into the response of its
 * GET).
 */
void
client_queue_moved(struct client *c, struct msg *m)
{
	if ((c->flags & CF_CLOSE) || m->len == 0)
		return;
	queue_push(c, m);
}

/*
 * Drop what is queued but not begun: a frame or an event block half
 * written is kept whole, and so is the first entry when keep_first is
 * set (an event stream's head held back during a replay).
 */
void
client_drop_queued(struct client *c, int keep_first)
{
	struct qent	*q, *rest;

	if (c->qhead == NULL)
		return;
	if (c->qoff > 0 || keep_first) {
		rest = c->qhead->next;
		c->qhead->next = NULL;
		c->qtail = c->qhead;
		c->qbytes = c->qhead->m->len - c->qoff;
	} else {
		rest = c->qhead;
		c->qhead = c->qtail = NULL;
		c->qbytes = 0;
	}
	while ((q = rest) != NULL) {
		rest = q->next;
		msg_unref(q->m);
		free(q);
	}
}

/* Queue a private copy of p[0..n): coalesced into the tail when it is ours alone. */
void
client_send(struct client *c, const void *p, size_t n)
{
	struct msg	*m;

	if ((c->flags & CF_CLOSE) || n == 0)
		return;
	m = c->qtail != NULL ? c->qtail->m : NULL;
	if (m != NULL && m->refs == 1 && m->cap - m->len >= n) {
		if (n > (size_t)cfg.push_output_max - c->qbytes) {
			client_close(c, "slow consumer");
			return;
		}
		msg_append(m, p, n);
		c->qbytes += n;
		client_kick(c);
		return;
	}
	m = msg_new(n < 512 ? 512 : n);
	msg_append(m, p, n);
	client_queue(c, m);
	msg_unref(m);
}

/* After the queue drains: shut down writing and wait briefly for the peer's FIN. */
void
client_finish(struct client *c)
{
	c->flags |= CF_FINISH;
	client_kick(c);
}

/*
 * Apply what one gather write of c's queue returned (w, errno err):
 * release what was written.  Returns 0 to write on, 1 when the socket
 * is full, -1 when c was closed.
 */
static int
client_wrote(struct client *c, ssize_t w, int err)
{
	struct qent	*q;
	size_t		 left;

	if (w < 0) {
		if (err == EINTR)
			return 0;
		if (err == EAGAIN || err == EWOULDBLOCK)
			return 1;
		client_close(c, "write error");
		return -1;
	}
	c->qbytes -= (size_t)w;
	while (w > 0) {
		q = c->qhead;
		left = q->m->len - c->qoff;
		if ((size_t)w < left) {
			c->qoff += (size_t)w;
			return 1;	/* a short write: the socket is full */
		}
		w -= (ssize_t)left;
		c->qoff = 0;
		c->qhead = q->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		msg_unref(q->m);
		free(q);
	}
	return 0;
}

/* After the writes: EV_WRITE for what is left, or the shutdown once drained. */
static void
client_flushed(struct client *c)
{
	want_events(c, c->qhead != NULL);
	if (c->qhead == NULL && (c->flags & CF_FINISH) && c->state != CS_LINGER) {
		shutdown(c->fd, SHUT_WR);
		c->state = CS_LINGER;
		c->deadline = push_now() + PUSH_LINGER_MS;
	}
}

/* Predicate: c's queue is written by client_flush() now (not closed, held, replaying or polling). */
static int
client_writable(const struct client *c)
{
	return !(c->flags & (CF_CLOSE | CF_HOLD | CF_REPLAY | CF_POLL));
}

/* Write what the socket takes; arm EV_WRITE only for what is left. */
void
client_flush(struct client *c)
{
	struct iovec	 iov[SEND_IOV_MAX];
	struct qent	*q;
	size_t		 off;
	ssize_t		 w;
	int		 n, rc = 0;

	if (c->flags & (CF_CLOSE | CF_HOLD | CF_REPLAY))
		return;
	if (c->flags & CF_POLL) {
		polling_flush(c);		/* answers a held GET */
		return;
	}
	while (c->qhead != NULL && rc == 0) {
		n = 0;
		off = c->qoff;
		for (q = c->qhead; q != NULL && n < SEND_IOV_MAX; q = q->next) {
			iov[n].iov_base = q->m->data + off;
			iov[n].iov_len = q->m->len - off;
			off = 0;
			n++;
		}
		w = n == 1 ? send(c->fd, iov[0].iov_base, iov[0].iov_len,
		    MSG_NOSIGNAL) : writev(c->fd, iov, n);
		if ((rc = client_wrote(c, w, w < 0 ? errno : 0)) == -1)
			return;
	}
	client_flushed(c);
}

/*
 * Many pending clients (a fan-out) and send threads: the first write of
 * each queue is made by the threads (send.c), then applied here; what a
 * queue still holds after it is written as client_flush() does.
 */
static void
client_flush_parallel(void)
{
	struct send_job	*j;
	struct client	*c;
	size_t		 i, n = 0;

	if (srv.jobs_cap < srv.npending) {
		free(srv.jobs);
		srv.jobs = xcalloc(srv.npending, sizeof(*srv.jobs));
		srv.jobs_cap = srv.npending;
	}
	for (i = 0; i < srv.npending; i++) {
		c = srv.pending[i];
		if (client_writable(c) && c->qhead != NULL) {
			c->flags |= CF_BATCH;
			srv.jobs[n++].c = c;
		}
	}
	send_run(srv.jobs, n);
	for (i = 0; i < n; i++) {
		j = &srv.jobs[i];
		if (client_wrote(j->c, j->w, j->err) == 0)
			client_flush(j->c);	/* more queued, or nothing left to write */
		else if (!(j->c->flags & CF_CLOSE))
			client_flushed(j->c);
	}
}

/* Before the loop sleeps: write every pending queue. */
void
client_flush_pending(void)
{
	size_t		 i;
	struct client	*c;

	if (srv.npending >= SEND_PARALLEL_MIN && send_threads() > 0) {
		client_flush_parallel();
		for (i = 0; i < srv.npending; i++) {
			c = srv.pending[i];
			c->flags &= ~CF_PENDING;
			if (c->flags & CF_BATCH)
				c->flags &= ~CF_BATCH;
			else
				client_flush(c);	/* polling, empty, or queued since */
		}
		srv.npending = 0;
		return;
	}
	for (i = 0; i < srv.npending; i++) {
		c = srv.pending[i];
		c->flags &= ~CF_PENDING;
		client_flush(c);
	}
	srv.npending = 0;
}

/*
 * The token ran out: the client leaves its rooms at once, what is
 * queued for it and not begun is dropped, and it is told why and
 * closed, so that it hears nothing more however slowly it reads.
 */
void
client_expire(struct client *c)
{
	static const char bye[] = ": token expired\n\n";

	c->expires = 0;
	srv.stats.expired++;
	rooms_leave_all(c);
	if (c->state == CS_SSE) {
		client_drop_queued(c, (c->flags & CF_REPLAY) != 0);
		c->flags &= ~CF_REPLAY;
		client_send(c, bye, sizeof(bye) - 1);
		c->state = CS_REPLY;
		c->deadline = push_now() + PUSH_CLOSE_WAIT_MS;
		client_finish(c);
		return;
	}
	client_drop_queued(c, 0);
	eio_close(c, 1008, "token expired");
}

/* Bytes from the peer, by state. */
void
client_input(struct client *c, const char *p, size_t n)
{
	if (c->flags & CF_POLL)
		return;		/* after a held GET: nothing is expected */
	switch (c->state) {
	case CS_HTTP:
		push_http_input(c, p, n);
		break;
	case CS_EIO:
	case CS_SIO:
	case CS_PROBE:
	case CS_CLOSING:
		ws_input(c, p, n);
		break;
	case CS_REPLY:
	case CS_SSE:
	case CS_LINGER:
		break;		/* nothing is expected: discarded */
	}
}

void
client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	static char	 buf[PUSH_READ_MAX];
	struct client	*c = w->data;
	ssize_t		 n;

	(void)loop;
	if (revents & EV_WRITE) {
		client_flush(c);
		if (c->flags & CF_CLOSE)
			return;
	}
	if (!(revents & EV_READ))
		return;
	n = read(c->fd, buf, sizeof(buf));
	if (n == 0) {
		/*
		 * A polling session whose held GET is given up is closed,
		 * as Engine.IO's reference server does.
		 */
		client_close(c, c->state == CS_LINGER ? "done" :
		    (c->flags & CF_POLL) ? "GET abandoned" : "peer closed");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			client_close(c, "read error");
		return;
	}
	client_input(c, buf, (size_t)n);
}

/* sse.c: Server-Sent Events at /api/events: the stream's head, event blocks, keep-alive comments, Last-Event-ID replay from the tenant's stream. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "push.h"

/* A stream id "<ms>-<seq>" into its two numbers; 0 or -1. */
int
sse_id_parse(const char *s, uint64_t *ms, uint64_t *seq)
{
	const char	*dash = strchr(s, '-');
	char		*end;
	size_t		 n1, n2;

	if (dash == NULL)
		return -1;
	n1 = (size_t)(dash - s);
	n2 = strlen(dash + 1);
	if (n1 == 0 || n1 > 20 || n2 == 0 || n2 > 20 ||
	    strspn(s, "0123456789") != n1 ||
	    strspn(dash + 1, "0123456789") != n2)
		return -1;
	errno = 0;
	*ms = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	*seq = strtoull(dash + 1, &end, 10);
	return errno != 0 ? -1 : 0;
}

/* The block every stream recipient of ev shares. */
struct msg *
sse_event_msg(const struct event *ev)
{
	struct buf	 b = { 0 };
	struct msg	*m;

	buf_printf(&b, "id: %s\nevent: %s\ndata: ", ev->id, ev->type);
	buf_append(&b, ev->data, ev->datalen);
	buf_puts(&b, "\n\n");
	m = msg_new(b.len);
	msg_append(m, b.data, b.len);
	m->id_ms = ev->id_ms;
	m->id_seq = ev->id_seq;
	buf_free(&b);
	return m;
}

/*
 * Open the stream for an authenticated request.  With last (a checked
 * Last-Event-ID), the events after it are read from the tenant's
 * stream first; live events that arrive meanwhile wait in the queue
 * (CF_REPLAY holds it) and sse_replay_done() puts them in order.
 */
void
sse_start(struct client *c, const struct principal *p, int jobs, int proposals,
    const char *last)
{
	struct buf	 head = { 0 };

	free(c->user);
	c->user = xstrdup(p->user_id);
	c->expires = p->exp + cfg.jwt_leeway;
	if (room_join(c, ROOM_TENANT, p->tenant_id) == -1 ||
	    (jobs && room_join(c, ROOM_JOBS, p->tenant_id) == -1) ||
	    (proposals && room_join(c, ROOM_PROPOSALS, p->tenant_id) == -1)) {
		push_http_reply(c, 500, "internal_error", "Internal error", NULL);
		return;
	}
	c->state = CS_SSE;
	c->deadline = push_now() + cfg.push_sse_keepalive_ms;
	memset(&c->u.sse, 0, sizeof(c->u.sse));
	push_http_head(&head, c, 200, "text/event-stream; charset=utf-8",
	    "X-Accel-Buffering: no\r\n");
	buf_puts(&head, "\r\nretry: 2000\n: connected\n\n");
	client_send(c, head.data, head.len);
	buf_free(&head);
	if (last == NULL || cfg.push_replay_max == 0)
		return;
	sse_id_parse(last, &c->u.sse.last_ms, &c->u.sse.last_seq);
	c->flags |= CF_REPLAY;
	if (feed_replay(c, p->tenant_id, last) == -1) {
		c->flags &= ~CF_REPLAY;
		client_send(c, ": replay unavailable\n\n", 22);
	}
}

static int
newer(const struct client *c, uint64_t ms, uint64_t seq)
{
	return ms > c->u.sse.last_ms ||
	    (ms == c->u.sse.last_ms && seq > c->u.sse.last_seq);
}

/*
 * The replayed events (n, oldest first; NULL after a failure) are in:
 * queue them after the head, then the live events that waited, each
 * once and in id order.
 */
void
sse_replay_done(struct client *c, struct event *evs, size_t n)
{
	struct qent	*held, *q;
	size_t		 i;

	c->flags &= ~CF_REPLAY;
	if (c->state != CS_SSE) {	/* the token ran out meanwhile */
		client_kick(c);
		return;
	}
	if (c->qhead == NULL) {
		held = NULL;
	} else {
		held = c->qhead->next;
		c->qhead->next = NULL;
		c->qtail = c->qhead;
		c->qbytes = c->qhead->m->len - c->qoff;
	}
	if (evs == NULL)
		client_send(c, ": replay unavailable\n\n", 22);
	for (i = 0; evs != NULL && i < n; i++) {
		if (!event_visible(c, &evs[i]) ||
		    !newer(c, evs[i].id_ms, evs[i].id_seq))
			continue;
		if (evs[i].sse_msg == NULL)
			evs[i].sse_msg = sse_event_msg(&evs[i]);
		client_queue(c, evs[i].sse_msg);
		c->u.sse.last_ms = evs[i].id_ms;
		c->u.sse.last_seq = evs[i].id_seq;
	}
	while ((q = held) != NULL) {
		held = q->next;
		if (q->m->id_ms == 0 && q->m->id_seq == 0)
			client_queue(c, q->m);		/* a keep-alive */
		else if (newer(c, q->m->id_ms, q->m->id_seq)) {
			client_queue(c, q->m);
			c->u.sse.last_ms = q->m->id_ms;
			c->u.sse.last_seq = q->m->id_seq;
		}
		msg_unref(q->m);
		free(q);
	}
	client_kick(c);
}

/* Keep-alive: a comment line every push_sse_keepalive_ms. */
void
sse_cron(struct client *c, double now)
{
	client_queue(c, srv.keepalive);
	c->deadline = now + cfg.push_sse_keepalive_ms;
}

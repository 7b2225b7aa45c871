/* rooms.c: rooms (tenant:<t>, jobs:<t>, proposals:<user> within a tenant) in a hash table, and the fan-out of one event to its room. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "push.h"

/*
 * A room exists while it has members.  Its key is unique across
 * tenants: "tenant:<t>", "jobs:<t>", "proposals:<user>/<t>" ('/' is
 * not allowed in ids, so keys cannot collide).  Each client is in at
 * most one room of each kind, through the member nodes it embeds.
 */
struct room {
	struct room	*hnext;
	struct member	*head;
	size_t		 n;
	size_t		 tenant_off;	/* the tenant id within key */
	char		 key[];
};

static struct room	**table;
static size_t		  nbuckets, nrooms;

static size_t
hash(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (size_t)h;
}

static struct room **
slot(const char *key)
{
	struct room	**rp;

	if (nbuckets == 0)
		return NULL;
	for (rp = &table[hash(key) & (nbuckets - 1)]; *rp != NULL;
	    rp = &(*rp)->hnext)
		if (strcmp((*rp)->key, key) == 0)
			return rp;
	return rp;
}

static void
rehash(void)
{
	struct room	**old = table, *r, *next;
	size_t		  i, oldn = nbuckets;

	nbuckets = oldn ? oldn * 2 : 256;
	table = xcalloc(nbuckets, sizeof(*table));
	for (i = 0; i < oldn; i++)
		for (r = old[i]; r != NULL; r = next) {
			next = r->hnext;
			r->hnext = table[hash(r->key) & (nbuckets - 1)];
			table[hash(r->key) & (nbuckets - 1)] = r;
		}
	free(old);
}

static struct room *
room_find(const char *key)
{
	struct room	**rp = slot(key);

	return rp != NULL ? *rp : NULL;
}

static void
room_key(struct buf *b, enum room_kind kind, const char *tenant,
    const char *user)
{
	switch (kind) {
	case ROOM_TENANT:
		buf_printf(b, "tenant:%s", tenant);
		break;
	case ROOM_JOBS:
		buf_printf(b, "jobs:%s", tenant);
		break;
	default:
		buf_printf(b, "proposals:%s/%s", user, tenant);
		break;
	}
}

/* The tenant c authenticated for, or NULL before it did. */
const char *
room_tenant(const struct client *c)
{
	const struct room	*r = c->rooms[ROOM_TENANT].room;

	return r != NULL ? r->key + r->tenant_off : NULL;
}

/* Put c in the room of kind for tenant (and c->user); idempotent.  0 or -1. */
int
room_join(struct client *c, enum room_kind kind, const char *tenant)
{
	struct member	*m = &c->rooms[kind];
	struct room	**rp, *r;
	struct buf	 key = { 0 };

	if (m->room != NULL)
		return 0;
	if (kind == ROOM_PROPOSALS && c->user == NULL)
		return -1;
	room_key(&key, kind, tenant, c->user);
	if (nrooms >= nbuckets)
		rehash();
	rp = slot(key.data);
	if ((r = *rp) == NULL) {
		r = xcalloc(1, sizeof(*r) + key.len + 1);
		memcpy(r->key, key.data, key.len + 1);
		r->tenant_off = key.len - strlen(tenant);
		*rp = r;
		nrooms++;
	}
	buf_free(&key);
	m->room = r;
	m->c = c;
	m->prev = NULL;
	m->next = r->head;
	if (r->head != NULL)
		r->head->prev = m;
	r->head = m;
	r->n++;
	return 0;
}

void
room_leave(struct client *c, enum room_kind kind)
{
	struct member	*m = &c->rooms[kind];
	struct room	*r = m->room, **rp;

	if (r == NULL)
		return;
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		r->head = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	m->room = NULL;
	m->prev = m->next = NULL;
	if (--r->n == 0) {
		rp = slot(r->key);
		*rp = r->hnext;
		nrooms--;
		free(r);
	}
}

void
rooms_leave_all(struct client *c)
{
	int	k;

	for (k = ROOM__MAX - 1; k >= 0; k--)
		room_leave(c, (enum room_kind)k);
}

/* Put to in every room from is in (to->user set), then take from out of them.  0 or -1. */
int
rooms_move(struct client *from, struct client *to)
{
	const char	*tenant = room_tenant(from);
	int		 k;

	if (tenant == NULL)
		return 0;
	for (k = 0; k < ROOM__MAX; k++)
		if (from->rooms[k].room != NULL &&
		    room_join(to, (enum room_kind)k, tenant) == -1)
			return -1;
	rooms_leave_all(from);
	return 0;
}

/* Predicate: c may see ev (its tenant, its user, a topic it subscribed to). */
int
event_visible(const struct client *c, const struct event *ev)
{
	const char	*t = room_tenant(c);

	if (t == NULL || strcmp(t, ev->tenant) != 0)
		return 0;
	if (ev->user != NULL && (c->user == NULL || strcmp(ev->user, c->user) != 0))
		return 0;
	switch (ev->topic) {
	case TOPIC_JOBS:
		return c->rooms[ROOM_JOBS].room != NULL;
	case TOPIC_PROPOSALS:
		return c->rooms[ROOM_PROPOSALS].room != NULL;
	default:
		return 1;
	}
}

static void
deliver(struct client *c, struct event *ev)
{
	if (c->state == CS_SSE) {
		if (!(c->flags & CF_REPLAY)) {
			if (ev->id_ms < c->u.sse.last_ms ||
			    (ev->id_ms == c->u.sse.last_ms &&
			    ev->id_seq <= c->u.sse.last_seq))
				return;		/* replayed already */
			c->u.sse.last_ms = ev->id_ms;
			c->u.sse.last_seq = ev->id_seq;
		}
		if (ev->sse_msg == NULL)
			ev->sse_msg = sse_event_msg(ev);
		client_queue(c, ev->sse_msg);
	} else if (c->state == CS_SIO && (c->flags & CF_POLL)) {
		if (ev->polling_msg == NULL)
			ev->polling_msg = eio_event_msg(ev, 1);
		client_queue(c, ev->polling_msg);
	} else if (c->state == CS_SIO) {
		if (ev->ws_msg == NULL)
			ev->ws_msg = eio_event_msg(ev, 0);
		client_queue(c, ev->ws_msg);
	} else
		return;
	srv.stats.delivered++;
}

/*
 * Queue ev for every client that may see it.  The room is the smallest
 * that holds them all; event_visible() filters the rest.  The frame is
 * encoded once per protocol and shared.  A client whose token ran out
 * since the last sweep is expired here rather than served.
 */
void
rooms_deliver(struct event *ev)
{
	struct buf	 key = { 0 };
	struct room	*r;
	struct member	*m, *next;
	time_t		 now = time(NULL);

	if (ev->topic == TOPIC_JOBS)
		room_key(&key, ROOM_JOBS, ev->tenant, NULL);
	else if (ev->topic == TOPIC_PROPOSALS && ev->user != NULL)
		room_key(&key, ROOM_PROPOSALS, ev->tenant, ev->user);
	else
		room_key(&key, ROOM_TENANT, ev->tenant, NULL);
	r = room_find(key.data);
	buf_free(&key);
	if (r == NULL)
		return;
	/* A slow consumer closed here leaves the room: take next first. */
	for (m = r->head; m != NULL; m = next) {
		next = m->next;
		if (m->c->expires != 0 && now > m->c->expires)
			client_expire(m->c);
		else if (event_visible(m->c, ev))
			deliver(m->c, ev);
	}
}

void
rooms_free(void)
{
	free(table);
	table = NULL;
	nbuckets = nrooms = 0;
}

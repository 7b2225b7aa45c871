/* events_recent.c: GET /api/events/recent: the caller's realtime events after a given id, as plain JSON, for clients without the broadcaster (no daemon, or no Redis). */
#include <string.h>

#include "agent.h"

/*
 * What the broadcaster would have sent the caller's stream, read back
 * from the tenant's stream (Redis) or the events table (PostgreSQL
 * without Redis): the tenant's events for everyone and those for the
 * caller alone, of the topics asked for.  A client polls with the last
 * id it got (data.lastId) and misses none as long as it polls within a
 * day and before 1,000 newer events push them out (docs/realtime.md).
 */
struct recent_q {
	char		*after;
	struct strlist	 topics;
	long long	 limit;
};
enum { RQ_AFTER, RQ_TOPICS, RQ_LIMIT };

static const struct field recent_fields[] = {
	[RQ_AFTER] = { FIELD("after", FT_STRING, struct recent_q, after),
	    .max = 41 },
	[RQ_TOPICS] = { FIELD("topics", FT_STRLIST, struct recent_q, topics),
	    .min = 1, .max = 4, .item_max = 20 },
	[RQ_LIMIT] = { FIELD("limit", FT_INT, struct recent_q, limit),
	    .min = 1, .max = 500, .def = "100" },
};
static const struct field_obj recent_query = {
	.fields = recent_fields, .nfields = nitems(recent_fields),
	.size = sizeof(struct recent_q)
};

/*
 * The topics' events: job:* is jobs, proposal:* proposals, as the
 * broadcaster's rooms; the types of a topic not asked for are left out
 * (other types always come).  0, or -1 after answering 400.
 */
static int
topics_filter(struct req *r, const struct strlist *l, struct events_filter *f)
{
	int	jobs = l->n == 0, proposals = l->n == 0;
	size_t	i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], "jobs") == 0)
			jobs = 1;
		else if (strcmp(l->v[i], "proposals") == 0)
			proposals = 1;
		else {
			valid_fail_field(r, "topics", "must be a comma list of "
			    "jobs and proposals");
			return -1;
		}
	}
	f->nskip = 0;
	if (!jobs)
		f->skip[f->nskip++] = "job:";
	if (!proposals)
		f->skip[f->nskip++] = "proposal:";
	return 0;
}

static void
recent(struct req *r)
{
	const struct recent_q	*q = r->qv;
	struct events_after	 after;
	struct events_page	 pg = { 0 };
	struct reply		 rp;
	struct events_filter	 f;

	if (events_parse_id(q->after != NULL ? q->after : "", &after) == -1) {
		valid_fail_field(r, "after", "must be an event id, "
		    "<milliseconds>-<sequence>, or 0");
		return;
	}
	if (topics_filter(r, &q->topics, &f) == -1)
		return;
	if (events_recent(&r->app->redis, r->auth.tenant_id, r->auth.user_id,
	    &after, &f, (int)q->limit, &pg) == -1) {
		buf_free(&pg.json);
		http_error(r, ERR_UNAVAILABLE, "the events are unavailable");
		return;
	}
	reply_open(&rp, r);
	jw_object(&rp.w, NULL);
	jw_array(&rp.w, "events");
	if (pg.count > 0)
		jw_raw(&rp.w, NULL, pg.json.data);
	jw_end(&rp.w);
	/* Where the next poll starts: the last id seen, else where this one did. */
	if (pg.count > 0)
		jw_string(&rp.w, "lastId", pg.last);
	else if (after.ms > 0 || after.seq > 0)
		jw_raw(&rp.w, "lastId", arena_printf(&r->arena, "\"%llu-%llu\"",
		    after.ms, after.seq));
	else
		jw_null(&rp.w, "lastId");
	jw_bool(&rp.w, "hasMore", pg.more);
	buf_free(&pg.json);
	reply_send(&rp, 200);
}

static const struct route routes[] = {
	{ "/api/events/recent", METHOD_GET, recent, 0, RL_DEFAULT, &recent_query },
};

int
main(void)
{
	return agent_main("events_recent", routes, nitems(routes), NULL);
}

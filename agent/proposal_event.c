/* proposal_event.c: proposal:updated in one shape whatever the cause: the proposal as GET /api/proposals/{id} shows it, what changed and why, to its user. */
#include <string.h>

#include "agent.h"

/* The event's data: the proposal (lean: without its texts), then what changed. */
static void
event_json(struct buf *b, const PGresult *one, const PGresult *hist, int lean,
    const char *cause, const char *changes, const char *previous)
{
	struct jw	 w;
	const char	*p, *end;

	buf_reset(b);
	jw_init(&w, b);
	shape_proposal_one(&w, one, hist, lean ? SHAPE_LEAN : 0);
	jw_array(&w, "changes");
	for (p = changes != NULL ? changes : ""; *p != '\0'; p = end + (*end == ',')) {
		end = p + strcspn(p, ",");
		jw_stringn(&w, NULL, p, (size_t)(end - p));
	}
	jw_end(&w);
	jw_string(&w, "cause", cause);
	jw_string(&w, "previousStatus", previous);
	jw_bool(&w, "truncated", lean);
	jw_close(&w);
}

/*
 * Publish proposal:updated for proposal id of r's tenant, as it is now
 * (committed): cause says what changed it, changes (a comma list of
 * field names, "created" for a new one) what, previous its status
 * before (NULL for a new one).  To the proposal's user only.
 */
void
proposal_announce(struct req *r, const char *id, const char *cause,
    const char *changes, const char *previous)
{
	const char	*params[1] = { id };
	struct db_query	 qs[2] = { { SHAPE_PROPOSAL_ONE_SQL, 1, params },
			    { SHAPE_HISTORY_SQL, 1, params } };
	PGresult	*res[2] = { NULL, NULL };
	struct buf	 b = { 0 };

	if (db_run_as(&r->app->db, r->auth.tenant_id, r->auth.user_id, qs, 2,
	    res, r) == -1) {
		LOG_WARN(r, "proposal %s: proposal:updated not published: the "
		    "database is unavailable", id);
		return;
	}
	if (PQntuples(res[0]) == 1) {
		event_json(&b, res[0], res[1], 0, cause, changes, previous);
		if (b.len > EVENTS_DATA_MAX)
			event_json(&b, res[0], res[1], 1, cause, changes,
			    previous);
		(void)events_publish(&r->app->redis, "proposal:updated",
		    r->auth.tenant_id, PQgetvalue(res[0], 0, 2), b.data, NULL, 0);
	}
	db_clear(res, 2);
	buf_free(&b);
}

/* proposal_submit.c: POST /api/proposals/{id}/submit marks the user's draft ready (the lifecycle's draft → ready), records when, publishes proposal:updated and answers the job's Upwork apply URL. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

enum stmt {
	STMT_LOCK,
	STMT_READY,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	/* Another user's proposal, like another tenant's, is not found. */
	[STMT_LOCK] = "SELECT p.status, j.ciphertext, j.upwork_id, p.content,"
	    " p.job_id, p.ready_at FROM proposals p JOIN jobs j"
	    " ON j.tenant_id = p.tenant_id AND j.id = p.job_id"
	    " WHERE p.id = $1::uuid AND p.user_id = app_user() FOR UPDATE OF p",
	[STMT_READY] = "UPDATE proposals SET status = 'ready', ready_at = now(),"
	    " updated_at = now() WHERE id = $1::uuid RETURNING ready_at",
};

static struct upwork	up;

/* The answer and the event share one object. */
static void
proposal_json(struct jw *w, const char *id, const char *job, const char *ready_at,
    const char *url)
{
	jw_object(w, NULL);
	jw_string(w, "id", id);
	jw_string(w, "jobId", job);
	jw_string(w, "status", "ready");
	shape_time(w, "readyAt", ready_at);
	jw_string(w, "applyUrl", url);
	jw_bool(w, "submittedToUpwork", 0);
	jw_end(w);
}

/*
 * Upwork's public API cannot submit a proposal (see
 * upwork_submit_proposal()), so "submit" readies the draft here and
 * hands the freelancer the job's apply page to finish it.  The row is
 * locked from the check (lifecycle_check(), as PATCH does) to the
 * update: two submits at once make one change and one event; the
 * trigger proposals_history records it.  Submitting a proposal that is
 * already ready answers the same again, without a second event.
 */
static void
proposal_submit(struct req *r)
{
	const char		*params[1] = { r->args[0] };
	struct db_query		 q;
	struct upwork_proposal	 p;
	struct upwork_err	 e;
	struct buf		 url = { 0 }, b = { 0 };
	struct reply		 rp;
	PGresult		*row, *res = NULL;
	enum proposal_status	 from;
	enum lc_verdict		 v;
	char			*job = NULL, *ready_at = NULL;

	if (!uuid_valid(r->args[0])) {
		valid_fail_field(r, "id", "must be a UUID");
		return;
	}
	db_begin(r);
	q = (struct db_query){ stmts[STMT_LOCK], 1, params };
	if ((row = db_exec(r, q.sql, q.nparams, q.params)) == NULL)
		return;
	if (PQntuples(row) == 0) {
		db_rollback(r);
		http_error(r, ERR_NOT_FOUND, "no proposal with this id");
		goto out;
	}
	/* The lifecycle's edge draft → ready; ready again answers the same. */
	if (lifecycle_parse(PQgetvalue(row, 0, 0), &from) == -1)
		from = PS__MAX;
	if ((v = lifecycle_check(from, PS_READY, 0)) != LC_OK && v != LC_SAME) {
		db_rollback(r);
		if (from < PS__MAX)
			lifecycle_message(&b, from, PS_READY, v);
		http_error(r, ERR_CONFLICT, "only a draft can be submitted; this "
		    "proposal is %s (%s)", PQgetvalue(row, 0, 0), b.data ? b.data : "");
		goto out;
	}
	memset(&p, 0, sizeof(p));
	up.deadline = now_ms() + agent_cfg.upwork_request_budget_ms;
	p.job_upwork_id = PQgetvalue(row, 0, 2);
	p.ciphertext = db_value(row, 0, 1);
	p.cover_letter = PQgetvalue(row, 0, 3);
	if (upwork_submit_proposal(&up, &p, &url, &e) == -1) {
		db_rollback(r);
		http_error(r, e.err, "%s", e.msg);
		goto out;
	}
	job = xstrdup(PQgetvalue(row, 0, 4));
	if (v == LC_SAME) {
		db_rollback(r);
		if (db_value(row, 0, 5) != NULL)
			ready_at = xstrdup(db_value(row, 0, 5));
	} else {
		q = (struct db_query){ stmts[STMT_READY], 1, params };
		if ((res = db_exec(r, q.sql, q.nparams, q.params)) == NULL ||
		    db_commit(r) == -1)
			goto out;
		ready_at = xstrdup(PQgetvalue(res, 0, 0));
		cache_invalidate(&r->app->redis, CACHE_USER, cache_scope(r, CACHE_USER));
	}
	reply_open(&rp, r);
	proposal_json(&rp.w, r->args[0], job, ready_at, url.data);
	reply_send(&rp, 200);
	if (v != LC_SAME)
		proposal_announce(r, r->args[0], "submitted", "status,readyAt",
		    proposal_status_names[from]);
out:
	PQclear(row);
	PQclear(res);
	free(job);
	free(ready_at);
	buf_free(&url);
	buf_free(&b);
}

static const struct route routes[] = {
	{ "/api/proposals/{id}/submit", METHOD_POST, proposal_submit, 0, RL_UPWORK, NULL },
};

int
main(void)
{
	return upwork_main("proposal_submit", routes, nitems(routes), &up);
}

/* refresh-clients.c: cron binary: fetch the company details of clients whose details are older than refresh_clients_age_hours, within the day's Upwork budget. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent.h"

enum stmt {
	STMT_STALE,
	STMT_DETAILS,
	STMT_GONE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	/* The details come with a job posting: ask about the client's newest. */
	[STMT_STALE] = "SELECT c.id, (SELECT j.upwork_id FROM jobs j"
	    " WHERE j.tenant_id = c.tenant_id AND j.client_id = c.id"
	    " ORDER BY j.posted_at DESC LIMIT 1) FROM clients c"
	    " WHERE (c.details_refreshed_at IS NULL"
	    " OR c.details_refreshed_at < now() - $1::int * interval '1 hour')"
	    " AND EXISTS (SELECT FROM jobs j WHERE j.tenant_id = c.tenant_id"
	    " AND j.client_id = c.id)"
	    " ORDER BY c.details_refreshed_at NULLS FIRST, c.id LIMIT $2::int",
	[STMT_DETAILS] = "UPDATE clients SET name = coalesce($2, name),"
	    " company = coalesce($2, company), city = coalesce($3, city),"
	    " details = $4::jsonb, details_refreshed_at = now(), updated_at = now()"
	    " WHERE id = $1::uuid",
	/* The posting is gone: nothing to learn until a newer job comes. */
	[STMT_GONE] = "UPDATE clients SET details_refreshed_at = now()"
	    " WHERE id = $1::uuid",
};

struct totals {
	unsigned	stale;
	unsigned	refreshed;
	int		budget_spent;	/* the day's share is used: stop the run */
};

/* One client: ask Upwork, store what it says.  Returns 0 or -1 with e. */
static int
refresh_one(struct cron *c, struct upwork *up, const char *tenant,
    struct upwork_auth *a, int *forced, const char *client, const char *job,
    struct upwork_err *e)
{
	struct upwork_details	 d;
	const char		*params[4];
	struct db_query		 q;
	PGresult		*res;
	int			 rc;

	rc = upwork_client_details(up, a, job, &d, e);
	if (rc == -1 && e->fail == UPW_UNAUTHORIZED && !*forced) {
		*forced = 1;
		if (upwork_token(up, &c->db, tenant, 1, a, e) == 0)
			rc = upwork_client_details(up, a, job, &d, e);
	}
	if (rc == -1) {
		upwork_details_free(&d);
		return -1;
	}
	params[0] = client;
	if (d.raw == NULL)
		q = (struct db_query){ stmts[STMT_GONE], 1, params };
	else {
		params[1] = d.company_name;
		params[2] = d.city;
		params[3] = d.raw;
		q = (struct db_query){ stmts[STMT_DETAILS], 4, params };
	}
	rc = db_run_as(&c->db, tenant, NULL, &q, 1, &res, NULL);
	upwork_details_free(&d);
	if (rc == -1) {
		upwork_fail(e, UPW_DATABASE, 0, "the client could not be updated");
		return -1;
	}
	PQclear(res);
	return 0;
}

/* Mark a client refreshed without details, so that the queue moves on. */
static int
skip_client(struct cron *c, const char *tenant, const char *client)
{
	const char	*params[1] = { client };
	struct db_query	 q = { stmts[STMT_GONE], 1, params };
	PGresult	*res;

	if (db_run_as(&c->db, tenant, NULL, &q, 1, &res, NULL) == -1)
		return -1;
	PQclear(res);
	return 0;
}

static int
refresh_tenant(struct cron *c, struct upwork *up, const char *tenant,
    struct totals *t, struct upwork_err *e)
{
	struct upwork_auth	 a;
	const char		*params[2];
	struct db_query		 q = { stmts[STMT_STALE], 2, params };
	PGresult		*res;
	char			 age[16], limit[16];
	int			 i, forced = 0, done = 0, rc = 0;

	snprintf(age, sizeof(age), "%d", agent_cfg.refresh_clients_age_hours);
	snprintf(limit, sizeof(limit), "%u", agent_cfg.refresh_clients_max - t->refreshed);
	params[0] = age;
	params[1] = limit;
	if (db_run_as(&c->db, tenant, NULL, &q, 1, &res, NULL) == -1) {
		upwork_fail(e, UPW_DATABASE, 0, "the clients could not be read");
		return -1;
	}
	t->stale += (unsigned)PQntuples(res);
	if (c->dry_run || PQntuples(res) == 0) {
		LOG_INFO(NULL, "refresh-clients: tenant %s: %d clients to refresh%s",
		    tenant, PQntuples(res), c->dry_run ? " (dry run)" : "");
		PQclear(res);
		return 0;
	}
	if (upwork_token(up, &c->db, tenant, 0, &a, e) == -1) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res) && cron_go_on(c); i++) {
		log_progress("refresh-clients: %s: client %d/%d", tenant, i + 1,
		    PQntuples(res));
		if (refresh_one(c, up, tenant, &a, &forced, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), e) == 0) {
			done++;
			continue;
		}
		/*
		 * An answer about this one posting that we cannot use: put
		 * the client at the back of the queue (as if refreshed) and
		 * go on, or it would head the queue and block the tenant
		 * forever.  Budget, credentials, transport: stop the tenant.
		 */
		if (e->fail == UPW_GRAPHQL || e->fail == UPW_MALFORMED ||
		    e->fail == UPW_TOO_LARGE) {
			LOG_WARN(NULL, "refresh-clients: tenant %s: client %s "
			    "skipped: %s", tenant, PQgetvalue(res, i, 0), e->msg);
			if (skip_client(c, tenant, PQgetvalue(res, i, 0)) == 0)
				continue;
			upwork_fail(e, UPW_DATABASE, 0,
			    "the client could not be updated");
		}
		if (e->fail == UPW_BUDGET)
			t->budget_spent = 1;
		rc = -1;
		break;
	}
	t->refreshed += (unsigned)done;
	if (done > 0) {
		/* Job lists embed the client, research reads it. */
		cache_invalidate(&c->redis, CACHE_CLIENTS, tenant);
		cache_invalidate(&c->redis, CACHE_JOBS, tenant);
	}
	LOG_INFO(NULL, "refresh-clients: tenant %s: %d of %d clients refreshed",
	    tenant, done, PQntuples(res));
	explicit_bzero(&a, sizeof(a));
	PQclear(res);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct cron		 c;
	struct upwork		 up;
	struct upwork_err	 e;
	struct totals		 t = { 0 };
	struct tm		 tm;
	time_t			 since;
	char			 sincebuf[32], **ids = NULL;
	size_t			 n = 0, i;
	int			 failed = 0, rc;

	if (agent_cron_init(&c, "refresh-clients", argc, argv, NULL, NULL, NULL) == -1)
		return c.status;
	if ((rc = cron_lock(&c)) != 1)
		return cron_done(&c, rc == 0 ? CRON_OK : CRON_FAILED);
	since = time(NULL) - (time_t)agent_cfg.refresh_clients_age_hours * 3600;
	gmtime_r(&since, &tm);
	strftime(sincebuf, sizeof(sincebuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (upwork_init(&up, &c.redis) == -1 ||
	    cron_tenants(&c, "refresh", sincebuf, &ids, &n) == -1) {
		upwork_free(&up);
		return cron_done(&c, CRON_FAILED);
	}
	/* Polling finds new jobs; this only improves profiles: it yields. */
	up.reserve = agent_cfg.refresh_clients_reserve;
	up.deadline = c.deadline;
	for (i = 0; i < n && !t.budget_spent &&
	    t.refreshed < (unsigned)agent_cfg.refresh_clients_max && cron_go_on(&c); i++) {
		if (refresh_tenant(&c, &up, ids[i], &t, &e) == 0)
			continue;
		if (e.fail == UPW_BUDGET)
			LOG_INFO(NULL, "refresh-clients: stopping: %s", e.msg);
		else if (e.fail == UPW_NOT_CONNECTED)
			LOG_WARN(NULL, "refresh-clients: tenant %s: %s", ids[i], e.msg);
		else {
			LOG_ERR(NULL, "refresh-clients: tenant %s failed: %s", ids[i],
			    e.msg);
			failed++;
		}
	}
	LOG_INFO(NULL, "refresh-clients: %zu tenants, %u stale clients, %u "
	    "refreshed, %lu Upwork requests, %d failed, %.0f ms", n, t.stale,
	    t.refreshed, up.requests, failed, now_ms() - c.t0);
	cron_tenants_free(ids, n);
	upwork_free(&up);
	return cron_done(&c, failed ? CRON_FAILED : CRON_OK);
}

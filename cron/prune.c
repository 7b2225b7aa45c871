/* prune.c: cron binary: delete what has expired, in batches: old jobs nobody wrote a proposal for, clients left without jobs, spent OAuth states, dead AI budget reservations, expired Idempotency-Keys; then fold the job count deltas. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/*
 * Each batch is its own short transaction under the tenant's RLS
 * context, so pruning never holds many locks or a long snapshot.  A job
 * with a proposal is kept (the proposal needs it); realtime events need
 * nothing here: their streams are capped and expire in Redis.
 */
enum kind {
	K_JOBS,
	K_CLIENTS,
	K_STATES,
	K_RESERVATIONS,
	K_IDEMPOTENCY,
	K__MAX
};

static const struct {
	const char	*name;
	const char	*del;		/* $1 days, $2 batch */
	const char	*count;		/* $1 days */
	int		 ns;
	int		 invalidate;
} kinds[K__MAX] = {
	[K_JOBS] = { "jobs",
	    "DELETE FROM jobs WHERE id IN (SELECT j.id FROM jobs j"
	    " WHERE j.posted_at < now() - $1::int * interval '1 day'"
	    " AND NOT EXISTS (SELECT FROM proposals p WHERE p.tenant_id = j.tenant_id"
	    " AND p.job_id = j.id) LIMIT $2::int)",
	    "SELECT count(*) FROM jobs j"
	    " WHERE j.posted_at < now() - $1::int * interval '1 day'"
	    " AND NOT EXISTS (SELECT FROM proposals p WHERE p.tenant_id = j.tenant_id"
	    " AND p.job_id = j.id)", CACHE_JOBS, 1 },
	[K_CLIENTS] = { "clients",
	    "DELETE FROM clients WHERE id IN (SELECT c.id FROM clients c"
	    " WHERE c.updated_at < now() - $1::int * interval '1 day'"
	    " AND NOT EXISTS (SELECT FROM jobs j WHERE j.tenant_id = c.tenant_id"
	    " AND j.client_id = c.id) LIMIT $2::int)",
	    "SELECT count(*) FROM clients c"
	    " WHERE c.updated_at < now() - $1::int * interval '1 day'"
	    " AND NOT EXISTS (SELECT FROM jobs j WHERE j.tenant_id = c.tenant_id"
	    " AND j.client_id = c.id)", CACHE_CLIENTS, 1 },
	/* States expire by expires_at: they ignore the days ($1). */
	[K_STATES] = { "oauth states",
	    "DELETE FROM upwork_oauth_states WHERE (tenant_id, nonce) IN"
	    " (SELECT tenant_id, nonce FROM upwork_oauth_states"
	    " WHERE expires_at < now() AND $1::int IS NOT NULL LIMIT $2::int)",
	    "SELECT count(*) FROM upwork_oauth_states"
	    " WHERE expires_at < now() AND $1::int IS NOT NULL", CACHE_JOBS, 0 },
	/* AI budget reservations of processes that died (aibudget.c). */
	[K_RESERVATIONS] = { "ai reservations",
	    "DELETE FROM ai_reservations WHERE id IN (SELECT id FROM ai_reservations"
	    " WHERE expires_at < now() AND $1::int IS NOT NULL LIMIT $2::int)",
	    "SELECT count(*) FROM ai_reservations"
	    " WHERE expires_at < now() AND $1::int IS NOT NULL", CACHE_JOBS, 0 },
	/* Idempotency-Keys past their 24 hours (common/idempotency.c). */
	[K_IDEMPOTENCY] = { "idempotency keys",
	    "DELETE FROM idempotency_keys WHERE id IN (SELECT id FROM idempotency_keys"
	    " WHERE expires_at < now() AND $1::int IS NOT NULL LIMIT $2::int)",
	    "SELECT count(*) FROM idempotency_keys"
	    " WHERE expires_at < now() AND $1::int IS NOT NULL", CACHE_JOBS, 0 },
};

static long long	days = -1, batch = -1;

enum { OPT_DAYS = 256, OPT_BATCH };

static const struct option options[] = {
	{ "days", required_argument, NULL, OPT_DAYS },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ NULL, 0, NULL, 0 },
};

static int
on_opt(int ch, const char *arg)
{
	long long	v;

	if (parse_int64(arg, &v) == -1 || v < 1 || v > (ch == OPT_DAYS ? 36500 : 100000))
		return -1;
	if (ch == OPT_DAYS)
		days = v;
	else
		batch = v;
	return 0;
}

/* Prune one tenant; adds to removed[].  Returns 0 or -1. */
static int
prune_tenant(struct cron *c, const char *tenant, long long removed[K__MAX])
{
	const char	*params[2];
	struct db_query	 q;
	PGresult	*res;
	char		 d[24], b[24];
	long long	 n, here;
	int		 k;

	snprintf(d, sizeof(d), "%lld", days);
	snprintf(b, sizeof(b), "%lld", batch);
	params[0] = d;
	params[1] = b;
	for (k = 0; k < K__MAX; k++) {
		here = 0;
		do {
			if (!cron_go_on(c))
				return 0;
			q = (struct db_query){ c->dry_run ? kinds[k].count : kinds[k].del,
			    c->dry_run ? 1 : 2, params };
			if (db_run_as(&c->db, tenant, NULL, &q, 1, &res, NULL) == -1) {
				LOG_ERR(NULL, "prune: tenant %s: %s failed", tenant,
				    kinds[k].name);
				return -1;
			}
			n = strtoll(c->dry_run ? PQgetvalue(res, 0, 0) :
			    PQcmdTuples(res), NULL, 10);
			PQclear(res);
			here += n;
			log_progress("prune: %s: %lld %s", tenant, here, kinds[k].name);
		} while (!c->dry_run && n == batch);
		removed[k] += here;
		if (here > 0 && !c->dry_run && kinds[k].invalidate)
			cache_invalidate(&c->redis, kinds[k].ns, tenant);
		if (here > 0)
			LOG_INFO(NULL, "prune: tenant %s: %lld %s %s", tenant, here,
			    kinds[k].name, c->dry_run ? "would be deleted" : "deleted");
	}
	/* The job count deltas of the day, deletions included, folded (sql/0010). */
	if (c->dry_run)
		return 0;
	q = (struct db_query){ "SELECT job_counts_compact()", 0, NULL };
	if (db_run_as(&c->db, tenant, NULL, &q, 1, &res, NULL) == -1) {
		LOG_ERR(NULL, "prune: tenant %s: folding job counts failed", tenant);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct cron	 c;
	long long	 removed[K__MAX] = { 0 };
	char		 **ids = NULL;
	size_t		 n = 0, i;
	int		 failed = 0, rc;

	if (agent_cron_init(&c, "prune", argc, argv, options, on_opt,
	    "[--days N] [--batch N]") == -1)
		return c.status;
	if (days < 0)
		days = agent_cfg.prune_job_days;
	if (batch < 0)
		batch = agent_cfg.prune_batch;
	if ((rc = cron_lock(&c)) != 1)
		return cron_done(&c, rc == 0 ? CRON_OK : CRON_FAILED);
	if (cron_tenants(&c, "prune", NULL, &ids, &n) == -1)
		return cron_done(&c, CRON_FAILED);
	for (i = 0; i < n && cron_go_on(&c); i++)
		if (prune_tenant(&c, ids[i], removed) == -1)
			failed++;
	LOG_INFO(NULL, "prune: %zu tenants, %lld jobs, %lld clients, %lld oauth "
	    "states, %lld ai reservations, %lld idempotency keys %s (older than "
	    "%lld days, batches of %lld), %d failed, %.0f ms",
	    n, removed[K_JOBS], removed[K_CLIENTS], removed[K_STATES],
	    removed[K_RESERVATIONS], removed[K_IDEMPOTENCY],
	    c.dry_run ? "would be deleted" : "deleted", days, batch, failed,
	    now_ms() - c.t0);
	cron_tenants_free(ids, n);
	return cron_done(&c, failed ? CRON_FAILED : CRON_OK);
}

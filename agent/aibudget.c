/* aibudget.c: reserve an AI call's worst-case cost against the tenant's monthly budget before the call, atomically across processes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/*
 * Checking the budget and then calling the provider is a race: calls
 * that start together all see the same spending and all pass.  So the
 * check and a reservation of the call's worst case happen under a
 * per-tenant transaction lock; the reservation counts against the
 * budget until the call's usage is stored (AI_RELEASE_SQL, in the same
 * transaction as the usage row) or released on failure.  A reservation
 * of a process that died counts until it expires.
 */
/* Advisory lock class 727073693 (README, Database, lists them all). */
static const char lock_sql[] =
    "SELECT pg_advisory_xact_lock(727073693, hashtext(app_tenant()))";
static const char held_sql[] =
    "SELECT coalesce((SELECT s.cost FROM ai_spend s WHERE s.month ="
    " date_trunc('month', now() AT TIME ZONE 'UTC')::date), 0),"
    " coalesce((SELECT sum(amount) FROM ai_reservations"
    " WHERE expires_at > now()), 0)";
static const char reserve_sql[] =
    "INSERT INTO ai_reservations (amount, expires_at)"
    " SELECT $1::numeric, now() + $2::int * interval '1 millisecond'"
    " WHERE coalesce((SELECT s.cost FROM ai_spend s WHERE s.month ="
    " date_trunc('month', now() AT TIME ZONE 'UTC')::date), 0)"
    " + coalesce((SELECT sum(amount) FROM ai_reservations"
    " WHERE expires_at > now()), 0) + $1::numeric <= $3::numeric"
    " RETURNING id";

const char AI_RELEASE_SQL[] = "DELETE FROM ai_reservations WHERE id = $1::uuid";

/*
 * Reserve estimate (USD) against budget for r's tenant.  Returns 1 with
 * the reservation's id in id, 0 when it does not fit (*spent and *held
 * say why), or -1 when the database failed (*e).
 */
int
ai_reserve(struct req *r, double budget, double estimate, char *id, size_t idlen,
    double *spent, double *held, enum err *e)
{
	const char	*params[3];
	struct db_query	 qs[3];
	PGresult	*res[3];
	int		 rc;

	params[0] = arena_printf(&r->arena, "%.6f", estimate);
	params[1] = arena_printf(&r->arena, "%d", agent_cfg.llm_timeout_ms * 2 + 60000);
	params[2] = arena_printf(&r->arena, "%.6f", budget);
	qs[0] = (struct db_query){ lock_sql, 0, NULL };
	qs[1] = (struct db_query){ held_sql, 0, NULL };
	qs[2] = (struct db_query){ reserve_sql, 3, params };
	if (db_batch(&r->app->db, r->auth.tenant_id, r->auth.user_id, qs, 3, res,
	    e, r) == -1)
		return -1;
	*spent = strtod(PQgetvalue(res[1], 0, 0), NULL);
	*held = strtod(PQgetvalue(res[1], 0, 1), NULL);
	rc = PQntuples(res[2]) == 1;
	if (rc)
		snprintf(id, idlen, "%s", PQgetvalue(res[2], 0, 0));
	db_clear(res, 3);
	return rc;
}

/* Give a reservation back (the call failed or was not made); best effort. */
void
ai_release(struct req *r, char *id)
{
	const char	*params[1] = { id };
	struct db_query	 q = { AI_RELEASE_SQL, 1, params };
	PGresult	*res;
	enum err	 e;

	if (*id == '\0')
		return;
	if (db_batch(&r->app->db, r->auth.tenant_id, r->auth.user_id, &q, 1, &res,
	    &e, r) == 0)
		PQclear(res);
	else
		LOG_WARN(r, "ai budget: reservation %s not released; it expires",
		    id);
	*id = '\0';
}

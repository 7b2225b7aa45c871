/* usage.c: GET /api/usage shows the tenant's AI usage and cost this calendar month against its budget. */
#include <stdlib.h>

#include "agent.h"

enum stmt {
	STMT_SETTINGS,
	STMT_TOTALS,
	STMT_BREAKDOWN,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_SETTINGS] = AI_SETTINGS_SQL,
	[STMT_TOTALS] = "SELECT date_trunc('month', now()),"
	    " date_trunc('month', now()) + interval '1 month', count(*),"
	    " coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),"
	    " coalesce(sum(cost), 0) FROM ai_usage"
	    " WHERE created_at >= date_trunc('month', now())",
	[STMT_BREAKDOWN] = "SELECT kind, provider, model, count(*),"
	    " sum(prompt_tokens), sum(completion_tokens), sum(cost) FROM ai_usage"
	    " WHERE created_at >= date_trunc('month', now())"
	    " GROUP BY kind, provider, model ORDER BY 7 DESC, 1, 2, 3",
};

static void
usage(struct req *r)
{
	struct db_query	 qs[3];
	PGresult	*res[3];
	struct reply	 rp;
	const char	*v;
	double		 budget, spent;
	int		 i;

	for (i = 0; i < STMT__MAX; i++)
		qs[i] = (struct db_query){ stmts[i], 0, NULL };
	if (db_run(r, qs, 3, res) == -1)
		return;
	v = db_value(res[0], 0, 2);
	budget = v != NULL ? strtod(v, NULL) : agent_cfg.ai_monthly_budget_usd;
	spent = strtod(PQgetvalue(res[1], 0, 5), NULL);
	reply_open(&rp, r);
	jw_object(&rp.w, NULL);
	shape_time(&rp.w, "periodStart", PQgetvalue(res[1], 0, 0));
	shape_time(&rp.w, "periodEnd", PQgetvalue(res[1], 0, 1));
	jw_fixed(&rp.w, "budgetUsd", budget, 2);
	jw_raw(&rp.w, "spentUsd", PQgetvalue(res[1], 0, 5));
	jw_fixed(&rp.w, "remainingUsd", budget > spent ? budget - spent : 0.0, 6);
	jw_raw(&rp.w, "requests", PQgetvalue(res[1], 0, 2));
	jw_raw(&rp.w, "promptTokens", PQgetvalue(res[1], 0, 3));
	jw_raw(&rp.w, "completionTokens", PQgetvalue(res[1], 0, 4));
	jw_int(&rp.w, "tokensUsed", strtoll(PQgetvalue(res[1], 0, 3), NULL, 10) +
	    strtoll(PQgetvalue(res[1], 0, 4), NULL, 10));
	jw_array(&rp.w, "breakdown");
	for (i = 0; i < PQntuples(res[2]); i++) {
		jw_object(&rp.w, NULL);
		jw_stringn(&rp.w, "kind", PQgetvalue(res[2], i, 0),
		    (size_t)PQgetlength(res[2], i, 0));
		jw_stringn(&rp.w, "provider", PQgetvalue(res[2], i, 1),
		    (size_t)PQgetlength(res[2], i, 1));
		jw_stringn(&rp.w, "model", PQgetvalue(res[2], i, 2),
		    (size_t)PQgetlength(res[2], i, 2));
		jw_raw(&rp.w, "requests", PQgetvalue(res[2], i, 3));
		jw_raw(&rp.w, "promptTokens", PQgetvalue(res[2], i, 4));
		jw_raw(&rp.w, "completionTokens", PQgetvalue(res[2], i, 5));
		jw_raw(&rp.w, "cost", PQgetvalue(res[2], i, 6));
		jw_end(&rp.w);
	}
	reply_send(&rp, 200);
	db_clear(res, 3);
}

static const struct route routes[] = {
	{ "/api/usage", METHOD_GET, usage, 0, RL_DEFAULT, NULL },
};

int
main(void)
{
	return agent_main("usage", routes, nitems(routes), NULL);
}

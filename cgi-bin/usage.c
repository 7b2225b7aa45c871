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
	struct buf	 b = { 0 };
	const char	*v;
	double		 budget, spent;
	int		 i;

	if (r->nquery > 0) {
		valid_fail_field(r, r->query[0].key, "unknown parameter");
		return;
	}
	for (i = 0; i < STMT__MAX; i++)
		qs[i] = (struct db_query){ stmts[i], 0, NULL };
	if (db_run(r, qs, 3, res) == -1)
		return;
	v = db_value(res[0], 0, 2);
	budget = v != NULL ? strtod(v, NULL) : agent_cfg.ai_monthly_budget_usd;
	spent = strtod(PQgetvalue(res[1], 0, 5), NULL);
	buf_puts(&b, "{\"success\":true,\"data\":{\"periodStart\":");
	shape_time(&b, PQgetvalue(res[1], 0, 0));
	buf_puts(&b, ",\"periodEnd\":");
	shape_time(&b, PQgetvalue(res[1], 0, 1));
	buf_printf(&b, ",\"budgetUsd\":%.2f,\"spentUsd\":%s,\"remainingUsd\":%.6f,"
	    "\"requests\":%s,\"promptTokens\":%s,\"completionTokens\":%s,"
	    "\"tokensUsed\":%lld,\"breakdown\":[", budget,
	    PQgetvalue(res[1], 0, 5), budget > spent ? budget - spent : 0.0,
	    PQgetvalue(res[1], 0, 2), PQgetvalue(res[1], 0, 3),
	    PQgetvalue(res[1], 0, 4), strtoll(PQgetvalue(res[1], 0, 3), NULL, 10) +
	    strtoll(PQgetvalue(res[1], 0, 4), NULL, 10));
	for (i = 0; i < PQntuples(res[2]); i++) {
		buf_puts(&b, i ? ",{\"kind\":" : "{\"kind\":");
		buf_json_string(&b, PQgetvalue(res[2], i, 0),
		    (size_t)PQgetlength(res[2], i, 0));
		buf_puts(&b, ",\"provider\":");
		buf_json_string(&b, PQgetvalue(res[2], i, 1),
		    (size_t)PQgetlength(res[2], i, 1));
		buf_puts(&b, ",\"model\":");
		buf_json_string(&b, PQgetvalue(res[2], i, 2),
		    (size_t)PQgetlength(res[2], i, 2));
		buf_printf(&b, ",\"requests\":%s,\"promptTokens\":%s,"
		    "\"completionTokens\":%s,\"cost\":%s}", PQgetvalue(res[2], i, 3),
		    PQgetvalue(res[2], i, 4), PQgetvalue(res[2], i, 5),
		    PQgetvalue(res[2], i, 6));
	}
	buf_puts(&b, "]}}");
	http_json(r, 200, b.data, b.len);
	buf_free(&b);
	db_clear(res, 3);
}

static const struct route routes[] = {
	{ "/api/usage", METHOD_GET, usage, 0, RL_DEFAULT },
};

int
main(void)
{
	return agent_main("usage", routes, nitems(routes), NULL);
}

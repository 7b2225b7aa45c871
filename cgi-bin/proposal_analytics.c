/* proposal_analytics.c: GET /api/analytics/proposals: the caller's proposals over a date range: statuses, reply and win rates, time to submit, AI cost, per template. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/*
 * The caller's proposals created on the range's days, each with how far
 * it got: the position of the furthest state it ever reached (its
 * status or any state in its history) in PROGRESS, NULL when it never
 * left draft or incomplete; and when it first became submitted.  The
 * history lets a declined or withdrawn proposal count for the states it
 * passed through.
 */
#define PROGRESS_FIRST	PS_READY	/* PROGRESS: ready .. hired, in order */
#define PROGRESS_LAST	PS_HIRED
#define IN_RANGE \
	"WITH x AS (SELECT p.id, p.status, p.template_id, j.posted_at," \
	" greatest(array_position($3::text[], p.status)," \
	" (SELECT max(array_position($3::text[], h.to_status))" \
	" FROM proposal_history h WHERE h.tenant_id = p.tenant_id" \
	" AND h.proposal_id = p.id)) AS furthest," \
	" (SELECT min(h.changed_at) FROM proposal_history h" \
	" WHERE h.tenant_id = p.tenant_id AND h.proposal_id = p.id" \
	" AND h.to_status = 'submitted') AS submitted_at" \
	" FROM proposals p LEFT JOIN jobs j" \
	" ON j.tenant_id = p.tenant_id AND j.id = p.job_id" \
	" WHERE p.user_id = app_user() AND p.created_at >= $1::timestamptz" \
	" AND p.created_at < $2::timestamptz) "

enum stmt {
	STMT_GROUPS,
	STMT_MEDIAN,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	/* template, its name, status, proposals, submitted, replied, usage */
	[STMT_GROUPS] = IN_RANGE "SELECT x.template_id, t.name, x.status,"
	    " count(*), count(*) FILTER (WHERE x.furthest >= $4::int),"
	    " count(*) FILTER (WHERE x.furthest >= $5::int),"
	    " coalesce(sum(u.prompt_tokens), 0), coalesce(sum(u.completion_tokens), 0),"
	    " coalesce(sum(u.cost), 0)"
	    " FROM x LEFT JOIN proposal_templates t"
	    " ON t.tenant_id = app_tenant() AND t.id = x.template_id"
	    " LEFT JOIN LATERAL (SELECT sum(a.prompt_tokens) AS prompt_tokens,"
	    " sum(a.completion_tokens) AS completion_tokens, sum(a.cost) AS cost"
	    " FROM ai_usage a WHERE a.tenant_id = app_tenant()"
	    " AND a.proposal_id = x.id AND a.kind = 'proposal_generation') u ON true"
	    " GROUP BY 1, 2, 3",
	[STMT_MEDIAN] = IN_RANGE "SELECT count(*), coalesce(percentile_cont(0.5)"
	    " WITHIN GROUP (ORDER BY extract(epoch FROM x.submitted_at - x.posted_at)), 0)"
	    " FROM x WHERE x.submitted_at IS NOT NULL AND x.posted_at IS NOT NULL",
};

/* The counts of one group of proposals: all of them, or one template's. */
struct tally {
	const char	*template_id;	/* NULL: generated without a template */
	const char	*name;
	long long	 proposals, submitted, replied, hired;
	long long	 prompt_tokens, completion_tokens;
	double		 cost;
};

static void
tally_add(struct tally *t, const PGresult *res, int i)
{
	long long	n = strtoll(PQgetvalue(res, i, 3), NULL, 10);

	t->proposals += n;
	t->submitted += strtoll(PQgetvalue(res, i, 4), NULL, 10);
	t->replied += strtoll(PQgetvalue(res, i, 5), NULL, 10);
	if (strcmp(PQgetvalue(res, i, 2), proposal_status_names[PS_HIRED]) == 0)
		t->hired += n;
	t->prompt_tokens += strtoll(PQgetvalue(res, i, 6), NULL, 10);
	t->completion_tokens += strtoll(PQgetvalue(res, i, 7), NULL, 10);
	t->cost += strtod(PQgetvalue(res, i, 8), NULL);
}

static double
ratio(long long a, long long b)
{
	return b > 0 ? (double)a / (double)b : 0.0;
}

/* Most proposals first, then by id; the proposals without a template last. */
static int
cmp_tally(const void *a, const void *b)
{
	const struct tally	*x = a, *y = b;

	if ((x->template_id == NULL) != (y->template_id == NULL))
		return x->template_id == NULL ? 1 : -1;
	if (x->proposals != y->proposals)
		return x->proposals > y->proposals ? -1 : 1;
	return x->template_id != NULL ? strcmp(x->template_id, y->template_id) : 0;
}

static void
put_rates(struct jw *w, const struct tally *t)
{
	jw_int(w, "proposals", t->proposals);
	jw_int(w, "submitted", t->submitted);
	jw_int(w, "replied", t->replied);
	jw_int(w, "hired", t->hired);
	jw_fixed(w, "replyRate", ratio(t->replied, t->submitted), 4);
	jw_fixed(w, "winRate", ratio(t->hired, t->submitted), 4);
}

static void
put_proposals(struct jw *w, struct req *r, const PGresult *groups,
    const PGresult *median)
{
	struct tally	 all = { 0 }, *tpl;
	long long	 by_status[PS__MAX] = { 0 }, tokens;
	enum proposal_status st;
	size_t		 ntpl = 0, k;
	int		 i;

	tpl = arena_alloc(&r->arena, ((size_t)PQntuples(groups) + 1) * sizeof(*tpl));
	for (i = 0; i < PQntuples(groups); i++) {
		tally_add(&all, groups, i);
		if (lifecycle_parse(PQgetvalue(groups, i, 2), &st) == 0)
			by_status[st] += strtoll(PQgetvalue(groups, i, 3), NULL, 10);
		for (k = 0; k < ntpl; k++)
			if ((tpl[k].template_id == NULL) == (db_value(groups, i, 0) == NULL) &&
			    (tpl[k].template_id == NULL ||
			    strcmp(tpl[k].template_id, PQgetvalue(groups, i, 0)) == 0))
				break;
		if (k == ntpl) {
			memset(&tpl[ntpl], 0, sizeof(tpl[ntpl]));
			tpl[ntpl].template_id = db_value(groups, i, 0);
			tpl[ntpl].name = db_value(groups, i, 1);
			ntpl++;
		}
		tally_add(&tpl[k], groups, i);
	}
	qsort(tpl, ntpl, sizeof(*tpl), cmp_tally);

	jw_object(w, "byStatus");
	for (i = 0; i < PS__MAX; i++)
		jw_int(w, proposal_status_names[i], by_status[i]);
	jw_end(w);
	put_rates(w, &all);
	jw_object(w, "timeToSubmit");
	jw_raw(w, "proposals", PQgetvalue(median, 0, 0));
	jw_fixed(w, "medianSeconds", strtod(PQgetvalue(median, 0, 1), NULL), 0);
	jw_fixed(w, "medianHours", strtod(PQgetvalue(median, 0, 1), NULL) / 3600,
	    2);
	jw_end(w);
	tokens = all.prompt_tokens + all.completion_tokens;
	jw_object(w, "ai");
	jw_int(w, "promptTokens", all.prompt_tokens);
	jw_int(w, "completionTokens", all.completion_tokens);
	jw_int(w, "tokens", tokens);
	jw_fixed(w, "cost", all.cost, 6);
	jw_fixed(w, "tokensPerProposal", ratio(tokens, all.proposals), 2);
	jw_fixed(w, "costPerProposal", all.proposals > 0 ?
	    all.cost / (double)all.proposals : 0.0, 6);
	jw_end(w);
	jw_array(w, "templates");
	for (k = 0; k < ntpl; k++) {
		jw_object(w, NULL);
		jw_string(w, "templateId", tpl[k].template_id);
		jw_string(w, "name", tpl[k].name);
		put_rates(w, &tpl[k]);
		jw_int(w, "tokens", tpl[k].prompt_tokens + tpl[k].completion_tokens);
		jw_fixed(w, "cost", tpl[k].cost, 6);
		jw_end(w);
	}
	jw_end(w);
}

/*
 * The caller's proposals created on the range's days.  Cached with the
 * user's own objects (the user namespace), which every write to the
 * user's proposals invalidates: generation, PATCH, submit.
 */
static void
proposals_analytics(struct req *r)
{
	struct analytics_range q;
	const char	*params[5];
	struct db_query	 qs[STMT__MAX];
	PGresult	*res[STMT__MAX];
	struct buf	 key = { 0 }, progress = { 0 };
	struct reply	 rp;
	int		 s;

	if (analytics_range(r, &q) == -1)
		return;
	buf_printf(&key, "analytics/proposals|from=%lld|to=%lld", q.from, q.to);
	if (reply_cached(&rp, r, CACHE_USER, key.data, 0))
		goto out;
	buf_putc(&progress, '{');
	for (s = PROGRESS_FIRST; s <= PROGRESS_LAST; s++)
		buf_printf(&progress, "%s%s", s > PROGRESS_FIRST ? "," : "",
		    proposal_status_names[s]);
	buf_putc(&progress, '}');
	params[0] = q.lo;
	params[1] = q.hi;
	params[2] = progress.data;
	params[3] = arena_printf(&r->arena, "%d", PS_SUBMITTED - PROGRESS_FIRST + 1);
	params[4] = arena_printf(&r->arena, "%d", PS_INTERVIEWING - PROGRESS_FIRST + 1);
	qs[STMT_GROUPS] = (struct db_query){ stmts[STMT_GROUPS], 5, params };
	qs[STMT_MEDIAN] = (struct db_query){ stmts[STMT_MEDIAN], 3, params };
	if (db_run(r, qs, STMT__MAX, res) == -1)
		goto out;
	analytics_open(&rp.w, &q);
	put_proposals(&rp.w, r, res[STMT_GROUPS], res[STMT_MEDIAN]);
	reply_send(&rp, 200);
	db_clear(res, STMT__MAX);
out:
	reply_free(&rp);
	buf_free(&key);
	buf_free(&progress);
}

static const struct route routes[] = {
	{ "/api/analytics/proposals", METHOD_GET, proposals_analytics, 0,
	    RL_DEFAULT,
	    &analytics_query },
};

int
main(void)
{
	return agent_main("proposal-analytics", routes, nitems(routes), NULL);
}

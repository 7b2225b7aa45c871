/* analytics.c: GET /api/analytics/jobs (the tenant's jobs over a date range: per day, top skills, budgets, client scores, the share matching the caller's threshold) and GET /api/analytics/proposals (the caller's proposals: statuses, reply and win rates, time to submit, AI cost, per template). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

#define RANGE_DAYS_MAX	366
#define RANGE_DAYS_DEFAULT 30
#define TOP_SKILLS	"10"

struct range_q {
	long long	from;		/* days since the epoch, inclusive */
	long long	to;
};
enum { RQ_FROM, RQ_TO };

/* 2000-01-01 to 2099-12-31. */
static const struct field range_fields[] = {
	[RQ_FROM] = { "from", FT_DATE, 0, 10957, 47481, 0, NULL,
	    offsetof(struct range_q, from), NULL },
	[RQ_TO] = { "to", FT_DATE, 0, 10957, 47481, 0, NULL,
	    offsetof(struct range_q, to), NULL },
};

/*
 * Budget buckets, in USD, by the job's top budget (its maximum, else its
 * minimum); a job with no budget or another currency is "unknown".
 * width_bucket() gives 0 below the first edge, i past edge i.
 */
#define NBUCKETS	6
static const int hourly_edges[NBUCKETS - 1] = { 15, 30, 50, 75, 100 };
static const int fixed_edges[NBUCKETS - 1] = { 100, 500, 1000, 2500, 5000 };
#define RANGE		" FROM jobs j WHERE j.posted_at >= $1::timestamptz" \
			" AND j.posted_at < $2::timestamptz"
#define TOP		"coalesce(nullif(j.budget_max, 0), j.budget_min)"

enum stmt {
	STMT_PROFILE,
	STMT_PER_DAY,
	STMT_BUDGET,
	STMT_SKILLS,
	STMT_MATCH,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_PER_DAY] = "SELECT j.posted_at::date, count(*)" RANGE " GROUP BY 1",
	/* budget_type, bucket (-1: unknown), jobs, sum of client scores */
	[STMT_BUDGET] = "SELECT j.budget_type, CASE WHEN j.currency <> 'USD'"
	    " OR coalesce(" TOP ", 0) <= 0 THEN -1"
	    " WHEN j.budget_type = 'hourly' THEN width_bucket(" TOP ", $3::numeric[])"
	    " ELSE width_bucket(" TOP ", $4::numeric[])"
	    " END, count(*), sum(j.client_score)" RANGE " GROUP BY 1, 2",
	/* Upwork never lists a skill twice in one job; if it did, it counts twice. */
	[STMT_SKILLS] = "SELECT s, count(*) FROM jobs j, unnest(j.skills) s"
	    " WHERE j.posted_at >= $1::timestamptz AND j.posted_at < $2::timestamptz"
	    " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT " TOP_SKILLS,
	[STMT_MATCH] = "SELECT " JOB_SCORE_COLUMNS RANGE
	    " ORDER BY j.posted_at DESC, j.id DESC LIMIT $3::int",
};

struct counts {
	long long	 days;
	long long	*per_day;
	long long	 jobs;
	long long	 score_sum;
	long long	 hourly[NBUCKETS], fixed[NBUCKETS];
	long long	 hourly_unknown, fixed_unknown;
};

static void
read_counts(const PGresult *day, const PGresult *budget, long long from,
    struct counts *c)
{
	long long	d, n;
	int		i, bucket, hourly;

	for (i = 0; i < PQntuples(day); i++)
		if (parse_date(PQgetvalue(day, i, 0), &d) == 0 &&
		    d >= from && d < from + c->days)
			c->per_day[d - from] = strtoll(PQgetvalue(day, i, 1), NULL, 10);
	for (i = 0; i < PQntuples(budget); i++) {
		hourly = strcmp(PQgetvalue(budget, i, 0), "hourly") == 0;
		bucket = atoi(PQgetvalue(budget, i, 1));
		n = strtoll(PQgetvalue(budget, i, 2), NULL, 10);
		c->jobs += n;
		c->score_sum += strtoll(PQgetvalue(budget, i, 3), NULL, 10);
		if (bucket < 0 || bucket >= NBUCKETS)
			*(hourly ? &c->hourly_unknown : &c->fixed_unknown) += n;
		else
			(hourly ? c->hourly : c->fixed)[bucket] += n;
	}
}

/* Bucket edges as an array parameter: "{15,30,50,75,100}". */
static const char *
edges_param(struct req *r, const int *edges)
{
	return arena_printf(&r->arena, "{%d,%d,%d,%d,%d}", edges[0], edges[1],
	    edges[2], edges[3], edges[4]);
}

static void
put_buckets(struct jw *w, const char *key, const int *edges,
    const long long *n, long long unknown)
{
	int	i;

	jw_object(w, key);
	jw_array(w, "buckets");
	for (i = 0; i < NBUCKETS; i++) {
		jw_object(w, NULL);
		jw_int(w, "min", i == 0 ? 0 : edges[i - 1]);
		if (i == NBUCKETS - 1)
			jw_null(w, "max");
		else
			jw_int(w, "max", edges[i]);
		jw_int(w, "count", n[i]);
		jw_end(w);
	}
	jw_end(w);
	jw_int(w, "unknown", unknown);
	jw_end(w);
}

/*
 * The share of the range's jobs (the newest match_max_jobs of them)
 * whose score reaches the caller's threshold, each scored as it was
 * when posted: what the poller compares with a minimum match.
 */
static void
put_match(struct jw *w, struct req *r, const PGresult *prof,
    const PGresult *jobs, long long total)
{
	struct job_scores	 s;
	size_t			 i;
	int			 threshold, matching = 0;

	job_score_rows(&r->arena, prof, jobs, (size_t)agent_cfg.match_max_jobs,
	    JOB_AS_POSTED, MATCH_WINDOW_DAYS * 86400LL * 1000000, &s);
	threshold = s.profile.threshold >= 0 ? s.profile.threshold :
	    MATCH_THRESHOLD_DEFAULT;
	for (i = 0; i < s.n; i++)
		matching += s.jobs[i].m.score >= threshold;
	jw_object(w, "match");
	jw_int(w, "threshold", threshold);
	jw_string(w, "thresholdFrom", s.profile.threshold >= 0 ? "profile" :
	    "default");
	jw_int(w, "scored", (long long)s.n);
	jw_int(w, "matching", matching);
	jw_fixed(w, "share", s.n > 0 ? (double)matching / (double)s.n : 0.0, 4);
	jw_bool(w, "truncated", total > (long long)s.n);
	jw_end(w);
}

/*
 * The range of the query string, the same for every analytics route:
 * to defaults to today (UTC), from to 29 days before to; at most
 * RANGE_DAYS_MAX days.  Its bounds as timestamps go to lo and hi (the
 * start of from, the start of the day after to).  0, or -1 after the 400.
 */
static int
range_read(struct req *r, struct range_q *q, const char **lo, const char **hi)
{
	uint64_t	set;
	char		day[16];

	if (valid_query(r, range_fields, nitems(range_fields), q, &set) == -1)
		return -1;
	if (!FIELD_SET(set, RQ_TO))
		q->to = (long long)time(NULL) / 86400;
	if (!FIELD_SET(set, RQ_FROM))
		q->from = q->to - (RANGE_DAYS_DEFAULT - 1);
	if (q->from > q->to) {
		valid_fail_field(r, "from", "must not be after to");
		return -1;
	}
	if (q->to - q->from + 1 > RANGE_DAYS_MAX) {
		valid_fail_field(r, "from", "the range may span at most %d days",
		    RANGE_DAYS_MAX);
		return -1;
	}
	format_date(day, sizeof(day), q->from);
	*lo = arena_printf(&r->arena, "%sT00:00:00Z", day);
	format_date(day, sizeof(day), q->to + 1);
	*hi = arena_printf(&r->arena, "%sT00:00:00Z", day);
	return 0;
}

/* The data object, opened with the range: "from", "to", "days". */
static void
range_json(struct jw *w, const struct range_q *q)
{
	char	day[16];

	jw_object(w, NULL);
	format_date(day, sizeof(day), q->from);
	jw_string(w, "from", day);
	format_date(day, sizeof(day), q->to);
	jw_string(w, "to", day);
	jw_int(w, "days", q->to - q->from + 1);
}

static void
jobs_analytics(struct req *r)
{
	struct range_q	 q;
	struct counts	 c = { 0 };
	const char	*user[1] = { r->auth.user_id }, *range[4], *cap[3];
	struct db_query	 qs[STMT__MAX];
	PGresult	*res[STMT__MAX];
	struct buf	 key = { 0 };
	struct reply	 rp;
	char		 day[16];
	long long	 i;

	if (range_read(r, &q, &range[0], &range[1]) == -1)
		return;
	/* The match share depends on the caller's profile: see jobs.c. */
	buf_printf(&key, "analytics/jobs|user=%s|from=%lld|to=%lld",
	    r->auth.user_id, q.from, q.to);
	if (reply_cached(&rp, r, CACHE_JOBS, key.data, CACHE_NO_L1))
		goto out;
	cap[0] = range[0];
	cap[1] = range[1];
	range[2] = edges_param(r, hourly_edges);
	range[3] = edges_param(r, fixed_edges);
	cap[2] = arena_printf(&r->arena, "%d", agent_cfg.match_max_jobs);
	qs[STMT_PROFILE] = (struct db_query){ JOB_PROFILE_SQL, 1, user };
	qs[STMT_PER_DAY] = (struct db_query){ stmts[STMT_PER_DAY], 2, range };
	qs[STMT_BUDGET] = (struct db_query){ stmts[STMT_BUDGET], 4, range };
	qs[STMT_SKILLS] = (struct db_query){ stmts[STMT_SKILLS], 2, range };
	qs[STMT_MATCH] = (struct db_query){ stmts[STMT_MATCH], 3, cap };
	if (db_run(r, qs, STMT__MAX, res) == -1)
		goto out;

	c.days = q.to - q.from + 1;
	c.per_day = arena_alloc(&r->arena, (size_t)c.days * sizeof(long long));
	memset(c.per_day, 0, (size_t)c.days * sizeof(long long));
	read_counts(res[STMT_PER_DAY], res[STMT_BUDGET], q.from, &c);
	range_json(&rp.w, &q);
	jw_int(&rp.w, "jobs", c.jobs);
	jw_array(&rp.w, "perDay");
	for (i = 0; i < c.days; i++) {
		format_date(day, sizeof(day), q.from + i);
		jw_object(&rp.w, NULL);
		jw_string(&rp.w, "date", day);
		jw_int(&rp.w, "count", c.per_day[i]);
		jw_end(&rp.w);
	}
	jw_end(&rp.w);
	jw_array(&rp.w, "topSkills");
	for (i = 0; i < PQntuples(res[STMT_SKILLS]); i++) {
		jw_object(&rp.w, NULL);
		jw_stringn(&rp.w, "skill", PQgetvalue(res[STMT_SKILLS], (int)i, 0),
		    (size_t)PQgetlength(res[STMT_SKILLS], (int)i, 0));
		jw_raw(&rp.w, "count", PQgetvalue(res[STMT_SKILLS], (int)i, 1));
		jw_end(&rp.w);
	}
	jw_end(&rp.w);
	jw_object(&rp.w, "budget");
	put_buckets(&rp.w, "hourly", hourly_edges, c.hourly, c.hourly_unknown);
	put_buckets(&rp.w, "fixed", fixed_edges, c.fixed, c.fixed_unknown);
	jw_end(&rp.w);
	jw_object(&rp.w, "clientScore");
	jw_fixed(&rp.w, "average", c.jobs > 0 ? (double)c.score_sum /
	    (double)c.jobs : 0.0, 2);
	jw_end(&rp.w);
	put_match(&rp.w, r, res[STMT_PROFILE], res[STMT_MATCH], c.jobs);
	reply_send(&rp, 200);
	db_clear(res, STMT__MAX);
out:
	reply_free(&rp);
	buf_free(&key);
}

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

enum pstmt {
	PSTMT_GROUPS,
	PSTMT_MEDIAN,
	PSTMT__MAX
};

static const char *const pstmts[PSTMT__MAX] = {
	/* template, its name, status, proposals, submitted, replied, usage */
	[PSTMT_GROUPS] = IN_RANGE "SELECT x.template_id, t.name, x.status,"
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
	[PSTMT_MEDIAN] = IN_RANGE "SELECT count(*), coalesce(percentile_cont(0.5)"
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
	struct range_q	 q;
	const char	*params[5];
	struct db_query	 qs[PSTMT__MAX];
	PGresult	*res[PSTMT__MAX];
	struct buf	 key = { 0 }, progress = { 0 };
	struct reply	 rp;
	int		 s;

	if (range_read(r, &q, &params[0], &params[1]) == -1)
		return;
	buf_printf(&key, "analytics/proposals|from=%lld|to=%lld", q.from, q.to);
	if (reply_cached(&rp, r, CACHE_USER, key.data, 0))
		goto out;
	buf_putc(&progress, '{');
	for (s = PROGRESS_FIRST; s <= PROGRESS_LAST; s++)
		buf_printf(&progress, "%s%s", s > PROGRESS_FIRST ? "," : "",
		    proposal_status_names[s]);
	buf_putc(&progress, '}');
	params[2] = progress.data;
	params[3] = arena_printf(&r->arena, "%d", PS_SUBMITTED - PROGRESS_FIRST + 1);
	params[4] = arena_printf(&r->arena, "%d", PS_INTERVIEWING - PROGRESS_FIRST + 1);
	qs[PSTMT_GROUPS] = (struct db_query){ pstmts[PSTMT_GROUPS], 5, params };
	qs[PSTMT_MEDIAN] = (struct db_query){ pstmts[PSTMT_MEDIAN], 3, params };
	if (db_run(r, qs, PSTMT__MAX, res) == -1)
		goto out;
	range_json(&rp.w, &q);
	put_proposals(&rp.w, r, res[PSTMT_GROUPS], res[PSTMT_MEDIAN]);
	reply_send(&rp, 200);
	db_clear(res, PSTMT__MAX);
out:
	reply_free(&rp);
	buf_free(&key);
	buf_free(&progress);
}

static const struct route routes[] = {
	{ "/api/analytics/jobs", METHOD_GET, jobs_analytics, 0, RL_DEFAULT },
	{ "/api/analytics/proposals", METHOD_GET, proposals_analytics, 0,
	    RL_DEFAULT },
};

int
main(void)
{
	return agent_main("analytics", routes, nitems(routes), NULL);
}

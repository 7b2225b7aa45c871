/* job_analytics.c: GET /api/analytics/jobs: the tenant's jobs over a date range: per day, top skills, budgets, client scores, and the share that reaches the caller's match threshold. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define TOP_SKILLS	"10"

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
	[STMT_PROFILE] = JOB_PROFILE_SQL,
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

static void
jobs_analytics(struct req *r)
{
	struct analytics_range q;
	struct counts	 c = { 0 };
	const char	*user[1] = { r->auth.user_id }, *range[4], *cap[3];
	struct db_query	 qs[STMT__MAX];
	PGresult	*res[STMT__MAX];
	struct buf	 key = { 0 };
	struct reply	 rp;
	char		 day[16];
	long long	 i;

	if (analytics_range(r, &q) == -1)
		return;
	/* The match share depends on the caller's profile: see jobs.c. */
	buf_printf(&key, "analytics/jobs|user=%s|from=%lld|to=%lld",
	    r->auth.user_id, q.from, q.to);
	if (reply_cached(&rp, r, CACHE_JOBS, key.data, CACHE_NO_L1))
		goto out;
	range[0] = cap[0] = q.lo;
	range[1] = cap[1] = q.hi;
	range[2] = edges_param(r, hourly_edges);
	range[3] = edges_param(r, fixed_edges);
	cap[2] = arena_printf(&r->arena, "%d", agent_cfg.match_max_jobs);
	qs[STMT_PROFILE] = (struct db_query){ stmts[STMT_PROFILE], 1, user };
	qs[STMT_PER_DAY] = (struct db_query){ stmts[STMT_PER_DAY], 2, range };
	qs[STMT_BUDGET] = (struct db_query){ stmts[STMT_BUDGET], 4, range };
	qs[STMT_SKILLS] = (struct db_query){ stmts[STMT_SKILLS], 2, range };
	qs[STMT_MATCH] = (struct db_query){ stmts[STMT_MATCH], 3, cap };
	if (db_run(r, qs, STMT__MAX, res) == -1)
		goto out;

	c.days = q.days;
	c.per_day = arena_alloc(&r->arena, (size_t)c.days * sizeof(long long));
	memset(c.per_day, 0, (size_t)c.days * sizeof(long long));
	read_counts(res[STMT_PER_DAY], res[STMT_BUDGET], q.from, &c);
	analytics_open(&rp.w, &q);
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

static const struct route routes[] = {
	{ "/api/analytics/jobs", METHOD_GET, jobs_analytics, 0, RL_DEFAULT,
	    &analytics_query },
};

int
main(void)
{
	return agent_main("job-analytics", routes, nitems(routes), NULL);
}

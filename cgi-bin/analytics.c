/* analytics.c: GET /api/analytics/jobs: the tenant's jobs over a date range: per day, top skills, budgets, client scores, and the share matching the caller's threshold. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

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
	[STMT_MATCH] = "SELECT " RANK_COLUMNS RANGE
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
put_buckets(struct buf *b, const int *edges, const long long *n,
    long long unknown)
{
	int	i;

	buf_puts(b, "{\"buckets\":[");
	for (i = 0; i < NBUCKETS; i++) {
		buf_printf(b, "%s{\"min\":%d,\"max\":", i ? "," : "",
		    i == 0 ? 0 : edges[i - 1]);
		if (i == NBUCKETS - 1)
			buf_puts(b, "null");
		else
			buf_printf(b, "%d", edges[i]);
		buf_printf(b, ",\"count\":%lld}", n[i]);
	}
	buf_printf(b, "],\"unknown\":%lld}", unknown);
}

/*
 * The share of the range's jobs (the newest match_max_jobs of them)
 * whose score reaches the caller's threshold, each scored as it was
 * when posted: what the poller compares with a minimum match.
 */
static void
put_match(struct buf *b, struct req *r, const PGresult *prof,
    const PGresult *jobs, long long total)
{
	struct rank_profile	 p;
	struct rank_job		 j;
	int			 i, threshold, n = PQntuples(jobs), matching = 0;

	rank_profile_load(&r->arena, prof, &p);
	threshold = p.threshold >= 0 ? p.threshold : MATCH_THRESHOLD_DEFAULT;
	if (n > cfg.match_max_jobs)
		n = cfg.match_max_jobs;
	for (i = 0; i < n; i++) {
		rank_job_read(&r->arena, jobs, i, &j);
		match_score(&p.m, &j.job, j.job.posted_us,
		    MATCH_WINDOW_DAYS * 86400LL * 1000000, &j.m);
		matching += j.m.score >= threshold;
	}
	buf_printf(b, "\"match\":{\"threshold\":%d,\"thresholdFrom\":\"%s\","
	    "\"scored\":%d,\"matching\":%d,\"share\":%.4f,\"truncated\":%s}",
	    threshold, p.threshold >= 0 ? "profile" : "default", n, matching,
	    n > 0 ? (double)matching / n : 0.0, total > n ? "true" : "false");
}

static void
jobs_analytics(struct req *r)
{
	struct range_q	 q;
	struct counts	 c = { 0 };
	uint64_t	 set;
	const char	*user[1] = { r->auth.user_id }, *range[4], *cap[3];
	struct db_query	 qs[STMT__MAX];
	PGresult	*res[STMT__MAX];
	struct buf	 b = { 0 }, key = { 0 };
	struct cache_lookup lk;
	char		 day[16];
	long long	 i;

	if (valid_query(r, range_fields, nitems(range_fields), &q, &set) == -1)
		return;
	if (!FIELD_SET(set, RQ_TO))
		q.to = (long long)time(NULL) / 86400;
	if (!FIELD_SET(set, RQ_FROM))
		q.from = q.to - (RANGE_DAYS_DEFAULT - 1);
	if (q.from > q.to) {
		valid_fail_field(r, "from", "must not be after to");
		return;
	}
	if (q.to - q.from + 1 > RANGE_DAYS_MAX) {
		valid_fail_field(r, "from", "the range may span at most %d days",
		    RANGE_DAYS_MAX);
		return;
	}
	/* The match share depends on the caller's profile: see jobs.c. */
	buf_printf(&key, "analytics/jobs|user=%s|from=%lld|to=%lld",
	    r->auth.user_id, q.from, q.to);
	if (cache_get_ex(r, CACHE_JOBS, r->auth.tenant_id, key.data, CACHE_NO_L1,
	    &b, &lk) > CACHE_MISS) {
		http_json(r, 200, b.data, b.len);
		goto out;
	}
	format_date(day, sizeof(day), q.from);
	range[0] = cap[0] = arena_printf(&r->arena, "%sT00:00:00Z", day);
	format_date(day, sizeof(day), q.to + 1);
	range[1] = cap[1] = arena_printf(&r->arena, "%sT00:00:00Z", day);
	range[2] = edges_param(r, hourly_edges);
	range[3] = edges_param(r, fixed_edges);
	cap[2] = arena_printf(&r->arena, "%d", cfg.match_max_jobs);
	qs[STMT_PROFILE] = (struct db_query){ RANK_PROFILE_SQL, 1, user };
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
	format_date(day, sizeof(day), q.from);
	buf_printf(&b, "{\"success\":true,\"data\":{\"from\":\"%s\",", day);
	format_date(day, sizeof(day), q.to);
	buf_printf(&b, "\"to\":\"%s\",\"days\":%lld,\"jobs\":%lld,\"perDay\":[",
	    day, c.days, c.jobs);
	for (i = 0; i < c.days; i++) {
		format_date(day, sizeof(day), q.from + i);
		buf_printf(&b, "%s{\"date\":\"%s\",\"count\":%lld}", i ? "," : "",
		    day, c.per_day[i]);
	}
	buf_puts(&b, "],\"topSkills\":[");
	for (i = 0; i < PQntuples(res[STMT_SKILLS]); i++) {
		buf_puts(&b, i ? ",{\"skill\":" : "{\"skill\":");
		buf_json_string(&b, PQgetvalue(res[STMT_SKILLS], (int)i, 0),
		    (size_t)PQgetlength(res[STMT_SKILLS], (int)i, 0));
		buf_printf(&b, ",\"count\":%s}", PQgetvalue(res[STMT_SKILLS], (int)i, 1));
	}
	buf_puts(&b, "],\"budget\":{\"hourly\":");
	put_buckets(&b, hourly_edges, c.hourly, c.hourly_unknown);
	buf_puts(&b, ",\"fixed\":");
	put_buckets(&b, fixed_edges, c.fixed, c.fixed_unknown);
	buf_printf(&b, "},\"clientScore\":{\"average\":%.2f},",
	    c.jobs > 0 ? (double)c.score_sum / (double)c.jobs : 0.0);
	put_match(&b, r, res[STMT_PROFILE], res[STMT_MATCH], c.jobs);
	buf_puts(&b, "}}");
	cache_put(r, &lk, b.data, b.len);
	http_json(r, 200, b.data, b.len);
	db_clear(res, STMT__MAX);
out:
	buf_free(&key);
	buf_free(&b);
}

static const struct route routes[] = {
	{ "/api/analytics/jobs", METHOD_GET, jobs_analytics, 0, RL_DEFAULT },
};

int
main(void)
{
	struct app	app;
	FCGX_Request	fcgi;

	if (app_init(&app, "analytics", &fcgi) == -1)
		return 1;
	while (app_accept(&app, &fcgi) >= 0) {
		http_dispatch(&app, &fcgi, routes, nitems(routes));
		FCGX_Finish_r(&fcgi);
	}
	return app_free(&app, &fcgi);
}

/* jobs.c: GET /api/jobs lists the tenant's jobs with the seed's filters, newest first or ranked by match; POST /api/jobs saves a job search. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

/* GET /api/jobs query string. */
struct list_q {
	struct strlist	 skills;
	long long	 min_budget;
	long long	 max_budget;
	char		*location;
	long long	 client_score;
	char		*q;
	long long	 page;
	long long	 limit;
	int		 sort;
	long long	 window;
	long long	 as_of;
	long long	 min_match;
};
enum { LQ_SKILLS, LQ_MINBUDGET, LQ_MAXBUDGET, LQ_LOCATION, LQ_CLIENTSCORE, LQ_Q,
    LQ_PAGE, LQ_LIMIT, LQ_SORT, LQ_WINDOW, LQ_ASOF, LQ_MINMATCH };
#define LQ_MATCH_ONLY	((1ULL << LQ_WINDOW) | (1ULL << LQ_ASOF) | (1ULL << LQ_MINMATCH))
enum { SORT_NEWEST, SORT_MATCH };
static const char *const sorts[] = { "newest", "match", NULL };
#define ASOF_SKEW_US	(5 * 60 * 1000000LL)	/* how far ahead of us asOf may be */

static const struct field list_fields[] = {
	[LQ_SKILLS] = { FIELD("skills", FT_STRLIST, struct list_q, skills),
	    .flags = F_LOWER, .min = 1, .max = 20, .item_max = 50 },
	[LQ_MINBUDGET] = { FIELD("minBudget", FT_INT, struct list_q,
	    min_budget), .max = 100000000 },
	[LQ_MAXBUDGET] = { FIELD("maxBudget", FT_INT, struct list_q,
	    max_budget), .max = 100000000 },
	[LQ_LOCATION] = { FIELD("location", FT_STRING, struct list_q, location),
	    .min = 1, .max = 100 },
	[LQ_CLIENTSCORE] = { FIELD("clientScore", FT_INT, struct list_q,
	    client_score), .max = 100 },
	[LQ_Q] = { FIELD("q", FT_STRING, struct list_q, q), .min = 1,
	    .max = 200 },
	[LQ_PAGE] = { FIELD("page", FT_INT, struct list_q, page), .min = 1,
	    .max = 100000, .def = "1" },
	[LQ_LIMIT] = { FIELD("limit", FT_INT, struct list_q, limit), .min = 1,
	    .max = 100, .def = "20" },
	[LQ_SORT] = { FIELD("sort", FT_ENUM, struct list_q, sort),
	    .choices = sorts, .def = "newest" },
	[LQ_WINDOW] = { FIELD("window", FT_INT, struct list_q, window),
	    .min = 1, .max = 365, .def = "30" },
	/* 2000-01-01 to 2100-01-01; the handler refuses the future. */
	[LQ_ASOF] = { FIELD("asOf", FT_TIME, struct list_q, as_of),
	    .min = 946684800000000LL, .max = 4102444800000000LL },
	[LQ_MINMATCH] = { FIELD("minMatch", FT_INT, struct list_q, min_match),
	    .max = 100, .def = "0" },
};
static const struct field_obj list_query = {
	.fields = list_fields, .nfields = nitems(list_fields),
	.size = sizeof(struct list_q)
};

/* POST /api/jobs body: a saved search. */
struct search_b {
	char		*name;
	struct strlist	 skills;
	long long	 min_budget;
	long long	 max_budget;
	char		*location;
	long long	 client_score;
	char		*query;
	int		 notify;
	long long	 min_match;
};
enum { SB_NAME, SB_SKILLS, SB_MINBUDGET, SB_MAXBUDGET, SB_LOCATION,
    SB_CLIENTSCORE, SB_QUERY, SB_NOTIFY, SB_MINMATCH };

static const struct field search_fields[] = {
	[SB_NAME] = { FIELD("name", FT_STRING, struct search_b, name),
	    .flags = F_REQUIRED, .min = 1, .max = 100 },
	[SB_SKILLS] = { FIELD("skills", FT_STRLIST, struct search_b, skills),
	    .flags = F_LOWER, .max = 20, .item_max = 50 },
	[SB_MINBUDGET] = { FIELD("minBudget", FT_INT, struct search_b,
	    min_budget), .flags = F_NULLABLE, .max = 100000000 },
	[SB_MAXBUDGET] = { FIELD("maxBudget", FT_INT, struct search_b,
	    max_budget), .flags = F_NULLABLE, .max = 100000000 },
	[SB_LOCATION] = { FIELD("location", FT_STRING, struct search_b,
	    location), .flags = F_NULLABLE, .min = 1, .max = 100 },
	[SB_CLIENTSCORE] = { FIELD("clientScore", FT_INT, struct search_b,
	    client_score), .flags = F_NULLABLE, .max = 100 },
	[SB_QUERY] = { FIELD("query", FT_STRING, struct search_b, query),
	    .flags = F_NULLABLE, .min = 1, .max = 200 },
	[SB_NOTIFY] = { FIELD("notify", FT_BOOL, struct search_b, notify),
	    .def = "true" },
	[SB_MINMATCH] = { FIELD("minMatch", FT_INT, struct search_b, min_match),
	    .flags = F_NULLABLE, .max = 100 },
};

/*
 * The list's WHERE is assembled from the filters given, each with its
 * own placeholder: simpler statements plan faster and each filter can
 * use its index.  Only placeholder numbers go into the SQL, never a
 * value: " AND " before "$n" after.  Budgets are ranges: a job matches
 * when its range overlaps [minBudget, maxBudget].  Skills match when
 * the job has any of them, through job_skills (see the schema for why
 * not the array).
 */
static const struct {
	int		 field;		/* LQ_* */
	const char	*before;
	const char	*after;
} filters[] = {
	{ LQ_SKILLS, "j.id IN (SELECT s.job_id FROM job_skills s"
	    " WHERE s.skill = ANY(", "::text[]))" },
	{ LQ_MINBUDGET, "j.budget_max >= ", "::numeric" },
	{ LQ_MAXBUDGET, "j.budget_min <= ", "::numeric" },
	{ LQ_LOCATION, "j.location_key = lower(", "::text)" },
	{ LQ_CLIENTSCORE, "j.client_score >= ", "::int" },
	{ LQ_Q, "j.search @@ websearch_to_tsquery('english', ", "::text)" },
};
#define NFILTERS	nitems(filters)

enum stmt {
	STMT_COUNT_SKILL,
	STMT_COUNT_ALL,
	STMT_COUNT_SKILLS,
	STMT_COUNT,
	STMT_PAGE,
	STMT_PAGE_SKILL,
	STMT_ENSURE_TENANT,
	STMT_ENSURE_USER,
	STMT_INSERT_SEARCH,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	/*
	 * One skill alone, or no filter, is counted from job_counts (a few
	 * rows kept by triggers, sql/0010); several skills alone from
	 * job_skills, an index-only scan.
	 */
	[STMT_COUNT_SKILL] = "SELECT coalesce(sum(n), 0) FROM job_counts"
	    " WHERE skill = $1",
	[STMT_COUNT_ALL] = "SELECT coalesce(sum(n), 0) FROM job_counts"
	    " WHERE skill = ''",
	[STMT_COUNT_SKILLS] = "SELECT count(*) FROM (SELECT DISTINCT job_id"
	    " FROM job_skills WHERE skill = ANY($1::text[])) s",
	[STMT_COUNT] = "SELECT count(*) FROM jobs j WHERE true",
	[STMT_PAGE] = "SELECT " JOB_COLUMNS JOB_FROM " WHERE true",
	/*
	 * One skill alone: the page is a range of job_skills' index by
	 * date (sql/0011), however deep; the jobs are then fetched.
	 */
	[STMT_PAGE_SKILL] = "SELECT " JOB_COLUMNS JOB_FROM " WHERE j.id IN"
	    " (SELECT s.job_id FROM job_skills s WHERE s.skill = $1"
	    " ORDER BY s.posted_at DESC, s.job_id DESC LIMIT $2::int OFFSET $3::int)"
	    " ORDER BY j.posted_at DESC, j.id DESC",
	[STMT_ENSURE_TENANT] = "INSERT INTO tenants (kind) VALUES ($1)"
	    " ON CONFLICT (id) DO NOTHING",
	[STMT_ENSURE_USER] = "INSERT INTO users DEFAULT VALUES"
	    " ON CONFLICT (tenant_id, id) DO NOTHING",
	/* No row when notify is on and the tenant has poll_max_searches already. */
	[STMT_INSERT_SEARCH] = "INSERT INTO job_searches AS s (name, skills,"
	    " min_budget, max_budget, location, client_score, query, notify,"
	    " min_match) SELECT $1, $2::text[], $3::int, $4::int, $5, $6::int,"
	    " $7, $8::boolean, $9::smallint WHERE NOT $8::boolean OR"
	    " (SELECT count(*) FROM job_searches WHERE notify) < $10::int"
	    " RETURNING " SHAPE_SEARCH_COLUMNS,
};

/* A decimal parameter, or NULL when the field was not given. */
static const char *
opt_int(struct req *r, uint64_t set, int bit, long long v)
{
	return FIELD_SET(set, bit) ? arena_printf(&r->arena, "%lld", v) : NULL;
}

/* The parameter of a filter's field. */
static const char *
filter_value(struct req *r, int field, const struct list_q *q)
{
	switch (field) {
	case LQ_SKILLS:
		return pg_text_array(&r->arena, &q->skills);
	case LQ_MINBUDGET:
		return arena_printf(&r->arena, "%lld", q->min_budget);
	case LQ_MAXBUDGET:
		return arena_printf(&r->arena, "%lld", q->max_budget);
	case LQ_LOCATION:
		return q->location;
	case LQ_CLIENTSCORE:
		return arena_printf(&r->arena, "%lld", q->client_score);
	default:
		return q->q;
	}
}

/*
 * Append " AND <filter>" for each filter given, params[i] its value
 * for $i+1 (params has room for NFILTERS).  Returns how many.
 */
static int
where_clauses(struct buf *sql, uint64_t set, const struct list_q *q,
    struct req *r, const char **params)
{
	size_t	f;
	int	n = 0;

	for (f = 0; f < NFILTERS; f++) {
		if (!FIELD_SET(set, filters[f].field))
			continue;
		buf_printf(sql, " AND %s$%d%s", filters[f].before, n + 1,
		    filters[f].after);
		params[n++] = filter_value(r, filters[f].field, q);
	}
	return n;
}

/* Predicate: skills is the one filter given (counted and paged without reading jobs). */
static int
skills_only(uint64_t set)
{
	size_t	f;

	for (f = 0; f < NFILTERS; f++)
		if (FIELD_SET(set, filters[f].field) !=
		    (filters[f].field == LQ_SKILLS))
			return 0;
	return 1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The cache key of a list: the filters in a canonical form, so that
 * "skills=b,a" and "skills=a,b,a" share an entry.
 */
static void
list_key(struct buf *k, uint64_t set, struct list_q *q)
{
	size_t	i;

	if (FIELD_SET(set, LQ_SKILLS))
		qsort(q->skills.v, q->skills.n, sizeof(char *), cmp_str);
	buf_puts(k, "skills=");
	for (i = 0; FIELD_SET(set, LQ_SKILLS) && i < q->skills.n; i++)
		if (i == 0 || strcmp(q->skills.v[i], q->skills.v[i - 1]) != 0)
			buf_printf(k, "%s,", q->skills.v[i]);
	if (FIELD_SET(set, LQ_MINBUDGET))
		buf_printf(k, "&min=%lld", q->min_budget);
	if (FIELD_SET(set, LQ_MAXBUDGET))
		buf_printf(k, "&max=%lld", q->max_budget);
	if (FIELD_SET(set, LQ_LOCATION)) {
		buf_puts(k, "&loc=");
		for (i = 0; q->location[i] != '\0'; i++)
			buf_putc(k, (char)tolower((unsigned char)q->location[i]));
	}
	if (FIELD_SET(set, LQ_CLIENTSCORE))
		buf_printf(k, "&score=%lld", q->client_score);
	if (FIELD_SET(set, LQ_Q))
		buf_printf(k, "&q=%s", q->q);
	buf_printf(k, "&page=%lld&limit=%lld", q->page, q->limit);
}

/*
 * sort=match: the ranking depends on the caller's profile, so its cache
 * entries carry the user and skip L1 (a profile change, which bumps the
 * tenant's generation, shows at once on every worker).
 */
static void
jobs_list_match(struct req *r, uint64_t set, struct list_q *q)
{
	struct rank_query rq = { 0 };
	const char	*params[NFILTERS];
	struct buf	 where = { 0 }, key = { 0 };
	struct reply	 rp;
	long long	 now_us = (long long)time(NULL) * 1000000;

	if (!FIELD_SET(set, LQ_ASOF))
		q->as_of = now_us / 60000000 * 60000000;
	else if (q->as_of > now_us + ASOF_SKEW_US) {
		valid_fail_field(r, "asOf", "must not be in the future");
		return;
	}
	buf_printf(&key, "match|user=%s|asOf=%lld|window=%lld|min=%lld|",
	    r->auth.user_id, q->as_of, q->window, q->min_match);
	list_key(&key, set, q);
	if (reply_cached(&rp, r, CACHE_JOBS, key.data, CACHE_NO_L1))
		goto out;
	rq.nparams = where_clauses(&where, set, q, r, params);
	rq.where = where.data;
	rq.params = params;
	rq.as_of_us = q->as_of;
	rq.window_days = q->window;
	rq.min_match = (int)q->min_match;
	rq.page = q->page;
	rq.limit = q->limit;
	if (rank_list(r, &rq, &rp) == 0)
		reply_send(&rp, 200);
out:
	reply_free(&rp);
	buf_free(&key);
	buf_free(&where);
}

/*
 * Newest first (the default): each job carries the caller's match as in
 * sort=match, scored as of the current minute over the default window,
 * so the cache entries carry the user.  They keep L1: after a profile
 * change another worker may show the old match for up to cache_l1_ttl.
 */
static void
jobs_list(struct req *r)
{
	struct list_q	 q = *(const struct list_q *)r->qv;
	uint64_t	 set = r->qset;
	const char	*params[NFILTERS + 2], *user[1] = { r->auth.user_id };
	const char	*one[3];
	struct buf	 where = { 0 }, count = { 0 }, page = { 0 }, key = { 0 };
	struct reply	 rp;
	struct db_query	 qs[3];
	PGresult	*res[3];
	struct job_scores sc;
	long long	 total, as_of = (long long)time(NULL) / 60 * 60000000;
	size_t		 i;
	int		 n;

	if (FIELD_SET(set, LQ_MINBUDGET) && FIELD_SET(set, LQ_MAXBUDGET) &&
	    q.min_budget > q.max_budget) {
		valid_fail_field(r, "minBudget", "must not be greater than maxBudget");
		return;
	}
	if (q.sort == SORT_MATCH) {
		jobs_list_match(r, set, &q);
		return;
	}
	if (set & LQ_MATCH_ONLY) {
		valid_fail_field(r, FIELD_SET(set, LQ_WINDOW) ? "window" :
		    FIELD_SET(set, LQ_ASOF) ? "asOf" : "minMatch",
		    "only applies with sort=match");
		return;
	}
	/*
	 * Not keyed by the minute: an entry lives cache_jobs_ttl, and a
	 * minute moves the recency part (days over the window) by nothing.
	 */
	buf_printf(&key, "newest|user=%s|", r->auth.user_id);
	list_key(&key, set, &q);
	if (reply_cached(&rp, r, CACHE_JOBS, key.data, 0))
		goto out;
	n = where_clauses(&where, set, &q, r, params);
	buf_printf(&count, "%s%s", stmts[STMT_COUNT], where.data ? where.data : "");
	buf_printf(&page, "%s%s", stmts[STMT_PAGE], where.data ? where.data : "");
	buf_printf(&page, " ORDER BY j.posted_at DESC, j.id DESC"
	    " LIMIT $%d::int OFFSET $%d::int", n + 1, n + 2);
	params[n] = arena_printf(&r->arena, "%lld", q.limit);
	params[n + 1] = arena_printf(&r->arena, "%lld", (q.page - 1) * q.limit);

	qs[1] = (struct db_query){ page.data, n + 2, params };
	if (n == 0)
		qs[0] = (struct db_query){ stmts[STMT_COUNT_ALL], 0, NULL };
	else if (!skills_only(set))
		qs[0] = (struct db_query){ count.data, n, params };
	else if (q.skills.n == 1) {
		one[0] = q.skills.v[0];
		one[1] = params[n];
		one[2] = params[n + 1];
		qs[0] = (struct db_query){ stmts[STMT_COUNT_SKILL], 1, one };
		qs[1] = (struct db_query){ stmts[STMT_PAGE_SKILL], 3, one };
	} else
		qs[0] = (struct db_query){ stmts[STMT_COUNT_SKILLS], 1, params };
	qs[2] = (struct db_query){ JOB_PROFILE_SQL, 1, user };
	if (db_run(r, qs, 3, res) == -1)
		goto out;

	total = strtoll(PQgetvalue(res[0], 0, 0), NULL, 10);
	job_score_rows(&r->arena, res[2], res[1], (size_t)PQntuples(res[1]),
	    as_of, q.window * 86400LL * 1000000, &sc);
	reply_list(&rp);
	for (i = 0; i < sc.n; i++)
		shape_job_match(&rp.w, res[1], (int)i, &sc, &sc.jobs[i], as_of);
	reply_page(&rp, q.page, q.limit, total);
	reply_send(&rp, 200);
	db_clear(res, 3);
out:
	reply_free(&rp);
	buf_free(&key);
	buf_free(&where);
	buf_free(&count);
	buf_free(&page);
}

static void
jobs_save_search(struct req *r)
{
	struct search_b	 s = { 0 };
	uint64_t	 set;
	const char	*kind[1], *params[10];
	struct db_query	 qs[3];
	PGresult	*res[3];
	struct reply	 rp;

	if (valid_json(r, search_fields, nitems(search_fields), &s, &set) == -1)
		return;
	if (FIELD_SET(set, SB_MINBUDGET) && FIELD_SET(set, SB_MAXBUDGET) &&
	    s.min_budget > s.max_budget) {
		valid_fail_field(r, "minBudget", "must not be greater than maxBudget");
		return;
	}
	kind[0] = r->auth.personal ? "personal" : "org";
	params[0] = s.name;
	params[1] = pg_text_array(&r->arena, &s.skills);
	params[2] = opt_int(r, set, SB_MINBUDGET, s.min_budget);
	params[3] = opt_int(r, set, SB_MAXBUDGET, s.max_budget);
	params[4] = s.location;
	params[5] = opt_int(r, set, SB_CLIENTSCORE, s.client_score);
	params[6] = s.query;
	params[7] = s.notify ? "true" : "false";
	params[8] = opt_int(r, set, SB_MINMATCH, s.min_match);
	params[9] = arena_printf(&r->arena, "%d", agent_cfg.poll_max_searches);
	qs[0] = (struct db_query){ stmts[STMT_ENSURE_TENANT], 1, kind };
	qs[1] = (struct db_query){ stmts[STMT_ENSURE_USER], 0, NULL };
	qs[2] = (struct db_query){ stmts[STMT_INSERT_SEARCH], 10, params };
	if (db_run(r, qs, 3, res) == -1)
		return;
	if (PQntuples(res[2]) == 0) {
		http_error(r, ERR_CONFLICT, "the tenant has %d saved searches with "
		    "notify on already, the most the poller runs; turn one off or "
		    "save this one with notify false", agent_cfg.poll_max_searches);
		db_clear(res, 3);
		return;
	}
	cache_invalidate(&r->app->redis, CACHE_SEARCHES, r->auth.tenant_id);
	reply_open(&rp, r);
	shape_search(&rp.w, res[2], 0, 0);
	reply_send(&rp, 201);
	db_clear(res, 3);
}

static const struct route routes[] = {
	{ "/api/jobs", METHOD_GET, jobs_list, 0, RL_DEFAULT, &list_query },
	{ "/api/jobs", METHOD_POST, jobs_save_search, ROUTE_JSON, RL_DEFAULT, NULL },
};

int
main(void)
{
	return agent_main("jobs", routes, nitems(routes), NULL);
}

/* rank.c: the caller's jobs ranked by match: the window's candidates fetched lean, scored in C, sorted, and one page fetched in full. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/*
 * Why in C: a score computed in SQL for every row costs about 10 µs a
 * row (100,000 jobs: a second); reading the few columns the score needs
 * costs about 1 µs a row and scoring them here far less.  So the ranking
 * reads RANK_COLUMNS for the jobs posted in the window (newest first, at
 * most match_max_jobs of them), scores and sorts them here, and fetches
 * the full rows of the one page asked for by id: two round trips.
 */
#define RANK_SQL \
	"SELECT " RANK_COLUMNS " FROM jobs j" \
	" WHERE j.posted_at >= $%d::timestamptz AND j.posted_at <= $%d::timestamptz"
#define RANK_ORDER	" ORDER BY j.posted_at DESC, j.id DESC LIMIT $%d::int"
#define PAGE_SQL \
	"SELECT " SHAPE_JOB_COLUMNS SHAPE_JOB_FROM " WHERE j.id = ANY($1::uuid[])"

/* The columns PROFILE_SQL starts with, for a user named by id (the poller has none in its context). */
const char RANK_PROFILE_SQL[] =
    "SELECT " PROFILE_MATCH_COLUMNS " FROM users u WHERE u.id = $1";

/*
 * A numeric column as a double, 0 when NULL.  PostgreSQL prints numeric
 * as plain decimals ("45.00"): those are read here, anything else
 * (exponents never appear, but still) by strtod().
 */
static double
number_or_zero(const PGresult *res, int row, int col)
{
	const char	*v = db_value(res, row, col), *p;
	double		 whole = 0, frac = 0, scale = 1;

	if (v == NULL)
		return 0;
	for (p = v; *p >= '0' && *p <= '9'; p++)
		whole = whole * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && scale < 1e9; p++) {
			frac = frac * 10 + (*p - '0');
			scale *= 10;
		}
	if (*p != '\0' || p == v)
		return strtod(v, NULL);
	return whole + frac / scale;
}

/*
 * A text[] column as NULL-free strings in the arena: at most max of
 * them (*n set).  An unreadable value gives none.
 */
static const char **
text_array(struct arena *a, const PGresult *res, int row, int col, size_t max,
    size_t *n)
{
	char		*items[MATCH_SKILLS_MAX], *s;
	const char	**out;
	size_t		 got, i;

	*n = 0;
	if (max > MATCH_SKILLS_MAX)
		max = MATCH_SKILLS_MAX;
	s = arena_strndup(a, PQgetvalue(res, row, col),
	    (size_t)PQgetlength(res, row, col));
	if (pg_array_parse(s, items, max, &got) == -1)
		return NULL;
	out = arena_alloc(a, (got ? got : 1) * sizeof(*out));
	for (i = 0; i < got; i++)
		if (items[i] != NULL)
			out[(*n)++] = items[i];
	return out;
}

/*
 * The caller's profile from RANK_PROFILE_SQL's result, or PROFILE_SQL's
 * (their first columns are the same); no row: the empty profile, which
 * every job matches half-way.
 */
void
rank_profile_load(struct arena *a, const PGresult *res, struct rank_profile *p)
{
	const char	**skills = NULL;
	const char	 *t;
	size_t		  n = 0;

	memset(p, 0, sizeof(*p));
	p->threshold = -1;
	if (res == NULL || PQntuples(res) == 0) {
		match_profile_init(&p->m, NULL, 0, 0, 0);
		return;
	}
	skills = text_array(a, res, 0, 0, MATCH_SKILLS_MAX, &n);
	match_profile_init(&p->m, skills, n, number_or_zero(res, 0, 1),
	    number_or_zero(res, 0, 2));
	if ((t = db_value(res, 0, 3)) != NULL)
		p->threshold = atoi(t);
}

/*
 * Row row of a result whose RANK_COLUMNS start at column c into j, its
 * strings in the arena or the result.
 */
void
rank_job_read(struct arena *a, const PGresult *res, int row, int c,
    struct rank_job *j)
{
	const char	*v;

	memset(j, 0, sizeof(*j));
	j->row = row;
	j->id = PQgetvalue(res, row, c);
	j->job.skills = text_array(a, res, row, c + 1, MATCH_SKILLS_MAX,
	    &j->job.nskills);
	j->job.hourly = strcmp(PQgetvalue(res, row, c + 2), "hourly") == 0;
	j->job.budget_min = number_or_zero(res, row, c + 3);
	j->job.budget_max = number_or_zero(res, row, c + 4);
	j->job.usd = strcmp(PQgetvalue(res, row, c + 5), "USD") == 0;
	j->job.client_score = atoi(PQgetvalue(res, row, c + 6));
	v = db_value(res, row, c + 7);
	j->job.applicants = v != NULL ? atoi(v) : -1;
	if (parse_pg_time(PQgetvalue(res, row, c + 8), &j->job.posted_us) == -1)
		j->job.posted_us = 0;
}

/* The job of row (SHAPE_JOB_COLUMNS from column 0) with j's match object. */
void
rank_shape(struct jw *w, const PGresult *res, int row,
    const struct rank_profile *p, const struct rank_job *j, long long as_of_us)
{
	shape_job(w, res, row, 0, 1);
	match_json(jw_value(w, "match"), &p->m, &j->job, as_of_us, &j->m);
	jw_end(w);
}

/* What the ranking sorts: small and contiguous, for the cache's sake. */
struct rank_key {
	int		 score;
	long long	 posted_us;
	const char	*id;
	struct rank_job	*job;
};

/* Best first: score, then newest, then id (unique, so the order is total). */
static int
cmp_ranked(const void *a, const void *b)
{
	const struct rank_key	*x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->posted_us != y->posted_us)
		return x->posted_us > y->posted_us ? -1 : 1;
	return -strcmp(x->id, y->id);
}

/* The page's rows in ranking order: the row of res holding id, or -1. */
static int
row_of(const PGresult *res, const char *id)
{
	int	i;

	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), id) == 0)
			return i;
	return -1;
}

/*
 * Rank the caller's jobs for q into the reply rp: the list's page and
 * its pagination.
 * q->params has room for q->nparams + 3 values: the window's bounds and
 * the cap go after the filters'.  Returns 0, or -1 with the error
 * response written.
 */
int
rank_list(struct req *r, struct rank_query *q, struct reply *rp)
{
	struct buf	 sql = { 0 }, ids = { 0 };
	struct db_query	 qs[2];
	PGresult	*res[2] = { NULL, NULL }, *page = NULL;
	struct rank_profile p;
	struct rank_job	*jobs;
	struct rank_key	*order;
	const char	*profile_params[1] = { r->auth.user_id }, *page_params[1];
	char		 lo[40], hi[40];
	long long	 window_us = q->window_days * 86400LL * 1000000;
	size_t		 i, n, kept = 0, from, to;
	int		 rc = -1, truncated, row;

	format_time(lo, sizeof(lo), q->as_of_us - window_us);
	format_time(hi, sizeof(hi), q->as_of_us);
	buf_printf(&sql, RANK_SQL, q->nparams + 1, q->nparams + 2);
	buf_puts(&sql, q->where != NULL ? q->where : "");
	buf_printf(&sql, RANK_ORDER, q->nparams + 3);
	q->params[q->nparams] = lo;
	q->params[q->nparams + 1] = hi;
	q->params[q->nparams + 2] = arena_printf(&r->arena, "%d",
	    agent_cfg.match_max_jobs + 1);
	qs[0] = (struct db_query){ RANK_PROFILE_SQL, 1, profile_params };
	qs[1] = (struct db_query){ sql.data, q->nparams + 3, q->params };
	if (db_run(r, qs, 2, res) == -1)
		goto out;

	rank_profile_load(&r->arena, res[0], &p);
	n = (size_t)PQntuples(res[1]);
	truncated = n > (size_t)agent_cfg.match_max_jobs;
	if (truncated)
		n = (size_t)agent_cfg.match_max_jobs;
	jobs = arena_alloc(&r->arena, (n ? n : 1) * sizeof(*jobs));
	order = arena_alloc(&r->arena, (n ? n : 1) * sizeof(*order));
	for (i = 0; i < n; i++) {
		rank_job_read(&r->arena, res[1], (int)i, 0, &jobs[kept]);
		match_score(&p.m, &jobs[kept].job, q->as_of_us, window_us,
		    &jobs[kept].m);
		if (jobs[kept].m.score >= q->min_match) {
			order[kept] = (struct rank_key){ jobs[kept].m.score,
			    jobs[kept].job.posted_us, jobs[kept].id, &jobs[kept] };
			kept++;
		}
	}
	if (kept > 1)
		qsort(order, kept, sizeof(*order), cmp_ranked);

	from = (size_t)((q->page - 1) * q->limit);
	to = from + (size_t)q->limit;
	if (from > kept)
		from = kept;
	if (to > kept)
		to = kept;
	if (from < to) {
		buf_putc(&ids, '{');
		for (i = from; i < to; i++)
			buf_printf(&ids, "%s%s", i > from ? "," : "", order[i].id);
		buf_putc(&ids, '}');
		page_params[0] = ids.data;
		qs[0] = (struct db_query){ PAGE_SQL, 1, page_params };
		if (db_run(r, qs, 1, &page) == -1)
			goto out;
	}
	reply_list(rp);
	for (i = from; i < to; i++) {
		/* A job deleted between the two round trips is left out. */
		if ((row = row_of(page, order[i].id)) == -1)
			continue;
		rank_shape(&rp->w, page, row, &p, order[i].job, q->as_of_us);
	}
	reply_page(rp, q->page, q->limit, (long long)kept);
	jw_string(&rp->w, "sort", "match");
	jw_string(&rp->w, "asOf", hi);
	jw_int(&rp->w, "window", q->window_days);
	jw_bool(&rp->w, "truncated", truncated);
	rc = 0;
out:
	PQclear(page);
	db_clear(res, 2);
	buf_free(&sql);
	buf_free(&ids);
	return rc;
}

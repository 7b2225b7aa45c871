/* rank.c: the caller's jobs ranked by match: the window's candidates fetched lean, scored in C, sorted, and one page fetched in full. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/*
 * Why in C: a score computed in SQL for every row costs about 10 µs a
 * row (100,000 jobs: a second); reading the few columns the score needs
 * costs about 1 µs a row and scoring them here far less.  So the ranking
 * reads JOB_SCORE_COLUMNS for the jobs posted in the window (newest
 * first, at most match_max_jobs of them), scores and sorts them here,
 * and fetches the full rows of the one page asked for by id: two round
 * trips.  The filters' placeholders come first ($1..$nparams), the
 * window's and the cap's after them.
 */
#define RANK_SQL \
	"SELECT " JOB_SCORE_COLUMNS " FROM jobs j" \
	" WHERE j.posted_at >= $%d::timestamptz AND j.posted_at <= $%d::timestamptz"
#define RANK_ORDER	" ORDER BY j.posted_at DESC, j.id DESC LIMIT $%d::int"
#define PAGE_SQL \
	"SELECT " JOB_COLUMNS JOB_FROM " WHERE j.id = ANY($1::uuid[])"

/* What the ranking sorts: small and contiguous, for the cache's sake. */
struct rank_key {
	int			 score;
	long long		 posted_us;
	const char		*id;
	const struct job_scored	*job;
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
		if (strcmp(PQgetvalue(res, i, JC_ID), id) == 0)
			return i;
	return -1;
}

/*
 * Rank the caller's jobs for q into the reply rp: the list's page and
 * its pagination.  Returns 0, or -1 with the error response written.
 */
int
rank_list(struct req *r, const struct rank_query *q, struct reply *rp)
{
	struct buf	 sql = { 0 }, ids = { 0 };
	struct db_query	 qs[2];
	PGresult	*res[2] = { NULL, NULL }, *page = NULL;
	struct job_scores s;
	struct rank_key	*order;
	const char	*profile_params[1] = { r->auth.user_id }, *page_params[1];
	const char	**params;
	char		 lo[40], hi[40];
	long long	 window_us = q->window_days * 86400LL * 1000000;
	size_t		 i, kept = 0, from, to;
	int		 rc = -1, row;

	format_time(lo, sizeof(lo), q->as_of_us - window_us);
	format_time(hi, sizeof(hi), q->as_of_us);
	buf_printf(&sql, RANK_SQL, q->nparams + 1, q->nparams + 2);
	buf_puts(&sql, q->where != NULL ? q->where : "");
	buf_printf(&sql, RANK_ORDER, q->nparams + 3);
	params = arena_alloc(&r->arena, ((size_t)q->nparams + 3) * sizeof(*params));
	for (i = 0; i < (size_t)q->nparams; i++)
		params[i] = q->params[i];
	params[i++] = lo;
	params[i++] = hi;
	params[i] = arena_printf(&r->arena, "%d", agent_cfg.match_max_jobs + 1);
	qs[0] = (struct db_query){ JOB_PROFILE_SQL, 1, profile_params };
	qs[1] = (struct db_query){ sql.data, q->nparams + 3, params };
	if (db_run(r, qs, 2, res) == -1)
		goto out;

	job_score_rows(&r->arena, res[0], res[1], (size_t)agent_cfg.match_max_jobs,
	    q->as_of_us, window_us, &s);
	order = arena_alloc(&r->arena, (s.n ? s.n : 1) * sizeof(*order));
	for (i = 0; i < s.n; i++)
		if (s.jobs[i].m.score >= q->min_match)
			order[kept++] = (struct rank_key){ s.jobs[i].m.score,
			    s.jobs[i].job.posted_us, s.jobs[i].id, &s.jobs[i] };
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
		shape_job_match(&rp->w, page, row, &s, order[i].job, q->as_of_us);
	}
	reply_page(rp, q->page, q->limit, (long long)kept);
	jw_string(&rp->w, "sort", "match");
	jw_string(&rp->w, "asOf", hi);
	jw_int(&rp->w, "window", q->window_days);
	jw_bool(&rp->w, "truncated", s.truncated);
	rc = 0;
out:
	PQclear(page);
	db_clear(res, 2);
	buf_free(&sql);
	buf_free(&ids);
	return rc;
}

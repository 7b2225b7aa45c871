/* job.c: the job row, declared once, and the one loop that reads its score columns and scores every row against the caller's profile. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* What the score reads of a profile, for a user named by id (the poller has none in its context). */
const char JOB_PROFILE_SQL[] =
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
 * The profile from JOB_PROFILE_SQL's result, or PROFILE_SQL's (their
 * first columns are the same); no row: the empty profile, which every
 * job matches half-way.
 */
static void
profile_read(struct arena *a, const PGresult *res, struct job_profile *p)
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

/* The score's columns of row row into j, its strings in the arena or the result. */
static void
score_read(struct arena *a, const PGresult *res, int row, struct job_scored *j)
{
	const char	*v;

	memset(j, 0, sizeof(*j));
	j->id = PQgetvalue(res, row, JC_ID);
	j->job.skills = text_array(a, res, row, JC_SKILLS, MATCH_SKILLS_MAX,
	    &j->job.nskills);
	j->job.hourly = strcmp(PQgetvalue(res, row, JC_BUDGET_TYPE), "hourly") == 0;
	j->job.budget_min = number_or_zero(res, row, JC_BUDGET_MIN);
	j->job.budget_max = number_or_zero(res, row, JC_BUDGET_MAX);
	j->job.usd = strcmp(PQgetvalue(res, row, JC_CURRENCY), "USD") == 0;
	j->job.client_score = atoi(PQgetvalue(res, row, JC_CLIENT_SCORE));
	v = db_value(res, row, JC_APPLICANTS);
	j->job.applicants = v != NULL ? atoi(v) : -1;
	if (parse_pg_time(PQgetvalue(res, row, JC_POSTED_AT),
	    &j->job.posted_us) == -1)
		j->job.posted_us = 0;
}

/*
 * Score the first max rows of jobs (a result that selected
 * JOB_SCORE_COLUMNS or JOB_COLUMNS) against the profile of profile
 * (JOB_PROFILE_SQL's result; NULL or no row: the empty profile): each
 * job as of as_of_us over window_us, or, with JOB_AS_POSTED, as of its
 * own posting.  Everything is in the arena; out->jobs[i] is row i.
 */
void
job_score_rows(struct arena *a, const PGresult *profile, const PGresult *jobs,
    size_t max, long long as_of_us, long long window_us, struct job_scores *out)
{
	size_t	i, n = jobs != NULL ? (size_t)PQntuples(jobs) : 0;

	profile_read(a, profile, &out->profile);
	out->truncated = n > max;
	out->n = n > max ? max : n;
	out->jobs = arena_alloc(a, (out->n ? out->n : 1) * sizeof(*out->jobs));
	for (i = 0; i < out->n; i++) {
		score_read(a, jobs, (int)i, &out->jobs[i]);
		match_score(&out->profile.m, &out->jobs[i].job, as_of_us ==
		    JOB_AS_POSTED ? out->jobs[i].job.posted_us : as_of_us,
		    window_us, &out->jobs[i].m);
	}
}

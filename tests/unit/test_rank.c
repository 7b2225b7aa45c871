/* test_rank.c: unit tests for the job row (the score's columns and the profile read from PostgreSQL's text forms, the declared column count) and the ranking order. */
#include <stdlib.h>
#include <string.h>

#include "../../agent/job.c"
#include "../../agent/rank.c"
#include "tap.h"

/* A result shaped like JOB_SCORE_COLUMNS (or any text columns), built in memory. */
static PGresult *
result(int ncols, const char *const *rows[], int nrows)
{
	PGresult		*res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc		 attrs[16];
	int			 i, c;

	memset(attrs, 0, sizeof(attrs));
	for (c = 0; c < ncols; c++) {
		attrs[c].name = (char *)"c";
		attrs[c].typid = 25;	/* text */
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
	}
	PQsetResultAttrs(res, ncols, attrs);
	for (i = 0; i < nrows; i++)
		for (c = 0; c < ncols; c++)
			PQsetvalue(res, i, c, (char *)rows[i][c],
			    rows[i][c] != NULL ? (int)strlen(rows[i][c]) : -1);
	return res;
}

static void
test_numbers(void)
{
	const char *const	 row[] = { "45.00", "87.5", "0.07", "1234567.891", "1e2", "-3.5", "", NULL };
	const char *const	*rows[] = { row };
	PGresult		*res = result(8, rows, 1);

	ok(number_or_zero(res, 0, 0) == 45, "45.00");
	ok(number_or_zero(res, 0, 1) == 87.5, "87.5");
	ok(number_or_zero(res, 0, 2) == strtod("0.07", NULL), "0.07 as strtod reads it");
	ok(number_or_zero(res, 0, 3) == strtod("1234567.891", NULL), "a long one");
	ok(number_or_zero(res, 0, 4) == 100, "anything else through strtod");
	ok(number_or_zero(res, 0, 5) == -3.5, "a sign through strtod");
	ok(number_or_zero(res, 0, 6) == 0, "empty text: 0");
	ok(number_or_zero(res, 0, 7) == 0, "NULL: 0");
	PQclear(res);
}

static void
test_rows(void)
{
	const char *const	 j1[] = { "6f9619ff-8b86-d011-b42d-00c04fc964ff",
	    "{postgresql,\"api development\",\"a\\\"b\",NULL,c}", "hourly", "40.00", "70.00",
	    "USD", "80", NULL, "2024-03-25 00:00:00+00" };
	const char *const	 j2[] = { "00000000-0000-4000-8000-000000000000", "{}", "fixed",
	    NULL, NULL, "EUR", "0", "12", "2024-03-31 00:00:00.5+00" };
	const char *const	 j3[] = { "11111111-0000-4000-8000-000000000000", "{broken", "fixed",
	    "10", "10", "USD", "7", "0", "infinity" };
	const char *const	*rows[] = { j1, j2, j3 };
	const char *const	 prof[] = { "{c,postgresql,\"api development\",c}", "60.00", "85.00", "70" };
	const char *const	*prows[] = { prof };
	const char *const	 noprof[] = { "{}", NULL, NULL, NULL };
	const char *const	*nrows[] = { noprof };
	PGresult		*res = result(9, rows, 3), *pr = result(4, prows, 1);
	PGresult		*nr = result(4, nrows, 1);
	struct arena		 a = { 0 };
	struct job_scored	 j;
	struct job_profile	 p;
	struct job_scores	 sc;

	score_read(&a, res, 0, &j);
	is_str(j.id, j1[0], "id");
	ok(j.job.nskills == 4 && strcmp(j.job.skills[1], "api development") == 0 &&
	    strcmp(j.job.skills[2], "a\"b") == 0 && strcmp(j.job.skills[3], "c") == 0,
	    "skills unquoted, unescaped, the NULL element dropped");
	ok(j.job.hourly && j.job.usd && j.job.budget_min == 40 && j.job.budget_max == 70,
	    "hourly, USD, $40-$70");
	ok(j.job.client_score == 80 && j.job.applicants == -1, "client score; applicants NULL is unknown");
	is_int(j.job.posted_us, days_from_civil(2024, 3, 25) * 86400 * 1000000LL, "posted_at in microseconds");
	score_read(&a, res, 1, &j);
	ok(j.job.nskills == 0 && !j.job.hourly && !j.job.usd && j.job.budget_max == 0 &&
	    j.job.applicants == 12, "no skills, fixed, EUR, no budget, 12 proposals");
	is_int(j.job.posted_us % 1000000, 500000, "the fraction of a second kept");
	score_read(&a, res, 2, &j);
	ok(j.job.nskills == 0 && j.job.posted_us == 0, "an unreadable array or time reads as none");

	profile_read(&a, pr, &p);
	ok(p.m.nskills == 3 && strcmp(p.m.skills[0], "api development") == 0 &&
	    strcmp(p.m.skills[2], "postgresql") == 0, "profile skills sorted, repeats dropped");
	ok(p.m.rate_min == 60 && p.m.rate_target == 85 && p.threshold == 70, "rates and threshold");
	profile_read(&a, nr, &p);
	ok(p.m.nskills == 0 && p.m.rate_target == 0 && p.threshold == -1, "an empty profile row");
	profile_read(&a, NULL, &p);
	ok(p.m.nskills == 0 && p.threshold == -1, "no row at all: the empty profile");

	job_score_rows(&a, pr, res, 2, JOB_AS_POSTED, 30 * 86400LL * 1000000, &sc);
	ok(sc.n == 2 && sc.truncated && strcmp(sc.jobs[1].id, j2[0]) == 0,
	    "job_score_rows(): at most max rows, in order, truncated said");
	ok(sc.jobs[0].m.score > 0 && sc.jobs[0].m.matched == 3 &&
	    sc.profile.threshold == 70, "each scored against the profile read");
	ok(sc.jobs[0].m.recency == 10 && sc.jobs[1].m.recency == 10,
	    "as of its own posting: the full recency part");
	job_score_rows(&a, pr, res, 2, days_from_civil(2024, 4, 9) * 86400 *
	    1000000LL, 30 * 86400LL * 1000000, &sc);
	ok(sc.jobs[0].m.recency == 5, "as of a given time: half of it 15 days later");
	job_score_rows(&a, NULL, res, 10, JOB_AS_POSTED, 30 * 86400LL * 1000000, &sc);
	ok(sc.n == 3 && !sc.truncated, "all rows when fewer than max");
	PQclear(res);
	PQclear(pr);
	PQclear(nr);
	arena_reset(&a);
}

/* The columns' count of each list is the count its enum names. */
static void
test_columns(void)
{
	static const char	score[] = JOB_SCORE_COLUMNS, all[] = JOB_COLUMNS;
	size_t			i, n = 1, m = 1;

	for (i = 0; score[i] != '\0'; i++)
		n += score[i] == ',';
	for (i = 0; all[i] != '\0'; i++)
		m += all[i] == ',';
	is_int(n, JOB_SCORE_NCOLS, "JOB_SCORE_COLUMNS has JOB_SCORE_NCOLS columns");
	is_int(m, JOB_NCOLS, "JOB_COLUMNS has JOB_NCOLS columns");
}

static void
test_order(void)
{
	struct rank_key	k[] = {
		{ 80, 100, "b", NULL }, { 90, 50, "a", NULL }, { 80, 200, "a", NULL },
		{ 80, 100, "c", NULL }, { 95, 1, "z", NULL },
	};

	qsort(k, nitems(k), sizeof(k[0]), cmp_ranked);
	ok(k[0].score == 95 && k[1].score == 90, "score first, best first");
	ok(k[2].posted_us == 200, "then the newest");
	ok(strcmp(k[3].id, "c") == 0 && strcmp(k[4].id, "b") == 0, "then the id, descending");
}

int
main(void)
{
	test_numbers();
	test_rows();
	test_columns();
	test_order();
	return done_testing();
}

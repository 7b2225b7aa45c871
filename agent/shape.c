/* shape.c: the JSON of the API's resources (jobs with their client, saved searches, proposals), built from query rows. */
#include <stdio.h>
#include <string.h>

#include "agent.h"

/*
 * Why in C: building these objects with json_build_object() in SQL made
 * the planner inline a dozen functions on every request, which cost
 * more than the query itself.  The statements select plain columns in
 * the order of the column lists (JOB_COLUMNS, SHAPE_*); these functions
 * turn one row into JSON.
 */

static void
put_text(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	const char	*v = db_value(res, row, col);

	if (v == NULL)
		jw_null(w, key);
	else
		jw_stringn(w, key, v, (size_t)PQgetlength(res, row, col));
}

/*
 * numeric and integer columns are already JSON numbers as PostgreSQL
 * prints them, and a json column (array_to_json(...)) is JSON: both are
 * copied as they are.
 */
static void
put_raw(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	jw_raw(w, key, db_value(res, row, col));
}

static void
put_bool(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	const char	*v = db_value(res, row, col);

	if (v == NULL)
		jw_null(w, key);
	else
		jw_bool(w, key, *v == 't');
}

/*
 * A timestamptz as JavaScript's toISOString() prints it:
 * "2026-11-25 14:48:56.9471+00" becomes "2026-11-25T14:48:56.947Z".
 * The session runs in UTC (db.c), so the offset is always +00.
 */
void
shape_time(struct jw *w, const char *key, const char *v)
{
	char	out[32];
	size_t	n, i;

	if (v == NULL) {
		jw_null(w, key);
		return;
	}
	n = strlen(v);
	if (n < 22 || v[10] != ' ' || v[19] == '\0' ||
	    strcmp(v + n - 3, "+00") != 0) {
		jw_stringn(w, key, v, n);	/* infinity, BC dates: as they are */
		return;
	}
	memcpy(out, v, 19);
	out[10] = 'T';
	out[19] = '.';
	for (i = 0; i < 3; i++)
		out[20 + i] = (v[19] == '.' && 20 + i < n - 3) ? v[20 + i] : '0';
	out[23] = 'Z';
	out[24] = '\0';
	jw_string(w, key, out);
}

static void
put_time(struct jw *w, const char *key, const PGresult *res, int row, int col)
{
	shape_time(w, key, db_value(res, row, col));
}

/* The client object of a job row, or null when the job has none. */
static void
shape_client(struct jw *w, const PGresult *res, int row)
{
	if (db_value(res, row, JC_CLIENT_ID) == NULL) {
		jw_null(w, "client");
		return;
	}
	jw_object(w, "client");
	put_text(w, "id", res, row, JC_CLIENT_ID);
	put_text(w, "name", res, row, JC_CLIENT_NAME);
	put_text(w, "company", res, row, JC_CLIENT_COMPANY);
	jw_object(w, "location");
	put_text(w, "country", res, row, JC_CLIENT_COUNTRY);
	put_text(w, "city", res, row, JC_CLIENT_CITY);
	jw_end(w);
	put_raw(w, "totalSpent", res, row, JC_CLIENT_TOTAL_SPENT);
	put_raw(w, "hireRate", res, row, JC_CLIENT_HIRE_RATE);
	put_raw(w, "rating", res, row, JC_CLIENT_RATING);
	put_raw(w, "reviewsCount", res, row, JC_CLIENT_REVIEWS);
	put_raw(w, "jobsPosted", res, row, JC_CLIENT_JOBS_POSTED);
	put_raw(w, "totalHires", res, row, JC_CLIENT_TOTAL_HIRES);
	put_bool(w, "paymentVerified", res, row, JC_CLIENT_VERIFIED);
	put_time(w, "memberSince", res, row, JC_CLIENT_MEMBER_SINCE);
	jw_end(w);
}

/*
 * A job with its client from a row of JOB_COLUMNS.  open: leave the
 * object open for more keys (the caller closes it).
 */
void
shape_job(struct jw *w, const PGresult *res, int row, int open)
{
	const char	*cipher = db_value(res, row, JC_CIPHERTEXT);
	char		 url[160];

	jw_object(w, NULL);
	put_text(w, "id", res, row, JC_ID);
	put_text(w, "upworkId", res, row, JC_UPWORK_ID);
	put_text(w, "title", res, row, JC_TITLE);
	put_text(w, "description", res, row, JC_DESCRIPTION);
	put_raw(w, "skills", res, row, JC_SKILLS_JSON);
	jw_object(w, "budget");
	put_text(w, "type", res, row, JC_BUDGET_TYPE);
	put_raw(w, "min", res, row, JC_BUDGET_MIN);
	put_raw(w, "max", res, row, JC_BUDGET_MAX);
	put_text(w, "currency", res, row, JC_CURRENCY);
	jw_end(w);
	put_text(w, "location", res, row, JC_LOCATION);
	put_raw(w, "clientScore", res, row, JC_CLIENT_SCORE);
	put_text(w, "experienceLevel", res, row, JC_EXPERIENCE_LEVEL);
	put_raw(w, "applicants", res, row, JC_APPLICANTS);
	if (cipher == NULL)
		jw_null(w, "url");
	else {
		/* ciphertext is at most 100 characters (a CHECK constraint). */
		snprintf(url, sizeof(url), "https://www.upwork.com/jobs/%s", cipher);
		jw_string(w, "url", url);
	}
	put_time(w, "createdAt", res, row, JC_POSTED_AT);
	put_time(w, "applicationDeadline", res, row, JC_DEADLINE);
	shape_client(w, res, row);
	if (!open)
		jw_end(w);
}

/* The job of row with the caller's match of it, scored as of as_of_us. */
void
shape_job_match(struct jw *w, const PGresult *res, int row,
    const struct job_scores *s, const struct job_scored *j, long long as_of_us)
{
	shape_job(w, res, row, 1);
	match_json(jw_value(w, "match"), &s->profile.m, &j->job, as_of_us, &j->m);
	jw_end(w);
}

/* A saved search from SHAPE_SEARCH_COLUMNS starting at column col. */
int
shape_search(struct jw *w, const PGresult *res, int row, int col)
{
	jw_object(w, NULL);
	put_text(w, "id", res, row, col);
	put_text(w, "userId", res, row, col + 1);
	put_text(w, "name", res, row, col + 2);
	put_raw(w, "skills", res, row, col + 3);
	put_raw(w, "minBudget", res, row, col + 4);
	put_raw(w, "maxBudget", res, row, col + 5);
	put_text(w, "location", res, row, col + 6);
	put_raw(w, "clientScore", res, row, col + 7);
	put_text(w, "query", res, row, col + 8);
	put_bool(w, "notify", res, row, col + 9);
	put_time(w, "lastRunAt", res, row, col + 10);
	put_time(w, "createdAt", res, row, col + 11);
	put_time(w, "updatedAt", res, row, col + 12);
	put_raw(w, "minMatch", res, row, col + 13);
	jw_end(w);
	return SHAPE_SEARCH_NCOLS;
}

/*
 * A proposal from SHAPE_PROPOSAL_COLUMNS: its job's title and what
 * generating it cost.  flags: SHAPE_OPEN leaves the object open for
 * more keys, SHAPE_LEAN writes content and alternatives as null.
 */
void
shape_proposal(struct jw *w, const PGresult *res, int row, int flags)
{
	static const struct {
		const char	*key;
		int		 text;
	} cols[] = {
		{ "id", 1 }, { "jobId", 1 }, { "userId", 1 }, { "status", 1 },
		{ "content", 1 }, { "alternatives", 0 }, { "suggestions", 0 },
		{ "tone", 1 }, { "provider", 1 }, { "model", 1 },
		{ "maxWords", 0 }, { "highlights", 0 },
	};
	size_t	i;

	jw_object(w, NULL);
	for (i = 0; i < nitems(cols); i++) {
		if ((flags & SHAPE_LEAN) && (i == 4 || i == 5))
			jw_null(w, cols[i].key);
		else if (cols[i].text)
			put_text(w, cols[i].key, res, row, (int)i);
		else
			put_raw(w, cols[i].key, res, row, (int)i);
	}
	if (db_value(res, row, 12) == NULL)
		jw_null(w, "usage");
	else {
		jw_object(w, "usage");
		put_raw(w, "promptTokens", res, row, 12);
		put_raw(w, "completionTokens", res, row, 13);
		put_raw(w, "cost", res, row, 14);
		jw_end(w);
	}
	jw_object(w, "job");
	put_text(w, "id", res, row, 1);
	put_text(w, "title", res, row, 15);
	jw_end(w);
	put_text(w, "templateId", res, row, 18);
	put_time(w, "readyAt", res, row, 19);
	put_time(w, "createdAt", res, row, 16);
	put_time(w, "updatedAt", res, row, SHAPE_PROPOSAL_UPDATED);
	if (!(flags & SHAPE_OPEN))
		jw_end(w);
}

/*
 * The proposal of SHAPE_PROPOSAL_ONE_SQL (one) with its history
 * (SHAPE_HISTORY_SQL), as GET /api/proposals/{id} answers it; the
 * object is left open.  flags: SHAPE_LEAN or 0.
 */
void
shape_proposal_one(struct jw *w, const PGresult *one, const PGresult *hist,
    int flags)
{
	int	i;

	shape_proposal(w, one, 0, SHAPE_OPEN | flags);
	jw_array(w, "history");
	for (i = 0; i < PQntuples(hist); i++)
		shape_history(w, hist, i);
	jw_end(w);
}

/* One change of a proposal from SHAPE_HISTORY_COLUMNS. */
void
shape_history(struct jw *w, const PGresult *res, int row)
{
	jw_object(w, NULL);
	put_text(w, "from", res, row, 0);
	put_text(w, "to", res, row, 1);
	put_bool(w, "edited", res, row, 2);
	put_text(w, "by", res, row, 3);
	put_time(w, "at", res, row, 4);
	jw_end(w);
}

/* shape.c: the JSON of the API's resources (jobs with their client, saved searches, proposals), built from query rows. */
#include <stdio.h>
#include <string.h>

#include "agent.h"

/*
 * Why in C: building these objects with json_build_object() in SQL made
 * the planner inline a dozen functions on every request, which cost
 * more than the query itself.  The statements select plain columns in
 * the order of the SHAPE_* column lists; these functions turn one row
 * into JSON.
 */

static void
put_text(struct buf *b, const PGresult *res, int row, int col)
{
	const char	*v = db_value(res, row, col);

	if (v == NULL)
		buf_puts(b, "null");
	else
		buf_json_string(b, v, (size_t)PQgetlength(res, row, col));
}

/* numeric and integer columns are already JSON numbers as PostgreSQL prints them. */
static void
put_number(struct buf *b, const PGresult *res, int row, int col)
{
	const char	*v = db_value(res, row, col);

	buf_puts(b, v != NULL ? v : "null");
}

static void
put_bool(struct buf *b, const PGresult *res, int row, int col)
{
	const char	*v = db_value(res, row, col);

	buf_puts(b, v == NULL ? "null" : *v == 't' ? "true" : "false");
}

/* A json column (array_to_json(...)) is copied as it is. */
static void
put_raw(struct buf *b, const PGresult *res, int row, int col)
{
	const char	*v = db_value(res, row, col);

	buf_puts(b, v != NULL ? v : "null");
}

/*
 * A timestamptz as JavaScript's toISOString() prints it:
 * "2026-11-25 14:48:56.9471+00" becomes "2026-11-25T14:48:56.947Z".
 * The session runs in UTC (db.c), so the offset is always +00.
 */
void
shape_time(struct buf *b, const char *v)
{
	char	out[32];
	size_t	n, i;

	if (v == NULL) {
		buf_puts(b, "null");
		return;
	}
	n = strlen(v);
	if (n < 22 || v[10] != ' ' || v[19] == '\0' ||
	    strcmp(v + n - 3, "+00") != 0) {
		buf_json_string(b, v, n);	/* infinity, BC dates: as they are */
		return;
	}
	memcpy(out, v, 19);
	out[10] = 'T';
	out[19] = '.';
	for (i = 0; i < 3; i++)
		out[20 + i] = (v[19] == '.' && 20 + i < n - 3) ? v[20 + i] : '0';
	out[23] = 'Z';
	out[24] = '\0';
	buf_printf(b, "\"%s\"", out);
}

static void
put_time(struct buf *b, const PGresult *res, int row, int col)
{
	shape_time(b, db_value(res, row, col));
}

/* The client object of a job row, or null when the job has none. */
static void
shape_client(struct buf *b, const PGresult *res, int row, int c)
{
	if (db_value(res, row, c) == NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_puts(b, "{\"id\":");
	put_text(b, res, row, c);
	buf_puts(b, ",\"name\":");
	put_text(b, res, row, c + 1);
	buf_puts(b, ",\"company\":");
	put_text(b, res, row, c + 2);
	buf_puts(b, ",\"location\":{\"country\":");
	put_text(b, res, row, c + 3);
	buf_puts(b, ",\"city\":");
	put_text(b, res, row, c + 4);
	buf_puts(b, "},\"totalSpent\":");
	put_number(b, res, row, c + 5);
	buf_puts(b, ",\"hireRate\":");
	put_number(b, res, row, c + 6);
	buf_puts(b, ",\"rating\":");
	put_number(b, res, row, c + 7);
	buf_puts(b, ",\"reviewsCount\":");
	put_number(b, res, row, c + 8);
	buf_puts(b, ",\"jobsPosted\":");
	put_number(b, res, row, c + 9);
	buf_puts(b, ",\"totalHires\":");
	put_number(b, res, row, c + 10);
	buf_puts(b, ",\"paymentVerified\":");
	put_bool(b, res, row, c + 11);
	buf_puts(b, ",\"memberSince\":");
	put_time(b, res, row, c + 12);
	buf_putc(b, '}');
}

/*
 * A job with its client from SHAPE_JOB_COLUMNS starting at column col.
 * Returns the number of columns it read.
 */
int
shape_job(struct buf *b, const PGresult *res, int row, int col)
{
	const char	*cipher = db_value(res, row, col + 13);
	char		 url[160];

	buf_puts(b, "{\"id\":");
	put_text(b, res, row, col);
	buf_puts(b, ",\"upworkId\":");
	put_text(b, res, row, col + 1);
	buf_puts(b, ",\"title\":");
	put_text(b, res, row, col + 2);
	buf_puts(b, ",\"description\":");
	put_text(b, res, row, col + 3);
	buf_puts(b, ",\"skills\":");
	put_raw(b, res, row, col + 4);
	buf_puts(b, ",\"budget\":{\"type\":");
	put_text(b, res, row, col + 5);
	buf_puts(b, ",\"min\":");
	put_number(b, res, row, col + 6);
	buf_puts(b, ",\"max\":");
	put_number(b, res, row, col + 7);
	buf_puts(b, ",\"currency\":");
	put_text(b, res, row, col + 8);
	buf_puts(b, "},\"location\":");
	put_text(b, res, row, col + 9);
	buf_puts(b, ",\"clientScore\":");
	put_number(b, res, row, col + 10);
	buf_puts(b, ",\"experienceLevel\":");
	put_text(b, res, row, col + 11);
	buf_puts(b, ",\"applicants\":");
	put_number(b, res, row, col + 12);
	buf_puts(b, ",\"url\":");
	if (cipher == NULL)
		buf_puts(b, "null");
	else {
		/* ciphertext is at most 100 characters (a CHECK constraint). */
		snprintf(url, sizeof(url), "https://www.upwork.com/jobs/%s", cipher);
		buf_json_string(b, url, strlen(url));
	}
	buf_puts(b, ",\"createdAt\":");
	put_time(b, res, row, col + 14);
	buf_puts(b, ",\"applicationDeadline\":");
	put_time(b, res, row, col + 15);
	buf_puts(b, ",\"client\":");
	shape_client(b, res, row, col + 16);
	buf_putc(b, '}');
	return SHAPE_JOB_NCOLS;
}

/* A saved search from SHAPE_SEARCH_COLUMNS starting at column col. */
int
shape_search(struct buf *b, const PGresult *res, int row, int col)
{
	buf_puts(b, "{\"id\":");
	put_text(b, res, row, col);
	buf_puts(b, ",\"userId\":");
	put_text(b, res, row, col + 1);
	buf_puts(b, ",\"name\":");
	put_text(b, res, row, col + 2);
	buf_puts(b, ",\"skills\":");
	put_raw(b, res, row, col + 3);
	buf_puts(b, ",\"minBudget\":");
	put_number(b, res, row, col + 4);
	buf_puts(b, ",\"maxBudget\":");
	put_number(b, res, row, col + 5);
	buf_puts(b, ",\"location\":");
	put_text(b, res, row, col + 6);
	buf_puts(b, ",\"clientScore\":");
	put_number(b, res, row, col + 7);
	buf_puts(b, ",\"query\":");
	put_text(b, res, row, col + 8);
	buf_puts(b, ",\"notify\":");
	put_bool(b, res, row, col + 9);
	buf_puts(b, ",\"lastRunAt\":");
	put_time(b, res, row, col + 10);
	buf_puts(b, ",\"createdAt\":");
	put_time(b, res, row, col + 11);
	buf_puts(b, ",\"updatedAt\":");
	put_time(b, res, row, col + 12);
	buf_puts(b, ",\"minMatch\":");
	put_number(b, res, row, col + 13);
	buf_putc(b, '}');
	return SHAPE_SEARCH_NCOLS;
}

/*
 * Close a list body: "],\"pagination\":{...}}" after the items, with the
 * seed's page, limit, total and hasMore.
 */
void
shape_page_end(struct buf *b, long long page, long long limit, long long total)
{
	buf_printf(b, "],\"pagination\":{\"page\":%lld,\"limit\":%lld,"
	    "\"total\":%lld,\"hasMore\":%s}}", page, limit, total,
	    page * limit < total ? "true" : "false");
}

/*
 * A proposal from SHAPE_PROPOSAL_COLUMNS: its job's title and what
 * generating it cost.  open: leave the object open for more keys.
 */
void
shape_proposal(struct buf *b, const PGresult *res, int row, int open)
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

	buf_putc(b, '{');
	for (i = 0; i < nitems(cols); i++) {
		buf_printf(b, "%s\"%s\":", i ? "," : "", cols[i].key);
		if (cols[i].text)
			put_text(b, res, row, (int)i);
		else
			put_raw(b, res, row, (int)i);
	}
	buf_puts(b, ",\"usage\":");
	if (db_value(res, row, 12) == NULL)
		buf_puts(b, "null");
	else
		buf_printf(b, "{\"promptTokens\":%s,\"completionTokens\":%s,"
		    "\"cost\":%s}", PQgetvalue(res, row, 12),
		    PQgetvalue(res, row, 13), PQgetvalue(res, row, 14));
	buf_puts(b, ",\"job\":{\"id\":");
	put_text(b, res, row, 1);
	buf_puts(b, ",\"title\":");
	put_text(b, res, row, 15);
	buf_puts(b, "},\"templateId\":");
	put_text(b, res, row, 18);
	buf_puts(b, ",\"readyAt\":");
	put_time(b, res, row, 19);
	buf_puts(b, ",\"createdAt\":");
	put_time(b, res, row, 16);
	buf_puts(b, ",\"updatedAt\":");
	put_time(b, res, row, SHAPE_PROPOSAL_UPDATED);
	if (!open)
		buf_putc(b, '}');
}

/* One change of a proposal from SHAPE_HISTORY_COLUMNS; comma: one came before. */
void
shape_history(struct buf *b, const PGresult *res, int row, int comma)
{
	buf_puts(b, comma ? ",{\"from\":" : "{\"from\":");
	put_text(b, res, row, 0);
	buf_puts(b, ",\"to\":");
	put_text(b, res, row, 1);
	buf_puts(b, ",\"edited\":");
	put_bool(b, res, row, 2);
	buf_puts(b, ",\"by\":");
	put_text(b, res, row, 3);
	buf_puts(b, ",\"at\":");
	put_time(b, res, row, 4);
	buf_putc(b, '}');
}

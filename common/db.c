/* db.c: the worker's PostgreSQL connection; each request's statements run pipelined in one transaction under RLS. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/*
 * Why pipelining: a request's transaction is the tenant context plus one
 * or more statements.  Sent one by one that is 3-4 round trips; sent as
 * one pipeline ended by a Sync it is one, and the Sync commits (or, after
 * an error, rolls back) the implicit transaction the statements share.
 * set_config(..., true) lasts exactly until that Sync.
 */
static const char ctx_sql[] =
    "SELECT set_config('app.tenant_id', $1, true),"
    " set_config('app.user_id', $2, true)";

/* Close the connection; the next request opens a new one. */
void
db_close(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
}

/*
 * A connection the server has closed (restart, idle kill) shows up as a
 * readable socket while no query is pending: notice it before sending,
 * so a request is never lost to a stale connection.
 */
static int
db_stale(PGconn *c)
{
	struct pollfd	pfd = { .fd = PQsocket(c), .events = POLLIN };

	if (PQstatus(c) != CONNECTION_OK || pfd.fd < 0)
		return 1;
	if (poll(&pfd, 1, 0) == 0)
		return 0;
	return 1;
}

static PGconn *
db_connect(struct db *db)
{
	const char	*keys[5], *vals[5];
	char		 timeout[16], options[128];

	if (db->conn != NULL && !db_stale(db->conn))
		return db->conn;
	db_close(db);
	snprintf(timeout, sizeof(timeout), "%d", cfg.db_connect_timeout);
	snprintf(options, sizeof(options), "-c statement_timeout=%d "
	    "-c TimeZone=UTC", cfg.db_statement_timeout_ms);
	keys[0] = "dbname";		vals[0] = cfg.db_conninfo;
	keys[1] = "connect_timeout";	vals[1] = timeout;
	keys[2] = "application_name";	vals[2] = "upwork-api";
	keys[3] = "options";		vals[3] = options;
	keys[4] = NULL;			vals[4] = NULL;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		LOG_WARN(NULL, "db: connect failed: %s",
		    PQerrorMessage(db->conn));
		db_close(db);
		return NULL;
	}
	if (PQenterPipelineMode(db->conn) != 1) {
		LOG_ERR(NULL, "db: cannot enter pipeline mode");
		db_close(db);
		return NULL;
	}
	return db->conn;
}

static enum err
db_err_for(const char *state)
{
	if (state == NULL)
		return ERR_UNAVAILABLE;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    strcmp(state, "53300") == 0 || strcmp(state, "57014") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return ERR_UNAVAILABLE;
	if (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0)
		return ERR_CONFLICT;
	if (strncmp(state, "22", 2) == 0)
		return ERR_BAD_REQUEST;
	return ERR_INTERNAL;
}

void
db_clear(PGresult **res, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		PQclear(res[i]);
		res[i] = NULL;
	}
}

/*
 * Run the queries in one transaction with the tenant context set.  On
 * success res[i] holds query i's result (free with db_clear) and 0 is
 * returned.  On failure everything is rolled back, res is empty, *e
 * says why and -1 is returned.  r is only used for log context.
 */
static int
db_pipeline(struct db *db, const char *tenant, const char *user,
    const struct db_query *q, size_t n, PGresult **res, enum err *e,
    struct req *r)
{
	const char	*ctx[2] = { tenant ? tenant : "", user ? user : "" };
	PGconn		*c;
	PGresult	*pr;
	size_t		 i, idx = 0;
	int		 failed = 0, done = 0;
	char		 state[6] = "";

	for (i = 0; i < n; i++)
		res[i] = NULL;
	if ((c = db_connect(db)) == NULL) {
		*e = ERR_UNAVAILABLE;
		return -1;
	}
	if (!PQsendQueryParams(c, ctx_sql, 2, NULL, ctx, NULL, NULL, 0))
		goto lost;
	for (i = 0; i < n; i++)
		if (!PQsendQueryParams(c, q[i].sql, q[i].nparams, NULL,
		    q[i].params, NULL, NULL, 0))
			goto lost;
	if (!PQpipelineSync(c))
		goto lost;

	/* Results: the context (idx 0), then the queries, then the Sync. */
	while (!done) {
		if ((pr = PQgetResult(c)) == NULL) {
			if (++idx > n + 2 || PQstatus(c) == CONNECTION_BAD)
				goto lost;
			continue;
		}
		switch (PQresultStatus(pr)) {
		case PGRES_PIPELINE_SYNC:
			done = 1;
			PQclear(pr);
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (idx >= 1 && idx <= n && !failed)
				res[idx - 1] = pr;
			else
				PQclear(pr);
			break;
		case PGRES_PIPELINE_ABORTED:
			PQclear(pr);
			break;
		default:
			if (!failed) {
				const char *s = PQresultErrorField(pr,
				    PG_DIAG_SQLSTATE);
				snprintf(state, sizeof(state), "%s", s ? s : "");
				LOG_ERR(r, "db: statement %zu failed: SQLSTATE %s: %s",
				    idx, state, PQresultErrorField(pr,
				    PG_DIAG_MESSAGE_PRIMARY));
			}
			failed = 1;
			PQclear(pr);
			if (PQstatus(c) == CONNECTION_BAD)
				goto lost;
		}
	}
	if (failed) {
		db_clear(res, n);
		*e = db_err_for(state);
		return -1;
	}
	return 0;
lost:
	LOG_ERR(r, "db: connection lost: %s", PQerrorMessage(c));
	db_clear(res, n);
	db_close(db);
	*e = ERR_UNAVAILABLE;
	return -1;
}

/*
 * db_run_as() for code without a request (cron, tools): the error is
 * logged, not answered.
 */
int
db_run_as(struct db *db, const char *tenant, const char *user,
    const struct db_query *q, size_t n, PGresult **res, struct req *r)
{
	enum err	e;

	return db_pipeline(db, tenant, user, q, n, res, &e, r);
}

/*
 * Run the queries as the request's principal.  On failure the error
 * response (503 when the database is unreachable) is already written.
 */
int
db_run(struct req *r, const struct db_query *q, size_t n, PGresult **res)
{
	enum err	e;

	if (db_pipeline(&r->app->db, r->auth.tenant_id, r->auth.user_id, q, n,
	    res, &e, r) == 0)
		return 0;
	if (e == ERR_UNAVAILABLE)
		http_error(r, e, "the database is unavailable");
	else if (e == ERR_CONFLICT)
		http_error(r, e, "the request conflicts with existing data");
	else
		http_error(r, e, NULL);
	return -1;
}

/* Round trip to the server outside any tenant; *ms gets the latency. */
int
db_ping(struct db *db, double *ms)
{
	static const struct db_query	 q = { "SELECT 1", 0, NULL };
	PGresult			*res;
	double				 t0 = now_ms();

	if (db_run_as(db, NULL, NULL, &q, 1, &res, NULL) == -1)
		return -1;
	PQclear(res);
	*ms = now_ms() - t0;
	return 0;
}

/* A field's text, or NULL when it is SQL NULL. */
const char *
db_value(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

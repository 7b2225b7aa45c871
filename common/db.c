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

/* What pg_stat_activity shows of our sessions (db_set_name()). */
static const char	*app_name = "app";

/*
 * The schema version the program needs (db_set_schema()), and what is
 * wrong with the database's, if anything.  A database whose schema is
 * older than the program is refused at each new connection, before any
 * statement runs: requests get a 503, never a half-working answer.
 * While it is, connections are tried again at most once a second, and
 * the log line repeats once a minute.
 */
#define SCHEMA_RETRY_MS		1000
#define SCHEMA_LOG_MS		60000
static int	 schema_need;
static char	 schema_problem[160];
static double	 schema_retry_at, schema_logged_at;

static PGconn	*db_connect(struct db *);

/* The installation's name, for the sessions opened from now on. */
void
db_set_name(const char *name)
{
	if (name != NULL)
		app_name = name;
}

/* The schema version the program needs; 0 (the default) checks nothing. */
void
db_set_schema(int version)
{
	schema_need = version;
}

int
db_schema_need(void)
{
	return schema_need;
}

/* Why the database is refused ("the database schema is version 5, ..."), or "". */
const char *
db_schema_problem(void)
{
	return schema_problem;
}

/*
 * Connect now and check the schema: for the programs that refuse to
 * start against a database too old for them (cron binaries, tools).
 * Returns 0, or -1 after logging why.
 */
int
db_schema_check(struct db *db)
{
	schema_logged_at = -SCHEMA_LOG_MS;	/* said now, whatever before */
	schema_retry_at = 0;
	if (db_connect(db) != NULL)
		return 0;
	if (schema_problem[0] == '\0')
		LOG_ERR(NULL, "db: cannot reach PostgreSQL to check the schema "
		    "version");
	return -1;
}

/* Close the connection; the next request opens a new one. */
void
db_close(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->tx_state = DB_TX_NONE;
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

/* Server notices (a WARNING for ROLLBACK outside a transaction) go to the log, not stderr. */
static void
db_notice(void *arg, const char *message)
{
	(void)arg;
	LOG_DEBUG(NULL, "db: %.*s", (int)strcspn(message, "\n"), message);
}

/* The version the database records: max(version) of schema_migrations, 0 without one. */
static int
schema_version(PGconn *c, int *have)
{
	PGresult	*res;
	const char	*state;
	long long	 v = 0;
	int		 rc = 0;

	res = PQexec(c, "SELECT max(version)::text FROM schema_migrations");
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		if (!PQgetisnull(res, 0, 0))
			v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	} else if ((state = PQresultErrorField(res, PG_DIAG_SQLSTATE)) == NULL ||
	    strcmp(state, "42P01") != 0) {	/* no such table: version 0 */
		LOG_ERR(NULL, "db: cannot read the schema version: %s",
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL ?
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
		    PQerrorMessage(c));
		rc = -1;
	}
	PQclear(res);
	*have = v < 0 ? 0 : v > 1000000 ? 1000000 : (int)v;
	return rc;
}

/*
 * Predicate: the database's schema is as new as the program needs.
 * Says why not, once a minute, and keeps it for db_schema_problem().
 */
static int
schema_ok(PGconn *c)
{
	int	have;

	if (schema_need == 0)
		return 1;
	if (schema_version(c, &have) == -1)
		return 0;
	if (have >= schema_need) {
		schema_problem[0] = '\0';
		return 1;
	}
	snprintf(schema_problem, sizeof(schema_problem), "the database schema "
	    "is version %d, this program needs %d: apply the migrations "
	    "(%s-migrate)", have, schema_need, app_name);
	if (now_ms() >= schema_logged_at + SCHEMA_LOG_MS) {
		LOG_ERR(NULL, "db: %s", schema_problem);
		schema_logged_at = now_ms();
	}
	return 0;
}

static PGconn *
db_connect(struct db *db)
{
	const char	*keys[5], *vals[5];
	char		 timeout[16], options[128];

	if (db->conn != NULL && !db_stale(db->conn))
		return db->conn;
	db_close(db);
	if (schema_problem[0] != '\0' && now_ms() < schema_retry_at)
		return NULL;
	snprintf(timeout, sizeof(timeout), "%d", cfg.db_connect_timeout);
	snprintf(options, sizeof(options), "-c statement_timeout=%d "
	    "-c TimeZone=UTC", cfg.db_statement_timeout_ms);
	keys[0] = "dbname";		vals[0] = cfg.db_conninfo;
	keys[1] = "connect_timeout";	vals[1] = timeout;
	keys[2] = "application_name";	vals[2] = app_name;
	keys[3] = "options";		vals[3] = options;
	keys[4] = NULL;			vals[4] = NULL;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		LOG_WARN(NULL, "db: connect failed: %s",
		    PQerrorMessage(db->conn));
		db_close(db);
		return NULL;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	if (!schema_ok(db->conn)) {
		schema_retry_at = now_ms() + SCHEMA_RETRY_MS;
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
	if (*state == '\0' || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0 || strcmp(state, "53300") == 0 ||
	    strcmp(state, "57014") == 0 || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
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
 * One round trip: send the statements and a Sync, then collect one
 * result per statement.  res[i] gets statement i's result when want[i]
 * is set (NULL want: every result wanted).  On any failure nothing is
 * kept, *e says why, and -1 is returned; a lost connection is closed so
 * that the next call opens a new one.
 */
static int
db_roundtrip(struct db *db, const struct db_query *q, size_t n,
    const int *want, PGresult **res, enum err *e, struct req *r)
{
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
	for (i = 0; i < n; i++)
		if (!PQsendQueryParams(c, q[i].sql, q[i].nparams, NULL,
		    q[i].params, NULL, NULL, 0))
			goto lost;
	if (!PQpipelineSync(c))
		goto lost;

	while (!done) {
		if ((pr = PQgetResult(c)) == NULL) {
			if (++idx > n || PQstatus(c) == CONNECTION_BAD)
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
			if (idx < n && !failed && (want == NULL || want[idx]))
				res[idx] = pr;
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

#define DB_BATCH_MAX	16

/*
 * Run the queries in one transaction with the tenant context set, in
 * one round trip: the context, the queries, and the Sync that commits
 * (or, after an error, rolls back) the implicit transaction they share.
 * On success res[i] holds query i's result (free with db_clear()).  r
 * is only used for log context; the error is logged, not answered.
 */
int
db_run_as(struct db *db, const char *tenant, const char *user,
    const struct db_query *q, size_t n, PGresult **res, struct req *r)
{
	enum err	e;

	return db_batch(db, tenant, user, q, n, res, &e, r);
}

int
db_batch(struct db *db, const char *tenant, const char *user,
    const struct db_query *q, size_t n, PGresult **res, enum err *e,
    struct req *r)
{
	const char	*ctx[2] = { tenant ? tenant : "", user ? user : "" };
	struct db_query	 all[DB_BATCH_MAX + 1];
	PGresult	*got[DB_BATCH_MAX + 1];
	size_t		 i;

	if (n > DB_BATCH_MAX) {
		LOG_ERR(r, "db: %zu statements in one batch, the most is %d",
		    n, DB_BATCH_MAX);
		*e = ERR_INTERNAL;
		return -1;
	}
	all[0] = (struct db_query){ ctx_sql, 2, ctx };
	for (i = 0; i < n; i++)
		all[i + 1] = q[i];
	if (db_roundtrip(db, all, n + 1, NULL, got, e, r) == -1)
		return -1;
	PQclear(got[0]);
	for (i = 0; i < n; i++)
		res[i] = got[i + 1];
	return 0;
}

/* Answer a database error: 503 when it is unreachable, and so on. */
static void
db_fail(struct req *r, enum err e)
{
	if (e == ERR_UNAVAILABLE && schema_problem[0] != '\0')
		http_error(r, e, "the database schema is older than this server "
		    "needs");
	else if (e == ERR_UNAVAILABLE)
		http_error(r, e, "the database is unavailable");
	else if (e == ERR_CONFLICT)
		http_error(r, e, "the request conflicts with existing data");
	else
		http_error(r, e, NULL);
}

/*
 * Run the queries as the request's principal.  On failure the error
 * response (503 when the database is unreachable) is already written.
 */
int
db_run(struct req *r, const struct db_query *q, size_t n, PGresult **res)
{
	enum err	e;

	if (db_batch(&r->app->db, r->auth.tenant_id, r->auth.user_id, q, n,
	    res, &e, r) == 0)
		return 0;
	db_fail(r, e);
	return -1;
}

/*
 * Interactive transactions, for work that must read, decide (perhaps
 * call another service) and write under one snapshot or row lock.
 * db_tx_begin() only queues BEGIN and the tenant context; they travel
 * with the first db_tx_exec(), so a transaction costs one round trip
 * per statement plus the COMMIT.  After any failure the transaction is
 * rolled back and closed: the caller stops there.
 */
void
db_tx_begin(struct db *db, const char *tenant, const char *user)
{
	snprintf(db->tx_tenant, sizeof(db->tx_tenant), "%s", tenant ? tenant : "");
	snprintf(db->tx_user, sizeof(db->tx_user), "%s", user ? user : "");
	db->tx_state = DB_TX_PENDING;
}

static void
db_tx_abort(struct db *db, struct req *r)
{
	static const struct db_query	 rb = { "ROLLBACK", 0, NULL };
	PGresult			*res;
	enum err			 e;

	/* Even a failed first statement ran after its BEGIN: roll back. */
	db->tx_state = DB_TX_NONE;
	if (db->conn != NULL && db_roundtrip(db, &rb, 1, NULL, &res, &e, r) == 0)
		PQclear(res);
}

/* One statement of the open transaction; NULL (and rolled back) on failure. */
PGresult *
db_tx_exec(struct db *db, const struct db_query *q, enum err *e, struct req *r)
{
	const char	*ctx[2] = { db->tx_tenant, db->tx_user };
	struct db_query	 all[3];
	PGresult	*got[3];
	int		 want[3] = { 0, 0, 1 };
	size_t		 n = 0;

	if (db->tx_state == DB_TX_NONE) {
		LOG_ERR(r, "db: statement outside a transaction");
		*e = ERR_INTERNAL;
		return NULL;
	}
	if (db->tx_state == DB_TX_PENDING) {
		all[n++] = (struct db_query){ "BEGIN", 0, NULL };
		all[n++] = (struct db_query){ ctx_sql, 2, ctx };
	}
	all[n++] = *q;
	if (db_roundtrip(db, all, n, want + 3 - n, got, e, r) == -1) {
		db_tx_abort(db, r);
		return NULL;
	}
	db->tx_state = DB_TX_OPEN;
	return got[n - 1];
}

int
db_tx_commit(struct db *db, enum err *e, struct req *r)
{
	static const struct db_query	 commit = { "COMMIT", 0, NULL };
	PGresult			*res;

	if (db->tx_state != DB_TX_OPEN) {
		db->tx_state = DB_TX_NONE;
		return 0;	/* nothing was sent: nothing to commit */
	}
	db->tx_state = DB_TX_NONE;
	if (db_roundtrip(db, &commit, 1, NULL, &res, e, r) == -1)
		return -1;
	PQclear(res);
	return 0;
}

void
db_tx_rollback(struct db *db, struct req *r)
{
	if (db->tx_state == DB_TX_OPEN)
		db_tx_abort(db, r);
	db->tx_state = DB_TX_NONE;	/* PENDING: nothing was sent */
}

/* The request forms: the error response is written on failure. */
void
db_begin(struct req *r)
{
	db_tx_begin(&r->app->db, r->auth.tenant_id, r->auth.user_id);
}

PGresult *
db_exec(struct req *r, const char *sql, int nparams, const char *const *params)
{
	struct db_query	 q = { sql, nparams, params };
	PGresult	*res;
	enum err	 e;

	if ((res = db_tx_exec(&r->app->db, &q, &e, r)) == NULL)
		db_fail(r, e);
	return res;
}

int
db_commit(struct req *r)
{
	enum err	e;

	if (db_tx_commit(&r->app->db, &e, r) == -1) {
		db_fail(r, e);
		return -1;
	}
	return 0;
}

void
db_rollback(struct req *r)
{
	db_tx_rollback(&r->app->db, r);
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

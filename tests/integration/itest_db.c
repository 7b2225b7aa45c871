/* itest_db.c: libcommon's database and event calls against the real stack: batches, interactive transactions, row locks, no tenant context inherited by the connection's next request, publish. */
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "itest.h"

#define T	"org_t_itest_db"

static long
count_searches(struct db *db, const char *name)
{
	const char	*p[1] = { name };
	struct db_query	 q = { "SELECT count(*) FROM job_searches WHERE name = $1", 1, p };
	PGresult	*res;
	long		 n;

	if (db_run_as(db, T, "user_it", &q, 1, &res, NULL) == -1)
		return -1;
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

static void
test_batch(struct db *db)
{
	struct db_query	 q[3] = {
		{ "INSERT INTO tenants (kind) VALUES ('org') ON CONFLICT DO NOTHING", 0, NULL },
		{ "INSERT INTO users DEFAULT VALUES ON CONFLICT DO NOTHING", 0, NULL },
		{ "DELETE FROM job_searches", 0, NULL },
	};
	struct db_query	 bad[2] = {
		{ "INSERT INTO job_searches (name) VALUES ('batch-half')", 0, NULL },
		{ "SELECT 1/0", 0, NULL },
	};
	struct db_query	 none = { "SELECT count(*) FROM jobs", 0, NULL };
	PGresult	*res[3];

	ok(db_run_as(db, T, "user_it", q, 3, res, NULL) == 0, "a batch of three statements runs");
	db_clear(res, 3);
	ok(db_run_as(db, T, "user_it", bad, 2, res, NULL) == -1, "a batch with a failing statement fails");
	is_int(count_searches(db, "batch-half"), 0, "and its earlier statement was rolled back");
	ok(db_run_as(db, NULL, NULL, &none, 1, res, NULL) == 0 &&
	    strcmp(PQgetvalue(res[0], 0, 0), "0") == 0, "no tenant: RLS shows no rows");
	db_clear(res, 1);
}

static void
test_tx(struct db *db, struct db *other)
{
	struct db_query	 ins = { "INSERT INTO job_searches (name) VALUES ('tx-commit') RETURNING id", 0, NULL };
	struct db_query	 ins2 = { "INSERT INTO job_searches (name) VALUES ('tx-rollback')", 0, NULL };
	struct db_query	 boom = { "SELECT * FROM no_such_table", 0, NULL };
	struct db_query	 lock = { "SELECT id FROM job_searches WHERE name = 'tx-commit' FOR UPDATE", 0, NULL };
	struct db_query	 nowait = { "SELECT id FROM job_searches WHERE name = 'tx-commit' FOR UPDATE NOWAIT", 0, NULL };
	PGresult	*res;
	enum err	 e;

	db_tx_begin(db, T, "user_it");
	res = db_tx_exec(db, &ins, &e, NULL);
	ok(res != NULL && PQntuples(res) == 1, "a statement in a transaction");
	PQclear(res);
	is_int(count_searches(other, "tx-commit"), 0, "not visible to another session before COMMIT");
	ok(db_tx_commit(db, &e, NULL) == 0, "COMMIT");
	is_int(count_searches(other, "tx-commit"), 1, "visible after COMMIT");

	db_tx_begin(db, T, "user_it");
	res = db_tx_exec(db, &ins2, &e, NULL);
	PQclear(res);
	db_tx_rollback(db, NULL);
	is_int(count_searches(db, "tx-rollback"), 0, "ROLLBACK discards the insert");

	db_tx_begin(db, T, "user_it");
	res = db_tx_exec(db, &ins2, &e, NULL);
	PQclear(res);
	ok(db_tx_exec(db, &boom, &e, NULL) == NULL && e == ERR_INTERNAL, "a failing statement: NULL, internal error");
	ok(db->tx_state == DB_TX_NONE, "the transaction is closed after a failure");
	is_int(count_searches(db, "tx-rollback"), 0, "and its earlier insert was rolled back");

	db_tx_begin(db, T, "user_it");
	res = db_tx_exec(db, &lock, &e, NULL);
	ok(res != NULL && PQntuples(res) == 1, "SELECT ... FOR UPDATE holds the row");
	PQclear(res);
	db_tx_begin(other, T, "user_it");
	ok(db_tx_exec(other, &nowait, &e, NULL) == NULL && e == ERR_UNAVAILABLE,
	    "another transaction cannot take the lock (NOWAIT: 503)");
	ok(db_tx_commit(db, &e, NULL) == 0, "the first commits");
	db_tx_begin(other, T, "user_it");
	res = db_tx_exec(other, &nowait, &e, NULL);
	ok(res != NULL && PQntuples(res) == 1, "then the other gets the lock");
	PQclear(res);
	ok(db_tx_commit(other, &e, NULL) == 0, "and commits");
	db_tx_begin(db, T, "user_it");
	ok(db_tx_commit(db, &e, NULL) == 0, "committing an empty transaction sends nothing and succeeds");
}

/* What a statement run with (tenant, user) sees: "<app.tenant_id>|<app.user_id>|<A's searches>". */
static const char *
seen_as(struct db *db, const char *tenant, const char *user)
{
	static char	 out[256];
	struct db_query	 q = { "SELECT coalesce(current_setting('app.tenant_id', true), '')"
	    " || '|' || coalesce(current_setting('app.user_id', true), '') || '|' ||"
	    " (SELECT count(*) FROM job_searches WHERE name LIKE 'inherit-%')", 0, NULL };
	PGresult	*res;

	if (db_run_as(db, tenant, user, &q, 1, &res, NULL) == -1)
		return "failed";
	snprintf(out, sizeof(out), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return out;
}

/* The connection's app.tenant_id outside any request's transaction. */
static const char *
raw_setting(struct db *db)
{
	static char	 out[256];
	PGresult	*res;

	/* db.c keeps the connection in pipeline mode; it is idle between requests. */
	if (PQexitPipelineMode(db->conn) != 1)
		return "busy";
	res = PQexec(db->conn, "SELECT coalesce(current_setting('app.tenant_id', true), '')");
	snprintf(out, sizeof(out), "%s", PQresultStatus(res) == PGRES_TUPLES_OK ?
	    PQgetvalue(res, 0, 0) : PQerrorMessage(db->conn));
	PQclear(res);
	PQenterPipelineMode(db->conn);
	return out;
}

/*
 * Issue 15 (d): a worker keeps one connection for all its requests; the
 * tenant context of one request (set_config(..., true)) must end with
 * its transaction, whichever way it ended, so that the next request on
 * the connection, without a tenant or with another, sees nothing of the
 * first's.
 */
static void
test_no_inherit(struct db *db)
{
	struct db_query	 ins = { "INSERT INTO job_searches (name) VALUES ('inherit-1')", 0, NULL };
	struct db_query	 boom = { "SELECT 1/0", 0, NULL };
	struct db_query	 q[2] = {
		{ "INSERT INTO tenants (kind) VALUES ('org') ON CONFLICT DO NOTHING", 0, NULL },
		{ "INSERT INTO users DEFAULT VALUES ON CONFLICT DO NOTHING", 0, NULL },
	};
	PGresult	*res[2];
	PGconn		*conn;
	enum err	 e;

	ok(db_run_as(db, T, "user_it", q, 2, res, NULL) == 0, "the tenant and user exist");
	db_clear(res, 2);
	ok(db_run_as(db, T, "user_it", &ins, 1, res, NULL) == 0, "request 1: tenant A writes a row");
	db_clear(res, 1);
	conn = db->conn;
	is_str(seen_as(db, T, "user_it"), T "|user_it|1", "request 1 sees it");
	is_str(raw_setting(db), "", "after it, the connection holds no tenant (set_config(..., true))");
	is_str(seen_as(db, NULL, NULL), "||0", "request 2 on the same connection, no tenant: no context, no row");
	ok(db->conn == conn, "(the same connection)");
	is_str(seen_as(db, "org_t_itest_db_other", "user_x"), "org_t_itest_db_other|user_x|0",
	    "request 2 as another tenant: its own context, none of A's rows");

	/* A request that failed part-way: its context goes with its rollback. */
	db_tx_begin(db, T, "user_it");
	res[0] = db_tx_exec(db, &ins, &e, NULL);
	PQclear(res[0]);
	ok(db_tx_exec(db, &boom, &e, NULL) == NULL, "request 3 (tenant A) fails inside its transaction");
	is_str(raw_setting(db), "", "after it, the connection holds no tenant");
	is_str(seen_as(db, NULL, NULL), "||0", "request 4, no tenant: nothing of request 3");
	ok(db->conn == conn, "(still the same connection)");

	/* An interactive transaction committed: its context ends too. */
	db_tx_begin(db, T, "user_it");
	res[0] = db_tx_exec(db, &ins, &e, NULL);
	PQclear(res[0]);
	ok(db_tx_commit(db, &e, NULL) == 0, "request 5 (tenant A) commits an interactive transaction");
	is_str(raw_setting(db), "", "after it, the connection holds no tenant");
	is_str(seen_as(db, "org_t_itest_db_other", "user_x"), "org_t_itest_db_other|user_x|0",
	    "request 6 as another tenant: nothing of A");
	is_str(seen_as(db, T, "user_it"), T "|user_it|2", "(A has its two rows)");
}

static void
test_events(void)
{
	struct redis	 rd = { 0 };
	redisContext	*sub;
	redisReply	*reply;
	json_object	*env, *v;
	const char	*why;
	char		 id[64], key[128];
	int		 i, okay = 1;

	sub = itest_redis();
	reply = redisCommand(sub, "SUBSCRIBE %s", EVENTS_CHANNEL);
	freeReplyObject(reply);
	ok(events_publish(&rd, "job:new", T, NULL, "{\"title\":\"caf\\u00e9 \\\"x\\\"\"}", id, sizeof(id)) == 0,
	    "publish succeeds");
	ok(strchr(id, '-') != NULL, "and returns the stream id %s", id);
	ok(redisGetReply(sub, (void **)&reply) == REDIS_OK && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == 3, "a subscriber receives it");
	env = json_parse_strict(reply->element[2]->str, reply->element[2]->len, 8, &why);
	ok(env != NULL, "the envelope is valid JSON");
	ok(json_object_object_get_ex(env, "id", &v) && strcmp(json_object_get_string(v), id) == 0, "envelope id");
	ok(json_object_object_get_ex(env, "type", &v) && strcmp(json_object_get_string(v), "job:new") == 0, "type");
	ok(json_object_object_get_ex(env, "tenant", &v) && strcmp(json_object_get_string(v), T) == 0, "tenant");
	ok(json_object_object_get_ex(env, "user", &v) && v == NULL, "user null for a tenant-wide event");
	ok(json_object_object_get_ex(env, "time", &v) && strlen(json_object_get_string(v)) == 24, "time");
	ok(json_object_object_get_ex(env, "data", &v) &&
	    strcmp(json_object_get_string(json_object_object_get(v, "title")), "caf\xc3\xa9 \"x\"") == 0,
	    "data carried intact");
	json_object_put(env);
	freeReplyObject(reply);
	redisFree(sub);

	for (i = 0; i < 1100; i++)
		okay &= events_publish(&rd, "job:new", T, "user_it", "{}", NULL, 0) == 0;
	ok(okay, "1,100 more events published");
	snprintf(key, sizeof(key), "%s%s", EVENTS_STREAM_PREFIX, T);
	sub = itest_redis();
	reply = redisCommand(sub, "XLEN %s", key);
	ok(reply->integer >= EVENTS_STREAM_MAX && reply->integer <= EVENTS_STREAM_MAX + 200,
	    "the stream stays bounded (%lld entries)", reply->integer);
	freeReplyObject(reply);
	reply = redisCommand(sub, "TTL %s", key);
	ok(reply->integer > 0 && reply->integer <= EVENTS_STREAM_TTL, "the stream expires (TTL %lld)", reply->integer);
	freeReplyObject(reply);
	redisFree(sub);
	ok(events_publish(&rd, "x", T, NULL, "{}", NULL, 0) == 0, "publish again on the same connection");
	redis_close(&rd);
}

int
main(void)
{
	struct db	db = { 0 }, other = { 0 };

	itest_setup("itest_db");
	test_batch(&db);
	test_tx(&db, &other);
	test_no_inherit(&db);
	test_events();
	db_close(&db);
	db_close(&other);
	config_free();
	return done_testing();
}

/* itest_upwork.c: the Upwork client against the real Redis (or PostgreSQL without it), PostgreSQL and the fake Upwork: the shared rate limit across processes, the daily cap, concurrent token refreshes, revocation. */
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>

#include "itest.h"

#define T	"org_t_itest_upwork"

static char	fake_base[512];
static char	account[64];

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	buf_append(arg, p, size * n);
	return size * n;
}

/* A request to the fake's control routes; returns the body (caller frees). */
static char *
fake(const char *method, const char *path, const char *json)
{
	CURL			*c = curl_easy_init();
	struct curl_slist	*h = curl_slist_append(NULL, "Content-Type: application/json");
	struct buf		 b = { 0 };
	char			 url[1024];

	snprintf(url, sizeof(url), "%s%s", fake_base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (json != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	buf_putc(&b, '\0');
	return b.data;
}

/* A number from the fake's counters for the account. */
static long
fake_stat(const char *key, const char *field)
{
	char		 path[200], *body;
	json_object	*o, *v;
	const char	*why;
	long		 n = -1;

	snprintf(path, sizeof(path), "/_fake/%s", key);
	body = fake("GET", path, NULL);
	if ((o = json_parse_strict(body, strlen(body), 8, &why)) != NULL &&
	    json_object_object_get_ex(o, field, &v))
		n = (long)json_object_get_int64(v);
	json_object_put(o);
	free(body);
	return n;
}

static void
fake_config(const char *key, const char *json)
{
	char	path[200];

	snprintf(path, sizeof(path), "/_fake/%s/%s", key, json ? "config" : "reset");
	free(fake("POST", path, json));
}

/* The consent step: the fake's authorize page redirects with a code. */
static int
authorize(const char *key, char *code, size_t n)
{
	CURL		*c = curl_easy_init();
	char		*redirect = NULL, *enc, url[2048];
	const char	*p;
	struct buf	 b = { 0 };
	int		 rc = -1;

	enc = curl_easy_escape(c, agent_cfg.upwork_redirect_uri, 0);
	snprintf(url, sizeof(url), "%s?response_type=code&client_id=%s"
	    "&redirect_uri=%s&fake_account=%s", agent_cfg.upwork_authorize_url,
	    agent_cfg.upwork_client_id, enc, key);
	curl_free(enc);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) == CURLE_OK &&
	    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK &&
	    redirect != NULL && (p = strstr(redirect, "code=")) != NULL) {
		snprintf(code, n, "%.*s", (int)strcspn(p + 5, "&"), p + 5);
		rc = 0;
	}
	curl_easy_cleanup(c);
	buf_free(&b);
	return rc;
}

/* Connect T to a fresh fake account, as the callback does. */
static int
connect_tenant(struct upwork *up, struct db *db, const char *key)
{
	struct db_query		 q = { "INSERT INTO tenants (kind) VALUES ('org')"
				    " ON CONFLICT DO NOTHING", 0, NULL };
	struct upwork_tokens	 t;
	struct upwork_err	 e;
	PGresult		*res;
	char			 code[200];

	if (db_run_as(db, T, "user_it", &q, 1, &res, NULL) == -1)
		return -1;
	PQclear(res);
	if (authorize(key, code, sizeof(code)) == -1 ||
	    upwork_exchange_code(up, code, &t, &e) == -1 ||
	    upwork_account_store(up, db, T, "user_it", NULL, &t, &e) == -1)
		return -1;
	return 0;
}

static const char *
account_sql(struct db *db, const char *sql)
{
	static char	 out[256];
	struct db_query	 q = { sql, 0, NULL };
	PGresult	*res;

	snprintf(out, sizeof(out), "(error)");
	if (db_run_as(db, T, NULL, &q, 1, &res, NULL) == 0) {
		if (PQntuples(res) > 0)
			snprintf(out, sizeof(out), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return out;
}

static int
one_search(struct upwork *up, const struct upwork_auth *a, struct upwork_err *e)
{
	struct upwork_filter	f = { .first = 1 };
	struct upwork_page	p;
	int			rc = upwork_search(up, a, &f, &p, e);

	upwork_page_free(&p);
	return rc;
}

/* n processes make k searches each, together; returns the successes. */
static int
searches_in(int n, int k, const struct upwork_auth *a)
{
	int	i, status, total = 0;
	pid_t	pid;

	for (i = 0; i < n; i++)
		if ((pid = fork()) == 0) {
			struct db		rd_db = { 0 };
			struct redis		rd = { .pg = &rd_db };
			struct upwork		up;
			struct upwork_err	e;
			int			j, good = 0;

			upwork_init(&up, &rd);
			for (j = 0; j < k; j++)
				good += one_search(&up, a, &e) == 0;
			upwork_free(&up);
			redis_close(&rd);
			db_close(&rd_db);
			_exit(good);
		}
	while (wait(&status) > 0)
		total += WEXITSTATUS(status);
	return total;
}

static void
test_shared_rate(const struct upwork_auth *a)
{
	char		 key[64];
	double		 t0;
	int		 good;
	redisContext	*c = redis_enabled() ? itest_redis() : NULL;
	redisReply	*v;

	snprintf(key, sizeof(key), "itest-rl-%ld-%ld", (long)getpid(), (long)time(NULL));
	agent_cfg.upwork_client_id = key;	/* a bucket of this test's own */
	agent_cfg.upwork_rate_per_sec = 10;
	t0 = now_ms();
	good = searches_in(3, 10, a);
	is_int(good, 30, "three processes make 30 calls together, all answered");
	ok(now_ms() - t0 >= 2900, "and take %.0f ms: at 10/s, no less than 2.9 s", now_ms() - t0);
	if (!redis_enabled()) {
		struct db	 db = { 0 };
		const char	*params[1] = { key };
		struct db_query	 q = { "SELECT used FROM upwork_limits WHERE key = $1", 1, params };
		PGresult	*res = NULL;

		ok(db_run_as(&db, NULL, NULL, &q, 1, &res, NULL) == 0 &&
		    PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) == 30,
		    "the day's count in upwork_limits is 30: one counter for every process");
		if (res != NULL)
			PQclear(res);
		db_close(&db);
		return;
	}
	v = redisCommand(c, "GET upw:upwork:{%s}:day:%ld", key, (long)(time(NULL) / 86400));
	ok(v != NULL && v->type == REDIS_REPLY_STRING && atoi(v->str) == 30,
	    "the day's count in Redis is 30: one counter for every process (%s)",
	    v && v->str ? v->str : "nil");
	freeReplyObject(v);
	redisFree(c);
}

static void
test_daily_cap(const struct upwork_auth *a)
{
	struct db		 rd_db = { 0 };
	struct redis		 rd = { .pg = &rd_db };
	struct upwork		 up;
	struct upwork_err	 e;
	char			 key[64];
	double			 t0;
	int			 i, good = 0, status;
	pid_t			 pid;

	upwork_init(&up, &rd);
	snprintf(key, sizeof(key), "itest-cap-%ld-%ld", (long)getpid(), (long)time(NULL));
	agent_cfg.upwork_client_id = key;
	agent_cfg.upwork_rate_per_sec = 1000;
	agent_cfg.upwork_rate_per_day = 5;
	for (i = 0; i < 5; i++)
		good += one_search(&up, a, &e) == 0;
	is_int(good, 5, "a daily cap of 5: five calls pass");
	t0 = now_ms();
	ok(one_search(&up, a, &e) == -1 && e.fail == UPW_BUDGET && e.err == ERR_UNAVAILABLE,
	    "the sixth is refused");
	ok(strstr(e.msg, "the day's Upwork request budget is spent (5 of 5 used)") != NULL,
	    "clearly: %s", e.msg);
	ok(now_ms() - t0 < 1000, "at once, without waiting");
	if ((pid = fork()) == 0) {
		struct db	r2_db = { 0 };
		struct redis	r2 = { .pg = &r2_db };
		struct upwork	u2;

		upwork_init(&u2, &r2);
		_exit(one_search(&u2, a, &e) == -1 && e.fail == UPW_BUDGET ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WEXITSTATUS(status) == 0, "a new process is refused too: the cap is not per process");

	snprintf(key, sizeof(key), "itest-reserve-%ld-%ld", (long)getpid(), (long)time(NULL));
	agent_cfg.upwork_client_id = key;
	up.reserve = 3;
	good = 0;
	for (i = 0; i < 3; i++)
		good += one_search(&up, a, &e) == 0;
	is_int(good, 2, "with 3 of 5 reserved for others, a caller gets 2");
	ok(strstr(e.msg, "reserved for polling") != NULL, "and is told why: %s", e.msg);
	up.reserve = 0;
	ok(one_search(&up, a, &e) == 0, "the reserve is there for a caller without one");
	agent_cfg.upwork_rate_per_day = 40000;
	upwork_free(&up);
	redis_close(&rd);
	db_close(&rd_db);
}

static void
test_wait(const struct upwork_auth *a)
{
	struct db		 rd_db = { 0 };
	struct redis		 rd = { .pg = &rd_db };
	struct upwork		 up;
	struct upwork_err	 e;
	char			 key[64];
	double			 t0;
	int			 status;
	pid_t			 pid;

	upwork_init(&up, &rd);
	snprintf(key, sizeof(key), "itest-wait-%ld-%ld", (long)getpid(), (long)time(NULL));
	agent_cfg.upwork_client_id = key;
	agent_cfg.upwork_rate_per_sec = 1;
	agent_cfg.upwork_rate_wait_ms = 300;
	ok(one_search(&up, a, &e) == 0, "1/s: a first call goes at once");
	t0 = now_ms();
	ok(one_search(&up, a, &e) == -1 && e.fail == UPW_BUDGET &&
	    strstr(e.msg, "no Upwork request slot within 300 ms") != NULL,
	    "the next slot is too far for a caller that waits 300 ms: %s", e.msg);
	ok(now_ms() - t0 < 900, "it gives up without waiting for the slot");
	ok(e.retry_after_ms > 300 && e.retry_after_ms <= 1000, "and says when the slot comes (%lld ms)",
	    e.retry_after_ms);

	/* After Upwork's 429 every process pauses, not only the one that got it. */
	snprintf(key, sizeof(key), "itest-pause-%ld-%ld", (long)getpid(), (long)time(NULL));
	agent_cfg.upwork_client_id = key;
	agent_cfg.upwork_rate_per_sec = 10;
	agent_cfg.upwork_rate_wait_ms = 30000;
	ok(upwork_rl_pause(&rd, key, 1000) == 0, "a 429's Retry-After pauses the key for 1 s");
	t0 = now_ms();
	if ((pid = fork()) == 0) {
		struct db		r2_db = { 0 };
		struct redis		r2 = { .pg = &r2_db };
		struct upwork_err	e2;

		_exit(upwork_rl_take(&r2, key, 0, 0, &e2) == 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WEXITSTATUS(status) == 0 && now_ms() - t0 >= 950,
	    "another process's next request waits it out (%.0f ms)", now_ms() - t0);
	upwork_free(&up);
	redis_close(&rd);
	db_close(&rd_db);
}

/* Two processes find the token due and refresh at once. */
static void
test_refresh(struct db *db)
{
	struct db		 rd_db = { 0 };
	struct redis		 rd = { .pg = &rd_db };
	struct upwork		 up;
	struct upwork_auth	 a;
	struct upwork_err	 e;
	char			 key[96], json[128];
	int			 i, status, good = 0, gen;
	pid_t			 pid;

	upwork_init(&up, &rd);
	snprintf(key, sizeof(key), "%s-refresh", account);
	fake_config(key, NULL);
	/* 60 s tokens are always within the 300 s skew; each refresh takes 700 ms. */
	snprintf(json, sizeof(json), "{\"expiresIn\":60,\"tokenDelayMs\":700}");
	fake_config(key, json);
	ok(connect_tenant(&up, db, key) == 0, "a tenant connects (tokens valid 60 s)");
	gen = atoi(account_sql(db, "SELECT token_generation FROM upwork_accounts"));
	for (i = 0; i < 2; i++)
		if ((pid = fork()) == 0) {
			struct db	r2_db = { 0 };
			struct redis	r2 = { .pg = &r2_db };
			struct upwork	u2;
			struct db	d2 = { 0 };
			int		rc;

			upwork_init(&u2, &r2);
			rc = upwork_token(&u2, &d2, T, 0, &a, &e) == 0 &&
			    one_search(&u2, &a, &e) == 0;
			_exit(rc ? 0 : 1);
		}
	while (wait(&status) > 0)
		good += WEXITSTATUS(status) == 0;
	is_int(good, 2, "two processes refreshing at once both end with a working token");
	is_int(fake_stat(key, "refreshes"), 1, "Upwork saw one refresh: the second process used the first's pair");
	is_int(fake_stat(key, "refreshRejected"), 0, "no refresh token was sent twice");
	snprintf(json, sizeof(json), "connected %d", gen + 1);
	is_str(account_sql(db, "SELECT status || ' ' || token_generation FROM upwork_accounts"),
	    json, "the rotated pair is stored, once");
	ok(upwork_token(&up, db, T, 0, &a, &e) == 0 && one_search(&up, &a, &e) == 0,
	    "a later refresh uses the rotated refresh token");
	is_int(fake_stat(key, "refreshes"), 2, "(a second refresh)");
	ok(upwork_token(&up, db, T, 1, &a, &e) == 0 && fake_stat(key, "refreshes") == 3,
	    "force refreshes even a fresh pair (after a 401)");

	snprintf(json, sizeof(json), "/_fake/%s/revoke", key);
	free(fake("POST", json, "{}"));
	ok(upwork_token(&up, db, T, 0, &a, &e) == -1 && e.fail == UPW_NOT_CONNECTED &&
	    e.err == ERR_UPWORK_NOT_CONNECTED, "a revoked refresh token: not connected (%s)", e.msg);
	is_str(account_sql(db, "SELECT status || ' ' || (access_token IS NULL)"
	    " FROM upwork_accounts"), "disconnected true", "the tenant is marked disconnected");
	ok(upwork_token(&up, db, T, 0, &a, &e) == -1 && e.fail == UPW_NOT_CONNECTED &&
	    strstr(e.msg, "connect again") != NULL, "and stays so, saying what to do");
	upwork_free(&up);
	redis_close(&rd);
	db_close(&rd_db);
}

int
main(void)
{
	struct db		 rd_db = { 0 };
	struct redis		 rd = { .pg = &rd_db };
	struct db		 db = { 0 };
	struct upwork		 up;
	struct upwork_auth	 a;
	struct upwork_err	 e;
	struct db_query		 del = { "DELETE FROM tenants", 0, NULL };
	PGresult		*res;
	char			*client = NULL;

	itest_setup("itest_upwork");
	if (*agent_cfg.upwork_client_id == '\0') {
		printf("1..0 # SKIP the stack has no Upwork configured\n");
		return 0;
	}
	snprintf(fake_base, sizeof(fake_base), "%.*s",
	    (int)(strlen(agent_cfg.upwork_graphql_url) - strlen("/graphql")),
	    agent_cfg.upwork_graphql_url);
	snprintf(account, sizeof(account), "itest-%ld", (long)getpid());
	if (db_run_as(&db, T, NULL, &del, 1, &res, NULL) == 0)
		PQclear(res);
	upwork_init(&up, &rd);
	fake_config(account, NULL);
	ok(connect_tenant(&up, &db, account) == 0, "code exchange and sealed storage");
	ok(upwork_token(&up, &db, T, 0, &a, &e) == 0 && strncmp(a.access, "oauth2v2_", 9) == 0,
	    "the stored access token opens");
	client = agent_cfg.upwork_client_id;
	test_shared_rate(&a);
	test_daily_cap(&a);
	test_wait(&a);
	agent_cfg.upwork_client_id = client;
	agent_cfg.upwork_rate_per_sec = 10;
	test_refresh(&db);
	if (db_run_as(&db, T, NULL, &del, 1, &res, NULL) == 0)
		PQclear(res);
	upwork_free(&up);
	db_close(&db);
	redis_close(&rd);
	db_close(&rd_db);
	config_free();
	return done_testing();
}

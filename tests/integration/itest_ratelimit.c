/* itest_ratelimit.c: the sliding window against the real Redis, or PostgreSQL without it: exactness under concurrency, weighting, TTLs, classes. */
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "itest.h"

static char	id[96];

/* In n processes, make k decisions each; returns how many were allowed. */
static int
burst(int c, int n, int k)
{
	int	i, j, status, total = 0;
	pid_t	pid;

	for (i = 0; i < n; i++) {
		if ((pid = fork()) == 0) {
			struct db	db = { 0 };
			struct redis	rd = { .pg = &db };
			struct rl_result res;
			int		allowed = 0;

			for (j = 0; j < k; j++)
				if (rl_decide(&rd, c, id, &res) == 0 && res.allowed)
					allowed++;
			redis_close(&rd);
			db_close(&db);
			_exit(allowed);
		}
	}
	while (wait(&status) > 0)
		total += WEXITSTATUS(status);
	return total;
}

static void
test_exact(void)
{
	cfg.rl[RL_UPWORK].limit = 50;
	cfg.rl[RL_UPWORK].window = 60;
	snprintf(id, sizeof(id), "itest-exact-%ld-%ld", (long)getpid(), (long)time(NULL));
	is_int(burst(RL_UPWORK, 20, 5), 50, "20 processes x 5 decisions against a limit of 50: exactly 50 allowed");
	is_int(burst(RL_UPWORK, 4, 5), 0, "afterwards none");
}

/* Calls of EVALSHA so far, from Redis's INFO commandstats. */
static long long
evalsha_calls(void)
{
	redisContext	*c = itest_redis();
	redisReply	*v = redisCommand(c, "INFO commandstats");
	const char	*p;
	long long	 n = 0;

	if (v != NULL && v->type == REDIS_REPLY_STRING &&
	    (p = strstr(v->str, "cmdstat_evalsha:calls=")) != NULL)
		n = atoll(p + strlen("cmdstat_evalsha:calls="));
	freeReplyObject(v);
	redisFree(c);
	return n;
}

/*
 * In n processes, each taking permits through its own leases
 * (rl_take(), as rl_check() does) until it is refused once, or after
 * at most max permits; returns how many were allowed in all.
 */
static int
burst_leased(int c, int n, int max)
{
	int	i, j, fds[2], allowed, total = 0;
	pid_t	pid;

	if (pipe(fds) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((pid = fork()) == 0) {
			struct redis	rd = { 0 };
			struct rl_result res;

			close(fds[0]);
			for (allowed = j = 0; j < max; j++) {
				if (rl_take(&rd, c, id, &res) != 0 || !res.allowed)
					break;
				allowed++;
			}
			redis_close(&rd);
			_exit(write(fds[1], &allowed, sizeof(allowed)) ==
			    sizeof(allowed) ? 0 : 1);
		}
	}
	close(fds[1]);
	while (read(fds[0], &allowed, sizeof(allowed)) == sizeof(allowed))
		total += allowed;
	close(fds[0]);
	while (wait(NULL) > 0)
		;
	return total;
}

/*
 * Leasing on: workers that keep asking until refused use every permit
 * they leased, so exactly the limit passes, in far fewer round trips
 * than permits; workers that stop early leave theirs unused, and still
 * no more than the limit passes.
 */
static void
test_lease_exact(void)
{
	long long	calls;
	int		allowed, saved_max = cfg.rl_lease_max;
	int		saved_share = cfg.rl_lease_share;

	cfg.rl_lease_max = 32;
	cfg.rl_lease_share = 4;
	cfg.rl[RL_UPWORK].limit = 2000;
	cfg.rl[RL_UPWORK].window = 60;
	snprintf(id, sizeof(id), "itest-lease-%ld-%ld", (long)getpid(), (long)time(NULL));
	calls = evalsha_calls();
	allowed = burst_leased(RL_UPWORK, 16, 4000);
	calls = evalsha_calls() - calls;
	is_int(allowed, 2000, "16 processes leasing against a limit of 2000 until refused: exactly 2000 allowed");
	/*
	 * Without leases it takes one call a permit and one a refusal (2,016
	 * or more).  The count is the server's, and other test files run
	 * meanwhile: the bound leaves them room.
	 */
	ok(calls > 16 && calls < 2000, "in %lld round trips (leases of up to 32 permits; 2,016 or more without)", calls);
	is_int(burst_leased(RL_UPWORK, 4, 4000), 0, "afterwards none");

	snprintf(id, sizeof(id), "itest-lease-stop-%ld-%ld", (long)getpid(), (long)time(NULL));
	allowed = burst_leased(RL_UPWORK, 16, 50);
	is_int(allowed, 16 * 50, "16 processes x 50 permits, under the limit: all allowed");
	allowed += burst_leased(RL_UPWORK, 16, 5);
	ok(allowed <= 2000, "16 more x 5 that stop early: %d in all, never more than the limit", allowed);
	allowed += burst_leased(RL_UPWORK, 16, 4000);
	ok(allowed <= 2000 && allowed > 2000 - 2 * 16 * 32,
	    "then until refused: %d in all, never more (what the stopped ones leased is unused)", allowed);
	cfg.rl_lease_max = saved_max;
	cfg.rl_lease_share = saved_share;
}

static void
test_keys(void)
{
	struct redis	 rd = { 0 };
	struct rl_result res;
	redisContext	*c = itest_redis();
	redisReply	*v;
	long long	 w;

	rl_decide(&rd, RL_UPWORK, id, &res);
	w = res.now_ms / 60000;
	v = redisCommand(c, "PTTL rl:{upwork:%s}:%lld", id, w);
	ok(v->integer > 60000 && v->integer <= 121000, "the counter expires (PTTL %lld ms)", v->integer);
	freeReplyObject(v);
	v = redisCommand(c, "GET rl:{upwork:%s}:%lld", id, w);
	ok(v->type == REDIS_REPLY_STRING && atoi(v->str) <= 50,
	    "refused decisions did not increment the counter (%s)", v->str ? v->str : "nil");
	freeReplyObject(v);
	ok(rl_decide(&rd, RL_DEFAULT, id, &res) == 0 && res.allowed &&
	    res.remaining == cfg.rl[RL_DEFAULT].limit - 1,
	    "the same identifier in another class has a budget of its own");
	redisFree(c);
	redis_close(&rd);
}

/*
 * The weighting: fill a 2 s window completely, then half-way through the
 * next one the previous window still counts half: about limit/2 more
 * requests pass.  Redis's clock says exactly how far in we are.
 */
/* Without Redis: the identifier's one row, and refusals that do not count. */
static void
test_rows(void)
{
	struct db	 db = { 0 };
	struct redis	 rd = { .pg = &db };
	struct rl_result res;
	struct buf	 key = { 0 };
	struct db_query	 q = { "SELECT cur + prev, expires_ms - $2::bigint FROM rate_limits"
			    " WHERE key = $1", 2, NULL };
	const char	*p2[2];
	char		 now[24];
	PGresult	*pr;

	rl_decide(&rd, RL_UPWORK, id, &res);
	buf_printf(&key, "upwork:%s", id);
	snprintf(now, sizeof(now), "%lld", res.now_ms);
	p2[0] = key.data;
	p2[1] = now;
	q.params = p2;
	ok(db_run_as(&db, NULL, NULL, &q, 1, &pr, NULL) == 0 && PQntuples(pr) == 1,
	    "one row for the identifier in rate_limits");
	if (PQntuples(pr) == 1) {
		ok(atoi(PQgetvalue(pr, 0, 0)) == 50,
		    "refused decisions did not count (%s)", PQgetvalue(pr, 0, 0));
		ok(atoll(PQgetvalue(pr, 0, 1)) > 60000 && atoll(PQgetvalue(pr, 0, 1)) <= 120000,
		    "the row expires after the next window (%s ms)", PQgetvalue(pr, 0, 1));
	}
	PQclear(pr);
	ok(rl_decide(&rd, RL_DEFAULT, id, &res) == 0 && res.allowed &&
	    res.remaining == cfg.rl[RL_DEFAULT].limit - 1,
	    "the same identifier in another class has a budget of its own");
	buf_free(&key);
	db_close(&db);
}

static void
test_sliding(void)
{
	struct db	 db = { 0 };
	struct redis	 rd = { .pg = &db };
	struct rl_result res;
	long long	 window = 2000, into, lo, hi, last_ok;
	int		 limit = 100, i, allowed = 0;

	cfg.rl[RL_UPWORK].limit = limit;
	cfg.rl[RL_UPWORK].window = 2;
	snprintf(id, sizeof(id), "itest-slide-%ld-%ld", (long)getpid(), (long)time(NULL));
	/* Wait for the start of a window, then fill it. */
	rl_decide(&rd, RL_DEFAULT, "itest-clock", &res);
	sleep_ms(window - res.now_ms % window + 20);
	for (i = 0; i < limit; i++)
		allowed += rl_decide(&rd, RL_UPWORK, id, &res) == 0 && res.allowed;
	is_int(allowed, limit, "a fresh window allows the limit");
	ok(rl_decide(&rd, RL_UPWORK, id, &res) == 0 && !res.allowed, "and no more");
	/*
	 * Half-way through the next window.  Decide until refused: the
	 * algorithm says exactly where that happens, from Redis's clock at
	 * the last allowed (e_a) and the refused (e_r) decision:
	 * limit - floor(p (W - e_r) / W) <= allowed <= limit - floor(p (W - e_a) / W).
	 */
	sleep_ms(window - res.now_ms % window + window / 2);
	allowed = 0;
	last_ok = -1;
	for (i = 0; i <= limit; i++) {
		if (rl_decide(&rd, RL_UPWORK, id, &res) != 0 || !res.allowed)
			break;
		last_ok = res.now_ms % window;
		allowed++;
	}
	into = res.now_ms % window;
	lo = limit - (limit * (window - into)) / window;
	hi = last_ok < 0 ? lo : limit - (limit * (window - last_ok)) / window;
	ok(!res.allowed && allowed >= lo && allowed <= hi,
	    "%lld ms into the next window %d pass (the algorithm says %lld..%lld)", into, allowed, lo, hi);
	ok(allowed > 0 && allowed < limit, "neither none (a fixed window would not slide) nor all");
	redis_close(&rd);
	db_close(&db);
}

static void
test_down(void)
{
	struct redis	 rd = { 0 };
	struct rl_result res;
	char		*saved = cfg.redis_socket;

	cfg.redis_socket = "/nonexistent/redis.sock";
	ok(rl_decide(&rd, RL_AI, "x", &res) == -1, "Redis unreachable: no decision (the class policy applies)");
	cfg.redis_socket = saved;
	redis_close(&rd);
}

int
main(void)
{
	itest_setup("itest_ratelimit");
	test_exact();
	if (redis_enabled()) {
		test_keys();
		test_lease_exact();
		test_sliding();
		test_down();
	} else {
		test_rows();
		test_sliding();
	}
	config_free();
	return done_testing();
}

/* itest_cache.c: the cache against the real Redis: L1 bounds and LRU, generations, bypass, and the stampede guard. */
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

static struct app	app;
static char		scope[64];

static void
req_init_bare(struct req *r)
{
	memset(r, 0, sizeof(*r));
	r->app = &app;
	snprintf(r->auth.tenant_id, sizeof(r->auth.tenant_id), "%s", scope);
}

static enum cache_result
get(const char *key, struct buf *out, struct cache_lookup *lk)
{
	struct req		r;
	enum cache_result	res;

	req_init_bare(&r);
	buf_reset(out);
	res = cache_get(&r, CACHE_JOBS, key, out, lk);
	req_free(&r);
	return res;
}

static void
put(struct cache_lookup *lk, const char *val, size_t len)
{
	struct req	r;

	req_init_bare(&r);
	cache_put(&r, lk, val, len);
	req_free(&r);
}

static void
test_layers(void)
{
	struct cache_lookup	 lk;
	struct buf		 out = { 0 };

	struct timespec		 ts = { 0, 60 * 1000 * 1000 };

	cfg.cache_l1_ttl_ms = 50;
	is_int(get("k1", &out, &lk), CACHE_MISS, "a new key: MISS");
	put(&lk, "value-1", 7);
	is_int(get("k1", &out, &lk), CACHE_HIT_L1, "then HIT-L1");
	is_str(out.data, "value-1", "with the value");
	nanosleep(&ts, NULL);
	is_int(get("k1", &out, &lk), CACHE_HIT_L2, "past the L1 TTL: HIT-L2");
	cfg.cache_l1_ttl_ms = 1000;
	ok(cache_invalidate(&app.redis, CACHE_JOBS, scope) == 0, "invalidate: one INCR");
	is_int(get("k1", &out, &lk), CACHE_MISS, "after invalidation: MISS, in this worker's L1 too");
	put(&lk, "value-2", 7);
	is_int(get("k1", &out, &lk), CACHE_HIT_L1, "refilled");
	is_str(out.data, "value-2", "with the new value");

	/*
	 * A worker pausing after a Redis failure (redis_retry_ms) still
	 * invalidates: other workers would otherwise read the old entry
	 * from L2 while Redis is well.
	 */
	cfg.cache_l1_ttl_ms = 50;
	redis_fail(&app.redis);
	ok(cache_invalidate(&app.redis, CACHE_JOBS, scope) == 0,
	    "invalidate during the pause after a failure: done all the same");
	nanosleep(&ts, NULL);
	is_int(get("k1", &out, &lk), CACHE_MISS, "so the old entry is gone from L2");
	cfg.cache_l1_ttl_ms = 1000;
	buf_free(&out);
}

static void
test_bounds(void)
{
	struct cache_lookup	 lk;
	struct buf		 out = { 0 };
	const struct cache_stats *st;
	char			 key[32], val[1000];
	int			 i, within = 1;

	cfg.cache_l1_max_entries = 100;
	cfg.cache_l1_max_bytes = 64 * 1024;
	memset(val, 'v', sizeof(val));
	for (i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "bound-%d", i);
		if (get(key, &out, &lk) == CACHE_MISS)
			put(&lk, val, sizeof(val));
		if (i % 5 == 0)
			get("bound-0", &out, &lk);	/* keep this one recent */
		st = cache_get_stats();
		within &= st->l1_entries <= 100 && st->l1_bytes <= 64 * 1024;
	}
	st = cache_get_stats();
	ok(within, "3,000 distinct keys: L1 never exceeds 100 entries or 64 KiB (now %zu, %zu bytes)",
	    st->l1_entries, st->l1_bytes);
	ok(st->l1_entries >= 50, "and is actually used (%zu entries)", st->l1_entries);
	is_int(get("bound-0", &out, &lk), CACHE_HIT_L1, "the entry kept recently used survived (LRU)");
	is_int(get("bound-1", &out, &lk), CACHE_HIT_L2, "an old one was evicted from L1 but is still in Redis");
	memset(val, 'w', sizeof(val));
	{
		char	big[20000];

		memset(big, 'b', sizeof(big));
		if (get("big", &out, &lk) == CACHE_MISS)
			put(&lk, big, sizeof(big));
		is_int(get("big", &out, &lk), CACHE_HIT_L2,
		    "a value larger than a quarter of L1 stays out of L1");
		ok(out.len == sizeof(big), "but L2 returns it whole");
	}
	buf_free(&out);
}

/*
 * Eight processes miss the same key at once: one computes it (slowly),
 * the others wait for it instead of all hitting the database.
 */
static void
test_stampede(void)
{
	int	i, status, misses = 0, hits = 0;
	pid_t	pid;

	for (i = 0; i < 8; i++) {
		if ((pid = fork()) == 0) {
			struct cache_lookup	lk;
			struct buf		out = { 0 };
			enum cache_result	res;
			struct timespec		ts = { 0, 100 * 1000 * 1000 };

			memset(&app.redis, 0, sizeof(app.redis));
			res = get("stampede", &out, &lk);
			if (res == CACHE_MISS) {
				nanosleep(&ts, NULL);	/* the slow query */
				put(&lk, "computed", 8);
			}
			buf_free(&out);
			redis_close(&app.redis);
			cache_free();
			_exit(res == CACHE_MISS ? 1 : res == CACHE_HIT_L2 ? 2 : 3);
		}
	}
	while (wait(&status) > 0) {
		misses += WEXITSTATUS(status) == 1;
		hits += WEXITSTATUS(status) == 2;
	}
	is_int(misses, 1, "eight concurrent misses: one computes");
	is_int(hits, 7, "seven wait and get its value from Redis");
}

static void
test_bypass(void)
{
	struct cache_lookup	 lk;
	struct buf		 out = { 0 };
	char			*saved = cfg.redis_socket;

	redis_close(&app.redis);
	cfg.redis_socket = "/nonexistent/redis.sock";
	is_int(get("k1", &out, &lk), CACHE_BYPASS, "Redis unreachable: BYPASS, even with an L1 entry");
	put(&lk, "x", 1);	/* harmless: nothing to fill */
	cfg.redis_socket = saved;
	app.redis.down_until = 0;
	cfg.cache_enabled = 0;
	is_int(get("k1", &out, &lk), CACHE_BYPASS, "cache_enabled = 0: BYPASS");
	cfg.cache_enabled = 1;
	buf_free(&out);
}

int
main(void)
{
	itest_setup("itest_cache");
	snprintf(scope, sizeof(scope), "itest-%ld-%ld", (long)getpid(), (long)time(NULL));
	test_layers();
	test_bounds();
	test_stampede();
	test_bypass();
	redis_close(&app.redis);
	cache_free();
	config_free();
	return done_testing();
}

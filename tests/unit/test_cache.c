/* test_cache.c: unit tests for the cache without Redis: namespaces registered as data, their scopes, the keys an entry is stored under, the bypasses, the L1 table's bounds and LRU order, L1 alone when no Redis is configured, and the ETags of conditional requests. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/cache.c"
#include "fcgi_mem.h"
#include "tap.h"

enum { NS_LISTS, NS_MINE };

static const struct cache_ns namespaces[] = {
	[NS_LISTS] = { .name = "lists", .scope = CACHE_SCOPE_TENANT, .l1 = 1,
	    .ttl = 90, .ttl_doc = "seconds a list stays in Redis" },
	[NS_MINE] = { .name = "mine", .scope = CACHE_SCOPE_USER, .l1 = 0,
	    .ttl = 30, .ttl_doc = "seconds a user's own entries stay" },
};
static const struct platform_ext ext = {
	.cache_ns = namespaces, .ncache_ns = nitems(namespaces),
};
static struct app	app;

static void
start(struct mem_fcgi *m, struct req *r, const char *cc)
{
	char	env[80];

	snprintf(env, sizeof(env), "HTTP_CACHE_CONTROL=%s", cc ? cc : "");
	mem_fcgi_init(m, NULL, 0, "REQUEST_METHOD=GET", "REQUEST_URI=/x",
	    cc != NULL ? env : NULL, NULL);
	req_init(r, &app, &m->req);
	snprintf(r->auth.tenant_id, sizeof(r->auth.tenant_id), "org_x");
	snprintf(r->auth.user_id, sizeof(r->auth.user_id), "user_y");
}

static void
test_registration(void)
{
	const char	*key, *def, *doc;
	size_t		 i;
	int		 found = 0;

	for (i = 0; (key = config_knob_doc(i, &def, &doc)) != NULL; i++)
		if (strcmp(key, "cache_lists_ttl") == 0 && strcmp(def, "90") == 0 &&
		    strcmp(doc, "seconds a list stays in Redis") == 0)
			found = 1;
	ok(found, "a namespace's TTL knob: cache_<name>_ttl, its default and doc");
	ok(cfg.cache_ttl[NS_LISTS] == 90 && cfg.cache_ttl[NS_MINE] == 30,
	    "the TTLs loaded");
}

static void
test_keys(void)
{
	struct cache_lookup	 lk;
	struct buf		 g = { 0 };
	struct mem_fcgi		 m;
	struct req		 r;

	memset(&lk, 0, sizeof(lk));
	lookup_keys(&lk, NS_LISTS, "org_x", "k", &g);
	is_str(lk.l1key, "lists|org_x|13fbd79c3d390e5d6585a21e11ff5ec1970cff0c",
	    "L1 key: namespace, scope, SHA-1 of the canonical key");
	is_str(g.data, "c:{lists:org_x}:g", "the generation's key");
	is_str(lk.prefix, "c:{lists:org_x}:", "the entry's key before the generation");
	is_str(lk.suffix, ":13fbd79c3d390e5d6585a21e11ff5ec1970cff0c", "and after it");
	buf_free(&g);
	start(&m, &r, NULL);
	is_str(cache_scope(&r, NS_LISTS), "org_x", "a tenant namespace's scope");
	is_str(cache_scope(&r, NS_MINE), "org_x/user_y",
	    "a user namespace's: the user within the tenant");
	req_free(&r);
	mem_fcgi_free(&m);

	/* Issue 15: a long scope is hashed, never cut into another's. */
	{
		char		 a[300], b[300];
		struct cache_lookup lb;
		struct buf	 gb = { 0 };

		memset(a, 'o', 137);
		a[137] = '/';
		memset(a + 138, 'u', 128);
		a[266] = '\0';
		memcpy(b, a, sizeof(b));
		b[265] = 'v';		/* another user, the same first 265 characters */
		memset(&lk, 0, sizeof(lk));
		memset(&lb, 0, sizeof(lb));
		lookup_keys(&lk, NS_MINE, a, "k", &g);
		lookup_keys(&lb, NS_MINE, b, "k", &gb);
		ok(strcmp(lk.prefix, lb.prefix) != 0 && strcmp(lk.l1key, lb.l1key) != 0 &&
		    strcmp(g.data, gb.data) != 0,
		    "two 266-character user scopes differing in the last character: other keys");
		ok(strncmp(lk.prefix, "c:{mine:#", 9) == 0 && strlen(lk.prefix) == 9 + 64 + 2 &&
		    lk.prefix[strlen(lk.prefix) - 2] == '}',
		    "named by # and the scope's SHA-256, the braces kept");
		buf_free(&g);
		buf_free(&gb);
	}
}

static void
test_bypass(void)
{
	struct cache_lookup	 lk;
	struct buf		 out = { 0 };
	struct mem_fcgi		 m;
	struct req		 r;

	start(&m, &r, NULL);
	is_int(cache_get(&r, NS_LISTS, "k", &out, &lk), CACHE_BYPASS,
	    "Redis unreachable: BYPASS");
	ok(!lk.fill && out.len == 0, "nothing to fill, nothing read");
	is_str(r.cache, "BYPASS", "the log says so");
	http_json(&r, 200, "{}", 2);
	ok(mem_fcgi_has(&m, "X-Cache: BYPASS"), "and so does the answer");
	cache_put(&r, &lk, "v", 1);	/* nothing to do, nothing to crash */
	req_free(&r);
	mem_fcgi_free(&m);

	start(&m, &r, "max-age=0, no-cache");
	is_int(cache_get(&r, NS_LISTS, "k", &out, &lk), CACHE_BYPASS,
	    "Cache-Control: no-cache bypasses");
	req_free(&r);
	mem_fcgi_free(&m);

	start(&m, &r, NULL);
	is_int(cache_get(&r, 7, "k", &out, &lk), CACHE_BYPASS,
	    "a namespace nobody registered: BYPASS");
	ok(cache_invalidate(&app.redis, 7, "org_x") == -1, "and no invalidation");
	ok(cache_invalidate(&app.redis, NS_LISTS, "org_x") == -1,
	    "invalidating without Redis says it did not");
	req_free(&r);
	mem_fcgi_free(&m);
	ok(cache_get_stats()->bypasses == 3, "three bypasses counted");
}

static void
test_l1(void)
{
	struct l1_entry		*e;
	struct timespec		 ts = { 0, 30 * 1000 * 1000 };
	char			 val[1200], key[16];
	int			 i;

	cfg.cache_l1_ttl_ms = 1000;
	cfg.cache_l1_max_entries = 2;
	cfg.cache_l1_max_bytes = 64 * 1024;
	l1_put("a|s|1", "one", 3);
	l1_put("a|s|2", "two", 3);
	ok(l1_get("a|s|1") != NULL, "two entries kept (the first now most recent)");
	l1_put("b|s|3", "three", 5);
	ok(l1_get("a|s|2") == NULL && l1_get("a|s|1") != NULL &&
	    (e = l1_get("b|s|3")) != NULL && e->vlen == 5 &&
	    memcmp(e->val, "three", 5) == 0,
	    "past max_entries the least recently used goes");
	l1_drop_scope("a|s|");
	ok(l1_get("a|s|1") == NULL && l1_get("b|s|3") != NULL,
	    "a scope dropped, others kept");
	l1_put("b|s|3", "new", 3);
	ok((e = l1_get("b|s|3")) != NULL && e->vlen == 3 && l1.count == 1,
	    "a key put again replaces its entry");
	cfg.cache_l1_max_entries = 100;
	cfg.cache_l1_max_bytes = 4096;
	memset(val, 'x', sizeof(val));
	l1_put("big", val, 1100);
	ok(l1_get("big") == NULL, "an entry over a quarter of max_bytes is not kept");
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "c|s|%d", i);
		l1_put(key, val, 900);
	}
	ok(l1.bytes <= 4096 && l1.count == 4 && l1_get("b|s|3") == NULL &&
	    l1_get("c|s|0") == NULL && l1_get("c|s|4") != NULL,
	    "past max_bytes the oldest go until it fits");
	cfg.cache_l1_ttl_ms = 10;
	l1_put("t", "v", 1);
	nanosleep(&ts, NULL);
	ok(l1_get("t") == NULL, "past cache_l1_ttl_ms an entry is gone");
	cfg.cache_l1_ttl_ms = 0;
	l1_put("u", "v", 1);
	ok(l1_get("u") == NULL, "cache_l1_ttl_ms 0: no L1");
}

/* No Redis configured (redis_host and redis_socket empty): L1 alone. */
static void
test_no_redis(void)
{
	struct cache_lookup	 lk;
	struct buf		 out = { 0 };
	struct mem_fcgi		 m;
	struct req		 r;
	char			*sock = cfg.redis_socket, *host = cfg.redis_host;

	cfg.redis_socket = "";
	cfg.redis_host = "";
	cfg.cache_l1_ttl_ms = 1000;
	ok(!redis_enabled(), "both empty: no Redis");
	ok(redis_get(&app.redis) == NULL, "and no connection is tried");
	start(&m, &r, NULL);
	is_int(cache_get(&r, NS_LISTS, "nr", &out, &lk), CACHE_MISS,
	    "an L1 namespace: MISS, not BYPASS");
	ok(lk.fill, "the caller fills it");
	cache_put(&r, &lk, "filled", 6);
	buf_reset(&out);
	is_int(cache_get(&r, NS_LISTS, "nr", &out, &lk), CACHE_HIT_L1,
	    "then HIT-L1");
	ok(out.len == 6 && memcmp(out.data, "filled", 6) == 0, "with the value");
	is_int(cache_get(&r, NS_MINE, "nr", &out, &lk), CACHE_BYPASS,
	    "a namespace without L1: BYPASS (no L2 to ask)");
	ok(cache_invalidate(&app.redis, NS_LISTS, "org_x") == 0,
	    "invalidating is no failure without Redis");
	buf_reset(&out);
	is_int(cache_get(&r, NS_LISTS, "nr", &out, &lk), CACHE_MISS,
	    "and drops this worker's entries of the scope");
	req_free(&r);
	mem_fcgi_free(&m);
	buf_free(&out);
	cfg.redis_socket = sock;
	cfg.redis_host = host;
}

static void
test_etag(void)
{
	char	a[CACHE_ETAG_MAX], b[CACHE_ETAG_MAX], c[CACHE_ETAG_MAX], l[80];

	cache_etag("{\"x\":1}", 7, a);
	cache_etag("{\"x\":1}", 7, b);
	cache_etag("{\"x\":2}", 7, c);
	ok(strlen(a) == 26 && a[0] == '"' && a[25] == '"' &&
	    strspn(a + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == 24, "an ETag is 24 base64url characters, quoted: %s", a);
	ok(strcmp(a, b) == 0 && strcmp(a, c) != 0, "the same body the same tag, another another");
	ok(cache_etag_listed(a, a, 0), "the tag itself");
	snprintf(l, sizeof(l), "\"zz\", %s", a);
	ok(cache_etag_listed(l, a, 0), "in a list");
	ok(cache_etag_listed("*", a, 0), "*");
	snprintf(l, sizeof(l), "W/%s", a);
	ok(cache_etag_listed(l, a, 1) && !cache_etag_listed(l, a, 0),
	    "W/: equal weakly (If-None-Match), not strongly (If-Match)");
	ok(!cache_etag_listed(c, a, 1) && !cache_etag_listed("", a, 1) &&
	    !cache_etag_listed("garbage", a, 1) && !cache_etag_listed("\"open", a, 1),
	    "another tag, nothing, garbage: not named");
}

int
main(void)
{
	log_set_level("error");
	unsetenv("APP_CONFIG");
	platform_register(&ext);
	ok(config_load() == 0, "the configuration loads");
	free(cfg.redis_socket);
	cfg.redis_socket = xstrdup("/nonexistent/redis.sock");
	test_registration();
	test_keys();
	test_bypass();
	test_l1();
	test_no_redis();
	test_etag();
	cache_free();
	redis_close(&app.redis);
	config_free();
	return done_testing();
}

/* test_ratelimit.c: unit tests for the rate limiter without Redis: classes registered as data with their knobs, the script's arguments, the headers of a decision, and each class's policy when Redis is unreachable. */
#include <stdlib.h>
#include <string.h>

#include "../../common/ratelimit.c"
#include "fcgi_mem.h"
#include "tap.h"

enum { RL_SLOW = RL__PLATFORM, RL_SHUT };

static const struct rl_class classes[] = {
	[RL_SLOW - RL__PLATFORM] = { "slow", { .limit = 7, .window = 30,
	    .fail_closed = 0 } },
	[RL_SHUT - RL__PLATFORM] = { "shut", { .limit = 3, .window = 60,
	    .fail_closed = 1 } },
};
static const struct platform_ext ext = {
	.rl_classes = classes, .nrl_classes = nitems(classes),
};
static struct app	app;

static void
start(struct mem_fcgi *m, struct req *r)
{
	mem_fcgi_init(m, NULL, 0, "REQUEST_METHOD=GET", "REQUEST_URI=/x",
	    "REMOTE_ADDR=192.0.2.1", NULL);
	req_init(r, &app, &m->req);
}

static void
test_classes(void)
{
	const char	*key, *def, *doc;
	size_t		 i;
	int		 found = 0;

	for (i = 0; (key = config_knob_doc(i, &def, &doc)) != NULL; i++)
		found += (strcmp(key, "rl_shut_limit") == 0 && strcmp(def, "3") == 0) +
		    (strcmp(key, "rl_shut_window") == 0 && strcmp(def, "60") == 0) +
		    (strcmp(key, "rl_shut_on_redis_error") == 0 &&
		    strcmp(def, "closed") == 0 &&
		    strcmp(doc, "open or closed when Redis fails, class shut") == 0);
	is_int(found, 3, "a class's three knobs, named after it, its defaults");
	ok(cfg.rl[RL_SLOW].limit == 7 && cfg.rl[RL_SLOW].window == 30 &&
	    !cfg.rl[RL_SLOW].fail_closed && cfg.rl[RL_SHUT].fail_closed,
	    "its policy loaded");
	ok(cfg.rl[RL_DEFAULT].limit == 100 && cfg.rl[RL_DEFAULT].window == 60,
	    "the platform's default class: 100 a minute");
	is_str(rl_class_name(RL_DEFAULT), "default", "class names: default");
	is_str(rl_class_name(RL_SHUT), "shut", "a registered one");
	is_str(rl_class_name(RL_NONE), "none", "none");
	is_str(rl_class_name(99), "none", "an unknown id");
}

static void
test_args(void)
{
	struct buf	key = { 0 };
	char		limit[16], window[24];

	script_args(RL_SLOW, "u:user_1", &key, limit, window);
	is_str(key.data, "rl:{slow:u:user_1}", "KEYS[1]: class and identifier in one hash tag");
	is_str(limit, "7", "ARGV[1]: the limit");
	is_str(window, "30000", "ARGV[2]: the window in ms");
	buf_reset(&key);
	cfg.rl[RL_DEFAULT].window = 86400;
	script_args(RL_DEFAULT, "ip:192.0.2.1", &key, limit, window);
	is_str(key.data, "rl:{default:ip:192.0.2.1}", "an address identifier");
	is_str(window, "86400000", "a day in ms");
	cfg.rl[RL_DEFAULT].window = 60;
	buf_free(&key);
}

static void
test_headers(void)
{
	struct mem_fcgi		m;
	struct req		r;
	struct rl_result	res = { 1, 7, 4, 1700000010500LL, 1700000000000LL };

	start(&m, &r);
	rl_headers(&r, RL_SLOW, &res);
	http_json(&r, 200, "{}", 2);
	ok(mem_fcgi_has(&m, "X-RateLimit-Limit: 7") &&
	    mem_fcgi_has(&m, "X-RateLimit-Remaining: 4"), "limit and remaining");
	ok(mem_fcgi_has(&m, "X-RateLimit-Reset: 1700000011"),
	    "the reset in epoch seconds, rounded up");
	ok(mem_fcgi_has(&m, "RateLimit-Policy: \"slow\";q=7;w=30") &&
	    mem_fcgi_has(&m, "RateLimit: \"slow\";r=4;t=11"),
	    "the IETF draft's pair: seconds to the reset");
	req_free(&r);
	mem_fcgi_free(&m);
}

static void
test_policies(void)
{
	struct mem_fcgi		m;
	struct req		r;
	struct rl_result	res;

	ok(rl_decide(&app.redis, RL_SLOW, "x", &res) == -1,
	    "no Redis: no decision");
	ok(rl_decide(&app.redis, RL_NONE, "x", &res) == -1 &&
	    rl_decide(&app.redis, 42, "x", &res) == -1, "nor for none or no class");

	start(&m, &r);
	ok(rl_check(&r, RL_SLOW) == 0 && !r.responded, "a class that fails open: allowed");
	http_json(&r, 200, "{}", 2);
	ok(!mem_fcgi_has(&m, "X-RateLimit-Limit: 7"), "without headers it cannot know");
	req_free(&r);
	mem_fcgi_free(&m);

	start(&m, &r);
	ok(rl_check(&r, RL_SHUT) == -1 && r.status == 503 &&
	    mem_fcgi_has(&m, "Retry-After: 5") &&
	    strstr(mem_fcgi_body(&m), "rate limiting is unavailable") != NULL,
	    "a class that fails closed: 503");
	req_free(&r);
	mem_fcgi_free(&m);

	start(&m, &r);
	ok(rl_check(&r, RL_NONE) == 0 && !r.responded, "none: not limited");
	req_free(&r);
	mem_fcgi_free(&m);

	cfg.rl_enabled = 0;
	start(&m, &r);
	ok(rl_check(&r, RL_SHUT) == 0 && !r.responded, "rl_enabled 0: nothing limited");
	req_free(&r);
	mem_fcgi_free(&m);
	cfg.rl_enabled = 1;
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
	test_classes();
	test_args();
	test_headers();
	test_policies();
	ok(strstr(rl_script(), "redis.call('TIME')") != NULL,
	    "the script decides on Redis's clock");
	redis_close(&app.redis);
	config_free();
	return done_testing();
}

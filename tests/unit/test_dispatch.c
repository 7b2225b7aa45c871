/* test_dispatch.c: unit tests for the dispatcher: route matching and its arguments, 404, 405 with Allow, the token checked and the rate limit applied before a 401 is written, the JSON body's Content-Type (415) and size (413), exactly one response. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/dispatch.c"
#include "fcgi_mem.h"
#include "tap.h"

enum { RL_STRICT = RL__PLATFORM, RL_LOOSE };

/* Two classes of the test's own: one that fails closed without Redis, one open. */
static const struct rl_class classes[] = {
	[RL_STRICT - RL__PLATFORM] = { "strict", { .limit = 5, .window = 60,
	    .fail_closed = 1 } },
	[RL_LOOSE - RL__PLATFORM] = { "loose", { .limit = 5, .window = 60,
	    .fail_closed = 0 } },
};
static const struct platform_ext ext = {
	.name = "test", .rl_classes = classes, .nrl_classes = nitems(classes),
};

static struct app	 app;
static char		*token;
static struct {
	int		 calls;
	char		 arg[256];
	char		 user[129];
	int		 authed;
	char		 body[64];
} seen;

static void
h_list(struct req *r)
{
	seen.calls++;
	seen.authed = r->authed;
	snprintf(seen.user, sizeof(seen.user), "%s", r->auth.user_id);
	http_json(r, 200, "{}", 2);
}

static void
h_one(struct req *r)
{
	seen.calls++;
	snprintf(seen.arg, sizeof(seen.arg), "%s", r->args[0]);
	http_json(r, 200, "{}", 2);
}

static void
h_body(struct req *r)
{
	seen.calls++;
	snprintf(seen.body, sizeof(seen.body), "%s", r->body);
	http_json(r, 201, "{}", 2);
}

/* A handler that forgets to answer. */
static void
h_silent(struct req *r)
{
	(void)r;
	seen.calls++;
}

static const struct route routes[] = {
	{ "/api/things", METHOD_GET, h_list, 0, RL_DEFAULT },
	{ "/api/things", METHOD_POST, h_body, ROUTE_JSON, RL_DEFAULT },
	{ "/api/things/{id}", METHOD_GET, h_one, 0, RL_DEFAULT },
	{ "/api/things/{id}", METHOD_DELETE, h_one, 0, RL_DEFAULT },
	{ "/api/open", METHOD_GET, h_list, ROUTE_PUBLIC, RL_NONE },
	{ "/api/strict", METHOD_GET, h_list, 0, RL_STRICT },
	{ "/api/loose", METHOD_GET, h_list, 0, RL_LOOSE },
	{ "/api/silent", METHOD_GET, h_silent, 0, RL_DEFAULT },
};

/* Dispatch method uri (with a token when auth, a body when body is set); the output in m. */
static void
run(struct mem_fcgi *m, const char *method, const char *uri, int auth,
    const char *ctype, const char *body)
{
	char	e1[64], e2[2100], e3[2200], e4[128], e5[64];

	snprintf(e1, sizeof(e1), "REQUEST_METHOD=%s", method);
	snprintf(e2, sizeof(e2), "REQUEST_URI=%s", uri);
	snprintf(e3, sizeof(e3), "HTTP_AUTHORIZATION=Bearer %s",
	    auth ? token : "not.a.token");
	snprintf(e4, sizeof(e4), "CONTENT_TYPE=%s", ctype ? ctype : "");
	snprintf(e5, sizeof(e5), "CONTENT_LENGTH=%zu", body ? strlen(body) : 0);
	mem_fcgi_init(m, body, body ? strlen(body) : 0, e1, e2, "REMOTE_ADDR=127.0.0.1",
	    e3, ctype ? e4 : e5, body ? e5 : NULL, NULL);
	memset(&seen, 0, sizeof(seen));
	http_dispatch(&app, &m->req, routes, nitems(routes));
}

static void
test_routes(void)
{
	struct mem_fcgi	m;

	run(&m, "GET", "/api/things", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK") && seen.calls == 1, "a route");
	ok(seen.authed && strcmp(seen.user, "user_1") == 0, "with the token's user");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/things/abc%20d", 1, NULL, NULL);
	is_str(seen.arg, "abc d", "{id} takes the decoded segment");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/nothing", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 404 Not Found") && seen.calls == 0 &&
	    strstr(mem_fcgi_body(&m), "\"code\":\"not_found\"") != NULL,
	    "no route: a JSON 404");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/things/", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 404 Not Found"), "an empty segment is no {id}");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/things/a/b", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 404 Not Found"), "nor are two segments");
	mem_fcgi_free(&m);
	run(&m, "PUT", "/api/things", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 405 Method Not Allowed") &&
	    mem_fcgi_has(&m, "Allow: GET, POST") && seen.calls == 0,
	    "a wrong method: 405 with Allow listing the path's methods");
	mem_fcgi_free(&m);
	run(&m, "PATCH", "/api/things/1", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Allow: GET, DELETE"), "for a pattern too");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/%zz", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 400 Bad Request") &&
	    strstr(mem_fcgi_body(&m), "the URL is not valid") != NULL,
	    "an undecodable URL: 400");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/silent", 1, NULL, NULL);
	ok(seen.calls == 1 && mem_fcgi_has(&m, "Status: 500 Internal Server Error"),
	    "a handler that wrote nothing: a 500 all the same");
	mem_fcgi_free(&m);
}

static void
test_auth_order(void)
{
	struct mem_fcgi	m;

	run(&m, "GET", "/api/things", 0, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 401 Unauthorized") && seen.calls == 0 &&
	    mem_fcgi_has(&m, "WWW-Authenticate: Bearer realm=\"api\", "
	    "error=\"invalid_token\""), "a bad token: 401, the handler not run");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/open", 0, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK") && !seen.authed,
	    "a public route runs without a token");
	mem_fcgi_free(&m);
	/*
	 * Redis is unreachable here: a class that fails closed answers 503
	 * before the 401 of a bad token is written, which shows the rate
	 * limit counts the attempt (against the address) first.
	 */
	run(&m, "GET", "/api/strict", 0, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 503 Service Unavailable") && seen.calls == 0,
	    "the rate limit comes before the 401");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/strict", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 503 Service Unavailable") && seen.calls == 0,
	    "and applies to good tokens too");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/loose", 0, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 401 Unauthorized"),
	    "a class that fails open lets the 401 through");
	mem_fcgi_free(&m);
}

static void
test_json(void)
{
	struct mem_fcgi	m;
	char		big[400];

	run(&m, "POST", "/api/things", 1, "application/json", "{\"a\":1}");
	ok(mem_fcgi_has(&m, "Status: 201 Created") && strcmp(seen.body,
	    "{\"a\":1}") == 0, "a JSON route gets its body");
	mem_fcgi_free(&m);
	run(&m, "POST", "/api/things", 1, "application/json; charset=UTF-8", "{}");
	ok(seen.calls == 1, "charset=utf-8 in any case is JSON");
	mem_fcgi_free(&m);
	run(&m, "POST", "/api/things", 1, "text/plain", "{}");
	ok(mem_fcgi_has(&m, "Status: 415 Unsupported Media Type") && seen.calls == 0,
	    "another type: 415");
	mem_fcgi_free(&m);
	run(&m, "POST", "/api/things", 1, "application/json; charset=latin1", "{}");
	ok(mem_fcgi_has(&m, "Status: 415 Unsupported Media Type"), "another charset: 415");
	mem_fcgi_free(&m);
	run(&m, "POST", "/api/things", 1, NULL, "{}");
	ok(mem_fcgi_has(&m, "Status: 415 Unsupported Media Type"), "no type: 415");
	mem_fcgi_free(&m);
	run(&m, "POST", "/api/things", 0, "text/plain", "{}");
	ok(mem_fcgi_has(&m, "Status: 401 Unauthorized"),
	    "the token is checked before the body");
	mem_fcgi_free(&m);
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	run(&m, "POST", "/api/things", 1, "application/json", big);
	ok(mem_fcgi_has(&m, "Status: 413 Payload Too Large") && seen.calls == 0,
	    "a body past body_max: 413");
	mem_fcgi_free(&m);
}

int
main(void)
{
	char		 path[] = "/tmp/test_dispatch.XXXXXX", claims[256];
	static const char secret[] = "a-test-secret-of-some-length-0123456789";
	int		 fd = mkstemp(path);

	(void)!write(fd, secret, sizeof(secret) - 1);
	close(fd);
	log_set_level("error");
	unsetenv("APP_CONFIG");
	platform_register(&ext);
	ok(config_load() == 0, "the configuration loads");
	free(cfg.jwt_secret_file);
	cfg.jwt_secret_file = xstrdup(path);
	free(cfg.redis_socket);
	cfg.redis_socket = xstrdup("/nonexistent/redis.sock");
	cfg.body_max = 256;
	ok(auth_keys_load(&app.keys, &cfg) == 0, "an HS256 key");
	snprintf(claims, sizeof(claims), "{\"sub\":\"user_1\",\"exp\":%lld,"
	    "\"o\":{\"id\":\"org_t\"}}", (long long)time(NULL) + 600);
	token = auth_sign(AUTH_HS256, (const unsigned char *)secret,
	    sizeof(secret) - 1, NULL, claims);
	ok(token != NULL, "a token");
	test_routes();
	test_auth_order();
	test_json();
	free(token);
	auth_keys_free(&app.keys);
	redis_close(&app.redis);
	config_free();
	unlink(path);
	return done_testing();
}

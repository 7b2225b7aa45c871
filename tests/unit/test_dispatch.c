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

/* A route with a query table: what the dispatcher parsed. */
struct page_q {
	long long	page;
	char		*q;
};
static const struct field page_fields[] = {
	{ FIELD("page", FT_INT, struct page_q, page), .min = 1, .max = 9,
	    .def = "1" },
	{ FIELD("q", FT_STRING, struct page_q, q), .min = 1, .max = 20 },
};
static const struct field_obj page_query = {
	.fields = page_fields, .nfields = nitems(page_fields),
	.size = sizeof(struct page_q)
};

static void
h_query(struct req *r)
{
	const struct page_q	*q = r->qv;

	seen.calls++;
	snprintf(seen.arg, sizeof(seen.arg), "page=%lld q=%s", q->page,
	    q->q != NULL ? q->q : "-");
	http_json(r, 200, "{\"x\":1}", 7);
}

/* A handler that forgets to answer. */
static void
h_silent(struct req *r)
{
	(void)r;
	seen.calls++;
}

static const struct route routes[] = {
	{ "/api/things", METHOD_GET, h_list, 0, RL_DEFAULT, NULL },
	{ "/api/things", METHOD_POST, h_body, ROUTE_JSON, RL_DEFAULT, NULL },
	{ "/api/things/{id}", METHOD_GET, h_one, 0, RL_DEFAULT, NULL },
	{ "/api/things/{id}", METHOD_DELETE, h_one, 0, RL_DEFAULT, NULL },
	{ "/api/open", METHOD_GET, h_list, ROUTE_PUBLIC, RL_NONE, NULL },
	{ "/api/strict", METHOD_GET, h_list, 0, RL_STRICT, NULL },
	{ "/api/loose", METHOD_GET, h_list, 0, RL_LOOSE, NULL },
	{ "/api/silent", METHOD_GET, h_silent, 0, RL_DEFAULT, NULL },
	{ "/api/paged", METHOD_GET, h_query, 0, RL_DEFAULT, &page_query },
	{ "/api/things/{id}/go", METHOD_POST, h_one, 0, RL_DEFAULT, NULL },
	{ "/api/tenant", METHOD_DELETE, h_list, ROUTE_ADMIN, RL_DEFAULT, NULL },
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
	    mem_fcgi_has(&m, "Allow: GET, HEAD, POST, OPTIONS") && seen.calls == 0,
	    "a wrong method: 405 with Allow listing the path's methods");
	mem_fcgi_free(&m);
	run(&m, "PATCH", "/api/things/1", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Allow: GET, HEAD, DELETE, OPTIONS"), "for a pattern too");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/%zz", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 400 Bad Request") &&
	    strstr(mem_fcgi_body(&m), "the URL is not valid") != NULL,
	    "an undecodable URL: 400");
	mem_fcgi_free(&m);
	run(&m, "GET", "/api/things/a%2Fb", 1, NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 400 Bad Request") && seen.calls == 0,
	    "an encoded slash in the path: 400, as lighttpd refuses it");
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

/* Dispatch with these parameters (NULL-terminated, after the method and URI) and body. */
static void
run_env(struct mem_fcgi *m, const char *method, const char *uri,
    const char *body, ...)
{
	char		 e1[64], e2[2100], e3[2200];
	const char	*env[16], *p;
	size_t		 n = 0;
	va_list		 ap;

	/* The caller's parameters first: FCGX_GetParam() takes the first. */
	va_start(ap, body);
	while ((p = va_arg(ap, const char *)) != NULL && n < 10)
		env[n++] = p;
	va_end(ap);
	snprintf(e1, sizeof(e1), "REQUEST_METHOD=%s", method);
	snprintf(e2, sizeof(e2), "REQUEST_URI=%s", uri);
	snprintf(e3, sizeof(e3), "HTTP_AUTHORIZATION=Bearer %s", token);
	env[n++] = e1;
	env[n++] = e2;
	env[n++] = "REMOTE_ADDR=127.0.0.1";
	env[n++] = e3;
	while (n < 15)
		env[n++] = NULL;
	mem_fcgi_init(m, body, body ? strlen(body) : 0, env[0], env[1], env[2],
	    env[3], env[4], env[5], env[6], env[7], env[8], env[9], env[10],
	    env[11], env[12], env[13], env[14], NULL);
	memset(&seen, 0, sizeof(seen));
	http_dispatch(&app, &m->req, routes, nitems(routes));
}

static void
test_head_options(void)
{
	struct mem_fcgi	m;

	run_env(&m, "HEAD", "/api/paged", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK") && seen.calls == 1 &&
	    mem_fcgi_has(&m, "Content-Length: 7"),
	    "HEAD: the GET route's status and Content-Length (the web server drops the body)");
	mem_fcgi_free(&m);
	run_env(&m, "HEAD", "/api/things", NULL, "HTTP_AUTHORIZATION=x", NULL);
	ok(mem_fcgi_has(&m, "Status: 401 Unauthorized"), "HEAD is checked as GET");
	mem_fcgi_free(&m);
	run_env(&m, "OPTIONS", "/api/things/1", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 204 No Content") &&
	    mem_fcgi_has(&m, "Allow: GET, HEAD, DELETE, OPTIONS") &&
	    !mem_fcgi_has(&m, "Content-Length: 0") && seen.calls == 0,
	    "OPTIONS: 204 with Allow, no Content-Length, no handler");
	mem_fcgi_free(&m);
	run_env(&m, "OPTIONS", "/api/nothing", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 404 Not Found"), "OPTIONS of no route: 404");
	mem_fcgi_free(&m);
	run_env(&m, "DELETE", "/api/paged", NULL, NULL);
	ok(mem_fcgi_has(&m, "Allow: GET, HEAD, OPTIONS"),
	    "405s list HEAD and OPTIONS");
	mem_fcgi_free(&m);
}

static void
test_cors(void)
{
	struct mem_fcgi	m;
	const char	*good = "HTTP_ORIGIN=https://app.example.com";
	const char	*bad = "HTTP_ORIGIN=https://evil.example.com";
	const char	*acrm = "HTTP_ACCESS_CONTROL_REQUEST_METHOD=PATCH";

	ok(cors_load("*") == -1 && cors_load("https://a.example/path") == -1 &&
	    cors_load("null") == -1 && cors_load("ftp://a.example") == -1,
	    "cors_origins refuses *, paths, null and other schemes");
	ok(cors_load("https://app.example.com, http://127.0.0.1:8080") == 0,
	    "two origins");
	run_env(&m, "OPTIONS", "/api/things/1", NULL, good, acrm,
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS=authorization", NULL);
	ok(mem_fcgi_has(&m, "Status: 204 No Content") &&
	    mem_fcgi_has(&m, "Access-Control-Allow-Origin: https://app.example.com") &&
	    mem_fcgi_has(&m, "Access-Control-Allow-Credentials: true") &&
	    mem_fcgi_has(&m, "Access-Control-Allow-Methods: GET, HEAD, DELETE, OPTIONS") &&
	    mem_fcgi_has(&m, "Access-Control-Allow-Headers: " CORS_ALLOW_HEADERS) &&
	    mem_fcgi_has(&m, "Access-Control-Max-Age: 600") &&
	    mem_fcgi_has(&m, "Vary: Origin"),
	    "a preflight from an allowed origin: the route's methods, the headers, max-age");
	mem_fcgi_free(&m);
	run_env(&m, "OPTIONS", "/api/things/1", NULL, bad, acrm, NULL);
	ok(mem_fcgi_has(&m, "Status: 204 No Content") &&
	    strstr(mem_fcgi_output(&m), "Access-Control-") == NULL &&
	    mem_fcgi_has(&m, "Vary: Origin"),
	    "from another origin: no Access-Control-* header at all");
	mem_fcgi_free(&m);
	run_env(&m, "GET", "/api/things", NULL, "HTTP_ORIGIN=HTTPS://APP.example.com", NULL);
	ok(mem_fcgi_has(&m, "Access-Control-Allow-Origin: HTTPS://APP.example.com") &&
	    mem_fcgi_has(&m, "Access-Control-Expose-Headers: " CORS_EXPOSE_HEADERS) &&
	    !mem_fcgi_has(&m, "Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS"),
	    "a request: the origin echoed as sent, the exposed headers");
	mem_fcgi_free(&m);
	run_env(&m, "GET", "/api/things", NULL, good, "HTTP_AUTHORIZATION=Bearer x", NULL);
	ok(mem_fcgi_has(&m, "Status: 401 Unauthorized") &&
	    mem_fcgi_has(&m, "Access-Control-Allow-Origin: https://app.example.com"),
	    "errors carry them too, so the page can read them");
	mem_fcgi_free(&m);
	run_env(&m, "GET", "/api/things", NULL, bad, NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK") &&
	    strstr(mem_fcgi_output(&m), "Access-Control-") == NULL,
	    "another origin's request is served, without CORS headers");
	mem_fcgi_free(&m);
	cors_free();
	run_env(&m, "GET", "/api/things", NULL, good, NULL);
	ok(strstr(mem_fcgi_output(&m), "Vary:") == NULL &&
	    strstr(mem_fcgi_output(&m), "Access-Control-") == NULL,
	    "no allow-list: nothing depends on Origin, no Vary");
	mem_fcgi_free(&m);
}

/*
 * Issue 15: a cookie-authenticated request that changes something
 * must come from this site or an allowed origin; a bearer token is
 * not sent by a browser on its own, so it needs no such check.
 */
static void
test_csrf(void)
{
	struct mem_fcgi	 m;
	char		 cookie[2200];
	const char	*len0 = "CONTENT_LENGTH=0", *noauth = "HTTP_AUTHORIZATION=";
	const char	*host = "HTTP_HOST=api.example.com";

	snprintf(cookie, sizeof(cookie), "HTTP_COOKIE=theme=dark; __session=%s", token);
	ok(cors_load("https://app.example.com") == 0, "csrf: an allowed origin");
#define CSRF(want, what, ...) do {					\
	run_env(&m, "POST", "/api/things/1/go", NULL, len0, noauth, cookie, host, \
	    __VA_ARGS__, NULL);						\
	ok(mem_fcgi_has(&m, want) && seen.calls == (want[8] == '2'), what); \
	mem_fcgi_free(&m);						\
} while (0)
	CSRF("Status: 403 Forbidden", "cookie, Origin of another site: 403",
	    "HTTP_ORIGIN=https://evil.example");
	CSRF("Status: 403 Forbidden", "cookie, a text/plain body-less POST of another site: 403",
	    "HTTP_ORIGIN=https://evil.example", "CONTENT_TYPE=text/plain");
	CSRF("Status: 403 Forbidden", "cookie, no Origin and no Referer: 403", "HTTP_X=1");
	CSRF("Status: 403 Forbidden", "cookie, Origin null: 403", "HTTP_ORIGIN=null");
	CSRF("Status: 403 Forbidden", "cookie, Referer of another site: 403",
	    "HTTP_REFERER=https://evil.example/page");
	CSRF("Status: 403 Forbidden", "cookie, a look-alike host: 403",
	    "HTTP_ORIGIN=https://api.example.com.evil.example");
	CSRF("Status: 403 Forbidden", "cookie, http Origin on a TLS request: 403",
	    "HTTP_ORIGIN=http://api.example.com", "HTTPS=on");
	CSRF("Status: 200 OK", "cookie, Origin in cors_origins: served",
	    "HTTP_ORIGIN=https://app.example.com");
	CSRF("Status: 200 OK", "cookie, the API's own origin: served",
	    "HTTP_ORIGIN=https://api.example.com");
	CSRF("Status: 200 OK", "cookie, no Origin, a Referer of this site: served",
	    "HTTP_REFERER=https://api.example.com/app?x=1");
	CSRF("Status: 200 OK", "cookie, http Origin without TLS (a TLS proxy in front): served",
	    "HTTP_ORIGIN=http://api.example.com");
#undef CSRF
	run_env(&m, "POST", "/api/things/1/go", NULL, len0, host,
	    "HTTP_ORIGIN=https://evil.example", NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK"), "a bearer token from any Origin: served");
	mem_fcgi_free(&m);
	run_env(&m, "GET", "/api/things", NULL, noauth, cookie, host,
	    "HTTP_ORIGIN=https://evil.example", NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK"), "a cookie GET from another site: served (it changes nothing)");
	mem_fcgi_free(&m);
	run_env(&m, "DELETE", "/api/things/1", NULL, noauth, cookie, host,
	    "HTTP_ORIGIN=https://evil.example", NULL);
	ok(mem_fcgi_has(&m, "Status: 403 Forbidden") && seen.calls == 0, "a cookie DELETE from another site: 403");
	mem_fcgi_free(&m);
	cors_free();
}

/* ROUTE_ADMIN: the organisation's admin role, or a personal tenant. */
static void
test_admin(void)
{
	static const char secret[] = "a-test-secret-of-some-length-0123456789";
	struct mem_fcgi	 m;
	char		 claims[256], *member = token, *admin, *personal;
	time_t		 exp = time(NULL) + 600;

	snprintf(claims, sizeof(claims), "{\"sub\":\"user_1\",\"exp\":%lld,"
	    "\"v\":2,\"o\":{\"id\":\"org_t\",\"rol\":\"admin\"}}", (long long)exp);
	admin = auth_sign(AUTH_HS256, (const unsigned char *)secret, sizeof(secret) - 1, NULL, claims);
	snprintf(claims, sizeof(claims), "{\"sub\":\"user_2\",\"exp\":%lld}", (long long)exp);
	personal = auth_sign(AUTH_HS256, (const unsigned char *)secret, sizeof(secret) - 1, NULL, claims);
	run_env(&m, "DELETE", "/api/tenant", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 403 Forbidden") && seen.calls == 0 &&
	    strstr(mem_fcgi_body(&m), "admin role") != NULL,
	    "an organisation member without a role: 403");
	mem_fcgi_free(&m);
	token = admin;
	run_env(&m, "DELETE", "/api/tenant", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK") && seen.calls == 1, "its admin: served");
	mem_fcgi_free(&m);
	token = personal;
	run_env(&m, "DELETE", "/api/tenant", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK") && seen.calls == 1, "a personal tenant's user: served");
	mem_fcgi_free(&m);
	token = member;
	free(admin);
	free(personal);
}

static void
test_one_rule(void)
{
	struct mem_fcgi	m;

	run_env(&m, "GET", "/api/paged?page=3&q=a%20b", NULL, NULL);
	is_str(seen.arg, "page=3 q=a b", "the route's query, parsed before the handler");
	mem_fcgi_free(&m);
	run_env(&m, "GET", "/api/paged", NULL, NULL);
	is_str(seen.arg, "page=1 q=-", "with its defaults");
	mem_fcgi_free(&m);
	run_env(&m, "GET", "/api/paged?page=0&x=1", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 400 Bad Request") && seen.calls == 0 &&
	    strstr(mem_fcgi_body(&m), "\"field\":\"page\"") != NULL &&
	    strstr(mem_fcgi_body(&m), "{\"field\":\"x\",\"message\":\"unknown parameter\"}") != NULL,
	    "every bad and unknown parameter named");
	mem_fcgi_free(&m);
	run_env(&m, "GET", "/api/things?limit=1", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 400 Bad Request") && seen.calls == 0 &&
	    strstr(mem_fcgi_body(&m), "{\"field\":\"limit\",\"message\":\"unknown parameter\"}") != NULL,
	    "a route without a query table takes no parameter");
	mem_fcgi_free(&m);
	run_env(&m, "GET", "/api/open?x", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 400 Bad Request"), "a public route neither");
	mem_fcgi_free(&m);
	run_env(&m, "POST", "/api/things/1/go", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 411 Length Required") && seen.calls == 0 &&
	    strstr(mem_fcgi_body(&m), "\"code\":\"length_required\"") != NULL,
	    "a POST without Content-Length or Transfer-Encoding: 411, as lighttpd");
	mem_fcgi_free(&m);
	run_env(&m, "POST", "/api/nothing", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 411 Length Required"), "whatever the path");
	mem_fcgi_free(&m);
	run_env(&m, "PUT", "/api/nothing", NULL, NULL);
	ok(mem_fcgi_has(&m, "Status: 404 Not Found"),
	    "a PUT without a length has no body (as lighttpd passes it on)");
	mem_fcgi_free(&m);
	run_env(&m, "POST", "/api/things/1/go", NULL, "CONTENT_LENGTH=0", NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK") && seen.calls == 1,
	    "Content-Length: 0 and no body: served");
	mem_fcgi_free(&m);
	run_env(&m, "POST", "/api/things/1/go", "{}", "CONTENT_LENGTH=2",
	    "CONTENT_TYPE=application/json", NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK"), "an empty JSON object: served");
	mem_fcgi_free(&m);
	run_env(&m, "POST", "/api/things/1/go", "{\"force\":true}",
	    "CONTENT_LENGTH=14", "CONTENT_TYPE=application/json", NULL);
	ok(mem_fcgi_has(&m, "Status: 400 Bad Request") && seen.calls == 0 &&
	    strstr(mem_fcgi_body(&m), "{\"field\":\"force\",\"message\":\"unknown field\"}") != NULL,
	    "a body field on a route that takes none: 400 naming it");
	mem_fcgi_free(&m);
	run_env(&m, "POST", "/api/things/1/go", "x=1", "CONTENT_LENGTH=3",
	    "CONTENT_TYPE=application/x-www-form-urlencoded", NULL);
	ok(mem_fcgi_has(&m, "Status: 415 Unsupported Media Type"),
	    "a body of another type: 415");
	mem_fcgi_free(&m);
	run_env(&m, "POST", "/api/things/1/go", "{}", "HTTP_TRANSFER_ENCODING=chunked",
	    "CONTENT_TYPE=application/json", NULL);
	ok(mem_fcgi_has(&m, "Status: 200 OK"), "a chunked body has a length");
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
	test_head_options();
	test_cors();
	test_csrf();
	test_admin();
	test_one_rule();
	free(token);
	auth_keys_free(&app.keys);
	redis_close(&app.redis);
	config_free();
	unlink(path);
	return done_testing();
}

/* test_request.c: unit tests for parsing a request: method, path and query decoding and their failures, the request id, the body against Content-Length and body_max, the client's address behind trusted proxies. */
#include <stdlib.h>
#include <string.h>

#include "../../common/request.c"
#include "fcgi_mem.h"
#include "tap.h"

static struct app	app;

/* req_init() of a GET of uri; its result, the request kept in r. */
static int
init(struct mem_fcgi *m, struct req *r, const char *uri)
{
	char	env[2100];

	snprintf(env, sizeof(env), "REQUEST_URI=%s", uri);
	mem_fcgi_init(m, NULL, 0, "REQUEST_METHOD=GET", env, NULL);
	return req_init(r, &app, &m->req);
}

static void
done(struct mem_fcgi *m, struct req *r)
{
	req_free(r);
	mem_fcgi_free(m);
}

static void
test_query(void)
{
	struct mem_fcgi	 m;
	struct req	 r;
	struct buf	 many = { 0 };
	int		 i;

	ok(init(&m, &r, "/api/jobs?a=1&b=x%20y&c=+plus&d&a=2") == 0, "a query parses");
	is_str(r.path, "/api/jobs", "the path without the query");
	is_int((long long)r.nquery, 5, "five pairs");
	is_str(req_param(&r, "a"), "1", "the first value of a repeated key");
	is_str(req_param(&r, "b"), "x y", "%%20 decoded");
	is_str(req_param(&r, "c"), " plus", "+ is a space in a query");
	is_str(req_param(&r, "d"), "", "a key without = has an empty value");
	ok(req_param(&r, "e") == NULL, "an absent key: NULL");
	done(&m, &r);

	ok(init(&m, &r, "/a+b%20c") == 0 && strcmp(r.path, "/a+b c") == 0,
	    "+ stays + in a path; %%20 decodes");
	done(&m, &r);
	ok(init(&m, &r, "/a/b%2Fc") == -1, "an encoded slash: -1 (a 400, as lighttpd refuses it)");
	done(&m, &r);
	ok(init(&m, &r, "/a/b%2fc") == -1, "in either case");
	done(&m, &r);
	ok(init(&m, &r, "/api/jobs?q=%zz") == -1, "a broken escape in the query: -1");
	done(&m, &r);
	ok(init(&m, &r, "/api/jobs?q=%4") == -1, "a cut escape: -1");
	done(&m, &r);
	ok(init(&m, &r, "/api/jobs?q=a%00b") == -1, "%%00 in the query: -1");
	done(&m, &r);
	ok(init(&m, &r, "/api/%00") == -1, "%%00 in the path: -1");
	done(&m, &r);
	ok(init(&m, &r, "/api/%ff%fe") == -1, "not UTF-8 in the path: -1");
	done(&m, &r);
	ok(init(&m, &r, "/api/caf%C3%A9") == 0 && strcmp(r.path, "/api/caf\xc3\xa9") == 0,
	    "UTF-8 in the path decodes");
	done(&m, &r);
	ok(init(&m, &r, "api/jobs") == -1, "a URI that does not start with /: -1");
	done(&m, &r);

	buf_puts(&many, "/x?");
	for (i = 0; i < QUERY_MAX_PARAMS; i++)
		buf_printf(&many, "%sk%d=%d", i ? "&" : "", i, i);
	ok(init(&m, &r, many.data) == 0 && r.nquery == QUERY_MAX_PARAMS,
	    "QUERY_MAX_PARAMS pairs are fine");
	done(&m, &r);
	buf_puts(&many, "&one=more");
	ok(init(&m, &r, many.data) == -1, "one more is refused");
	done(&m, &r);
	buf_free(&many);
}

static void
test_method_and_id(void)
{
	struct mem_fcgi	m;
	struct req	r;

	mem_fcgi_init(&m, NULL, 0, "REQUEST_METHOD=PATCH", "REQUEST_URI=/x",
	    "HTTP_X_REQUEST_ID=abc-123_.Z", NULL);
	ok(req_init(&r, &app, &m.req) == 0 && r.method == METHOD_PATCH &&
	    strcmp(r.method_name, "PATCH") == 0, "PATCH");
	is_str(r.id, "abc-123_.Z", "a well-formed X-Request-Id is kept");
	done(&m, &r);

	mem_fcgi_init(&m, NULL, 0, "REQUEST_METHOD=BREW", "REQUEST_URI=/x",
	    "HTTP_X_REQUEST_ID=no spaces\r\nplease", NULL);
	ok(req_init(&r, &app, &m.req) == 0 && r.method == METHOD_OTHER,
	    "an unknown method is OTHER");
	ok(strlen(r.id) == 32 && strspn(r.id, "0123456789abcdef") == 32,
	    "a malformed X-Request-Id is replaced by 32 hex digits");
	done(&m, &r);

	mem_fcgi_init(&m, NULL, 0, "REQUEST_METHOD=GET", "REQUEST_URI=/x",
	    "HTTP_X_REQUEST_ID=0123456789012345678901234567890123456789"
	    "0123456789012345678901234", NULL);
	ok(req_init(&r, &app, &m.req) == 0 && strlen(r.id) == 32,
	    "65 characters is too long: replaced");
	done(&m, &r);
}

/* Read a body of len bytes with this Content-Length (NULL: none); the result. */
static int
body(struct mem_fcgi *m, struct req *r, const char *data, size_t len,
    const char *cl)
{
	char	env[64];

	snprintf(env, sizeof(env), "CONTENT_LENGTH=%s", cl != NULL ? cl : "");
	mem_fcgi_init(m, data, len, "REQUEST_METHOD=POST", "REQUEST_URI=/x",
	    cl != NULL ? env : NULL, NULL);
	req_init(r, &app, &m->req);
	return req_read_body(r);
}

static void
test_body(void)
{
	struct mem_fcgi	 m;
	struct req	 r;
	char		*big;

	cfg.body_max = 256;
	ok(body(&m, &r, "hello", 5, "5") == 0 && r.body_len == 5 &&
	    strcmp(r.body, "hello") == 0, "a body of its Content-Length");
	ok(!r.responded, "and nothing answered");
	done(&m, &r);
	ok(body(&m, &r, "hello world", 11, "5") == 0 && strcmp(r.body, "hello") == 0,
	    "what follows the Content-Length is not read");
	done(&m, &r);
	ok(body(&m, &r, "hello", 5, NULL) == 0 && r.body_len == 5,
	    "without a Content-Length, up to the end");
	done(&m, &r);
	ok(body(&m, &r, "hel", 3, "5") == -1 && r.status == 400 &&
	    strstr(mem_fcgi_body(&m), "body shorter than Content-Length") != NULL,
	    "a short body: 400");
	done(&m, &r);
	ok(body(&m, &r, "x", 1, "257") == -1 && r.status == 413 &&
	    strstr(mem_fcgi_body(&m), "the limit is 256 bytes") != NULL,
	    "a declared length past body_max: 413, nothing read");
	done(&m, &r);
	big = malloc(300);
	memset(big, 'a', 300);
	ok(body(&m, &r, big, 300, NULL) == -1 && r.status == 413,
	    "an undeclared body past body_max: 413");
	done(&m, &r);
	ok(body(&m, &r, big, 256, NULL) == 0 && r.body_len == 256,
	    "exactly body_max is fine");
	done(&m, &r);
	free(big);
	ok(body(&m, &r, "x", 1, "abc") == -1 && r.status == 400,
	    "a Content-Length that is not a number: 400");
	done(&m, &r);
	ok(body(&m, &r, "x", 1, "-1") == -1 && r.status == 400,
	    "a negative Content-Length: 400");
	done(&m, &r);
	ok(body(&m, &r, "", 0, "0") == 0 && r.body_len == 0 && *r.body == '\0',
	    "an empty body");
	done(&m, &r);
}

static const char *
client(struct mem_fcgi *m, struct req *r, const char *addr, const char *xff)
{
	char	a[80], x[300];

	snprintf(a, sizeof(a), "REMOTE_ADDR=%s", addr);
	snprintf(x, sizeof(x), "HTTP_X_FORWARDED_FOR=%s", xff ? xff : "");
	mem_fcgi_init(m, NULL, 0, "REQUEST_METHOD=GET", "REQUEST_URI=/x", a,
	    xff != NULL ? x : NULL, NULL);
	req_init(r, &app, &m->req);
	return req_client_ip(r);
}

static void
test_client_ip(void)
{
	struct mem_fcgi	m;
	struct req	r;

	free(cfg.trusted_proxies);
	cfg.trusted_proxies = xstrdup("");
	is_str(client(&m, &r, "203.0.113.5", "1.2.3.4"), "203.0.113.5",
	    "no trusted proxy: REMOTE_ADDR, X-Forwarded-For ignored");
	done(&m, &r);
	free(cfg.trusted_proxies);
	cfg.trusted_proxies = xstrdup("127.0.0.1, 10.0.0.0/8");
	is_str(client(&m, &r, "127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3"),
	    "203.0.113.9", "behind trusted proxies: the rightmost untrusted hop");
	done(&m, &r);
	is_str(client(&m, &r, "198.51.100.1", "6.6.6.6"), "198.51.100.1",
	    "an untrusted peer's X-Forwarded-For is not believed");
	done(&m, &r);
	is_str(client(&m, &r, "127.0.0.1", "garbage, 10.0.0.1"), "10.0.0.1",
	    "garbage stops the walk at the last believed address");
	done(&m, &r);
	is_str(client(&m, &r, "127.0.0.1", NULL), "127.0.0.1",
	    "a trusted peer without X-Forwarded-For");
	done(&m, &r);
	ok(ip_in_list("10.9.8.7", "10.0.0.0/8") && !ip_in_list("11.0.0.1", "10.0.0.0/8"),
	    "CIDR blocks");
	ok(ip_in_list("::1", "127.0.0.1, ::1") && !ip_in_list("::2", "::1/128"),
	    "IPv6");
	ok(!ip_in_list("10.0.0.1", "10.0.0.0/33, nonsense"), "bad entries contain nothing");
	free(cfg.trusted_proxies);
	cfg.trusted_proxies = NULL;
}

int
main(void)
{
	log_set_level("error");
	test_query();
	test_method_and_id();
	test_body();
	test_client_ip();
	return done_testing();
}

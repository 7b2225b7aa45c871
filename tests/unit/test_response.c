/* test_response.c: unit tests for the one place that writes responses: status line and common headers, CR/LF in header values, error bodies, the headers 401 and 503 require, one response per request, streams. */
#include <stdlib.h>
#include <string.h>

#include "../../common/response.c"
#include "fcgi_mem.h"
#include "tap.h"

static struct app	app;

static void
start(struct mem_fcgi *m, struct req *r)
{
	mem_fcgi_init(m, NULL, 0, "REQUEST_METHOD=GET", "REQUEST_URI=/x",
	    "HTTP_X_REQUEST_ID=req-1", NULL);
	ok(req_init(r, &app, &m->req) == 0, "a request");
}

static void
finish(struct mem_fcgi *m, struct req *r)
{
	req_free(r);
	mem_fcgi_free(m);
}

static void
test_json(void)
{
	struct mem_fcgi	m;
	struct req	r;

	start(&m, &r);
	http_json(&r, 200, "{\"a\":1}", 7);
	is_str(mem_fcgi_output(&m), "Status: 200 OK\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Request-Id: req-1\r\n"
	    "Content-Length: 7\r\n"
	    "\r\n"
	    "{\"a\":1}", "status line, the common headers, length, body");
	ok(r.responded && r.status == 200, "the request knows it was answered");
	http_json(&r, 500, "{}", 2);
	is_str(mem_fcgi_body(&m), "{\"a\":1}", "a second response writes nothing");
	is_int(r.status, 200, "and changes nothing");
	finish(&m, &r);
}

static void
test_headers(void)
{
	struct mem_fcgi	m;
	struct req	r;

	start(&m, &r);
	http_header(&r, "X-Test", "%s", "a\r\nSet-Cookie: evil=1\nX-More: 2");
	http_header(&r, "X-Count", "%d", 42);
	http_json(&r, 201, "{}", 2);
	ok(mem_fcgi_has(&m, "Status: 201 Created"), "201 Created");
	ok(mem_fcgi_has(&m, "X-Test: a  Set-Cookie: evil=1 X-More: 2"),
	    "CR and LF in a value become spaces: one header line");
	ok(!mem_fcgi_has(&m, "Set-Cookie: evil=1"), "no header smuggled in");
	ok(mem_fcgi_has(&m, "X-Count: 42"), "formatted values");
	finish(&m, &r);
}

static void
test_errors(void)
{
	struct mem_fcgi	m;
	struct req	r;

	start(&m, &r);
	http_error(&r, ERR_VALIDATION, "%s: %d", "limit", 0);
	ok(mem_fcgi_has(&m, "Status: 400 Bad Request"), "validation: 400");
	is_str(mem_fcgi_body(&m), "{\"error\":\"Validation failed\",\"code\":"
	    "\"validation_failed\",\"details\":\"limit: 0\"}",
	    "the body: the fixed message, the code, the details");
	is_str(r.code, "validation_failed", "the code for the log");
	finish(&m, &r);

	start(&m, &r);
	http_error(&r, ERR_NOT_FOUND, NULL);
	is_str(mem_fcgi_body(&m), "{\"error\":\"Not found\",\"code\":\"not_found\"}",
	    "no details when none are given");
	finish(&m, &r);

	start(&m, &r);
	http_error(&r, ERR_UNAUTHORIZED, "expired");
	ok(mem_fcgi_has(&m, "Status: 401 Unauthorized") && mem_fcgi_has(&m,
	    "WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\""),
	    "401 carries WWW-Authenticate");
	finish(&m, &r);

	start(&m, &r);
	http_error(&r, ERR_UNAVAILABLE, NULL);
	ok(mem_fcgi_has(&m, "Status: 503 Service Unavailable") &&
	    mem_fcgi_has(&m, "Retry-After: 5"), "503 carries Retry-After: 5");
	finish(&m, &r);

	start(&m, &r);
	http_header(&r, "Retry-After", "%d", 30);
	http_error(&r, ERR_UNAVAILABLE, NULL);
	ok(mem_fcgi_has(&m, "Retry-After: 30") && !mem_fcgi_has(&m,
	    "Retry-After: 5"), "unless the handler set its own");
	finish(&m, &r);

	start(&m, &r);
	http_error_obj(&r, ERR_RATE_LIMITED, "slow down", json_tokener_parse(
	    "{\"limit\":10,\"reset\":99}"));
	is_str(mem_fcgi_body(&m), "{\"error\":\"slow down\",\"code\":"
	    "\"rate_limited\",\"limit\":10,\"reset\":99}",
	    "extra members merged after error and code");
	ok(mem_fcgi_has(&m, "Status: 429 Too Many Requests"), "429");
	finish(&m, &r);
	is_str(http_reason(299), "Unknown", "an unknown status's reason");
	is_str(http_reason(405), "Method Not Allowed", "405's");
}

static void
test_stream(void)
{
	struct mem_fcgi	m;
	struct req	r;

	start(&m, &r);
	ok(http_stream_begin(&r, 200, "text/event-stream") == 0, "a stream begins");
	ok(mem_fcgi_has(&m, "Content-Type: text/event-stream") &&
	    mem_fcgi_has(&m, "X-Accel-Buffering: no"), "with its type, unbuffered");
	ok(strstr(mem_fcgi_output(&m), "Content-Length") == NULL,
	    "and no length");
	ok(http_stream_write(&r, "data: 1\n\n", 9) == 0, "a piece is written");
	is_str(mem_fcgi_body(&m), "data: 1\n\n", "and flushed at once");
	m.fail_writes = 1;
	ok(http_stream_write(&r, "data: 2\n\n", 9) == -1,
	    "-1 once the web server has gone");
	finish(&m, &r);
}

int
main(void)
{
	log_set_level("error");
	test_json();
	test_headers();
	test_errors();
	test_stream();
	return done_testing();
}

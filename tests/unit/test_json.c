/* test_json.c: unit tests for the JSON writer (commas, nesting, keys, escapes, raw values) and the success envelope: opened, paged, closed and sent in one place. */
#include <stdlib.h>
#include <string.h>

#include "fcgi_mem.h"
#include "tap.h"

static struct app	app;

static void
test_writer(void)
{
	struct buf	b = { 0 };
	struct jw	w;

	jw_init(&w, &b);
	jw_object(&w, NULL);
	jw_string(&w, "s", "a\"b\\c\n\x01");
	jw_int(&w, "i", -42);
	jw_fixed(&w, "f", 2.0 / 3, 4);
	jw_bool(&w, "t", 1);
	jw_null(&w, "n");
	jw_string(&w, "ns", NULL);
	jw_raw(&w, "r", "[1,2]");
	jw_raw(&w, "rn", NULL);
	jw_array(&w, "a");
	jw_int(&w, NULL, 1);
	jw_object(&w, NULL);
	jw_end(&w);
	jw_array(&w, NULL);
	jw_end(&w);
	jw_string(&w, "ignored key in an array", "x");
	jw_end(&w);
	jw_stringn(&w, "sn", "abcdef", 3);
	jw_key(&w, "k");
	jw_object(&w, NULL);
	jw_end(&w);
	buf_printf(jw_value(&w, "v"), "%d", 7);
	jw_close(&w);
	is_str(b.data, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"i\":-42,\"f\":0.6667,"
	    "\"t\":true,\"n\":null,\"ns\":null,\"r\":[1,2],\"rn\":null,"
	    "\"a\":[1,{},[],\"x\"],\"sn\":\"abc\",\"k\":{},\"v\":7}",
	    "commas, nesting, escapes, raw values, keys only in objects");
	is_int(w.depth, 0, "everything closed");
	jw_end(&w);
	is_int((long long)b.len, (long long)strlen(b.data), "closing more than was opened adds nothing");
	buf_reset(&b);
	jw_init(&w, &b);
	jw_string(&w, NULL, "\xff ok");
	is_str(b.data, "\"\xef\xbf\xbd ok\"", "invalid UTF-8 replaced: the output is JSON");
	buf_free(&b);
}

static void
start(struct mem_fcgi *m, struct req *r)
{
	mem_fcgi_init(m, NULL, 0, "REQUEST_METHOD=GET", "REQUEST_URI=/x", NULL);
	req_init(r, &app, &m->req);
}

static void
test_reply(void)
{
	struct mem_fcgi	m;
	struct req	r;
	struct reply	rp;
	int		i;

	start(&m, &r);
	reply_open(&rp, &r);
	jw_object(&rp.w, NULL);
	jw_string(&rp.w, "id", "x");
	reply_send(&rp, 201);
	is_str(mem_fcgi_body(&m), "{\"success\":true,\"data\":{\"id\":\"x\"}}",
	    "the envelope around an object, closed by reply_send()");
	ok(mem_fcgi_has(&m, "Status: 201 Created") &&
	    mem_fcgi_has(&m, "Content-Length: 34"), "sent with its status and length");
	reply_free(&rp);
	req_free(&r);
	mem_fcgi_free(&m);

	start(&m, &r);
	reply_open(&rp, &r);
	reply_list(&rp);
	for (i = 0; i < 2; i++) {
		jw_object(&rp.w, NULL);
		jw_int(&rp.w, "n", i);
		jw_end(&rp.w);
	}
	reply_page(&rp, 1, 2, 3);
	jw_string(&rp.w, "sort", "extra");
	reply_send(&rp, 200);
	is_str(mem_fcgi_body(&m), "{\"success\":true,\"data\":[{\"n\":0},{\"n\":1}],"
	    "\"pagination\":{\"page\":1,\"limit\":2,\"total\":3,\"hasMore\":true,"
	    "\"sort\":\"extra\"}}", "a page: items, then the seed's pagination, "
	    "left open for the list's own members");
	req_free(&r);
	mem_fcgi_free(&m);

	start(&m, &r);
	reply_open(&rp, &r);
	reply_list(&rp);
	reply_page(&rp, 2, 10, 20);
	reply_send(&rp, 200);
	is_str(mem_fcgi_body(&m), "{\"success\":true,\"data\":[],\"pagination\":"
	    "{\"page\":2,\"limit\":10,\"total\":20,\"hasMore\":false}}",
	    "an empty last page");
	req_free(&r);
	mem_fcgi_free(&m);

	start(&m, &r);
	ok(reply_cached(&rp, &r, 0, "k", 0) == 0, "no namespace, no Redis: compute it");
	jw_null(&rp.w, NULL);
	reply_send(&rp, 200);
	is_str(mem_fcgi_body(&m), "{\"success\":true,\"data\":null}",
	    "and the reply is sent all the same");
	ok(mem_fcgi_has(&m, "X-Cache: BYPASS"), "saying the cache was bypassed");
	req_free(&r);
	mem_fcgi_free(&m);

	start(&m, &r);
	reply_open(&rp, &r);
	reply_free(&rp);
	reply_free(&rp);
	ok(!r.responded, "a reply freed unsent sends nothing (twice is harmless)");
	req_free(&r);
	mem_fcgi_free(&m);
}

int
main(void)
{
	log_set_level("error");
	cfg.redis_socket = "/nonexistent/redis.sock";
	cfg.redis_host = "127.0.0.1";
	cfg.cache_enabled = 1;
	test_writer();
	test_reply();
	redis_close(&app.redis);
	return done_testing();
}

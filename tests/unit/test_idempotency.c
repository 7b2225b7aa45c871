/* test_idempotency.c: unit tests for Idempotency-Key: which keys are valid, what makes two requests the same, what a claimed request keeps of its response. */
#include <stdlib.h>
#include <string.h>

#include "../../common/idempotency.c"
#include "tap.h"

static void
test_keys(void)
{
	char	key[300];

	ok(idem_key_valid("a"), "one character");
	ok(idem_key_valid("6f1c2d3e-retry 1 ~!"), "printable ASCII, spaces included");
	memset(key, 'k', 255);
	key[255] = '\0';
	ok(idem_key_valid(key), "255 characters");
	key[255] = 'k';
	key[256] = '\0';
	ok(!idem_key_valid(key), "256 refused");
	ok(!idem_key_valid(""), "empty refused");
	ok(!idem_key_valid("a\tb"), "a tab refused");
	ok(!idem_key_valid("a\x7f"), "DEL refused");
	ok(!idem_key_valid("caf\xc3\xa9"), "non-ASCII refused");
}

static void
test_fingerprint(void)
{
	char	a[65], b[65];

	idem_fingerprint(NULL, "{\"x\":1}", 7, a);
	ok(strlen(a) == 64, "a SHA-256 in hex");
	idem_fingerprint("", "{\"x\":1}", 7, b);
	is_str(a, b, "no query and an empty one: the same");
	idem_fingerprint(NULL, "{\"x\":2}", 7, b);
	ok(strcmp(a, b) != 0, "another body: another fingerprint");
	idem_fingerprint("force=1", "{\"x\":1}", 7, b);
	ok(strcmp(a, b) != 0, "another query: another fingerprint");
	idem_fingerprint("ab", "c", 1, a);
	idem_fingerprint("a", "bc", 2, b);
	ok(strcmp(a, b) != 0, "the query and body cannot trade bytes");
}

/* What a claimed request keeps: the handler's headers only, the body, the cap. */
static void
test_capture(void)
{
	struct req	r;
	struct idem	k;
	char		*big;

	memset(&r, 0, sizeof(r));
	memset(&k, 0, sizeof(k));
	buf_puts(&r.headers, "Access-Control-Allow-Origin: https://a.example\r\n");
	k.hdr_off = r.headers.len;
	r.idem = &k;
	buf_puts(&r.headers, "Location: /api/things/7\r\n");
	idem_head(&r, 201, "application/json");
	idem_body(&r, "{\"id\":", 6);
	idem_body(&r, "7}", 2);
	ok(k.status == 201 && strcmp(k.ctype, "application/json") == 0,
	    "status and type kept");
	ok(k.headers.len == strlen("Location: /api/things/7\r\n") &&
	    memcmp(k.headers.data, "Location:", 9) == 0,
	    "the handler's header kept, not the CORS one queued before it");
	ok(k.body.len == 8 && memcmp(k.body.data, "{\"id\":7}", 8) == 0,
	    "the body, whole or in pieces");
	big = xmalloc(IDEM_BODY_MAX);
	memset(big, 'x', IDEM_BODY_MAX);
	idem_body(&r, big, IDEM_BODY_MAX);
	ok(k.too_big, "past IDEM_BODY_MAX: marked, not kept");
	free(big);
	buf_free(&k.headers);
	buf_free(&k.body);
	buf_free(&r.headers);
	arena_reset(&r.arena);
}

int
main(void)
{
	test_keys();
	test_fingerprint();
	test_capture();
	return done_testing();
}

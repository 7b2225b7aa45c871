/* test_util.c: unit tests for UTF-8, URL and base64url decoding, strict integers, buffers and the arena. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tap.h"

static int
decodes(const char *in, int plus, const char *want)
{
	char	buf[256];
	size_t	len;

	snprintf(buf, sizeof(buf), "%s", in);
	if (url_decode(buf, &len, plus) == -1)
		return want == NULL;
	return want != NULL && strcmp(buf, want) == 0 && len == strlen(want);
}

static void
test_utf8(void)
{
	ok(utf8_valid("plain ascii", 11), "ASCII is UTF-8");
	ok(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14), "2, 3 and 4 byte sequences");
	ok(!utf8_valid("\xc0\x80", 2), "overlong NUL refused");
	ok(!utf8_valid("\xe0\x80\xaf", 3), "overlong slash refused");
	ok(!utf8_valid("\xed\xa0\x80", 3), "surrogate refused");
	ok(!utf8_valid("\xf4\x90\x80\x80", 4), "past U+10FFFF refused");
	ok(!utf8_valid("\xe2\x82", 2), "truncated sequence refused");
	ok(!utf8_valid("\xff", 1), "0xFF refused");
	ok(!utf8_valid("a\0b", 3), "embedded NUL refused");
	is_int(utf8_length("caf\xc3\xa9", 5), 4, "length counts code points");
}

static void
test_url(void)
{
	ok(decodes("a%20b", 0, "a b"), "%%20 decodes");
	ok(decodes("a+b", 1, "a b"), "+ is a space in query strings");
	ok(decodes("a+b", 0, "a+b"), "+ stays in paths");
	ok(decodes("%C3%A9t%c3%a9", 0, "\xc3\xa9t\xc3\xa9"), "either hex case");
	ok(decodes("%zz", 0, NULL), "bad hex refused");
	ok(decodes("abc%", 0, NULL), "truncated escape refused");
	ok(decodes("abc%4", 0, NULL), "half escape refused");
	ok(decodes("a%00b", 0, NULL), "%%00 refused");
	ok(decodes("%FF%FE", 0, NULL), "non-UTF-8 result refused");
	ok(decodes("", 0, ""), "empty is fine");
}

static void
test_int(void)
{
	long long	v = -1;

	ok(parse_int64("0", &v) == 0 && v == 0, "0");
	ok(parse_int64("-42", &v) == 0 && v == -42, "-42");
	ok(parse_int64("007", &v) == 0 && v == 7, "leading zeros");
	ok(parse_int64("9223372036854775807", &v) == 0 && v == 9223372036854775807LL,
	    "INT64_MAX");
	ok(parse_int64("9223372036854775808", &v) == -1, "INT64_MAX + 1 overflows");
	ok(parse_int64("99999999999999999999", &v) == -1, "20 digits overflow");
	ok(parse_int64("abc", &v) == -1, "abc");
	ok(parse_int64("1e3", &v) == -1, "1e3");
	ok(parse_int64("12abc", &v) == -1, "12abc");
	ok(parse_int64(" 1", &v) == -1, "leading space");
	ok(parse_int64("1 ", &v) == -1, "trailing space");
	ok(parse_int64("+1", &v) == -1, "plus sign");
	ok(parse_int64("", &v) == -1, "empty");
	ok(parse_int64("-", &v) == -1, "lone minus");
	ok(parse_int64("0x10", &v) == -1, "hex");
	ok(parse_int64("1.5", &v) == -1, "decimal point");
}

static void
test_base64url(void)
{
	unsigned char	*out;
	size_t		 len;
	char		*enc;

	enc = base64url_encode((const unsigned char *)"hello?>", 7);
	is_str(enc, "aGVsbG8_Pg", "encodes without padding, URL alphabet");
	ok(base64url_decode(enc, strlen(enc), &out, &len) == 0 && len == 7 &&
	    memcmp(out, "hello?>", 7) == 0, "round trip");
	free(out);
	free(enc);
	ok(base64url_decode("aGVs+G8", 7, &out, &len) == -1, "'+' refused");
	ok(base64url_decode("aGVsb", 5, &out, &len) == -1, "impossible length refused");
	ok(base64url_decode("", 0, &out, &len) == 0 && len == 0, "empty decodes");
	free(out);
	ok(base64url_decode("aGk", 3, &out, &len) == 0 && len == 2, "'hi' decodes");
	free(out);
	ok(base64url_decode("aGl", 3, &out, &len) == -1,
	    "non-zero unused bits refused (one encoding per byte string)");
}

static void
test_buf(void)
{
	struct buf	b = { 0 };
	int		i;

	buf_json_string(&b, "a\"b\\c\n\x01\x7f", 8);
	is_str(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u007f\"", "JSON escapes");
	buf_reset(&b);
	buf_json_string(&b, "ok\xff\xc3\xa9", 5);
	is_str(b.data, "\"ok\xef\xbf\xbd\xc3\xa9\"", "invalid UTF-8 becomes U+FFFD, valid stays");
	buf_reset(&b);
	for (i = 0; i < 10000; i++)
		buf_printf(&b, "%d,", i);
	ok(b.len == strlen(b.data) && strncmp(b.data + b.len - 5, "9999,", 5) == 0,
	    "buffer grows and stays terminated");
	buf_free(&b);
}

static void
test_arena(void)
{
	struct arena	 a = { 0 };
	char		*s, *big;
	int		 i, okay = 1;

	for (i = 0; i < 5000; i++) {
		s = arena_printf(&a, "item-%d", i);
		okay &= strcmp(s, "item-4999") == 0 || i != 4999;
		okay &= ((uintptr_t)s % _Alignof(max_align_t)) == 0;
	}
	ok(okay, "many small allocations, aligned");
	big = arena_alloc(&a, 1 << 20);
	memset(big, 'x', 1 << 20);
	ok(big[(1 << 20) - 1] == 'x', "a block larger than the default");
	is_str(arena_strndup(&a, "abcdef", 3), "abc", "strndup");
	arena_reset(&a);
	ok(a.head == NULL, "reset frees every block");
}

static void
test_ident(void)
{
	ok(ident_valid("user_2abcXYZ", 12), "Clerk user id");
	ok(ident_valid("auth0|123", 9), "Auth0 sub");
	ok(!ident_valid("", 0), "empty");
	ok(!ident_valid("a b", 3), "space");
	ok(!ident_valid("a'b", 3), "quote");
	ok(!ident_valid("a\nb", 3), "newline");
	ok(ident_valid("abcdefghij"
	    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
	    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefgh", 128),
	    "128 characters");
}

int
main(void)
{
	test_utf8();
	test_url();
	test_int();
	test_base64url();
	test_buf();
	test_arena();
	test_ident();
	return done_testing();
}

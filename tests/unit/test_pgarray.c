/* test_pgarray.c: unit tests for the parser of PostgreSQL's array text form. */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "tap.h"

/* The elements joined with '|' (NULL as "(null)"), or "error". */
static const char *
parse(const char *text, size_t max)
{
	static char	 out[512];
	char		 s[256], *items[16];
	size_t		 n, i;
	int		 count;

	snprintf(s, sizeof(s), "%s", text);
	if ((count = pg_array_parse(s, items, max, &n)) == -1)
		return "error";
	snprintf(out, sizeof(out), "%d:", count);
	for (i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
		    i ? "|" : "", items[i] ? items[i] : "(null)");
	return out;
}

int
main(void)
{
	is_str(parse("{}", 16), "0:", "empty array");
	is_str(parse("{c}", 16), "1:c", "one element");
	is_str(parse("{postgresql,c,node.js}", 16), "3:postgresql|c|node.js", "plain elements");
	is_str(parse("{\"api development\",\"ci/cd\",linux}", 16),
	    "3:api development|ci/cd|linux", "quoted elements");
	is_str(parse("{\"a\\\"b\",\"c\\\\d\",\"e,f\",\"{g}\"}", 16), "4:a\"b|c\\d|e,f|{g}",
	    "escapes, commas and braces inside quotes");
	is_str(parse("{NULL,\"NULL\",null}", 16), "3:(null)|NULL|(null)",
	    "NULL elements, and a quoted \"NULL\" string");
	is_str(parse("{\"\"}", 16), "1:", "an empty string must be quoted");
	is_str(parse("{ a , \"b\" }", 16), "2:a|b", "whitespace around elements");
	is_str(parse("[0:1]={x,y}", 16), "2:x|y", "a dimension prefix");
	is_str(parse("{a,b,c}", 2), "3:a|b", "at most max stored, all counted");
	is_str(parse("{\"caf\xc3\xa9\"}", 16), "1:caf\xc3\xa9", "UTF-8 untouched");
	is_str(parse("", 16), "error", "empty text");
	is_str(parse("{", 16), "error", "unclosed");
	is_str(parse("{a,}", 16), "error", "trailing comma");
	is_str(parse("{,a}", 16), "error", "empty unquoted element");
	is_str(parse("{\"a}", 16), "error", "unclosed quote");
	is_str(parse("{\"a\\", 16), "error", "backslash at the end");
	is_str(parse("{{a},{b}}", 16), "error", "nested arrays refused");
	is_str(parse("{a}x", 16), "error", "trailing garbage");
	is_str(parse("{a\"b}", 16), "error", "quote inside an unquoted element");
	is_str(parse("a,b", 16), "error", "no braces");
	is_str(parse("[1:2]{a}", 16), "error", "a dimension prefix without =");
	return done_testing();
}

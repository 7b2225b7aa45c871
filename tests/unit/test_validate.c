/* test_validate.c: unit tests for the field tables: strict types, ranges, lengths, unknown keys, strict JSON. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tap.h"

static const char *const tones[] = { "professional", "friendly", NULL };

struct sample {
	long long	 count;
	double		 rate;
	int		 flag;
	char		*name;
	int		 tone;
	struct strlist	 tags;
	char		*id;
	long long	 page;
};
enum { S_COUNT, S_RATE, S_FLAG, S_NAME, S_TONE, S_TAGS, S_ID, S_PAGE };

static const struct field fields[] = {
	[S_COUNT] = { FIELD("count", FT_INT, struct sample, count),
	    .max = 100 },
	[S_RATE] = { FIELD("rate", FT_NUMBER, struct sample, rate),
	    .max = 1000 },
	[S_FLAG] = { FIELD("flag", FT_BOOL, struct sample, flag),
	    .def = "false" },
	[S_NAME] = { FIELD("name", FT_STRING, struct sample, name),
	    .flags = F_REQUIRED, .min = 1, .max = 5 },
	[S_TONE] = { FIELD("tone", FT_ENUM, struct sample, tone),
	    .choices = tones, .def = "friendly" },
	[S_TAGS] = { FIELD("tags", FT_STRLIST, struct sample, tags),
	    .flags = F_LOWER, .min = 1, .max = 3, .item_max = 10 },
	[S_ID] = { FIELD("id", FT_UUID, struct sample, id),
	    .flags = F_NULLABLE },
	[S_PAGE] = { FIELD("page", FT_INT, struct sample, page), .min = 1,
	    .max = 1000, .def = "1" },
};

static struct arena	arena;

/* Validate a JSON text; returns the first error's "field: message" or "ok". */
static const char *
json_check(const char *text, struct sample *s, uint64_t *set)
{
	static char		 out[256];
	struct valid_err	 e = { 0 };
	json_object		*obj, *d;
	const char		*why;

	memset(s, 0, sizeof(*s));
	if ((obj = json_parse_strict(text, strlen(text), 16, &why)) == NULL) {
		snprintf(out, sizeof(out), "parse: %s", why);
		return out;
	}
	if (valid_fields_json(&arena, fields, nitems(fields), obj, s, set, &e) == 0) {
		json_object_put(obj);
		return "ok";
	}
	d = json_object_array_get_idx(e.details, 0);
	snprintf(out, sizeof(out), "%s: %s",
	    json_object_get_string(json_object_object_get(d, "field")),
	    json_object_get_string(json_object_object_get(d, "message")));
	json_object_put(e.details);
	json_object_put(obj);
	return out;
}

static const char *
query_check(const char *k1, const char *v1, const char *k2, const char *v2,
    struct sample *s, uint64_t *set)
{
	static char		 out[256];
	struct param		 p[3] = { { "name", "abc" } };
	struct valid_err	 e = { 0 };
	json_object		*d;
	size_t			 n = 1;

	memset(s, 0, sizeof(*s));
	if (k1 != NULL)
		p[n++] = (struct param){ (char *)k1, (char *)v1 };
	if (k2 != NULL)
		p[n++] = (struct param){ (char *)k2, (char *)v2 };
	if (valid_fields_query(&arena, fields, nitems(fields), p, n, s, set, &e) == 0)
		return "ok";
	d = json_object_array_get_idx(e.details, 0);
	snprintf(out, sizeof(out), "%s: %s",
	    json_object_get_string(json_object_object_get(d, "field")),
	    json_object_get_string(json_object_object_get(d, "message")));
	json_object_put(e.details);
	return out;
}

static void
test_query(void)
{
	struct sample	s;
	uint64_t	set;

	is_str(query_check("count", "42", NULL, NULL, &s, &set), "ok", "integer");
	ok(s.count == 42 && FIELD_SET(set, S_COUNT), "value and presence bit");
	ok(s.page == 1 && !FIELD_SET(set, S_PAGE), "default applied, not marked given");
	ok(s.tone == 1 && s.flag == 0, "enum and bool defaults");
	is_str(query_check("count", "abc", NULL, NULL, &s, &set), "count: must be an integer", "abc");
	is_str(query_check("count", "1e3", NULL, NULL, &s, &set), "count: must be an integer", "1e3");
	is_str(query_check("count", "12abc", NULL, NULL, &s, &set), "count: must be an integer", "12abc");
	is_str(query_check("count", "99999999999999999999", NULL, NULL, &s, &set),
	    "count: must be an integer", "overflow");
	is_str(query_check("count", "101", NULL, NULL, &s, &set),
	    "count: must be between 0 and 100", "out of range");
	is_str(query_check("count", "-1", NULL, NULL, &s, &set),
	    "count: must be between 0 and 100", "negative");
	is_str(query_check("count", "", NULL, NULL, &s, &set), "count: must be an integer", "empty");
	is_str(query_check("bogus", "1", NULL, NULL, &s, &set), "bogus: unknown parameter", "unknown parameter");
	is_str(query_check("count", "1", "count", "2", &s, &set), "count: given more than once", "duplicate");
	is_str(query_check("rate", "12.50", NULL, NULL, &s, &set), "ok", "decimal number");
	ok(s.rate == 12.5, "number value");
	is_str(query_check("rate", "nan", NULL, NULL, &s, &set), "rate: must be a number", "nan");
	is_str(query_check("rate", "1e2", NULL, NULL, &s, &set), "rate: must be a number", "exponent");
	is_str(query_check("rate", "inf", NULL, NULL, &s, &set), "rate: must be a number", "inf");
	is_str(query_check("flag", "yes", NULL, NULL, &s, &set), "flag: must be true or false", "bool");
	is_str(query_check("tone", "rude", NULL, NULL, &s, &set),
	    "tone: must be one of: professional, friendly", "enum lists choices");
	is_str(query_check("tags", "React, Node.js ,,SQL", NULL, NULL, &s, &set), "ok", "comma list");
	ok(s.tags.n == 3 && strcmp(s.tags.v[0], "react") == 0 &&
	    strcmp(s.tags.v[1], "node.js") == 0 && strcmp(s.tags.v[2], "sql") == 0,
	    "items trimmed, lower-cased, empties skipped");
	is_str(query_check("tags", "a,b,c,d", NULL, NULL, &s, &set), "tags: must have 1 to 3 items", "too many items");
	is_str(query_check("tags", "waytoolongtag", NULL, NULL, &s, &set),
	    "tags: must be 1 to 10 characters long", "item too long");
	is_str(query_check("id", "not-a-uuid", NULL, NULL, &s, &set), "id: must be a UUID", "uuid");
	is_str(query_check("id", "6F9619FF-8B86-D011-B42D-00C04FC964FF", NULL, NULL, &s, &set), "ok", "uuid upper case");
	is_str(s.id, "6f9619ff-8b86-d011-b42d-00c04fc964ff", "uuid canonicalised");
}

static void
test_json(void)
{
	struct sample	s;
	uint64_t	set;

	is_str(json_check("{\"name\":\"Ann\",\"count\":3,\"rate\":2.5,\"flag\":true,"
	    "\"tone\":\"professional\",\"tags\":[\"A\",\"b\"],\"id\":null}", &s, &set),
	    "ok", "a full valid body");
	ok(s.count == 3 && s.rate == 2.5 && s.flag == 1 && s.tone == 0 &&
	    s.tags.n == 2 && strcmp(s.tags.v[0], "a") == 0, "values copied");
	ok(!FIELD_SET(set, S_ID) && s.id == NULL, "null on a nullable field means absent");
	is_str(json_check("{\"count\":3}", &s, &set), "name: is required", "required");
	is_str(json_check("{\"name\":\"Ann\",\"extra\":1}", &s, &set), "extra: unknown field", "unknown key");
	is_str(json_check("{\"name\":\"Ann\",\"count\":\"3\"}", &s, &set), "count: must be an integer", "string for int");
	is_str(json_check("{\"name\":\"Ann\",\"count\":3.5}", &s, &set), "count: must be an integer", "float for int");
	is_str(json_check("{\"name\":\"Ann\",\"count\":1e3}", &s, &set), "count: must be an integer", "1e3 for int");
	is_str(json_check("{\"name\":\"Ann\",\"count\":true}", &s, &set), "count: must be an integer", "bool for int");
	is_str(json_check("{\"name\":\"Ann\",\"count\":null}", &s, &set), "count: must not be null", "null");
	is_str(json_check("{\"name\":\"Ann\",\"count\":9223372036854775807}", &s, &set),
	    "count: must be between 0 and 100", "huge int");
	ok(strcmp(json_check("{\"name\":\"Ann\",\"count\":99999999999999999999999}", &s, &set), "ok") != 0,
	    "int past 64 bits refused");
	is_str(json_check("{\"name\":\"Ann\",\"rate\":1e999}", &s, &set), "rate: must be between 0 and 1000", "infinite");
	is_str(json_check("{\"name\":\"\"}", &s, &set), "name: must be 1 to 5 characters long", "empty string");
	is_str(json_check("{\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}", &s, &set), "ok",
	    "length counts characters, not bytes");
	is_str(json_check("{\"name\":\"a\\u0000b\"}", &s, &set),
	    "name: must be valid UTF-8 text without NUL", "NUL inside a string");
	is_str(json_check("{\"name\":42}", &s, &set), "name: must be a string", "number for string");
	is_str(json_check("{\"name\":\"Ann\",\"tags\":\"a,b\"}", &s, &set),
	    "tags: must be an array of strings", "string for list");
	is_str(json_check("{\"name\":\"Ann\",\"tags\":[1]}", &s, &set),
	    "tags: must be an array of strings", "number in list");
	is_str(json_check("{\"name\":\"Ann\",\"tags\":[]}", &s, &set),
	    "tags: must have 1 to 3 items", "empty list");
	is_str(json_check("[1,2]", &s, &set), "body: must be a JSON object", "array body");
	is_str(json_check("\"x\"", &s, &set), "body: must be a JSON object", "string body");
}

static void
test_parse(void)
{
	struct sample	 s;
	uint64_t	 set;
	char		 deep[100];
	int		 i;

	ok(strncmp(json_check("{\"name\":", &s, &set), "parse:", 6) == 0, "truncated");
	ok(strncmp(json_check("{\"name\":\"a\"} x", &s, &set), "parse:", 6) == 0, "trailing garbage");
	ok(strncmp(json_check("{\"name\":\"a\",}", &s, &set), "parse:", 6) == 0, "trailing comma");
	ok(strncmp(json_check("{'name':'a'}", &s, &set), "parse:", 6) == 0, "single quotes");
	/* json-c reads NaN even in strict mode; the number check refuses it. */
	ok(strcmp(json_check("{\"name\":\"a\",\"rate\":NaN}", &s, &set), "ok") != 0, "NaN refused");
	ok(strcmp(json_check("{\"name\":\"a\",\"rate\":-Infinity}", &s, &set), "ok") != 0, "Infinity refused");
	ok(strncmp(json_check("{\"name\":\"\xff\"}", &s, &set), "parse:", 6) == 0, "invalid UTF-8");
	ok(strncmp(json_check("", &s, &set), "parse:", 6) == 0, "empty");
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	for (; i < 80; i++)
		deep[i] = ']';
	deep[80] = '\0';
	is_str(json_check(deep, &s, &set), "parse: JSON nested too deeply", "depth capped");
	is_str(json_check("{\"name\":\"Ann\"}  \n", &s, &set), "ok", "trailing whitespace is fine");
	/* Issue 15: json-c keeps the last of two equal keys; refuse them. */
	is_str(json_check("{\"name\":\"a\",\"name\":\"b\"}", &s, &set),
	    "parse: a key appears twice in an object", "a duplicate key");
	is_str(json_check("{\"name\":\"a\",\"n\\u0061me\":\"b\"}", &s, &set),
	    "parse: a key appears twice in an object", "a duplicate key spelt with an escape");
	is_str(json_check("{\"name\":\"a\",\"rate\":{\"x\":1,\"x\":{}}}", &s, &set),
	    "parse: a key appears twice in an object", "a duplicate key in a nested object");
	is_str(json_check("{\"name\":\"a\",\"tags\":[{\"k\":1},{\"k\":2,\"k\":3}]}", &s, &set),
	    "parse: a key appears twice in an object", "in an object in an array");
	is_str(json_check("{\"name\":{\"a\":1,\"b\":2},\"name\":\"x\"}", &s, &set),
	    "parse: a key appears twice in an object", "the first value an object");
	is_str(json_check("{\"name\":\"a:\\\":\"}", &s, &set), "ok",
	    "colons and escaped quotes inside strings are not members");
}

static void
test_pg_array(void)
{
	char		*v[] = { "a\"b", "c\\d", "e,f" };
	struct strlist	 l = { v, 3 };

	is_str(pg_text_array(&arena, &l), "{\"a\\\"b\",\"c\\\\d\",\"e,f\"}", "array literal quoting");
	l.n = 0;
	is_str(pg_text_array(&arena, &l), "{}", "empty array");
	ok(uuid_valid("00000000-0000-0000-0000-000000000000"), "nil uuid valid");
	ok(!uuid_valid("00000000-0000-0000-0000-00000000000g"), "non-hex refused");
	ok(!uuid_valid("000000000000-0000-0000-0000-00000000"), "dashes misplaced");
}

/* A table with a list of objects (portfolio items) and dates. */
struct item {
	char		*title;
	struct strlist	 skills;
	long long	 year;
	struct objlist	 links;
};
struct link {
	char	*url;
};
struct profile_body {
	char		*name;
	struct objlist	 items;
	long long	 from;
	long long	 at;
};
static const struct field link_fields[] = {
	{ FIELD("url", FT_STRING, struct link, url), .flags = F_REQUIRED,
	    .min = 1, .max = 20 },
};
static const struct field_obj link_obj = { link_fields, nitems(link_fields), sizeof(struct link) };
static const struct field item_fields[] = {
	{ FIELD("title", FT_STRING, struct item, title), .flags = F_REQUIRED,
	    .min = 1, .max = 10 },
	{ FIELD("skills", FT_STRLIST, struct item, skills), .flags = F_LOWER,
	    .max = 2, .item_max = 10 },
	{ FIELD("year", FT_INT, struct item, year), .min = 1990, .max = 2100,
	    .def = "2000" },
	{ FIELD("links", FT_OBJLIST, struct item, links), .max = 2,
	    .choices = &link_obj },
};
static const struct field_obj item_obj = { item_fields, nitems(item_fields), sizeof(struct item) };
static const struct field body_fields[] = {
	{ FIELD("name", FT_STRING, struct profile_body, name), .min = 1,
	    .max = 10 },
	{ FIELD("items", FT_OBJLIST, struct profile_body, items),
	    .flags = F_NULLABLE, .max = 3, .choices = &item_obj },
	{ FIELD("from", FT_DATE, struct profile_body, from), .min = 10957,
	    .max = 47481 },
	{ FIELD("at", FT_TIME, struct profile_body, at),
	    .min = 946684800000000LL, .max = 4102444800000000LL },
};

/* Every error of a body, "field: message" joined by "; ", or "ok". */
static const char *
all_errors(const char *text, struct profile_body *b)
{
	static char		 out[1024];
	struct valid_err	 e = { 0 };
	json_object		*obj, *d;
	const char		*why;
	uint64_t		 set;
	size_t			 i;

	memset(b, 0xa5, sizeof(*b));
	if ((obj = json_parse_strict(text, strlen(text), 16, &why)) == NULL)
		return why;
	if (valid_fields_json(&arena, body_fields, nitems(body_fields), obj, b,
	    &set, &e) == 0) {
		json_object_put(obj);
		return "ok";
	}
	out[0] = '\0';
	for (i = 0; i < json_object_array_length(e.details); i++) {
		d = json_object_array_get_idx(e.details, i);
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s: %s",
		    i ? "; " : "",
		    json_object_get_string(json_object_object_get(d, "field")),
		    json_object_get_string(json_object_object_get(d, "message")));
	}
	json_object_put(e.details);
	json_object_put(obj);
	return out;
}

static void
test_objlist(void)
{
	struct profile_body	 b;
	struct item		*it;
	struct link		*ln;

	is_str(all_errors("{\"name\":\"x\",\"items\":[{\"title\":\"API\",\"skills\":[\"C\"]},"
	    "{\"title\":\"Web\",\"year\":2021,\"links\":[{\"url\":\"https://a\"}]}]}", &b),
	    "ok", "a list of objects");
	it = b.items.v;
	ok(b.items.n == 2 && strcmp(it[0].title, "API") == 0 && it[0].skills.n == 1 &&
	    strcmp(it[0].skills.v[0], "c") == 0 && it[0].year == 2000 && it[0].links.n == 0 &&
	    it[0].links.v == NULL, "item 0: values, flags, defaults, absent list zeroed");
	ln = it[1].links.v;
	ok(it[1].year == 2021 && it[1].skills.n == 0 && it[1].skills.v == NULL &&
	    it[1].links.n == 1 && strcmp(ln[0].url, "https://a") == 0, "item 1 and its nested list");
	is_str(all_errors("{\"items\":[]}", &b), "ok", "an empty list");
	ok(b.items.n == 0, "with no items");
	is_str(all_errors("{\"items\":null}", &b), "ok", "null on a nullable list");
	is_str(all_errors("{\"items\":[{},{\"title\":\"ok\",\"bogus\":1},{\"title\":\"waytoolongtitle\"}]}", &b),
	    "items[0].title: is required; items[1].bogus: unknown field; "
	    "items[2].title: must be 1 to 10 characters long",
	    "every item error names its path");
	is_str(all_errors("{\"items\":[{\"title\":\"a\",\"links\":[{\"url\":1},{}]}]}", &b),
	    "items[0].links[0].url: must be a string; items[0].links[1].url: is required",
	    "nested paths");
	is_str(all_errors("{\"items\":[1,\"x\",[]]}", &b),
	    "items[0]: must be an object; items[1]: must be an object; items[2]: must be an object",
	    "items that are not objects");
	is_str(all_errors("{\"items\":{\"title\":\"a\"}}", &b), "items: must be an array of objects",
	    "an object for a list");
	is_str(all_errors("{\"items\":[{\"title\":\"a\"},{\"title\":\"b\"},{\"title\":\"c\"},"
	    "{\"title\":\"d\"}]}", &b), "items: must have 0 to 3 items", "too many items");
	is_str(all_errors("{\"name\":\"\",\"items\":[{\"title\":\"a\",\"year\":1800}],\"x\":1}", &b),
	    "name: must be 1 to 10 characters long; items[0].year: must be between 1990 and 2100; "
	    "x: unknown field", "errors outside and inside items, all at once, prefix restored");
}

static void
test_dates(void)
{
	struct profile_body	b;
	struct param		p[2];
	struct valid_err	e = { 0 };
	uint64_t		set;

	is_str(all_errors("{\"from\":\"2024-05-01\",\"at\":\"2024-05-01T12:00:00Z\"}", &b), "ok",
	    "a date and a time");
	ok(b.from == days_from_civil(2024, 5, 1) && b.at == b.from * 86400 * 1000000LL + 12 * 3600 * 1000000LL,
	    "stored as days and microseconds");
	is_str(all_errors("{\"from\":\"2024-02-30\"}", &b), "from: must be a date such as 2024-05-01",
	    "not a real day");
	is_str(all_errors("{\"from\":\"1999-12-31\"}", &b), "from: must be between 2000-01-01 and 2099-12-31",
	    "a date out of range, said as dates");
	is_str(all_errors("{\"from\":20240501}", &b), "from: must be a string", "a number for a date");
	is_str(all_errors("{\"at\":\"2024-05-01\"}", &b),
	    "at: must be an ISO 8601 time such as 2024-05-01T12:00:00Z", "a date for a time");
	is_str(all_errors("{\"at\":\"1990-05-01T00:00:00Z\"}", &b),
	    "at: must be between 2000-01-01T00:00:00.000Z and 2100-01-01T00:00:00.000Z",
	    "a time out of range, said as times");
	p[0] = (struct param){ "from", "2024-05-01" };
	p[1] = (struct param){ "items", "x" };
	ok(valid_fields_query(&arena, body_fields, nitems(body_fields), p, 1, &b, &set, &e) == 0 &&
	    b.from == days_from_civil(2024, 5, 1), "a date in a query string");
	ok(valid_fields_query(&arena, body_fields, nitems(body_fields), p + 1, 1, &b, &set, &e) == -1,
	    "a list of objects cannot come from a query string");
	json_object_put(e.details);
}

int
main(void)
{
	test_query();
	test_json();
	test_parse();
	test_pg_array();
	test_objlist();
	test_dates();
	arena_reset(&arena);
	return done_testing();
}

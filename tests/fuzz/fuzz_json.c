/* fuzz_json.c: libFuzzer target for the strict JSON parser and the JSON field validator (lists of objects, dates and times included). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common.h"

struct item {
	char		*title;
	struct strlist	 skills;
	long long	 year;
	struct objlist	 sub;
};

struct body {
	struct objlist	 items;
	long long	 day;
	long long	 at;
	char		*name;
	long long	 count;
	double		 rate;
	int		 flag;
	int		 tone;
	struct strlist	 tags;
	char		*id;
};

static const char *const tones[] = { "a", "b", NULL };

static const struct field sub_fields[] = {
	{ "title", FT_STRING, F_REQUIRED, 1, 100, 0, NULL, offsetof(struct item, title), NULL },
};
static const struct field_obj sub_obj = { sub_fields, 1, sizeof(struct item) };
static const struct field item_fields[] = {
	{ "title", FT_STRING, F_REQUIRED, 1, 100, 0, NULL, offsetof(struct item, title), NULL },
	{ "skills", FT_STRLIST, F_LOWER, 0, 20, 50, NULL, offsetof(struct item, skills), NULL },
	{ "year", FT_INT, 0, 1990, 2100, 0, NULL, offsetof(struct item, year), "2000" },
	{ "sub", FT_OBJLIST, F_NULLABLE, 0, 5, 0, &sub_obj, offsetof(struct item, sub), NULL },
};
static const struct field_obj item_obj = { item_fields, 4, sizeof(struct item) };

static const struct field fields[] = {
	{ "items", FT_OBJLIST, 0, 0, 10, 0, &item_obj, offsetof(struct body, items), NULL },
	{ "day", FT_DATE, 0, 0, 100000, 0, NULL, offsetof(struct body, day), NULL },
	{ "at", FT_TIME, 0, 0, 4102444800000000LL, 0, NULL, offsetof(struct body, at), NULL },
	{ "name", FT_STRING, F_REQUIRED, 1, 100, 0, NULL, offsetof(struct body, name), NULL },
	{ "count", FT_INT, F_NULLABLE, -5, 5000, 0, NULL, offsetof(struct body, count), "1" },
	{ "rate", FT_NUMBER, 0, 0, 1000, 0, NULL, offsetof(struct body, rate), NULL },
	{ "flag", FT_BOOL, 0, 0, 0, 0, NULL, offsetof(struct body, flag), "true" },
	{ "tone", FT_ENUM, 0, 0, 0, 0, tones, offsetof(struct body, tone), "a" },
	{ "tags", FT_STRLIST, F_LOWER, 0, 20, 50, NULL, offsetof(struct body, tags), NULL },
	{ "id", FT_UUID, F_NULLABLE, 0, 0, 0, NULL, offsetof(struct body, id), NULL },
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena		 a = { 0 };
	struct valid_err	 e = { 0 };
	struct body		 b;
	json_object		*obj;
	const char		*why;
	uint64_t		 set;

	memset(&b, 0, sizeof(b));
	if ((obj = json_parse_strict((const char *)data, size, 16, &why)) != NULL) {
		(void)valid_fields_json(&a, fields, sizeof(fields) / sizeof(fields[0]),
		    obj, &b, &set, &e);
		json_object_put(obj);
	}
	json_object_put(e.details);
	arena_reset(&a);
	return 0;
}

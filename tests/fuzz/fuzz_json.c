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
	{ FIELD("title", FT_STRING, struct item, title), .flags = F_REQUIRED,
	    .min = 1, .max = 100 },
};
static const struct field_obj sub_obj = { sub_fields, 1, sizeof(struct item) };
static const struct field item_fields[] = {
	{ FIELD("title", FT_STRING, struct item, title), .flags = F_REQUIRED,
	    .min = 1, .max = 100 },
	{ FIELD("skills", FT_STRLIST, struct item, skills), .flags = F_LOWER,
	    .max = 20, .item_max = 50 },
	{ FIELD("year", FT_INT, struct item, year), .min = 1990, .max = 2100,
	    .def = "2000" },
	{ FIELD("sub", FT_OBJLIST, struct item, sub), .flags = F_NULLABLE,
	    .max = 5, .choices = &sub_obj },
};
static const struct field_obj item_obj = { item_fields, 4, sizeof(struct item) };

static const struct field fields[] = {
	{ FIELD("items", FT_OBJLIST, struct body, items), .max = 10,
	    .choices = &item_obj },
	{ FIELD("day", FT_DATE, struct body, day), .max = 100000 },
	{ FIELD("at", FT_TIME, struct body, at), .max = 4102444800000000LL },
	{ FIELD("name", FT_STRING, struct body, name), .flags = F_REQUIRED,
	    .min = 1, .max = 100 },
	{ FIELD("count", FT_INT, struct body, count), .flags = F_NULLABLE,
	    .min = -5, .max = 5000, .def = "1" },
	{ FIELD("rate", FT_NUMBER, struct body, rate), .max = 1000 },
	{ FIELD("flag", FT_BOOL, struct body, flag), .def = "true" },
	{ FIELD("tone", FT_ENUM, struct body, tone), .choices = tones,
	    .def = "a" },
	{ FIELD("tags", FT_STRLIST, struct body, tags), .flags = F_LOWER,
	    .max = 20, .item_max = 50 },
	{ FIELD("id", FT_UUID, struct body, id), .flags = F_NULLABLE },
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

/* fuzz_query.c: libFuzzer target for URL decoding and the query-string field validator. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common.h"

struct q {
	struct strlist	 skills;
	long long	 min;
	char		*loc;
	double		 rate;
};

static const struct field fields[] = {
	{ FIELD("skills", FT_STRLIST, struct q, skills), .flags = F_LOWER,
	    .min = 1, .max = 20, .item_max = 50 },
	{ FIELD("min", FT_INT, struct q, min), .max = 100000000, .def = "0" },
	{ FIELD("loc", FT_STRING, struct q, loc), .min = 1, .max = 100 },
	{ FIELD("rate", FT_NUMBER, struct q, rate), .max = 1000 },
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The input is a query string: split on '&' and '=', decoded like request.c does. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena		 a = { 0 };
	struct valid_err	 e = { 0 };
	struct param		 p[16];
	struct q		 out;
	char			*s, *pair, *save, *eq;
	size_t			 n = 0, len;
	uint64_t		 set;

	s = arena_strndup(&a, (const char *)data, size);
	for (pair = strtok_r(s, "&", &save); pair != NULL && n < 16;
	    pair = strtok_r(NULL, "&", &save)) {
		if ((eq = strchr(pair, '=')) != NULL)
			*eq++ = '\0';
		else
			eq = pair + strlen(pair);
		if (url_decode(pair, &len, 1) == -1 || url_decode(eq, &len, 1) == -1)
			goto out;
		p[n].key = pair;
		p[n].val = eq;
		n++;
	}
	memset(&out, 0, sizeof(out));
	(void)valid_fields_query(&a, fields, sizeof(fields) / sizeof(fields[0]),
	    p, n, &out, &set, &e);
out:
	json_object_put(e.details);
	arena_reset(&a);
	return 0;
}

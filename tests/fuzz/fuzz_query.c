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
	{ "skills", FT_STRLIST, F_LOWER, 1, 20, 50, NULL, offsetof(struct q, skills), NULL },
	{ "min", FT_INT, 0, 0, 100000000, 0, NULL, offsetof(struct q, min), "0" },
	{ "loc", FT_STRING, 0, 1, 100, 0, NULL, offsetof(struct q, loc), NULL },
	{ "rate", FT_NUMBER, 0, 0, 1000, 0, NULL, offsetof(struct q, rate), NULL },
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

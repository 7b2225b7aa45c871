/* fuzz_upwork.c: libFuzzer target for the Upwork parsers: GraphQL search pages, job postings, token responses, OAuth states, Retry-After. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * The first byte picks the parser, the rest is its input, as it would
 * come from Upwork (or, for states, from anyone on the callback URL).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct crypto_keys	 k = { .loaded = 1 };
	struct upwork_page		 p;
	struct upwork_details		 d;
	struct upwork_tokens		 t;
	struct upwork_state		 st;
	struct upwork_err		 e;
	char				*s;

	if (size < 1)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		(void)upwork_parse_page(s, size - 1, &p, &e);
		upwork_page_free(&p);
		break;
	case 1:
		(void)upwork_parse_details(s, size - 1, &d, &e);
		upwork_details_free(&d);
		break;
	case 2:
		(void)upwork_parse_tokens(s, size - 1, data[0] & 0x80 ? 400 : 200, &t, &e);
		break;
	case 3:
		(void)upwork_state_verify(&k, s, 1000, &st);
		break;
	case 4:
		(void)upwork_retry_after(s, 1000);
		break;
	}
	free(s);
	return 0;
}

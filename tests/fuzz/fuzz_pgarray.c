/* fuzz_pgarray.c: libFuzzer target for the parser of PostgreSQL's array text form: every element it returns lies inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s = xmalloc(size + 1), *items[8];
	size_t	 n, i;
	int	 count;

	memcpy(s, data, size);
	s[size] = '\0';
	count = pg_array_parse(s, items, 8, &n);
	if (count >= 0 && (n > 8 || (size_t)count < n))
		abort();
	for (i = 0; count >= 0 && i < n; i++)
		if (items[i] != NULL && (items[i] < s || items[i] + strlen(items[i]) > s + size))
			abort();
	free(s);
	return 0;
}

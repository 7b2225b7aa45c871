/* fuzz_template.c: libFuzzer target for proposal template checking and filling: a text that passes the check fills without surprises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const	 values[TEMPLATE_VAR__MAX] = { "A", "B", "C", "D", "E", NULL };
	struct template_error		 err;
	struct buf			 b = { 0 };
	unsigned int			 used;
	const char			*s = (const char *)data;

	if (template_check(s, size, &used, &err) == 0) {
		if (used >> TEMPLATE_VAR__MAX)
			abort();
		template_fill(&b, s, size, values);
		/* Filled with brace-free values, a checked text has no braces pair left. */
		if (b.data != NULL && (memmem(b.data, b.len, "{{", 2) != NULL ||
		    memmem(b.data, b.len, "}}", 2) != NULL))
			abort();
		buf_reset(&b);
	} else if (err.offset > size || memchr(err.message, '\0', sizeof(err.message)) == NULL)
		abort();
	template_fill(&b, s, size, values);
	buf_free(&b);
	return 0;
}

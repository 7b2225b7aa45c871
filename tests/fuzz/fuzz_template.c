/* fuzz_template.c: libFuzzer target for proposal template checking and filling: a text that passes the check fills without surprises, and the builtin writer fills it within maxWords. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The builtin writer's fill: values from a job and a profile, cut to a word count. */
static void
builtin_fill(const char *data, size_t size)
{
	static char		*skills[] = { "c", "node.js", "{{rate}}" };
	struct job_brief	 j = { .id = "x", .title = "Fix {{rate}} it", .description = "",
	    .skills = { skills, 3 }, .budget_type = "hourly", .budget_min = 10,
	    .budget_max = 20, .currency = "USD", .client_name = "}}{{" };
	struct profile		 p = { .name = "N", .skills = { skills, 2 }, .hourly_rate = 30,
	    .hourly_rate_min = -1, .threshold = -1, .tone = -1, .nportfolio = 1 };
	struct buf		 b = { 0 };
	char			*s;
	long long		 max = (long long)(size % 50);

	p.portfolio[0] = (struct portfolio_item){ .title = "T", .url = "https://x",
	    .skills = { skills, 1 } };
	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	llm_builtin_template(&b, s, &j, &p, max);
	if (max > 0 && words_count(b.data, b.len) > (size_t)max)
		abort();
	buf_free(&b);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const	 full[TEMPLATE_VAR__MAX] = { "A", "B", "C", "D", "E", "F" };
	static const char *const	 values[TEMPLATE_VAR__MAX] = { "A", "B", "C", "D", "E", NULL };
	struct template_error		 err;
	struct buf			 b = { 0 };
	unsigned int			 used;
	const char			*s = (const char *)data;

	if (template_check(s, size, &used, &err) == 0) {
		if (used >> TEMPLATE_VAR__MAX)
			abort();
		template_fill(&b, s, size, full);
		/*
		 * Filled with brace-free values, a checked text has no braces
		 * pair left.  Not with an empty value: "}{{rate}}}" filled with
		 * "" is "}}", the text's own single braces side by side.
		 */
		if (b.data != NULL && (memmem(b.data, b.len, "{{", 2) != NULL ||
		    memmem(b.data, b.len, "}}", 2) != NULL))
			abort();
		buf_reset(&b);
	} else if (err.offset > size || memchr(err.message, '\0', sizeof(err.message)) == NULL)
		abort();
	template_fill(&b, s, size, values);
	buf_free(&b);
	builtin_fill(s, size);
	return 0;
}

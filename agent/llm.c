/* llm.c: what every LLM provider shares: provider names, the per-model price table, token counting and cost. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static const char *const provider_names[LLM__MAX] = {
	[LLM_BUILTIN] = "builtin",
	[LLM_OPENAI] = "openai",
};

int
llm_provider_parse(const char *s, enum llm_provider *out)
{
	int	i;

	for (i = 0; i < LLM__MAX; i++)
		if (strcmp(s, provider_names[i]) == 0) {
			*out = (enum llm_provider)i;
			return 0;
		}
	return -1;
}

const char *
llm_provider_name(enum llm_provider p)
{
	return p < LLM__MAX ? provider_names[p] : "unknown";
}

/* Predicate for the llm_provider knob. */
int
llm_provider_valid(const char *s)
{
	enum llm_provider	p;

	return llm_provider_parse(s, &p) == 0;
}

/*
 * A price: digits with at most one '.', and not empty, at most
 * PRICE_MAX: with USAGE_MAX tokens a call still costs less than what
 * ai_usage.cost holds.
 */
#define PRICE_MAX	50000.0
static int
price_parse(const char *s, size_t n, double *out)
{
	char	tmp[32], *end;
	size_t	i, dots = 0;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)s[i]))
			return -1;
	}
	if (dots > 1 || s[0] == '.' || s[n - 1] == '.')
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*out = strtod(tmp, &end);
	return *end == '\0' && *out <= PRICE_MAX ? 0 : -1;
}

/* A model name as tenants.ai_model allows it: [A-Za-z0-9._:/@-]{1,100}. */
static int
model_valid(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > 100)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._:/@-", s[i]) == NULL)
			return 0;
	return 1;
}

/*
 * Walk "model=in/out,..." calling fn for each entry; -1 on a syntax
 * error.  Model names may hold ':' and '/' (llama3:8b,
 * meta-llama/Llama-3-8B) but not '=', ',' or spaces: the price is after
 * the '=', its two halves split at the last '/'.
 */
static int
prices_walk(const char *s, int (*fn)(void *, const char *, size_t, double,
    double), void *arg)
{
	const char	*p = s, *end, *eq, *slash;
	double		 in, out;

	while (*p != '\0') {
		end = p + strcspn(p, ",");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || eq == p)
			return -1;
		slash = memrchr(eq, '/', (size_t)(end - eq));
		if (slash == NULL || !(model_valid(p, (size_t)(eq - p)) ||
		    (eq - p == 1 && *p == '*')))
			return -1;
		if (price_parse(eq + 1, (size_t)(slash - eq - 1), &in) == -1 ||
		    price_parse(slash + 1, (size_t)(end - slash - 1), &out) == -1)
			return -1;
		if (fn != NULL && fn(arg, p, (size_t)(eq - p), in, out))
			return 0;
		p = *end == ',' ? end + 1 : end;
		if (*end == ',' && *p == '\0')
			return -1;
	}
	return 0;
}

/* Predicate for the llm_prices knob. */
int
llm_prices_valid(const char *s)
{
	return prices_walk(s, NULL, NULL) == 0;
}

struct price_find {
	const char	*model;
	int		 found, any;
	double		 in, out, any_in, any_out;
};

static int
price_find(void *arg, const char *name, size_t n, double in, double out)
{
	struct price_find	*f = arg;

	if (n == 1 && *name == '*' && !f->any) {
		f->any = 1;
		f->any_in = in;
		f->any_out = out;
	} else if (strlen(f->model) == n && memcmp(f->model, name, n) == 0) {
		f->found = 1;
		f->in = in;
		f->out = out;
		return 1;
	}
	return 0;
}

/*
 * The price of model, USD per million prompt and completion tokens:
 * its own entry, else the "*" entry.  Returns -1 when it has neither.
 */
int
llm_price(const char *model, double *in, double *out)
{
	struct price_find	f = { .model = model };

	if (prices_walk(agent_cfg.llm_prices, price_find, &f) == -1)
		return -1;
	if (f.found) {
		*in = f.in;
		*out = f.out;
	} else if (f.any) {
		*in = f.any_in;
		*out = f.any_out;
	} else
		return -1;
	return 0;
}

/* Cost in USD of a call at these prices, rounded to the micro-dollar the database keeps. */
double
llm_cost(double in, double out, long long prompt, long long completion)
{
	double	c = ((double)prompt * in + (double)completion * out) / 1e6;

	return round(c * 1e6) / 1e6;
}

/*
 * Estimated tokens in a text, as BPE tokenizers of the GPT family
 * split English: a word of up to seven letters is one token (its
 * leading space is free), a longer one a token per seven letters or
 * part of it, a number a token per three digits, each punctuation mark
 * one, each character outside ASCII one.  On English prose it errs
 * high, by about a fifth (the fixture sentence OpenAI counts as 23
 * tokens counts 28 here): an estimate that budgets can trust.  Used
 * whenever a provider does not report usage, and always for the
 * builtin provider.
 */
long long
llm_count_tokens(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	long long		 tokens = 0;
	size_t			 i = 0, run, seq;

	while (i < n) {
		if (isalpha(p[i])) {
			for (run = 0; i < n && isalpha(p[i]); i++)
				run++;
			tokens += (long long)((run + 6) / 7);
		} else if (isdigit(p[i])) {
			for (run = 0; i < n && isdigit(p[i]); i++)
				run++;
			tokens += (long long)((run + 2) / 3);
		} else if (p[i] == ' ' || p[i] == '\t') {
			i++;
		} else if (p[i] < 0x80) {
			tokens++;
			i++;
		} else {
			seq = utf8_seq(p + i, n - i);
			i += seq ? seq : 1;
			tokens++;
		}
	}
	return tokens;
}

/* A chat prompt: each message's content plus OpenAI's framing (4 per message, 3 for the reply). */
long long
llm_count_prompt(const struct llm_msg *m, size_t n)
{
	long long	tokens = 3;
	size_t		i;

	for (i = 0; i < n; i++)
		tokens += 4 + llm_count_tokens(m[i].content, strlen(m[i].content));
	return tokens;
}

/* test_llm.c: unit tests for the LLM plumbing: the SSE parser at every read boundary, token counting, the price table, cost, and base URL rules. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/llm.c"
#include "../../agent/llm_openai.c"
#include "tap.h"

/* The events a parse produced, joined by '|'. */
struct seen {
	struct buf	b;
	int		n;
};

static int
collect(void *arg, const char *data, size_t len)
{
	struct seen	*s = arg;

	if (s->n++ > 0)
		buf_putc(&s->b, '|');
	buf_append(&s->b, data, len);
	return 0;
}

/* Parse text in pieces cut at the given offsets (sorted, ending with len). */
static char *
parse_cut(const char *text, const size_t *cuts, size_t ncuts)
{
	struct sse	p = { .event = collect };
	struct seen	s = { { 0 }, 0 };
	size_t		i, from = 0;
	char		*out;

	p.arg = &s;
	for (i = 0; i < ncuts; i++) {
		sse_feed(&p, text + from, cuts[i] - from);
		from = cuts[i];
	}
	sse_free(&p);
	out = xstrdup(s.b.data ? s.b.data : "");
	buf_free(&s.b);
	return out;
}

static void
test_sse(void)
{
	static const char *const variants[][2] = {
		{ "data: {\"a\":1}\n\ndata: {\"b\":2}\n\n: keep-alive\n\ndata: [DONE]\n\n",
		  "{\"a\":1}|{\"b\":2}|[DONE]" },
		{ "data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\ndata: [DONE]\r\n\r\n",
		  "{\"a\":1}|{\"b\":2}|[DONE]" },
		{ "data: {\"a\":1}\r\rdata:{\"b\":2}\r\r",
		  "{\"a\":1}|{\"b\":2}" },
		{ "event: message\nid: 7\ndata: line one\ndata: line two\nretry: 10\n\n",
		  "line one\nline two" },
		{ "data: complete\n\ndata: never ended\n", "complete" },
		{ "\n\n\ndata\n\ndata: x\n\n", "|x" },
	};
	size_t	v, i, j, len, cuts[3];
	char	*got;
	int	every_single = 1, every_pair = 1, bytewise = 1;

	for (v = 0; v < nitems(variants); v++) {
		len = strlen(variants[v][0]);
		cuts[0] = len;
		got = parse_cut(variants[v][0], cuts, 1);
		is_str(got, variants[v][1], "SSE variant %zu in one read", v);
		free(got);
		for (i = 1; i < len; i++) {	/* two reads, cut anywhere */
			cuts[0] = i;
			cuts[1] = len;
			got = parse_cut(variants[v][0], cuts, 2);
			every_single &= strcmp(got, variants[v][1]) == 0;
			free(got);
			for (j = i + 1; j < len; j += 3) {	/* three reads */
				cuts[1] = j;
				cuts[2] = len;
				got = parse_cut(variants[v][0], cuts, 3);
				every_pair &= strcmp(got, variants[v][1]) == 0;
				free(got);
			}
		}
		{
			size_t	*one = xmalloc(len * sizeof(size_t));

			for (i = 0; i < len; i++)
				one[i] = i + 1;
			got = parse_cut(variants[v][0], one, len);
			bytewise &= strcmp(got, variants[v][1]) == 0;
			free(got);
			free(one);
		}
	}
	ok(every_single, "the same events whatever the cut between two reads");
	ok(every_pair, "the same events over three reads cut anywhere");
	ok(bytewise, "the same events one byte at a time");

	/* A line past the cap is refused instead of growing without bound. */
	{
		struct sse	 p = { .event = collect };
		struct seen	 s = { { 0 }, 0 };
		char		*big = xmalloc(SSE_LINE_MAX + 2);
		int		 rc;

		p.arg = &s;
		memset(big, 'x', SSE_LINE_MAX + 1);
		big[SSE_LINE_MAX + 1] = '\0';
		rc = sse_feed(&p, "data: ", 6);
		rc |= sse_feed(&p, big, SSE_LINE_MAX + 1);
		ok(rc == -1, "a line longer than SSE_LINE_MAX is refused");
		sse_free(&p);
		buf_free(&s.b);
		free(big);
	}
}

/* The stream's chunks through on_event: deltas, finish, usage, [DONE], errors. */
static int
delta_sink(void *arg, const char *s, size_t n)
{
	buf_append(arg, s, n);
	return 0;
}

static void
test_events(void)
{
	struct buf		 got = { 0 };
	struct llm_call		 c = { .on_delta = delta_sink, .arg = &got };
	struct llm_result	 res;
	struct xfer		 x;
	static const char *const chunks[] = {
		"{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}",
		"{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \\u00e9\\u0000!\"},\"finish_reason\":null}]}",
		"{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
		"{\"choices\":[],\"usage\":{\"prompt_tokens\":412,\"completion_tokens\":23,\"total_tokens\":435}}",
		"[DONE]",
	};
	static const char	 huge[] = "{\"choices\":[],\"usage\":"
	    "{\"prompt_tokens\":99999999999,\"completion_tokens\":1}}";
	static const char	 err_chunk[] =
	    "{\"error\":{\"message\":\"x\",\"type\":\"server_error\"}}";
	size_t			 i;
	int			 rc = 0;

	memset(&res, 0, sizeof(res));
	memset(&x, 0, sizeof(x));
	x.call = &c;
	x.res = &res;
	for (i = 0; i < nitems(chunks); i++)
		rc |= on_event(&x, chunks[i], strlen(chunks[i]));
	ok(rc == 0, "a well-formed stream is accepted");
	is_str(got.data, "Hi \xc3\xa9!", "deltas passed on, NUL dropped, UTF-8 kept");
	ok(x.finished && x.done, "finish_reason and [DONE] seen");
	ok(res.usage_reported && res.prompt_tokens == 412 &&
	    res.completion_tokens == 23, "usage taken from the usage chunk");
	buf_free(&got);
	llm_result_free(&res);

	memset(&res, 0, sizeof(res));
	memset(&x, 0, sizeof(x));
	x.call = &c;
	x.res = &res;
	memset(&x, 0, sizeof(x));
	x.call = &c;
	x.res = &res;
	rc = on_event(&x, huge, strlen(huge));
	ok(rc == 0 && !res.usage_reported, "an incredible usage is ignored (then counted)");
	memset(&x, 0, sizeof(x));
	x.call = &c;
	x.res = &res;
	ok(on_event(&x, "{\"choices\":[", 12) == -1 && x.failed &&
	    res.err == ERR_BAD_GATEWAY, "malformed JSON in the stream: 502");
	memset(&x, 0, sizeof(x));
	x.call = &c;
	x.res = &res;
	ok(on_event(&x, err_chunk, strlen(err_chunk)) == -1 &&
	    x.failed, "an error object in the stream fails it");
	llm_result_free(&res);
}

static void
test_tokens(void)
{
	static const char fixture[] = "Hi! I have shipped three multi-tenant REST "
	    "APIs on PostgreSQL with row-level security, and I can start this week.";
	struct llm_msg	m[2] = { { "system", "Be brief." }, { "user", "Hello there" } };
	long long	n;

	is_int(llm_count_tokens("", 0), 0, "no text, no tokens");
	is_int(llm_count_tokens("hello world", 11), 2, "two short words: two tokens");
	is_int(llm_count_tokens("internationalization", 20), 3, "a 20-letter word: three tokens");
	is_int(llm_count_tokens("2026", 4), 2, "digits in threes");
	is_int(llm_count_tokens("a, b.", 5), 4, "punctuation counts");
	is_int(llm_count_tokens("\xc3\xa9t\xc3\xa9", 5), 3, "a character outside ASCII is a token");
	n = llm_count_tokens(fixture, strlen(fixture));
	ok(n >= 23 && n <= 30, "the fixture (23 tokens for OpenAI) counts %lld: close, never under", n);
	is_int(llm_count_prompt(m, 2), 3 + 4 + 3 + 4 + 2, "a prompt: messages plus framing");
}

static void
test_prices(void)
{
	double	in, out;

	ok(llm_prices_valid("gpt-4o-mini=0.15/0.60"), "one entry");
	ok(llm_prices_valid("a=1/2,llama3:8b=0/0,meta-llama/Llama-3-8B=0.2/0.2,*=1.5/3"),
	    "several, with : and / in names, and a wildcard");
	ok(llm_prices_valid(""), "an empty table (then only builtin works)");
	ok(!llm_prices_valid("gpt=0.15"), "a missing completion price is refused");
	ok(!llm_prices_valid("gpt=0.15/"), "an empty price is refused");
	ok(!llm_prices_valid("=1/2"), "an empty model is refused");
	ok(!llm_prices_valid("gpt=-1/2"), "a negative price is refused");
	ok(!llm_prices_valid("gpt=1e3/2"), "an exponent is refused");
	ok(!llm_prices_valid("gpt=1/2,"), "a trailing comma is refused");
	ok(!llm_prices_valid("g pt=1/2"), "a space in a model is refused");
	ok(!llm_prices_valid("gpt=1..2/2"), "two dots are refused");
	ok(!llm_prices_valid("gpt=50001/1"), "a price past 50,000 USD per million is refused");

	agent_cfg.llm_prices = "gpt-4o-mini=0.15/0.60,llama3:8b=0/0,*=2/8";
	ok(llm_price("gpt-4o-mini", &in, &out) == 0 && in == 0.15 && out == 0.60,
	    "a listed model's price");
	ok(llm_price("llama3:8b", &in, &out) == 0 && in == 0 && out == 0,
	    "a free local model");
	ok(llm_price("other", &in, &out) == 0 && in == 2 && out == 8,
	    "an unlisted model takes the * price");
	agent_cfg.llm_prices = "gpt-4o-mini=0.15/0.60";
	ok(llm_price("other", &in, &out) == -1, "no * entry: an unlisted model has no price");
	agent_cfg.llm_prices = NULL;

	ok(llm_cost(0.15, 0.60, 412, 23) == 0.000076, "cost of the fixture call, to the micro-dollar");
	ok(llm_cost(1000, 3000, 412, 63) == 0.601, "cost at the test price");
	ok(llm_cost(0, 0, 1000000, 1000000) == 0, "free is free");
}

static void
test_urls(void)
{
	const char	*proto = NULL;

	ok(llm_url_valid("https://api.openai.com/v1"), "https URL");
	ok(llm_url_valid("http://127.0.0.1:11434/v1"), "http URL (syntax)");
	ok(!llm_url_valid("ftp://example.com/v1"), "ftp refused");
	ok(!llm_url_valid("https://user:secret@example.com/v1"), "credentials in the URL refused");
	ok(!llm_url_valid("https://example.com/v1?key=x"), "a query refused");
	ok(!llm_url_valid("https://example.com/v1#x"), "a fragment refused");
	ok(!llm_url_valid("not a url"), "garbage refused");
	ok(!llm_url_valid(""), "empty refused");

	agent_cfg.llm_allow_http = 0;
	ok(url_protocols("https://api.openai.com/v1/chat/completions", &proto) == 0 &&
	    strcmp(proto, "https") == 0, "https: https only");
	ok(url_protocols("http://127.0.0.1:9/v1/chat/completions", &proto) == 0 &&
	    strcmp(proto, "http,https") == 0, "http to loopback allowed");
	ok(url_protocols("http://localhost/v1", &proto) == 0, "http to localhost allowed");
	ok(url_protocols("http://llm.internal/v1", &proto) == -1,
	    "http to another host refused");
	/* Issue 15: the host must be a loopback address, not begin like one. */
	ok(url_protocols("http://127.attacker.example/v1", &proto) == -1,
	    "http to 127.attacker.example refused");
	ok(url_protocols("http://127.0.0.1.attacker.example/v1", &proto) == -1,
	    "http to 127.0.0.1.attacker.example refused");
	ok(url_protocols("http://localhost.attacker.example/v1", &proto) == -1,
	    "http to localhost.attacker.example refused");
	ok(url_protocols("http://127.9.8.7:1/v1", &proto) == 0,
	    "http to another address of 127.0.0.0/8 allowed");
	ok(url_protocols("http://[::1]:11434/v1", &proto) == 0 &&
	    strcmp(proto, "http,https") == 0, "http to [::1] allowed");
	ok(url_protocols("http://[::2]/v1", &proto) == -1, "http to [::2] refused");
	ok(agent_host_loopback("LOCALHOST") && agent_host_loopback("::1") &&
	    agent_host_loopback("127.255.255.255") && !agent_host_loopback("128.0.0.1") &&
	    !agent_host_loopback("127.") && !agent_host_loopback("[::1") &&
	    !agent_host_loopback(""), "agent_host_loopback: the edges");
	/* What the Upwork client decides each call by (plain http or not). */
	ok(agent_url_loopback("http://127.0.0.1:9/graphql") &&
	    agent_url_loopback("http://localhost/oauth2/token") &&
	    agent_url_loopback("http://[::1]:80/graphql"), "agent_url_loopback: loopback URLs");
	ok(!agent_url_loopback("http://127.attacker.example/graphql") &&
	    !agent_url_loopback("https://api.upwork.com/graphql") &&
	    !agent_url_loopback("not a url"), "agent_url_loopback: anything else");
	agent_cfg.llm_allow_http = 1;
	ok(url_protocols("http://llm.internal/v1", &proto) == 0,
	    "unless llm_allow_http = 1");
	agent_cfg.llm_allow_http = 0;
}

/* The AI knobs are checked when loaded: a typo stops the program at start. */
static void
test_config(void)
{
	static const char *const bad[][2] = {
		{ "APP_LLM_PROVIDER", "gpt" },
		{ "APP_LLM_BASE_URL", "ftp://example.com" },
		{ "APP_LLM_PRICES", "gpt-4o=cheap" },
		{ "APP_AI_MONTHLY_BUDGET_USD", "-1" },
		{ "APP_AI_MONTHLY_BUDGET_USD", "1e3" },
		{ "APP_AI_MONTHLY_BUDGET_USD", "12,5" },
		{ "APP_LLM_IDLE_TIMEOUT_MS", "0" },
	};
	size_t	i;
	int	refused = 1;

	char	key[] = "/tmp/test_llm.key.XXXXXX";
	int	fd = mkstemp(key);

	/* The defaults and the one file every configuration names: a JWT key. */
	if (fd == -1 || write(fd, "0123456789abcdef0123456789abcdef\n", 33) != 33)
		return;
	close(fd);
	setenv("APP_JWT_SECRET_FILE", key, 1);
	unsetenv("APP_CONFIG");
	ok(agent_config_load() == 0 && strcmp(agent_cfg.llm_provider, "builtin") == 0 &&
	    agent_cfg.ai_monthly_budget_usd == 50 && agent_cfg.llm_allow_http == 0,
	    "defaults: builtin, a budget of 50, https only");
	setenv("APP_AI_MONTHLY_BUDGET_USD", "12.5", 1);
	setenv("APP_LLM_PROVIDER", "openai", 1);
	ok(agent_config_load() == 0 && agent_cfg.ai_monthly_budget_usd == 12.5 &&
	    strcmp(agent_cfg.llm_provider, "openai") == 0, "a decimal budget and the openai provider");
	unsetenv("APP_AI_MONTHLY_BUDGET_USD");
	unsetenv("APP_LLM_PROVIDER");
	for (i = 0; i < nitems(bad); i++) {
		setenv(bad[i][0], bad[i][1], 1);
		refused &= agent_config_load() == -1;
		unsetenv(bad[i][0]);
	}
	ok(refused, "a bad provider, URL, price table, budget or timeout is refused");
	unsetenv("APP_JWT_SECRET_FILE");
	unlink(key);
	config_free();
}

int
main(void)
{
	log_set_level("error");
	test_sse();
	test_events();
	test_tokens();
	test_prices();
	test_urls();
	test_config();
	curl_global_cleanup();
	return done_testing();
}

/* test_metrics.c: unit tests for the counters: one program's processes adding into one mapped file, the files of several programs summed in the text format (families once, histograms cumulative, sparse series), a changed layout starting a new file, a broken file skipped, and the guard of /metrics. */
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "tap.h"

static char		 dir[] = "/tmp/test_metrics.XXXXXX";
static struct arena	 arena;

static void
nothing(struct req *r)
{
	(void)r;
}

static const struct route routes[] = {
	{ "/a", METHOD_GET, nothing, 0, RL_DEFAULT, NULL },
	{ "/a/{id}", METHOD_DELETE, nothing, 0, RL_DEFAULT, NULL },
};
static const struct route other_routes[] = {
	{ "/b", METHOD_POST, nothing, 0, RL_AI, NULL },
};

static void
write_file(const char *p, const char *text)
{
	FILE	*f = fopen(p, "w");

	fputs(text, f);
	fclose(f);
}

/* The rendered text, in the arena. */
static const char *
render(void)
{
	struct buf	 b = { 0 };
	const char	*s;

	metrics_render(&b);
	s = arena_strdup(&arena, b.data != NULL ? b.data : "");
	buf_free(&b);
	return s;
}

/* Predicate: text has the line (whole). */
static int
has_line(const char *text, const char *line)
{
	size_t		 n = strlen(line);
	const char	*p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p += n;
	}
	printf("# no line: %s\n", line);
	return 0;
}

static size_t
count(const char *text, const char *s)
{
	size_t	n = 0;

	while ((text = strstr(text, s)) != NULL) {
		n++;
		text += strlen(s);
	}
	return n;
}

static void
test_off(void)
{
	cfg.metrics_enabled = 0;
	metrics_open("prog", routes, nitems(routes));
	metrics_request(0, 200, 1.0);
	metrics_count(AM_UPWORK_OK, 1);
	ok(access(arena_printf(&arena, "%s/prog.metrics", dir), F_OK) == -1,
	    "metrics off: no file, and counting does nothing");
	is_int(metrics_allowed("127.0.0.1", NULL), 404, "and /metrics is a 404");
}

static void
test_count(void)
{
	const char	*t, *file = arena_printf(&arena, "%s/prog.metrics", dir);
	pid_t		 pid;
	int		 st, i;

	cfg.metrics_enabled = 1;
	metrics_open("prog", routes, nitems(routes));
	ok(access(file, R_OK) == 0, "metrics on: the program's file in metrics_dir");
	for (i = 0; i < 3; i++)
		metrics_request(0, 200, 3.0);
	metrics_request(1, 404, 150.0);
	metrics_request(-1, 404, 0.5);
	metrics_request(0, 299, 20000.0);
	metrics_cache(CACHE_JOBS, CACHE_HIT_L1);
	metrics_cache(CACHE_JOBS, CACHE_MISS);
	metrics_refused(RL_AI, 0);
	metrics_refused(RL_AI, 1);
	metrics_count(AM_LLM_TOKENS + 3, 42);
	metrics_count(AM_LLM_COST + 1, 1234567);
	/* A worker forked after the open adds into the same counters. */
	if ((pid = fork()) == 0) {
		metrics_request(0, 200, 3.0);
		metrics_count(AM_LLM_TOKENS + 3, 8);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	t = render();
	ok(has_line(t, "# TYPE http_requests_total counter"), "a family typed once");
	ok(has_line(t, "http_requests_total{program=\"prog\",route=\"/a\",method=\"GET\","
	    "status=\"200\"} 4"), "requests by program, route, method and status, the "
	    "forked worker's included");
	ok(has_line(t, "http_requests_total{program=\"prog\",route=\"/a/{id}\",method=\"DELETE\","
	    "status=\"404\"} 1"), "each route of the table apart");
	ok(has_line(t, "http_requests_total{program=\"prog\",route=\"none\",method=\"other\","
	    "status=\"404\"} 1"), "no route: route=\"none\"");
	ok(has_line(t, "http_requests_total{program=\"prog\",route=\"/a\",method=\"GET\","
	    "status=\"other\"} 1"), "a status without its own series: \"other\"");
	ok(count(t, "status=\"201\"") == 0, "series still at zero are not printed");
	ok(has_line(t, "# TYPE http_request_duration_seconds histogram"), "the latency histogram");
	ok(has_line(t, "http_request_duration_seconds_bucket{program=\"prog\",route=\"/a\","
	    "method=\"GET\",le=\"0.005\"} 4") &&
	    has_line(t, "http_request_duration_seconds_bucket{program=\"prog\",route=\"/a\","
	    "method=\"GET\",le=\"10\"} 4") &&
	    has_line(t, "http_request_duration_seconds_bucket{program=\"prog\",route=\"/a\","
	    "method=\"GET\",le=\"30\"} 5") &&
	    has_line(t, "http_request_duration_seconds_bucket{program=\"prog\",route=\"/a\","
	    "method=\"GET\",le=\"+Inf\"} 5"), "its buckets cumulative, up to +Inf");
	ok(has_line(t, "http_request_duration_seconds_sum{program=\"prog\",route=\"/a\","
	    "method=\"GET\"} 20.012000") &&
	    has_line(t, "http_request_duration_seconds_count{program=\"prog\",route=\"/a\","
	    "method=\"GET\"} 5"), "its sum in seconds and its count");
	ok(has_line(t, "http_request_duration_seconds_bucket{program=\"prog\",route=\"/a/{id}\","
	    "method=\"DELETE\",le=\"0.1\"} 0") &&
	    has_line(t, "http_request_duration_seconds_bucket{program=\"prog\",route=\"/a/{id}\","
	    "method=\"DELETE\",le=\"0.25\"} 1"), "150 ms falls in the 0.25 bucket");
	ok(has_line(t, "cache_requests_total{namespace=\"jobs\",result=\"l1_hit\"} 1") &&
	    has_line(t, "cache_requests_total{namespace=\"jobs\",result=\"miss\"} 1") &&
	    has_line(t, "cache_requests_total{namespace=\"clients\",result=\"miss\"} 0"),
	    "cache lookups by namespace and layer, zeros printed");
	ok(has_line(t, "ratelimit_refusals_total{class=\"ai\",reason=\"limit\"} 1") &&
	    has_line(t, "ratelimit_refusals_total{class=\"ai\",reason=\"unavailable\"} 1"),
	    "rate-limit refusals by class and reason");
	ok(has_line(t, "# HELP llm_tokens_total Tokens of AI generations, by provider and "
	    "kind (prompt, completion)"), "the product's families with their HELP");
	ok(has_line(t, "llm_tokens_total{provider=\"openai\",kind=\"completion\"} 50"),
	    "the product's counters, the worker's included");
	ok(has_line(t, "llm_cost_usd_total{provider=\"openai\"} 1.234567"),
	    "a cost in dollars from micro-dollars");
	ok(has_line(t, "upwork_requests_total{outcome=\"ok\"} 0"), "the product's zeros");
	metrics_close();

	metrics_open("prog", routes, nitems(routes));
	metrics_request(0, 200, 1.0);
	t = render();
	ok(has_line(t, "http_requests_total{program=\"prog\",route=\"/a\",method=\"GET\","
	    "status=\"200\"} 5"), "the program started again (a reload): its counters go on");
	metrics_close();
}

static void
test_sum(void)
{
	const char	*t, *junk = arena_printf(&arena, "%s/junk.metrics", dir);
	struct stat	 st;
	ino_t		 before;

	metrics_open("other", other_routes, nitems(other_routes));
	metrics_request(0, 201, 2.0);
	metrics_cache(CACHE_JOBS, CACHE_HIT_L1);
	metrics_count(AM_UPWORK_THROTTLED, 2);
	metrics_close();
	write_file(junk, "this is not a counters file at all, but it is long enough to have a head");
	t = render();
	ok(has_line(t, "http_requests_total{program=\"other\",route=\"/b\",method=\"POST\","
	    "status=\"201\"} 1") && has_line(t, "http_requests_total{program=\"prog\","
	    "route=\"/a\",method=\"GET\",status=\"200\"} 5"), "two programs' files: both there");
	is_int(count(t, "# TYPE http_requests_total"), 1, "each family once");
	ok(has_line(t, "cache_requests_total{namespace=\"jobs\",result=\"l1_hit\"} 2"),
	    "series both files have are summed");
	ok(has_line(t, "upwork_requests_total{outcome=\"throttled\"} 2"), "a program's own counts");
	ok(count(t, "not a counters") == 0, "a file that is not one of ours is skipped");
	unlink(junk);

	stat(arena_printf(&arena, "%s/prog.metrics", dir), &st);
	before = st.st_ino;
	metrics_open("prog", other_routes, nitems(other_routes));
	stat(arena_printf(&arena, "%s/prog.metrics", dir), &st);
	ok(st.st_ino != before, "other routes (an upgrade): a new file, renamed over the old");
	metrics_request(0, 200, 1.0);
	t = render();
	ok(has_line(t, "http_requests_total{program=\"prog\",route=\"/b\",method=\"POST\","
	    "status=\"200\"} 1") && count(t, "program=\"prog\",route=\"/a\"") == 0,
	    "which counts from zero under its new routes");
	metrics_close();
}

static void
test_guard(void)
{
	const char	*tok = arena_printf(&arena, "%s/token", dir);

	write_file(tok, "s3cret-token-of-some-length\n");
	cfg.metrics_enabled = 1;
	free(cfg.metrics_allow);
	cfg.metrics_allow = xstrdup("127.0.0.1, 10.0.0.0/8");
	free(cfg.metrics_token_file);
	cfg.metrics_token_file = xstrdup("");
	is_int(metrics_allowed("127.0.0.1", NULL), 0, "an address listed, no token required: allowed");
	is_int(metrics_allowed("10.9.8.7", NULL), 0, "an address in a listed block: allowed");
	is_int(metrics_allowed("192.168.1.1", NULL), 403, "another address: 403");
	is_int(metrics_allowed(NULL, NULL), 403, "no address known: 403");
	free(cfg.metrics_token_file);
	cfg.metrics_token_file = xstrdup(tok);
	is_int(metrics_allowed("127.0.0.1", NULL), 401, "a token required, none given: 401");
	is_int(metrics_allowed("127.0.0.1", "Bearer s3cret-token-of-some-lengt"), 401,
	    "a prefix of it: 401");
	is_int(metrics_allowed("127.0.0.1", "Bearer s3cret-token-of-some-length-"), 401,
	    "a longer one: 401");
	is_int(metrics_allowed("127.0.0.1", "Basic s3cret-token-of-some-length"), 401,
	    "another scheme: 401");
	is_int(metrics_allowed("127.0.0.1", "Bearer s3cret-token-of-some-length"), 0,
	    "the token (its file's newline aside): allowed");
	is_int(metrics_allowed("192.168.1.1", "Bearer s3cret-token-of-some-length"), 403,
	    "the token from an address not listed: 403, both guards apply");
	free(cfg.metrics_allow);
	cfg.metrics_allow = xstrdup("");
	is_int(metrics_allowed("192.168.1.1", "bearer s3cret-token-of-some-length"), 0,
	    "no address list: the token alone (scheme in any case)");
	write_file(tok, "rotated-token-0123456789\n");
	is_int(metrics_allowed("192.168.1.1", "Bearer s3cret-token-of-some-length"), 401,
	    "the file read at each scrape: a rotated token applies at once");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	unsetenv("APP_CONFIG");
	platform_register(&agent_platform);
	if (config_load() == -1)
		return 1;
	free(cfg.metrics_dir);
	cfg.metrics_dir = xstrdup(dir);
	test_off();
	test_count();
	test_sum();
	test_guard();
	config_free();
	(void)!system(arena_printf(&arena, "rm -rf '%s'", dir));
	arena_reset(&arena);
	return done_testing();
}

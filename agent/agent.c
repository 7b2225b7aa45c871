/* agent.c: the product's registration with the platform, as data (its knobs, rate-limit classes, cache namespaces, errors), the checks of its own knobs, and the start of its programs. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent.h"

/* The highest sql/NNNN-*.sql when built: the Makefile says it. */
#ifndef SCHEMA_VERSION
#error "SCHEMA_VERSION is not defined (build with the Makefile)"
#endif

struct agent_config agent_cfg;

/*
 * The product's knobs.  README.md documents each of them (a unit test
 * checks that it does), so add the line there when you add one here.
 */
static const struct knob knobs[] = {
	CONFIG_INT("match_max_jobs", agent_cfg.match_max_jobs, "20000", 100,
	    1000000,
	    "most jobs one request scores against the profile (GET "
	    "/api/jobs?sort=match, job analytics)"),
	CONFIG_STR("llm_provider", agent_cfg.llm_provider, "builtin",
	    "AI provider of tenants that do not choose one: builtin or openai"),
	CONFIG_STR("llm_model", agent_cfg.llm_model, "gpt-4o-mini",
	    "model asked of the openai provider unless the tenant names one"),
	CONFIG_STR("llm_base_url", agent_cfg.llm_base_url,
	    "https://api.openai.com/v1",
	    "base URL of the OpenAI-compatible API (/chat/completions is "
	    "appended)"),
	CONFIG_STR("llm_api_key_file", agent_cfg.llm_api_key_file, "",
	    "file holding the provider's API key (empty: no key sent)"),
	CONFIG_INT("llm_allow_http", agent_cfg.llm_allow_http, "0", 0, 1,
	    "1 allows plain http to a non-loopback llm_base_url"),
	CONFIG_INT("llm_connect_timeout_ms", agent_cfg.llm_connect_timeout_ms,
	    "5000", 100, 60000, "connect timeout to the provider"),
	CONFIG_INT("llm_timeout_ms", agent_cfg.llm_timeout_ms, "120000", 1000,
	    600000, "deadline of one generation, retries included"),
	CONFIG_INT("llm_idle_timeout_ms", agent_cfg.llm_idle_timeout_ms, "30000",
	    500, 600000,
	    "longest silence from the provider (first byte, or between "
	    "streamed chunks)"),
	CONFIG_INT("llm_max_retries", agent_cfg.llm_max_retries, "2", 0, 10,
	    "retries after a 429 or 5xx from the provider"),
	CONFIG_INT("llm_max_response_bytes", agent_cfg.llm_max_response_bytes,
	    "1048576", 4096, 64 * 1024 * 1024,
	    "largest provider response accepted"),
	CONFIG_INT("llm_sse_ping_ms", agent_cfg.llm_sse_ping_ms, "15000", 500,
	    600000,
	    "a streamed response gets an SSE comment after this long without "
	    "data"),
	CONFIG_INT("llm_builtin_pace_ms", agent_cfg.llm_builtin_pace_ms, "0", 0,
	    1000, "the builtin provider's pause between two streamed pieces "
	    "of a few words (0: none; the demo stack sets 40)"),
	CONFIG_STR("llm_prices", agent_cfg.llm_prices,
	    "gpt-4o-mini=0.15/0.60,gpt-4o=2.50/10.00,gpt-4.1-mini=0.40/1.60,gpt-4.1=2.00/8.00",
	    "USD per million prompt/completion tokens per model; * for any "
	    "other model"),
	CONFIG_NUM("ai_monthly_budget_usd", agent_cfg.ai_monthly_budget_usd,
	    "50", 0, 100000000,
	    "AI spend allowed per tenant per calendar month (UTC), unless the "
	    "tenant row sets its own"),
	CONFIG_STR("upwork_graphql_url", agent_cfg.upwork_graphql_url,
	    "https://api.upwork.com/graphql", "Upwork's GraphQL endpoint"),
	CONFIG_STR("upwork_authorize_url", agent_cfg.upwork_authorize_url,
	    "https://www.upwork.com/ab/account-security/oauth2/authorize",
	    "Upwork's OAuth2 authorization page"),
	CONFIG_STR("upwork_token_url", agent_cfg.upwork_token_url,
	    "https://www.upwork.com/api/v3/oauth2/token",
	    "Upwork's OAuth2 token endpoint"),
	CONFIG_STR("upwork_client_id", agent_cfg.upwork_client_id, "",
	    "the Upwork API key (client id); empty: Upwork is off"),
	CONFIG_STR("upwork_client_secret_file",
	    agent_cfg.upwork_client_secret_file, "",
	    "file holding the Upwork API key's secret"),
	CONFIG_STR("upwork_redirect_uri", agent_cfg.upwork_redirect_uri, "",
	    "the redirect URL registered with the API key"),
	CONFIG_STR("upwork_token_key_file", agent_cfg.upwork_token_key_file, "",
	    "key file that seals Upwork tokens at rest and signs OAuth states"),
	CONFIG_INT("upwork_connect_timeout_ms",
	    agent_cfg.upwork_connect_timeout_ms, "3000", 100, 60000,
	    "connect timeout for Upwork"),
	CONFIG_INT("upwork_timeout_ms", agent_cfg.upwork_timeout_ms, "15000",
	    100, 300000, "total time for one request to Upwork"),
	CONFIG_INT("upwork_response_max", agent_cfg.upwork_response_max,
	    "4194304", 1024, 268435456,
	    "largest Upwork response read, in bytes"),
	CONFIG_INT("upwork_retries", agent_cfg.upwork_retries, "3", 0, 10,
	    "retries after Upwork's 429, a 5xx or a transport error"),
	CONFIG_INT("upwork_rate_per_sec", agent_cfg.upwork_rate_per_sec, "10", 1,
	    1000, "Upwork requests per second, all processes together"),
	CONFIG_INT("upwork_rate_per_day", agent_cfg.upwork_rate_per_day, "40000",
	    1, 100000000,
	    "Upwork requests per UTC day, all processes together"),
	CONFIG_INT("upwork_rate_wait_ms", agent_cfg.upwork_rate_wait_ms, "30000",
	    0, 600000, "longest wait for a rate-limit slot before failing"),
	CONFIG_INT("upwork_refresh_skew", agent_cfg.upwork_refresh_skew, "300",
	    0, 86400,
	    "refresh the access token this many seconds before it expires"),
	CONFIG_INT("upwork_state_ttl", agent_cfg.upwork_state_ttl, "600", 30,
	    86400,
	    "seconds an OAuth state (an authorization in progress) stays valid"),
	CONFIG_INT("upwork_page_size", agent_cfg.upwork_page_size, "50", 1, 100,
	    "jobs per search page asked of Upwork"),
	CONFIG_INT("upwork_poll_max_pages", agent_cfg.upwork_poll_max_pages, "4",
	    1, 100, "most pages read per saved search and poll"),
	CONFIG_INT("upwork_request_budget_ms",
	    agent_cfg.upwork_request_budget_ms, "20000", 1000, 300000,
	    "how long an API request may spend on Upwork (POST "
	    "/api/upwork/poll)"),
	CONFIG_INT("refresh_clients_age_hours",
	    agent_cfg.refresh_clients_age_hours, "24", 1, 8760,
	    "refresh-clients refreshes client details older than this"),
	CONFIG_INT("refresh_clients_max", agent_cfg.refresh_clients_max, "200",
	    1, 100000, "most clients refresh-clients refreshes per run"),
	CONFIG_INT("refresh_clients_reserve", agent_cfg.refresh_clients_reserve,
	    "10000", 0, 100000000,
	    "Upwork requests of the day refresh-clients leaves to polling"),
	CONFIG_INT("prune_job_days", agent_cfg.prune_job_days, "90", 1, 36500,
	    "prune deletes jobs posted longer ago than this (unless a proposal "
	    "refers to them)"),
	CONFIG_INT("prune_batch", agent_cfg.prune_batch, "500", 1, 100000,
	    "rows prune deletes per statement"),
	CONFIG_INT("poll_tenant_max_ms", agent_cfg.poll_tenant_max_ms, "20000",
	    1000, 3600000,
	    "most time poll-jobs spends on one tenant in a run (the rest comes "
	    "first next time)"),
	CONFIG_INT("poll_max_searches", agent_cfg.poll_max_searches, "25", 1,
	    1000,
	    "saved searches with notify on a tenant may have; the poller runs "
	    "at most that many per tenant and run"),
	CONFIG_INT("upwork_poll_cooldown_s", agent_cfg.upwork_poll_cooldown_s,
	    "60", 0, 86400,
	    "seconds between two POST /api/upwork/poll of one tenant (0: none)"),
};

/* The seed's limiters besides the platform's default. */
static const struct rl_class rl_classes[] = {
	[RL_AI - RL__PLATFORM] = { "ai", { .limit = 10, .window = 60,
	    .fail_closed = 1 } },
	[RL_UPWORK - RL__PLATFORM] = { "upwork", { .limit = 30, .window = 60,
	    .fail_closed = 0 } },
};

/*
 * The cache namespaces.  What users edit themselves (saved searches,
 * their own objects) skips L1, so that they see their writes at once
 * on every worker.
 */
static const struct cache_ns cache_ns[] = {
	[CACHE_JOBS] = { .name = "jobs", .scope = CACHE_SCOPE_TENANT, .l1 = 1,
	    .ttl = 60, .ttl_doc = "seconds a job list stays in Redis" },
	[CACHE_SEARCHES] = { .name = "searches", .scope = CACHE_SCOPE_TENANT,
	    .l1 = 0, .ttl = 60,
	    .ttl_doc = "seconds a saved-search list stays in Redis" },
	[CACHE_CLIENTS] = { .name = "clients", .scope = CACHE_SCOPE_TENANT,
	    .l1 = 1, .ttl = 3600,
	    .ttl_doc = "seconds a client research stays in Redis" },
	[CACHE_USER] = { .name = "user", .scope = CACHE_SCOPE_USER, .l1 = 0,
	    .ttl = 300,
	    .ttl_doc = "seconds a user's cached objects stay in Redis" },
};

static const struct err_info errors[] = {
	[ERR_BUDGET_EXHAUSTED - ERR__PLATFORM] = { 402, "budget_exhausted",
	    "AI usage budget exhausted" },
	[ERR_UPWORK_NOT_CONNECTED - ERR__PLATFORM] = { 409,
	    "upwork_not_connected", "Upwork account not connected" },
};

/* The series of AM_*, in their order (metrics.c prints them). */
#define LLM_CALLS_HELP	"Calls to the AI provider, by provider and outcome"
#define LLM_TOKENS_HELP	"Tokens of AI generations, by provider and kind (prompt, completion)"
#define LLM_COST_HELP	"Cost of AI generations in US dollars, at llm_prices, by provider"
#define UPWORK_HELP	"HTTP requests sent to Upwork (each attempt), by outcome"
static const struct metric_def metrics[] = {
	[AM_LLM_CALLS + 0] = { "llm_requests_total", LLM_CALLS_HELP,
	    "provider=\"builtin\",outcome=\"ok\"", 0 },
	[AM_LLM_CALLS + 1] = { "llm_requests_total", LLM_CALLS_HELP,
	    "provider=\"builtin\",outcome=\"failed\"", 0 },
	[AM_LLM_CALLS + 2] = { "llm_requests_total", LLM_CALLS_HELP,
	    "provider=\"openai\",outcome=\"ok\"", 0 },
	[AM_LLM_CALLS + 3] = { "llm_requests_total", LLM_CALLS_HELP,
	    "provider=\"openai\",outcome=\"failed\"", 0 },
	[AM_LLM_TOKENS + 0] = { "llm_tokens_total", LLM_TOKENS_HELP,
	    "provider=\"builtin\",kind=\"prompt\"", 0 },
	[AM_LLM_TOKENS + 1] = { "llm_tokens_total", LLM_TOKENS_HELP,
	    "provider=\"builtin\",kind=\"completion\"", 0 },
	[AM_LLM_TOKENS + 2] = { "llm_tokens_total", LLM_TOKENS_HELP,
	    "provider=\"openai\",kind=\"prompt\"", 0 },
	[AM_LLM_TOKENS + 3] = { "llm_tokens_total", LLM_TOKENS_HELP,
	    "provider=\"openai\",kind=\"completion\"", 0 },
	[AM_LLM_COST + 0] = { "llm_cost_usd_total", LLM_COST_HELP,
	    "provider=\"builtin\"", 1 },
	[AM_LLM_COST + 1] = { "llm_cost_usd_total", LLM_COST_HELP,
	    "provider=\"openai\"", 1 },
	[AM_UPWORK_OK] = { "upwork_requests_total", UPWORK_HELP,
	    "outcome=\"ok\"", 0 },
	[AM_UPWORK_CLIENT_ERROR] = { "upwork_requests_total", UPWORK_HELP,
	    "outcome=\"client_error\"", 0 },
	[AM_UPWORK_THROTTLED] = { "upwork_requests_total", UPWORK_HELP,
	    "outcome=\"throttled\"", 0 },
	[AM_UPWORK_SERVER_ERROR] = { "upwork_requests_total", UPWORK_HELP,
	    "outcome=\"server_error\"", 0 },
	[AM_UPWORK_FAILED] = { "upwork_requests_total", UPWORK_HELP,
	    "outcome=\"failed\"", 0 },
};

static const struct knob_default defaults[] = {
	{ "db_conninfo", "dbname=upwork" },
};

const struct platform_ext agent_platform = {
	.name = AGENT_NAME,
	.defaults = defaults,
	.ndefaults = nitems(defaults),
	.knobs = knobs,
	.nknobs = nitems(knobs),
	.rl_classes = rl_classes,
	.nrl_classes = nitems(rl_classes),
	.cache_ns = cache_ns,
	.ncache_ns = nitems(cache_ns),
	.errors = errors,
	.nerrors = nitems(errors),
	.schema_version = SCHEMA_VERSION,
	.metrics = metrics,
	.nmetrics = nitems(metrics),
};

/* Predicate: host is this machine. */
/*
 * Predicate: host, as a URL names it ("[::1]" in brackets), is this
 * machine: localhost, an IPv4 literal in 127.0.0.0/8 (four decimal
 * parts, as inet_pton(3) reads them) or ::1.  A name that merely
 * begins with "127." (127.attacker.example) is not.
 */
int
agent_host_loopback(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 v6[INET6_ADDRSTRLEN + 2];
	size_t		 n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n < sizeof(v6) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(v6, host + 1, n - 2);
		v6[n - 2] = '\0';
		host = v6;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* Predicate: url parses and its host is this machine (agent_host_loopback()). */
int
agent_url_loopback(const char *url)
{
	CURLU	*u = curl_url();
	char	*host = NULL;
	int	 yes;

	if (u == NULL)
		oom();
	yes = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    agent_host_loopback(host);
	curl_free(host);
	curl_url_cleanup(u);
	return yes;
}

/*
 * An Upwork URL: absolute https, with a host.  Plain http goes only to
 * this machine (a fake, a tunnel): OAuth codes and tokens travel in
 * these requests, and the client refuses anything else at call time
 * too.  The redirect URI (path_end set) is the API's own, where Upwork
 * sends the browser: plain http there is only warned about.
 */
static int
check_upwork_url(const char *key, const char *url, const char *path_end)
{
	CURLU	*u = curl_url();
	char	*scheme = NULL, *host = NULL, *path = NULL;
	size_t	 n, m;
	int	 rc = 0;

	if (u == NULL)
		oom();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		config_error(key, "\"%s\" is not an http or https URL", url);
		rc = -1;
	} else if (strcmp(scheme, "http") == 0 && !agent_host_loopback(host) &&
	    path_end == NULL) {
		config_error(key, "\"%s\": plain http to another host than this "
		    "machine (the tokens would travel in clear): use https", url);
		rc = -1;
	} else if (strcmp(scheme, "http") == 0 && !agent_host_loopback(host))
		config_warn(key, "%s: plain http to another host: the tokens "
		    "travel in clear", url);
	else if (path_end != NULL && ((n = strlen(path)) < (m = strlen(path_end)) ||
	    strcmp(path + n - m, path_end) != 0))
		config_warn(key, "%s: the callback is served at %s", url, path_end);
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

/* A secret file the integration needs: named, and holding at least min bytes. */
static int
check_secret(const char *key, const char *path, size_t min, const char *why)
{
	char	*data;
	size_t	 len;
	int	 rc = 0;

	if (*path == '\0') {
		config_error(key, "not set: %s", why);
		return -1;
	}
	if ((data = read_file(path, 1 << 16, &len)) == NULL)
		return -1;	/* config_check() said why */
	while (len > 0 && isspace((unsigned char)data[len - 1]))
		len--;
	if (len < min) {
		config_error(key, "%s: %zu bytes, %zu or more needed (%s)", path,
		    len, min, why);
		rc = -1;
	}
	explicit_bzero(data, len);
	free(data);
	return rc;
}

/* The AI provider's knobs, together. */
static int
check_llm(void)
{
	const char	*model = agent_cfg.llm_model, *url = agent_cfg.llm_base_url;
	double		 in, out;
	int		 openai = strcmp(agent_cfg.llm_provider, "openai") == 0;
	int		 rc = 0;

	/*
	 * A tenant may choose openai whatever the default: the default
	 * model without a price fails their generations (500) too, so it
	 * is said either way, and stops the programs when openai is the
	 * default.
	 */
	if (llm_price(model, &in, &out) == -1) {
		if (openai) {
			config_error("llm_model", "%s has no price in llm_prices "
			    "(%s): every generation would fail; add %s=IN/OUT "
			    "(USD per million tokens) or *=IN/OUT", model,
			    config_origin("llm_prices"), model);
			rc = -1;
		} else
			config_warn("llm_model", "%s has no price in llm_prices "
			    "(%s): a tenant that chooses openai could not "
			    "generate", model, config_origin("llm_prices"));
	}
	if (!llm_url_allowed(url)) {
		if (openai) {
			config_error("llm_base_url", "%s: plain http to another "
			    "host is refused unless llm_allow_http = 1", url);
			rc = -1;
		} else
			config_warn("llm_base_url", "%s: plain http to another "
			    "host is refused unless llm_allow_http = 1", url);
	}
	if (openai && *agent_cfg.llm_api_key_file == '\0' &&
	    strncmp(url, "https://", 8) == 0)
		config_warn("llm_api_key_file", "not set: the provider at %s "
		    "gets no API key", url);
	if (agent_cfg.llm_connect_timeout_ms > agent_cfg.llm_timeout_ms)
		config_warn("llm_connect_timeout_ms", "%d is longer than "
		    "llm_timeout_ms (%d), which bounds it", agent_cfg.llm_connect_timeout_ms,
		    agent_cfg.llm_timeout_ms);
	if (agent_cfg.llm_idle_timeout_ms > agent_cfg.llm_timeout_ms)
		config_warn("llm_idle_timeout_ms", "%d is longer than "
		    "llm_timeout_ms (%d): it never fires", agent_cfg.llm_idle_timeout_ms,
		    agent_cfg.llm_timeout_ms);
	return rc;
}

/* Upwork's knobs, together: with a client id, what the OAuth flow needs. */
static int
check_upwork(void)
{
	int	rc = 0, on = *agent_cfg.upwork_client_id != '\0';

	if (check_upwork_url("upwork_graphql_url", agent_cfg.upwork_graphql_url,
	    NULL) == -1 || check_upwork_url("upwork_authorize_url",
	    agent_cfg.upwork_authorize_url, NULL) == -1 ||
	    check_upwork_url("upwork_token_url", agent_cfg.upwork_token_url,
	    NULL) == -1)
		rc = -1;
	if (*agent_cfg.upwork_token_key_file != '\0' || on)
		if (check_secret("upwork_token_key_file",
		    agent_cfg.upwork_token_key_file, 32, "it seals the tenants' "
		    "Upwork tokens and signs OAuth states") == -1)
			rc = -1;
	if (!on)
		return rc;
	if (check_secret("upwork_client_secret_file",
	    agent_cfg.upwork_client_secret_file, 1, "upwork_client_id is set, "
	    "and the OAuth code exchange sends its secret") == -1)
		rc = -1;
	if (*agent_cfg.upwork_redirect_uri == '\0') {
		config_error("upwork_redirect_uri", "not set: upwork_client_id is "
		    "set, and connecting an account needs the URL registered "
		    "with it");
		rc = -1;
	} else if (check_upwork_url("upwork_redirect_uri",
	    agent_cfg.upwork_redirect_uri, "/api/upwork/callback") == -1)
		rc = -1;
	if (agent_cfg.upwork_connect_timeout_ms > agent_cfg.upwork_timeout_ms)
		config_warn("upwork_connect_timeout_ms", "%d is longer than "
		    "upwork_timeout_ms (%d), which bounds it",
		    agent_cfg.upwork_connect_timeout_ms, agent_cfg.upwork_timeout_ms);
	if (agent_cfg.refresh_clients_reserve >= agent_cfg.upwork_rate_per_day)
		config_warn("refresh_clients_reserve", "%d leaves nothing of "
		    "upwork_rate_per_day (%d): refresh-clients never refreshes",
		    agent_cfg.refresh_clients_reserve, agent_cfg.upwork_rate_per_day);
	return rc;
}

/*
 * The product's checks, after the platform's (config_check()): the
 * knobs whose value has a syntax of the product's, then those that must
 * agree with each other, each error said where the value was set.
 * Every program of the product runs them at start, and check-config.
 * Returns -1 if any value cannot work.
 */
int
agent_config_check(void)
{
	static const struct {
		const char	*key;
		char *const	*val;
		int		(*valid)(const char *);
	} checks[] = {
		{ "llm_provider", &agent_cfg.llm_provider, llm_provider_valid },
		{ "llm_base_url", &agent_cfg.llm_base_url, llm_url_valid },
		{ "llm_prices", &agent_cfg.llm_prices, llm_prices_valid },
	};
	size_t	i;
	int	rc = 0;

	for (i = 0; i < nitems(checks); i++)
		if (!checks[i].valid(*checks[i].val)) {
			config_invalid(checks[i].key);
			rc = -1;
		}
	if (rc == -1)
		return -1;	/* the checks below read these */
	if (check_llm() == -1)
		rc = -1;
	if (check_upwork() == -1)
		rc = -1;
	return rc;
}

/*
 * An endpoint's whole main(): the product registered, the configuration
 * loaded and checked before any worker starts, then the platform's
 * workers; init is the endpoint's own setup in each worker (may be
 * NULL).  Returns the exit status.
 */
int
agent_main(const char *name, const struct route *routes, size_t n,
    int (*init)(struct app *))
{
	struct app	app;

	platform_register(&agent_platform);
	if (app_init(&app, name) == -1 || agent_config_check() == -1)
		return 1;
	return app_serve(&app, routes, n, init);
}

/* cron_init() for the product's cron binaries: registered and checked first. */
int
agent_cron_init(struct cron *c, const char *name, int argc, char **argv,
    const struct option *extra, int (*on_opt)(int, const char *),
    const char *extra_usage)
{
	platform_register(&agent_platform);
	if (cron_init(c, name, argc, argv, extra, on_opt, extra_usage) == -1)
		return -1;
	if (agent_config_check() == -1) {
		c->status = CRON_FAILED;
		return -1;
	}
	return 0;
}

/* config_load() for the product's tools: registered and checked. */
int
agent_config_load(void)
{
	platform_register(&agent_platform);
	if (config_load() == -1 || config_check() == -1 ||
	    agent_config_check() == -1)
		return -1;
	return 0;
}

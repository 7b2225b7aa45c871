/* agent.c: the product's registration with the platform, as data (its knobs, rate-limit classes, cache namespaces, errors), the checks of its own knobs, and the start of its programs. */
#include <stdio.h>

#include "agent.h"

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
};

/*
 * The knobs whose value has a syntax of the product's: checked once
 * the configuration is loaded, each error reported where the value was
 * set.  Returns -1 if any is wrong.
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
	if (config_load() == -1 || agent_config_check() == -1)
		return -1;
	return 0;
}

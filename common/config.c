/* config.c: the knobs, read from one config file and overridden by APP_* environment variables. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct config cfg;

enum ktype {
	K_STR,
	K_INT,
	K_ALG,		/* HS256 or RS256 */
	K_FAILMODE,	/* open or closed: what a rate limit does without Redis */
	K_NUM		/* double, plain decimal, min..max */
};

/*
 * The knobs.  README.md documents each of them (a unit test checks
 * that it does), so add the line there when you add one here.
 */
static const struct knob {
	const char	*key;
	enum ktype	 type;
	size_t		 off;
	const char	*def;
	long long	 min, max;
	const char	*doc;
} knobs[] = {
	{ "db_conninfo", K_STR, offsetof(struct config, db_conninfo),
	  "dbname=upwork", 0, 0,
	  "libpq connection string of the application role" },
	{ "db_connect_timeout", K_INT, offsetof(struct config, db_connect_timeout),
	  "2", 1, 60, "seconds to wait for a PostgreSQL connection" },
	{ "db_statement_timeout_ms", K_INT,
	  offsetof(struct config, db_statement_timeout_ms), "5000", 0, 600000,
	  "statement_timeout of the application's sessions (0: none)" },
	{ "redis_socket", K_STR, offsetof(struct config, redis_socket), "", 0, 0,
	  "Redis unix socket path; when empty, redis_host and redis_port" },
	{ "redis_host", K_STR, offsetof(struct config, redis_host), "127.0.0.1",
	  0, 0, "Redis host when redis_socket is empty" },
	{ "redis_port", K_INT, offsetof(struct config, redis_port), "6379",
	  1, 65535, "Redis TCP port" },
	{ "redis_timeout_ms", K_INT, offsetof(struct config, redis_timeout_ms),
	  "50", 1, 10000, "connect and command timeout for Redis" },
	{ "redis_retry_ms", K_INT, offsetof(struct config, redis_retry_ms),
	  "1000", 0, 60000, "after a Redis failure, how long to bypass it "
	  "before trying again" },
	{ "jwt_alg", K_ALG, offsetof(struct config, jwt_alg), "HS256", 0, 0,
	  "the one JWT algorithm accepted: HS256 or RS256" },
	{ "jwt_secret_file", K_STR, offsetof(struct config, jwt_secret_file), "",
	  0, 0, "HS256: file holding the shared secret" },
	{ "jwt_public_key_file", K_STR,
	  offsetof(struct config, jwt_public_key_file), "", 0, 0,
	  "RS256: PEM public key file" },
	{ "jwt_jwks_file", K_STR, offsetof(struct config, jwt_jwks_file), "", 0, 0,
	  "RS256: JWKS file; the token's kid selects the key" },
	{ "jwt_issuer", K_STR, offsetof(struct config, jwt_issuer), "", 0, 0,
	  "required iss claim (empty: not checked)" },
	{ "jwt_audience", K_STR, offsetof(struct config, jwt_audience), "", 0, 0,
	  "required aud claim (empty: not checked)" },
	{ "jwt_azp", K_STR, offsetof(struct config, jwt_azp), "", 0, 0,
	  "comma list of accepted azp claims (empty: not checked)" },
	{ "jwt_leeway", K_INT, offsetof(struct config, jwt_leeway), "30", 0, 3600,
	  "seconds of clock skew allowed on exp, nbf and iat" },
	{ "body_max", K_INT, offsetof(struct config, body_max), "65536",
	  256, 16 * 1024 * 1024, "largest request body in bytes (413 past it)" },
	{ "json_max_depth", K_INT, offsetof(struct config, json_max_depth), "16",
	  2, 64, "deepest JSON nesting accepted in a body" },
	{ "workers", K_INT, offsetof(struct config, workers), "2", 1, 256,
	  "worker processes per endpoint" },
	{ "log_level", K_STR, offsetof(struct config, log_level), "info", 0, 0,
	  "debug, info, warn or error" },
	{ "trusted_proxies", K_STR, offsetof(struct config, trusted_proxies), "",
	  0, 0, "comma list of proxy addresses or CIDR blocks whose "
	  "X-Forwarded-For is believed" },
	{ "rl_enabled", K_INT, offsetof(struct config, rl_enabled), "1", 0, 1,
	  "1: rate limits on; 0: off (for benchmarks)" },
	{ "rl_default_limit", K_INT, offsetof(struct config, rl[RL_DEFAULT].limit),
	  "100", 1, 1000000000, "requests per window, class default" },
	{ "rl_default_window", K_INT, offsetof(struct config, rl[RL_DEFAULT].window),
	  "60", 1, 86400, "window in seconds, class default" },
	{ "rl_default_on_redis_error", K_FAILMODE,
	  offsetof(struct config, rl[RL_DEFAULT].fail_closed), "open", 0, 0,
	  "open (allow) or closed (503) when Redis fails, class default" },
	{ "rl_ai_limit", K_INT, offsetof(struct config, rl[RL_AI].limit),
	  "10", 1, 1000000000, "requests per window, class ai" },
	{ "rl_ai_window", K_INT, offsetof(struct config, rl[RL_AI].window),
	  "60", 1, 86400, "window in seconds, class ai" },
	{ "rl_ai_on_redis_error", K_FAILMODE,
	  offsetof(struct config, rl[RL_AI].fail_closed), "closed", 0, 0,
	  "open or closed when Redis fails, class ai" },
	{ "rl_upwork_limit", K_INT, offsetof(struct config, rl[RL_UPWORK].limit),
	  "30", 1, 1000000000, "requests per window, class upwork" },
	{ "rl_upwork_window", K_INT, offsetof(struct config, rl[RL_UPWORK].window),
	  "60", 1, 86400, "window in seconds, class upwork" },
	{ "rl_upwork_on_redis_error", K_FAILMODE,
	  offsetof(struct config, rl[RL_UPWORK].fail_closed), "open", 0, 0,
	  "open or closed when Redis fails, class upwork" },
	{ "cache_enabled", K_INT, offsetof(struct config, cache_enabled), "1", 0, 1,
	  "1: cache on; 0: every read goes to PostgreSQL" },
	{ "cache_l1_ttl_ms", K_INT, offsetof(struct config, cache_l1_ttl_ms),
	  "1000", 0, 60000, "how long a worker keeps an entry in memory "
	  "(the bound on L1 staleness; 0: no L1)" },
	{ "cache_l1_max_entries", K_INT, offsetof(struct config,
	  cache_l1_max_entries), "1024", 1, 1000000,
	  "most entries in one worker's memory cache" },
	{ "cache_l1_max_bytes", K_INT, offsetof(struct config, cache_l1_max_bytes),
	  "16777216", 4096, 1073741824, "most bytes in one worker's memory cache" },
	{ "cache_jobs_ttl", K_INT, offsetof(struct config, cache_ttl[CACHE_JOBS]),
	  "60", 1, 86400, "seconds a job list stays in Redis" },
	{ "cache_searches_ttl", K_INT,
	  offsetof(struct config, cache_ttl[CACHE_SEARCHES]), "60", 1, 86400,
	  "seconds a saved-search list stays in Redis" },
	{ "cache_clients_ttl", K_INT,
	  offsetof(struct config, cache_ttl[CACHE_CLIENTS]), "3600", 1, 86400,
	  "seconds a client research stays in Redis" },
	{ "cache_user_ttl", K_INT, offsetof(struct config, cache_ttl[CACHE_USER]),
	  "300", 1, 86400, "seconds a user's cached objects stay in Redis" },
	{ "cache_wait_ms", K_INT, offsetof(struct config, cache_wait_ms), "200",
	  0, 5000, "how long a request waits for another to fill the same "
	  "missing entry before computing it itself" },
	{ "match_max_jobs", K_INT, offsetof(struct config, match_max_jobs),
	  "20000", 100, 1000000, "most jobs one request scores against the "
	  "profile (GET /api/jobs?sort=match, job analytics)" },
	/* The broadcaster (push/). */
	{ "push_listen", K_STR, offsetof(struct config, push_listen),
	  "127.0.0.1:8081", 0, 0, "host:port the broadcaster listens on" },
	{ "cors_origins", K_STR, offsetof(struct config, cors_origins), "", 0, 0,
	  "comma list of origins (scheme://host[:port]) allowed cross-origin, "
	  "with credentials, so no *; empty: none" },
	{ "push_max_clients", K_INT, offsetof(struct config, push_max_clients),
	  "10000", 1, 1000000, "connections the broadcaster accepts at once "
	  "(503 past it)" },
	{ "push_output_max", K_INT, offsetof(struct config, push_output_max),
	  "262144", 4096, 64 * 1024 * 1024, "bytes queued for one client "
	  "before it is closed as a slow consumer" },
	{ "push_message_max", K_INT, offsetof(struct config, push_message_max),
	  "65536", 128, 16 * 1024 * 1024, "largest WebSocket message a client "
	  "may send (close 1009 past it); Engine.IO maxPayload" },
	{ "push_handshake_timeout_ms", K_INT,
	  offsetof(struct config, push_handshake_timeout_ms), "10000", 100,
	  600000, "time to send the HTTP request and the Socket.IO CONNECT" },
	{ "push_ping_interval_ms", K_INT,
	  offsetof(struct config, push_ping_interval_ms), "25000", 100, 600000,
	  "Engine.IO pingInterval" },
	{ "push_ping_timeout_ms", K_INT,
	  offsetof(struct config, push_ping_timeout_ms), "20000", 100, 600000,
	  "Engine.IO pingTimeout: a client silent this long after a ping is "
	  "closed" },
	{ "push_sse_keepalive_ms", K_INT,
	  offsetof(struct config, push_sse_keepalive_ms), "15000", 100, 600000,
	  "interval of the keep-alive comments on event streams" },
	{ "push_replay_max", K_INT, offsetof(struct config, push_replay_max),
	  "1000", 0, 10000, "events replayed at most after Last-Event-ID" },
	{ "push_shutdown_ms", K_INT, offsetof(struct config, push_shutdown_ms),
	  "2000", 0, 60000, "on SIGTERM, how long to wait for clients to "
	  "answer the close frames" },
	{ "push_redis_backoff_max_ms", K_INT,
	  offsetof(struct config, push_redis_backoff_max_ms), "5000", 100,
	  600000, "longest pause between two reconnects to Redis" },
	{ "llm_provider", K_STR, offsetof(struct config, llm_provider), "builtin",
	  0, 0, "AI provider of tenants that do not choose one: builtin or openai" },
	{ "llm_model", K_STR, offsetof(struct config, llm_model), "gpt-4o-mini",
	  0, 0, "model asked of the openai provider unless the tenant names one" },
	{ "llm_base_url", K_STR, offsetof(struct config, llm_base_url),
	  "https://api.openai.com/v1", 0, 0, "base URL of the OpenAI-compatible "
	  "API (/chat/completions is appended)" },
	{ "llm_api_key_file", K_STR, offsetof(struct config, llm_api_key_file),
	  "", 0, 0, "file holding the provider's API key (empty: no key sent)" },
	{ "llm_allow_http", K_INT, offsetof(struct config, llm_allow_http), "0",
	  0, 1, "1 allows plain http to a non-loopback llm_base_url" },
	{ "llm_connect_timeout_ms", K_INT,
	  offsetof(struct config, llm_connect_timeout_ms), "5000", 100, 60000,
	  "connect timeout to the provider" },
	{ "llm_timeout_ms", K_INT, offsetof(struct config, llm_timeout_ms),
	  "120000", 1000, 600000, "deadline of one generation, retries included" },
	{ "llm_idle_timeout_ms", K_INT, offsetof(struct config, llm_idle_timeout_ms),
	  "30000", 500, 600000, "longest silence from the provider (first "
	  "byte, or between streamed chunks)" },
	{ "llm_max_retries", K_INT, offsetof(struct config, llm_max_retries), "2",
	  0, 10, "retries after a 429 or 5xx from the provider" },
	{ "llm_max_response_bytes", K_INT,
	  offsetof(struct config, llm_max_response_bytes), "1048576", 4096,
	  64 * 1024 * 1024, "largest provider response accepted" },
	{ "llm_sse_ping_ms", K_INT, offsetof(struct config, llm_sse_ping_ms),
	  "15000", 500, 600000, "a streamed response gets an SSE comment after "
	  "this long without data" },
	{ "llm_prices", K_STR, offsetof(struct config, llm_prices),
	  "gpt-4o-mini=0.15/0.60,gpt-4o=2.50/10.00,gpt-4.1-mini=0.40/1.60,"
	  "gpt-4.1=2.00/8.00", 0, 0, "USD per million prompt/completion tokens "
	  "per model; * for any other model" },
	{ "ai_monthly_budget_usd", K_NUM,
	  offsetof(struct config, ai_monthly_budget_usd), "50", 0, 100000000,
	  "AI spend allowed per tenant per calendar month (UTC), unless the "
	  "tenant row sets its own" },
	{ "upwork_graphql_url", K_STR, offsetof(struct config, upwork_graphql_url),
	  "https://api.upwork.com/graphql", 0, 0, "Upwork's GraphQL endpoint" },
	{ "upwork_authorize_url", K_STR,
	  offsetof(struct config, upwork_authorize_url),
	  "https://www.upwork.com/ab/account-security/oauth2/authorize", 0, 0,
	  "Upwork's OAuth2 authorization page" },
	{ "upwork_token_url", K_STR, offsetof(struct config, upwork_token_url),
	  "https://www.upwork.com/api/v3/oauth2/token", 0, 0,
	  "Upwork's OAuth2 token endpoint" },
	{ "upwork_client_id", K_STR, offsetof(struct config, upwork_client_id), "",
	  0, 0, "the Upwork API key (client id); empty: Upwork is off" },
	{ "upwork_client_secret_file", K_STR,
	  offsetof(struct config, upwork_client_secret_file), "", 0, 0,
	  "file holding the Upwork API key's secret" },
	{ "upwork_redirect_uri", K_STR, offsetof(struct config, upwork_redirect_uri),
	  "", 0, 0, "the redirect URL registered with the API key" },
	{ "upwork_token_key_file", K_STR,
	  offsetof(struct config, upwork_token_key_file), "", 0, 0,
	  "key file that seals Upwork tokens at rest and signs OAuth states" },
	{ "upwork_connect_timeout_ms", K_INT,
	  offsetof(struct config, upwork_connect_timeout_ms), "3000", 100, 60000,
	  "connect timeout for Upwork" },
	{ "upwork_timeout_ms", K_INT, offsetof(struct config, upwork_timeout_ms),
	  "15000", 100, 300000, "total time for one request to Upwork" },
	{ "upwork_response_max", K_INT, offsetof(struct config, upwork_response_max),
	  "4194304", 1024, 268435456, "largest Upwork response read, in bytes" },
	{ "upwork_retries", K_INT, offsetof(struct config, upwork_retries), "3",
	  0, 10, "retries after Upwork's 429, a 5xx or a transport error" },
	{ "upwork_rate_per_sec", K_INT, offsetof(struct config, upwork_rate_per_sec),
	  "10", 1, 1000, "Upwork requests per second, all processes together" },
	{ "upwork_rate_per_day", K_INT, offsetof(struct config, upwork_rate_per_day),
	  "40000", 1, 100000000, "Upwork requests per UTC day, all processes "
	  "together" },
	{ "upwork_rate_wait_ms", K_INT, offsetof(struct config, upwork_rate_wait_ms),
	  "30000", 0, 600000, "longest wait for a rate-limit slot before failing" },
	{ "upwork_refresh_skew", K_INT, offsetof(struct config, upwork_refresh_skew),
	  "300", 0, 86400, "refresh the access token this many seconds before "
	  "it expires" },
	{ "upwork_state_ttl", K_INT, offsetof(struct config, upwork_state_ttl),
	  "600", 30, 86400, "seconds an OAuth state (an authorization in "
	  "progress) stays valid" },
	{ "upwork_page_size", K_INT, offsetof(struct config, upwork_page_size),
	  "50", 1, 100, "jobs per search page asked of Upwork" },
	{ "upwork_poll_max_pages", K_INT,
	  offsetof(struct config, upwork_poll_max_pages), "4", 1, 100,
	  "most pages read per saved search and poll" },
	{ "upwork_request_budget_ms", K_INT,
	  offsetof(struct config, upwork_request_budget_ms), "20000", 1000, 300000,
	  "how long an API request may spend on Upwork (POST /api/upwork/poll)" },
	{ "cron_max_seconds", K_INT, offsetof(struct config, cron_max_seconds),
	  "110", 1, 86400, "a cron run starts no work after this many seconds "
	  "(--max-seconds)" },
	{ "refresh_clients_age_hours", K_INT,
	  offsetof(struct config, refresh_clients_age_hours), "24", 1, 8760,
	  "refresh-clients refreshes client details older than this" },
	{ "refresh_clients_max", K_INT, offsetof(struct config, refresh_clients_max),
	  "200", 1, 100000, "most clients refresh-clients refreshes per run" },
	{ "refresh_clients_reserve", K_INT,
	  offsetof(struct config, refresh_clients_reserve), "10000", 0, 100000000,
	  "Upwork requests of the day refresh-clients leaves to polling" },
	{ "prune_job_days", K_INT, offsetof(struct config, prune_job_days), "90",
	  1, 36500, "prune deletes jobs posted longer ago than this (unless a "
	  "proposal refers to them)" },
	{ "prune_batch", K_INT, offsetof(struct config, prune_batch), "500", 1,
	  100000, "rows prune deletes per statement" },
	{ "poll_tenant_max_ms", K_INT, offsetof(struct config, poll_tenant_max_ms),
	  "20000", 1000, 3600000, "most time poll-jobs spends on one tenant in a run "
	  "(the rest comes first next time)" },
	{ "poll_max_searches", K_INT, offsetof(struct config, poll_max_searches),
	  "25", 1, 1000, "saved searches with notify on a tenant may have; the "
	  "poller runs at most that many per tenant and run" },
	{ "upwork_poll_cooldown_s", K_INT,
	  offsetof(struct config, upwork_poll_cooldown_s), "60", 0, 86400,
	  "seconds between two POST /api/upwork/poll of one tenant (0: none)" },
};

/* String knobs whose value has a syntax: checked when set. */
static const struct {
	const char	*key;
	int		(*valid)(const char *);
} checks[] = {
	{ "llm_provider", llm_provider_valid },
	{ "llm_base_url", llm_url_valid },
	{ "llm_prices", llm_prices_valid },
};

static int
knob_valid(const struct knob *k, const char *val)
{
	size_t	i;

	for (i = 0; i < nitems(checks); i++)
		if (strcmp(checks[i].key, k->key) == 0)
			return checks[i].valid(val);
	return 1;
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
knob_set(const struct knob *k, const char *val, const char *where)
{
	char		*base = (char *)&cfg + k->off, *end;
	long long	 v;
	double		 d;

	switch (k->type) {
	case K_STR:
		if (!knob_valid(k, val)) {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: %s: invalid value (%s)\"}\n", where, k->key, k->doc);
			return -1;
		}
		free(*(char **)base);
		*(char **)base = xstrdup(val);
		return 0;
	case K_NUM:
		errno = 0;
		d = strtod(val, &end);
		if (*val == '\0' || *end != '\0' || errno != 0 || !isfinite(d) ||
		    strspn(val, "0123456789.") != strlen(val) ||
		    d < (double)k->min || d > (double)k->max) {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: %s must be a decimal number in %lld..%lld\"}\n",
			    where, k->key, k->min, k->max);
			return -1;
		}
		*(double *)base = d;
		return 0;
	case K_INT:
		if (parse_int64(val, &v) == -1 || v < k->min || v > k->max) {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: %s must be an integer in %lld..%lld\"}\n",
			    where, k->key, k->min, k->max);
			return -1;
		}
		*(int *)base = (int)v;
		return 0;
	case K_ALG:
		if (strcmp(val, "HS256") == 0)
			*(enum auth_alg *)base = AUTH_HS256;
		else if (strcmp(val, "RS256") == 0)
			*(enum auth_alg *)base = AUTH_RS256;
		else {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: %s must be HS256 or RS256\"}\n", where, k->key);
			return -1;
		}
		return 0;
	case K_FAILMODE:
		if (strcmp(val, "open") == 0)
			*(int *)base = 0;
		else if (strcmp(val, "closed") == 0)
			*(int *)base = 1;
		else {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: %s must be open or closed\"}\n", where, k->key);
			return -1;
		}
		return 0;
	}
	return -1;
}

static const struct knob *
knob_find(const char *key)
{
	size_t	i;

	for (i = 0; i < nitems(knobs); i++)
		if (strcmp(knobs[i].key, key) == 0)
			return &knobs[i];
	return NULL;
}

static int
config_file(const char *path)
{
	FILE			*f;
	char			 line[4096], where[512], *p, *eq;
	const struct knob	*k;
	int			 lineno = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: %s: %s\"}\n",
		    path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: expected key = value\"}\n", where);
			rc = -1;
			continue;
		}
		*eq = '\0';
		if ((k = knob_find(trim(p))) == NULL) {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: unknown key\"}\n", where);
			rc = -1;
			continue;
		}
		if (knob_set(k, trim(eq + 1), where) == -1)
			rc = -1;
	}
	fclose(f);
	return rc;
}

/*
 * Defaults, then the file named by APP_CONFIG (if any), then APP_<KEY>
 * environment variables.  Returns -1 after printing what is wrong.
 */
int
config_load(void)
{
	const char	*path, *env;
	char		 name[128];
	size_t		 i, j;
	int		 rc = 0;

	config_free();
	for (i = 0; i < nitems(knobs); i++)
		if (knob_set(&knobs[i], knobs[i].def, "default") == -1)
			rc = -1;
	if ((path = getenv("APP_CONFIG")) != NULL && *path != '\0')
		if (config_file(path) == -1)
			rc = -1;
	for (i = 0; i < nitems(knobs); i++) {
		snprintf(name, sizeof(name), "APP_%s", knobs[i].key);
		for (j = 4; name[j] != '\0'; j++)
			name[j] = (char)toupper((unsigned char)name[j]);
		if ((env = getenv(name)) != NULL)
			if (knob_set(&knobs[i], env, name) == -1)
				rc = -1;
	}
	return rc;
}

void
config_free(void)
{
	size_t	i;

	for (i = 0; i < nitems(knobs); i++)
		if (knobs[i].type == K_STR) {
			char **p = (char **)((char *)&cfg + knobs[i].off);
			free(*p);
			*p = NULL;
		}
}

/* The i-th knob's key, default and description; NULL past the end. */
const char *
config_knob_doc(size_t i, const char **def, const char **doc)
{
	if (i >= nitems(knobs))
		return NULL;
	*def = knobs[i].def;
	*doc = knobs[i].doc;
	return knobs[i].key;
}

/* config.c: the knobs, read from one config file and overridden by APP_* environment variables. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct config cfg;

/*
 * The platform's knobs.  README.md documents each of them (a unit test
 * checks that it does), so add the line there when you add one here.
 * db_conninfo's default is the installation's (platform_register()).
 */
static const struct knob platform_knobs[] = {
	CONFIG_STR("db_conninfo", cfg.db_conninfo, "",
	    "libpq connection string of the application role"),
	CONFIG_INT("db_connect_timeout", cfg.db_connect_timeout, "2", 1, 60,
	    "seconds to wait for a PostgreSQL connection"),
	CONFIG_INT("db_statement_timeout_ms", cfg.db_statement_timeout_ms,
	    "5000", 0, 600000,
	    "statement_timeout of the application's sessions (0: none)"),
	CONFIG_STR("redis_socket", cfg.redis_socket, "",
	    "Redis unix socket path; when empty, redis_host and redis_port"),
	CONFIG_STR("redis_host", cfg.redis_host, "127.0.0.1",
	    "Redis host when redis_socket is empty"),
	CONFIG_INT("redis_port", cfg.redis_port, "6379", 1, 65535,
	    "Redis TCP port"),
	CONFIG_INT("redis_timeout_ms", cfg.redis_timeout_ms, "50", 1, 10000,
	    "connect and command timeout for Redis"),
	CONFIG_INT("redis_retry_ms", cfg.redis_retry_ms, "1000", 0, 60000,
	    "after a Redis failure, how long to bypass it before trying again"),
	CONFIG_ALG("jwt_alg", cfg.jwt_alg, "HS256",
	    "the one JWT algorithm accepted: HS256 or RS256"),
	CONFIG_STR("jwt_secret_file", cfg.jwt_secret_file, "",
	    "HS256: file holding the shared secret"),
	CONFIG_STR("jwt_public_key_file", cfg.jwt_public_key_file, "",
	    "RS256: PEM public key file"),
	CONFIG_STR("jwt_jwks_file", cfg.jwt_jwks_file, "",
	    "RS256: JWKS file; the token's kid selects the key"),
	CONFIG_STR("jwt_jwks_url", cfg.jwt_jwks_url, "",
	    "RS256: https URL of the issuer's JWKS (Clerk's); wins over the "
	    "files"),
	CONFIG_STR("jwt_jwks_ca_file", cfg.jwt_jwks_ca_file, "",
	    "PEM CA bundle that verifies jwt_jwks_url's certificate (empty: "
	    "the system's)"),
	CONFIG_STR("jwt_jwks_cache_dir", cfg.jwt_jwks_cache_dir, "",
	    "directory where the processes of a host share the fetched JWKS "
	    "(empty: each keeps its own)"),
	CONFIG_INT("jwt_jwks_min_ttl", cfg.jwt_jwks_min_ttl, "60", 1, 86400,
	    "shortest time a fetched JWKS is kept, whatever its max-age says "
	    "(also without one)"),
	CONFIG_INT("jwt_jwks_max_ttl", cfg.jwt_jwks_max_ttl, "86400", 1,
	    604800, "longest time a fetched JWKS is kept"),
	CONFIG_INT("jwt_jwks_refetch_interval", cfg.jwt_jwks_refetch_interval,
	    "60", 1, 86400,
	    "seconds between two fetches for an unknown kid, or after a "
	    "failed fetch, for the whole host"),
	CONFIG_INT("jwt_jwks_timeout_ms", cfg.jwt_jwks_timeout_ms, "3000", 100,
	    60000, "time a JWKS fetch may take, connection included"),
	CONFIG_STR("jwt_issuer", cfg.jwt_issuer, "",
	    "required iss claim (empty: not checked)"),
	CONFIG_STR("jwt_audience", cfg.jwt_audience, "",
	    "required aud claim (empty: not checked)"),
	CONFIG_STR("jwt_azp", cfg.jwt_azp, "",
	    "comma list of accepted azp claims (empty: not checked)"),
	CONFIG_INT("jwt_leeway", cfg.jwt_leeway, "30", 0, 3600,
	    "seconds of clock skew allowed on exp, nbf and iat"),
	CONFIG_INT("body_max", cfg.body_max, "65536", 256, 16 * 1024 * 1024,
	    "largest request body in bytes (413 past it)"),
	CONFIG_INT("json_max_depth", cfg.json_max_depth, "16", 2, 64,
	    "deepest JSON nesting accepted in a body"),
	CONFIG_INT("workers", cfg.workers, "2", 1, 256,
	    "worker processes per endpoint"),
	CONFIG_STR("log_level", cfg.log_level, "info",
	    "debug, info, warn or error"),
	CONFIG_STR("trusted_proxies", cfg.trusted_proxies, "",
	    "comma list of proxy addresses or CIDR blocks whose "
	    "X-Forwarded-For is believed"),
	CONFIG_STR("openapi_file", cfg.openapi_file, "",
	    "the OpenAPI document served at /api/openapi.yaml (empty: 404)"),
	CONFIG_INT("rl_enabled", cfg.rl_enabled, "1", 0, 1,
	    "1: rate limits on; 0: off (for benchmarks)"),
	CONFIG_INT("rl_default_limit", cfg.rl[RL_DEFAULT].limit, "100", 1,
	    1000000000, "requests per window, class default"),
	CONFIG_INT("rl_default_window", cfg.rl[RL_DEFAULT].window, "60", 1,
	    86400, "window in seconds, class default"),
	CONFIG_FAILMODE("rl_default_on_redis_error",
	    cfg.rl[RL_DEFAULT].fail_closed, "open",
	    "open (allow) or closed (503) when Redis fails, class default"),
	CONFIG_INT("cache_enabled", cfg.cache_enabled, "1", 0, 1,
	    "1: cache on; 0: every read goes to PostgreSQL"),
	CONFIG_INT("cache_l1_ttl_ms", cfg.cache_l1_ttl_ms, "1000", 0, 60000,
	    "how long a worker keeps an entry in memory (the bound on L1 "
	    "staleness; 0: no L1)"),
	CONFIG_INT("cache_l1_max_entries", cfg.cache_l1_max_entries, "1024", 1,
	    1000000, "most entries in one worker's memory cache"),
	CONFIG_INT("cache_l1_max_bytes", cfg.cache_l1_max_bytes, "16777216",
	    4096, 1073741824, "most bytes in one worker's memory cache"),
	CONFIG_INT("cache_wait_ms", cfg.cache_wait_ms, "200", 0, 5000,
	    "how long a request waits for another to fill the same missing "
	    "entry before computing it itself"),
	/* The broadcaster (push/). */
	CONFIG_STR("push_listen", cfg.push_listen, "127.0.0.1:8081",
	    "host:port the broadcaster listens on"),
	CONFIG_STR("cors_origins", cfg.cors_origins, "",
	    "comma list of origins (scheme://host[:port]) allowed cross-origin, "
	    "with credentials, so no *; empty: none"),
	CONFIG_INT("push_max_clients", cfg.push_max_clients, "10000", 1, 1000000,
	    "connections the broadcaster accepts at once (503 past it)"),
	CONFIG_INT("push_output_max", cfg.push_output_max, "262144", 4096,
	    64 * 1024 * 1024,
	    "bytes queued for one client before it is closed as a slow "
	    "consumer"),
	CONFIG_INT("push_message_max", cfg.push_message_max, "65536", 128,
	    16 * 1024 * 1024,
	    "largest WebSocket message a client may send (close 1009 past it); "
	    "Engine.IO maxPayload"),
	CONFIG_INT("push_handshake_timeout_ms", cfg.push_handshake_timeout_ms,
	    "10000", 100, 600000,
	    "time to send the HTTP request and the Socket.IO CONNECT"),
	CONFIG_INT("push_ping_interval_ms", cfg.push_ping_interval_ms, "25000",
	    100, 600000, "Engine.IO pingInterval"),
	CONFIG_INT("push_ping_timeout_ms", cfg.push_ping_timeout_ms, "20000",
	    100, 600000,
	    "Engine.IO pingTimeout: a client silent this long after a ping is "
	    "closed"),
	CONFIG_INT("push_sse_keepalive_ms", cfg.push_sse_keepalive_ms, "15000",
	    100, 600000,
	    "interval of the keep-alive comments on event streams"),
	CONFIG_INT("push_replay_max", cfg.push_replay_max, "1000", 0, 10000,
	    "events replayed at most after Last-Event-ID"),
	CONFIG_INT("push_shutdown_ms", cfg.push_shutdown_ms, "2000", 0, 60000,
	    "on SIGTERM, how long to wait for clients to answer the close "
	    "frames"),
	CONFIG_INT("push_redis_backoff_max_ms", cfg.push_redis_backoff_max_ms,
	    "5000", 100, 600000,
	    "longest pause between two reconnects to Redis"),
	CONFIG_INT("cron_max_seconds", cfg.cron_max_seconds, "110", 1, 86400,
	    "a cron run starts no work after this many seconds (--max-seconds)"),
};

#define CONFIG_TABLES_MAX	8
#define ORIGIN_MAX		300

/* The tables in use: the platform's, then those registered, in order. */
static struct {
	const struct knob	*knobs;
	size_t			 n;
} tables[CONFIG_TABLES_MAX] = { { platform_knobs, nitems(platform_knobs) } };
static size_t	ntables = 1;

/* Where each knob's value came from, in the order of knob_at(). */
static char	(*origins)[ORIGIN_MAX];
static size_t	norigins;

/* Defaults a program gives some platform knobs (platform_register()). */
static const struct knob_default	*defaults;
static size_t				 ndefaults;

/*
 * Add a table of knobs (platform_register() does it for a program's
 * library).  The table and the variables it names must outlive every
 * config_load().  Once one is added, the program knows every knob of
 * the installation: unknown keys in the file are refused.
 */
void
config_register(const struct knob *k, size_t n)
{
	if (ntables == CONFIG_TABLES_MAX) {
		fprintf(stderr, "config: too many knob tables\n");
		abort();
	}
	tables[ntables].knobs = k;
	tables[ntables].n = n;
	ntables++;
}

/* Defaults of the platform's knobs that the installation sets. */
void
config_defaults(const struct knob_default *d, size_t n)
{
	defaults = d;
	ndefaults = n;
}

/* The i-th knob of all tables, NULL past the last. */
static const struct knob *
knob_at(size_t i)
{
	size_t	t;

	for (t = 0; t < ntables; t++) {
		if (i < tables[t].n)
			return &tables[t].knobs[i];
		i -= tables[t].n;
	}
	return NULL;
}

static size_t
knob_count(void)
{
	size_t	t, n = 0;

	for (t = 0; t < ntables; t++)
		n += tables[t].n;
	return n;
}

static size_t
knob_find(const char *key)
{
	const struct knob	*k;
	size_t			 i;

	for (i = 0; (k = knob_at(i)) != NULL; i++)
		if (strcmp(k->key, key) == 0)
			return i;
	return (size_t)-1;
}

static const char *
knob_default(const struct knob *k)
{
	size_t	i;

	for (i = 0; i < ndefaults; i++)
		if (strcmp(defaults[i].key, k->key) == 0)
			return defaults[i].def;
	return k->def;
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

/* Set knob i from val, read at where; -1 after saying what is wrong. */
static int
knob_set(size_t i, const char *val, const char *where)
{
	const struct knob	*k = knob_at(i);
	char			*end;
	long long		 v;
	double			 d;

	switch (k->type) {
	case KNOB_STRING:
		free(*k->val.s);
		*k->val.s = xstrdup(val);
		break;
	case KNOB_NUMBER:
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
		*k->val.d = d;
		break;
	case KNOB_INT:
		if (parse_int64(val, &v) == -1 || v < k->min || v > k->max) {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: %s must be an integer in %lld..%lld\"}\n",
			    where, k->key, k->min, k->max);
			return -1;
		}
		*k->val.i = (int)v;
		break;
	case KNOB_ALG:
		if (strcmp(val, "HS256") == 0)
			*k->val.alg = AUTH_HS256;
		else if (strcmp(val, "RS256") == 0)
			*k->val.alg = AUTH_RS256;
		else {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: %s must be HS256 or RS256\"}\n", where, k->key);
			return -1;
		}
		break;
	case KNOB_FAILMODE:
		if (strcmp(val, "open") == 0)
			*k->val.i = 0;
		else if (strcmp(val, "closed") == 0)
			*k->val.i = 1;
		else {
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: %s must be open or closed\"}\n", where, k->key);
			return -1;
		}
		break;
	}
	snprintf(origins[i], ORIGIN_MAX, "%s", where);
	return 0;
}

static int
config_file(const char *path)
{
	FILE	*f;
	char	 line[4096], where[ORIGIN_MAX], *p, *eq;
	size_t	 i;
	int	 lineno = 0, rc = 0;

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
		if ((i = knob_find(trim(p))) == (size_t)-1) {
			if (ntables == 1)
				continue;	/* another program's knob */
			fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: "
			    "%s: unknown key\"}\n", where);
			rc = -1;
			continue;
		}
		if (knob_set(i, trim(eq + 1), where) == -1)
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
	const struct knob	*k;
	const char		*path, *env;
	char			 name[128];
	size_t			 i, j;
	int			 rc = 0;

	config_free();
	norigins = knob_count();
	origins = xcalloc(norigins, sizeof(*origins));
	for (i = 0; (k = knob_at(i)) != NULL; i++)
		if (knob_set(i, knob_default(k), "default") == -1)
			rc = -1;
	if ((path = getenv("APP_CONFIG")) != NULL && *path != '\0')
		if (config_file(path) == -1)
			rc = -1;
	for (i = 0; (k = knob_at(i)) != NULL; i++) {
		snprintf(name, sizeof(name), "APP_%s", k->key);
		for (j = 4; name[j] != '\0'; j++)
			name[j] = (char)toupper((unsigned char)name[j]);
		if ((env = getenv(name)) != NULL)
			if (knob_set(i, env, name) == -1)
				rc = -1;
	}
	return rc;
}

void
config_free(void)
{
	const struct knob	*k;
	size_t			 i;

	for (i = 0; (k = knob_at(i)) != NULL; i++)
		if (k->type == KNOB_STRING) {
			free(*k->val.s);
			*k->val.s = NULL;
		}
	free(origins);
	origins = NULL;
	norigins = 0;
}

/* The i-th knob's key, default and description; NULL past the end. */
const char *
config_knob_doc(size_t i, const char **def, const char **doc)
{
	const struct knob	*k = knob_at(i);

	if (k == NULL)
		return NULL;
	*def = knob_default(k);
	*doc = k->doc;
	return k->key;
}

/*
 * Where the value of key came from: "file:line", "APP_KEY" or
 * "default"; NULL for a key no table knows or before config_load().
 */
const char *
config_origin(const char *key)
{
	size_t	i = knob_find(key);

	return i < norigins ? origins[i] : NULL;
}

/*
 * Report key's value as invalid, where it was set, as the loader
 * reports its own errors: for a library that checks the syntax of its
 * knobs once they are loaded.
 */
void
config_invalid(const char *key)
{
	size_t	i = knob_find(key);

	fprintf(stderr, "{\"level\":\"error\",\"msg\":\"config: %s: %s: invalid "
	    "value (%s)\"}\n", i < norigins ? origins[i] : "default", key,
	    i != (size_t)-1 ? knob_at(i)->doc : "");
}

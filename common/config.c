/* config.c: the knobs, read from one config file and overridden by APP_* environment variables. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

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
	    "Redis host when redis_socket is empty; both empty: no Redis "
	    "(PostgreSQL holds rate limits and events)"),
	CONFIG_INT("redis_port", cfg.redis_port, "6379", 1, 65535,
	    "Redis TCP port"),
	CONFIG_INT("redis_timeout_ms", cfg.redis_timeout_ms, "50", 1, 10000,
	    "connect and command timeout for Redis"),
	CONFIG_INT("redis_retry_ms", cfg.redis_retry_ms, "1000", 0, 60000,
	    "after a Redis failure, how long to bypass it before trying again"),
	CONFIG_STR("redis_password_file", cfg.redis_password_file, "",
	    "file holding the Redis password, sent with AUTH on every "
	    "connection (empty: no AUTH)"),
	CONFIG_STR("redis_user", cfg.redis_user, "",
	    "Redis ACL user for AUTH (empty: the default user)"),
	CONFIG_INT("redis_tls", cfg.redis_tls, "0", 0, 1,
	    "1: TLS to Redis (refused: this build's hiredis has no TLS; use "
	    "the unix socket)"),
	CONFIG_STR("redis_tls_ca", cfg.redis_tls_ca, "",
	    "PEM CA bundle for redis_tls"),
	CONFIG_STR("events_key_file", cfg.events_key_file, "",
	    "key (32 bytes or more) that signs the events and the cache "
	    "entries put in Redis; readers drop what it does not verify "
	    "(empty: nothing signed nor checked)"),
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
	CONFIG_STR("jwt_admin_roles", cfg.jwt_admin_roles, "org:admin,admin",
	    "comma list of organisation roles that may change the whole tenant"),
	CONFIG_INT("jwt_leeway", cfg.jwt_leeway, "30", 0, 3600,
	    "seconds of clock skew allowed on exp, nbf and iat"),
	CONFIG_INT("body_max", cfg.body_max, "65536", 256, 16 * 1024 * 1024,
	    "largest request body in bytes (413 past it)"),
	CONFIG_INT("body_timeout_ms", cfg.body_timeout_ms, "10000", 100,
	    600000, "time a request's body may take to arrive, from the "
	    "first byte the program asks for (408 past it)"),
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
	CONFIG_INT("rl_lease_max", cfg.rl_lease_max, "32", 1, 1000,
	    "most permits a worker leases from Redis at once (1: no leases)"),
	CONFIG_INT("rl_lease_share", cfg.rl_lease_share, "64", 1, 1000000,
	    "a lease takes at most 1/this of the headroom left"),
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
	CONFIG_INT("push_send_threads", cfg.push_send_threads, "0", 0, 64,
	    "threads that write a large fan-out (the loop's included); 0: one "
	    "per core, at most 8; 1: the loop's alone"),
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
	/* /metrics (metrics.c). */
	CONFIG_INT("metrics_enabled", cfg.metrics_enabled, "0", 0, 1,
	    "1: count, and answer /metrics (the programs' sums, and the "
	    "broadcaster's own); 0: /metrics is a 404"),
	CONFIG_STR("metrics_dir", cfg.metrics_dir, "",
	    "directory where each program keeps its counters (one file each, "
	    "shared by its processes), writable by the programs"),
	CONFIG_STR("metrics_token_file", cfg.metrics_token_file, "",
	    "file holding the bearer token /metrics requires (empty: none)"),
	CONFIG_STR("metrics_allow", cfg.metrics_allow, "127.0.0.1, ::1",
	    "comma list of addresses or CIDR blocks that may read /metrics "
	    "(empty: any, then a token is required)"),
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

/* check-config prints "where: error: what" lines instead of JSON ones. */
static int	plain;

/*
 * Say what is wrong with the configuration, where it was set: a JSON
 * line as the programs log, or "where: error: what" for check-config.
 */
static void PRINTF(3, 4)
report(int error, const char *where, const char *fmt, ...)
{
	struct buf	 msg = { 0 }, text = { 0 }, line = { 0 };
	va_list		 ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (plain)
		buf_printf(&line, "%s: %s: %s\n", where,
		    error ? "error" : "warning", msg.data);
	else {
		buf_printf(&text, "config: %s: %s", where, msg.data);
		buf_printf(&line, "{\"level\":\"%s\",\"msg\":",
		    error ? "error" : "warn");
		buf_json_string(&line, text.data, text.len);
		buf_puts(&line, "}\n");
	}
	fputs(line.data, stderr);
	buf_free(&msg);
	buf_free(&text);
	buf_free(&line);
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
			report(1, where, "%s must be a decimal number in "
			    "%lld..%lld", k->key, k->min, k->max);
			return -1;
		}
		*k->val.d = d;
		break;
	case KNOB_INT:
		if (parse_int64(val, &v) == -1 || v < k->min || v > k->max) {
			report(1, where, "%s must be an integer in %lld..%lld",
			    k->key, k->min, k->max);
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
			report(1, where, "%s must be HS256 or RS256", k->key);
			return -1;
		}
		break;
	case KNOB_FAILMODE:
		if (strcmp(val, "open") == 0)
			*k->val.i = 0;
		else if (strcmp(val, "closed") == 0)
			*k->val.i = 1;
		else {
			report(1, where, "%s must be open or closed", k->key);
			return -1;
		}
		break;
	}
	snprintf(origins[i], ORIGIN_MAX, "%s", where);
	return 0;
}

/*
 * The knob a mistyped key was probably meant to be: one edit away (a
 * letter missing, extra, wrong, or two swapped), else NULL.
 */
static const char *
knob_near(const char *key)
{
	const struct knob	*k;
	size_t			 i, a, b, la = strlen(key), lb, d;

	for (i = 0; (k = knob_at(i)) != NULL; i++) {
		lb = strlen(k->key);
		if (la > lb + 1 || lb > la + 1)
			continue;
		for (a = 0; a < la && a < lb && key[a] == k->key[a]; a++)
			continue;
		for (b = 0; b < la - a && b < lb - a &&
		    key[la - 1 - b] == k->key[lb - 1 - b]; b++)
			continue;
		d = (la - a - b > lb - a - b ? la : lb) - a - b;
		if (d <= 1 || (la == lb && d == 2 && key[a] == k->key[a + 1] &&
		    key[a + 1] == k->key[a]))
			return k->key;
	}
	return NULL;
}

static int
config_file(const char *path)
{
	FILE	*f;
	char		 line[4096], where[ORIGIN_MAX], *p, *eq;
	const char	*near;
	size_t		 i, plen = strlen(path);
	int		 lineno = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		report(1, path, "%s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			report(1, where, "expected key = value");
			rc = -1;
			continue;
		}
		*eq = '\0';
		p = trim(p);
		if ((i = knob_find(p)) == (size_t)-1) {
			if (ntables == 1)
				continue;	/* another program's knob */
			if ((near = knob_near(p)) != NULL)
				report(1, where, "unknown key %s (did you mean "
				    "%s?)", p, near);
			else
				report(1, where, "unknown key %s", p);
			rc = -1;
			continue;
		}
		/* The last line wins, as it always did: say so. */
		if (strncmp(origins[i], path, plen) == 0 && origins[i][plen] == ':')
			report(0, where, "%s set again: this line replaces "
			    "line %s", p, origins[i] + plen + 1);
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

	config_error(key, "invalid value (%s)",
	    i != (size_t)-1 ? knob_at(i)->doc : "");
}

/*
 * Load and check the configuration again, for a daemon that applies it
 * without restarting (the broadcaster on SIGHUP).  When the new one is
 * not usable (said as at start), the values in use stay as they were
 * and -1 is returned.
 */
int
config_reload(void)
{
	const struct knob	*k;
	struct old {
		char		*s;
		int		 i;
		double		 d;
		enum auth_alg	 alg;
	}			*old;
	char			(*old_origins)[ORIGIN_MAX];
	size_t			 i, n = knob_count();

	old = xcalloc(n, sizeof(*old));
	old_origins = xcalloc(n, sizeof(*old_origins));
	for (i = 0; (k = knob_at(i)) != NULL; i++) {
		switch (k->type) {
		case KNOB_STRING:
			old[i].s = xstrdup(*k->val.s != NULL ? *k->val.s : "");
			break;
		case KNOB_INT:
		case KNOB_FAILMODE:
			old[i].i = *k->val.i;
			break;
		case KNOB_NUMBER:
			old[i].d = *k->val.d;
			break;
		case KNOB_ALG:
			old[i].alg = *k->val.alg;
			break;
		}
		if (i < norigins)
			memcpy(old_origins[i], origins[i], ORIGIN_MAX);
	}
	if (config_load() == 0 && config_check() == 0) {
		for (i = 0; i < n; i++)
			free(old[i].s);
		free(old);
		free(old_origins);
		return 0;
	}
	config_free();
	for (i = 0; (k = knob_at(i)) != NULL; i++)
		switch (k->type) {
		case KNOB_STRING:
			*k->val.s = old[i].s;	/* the old string, back */
			break;
		case KNOB_INT:
		case KNOB_FAILMODE:
			*k->val.i = old[i].i;
			break;
		case KNOB_NUMBER:
			*k->val.d = old[i].d;
			break;
		case KNOB_ALG:
			*k->val.alg = old[i].alg;
			break;
		}
	free(old);
	origins = old_origins;
	norigins = n;
	return -1;
}

/* --- checks across knobs --------------------------------------------------- */

/* check-config's output: "where: error: what" lines, not JSON. */
void
config_set_plain(int on)
{
	plain = on;
}

/*
 * Where to point at for key: the line or variable that set it, or for
 * a default the file (where it would be set), else "defaults".
 */
static const char *
blame(const char *key)
{
	const char	*o = config_origin(key), *path;

	if (o != NULL && strcmp(o, "default") != 0)
		return o;
	path = getenv("APP_CONFIG");
	return path != NULL && *path != '\0' ? path : "defaults";
}

static void PRINTF(3, 0)
vreport_key(int error, const char *key, const char *fmt, va_list ap)
{
	struct buf	msg = { 0 };

	buf_vprintf(&msg, fmt, ap);
	report(error, blame(key), "%s: %s", key, msg.data);
	buf_free(&msg);
}

/*
 * A value that cannot work, or one that works but surely not as meant:
 * said where key was set, the message prefixed with the key.  The
 * checks of a library above the platform report through these too, so
 * that check-config and every program say the same thing.
 */
void
config_error(const char *key, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vreport_key(1, key, fmt, ap);
	va_end(ap);
}

void
config_warn(const char *key, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vreport_key(0, key, fmt, ap);
	va_end(ap);
}

/* Predicate: key's value came from the file or the environment. */
static int
config_given(const char *key)
{
	const char	*o = config_origin(key);

	return o != NULL && strcmp(o, "default") != 0;
}

/*
 * The next item of a comma list into item (spaces around it dropped);
 * returns a pointer past it, or NULL at the end.  An item too long for
 * item comes back empty-handed but flagged: *too_long set.
 */
static const char *
list_next(const char *p, char *item, size_t size, int *too_long)
{
	const char	*end;
	size_t		 n;

	while (*p == ' ' || *p == ',')
		p++;
	if (*p == '\0')
		return NULL;
	end = p + strcspn(p, ",");
	n = (size_t)(end - p);
	while (n > 0 && p[n - 1] == ' ')
		n--;
	*too_long = n >= size;
	if (*too_long)
		n = size - 1;
	memcpy(item, p, n);
	item[n] = '\0';
	return end;
}

/* Predicate: an address or a CIDR block, as ip_in_list() reads them. */
static int
cidr_valid(char *item)
{
	unsigned char	 a[16];
	char		*slash = strchr(item, '/');
	long long	 bits;
	int		 fam = strchr(item, ':') != NULL ? AF_INET6 : AF_INET, ok;

	if (slash != NULL)
		*slash = '\0';
	ok = inet_pton(fam, item, a) == 1;
	if (ok && slash != NULL)
		ok = parse_int64(slash + 1, &bits) == 0 && bits >= 0 &&
		    bits <= (fam == AF_INET ? 32 : 128);
	if (slash != NULL)
		*slash = '/';
	return ok;
}

/* Every item of an address list parses: an unparsable one would never fit an address. */
static int
check_addresses(const char *key, const char *list)
{
	char		 item[128];
	const char	*p = list;
	int		 too_long, rc = 0;

	while ((p = list_next(p, item, sizeof(item), &too_long)) != NULL)
		if (too_long || !cidr_valid(item)) {
			config_error(key, "\"%s\" is not an address or a CIDR "
			    "block (10.0.0.0/8, ::1)", item);
			rc = -1;
		}
	return rc;
}

/* An origin as browsers send it: http(s)://host[:port], nothing more. */
static int
check_origins(const char *key, const char *list)
{
	char		 item[300];
	const char	*p = list, *host;
	size_t		 i;
	int		 too_long, rc = 0;

	while ((p = list_next(p, item, sizeof(item), &too_long)) != NULL) {
		host = strncmp(item, "http://", 7) == 0 ? item + 7 :
		    strncmp(item, "https://", 8) == 0 ? item + 8 : NULL;
		for (i = 0; host != NULL && host[i] != '\0'; i++)
			if (!isalnum((unsigned char)host[i]) &&
			    strchr(".-:[]", host[i]) == NULL)
				host = NULL;
		if (too_long || host == NULL || *host == '\0' || *host == ':') {
			config_error(key, "\"%s\" is not an origin (scheme://"
			    "host[:port]: no path, no trailing /, no *)", item);
			rc = -1;
		}
	}
	return rc;
}

/* host:port, the host a name, an IPv4 address or [IPv6], or empty (all). */
static int
check_listen(const char *key, const char *spec)
{
	const char	*colon = strrchr(spec, ':');
	unsigned char	 a[16];
	char		 host[128];
	long long	 port;
	size_t		 i, n;

	if (colon != NULL && parse_int64(colon + 1, &port) == 0 &&
	    port >= 1 && port <= 65535 && (n = (size_t)(colon - spec)) <
	    sizeof(host)) {
		if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']')
			memcpy(host, spec + 1, n -= 2);
		else
			memcpy(host, spec, n);
		host[n] = '\0';
		if (strchr(host, ':') != NULL && inet_pton(AF_INET6, host, a) == 1)
			return 0;
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)host[i]) &&
			    strchr(".-_", host[i]) == NULL)
				break;
		if (i == n)
			return 0;
	}
	config_error(key, "\"%s\" is not host:port (127.0.0.1:8081, "
	    "[::1]:8081, :8081 for every address)", spec);
	return -1;
}

/*
 * The *_file knobs of every table: a file the program can read, as the
 * user it runs as.  Checked by name, so a library's own key files are
 * checked too without the platform knowing them.
 */
static int
check_files(void)
{
	const struct knob	*k;
	struct stat		 st;
	size_t			 i, n;
	int			 fd, rc = 0;

	for (i = 0; (k = knob_at(i)) != NULL; i++) {
		n = strlen(k->key);
		if (k->type != KNOB_STRING || n < 5 ||
		    strcmp(k->key + n - 5, "_file") != 0 || **k->val.s == '\0')
			continue;
		if ((fd = open(*k->val.s, O_RDONLY | O_CLOEXEC)) == -1) {
			config_error(k->key, "%s: %s", *k->val.s, strerror(errno));
			rc = -1;
			continue;
		}
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			config_error(k->key, "%s: not a regular file", *k->val.s);
			rc = -1;
		}
		close(fd);
	}
	return rc;
}

/* A key file's bytes, trailing white space dropped; NULL if unreadable (check_files() said it). */
static char *
key_bytes(const char *path, size_t *len)
{
	char	*data;

	if (*path == '\0' || (data = read_file(path, 1 << 20, len)) == NULL)
		return NULL;
	while (*len > 0 && isspace((unsigned char)data[*len - 1]))
		data[--*len] = '\0';
	return data;
}

/*
 * The secret that knob key names (path, not empty), read, measured and
 * wiped from memory again before returning: 0 when it has min bytes
 * or more, -1 when it has fewer (said, what naming it: "a key of"), 1
 * when it cannot be read (check_files() said why; each caller decides
 * whether that fails its check).
 */
static int
check_secret(const char *key, const char *path, size_t min, const char *what)
{
	char	*data;
	size_t	 len;
	int	 rc = 0;

	if ((data = key_bytes(path, &len)) == NULL)
		return 1;
	if (len < min) {
		config_error(key, "%s: %s %zu bytes or more, it has %zu", path,
		    what, min, len);
		rc = -1;
	}
	explicit_bzero(data, len);
	free(data);
	return rc;
}

/* The JWT keys: the one the algorithm needs, and usable. */
static int
check_jwt(void)
{
	struct auth_keys	 keys = { 0 };
	const char		*alg = cfg.jwt_alg == AUTH_HS256 ? "HS256" : "RS256";
	EVP_PKEY		*pk;
	BIO			*bio;
	char			*data;
	size_t			 len;
	int			 rc = 0;

	if (cfg.jwt_alg == AUTH_HS256) {
		if (*cfg.jwt_secret_file == '\0') {
			config_error("jwt_secret_file", "not set, and jwt_alg %s "
			    "(%s) needs the shared secret", alg,
			    config_origin("jwt_alg"));
			return -1;
		}
		return check_secret("jwt_secret_file", cfg.jwt_secret_file, 32,
		    "an HS256 secret needs") == 0 ? 0 : -1;
	}
	if (cfg.jwt_jwks_url != NULL && *cfg.jwt_jwks_url != '\0') {
		/* Fetched at start and kept fresh (jwks.c): nothing to read here. */
		if (strncmp(cfg.jwt_jwks_url, "https://", 8) != 0) {
			config_error("jwt_jwks_url", "%s: must be an https:// URL",
			    cfg.jwt_jwks_url);
			return -1;
		}
		if (*cfg.jwt_jwks_file != '\0' || *cfg.jwt_public_key_file != '\0')
			config_warn("jwt_jwks_url", "takes precedence over "
			    "jwt_jwks_file and jwt_public_key_file, which are ignored");
		return 0;
	}
	if (*cfg.jwt_jwks_file != '\0') {
		if (*cfg.jwt_public_key_file != '\0')
			config_warn("jwt_public_key_file", "ignored: jwt_jwks_file "
			    "(%s) takes precedence", config_origin("jwt_jwks_file"));
		if ((data = key_bytes(cfg.jwt_jwks_file, &len)) == NULL)
			return -1;
		if (auth_jwks_parse(&keys, data, len) <= 0) {
			config_error("jwt_jwks_file", "%s: no usable RS256 key (a "
			    "JWKS document: {\"keys\":[{\"kty\":\"RSA\",...}]})",
			    cfg.jwt_jwks_file);
			rc = -1;
		}
		auth_keys_free(&keys);
		free(data);
		return rc;
	}
	if (*cfg.jwt_public_key_file == '\0') {
		config_error("jwt_alg", "RS256 needs jwt_jwks_url, jwt_jwks_file "
		    "or jwt_public_key_file, and none is set");
		return -1;
	}
	if ((data = key_bytes(cfg.jwt_public_key_file, &len)) == NULL)
		return -1;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		oom();
	pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (pk == NULL || EVP_PKEY_base_id(pk) != EVP_PKEY_RSA) {
		config_error("jwt_public_key_file", "%s: not a PEM RSA public key "
		    "(-----BEGIN PUBLIC KEY-----)", cfg.jwt_public_key_file);
		rc = -1;
	}
	EVP_PKEY_free(pk);
	BIO_free(bio);
	free(data);
	return rc;
}

/*
 * db_conninfo: a database name, key=value pairs or a URI, as libpq reads
 * it; what the programs set themselves replaces the same keywords in
 * it, and the files it names must be readable.
 */
static int
check_db(void)
{
	static const struct {
		const char	*keyword;
		const char	*instead;
	} replaced[] = {
		{ "connect_timeout", "db_connect_timeout" },
		{ "options", "db_statement_timeout_ms (and TimeZone=UTC)" },
		{ "application_name", "the installation's name" },
	};
	static const char *const files[] = {
		"passfile", "sslcert", "sslkey", "sslrootcert", "sslcrl",
	};
	PQconninfoOption	*opts, *o;
	const char		*s = cfg.db_conninfo;
	char			*err = NULL;
	size_t			 i;
	int			 rc = 0;

	if (strchr(s, '=') == NULL && strncmp(s, "postgres://", 11) != 0 &&
	    strncmp(s, "postgresql://", 13) != 0) {
		if (*s == '\0') {
			config_error("db_conninfo", "empty");
			return -1;
		}
		return 0;	/* a database name */
	}
	if ((opts = PQconninfoParse(s, &err)) == NULL) {
		config_error("db_conninfo", "%.*s", err != NULL ?
		    (int)strcspn(err, "\n") : 20, err != NULL ? err :
		    "out of memory");
		PQfreemem(err);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		for (i = 0; i < nitems(replaced); i++)
			if (strcmp(o->keyword, replaced[i].keyword) == 0)
				config_warn("db_conninfo", "%s= is replaced by "
				    "%s", o->keyword, replaced[i].instead);
		for (i = 0; i < nitems(files); i++)
			if (strcmp(o->keyword, files[i]) == 0 &&
			    access(o->val, R_OK) == -1) {
				config_error("db_conninfo", "%s=%s: %s",
				    o->keyword, o->val, strerror(errno));
				rc = -1;
			}
	}
	PQconninfoFree(opts);
	return rc;
}

/*
 * Redis's password and the events key: files that hold something, and
 * no TLS (Debian 12's hiredis 0.14 has no hiredis_ssl).
 */
static int
check_redis_auth(void)
{
	char	*data;
	size_t	 len;
	int	 rc = 0;

	if (cfg.redis_tls) {
		config_error("redis_tls", "this build's hiredis (%d.%d) has no "
		    "TLS: reach Redis by its unix socket (redis_socket), or "
		    "through a local TLS tunnel", HIREDIS_MAJOR, HIREDIS_MINOR);
		rc = -1;
	}
	if (*cfg.redis_user != '\0' && *cfg.redis_password_file == '\0') {
		config_error("redis_user", "%s: set redis_password_file too (an "
		    "ACL user authenticates with a password)", cfg.redis_user);
		rc = -1;
	}
	if (*cfg.redis_password_file != '\0' &&
	    (data = key_bytes(cfg.redis_password_file, &len)) != NULL) {
		if (len == 0 || memchr(data, '\n', len) != NULL) {
			config_error("redis_password_file", "%s: one line, not "
			    "empty", cfg.redis_password_file);
			rc = -1;
		}
		explicit_bzero(data, len);
		free(data);
	}
	if (*cfg.events_key_file != '\0' && check_secret("events_key_file",
	    cfg.events_key_file, 32, "a key of") == -1)
		rc = -1;
	return rc;
}

/* Redis: a socket path, or a host and a port apart. */
static int
check_redis(void)
{
	unsigned char	a[16];
	size_t		i;

	if (*cfg.redis_socket != '\0') {
		if (*cfg.redis_socket != '/') {
			config_error("redis_socket", "%s: give the absolute path "
			    "of the socket", cfg.redis_socket);
			return -1;
		}
		if (config_given("redis_host") || config_given("redis_port"))
			config_warn(config_given("redis_host") ? "redis_host" :
			    "redis_port", "ignored: redis_socket (%s) is set",
			    config_origin("redis_socket"));
		return check_redis_auth();
	}
	if (check_redis_auth() == -1)
		return -1;
	if (strchr(cfg.redis_host, ':') != NULL &&
	    inet_pton(AF_INET6, cfg.redis_host, a) != 1) {
		config_error("redis_host", "%s: the port goes in redis_port",
		    cfg.redis_host);
		return -1;
	}
	for (i = 0; cfg.redis_host[i] != '\0'; i++)
		if (isspace((unsigned char)cfg.redis_host[i]) ||
		    cfg.redis_host[i] == '/') {
			config_error("redis_host", "%s: a host name or an "
			    "address (a socket goes in redis_socket)",
			    cfg.redis_host);
			return -1;
		}
	return 0;
}

/* /metrics: where the counters go, and who may read them. */
static int
check_metrics(void)
{
	struct stat	 st;
	int		 rc = 0;

	if (check_addresses("metrics_allow", cfg.metrics_allow) == -1)
		rc = -1;
	if (!cfg.metrics_enabled)
		return rc;
	if (*cfg.metrics_dir == '\0') {
		config_error("metrics_dir", "not set, and metrics_enabled (%s) "
		    "needs a directory for the counters",
		    config_origin("metrics_enabled"));
		rc = -1;
	} else if (stat(cfg.metrics_dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		config_error("metrics_dir", "%s: not a directory", cfg.metrics_dir);
		rc = -1;
	} else if (access(cfg.metrics_dir, W_OK | X_OK) == -1) {
		config_error("metrics_dir", "%s: %s (the programs write their "
		    "counters there)", cfg.metrics_dir, strerror(errno));
		rc = -1;
	}
	if (*cfg.metrics_allow == '\0' && *cfg.metrics_token_file == '\0') {
		config_error("metrics_enabled", "/metrics would be open to anyone: "
		    "set metrics_token_file, metrics_allow, or both");
		rc = -1;
	}
	if (*cfg.metrics_token_file != '\0' && check_secret("metrics_token_file",
	    cfg.metrics_token_file, 16, "a token of") == -1)
		rc = -1;
	return rc;
}

/*
 * The platform's checks of what one knob's range cannot say: values
 * whose syntax is the platform's, knobs that must agree with each
 * other, and the files they name.  Every program runs them at start
 * after config_load(), and check-config too; a library above the
 * platform runs its own after these.  Returns -1 when a value cannot
 * work (each said where it was set); warnings do not fail.
 */
int
config_check(void)
{
	static const char *const levels[] = { "debug", "info", "warn", "error" };
	size_t	i;
	int	rc = 0;

	for (i = 0; i < nitems(levels); i++)
		if (strcmp(cfg.log_level, levels[i]) == 0)
			break;
	if (i == nitems(levels)) {
		config_error("log_level", "%s: one of debug, info, warn, error",
		    cfg.log_level);
		rc = -1;
	}
	if (check_files() == -1)
		rc = -1;
	if (check_db() == -1)
		rc = -1;
	if (check_redis() == -1)
		rc = -1;
	if (check_jwt() == -1)
		rc = -1;
	if (check_addresses("trusted_proxies", cfg.trusted_proxies) == -1)
		rc = -1;
	if (check_listen("push_listen", cfg.push_listen) == -1)
		rc = -1;
	if (check_origins("cors_origins", cfg.cors_origins) == -1)
		rc = -1;
	if (check_metrics() == -1)
		rc = -1;
	return rc;
}

/* common.h: the one header of libcommon, the platform every program stands on: request, response, dispatch, validation, auth, db, redis, cache, rate limits, events, config, log. */
#ifndef COMMON_H
#define COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <fcgiapp.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define NORETURN	__attribute__((noreturn))
#else
#define PRINTF(f, a)
#define NORETURN
#endif

struct req;

/*
 * arena.c -- per-request memory.
 *
 * Everything a request allocates for itself (decoded strings, parsed
 * fields, header lines) comes from its arena and is released at once by
 * arena_reset() when the request ends.  Allocation never fails: out of
 * memory ends the worker, and the supervisor starts a new one.
 */
struct arena_block;
struct arena {
	struct arena_block	*head;
};
void	*arena_alloc(struct arena *, size_t);
char	*arena_strdup(struct arena *, const char *);
char	*arena_strndup(struct arena *, const char *, size_t);
char	*arena_printf(struct arena *, const char *, ...) PRINTF(2, 3);
void	 arena_reset(struct arena *);

/*
 * buf.c -- a growable byte string that is always NUL-terminated.
 *
 * The buffer owns data; buf_free() releases it, buf_reset() keeps the
 * allocation for reuse.
 */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, char);
void	 buf_printf(struct buf *, const char *, ...) PRINTF(2, 3);
void	 buf_vprintf(struct buf *, const char *, va_list) PRINTF(2, 0);
void	 buf_json_string(struct buf *, const char *, size_t);
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);

/* util.c -- small helpers, pure but for the last (signals_init()). */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
NORETURN void oom(void);
size_t	 utf8_seq(const unsigned char *, size_t);
int	 utf8_valid(const char *, size_t);
size_t	 utf8_length(const char *, size_t);
int	 url_decode(char *, size_t *, int);
int	 parse_int64(const char *, long long *);
int	 base64url_decode(const char *, size_t, unsigned char **, size_t *);
char	*base64url_encode(const unsigned char *, size_t);
void	 random_hex(char *, size_t);
double	 now_ms(void);
void	 sleep_ms(long long);
char	*read_file(const char *, size_t, size_t *);
int	 ident_valid(const char *, size_t);
unsigned long str_hash(const char *);
void	 signals_init(void (*)(int), void (*)(int));

/*
 * datetime.c -- calendar dates and UTC times, without time zones or libc's
 * time functions.
 *
 * Dates are days since 1970-01-01, times microseconds since the epoch.
 * The parsers are strict: parse_date() takes "YYYY-MM-DD" (a real day),
 * parse_time() RFC 3339 ("2024-05-01T12:00:00.5+02:00"), parse_pg_time()
 * PostgreSQL's timestamptz text in a UTC session.  format_time() prints
 * what parse_time() reads back exactly.
 */
long long days_from_civil(long long, int, int);
void	 civil_from_days(long long, long long *, int *, int *);
int	 parse_date(const char *, long long *);
int	 parse_time(const char *, long long *);
int	 parse_pg_time(const char *, long long *);
void	 format_date(char *, size_t, long long);
void	 format_time(char *, size_t, long long);

/*
 * config.c -- one config file plus environment overrides, for the knob
 * tables of every library a program is built from.
 *
 * Every knob has a key in the file ("db_conninfo = ...") and an
 * environment variable (APP_DB_CONNINFO); the environment wins.  The
 * file is named by APP_CONFIG.  The platform's own knobs are always
 * known; a library above it adds its table with platform_register()
 * before config_load().  Unknown keys in the file are an error in a
 * program that registered a table (it knows every knob of the
 * installation), so that a typo never silently falls back to a
 * default.  A program of the platform alone (the broadcaster) shares
 * the file with the others: it skips the keys it does not know, and the
 * programs that know them all refuse the typos.
 *
 * config_origin() says where a knob's value came from ("file:12",
 * "APP_KEY" or "default"), so that a library checking the syntax of
 * its own knobs after the load reports the place with config_invalid()
 * as the loader reports its own errors.
 *
 * config_check() is the platform's check of what a knob's range cannot
 * say: the syntax of its values, knobs that must agree with each other,
 * and the files the *_file knobs name (readable by whoever runs it).
 * Every program runs it after config_load(), then its library's own
 * checks, which report through config_error() and config_warn() (the
 * place where the key was set, the key, the message); check-config runs
 * the same and prints plain "where: error: what" lines
 * (config_set_plain()).
 */
enum auth_alg {
	AUTH_HS256,
	AUTH_RS256
};
struct rl_policy {
	int	limit;		/* requests per window */
	int	window;		/* seconds */
	int	fail_closed;	/* when Redis fails: 1 refuse (503), 0 allow */
};
#define RL_CLASSES_MAX	8	/* rate-limit classes, the platform's and registered ones */
#define CACHE_NS_MAX	8	/* cache namespaces, all registered */
struct config {
	char		*db_conninfo;
	int		 db_connect_timeout;
	int		 db_statement_timeout_ms;
	char		*redis_socket;
	char		*redis_host;
	int		 redis_port;
	int		 redis_timeout_ms;
	int		 redis_retry_ms;
	char		*redis_password_file;
	char		*redis_user;
	int		 redis_tls;
	char		*redis_tls_ca;
	char		*events_key_file;
	enum auth_alg	 jwt_alg;
	char		*jwt_secret_file;
	char		*jwt_public_key_file;
	char		*jwt_jwks_file;
	char		*jwt_jwks_url;
	char		*jwt_jwks_ca_file;
	char		*jwt_jwks_cache_dir;
	int		 jwt_jwks_min_ttl;
	int		 jwt_jwks_max_ttl;
	int		 jwt_jwks_refetch_interval;
	int		 jwt_jwks_timeout_ms;
	char		*jwt_issuer;
	char		*jwt_audience;
	char		*jwt_azp;
	char		*jwt_admin_roles;
	int		 jwt_leeway;
	int		 body_max;
	int		 body_timeout_ms;
	int		 json_max_depth;
	int		 workers;
	char		*log_level;
	char		*trusted_proxies;
	char		*openapi_file;
	int		 rl_enabled;
	int		 rl_lease_max;
	int		 rl_lease_share;
	struct rl_policy rl[RL_CLASSES_MAX];	/* by class (ratelimit.c) */
	int		 cache_enabled;
	int		 cache_l1_ttl_ms;
	int		 cache_l1_max_entries;
	int		 cache_l1_max_bytes;
	int		 cache_ttl[CACHE_NS_MAX];	/* by namespace (cache.c) */
	int		 cache_wait_ms;
	int		 cron_max_seconds;
	/* the broadcaster (push/) */
	char		*push_listen;
	char		*cors_origins;
	int		 push_max_clients;
	int		 push_send_threads;
	int		 push_output_max;
	int		 push_message_max;
	int		 push_handshake_timeout_ms;
	int		 push_ping_interval_ms;
	int		 push_ping_timeout_ms;
	int		 push_sse_keepalive_ms;
	int		 push_replay_max;
	int		 push_shutdown_ms;
	int		 push_redis_backoff_max_ms;
	/* /metrics (metrics.c) */
	int		 metrics_enabled;
	char		*metrics_dir;
	char		*metrics_token_file;
	char		*metrics_allow;
};
extern struct config cfg;
enum knob_type {
	KNOB_STRING,	/* char *, any text */
	KNOB_INT,	/* int, strict decimal, min..max */
	KNOB_NUMBER,	/* double, plain decimal, min..max */
	KNOB_ALG,	/* enum auth_alg: HS256 or RS256 */
	KNOB_FAILMODE	/* int: open 0, closed 1 */
};
/* One knob: where its value lives, its default as the file would say it. */
struct knob {
	const char	*key;
	enum knob_type	 type;
	union {
		char		**s;
		int		 *i;
		double		 *d;
		enum auth_alg	 *alg;
	}		 val;
	const char	*def;
	long long	 min, max;
	const char	*doc;		/* README.md documents every key */
};
#define CONFIG_STR(key, var, def, doc) \
	{ (key), KNOB_STRING, { .s = &(var) }, (def), 0, 0, (doc) }
#define CONFIG_INT(key, var, def, min, max, doc) \
	{ (key), KNOB_INT, { .i = &(var) }, (def), (min), (max), (doc) }
#define CONFIG_NUM(key, var, def, min, max, doc) \
	{ (key), KNOB_NUMBER, { .d = &(var) }, (def), (min), (max), (doc) }
#define CONFIG_ALG(key, var, def, doc) \
	{ (key), KNOB_ALG, { .alg = &(var) }, (def), 0, 0, (doc) }
#define CONFIG_FAILMODE(key, var, def, doc) \
	{ (key), KNOB_FAILMODE, { .i = &(var) }, (def), 0, 0, (doc) }
/* A default the installation gives one of the platform's knobs. */
struct knob_default {
	const char	*key;
	const char	*def;
};
int	 config_load(void);
int	 config_reload(void);
void	 config_free(void);
void	 config_register(const struct knob *, size_t);
void	 config_defaults(const struct knob_default *, size_t);
const char *config_knob_doc(size_t, const char **, const char **);
const char *config_origin(const char *);
void	 config_invalid(const char *);
void	 config_set_plain(int);
void	 config_error(const char *, const char *, ...) PRINTF(2, 3);
void	 config_warn(const char *, const char *, ...) PRINTF(2, 3);
int	 config_check(void);

/*
 * log.c -- one JSON object per line on stderr.
 *
 * Never pass a token, a password or a key to these functions: the
 * request log carries ids, method, path (without query), status and
 * duration, nothing else of the request.
 */
enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};
void	 log_init(const char *);
void	 log_set_level(const char *);
void	 log_msg(enum log_level, const char *, int, const struct req *,
	    const char *, ...) PRINTF(5, 6);
void	 log_request(const struct req *);
void	 log_progress(const char *, ...) PRINTF(1, 2);
#define LOG_ERR(r, ...)		log_msg(LOG_ERROR, __FILE__, __LINE__, (r), __VA_ARGS__)
#define LOG_WARN(r, ...)	log_msg(LOG_WARN, __FILE__, __LINE__, (r), __VA_ARGS__)
#define LOG_INFO(r, ...)	log_msg(LOG_INFO, __FILE__, __LINE__, (r), __VA_ARGS__)
#define LOG_DEBUG(r, ...)	log_msg(LOG_DEBUG, __FILE__, __LINE__, (r), __VA_ARGS__)

/*
 * error.c -- the one error enum and its mapping to status and code.
 *
 * The platform's errors are below ERR__PLATFORM.  A library above it
 * numbers its own from ERR__PLATFORM on and hands their table to
 * platform_register(): every error, the platform's and the library's,
 * is still mapped to its status, code and message in one place.
 */
enum err {
	ERR_BAD_REQUEST,
	ERR_VALIDATION,
	ERR_MALFORMED_JSON,
	ERR_UNAUTHORIZED,
	ERR_FORBIDDEN,
	ERR_NOT_FOUND,
	ERR_METHOD_NOT_ALLOWED,
	ERR_CONFLICT,
	ERR_IDEM_IN_PROGRESS,	/* 409: the Idempotency-Key's request runs */
	ERR_IDEM_MISMATCH,	/* 422: the key was used with another request */
	ERR_TOO_LARGE,
	ERR_UNSUPPORTED_MEDIA,
	ERR_LENGTH_REQUIRED,
	ERR_RATE_LIMITED,
	ERR_INTERNAL,
	ERR_BAD_GATEWAY,
	ERR_UNAVAILABLE,
	ERR_GATEWAY_TIMEOUT,
	ERR_REQUEST_TIMEOUT,
	ERR_PRECONDITION_FAILED,
	ERR__PLATFORM		/* a library's own errors start here */
};
struct err_info {
	int		 status;
	const char	*code;		/* stable, for programs */
	const char	*message;	/* the body's "error" */
};
void	 err_register(const struct err_info *, size_t);
int	 err_count(void);
int	 err_status(enum err);
const char *err_code(enum err);
const char *err_message(enum err);
const char *http_reason(int);

/*
 * platform.c -- what a program adds to the platform, as data.
 *
 * A library above the platform declares its knobs, rate-limit classes,
 * cache namespaces and errors in tables, the name the installation goes
 * by and the defaults it gives some of the platform's knobs (the
 * database's name).  A program built on it hands them over with one
 * call of platform_register(), before config_load().  The platform
 * reads these tables and never calls into the library that declared
 * them.  A program of the platform alone registers nothing.
 */
struct rl_class;
struct cache_ns;
struct metric_def;
struct platform_ext {
	const char			*name;		/* PostgreSQL's application_name */
	const struct knob_default	*defaults;	/* of the platform's knobs */
	size_t				 ndefaults;
	const struct knob		*knobs;
	size_t				 nknobs;
	const struct rl_class		*rl_classes;	/* ids RL__PLATFORM, ... */
	size_t				 nrl_classes;
	const struct cache_ns		*cache_ns;	/* ids 0, 1, ... */
	size_t				 ncache_ns;
	const struct err_info		*errors;	/* ids ERR__PLATFORM, ... */
	size_t				 nerrors;
	int				 schema_version;	/* the database's it needs (db.c) */
	const struct metric_def		*metrics;	/* ids 0, 1, ... (metrics.c) */
	size_t				 nmetrics;
};
void	 platform_register(const struct platform_ext *);

/*
 * auth.c -- JWT verification (HS256, RS256 with a PEM key or a JWKS).
 *
 * The algorithm is pinned by configuration: a token whose header names
 * any other algorithm, "none" included, is refused before libjwt sees
 * it.  exp is required; nbf and iat are checked with a leeway; iss, aud
 * and azp when configured.
 */
#define USER_ID_SIZE	129	/* ident_valid: 128 characters and the NUL */
#define TENANT_ID_SIZE	138	/* "personal:" and a user id, the schema's 137 */
struct principal {
	char	 user_id[USER_ID_SIZE];
	char	 tenant_id[TENANT_ID_SIZE];
	int	 personal;
	int	 admin;		/* may change the whole tenant: jwt_admin_roles, or a personal tenant */
	time_t	 exp;		/* the token's exp: a connection outlives it by jwt_leeway at most */
};
struct auth_key;
struct jwks_remote;
struct auth_keys {
	enum auth_alg		 alg;
	struct auth_key		*keys;
	size_t			 nkeys;
	struct jwks_remote	*remote;	/* jwt_jwks_url: its keys, jwks.c */
};
extern const char auth_no_keys[];	/* *why when no key could be had: a 503, not a 401 */
int	 auth_keys_load(struct auth_keys *, const struct config *);
int	 auth_jwks_parse(struct auth_keys *, const char *, size_t);
void	 auth_keys_free(struct auth_keys *);
int	 auth_key_known(const struct auth_keys *, const char *);
void	 auth_cache_clear(void);

int	 auth_verify(struct auth_keys *, const struct config *,
	    const char *, time_t, struct principal *, const char **);
int	 auth_verify_cached(struct auth_keys *, const struct config *,
	    const char *, time_t, struct principal *, const char **);
const char *auth_token_from(const char *, const char *, char *, size_t);
char	*auth_sign(enum auth_alg, const unsigned char *, size_t, const char *,
	    const char *);
int	 auth_tenant_for(const char *, const char *, char *, size_t);

/*
 * jwks.c -- the RS256 keys of a JWKS URL (jwt_jwks_url), as an issuer
 * such as Clerk publishes and rotates them.
 *
 * The set is fetched with libcurl over HTTPS only (the certificate
 * verified, against jwt_jwks_ca_file when set) and kept for its
 * Cache-Control max-age, bounded by jwt_jwks_min_ttl and
 * jwt_jwks_max_ttl.  A token naming a kid the set lacks makes it look
 * again, at most once per jwt_jwks_refetch_interval for the whole host,
 * so forged kids cannot make it hammer the issuer.  With
 * jwt_jwks_cache_dir, the processes of a host share one copy: a file
 * written atomically (rename) by whichever process holds the lock file
 * while it fetches; the others read it (a stat a second at most), so a
 * restart fetches nothing while the copy is fresh, and a key the issuer
 * removed stops working everywhere at once.  When the issuer is down
 * the last good set is kept.  A fetch blocks its process for at most
 * jwt_jwks_timeout_ms.
 */
int	 jwks_open(struct auth_keys *, const struct config *);
int	 jwks_current(struct auth_keys *, time_t, const char *);
void	 jwks_close(struct auth_keys *);
int	 jwks_cache_max_age(const char *, int, int);

/*
 * db.c -- one persistent PostgreSQL connection per worker.
 *
 * Every request runs in one transaction which first sets app.tenant_id
 * and app.user_id with set_config(..., true), so that row-level
 * security sees the caller.  Statements are parameterised, always.
 * db_run() pipelines the context, the statements and the commit into
 * one round trip.  db_begin()/db_exec()/db_commit() are for the rare
 * transaction that must read, decide and then write (a row lock held
 * across a call to another service).  A connection the server closed is
 * noticed before use and reopened; while PostgreSQL is down every call
 * fails fast with ERR_UNAVAILABLE (503).  Sessions show the
 * installation's name (platform_register()) as their application_name.
 * Each new connection first reads the schema version the database
 * records (max(version) of schema_migrations, as the migrate command
 * writes it); older than the version the program registered, it is
 * closed and the request answered 503, the reason logged once a minute
 * and kept for db_schema_problem(), until the migrations are applied.
 * db_schema_check() connects at once, for programs that refuse to
 * start instead.
 */
struct db_query {
	const char		*sql;
	int			 nparams;
	const char *const	*params;
};
enum db_tx_state {
	DB_TX_NONE,
	DB_TX_PENDING,		/* BEGIN queued, not sent */
	DB_TX_OPEN
};
struct db {
	PGconn			*conn;
	enum db_tx_state	 tx_state;
	char			 tx_tenant[TENANT_ID_SIZE];
	char			 tx_user[USER_ID_SIZE];
};
void	 db_set_name(const char *);
void	 db_set_schema(int);
int	 db_schema_need(void);
const char *db_schema_problem(void);
int	 db_schema_check(struct db *);
int	 db_run(struct req *, const struct db_query *, size_t, PGresult **);
int	 db_run_as(struct db *, const char *, const char *, const struct db_query *,
	    size_t, PGresult **, struct req *);
int	 db_batch(struct db *, const char *, const char *, const struct db_query *,
	    size_t, PGresult **, enum err *, struct req *);
void	 db_begin(struct req *);
PGresult *db_exec(struct req *, const char *, int, const char *const *);
int	 db_commit(struct req *);
void	 db_rollback(struct req *);
void	 db_tx_begin(struct db *, const char *, const char *);
PGresult *db_tx_exec(struct db *, const struct db_query *, enum err *, struct req *);
int	 db_tx_commit(struct db *, enum err *, struct req *);
void	 db_tx_rollback(struct db *, struct req *);
void	 db_clear(PGresult **, size_t);
int	 db_ping(struct db *, double *);
void	 db_close(struct db *);
const char *db_value(const PGresult *, int, int);

/*
 * redis.c -- one persistent Redis connection per worker, with short
 * timeouts; Redis is an accelerator, never the source of truth.
 */
struct redisContext;
struct redisReply;
struct redis {
	struct redisContext	*ctx;
	double			 down_until;
	/*
	 * With no Redis configured (redis_enabled() 0), the connection
	 * that holds what Redis would: rate limits, events, limiters.  The
	 * program's own (app_init(), cron_init()); NULL: none, and those
	 * calls fail as they would with Redis down.
	 */
	struct db		*pg;
};
struct redis_script {
	const char	*lua;
	char		 sha[41];	/* computed on first use */
};
struct redisContext *redis_get(struct redis *);
char	*redis_password(void);
int	 redis_auth(struct redisContext *);
struct redisReply *redis_script(struct redis *, struct redis_script *, int, int,
	    const char *const *, const size_t *);
void	 redis_fail(struct redis *);
int	 redis_ping(struct redis *, double *);
void	 redis_close(struct redis *);
int	 redis_enabled(void);

/*
 * events.c -- realtime events: one envelope, published through Redis.
 *
 * events_publish() appends the event to the tenant's bounded stream
 * (for replay after a reconnect) and publishes it on the one channel
 * every broadcaster subscribes to, atomically, in one round trip.  The
 * envelope, as subscribers receive it:
 *   {"id":"<stream id>","type":"<type>","tenant":"org_x",
 *    "user":null|"user_x","time":"<ISO 8601>","data":{...}}
 * With events_key_file set, the tail after the id is signed
 * (HMAC-SHA256, "sig" after "id" on the channel, field "s" in the
 * stream), and readers check it with events_verify(): whoever can write
 * to Redis without the key cannot make the broadcaster deliver an event,
 * nor push a stream's ids so far ahead that real events are dropped.
 * An event with a user goes to that user only.  Events are
 * notifications: the database stays the truth, and a publish that fails
 * (Redis down) is logged, never fatal to the request that caused it.
 */
#define EVENTS_CHANNEL		"upw:events"
#define EVENTS_STREAM_PREFIX	"upw:events:"
#define EVENTS_STREAM_MAX	1000
#define EVENTS_STREAM_TTL	86400
#define EVENTS_DATA_MAX		(64 * 1024)
#define EVENTS_SKEW_MS		60000	/* an id this far from the clock or its time: forged */
int	 events_publish(struct redis *, const char *, const char *, const char *,
	    const char *, char *, size_t);
const char *events_verify(const char *, const char *, size_t, const char *,
	    size_t, double);
/*
 * Reading back: the events after an id that one user may see, from the
 * Redis stream or, without Redis, the events table; the types that
 * start with one of skip[] are left out (a program's topics).
 */
#define EVENTS_SKIP_MAX		4
struct events_filter {
	const char	*skip[EVENTS_SKIP_MAX];	/* type prefixes, [a-z:_] */
	size_t		 nskip;
};
struct events_after {
	unsigned long long	ms, seq;	/* 0-0: from the first */
};
struct events_page {
	struct buf	json;		/* envelopes, comma-separated */
	char		last[48];	/* the last id in json, "" if none */
	int		count;
	int		more;		/* more events follow */
};
int	 events_parse_id(const char *, struct events_after *);
int	 events_recent(struct redis *, const char *, const char *,
	    const struct events_after *, const struct events_filter *, int,
	    struct events_page *);

/*
 * The application: what a worker sets up once and every request shares.
 */
struct app {
	const char		*name;
	struct auth_keys	 keys;
	struct db		 db;
	struct redis		 redis;
};

/*
 * request.c -- the request as the handlers see it.
 *
 * A struct req lives for one FastCGI request.  Its strings point into
 * its arena; none of them may be kept past http_finish().
 */
enum method {
	METHOD_GET = 1 << 0,
	METHOD_POST = 1 << 1,
	METHOD_PUT = 1 << 2,
	METHOD_PATCH = 1 << 3,
	METHOD_DELETE = 1 << 4,
	METHOD_OTHER = 1 << 5,
	METHOD_HEAD = 1 << 6,		/* served by the GET route, without the body */
	METHOD_OPTIONS = 1 << 7		/* answered by the dispatcher (CORS preflights) */
};
struct param {
	char	*key;
	char	*val;
};
#define ROUTE_MAX_ARGS	4
struct req {
	struct app	*app;
	FCGX_Request	*fcgi;
	struct arena	 arena;
	enum method	 method;
	const char	*method_name;
	char		*path;
	struct param	*query;
	size_t		 nquery;
	char		*args[ROUTE_MAX_ARGS];
	void		*qv;		/* the query, parsed by the route's table (dispatch.c) */
	uint64_t	 qset;		/* bit i: field i of that table was given */
	char		 id[65];
	struct principal auth;
	int		 authed;
	struct idem	*idem;		/* a claimed Idempotency-Key (idempotency.c) */
	char		*body;
	size_t		 body_len;
	struct buf	 headers;
	int		 status;
	int		 responded;
	const char	*code;
	const char	*cache;		/* X-Cache of the response, for the log */
	double		 t0;
	/*
	 * Set while the dispatcher runs the GET of a resource to evaluate
	 * an If-Match (dispatch.c): the response's body goes here and its
	 * status to status, nothing to the client.
	 */
	struct buf	*capture;
};
int	 req_init(struct req *, struct app *, FCGX_Request *);
void	 req_free(struct req *);
const char *req_param(const struct req *, const char *);
const char *req_header(const struct req *, const char *);
int	 req_read_body(struct req *);
const char *req_client_ip(struct req *);
int	 ip_in_list(const char *, const char *);

/*
 * json.c -- a small JSON writer over a struct buf.
 *
 * It places the commas and closes what it opened.  A value goes into
 * the innermost open array, or into the innermost open object under the
 * key given (NULL in an array and at the top).  jw_key() names the next
 * value the writer writes, whichever function writes it (reply.c's
 * "data"); jw_value() hands the buffer over for one value the caller
 * writes itself.  Keys are the program's own literals.
 * Strings are escaped (buf_json_string()); jw_raw() copies text that is
 * JSON already (a json column, a number as PostgreSQL prints it); a
 * NULL string or raw value is null.  Nothing is ever taken back from
 * the buffer, which stays NUL-terminated.
 */
#define JW_DEPTH_MAX	24
struct jw {
	struct buf	*b;
	int		 depth;		/* 0: the top, outside every value */
	uint32_t	 arrays;	/* bit d: level d is an array */
	uint32_t	 filled;	/* bit d: level d has a value already */
	int		 pending;	/* jw_key() named the next value */
};
void	 jw_init(struct jw *, struct buf *);
void	 jw_object(struct jw *, const char *);
void	 jw_array(struct jw *, const char *);
void	 jw_end(struct jw *);
void	 jw_close(struct jw *);
void	 jw_key(struct jw *, const char *);
struct buf *jw_value(struct jw *, const char *);
void	 jw_string(struct jw *, const char *, const char *);
void	 jw_stringn(struct jw *, const char *, const char *, size_t);
void	 jw_raw(struct jw *, const char *, const char *);
void	 jw_int(struct jw *, const char *, long long);
void	 jw_fixed(struct jw *, const char *, double, int);
void	 jw_bool(struct jw *, const char *, int);
void	 jw_null(struct jw *, const char *);

/*
 * response.c -- the one place that writes responses.
 *
 * Each request writes exactly one response: http_json(), http_error()
 * or a stream opened with http_stream_begin().  Extra headers are added
 * with http_header() before that.
 */
void	 http_header(struct req *, const char *, const char *, ...) PRINTF(3, 4);
void	 http_send(struct req *, int, const char *, const char *, size_t);
void	 http_json(struct req *, int, const char *, size_t);
void	 http_json_obj(struct req *, int, json_object *);
void	 http_error(struct req *, enum err, const char *, ...) PRINTF(3, 4);
void	 http_error_obj(struct req *, enum err, const char *, json_object *);
int	 http_stream_begin(struct req *, int, const char *);
int	 http_stream_write(struct req *, const char *, size_t);

/*
 * validate.c -- declarative field tables for query strings and JSON bodies.
 *
 * A validator reads a field table and the raw input and fills a plain C
 * struct at the offsets the table names; it does no I/O.  Every failure
 * names its field.  Unknown keys are refused.
 */
enum ftype {
	FT_INT,		/* long long, strict decimal, range min..max */
	FT_NUMBER,	/* double, finite, range min..max */
	FT_BOOL,	/* int 0/1 */
	FT_STRING,	/* char *, length in characters min..max */
	FT_ENUM,	/* int: index into choices */
	FT_STRLIST,	/* struct strlist: JSON array or comma list, items min..max */
	FT_UUID,	/* char * in canonical lower-case form */
	FT_OBJLIST,	/* struct objlist: JSON array of objects, items min..max */
	FT_DATE,	/* long long days since 1970-01-01 ("2024-05-01"), min..max */
	FT_TIME		/* long long µs since the epoch (RFC 3339), min..max */
};
#define F_REQUIRED	0x01
#define F_NULLABLE	0x02	/* JSON null means "absent" */
#define F_LOWER		0x04	/* strings and list items are lower-cased */
struct strlist {
	char	**v;
	size_t	  n;
};
/*
 * choices: FT_ENUM's names (a const char *const[] ending with NULL);
 * FT_OBJLIST's item table (a struct field_obj).  The item structs are
 * zeroed before their fields are read; errors inside an item name their
 * path ("portfolio[2].title").  A table entry names what it sets, the
 * rest being 0:
 *	{ FIELD("limit", FT_INT, struct list_q, limit), .min = 1,
 *	    .max = 100, .def = "20" },
 */
struct field {
	const char		*name;
	enum ftype		 type;
	unsigned int		 flags;
	long long		 min;
	long long		 max;
	long long		 item_max;
	const void		*choices;
	size_t			 off;
	const char		*def;
};
#define FIELD(key, ft, st, member) \
	.name = (key), .type = (ft), .off = offsetof(st, member)
struct field_obj {
	const struct field	*fields;
	size_t			 nfields;
	size_t			 size;		/* of one item struct */
};
struct objlist {
	void	*v;		/* n item structs, in the request's arena */
	size_t	 n;
};
#define VALID_MAX_FIELDS	64
struct valid_err {
	json_object	*details;
	enum err	 err;
	const char	*message;
	const char	*prefix;	/* path of the object being checked, or NULL */
};
#define FIELD_SET(set, i)	(((set) >> (i)) & 1)
int	 valid_query(struct req *, const struct field *, size_t, void *, uint64_t *);
void	 valid_fail_field(struct req *, const char *, const char *, ...) PRINTF(3, 4);
int	 valid_json(struct req *, const struct field *, size_t, void *, uint64_t *);
int	 valid_fields_json(struct arena *, const struct field *, size_t,
	    json_object *, void *, uint64_t *, struct valid_err *);
int	 valid_fields_query(struct arena *, const struct field *, size_t,
	    const struct param *, size_t, void *, uint64_t *, struct valid_err *);
json_object *json_parse_strict(const char *, size_t, int, const char **);
int	 uuid_valid(const char *);
char	*pg_text_array(struct arena *, const struct strlist *);

/*
 * cache.c -- two layers: a bounded LRU in each worker (L1, entries and
 * bytes capped, cache_l1_ttl_ms) over Redis (L2, TTL per namespace).
 * Every (namespace, scope) has a generation counter in Redis that is part
 * of each L2 key; cache_invalidate() bumps it (one INCR), so a write is
 * seen by the very next read on any worker that reaches L2, and within
 * cache_l1_ttl_ms on all of them.  No KEYS, no SCAN.  When Redis is
 * unreachable the cache is bypassed and reads go to PostgreSQL.
 *
 * The namespaces are a program's (platform_register()): a name, whose
 * entries they hold (a tenant's, or one user's within the tenant),
 * whether workers may keep them in memory, and the default of their TTL
 * knob, cache_<name>_ttl.
 *
 *	if (cache_get(r, ns, canonical_key, &body, &lk) > CACHE_MISS)
 *		answer with body;
 *	else
 *		compute body, cache_put(r, &lk, body), answer;
 */
enum cache_scope {
	CACHE_SCOPE_TENANT,	/* "org_x" */
	CACHE_SCOPE_USER	/* "org_x/user_y": the user within the tenant */
};
struct cache_ns {
	const char		*name;
	enum cache_scope	 scope;
	int			 l1;		/* entries may live in the workers' memory */
	int			 ttl;		/* seconds in Redis, the knob's default */
	const char		*ttl_doc;	/* the knob's description */
};
enum cache_result {
	CACHE_BYPASS,
	CACHE_MISS,
	CACHE_HIT_L2,
	CACHE_HIT_L1
};
#define CACHE_NO_L1	0x01	/* cache_get_ex(): Redis only, never the worker's memory */
struct cache_lookup {
	int			 ns;
	enum cache_result	 result;
	int			 l1;		/* this entry uses L1 */
	int			 fill;		/* a MISS this request should fill */
	char			 gen[32];
	char			 prefix[200];
	char			 suffix[48];
	char			 l1key[256];
};
struct cache_stats {
	unsigned long	l1_hits;
	unsigned long	l2_hits;
	unsigned long	misses;
	unsigned long	bypasses;
	unsigned long	forged;		/* L2 values that did not verify */
	size_t		l1_entries;
	size_t		l1_bytes;
};
void	 cache_register(const struct cache_ns *, size_t);
enum cache_result cache_get(struct req *, int, const char *, struct buf *,
	    struct cache_lookup *);
enum cache_result cache_get_ex(struct req *, int, const char *, unsigned int,
	    struct buf *, struct cache_lookup *);
void	 cache_put(struct req *, struct cache_lookup *, const char *, size_t);
const char *cache_scope(struct req *, int);
/*
 * Conditional requests: a success body's strong ETag (the SHA-256 of
 * the body, whatever the mode), and whether an If-None-Match or
 * If-Match list names it (reply.c answers 304; dispatch.c 412).
 */
#define CACHE_ETAG_MAX	32
void	 cache_etag(const char *, size_t, char *);
int	 cache_etag_listed(const char *, const char *, int);
int	 cache_invalidate(struct redis *, int, const char *);
const struct cache_stats *cache_get_stats(void);
void	 cache_log_stats(void);
void	 cache_free(void);

/*
 * reply.c -- the API's success envelope, {"success":true,"data":...},
 * in one place: every answer that succeeds is opened, closed, cached
 * and sent here.  A list's data is its items, followed by the seed's
 * pagination (page, limit, total, hasMore).
 *
 *	if (reply_cached(&rp, r, ns, key, 0))
 *		return;				(answered from the cache)
 *	reply_list(&rp);
 *	for each row: shape the item with &rp.w;
 *	reply_page(&rp, page, limit, total);
 *	reply_send(&rp, 200);			(closed, cached, sent, freed)
 *
 * A handler that fails after opening answers its error and calls
 * reply_free().  reply_open() is the same for an answer never cached.
 */
struct reply {
	struct req		*r;
	struct buf		 body;
	struct jw		 w;		/* writes the data value */
	struct cache_lookup	 lk;
	int			 cached;	/* the body goes to the cache */
};
void	 reply_open(struct reply *, struct req *);
int	 reply_cached(struct reply *, struct req *, int, const char *,
	    unsigned int);
void	 reply_list(struct reply *);
void	 reply_page(struct reply *, long long, long long, long long);
void	 reply_send(struct reply *, int);
void	 reply_free(struct reply *);

/*
 * ratelimit.c -- sliding-window limits per route class and identifier.
 *
 * One EVALSHA per request, or per lease: where the headroom is large
 * (1/rl_lease_share of it is at least two), a worker takes up to
 * rl_lease_max permits at once and uses them before asking again,
 * within the window they were counted in; near the limit every request
 * asks.  Never more than the limit pass.  Redis's clock decides.  When Redis fails or
 * is slower than redis_timeout_ms, each class follows its policy: open
 * (allow, logged) or closed (503, logged).  The platform's class is
 * "default"; a program adds its own (platform_register()), each with
 * the knobs rl_<name>_limit, rl_<name>_window and rl_<name>_on_redis_error,
 * whose defaults its registration gives.
 */
enum {
	RL_DEFAULT,		/* 100/min */
	RL_NONE,		/* not limited (health) */
	RL__PLATFORM		/* a program's own classes start here */
};
struct rl_class {
	const char		*name;
	struct rl_policy	 def;
};
struct rl_result {
	int		allowed;
	int		limit;
	int		remaining;
	long long	reset_ms;	/* end of the current window, ms since the epoch */
	long long	now_ms;		/* Redis's clock at the decision */
};
void	 rl_register(const struct rl_class *, size_t);
int	 rl_check(struct req *, int);
int	 rl_decide(struct redis *, int, const char *, struct rl_result *);
int	 rl_take(struct redis *, int, const char *, struct rl_result *);
const char *rl_class_name(int);
const char *rl_script(void);

/*
 * metrics.c -- counters in Prometheus's text format, off unless
 * metrics_enabled.
 *
 * Each program keeps its counters in one file of metrics_dir, mapped
 * by all its processes (metrics_open() before the workers fork, or in
 * a cron binary), which add to them atomically: counting costs no
 * system call and no round trip.  The file names its series, so
 * metrics_render() sums the files of every program without knowing
 * them.  The platform counts requests (by program, route, method and
 * status, and a latency histogram), cache lookups by layer and
 * rate-limit refusals; a library adds its own series as data (struct
 * metric_def, handed over by platform_register()) and counts them with
 * metrics_count(id, n), id its index in that table.  Families follow
 * Prometheus's conventions: _total for counters, _seconds, labels for
 * the dimensions.  metrics_allowed() is the guard every /metrics
 * applies: the address list metrics_allow, the bearer token of
 * metrics_token_file.
 */
struct metric_def {
	const char	*family;	/* "tokens_total" */
	const char	*help;		/* the family's HELP text */
	const char	*labels;	/* this series': kind="prompt" */
	int		 micro;		/* counts millionths (a cost) */
};
struct route;
void	 metrics_register(const struct cache_ns *, size_t,
	    const struct metric_def *, size_t);
void	 metrics_open(const char *, const struct route *, size_t);
void	 metrics_close(void);
void	 metrics_request(int, int, double);
void	 metrics_cache(int, enum cache_result);
void	 metrics_refused(int, int);
void	 metrics_count(int, uint64_t);
void	 metrics_family(struct buf *, const char *, const char *, const char *);
void	 metrics_render(struct buf *);
int	 metrics_allowed(const char *, const char *);
void	 metrics_serve(struct req *);

/*
 * pgarray.c -- PostgreSQL's text form of a one-dimensional array.
 *
 * pg_array_parse(s, items, max, &n) splits "{a,\"b c\",NULL}" in place
 * (s is rewritten): items[0..n) point into s, NULL for an SQL NULL, at
 * most max stored.  Returns the number of elements, or -1.
 */
int	 pg_array_parse(char *, char **, size_t, size_t *);

/*
 * dispatch.c -- routing, authentication and the request log.
 *
 * A route's class (rl) is RL_DEFAULT, RL_NONE or one of the program's
 * own (platform_register()).
 */
typedef void (*handler_fn)(struct req *);
#define ROUTE_PUBLIC	0x01	/* no token required */
#define ROUTE_JSON	0x02	/* request body is JSON: 415/413/400 checks */
#define ROUTE_ADMIN	0x04	/* changes the whole tenant: principal.admin, else 403 */
/*
 * query: the route's query parameters, parsed into r->qv (a struct of
 * query->size bytes in the arena, r->qset saying which were given)
 * before the handler runs; NULL when it takes none.  One rule for every
 * route: a parameter the table does not name is a 400, and a route
 * without ROUTE_JSON takes no body (nothing, or an empty JSON object).
 * HEAD is served by the GET route without the body; OPTIONS is
 * answered here (Allow, and a CORS preflight, cors.c).
 */
struct route {
	const char		*pattern;	/* "/api/things/{id}" */
	enum method		 method;
	handler_fn		 handler;
	unsigned int		 flags;
	int			 rl;
	const struct field_obj	*query;
};
void	 http_dispatch(struct app *, FCGX_Request *, const struct route *, size_t);

/*
 * idempotency.c -- Idempotency-Key on POST and PATCH (Stripe's
 * semantics), kept in PostgreSQL (idempotency_keys, under RLS) so that
 * it holds across workers and Redis restarts.
 *
 * The dispatcher calls idem_begin() after authentication and the body
 * (-1: answered: a replay with Idempotent-Replayed: true, 409 while the
 * first request runs, 422 for a key used with another query or body,
 * 400 for a bad key) and idem_end() after the handler; response.c
 * hands a claimed request's response to idem_head() and idem_body().
 */
struct idem;
int	 idem_key_valid(const char *);
void	 idem_fingerprint(const char *, const char *, size_t, char *);
int	 idem_begin(struct req *);
void	 idem_head(struct req *, int, const char *);
void	 idem_body(struct req *, const char *, size_t);
void	 idem_end(struct req *);

/*
 * cors.c -- CORS for the API, as the Fetch standard specifies it, from
 * the allow-list cors_origins (the broadcaster reads the same knob).
 *
 * cors_parse() reads the list into an array of origins (-1 after
 * logging an entry that is not an origin: scheme://host[:port], no
 * path, no "*", since the responses allow credentials); cors_load()
 * makes that the API's allow-list, once at start, and the broadcaster
 * keeps one of its own.  cors_headers() queues the headers
 * of every response: Vary: Origin whenever the list is not empty, and
 * for an allowed Origin, Access-Control-Allow-Origin (that origin),
 * -Allow-Credentials and -Expose-Headers, or on a preflight (methods,
 * the route's; CORS_ALLOW_HEADERS; max-age) -Allow-Methods, -Allow-Headers
 * and -Max-Age instead of -Expose-Headers.  A request from any other
 * origin gets none of them, preflights included.
 */
#define CORS_MAX_AGE		600
#define CORS_ALLOW_HEADERS	"Authorization, Content-Type, Cache-Control, " \
	"X-Request-Id, Idempotency-Key, If-Match, If-None-Match, Last-Event-ID"
#define CORS_EXPOSE_HEADERS	"X-Request-Id, X-Cache, ETag, Retry-After, " \
	"X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, " \
	"RateLimit, RateLimit-Policy, Idempotent-Replayed"
int	 cors_parse(const char *, size_t, const char *, char ***, size_t *);
int	 cors_load(const char *);
void	 cors_free(void);
int	 cors_allowed(const char *);
int	 cors_request_trusted(const char *, const char *, const char *, int);
void	 cors_headers(struct req *, const char *);

/*
 * worker.c -- process setup and the supervisor of the worker processes.
 *
 * app_init() sets a FastCGI program up: log, configuration, keys,
 * signals.  app_serve() then, when cfg.workers > 1, forks that many
 * workers sharing the listening socket (fd 0, as spawn-fcgi hands it),
 * restarting any that die; each worker runs init (the program's own
 * setup, which needs the worker's connections; may be NULL), then
 * http_dispatch() of the route table for every request until SIGTERM.
 * It returns the exit status.  Between the two a program checks what
 * the platform cannot (the knobs of its libraries), so that a bad value
 * stops it before any worker starts.  app_main() is both, for a program
 * of the platform alone.  SIGHUP executes the program again in place
 * (same pid, same socket): the configuration is read and checked anew
 * as at start, the old workers finish their requests and end.  Run as a
 * plain CGI (fd 0 not a listening socket, FCGX_IsCGI()), app_serve()
 * serves the one request of the environment instead: stdin (at most
 * CONTENT_LENGTH bytes) and stdout as the request's FCGX_Streams, the
 * environment as its parameters, the same http_dispatch().
 */
int	 app_init(struct app *, const char *);
int	 app_serve(struct app *, const struct route *, size_t,
	    int (*)(struct app *));
int	 app_main(const char *, const struct route *, size_t);

/*
 * crypto.c -- secrets at rest.  One key file yields a sealing key
 * (AES-256-GCM, for credentials kept in the database) and a signing key
 * (HMAC-SHA256, for values handed to a client and checked when they
 * come back).  The keys are derived under labels that start with the
 * caller's context ("<context>/token-seal/v1"), so that two programs
 * sharing a key file never share a key.  Strings returned hold secrets:
 * release them with crypto_free_secret(), which clears them first.
 */
struct crypto_keys {
	unsigned char	seal[32];
	unsigned char	sign[32];
	int		loaded;
};
int	 crypto_keys_load(struct crypto_keys *, const char *, const char *);
void	 crypto_keys_clear(struct crypto_keys *);
char	*crypto_seal(const struct crypto_keys *, const char *, const char *);
char	*crypto_open(const struct crypto_keys *, const char *, const char *);
void	 crypto_sign(const struct crypto_keys *, const void *, size_t,
	    unsigned char[32]);
int	 crypto_equal(const void *, const void *, size_t);
void	 crypto_free_secret(char *);

/*
 * cron.c -- what every cron binary shares: getopt flags (--tenant,
 * --dry-run, --verbose, --max-seconds, --help), one run at a time (a
 * PostgreSQL session advisory lock on a connection of its own: released
 * by the server the moment the process dies, whatever killed it, and
 * shared by every host that runs the crontab; --tenant runs lock that
 * tenant only), a time budget, the list of tenants with work
 * (scheduler_tenants()), JSON logs and a progress line when stderr is a
 * terminal.
 */
struct cron {
	const char	*name;
	const char	*tenant;	/* --tenant */
	int		 dry_run;
	int		 verbose;
	int		 max_seconds;
	double		 t0;
	double		 deadline;	/* now_ms() when the run stops starting work */
	int		 status;	/* the exit status when cron_init() fails */
	int		 interrupted;
	struct db	 db;
	struct db	 lock;
	struct redis	 redis;
};
struct option;
#define CRON_OK		0
#define CRON_FAILED	1
#define CRON_USAGE	2
int	 cron_init(struct cron *, const char *, int, char **, const struct option *,
	    int (*)(int, const char *), const char *);
int	 cron_lock(struct cron *);
int	 cron_tenants(struct cron *, const char *, const char *, char ***, size_t *);
void	 cron_tenants_free(char **, size_t);
int	 cron_go_on(struct cron *);
int	 cron_done(struct cron *, int);

#endif /* !COMMON_H */

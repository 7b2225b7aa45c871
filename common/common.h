/* common.h: the one header of libcommon, shared by every endpoint, cron binary and tool. */
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
void	 buf_vprintf(struct buf *, const char *, va_list);
void	 buf_json_string(struct buf *, const char *, size_t);
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);

/* util.c -- small pure helpers. */
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
 * config.c -- one config file plus environment overrides.
 *
 * Every knob has a key in the file ("db_conninfo = ...") and an
 * environment variable (APP_DB_CONNINFO); the environment wins.  The
 * file is named by APP_CONFIG.  Unknown keys in the file are an error,
 * so that a typo never silently falls back to a default.
 */
enum auth_alg {
	AUTH_HS256,
	AUTH_RS256
};
/* The rate-limit class a route belongs to (the seed's three limiters). */
enum rl_class {
	RL_DEFAULT,		/* 100/min */
	RL_AI,			/* 10/min: the AI endpoints */
	RL_UPWORK,		/* 30/min: endpoints that call Upwork */
	RL_NONE,		/* not limited (health) */
	RL__MAX
};
/* Cache namespaces; each has a generation per scope (tenant or user). */
enum cache_ns {
	CACHE_JOBS,		/* job lists, per tenant */
	CACHE_SEARCHES,		/* saved-search lists, per tenant */
	CACHE_CLIENTS,		/* client research, per tenant */
	CACHE_USER,		/* a user's objects (profile, templates), per user */
	CACHE__MAX
};
struct rl_policy {
	int	limit;
	int	window;
	int	fail_closed;
};
struct config {
	char		*db_conninfo;
	int		 db_connect_timeout;
	int		 db_statement_timeout_ms;
	char		*redis_socket;
	char		*redis_host;
	int		 redis_port;
	int		 redis_timeout_ms;
	int		 redis_retry_ms;
	enum auth_alg	 jwt_alg;
	char		*jwt_secret_file;
	char		*jwt_public_key_file;
	char		*jwt_jwks_file;
	char		*jwt_issuer;
	char		*jwt_audience;
	char		*jwt_azp;
	int		 jwt_leeway;
	int		 body_max;
	int		 json_max_depth;
	int		 workers;
	char		*log_level;
	char		*trusted_proxies;
	int		 rl_enabled;
	struct rl_policy rl[RL__MAX];
	int		 cache_enabled;
	int		 cache_l1_ttl_ms;
	int		 cache_l1_max_entries;
	int		 cache_l1_max_bytes;
	int		 cache_ttl[CACHE__MAX];
	int		 cache_wait_ms;
	int		 poll_tenant_max_ms;
	int		 poll_max_searches;
	int		 upwork_poll_cooldown_s;
	int		 match_max_jobs;
	/* the broadcaster (push/) */
	char		*push_listen;
	char		*cors_origins;
	int		 push_max_clients;
	int		 push_output_max;
	int		 push_message_max;
	int		 push_handshake_timeout_ms;
	int		 push_ping_interval_ms;
	int		 push_ping_timeout_ms;
	int		 push_sse_keepalive_ms;
	int		 push_replay_max;
	int		 push_shutdown_ms;
	int		 push_redis_backoff_max_ms;
	char		*llm_provider;
	char		*llm_model;
	char		*llm_base_url;
	char		*llm_api_key_file;
	int		 llm_allow_http;
	int		 llm_connect_timeout_ms;
	int		 llm_timeout_ms;
	int		 llm_idle_timeout_ms;
	int		 llm_max_retries;
	int		 llm_max_response_bytes;
	int		 llm_sse_ping_ms;
	char		*llm_prices;
	double		 ai_monthly_budget_usd;
	/* Upwork (upwork*.c, poll.c) and the cron binaries (cron.c, cron/) */
	char		*upwork_graphql_url;
	char		*upwork_authorize_url;
	char		*upwork_token_url;
	char		*upwork_client_id;
	char		*upwork_client_secret_file;
	char		*upwork_redirect_uri;
	char		*upwork_token_key_file;
	int		 upwork_connect_timeout_ms;
	int		 upwork_timeout_ms;
	int		 upwork_response_max;
	int		 upwork_retries;
	int		 upwork_rate_per_sec;
	int		 upwork_rate_per_day;
	int		 upwork_rate_wait_ms;
	int		 upwork_refresh_skew;
	int		 upwork_state_ttl;
	int		 upwork_page_size;
	int		 upwork_poll_max_pages;
	int		 upwork_request_budget_ms;
	int		 cron_max_seconds;
	int		 refresh_clients_age_hours;
	int		 refresh_clients_max;
	int		 refresh_clients_reserve;
	int		 prune_job_days;
	int		 prune_batch;
};
extern struct config cfg;
int	 config_load(void);
void	 config_free(void);
const char *config_knob_doc(size_t, const char **, const char **);

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
 */
enum err {
	ERR_BAD_REQUEST,
	ERR_VALIDATION,
	ERR_MALFORMED_JSON,
	ERR_UNAUTHORIZED,
	ERR_PAYMENT_REQUIRED,
	ERR_FORBIDDEN,
	ERR_NOT_FOUND,
	ERR_METHOD_NOT_ALLOWED,
	ERR_CONFLICT,
	ERR_TOO_LARGE,
	ERR_UNSUPPORTED_MEDIA,
	ERR_RATE_LIMITED,
	ERR_INTERNAL,
	ERR_BAD_GATEWAY,
	ERR_UNAVAILABLE,
	ERR_GATEWAY_TIMEOUT,
	ERR_UPWORK_NOT_CONNECTED,
	ERR__MAX
};
int	 err_status(enum err);
const char *err_code(enum err);
const char *err_message(enum err);
const char *http_reason(int);

/*
 * auth.c -- JWT verification (HS256, RS256 with a PEM key or a JWKS).
 *
 * The algorithm is pinned by configuration: a token whose header names
 * any other algorithm, "none" included, is refused before libjwt sees
 * it.  exp is required; nbf and iat are checked with a leeway; iss, aud
 * and azp when configured.
 */
struct principal {
	char	 user_id[129];
	char	 tenant_id[136];
	int	 personal;
	time_t	 exp;		/* the token's exp: a connection outlives it by jwt_leeway at most */
};
struct auth_key;
struct auth_keys {
	enum auth_alg	 alg;
	struct auth_key	*keys;
	size_t		 nkeys;
};
int	 auth_keys_load(struct auth_keys *, const struct config *);
int	 auth_jwks_parse(struct auth_keys *, const char *, size_t);
void	 auth_keys_free(struct auth_keys *);
int	 auth_verify(const struct auth_keys *, const struct config *,
	    const char *, time_t, struct principal *, const char **);
int	 auth_verify_cached(const struct auth_keys *, const struct config *,
	    const char *, time_t, struct principal *, const char **);
const char *auth_token_from(const char *, const char *, char *, size_t);
char	*auth_sign(enum auth_alg, const unsigned char *, size_t, const char *,
	    const char *);
int	 auth_tenant_for(const char *, const char *, char *, size_t);

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
 * fails fast with ERR_UNAVAILABLE (503).
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
	char			 tx_tenant[136];
	char			 tx_user[129];
};
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
};
struct redis_script {
	const char	*lua;
	char		 sha[41];	/* computed on first use */
};
struct redisContext *redis_get(struct redis *);
struct redisReply *redis_script(struct redis *, struct redis_script *, int, int,
	    const char *const *, const size_t *);
void	 redis_fail(struct redis *);
int	 redis_ping(struct redis *, double *);
void	 redis_close(struct redis *);

/*
 * events.c -- realtime events: one envelope, published through Redis.
 *
 * events_publish() appends the event to the tenant's bounded stream
 * (for replay after a reconnect) and publishes it on the one channel
 * every broadcaster subscribes to, atomically, in one round trip.  The
 * envelope, as subscribers receive it:
 *   {"id":"<stream id>","type":"job:new","tenant":"org_x",
 *    "user":null|"user_x","time":"<ISO 8601>","data":{...}}
 * An event with a user goes to that user only.  Events are
 * notifications: the database stays the truth, and a publish that fails
 * (Redis down) is logged, never fatal to the request that caused it.
 */
#define EVENTS_CHANNEL		"upw:events"
#define EVENTS_STREAM_PREFIX	"upw:events:"
#define EVENTS_STREAM_MAX	1000
#define EVENTS_STREAM_TTL	86400
#define EVENTS_DATA_MAX		(64 * 1024)
int	 events_publish(struct redis *, const char *, const char *, const char *,
	    const char *, char *, size_t);

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
	METHOD_OTHER = 1 << 5
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
	char		 id[65];
	struct principal auth;
	int		 authed;
	char		*body;
	size_t		 body_len;
	struct buf	 headers;
	int		 status;
	int		 responded;
	const char	*code;
	const char	*cache;		/* X-Cache of the response, for the log */
	double		 t0;
};
int	 req_init(struct req *, struct app *, FCGX_Request *);
void	 req_free(struct req *);
const char *req_param(const struct req *, const char *);
const char *req_header(const struct req *, const char *);
int	 req_read_body(struct req *);
const char *req_client_ip(struct req *);
int	 ip_in_list(const char *, const char *);

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
 * path ("portfolio[2].title").
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
 *	if (cache_get(r, CACHE_JOBS, tenant, canonical_key, &body, &lk) > CACHE_MISS)
 *		answer with body;
 *	else
 *		compute body, cache_put(r, &lk, body), answer;
 */
enum cache_result {
	CACHE_BYPASS,
	CACHE_MISS,
	CACHE_HIT_L2,
	CACHE_HIT_L1
};
#define CACHE_NO_L1	0x01	/* cache_get_ex(): Redis only, never the worker's memory */
struct cache_lookup {
	enum cache_ns		 ns;
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
	size_t		l1_entries;
	size_t		l1_bytes;
};
enum cache_result cache_get(struct req *, enum cache_ns, const char *,
	    const char *, struct buf *, struct cache_lookup *);
enum cache_result cache_get_ex(struct req *, enum cache_ns, const char *,
	    const char *, unsigned int, struct buf *, struct cache_lookup *);
void	 cache_put(struct req *, struct cache_lookup *, const char *, size_t);
const char *cache_user_scope(struct req *);
int	 cache_invalidate(struct redis *, enum cache_ns, const char *);
const struct cache_stats *cache_get_stats(void);
void	 cache_log_stats(void);
void	 cache_free(void);

/*
 * ratelimit.c -- sliding-window limits per route class and identifier.
 *
 * One EVALSHA per request; Redis's clock decides.  When Redis fails or
 * is slower than redis_timeout_ms, each class follows its policy: open
 * (allow, logged) or closed (503, logged).
 */
struct rl_result {
	int		allowed;
	int		limit;
	int		remaining;
	long long	reset_ms;	/* end of the current window, ms since the epoch */
	long long	now_ms;		/* Redis's clock at the decision */
};
int	 rl_check(struct req *, enum rl_class);
int	 rl_decide(struct redis *, enum rl_class, const char *, struct rl_result *);
const char *rl_class_name(enum rl_class);
const char *rl_script(void);

/*
 * shape.c -- the JSON of the API's resources, built from query rows.
 *
 * A statement selects SHAPE_JOB_COLUMNS (from SHAPE_JOB_FROM) or
 * SHAPE_SEARCH_COLUMNS, in that order, starting at some column; the
 * shape_* function appends the object and returns how many columns it
 * read.
 */
#define SHAPE_JOB_COLUMNS \
	"j.id, j.upwork_id, j.title, j.description, array_to_json(j.skills)," \
	" j.budget_type, j.budget_min, j.budget_max, j.currency, j.location," \
	" j.client_score, j.experience_level, j.applicants, j.ciphertext," \
	" j.posted_at, j.deadline, c.id, c.name, c.company, c.country, c.city," \
	" c.total_spent, c.hire_rate, c.rating, c.reviews_count, c.jobs_posted," \
	" c.total_hires, c.payment_verified, c.member_since"
#define SHAPE_JOB_NCOLS		29
#define SHAPE_JOB_FROM \
	" FROM jobs j LEFT JOIN clients c" \
	" ON c.tenant_id = j.tenant_id AND c.id = j.client_id"
#define SHAPE_SEARCH_COLUMNS \
	"s.id, s.user_id, s.name, array_to_json(s.skills), s.min_budget," \
	" s.max_budget, s.location, s.client_score, s.query, s.notify," \
	" s.last_run_at, s.created_at, s.updated_at, s.min_match"
#define SHAPE_SEARCH_NCOLS	14
/*
 * A proposal: SHAPE_PROPOSAL_COLUMNS from SHAPE_PROPOSAL_FROM, or from
 * any relation named p with the columns of proposals (a data-modifying
 * CTE) followed by SHAPE_PROPOSAL_JOINS.  Its changes: SHAPE_HISTORY_COLUMNS
 * from proposal_history h.
 */
#define SHAPE_PROPOSAL_COLUMNS \
	"p.id, p.job_id, p.user_id, p.status, p.content, p.alternatives," \
	" p.suggestions, p.tone, p.provider, p.model, p.max_words," \
	" array_to_json(p.highlights), u.prompt_tokens, u.completion_tokens," \
	" u.cost, j.title, p.created_at, p.updated_at, p.template_id, p.ready_at"
#define SHAPE_PROPOSAL_UPDATED	17	/* the column of updated_at */
#define SHAPE_PROPOSAL_JOINS \
	" LEFT JOIN jobs j ON j.tenant_id = p.tenant_id AND j.id = p.job_id" \
	" LEFT JOIN LATERAL (SELECT sum(a.prompt_tokens) AS prompt_tokens," \
	" sum(a.completion_tokens) AS completion_tokens, sum(a.cost) AS cost" \
	" FROM ai_usage a WHERE a.tenant_id = p.tenant_id" \
	" AND a.proposal_id = p.id HAVING count(*) > 0) u ON true"
#define SHAPE_PROPOSAL_FROM	" FROM proposals p" SHAPE_PROPOSAL_JOINS
#define SHAPE_HISTORY_COLUMNS \
	"h.from_status, h.to_status, h.edited, h.changed_by, h.changed_at"
int	 shape_job(struct buf *, const PGresult *, int, int);
int	 shape_search(struct buf *, const PGresult *, int, int);
void	 shape_proposal(struct buf *, const PGresult *, int, int);
void	 shape_history(struct buf *, const PGresult *, int, int);
void	 shape_time(struct buf *, const char *);
void	 shape_page_end(struct buf *, long long, long long, long long);

/*
 * llm.c -- what every LLM provider shares: provider names, the price
 * table, token counting and cost.
 *
 * Two providers: "builtin", the offline default, composes proposals
 * from the job and the profile without any network; "openai" calls any
 * OpenAI-compatible Chat Completions endpoint (llm_openai.c).  A
 * tenant's row may choose its provider and model; the configuration
 * gives the defaults.  Prices are USD per million tokens, per model,
 * from llm_prices ("model=prompt/completion,...", "*" for any other
 * model); a model without a price cannot be used, so no call is ever
 * free by accident.  Token counts are the provider's when it reports
 * them, else counted here with one estimator (llm_count_tokens()),
 * the same for every provider.
 */
enum llm_provider {
	LLM_BUILTIN,
	LLM_OPENAI,
	LLM__MAX
};
struct llm_msg {
	const char	*role;
	const char	*content;
};
int	 llm_provider_parse(const char *, enum llm_provider *);
const char *llm_provider_name(enum llm_provider);
int	 llm_provider_valid(const char *);
int	 llm_prices_valid(const char *);
int	 llm_price(const char *, double *, double *);
double	 llm_cost(double, double, long long, long long);
long long llm_count_tokens(const char *, size_t);
long long llm_count_prompt(const struct llm_msg *, size_t);

/*
 * llm_openai.c -- a Chat Completions client over libcurl, plain or
 * streamed (SSE), with timeouts, a response size cap, no redirects,
 * TLS verification, and retries with backoff on 429 and 5xx.
 *
 * llm_openai_complete() returns 0 with the whole text in res->text, or
 * -1 with res->err (502, 503 or 504) and res->why saying what went
 * wrong in words fit for the API's error details; res->aborted is set
 * when on_delta or on_tick asked to stop.  When on_delta is set the
 * call is streamed and on_delta gets each piece of text as it arrives.
 * Nothing here logs the API key.
 */
typedef int (*llm_delta_fn)(void *, const char *, size_t);
typedef int (*llm_tick_fn)(void *);
struct llm_call {
	const char		*model;
	const struct llm_msg	*msgs;
	size_t			 nmsgs;
	long long		 max_tokens;
	llm_delta_fn		 on_delta;	/* NULL: not streamed */
	llm_tick_fn		 on_tick;	/* about once a second; may be NULL */
	void			*arg;
};
struct llm_result {
	struct buf	 text;
	long long	 prompt_tokens;
	long long	 completion_tokens;
	int		 usage_reported;	/* tokens from the provider */
	int		 started;		/* on_delta was called */
	int		 aborted;		/* a callback asked to stop */
	int		 attempts;
	int		 retry_after;		/* seconds, after a final 429 */
	enum err	 err;
	char		 why[200];
};
int	 llm_url_valid(const char *);
int	 llm_openai_complete(const struct llm_call *, struct llm_result *,
	    struct req *);
void	 llm_result_free(struct llm_result *);
void	 llm_openai_cleanup(void);

/*
 * profile.c -- the freelancer's profile as the generators read it.
 *
 * PROFILE_SQL selects the caller's profile (one row, or none when the
 * user has never been seen); profile_from_row() reads it.  Strings
 * point into the arena given.  Its first columns are
 * PROFILE_MATCH_COLUMNS, what the match score reads (RANK_PROFILE_SQL
 * selects only those), so rank_profile_load() reads either result.
 */
#define PROFILE_MATCH_COLUMNS \
	"u.skills, u.hourly_rate_min, u.hourly_rate, u.match_threshold"
#define PROFILE_PORTFOLIO_MAX	10
struct portfolio_item {
	const char	*title;
	const char	*description;	/* or NULL */
	const char	*url;		/* or NULL */
	struct strlist	 skills;
};
struct profile {
	const char	*name;
	const char	*title;
	const char	*bio;
	struct strlist	 skills;	/* as the freelancer listed them */
	double		 hourly_rate;	/* the target; < 0: not set */
	double		 hourly_rate_min;	/* < 0: not set */
	int		 threshold;	/* match_threshold; -1: not set */
	int		 tone;		/* preferred tone (enum tone); -1: none */
	struct portfolio_item portfolio[PROFILE_PORTFOLIO_MAX];
	size_t		 nportfolio;
};
extern const char PROFILE_SQL[];
void	 profile_from_row(struct arena *, const PGresult *, int, struct profile *);

/*
 * llm_builtin.c -- the offline provider: a deterministic proposal
 * writer that reads the job and the profile.
 *
 * A job_brief holds what a proposal is written from: the job and its
 * client.  llm_builtin_write() appends one proposal in the tone given,
 * of at most max_words words; the same input always gives the same
 * text.  llm_builtin_suggest() appends a JSON array of tips about a
 * draft.  llm_builtin_template() appends a template filled in for the
 * job and profile (cut to max_words when it is > 0); portfolio_pick()
 * is the portfolio item that fits the job best (-1: none).
 */
enum tone {
	TONE_PROFESSIONAL,
	TONE_FRIENDLY,
	TONE_CONFIDENT,
	TONE_CONCISE,
	TONE__MAX
};
extern const char *const tone_names[TONE__MAX + 1];
struct job_brief {
	const char	*id;
	const char	*title;
	const char	*description;
	struct strlist	 skills;
	const char	*budget_type;	/* fixed or hourly */
	double		 budget_min;	/* < 0: not given */
	double		 budget_max;
	const char	*currency;
	const char	*experience_level;
	const char	*client_name;	/* NULL: no client known */
	const char	*client_country;
	double		 client_rating;	/* < 0: none */
	int		 client_reviews;
	int		 client_verified;
};
struct skill_match {
	const char	*v[64];
	size_t		 n;
};
void	 skills_match(const struct job_brief *, const struct profile *,
	    struct skill_match *, struct skill_match *);
void	 llm_builtin_write(struct buf *, const struct job_brief *,
	    const struct profile *, enum tone, long long, const struct strlist *);
void	 llm_builtin_suggest(struct buf *, const struct job_brief *,
	    const struct profile *, const char *, long long);
void	 llm_builtin_template(struct buf *, const char *,
	    const struct job_brief *, const struct profile *, long long);
int	 portfolio_pick(const struct job_brief *, const struct profile *);
size_t	 words_count(const char *, size_t);

/*
 * proposal.c -- proposal generation shared by the generate and stream
 * endpoints: the body's fields, the context (job, profile, tenant AI
 * settings, month's spend) in one round trip, the caller's template
 * when templateId names one, the budget check, the prompt, the call to
 * the provider, and the draft and its usage row stored in one
 * transaction (with its template's id).
 */
#define PROPOSAL_ALT_MAX	3
struct proposal_input {
	char		*job_id;
	int		 tone;
	long long	 max_words;
	struct strlist	 highlights;
	long long	 alternatives;
	char		*template_id;	/* or NULL */
};
extern const char AI_SETTINGS_SQL[];
extern const struct field proposal_fields[];
extern const size_t proposal_nfields;
struct proposal_gen {
	struct proposal_input	 in;
	struct job_brief	 job;
	struct profile		 profile;
	const char		*template;	/* the template's text, or NULL */
	enum llm_provider	 provider;
	const char		*model;
	double			 price_in, price_out;
	double			 budget, spent;
	struct llm_msg		 msgs[2];
	long long		 max_tokens;
	/* The result. */
	struct llm_result	 res;
	struct buf		 text;
	struct buf		 alt[PROPOSAL_ALT_MAX];
	int			 alt_tone[PROPOSAL_ALT_MAX];
	size_t			 nalt;
	struct buf		 suggestions;	/* JSON array */
	double			 cost;
	double			 t0, latency_ms;
	int			 incomplete;
	char			 id[37];
	char			 created_at[40];
	char			 reservation[37];	/* of the budget; "" when none */
	/* Streaming: what was forwarded of the proposal so far. */
	llm_delta_fn		 on_delta;
	llm_tick_fn		 on_tick;
	void			*arg;
	size_t			 forwarded;
	int			 main_done;
};
int	 proposal_prepare(struct req *, struct proposal_gen *);
int	 proposal_run(struct req *, struct proposal_gen *, llm_delta_fn,
	    llm_tick_fn, void *);
int	 proposal_store(struct req *, struct proposal_gen *, enum err *);
void	 proposal_publish(struct req *, const struct proposal_gen *);
void	 proposal_result_json(struct buf *, const struct proposal_gen *);
void	 proposal_metadata_json(struct buf *, const struct proposal_gen *);
void	 proposal_gen_free(struct proposal_gen *);
void	 proposal_fail(struct req *, const struct proposal_gen *);
void	 proposal_release(struct req *, struct proposal_gen *);

/*
 * aibudget.c -- an AI call's worst-case cost is reserved against the
 * tenant's monthly budget, under a per-tenant lock, before the call:
 * concurrent calls cannot together overspend.  The reservation is
 * deleted with AI_RELEASE_SQL in the transaction that stores the call's
 * usage, or by ai_release() when the call fails.
 */
extern const char AI_RELEASE_SQL[];
int	 ai_reserve(struct req *, double, double, char *, size_t, double *,
	    double *, enum err *);
void	 ai_release(struct req *, char *);

/*
 * lifecycle.c -- the proposal state machine, pure: the one definition
 * of which status may follow which (README, "The proposal lifecycle"),
 * used by PATCH /api/proposals/{id} and by submit.  States are bits in
 * the sets lifecycle_next() returns: 1 << PS_READY, ...
 */
enum proposal_status {
	PS_DRAFT,
	PS_INCOMPLETE,		/* a stream whose client left */
	PS_READY,		/* submitted here, to be finished on Upwork */
	PS_SUBMITTED,		/* sent on Upwork */
	PS_VIEWED,
	PS_INTERVIEWING,
	PS_HIRED,
	PS_DECLINED,
	PS_WITHDRAWN,
	PS__MAX
};
enum lc_verdict {
	LC_OK,
	LC_SAME,		/* already in that state */
	LC_ILLEGAL,		/* no such edge */
	LC_LOCKED,		/* the text of this state cannot be edited */
	LC_NEEDS_EDIT		/* incomplete becomes draft only with an edit */
};
extern const char *const proposal_status_names[PS__MAX + 1];
int	 lifecycle_parse(const char *, enum proposal_status *);
unsigned int lifecycle_next(enum proposal_status);
int	 lifecycle_final(enum proposal_status);
int	 lifecycle_editable(enum proposal_status);
enum lc_verdict lifecycle_check(enum proposal_status, enum proposal_status, int);
void	 lifecycle_list(struct buf *, unsigned int);
void	 lifecycle_message(struct buf *, enum proposal_status,
	    enum proposal_status, enum lc_verdict);
void	 lifecycle_json(struct buf *, unsigned int);

/*
 * research.c -- the client analyzer: a 0-100 score with its reasons,
 * red flags and a short summary, from a stored client profile and its
 * recent reviews.  Pure: no I/O.
 */
#define RESEARCH_REVIEWS_MAX	10
struct client_facts {
	const char	*name;
	const char	*company;
	const char	*country;
	int		 payment_verified;
	double		 total_spent;
	double		 hire_rate;	/* < 0: unknown */
	double		 rating;	/* < 0: none */
	long long	 reviews_count;
	long long	 jobs_posted;
	long long	 total_hires;
	long long	 age_days;	/* < 0: unknown */
	size_t		 nreviews;	/* the most recent, newest first */
	double		 review_rating[RESEARCH_REVIEWS_MAX];
	const char	*review_comment[RESEARCH_REVIEWS_MAX];
};
struct research {
	int		 score;
	const char	*verdict;	/* strong, good, fair, risky */
	const char	*spend_tier;	/* none, low, medium, high, top */
	const char	*review_tone;	/* positive, mixed, neutral, negative, none */
	struct buf	 reasons;	/* JSON array */
	struct buf	 red_flags;	/* JSON array */
	size_t		 nred_flags;
	struct buf	 summary;	/* plain text */
};
void	 research_analyze(const struct client_facts *, struct research *);
void	 research_free(struct research *);
const char *review_tone_of(const char *, size_t);

/*
 * pgarray.c -- PostgreSQL's text form of a one-dimensional array.
 *
 * pg_array_parse(s, items, max, &n) splits "{a,\"b c\",NULL}" in place
 * (s is rewritten): items[0..n) point into s, NULL for an SQL NULL, at
 * most max stored.  Returns the number of elements, or -1.
 */
int	 pg_array_parse(char *, char **, size_t, size_t *);

/*
 * match.c -- how well a job fits the freelancer: a score 0-100, its
 * breakdown and its reasons (README.md, "Matching").  Pure: no I/O, no
 * allocation but the output buffer, and the same inputs always give the
 * same result, so the poller can apply a saved search's minimum match
 * exactly as the job list shows it.
 */
#define MATCH_SKILLS_MAX	64	/* a job's distinct skills looked at */
#define MATCH_FIXED_HOURS	20	/* hours a fixed price is assumed to pay for */
#define MATCH_WINDOW_DAYS	30	/* the default ranking window */
#define MATCH_THRESHOLD_DEFAULT	60	/* when the profile sets none */
struct match_profile {
	const char	**skills;	/* sorted, distinct, lower-case */
	size_t		  nskills;
	double		  rate_min;	/* USD per hour; the target when not set */
	double		  rate_target;	/* 0: not set */
};
struct match_job {
	const char *const *skills;	/* as listed: the main ones first */
	size_t		  nskills;
	int		  hourly;	/* 1 hourly, 0 fixed price */
	double		  budget_min;	/* <= 0: not stated */
	double		  budget_max;
	int		  usd;		/* the budget is in USD */
	int		  client_score;	/* 0-100 */
	int		  applicants;	/* proposals so far; < 0: unknown */
	long long	  posted_us;	/* µs since the epoch */
};
struct match_result {
	int		 score;		/* 0-100, the parts' sum rounded once */
	double		 skills, budget, client, recency, competition;
	int		 considered;	/* the job's distinct skills looked at */
	int		 matched;	/* how many of them the profile has */
	uint64_t	 matched_mask;	/* which, in the job's order */
};
void	 match_profile_init(struct match_profile *, const char **, size_t,
	    double, double);
void	 match_score(const struct match_profile *, const struct match_job *,
	    long long, long long, struct match_result *);
void	 match_json(struct buf *, const struct match_profile *,
	    const struct match_job *, long long, const struct match_result *);

/*
 * rank.c -- the caller's jobs ranked by match (GET /api/jobs?sort=match)
 * and the reading of job and profile rows for scoring.
 *
 * A statement that scores jobs selects RANK_COLUMNS (FROM jobs j);
 * RANK_PROFILE_SQL ($1: the user id) selects what the score reads of
 * the profile.  rank_list() runs the ranking for a filter set: the
 * jobs posted in [asOf - window, asOf] (the newest match_max_jobs of
 * them), scored, filtered by min_match, ordered by score, posting time
 * and id, so that pages of the same asOf never overlap or skip.
 */
#define RANK_COLUMNS \
	"j.id, j.skills, j.budget_type, j.budget_min, j.budget_max," \
	" j.currency, j.client_score, j.applicants, j.posted_at"
extern const char RANK_PROFILE_SQL[];
struct rank_profile {
	struct match_profile	 m;
	int			 threshold;	/* match_threshold, -1: not set */
};
struct rank_job {
	const char		*id;
	int			 row;
	struct match_job	 job;
	struct match_result	 m;
};
struct rank_query {
	const char	*where;		/* " AND ..." using $1..$nparams, or NULL */
	const char	**params;	/* nparams filter values, then 3 free slots */
	int		 nparams;
	long long	 as_of_us;
	long long	 window_days;
	int		 min_match;	/* 0: every job */
	long long	 page;
	long long	 limit;
};
void	 rank_profile_load(struct arena *, const PGresult *, struct rank_profile *);
void	 rank_job_read(struct arena *, const PGresult *, int, int,
	    struct rank_job *);
void	 rank_shape(struct buf *, const PGresult *, int,
	    const struct rank_profile *, const struct rank_job *, long long);
int	 rank_list(struct req *, struct rank_query *, struct buf *);

/*
 * template.c -- proposal templates and their {{placeholders}}.
 *
 * template_check() runs when a template is saved: unknown placeholders
 * and malformed braces are refused with a message naming them.
 * template_fill() substitutes the values (the generators call it).
 */
enum template_var {
	TEMPLATE_CLIENT_NAME,
	TEMPLATE_JOB_TITLE,
	TEMPLATE_MATCHED_SKILLS,
	TEMPLATE_RATE,
	TEMPLATE_FREELANCER_NAME,
	TEMPLATE_PORTFOLIO_HIGHLIGHT,
	TEMPLATE_VAR__MAX
};
extern const char *const template_var_names[TEMPLATE_VAR__MAX + 1];
struct template_error {
	size_t	offset;		/* in characters from the start */
	char	message[400];
};
int	 template_check(const char *, size_t, unsigned int *,
	    struct template_error *);
void	 template_fill(struct buf *, const char *, size_t,
	    const char *const [TEMPLATE_VAR__MAX]);

/*
 * dispatch.c -- routing, authentication and the request log.
 */
typedef void (*handler_fn)(struct req *);
#define ROUTE_PUBLIC	0x01	/* no token required */
#define ROUTE_JSON	0x02	/* request body is JSON: 415/413/400 checks */
struct route {
	const char	*pattern;	/* "/api/job-searches/{id}" */
	enum method	 method;
	handler_fn	 handler;
	unsigned int	 flags;
	enum rl_class	 rl;
};
void	 http_dispatch(struct app *, FCGX_Request *, const struct route *, size_t);

/*
 * worker.c -- process setup and the supervisor of the worker processes.
 *
 * app_init() loads config, and when cfg.workers > 1 forks that many
 * workers sharing the listening socket (fd 0, as spawn-fcgi hands it),
 * restarting any that die; it returns only in the workers.
 * app_accept() is FCGX_Accept_r() that gives up once SIGTERM arrived.
 * app_main() is an endpoint's whole main(): the above around
 * http_dispatch() of its route table; the exit status.  app_main_init()
 * also runs a setup of the endpoint's own in each worker (the Upwork
 * client, which needs the worker's Redis).
 */
int	 app_init(struct app *, const char *, FCGX_Request *);
int	 app_accept(struct app *, FCGX_Request *);
int	 app_free(struct app *, FCGX_Request *);
int	 app_main(const char *, const struct route *, size_t);
int	 app_main_init(const char *, const struct route *, size_t,
	    int (*)(struct app *));

/*
 * crypto.c -- secrets at rest.  One key file yields a sealing key
 * (AES-256-GCM, for the Upwork tokens in the database) and a signing key
 * (HMAC-SHA256, for OAuth states).  Strings returned hold secrets:
 * release them with crypto_free_secret(), which clears them first.
 */
struct crypto_keys {
	unsigned char	seal[32];
	unsigned char	sign[32];
	int		loaded;
};
int	 crypto_keys_load(struct crypto_keys *, const char *);
void	 crypto_keys_clear(struct crypto_keys *);
char	*crypto_seal(const struct crypto_keys *, const char *, const char *);
char	*crypto_open(const struct crypto_keys *, const char *, const char *);
void	 crypto_sign(const struct crypto_keys *, const void *, size_t,
	    unsigned char[32]);
int	 crypto_equal(const void *, const void *, size_t);
void	 crypto_free_secret(char *);

/*
 * upwork.c -- the Upwork GraphQL API over libcurl.
 *
 * Every request to Upwork (GraphQL and OAuth token calls alike) first
 * takes a slot from the shared rate limit (upwork_rl.c), so all workers
 * and cron processes together stay within upwork_rate_per_sec and
 * upwork_rate_per_day.  Upwork's 429 pauses every process for its
 * Retry-After; 5xx and transport errors are retried upwork_retries times
 * with backoff; nothing is waited for past the client's deadline.  A
 * response is read up to upwork_response_max bytes, then parsed and
 * validated whole into the structs below before the caller sees any of
 * it: an errors array, a wrong type, a missing field or an oversized
 * body is an error, never half a page.
 */
enum upwork_fail {
	UPW_OK,
	UPW_CONFIG,		/* Upwork is not configured here */
	UPW_BUDGET,		/* no rate-limit slot before the deadline, or the day's cap */
	UPW_TRANSPORT,		/* connect, TLS, timeout */
	UPW_HTTP,		/* an error status */
	UPW_THROTTLED,		/* Upwork answered 429 past our retries */
	UPW_UNAUTHORIZED,	/* 401: the access token is not valid (any more) */
	UPW_GRAPHQL,		/* a GraphQL errors array */
	UPW_MALFORMED,		/* not the JSON, or not the shape, expected */
	UPW_TOO_LARGE,		/* past upwork_response_max */
	UPW_INVALID_GRANT,	/* the token endpoint refused the code or refresh token */
	UPW_NOT_CONNECTED,	/* the tenant has no usable connection */
	UPW_DATABASE		/* our own database failed */
};
struct upwork_err {
	enum upwork_fail fail;
	enum err	 err;		/* how an API request reports it */
	int		 http_status;	/* Upwork's, when there was one */
	long long	 retry_after_ms;
	char		 msg[320];	/* for logs and API error details; no secrets */
};
struct upwork {
	void			*curl;		/* CURL *, kept for keep-alive */
	struct redis		*redis;		/* the shared rate limit lives there */
	double			 deadline;	/* now_ms() past which no request starts and nothing waits; 0: none */
	int			 reserve;	/* daily requests to leave to others */
	unsigned long		 requests;	/* HTTP requests sent */
	struct crypto_keys	 keys;
};
/* Who a GraphQL call acts for: the bearer token and the organization. */
struct upwork_auth {
	char	access[2049];
	char	org[65];
};
enum upwork_job_type {
	UPW_JOBS_ANY,
	UPW_JOBS_FIXED,
	UPW_JOBS_HOURLY
};
/* The marketPlaceJobFilter of a search (NULL and 0 fields are left out). */
struct upwork_filter {
	const char		 *query;		/* searchExpression_eq */
	const char *const	 *skills;		/* skillExpression_eq: any of them */
	size_t			  nskills;
	const char		 *location;		/* locations_any */
	enum upwork_job_type	  job_type;		/* jobType_eq */
	int			  has_min, has_max;	/* budgetRange_eq or hourlyRate_eq */
	long long		  min, max;
	const char		 *experience_level;	/* experienceLevel_eq */
	int			  verified_only;	/* verifiedPaymentOnly_eq */
	int			  first;		/* pagination_eq */
	const char		 *after;
};
struct upwork_client_info {
	int		 present;
	char		*uid;		/* companyOrgUid, or NULL */
	char		*country, *city;
	int		 has_spent, has_feedback;
	double		 total_spent, total_feedback;
	int		 total_hires, total_posted_jobs, total_reviews;
	int		 verified;
	char		*member_since;	/* ISO 8601, or NULL */
};
struct upwork_job {
	char		*id;
	char		*ciphertext;	/* or NULL */
	char		*title;
	char		*description;
	char		**skills;	/* lower-case display names */
	size_t		 nskills;
	int		 hourly;
	int		 has_min, has_max;
	double		 budget_min, budget_max;
	char		 currency[4];
	char		*experience_level;	/* ENTRY_LEVEL, INTERMEDIATE, EXPERT or NULL */
	int		 applicants;	/* -1: unknown */
	char		*created;	/* ISO 8601 */
	char		*raw;		/* the node as JSON */
	struct upwork_client_info client;
};
/* A page of search results; its arena owns every string in it. */
struct upwork_page {
	struct arena		 arena;
	struct upwork_job	*jobs;
	size_t			 njobs;
	long long		 total;
	int			 has_next;
	char			*end_cursor;
};
/* A client's company, from marketplaceJobPosting(id). */
struct upwork_details {
	struct arena	 arena;
	char		*company_id, *company_name, *city, *state, *timezone;
	char		*raw;
};
struct upwork_tokens {
	char		access[2049];
	char		refresh[2049];
	long long	expires_in;
};
/* What the submitProposal seam gets; see upwork_submit_proposal(). */
struct upwork_proposal {
	const char	*job_upwork_id;
	const char	*ciphertext;
	const char	*cover_letter;
};
#define UPWORK_APPLY_URL	"https://www.upwork.com/nx/proposals/job/%s/apply/"
int	 upwork_init(struct upwork *, struct redis *);
void	 upwork_free(struct upwork *);
void	 upwork_fail(struct upwork_err *, enum upwork_fail, int, const char *, ...)
	    PRINTF(4, 5);
int	 upwork_http(struct upwork *, const char *, const char *, const char *,
	    const struct upwork_auth *, struct buf *, long *, struct upwork_err *);
char	*upwork_search_body(const struct upwork_filter *);
char	*upwork_details_body(const char *);
int	 upwork_parse_page(const char *, size_t, struct upwork_page *,
	    struct upwork_err *);
int	 upwork_parse_details(const char *, size_t, struct upwork_details *,
	    struct upwork_err *);
int	 upwork_search(struct upwork *, const struct upwork_auth *,
	    const struct upwork_filter *, struct upwork_page *, struct upwork_err *);
int	 upwork_client_details(struct upwork *, const struct upwork_auth *,
	    const char *, struct upwork_details *, struct upwork_err *);
int	 upwork_submit_proposal(struct upwork *, const struct upwork_proposal *,
	    struct buf *, struct upwork_err *);
void	 upwork_page_free(struct upwork_page *);
void	 upwork_details_free(struct upwork_details *);
int	 upwork_ciphertext_valid(const char *);
long long upwork_retry_after(const char *, time_t);

/*
 * upwork_auth.c -- the OAuth2 authorization-code flow and the tenant's
 * token pair.  States are signed (tenant, user, nonce, expiry) and
 * single-use (the nonce's row is consumed by the callback).  The pair is
 * stored sealed; a refresh happens upwork_refresh_skew seconds before
 * expiry, under a row lock (SELECT ... FOR UPDATE), so two processes
 * refreshing at once make one call and both end with the new pair, which
 * is committed before it is used.  A refresh Upwork refuses marks the
 * tenant disconnected.
 */
#define UPWORK_STATE_MAX	1024
struct upwork_state {
	char		tenant[136];
	char		user[129];
	char		nonce[33];
	long long	expires;
};
char	*upwork_state_sign(const struct crypto_keys *, const struct upwork_state *);
int	 upwork_state_verify(const struct crypto_keys *, const char *, time_t,
	    struct upwork_state *);
int	 upwork_id_valid(const char *);
void	 upwork_authorize_url(struct buf *, const char *);
int	 upwork_parse_tokens(const char *, size_t, long, struct upwork_tokens *,
	    struct upwork_err *);
int	 upwork_exchange_code(struct upwork *, const char *, struct upwork_tokens *,
	    struct upwork_err *);
int	 upwork_account_store(struct upwork *, struct db *, const char *,
	    const char *, const char *, const struct upwork_tokens *,
	    struct upwork_err *);
int	 upwork_token(struct upwork *, struct db *, const char *, int,
	    struct upwork_auth *, struct upwork_err *);

/*
 * upwork_rl.c -- the Upwork rate limit shared by every process that
 * talks to Upwork with one API key: upwork_rate_per_sec requests a
 * second, evenly spaced (a request every 1000/rate ms), and
 * upwork_rate_per_day per UTC day.  One Lua script reserves the next
 * slot atomically, on Redis's clock; the caller then sleeps until its
 * slot, so processes queue fairly without polling.  State lives in
 * Redis: a restarted process starts where the others are.
 */
int	 upwork_rl_take(struct redis *, const char *, int, double,
	    struct upwork_err *);
int	 upwork_rl_pause(struct redis *, const char *, long long);
const char *upwork_rl_script(void);

/*
 * poll.c -- run a tenant's saved searches (notify on) against Upwork and
 * store what they find: clients and jobs upserted (unique per tenant and
 * Upwork id, changed fields updated), client_score from
 * client_score_of(), the tenant's cached job lists invalidated, and
 * job:new published for each job new to the tenant that reaches the
 * search's minimum match for its creator (minMatch, else the creator's
 * matchThreshold, else none; scored as when posted, as the API scores
 * it).  Each page is validated whole, then written in one transaction.
 * Re-running with the same Upwork data writes and publishes nothing.
 */
struct poll_stats {
	unsigned	searches;
	unsigned	pages;
	unsigned	fetched;
	unsigned	inserted;
	unsigned	updated;
	unsigned	published;
};
int	 poll_tenant(struct upwork *, struct db *, struct redis *, const char *,
	    int, struct poll_stats *, struct upwork_err *);

/*
 * cron.c -- what every cron binary shares: getopt flags (--tenant,
 * --dry-run, --verbose, --max-seconds, --help), one run at a time (a
 * PostgreSQL session advisory lock on a connection of its own: released
 * by the server the moment the process dies, whatever killed it, and
 * shared by every host that runs the crontab; --tenant runs lock that
 * tenant only), a time budget, the list
 * of tenants with work (scheduler_tenants()), JSON logs and a progress
 * line when stderr is a terminal.
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

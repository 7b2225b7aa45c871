/* ratelimit.c: sliding-window rate limits per class and identifier, decided in Redis in one round trip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "common.h"

/*
 * The sliding window of Upstash's ratelimit: counters for the current
 * and the previous fixed window; the previous one counts in proportion
 * to the part of it still inside the sliding window.  A rejected request
 * does not count.  The clock is Redis's (TIME), so workers on many hosts
 * agree whatever their own clocks say.  Both counters of an identifier
 * share the hash tag in KEYS[1], so they live on one Redis Cluster slot.
 *
 * An allowed call may take a lease of several permits (ARGV[3], the
 * most, 1 when absent): at most 1/ARGV[4] of the headroom left, and one
 * permit alone once the headroom is below twice that, so the leases
 * shrink to single permits near the limit.  The permits are counted at
 * once, so what a worker uses of its lease was counted no later than it
 * is used: never more than the limit pass.
 *
 * KEYS[1] "rl:{class:id}", ARGV[1] limit, ARGV[2] window in ms, ARGV[3]
 * the most permits to lease, ARGV[4] the headroom share.  Returns
 * {allowed, remaining, reset (ms epoch), now (ms epoch), permits}.
 */
static struct redis_script rl_lua = { .lua =
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local limit = tonumber(ARGV[1])\n"
    "local window = tonumber(ARGV[2])\n"
    "local cur = math.floor(now / window)\n"
    "local ckey = KEYS[1] .. ':' .. cur\n"
    "local v = redis.call('MGET', ckey, KEYS[1] .. ':' .. (cur - 1))\n"
    "local count = math.floor(tonumber(v[2] or '0') * (window - now % window) / window)\n"
    "    + tonumber(v[1] or '0')\n"
    "local reset = (cur + 1) * window\n"
    "if count >= limit then return {0, 0, reset, now, 0} end\n"
    "local k = math.floor((limit - count) / tonumber(ARGV[4] or '1'))\n"
    "k = math.max(1, math.min(k, tonumber(ARGV[3] or '1')))\n"
    "if redis.call('INCRBY', ckey, k) == k then\n"
    "  redis.call('PEXPIRE', ckey, 2 * window + 1000)\n"
    "end\n"
    "return {1, limit - count - k, reset, now, k}\n" };

/*
 * The classes: the platform's two, then a program's own.  Each of
 * those has three knobs named after it, made here from its defaults.
 */
static const char	*rl_names[RL_CLASSES_MAX] = {
	[RL_DEFAULT] = "default", [RL_NONE] = "none"
};
static int		 nclasses = RL__PLATFORM;
static struct {
	char		limit[48], window[48], fail[48];	/* the knobs' keys */
	char		limit_doc[80], window_doc[80], fail_doc[80];
	char		limit_def[16], window_def[16];
} class_knob[RL_CLASSES_MAX];
static struct knob	knobs[RL_CLASSES_MAX * 3];

/*
 * Add a program's classes, numbered from RL__PLATFORM in the order
 * given: the names are kept, the knobs rl_<name>_limit, _window and
 * _on_redis_error registered with the defaults given.
 */
void
rl_register(const struct rl_class *c, size_t n)
{
	size_t	i, k = 0;
	int	id;

	if (n > RL_CLASSES_MAX - RL__PLATFORM) {
		LOG_ERR(NULL, "ratelimit: too many classes");
		abort();
	}
	for (i = 0; i < n; i++) {
		id = RL__PLATFORM + (int)i;
		rl_names[id] = c[i].name;
		snprintf(class_knob[id].limit, sizeof(class_knob[id].limit),
		    "rl_%s_limit", c[i].name);
		snprintf(class_knob[id].window, sizeof(class_knob[id].window),
		    "rl_%s_window", c[i].name);
		snprintf(class_knob[id].fail, sizeof(class_knob[id].fail),
		    "rl_%s_on_redis_error", c[i].name);
		snprintf(class_knob[id].limit_doc, sizeof(class_knob[id].limit_doc),
		    "requests per window, class %s", c[i].name);
		snprintf(class_knob[id].window_doc, sizeof(class_knob[id].window_doc),
		    "window in seconds, class %s", c[i].name);
		snprintf(class_knob[id].fail_doc, sizeof(class_knob[id].fail_doc),
		    "open or closed when Redis fails, class %s", c[i].name);
		snprintf(class_knob[id].limit_def, sizeof(class_knob[id].limit_def),
		    "%d", c[i].def.limit);
		snprintf(class_knob[id].window_def,
		    sizeof(class_knob[id].window_def), "%d", c[i].def.window);
		knobs[k++] = (struct knob)CONFIG_INT(class_knob[id].limit,
		    cfg.rl[id].limit, class_knob[id].limit_def, 1, 1000000000,
		    class_knob[id].limit_doc);
		knobs[k++] = (struct knob)CONFIG_INT(class_knob[id].window,
		    cfg.rl[id].window, class_knob[id].window_def, 1, 86400,
		    class_knob[id].window_doc);
		knobs[k++] = (struct knob)CONFIG_FAILMODE(class_knob[id].fail,
		    cfg.rl[id].fail_closed, c[i].def.fail_closed ? "closed" :
		    "open", class_knob[id].fail_doc);
	}
	nclasses = RL__PLATFORM + (int)n;
	config_register(knobs, k);
}

/*
 * Identifiers rejected recently, remembered until their window resets so
 * that a client hammering at its limit costs Redis nothing.  A small
 * direct-mapped table: a collision only costs a Redis call.
 */
#define RL_MEMO	256
static struct {
	unsigned long	 hash;
	int		 cls;
	long long	 reset_ms;
	char		 id[160];
} memo[RL_MEMO];

static long long
wall_ms(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The script's text, for tools (the benchmark loads it into redis-benchmark). */
const char *
rl_script(void)
{
	return rl_lua.lua;
}

const char *
rl_class_name(int c)
{
	return c >= 0 && c < nclasses && c < RL_CLASSES_MAX ? rl_names[c] : "none";
}

/* The headers of a decision: the seed's X-RateLimit-* and the IETF draft pair. */
static void
rl_headers(struct req *r, int c, const struct rl_result *res)
{
	long long	reset_s = (res->reset_ms + 999) / 1000;
	long long	in_s = (res->reset_ms - res->now_ms + 999) / 1000;

	http_header(r, "X-RateLimit-Limit", "%d", res->limit);
	http_header(r, "X-RateLimit-Remaining", "%d", res->remaining);
	http_header(r, "X-RateLimit-Reset", "%lld", reset_s);
	http_header(r, "RateLimit-Policy", "\"%s\";q=%d;w=%d", rl_names[c],
	    res->limit, cfg.rl[c].window);
	http_header(r, "RateLimit", "\"%s\";r=%d;t=%lld", rl_names[c],
	    res->remaining, in_s > 0 ? in_s : 0);
}

/* The script's KEYS[1] and ARGV (see rl_lua) for an identifier of class c. */
static void
script_args(int c, const char *id, struct buf *key, char limit[16],
    char window[24])
{
	buf_printf(key, "rl:{%s:%s}", rl_names[c], id);
	snprintf(limit, 16, "%d", cfg.rl[c].limit);
	snprintf(window, 24, "%lld", (long long)cfg.rl[c].window * 1000);
}

/* --- without Redis: PostgreSQL ------------------------------------------ */

/*
 * The same window in PostgreSQL (sql/0008-no-redis.sql, rl_hit()): one
 * statement, which locks the identifier's row before it reads the
 * clock, so concurrent requests are counted one after the other,
 * exactly.  Not tenant data: no context is set.
 */
static const char rl_pg_sql[] =
    "SELECT allowed, remaining, reset_ms, now_ms FROM rl_hit($1, $2::int, $3::bigint)";

static int
rl_decide_pg(struct db *db, int c, const char *id, struct rl_result *res)
{
	struct buf	 key = { 0 };
	const char	*params[3];
	char		 limit[16], window[24];
	struct db_query	 q = { rl_pg_sql, 3, params };
	PGresult	*pr;
	enum err	 e;
	int		 rc = -1;

	if (db == NULL)
		return -1;
	buf_printf(&key, "%s:%s", rl_names[c], id);
	snprintf(limit, sizeof(limit), "%d", cfg.rl[c].limit);
	snprintf(window, sizeof(window), "%lld", (long long)cfg.rl[c].window * 1000);
	params[0] = key.data;
	params[1] = limit;
	params[2] = window;
	if (db_batch(db, NULL, NULL, &q, 1, &pr, &e, NULL) == 0) {
		if (PQntuples(pr) == 1) {
			res->allowed = *PQgetvalue(pr, 0, 0) == 't';
			res->remaining = atoi(PQgetvalue(pr, 0, 1));
			res->reset_ms = strtoll(PQgetvalue(pr, 0, 2), NULL, 10);
			res->now_ms = strtoll(PQgetvalue(pr, 0, 3), NULL, 10);
			res->limit = cfg.rl[c].limit;
			rc = 0;
		}
		PQclear(pr);
	}
	buf_free(&key);
	return rc;
}

/* --- with Redis ------------------------------------------------------------ */

/*
 * Ask Redis for up to max permits for one identifier of one class (see
 * rl_lua), or PostgreSQL for one when no Redis is configured (no
 * leases there).  Returns 0 with res filled and *permits the permits
 * counted (0 when refused), or -1 when the store failed.
 */
static int
rl_store_take(struct redis *rd, int c, const char *id, int max,
    struct rl_result *res, int *permits)
{
	struct redisReply	*reply;
	struct buf		 key = { 0 };
	const char		*args[5];
	char			 limit[16], window[24], lmax[16], share[16];
	int			 rc = -1;

	if (c < 0 || c >= nclasses || c == RL_NONE) {
		LOG_ERR(NULL, "ratelimit: no class %d", c);
		return -1;
	}
	if (!redis_enabled()) {
		*permits = 0;
		if (rl_decide_pg(rd->pg, c, id, res) == -1)
			return -1;
		*permits = res->allowed;
		return 0;
	}
	script_args(c, id, &key, limit, window);
	snprintf(lmax, sizeof(lmax), "%d", max);
	snprintf(share, sizeof(share), "%d", cfg.rl_lease_share);
	args[0] = key.data;
	args[1] = limit;
	args[2] = window;
	args[3] = lmax;
	args[4] = share;
	reply = redis_script(rd, &rl_lua, 1, 5, args, NULL);
	if (reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == 5) {
		res->allowed = (int)reply->element[0]->integer;
		res->remaining = (int)reply->element[1]->integer;
		res->reset_ms = reply->element[2]->integer;
		res->now_ms = reply->element[3]->integer;
		res->limit = cfg.rl[c].limit;
		*permits = (int)reply->element[4]->integer;
		rc = 0;
	} else if (reply != NULL)
		LOG_ERR(NULL, "ratelimit: unexpected reply: %s",
		    reply->type == REDIS_REPLY_ERROR ? reply->str : "not an array");
	freeReplyObject(reply);
	buf_free(&key);
	return rc;
}

/*
 * Decide for one identifier of one class, one permit, in Redis, or in
 * PostgreSQL (rd->pg) when no Redis is configured.  Returns 0 with res
 * filled, or -1 when the store failed (the caller applies the class's
 * policy).  For tools and tests.
 */
int
rl_decide(struct redis *rd, int c, const char *id,
    struct rl_result *res)
{
	int	permits;

	return rl_store_take(rd, c, id, 1, res, &permits);
}

/*
 * This process's leases: the permits Redis counted for an identifier
 * that this process has not used yet, valid until the fixed window
 * they were counted in ends (read on the monotonic clock from the
 * moment before the call, so a lease never outlives its window).  A
 * small direct-mapped table: a collision drops a lease, whose permits
 * then go unused, which is never more than the limit.
 */
static struct {
	unsigned long	 hash;
	int		 cls;
	int		 left;		/* permits not used yet */
	int		 remaining;	/* Redis's remaining after the lease */
	long long	 reset_ms, now_ms;	/* Redis's, at the lease */
	double		 mono;		/* now_ms() just before the lease */
	char		 id[160];
} lease[RL_MEMO];

/*
 * One permit for one identifier of one class: from this process's lease
 * when it has one, else from Redis, leasing up to rl_lease_max permits
 * when the headroom allows (see rl_lua).  Returns 0 with res filled
 * (res->remaining as if each permit had been counted when used), or -1
 * when Redis failed.  Every caller in one process shares the leases.
 */
int
rl_take(struct redis *rd, int c, const char *id, struct rl_result *res)
{
	unsigned long	h = str_hash(id) ^ (unsigned long)c;
	int		slot = (int)(h % RL_MEMO), permits;
	double		mono = now_ms();

	if (lease[slot].left > 0 && lease[slot].hash == h &&
	    lease[slot].cls == c && strcmp(lease[slot].id, id) == 0 &&
	    mono < lease[slot].mono + (double)(lease[slot].reset_ms -
	    lease[slot].now_ms)) {
		lease[slot].left--;
		*res = (struct rl_result){ 1, cfg.rl[c].limit,
		    lease[slot].remaining + lease[slot].left,
		    lease[slot].reset_ms,
		    lease[slot].now_ms + (long long)(mono - lease[slot].mono) };
		return 0;
	}
	if (rl_store_take(rd, c, id, strlen(id) < sizeof(lease[slot].id) ?
	    cfg.rl_lease_max : 1, res, &permits) == -1)
		return -1;
	if (permits > 1) {
		lease[slot].hash = h;
		lease[slot].cls = c;
		lease[slot].left = permits - 1;
		lease[slot].remaining = res->remaining;
		lease[slot].reset_ms = res->reset_ms;
		lease[slot].now_ms = res->now_ms;
		lease[slot].mono = mono;
		snprintf(lease[slot].id, sizeof(lease[slot].id), "%s", id);
		res->remaining += permits - 1;
	}
	return 0;
}

/*
 * Apply the route's class to the request: the identifier is the user
 * when the token verified, else the client address.  Adds the headers;
 * returns 0 to go on, or -1 after writing a 429 (or a 503 when Redis is
 * unreachable and the class fails closed).
 */
int
rl_check(struct req *r, int c)
{
	struct rl_result	 res;
	struct buf		 id = { 0 };
	json_object		*extra;
	unsigned long		 h;
	int			 slot, rc = 0;
	long long		 now = wall_ms(), retry;

	if (c == RL_NONE || !cfg.rl_enabled)
		return 0;
	if (c < 0 || c >= nclasses) {
		LOG_ERR(r, "ratelimit: class %d is not registered; default", c);
		c = RL_DEFAULT;
	}
	if (r->authed)
		buf_printf(&id, "u:%s", r->auth.user_id);
	else
		buf_printf(&id, "ip:%s", req_client_ip(r));
	h = str_hash(id.data) ^ (unsigned long)c;
	slot = (int)(h % RL_MEMO);
	if (memo[slot].hash == h && memo[slot].cls == c &&
	    now < memo[slot].reset_ms && strcmp(memo[slot].id, id.data) == 0) {
		res = (struct rl_result){ 0, cfg.rl[c].limit, 0,
		    memo[slot].reset_ms, now };
	} else if (rl_take(&r->app->redis, c, id.data, &res) == -1) {
		if (cfg.rl[c].fail_closed) {
			LOG_WARN(r, "ratelimit: redis unavailable: class %s fails "
			    "closed", rl_names[c]);
			http_error(r, ERR_UNAVAILABLE, "rate limiting is unavailable");
			rc = -1;
		} else
			LOG_WARN(r, "ratelimit: redis unavailable: class %s fails "
			    "open", rl_names[c]);
		buf_free(&id);
		return rc;
	}
	rl_headers(r, c, &res);
	if (!res.allowed) {
		if (memo[slot].hash != h || strcmp(memo[slot].id, id.data) != 0) {
			memo[slot].hash = h;
			memo[slot].cls = c;
			snprintf(memo[slot].id, sizeof(memo[slot].id), "%s", id.data);
		}
		memo[slot].reset_ms = res.reset_ms;
		retry = (res.reset_ms - res.now_ms + 999) / 1000;
		http_header(r, "Retry-After", "%lld", retry > 0 ? retry : 1);
		extra = json_object_new_object();
		json_object_object_add(extra, "limit", json_object_new_int(res.limit));
		json_object_object_add(extra, "reset",
		    json_object_new_int64((res.reset_ms + 999) / 1000));
		json_object_object_add(extra, "remaining", json_object_new_int(0));
		http_error_obj(r, ERR_RATE_LIMITED, NULL, extra);
		rc = -1;
	}
	buf_free(&id);
	return rc;
}

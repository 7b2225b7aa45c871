/* events.c: publish a realtime event: append it to the tenant's bounded stream and announce it on the channel, in one round trip; read a tenant's recent events back. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "common.h"

/*
 * KEYS[1]: the tenant's stream.  ARGV[1]: the channel, ARGV[2]: the
 * stream's length cap, ARGV[3]: its TTL, ARGV[4]: the envelope after its
 * id (',"type":...}'), ARGV[5]: its signature (hex, "" when unsigned),
 * ARGV[6]: how far ahead of Redis's clock the stream's last id may be.
 * The stream entry keeps the tail in field "e" and the signature in
 * "s"; a reader rebuilds the envelope as '{"id":"' .. id .. '"' .. e.
 * The channel gets '{"id":"<id>","sig":"<sig>"' .. tail.
 *
 * A stream whose last id lies far in the future was written by someone
 * else (XADD with an explicit id): every id XADD '*' gives after it
 * would be as far ahead, and readers drop those.  It is deleted first
 * (its events are lost for replay, not the new one).  Returns
 * {id, 1 if the stream was reset}.
 */
static struct redis_script publish_lua = { .lua =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local reset = 0\n"
    "local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)\n"
    "if top[1] then\n"
    "  local ms = tonumber((string.gsub(top[1][1], '%-.*$', '')))\n"
    "  if ms and ms > now + tonumber(ARGV[6]) then\n"
    "    redis.call('DEL', KEYS[1])\n"
    "    reset = 1\n"
    "  end\n"
    "end\n"
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[4], 's', ARGV[5])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "local sig = ''\n"
    "if ARGV[5] ~= '' then sig = ',\"sig\":\"' .. ARGV[5] .. '\"' end\n"
    "redis.call('PUBLISH', ARGV[1], '{\"id\":\"' .. id .. '\"' .. sig .. ARGV[4])\n"
    "return {id, reset}\n" };

/*
 * The events key (events_key_file, derived under "<file>/redis-events"),
 * loaded once per process.  1 with the key in *k, 0 when none is
 * configured, -1 when the file cannot be used (logged once).
 */
static int
events_key(const struct crypto_keys **k)
{
	static struct crypto_keys	keys;
	static int			state;	/* 0 not tried, 1 loaded, -1 failed */

	if (*cfg.events_key_file == '\0')
		return 0;
	if (state == 0)
		state = crypto_keys_load(&keys, cfg.events_key_file,
		    "redis-events") == 0 ? 1 : -1;
	*k = &keys;
	return state;
}

/* The signature of an event's tail, in hex (65 bytes with the NUL). */
static void
events_sign(const struct crypto_keys *k, const char *tail, size_t n,
    char hex[65])
{
	unsigned char	mac[32];
	int		i;

	crypto_sign(k, tail, n, mac);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

/* Milliseconds of a stream id ("<ms>-<seq>"), or -1. */
static long long
id_ms(const char *id)
{
	long long	ms = 0;
	int		n = 0;

	for (; *id >= '0' && *id <= '9' && n < 16; id++, n++)
		ms = ms * 10 + (*id - '0');
	return n == 0 || *id != '-' ? -1 : ms;
}

/*
 * Check an event read from Redis: its tail (the envelope after its id)
 * against its signature, and its id against the signed time and now
 * (milliseconds since the epoch: ids are Redis's wall clock).
 * Returns NULL when it may be delivered, else why not (for the log).
 * Without events_key_file, everything passes but an id far ahead.
 */
const char *
events_verify(const char *id, const char *tail, size_t n, const char *sig,
    size_t siglen, double now)
{
	const struct crypto_keys *k;
	const char	*t;
	char		 want[65], when[32];
	long long	 ms, us;
	int		 have;

	if ((ms = id_ms(id)) == -1)
		return "malformed id";
	if (ms > now + EVENTS_SKEW_MS)
		return "id ahead of the clock";
	if ((have = events_key(&k)) == 0)
		return NULL;
	if (have == -1)
		return "events key unusable";
	if (sig == NULL || siglen == 0)
		return "unsigned";
	events_sign(k, tail, n, want);
	if (siglen != 64 || !crypto_equal(want, sig, 64))
		return "bad signature";
	/* The first ,"time":" is ours: a string's quotes are escaped. */
	if ((t = memmem(tail, n, ",\"time\":\"", 9)) == NULL ||
	    (size_t)(tail + n - (t + 9)) < 25)
		return "no time";
	snprintf(when, sizeof(when), "%.24s", t + 9);
	if (parse_time(when, &us) == -1)
		return "no time";
	if (ms > us / 1000 + EVENTS_SKEW_MS || ms < us / 1000 - EVENTS_SKEW_MS)
		return "id far from its time";
	return NULL;
}

static int	events_publish_pg(struct db *, const char *, const char *,
		    const char *, const char *, char *, size_t);
static int	events_page_add(struct events_page *, int, const char *,
		    const char *);

static void
iso_now(char *out, size_t n)
{
	struct timeval	tv;
	struct tm	tm;
	char		s[24];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%.19s.%03dZ", s, (int)(tv.tv_usec / 1000) % 1000);
}

/*
 * Publish type for tenant (and only for user, when user is not NULL);
 * data is a JSON text (object or array) the caller vouches for.  The
 * event's id is copied to id (may be NULL).  Returns 0 or -1.
 */
int
events_publish(struct redis *rd, const char *type, const char *tenant,
    const char *user, const char *data, char *id, size_t idlen)
{
	struct buf	 tail = { 0 }, key = { 0 };
	struct redisReply *reply;
	const struct crypto_keys *k;
	const char	*args[7];
	char		 now[32], maxlen[16], ttl[16], skew[16], sig[65] = "";
	int		 rc = -1, signing;

	if (strlen(data) > EVENTS_DATA_MAX) {
		LOG_ERR(NULL, "events: %s for %s: data too large", type, tenant);
		return -1;
	}
	iso_now(now, sizeof(now));
	buf_puts(&tail, ",\"type\":");
	buf_json_string(&tail, type, strlen(type));
	buf_puts(&tail, ",\"tenant\":");
	buf_json_string(&tail, tenant, strlen(tenant));
	buf_puts(&tail, ",\"user\":");
	if (user != NULL)
		buf_json_string(&tail, user, strlen(user));
	else
		buf_puts(&tail, "null");
	buf_printf(&tail, ",\"time\":\"%s\",\"data\":%s}", now, data);
	if (!redis_enabled()) {
		rc = events_publish_pg(rd->pg, type, tenant, user, tail.data, id,
		    idlen);
		buf_free(&tail);
		return rc;
	}
	buf_printf(&key, "%s%s", EVENTS_STREAM_PREFIX, tenant);
	snprintf(maxlen, sizeof(maxlen), "%d", EVENTS_STREAM_MAX);
	snprintf(ttl, sizeof(ttl), "%d", EVENTS_STREAM_TTL);
	args[0] = key.data;
	args[1] = EVENTS_CHANNEL;
	args[2] = maxlen;
	args[3] = ttl;
	args[4] = tail.data;
	if ((signing = events_key(&k)) == -1) {
		LOG_ERR(NULL, "events: %s for %s not published: events_key_file "
		    "unusable", type, tenant);
		goto out;
	}
	if (signing)
		events_sign(k, tail.data, tail.len, sig);
	snprintf(skew, sizeof(skew), "%d", EVENTS_SKEW_MS);
	args[5] = sig;
	args[6] = skew;
	reply = redis_script(rd, &publish_lua, 1, 7, args, NULL);
	if (reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_STRING) {
		if (id != NULL)
			snprintf(id, idlen, "%s", reply->element[0]->str);
		if (reply->element[1]->integer == 1)
			LOG_WARN(NULL, "events: stream of %s reset: its last id "
			    "was far ahead of the clock (written by someone "
			    "else)", tenant);
		rc = 0;
	} else
		LOG_WARN(NULL, "events: %s for %s not published: %s", type,
		    tenant, reply != NULL && reply->type == REDIS_REPLY_ERROR ?
		    reply->str : "redis unavailable");
	freeReplyObject(reply);
out:
	buf_free(&tail);
	buf_free(&key);
	return rc;
}

/* --- without Redis: PostgreSQL ------------------------------------------ */

/*
 * With no Redis configured the tenant's stream is a table (sql/0008,
 * events_append()): the same ids and the same tail, the newest
 * EVENTS_STREAM_MAX kept for EVENTS_STREAM_TTL.  Nobody is announced
 * to (there is no broadcaster); readers ask GET /api/events/recent.
 */
static const char publish_pg_sql[] =
    "SELECT events_append($1, $2, $3, $4::int, $5::int)";

static int
events_publish_pg(struct db *db, const char *type, const char *tenant,
    const char *user, const char *tail, char *id, size_t idlen)
{
	const char	*params[5];
	char		 maxlen[16], ttl[16];
	struct db_query	 q = { publish_pg_sql, 5, params };
	PGresult	*res;
	enum err	 e;

	if (db == NULL)
		return -1;
	snprintf(maxlen, sizeof(maxlen), "%d", EVENTS_STREAM_MAX);
	snprintf(ttl, sizeof(ttl), "%d", EVENTS_STREAM_TTL);
	params[0] = type;
	params[1] = user;
	params[2] = tail;
	params[3] = maxlen;
	params[4] = ttl;
	if (db_batch(db, tenant, NULL, &q, 1, &res, &e, NULL) == -1) {
		LOG_WARN(NULL, "events: %s for %s not stored: the database "
		    "failed", type, tenant);
		return -1;
	}
	if (id != NULL)
		snprintf(id, idlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static const char recent_pg_sql[] =
    "SELECT ms || '-' || seq, tail FROM events"
    " WHERE tenant_id = app_tenant() AND (ms, seq) > ($1::bigint, $2::bigint)"
    " AND ms >= (extract(epoch FROM now()) * 1000)::bigint - $3::bigint * 1000"
    " AND (user_id IS NULL OR user_id = app_user())"
    " AND NOT type LIKE ANY ($4::text[])"
    " ORDER BY ms, seq LIMIT $5::int";

static int
recent_pg(struct db *db, const char *tenant, const char *user,
    const struct events_after *after, const struct events_filter *f,
    int limit, struct events_page *pg)
{
	const char	*params[5];
	char		 ms[24], seq[24], ttl[16], n[16];
	struct db_query	 q = { recent_pg_sql, 5, params };
	struct buf	 skip = { 0 };
	PGresult	*res;
	enum err	 e;
	size_t		 k;
	int		 i;

	if (db == NULL)
		return -1;
	snprintf(ms, sizeof(ms), "%llu", after->ms);
	snprintf(seq, sizeof(seq), "%llu", after->seq);
	snprintf(ttl, sizeof(ttl), "%d", EVENTS_STREAM_TTL);
	snprintf(n, sizeof(n), "%d", limit + 1);
	/* The prefixes are the program's constants of [a-z:_]: no quoting. */
	buf_putc(&skip, '{');
	for (k = 0; k < f->nskip; k++)
		buf_printf(&skip, "%s\"%s%%\"", k > 0 ? "," : "", f->skip[k]);
	buf_putc(&skip, '}');
	params[0] = ms;
	params[1] = seq;
	params[2] = ttl;
	params[3] = skip.data;
	params[4] = n;
	i = db_batch(db, tenant, user, &q, 1, &res, &e, NULL);
	buf_free(&skip);
	if (i == -1)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		if (events_page_add(pg, limit, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1)) == 0)
			break;
	PQclear(res);
	return 0;
}

/* --- reading back ------------------------------------------------------------ */

/*
 * Parse an event id "<ms>-<seq>" (digits, as the streams hand them
 * out).  "0" and the empty string mean before the first.  Returns 0 or
 * -1 when it is not an id.
 */
int
events_parse_id(const char *s, struct events_after *a)
{
	const char	*dash;
	char		 part[24];
	long long	 v;

	a->ms = a->seq = 0;
	if (*s == '\0' || strcmp(s, "0") == 0)
		return 0;
	if ((dash = strchr(s, '-')) == NULL || dash == s ||
	    (size_t)(dash - s) >= sizeof(part) || strlen(dash + 1) >= sizeof(part))
		return -1;
	snprintf(part, sizeof(part), "%.*s", (int)(dash - s), s);
	if (strspn(part, "0123456789") != strlen(part) || parse_int64(part, &v) == -1)
		return -1;
	a->ms = (unsigned long long)v;
	if (dash[1] == '\0' || strspn(dash + 1, "0123456789") != strlen(dash + 1) ||
	    parse_int64(dash + 1, &v) == -1)
		return -1;
	a->seq = (unsigned long long)v;
	return 0;
}

/*
 * Add one entry (its id and the tail the stream keeps) to the page as
 * the envelope subscribers get.  Returns 1 to go on, 0 when the page
 * is full (the entry then only says there is more).
 */
static int
events_page_add(struct events_page *pg, int limit, const char *id,
    const char *tail)
{
	if (pg->count >= limit) {
		pg->more = 1;
		return 0;
	}
	if (pg->count > 0)
		buf_putc(&pg->json, ',');
	buf_puts(&pg->json, "{\"id\":");
	buf_json_string(&pg->json, id, strlen(id));
	buf_puts(&pg->json, tail);
	snprintf(pg->last, sizeof(pg->last), "%s", id);
	pg->count++;
	return 1;
}

/* Predicate: user may see this envelope, and the filter keeps its type. */
static int
visible(json_object *ev, const char *user, const struct events_filter *f)
{
	json_object	*v;
	const char	*type;
	size_t		 k;

	if (json_object_object_get_ex(ev, "user", &v) && v != NULL &&
	    (!json_object_is_type(v, json_type_string) || user == NULL ||
	    strcmp(json_object_get_string(v), user) != 0))
		return 0;
	if (!json_object_object_get_ex(ev, "type", &v) ||
	    !json_object_is_type(v, json_type_string))
		return 0;
	type = json_object_get_string(v);
	for (k = 0; k < f->nskip; k++)
		if (strncmp(type, f->skip[k], strlen(f->skip[k])) == 0)
			return 0;
	return 1;
}

/*
 * Predicate: a stream entry's tail (fields->element[e]) verifies against
 * its signature (field "s"), as the broadcaster checks it: an entry
 * written without the events key is not served (logged).
 */
static int
stream_entry_verified(const char *id, const struct redisReply *fields, size_t e)
{
	const struct redisReply	*tail = fields->element[e], *sig = NULL;
	struct timeval		 tv;
	const char		*why;
	size_t			 k;

	for (k = 0; k + 1 < fields->elements; k += 2)
		if (fields->element[k]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->element[k]->str, "s") == 0 &&
		    fields->element[k + 1]->type == REDIS_REPLY_STRING)
			sig = fields->element[k + 1];
	gettimeofday(&tv, NULL);
	why = events_verify(id, tail->str, tail->len, sig != NULL ? sig->str :
	    NULL, sig != NULL ? sig->len : 0, (double)tv.tv_sec * 1e3 +
	    (double)tv.tv_usec / 1e3);
	if (why != NULL)
		LOG_WARN(NULL, "events: stream entry %s dropped: %s", id, why);
	return why == NULL;
}

/* The tenant's stream in Redis, read with XRANGE in chunks, filtered here. */
static int
recent_redis(struct redis *rd, const char *tenant, const char *user,
    const struct events_after *after, const struct events_filter *f,
    int limit, struct events_page *pg)
{
	struct redisReply	*reply, *ent, *fields;
	struct buf		 env = { 0 };
	json_object		*ev;
	char			 from[48];
	size_t			 i, k;
	int			 go = 1, rc = 0;

	if (redis_get(rd) == NULL)
		return -1;
	if (after->ms == 0 && after->seq == 0)
		snprintf(from, sizeof(from), "-");
	else
		snprintf(from, sizeof(from), "(%llu-%llu", after->ms, after->seq);
	while (go) {
		reply = redisCommand(rd->ctx, "XRANGE %s%s %s + COUNT 200",
		    EVENTS_STREAM_PREFIX, tenant, from);
		if (reply == NULL) {
			redis_fail(rd);
			return -1;
		}
		if (reply->type != REDIS_REPLY_ARRAY) {
			LOG_WARN(NULL, "events: XRANGE of %s: %s", tenant,
			    reply->type == REDIS_REPLY_ERROR ? reply->str : "not an array");
			freeReplyObject(reply);
			return -1;
		}
		go = reply->elements == 200;
		for (i = 0; i < reply->elements && rc == 0; i++) {
			ent = reply->element[i];
			if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
			    ent->element[0]->type != REDIS_REPLY_STRING)
				continue;
			snprintf(from, sizeof(from), "(%s", ent->element[0]->str);
			fields = ent->element[1];
			for (k = 0; k + 1 < fields->elements; k += 2)
				if (strcmp(fields->element[k]->str, "e") == 0)
					break;
			if (k + 1 >= fields->elements)
				continue;
			if (!stream_entry_verified(ent->element[0]->str, fields,
			    k + 1))
				continue;
			buf_reset(&env);
			buf_printf(&env, "{\"id\":\"%s\"%s", ent->element[0]->str,
			    fields->element[k + 1]->str);
			if ((ev = json_tokener_parse(env.data)) == NULL)
				continue;
			if (visible(ev, user, f) &&
			    events_page_add(pg, limit, ent->element[0]->str,
			    fields->element[k + 1]->str) == 0)
				rc = 1;
			json_object_put(ev);
		}
		freeReplyObject(reply);
		if (rc == 1)
			break;
	}
	buf_free(&env);
	return 0;
}

/*
 * The events of tenant after *after that user may see (those for the
 * whole tenant and those for user), but for the types f leaves out,
 * oldest first, at most limit: what the broadcaster sends that user's
 * stream.  From the Redis stream, or from PostgreSQL without Redis.
 * pg->json gets the envelopes, comma-separated; pg->last the last id;
 * pg->more says more follow.  Returns 0, or -1 when the store failed.
 */
int
events_recent(struct redis *rd, const char *tenant, const char *user,
    const struct events_after *after, const struct events_filter *f,
    int limit, struct events_page *pg)
{
	if (!redis_enabled())
		return recent_pg(rd->pg, tenant, user, after, f, limit, pg);
	return recent_redis(rd, tenant, user, after, f, limit, pg);
}

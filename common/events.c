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
 * id (',"type":...}').  The stream entry keeps that tail in field "e";
 * a reader rebuilds the envelope as '{"id":"' .. id .. '"' .. e.
 */
static struct redis_script publish_lua = { .lua =
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('PUBLISH', ARGV[1], '{\"id\":\"' .. id .. '\"' .. ARGV[4])\n"
    "return id\n" };

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
	const char	*args[5];
	char		 now[32], maxlen[16], ttl[16];
	int		 rc = -1;

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
	reply = redis_script(rd, &publish_lua, 1, 5, args, NULL);
	if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
		if (id != NULL)
			snprintf(id, idlen, "%s", reply->str);
		rc = 0;
	} else
		LOG_WARN(NULL, "events: %s for %s not published: %s", type,
		    tenant, reply != NULL && reply->type == REDIS_REPLY_ERROR ?
		    reply->str : "redis unavailable");
	freeReplyObject(reply);
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

/* events.c: publish a realtime event: append it to the tenant's bounded stream and announce it on the channel, in one round trip. */
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

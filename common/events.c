/* events.c: publish a realtime event: append it to the tenant's bounded stream and announce it on the channel, in one round trip. */
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

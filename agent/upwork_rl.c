/* upwork_rl.c: the Upwork rate limit shared by every process through Redis (or PostgreSQL without it): evenly spaced slots per second, a cap per UTC day, pauses after Upwork's 429, the hand poll's cooldown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "agent.h"

/*
 * A reservation scheduler (GCRA without burst): KEYS[1] holds the time,
 * in ms on Redis's clock, of the next free slot.  Taking a slot moves it
 * one interval on and tells the caller how long to sleep until its own;
 * a caller whose slot would come after its deadline takes nothing.  So
 * N requests from any number of processes are spaced exactly
 * 1000/rate ms apart, in arrival order, and nobody polls Redis while
 * waiting.  KEYS[2] counts the day's requests (UTC day from TIME);
 * a slot is refused once count + 1 > cap - reserve, which lets the
 * client refresher leave the end of the day's budget to the poller.
 *
 * KEYS[1] next-slot key, KEYS[2] day counter prefix.
 * ARGV[1] "take" or "pause"; take: ARGV[2] interval ms, ARGV[3] day cap,
 * ARGV[4] reserve, ARGV[5] longest wait ms; pause: ARGV[2] ms.
 * Returns {1, wait ms, used today} for a slot, {0, wait ms, used} when
 * the next slot is too far, {0, -1, used} when the day is spent.
 */
static struct redis_script rl_lua = { .lua =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if ARGV[1] == 'pause' then\n"
    "  local untl = now + tonumber(ARGV[2])\n"
    "  if untl > nxt then\n"
    "    redis.call('SET', KEYS[1], string.format('%.0f', untl), 'PX', tonumber(ARGV[2]) + 60000)\n"
    "  end\n"
    "  return {1, 0, 0}\n"
    "end\n"
    "local dkey = KEYS[2] .. ':' .. math.floor(tonumber(t[1]) / 86400)\n"
    "local used = tonumber(redis.call('GET', dkey) or '0')\n"
    "if used + 1 > tonumber(ARGV[3]) - tonumber(ARGV[4]) then return {0, -1, used} end\n"
    "local slot = math.max(nxt, now)\n"
    "local wait = slot - now\n"
    "if wait > tonumber(ARGV[5]) then return {0, wait, used} end\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', slot + tonumber(ARGV[2])), 'PX', wait + tonumber(ARGV[2]) + 60000)\n"
    "used = redis.call('INCR', dkey)\n"
    "if used == 1 then redis.call('EXPIRE', dkey, 172800) end\n"
    "return {1, wait, used}\n" };

const char *
upwork_rl_script(void)
{
	return rl_lua.lua;
}

/* --- without Redis: PostgreSQL ------------------------------------------ */

/*
 * The same scheduler in PostgreSQL (sql/0008, upwork_rl_hit()): the
 * key's row locked, then the clock read.  A caller may hold a
 * transaction open across its Upwork call (a row lock while a proposal
 * is submitted), and the limiter's row must not wait for its commit:
 * then the limiter goes through a connection of its own, opened on
 * first need.
 */
static const char take_pg_sql[] =
    "SELECT ok, wait_ms, used FROM upwork_rl_hit($1, $2::bigint, $3::int,"
    " $4::int, $5::bigint, $6::bigint)";

static struct db	own_db;

/* One call of upwork_rl_hit(): 0 with ok, wait and used, or -1. */
static int
take_pg(struct redis *rd, const char *const params[6], int *ok,
    long long *ms, long long *used)
{
	struct db	*db = rd->pg;
	struct db_query	 q = { take_pg_sql, 6, params };
	PGresult	*res;
	enum err	 e;

	if (db == NULL || db->tx_state != DB_TX_NONE)
		db = &own_db;
	if (db_batch(db, NULL, NULL, &q, 1, &res, &e, NULL) == -1)
		return -1;
	*ok = *PQgetvalue(res, 0, 0) == 't';
	*ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	*used = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	return 0;
}

/* --- with Redis ------------------------------------------------------------ */

/* One run of the script (args as rl_lua says): 0 with ok, wait and used, or -1. */
static int
take_redis(struct redis *rd, const char *key, const char *const argv[5],
    int nargs, int *ok, long long *ms, long long *used, struct buf *why)
{
	struct redisReply	*reply;
	struct buf		 k1 = { 0 }, k2 = { 0 };
	const char		*args[7];
	int			 i, rc = -1;

	buf_printf(&k1, "upw:upwork:{%s}:next", key);
	buf_printf(&k2, "upw:upwork:{%s}:day", key);
	args[0] = k1.data;
	args[1] = k2.data;
	for (i = 0; i < nargs; i++)
		args[2 + i] = argv[i];
	reply = redis_script(rd, &rl_lua, 2, 2 + nargs, args, NULL);
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3) {
		buf_puts(why, reply != NULL && reply->type == REDIS_REPLY_ERROR ?
		    reply->str : "is unreachable");
		goto out;
	}
	*ok = reply->element[0]->integer == 1;
	*ms = reply->element[1]->integer;
	*used = reply->element[2]->integer;
	rc = 0;
out:
	freeReplyObject(reply);
	buf_free(&k1);
	buf_free(&k2);
	return rc;
}

/*
 * Take one request slot for key (the API key), sleeping until it comes.
 * deadline is a now_ms() time past which the caller will not wait (0:
 * upwork_rate_wait_ms from now, which also bounds any deadline).
 * Returns 0 once the caller may send, or -1 with e saying why not: the
 * day's cap, no slot in time, or the store (Redis, or PostgreSQL
 * without it) unreachable (the limit cannot be kept, so nothing is
 * sent).
 */
int
upwork_rl_take(struct redis *rd, const char *key, int reserve, double deadline,
    struct upwork_err *e)
{
	struct buf	 why = { 0 };
	const char	*args[6];
	char		 interval[24], cap[24], res[24], wait[24];
	double		 now = now_ms(), max_wait = agent_cfg.upwork_rate_wait_ms;
	long long	 ms, used;
	int		 ok, rc = -1;

	if (deadline > 0 && deadline - now < max_wait)
		max_wait = deadline - now;
	if (max_wait < 0)
		max_wait = 0;
	snprintf(interval, sizeof(interval), "%d", 1000 / agent_cfg.upwork_rate_per_sec);
	snprintf(cap, sizeof(cap), "%d", agent_cfg.upwork_rate_per_day);
	snprintf(res, sizeof(res), "%d", reserve);
	snprintf(wait, sizeof(wait), "%.0f", max_wait);
	if (!redis_enabled()) {
		args[0] = key;
		args[1] = interval;
		args[2] = cap;
		args[3] = res;
		args[4] = wait;
		args[5] = NULL;		/* take, not pause */
		if (take_pg(rd, args, &ok, &ms, &used) == -1) {
			upwork_fail(e, UPW_BUDGET, 0, "the Upwork rate limit cannot "
			    "be kept: the database is unreachable");
			goto out;
		}
	} else {
		args[0] = "take";
		args[1] = interval;
		args[2] = cap;
		args[3] = res;
		args[4] = wait;
		if (take_redis(rd, key, args, 5, &ok, &ms, &used, &why) == -1) {
			upwork_fail(e, UPW_BUDGET, 0, "the Upwork rate limit cannot "
			    "be kept: Redis %s", why.data);
			goto out;
		}
	}
	if (ok) {
		sleep_ms(ms);
		rc = 0;
	} else if (ms < 0)
		upwork_fail(e, UPW_BUDGET, 0, "the day's Upwork request budget is "
		    "spent (%lld of %d used%s)", used, agent_cfg.upwork_rate_per_day,
		    reserve > 0 ? ", the rest is reserved for polling" : "");
	else {
		upwork_fail(e, UPW_BUDGET, 0, "no Upwork request slot within "
		    "%.0f ms (the next is in %lld ms)", max_wait, ms);
		e->retry_after_ms = ms;
	}
out:
	buf_free(&why);
	return rc;
}

/*
 * After Upwork's 429: no process takes a slot for the next ms
 * milliseconds (slots already handed out are not taken back).
 */
int
upwork_rl_pause(struct redis *rd, const char *key, long long ms)
{
	struct buf	 why = { 0 };
	const char	*args[6];
	char		 pause[24];
	long long	 wait, used;
	int		 ok, rc;

	snprintf(pause, sizeof(pause), "%lld", ms);
	if (!redis_enabled()) {
		args[0] = key;
		args[1] = args[2] = args[3] = args[4] = "0";
		args[5] = pause;
		return take_pg(rd, args, &ok, &wait, &used);
	}
	args[0] = "pause";
	args[1] = pause;
	rc = take_redis(rd, key, args, 2, &ok, &wait, &used, &why);
	buf_free(&why);
	return rc;
}

/*
 * The cooldown of a tenant's poll by hand (POST /api/upwork/poll):
 * returns the seconds before tenant may poll again, or 0, and then the
 * cooldown of seconds starts now.  When the store fails, 0: the shared
 * rate limit still bounds what reaches Upwork.
 */
static const char cooldown_pg_sql[] =
    "WITH took AS (INSERT INTO poll_cooldowns AS p (tenant_id, until)"
    " VALUES (app_tenant(), now() + $1::int * interval '1 second')"
    " ON CONFLICT (tenant_id) DO UPDATE SET until = EXCLUDED.until"
    " WHERE p.until <= now() RETURNING 1)"
    " SELECT CASE WHEN EXISTS (SELECT FROM took) THEN 0 ELSE greatest(1,"
    " ceil(extract(epoch FROM (SELECT until FROM poll_cooldowns) - now())))"
    " END::bigint";

long long
upwork_poll_cooldown(struct redis *rd, const char *tenant, int seconds)
{
	struct redisContext	*c;
	redisReply		*reply;
	long long		 wait = 0;

	if (seconds <= 0)
		return 0;
	if (!redis_enabled()) {
		char		 s[16];
		const char	*params[1] = { s };
		struct db_query	 q = { cooldown_pg_sql, 1, params };
		PGresult	*res;
		enum err	 e;

		snprintf(s, sizeof(s), "%d", seconds);
		if (rd->pg == NULL || db_batch(rd->pg, tenant, NULL, &q, 1, &res,
		    &e, NULL) == -1)
			return 0;
		wait = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		return wait;
	}
	if ((c = redis_get(rd)) == NULL)
		return 0;
	reply = redisCommand(c, "SET upw:pollcd:{%s} 1 NX EX %d", tenant, seconds);
	if (reply == NULL) {
		redis_fail(rd);
		return 0;
	}
	if (reply->type == REDIS_REPLY_NIL) {
		freeReplyObject(reply);
		if ((reply = redisCommand(c, "TTL upw:pollcd:{%s}", tenant)) == NULL) {
			redis_fail(rd);
			return 0;
		}
		wait = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0 ?
		    reply->integer : 1;
	}
	freeReplyObject(reply);
	return wait;
}

/* upwork_rl.c: the Upwork rate limit shared by every process through Redis: evenly spaced slots per second, a cap per UTC day, and pauses after Upwork's 429. */
#include <errno.h>
#include <stdio.h>
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

/*
 * Take one request slot for key (the API key), sleeping until it comes.
 * deadline is a now_ms() time past which the caller will not wait (0:
 * upwork_rate_wait_ms from now, which also bounds any deadline).
 * Returns 0 once the caller may send, or -1 with e saying why not: the
 * day's cap, no slot in time, or Redis unreachable (the limit cannot be
 * kept, so nothing is sent).
 */
int
upwork_rl_take(struct redis *rd, const char *key, int reserve, double deadline,
    struct upwork_err *e)
{
	struct redisReply	*reply;
	struct buf		 k1 = { 0 }, k2 = { 0 };
	const char		*args[7];
	char			 interval[24], cap[24], res[24], wait[24];
	double			 now = now_ms(), max_wait = agent_cfg.upwork_rate_wait_ms;
	long long		 ms, used;
	int			 rc = -1;

	if (deadline > 0 && deadline - now < max_wait)
		max_wait = deadline - now;
	if (max_wait < 0)
		max_wait = 0;
	buf_printf(&k1, "upw:upwork:{%s}:next", key);
	buf_printf(&k2, "upw:upwork:{%s}:day", key);
	snprintf(interval, sizeof(interval), "%d", 1000 / agent_cfg.upwork_rate_per_sec);
	snprintf(cap, sizeof(cap), "%d", agent_cfg.upwork_rate_per_day);
	snprintf(res, sizeof(res), "%d", reserve);
	snprintf(wait, sizeof(wait), "%.0f", max_wait);
	args[0] = k1.data;
	args[1] = k2.data;
	args[2] = "take";
	args[3] = interval;
	args[4] = cap;
	args[5] = res;
	args[6] = wait;
	reply = redis_script(rd, &rl_lua, 2, 7, args, NULL);
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3) {
		upwork_fail(e, UPW_BUDGET, 0, "the Upwork rate limit cannot be "
		    "kept: Redis %s", reply != NULL && reply->type ==
		    REDIS_REPLY_ERROR ? reply->str : "is unreachable");
		goto out;
	}
	ms = reply->element[1]->integer;
	used = reply->element[2]->integer;
	if (reply->element[0]->integer == 1) {
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
	freeReplyObject(reply);
	buf_free(&k1);
	buf_free(&k2);
	return rc;
}

/*
 * After Upwork's 429: no process takes a slot for the next ms
 * milliseconds (slots already handed out are not taken back).
 */
int
upwork_rl_pause(struct redis *rd, const char *key, long long ms)
{
	struct redisReply	*reply;
	struct buf		 k1 = { 0 }, k2 = { 0 };
	const char		*args[4];
	char			 pause[24];
	int			 rc;

	buf_printf(&k1, "upw:upwork:{%s}:next", key);
	buf_printf(&k2, "upw:upwork:{%s}:day", key);
	snprintf(pause, sizeof(pause), "%lld", ms);
	args[0] = k1.data;
	args[1] = k2.data;
	args[2] = "pause";
	args[3] = pause;
	reply = redis_script(rd, &rl_lua, 2, 4, args, NULL);
	rc = reply != NULL && reply->type == REDIS_REPLY_ARRAY ? 0 : -1;
	freeReplyObject(reply);
	buf_free(&k1);
	buf_free(&k2);
	return rc;
}

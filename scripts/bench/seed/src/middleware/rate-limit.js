// rate-limit.js: the design's rateLimitMiddleware; @upstash/ratelimit's slidingWindow, run as a Lua script through ioredis (Upstash's REST server is not available here).
'use strict';
const Redis = require('ioredis');
const config = require('../config');

/*
 * Upstash's sliding window: a counter per fixed window, keyed
 * <prefix>:<identifier>:<window number>; a request is allowed when the
 * current counter plus the previous one, weighted by the share of the
 * previous window still inside the sliding one, is under the limit.
 * The clock is the caller's (Date.now()), as in @upstash/ratelimit.
 */
const SLIDING_WINDOW = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit, now, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
prev = math.floor((1 - (now % window) / window) * prev)
if cur + prev >= limit then
  return -1
end
local n = redis.call('INCRBY', KEYS[1], 1)
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], window * 2 + 1000)
end
return limit - (n + prev)
`;

const UNITS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 };
function duration(text) {
  const m = /^(\d+)\s?(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`bad duration ${text}`);
  return Number(m[1]) * UNITS[m[2]];
}

class Ratelimit {
  constructor({ redis, limiter, prefix = '@upstash/ratelimit' }) {
    this.redis = redis;
    this.limiter = limiter;
    this.prefix = prefix;
    // Upstash's ephemeral cache: identifiers refused until their reset.
    this.blocked = new Map();
  }

  static slidingWindow(tokens, window) {
    return { tokens, windowMs: duration(window) };
  }

  async limit(identifier) {
    const { tokens, windowMs } = this.limiter;
    const now = Date.now();
    const current = Math.floor(now / windowMs);
    const reset = (current + 1) * windowMs;
    const key = `${this.prefix}:${identifier}`;
    const until = this.blocked.get(key);
    if (until !== undefined) {
      if (until > now) return { success: false, limit: tokens, remaining: 0, reset };
      this.blocked.delete(key);
    }
    // defineCommand: EVALSHA, and EVAL when Redis answers NOSCRIPT.
    const remaining = await this.redis.upstashSlidingWindow(`${key}:${current}`,
      `${key}:${current - 1}`, tokens, now, windowMs);
    const success = remaining >= 0;
    if (!success) this.blocked.set(key, reset);
    return { success, limit: tokens, remaining: Math.max(0, remaining), reset };
  }
}

const redis = new Redis(config.redisUrl, config.redisOptions);
redis.defineCommand('upstashSlidingWindow', { numberOfKeys: 2, lua: SLIDING_WINDOW });

// Different rate limits for different endpoints
const rateLimiters = {
  default: new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(config.rateLimitDefault, '1 m'),
  }),
  aiGeneration: new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(10, '1 m'),
  }),
  upworkApi: new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(30, '1 m'),
  }),
};

function rateLimitMiddleware(type = 'default') {
  return async (req, res, next) => {
    const ip = req.ip ?? '127.0.0.1';
    const { success, limit, reset, remaining } = await rateLimiters[type].limit(ip);

    if (!success) {
      return res.status(429).set({
        'X-RateLimit-Limit': limit.toString(),
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': reset.toString(),
      }).json({
        error: 'Rate limit exceeded',
        limit,
        reset,
        remaining: 0,
      });
    }

    res.set({
      'X-RateLimit-Limit': limit.toString(),
      'X-RateLimit-Remaining': remaining.toString(),
      'X-RateLimit-Reset': reset.toString(),
    });
    next();
  };
}

module.exports = { rateLimitMiddleware, Ratelimit, SLIDING_WINDOW };

// cache-manager.js: the design's CacheManager (L1 a Map, L2 Redis with SETEX, JSON in between) and its cached() decorator.
'use strict';
const Redis = require('ioredis');
const config = require('../../config');

class CacheManager {
  constructor() {
    this.redis = new Redis(config.redisUrl, config.redisOptions);
    this.memoryCache = new Map();
  }

  async get(key) {
    // Check memory cache first (L1)
    if (this.memoryCache.has(key)) {
      return this.memoryCache.get(key);
    }

    // Check Redis cache (L2)
    const cached = await this.redis.get(key);
    if (cached) {
      const data = JSON.parse(cached);
      this.memoryCache.set(key, data);
      return data;
    }

    return null;
  }

  async set(key, value, ttl = 3600) {
    // Set in memory cache (L1)
    this.memoryCache.set(key, value);

    // Set in Redis cache (L2)
    await this.redis.setex(key, ttl, JSON.stringify(value));
  }

  async invalidate(pattern) {
    // Clear memory cache
    for (const key of this.memoryCache.keys()) {
      if (key.includes(pattern)) {
        this.memoryCache.delete(key);
      }
    }

    // Clear Redis cache
    const keys = await this.redis.keys(`*${pattern}*`);
    if (keys.length > 0) {
      await this.redis.del(...keys);
    }
  }
}

/*
 * The design's decorator builds a new CacheManager on every call, which
 * would open a Redis connection per request and start each one with an
 * empty Map: L1 could never hit.  The peer keeps one per process, the
 * reading kindest to the seed.
 */
let shared = null;
function cacheManager() {
  if (shared === null) shared = new CacheManager();
  return shared;
}

// Cache decorators for services (TypeScript's method decorator, applied by hand: Node has no decorators).
function cached(ttl = 3600) {
  return function (target, propertyName, descriptor) {
    const method = descriptor.value;

    descriptor.value = async function (...args) {
      const cacheKey = `${target.constructor.name}:${propertyName}:${JSON.stringify(args)}`;
      const cache = cacheManager();

      const hit = await cache.get(cacheKey);
      if (hit) {
        return hit;
      }

      const result = await method.apply(this, args);
      await cache.set(cacheKey, result, ttl);

      return result;
    };
  };
}

function decorate(cls, name, decorator) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
  decorator(cls.prototype, name, descriptor);
  Object.defineProperty(cls.prototype, name, descriptor);
}

module.exports = { CacheManager, cached, decorate };

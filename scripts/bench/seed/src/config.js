// config.js: the seed peer's settings, from the environment (scripts/bench-seed.sh sets them from the bench stack's app.conf).
'use strict';
const os = require('os');

function int(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, not ${JSON.stringify(v)}`);
  return n;
}

module.exports = {
  host: process.env.SEED_HOST || '127.0.0.1',
  port: int('SEED_PORT', 3000),
  // The design runs one process per core; os.availableParallelism() is Node's count of them.
  workers: int('SEED_WORKERS', os.availableParallelism()),
  // REDIS_URL as in the design; a path (the bench stack's unix socket) is accepted by ioredis too.
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  // The C stack's Redis requires AUTH: its password, when the bench gives it.
  redisOptions: process.env.REDIS_PASSWORD ? { password: process.env.REDIS_PASSWORD } : {},
  // node-postgres reads PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD itself.
  jwt: {
    alg: process.env.SEED_JWT_ALG || 'HS256',
    keyFile: process.env.SEED_JWT_KEY_FILE || '',
    issuer: process.env.SEED_JWT_ISSUER || '',
    audience: process.env.SEED_JWT_AUDIENCE || '',
    leeway: int('SEED_JWT_LEEWAY', 30),
  },
  // The design's class default is 100 per minute; the bench lifts it as it lifts ours.
  rateLimitDefault: int('SEED_RL_DEFAULT_LIMIT', 100),
  // 0 runs getJobs without its @cached decorator: the uncached rows (the design has no bypass).
  cache: int('SEED_CACHE', 1) !== 0,
  jobsTtl: int('SEED_JOBS_TTL', 60),
  // 'ours': cgi-bin/jobs.c's statements; 'plain': what the design's code would send (see job-service.js).
  sql: process.env.SEED_SQL || 'ours',
  eventsChannel: process.env.SEED_EVENTS_CHANNEL || 'upw:events',
  appUrl: process.env.NEXT_PUBLIC_APP_URL,
};

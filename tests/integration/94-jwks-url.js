// 94-jwks-url.js: RS256 keys from a JWKS URL (the fake issuer over HTTPS): a new kid picked up on first use, rotation, forged kids refetched at a bounded rate, max-age, the issuer down, one fetch for the host, the API and the broadcaster alike.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { execFileSync } = require('node:child_process');
const { ok, is, done, stack, token, sleep } = require('../node/lib.js');

const s = stack();
if (!s.FAKE_JWKS_URL) {
  console.log('1..0 # SKIP this stack checks HS256 tokens, not a JWKS URL (FAKE_JWKS=1 with RS256: the lighttpd pass)');
  process.exit(0);
}
const ca = fs.readFileSync(s.FAKE_JWKS_CA);
const ORG = 'org_jwks';
const INTERVAL = 2100;	// jwt_jwks_refetch_interval (2 s) and a little

// The fake issuer's control endpoints, over HTTPS with the stack's test CA.
function issuer(method, p, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(s.FAKE_JWKS_URL + p, { method, ca, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve(JSON.parse(b)));
    });
    req.on('error', reject);
    if (body) req.write(JSON.stringify(body));
    req.end();
  });
}
const fetches = async () => (await issuer('GET', '/__jwks/stats')).fetches;

function newKey(kid) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

let serial = 0;
// A fresh token (its own jti: never served from a worker's cache of verified tokens).
function tok(k, kid) {
  return token(s, { sub: 'user_jwks', org: ORG, key: k.privateKey, kid: kid || k.kid, claims: { jti: `j${++serial}` } });
}

function get(url, t) {
  return new Promise((resolve) => {
    const req = http.get(url, { headers: { Authorization: `Bearer ${t}` }, agent: false }, (res) => {
      let b = '';
      if (res.headers['content-type'] && res.headers['content-type'].startsWith('text/event-stream')) {
        req.destroy();
        return resolve({ status: res.statusCode, headers: res.headers, body: '' });
      }
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: b }));
    });
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
  });
}
const api = (t) => get(`${s.URL}/api/me`, t);
const events = (t) => get(`${s.URL}/api/events?topics=jobs`, t);

async function statuses(n, f) {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await f()).status);
  return out;
}
const all = (list, v) => list.length > 0 && list.every((x) => x === v);

function stackCmd(...args) {
  execFileSync(`${s.ROOT}/scripts/stack.sh`, args, {
    env: { ...process.env, VAR: s.VAR, PORT: s.PORT, WEB: s.WEB, BUILD: s.BUILD }, stdio: 'ignore',
  });
}

(async () => {
  const a = newKey(`test-a-${process.pid}`);
  const b = newKey(`test-b-${process.pid}`);
  await issuer('POST', '/__jwks/config', { maxAge: 300, down: false });
  await sleep(INTERVAL);	// whatever fetched last, the interval has passed

  // A new kid: fetched on its first use, once for the whole host.
  await issuer('POST', '/__jwks/keys', { add: [a.jwk] });
  let f0 = await fetches();
  let r = await api(tok(a));
  is(r.status, 200, 'a token of a kid the API has not seen yet: the JWKS is fetched, the token accepted');
  is(await fetches() - f0, 1, 'one fetch');
  ok(all(await statuses(8, () => api(tok(a))), 200), 'every worker accepts it then');
  is(await fetches() - f0, 1, 'without fetching again: they share the fetched set');
  ok(all(await statuses(2, () => events(tok(a))), 200), 'the broadcaster accepts it too (/api/events)');
  is(await fetches() - f0, 1, 'from the same copy');

  // Forged kids: refused, and they cannot make the host hammer the issuer.
  f0 = await fetches();
  const forged = await statuses(20, () => api(tok(a, `forged-${crypto.randomBytes(6).toString('hex')}`)));
  ok(all(forged, 401), '20 tokens naming unknown kids: 401 each', forged);
  ok(await fetches() - f0 <= 1, `at most one fetch for them within the refetch interval (${await fetches() - f0})`);
  r = await api(tok(a, 'forged-x'));
  is(JSON.parse(r.body).details, 'unknown signing key', 'the 401 says why');

  // Rotation: B published, A removed.
  await issuer('POST', '/__jwks/keys', { add: [b.jwk], remove: [a.kid] });
  await sleep(INTERVAL);
  f0 = await fetches();
  const tr = Date.now();
  is((await api(tok(b))).status, 200, 'the rotated-in kid works on first use');
  is(await fetches() - f0, 1, 'after one fetch');
  await sleep(1100);	// each process looks at the shared copy once a second
  const old = await statuses(8, () => api(tok(a)));
  ok(all(old, 401), 'the removed kid stops working in every worker', old);
  ok(all(await statuses(2, () => events(tok(a))), 401), 'and in the broadcaster');
  ok(all(await statuses(8, () => api(tok(b))), 200), 'the new one works everywhere');
  // The removed kid is unknown now: it may look again, once per interval.
  const allowed = 1 + Math.floor((Date.now() - tr) / 2000);
  ok(await fetches() - f0 <= allowed, `${await fetches() - f0} fetches in ${Date.now() - tr} ms: at most one per interval (${allowed})`);

  // max-age: the set is kept as long as the issuer says, then fetched again.
  await issuer('POST', '/__jwks/config', { maxAge: 2 });
  await sleep(INTERVAL);
  await api(tok(b, 'forged-learn-max-age'));	// a fetch now brings max-age=2
  f0 = await fetches();
  await api(tok(b));
  is(await fetches() - f0, 0, 'within max-age: no fetch');
  await sleep(2500);
  is((await api(tok(b))).status, 200, 'past max-age: served');
  is(await fetches() - f0, 1, 'after one fetch');
  await statuses(5, () => api(tok(b)));
  is(await fetches() - f0, 1, 'and none more while the new copy is fresh');
  await sleep(2500);
  await api(tok(b));
  is(await fetches() - f0, 2, 'past max-age again: one more');

  // The issuer down: the last good set is kept, and it is asked at a bounded rate.
  await issuer('POST', '/__jwks/config', { down: true });
  const refused0 = (await issuer('GET', '/__jwks/stats')).refused;
  await sleep(2500);
  const t0 = Date.now();
  const during = [];
  while (Date.now() - t0 < 4000) {
    during.push((await api(tok(b))).status);
    await sleep(200);
  }
  ok(all(during, 200), `the issuer down: ${during.length} requests over 4 s all served with the last good set`, during);
  const refused = (await issuer('GET', '/__jwks/stats')).refused - refused0;
  ok(refused >= 1 && refused <= 4, `the issuer asked ${refused} times in 4 s (once per interval at most)`);
  is((await api(tok(b, 'forged-while-down'))).status, 401, 'an unknown kid while it is down: 401');
  await issuer('POST', '/__jwks/config', { down: false, maxAge: 300 });
  await sleep(INTERVAL);
  f0 = await fetches();
  is((await api(tok(b))).status, 200, 'the issuer back: served');
  is(await fetches() - f0, 1, 'the set fetched again once');

  // Restarts: the workers and the broadcaster start from the shared copy.
  f0 = await fetches();
  stackCmd('restart-workers');
  stackCmd('push-stop');
  stackCmd('push-start');
  ok(all(await statuses(8, () => api(tok(b))), 200), 'restarted workers accept the token');
  ok(all(await statuses(2, () => events(tok(b))), 200), 'so does the restarted broadcaster');
  is(await fetches() - f0, 0, 'and nobody fetched: the copy is fresh');

  // No key at all (no copy, the issuer down at start): 503, not 401, until it answers.
  await issuer('POST', '/__jwks/config', { down: true });
  for (const f of fs.readdirSync(`${s.RT}/state`)) if (f.startsWith('jwks-')) fs.unlinkSync(`${s.RT}/state/${f}`);
  stackCmd('restart-workers');
  r = await api(tok(b));
  is(r.status, 503, 'no key could be had: 503');
  ok(r.headers['retry-after'] !== undefined && JSON.parse(r.body).code === 'service_unavailable',
    'with Retry-After and the API\'s error body', r.body);
  await issuer('POST', '/__jwks/config', { down: false });
  await sleep(INTERVAL);
  is((await api(tok(b))).status, 200, 'the issuer back: served again');
  stackCmd('restart-workers');	// every worker from the copy just written
  await issuer('POST', '/__jwks/keys', { remove: [b.kid] });
  done();
})().catch((e) => { ok(false, `exception: ${e.stack}`); done(); });

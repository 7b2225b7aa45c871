// 35-push-cors.js: CORS on the broadcaster, through the web server: Access-Control-Allow-Origin echoed only for cors_origins (with credentials and Vary: Origin) on polling and event-stream responses, preflights, other origins refused with 403; HEAD and OPTIONS wherever GET works.
'use strict';

const http = require('node:http');
const path = require('node:path');
const { ok, is, done, stack, token } = require(path.join(__dirname, '../node/lib.js'));
const { EIO, request, Session } = require(path.join(__dirname, '../node/eio.js'));
const WebSocket = require(path.join(__dirname, '../node/node_modules/ws'));

const s = stack();
const T = 'org_push_cors';
// The stack allows its own origins (scripts/stack.sh sets cors_origins).
const OWN = `http://127.0.0.1:${s.PORT}`;
const LOCALHOST = `http://localhost:${s.PORT}`;
const EVIL = 'http://evil.example';
const json = (r) => { try { return JSON.parse(r.body); } catch { return null; } };
const varyOrigin = (r) => /(^|,)\s*origin\s*(,|$)/i.test(r.headers.vary || '');

// The head of an event stream, then the connection is dropped.
function streamHead(headers) {
  return new Promise((resolve) => {
    const req = http.get(`${s.URL}/api/events`, { headers, agent: false }, (res) => {
      resolve({ status: res.statusCode, headers: res.headers });
      req.destroy();
    });
    req.on('error', (e) => resolve({ status: 0, headers: {}, error: e.message }));
  });
}

async function main() {
  const tok = token(s, { sub: 'user_cors', org: T });

  // An allowed origin is echoed, with credentials and Vary: Origin.
  for (const origin of [OWN, LOCALHOST]) {
    const r = await request(s.URL, 'GET', EIO, { headers: { Origin: origin } });
    is(r.status, 200, `polling handshake from ${origin}: 200`);
    is(r.headers['access-control-allow-origin'], origin, 'Access-Control-Allow-Origin echoes it');
    is(r.headers['access-control-allow-credentials'], 'true', 'Access-Control-Allow-Credentials: true');
    ok(varyOrigin(r), 'Vary: Origin', r.headers.vary);
  }
  let r = await request(s.URL, 'GET', EIO);
  ok(r.status === 200 && r.headers['access-control-allow-origin'] === undefined && varyOrigin(r),
    'no Origin: no Access-Control-Allow-Origin, still Vary: Origin');

  // Every response of a session carries it: the POST's "ok" and a GET answered later.
  const a = new Session(s.URL);
  await a.handshake();
  r = await a.post(`40${JSON.stringify({ token: tok })}`, { Origin: OWN });
  ok(r.status === 200 && r.headers['access-control-allow-origin'] === OWN, 'a POST from the origin: "ok" with Access-Control-Allow-Origin');
  r = await a.get({ headers: { Origin: OWN } });
  ok(r.status === 200 && r.body.startsWith('40') && r.headers['access-control-allow-origin'] === OWN,
    'the GET that carries the CONNECT answer too', r.body);
  const held = a.get({ headers: { Origin: LOCALHOST } });
  r = await held;	// answered by the next ping
  ok(r.status === 200 && r.headers['access-control-allow-origin'] === LOCALHOST,
    'a GET held and answered later carries its own request\'s origin', JSON.stringify(r.headers));

  // Another origin: 403 without CORS headers, for the handshake and for a known sid.
  for (const [what, origin] of [['another origin', EVIL], ['another port', 'http://127.0.0.1:1'], ['"null"', 'null'],
    ['an origin with a path', `${OWN}/`]]) {
    r = await request(s.URL, 'GET', EIO, { headers: { Origin: origin } });
    is([r.status, json(r)], [403, { code: 4, message: 'Forbidden' }], `${what}: 403 with Engine.IO's Forbidden`);
    ok(r.headers['access-control-allow-origin'] === undefined, `${what}: no Access-Control-Allow-Origin`);
  }
  r = await a.post('3', { Origin: EVIL });
  is(r.status, 403, 'a POST to an existing session from another origin: 403');
  r = await request(s.URL, 'GET', `${EIO}&sid=${a.sid}`, { headers: { Origin: EVIL } });
  is(r.status, 403, 'a GET of an existing session from another origin: 403 (its events are not readable cross-origin)');
  const evilWs = new WebSocket(`${s.URL.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { origin: EVIL });
  const wsStatus = await new Promise((resolve) => {
    evilWs.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    evilWs.on('open', () => { resolve(101); evilWs.close(); });
    evilWs.on('error', () => resolve(0));
  });
  is(wsStatus, 403, 'a WebSocket from another origin: 403');
  const ownWs = new WebSocket(`${s.URL.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { origin: OWN });
  const ownStatus = await new Promise((resolve) => {
    ownWs.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    ownWs.on('open', () => { resolve(101); ownWs.close(); });
    ownWs.on('error', () => resolve(0));
  });
  is(ownStatus, 101, 'a WebSocket from an allowed origin: 101');

  // Preflights.
  r = await request(s.URL, 'OPTIONS', `${EIO}&sid=${a.sid}`, { headers: { Origin: OWN,
    'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
  is(r.status, 204, 'preflight of a polling POST: 204');
  is(r.headers['access-control-allow-origin'], OWN, 'with Access-Control-Allow-Origin');
  is(r.headers['access-control-allow-credentials'], 'true', 'and credentials');
  ok(/\bPOST\b/.test(r.headers['access-control-allow-methods'] || '') && /\bGET\b/.test(r.headers['access-control-allow-methods']),
    'Access-Control-Allow-Methods: GET and POST', r.headers['access-control-allow-methods']);
  is((r.headers['access-control-allow-headers'] || '').split(/,\s*/).map((h) => h.toLowerCase()).sort(),
    ['authorization', 'content-type', 'last-event-id'], 'Access-Control-Allow-Headers: what the broadcaster reads');
  ok(Number(r.headers['access-control-max-age']) > 0, `Access-Control-Max-Age: ${r.headers['access-control-max-age']}`);
  ok(varyOrigin(r), 'Vary: Origin');
  r = await request(s.URL, 'OPTIONS', '/api/events', { headers: { Origin: LOCALHOST,
    'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization,last-event-id' } });
  ok(r.status === 204 && r.headers['access-control-allow-origin'] === LOCALHOST, 'preflight of the event stream: 204, allowed');
  is(r.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS', 'the stream allows GET, HEAD, OPTIONS');
  r = await request(s.URL, 'OPTIONS', '/api/events', { headers: { Origin: EVIL, 'Access-Control-Request-Method': 'GET' } });
  ok(r.status === 403 && r.headers['access-control-allow-origin'] === undefined, 'a preflight from another origin: 403, no CORS headers');
  r = await request(s.URL, 'OPTIONS', '/api/events');
  ok(r.status === 204 && /GET/.test(r.headers.allow || ''), 'OPTIONS without Origin: 204 with Allow', r.headers.allow);

  // The event stream: cross-origin with the bearer token or the __session cookie (credentials).
  r = await streamHead({ Origin: OWN, Authorization: `Bearer ${tok}` });
  ok(r.status === 200 && /text\/event-stream/.test(r.headers['content-type']), 'the event stream from an allowed origin: 200');
  ok(r.headers['access-control-allow-origin'] === OWN && r.headers['access-control-allow-credentials'] === 'true' && varyOrigin(r),
    'with Access-Control-Allow-Origin, credentials and Vary: Origin');
  r = await streamHead({ Origin: LOCALHOST, Cookie: `__session=${tok}` });
  ok(r.status === 200 && r.headers['access-control-allow-credentials'] === 'true', 'the __session cookie case: 200 with credentials');
  r = await request(s.URL, 'GET', '/api/events', { headers: { Origin: EVIL, Authorization: `Bearer ${tok}` } });
  ok(r.status === 403 && json(r) && json(r).code === 'forbidden' && r.headers['access-control-allow-origin'] === undefined,
    'the event stream from another origin: 403 forbidden, no CORS headers', r.body);

  // HEAD wherever GET works: the same status and headers, no body.
  r = await request(s.URL, 'HEAD', '/api/events', { headers: { Authorization: `Bearer ${tok}` } });
  ok(r.status === 200 && /text\/event-stream/.test(r.headers['content-type']) && r.body === '',
    'HEAD of the event stream: 200, its content type, no body, and it ends');
  r = await request(s.URL, 'HEAD', '/api/events');
  ok(r.status === 401 && r.body === '' && /Bearer/.test(r.headers['www-authenticate'] || ''), 'HEAD without a token: 401, no body');
  r = await request(s.URL, 'PUT', '/api/events', { body: '' });
  ok(r.status === 405 && r.headers.allow === 'GET, HEAD, OPTIONS', 'PUT: 405, Allow: GET, HEAD, OPTIONS', r.headers.allow);
}

setTimeout(() => {
  ok(false, 'the test did not finish within 60 s');
  done();
}, 60000).unref();

main()
  .catch((e) => ok(false, 'unexpected error', e.stack))
  .finally(() => done());

// 36-push-limits.js: a polling session is a client like a WebSocket: it holds one of push_max_clients' slots (while its requests still get through at the limit), obeys push_output_max, and gets a close packet when the broadcaster stops; on a broadcaster of the test's own.
'use strict';

const path = require('node:path');
const { ok, is, done, stack, token, sleep } = require(path.join(__dirname, '../node/lib.js'));
const { EIO, request, Session, publishAsync, spawnBroadcaster } = require(path.join(__dirname, '../node/eio.js'));
const WebSocket = require(path.join(__dirname, '../node/node_modules/ws'));

const s = stack();
const T = 'org_push_limits';
const tok = (sub) => token(s, { sub, org: T });
const json = (r) => { try { return JSON.parse(r.body); } catch { return null; } };
let b = null;

function wsStatus(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
    ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    ws.on('open', () => { resolve(101); ws.close(); });
    ws.on('error', () => resolve(0));
  });
}

async function main() {
  // Pings far apart, so that only the output cap can close a session here.
  b = await spawnBroadcaster(s, { APP_PUSH_MAX_CLIENTS: '2', APP_PUSH_OUTPUT_MAX: '16384',
    APP_PUSH_PING_INTERVAL_MS: '60000' });
  ok(b.port > 0, `a broadcaster with push_max_clients 2 and push_output_max 16384 on port ${b.port}`);

  // Two polling sessions fill it.
  const a = new Session(b.url), c = new Session(b.url);
  await a.handshake();
  await c.handshake();
  ok(a.sid && c.sid, 'two polling sessions open');
  await a.connect(tok('user_lim_a'));
  await c.connect(tok('user_lim_c'));
  let r = await request(b.url, 'GET', EIO);
  is(r.status, 503, 'a third polling handshake: 503');
  ok(json(r) && json(r).code === 'service_unavailable' && r.headers['retry-after'] === '5',
    'with the JSON error and Retry-After, as for WebSockets', r.body);
  is(await wsStatus(b.url), 503, 'a WebSocket: 503 too (the sessions hold the slots, not connections)');
  r = await request(b.url, 'GET', '/api/events', { headers: { Authorization: `Bearer ${tok('user_lim_x')}` } });
  is(r.status, 503, 'an event stream: 503');

  // The sessions themselves go on: their GETs and POSTs are not new clients.
  r = await a.post('421["subscribe:jobs"]');
  is(r.body, 'ok', 'at the limit, a session\'s POST still goes through');
  ok(await a.until((p) => p.startsWith('431')) !== null, 'and its GET');
  await c.post('421["subscribe:jobs"]');
  await c.until((p) => p.startsWith('431'));

  // push_output_max: a session that stops polling is closed when its queue passes the cap; one that polls is not.
  const pad = 'x'.repeat(6000);
  const reader = (async () => {
    const seen = [];
    while (seen.length < 3) {
      const p = await a.until((x) => x.startsWith('42["job:new"'), 8000);
      if (p === null || typeof p !== 'string') break;
      seen.push(JSON.parse(p.slice(2))[1].n);
    }
    return seen;
  })();
  const alive = async (x) => (await request(b.url, 'HEAD', `${EIO}&sid=${x.sid}`)).status;
  await publishAsync(s, T, 'job:new', { n: 1, pad });
  await publishAsync(s, T, 'job:new', { n: 2, pad });
  await sleep(300);
  is(await alive(c), 200, 'a session that does not poll, 12 KB queued: still open (HEAD, which takes nothing)');
  await publishAsync(s, T, 'job:new', { n: 3, pad });
  await sleep(300);
  is(await alive(c), 400, 'past push_output_max (18 KB queued): it is closed');
  is(await reader, [1, 2, 3], 'a session that polls received the three events of 6 KB');
  r = await c.get();
  is([r.status, json(r)], [400, { code: 1, message: 'Session ID unknown' }], 'the closed one\'s sid is unknown');

  // Its slot is free again.
  // (A closed session's slot is released when its last request ends,
  // which a loaded machine may take a moment to see: a second at most.)
  const d = new Session(b.url);
  for (let i = 0; i < 10; i++) {
    r = await d.handshake();
    if (r.status === 200) break;
    await sleep(100);
  }
  is(r.status, 200, 'a new session takes the freed slot');

  // SIGTERM: a held GET gets the close packet; the broadcaster exits cleanly.
  const held = a.get();
  await sleep(200);
  const code = b.stop();
  r = await held;
  is([r.status, r.body], [200, '1'], 'on SIGTERM a held GET gets the close packet "1"');
  is(await code, 0, 'and the broadcaster exits with 0');
  b = null;
}

main()
  .catch((e) => ok(false, 'unexpected error', e.stack))
  .finally(async () => {
    if (b) await b.stop();
    done();
  });

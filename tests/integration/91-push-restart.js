// 91-push-restart.js: the broadcaster stopped and started under its clients: close frames on SIGTERM, socket.io-client reconnects (WebSocket only, default transports with the upgrade, and long-polling only), the connection limit, Redis restarted while clients stay.
'use strict';

const http = require('node:http');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ok, is, done, stack, token, publish, sleep, once } =
  require(path.join(__dirname, '../node/lib.js'));
const { io } = require(path.join(__dirname, '../node/node_modules/socket.io-client'));
const WebSocket = require(path.join(__dirname, '../node/node_modules/ws'));

const s = stack();
const T = 'org_push_restart';
const tok = token(s, { sub: 'user_restart', org: T });

function stackCmd(cmd, env = {}) {
  execFileSync(path.join(s.ROOT, 'scripts/stack.sh'), [cmd], {
    env: { ...process.env, VAR: s.VAR, PORT: s.PORT, WEB: s.WEB, BUILD: s.BUILD, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

// Wait until cond() holds, polling every 20 ms.
async function until(cond, ms = 10000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (cond()) return true;
    await sleep(20);
  }
  return false;
}

// A raw HTTP exchange on the broadcaster's port: { status, body }.
function get(p) {
  return new Promise((resolve) => {
    http.get(`${s.PUSH_URL}${p}`, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', (e) => resolve({ status: 0, body: e.message }));
  });
}

async function main() {
  // A Socket.IO client that subscribes again on every (re)connection.
  const got = [];
  let connects = 0, disconnectReason = null;
  const sock = io(s.URL, {
    transports: ['websocket'], auth: { token: tok }, forceNew: true,
    reconnectionDelay: 100, reconnectionDelayMax: 500, randomizationFactor: 0,
  });
  sock.on('connect', () => {
    connects++;
    sock.emit('subscribe:jobs');
  });
  sock.on('disconnect', (reason) => { disconnectReason = reason; });
  sock.on('job:new', (data) => got.push(data));
  await once(sock, 'connect');
  publish(s, T, 'job:new', { n: 1 });
  ok(await until(() => got.some((d) => d.n === 1)), 'subscribed client receives before the restart');

  // A raw WebSocket sees the close code; an event stream sees its end.
  const raw = new WebSocket(`${s.PUSH_URL.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  let closeCode = null;
  raw.on('message', (m) => { if (String(m).startsWith('0')) raw.send(`40${JSON.stringify({ token: tok })}`); });
  raw.on('close', (code) => { closeCode = code; });
  let sseEnded = false;
  const sse = http.get(`${s.URL}/api/events`, { headers: { Authorization: `Bearer ${tok}` } }, (res) => {
    res.on('data', () => {});
    res.on('end', () => { sseEnded = true; });
    res.on('error', () => { sseEnded = true; });
  });
  sse.on('error', () => { sseEnded = true; });
  await sleep(300);

  // SIGTERM: close frames, streams end, the process exits.
  stackCmd('push-stop');
  ok(await until(() => closeCode !== null, 5000), 'raw WebSocket closed on SIGTERM');
  is(closeCode, 1001, 'with close code 1001 (going away)');
  ok(await until(() => disconnectReason !== null, 5000), 'socket.io-client saw the disconnect');
  ok(await until(() => sseEnded, 5000), 'the event stream ended');
  const down = await get('/api/events');
  is(down.status, 0, 'the broadcaster is down');

  // Started again with a connection limit of 3: the client reconnects by itself.
  stackCmd('push-start', { APP_PUSH_MAX_CLIENTS: '3' });
  ok(await until(() => connects === 2, 10000), 'socket.io-client reconnected automatically');
  publish(s, T, 'job:new', { n: 2 });
  ok(await until(() => got.some((d) => d.n === 2)), 'and receives again after re-subscribing');

  // The limit: two idle connections fill it; the next is refused with a clear 503.
  const net = require('node:net');
  const idle = [net.connect(s.PUSH_PORT, '127.0.0.1'), net.connect(s.PUSH_PORT, '127.0.0.1')];
  await Promise.all(idle.map((c) => once(c, 'connect')));
  await sleep(100);
  const refused = await get('/api/events');
  is(refused.status, 503, 'past push_max_clients: 503');
  ok(/Too many connections/.test(refused.body) && /"code":"service_unavailable"/.test(refused.body),
    'with a JSON error saying why', refused.body);
  for (const c of idle) c.destroy();
  ok(sock.connected, 'the connected client was not disturbed');

  // socket.io-client with its default transports (polling, then the
  // upgrade) and with long-polling only: both reconnect by themselves too.
  const others = {};
  for (const [name, opts] of [['default transports', {}], ['polling only', { transports: ['polling'] }]]) {
    const o = { got: [], connects: 0 };
    o.sock = io(s.URL, { auth: { token: tok }, forceNew: true, reconnectionDelay: 100,
      reconnectionDelayMax: 500, randomizationFactor: 0, ...opts });
    o.sock.on('connect', () => {
      o.connects++;
      o.subscribed = false;
      o.sock.timeout(8000).emit('subscribe:jobs', (err) => { o.subscribed = !err; });
    });
    o.sock.on('job:new', (data) => o.got.push(data));
    o.log = [];
    o.sock.on('disconnect', (reason) => o.log.push(`disconnect ${reason}`));
    o.sock.on('connect_error', (e) => o.log.push(`connect_error ${e.message}`));
    others[name] = o;
  }
  ok(await until(() => Object.values(others).every((o) => o.connects === 1 && o.subscribed)),
    'a default and a polling-only client connect and subscribe',
    JSON.stringify(Object.values(others).map((o) => [o.connects, o.subscribed, o.log])));
  publish(s, T, 'job:new', { n: 3 });
  ok(await until(() => Object.values(others).every((o) => o.got.some((d) => d.n === 3))), 'both receive',
    JSON.stringify(Object.values(others).map((o) => [o.connects, o.sock.connected, o.got, o.log])));
  ok(await until(() => others['default transports'].sock.io.engine.transport.name === 'websocket'),
    'the default client upgraded to WebSocket');

  // Restarted without the limit for the rest of the suite.
  stackCmd('push-stop');
  stackCmd('push-start');
  ok(await until(() => connects === 3, 10000), 'reconnected after the second restart');
  for (const [name, o] of Object.entries(others))
    ok(await until(() => o.connects >= 2 && o.sock.connected && o.subscribed, 15000),
      `${name}: socket.io-client reconnected after the restart, and subscribed again`,
      `${o.connects} connects; ${o.log.join(', ')}`);
  publish(s, T, 'job:new', { n: 4 });
  for (const [name, o] of Object.entries(others))
    ok(await until(() => o.got.some((d) => d.n === 4)), `${name}: and receives again`);
  is(others['polling only'].sock.io.engine.transport.name, 'polling', 'polling only: still on long-polling');
  ok(await until(() => others['default transports'].sock.io.engine.transport.name === 'websocket'),
    'default transports: upgraded again');
  for (const o of Object.values(others)) o.sock.close();

  // Redis stopped and started: the broadcaster reconnects, the client stays connected.
  const before = connects;
  stackCmd('redis-stop');
  await sleep(500);
  ok(sock.connected, 'Redis down: the client stays connected');
  stackCmd('redis-start');
  let n = 100, received = false;
  const t0 = Date.now();
  while (!received && Date.now() - t0 < 15000) {
    publish(s, T, 'job:new', { n });
    received = await until(() => got.some((d) => d.n === n), 500);
    n++;
  }
  ok(received, `after Redis came back the broadcaster resubscribed (${Date.now() - t0} ms)`);
  is(connects, before, 'without the client reconnecting');

  sock.close();
  raw.terminate();
  done();
}

main().catch((e) => {
  ok(false, `unexpected error: ${e.message}`, e.stack);
  done();
});

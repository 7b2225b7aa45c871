// 32-push-expiry.js: a subscription lasts as long as its token: socket.io-client (over WebSocket and over long-polling) is disconnected when exp + leeway passes and reconnects with a fresh token from its auth callback; a static expired token is refused; an event stream ends; nothing reaches an expired connection.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { ok, is, done, stack, token, publish, sleep, once, recorder } =
  require(path.join(__dirname, '../node/lib.js'));
const { io } = require(path.join(__dirname, '../node/node_modules/socket.io-client'));

const s = stack();
const T = 'org_push_exp';	// this test's tenant
const conf = fs.readFileSync(path.join(s.RT, 'app.conf'), 'utf8');
const leeway = Number((/^jwt_leeway\s*=\s*(\d+)/m.exec(conf) || [0, 30])[1]);
const sockets = [];

// exp for a token that the server stops accepting sec seconds from now.
const runsOut = (sec) => Math.floor(Date.now() / 1000) - leeway + sec;

async function waitFor(got, n, ms = 5000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (got.some((e) => e.name === 'job:new' && e.data && e.data.n === n)) return true;
    await sleep(20);
  }
  return false;
}

async function main() {
  // 1. auth as a callback, as socket.io documents for refreshing tokens:
  // the first token runs out in 3 s, every later one is fresh.
  let calls = 0;
  const a = io(s.URL, {
    transports: ['websocket'], forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 300,
    auth: (cb) => {
      calls++;
      cb({ token: token(s, { sub: 'user_exp_a', org: T, claims: calls === 1 ? { exp: runsOut(3) } : {} }) });
    },
  });
  sockets.push(a);
  const gotA = recorder(a);
  a.on('connect', () => a.emit('subscribe:jobs'));
  await once(a, 'connect');
  const t0 = Date.now();
  const reason = await once(a, 'disconnect', 10000).catch(() => null);
  const after = (Date.now() - t0) / 1000;
  ok(reason !== null, `the broadcaster drops the connection when the token runs out (${after.toFixed(1)} s, ${reason})`);
  ok(after >= 1.5 && after < 8, 'not before the token runs out, and within a few seconds after');
  await once(a, 'connect', 5000).catch(() => null);
  ok(a.connected && calls === 2, 'socket.io-client reconnects, with a fresh token from its auth callback');
  await sleep(300);	// the resubscription from the connect handler
  publish(s, T, 'job:new', { n: 1 });
  ok(await waitFor(gotA, 1), 'and receives events again');

  // 2. A static token: the reconnect after expiry is refused.
  const b = io(s.URL, {
    transports: ['websocket'], forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 300,
    auth: { token: token(s, { sub: 'user_exp_b', org: T, claims: { exp: runsOut(3) } }) },
  });
  sockets.push(b);
  const gotB = recorder(b);
  b.on('connect', () => b.emit('subscribe:jobs'));
  await once(b, 'connect');
  await sleep(200);
  publish(s, T, 'job:new', { n: 2 });
  ok(await waitFor(gotB, 2), 'a subscriber with a static token hears its tenant while the token is good');
  await once(b, 'disconnect', 10000).catch(() => null);
  ok(!b.connected, 'it is disconnected when the token runs out');
  const err = await once(b, 'connect_error', 5000).catch(() => null);
  is(err && err.message, 'Authentication failed', 'its reconnect with the same token is refused');
  b.disconnect();
  publish(s, T, 'job:new', { n: 3 });
  await sleep(500);
  ok(!gotB.some((e) => e.data && e.data.n === 3), 'and it hears nothing more');

  // 2b. Over long-polling only: the same, through the close packet.
  let pcalls = 0;
  const pl = io(s.URL, {
    transports: ['polling'], forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 300,
    auth: (cb) => {
      pcalls++;
      cb({ token: token(s, { sub: 'user_exp_p', org: T, claims: pcalls === 1 ? { exp: runsOut(3) } : {} }) });
    },
  });
  sockets.push(pl);
  const gotP = recorder(pl);
  pl.on('connect', () => pl.emit('subscribe:jobs'));
  await once(pl, 'connect');
  const tp = Date.now();
  const preason = await once(pl, 'disconnect', 10000).catch(() => null);
  const pafter = (Date.now() - tp) / 1000;
  ok(preason !== null, `polling: the session is closed when the token runs out (${pafter.toFixed(1)} s, ${preason})`);
  ok(pafter >= 1.5 && pafter < 8, 'polling: not before, and within a few seconds after');
  await once(pl, 'connect', 5000).catch(() => null);
  ok(pl.connected && pcalls === 2 && pl.io.engine.transport.name === 'polling',
    'polling: socket.io-client reconnects with a fresh token');
  await sleep(300);
  publish(s, T, 'job:new', { n: 4 });
  ok(await waitFor(gotP, 4), 'polling: and receives events again');

  // 3. An event stream with a token that runs out in 3 s ends.
  const tok = token(s, { sub: 'user_exp_c', org: T, claims: { exp: runsOut(3) } });
  const sse = await new Promise((resolve) => {
    const t1 = Date.now();
    let body = '';
    const req = http.get(`${s.URL}/api/events?topics=jobs`, { headers: { Authorization: `Bearer ${tok}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      // 'close' also comes when the watchdog below destroys the request.
      res.on('close', () => resolve({ status: res.statusCode, body, secs: (Date.now() - t1) / 1000 }));
    });
    req.on('error', () => resolve({ status: 0, body, secs: (Date.now() - t1) / 1000 }));
    setTimeout(() => { req.destroy(); }, 15000);
  });
  is(sse.status, 200, 'the event stream opens');
  ok(sse.secs >= 1.5 && sse.secs < 8, `and ends when its token runs out (${sse.secs.toFixed(1)} s)`);
  ok(/: token expired\n\n$/.test(sse.body), 'with a comment saying why', sse.body.slice(-200));
}

// However the broadcaster misbehaves, the test ends (sockets that never
// drop would keep node running).
setTimeout(() => {
  ok(false, 'the test did not finish within 90 s');
  for (const sock of sockets) sock.close();
  done();
}, 90000).unref();

main()
  .catch((e) => ok(false, 'unexpected error', e.stack))
  .finally(() => {
    for (const sock of sockets) sock.close();
    done();
  });

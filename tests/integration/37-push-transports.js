// 37-push-transports.js: the stock socket.io-client with its default options (long-polling first, then the upgrade to WebSocket) and with transports: ['polling'] only, through the web server: auth in CONNECT, acks, job:new to subscribers, proposal:updated to its user only, isolation.
'use strict';

const path = require('node:path');
const { ok, is, done, stack, token, sleep, once } = require(path.join(__dirname, '../node/lib.js'));
const { io } = require(path.join(__dirname, '../node/node_modules/socket.io-client'));
const { publishAsync } = require(path.join(__dirname, '../node/eio.js'));

const s = stack();
const sockets = [];

function recorder(sock) {
  const got = [];
  sock.onAny((name, data) => got.push({ name, data }));
  return got;
}

async function waitFor(got, name, n, ms = 6000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (got.some((e) => e.name === name && e.data && e.data.n === n)) return true;
    await sleep(20);
  }
  return false;
}

// One run of the scenario with socket.io-client's options opts (tenants of its own).
async function scenario(label, opts, upgrades) {
  const T = `org_push_tr_${label.replace(/\W/g, '')}`;
  const connect = (sub, org, tok) => {
    const sock = io(s.URL, { auth: { token: tok === undefined ? token(s, { sub, org }) : tok },
      forceNew: true, reconnection: false, timeout: 8000, ...opts });
    sockets.push(sock);
    return sock;
  };

  const a = connect('user_tr_a', T);
  let why = '';
  a.on('disconnect', (reason, details) => { why = `${reason} ${details ? details.message || JSON.stringify(details) : ''}`; });
  const transports = [];
  a.io.on('open', () => {
    transports.push(a.io.engine.transport.name);
    a.io.engine.on('upgrade', (t) => transports.push(t.name));
  });
  await once(a, 'connect', 10000);
  ok(a.connected, `${label}: connected`);
  is(transports[0], 'polling', `${label}: the session opened over long-polling`);
  if (upgrades) {
    const t0 = Date.now();
    while (Date.now() - t0 < 5000 && a.io.engine.transport.name !== 'websocket') await sleep(20);
    is(a.io.engine.transport.name, 'websocket', `${label}: and upgraded to WebSocket (${transports.join(' -> ')})`);
  } else {
    await sleep(1500);
    is(transports, ['polling'], `${label}: and stays on long-polling`);
  }

  // Auth is the CONNECT packet's, whatever the transport.
  const bad = connect('user_tr_a', T, token(s, { sub: 'user_tr_a', org: T }).replace(/.....$/, 'AAAAA'));
  const err = await once(bad, 'connect_error', 8000).catch((e) => e);
  is(err && err.message, 'Authentication failed', `${label}: a forged token gets connect_error "Authentication failed"`);
  bad.close();

  const gotA = recorder(a);
  is(await a.timeout(5000).emitWithAck('subscribe:jobs'), { ok: true, room: `jobs:${T}` }, `${label}: subscribe:jobs acknowledged`);
  await a.timeout(5000).emitWithAck('subscribe:proposals');
  const b = connect('user_tr_b', T);
  const o = connect('user_tr_a', `${T}_other`);
  await Promise.all([once(b, 'connect', 10000), once(o, 'connect', 10000)]);
  const gotB = recorder(b), gotO = recorder(o);
  await b.timeout(5000).emitWithAck('subscribe:proposals');
  await o.timeout(5000).emitWithAck('subscribe:jobs');

  const big = 'y'.repeat(30000);
  await publishAsync(s, T, 'job:new', { n: 1, title: 'Transport test', big });
  ok(await waitFor(gotA, 'job:new', 1), `${label}: job:new reached the subscriber`);
  const ev = gotA.find((e) => e.name === 'job:new');
  ok(ev && ev.data.title === 'Transport test' && ev.data.big === big, `${label}: with its data intact (30 KB)`);
  await publishAsync(s, T, 'proposal:updated', { n: 2, status: 'viewed' }, 'user_tr_b');
  await publishAsync(s, T, 'proposal:updated', { n: 3 }, 'user_tr_a');
  ok(await waitFor(gotB, 'proposal:updated', 2), `${label}: proposal:updated reached its user`);
  ok(await waitFor(gotA, 'proposal:updated', 3), `${label}: and the other user's own`);
  ok(!gotA.some((e) => e.data && e.data.n === 2) && !gotB.some((e) => e.data && e.data.n === 3),
    `${label}: no user hears another's proposal:updated`);
  ok(!gotO.some((e) => e.data && [1, 2, 3].includes(e.data.n)), `${label}: another tenant hears nothing of it`);
  ok(!gotB.some((e) => e.name === 'job:new'), `${label}: a client not subscribed to jobs gets no job:new`);

  // Many events in a row arrive in order (several packets per GET over polling).
  for (let n = 10; n < 20; n++) await publishAsync(s, T, 'job:new', { n });
  ok(await waitFor(gotA, 'job:new', 19), `${label}: ten events in a row arrive`, `connected ${a.connected} (${why}), ${JSON.stringify(gotA.map((e) => [e.name, e.data && e.data.n]))}`);
  const order = gotA.filter((e) => e.name === 'job:new' && e.data.n >= 10).map((e) => e.data.n);
  is(order, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19], `${label}: in order, once each`);

  a.disconnect();
  ok(!a.connected, `${label}: client-side disconnect`);
  for (const x of [b, o]) x.close();
}

async function main() {
  await scenario('default transports', {}, true);
  await scenario('polling only', { transports: ['polling'] }, false);
}

setTimeout(() => {
  ok(false, 'the test did not finish within 120 s');
  for (const sock of sockets) sock.close();
  done();
}, 120000).unref();

main()
  .catch((e) => ok(false, 'unexpected error', e.stack))
  .finally(() => {
    for (const sock of sockets) sock.close();
    done();
  });

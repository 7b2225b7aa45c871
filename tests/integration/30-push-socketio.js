// 30-push-socketio.js: the official socket.io-client through the web server: auth, subscriptions, job:new to the tenant, proposal:updated to its user only, isolation.
'use strict';

const path = require('node:path');
const { ok, is, done, stack, token, publish, sleep, once, sioConnect, closeSockets, recorder } =
  require(path.join(__dirname, '../node/lib.js'));

const s = stack();
const T = 'org_push_sio';	// tenants of this test only
const OTHER = 'org_push_sio_other';

// A client of the stack's web server, or of opts.url.
function connect(tok, opts = {}) {
  return sioConnect(opts.url || s.URL, tok, opts.io);
}

// Wait until got holds an event named name with data.n === n.
async function waitFor(got, name, n, ms = 5000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (got.some((e) => e.name === name && e.data && e.data.n === n)) return true;
    await sleep(20);
  }
  return false;
}

async function main() {
  // Connect with a valid token.
  const a = connect(token(s, { sub: 'user_sio_a', org: T }));
  await once(a, 'connect');
  ok(a.connected && typeof a.id === 'string' && a.id.length > 0, 'valid token: connected, with a socket id');

  // Bad, expired and missing tokens: connect_error, not connected.
  for (const [what, tok] of [
    ['forged token', token(s, { sub: 'user_sio_a', org: T }).replace(/.....$/, 'AAAAA')],
    ['expired token', token(s, { sub: 'user_sio_a', org: T, claims: { exp: Math.floor(Date.now() / 1000) - 3600 } })],
    ['alg none', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyX3NpbyJ9.'],
    ['no token', undefined],
  ]) {
    const bad = connect(tok);
    const err = await once(bad, 'connect_error').catch((e) => e);
    is(err && err.message, 'Authentication failed', `${what}: connect_error "Authentication failed"`);
    ok(!bad.connected, `${what}: not connected`);
    bad.close();
  }

  // An unknown namespace gets the protocol's error.
  const nsp = connect(token(s, { sub: 'user_sio_a', org: T }), { url: `${s.URL}/admin` });
  const nerr = await once(nsp, 'connect_error').catch((e) => e);
  is(nerr && nerr.message, 'Invalid namespace', 'unknown namespace: connect_error "Invalid namespace"');
  nsp.close();

  // subscribe:jobs, with an ack naming the room.
  const gotA = recorder(a);
  const ack = await a.timeout(5000).emitWithAck('subscribe:jobs');
  is(ack, { ok: true, room: `jobs:${T}` }, 'subscribe:jobs acknowledged with the room');

  // A second client of the tenant, not subscribed to jobs; a client of another tenant, subscribed.
  const b = connect(token(s, { sub: 'user_sio_b', org: T }));
  const o = connect(token(s, { sub: 'user_sio_a', org: OTHER }));
  await Promise.all([once(b, 'connect'), once(o, 'connect')]);
  const gotB = recorder(b), gotO = recorder(o);
  await o.timeout(5000).emitWithAck('subscribe:jobs');

  // job:new for the tenant through make publish: received by the subscriber.
  const id = publish(s, T, 'job:new', { n: 1, title: 'Realtime C developer' });
  ok(/^\d+-\d+$/.test(id), `make publish prints the event id (${id})`);
  ok(await waitFor(gotA, 'job:new', 1), 'job:new reached the subscribed client');
  const ev = gotA.find((e) => e.name === 'job:new');
  is(ev && ev.data, { n: 1, title: 'Realtime C developer' }, 'the event carries the data as published');

  // Another tenant's event: never received; a later marker proves delivery went on.
  publish(s, OTHER, 'job:new', { n: 2 });
  publish(s, T, 'job:new', { n: 3 });
  ok(await waitFor(gotA, 'job:new', 3), 'the next event of the own tenant arrives');
  ok(!gotA.some((e) => e.data && e.data.n === 2), "another tenant's job:new is not received");
  ok(await waitFor(gotO, 'job:new', 2), "and it reached that tenant's subscriber");
  ok(!gotO.some((e) => e.data && (e.data.n === 1 || e.data.n === 3)), 'which saw none of the first tenant');
  ok(!gotB.some((e) => e.name === 'job:new'), 'a client that did not subscribe to jobs gets no job:new');

  // proposal:updated goes to its user only (and only after subscribe:proposals).
  await a.timeout(5000).emitWithAck('subscribe:proposals');
  await b.timeout(5000).emitWithAck('subscribe:proposals');
  publish(s, T, 'proposal:updated', { n: 4, status: 'sent' }, 'user_sio_b');
  ok(await waitFor(gotB, 'proposal:updated', 4), 'proposal:updated reached its user');
  publish(s, T, 'proposal:updated', { n: 5 }, 'user_sio_a');
  ok(await waitFor(gotA, 'proposal:updated', 5), "the other user's own proposal event arrives");
  ok(!gotA.some((e) => e.data && e.data.n === 4), "a user never receives another user's proposal:updated");
  ok(!gotO.some((e) => e.name === 'proposal:updated'), 'nor does anyone in another tenant');

  // Tenant-wide events (no topic) reach every client of the tenant.
  publish(s, T, 'usage:updated', { n: 6 });
  ok(await waitFor(gotA, 'usage:updated', 6) && await waitFor(gotB, 'usage:updated', 6),
    'a tenant-wide event reaches every client of the tenant');

  // unsubscribe:jobs: no more job:new.
  is(await a.timeout(5000).emitWithAck('unsubscribe:jobs'), { ok: true, room: `jobs:${T}` }, 'unsubscribe:jobs acknowledged');
  publish(s, T, 'job:new', { n: 7 });
  publish(s, T, 'usage:updated', { n: 8 });
  ok(await waitFor(gotA, 'usage:updated', 8), 'later events still arrive');
  ok(!gotA.some((e) => e.data && e.data.n === 7), 'after unsubscribe:jobs, job:new is not received');

  // An unknown event with an ack: a negative ack, the connection stays.
  is(await a.timeout(5000).emitWithAck('no:such:event', {}), { ok: false, error: 'unknown event' }, 'unknown event: negative ack');
  ok(a.connected, 'and the client stays connected');

  // Directly on the broadcaster's port too (what the benchmark uses).
  const d = connect(token(s, { sub: 'user_sio_a', org: T }), { url: s.PUSH_URL });
  await once(d, 'connect');
  ok(d.connected, "connected straight to the broadcaster's port");

  // The server's disconnect of a client that closes: the client sees it closed.
  a.disconnect();
  ok(!a.connected, 'client-side disconnect');

  closeSockets();
  done();
}

main().catch((e) => {
  ok(false, `unexpected error: ${e.message}`, e.stack);
  closeSockets();
  done();
});

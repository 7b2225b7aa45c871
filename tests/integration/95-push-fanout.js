// 95-push-fanout.js: a fan-out large enough for the send threads (push_send_threads), numbered 9x to run alone (its 400 clients would starve the timing of tests run beside it): 400 Socket.IO clients and a polling session in one room, on a broadcaster of the test's own; every one gets every event once and in order, and the broadcaster stops its threads cleanly.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { ok, is, done, stack, token, sleep, once } = require(path.join(__dirname, '../node/lib.js'));
const { Session, publishAsync, spawnBroadcaster } = require(path.join(__dirname, '../node/eio.js'));
const { io } = require(path.join(__dirname, '../node/node_modules/socket.io-client'));

const s = stack();
const T = 'org_push_fanout';
const N = 400;		// past SEND_PARALLEL_MIN (256) pending clients
const EVENTS = 4;
const pad = 'x'.repeat(6000);
let b = null;
const sockets = [];

function connect(url, i) {
  const sock = io(url, {
    transports: ['websocket'], auth: { token: token(s, { sub: `user_fan_${i % 7}`, org: T }) },
    reconnection: false, forceNew: true, timeout: 10000,
  });
  sockets.push(sock);
  sock.got = [];
  sock.on('job:new', (d) => sock.got.push(d.n));
  return sock;
}

async function main() {
  b = await spawnBroadcaster(s, { APP_PUSH_SEND_THREADS: '4', APP_PUSH_MAX_CLIENTS: '1000',
    APP_PUSH_PING_INTERVAL_MS: '60000' });
  ok(b.port > 0, `a broadcaster with push_send_threads 4 on port ${b.port}`);
  const tasks = fs.readdirSync(`/proc/${b.child.pid}/task`).length;
  is(tasks, 4, 'it runs four threads: the loop\'s and three send threads');

  const readers = [];
  for (let i = 0; i < N; i += 50) {
    const batch = [];
    for (let j = i; j < i + 50; j++) batch.push(connect(b.url, j));
    await Promise.all(batch.map((x) => once(x, 'connect', 15000)));
    await Promise.all(batch.map((x) => x.timeout(10000).emitWithAck('subscribe:jobs')));
    readers.push(...batch);
  }
  is(readers.filter((x) => x.connected).length, N, `${N} Socket.IO clients connected and subscribed`);

  // A polling session in the same room: the write phase leaves it to the loop (it answers a held GET).
  const poll = new Session(b.url);
  await poll.handshake();
  await poll.connect(token(s, { sub: 'user_fan_poll', org: T }));
  await poll.post('421["subscribe:jobs"]');
  ok(await poll.until((p) => p.startsWith('431')) !== null, 'a polling session subscribed');
  const polled = (async () => {
    const seen = [];
    while (seen.length < EVENTS) {
      const p = await poll.until((x) => x.startsWith('42["job:new"'), 10000);
      if (p === null || typeof p !== 'string') break;
      seen.push(JSON.parse(p.slice(2))[1].n);
    }
    return seen;
  })();

  for (let n = 1; n <= EVENTS; n++) await publishAsync(s, T, 'job:new', { n, pad });
  const t0 = Date.now();
  while (Date.now() - t0 < 20000 && readers.some((x) => x.got.length < EVENTS)) await sleep(50);
  const want = JSON.stringify([1, 2, 3, 4]);
  const bad = readers.filter((x) => JSON.stringify(x.got) !== want);
  is(bad.length, 0, `each of the ${N} clients received the ${EVENTS} events of 6 KB, once each and in order`);
  if (bad.length > 0) ok(false, 'one of them got', JSON.stringify(bad[0].got));
  is(await polled, [1, 2, 3, 4], 'the polling session too');

  ok(readers.every((x) => x.connected), 'every reader is still connected');

  for (const x of sockets) x.close();
  is(await b.stop(), 0, 'the broadcaster stops its threads and exits with 0');
  b = null;
}

main()
  .catch((e) => ok(false, 'unexpected error', e.stack))
  .finally(async () => {
    for (const x of sockets) x.close();
    if (b) await b.stop();
    done();
  });

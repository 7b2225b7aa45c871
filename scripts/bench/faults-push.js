// faults-push.js: fault (d) of scripts/bench-faults.sh: N socket.io-client subscribers on the broadcaster's port; on stdin "restarted" it times how long until all are connected again, then publishes are counted as received; prints one line.
'use strict';

const path = require('node:path');
const readline = require('node:readline');
const { io } = require(path.join(__dirname, '../../tests/node/node_modules/socket.io-client'));

const [url, token, nArg] = process.argv.slice(2);
const n = Number(nArg || 1000);
const socks = [];
let connected = 0, reconnects = 0, received = 0;

function now() { return Date.now(); }

for (let i = 0; i < n; i++) {
  const s = io(url, {
    transports: ['websocket'], auth: { token }, forceNew: true,
    reconnectionDelay: 200, reconnectionDelayMax: 2000, randomizationFactor: 0.5,
  });
  let seen = false;
  s.on('connect', () => {
    connected++;
    if (seen) reconnects++;
    seen = true;
    s.emit('subscribe:jobs');
  });
  s.on('disconnect', () => { connected--; });
  s.on('job:new', () => { received++; });
  socks.push(s);
}

async function waitAll(ms) {
  const t0 = now();
  while (now() - t0 < ms) {
    if (connected === n) return now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return -1;
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  if (line === 'ready?') {
    const t = await waitAll(60000);
    console.log(`READY connected=${connected} ms=${t}`);
  } else if (line === 'restarted') {
    const t0 = now();
    // Wait for the drop to be seen, then for everyone to be back.
    while (connected === n && now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    const t = await waitAll(60000);
    console.log(`BACK connected=${connected} reconnects=${reconnects} ms=${t < 0 ? -1 : now() - t0}`);
  } else if (line === 'received?') {
    await new Promise((r) => setTimeout(r, 1500));
    console.log(`RECEIVED ${received}`);
  } else if (line === 'quit') {
    for (const s of socks) s.close();
    process.exit(0);
  }
});

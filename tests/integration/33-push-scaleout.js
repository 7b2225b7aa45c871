// 33-push-scaleout.js: the scale-out path: a second broadcaster on its own port, fed by the same Redis, delivers every event too; each client hears its own tenant's and user's events once, through either.
'use strict';

const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ok, is, done, stack, token, publish, sleep, once, sioConnect, closeSockets, recorder } =
  require(path.join(__dirname, '../node/lib.js'));

const s = stack();
const T = 'org_push_scale';
const OTHER = 'org_push_scale_other';
let second = null;

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

async function connect(url, sub, org, topics) {
  const sock = sioConnect(url, token(s, { sub, org }));
  const got = recorder(sock);
  await once(sock, 'connect');
  for (const t of topics) await sock.timeout(5000).emitWithAck(`subscribe:${t}`);
  return got;
}

const count = (got, name, n) => got.filter((e) => e.name === name && e.data && e.data.n === n).length;

async function main() {
  // A second broadcaster, as a deployment adds one: same configuration
  // (so the same Redis and keys), its own port.
  const port = await freePort();
  const rt = s.RT;
  second = spawn(path.join(s.BIN, 'push/broadcaster'), ['-P', path.join(rt, 'run/push/push-scaleout.pid')], {
    env: { ...process.env, APP_CONFIG: path.join(rt, 'app.conf'), APP_PUSH_LISTEN: `127.0.0.1:${port}`,
      ASAN_OPTIONS: `log_path=${rt}/log/asan/asan:detect_leaks=1:halt_on_error=1`,
      UBSAN_OPTIONS: `log_path=${rt}/log/asan/ubsan:print_stacktrace=1:halt_on_error=1` },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  let up = false;
  for (let i = 0; i < 100 && !up; i++) { up = await listening(port); if (!up) await sleep(50); }
  ok(up, `a second broadcaster listens on its own port (${port})`);
  await sleep(300);	// its Redis subscription

  const url2 = `http://127.0.0.1:${port}`;
  const a = await connect(s.URL, 'user_sc_a', T, ['jobs', 'proposals']);	// the stack's, through the web server
  const b = await connect(url2, 'user_sc_b', T, ['jobs', 'proposals']);	// the second one
  const o = await connect(url2, 'user_sc_o', OTHER, ['jobs', 'proposals']);

  publish(s, T, 'job:new', { n: 1 });
  publish(s, T, 'proposal:updated', { n: 2 }, 'user_sc_b');
  publish(s, OTHER, 'job:new', { n: 3 });
  const t0 = Date.now();
  while (Date.now() - t0 < 5000 && !(count(a, 'job:new', 1) && count(b, 'job:new', 1) &&
         count(b, 'proposal:updated', 2) && count(o, 'job:new', 3))) await sleep(20);
  await sleep(300);	// anything more that would come
  is(count(a, 'job:new', 1), 1, "one publish: the first broadcaster's client hears job:new once");
  is(count(b, 'job:new', 1), 1, "and the second broadcaster's client too, once");
  is(count(b, 'proposal:updated', 2), 1, 'proposal:updated reaches its user through the second broadcaster');
  is(count(a, 'proposal:updated', 2), 0, 'and not another user of the tenant');
  is(count(o, 'job:new', 3), 1, "the other tenant's client hears its own event");
  is(count(o, 'job:new', 1) + count(b, 'job:new', 3), 0, "and no tenant hears another's");
}

main()
  .catch((e) => ok(false, 'unexpected error', e.stack))
  .finally(async () => {
    closeSockets();
    if (second) {
      second.kill('SIGTERM');
      const code = await Promise.race([once(second, 'exit', 10000).catch(() => 'timeout'), sleep(10000)]);
      ok(code === 0 || (Array.isArray(code) && code[0] === 0), 'the second broadcaster exits cleanly on SIGTERM', code);
    }
    done();
  });

// eio.js: raw HTTP and Engine.IO long-polling helpers for the broadcaster's protocol tests (no socket.io-client in between).
'use strict';

const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { execFile, spawn } = require('node:child_process');
const { sleep } = require('./lib.js');

const SEP = '\x1e';
const EIO = '/socket.io/?EIO=4&transport=polling';

// The broadcaster's timers as the harness sets them (APP_PUSH_*), else the defaults.
const timers = {
  pingInterval: Number(process.env.APP_PUSH_PING_INTERVAL_MS || 25000),
  pingTimeout: Number(process.env.APP_PUSH_PING_TIMEOUT_MS || 20000),
  handshake: Number(process.env.APP_PUSH_HANDSHAKE_TIMEOUT_MS || 10000),
};

// One HTTP exchange on a connection of its own: { status, headers, body }
// (status 0 when the connection failed; abort() ends it early).
function request(base, method, p, o = {}) {
  let req;
  const done = new Promise((resolve) => {
    req = http.request(base + p, { method, headers: o.headers || {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', (e) => resolve({ status: 0, headers: {}, body: e.message }));
    });
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: e.message }));
    req.setTimeout(o.timeout || 15000, () => req.destroy(new Error('timeout')));
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
  done.abort = () => req.destroy();
  return done;
}

// A client of one Engine.IO session over long-polling, at base (a web server or the broadcaster).
class Session {
  constructor(base) {
    this.base = base;
    this.sid = null;
    this.open = null;
    this.packets = [];	// received, not yet taken
  }

  async handshake() {
    const r = await request(this.base, 'GET', EIO);
    this.response = r;
    if (r.status === 200 && r.body[0] === '0') {
      this.open = JSON.parse(r.body.slice(1));
      this.sid = this.open.sid;
    }
    return r;
  }

  get(o) { return request(this.base, 'GET', `${EIO}&sid=${this.sid}`, o); }

  post(body, headers = {}) {
    return request(this.base, 'POST', `${EIO}&sid=${this.sid}`,
      { body, headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers } });
  }

  // GET until a packet satisfies pred (answering pings with pongs unless
  // noPong); the packets before it stay in this.packets.  The packet, or
  // null after ms, or the failed response ({status, body}) of a GET.
  async until(pred, ms = 5000, o = {}) {
    const t0 = Date.now();
    for (;;) {
      const i = this.packets.findIndex(pred);
      if (i >= 0) return this.packets.splice(i, 1)[0];
      if (Date.now() - t0 > ms) return null;
      const r = await this.get();
      if (r.status !== 200) return r;
      for (const p of r.body.split(SEP)) {
        if (p === '2' && !o.noPong) await this.post('3');
        this.packets.push(p);
      }
    }
  }

  async connect(token) {
    const r = await this.post(`40${JSON.stringify({ token })}`);
    if (r.status !== 200) return null;
    return this.until((p) => p.startsWith('40') || p.startsWith('44'));
  }
}

// make publish without blocking the event loop (lib.js's publish() is
// synchronous: a row of them would starve socket.io-client's heartbeat
// timers); resolves with the event id.
function publishAsync(s, tenant, event, data, sub) {
  const env = { ...process.env };
  delete env.BUILD;
  const args = ['-s', '-C', s.ROOT, 'publish', `VAR=${s.VAR}`, `PORT=${s.PORT}`,
    `TENANT=${tenant}`, `EVENT=${event}`, `DATA=${JSON.stringify(data)}`];
  if (sub) args.push(`SUB=${sub}`);
  return new Promise((resolve, reject) => execFile('make', args, { env, encoding: 'utf8' },
    (err, out) => (err ? reject(err) : resolve(out.trim()))));
}

// A broadcaster of the test's own on a free port, as 33-push-scaleout.js starts one.
async function spawnBroadcaster(s, env = {}) {
  const port = await new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
  const child = spawn(path.join(s.BIN, 'push/broadcaster'), [], {
    env: { ...process.env, APP_CONFIG: path.join(s.RT, 'app.conf'), APP_PUSH_LISTEN: `127.0.0.1:${port}`,
      ASAN_OPTIONS: `log_path=${s.RT}/log/asan/asan:detect_leaks=1:halt_on_error=1`,
      UBSAN_OPTIONS: `log_path=${s.RT}/log/asan/ubsan:print_stacktrace=1:halt_on_error=1`, ...env },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (up) break;
    await sleep(50);
  }
  await sleep(300);	// its Redis subscription
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code === null ? sig : code)));
  return {
    port, url: `http://127.0.0.1:${port}`, child,
    stop: async () => {
      child.kill('SIGTERM');
      return Promise.race([exited, sleep(10000).then(() => 'timeout')]);
    },
  };
}

module.exports = { SEP, EIO, timers, request, Session, publishAsync, spawnBroadcaster };

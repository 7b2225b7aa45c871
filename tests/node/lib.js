// lib.js: helpers for the node integration tests: TAP output, the running stack's settings, tokens, publishing events, waiting.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

let n = 0;
let failed = 0;

function ok(cond, name, diag) {
  n++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (diag !== undefined) console.log(`# ${String(diag).replace(/\n/g, '\n# ')}`);
  }
  return cond;
}

function is(got, want, name) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  return ok(g === w, name, `got: ${g}\nexpected: ${w}`);
}

function done() {
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

// The stack under test, from STACK_ENV (as tests/lib/ApiTest.pm reads it).
function stack() {
  const file = process.env.STACK_ENV;
  if (!file) {
    console.log('1..0 # SKIP STACK_ENV does not name a running stack');
    process.exit(0);
  }
  const s = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line);
    if (m) s[m[1]] = m[2];
  }
  s.URL = `http://127.0.0.1:${s.PORT}`;
  s.PUSH_URL = `http://127.0.0.1:${s.PUSH_PORT}`;
  return s;
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// A token signed with the stack's dev key: token(s, {sub, org, claims});
// {key, kid} sign it with another RS256 key (a KeyObject or PEM) instead.
function token(s, o = {}) {
  const now = Math.floor(Date.now() / 1000);
  const conf = fs.readFileSync(path.join(s.RT, 'app.conf'), 'utf8');
  const claims = { sub: o.sub || 'user_demo', iat: now, exp: now + 600 };
  if (o.org) claims.o = { id: o.org, rol: 'admin' };
  let m;
  if ((m = /^jwt_issuer\s*=\s*(\S+)\s*$/m.exec(conf))) claims.iss = m[1];
  if ((m = /^jwt_audience\s*=\s*(\S+)\s*$/m.exec(conf))) claims.aud = m[1];
  Object.assign(claims, o.claims || {});
  const header = { alg: o.key ? 'RS256' : s.JWT_ALG, typ: 'JWT' };
  if (o.key)
    header.kid = o.kid;
  else if (s.JWT_ALG === 'RS256')
    header.kid = fs.readFileSync(path.join(s.RT, 'secrets/jwt-rs256.kid'), 'utf8').trim();
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let sig;
  if (o.key) {
    sig = crypto.sign('sha256', Buffer.from(input), o.key);
  } else if (s.JWT_ALG === 'RS256') {
    sig = crypto.sign('sha256', Buffer.from(input), fs.readFileSync(path.join(s.RT, 'secrets/jwt-rs256.key')));
  } else {
    const key = fs.readFileSync(path.join(s.RT, 'secrets/jwt-hs256.key'), 'utf8').trim();
    sig = crypto.createHmac('sha256', key).update(input).digest();
  }
  return `${input}.${b64url(sig)}`;
}

// Publish through the admin CLI (make publish); returns the event id.
function publish(s, tenant, event, data, sub) {
  const env = { ...process.env };
  delete env.BUILD;	// make publish builds and runs the release tools
  const args = ['-s', '-C', s.ROOT, 'publish', `VAR=${s.VAR}`, `PORT=${s.PORT}`,
    `TENANT=${tenant}`, `EVENT=${event}`, `DATA=${JSON.stringify(data)}`];
  if (sub) args.push(`SUB=${sub}`);
  return execFileSync('make', args, { env, encoding: 'utf8' }).trim();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolve with the first emission of event on emitter, or reject after ms.
function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    function on(...args) {
      clearTimeout(t);
      resolve(args.length > 1 ? args : args[0]);
    }
    emitter.once(event, on);
  });
}

// socket.io clients for the push tests.  sioConnect(url, tok, ioOptions)
// opens one over WebSocket only, on a connection of its own (forceNew),
// that never reconnects, so that a test sees every drop; an undefined
// tok sends no auth at all.  Every client is kept until closeSockets(),
// which a test calls however it ends: an open socket keeps node running.
// socket.io-client is loaded on first use, as most tests never need it.
const sockets = [];

function sioConnect(url, tok, ioOptions = {}) {
  const { io } = require(path.join(__dirname, 'node_modules/socket.io-client'));
  const sock = io(url, {
    transports: ['websocket'], auth: tok === undefined ? undefined : { token: tok },
    reconnection: false, forceNew: true, timeout: 5000, ...ioOptions,
  });
  sockets.push(sock);
  return sock;
}

function closeSockets() {
  for (const sock of sockets) sock.close();
}

// Every event a socket.io client receives, in order, as { name, data }.
function recorder(sock) {
  const got = [];
  sock.onAny((name, data) => got.push({ name, data }));
  return got;
}

// The contract check (tests/post/contract.js): with CONTRACT_LOG set (the
// harness sets it to a directory of the pass), every HTTP exchange a test
// has with the stack's web server, through node:http (the tests' own
// requests, socket.io-client's long-polling) or fetch, is appended to
// <file>.<pid>.jsonl there, as tests/lib/ApiTest.pm does for the Perl
// tests; the bodies are those the test read.
function recordTo(dir) {
  const http = require('node:http');
  let port = null;
  try {
    port = /^PORT=(\d+)$/m.exec(fs.readFileSync(process.env.STACK_ENV, 'utf8'))[1];
  } catch (e) {
    return;
  }
  const file = path.join(dir, `${path.basename(process.argv[1] || 'node')}.${process.pid}.jsonl`);
  const write = (method, target, reqHeaders, status, headers, body) => {
    const rq = {};
    for (const [k, v] of Object.entries(reqHeaders || {}))
      if (k.toLowerCase() !== 'authorization') rq[k.toLowerCase()] = String(v);
    const h = {};
    for (const [k, v] of Object.entries(headers || {})) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    try {
      fs.appendFileSync(file, JSON.stringify({ src: path.basename(process.argv[1] || 'node'), method, target,
        request: rq, status, headers: h, body }) + '\n');
    } catch (e) { /* the directory went away: the pass is over */ }
  };
  const origRequest = http.request;
  http.request = function request(...args) {
    const req = origRequest.apply(this, args);
    const host = req.getHeader('host') || '';
    if (String(host).split(':')[1] !== port && !(req.host === '127.0.0.1' && String(req.socket && req.socket.remotePort) === port))
      return req;
    req.once('response', (res) => {
      if (res.statusCode === 101) return;
      const chunks = [];
      let written = false;
      const origEmit = res.emit;
      res.emit = function emit(ev, ...a) {
        if (ev === 'data') chunks.push(Buffer.isBuffer(a[0]) ? a[0] : Buffer.from(String(a[0])));
        if ((ev === 'end' || ev === 'close') && !written) {
          written = true;
          write(req.method, req.path, req.getHeaders(), res.statusCode, res.headers,
            ev === 'end' ? Buffer.concat(chunks).toString('utf8') : null);
        }
        return origEmit.call(this, ev, ...a);
      };
    });
    return req;
  };
  http.get = function get(...args) {
    const req = http.request(...args);
    req.end();
    return req;
  };
  if (typeof globalThis.fetch === 'function') {
    const origFetch = globalThis.fetch;
    globalThis.fetch = async function fetch(input, init = {}) {
      const res = await origFetch(input, init);
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      if (url.port === port && res.status !== 101) {
        const headers = {};
        res.headers.forEach((v, k) => { headers[k] = v; });
        const reqHeaders = {};
        new Headers(init.headers || {}).forEach((v, k) => { reqHeaders[k] = v; });
        res.clone().text().then((body) => write((init.method || 'GET').toUpperCase(), url.pathname + url.search,
          reqHeaders, res.status, headers, body), () => {});
      }
      return res;
    };
  }
}
if (process.env.CONTRACT_LOG && process.env.STACK_ENV) recordTo(process.env.CONTRACT_LOG);

module.exports = { ok, is, done, stack, token, publish, sleep, once, sioConnect, closeSockets, recorder };

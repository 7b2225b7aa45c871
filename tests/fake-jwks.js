#!/usr/bin/env node
// fake-jwks.js: a fake issuer's JWKS endpoint over HTTPS (as Clerk publishes its keys), whose keys, max-age and availability the tests change, counting the fetches.
//
// Usage: node tests/fake-jwks.js --port N --cert FILE --key FILE
//            [--keys-file FILE] [--max-age S] [--pid-file FILE]
// (scripts/stack.sh starts it when FAKE_JWKS=1, with a CA and a
// certificate for 127.0.0.1 it generates under the stack's RT.)
//
// GET /.well-known/jwks.json answers {"keys": [...]}: the keys of
// --keys-file (a JWKS document, read on every request: the stack's own
// dev key) followed by those the tests added, with
// Cache-Control: public, max-age=<max-age> (300 unless changed).
// Control, for the tests (JSON bodies):
//   POST /__jwks/keys    {"add": [jwk, ...], "remove": ["kid", ...]}
//   POST /__jwks/config  {"maxAge": S, "down": true|false}  (down: every
//                        fetch gets a 503, as from an issuer in trouble)
//   GET  /__jwks/stats   {"fetches": n, "served": n, "refused": n}
// fetches counts every GET of the JWKS, served those answered with the
// keys, refused those answered 503.
'use strict';

const fs = require('node:fs');
const https = require('node:https');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.cert || !args.key) {
  console.error('usage: fake-jwks.js --port N --cert FILE --key FILE [--keys-file FILE] [--max-age S] [--pid-file FILE]');
  process.exit(2);
}

const state = { extra: [], maxAge: Number(args['max-age'] || 300), down: false, fetches: 0, served: 0, refused: 0 };

function baseKeys() {
  if (!args['keys-file']) return [];
  try {
    return JSON.parse(fs.readFileSync(args['keys-file'], 'utf8')).keys || [];
  } catch (e) {
    return [];
  }
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readJson(req) {
  return new Promise((resolve) => {
    let b = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { b += d; });
    req.on('end', () => { try { resolve(JSON.parse(b || '{}')); } catch (e) { resolve(null); } });
  });
}

const server = https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) }, async (req, res) => {
  const url = new URL(req.url, 'https://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/.well-known/jwks.json') {
    state.fetches++;
    if (state.down) {
      state.refused++;
      return send(res, 503, { error: 'unavailable' });
    }
    state.served++;
    return send(res, 200, { keys: [...baseKeys(), ...state.extra] },
      { 'Cache-Control': `public, max-age=${state.maxAge}` });
  }
  if (req.method === 'POST' && url.pathname === '/__jwks/keys') {
    const b = await readJson(req);
    if (!b) return send(res, 400, { error: 'not JSON' });
    const gone = new Set(b.remove || []);
    state.extra = state.extra.filter((k) => !gone.has(k.kid)).concat(b.add || []);
    return send(res, 200, { keys: state.extra.map((k) => k.kid) });
  }
  if (req.method === 'POST' && url.pathname === '/__jwks/config') {
    const b = await readJson(req);
    if (!b) return send(res, 400, { error: 'not JSON' });
    if (b.maxAge !== undefined) state.maxAge = Number(b.maxAge);
    if (b.down !== undefined) state.down = Boolean(b.down);
    return send(res, 200, { maxAge: state.maxAge, down: state.down });
  }
  if (req.method === 'GET' && url.pathname === '/__jwks/stats')
    return send(res, 200, { fetches: state.fetches, served: state.served, refused: state.refused });
  return send(res, 404, { error: 'not found' });
});

server.listen(Number(args.port || 0), '127.0.0.1', () => {
  if (args['pid-file']) fs.writeFileSync(args['pid-file'], String(process.pid) + '\n');
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));

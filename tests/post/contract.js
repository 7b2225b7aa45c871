#!/usr/bin/env node
// contract.js: after a pass, every response the integration tests received from the stack, validated against docs/openapi.yaml (openapi-backend on ajv): status, documented headers, content type and body, each failure naming the operation and the mismatch.
//
// The tests record their exchanges (tests/lib/ApiTest.pm, tests/node/lib.js)
// into CONTRACT_LOG, a directory of the pass: one JSON line per exchange,
// {src, method, target, request, status, headers, body}.  An exchange is
// checked against the operation its method and path name (HEAD against
// GET's, without a body), or, when none does, against the spec's
// x-unrouted responses (an unknown path, a method the path lacks, a
// request the web server refuses before routing).  Checked:
//   - the status is one the operation documents (no default, no ranges);
//   - a body has a documented media type, and a JSON body (each data
//     line of an event stream) validates against its schema;
//   - documented headers validate against their schemas, required ones
//     are present; and the API's own headers (X-Cache, ETag, Allow,
//     WWW-Authenticate, Retry-After, the rate-limit headers ...) appear
//     only where documented: on the response, in x-response-headers
//     (every response), or the rate-limit headers on an operation whose
//     x-rate-limit-class is not none.
// TAP: one test per operation seen, listing its distinct mismatches.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const nodeModules = path.join(root, 'tests/node/node_modules');
const dir = process.env.CONTRACT_LOG;
if (!dir || !fs.existsSync(dir)) {
  console.log('1..0 # SKIP CONTRACT_LOG names no directory of recorded exchanges');
  process.exit(0);
}
const { OpenAPIBackend } = require(path.join(nodeModules, 'openapi-backend'));
const Ajv = require(path.join(nodeModules, 'ajv'));
const addFormats = require(path.join(nodeModules, 'ajv-formats'));

let n = 0;
let failed = 0;
function ok(cond, name, diag) {
  n++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (diag) console.log(`# ${String(diag).replace(/\n/g, '\n# ')}`);
  }
}

// The API's own headers: present only where the spec documents them.
const API_HEADERS = ['x-cache', 'etag', 'allow', 'www-authenticate', 'retry-after', 'location',
  'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit', 'ratelimit-policy',
  'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods',
  'access-control-allow-headers', 'access-control-max-age', 'access-control-expose-headers',
  'x-request-id', 'vary', 'x-accel-buffering', 'sec-websocket-version'];
const RATE_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit', 'ratelimit-policy'];

function records() {
  const out = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.jsonl')).sort())
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
      if (line) try { out.push(JSON.parse(line)); } catch (e) { /* a line cut by a killed test */ }
  return out;
}

(async () => {
  const api = new OpenAPIBackend({
    definition: path.join(root, 'docs/openapi.yaml'),
    strict: true,
    validate: true,
    quick: false,
    ajvOpts: { strict: false, allErrors: true },
    customizeAjv: (ajv) => { addFormats(ajv); return ajv; },
  });
  try {
    await api.init();
    ok(true, 'docs/openapi.yaml is a valid OpenAPI document');
  } catch (e) {
    ok(false, 'docs/openapi.yaml is a valid OpenAPI document', e.message);
    console.log(`1..${n}`);
    process.exit(1);
  }
  const def = api.definition;
  const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes: false });
  addFormats(ajv);
  const compiled = new Map();
  const validator = (key, schema) => {
    if (!compiled.has(key)) compiled.set(key, ajv.compile(schema));
    return compiled.get(key);
  };
  const explain = (v) => (v.errors || []).slice(0, 3).map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ''}${e.params && e.params.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`).join('; ');
  const everywhere = new Set((def['x-response-headers'] || []).map((h) => h.toLowerCase()));
  const unrouted = (def['x-unrouted'] || {}).responses || {};

  // The operation of a method and path: a literal path wins over a template.
  const ops = [];
  for (const [p, item] of Object.entries(def.paths))
    for (const [m, o] of Object.entries(item))
      if (['get', 'put', 'post', 'delete', 'options', 'head', 'patch'].includes(m))
        ops.push({ ...o, method: m, path: p, literal: !p.includes('{'),
          re: new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`) });
  const match = (method, p) => {
    const found = ops.filter((o) => o.method === method && o.re.test(p));
    return found.find((o) => o.literal) || found[0] || null;
  };

  const all = records();
  ok(all.length > 0, `${all.length} exchanges recorded by the integration tests`);
  const byOp = new Map();	// name -> { count, problems: Map(message -> {count, example}) }
  const note = (name, problem, rec) => {
    if (!byOp.has(name)) byOp.set(name, { count: 0, problems: new Map() });
    const o = byOp.get(name);
    if (problem === null) { o.count++; return; }
    const p = o.problems.get(problem) || { count: 0, example: `${rec.src}: ${rec.method} ${rec.target} -> ${rec.status}` };
    p.count++;
    o.problems.set(problem, p);
  };

  for (const rec of all) {
    const url = new URL(rec.target, 'http://api.invalid');
    if (!url.pathname.startsWith('/api/') && !url.pathname.startsWith('/socket.io')) continue;
    const head = rec.method === 'HEAD';
    const op = match(head ? 'get' : rec.method.toLowerCase(), url.pathname);
    const name = op ? `${op.operationId} (${op.method.toUpperCase()} ${op.path})` : 'x-unrouted (no operation)';
    const status = String(rec.status);
    const res = op ? (op.responses || {})[status] : unrouted[status];
    if (!res) {
      note(name, `status ${status} is not documented`, rec);
      continue;
    }
    const problems = [];
    const headers = rec.headers || {};
    // The body and its media type.
    const body = rec.body;
    const ctype = (headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    const content = res.content || {};
    if (head || rec.status === 204 || rec.status === 304) {
      if (body) problems.push(`a ${head ? 'HEAD' : rec.status} response with a body`);
    } else if (body !== null && body !== undefined && body !== '') {
      const media = content[ctype];
      if (!media) {
        problems.push(`media type ${ctype || '(none)'} not documented (${Object.keys(content).join(', ') || 'no body'})`);
      } else if (media.schema && ctype === 'application/json') {
        let doc;
        try { doc = JSON.parse(body); } catch (e) { problems.push('the body is not JSON'); }
        if (doc !== undefined) {
          const v = validator(`${name}|${status}|${ctype}`, media.schema);
          if (!v(doc)) problems.push(`body: ${explain(v)}`);
        }
      } else if (media.schema && ctype === 'text/event-stream' && media.schema.type !== 'string') {
        const v = validator(`${name}|${status}|${ctype}`, media.schema);
        for (const line of body.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          let doc;
          try { doc = JSON.parse(line.slice(6)); } catch (e) { problems.push('an event whose data is not JSON'); continue; }
          if (!v(doc)) problems.push(`event data: ${explain(v)}`);
        }
      } else if (media.schema && media.schema.type === 'string') {
        const v = validator(`${name}|${status}|${ctype}`, media.schema);
        if (!v(body)) problems.push(`body: ${explain(v)}`);
      }
    } else if (Object.keys(content).length > 0 && body === '' && headers['content-length'] === '0') {
      const schemas = Object.values(content).map((m) => m.schema || {});
      if (!schemas.some((s) => s.type === 'string')) problems.push('an empty body where one is documented');
    }
    // Headers.
    const documented = res.headers || {};
    for (const [hname, h] of Object.entries(documented)) {
      const key = hname.toLowerCase();
      const value = headers[key];
      if (value === undefined) {
        if (h.required) problems.push(`header ${hname} missing`);
        continue;
      }
      const schema = h.schema || {};
      let v = value;
      if (schema.type === 'integer' || schema.type === 'number') v = Number(value);
      const fn = validator(`${name}|${status}|h:${key}`, schema);
      if (!fn(v)) problems.push(`header ${hname}: ${JSON.stringify(value)} ${explain(fn)}`);
    }
    const known = new Set(Object.keys(documented).map((h) => h.toLowerCase()));
    const limited = op && op['x-rate-limit-class'] && op['x-rate-limit-class'] !== 'none';
    for (const h of API_HEADERS) {
      if (headers[h] === undefined || known.has(h) || everywhere.has(h)) continue;
      if (limited && RATE_HEADERS.includes(h)) continue;
      problems.push(`header ${h} not documented on ${status}`);
    }
    if (problems.length === 0) note(name, null, rec);
    else for (const p of new Set(problems)) note(name, `${status}: ${p}`, rec);
  }

  for (const [name, o] of [...byOp.entries()].sort()) {
    const probs = [...o.problems.entries()];
    ok(probs.length === 0, `${name}: ${o.count + probs.reduce((a, [, p]) => a + p.count, 0)} responses match the spec`,
      probs.slice(0, 12).map(([m, p]) => `${m} [${p.count}x, e.g. ${p.example}]`).join('\n'));
  }
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log(`not ok ${n + 1} - exception: ${e.stack}`); console.log(`1..${n + 1}`); process.exit(1); });

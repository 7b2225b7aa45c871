// fake-upwork.js: a fake Upwork for the tests: GraphQL (job search, job posting) and OAuth2 (authorize, token) in Upwork's wire format, with per-account scenarios.
//
// Usage: node tests/fake-upwork.js --port 0 --client-id ID --client-secret S
// Prints "listening <port>" once it accepts connections.
//
// Every behaviour belongs to an account, named by the test (a key such
// as its tenant id): the authorize step takes ?fake_account=<key>, the
// code and the tokens it leads to carry the account, and the control
// routes under /_fake/<key>/ change that account only.  Tests running in
// parallel use different keys, so nothing one test does reaches another.
//
// Control (JSON bodies):
//   POST /_fake/<key>/reset              forget the account
//   POST /_fake/<key>/config {...}       expiresIn, tokenDelayMs, searchDelayMs, detailsFailIds,
//                                        failNext: [...] (GraphQL), tokenFailNext: [...]
//   POST /_fake/<key>/jobs {add: n}      n new jobs, newer than every other
//   POST /_fake/<key>/jobs {edit: {id, title, client: {...}}}  (client fields merged)
//   POST /_fake/<key>/revoke             the refresh token is refused from now on
//   POST /_fake/<key>/expire             the access token is refused from now on
//   GET  /_fake/<key>                    counters and what requests carried
// failNext entries, one per request: {pass: true}, {status: 429, retryAfter: 1},
// {status: 500}, {graphqlError: true}, {malformed: true}, {oversized: bytes},
// {badType: true}, {delayMs: n}, {drop: true}.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { URL, URLSearchParams } = require('url');

const opts = { port: 0, clientId: 'upw-test-client', clientSecret: '' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i], v = process.argv[i + 1];
  if (k === '--port') opts.port = Number(v);
  else if (k === '--client-id') opts.clientId = v;
  else if (k === '--client-secret') opts.clientSecret = v;
  else if (k === '--client-secret-file') opts.clientSecret = fs.readFileSync(v, 'utf8').trim();
  else { console.error(`fake-upwork: unknown option ${k}`); process.exit(2); }
}

const FIX = path.join(__dirname, 'fixtures', 'upwork');
const fixtureNodes = ['marketplaceJobPostingsSearch.page1.json', 'marketplaceJobPostingsSearch.page2.json']
  .flatMap((f) => JSON.parse(fs.readFileSync(path.join(FIX, f), 'utf8'))
    .data.marketplaceJobPostingsSearch.edges.map((e) => e.node));
const graphqlError = fs.readFileSync(path.join(FIX, 'graphql-error.json'), 'utf8');
const tokenShape = JSON.parse(fs.readFileSync(path.join(FIX, 'oauth2-token.json'), 'utf8'));

const FILTER_KEYS = new Set(['searchExpression_eq', 'skillExpression_eq', 'budgetRange_eq',
  'hourlyRate_eq', 'locations_any', 'jobType_eq', 'experienceLevel_eq',
  'verifiedPaymentOnly_eq', 'pagination_eq', 'titleExpression_eq']);

const accounts = new Map();   // key -> account
const tokens = new Map();     // token -> { key, gen, kind }
const codes = new Map();      // code -> { key, redirectUri, used }

function account(key) {
  let a = accounts.get(key);
  if (!a) {
    a = {
      key, id: rand(), expiresIn: tokenShape.expires_in, tokenDelayMs: 0, searchDelayMs: 0,
      failNext: [], tokenFailNext: [], revoked: false, gen: 0, accessExpires: 0,
      jobs: fixtureNodes.map((n) => JSON.parse(JSON.stringify(n))), added: 0,
      stats: {
        codeExchanges: 0, refreshes: 0, refreshRejected: 0, searches: 0, details: 0,
        unauthorized: 0, graphqlRequests: 0, tenantHeaders: [], filters: [], queries: [],
        userAgents: [], lastRefreshAt: 0,
      },
    };
    accounts.set(key, a);
  }
  return a;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = () => crypto.randomBytes(12).toString('hex');

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function issue(a) {
  a.gen += 1;
  const access = `oauth2v2_${rand()}`, refresh = `oauth2v2_${rand()}`;
  tokens.set(access, { key: a.key, acct: a.id, gen: a.gen, kind: 'access' });
  tokens.set(refresh, { key: a.key, acct: a.id, gen: a.gen, kind: 'refresh' });
  a.accessExpires = Date.now() + a.expiresIn * 1000;
  return { ...tokenShape, access_token: access, refresh_token: refresh, expires_in: a.expiresIn };
}

// --- OAuth2 ------------------------------------------------------------------

function authorize(req, res, u) {
  const q = u.searchParams;
  if (q.get('response_type') !== 'code' || q.get('client_id') !== opts.clientId || !q.get('redirect_uri')) {
    return send(res, 400, { error: 'invalid_request', error_description: 'bad authorization request' });
  }
  const key = q.get('fake_account');
  if (!key) return send(res, 400, { error: 'invalid_request', error_description: 'fake_account is required' });
  account(key);
  const code = `code_${rand()}`;
  codes.set(code, { key, redirectUri: q.get('redirect_uri'), used: false });
  const to = new URL(q.get('redirect_uri'));
  to.searchParams.set('code', code);
  if (q.get('state') !== null) to.searchParams.set('state', q.get('state'));
  res.writeHead(302, { Location: to.toString(), 'Content-Length': 0 });
  res.end();
}

async function token(req, res) {
  if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || '')) {
    return send(res, 400, { error: 'invalid_request', error_description: 'form body expected' });
  }
  const form = new URLSearchParams(await readBody(req));
  let id = form.get('client_id'), secret = form.get('client_secret');
  const basic = /^Basic (.+)$/.exec(req.headers.authorization || '');
  if (basic) [id, secret] = Buffer.from(basic[1], 'base64').toString().split(':');
  if (id !== opts.clientId || secret !== opts.clientSecret) {
    return send(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' });
  }
  const grant = form.get('grant_type');
  if (grant === 'authorization_code') {
    const c = codes.get(form.get('code') || '');
    if (!c || c.used || c.redirectUri !== form.get('redirect_uri')) {
      return send(res, 400, { error: 'invalid_grant', error_description: 'invalid authorization code' });
    }
    c.used = true;
    const a = account(c.key);
    a.stats.codeExchanges += 1;
    const f = a.tokenFailNext.shift();
    if (f && f.status) return send(res, f.status, { error: 'server_error' });
    return send(res, 200, issue(a));
  }
  if (grant === 'refresh_token') {
    const t = tokens.get(form.get('refresh_token') || '');
    if (!t || t.kind !== 'refresh' || !accounts.has(t.key) || accounts.get(t.key).id !== t.acct) {
      return send(res, 400, { error: 'invalid_grant', error_description: 'unknown refresh token' });
    }
    const a = account(t.key);
    const f = a.tokenFailNext.shift();
    if (f && f.status) return send(res, f.status, { error: 'server_error' });
    if (a.revoked || t.gen !== a.gen) {
      a.stats.refreshRejected += 1;
      return send(res, 400, { error: 'invalid_grant', error_description: a.revoked ? 'the authorization was revoked' : 'refresh token already used' });
    }
    // Rotation, stricter than Upwork: the old pair dies at once (before
    // the answer is sent, so a concurrent refresh with the same token
    // fails), and a refresher that loses the new pair is caught.
    const out = issue(a);
    a.stats.refreshes += 1;
    a.stats.lastRefreshAt = Date.now();
    if (a.tokenDelayMs) await sleep(a.tokenDelayMs);
    return send(res, 200, out);
  }
  return send(res, 400, { error: 'unsupported_grant_type' });
}

// --- GraphQL -------------------------------------------------------------------

const SEARCH_SHAPE = /marketplaceJobPostingsSearch\s*\(\s*marketPlaceJobFilter:\s*\$(\w+)\s*,\s*searchType:\s*USER_JOBS_SEARCH\s*,\s*sortAttributes:\s*\[\s*\{\s*field:\s*RECENCY\s*\}\s*\]\s*\)/;

const gqlError = (message) => ({ errors: [{ message, extensions: { classification: 'ValidationError' } }], data: null });

function money(m) { return m && m.rawValue !== undefined ? Number(m.rawValue) : null; }

function matches(node, f) {
  const text = `${node.title} ${node.description}`.toLowerCase();
  if (f.searchExpression_eq) {
    const words = f.searchExpression_eq.toLowerCase().match(/[a-z0-9.+#-]+/g) || [];
    if (!words.filter((w) => w !== 'and' && w !== 'or').every((w) => text.includes(w))) return false;
  }
  if (f.skillExpression_eq) {
    const want = f.skillExpression_eq.split(/\s+OR\s+/).map((s) => s.replace(/"/g, '').trim().toLowerCase());
    const have = (node.skills || []).flatMap((s) => [String(s.prettyName).toLowerCase(), String(s.name).toLowerCase()]);
    if (!want.some((w) => have.includes(w))) return false;
  }
  if (f.locations_any && !f.locations_any.map((l) => l.toLowerCase())
    .includes(String(node.client && node.client.location && node.client.location.country).toLowerCase())) return false;
  const hourly = node.hourlyBudgetMin !== null || node.hourlyBudgetMax !== null;
  if (f.jobType_eq && (f.jobType_eq === 'HOURLY') !== hourly) return false;
  if (f.budgetRange_eq && !hourly) {
    const v = money(node.amount), r = f.budgetRange_eq;
    if (r.rangeStart !== undefined && v < r.rangeStart) return false;
    if (r.rangeEnd !== undefined && v > r.rangeEnd) return false;
  }
  if (f.hourlyRate_eq && hourly) {
    const lo = money(node.hourlyBudgetMin), hi = money(node.hourlyBudgetMax), r = f.hourlyRate_eq;
    if (r.rangeStart !== undefined && (hi === null ? lo : hi) < r.rangeStart) return false;
    if (r.rangeEnd !== undefined && (lo === null ? hi : lo) > r.rangeEnd) return false;
  }
  if (f.verifiedPaymentOnly_eq && !(node.client && node.client.verificationStatus === 'VERIFIED')) return false;
  if (f.experienceLevel_eq && node.experienceLevel !== f.experienceLevel_eq) return false;
  return true;
}

function search(a, vars, name) {
  const f = (vars && vars[name]) || {};
  for (const k of Object.keys(f)) {
    if (!FILTER_KEYS.has(k)) return gqlError(`Validation error: field '${k}' is not defined in 'MarketplaceJobPostingsSearchFilter'`);
  }
  a.stats.searches += 1;
  a.stats.filters.push(f);
  const pag = f.pagination_eq || {};
  const first = Math.min(Math.max(Number(pag.first) || 10, 1), 100);
  const after = pag.after ? Number(pag.after) : 0;
  const all = a.jobs.filter((n) => matches(n, f))
    .sort((x, y) => (x.createdDateTime < y.createdDateTime ? 1 : x.createdDateTime > y.createdDateTime ? -1 : 0));
  const slice = all.slice(after, after + first);
  return {
    data: {
      marketplaceJobPostingsSearch: {
        totalCount: all.length,
        edges: slice.map((node, i) => ({ cursor: String(after + i + 1), node })),
        pageInfo: { endCursor: slice.length ? String(after + slice.length) : null, hasNextPage: after + first < all.length },
      },
    },
  };
}

function details(a, vars) {
  a.stats.details += 1;
  if ((a.detailsFailIds || []).includes(vars && vars.id)) return gqlError('Requested job posting is not available');
  const node = a.jobs.find((n) => n.id === (vars && vars.id));
  if (!node) return { data: { marketplaceJobPosting: null } };
  const c = node.client || {};
  const loc = c.location || {};
  return {
    data: {
      marketplaceJobPosting: {
        id: node.id,
        ownership: { company: { id: c.companyOrgUid, name: `${loc.city || 'Remote'} Works Ltd` } },
        clientCompanyPublic: { id: c.companyOrgUid, city: loc.city || null, state: loc.state || null, timezone: loc.timezone || null },
      },
    },
  };
}

async function graphql(req, res) {
  const body = await readBody(req);
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const t = m && tokens.get(m[1]);
  const a = t && t.kind === 'access' && accounts.has(t.key) && accounts.get(t.key).id === t.acct ? account(t.key) : null;
  if (!a || t.gen !== a.gen || Date.now() >= a.accessExpires) {
    if (a) a.stats.unauthorized += 1;
    return send(res, 401, { message: 'Unauthorized: invalid or expired access token' });
  }
  a.stats.graphqlRequests += 1;
  a.stats.tenantHeaders.push(req.headers['x-upwork-api-tenantid'] || null);
  a.stats.userAgents.push(req.headers['user-agent'] || null);
  if (a.searchDelayMs) await sleep(a.searchDelayMs);
  const f = a.failNext.shift() || { pass: true };
  if (f.delayMs) await sleep(f.delayMs);
  if (f.drop) return req.socket.destroy();
  if (f.status === 429) return send(res, 429, { message: 'Too Many Requests' }, { 'Retry-After': String(f.retryAfter ?? 1) });
  if (f.status) return send(res, f.status, `{"message":"Internal error ${f.status}"}`);
  if (f.graphqlError) return send(res, 200, graphqlError);
  if (f.malformed) return send(res, 200, '{"data": {"marketplaceJobPostingsSearch": {"totalCount": 15, "edges": [{"cursor": "1", "node": {"id": "17');
  let q;
  try { q = JSON.parse(body); } catch (e) { return send(res, 400, { message: 'Invalid JSON body' }); }
  if (typeof q.query !== 'string') return send(res, 400, { message: 'query is required' });
  a.stats.queries.push(q.query);
  let out;
  const s = SEARCH_SHAPE.exec(q.query);
  if (s) {
    if (!new RegExp(`\\$${s[1]}\\s*:\\s*MarketplaceJobPostingsSearchFilter\\b`).test(q.query)) {
      out = gqlError(`Validation error: variable '${s[1]}' must be a MarketplaceJobPostingsSearchFilter`);
    } else {
      out = search(a, q.variables, s[1]);
    }
  } else if (/marketplaceJobPostingsSearch/.test(q.query)) {
    out = gqlError('Validation error: marketplaceJobPostingsSearch needs marketPlaceJobFilter, searchType and sortAttributes');
  } else if (/marketplaceJobPosting\s*\(\s*id:\s*\$id\s*\)/.test(q.query)) {
    out = details(a, q.variables);
  } else {
    out = gqlError('Validation error: unknown operation');
  }
  if (f.badType && out.data && out.data.marketplaceJobPostingsSearch && out.data.marketplaceJobPostingsSearch.edges.length) {
    out = JSON.parse(JSON.stringify(out));
    out.data.marketplaceJobPostingsSearch.edges[0].node.title = 12345;
  }
  if (f.oversized && out.data && out.data.marketplaceJobPostingsSearch) {
    out = JSON.parse(JSON.stringify(out));
    const e = out.data.marketplaceJobPostingsSearch.edges[0];
    if (e) e.node.description = 'x'.repeat(f.oversized);
  }
  return send(res, 200, out);
}

// --- control -----------------------------------------------------------------------

async function control(req, res, key, what) {
  const body = req.method === 'POST' ? await readBody(req) : '';
  const j = body ? JSON.parse(body) : {};
  if (req.method === 'GET' && !what) {
    const a = account(key);
    // The current tokens, so that tests can look for them where they must not be.
    const current = [...tokens.entries()].filter(([, t]) => t.acct === a.id && t.gen === a.gen).map(([tok]) => tok);
    return send(res, 200, { key, gen: a.gen, revoked: a.revoked, jobs: a.jobs.length, tokens: current, ...a.stats });
  }
  if (what === 'reset') {
    const a = accounts.get(key);
    if (a) for (const [tok, t] of tokens) if (t.acct === a.id) tokens.delete(tok);
    accounts.delete(key);
    return send(res, 200, { ok: true });
  }
  const a = account(key);
  if (what === 'config') {
    for (const k of ['expiresIn', 'tokenDelayMs', 'searchDelayMs', 'failNext', 'tokenFailNext', 'detailsFailIds']) {
      if (j[k] !== undefined) a[k] = j[k];
    }
    return send(res, 200, { ok: true });
  }
  if (what === 'revoke') { a.revoked = true; return send(res, 200, { ok: true }); }
  if (what === 'expire') { a.accessExpires = 0; return send(res, 200, { ok: true }); }
  if (what === 'jobs') {
    const newest = a.jobs.reduce((m, n) => (n.createdDateTime > m ? n.createdDateTime : m), '');
    const added = [];
    for (let i = 0; i < (j.add || 0); i++) {
      a.added += 1;
      const n = JSON.parse(JSON.stringify(fixtureNodes[1]));
      const when = new Date(Date.parse(newest) + (i + 1) * 60000).toISOString();
      n.id = String(1800000000000000000n + BigInt(a.added));
      n.ciphertext = `~02${crypto.createHash('sha1').update(`${key}:${a.added}`).digest('hex').slice(0, 16)}`;
      n.title = `Fresh job ${a.added} for ${key}: embedded C and websockets`;
      n.createdDateTime = n.publishedDateTime = when;
      a.jobs.push(n);
      added.push({ id: n.id, ciphertext: n.ciphertext, title: n.title });
    }
    if (j.edit) {
      const n = a.jobs.find((x) => x.id === j.edit.id);
      if (!n) return send(res, 404, { error: 'no such job' });
      const { client, ...rest } = j.edit;
      Object.assign(n, rest);
      if (client) n.client = Object.assign({}, n.client, client);
    }
    return send(res, 200, { ok: true, added });
  }
  return send(res, 404, { error: 'unknown control route' });
}

const server = http.createServer(async (req, res) => {
  try {
    const u = new URL(req.url, 'http://fake');
    const c = /^\/_fake\/([^/]+)(?:\/(\w+))?$/.exec(u.pathname);
    if (c) return await control(req, res, decodeURIComponent(c[1]), c[2]);
    if (u.pathname === '/oauth2/authorize' && req.method === 'GET') return authorize(req, res, u);
    if (u.pathname === '/oauth2/token' && req.method === 'POST') return await token(req, res);
    if (u.pathname === '/graphql' && req.method === 'POST') return await graphql(req, res);
    return send(res, 404, { message: 'Not Found' });
  } catch (e) {
    return send(res, 500, { message: `fake-upwork: ${e.message}` });
  }
});
server.keepAliveTimeout = 30000;
server.listen(opts.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));

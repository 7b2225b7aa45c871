// 56-event-shapes.js: the events as a client receives them (the event stream through the web server), validated against their schemas in docs/openapi.yaml (x-events, with ajv): proposal:updated for each cause (generated, stopped, updated, submitted) as GET /api/proposals/{id} shows it, job:new from the poller as GET /api/jobs lists it.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ok, is, done, stack, token, sleep } = require(path.join(__dirname, '../node/lib.js'));
const nm = path.join(__dirname, '../node/node_modules');
const { OpenAPIBackend } = require(path.join(nm, 'openapi-backend'));
const Ajv = require(path.join(nm, 'ajv'));
const addFormats = require(path.join(nm, 'ajv-formats'));

const s = stack();
const T = 'org_t_shapes';
const USER = 'user_shapes';

function conf(key) {
  const m = new RegExp(`^${key}\\s*=\\s*(.*?)\\s*$`, 'm').exec(fs.readFileSync(path.join(s.RT, 'app.conf'), 'utf8'));
  return m ? m[1] : '';
}
const FAKE = conf('upwork_graphql_url').replace(/\/graphql$/, '');

function psql(sql) {
  return execFileSync(path.join(s.ROOT, 'scripts/stack.sh'), ['psql', '-d', 'upwork', '-tA', '-c', sql],
    { env: { ...process.env, VAR: s.VAR }, encoding: 'utf8' }).trim();
}

async function api(method, p, tok, body) {
  const headers = { Authorization: `Bearer ${tok}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  else if (method === 'POST') headers['Content-Length'] = '0';
  const r = await fetch(s.URL + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json().catch(() => null) };
}

// The tenant's events, as an EventSource reads them, through the web server.
function listen(tok) {
  const got = [];
  let buf = '';
  const req = http.get(`${s.URL}/api/events?topics=jobs,proposals`, { headers: { Authorization: `Bearer ${tok}` }, agent: false }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const type = /^event: (.*)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (type && data) got.push({ type: type[1], data: JSON.parse(data[1]) });
      }
    });
  });
  req.on('error', () => {});
  return { got, close: () => req.destroy() };
}

async function waitFor(got, pred, ms = 8000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const e = got.find(pred);
    if (e) return e;
    await sleep(50);
  }
  return null;
}

// A stream that the client leaves after its first piece: the proposal is stored incomplete.
function hangUp(tok, jobId) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ jobId, alternatives: 0 });
    const req = http.request(`${s.URL}/api/ai/proposals/stream`, { method: 'POST', agent: false, headers: {
      Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.once('data', () => { req.destroy(); resolve(res.statusCode); });
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function connectUpwork(tok, account) {
  const c = await api('GET', '/api/upwork/connect', tok);
  const consent = await fetch(`${c.json.data.authorizeUrl}&fake_account=${account}`, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location'));
  return api('GET', back.pathname + back.search, tok);
}

(async () => {
  const spec = new OpenAPIBackend({ definition: path.join(s.ROOT, 'docs/openapi.yaml'), quick: true });
  await spec.init();
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const events = spec.definition['x-events'];
  ok(events && events['job:new'] && events['proposal:updated'], 'docs/openapi.yaml documents job:new and proposal:updated (x-events)');
  const check = {};
  for (const t of ['job:new', 'proposal:updated']) check[t] = ajv.compile(events[t].schema);
  const valid = (e) => {
    const v = check[e.type];
    return v(e.data) ? true : (v.errors || []).slice(0, 4).map((x) => `${x.instancePath} ${x.message}`).join('; ');
  };

  psql(`DELETE FROM tenants WHERE id = '${T}'`);
  psql(`INSERT INTO tenants (id, kind, ai_provider) VALUES ('${T}', 'org', 'openai')`);
  const job = (title, cipher) => psql(`INSERT INTO jobs (tenant_id, upwork_id, title, description, skills, budget_type, budget_min, budget_max, ciphertext, posted_at)
    VALUES ('${T}', 'shape-${Math.random().toString(36).slice(2)}', '${title}', '${title}', '{c,postgresql}', 'hourly', 40, 80, ${cipher ? `'${cipher}'` : 'NULL'}, now()) RETURNING id`).split('\n')[0];
  const j1 = job('A C service, fast', '~0117979cfe362a0000');
  const j2 = job('[[fake:drip,ms=400]] A slow one', null);
  const tok = token(s, { sub: USER, org: T });
  const sse = listen(tok);
  await sleep(300);

  // generated
  let r = await api('POST', '/api/ai/proposals/generate', tok, { jobId: j1, alternatives: 1 });
  is(r.status, 200, 'a proposal generated');
  const p1 = r.json && r.json.data.metadata.proposalId;
  // stopped
  is(await hangUp(tok, j2), 200, 'a stream left after its first piece');
  // updated
  await waitFor(sse.got, (e) => e.type === 'proposal:updated' && e.data.id === p1);
  r = await api('PATCH', `/api/proposals/${p1}`, tok, { content: 'Edited by hand.' });
  is(r.status, 200, 'its text edited (PATCH)');
  // submitted
  r = await api('POST', `/api/proposals/${p1}/submit`, tok);
  is(r.status, 200, 'submitted');

  for (const cause of ['generated', 'stopped', 'updated', 'submitted']) {
    const e = await waitFor(sse.got, (x) => x.type === 'proposal:updated' && x.data.cause === cause);
    ok(e !== null, `proposal:updated (${cause}) received`);
    if (!e) continue;
    const v = valid(e);
    ok(v === true, `proposal:updated (${cause}) matches ProposalUpdatedEvent`, v);
  }
  const last = sse.got.filter((e) => e.type === 'proposal:updated' && e.data.id === p1).pop();
  const { changes, cause, previousStatus, truncated, ...proposal } = last ? last.data : {};
  is([changes, cause, previousStatus, truncated], [['status', 'readyAt'], 'submitted', 'draft', false], 'the last says what changed');
  is(proposal, (await api('GET', `/api/proposals/${p1}`, tok)).json.data, 'and is the proposal as GET /api/proposals/{id} shows it');
  const edited = sse.got.find((e) => e.type === 'proposal:updated' && e.data.cause === 'updated');
  is(edited && edited.data.changes, ['content'], 'an edit says content');
  const stopped = sse.got.find((e) => e.type === 'proposal:updated' && e.data.cause === 'stopped');
  is(stopped && [stopped.data.status, stopped.data.previousStatus, stopped.data.changes], ['incomplete', null, ['created']],
    'a stream cut short: a new, incomplete proposal');

  // job:new from the poller, through the fake Upwork.
  await fetch(`${FAKE}/_fake/${T}/reset`, { method: 'POST' });
  is((await connectUpwork(tok, T)).status, 200, 'the tenant connects Upwork');
  is((await api('POST', '/api/jobs', tok, { name: 'everything' })).status, 201, 'a saved search');
  is((await api('POST', '/api/upwork/poll', tok)).status, 200, 'polled now');
  await waitFor(sse.got, (e) => e.type === 'job:new');
  await sleep(500);
  const jobs = sse.got.filter((e) => e.type === 'job:new');
  ok(jobs.length > 0, `${jobs.length} job:new received`);
  const bad = jobs.map(valid).filter((v) => v !== true);
  ok(bad.length === 0, 'every job:new matches JobNewEvent', bad[0]);
  const listed = (await api('GET', '/api/jobs?limit=100', tok)).json.data;
  const one = jobs[0] ? jobs[0].data : {};
  const { searchId, matchUserId, ...asListed } = one;
  is(matchUserId, USER, 'its match is the search creator\'s');
  is(asListed, listed.find((j) => j.id === one.id), 'and it is the job as GET /api/jobs lists it');
  sse.close();
  done();
})().catch((e) => { ok(false, `exception: ${e.stack}`); done(); });

// 55-upwork-socketio.js: poll-jobs and proposal submit seen by the official socket.io-client: job:new to the tenant's job subscribers once, proposal:updated to its user only.
'use strict';

const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ok, is, done, stack, token, sleep, once, sioConnect, closeSockets, recorder } =
  require(path.join(__dirname, '../node/lib.js'));

const s = stack();
const T = 'org_t_upw_sio';
const OTHER = 'org_t_upw_sio_o';

function conf(key) {
  const text = require('node:fs').readFileSync(path.join(s.RT, 'app.conf'), 'utf8');
  const m = new RegExp(`^${key}\\s*=\\s*(.*?)\\s*$`, 'm').exec(text);
  return m ? m[1] : '';
}
const FAKE = conf('upwork_graphql_url').replace(/\/graphql$/, '');

function psql(sql) {
  return execFileSync(path.join(s.ROOT, 'scripts/stack.sh'), ['psql', '-d', 'upwork', '-tA', '-c', sql],
    { env: { ...process.env, VAR: s.VAR }, encoding: 'utf8' }).trim();
}

async function api(method, p, tok) {
  const r = await fetch(s.URL + p, { method, headers: tok ? { Authorization: `Bearer ${tok}` } : {} });
  return { status: r.status, json: await r.json().catch(() => null) };
}

function cron(name, args) {
  const env = { ...process.env, APP_CONFIG: path.join(s.RT, 'app.conf'),
    ASAN_OPTIONS: `log_path=${s.RT}/log/asan/asan:detect_leaks=1:halt_on_error=1`,
    UBSAN_OPTIONS: `log_path=${s.RT}/log/asan/ubsan:print_stacktrace=1:halt_on_error=1` };
  try {
    execFileSync(path.join(s.BIN, 'cron', name), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    return 0;
  } catch (e) {
    return e.status;
  }
}

// The browser's way through Upwork's consent (the fake consents at once).
async function connectUpwork(tok, account) {
  const c = await api('GET', '/api/upwork/connect', tok);
  const consent = await fetch(`${c.json.data.authorizeUrl}&fake_account=${account}`, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location'));
  return api('GET', back.pathname + back.search, tok);
}

function connect(tok) {
  return sioConnect(s.URL, tok);
}

async function main() {
  psql(`DELETE FROM tenants WHERE id IN ('${T}', '${OTHER}')`);
  await fetch(`${FAKE}/_fake/${T}/reset`, { method: 'POST' });
  const tok = token(s, { sub: 'user_sio_up', org: T });
  is((await connectUpwork(tok, T)).status, 200, 'the tenant connects Upwork');
  const saved = await fetch(`${s.URL}/api/jobs`, { method: 'POST',
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'everything' }) });
  is(saved.status, 201, 'a saved search with notify on');

  const a = connect(tok);
  const b = connect(token(s, { sub: 'user_sio_up2', org: T }));
  const o = connect(token(s, { sub: 'user_sio_up', org: OTHER }));
  await Promise.all([once(a, 'connect'), once(b, 'connect'), once(o, 'connect')]);
  const gotA = recorder(a), gotB = recorder(b), gotO = recorder(o);
  await a.timeout(5000).emitWithAck('subscribe:jobs');
  await o.timeout(5000).emitWithAck('subscribe:jobs');
  await a.timeout(5000).emitWithAck('subscribe:proposals');
  await b.timeout(5000).emitWithAck('subscribe:proposals');

  is(cron('poll-jobs', ['--tenant', T]), 0, 'poll-jobs exits 0');
  const t0 = Date.now();
  while (gotA.filter((e) => e.name === 'job:new').length < 15 && Date.now() - t0 < 5000) await sleep(20);
  const jobs = gotA.filter((e) => e.name === 'job:new');
  is(jobs.length, 15, 'the subscribed client receives job:new for each of the fifteen new jobs');
  ok(jobs.every((e) => e.data && /^\d+$/.test(e.data.upworkId) && e.data.title && e.data.searchId),
    'each the job as the API shows it, with the search that found it');
  is(new Set(jobs.map((e) => e.data.upworkId)).size, 15, 'no job twice');
  is(gotB.filter((e) => e.name === 'job:new').length, 0, 'a client of the tenant not subscribed to jobs receives none');
  is(gotO.filter((e) => e.name === 'job:new').length, 0, "another tenant's subscriber receives none");

  is(cron('poll-jobs', ['--tenant', T]), 0, 'a second run with the same Upwork data');
  await sleep(700);
  is(gotA.filter((e) => e.name === 'job:new').length, 15, 'publishes nothing more');

  // proposal:updated from POST /api/proposals/{id}/submit reaches its user only.
  const job = jobs[0].data.id;
  const prop = psql(`INSERT INTO proposals (tenant_id, user_id, job_id) VALUES ('${T}', 'user_sio_up', '${job}') RETURNING id`)
    .split('\n')[0];
  const sub = await api('POST', `/api/proposals/${prop}/submit`, tok);
  is(sub.status, 200, 'a draft is submitted');
  const t1 = Date.now();
  while (!gotA.some((e) => e.name === 'proposal:updated') && Date.now() - t1 < 5000) await sleep(20);
  const upd = gotA.filter((e) => e.name === 'proposal:updated');
  is(upd.length, 1, 'its user receives proposal:updated');
  const ev = upd[0] ? upd[0].data : {};
  is([ev.id, ev.status, ev.readyAt, ev.cause], [sub.json.data.id, 'ready', sub.json.data.readyAt, 'submitted'],
    'with the proposal as the answer has it, submitted');
  await sleep(300);
  is(gotB.filter((e) => e.name === 'proposal:updated').length, 0, 'another user of the tenant does not');
}

main().catch((e) => ok(false, `no exception: ${e.stack}`)).finally(() => {
  closeSockets();
  done();
});

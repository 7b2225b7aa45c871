// 38-page.js: the page at / in headless Chromium through the web server: sign-in, jobs with filters and paging, a job:new seen live, client research, a proposal streamed and moved along its lifecycle; with default transports, then with WebSockets refused so long-polling carries the feed.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ok, is, done, stack, token, publish, sleep } = require(path.join(__dirname, '../node/lib.js'));

const s = stack();
const T = 'org_t_page';
const USER = 'user_page';
const WRITE_MS = 150;   // the fake provider's pause between streamed pieces

// Scratch space under the stack's runtime directory, which the harness
// removes after a passing run: screenshots, the browser profile, and
// TMPDIR for Chromium and playwright (nothing of theirs lands in /tmp).
const SHOTS = path.join(s.RT, 'log', 'page-screenshots');
const SCRATCH = fs.mkdtempSync(path.join(s.RT, 'run', 'page-test-'));
fs.mkdirSync(SHOTS, { recursive: true });
process.env.TMPDIR = SCRATCH;
const { chromium } = require(path.join(__dirname, '../node/node_modules/playwright-core'));

// Debian's chromium, with the flags the machine needs (DEVELOPERS.md).
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function psql(sql) {
  return execFileSync(path.join(s.ROOT, 'scripts/stack.sh'), ['psql', '-d', 'upwork', '-tA', '-c', sql],
    { env: { ...process.env, VAR: s.VAR, PORT: s.PORT }, encoding: 'utf8' }).trim();
}

// Data written behind the API's back: bump the cache generations, as the API's own writes do.
function invalidate() {
  for (const ns of ['jobs', 'searches', 'clients'])
    execFileSync('redis-cli', ['-s', s.REDIS_SOCKET, 'INCR', `c:{${ns}:${T}}:g`],
      { stdio: 'ignore', env: { ...process.env, REDISCLI_AUTH: fs.readFileSync(s.REDIS_PASSWORD_FILE, 'utf8').trim() } });
}

const q = (v) => (v === null || v === undefined ? 'NULL' : `'${String(v).replace(/'/g, "''")}'`);

async function api(method, p, tok, body) {
  const headers = { Authorization: `Bearer ${tok}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(s.URL + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, headers: r.headers, json: await r.json().catch(() => null) };
}

// The tenant: the fake OpenAI provider (it streams in timed pieces), a
// profile, three clients and thirty jobs; the newest asks the fake to drip.
function setup() {
  psql(`DELETE FROM tenants WHERE id = ${q(T)}`);
  psql(`INSERT INTO tenants (id, kind, ai_provider) VALUES (${q(T)}, 'org', 'openai');
    INSERT INTO users (tenant_id, id, name, title, skills, hourly_rate, hourly_rate_min)
      VALUES (${q(T)}, ${q(USER)}, 'Pat Page', 'Backend developer', '{c,postgresql,linux}', 80, 50)`);
  const clients = [
    ['page-c1', 'Acme Robotics', 'Germany', true, 52000, 70, 4.8, 25, 30, 21, "now() - interval '3 years'"],
    ['page-c2', 'Brittle Ltd', 'France', false, 0, null, null, 0, 6, 0, "now() - interval '10 days'"],
    ['page-c3', 'Kaizen KK', 'Japan', true, 8000, 40, 4.2, 6, 10, 4, "now() - interval '400 days'"],
  ].map((c) => psql(`INSERT INTO clients (tenant_id, upwork_uid, name, company, country, payment_verified,
      total_spent, hire_rate, rating, reviews_count, jobs_posted, total_hires, member_since)
    VALUES (${q(T)}, ${q(c[0])}, ${q(c[1])}, ${q(`${c[1]} Inc.`)}, ${q(c[2])}, ${c[3]}, ${c[4]}, ${q(c[5])},
      ${q(c[6])}, ${c[7]}, ${c[8]}, ${c[9]}, ${c[10]}) RETURNING id`));
  const skills = ['{c,postgresql}', '{go,postgresql}', '{react,typescript}', '{c,linux}'];
  const countries = ['Germany', 'France', 'Japan'];
  const rows = [];
  for (let i = 0; i < 30; i++) {
    const min = 20 + (i % 5) * 10;
    const desc = i === 0 ? `A C service on PostgreSQL. [[fake:drip,ms=${WRITE_MS}]]` : `Job number ${i} for the page test.`;
    rows.push(`(${q(T)}, 'page-${i}', '~01page${String(i).padStart(12, '0')}', ${q(`Page test job ${i}`)}, ${q(desc)},
      ${q(skills[i % 4])}, 'hourly', ${min}, ${min + 30}, ${q(countries[i % 3])}, ${q(clients[i % 3])},
      ${30 + (i * 7) % 70}, ${i % 40}, now() - interval '${i + 1} minutes')`);
  }
  psql(`INSERT INTO jobs (tenant_id, upwork_id, ciphertext, title, description, skills, budget_type, budget_min,
      budget_max, location, client_id, client_score, applicants, posted_at) VALUES ${rows.join(',\n')}`);
  invalidate();
  return clients;
}

// What the page shows, read from the DOM.
const listed = (page, list = '#job-list') => page.$$eval(`${list} > li`, (lis) => lis.map((li) => ({
  id: li.dataset.id,
  title: (li.querySelector('.job-title') || {}).textContent,
  score: li.querySelector('.match') && !li.querySelector('.match').hidden ? Number(li.querySelector('.match').dataset.score) : null,
  skills: [...li.querySelectorAll('.skills li')].map((x) => x.textContent),
  meta: li.querySelector('.job-meta').textContent,
  transport: li.dataset.transport || '',
})));

// The list's state once loaded: done or error (a click starts the loading at once).
async function waitJobs(page) {
  await page.waitForFunction(() => /^(done|error)$/.test(document.getElementById('jobs').dataset.state));
  return page.$eval('#jobs', (e) => e.dataset.state);
}

async function run(browserMode) {
  const blocked = browserMode === 'polling';
  const tag = `${s.WEB}-${blocked ? 'websocket-refused' : 'default'}`;
  const tok = token(s, { sub: USER, org: T });
  let shot = 0;
  const snap = async (page, what) => {
    await page.screenshot({ path: path.join(SHOTS, `${tag}-${String(++shot).padStart(2, '0')}-${what}.png`) });
  };

  const profile = fs.mkdtempSync(path.join(SCRATCH, 'profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 },
    env: { ...process.env, TMPDIR: SCRATCH },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const problems = [];
  const requests = [];
  let refused = 0;
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  if (blocked) {
    // Every WebSocket to /socket.io/ is refused, as by a proxy that does
    // not pass them: the client must stay on long-polling.
    await page.routeWebSocket(/\/socket\.io\//, (ws) => {
      refused++;
      ws.close({ code: 1011, reason: 'refused by the test' });
    });
  }

  try {
    // --- sign-in ------------------------------------------------------------
    await page.goto(`${s.URL}/`);
    ok(await page.isVisible('#signin-form'), `${tag}: the page opens on the sign-in form`);
    await page.fill('#token', `${tok.slice(0, -6)}AAAAAA`);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#signin-error:not([hidden])');
    const forged = await api('GET', '/api/me', `${tok.slice(0, -6)}AAAAAA`);
    const err = await page.textContent('#signin-error');
    ok(forged.status === 401 && err.includes(forged.json.error) && err.includes('401') && err.includes(forged.json.code),
      `${tag}: a forged token: the API's 401 error and code shown`, err);
    ok(await page.evaluate(() => sessionStorage.getItem('upw.token')) === null, `${tag}: and not kept`);

    await page.fill('#token', tok);
    await page.click('#signin-form button[type=submit]');
    is(await waitJobs(page), 'done', `${tag}: signed in, the job list loads`);
    is(await page.evaluate(() => sessionStorage.getItem('upw.token')), tok, `${tag}: the token is kept in sessionStorage`);
    ok((await page.textContent('#who-name')).includes('Pat Page'), `${tag}: the profile's name is shown`);

    // --- the list, paging -----------------------------------------------------
    const a1 = await api('GET', '/api/jobs', tok);
    let shown = await listed(page);
    is(shown.map((j) => j.id), a1.json.data.map((j) => j.id), `${tag}: page 1 shows the API's first page, in order (${shown.length} jobs)`);
    ok(a1.json.pagination.total >= 30 && shown.length === 20, `${tag}: 20 of ${a1.json.pagination.total} jobs`);
    ok(shown.every((j) => j.score !== null), `${tag}: each job shows its match score`);
    ok((await page.textContent('#jobs-summary')).includes(String(a1.json.pagination.total)), `${tag}: the summary counts them`);
    await snap(page, 'jobs');
    await page.click('#next');
    await waitJobs(page);
    const a2 = await api('GET', '/api/jobs?page=2', tok);
    const shown2 = await listed(page);
    is(shown2.map((j) => j.id), a2.json.data.map((j) => j.id), `${tag}: Next shows page 2 (${shown2.length} jobs)`);
    ok(!shown2.some((j) => shown.some((k) => k.id === j.id)), `${tag}: none of them on page 1`);
    ok(await page.isDisabled('#next') && !(await page.isDisabled('#prev')), `${tag}: last page: Next disabled, Previous enabled`);
    await page.click('#prev');
    await waitJobs(page);
    is(await page.$eval('#jobs', (e) => e.dataset.page), '1', `${tag}: Previous goes back to page 1`);

    // --- filters --------------------------------------------------------------
    await page.fill('#f-skills', 'postgresql');
    await page.fill('#f-location', 'germany');
    await page.fill('#f-clientScore', '50');
    await page.fill('#f-minBudget', '40');
    await page.click('#filters button[type=submit]');
    await waitJobs(page);
    const af = await api('GET', '/api/jobs?skills=postgresql&location=germany&clientScore=50&minBudget=40', tok);
    shown = await listed(page);
    is(shown.map((j) => j.id), af.json.data.map((j) => j.id), `${tag}: filters: the API's answer for the same query (${shown.length} jobs)`);
    ok(shown.length > 0 && shown.length < 20, `${tag}: a few jobs pass the filters`);
    ok(shown.every((j) => j.skills.includes('postgresql') && j.meta.includes('Germany')),
      `${tag}: each has the skill and the country`, JSON.stringify(shown));
    ok(af.json.data.every((j) => j.clientScore >= 50 && j.budget.max >= 40), `${tag}: and the client score and budget`);
    await snap(page, 'filtered');

    await page.selectOption('#f-sort', 'match');
    await page.fill('#f-location', '');
    await page.click('#filters button[type=submit]');
    await waitJobs(page);
    const am = await api('GET', '/api/jobs?skills=postgresql&clientScore=50&minBudget=40&sort=match', tok);
    shown = await listed(page);
    is(shown.map((j) => j.id), am.json.data.map((j) => j.id), `${tag}: sort=match: the API's ranking`);
    ok(shown.every((j, i) => i === 0 || shown[i - 1].score >= j.score), `${tag}: best match first`,
      shown.map((j) => j.score).join(' '));

    // A filter the API refuses: its error, with the field marked.
    await page.fill('#f-maxBudget', '10');
    await page.click('#filters button[type=submit]');
    is(await waitJobs(page), 'error', `${tag}: minBudget over maxBudget: an error`);
    const bad = await api('GET', '/api/jobs?skills=postgresql&minBudget=40&maxBudget=10&clientScore=50&sort=match', tok);
    const jerr = await page.textContent('#jobs-error');
    ok(bad.status === 400 && jerr.includes(bad.json.error) && jerr.includes(bad.json.details[0].message)
      && jerr.includes(bad.json.details[0].field), `${tag}: the API's error and its details are shown`, jerr);
    is(await page.getAttribute(`#f-${bad.json.details[0].field}`, 'aria-invalid'), 'true', `${tag}: the field named is marked invalid`);
    await snap(page, 'filter-error');
    await page.click('#filters button[type=reset]');
    await page.waitForFunction(() => document.getElementById('jobs').dataset.state === 'done' &&
      !document.getElementById('f-skills').value);
    is(await page.$eval('#jobs', (e) => Number(e.dataset.total)), a1.json.pagination.total, `${tag}: Clear shows every job again`);

    // --- live: a job:new published while the page is open ----------------------
    await page.waitForSelector('#live[data-state=connected]', { timeout: 10000 });
    if (blocked) {
      await sleep(1500);   // time for an upgrade, which must not happen
      is(await page.$eval('#live', (e) => e.dataset.transport), 'polling', `${tag}: WebSockets refused: connected by long-polling`);
      ok(refused > 0, `${tag}: the client did try a WebSocket (${refused} refused)`);
    } else {
      await page.waitForSelector('#live[data-transport=websocket]', { timeout: 10000 }).catch(() => null);
      is(await page.$eval('#live', (e) => e.dataset.transport), 'websocket', `${tag}: connected, upgraded to WebSocket`);
    }
    const word = `live${process.pid}x${blocked ? 'p' : 'w'}`;
    psql(`INSERT INTO jobs (tenant_id, upwork_id, ciphertext, title, description, skills, budget_type, budget_min, budget_max,
      location, client_score, posted_at) VALUES (${q(T)}, ${q(`page-${word}`)}, '~01pagelive0001', ${q(`Live job ${word}`)},
      ${q(`Announced live: ${word}.`)}, '{c}', 'fixed', 500, 900, 'Germany', 77, now())`);
    invalidate();
    const fresh = (await api('GET', `/api/jobs?q=${word}`, tok)).json.data[0];
    ok(fresh && fresh.title === `Live job ${word}`, `${tag}: a new job, as GET /api/jobs shows it`);
    const t0 = Date.now();
    publish(s, T, 'job:new', fresh);
    const li = await page.waitForSelector(`#live-list > li[data-id="${fresh.id}"]`, { timeout: 10000 }).catch(() => null);
    ok(li, `${tag}: job:new appears in the page (${Date.now() - t0} ms after publishing)`);
    const live = await listed(page, '#live-list');
    const mine = live.filter((j) => j.id === fresh.id);
    ok(mine.length === 1 && mine[0].title.includes(word) && mine[0].meta.includes('Germany'),
      `${tag}: once, with its title and details`, JSON.stringify(live));
    is(mine[0] && mine[0].transport, blocked ? 'polling' : 'websocket', `${tag}: carried by ${blocked ? 'long-polling' : 'the WebSocket'}`);
    await sleep(700);   // the arrival's animation, for the picture
    await snap(page, 'live-job');

    // --- client research --------------------------------------------------------
    const first = a1.json.data.find((j) => j.client && j.client.name === 'Acme Robotics');
    await page.click(`#job-list > li[data-id="${first.id}"] .research-btn`);
    await page.waitForSelector('#research[data-state=done]', { timeout: 10000 });
    const rr = (await api('GET', `/api/clients/${first.client.id}/research`, tok)).json.data;
    const research = await page.evaluate(() => ({
      score: document.getElementById('research-score').textContent,
      verdict: document.getElementById('research-verdict').textContent,
      rows: document.querySelectorAll('#research-reasons tr').length,
      summary: document.getElementById('research-summary').textContent,
      focused: document.activeElement && document.activeElement.id,
    }));
    ok(research.score === String(rr.score) && research.verdict === rr.verdict,
      `${tag}: research: score ${rr.score}, ${rr.verdict}, as the API says`, JSON.stringify(research));
    ok(research.rows === rr.reasons.length && research.summary === rr.summary, `${tag}: each reason and the summary`);
    is(research.focused, 'research-h', `${tag}: focus moves to the research panel`);
    await snap(page, 'research');

    // --- a proposal, streamed ---------------------------------------------------
    const writeJob = a1.json.data.find((j) => j.title === 'Page test job 0');
    await page.click(`#job-list > li[data-id="${writeJob.id}"] .write-btn`);
    await page.waitForSelector('#proposal:not([hidden])');
    // Record the text's length each time it changes, with the time.
    await page.evaluate(() => {
      window.__lengths = [];
      const t = document.getElementById('proposal-text');
      new MutationObserver(() => window.__lengths.push([t.textContent.length, performance.now()]))
        .observe(t, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#p-write');
    await page.waitForSelector('#proposal[data-state=streaming]', { timeout: 5000 }).catch(() => null);
    await sleep(WRITE_MS * 4);
    await snap(page, 'streaming');
    await page.waitForSelector('#proposal[data-state=done]', { timeout: 20000 });
    const lengths = await page.evaluate(() => window.__lengths);
    const text = await page.textContent('#proposal-text');
    const id = await page.$eval('#proposal', (e) => e.dataset.proposalId);
    const stored = (await api('GET', `/api/proposals/${id}`, tok)).json;
    const growing = [...new Set(lengths.map((x) => x[0]).filter((n) => n > 0 && n < text.length))];
    ok(growing.length >= 3, `${tag}: the text grew in steps before the end (${growing.join(', ')} of ${text.length} characters)`);
    ok(growing.every((n, i) => i === 0 || n > growing[i - 1]), `${tag}: only ever longer`);
    const span = lengths.length ? lengths[lengths.length - 1][1] - lengths[0][1] : 0;
    ok(span >= WRITE_MS * 2, `${tag}: over ${Math.round(span)} ms, as the provider wrote it`);
    ok(stored && stored.data.content === text && text.length > 40, `${tag}: the text shown is the stored proposal`);
    is(await page.textContent('#proposal-status'), 'draft', `${tag}: status draft`);
    is(await page.$$eval('#lifecycle button', (bs) => bs.map((b) => b.dataset.to)), ['submit', 'ready', 'withdrawn'],
      `${tag}: a draft offers submit, ready and withdraw`);
    await snap(page, 'proposal-done');

    // --- its lifecycle ------------------------------------------------------------
    await page.click('#lifecycle button[data-to=submit]');
    await page.waitForSelector('#proposal-apply:not([hidden])', { timeout: 10000 }).catch(() => null);
    const href = await page.getAttribute('#proposal-apply-link', 'href');
    ok(await page.textContent('#proposal-status') === 'ready' && /^https:\/\/www\.upwork\.com\/.*~01page0{12}/.test(href),
      `${tag}: submit: ready, with the link to finish on Upwork`, href);
    is((await api('GET', `/api/proposals/${id}`, tok)).json.data.status, 'ready', `${tag}: the API says ready`);
    await page.click('#lifecycle button[data-to=submitted]');
    await page.waitForFunction(() => document.getElementById('proposal-status').textContent === 'submitted');
    is((await api('GET', `/api/proposals/${id}`, tok)).json.data.status, 'submitted', `${tag}: a lifecycle button: submitted`);
    is(await page.$$eval('#lifecycle button', (bs) => bs.map((b) => b.dataset.to)), ['viewed', 'declined', 'withdrawn'],
      `${tag}: now offering the states after submitted`);
    // A change made elsewhere arrives as proposal:updated.
    const moved = await api('PATCH', `/api/proposals/${id}`, tok, { status: 'viewed' });
    is(moved.status, 200, `${tag}: the proposal moved to viewed by another client`);
    const seen = await page.waitForFunction(() => document.getElementById('proposal-status').textContent === 'viewed',
      null, { timeout: 10000 }).then(() => true, () => false);
    ok(seen, `${tag}: proposal:updated shows it live`);
    await api('PATCH', `/api/proposals/${id}`, tok, { status: 'declined' });
    await page.waitForFunction(() => document.getElementById('proposal-status').textContent === 'declined',
      null, { timeout: 10000 }).catch(() => null);
    is(await page.$$eval('#lifecycle button', (bs) => bs.length), 0, `${tag}: declined is final: no buttons`);
    await snap(page, 'lifecycle');

    // Stop part-way: the server keeps the text so far as an incomplete
    // proposal, which the page learns of by proposal:updated.
    await page.click(`#job-list > li[data-id="${writeJob.id}"] .write-btn`);
    await page.click('#p-write');
    await page.waitForFunction(() => document.getElementById('proposal-text').textContent.length > 0, null, { timeout: 10000 });
    await page.click('#p-stop');
    await page.waitForSelector('#proposal[data-state=stopped]');
    const kept = await page.waitForFunction(() => document.getElementById('proposal-status').textContent === 'incomplete',
      null, { timeout: 10000 }).then(() => true, () => false);
    const partial = await page.textContent('#proposal-text');
    const stopped = await page.$eval('#proposal', (e) => e.dataset.proposalId);
    const inc = (await api('GET', `/api/proposals/${stopped}`, tok)).json;
    ok(kept && inc.data.status === 'incomplete' && inc.data.content === partial && partial.length > 0,
      `${tag}: Stop: the proposal kept as incomplete appears, with its stored text (${partial.length} characters)`);
    is(await page.$$eval('#lifecycle button', (bs) => bs.map((b) => b.dataset.to)), ['draft', 'withdrawn'],
      `${tag}: offering draft and withdraw`);
    await page.click('#lifecycle button[data-to=draft]');
    await page.waitForFunction(() => document.getElementById('proposal-status').textContent === 'draft').catch(() => null);
    const back = (await api('GET', `/api/proposals/${stopped}`, tok)).json.data;
    ok(await page.textContent('#proposal-status') === 'draft' && back.status === 'draft' && back.content === partial,
      `${tag}: back to draft, with the text written so far`);

    // --- the page's own hygiene -------------------------------------------------
    const csp = await page.evaluate(() => window.__csp);
    is(csp, [], `${tag}: no Content-Security-Policy violation`);
    is(problems, [], `${tag}: no uncaught error`);
    const foreign = requests.filter((u) => !u.startsWith(`${s.URL}/`) && !u.startsWith(s.URL.replace(/^http/, 'ws')) && !u.startsWith('data:'));
    is(foreign, [], `${tag}: no request leaves the origin (${requests.length} requests)`);
  } catch (e) {
    ok(false, `${tag}: ${e.message}`, e.stack);
    await snap(page, 'failure').catch(() => null);
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// The static files: types and caching, as a browser sees them.
async function headers() {
  const index = await fetch(`${s.URL}/`);
  const body = await index.text();
  ok(index.status === 200 && /^text\/html; charset=utf-8$/i.test(index.headers.get('content-type')),
    `${s.WEB}: GET / is the page, text/html`);
  ok(/no-cache/.test(index.headers.get('cache-control') || '') && index.headers.get('etag'),
    `${s.WEB}: revalidated each time (no-cache, with an ETag)`);
  is(index.headers.get('x-content-type-options'), 'nosniff', `${s.WEB}: nosniff`);
  const again = await fetch(`${s.URL}/`, { headers: { 'If-None-Match': index.headers.get('etag') } });
  is(again.status, 304, `${s.WEB}: unchanged: 304`);
  ok(!/<script>|<script [^>]*>[^<]|<style|\son[a-z]+=/i.test(body), `${s.WEB}: no inline script or style`);
  for (const [p, type] of [['/app.js', 'text/javascript'], ['/style.css', 'text/css']]) {
    const r = await fetch(s.URL + p);
    ok(r.status === 200 && (r.headers.get('content-type') || '').startsWith(type) && /no-cache/.test(r.headers.get('cache-control')),
      `${s.WEB}: ${p}: ${type}, no-cache`);
  }
  const v = await fetch(`${s.URL}/vendor/socket.io.min.js`);
  const vtext = await v.text();
  const pkg = JSON.parse(fs.readFileSync(path.join(s.ROOT, 'www/package.json'), 'utf8'));
  ok(v.status === 200 && (v.headers.get('content-type') || '').startsWith('text/javascript')
    && vtext.includes(`Socket.IO v${pkg.dependencies['socket.io-client']}`),
    `${s.WEB}: /vendor/socket.io.min.js is socket.io-client ${pkg.dependencies['socket.io-client']} from www/node_modules`);
  is(v.headers.get('cache-control'), 'public, max-age=86400', `${s.WEB}: and kept a day`);
  const h = await fetch(`${s.URL}/api/health`);
  ok(/json/.test(h.headers.get('content-type') || '') && !/no-cache/.test(h.headers.get('cache-control') || ''),
    `${s.WEB}: /api/ still goes to the API, without the page's headers`);
}

async function main() {
  setup();
  await headers();
  await run('default');
  await run('polling');
  ok(fs.readdirSync(SHOTS).filter((f) => f.startsWith(s.WEB)).length >= 16, `${s.WEB}: screenshots saved in ${SHOTS}`);
  fs.rmSync(SCRATCH, { recursive: true, force: true });
  done();
}

main().catch((e) => {
  ok(false, `unexpected error: ${e.message}`, e.stack);
  fs.rmSync(SCRATCH, { recursive: true, force: true });
  done();
});

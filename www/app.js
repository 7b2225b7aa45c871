// app.js: the page's behaviour: the token, the job list and its filters, live events over socket.io-client, client research, a streamed proposal and its lifecycle; no framework, no build step.
'use strict';

(function () {
  const TOKEN_KEY = 'upw.token';

  // The lifecycle's edges (README, "The proposal lifecycle"; the server's
  // lifecycle_check() decides): the states that may follow each state.
  const NEXT = {
    draft: ['ready', 'withdrawn'],
    incomplete: ['draft', 'withdrawn'],
    ready: ['submitted', 'draft', 'withdrawn'],
    submitted: ['viewed', 'declined', 'withdrawn'],
    viewed: ['interviewing', 'declined', 'withdrawn'],
    interviewing: ['hired', 'declined', 'withdrawn'],
    hired: [], declined: [], withdrawn: [],
  };
  const MOVE_LABEL = {
    ready: 'Mark ready', draft: 'Back to draft', withdrawn: 'Withdraw', submitted: 'Sent on Upwork',
    viewed: 'Client viewed it', interviewing: 'Interviewing', hired: 'Hired', declined: 'Declined',
  };
  const FACTOR_LABEL = {
    paymentVerified: 'Payment verified', totalSpent: 'Total spent', hireRate: 'Hire rate', rating: 'Rating',
    reviewCount: 'Reviews', reviewTone: 'Review tone', accountAge: 'Account age',
  };

  const $ = (id) => document.getElementById(id);
  const el = {};
  for (const id of ['live', 'who', 'who-name', 'signout', 'signin', 'signin-form', 'token', 'signin-error', 'app',
    'jobs', 'filters', 'jobs-error', 'live-jobs', 'live-list', 'jobs-summary', 'job-list', 'prev', 'next', 'page-info',
    'research', 'research-h', 'research-error', 'research-body', 'research-name', 'research-where', 'research-score',
    'research-verdict', 'research-summary', 'research-reasons', 'research-flags',
    'proposal', 'proposal-h', 'proposal-job', 'proposal-form', 'p-write', 'p-stop', 'proposal-error', 'proposal-text',
    'proposal-after', 'proposal-status', 'proposal-meta', 'lifecycle', 'proposal-apply', 'proposal-apply-link',
    'proposal-suggestions', 'job-tpl'])
    el[id] = $(id);

  const state = {
    query: {},          // the filters applied
    page: 1,
    asOf: null,         // sort=match: the ranking's reference time, kept while paging
    socket: null,
    job: null,          // the job the proposal panel writes for
    proposal: null,     // {id, status, content}
    abort: null,        // the running stream's AbortController
  };

  // --- the API -------------------------------------------------------------

  const getToken = () => sessionStorage.getItem(TOKEN_KEY) || '';

  // An error as the API reports it: {error, code, details}, with the status.
  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super((body && body.error) || `HTTP ${status}`);
      this.status = status;
      this.code = (body && body.code) || '';
      this.details = body ? body.details : undefined;
      this.body = body || {};
      this.retryAfter = retryAfter;
    }
  }

  async function errorOf(res) {
    let body = null;
    if (/json/.test(res.headers.get('Content-Type') || '')) body = await res.json().catch(() => null);
    return new ApiError(res.status, body, res.headers.get('Retry-After'));
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${getToken()}`, Accept: 'application/json' };
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, { error: 'The server cannot be reached', code: 'network', details: e.message });
    }
    if (!res.ok) throw await errorOf(res);
    return res.json();
  }

  // Show an ApiError (or any error) in an alert box: the message, the code,
  // and the details, a sentence or a list of {field, message}.
  function showError(box, err) {
    box.replaceChildren();
    const p = document.createElement('p');
    const strong = document.createElement('strong');
    strong.textContent = err.message || String(err);
    p.append(strong);
    const what = [err.status ? `HTTP ${err.status}` : '', err.code || ''].filter(Boolean).join(', ');
    if (what) p.append(` (${what})`);
    if (err.retryAfter) p.append(`: try again in ${err.retryAfter} s`);
    box.append(p);
    if (Array.isArray(err.details)) {
      const ul = document.createElement('ul');
      for (const d of err.details) {
        const li = document.createElement('li');
        li.textContent = d && typeof d === 'object' ? `${d.field ? `${d.field}: ` : ''}${d.message || ''}` : String(d);
        ul.append(li);
      }
      box.append(ul);
    } else if (err.details) {
      const d = document.createElement('p');
      d.textContent = typeof err.details === 'string' ? err.details : JSON.stringify(err.details);
      box.append(d);
    }
    box.hidden = false;
    if (err.status === 401 && box !== el['signin-error']) signOut(err);
  }

  function clearError(box) {
    box.hidden = true;
    box.replaceChildren();
  }

  // --- signing in ----------------------------------------------------------

  // The token's claims, for showing who is signed in; the API verifies it.
  function claims(tok) {
    try {
      const b64 = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
      return JSON.parse(json);
    } catch (e) {
      return null;
    }
  }

  async function signIn(tok) {
    sessionStorage.setItem(TOKEN_KEY, tok);
    clearError(el['signin-error']);
    let me;
    try {
      me = await api('GET', '/api/me');
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      showError(el['signin-error'], err);
      return;
    }
    const c = claims(tok) || {};
    const tenant = (c.o && c.o.id) || c.org_id || 'personal account';
    const name = (me.data && me.data.name) || c.sub || 'signed in';
    el['who-name'].textContent = `${name} · ${tenant}`;
    if (c.exp) el['who-name'].title = `token valid until ${new Date(c.exp * 1000).toLocaleString()}`;
    el.signin.hidden = true;
    el.who.hidden = false;
    el.app.hidden = false;
    el.token.value = '';
    loadJobs(1);
    connectLive();
  }

  // Sign out; with an error (a 401: the token expired meanwhile), say why.
  function signOut(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (state.socket) state.socket.close();
    state.socket = null;
    if (state.abort) state.abort.abort();
    setLive('off', 'Live updates: off', '');
    el['live-list'].replaceChildren();
    el['live-jobs'].hidden = true;
    el.research.hidden = true;
    el.proposal.hidden = true;
    $('side-hint').hidden = false;
    el.app.hidden = true;
    el.who.hidden = true;
    el.signin.hidden = false;
    clearError(el['signin-error']);
    if (why) {
      showError(el['signin-error'], why);
      const p = document.createElement('p');
      p.textContent = 'Paste a fresh token to go on.';
      el['signin-error'].append(p);
    }
    el.token.focus();
  }

  el['signin-form'].addEventListener('submit', (ev) => {
    ev.preventDefault();
    const tok = el.token.value.trim().replace(/^Bearer\s+/i, '');
    if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(tok)) {
      el['signin-error'].textContent = 'That is not a JWT (three base64url parts separated by dots).';
      el['signin-error'].hidden = false;
      return;
    }
    signIn(tok);
  });
  el.signout.addEventListener('click', () => signOut());

  // --- the job list --------------------------------------------------------

  const money = (n, cur) => {
    try {
      return new Intl.NumberFormat('en-US', { style: 'currency', currency: cur || 'USD', maximumFractionDigits: 0 }).format(n);
    } catch (e) {
      return `${cur} ${n}`;
    }
  };

  function budgetText(b) {
    if (!b || (b.min == null && b.max == null)) return 'budget not stated';
    const range = b.min != null && b.max != null && b.min !== b.max
      ? `${money(b.min, b.currency)}–${money(b.max, b.currency)}` : money(b.max != null ? b.max : b.min, b.currency);
    return b.type === 'hourly' ? `${range}/h` : `${range} fixed`;
  }

  function ago(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '';
    const s = (t - Date.now()) / 1000;
    const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
    for (const [unit, secs] of [['day', 86400], ['hour', 3600], ['minute', 60]])
      if (Math.abs(s) >= secs) return rtf.format(Math.round(s / secs), unit);
    return 'just now';
  }

  // One job as a list item, from the template; every text goes in as text.
  // Its buttons are described by its title, for screen readers.
  let jobSeq = 0;
  function renderJob(job, transport) {
    const li = el['job-tpl'].content.firstElementChild.cloneNode(true);
    const titleId = `job-title-${++jobSeq}`;
    li.querySelector('.job-title').id = titleId;
    for (const b of li.querySelectorAll('.job-actions button')) b.setAttribute('aria-describedby', titleId);
    li.dataset.id = job.id || '';
    if (transport !== undefined) {   // arrived live, over this transport
      li.dataset.transport = transport;
      li.classList.add('fresh');
    }
    const link = li.querySelector('.job-link'), name = li.querySelector('.job-name');
    const title = job.title || '(untitled job)';
    if (typeof job.url === 'string' && /^https:\/\//.test(job.url)) {
      link.href = job.url;
      link.textContent = title;
      name.remove();
    } else {
      name.textContent = title;
      link.remove();
    }
    if (job.match && typeof job.match.score === 'number') {
      const m = li.querySelector('.match');
      m.hidden = false;
      m.querySelector('.match-score').textContent = job.match.score;
      m.dataset.score = job.match.score;
    }
    const meta = [budgetText(job.budget)];
    if (job.location) meta.push(job.location);
    if (typeof job.clientScore === 'number') meta.push(`client score ${job.clientScore}`);
    if (job.applicants != null) meta.push(`${job.applicants} proposal${job.applicants === 1 ? '' : 's'}`);
    const p = li.querySelector('.job-meta');
    p.textContent = meta.join(' · ');
    if (job.createdAt) {
      const time = document.createElement('time');
      time.dateTime = job.createdAt;
      time.textContent = ago(job.createdAt);
      time.title = new Date(job.createdAt).toLocaleString();
      p.append(' · ', time);
    }
    const skills = li.querySelector('.skills');
    for (const s of job.skills || []) {
      const s1 = document.createElement('li');
      s1.textContent = s;
      skills.append(s1);
    }
    li.querySelector('.job-desc').textContent = job.description || '';
    const reasons = li.querySelector('.match-reasons');
    for (const r of (job.match && job.match.reasons) || []) {
      const r1 = document.createElement('li');
      r1.textContent = r;
      reasons.append(r1);
    }
    const research = li.querySelector('.research-btn');
    if (job.client && job.client.id) research.addEventListener('click', () => openResearch(job.client));
    else research.remove();
    const write = li.querySelector('.write-btn');
    if (job.id) write.addEventListener('click', () => openProposal(job));
    else write.remove();
    return li;
  }

  function readFilters() {
    const q = {};
    for (const [k, v] of new FormData(el.filters)) {
      const t = String(v).trim();
      if (t !== '' && !(k === 'sort' && t === 'newest')) q[k] = t;
    }
    return q;
  }

  async function loadJobs(page) {
    const params = new URLSearchParams({ ...state.query, page: String(page) });
    if (state.query.sort === 'match' && page > 1 && state.asOf) params.set('asOf', state.asOf);
    el.jobs.dataset.state = 'loading';
    el.jobs.setAttribute('aria-busy', 'true');
    clearError(el['jobs-error']);
    for (const input of el.filters.elements) input.removeAttribute('aria-invalid');
    let r;
    try {
      r = await api('GET', `/api/jobs?${params}`);
    } catch (err) {
      el.jobs.dataset.state = 'error';
      el.jobs.removeAttribute('aria-busy');
      showError(el['jobs-error'], err);
      for (const d of Array.isArray(err.details) ? err.details : []) {
        const input = d && d.field && el.filters.elements.namedItem(d.field);
        if (input) input.setAttribute('aria-invalid', 'true');
      }
      return;
    }
    const pg = r.pagination || {};
    state.page = pg.page || page;
    if (page === 1) state.asOf = pg.asOf || null;
    el['job-list'].replaceChildren(...r.data.map((j) => renderJob(j)));
    const pages = Math.max(1, Math.ceil((pg.total || 0) / (pg.limit || 20)));
    el['jobs-summary'].textContent = pg.total === 0 ? 'No job matches these filters.'
      : `${pg.total.toLocaleString('en-US')} job${pg.total === 1 ? '' : 's'}${state.query.sort === 'match' ? ', best match first' : ', newest first'}`;
    el['page-info'].textContent = `Page ${state.page} of ${pages}`;
    el.prev.disabled = state.page <= 1;
    el.next.disabled = !pg.hasMore;
    el.jobs.dataset.page = state.page;
    el.jobs.dataset.total = pg.total;
    el.jobs.dataset.state = 'done';
    el.jobs.removeAttribute('aria-busy');
  }

  el.filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.query = readFilters();
    loadJobs(1);
  });
  el.filters.addEventListener('reset', () => {
    state.query = {};
    setTimeout(() => loadJobs(1), 0);   // after the form has cleared
  });
  el.prev.addEventListener('click', () => loadJobs(state.page - 1));
  el.next.addEventListener('click', () => loadJobs(state.page + 1));

  // --- live events -----------------------------------------------------------

  function setLive(st, text, transport) {
    el.live.dataset.state = st;
    if (transport !== undefined) el.live.dataset.transport = transport;
    el.live.textContent = text;
  }

  function transportName() {
    const s = state.socket;
    return s && s.io.engine && s.io.engine.transport ? s.io.engine.transport.name : '';
  }

  // socket.io-client with its default options (long-polling first, then
  // the upgrade to WebSocket), authenticated by a callback so that every
  // reconnection sends the token in force.  ?transport=websocket or
  // ?transport=polling pins one transport, for development.
  function connectLive() {
    if (typeof io !== 'function') {
      setLive('error', 'Live updates: socket.io-client did not load');
      return;
    }
    const opts = { auth: (cb) => cb({ token: getToken() }) };
    const pin = new URLSearchParams(location.search).get('transport');
    if (pin === 'websocket' || pin === 'polling') opts.transports = [pin];
    const socket = io(location.origin, opts);
    state.socket = socket;
    setLive('connecting', 'Live updates: connecting…', '');
    socket.io.on('open', () => {
      const engine = socket.io.engine;
      engine.on('upgrade', (t) => setLive('connected', `Live updates: on (${t.name})`, t.name));
    });
    socket.io.on('reconnect_attempt', () => setLive('connecting', 'Live updates: reconnecting…'));
    socket.on('connect', () => {
      const t = transportName();
      setLive('connected', `Live updates: on (${t})`, t);
      socket.emit('subscribe:jobs');
      socket.emit('subscribe:proposals');
    });
    socket.on('disconnect', (reason) => setLive('disconnected', `Live updates: disconnected (${reason})`));
    socket.on('connect_error', (err) => {
      const why = (err.data && err.data.reason) || err.message;
      // A network failure is retried by the client itself (socket.active);
      // a refusal (an expired token) is not: signing in again reconnects.
      setLive('error', socket.active ? `Live updates: retrying (${why})` : `Live updates: refused (${why})`);
    });
    socket.on('job:new', (job) => {
      if (!job || typeof job !== 'object') return;
      el['live-jobs'].hidden = false;
      el['live-list'].prepend(renderJob(job, transportName()));
    });
    socket.on('proposal:updated', (p) => {
      if (!p || typeof p !== 'object') return;
      const cur = state.proposal;
      if (cur && p.id === cur.id && p.status && p.status !== cur.status) {
        cur.status = p.status;
        showProposalStatus();
      } else if (!cur && el.proposal.dataset.state === 'stopped' && state.job && p.jobId === state.job.id &&
          p.status === 'incomplete') {
        adoptStopped(p.id);
      }
    });
  }

  // The stream we stopped, stored with the text written so far (perhaps
  // more than arrived here): show it as stored, with its lifecycle.
  async function adoptStopped(id) {
    let r;
    try {
      r = await api('GET', `/api/proposals/${encodeURIComponent(id)}`);
    } catch (err) {
      showError(el['proposal-error'], err);
      return;
    }
    if (state.proposal || el.proposal.dataset.state !== 'stopped') return;
    state.proposal = { id, status: r.data.status, content: r.data.content };
    el['proposal-text'].textContent = r.data.content;
    el.proposal.dataset.proposalId = id;
    showProposalStatus();
  }

  // --- client research -----------------------------------------------------

  function openPanel(panel, heading) {
    panel.hidden = false;
    $('side-hint').hidden = true;
    heading.focus();
  }

  async function openResearch(client) {
    const p = el.research;
    openPanel(p, el['research-h']);
    p.dataset.state = 'loading';
    p.setAttribute('aria-busy', 'true');
    clearError(el['research-error']);
    el['research-body'].hidden = true;
    el['research-h'].textContent = `Client research: ${client.name || 'client'}`;
    let r;
    try {
      r = (await api('GET', `/api/clients/${encodeURIComponent(client.id)}/research`)).data;
    } catch (err) {
      p.dataset.state = 'error';
      p.removeAttribute('aria-busy');
      showError(el['research-error'], err);
      return;
    }
    el['research-name'].textContent = r.company || r.name || 'client';
    el['research-where'].textContent = r.country ? `, ${r.country}` : '';
    el['research-score'].textContent = r.score;
    el['research-verdict'].textContent = r.verdict;
    el['research-verdict'].dataset.verdict = r.verdict;
    el['research-summary'].textContent = r.summary || '';
    el['research-reasons'].replaceChildren(...(r.reasons || []).map((x) => {
      const tr = document.createElement('tr');
      const cells = [FACTOR_LABEL[x.factor] || x.factor, `${x.points}/${x.max}`, x.detail || ''];
      tr.append(...cells.map((c, i) => {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) td.scope = 'row';
        td.textContent = c;
        return td;
      }));
      return tr;
    }));
    const flags = r.redFlags || [];
    el['research-flags'].replaceChildren(...(flags.length ? flags : [{ message: 'None.' }]).map((f) => {
      const li = document.createElement('li');
      li.textContent = f.message || f.code;
      if (f.code) li.dataset.code = f.code;
      return li;
    }));
    el['research-body'].hidden = false;
    p.dataset.clientId = r.clientId;
    p.dataset.state = 'done';
    p.removeAttribute('aria-busy');
  }

  // --- a proposal, streamed ------------------------------------------------

  function openProposal(job) {
    if (state.abort) state.abort.abort();
    state.job = job;
    state.proposal = null;
    el['proposal-job'].textContent = job.title || 'this job';
    el['proposal-text'].replaceChildren();
    el['proposal-after'].hidden = true;
    el['proposal-apply'].hidden = true;
    clearError(el['proposal-error']);
    el.proposal.dataset.state = 'idle';
    el.proposal.dataset.jobId = job.id;
    openPanel(el.proposal, el['proposal-h']);
  }

  // Server-Sent Events, parsed as the standard says (lines end in CR, LF
  // or CRLF; a blank line ends an event; "data:" lines join with LF;
  // comments and other fields are ignored): feed(text) calls onData(data)
  // for each complete event.
  function sseParser(onData) {
    let buf = '';
    let data = null;
    return function feed(text, end) {
      buf += text;
      const re = /\r\n|\n|\r/g;
      let start = 0, m;
      while ((m = re.exec(buf)) !== null) {
        if (m[0] === '\r' && m.index === buf.length - 1 && !end) break;   // perhaps CR LF split
        const line = buf.slice(start, m.index);
        start = re.lastIndex;
        if (line === '') {
          if (data !== null) onData(data.join('\n'));
          data = null;
        } else if (line[0] !== ':') {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value[0] === ' ') value = value.slice(1);
          if (field === 'data') (data = data || []).push(value);
        }
      }
      buf = buf.slice(start);
    };
  }

  async function writeProposal() {
    const job = state.job;
    const form = new FormData(el['proposal-form']);
    const body = { jobId: job.id };
    if (form.get('tone')) body.tone = form.get('tone');
    const words = Number(form.get('maxWords'));
    if (form.get('maxWords') !== '') body.maxWords = Number.isInteger(words) ? words : form.get('maxWords');
    const panel = el.proposal, text = el['proposal-text'];
    const ctrl = new AbortController();
    state.abort = ctrl;
    state.proposal = null;
    text.replaceChildren();
    clearError(el['proposal-error']);
    el['proposal-after'].hidden = true;
    el['proposal-apply'].hidden = true;
    panel.dataset.state = 'streaming';
    text.setAttribute('aria-busy', 'true');
    el['p-write'].disabled = true;
    el['p-stop'].hidden = false;
    let final = null, failed = null;
    try {
      const res = await fetch('/api/ai/proposals/stream', {
        method: 'POST', signal: ctrl.signal, body: JSON.stringify(body),
        headers: { Authorization: `Bearer ${getToken()}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      });
      if (!res.ok || !/^text\/event-stream/.test(res.headers.get('Content-Type') || '')) throw await errorOf(res);
      const feed = sseParser((data) => {
        let ev;
        try {
          ev = JSON.parse(data);
        } catch (e) {
          return;
        }
        if (typeof ev.delta === 'string') text.append(ev.delta);
        else if (ev.done) final = ev;
        else if (ev.error) failed = new ApiError(0, ev);
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed(value, false);
      }
      feed('', true);
      if (!final && !failed) failed = new ApiError(0, { error: 'The stream ended before the proposal was complete' });
    } catch (err) {
      failed = err;
    } finally {
      state.abort = null;
      text.setAttribute('aria-busy', 'false');
      el['p-write'].disabled = false;
      el['p-stop'].hidden = true;
    }
    if (final) {
      text.textContent = final.proposal;   // the deltas put together are exactly this
      const md = final.metadata || {};
      state.proposal = { id: md.proposalId, status: md.status || 'draft', content: final.proposal };
      el['proposal-meta'].textContent = `· ${md.provider || ''} ${md.model || ''}, ${md.tokensUsed || 0} tokens`;
      el['proposal-suggestions'].replaceChildren(...(final.suggestions || []).map((s) => {
        const li = document.createElement('li');
        li.textContent = s;
        return li;
      }));
      panel.dataset.proposalId = md.proposalId || '';
      panel.dataset.state = 'done';
      showProposalStatus();
    } else if (failed && failed.name === 'AbortError') {
      panel.dataset.state = 'stopped';
      el['proposal-error'].textContent = 'Stopped. The server keeps the text written so far as an incomplete proposal.';
      el['proposal-error'].hidden = false;
    } else {
      panel.dataset.state = 'error';
      showError(el['proposal-error'], failed);
    }
  }

  el['proposal-form'].addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (state.job && !state.abort) writeProposal();
  });
  el['p-stop'].addEventListener('click', () => state.abort && state.abort.abort());

  // --- the lifecycle ---------------------------------------------------------

  function showProposalStatus() {
    const p = state.proposal;
    el['proposal-after'].hidden = false;
    el['proposal-status'].textContent = p.status;
    el.proposal.dataset.status = p.status;
    if (p.status !== 'ready') el['proposal-apply'].hidden = true;   // the link is for finishing a ready one
    const buttons = [];
    if (p.status === 'draft') buttons.push(moveButton('Submit', 'submit', () => submit()));
    for (const to of NEXT[p.status] || []) buttons.push(moveButton(MOVE_LABEL[to] || to, to, () => move(to)));
    el.lifecycle.replaceChildren(...buttons);
  }

  function moveButton(label, to, action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.to = to;
    if (to === 'withdrawn' || to === 'declined') b.className = 'quiet';
    b.addEventListener('click', async () => {
      for (const x of el.lifecycle.querySelectorAll('button')) x.disabled = true;
      clearError(el['proposal-error']);
      await action();
      for (const x of el.lifecycle.querySelectorAll('button')) x.disabled = false;
    });
    return b;
  }

  async function move(to) {
    const p = state.proposal;
    const body = { status: to, expectedStatus: p.status };
    if (p.status === 'incomplete' && to === 'draft') body.content = p.content;   // a draft again, as written
    try {
      const r = await api('PATCH', `/api/proposals/${encodeURIComponent(p.id)}`, body);
      p.status = r.data.status;
    } catch (err) {
      showError(el['proposal-error'], err);
      if (err.body && err.body.currentStatus) p.status = err.body.currentStatus;   // 409: where it is now
    }
    showProposalStatus();
  }

  async function submit() {
    const p = state.proposal;
    try {
      const r = await api('POST', `/api/proposals/${encodeURIComponent(p.id)}/submit`);
      p.status = r.data.status;
      if (r.data.applyUrl && /^https:\/\//.test(r.data.applyUrl)) {
        el['proposal-apply-link'].href = r.data.applyUrl;
        el['proposal-apply'].hidden = false;
      }
    } catch (err) {
      showError(el['proposal-error'], err);
    }
    showProposalStatus();
  }

  for (const b of document.querySelectorAll('[data-close]'))
    b.addEventListener('click', () => {
      if (b.dataset.close === 'proposal' && state.abort) state.abort.abort();
      $(b.dataset.close).hidden = true;
      $('side-hint').hidden = !el.research.hidden || !el.proposal.hidden;
    });

  // --- start -----------------------------------------------------------------

  if (getToken()) signIn(getToken());
  else el.token.focus();
}());

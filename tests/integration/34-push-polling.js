// 34-push-polling.js: Engine.IO v4 long-polling on the wire, through the web server: the handshake, payloads separated by 0x1e both ways, one GET at a time, the heartbeat before CONNECT, DISCONNECT, close, oversized and invalid POSTs, the upgrade probe, and an expiring token.
'use strict';

const path = require('node:path');
const { ok, is, done, stack, token, sleep } = require(path.join(__dirname, '../node/lib.js'));
const { SEP, EIO, timers, request, Session, publishAsync } = require(path.join(__dirname, '../node/eio.js'));
const WebSocket = require(path.join(__dirname, '../node/node_modules/ws'));

const s = stack();
const T = 'org_push_poll';
const conf = require('node:fs').readFileSync(path.join(s.RT, 'app.conf'), 'utf8');
const leeway = Number((/^jwt_leeway\s*=\s*(\d+)/m.exec(conf) || [0, 30])[1]);
const maxPayload = Number(process.env.APP_PUSH_MESSAGE_MAX || 65536);
const tok = (sub, claims) => token(s, { sub, org: T, claims });
const json = (r) => { try { return JSON.parse(r.body); } catch { return null; } };

async function connected(sub, topics = []) {
  const c = new Session(s.URL);
  await c.handshake();
  const r = await c.connect(tok(sub));
  for (const [i, t] of topics.entries()) {
    await c.post(`42${i + 1}${JSON.stringify([`subscribe:${t}`])}`);
    await c.until((p) => p.startsWith(`43${i + 1}`));
  }
  return { c, connectPacket: r };
}

async function main() {
  // The handshake: GET without sid opens a session; its response is the open packet.
  const a = new Session(s.URL);
  const hs = await a.handshake();
  is(hs.status, 200, 'handshake: GET /socket.io/?EIO=4&transport=polling is 200');
  ok(/^text\/plain; charset=UTF-8$/i.test(hs.headers['content-type']), 'as text/plain; charset=UTF-8', hs.headers['content-type']);
  ok(a.open !== null, 'the body is an open packet "0{...}"', hs.body);
  is(Object.keys(a.open || {}).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades'],
    'open packet: exactly sid, upgrades, pingInterval, pingTimeout, maxPayload');
  ok(/^[A-Za-z0-9_-]{20}$/.test(a.sid), `sid: 20 base64url characters (120 random bits): ${a.sid}`);
  is(a.open.upgrades, ['websocket'], 'upgrades: ["websocket"]');
  is([a.open.pingInterval, a.open.pingTimeout, a.open.maxPayload], [timers.pingInterval, timers.pingTimeout, maxPayload],
    'pingInterval, pingTimeout and maxPayload are push_ping_interval_ms, push_ping_timeout_ms and push_message_max');
  const b = new Session(s.URL);
  await b.handshake();
  ok(b.sid && b.sid !== a.sid, 'every handshake gets a new sid');

  // Errors: 400 with Engine.IO's JSON bodies, as its reference server answers.
  for (const [what, method, q, code, message] of [
    ['no EIO', 'GET', '/socket.io/?transport=polling', 5, 'Unsupported protocol version'],
    ['EIO=abc', 'GET', '/socket.io/?EIO=abc&transport=polling', 5, 'Unsupported protocol version'],
    ['EIO=3', 'GET', '/socket.io/?EIO=3&transport=polling', 5, 'Unsupported protocol version'],
    ['no transport', 'GET', '/socket.io/?EIO=4', 0, 'Transport unknown'],
    ['transport=abc', 'GET', '/socket.io/?EIO=4&transport=abc', 0, 'Transport unknown'],
    ['a POST handshake', 'POST', EIO, 2, 'Bad handshake method'],
    ['a PUT handshake', 'PUT', EIO, 2, 'Bad handshake method'],
    ['unknown sid, GET', 'GET', `${EIO}&sid=AAAAAAAAAAAAAAAAAAAA`, 1, 'Session ID unknown'],
    ['unknown sid, POST', 'POST', `${EIO}&sid=AAAAAAAAAAAAAAAAAAAA`, 1, 'Session ID unknown'],
    ['an undecodable sid', 'GET', `${EIO}&sid=x%zz`, 1, 'Session ID unknown'],
    ['transport=websocket without an upgrade', 'GET', '/socket.io/?EIO=4&transport=websocket', 3, 'Bad request'],
    ['JSONP polling', 'GET', `${EIO}&j=1`, 3, 'Bad request'],
  ]) {
    const r = await request(s.URL, method, q, { body: method === 'GET' ? undefined : '40' });
    is(r.status, 400, `${what}: 400`);
    is(json(r), { code, message }, `${what}: {"code":${code},"message":"${message}"}`);
  }

  // CONNECT in a POST, the answer on the next GET.
  let r = await a.post(`40${JSON.stringify({ token: tok('user_poll_a') })}`);
  is([r.status, r.body], [200, 'ok'], 'POST of a CONNECT packet: 200 "ok"');
  const c40 = await a.until((p) => p.startsWith('40') || p.startsWith('44'));
  ok(/^40\{"sid":"[^"]+"\}$/.test(c40 || ''), 'the GET carries Socket.IO\'s 40{"sid":...}', c40);

  // Several packets in one POST come back as several packets in one GET, separated by 0x1e.
  r = await a.post(['421["subscribe:jobs"]', '422["subscribe:proposals"]', '423["no:such:event"]'].join(SEP));
  is([r.status, r.body], [200, 'ok'], 'a POST of three packets separated by 0x1e: "ok"');
  r = await a.get();
  const acks = r.body.split(SEP).filter((p) => p !== '2');
  is(acks, [`431[{"ok":true,"room":"jobs:${T}"}]`, '432[{"ok":true,"room":"proposals:user_poll_a"}]',
    '433[{"ok":false,"error":"unknown event"}]'], 'one GET answers them all, in order, separated by 0x1e');

  // A GET waits for something to send: an event (or, if the heartbeat is
  // first, a ping; then once more).
  let answeredBy = null;
  for (let i = 0; i < 3 && answeredBy === null; i++) {
    const held = a.get();
    await sleep(100);
    await publishAsync(s, T, 'job:new', { n: 1 + i * 100, title: 'polled' });
    r = await held;
    for (const x of r.body.split(SEP)) {
      if (x === '2') await a.post('3');
      else if (x.startsWith('42["job:new"')) answeredBy = x;
    }
  }
  is(answeredBy && JSON.parse(answeredBy.slice(2))[0], 'job:new', 'a held GET is answered with the event published meanwhile');
  ok(/^42\["job:new",\{"n":\d+,"title":"polled"\}\]$/.test(answeredBy || ''), 'as 42["job:new",data]', answeredBy);
  await publishAsync(s, T, 'proposal:updated', { n: 2 }, 'user_poll_a');
  await publishAsync(s, T, 'proposal:updated', { n: 3 }, 'user_poll_other');
  const mine = await a.until((p) => p.includes('"n":2'), 5000);
  is(mine, '42["proposal:updated",{"n":2}]', "the user's proposal:updated arrives");
  r = await a.until((p) => p.includes('"n":3'), 1200);
  ok(r === null, "another user's proposal:updated does not");

  // One GET at a time: a second one is a 400 and closes the session; the held one gets the close packet.
  const c = (await connected('user_poll_c')).c;
  const first = c.get();
  await sleep(300);
  const second = await c.get();
  is([second.status, json(second)], [400, { code: 3, message: 'Bad request' }], 'a second concurrent GET: 400 Bad request');
  const firstDone = await first;
  is([firstDone.status, firstDone.body], [200, '1'], 'the held GET gets the close packet "1"');
  r = await c.get();
  is([r.status, json(r)], [400, { code: 1, message: 'Session ID unknown' }], 'and the session is gone');

  // The heartbeat runs before any CONNECT; the handshake timeout still ends a client that never connects.
  const h = new Session(s.URL);
  await h.handshake();
  const t0 = Date.now();
  r = await h.get();
  const pingMs = Date.now() - t0;
  is(r.body, '2', `before CONNECT the server pings: "2" after ${pingMs} ms`);
  ok(pingMs >= timers.pingInterval * 0.7 && pingMs < timers.pingInterval + 2000, 'after about pingInterval');
  is((await h.post('3')).body, 'ok', 'the pong is accepted');
  const end = await h.until((p) => p === '1', timers.handshake + 3000);
  ok(end === '1', `a session that never sends CONNECT gets the close packet within push_handshake_timeout_ms (${Date.now() - t0} ms)`);
  r = await h.get();
  is(r.status, 400, 'then its sid is unknown');

  // A held GET given up by its client closes the session, as Engine.IO's
  // reference server does (on the broadcaster's own port: a proxy may
  // keep its upstream request open).
  const g = new Session(s.PUSH_URL);
  await g.handshake();
  await g.connect(tok('user_poll_g'));
  const given = g.get();
  await sleep(200);
  given.abort();
  await sleep(300);
  r = await g.get();
  is([r.status, json(r)], [400, { code: 1, message: 'Session ID unknown' }], 'a held GET abandoned by the client closes the session');

  // One POST at a time too: a second while the first's body is still
  // coming is a 400 and closes the session (on the broadcaster's port:
  // a proxy may buffer the first body before passing it on).
  const w = new Session(s.PUSH_URL);
  await w.handshake();
  await w.connect(tok('user_poll_w'));
  const slow = require('node:net').connect(s.PUSH_PORT, '127.0.0.1');
  await new Promise((resolve) => slow.on('connect', resolve));
  slow.write(`POST ${EIO}&sid=${w.sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n421["subscr`);
  await sleep(300);
  r = await w.post('3');
  is([r.status, json(r)], [400, { code: 3, message: 'Bad request' }], 'a second POST while one is in flight: 400');
  slow.destroy();
  r = await w.until(() => false, 3000);
  ok(r && r.status === 400, 'and the session is closed');

  // A connected session that stops answering pings is closed after pingTimeout.
  const p = (await connected('user_poll_p')).c;
  await sleep(timers.pingInterval + timers.pingTimeout + 1000);
  r = await p.get();
  is([r.status, json(r)], [400, { code: 1, message: 'Session ID unknown' }], 'no pong within pingTimeout: the session is closed');

  // DISCONNECT (41) leaves the namespace and its rooms; the Engine.IO session stays for a new CONNECT.
  const d = (await connected('user_poll_d', ['jobs'])).c;
  is((await d.post('41')).body, 'ok', 'POST 41 (DISCONNECT): ok');
  await sleep(200);
  await publishAsync(s, T, 'job:new', { n: 41 });
  await sleep(300);
  const again = await d.connect(tok('user_poll_d'));	// within push_handshake_timeout_ms
  ok(/^40\{"sid"/.test(again || ''), 'the Engine.IO session stayed open: a new CONNECT is answered with 40{"sid"}', again);
  ok(!d.packets.some((x) => x.includes('"n":41')), 'and no event of the rooms came after 41', d.packets.join(' | '));

  // The client's close packet: a held GET gets a noop, the session ends.
  const e = (await connected('user_poll_e')).c;
  const waiting = e.get();
  await sleep(200);
  is((await e.post('1')).body, 'ok', 'POST 1 (close): ok');
  r = await waiting;
  is([r.status, r.body], [200, '6'], 'the held GET gets a noop "6"');
  is((await e.get()).status, 400, 'and the sid is unknown from then on');

  // A POST over maxPayload is refused before its body is read, and the session ends.
  const o = (await connected('user_poll_o')).c;
  r = await o.post(`42${JSON.stringify(['x', 'y'.repeat(maxPayload)])}`);
  is(r.status, 413, `a POST of more than maxPayload (${maxPayload} bytes): 413`);
  r = await o.until(() => false, 3000);
  ok(r && r.status === 400, 'the session is closed (its sid is unknown)', r && r.body);

  // A POST that is not packets: 400, and the session ends.
  const v = (await connected('user_poll_v')).c;
  r = await v.post('abc');
  is([r.status, json(r)], [400, { code: 3, message: 'Bad request' }], 'a POST of an invalid packet: 400 Bad request');
  r = await v.until(() => false, 3000);
  ok(r && r.status === 400, 'and the session is closed');
  const v2 = (await connected('user_poll_v2')).c;
  r = await v2.post(Buffer.from([0x34, 0xff]));
  ok(r.status === 400, 'a POST that is not UTF-8 text: 400');
  const v3 = (await connected('user_poll_v3')).c;
  r = await v3.post('bAQIDBA==');
  ok(r.status === 400, 'a binary packet (b + base64), which this server never uses: 400');

  // The upgrade: probe on a WebSocket with the sid, the pending GET gets a noop, then "5" moves the session.
  const u = (await connected('user_poll_u', ['jobs'])).c;
  const pending = u.get();
  await sleep(200);
  const ws = new WebSocket(`${s.URL.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid=${u.sid}`);
  const wsGot = [];
  let wsWaiter = null;
  ws.on('message', (m) => {
    m = String(m);
    if (m === '2') { ws.send('3'); return; }
    wsGot.push(m);
    if (wsWaiter) wsWaiter();
  });
  const wsNext = async (pred, ms = 5000) => {
    const t1 = Date.now();
    while (Date.now() - t1 < ms) {
      const i = wsGot.findIndex(pred);
      if (i >= 0) return wsGot.splice(i, 1)[0];
      await new Promise((resolve) => { wsWaiter = resolve; setTimeout(resolve, 100); });
    }
    return null;
  };
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ok(true, 'a WebSocket with the session\'s sid opens (101)');
  ok(wsGot.length === 0, 'it gets no open packet: the session is already open');
  ws.send('2probe');
  is(await wsNext(() => true), '3probe', '2probe is answered with 3probe');
  r = await pending;
  is([r.status, r.body], [200, '6'], 'the pending GET is answered with a noop "6", so the client can pause polling');
  r = await u.get();
  is([r.status, r.body], [200, '6'], 'a GET during the probe gets a noop at once');
  ws.send('5');
  await sleep(300);
  await publishAsync(s, T, 'job:new', { n: 55 });
  ok(await wsNext((m) => m === '42["job:new",{"n":55}]') !== null, 'after 5 the session\'s rooms are served on the WebSocket');
  r = await u.get();
  is([r.status, json(r)], [400, { code: 1, message: 'Session ID unknown' }], 'a GET with the sid after the upgrade: 400');
  const ws2 = new WebSocket(`${s.URL.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid=${u.sid}`);
  const ws2Status = await new Promise((resolve) => {
    ws2.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    ws2.on('open', () => resolve(101));
    ws2.on('error', () => resolve(0));
  });
  is(ws2Status, 400, 'a second WebSocket with the same sid is refused');
  ws.send('421["unsubscribe:jobs"]');
  is(await wsNext((m) => m.startsWith('431')), `431[{"ok":true,"room":"jobs:${T}"}]`, 'and Socket.IO goes on over the WebSocket');
  ws.close();

  // A probe that is not followed by the upgrade leaves the session polling.
  const q = (await connected('user_poll_q', ['jobs'])).c;
  const ws3 = new WebSocket(`${s.URL.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid=${q.sid}`);
  await new Promise((resolve) => { ws3.on('open', resolve); ws3.on('error', resolve); });
  ws3.send('4hello');	// not a probe: the WebSocket is closed
  const code3 = await new Promise((resolve) => ws3.on('close', resolve));
  is(code3, 1008, 'a WebSocket that sends anything but the probe is closed (1008)');
  await publishAsync(s, T, 'job:new', { n: 66 });
  ok(await q.until((x) => x.includes('"n":66')) !== null, 'the session still polls and hears its rooms');

  // A polling session whose token runs out is closed like a WebSocket, and hears nothing more.
  const x = new Session(s.URL);
  await x.handshake();
  await x.connect(tok('user_poll_x', { exp: Math.floor(Date.now() / 1000) - leeway + 3 }));
  await x.post('421["subscribe:jobs"]');
  await x.until((m) => m.startsWith('431'));
  const t2 = Date.now();
  const bye = await x.until((m) => m === '1', 10000);
  ok(bye === '1', `the token ran out: the session gets the close packet (${Date.now() - t2} ms)`);
  await publishAsync(s, T, 'job:new', { n: 77 });
  r = await x.get();
  is(r.status, 400, 'then it is gone: no event reaches it');
  ok(!x.packets.some((m) => m.includes('"n":77')), 'nothing published after reached it');

  // HEAD works wherever GET does: no body, no session created.
  r = await request(s.URL, 'HEAD', EIO);
  is([r.status, r.body], [200, ''], 'HEAD of the handshake: 200, no body');
  is(r.headers['content-length'], String(hs.body.length), 'with the Content-Length a GET would have');
  r = await request(s.URL, 'HEAD', `${EIO}&sid=AAAAAAAAAAAAAAAAAAAA`);
  is([r.status, r.body], [400, ''], 'HEAD with an unknown sid: 400, no body');
}

setTimeout(() => {
  ok(false, 'the test did not finish within 150 s');
  done();
}, 150000).unref();

main()
  .catch((e) => ok(false, 'unexpected error', e.stack))
  .finally(() => done());

#!/usr/bin/env node
// fake-openai.js: a fake OpenAI-compatible Chat Completions server for the tests: the real wire format (JSON and SSE), scripted per request.
//
// Usage: node tests/fake-openai.js --port N [--key-file FILE] [--pid-file FILE]
// (scripts/stack.sh fake-llm-start runs it for a stack; FAKE_LLM=1 with
// `start` does too.)
//
// POST /v1/chat/completions answers like OpenAI: a chat.completion object,
// or with "stream": true an event stream of chat.completion.chunk objects
// ending in "data: [DONE]", with a usage chunk when
// stream_options.include_usage is set.  The content and usage are those
// of tests/fixtures/openai, plus one section per "=== ALTERNATIVE: tone ==="
// header the prompt asks for.  With --key-file, a request without
// "Authorization: Bearer <that key>" gets OpenAI's 401.
//
// Each test scripts its own requests, so tests running in parallel do not
// interfere: a message may carry a directive [[fake:MODE,key=value,...]]
// (the tests put it in a job's title or description, which the API puts
// in the prompt).  MODE is one of:
//   normal      the fixture answer (the default)
//   slow        wait ms (1500) before answering
//   pause       send `after` (1) content chunks, wait ms (1500), send the rest
//   drip        wait ms (300) between every chunk
//   split       write the stream in pieces of `size` (5) bytes, CRLF line ends
//   429         the first `times` (1) requests of this id get 429 with
//               Retry-After: `retry` (1) and OpenAI's error body; then normal
//   500         the first `times` (1) requests of this id get 500; then normal
//   malformed   a body (or a stream event) that is not JSON
//   truncated   the connection closes part-way through the body or stream
//   oversize    `bytes` (2000000) bytes of content
//   hang        accept the request and never answer
//   nousage     no usage in the answer, even when asked for
//   errorevent  a stream that reports an error object part-way
//   plainjson   answer a streamed request with a plain JSON body
//   redirect    302 to another URL
//   badkey      401, as for a wrong API key
// `id` names the request for counting (429, 500) and for GET /__fake/log?id=,
// which returns what the fake saw and sent for that id: a JSON array of
// {mode, model, stream, includeUsage, maxTokens, prompt, authOk, status,
//  usage: {prompt_tokens, completion_tokens} | null, content, aborted}.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
    args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const port = Number(args.port || 0);
const key = args['key-file'] ? fs.readFileSync(args['key-file'], 'utf8').trim() : null;

const fixtures = path.join(__dirname, 'fixtures', 'openai');
const completion = JSON.parse(fs.readFileSync(path.join(fixtures, 'chat-completion.json'), 'utf8'));
const streamLines = fs.readFileSync(path.join(fixtures, 'chat-completion.stream.txt'), 'utf8')
    .split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
const error429 = fs.readFileSync(path.join(fixtures, 'error-429.json'), 'utf8');
const fixtureDeltas = streamLines.filter((c) => c.choices.length && c.choices[0].delta.content !== undefined
    && c.choices[0].delta.role === undefined && c.choices[0].finish_reason === null)
    .map((c) => c.choices[0].delta.content);
const fixtureUsage = streamLines.find((c) => c.usage).usage;

const seen = new Map();     // id -> [log entries]
const counts = new Map();   // id -> requests so far

function directive(messages) {
    for (const m of messages || []) {
        const d = /\[\[fake:([a-z0-9]+)((?:,[a-z]+=[^,\]]*)*)\]\]/.exec(String(m.content));
        if (!d) continue;
        const opts = { mode: d[1] };
        for (const kv of d[2].split(',').slice(1)) {
            const [k, v] = kv.split('=');
            opts[k] = v;
        }
        return opts;
    }
    return { mode: 'normal' };
}

// The content: the fixture's deltas, then one section per alternative asked for.
function pieces(messages) {
    const out = fixtureDeltas.slice();
    const prompt = (messages || []).map((m) => String(m.content)).join('\n');
    const tones = [...prompt.matchAll(/^=== ALTERNATIVE: (\w+) ===$/gm)].map((m) => m[1]);
    for (const t of tones)
        out.push(`\n\n=== ALTERNATIVE: ${t} ===\n`, `A ${t} version: I have shipped `,
            'multi-tenant APIs on PostgreSQL ', 'and can start this week.');
    return { deltas: out, completionTokens: fixtureUsage.completion_tokens + 20 * tones.length };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function chunk(model, delta, finish, usage) {
    const c = JSON.parse(JSON.stringify(streamLines[0]));
    c.model = model;
    c.choices = delta === null ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }];
    c.usage = usage;
    return 'data: ' + JSON.stringify(c) + '\n\n';
}

function sendJson(res, status, body, headers) {
    res.writeHead(status, { 'Content-Type': 'application/json', ...(headers || {}) });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function complete(req, res, body, entry) {
    const o = entry.opts;
    const ms = Number(o.ms || (o.mode === 'drip' ? 300 : 1500));
    const { deltas, completionTokens } = pieces(body.messages);
    const usage = o.mode === 'nousage' ? null
        : { prompt_tokens: fixtureUsage.prompt_tokens, completion_tokens: completionTokens,
            total_tokens: fixtureUsage.prompt_tokens + completionTokens };
    let content = deltas.join('');
    if (o.mode === 'oversize') {
        const piece = 'x'.repeat(1000) + ' ';
        const n = Math.ceil(Number(o.bytes || 2000000) / piece.length);
        deltas.length = 0;
        for (let i = 0; i < n; i++) deltas.push(piece);
        content = deltas.join('');
    }
    if (o.mode === 'slow') await sleep(ms);
    if (o.mode === 'redirect') {
        entry.status = 302;
        res.writeHead(302, { Location: 'http://127.0.0.1:1/v1/chat/completions' });
        return res.end();
    }
    if (!body.stream || o.mode === 'plainjson') {
        const c = JSON.parse(JSON.stringify(completion));
        c.model = body.model;
        c.choices[0].message.content = content;
        if (usage) c.usage = usage; else delete c.usage;
        entry.usage = usage;
        entry.content = content;
        entry.status = 200;
        const text = JSON.stringify(c);
        if (o.mode === 'malformed')
            return sendJson(res, 200, text.slice(0, text.length / 2) + '}}');
        if (o.mode === 'truncated') {
            res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': text.length });
            res.write(text.slice(0, text.length / 2));
            return setTimeout(() => res.socket.destroy(), 50);
        }
        return sendJson(res, 200, text);
    }

    // The stream.
    entry.status = 200;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const events = [chunk(body.model, { role: 'assistant', content: '' }, null, null)];
    for (const d of deltas) events.push(chunk(body.model, { content: d }, null, null));
    events.push(chunk(body.model, {}, 'stop', null));
    if (usage && body.stream_options && body.stream_options.include_usage)
        events.push(chunk(body.model, null, null, usage));
    events.push('data: [DONE]\n\n');
    entry.usage = usage && body.stream_options && body.stream_options.include_usage ? usage : null;
    entry.content = content;

    const write = async (s) => {
        if (res.destroyed) return false;
        if (o.mode === 'split') {
            s = s.replace(/\n/g, '\r\n');
            const size = Number(o.size || 5);
            for (let i = 0; i < s.length; i += size) {
                res.write(s.slice(i, i + size));
                await sleep(2);
            }
        } else if (!res.write(s)) {
            await new Promise((r) => res.once('drain', r));
        }
        return !res.destroyed;
    };
    for (let i = 0; i < events.length; i++) {
        if (o.mode === 'truncated' && i === 3) return res.socket.destroy();
        if (o.mode === 'malformed' && i === 2) { await write('data: {"id": "chatcmpl-x", "choices": [\n\n'); continue; }
        if (o.mode === 'errorevent' && i === 2) {
            await write('data: {"error": {"message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null}}\n\n');
            return res.end();
        }
        if (!(await write(events[i]))) return;
        if (o.mode === 'pause' && i === Number(o.after || 1)) await sleep(ms);
        else if (o.mode === 'drip') await sleep(ms);
        else if (o.mode !== 'oversize') await sleep(2);
    }
    res.end();
}

const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://fake');
    if (req.method === 'GET' && url.pathname === '/__fake/log')
        return sendJson(res, 200, seen.get(url.searchParams.get('id')) || []);
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions')
        return sendJson(res, 404, { error: { message: 'Unknown request URL', type: 'invalid_request_error' } });
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
        let body;
        try { body = JSON.parse(raw); } catch (e) {
            return sendJson(res, 400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error' } });
        }
        const opts = directive(body.messages);
        const id = opts.id || '';
        const n = (counts.get(id) || 0) + 1;
        counts.set(id, n);
        const entry = { mode: opts.mode, model: body.model, stream: !!body.stream,
            includeUsage: !!(body.stream_options && body.stream_options.include_usage),
            maxTokens: body.max_tokens, messages: (body.messages || []).length,
            prompt: (body.messages || []).map((m) => String(m.content)).join('\n'),
            authOk: !key || req.headers.authorization === 'Bearer ' + key,
            status: 0, usage: null, content: null, aborted: false, opts };
        if (id) { if (!seen.has(id)) seen.set(id, []); seen.get(id).push(entry); }
        res.on('close', () => { if (!res.writableFinished) entry.aborted = true; });
        if (!entry.authOk || opts.mode === 'badkey') {
            entry.status = 401;
            return sendJson(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
        }
        if (opts.mode === 'hang') return;
        if (opts.mode === '429' && n <= Number(opts.times || 1)) {
            entry.status = 429;
            return sendJson(res, 429, error429, { 'Retry-After': String(opts.retry || 1) });
        }
        if (opts.mode === '500' && n <= Number(opts.times || 1)) {
            entry.status = 500;
            return sendJson(res, 500, { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
        }
        complete(req, res, body, entry).catch((e) => { console.error(e); res.destroy(); });
    });
});

server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
    if (args['pid-file']) fs.writeFileSync(args['pid-file'], String(process.pid) + '\n');
    console.log(`fake-openai: listening on http://127.0.0.1:${server.address().port}/v1`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

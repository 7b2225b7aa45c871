/* proposals_stream.c: POST /api/ai/proposals/stream writes a proposal as Server-Sent Events while the provider generates it. */
#include <string.h>

#include "agent.h"

/*
 * The events, each one "data: <JSON>\n\n":
 *   {"delta":"..."}			a piece of the proposal, as it arrives
 *   {"done":true,"proposal":...,"alternatives":[...],"suggestions":[...],
 *    "metadata":{...}}			the end: the draft and its usage are stored
 *   {"error":"Generation failed","code":"bad_gateway","details":"..."}
 *					the provider failed part-way; nothing is stored
 * The HTTP status and headers go out with the first delta, so a failure
 * before it (bad body, 402, provider down) is an ordinary JSON error
 * with its status.  Comments (": ping") keep an idle stream alive.
 *
 * A client that goes away part-way is noticed at the next write (a
 * delta or a ping): the provider call is stopped at once, and the text
 * generated so far is stored with status "incomplete" together with the
 * usage it cost (the provider bills tokens it generated), so that the
 * user can find it and nothing billed goes unrecorded.
 */
struct stream {
	struct req	*r;
	int		 started;
	double		 last_write;
};

static int
sse_send(struct stream *s, const char *data, size_t len)
{
	struct buf	b = { 0 };
	int		rc;

	if (!s->started) {
		s->started = 1;
		if (http_stream_begin(s->r, 200,
		    "text/event-stream; charset=utf-8") == -1)
			return -1;
	}
	buf_puts(&b, "data: ");
	buf_append(&b, data, len);
	buf_puts(&b, "\n\n");
	rc = http_stream_write(s->r, b.data, b.len);
	buf_free(&b);
	s->last_write = now_ms();
	return rc;
}

static int
on_delta(void *arg, const char *p, size_t n)
{
	struct buf	b = { 0 };
	struct jw	w;
	int		rc;

	jw_init(&w, &b);
	jw_object(&w, NULL);
	jw_stringn(&w, "delta", p, n);
	jw_end(&w);
	rc = sse_send(arg, b.data, b.len);
	buf_free(&b);
	return rc;
}

/* While the provider is quiet: a comment now and then, which also shows whether the client is still there. */
static int
on_tick(void *arg)
{
	struct stream	*s = arg;
	static const char ping[] = ": ping\n\n";

	if (!s->started || now_ms() - s->last_write < agent_cfg.llm_sse_ping_ms)
		return 0;
	s->last_write = now_ms();
	return http_stream_write(s->r, ping, sizeof(ping) - 1);
}

static void
send_error(struct stream *s, enum err e, const char *why)
{
	struct buf	b = { 0 };
	struct jw	w;

	jw_init(&w, &b);
	jw_object(&w, NULL);
	jw_string(&w, "error", "Generation failed");
	jw_string(&w, "code", err_code(e));
	jw_string(&w, "details", why);
	jw_end(&w);
	(void)sse_send(s, b.data, b.len);
	s->r->code = err_code(e);
	buf_free(&b);
}

static void
stream(struct req *r)
{
	struct proposal_gen	g;
	struct stream		s = { r, 0, 0 };
	struct buf		b = { 0 };
	struct jw		w;
	enum err		e;

	if (proposal_prepare(r, &g) == -1)
		goto out;
	if (proposal_run(r, &g, on_delta, on_tick, &s) == -1) {
		if (!s.started)
			proposal_fail(r, &g);
		else
			send_error(&s, g.out.res.err, g.out.res.why);
		goto out;
	}
	if (proposal_store(r, &g, &e) == -1) {
		if (!s.started)
			http_error(r, e, "the proposal was not stored");
		else if (!g.out.incomplete)
			send_error(&s, e, "the proposal was not stored");
		goto out;
	}
	if (g.out.incomplete) {
		LOG_INFO(r, "stream: client went away; proposal %s stored "
		    "incomplete", g.out.id);
		r->code = "client_closed";
		proposal_publish(r, &g);
		goto out;
	}
	jw_init(&w, &b);
	jw_object(&w, NULL);
	jw_bool(&w, "done", 1);
	proposal_result_json(&w, &g);
	jw_end(&w);
	if (sse_send(&s, b.data, b.len) == -1)
		r->code = "client_closed";
	/* The client has its answer; then the event, read back as stored. */
	proposal_publish(r, &g);
out:
	proposal_release(r, &g);
	buf_free(&b);
	proposal_gen_free(&g);
}

static const struct route routes[] = {
	{ "/api/ai/proposals/stream", METHOD_POST, stream, ROUTE_JSON, RL_AI, NULL },
};

int
main(void)
{
	int	rc;

	rc = agent_main("proposals-stream", routes, nitems(routes), NULL);
	llm_openai_cleanup();
	return rc;
}

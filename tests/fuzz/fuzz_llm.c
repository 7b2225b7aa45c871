/* fuzz_llm.c: libFuzzer target for what the AI code reads from outside: a provider's SSE stream and JSON body, its text split into proposal and alternatives, and hostile job text in the builtin writer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../agent/llm_openai.c"
#include "../../agent/proposal.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
sink(void *arg, const char *s, size_t n)
{
	buf_append(arg, s, n);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*in = (const char *)data;
	struct proposal_gen	 g;
	struct llm_call		 c;
	struct xfer		 x;
	struct buf		 streamed = { 0 }, out = { 0 }, tips = { 0 };
	struct job_brief	 j;
	struct profile		 p;
	char			*text;
	size_t			 cut = size ? data[0] % (size + 1) : 0;

	log_set_level("error");
	/* The input as a stream from the provider, in two reads cut anywhere. */
	memset(&g, 0, sizeof(g));
	g.in.alternatives = 3;
	g.stream.on_delta = sink;
	g.stream.arg = &streamed;
	memset(&c, 0, sizeof(c));
	c.on_delta = forward;
	c.arg = &g;
	memset(&x, 0, sizeof(x));
	x.call = &c;
	x.res = &g.out.res;
	x.sse.event = on_event;
	x.sse.arg = &x;
	if (sse_feed(&x.sse, in, cut) == 0 && sse_feed(&x.sse, in + cut, size - cut) == 0)
		(void)forward_text(&g, 1);
	split_text(&g);
	sse_free(&x.sse);
	buf_free(&streamed);
	proposal_gen_free(&g);

	/* The input as a plain JSON answer. */
	memset(&g, 0, sizeof(g));
	memset(&x, 0, sizeof(x));
	c.on_delta = NULL;
	x.call = &c;
	x.res = &g.out.res;
	buf_append(&x.body, in, size);
	parse_body(&x);
	buf_free(&x.body);
	proposal_gen_free(&g);

	/* The input as a job's title and description (from Upwork, untrusted). */
	text = xmalloc(size + 1);
	memcpy(text, in, size);
	text[size] = '\0';
	memset(&j, 0, sizeof(j));
	memset(&p, 0, sizeof(p));
	j.title = text;
	j.description = text + strlen(text) / 2;
	j.budget_type = size & 1 ? "hourly" : "fixed";
	j.budget_min = size & 2 ? -1 : 10;
	j.budget_max = 20;
	p.hourly_rate = size & 4 ? -1 : 15;
	p.name = text;
	llm_builtin_write(&out, &j, &p, (enum tone)(size % TONE__MAX),
	    50 + (long long)(size % 100), NULL);
	llm_builtin_suggest(&tips, &j, &p, out.data, 60);
	(void)review_tone_of(text, strlen(text));
	free(text);
	buf_free(&out);
	buf_free(&tips);
	return 0;
}

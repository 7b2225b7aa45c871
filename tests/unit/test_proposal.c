/* test_proposal.c: unit tests for proposal text handling: splitting the provider's text into the proposal and its alternatives, and streaming only the proposal whatever the chunking. */
#include <stdlib.h>
#include <string.h>

#include "../../agent/proposal.c"
#include "tap.h"

static int
sink(void *arg, const char *s, size_t n)
{
	buf_append(arg, s, n);
	return 0;
}

/* Feed text in chunks of size n as a provider would, then end the stream; what was forwarded? */
static char *
stream_in_chunks(const char *text, size_t n)
{
	struct proposal_gen	g;
	struct buf		out = { 0 };
	size_t			i, len = strlen(text);
	char			*s;

	memset(&g, 0, sizeof(g));
	g.stream.on_delta = sink;
	g.stream.arg = &out;
	for (i = 0; i < len; i += n) {
		buf_append(&g.out.res.text, text + i, len - i < n ? len - i : n);
		forward(&g, NULL, 0);
	}
	forward_text(&g, 1);
	s = xstrdup(out.data ? out.data : "");
	buf_free(&out);
	buf_free(&g.out.res.text);
	return s;
}

static void
test_stream(void)
{
	static const char *const texts[][2] = {
		{ "Hello,\n\nI can do this.\n\nBest,\nDana\n\n=== ALTERNATIVE: friendly ===\nHi!\n",
		  "Hello,\n\nI can do this.\n\nBest,\nDana" },
		{ "\n  Leading space.  \n", "Leading space." },
		{ "No alternatives at all.", "No alternatives at all." },
		{ "=== ALTERNATIVE: concise ===\nonly alternatives", "" },
		{ "A line with == inside and a =\n== but not three.\n===\nafter", "A line with == inside and a =\n== but not three." },
	};
	size_t	t, n;
	char	*got;
	int	all = 1;

	for (t = 0; t < nitems(texts); t++)
		for (n = 1; n <= 9; n++) {
			got = stream_in_chunks(texts[t][0], n);
			if (strcmp(got, texts[t][1]) != 0) {
				all = 0;
				printf("# text %zu in chunks of %zu: got '%s'\n", t, n, got);
			}
			free(got);
		}
	ok(all, "whatever the chunk size, exactly the proposal is streamed, trimmed, without the alternatives");
}

static void
test_split(void)
{
	struct proposal_gen	g;

	memset(&g, 0, sizeof(g));
	g.in.tone = TONE_PROFESSIONAL;
	g.in.alternatives = 2;
	buf_puts(&g.out.res.text, "Main text.\n\n=== ALTERNATIVE: concise ===\nShort one.\n"
	    "=== ALTERNATIVE: friendly ===\n\nHi! Friendly one.\n=== ALTERNATIVE: confident ===\nextra");
	split_text(&g);
	is_str(g.out.text.data, "Main text.", "the proposal");
	is_int((long long)g.out.nalt, 2, "as many alternatives as asked, no more");
	is_str(g.out.alt[0].data, "Short one.", "first alternative");
	is_str(tone_names[g.out.alt_tone[0]], "concise", "its tone from its header");
	is_str(g.out.alt[1].data, "Hi! Friendly one.", "second alternative, trimmed");
	is_str(tone_names[g.out.alt_tone[1]], "friendly", "its tone");
	proposal_gen_free(&g);

	memset(&g, 0, sizeof(g));
	g.in.tone = TONE_FRIENDLY;
	g.in.alternatives = 3;
	buf_puts(&g.out.res.text, "Only the proposal, the model ignored the rest.");
	split_text(&g);
	is_str(g.out.text.data, "Only the proposal, the model ignored the rest.", "no headers: all proposal");
	is_int((long long)g.out.nalt, 0, "and no alternatives");
	proposal_gen_free(&g);

	memset(&g, 0, sizeof(g));
	g.in.tone = TONE_CONCISE;
	g.in.alternatives = 1;
	buf_puts(&g.out.res.text, "P.\n=== something odd ===\nAlt text");
	split_text(&g);
	is_str(tone_names[g.out.alt_tone[0]], "professional", "a header without a tone: the expected next tone");
	proposal_gen_free(&g);
}

int
main(void)
{
	test_stream();
	test_split();
	return done_testing();
}

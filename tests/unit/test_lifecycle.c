/* test_lifecycle.c: unit tests for the proposal state machine: every pair of states, with and without an edit of the text, against the table README documents. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "tap.h"

/*
 * README's table, written out here independently of lifecycle.c: the
 * legal status changes, and the states whose text may be edited.
 */
static const char *const legal[] = {
	"draft>ready", "draft>withdrawn",
	"incomplete>draft", "incomplete>withdrawn",
	"ready>draft", "ready>submitted", "ready>withdrawn",
	"submitted>viewed", "submitted>declined", "submitted>withdrawn",
	"viewed>interviewing", "viewed>declined", "viewed>withdrawn",
	"interviewing>hired", "interviewing>declined", "interviewing>withdrawn",
};
static const char *const editable[] = { "draft", "incomplete" };

static int
listed(const char *const *v, size_t n, const char *s)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* What the table says about from → to, with or without an edit. */
static enum lc_verdict
expected(int from, int to, int edits)
{
	char	pair[64];
	int	edge;

	snprintf(pair, sizeof(pair), "%s>%s", proposal_status_names[from],
	    proposal_status_names[to]);
	edge = listed(legal, nitems(legal), pair);
	if (edits && !listed(editable, nitems(editable), proposal_status_names[from]))
		return LC_LOCKED;
	if (from == to)
		return edits && from == PS_DRAFT ? LC_OK : LC_SAME;
	if (!edge)
		return LC_ILLEGAL;
	if (from == PS_INCOMPLETE && to == PS_DRAFT && !edits)
		return LC_NEEDS_EDIT;
	return LC_OK;
}

static void
test_pairs(void)
{
	int	from, to, edits, bad = 0, ok_n = 0, total = 0;

	for (from = 0; from < PS__MAX; from++)
		for (to = 0; to < PS__MAX; to++)
			for (edits = 0; edits <= 1; edits++) {
				enum lc_verdict	got = lifecycle_check(from, to, edits);
				enum lc_verdict	want = expected(from, to, edits);

				total++;
				ok_n += got == LC_OK;
				if (got != want) {
					bad++;
					printf("# %s -> %s%s: got %d, want %d\n",
					    proposal_status_names[from],
					    proposal_status_names[to],
					    edits ? " (with an edit)" : "", got, want);
				}
			}
	is_int(total, PS__MAX * PS__MAX * 2, "every pair, with and without an edit");
	is_int(bad, 0, "each verdict is the table's");
	/* 16 edges without an edit (incomplete>draft needs one: 15), plus with an edit: draft>draft, draft>ready, draft>withdrawn, incomplete>draft, incomplete>withdrawn */
	is_int(ok_n, 15 + 5, "twenty legal changes in all");
}

static void
test_named(void)
{
	ok(lifecycle_check(PS_DRAFT, PS_READY, 0) == LC_OK, "draft → ready (submit)");
	ok(lifecycle_check(PS_READY, PS_READY, 0) == LC_SAME, "ready → ready: already");
	ok(lifecycle_check(PS_DRAFT, PS_SUBMITTED, 0) == LC_ILLEGAL, "draft → submitted jumps over ready");
	ok(lifecycle_check(PS_SUBMITTED, PS_INTERVIEWING, 0) == LC_ILLEGAL, "submitted → interviewing jumps over viewed");
	ok(lifecycle_check(PS_VIEWED, PS_HIRED, 0) == LC_ILLEGAL, "viewed → hired jumps over interviewing");
	ok(lifecycle_check(PS_READY, PS_DECLINED, 0) == LC_ILLEGAL, "the client cannot decline what it never got");
	ok(lifecycle_check(PS_INTERVIEWING, PS_DECLINED, 0) == LC_OK, "declined after an interview");
	ok(lifecycle_check(PS_HIRED, PS_WITHDRAWN, 0) == LC_ILLEGAL, "hired is final");
	ok(lifecycle_check(PS_WITHDRAWN, PS_DRAFT, 1) == LC_LOCKED, "a withdrawn proposal's text is locked");
	ok(lifecycle_check(PS_INCOMPLETE, PS_DRAFT, 0) == LC_NEEDS_EDIT, "incomplete → draft needs an edit");
	ok(lifecycle_check(PS_INCOMPLETE, PS_DRAFT, 1) == LC_OK, "incomplete → draft with an edit");
	ok(lifecycle_check(PS_INCOMPLETE, PS_READY, 1) == LC_ILLEGAL, "incomplete → ready even with an edit");
	ok(lifecycle_check(PS__MAX, PS_DRAFT, 0) == LC_ILLEGAL, "an unknown state");
	ok(lifecycle_final(PS_HIRED) && lifecycle_final(PS_DECLINED) &&
	    lifecycle_final(PS_WITHDRAWN) && !lifecycle_final(PS_INTERVIEWING),
	    "hired, declined and withdrawn are final, no other");
}

static void
test_names(void)
{
	enum proposal_status	s;
	int			i, round = 1;

	for (i = 0; i < PS__MAX; i++)
		round &= lifecycle_parse(proposal_status_names[i], &s) == 0 &&
		    (int)s == i;
	ok(round, "every name parses back to its state");
	ok(lifecycle_parse("Draft", &s) == -1 && lifecycle_parse("", &s) == -1 &&
	    lifecycle_parse("sent", &s) == -1, "case, empty and unknown names are refused");
	ok(proposal_status_names[PS__MAX] == NULL, "the names end with NULL (FT_ENUM's choices)");
}

static void
test_messages(void)
{
	struct buf	b = { 0 };

	lifecycle_message(&b, PS_SUBMITTED, PS_READY, LC_ILLEGAL);
	is_str(b.data, "a proposal cannot go from submitted to ready; from submitted "
	    "it can become viewed, declined or withdrawn", "illegal: the state and what may follow");
	buf_reset(&b);
	lifecycle_message(&b, PS_VIEWED, PS_VIEWED, LC_SAME);
	is_str(b.data, "the proposal is already viewed; from viewed it can become "
	    "interviewing, declined or withdrawn", "the same state");
	buf_reset(&b);
	lifecycle_message(&b, PS_HIRED, PS_WITHDRAWN, LC_ILLEGAL);
	is_str(b.data, "a proposal cannot go from hired to withdrawn; hired is final", "final");
	buf_reset(&b);
	lifecycle_message(&b, PS_READY, PS_DRAFT, LC_LOCKED);
	is_str(b.data, "the text can be edited only while the proposal is a draft (or "
	    "incomplete); this proposal is ready; from ready it can become draft, "
	    "submitted or withdrawn", "locked text");
	buf_reset(&b);
	lifecycle_message(&b, PS_INCOMPLETE, PS_DRAFT, LC_NEEDS_EDIT);
	is_str(b.data, "an incomplete proposal becomes a draft when its text is edited: "
	    "send the content with the status", "incomplete needs an edit");
	buf_reset(&b);
	lifecycle_json(&b, lifecycle_next(PS_READY));
	is_str(b.data, "[\"draft\",\"submitted\",\"withdrawn\"]", "the next states as JSON");
	buf_reset(&b);
	lifecycle_json(&b, lifecycle_next(PS_DECLINED));
	is_str(b.data, "[]", "none after a final state");
	buf_reset(&b);
	lifecycle_list(&b, lifecycle_next(PS_DRAFT));
	is_str(b.data, "ready or withdrawn", "two in words");
	buf_free(&b);
}

int
main(void)
{
	test_pairs();
	test_named();
	test_names();
	test_messages();
	return done_testing();
}

/* lifecycle.c: the proposal state machine: which status may follow which, and when the text may be edited; pure, the one definition of the edges. */
#include <string.h>

#include "agent.h"

const char *const proposal_status_names[PS__MAX + 1] = {
	[PS_DRAFT] = "draft",
	[PS_INCOMPLETE] = "incomplete",
	[PS_READY] = "ready",
	[PS_SUBMITTED] = "submitted",
	[PS_VIEWED] = "viewed",
	[PS_INTERVIEWING] = "interviewing",
	[PS_HIRED] = "hired",
	[PS_DECLINED] = "declined",
	[PS_WITHDRAWN] = "withdrawn",
	[PS__MAX] = NULL,
};

#define B(s)	(1U << (s))

/*
 * The edges.  Forward one step at a time, so that nobody jumps over a
 * state: draft → ready (submitted here) → submitted (sent on Upwork) →
 * viewed → interviewing → hired.  A ready proposal may go back to draft
 * to be edited again before it is sent.  The client may decline at any
 * point after the proposal reached it (submitted, viewed, interviewing).
 * The freelancer may withdraw any open proposal.  An incomplete one (a
 * stream its client left) becomes a draft only with an edit of its text
 * (see lifecycle_check()).  hired, declined and withdrawn are final.
 */
static const unsigned int next[PS__MAX] = {
	[PS_DRAFT] = B(PS_READY) | B(PS_WITHDRAWN),
	[PS_INCOMPLETE] = B(PS_DRAFT) | B(PS_WITHDRAWN),
	[PS_READY] = B(PS_DRAFT) | B(PS_SUBMITTED) | B(PS_WITHDRAWN),
	[PS_SUBMITTED] = B(PS_VIEWED) | B(PS_DECLINED) | B(PS_WITHDRAWN),
	[PS_VIEWED] = B(PS_INTERVIEWING) | B(PS_DECLINED) | B(PS_WITHDRAWN),
	[PS_INTERVIEWING] = B(PS_HIRED) | B(PS_DECLINED) | B(PS_WITHDRAWN),
	[PS_HIRED] = 0,
	[PS_DECLINED] = 0,
	[PS_WITHDRAWN] = 0,
};

/* The states whose text (content, alternatives) may be edited. */
#define EDITABLE	(B(PS_DRAFT) | B(PS_INCOMPLETE))

/* The status named s: 0, or -1 when there is none. */
int
lifecycle_parse(const char *s, enum proposal_status *out)
{
	int	i;

	for (i = 0; i < PS__MAX; i++)
		if (strcmp(proposal_status_names[i], s) == 0) {
			*out = (enum proposal_status)i;
			return 0;
		}
	return -1;
}

/* The set of states that may follow from, as bits (1 << state). */
unsigned int
lifecycle_next(enum proposal_status from)
{
	return from < PS__MAX ? next[from] : 0;
}

/* Predicate: nothing can follow this state. */
int
lifecycle_final(enum proposal_status s)
{
	return lifecycle_next(s) == 0;
}

/* Predicate: the text of a proposal in this state may be edited. */
int
lifecycle_editable(enum proposal_status s)
{
	return s < PS__MAX && (EDITABLE & B(s)) != 0;
}

/*
 * May a proposal in state from become to, with (edits = 1) or without
 * an edit of its text in the same change?  to == from with an edit is a
 * plain edit of a draft.  Returns LC_OK or why not.
 */
enum lc_verdict
lifecycle_check(enum proposal_status from, enum proposal_status to, int edits)
{
	if (from >= PS__MAX || to >= PS__MAX)
		return LC_ILLEGAL;
	if (edits && !lifecycle_editable(from))
		return LC_LOCKED;
	if (from == to)
		return edits && from == PS_DRAFT ? LC_OK : LC_SAME;
	if (!(next[from] & B(to)))
		return LC_ILLEGAL;
	if (from == PS_INCOMPLETE && to == PS_DRAFT && !edits)
		return LC_NEEDS_EDIT;
	return LC_OK;
}

/* A set of states in words: "viewed, declined or withdrawn"; "nothing" for none. */
void
lifecycle_list(struct buf *b, unsigned int set)
{
	int	i, n = 0, total = 0;

	for (i = 0; i < PS__MAX; i++)
		total += (set & B(i)) != 0;
	if (total == 0) {
		buf_puts(b, "nothing");
		return;
	}
	for (i = 0; i < PS__MAX; i++) {
		if (!(set & B(i)))
			continue;
		if (n > 0)
			buf_puts(b, n + 1 == total ? " or " : ", ");
		buf_puts(b, proposal_status_names[i]);
		n++;
	}
}

/*
 * Why lifecycle_check() refused the change from → to (verdict v),
 * in words for the 409's details: the current state, and what may
 * follow it.
 */
void
lifecycle_message(struct buf *b, enum proposal_status from,
    enum proposal_status to, enum lc_verdict v)
{
	const char	*f = proposal_status_names[from < PS__MAX ? from : 0];
	const char	*t = proposal_status_names[to < PS__MAX ? to : 0];

	switch (v) {
	case LC_OK:
		buf_printf(b, "%s can become %s", f, t);
		return;
	case LC_LOCKED:
		buf_printf(b, "the text can be edited only while the proposal is "
		    "a draft (or incomplete); this proposal is %s", f);
		break;
	case LC_NEEDS_EDIT:
		buf_puts(b, "an incomplete proposal becomes a draft when its text "
		    "is edited: send the content with the status");
		return;
	case LC_SAME:
		buf_printf(b, "the proposal is already %s", f);
		break;
	default:
		buf_printf(b, "a proposal cannot go from %s to %s", f, t);
		break;
	}
	if (lifecycle_final(from))
		buf_printf(b, "; %s is final", f);
	else {
		buf_printf(b, "; from %s it can become ", f);
		lifecycle_list(b, next[from]);
	}
}

/* A set of states as a JSON array of names. */
void
lifecycle_json(struct buf *b, unsigned int set)
{
	int	i, n = 0;

	buf_putc(b, '[');
	for (i = 0; i < PS__MAX; i++)
		if (set & B(i))
			buf_printf(b, "%s\"%s\"", n++ ? "," : "",
			    proposal_status_names[i]);
	buf_putc(b, ']');
}

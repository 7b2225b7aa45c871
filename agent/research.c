/* research.c: the client analyzer: a 0-100 score with reasons, red flags and a summary, from a stored client and its recent reviews. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

/*
 * The score, out of 100, is the sum of seven parts, each reported as a
 * reason with its points:
 *   payment verified		25
 *   total spent		20  (none 0, under $1k 5, under $10k 10,
 *				     under $100k 15, more 20)
 *   hire rate			20  (hire rate % / 5)
 *   average rating		15  (rating / 5 * 15, weighted by up to 10 reviews)
 *   review count		 5  (one point per 5 reviews)
 *   recent review tone		 5  (positive 5, mixed or neutral 2)
 *   account age		10  (2 years 10, 1 year 7, 90 days 4, 30 days 2)
 */

/* Phrases that colour a review, matched at the start of a word, case-insensitively. */
static const char *const positive[] = {
	"great", "excellent", "clear", "responsive", "pleasure", "recommend",
	"fair", "professional", "prompt", "friendly", "helpful", "organized",
	"organised", "smooth", "good communication", "paid quickly",
	"paid on time", "would work again", "amazing", "awesome", "respectful",
	"generous", "wonderful", "fantastic", "easy to work",
};
static const char *const negative[] = {
	"unclear", "unresponsive", "late payment", "paid late", "never paid",
	"refused to pay", "scope creep", "micromanag", "rude", "dispute",
	"disrespect", "changing requirements", "changed requirements",
	"unrealistic", "avoid", "waste", "ghosted", "disappeared", "low budget",
	"underpaid", "demanding", "poor communication", "terrible", "worst",
	"unprofessional", "would not work", "difficult", "frustrating",
};

/* Count phrase matches at word starts; a match right after "not " or "n't " counts for the other side. */
static int
count_phrases(const char *s, size_t n, const char *const *list, size_t nlist,
    int *negated)
{
	size_t	i, k, len;
	int	hits = 0;

	for (i = 0; i < n; i++) {
		if (i > 0 && isalpha((unsigned char)s[i - 1]))
			continue;
		for (k = 0; k < nlist; k++) {
			len = strlen(list[k]);
			if (len > n - i || strncasecmp(s + i, list[k], len) != 0)
				continue;
			if ((i >= 4 && strncasecmp(s + i - 4, "not ", 4) == 0) ||
			    (i >= 4 && strncasecmp(s + i - 4, "n't ", 4) == 0))
				(*negated)++;
			else
				hits++;
			break;
		}
	}
	return hits;
}

/* The tone of one review's text: positive, negative or neutral. */
const char *
review_tone_of(const char *s, size_t n)
{
	int	pos_neg = 0, neg_neg = 0, pos, neg;

	pos = count_phrases(s, n, positive, nitems(positive), &pos_neg);
	neg = count_phrases(s, n, negative, nitems(negative), &neg_neg);
	pos += neg_neg;
	neg += pos_neg;
	return pos > neg ? "positive" : neg > pos ? "negative" : "neutral";
}

static void
reason(struct research *out, const char *factor, int points, int max,
    const char *detail)
{
	struct buf	*b = &out->reasons;

	buf_puts(b, b->len > 1 ? ",{\"factor\":\"" : "{\"factor\":\"");
	buf_printf(b, "%s\",\"points\":%d,\"max\":%d,\"detail\":", factor,
	    points, max);
	buf_json_string(b, detail, strlen(detail));
	buf_putc(b, '}');
	out->score += points;
}

static void
red_flag(struct research *out, const char *code, const char *message)
{
	struct buf	*b = &out->red_flags;

	buf_puts(b, out->nred_flags ? ",{\"code\":\"" : "{\"code\":\"");
	buf_printf(b, "%s\",\"message\":", code);
	buf_json_string(b, message, strlen(message));
	buf_putc(b, '}');
	out->nred_flags++;
}

/* "$410,000" */
static void
money(struct buf *b, double v)
{
	char	digits[32];
	size_t	n, i;

	snprintf(digits, sizeof(digits), "%.0f", v);
	n = strlen(digits);
	buf_putc(b, '$');
	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf_putc(b, ',');
		buf_putc(b, digits[i]);
	}
}

static void
age_text(struct buf *b, long long days)
{
	if (days >= 730)
		buf_printf(b, "%lld years", days / 365);
	else if (days >= 60)
		buf_printf(b, "%lld months", days / 30);
	else
		buf_printf(b, "%lld day%s", days, days == 1 ? "" : "s");
}

static void
score_parts(const struct client_facts *c, struct research *out, double hire)
{
	struct buf	d = { 0 };
	int		pts;

	reason(out, "paymentVerified", c->payment_verified ? 25 : 0, 25,
	    c->payment_verified ? "Payment method verified" :
	    "Payment method not verified");

	pts = c->total_spent <= 0 ? 0 : c->total_spent < 1000 ? 5 :
	    c->total_spent < 10000 ? 10 : c->total_spent < 100000 ? 15 : 20;
	out->spend_tier = (const char *const[]){ "none", "low", "medium",
	    "high", "top" }[pts / 5];
	buf_puts(&d, "Total spent ");
	money(&d, c->total_spent);
	buf_printf(&d, " (%s)", out->spend_tier);
	reason(out, "totalSpent", pts, 20, d.data);

	buf_reset(&d);
	if (hire < 0) {
		pts = 0;
		buf_puts(&d, "No jobs posted yet");
	} else {
		pts = (int)lround(fmin(hire, 100) / 5);
		buf_printf(&d, "Hire rate %.0f%% (%lld hires from %lld jobs "
		    "posted)", hire, c->total_hires, c->jobs_posted);
	}
	reason(out, "hireRate", pts, 20, d.data);

	buf_reset(&d);
	if (c->rating < 0 || c->reviews_count == 0) {
		pts = 0;
		buf_puts(&d, "No rating yet");
	} else {
		pts = (int)lround(c->rating / 5 * 15 *
		    (double)(c->reviews_count < 10 ? c->reviews_count : 10) / 10);
		buf_printf(&d, "Rated %.2f from %lld review%s", c->rating,
		    c->reviews_count, c->reviews_count == 1 ? "" : "s");
	}
	reason(out, "rating", pts, 15, d.data);

	buf_reset(&d);
	pts = (int)((c->reviews_count < 25 ? c->reviews_count : 25) / 5);
	buf_printf(&d, "%lld review%s", c->reviews_count,
	    c->reviews_count == 1 ? "" : "s");
	reason(out, "reviewCount", pts, 5, d.data);

	buf_reset(&d);
	pts = strcmp(out->review_tone, "positive") == 0 ? 5 :
	    strcmp(out->review_tone, "none") == 0 ||
	    strcmp(out->review_tone, "negative") == 0 ? 0 : 2;
	if (c->nreviews == 0)
		buf_puts(&d, "No recent reviews to read");
	else
		buf_printf(&d, "Recent reviews are %s (%zu read)",
		    out->review_tone, c->nreviews);
	reason(out, "reviewTone", pts, 5, d.data);

	buf_reset(&d);
	pts = c->age_days >= 730 ? 10 : c->age_days >= 365 ? 7 :
	    c->age_days >= 90 ? 4 : c->age_days >= 30 ? 2 : 0;
	if (c->age_days < 0)
		buf_puts(&d, "Account age unknown");
	else {
		buf_puts(&d, "On Upwork for ");
		age_text(&d, c->age_days);
	}
	reason(out, "accountAge", pts, 10, d.data);
	buf_free(&d);
}

/* The recent reviews' overall tone: none, positive, negative, mixed or neutral. */
static const char *
overall_tone(const struct client_facts *c)
{
	size_t		 i;
	int		 pos = 0, neg = 0;
	const char	*t;

	if (c->nreviews == 0)
		return "none";
	for (i = 0; i < c->nreviews; i++) {
		t = review_tone_of(c->review_comment[i], strlen(c->review_comment[i]));
		if (c->review_rating[i] >= 0 && c->review_rating[i] <= 3 &&
		    strcmp(t, "positive") != 0)
			t = "negative";
		else if (c->review_rating[i] >= 4.5 && strcmp(t, "negative") != 0)
			t = "positive";
		pos += strcmp(t, "positive") == 0;
		neg += strcmp(t, "negative") == 0;
	}
	if (neg > pos)
		return "negative";
	if (pos > 0 && neg == 0)
		return "positive";
	return pos + neg == 0 ? "neutral" : "mixed";
}

static void
summarise(const struct client_facts *c, struct research *out, double hire)
{
	struct buf	*b = &out->summary;

	buf_puts(b, c->name != NULL ? c->name : "This client");
	if (c->company != NULL && c->name != NULL &&
	    strcmp(c->company, c->name) != 0)
		buf_printf(b, " (%s)", c->company);
	if (c->country != NULL)
		buf_printf(b, " from %s", c->country);
	buf_printf(b, " looks like a %s client (%d/100): ", out->verdict,
	    out->score);
	buf_puts(b, c->payment_verified ? "verified payment" :
	    "unverified payment");
	if (c->total_spent > 0) {
		buf_puts(b, ", ");
		money(b, c->total_spent);
		buf_puts(b, " spent");
	} else
		buf_puts(b, ", nothing spent yet");
	if (hire >= 0)
		buf_printf(b, ", hires %.0f%% of the time", hire);
	if (c->rating >= 0 && c->reviews_count > 0)
		buf_printf(b, ", rated %.1f from %lld review%s", c->rating,
		    c->reviews_count, c->reviews_count == 1 ? "" : "s");
	else
		buf_puts(b, ", no reviews yet");
	if (c->age_days >= 0) {
		buf_puts(b, ", on Upwork for ");
		age_text(b, c->age_days);
	}
	buf_putc(b, '.');
	if (strcmp(out->review_tone, "none") != 0)
		buf_printf(b, " Recent reviews are %s.", out->review_tone);
	buf_puts(b, out->nred_flags == 0 ? " No red flags." :
	    out->nred_flags == 1 ? " One red flag: see below." :
	    " Several red flags: see below.");
}

/* Analyse c into out (whose buffers the caller frees with research_free()). */
void
research_analyze(const struct client_facts *c, struct research *out)
{
	struct buf	m = { 0 };
	double		hire = c->hire_rate;

	memset(out, 0, sizeof(*out));
	if (hire < 0 && c->jobs_posted > 0)
		hire = fmin(100, 100.0 * (double)c->total_hires /
		    (double)c->jobs_posted);
	if (c->jobs_posted == 0)
		hire = -1;
	out->review_tone = overall_tone(c);
	buf_putc(&out->reasons, '[');
	score_parts(c, out, hire);
	buf_putc(&out->reasons, ']');
	if (out->score > 100)
		out->score = 100;
	out->verdict = out->score >= 75 ? "strong" : out->score >= 55 ? "good" :
	    out->score >= 35 ? "fair" : "risky";

	buf_putc(&out->red_flags, '[');
	if (!c->payment_verified)
		red_flag(out, "payment_unverified", "The payment method is not "
		    "verified.");
	if (c->jobs_posted >= 3 && c->total_hires == 0) {
		buf_printf(&m, "Posted %lld jobs and hired no one.", c->jobs_posted);
		red_flag(out, "no_hires", m.data);
	} else if (hire >= 0 && hire < 30 && c->jobs_posted >= 5) {
		buf_printf(&m, "Hires for only %.0f%% of the jobs posted.", hire);
		red_flag(out, "low_hire_rate", m.data);
	}
	buf_reset(&m);
	if (c->rating >= 0 && c->rating < 4 && c->reviews_count >= 3) {
		buf_printf(&m, "Freelancers rate this client %.2f.", c->rating);
		red_flag(out, "low_rating", m.data);
	}
	if (strcmp(out->review_tone, "negative") == 0)
		red_flag(out, "negative_reviews", "Recent reviews are mostly "
		    "negative.");
	if (c->age_days >= 0 && c->age_days < 30)
		red_flag(out, "new_account", "The account is less than 30 days "
		    "old.");
	if (c->total_spent <= 0 && c->jobs_posted >= 3)
		red_flag(out, "no_spend", "Has never paid for work on Upwork.");
	buf_putc(&out->red_flags, ']');
	buf_free(&m);
	summarise(c, out, hire);
}

void
research_free(struct research *r)
{
	buf_free(&r->reasons);
	buf_free(&r->red_flags);
	buf_free(&r->summary);
}

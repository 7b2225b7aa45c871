/* test_research.c: unit tests for the client analyzer: review tone, each score part, red flags, and the three fixture clients of the integration test. */
#include <stdlib.h>
#include <string.h>

#include "../../agent/research.c"
#include "tap.h"

static int
reason_points(const struct research *r, const char *factor)
{
	json_object	*a, *e, *v;
	const char	*why;
	size_t		 i;
	int		 pts = -1;

	a = json_parse_strict(r->reasons.data, r->reasons.len, 4, &why);
	for (i = 0; a != NULL && i < json_object_array_length(a); i++) {
		e = json_object_array_get_idx(a, i);
		json_object_object_get_ex(e, "factor", &v);
		if (strcmp(json_object_get_string(v), factor) == 0) {
			json_object_object_get_ex(e, "points", &v);
			pts = json_object_get_int(v);
		}
	}
	json_object_put(a);
	return pts;
}

static void
test_tone(void)
{
	is_str(review_tone_of("Great client, paid on time!", 27), "positive", "praise is positive");
	is_str(review_tone_of("Unclear requirements.", 21), "negative", "unclear is not clear");
	is_str(review_tone_of("He was not responsive", 21), "negative", "not responsive is negative");
	is_str(review_tone_of("Would not work again", 20), "negative", "would not work again");
	is_str(review_tone_of("Didn't micromanage at all", 25), "positive", "n't flips a negative");
	is_str(review_tone_of("Delivered the project.", 22), "neutral", "no opinion: neutral");
	is_str(review_tone_of("", 0), "neutral", "empty: neutral");
}

static void
test_clients(void)
{
	struct client_facts	 strong = {
		.name = "Acme Software", .company = "Acme Software Inc.",
		.country = "United States", .payment_verified = 1,
		.total_spent = 410000, .hire_rate = 88.64, .rating = 4.9,
		.reviews_count = 39, .jobs_posted = 44, .total_hires = 39,
		.age_days = 4000, .nreviews = 3,
		.review_rating = { 5, 5, 4.8 },
		.review_comment = { "Great client, clear requirements.",
		    "A pleasure to work with.", "Responsive and fair." },
	}, risky = {
		.name = "New Buyer", .total_spent = 0, .hire_rate = -1,
		.rating = -1, .jobs_posted = 6, .age_days = 10,
	}, fair = {
		.name = "Mixed Bag", .payment_verified = 1, .total_spent = 5000,
		.hire_rate = 25, .rating = 3.6, .reviews_count = 5,
		.jobs_posted = 20, .total_hires = 5, .age_days = 400,
		.nreviews = 3, .review_rating = { 2, 3, 4 },
		.review_comment = { "Unclear requirements.", "Scope creep.",
		    "Good communication." },
	};
	struct research		 r;

	research_analyze(&strong, &r);
	is_int(r.score, 98, "strong client: 98");
	is_str(r.verdict, "strong", "strong");
	is_str(r.spend_tier, "top", "top spender");
	is_int(reason_points(&r, "hireRate"), 18, "hire rate 88.64%%: 18 of 20");
	is_int(reason_points(&r, "rating"), 15, "rating 4.9 from 39 reviews: 15 of 15");
	is_int((long long)r.nred_flags, 0, "no red flags");
	ok(strstr(r.summary.data, "$410,000 spent") != NULL, "summary: money with thousands separators");
	research_free(&r);

	research_analyze(&risky, &r);
	is_int(r.score, 0, "risky client: 0");
	is_str(r.verdict, "risky", "risky");
	is_int((long long)r.nred_flags, 4, "four red flags");
	ok(strstr(r.red_flags.data, "\"no_hires\"") && strstr(r.red_flags.data, "\"new_account\"") &&
	    strstr(r.red_flags.data, "\"payment_unverified\"") &&
	    strstr(r.red_flags.data, "\"no_spend\""), "no hires, new, unverified, never paid");
	is_int(reason_points(&r, "hireRate"), 0, "hire rate from 0 hires of 6 jobs: 0");
	research_free(&r);

	research_analyze(&fair, &r);
	is_int(r.score, 53, "fair client: 53");
	is_str(r.verdict, "fair", "fair");
	is_str(r.review_tone, "negative", "two of three recent reviews are negative");
	is_int(reason_points(&r, "rating"), 5, "rating 3.6 from 5 reviews: half weight, 5");
	ok(strstr(r.red_flags.data, "low_hire_rate") && strstr(r.red_flags.data, "low_rating") &&
	    strstr(r.red_flags.data, "negative_reviews"), "low hire rate, low rating, negative reviews");
	research_free(&r);
}

static void
test_tiers(void)
{
	static const struct {
		double		 spent;
		const char	*tier;
		int		 points;
	} t[] = {
		{ 0, "none", 0 }, { 999.99, "low", 5 }, { 1000, "medium", 10 },
		{ 99999, "high", 15 }, { 100000, "top", 20 }, { 5e9, "top", 20 },
	};
	struct client_facts	c = { .hire_rate = -1, .rating = -1, .age_days = -1 };
	struct research		r;
	size_t			i;
	int			ok_all = 1;

	for (i = 0; i < nitems(t); i++) {
		c.total_spent = t[i].spent;
		research_analyze(&c, &r);
		ok_all &= strcmp(r.spend_tier, t[i].tier) == 0 &&
		    reason_points(&r, "totalSpent") == t[i].points &&
		    r.score == t[i].points;
		research_free(&r);
	}
	ok(ok_all, "spend tiers at their boundaries");
	c.age_days = 729;
	research_analyze(&c, &r);
	is_int(reason_points(&r, "accountAge"), 7, "729 days: 7");
	research_free(&r);
	c.age_days = 730;
	research_analyze(&c, &r);
	is_int(reason_points(&r, "accountAge"), 10, "730 days: 10");
	research_free(&r);
}

int
main(void)
{
	test_tone();
	test_clients();
	test_tiers();
	return done_testing();
}

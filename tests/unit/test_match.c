/* test_match.c: unit tests for the match score: a hand-computed case, each part's rules, orderings, reasons and determinism. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "tap.h"

#define DAY_US	(86400LL * 1000000)
#define AS_OF	(20000LL * DAY_US)	/* 2024-10-04T00:00:00Z */
#define WINDOW	(30 * DAY_US)

static int
near(double got, double want)
{
	return fabs(got - want) < 1e-9;
}

/* A profile from a NULL-terminated list (the array must outlive it). */
static void
profile(struct match_profile *p, const char **skills, double min, double target)
{
	size_t	n = 0;

	while (skills[n] != NULL)
		n++;
	match_profile_init(p, skills, n, min, target);
}

static struct match_job
job(const char *const *skills, int hourly, double lo, double hi, int cs,
    int applicants, long long age_us)
{
	struct match_job	j = { 0 };

	j.skills = skills;
	while (skills != NULL && skills[j.nskills] != NULL)
		j.nskills++;
	j.hourly = hourly;
	j.budget_min = lo;
	j.budget_max = hi;
	j.usd = 1;
	j.client_score = cs;
	j.applicants = applicants;
	j.posted_us = AS_OF - age_us;
	return j;
}

static const char *
json_of(const struct match_profile *p, const struct match_job *j,
    const struct match_result *m)
{
	static struct buf	b;

	buf_reset(&b);
	match_json(&b, p, j, AS_OF, m);
	return b.data;
}

/*
 * The case worked by hand in README.md: profile {postgresql, c, linux,
 * api development}, $60-$85/h; job [postgresql, c, node.js, linux],
 * $40-$70/h, client 80, posted 6 days ago, 12 proposals.
 *   skills: required postgresql, c (2 each), then node.js, linux (1):
 *           matched 2 + 2 + 1 = 5 of 6: 50 * 5/6 = 41.667
 *   budget: $70 between $60 and $85: 10 + 10 * 10/25 = 14
 *   client: 80 * 0.15 = 12; recency: 10 * (1 - 6/30) = 8; competition 3
 *   total 78.667, score 79.
 */
static void
test_hand_computed(void)
{
	const char		*ps[] = { "postgresql", "c", "linux", "api development", NULL };
	const char *const	 js[] = { "postgresql", "c", "node.js", "linux", NULL };
	struct match_profile	 p;
	struct match_job	 j;
	struct match_result	 m;

	profile(&p, ps, 60, 85);
	j = job(js, 1, 40, 70, 80, 12, 6 * DAY_US);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.skills, 50.0 * 5 / 6), "skills: 5 of 6 weight points (%f)", m.skills);
	ok(near(m.budget, 14), "budget: pro rata between minimum and target (%f)", m.budget);
	ok(near(m.client, 12), "client: 80 * 0.15");
	ok(near(m.recency, 8), "recency: 6 days of a 30-day window (%f)", m.recency);
	ok(near(m.competition, 3), "competition: 12 proposals");
	is_int(m.score, 79, "the hand-computed score");
	is_int(m.matched, 3, "3 skills matched");
	is_int(m.considered, 4, "of 4");
	is_str(json_of(&p, &j, &m),
	    "{\"score\":79,\"reasons\":[\"matches 3 of 4 skills: postgresql, c, linux\","
	    "\"budget up to $70/h is between your $60/h minimum and $85/h target\","
	    "\"client score 80/100\",\"posted 6 days ago\",\"12 proposals so far\"],"
	    "\"breakdown\":{\"skills\":41.67,\"budget\":14.00,\"client\":12.00,"
	    "\"recency\":8.00,\"competition\":3.00}}", "the JSON with its reasons");
}

static void
test_skills(void)
{
	const char		*ps[] = { "react", "c", NULL };
	const char		*none[] = { NULL };
	const char *const	 first[] = { "c", "go", "rust", NULL };
	const char *const	 last[] = { "go", "rust", "c", NULL };
	const char *const	 dup[] = { "c", "C", "c", "go", NULL };
	const char *const	 empty[] = { NULL };
	struct match_profile	 p, q;
	struct match_job	 j;
	struct match_result	 m;

	profile(&p, ps, 0, 0);
	j = job(first, 1, 0, 0, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	/* 3 skills: the first 2 are required (weight 2), so W = 5. */
	ok(near(m.skills, 50.0 * 2 / 5), "a required skill weighs 2 of 5 (%f)", m.skills);
	j = job(last, 1, 0, 0, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.skills, 50.0 * 1 / 5), "an optional one 1 of 5 (%f)", m.skills);
	j = job(empty, 1, 0, 0, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.skills, 25), "a job without skills scores half");
	ok(strstr(json_of(&p, &j, &m), "\"the job lists no skills\"") != NULL,
	    "and says why");
	profile(&q, none, 0, 0);
	j = job(first, 1, 0, 0, 0, -1, 0);
	match_score(&q, &j, AS_OF, WINDOW, &m);
	ok(near(m.skills, 25), "a profile without skills scores half");
	ok(strstr(json_of(&q, &j, &m), "\"your profile lists no skills\"") != NULL,
	    "and says why");
	j = job(dup, 1, 0, 0, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	/* distinct: c, C, go (C is another name: skills are lower-cased upstream). */
	is_int(m.considered, 3, "duplicate skills count once");
	ok(near(m.skills, 50.0 * 2 / 5), "c required, weight 2 of 5 (%f)", m.skills);
	ok(strstr(json_of(&p, &j, &m), "\"none of") == NULL &&
	    strstr(json_of(&p, &j, &m), "matches 1 of 3 skills: c\"") != NULL,
	    "reason: matches 1 of 3 skills: c");
	j = job(last, 1, 0, 0, 0, -1, 0);
	profile(&q, (const char *[]){ "java", NULL }, 0, 0);
	match_score(&q, &j, AS_OF, WINDOW, &m);
	ok(m.skills == 0 && strstr(json_of(&q, &j, &m),
	    "\"none of the job's 3 skills are in your profile\"") != NULL,
	    "no overlap: 0 and a reason");
}

static void
test_budget(void)
{
	const char		*ps[] = { "c", NULL };
	const char *const	 js[] = { "c", NULL };
	struct match_profile	 p, norate, onlytarget;
	struct match_job	 j;
	struct match_result	 m;

	profile(&p, ps, 60, 80);
	j = job(js, 1, 50, 90, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 20), "hourly max above the target: 20");
	ok(strstr(json_of(&p, &j, &m), "budget up to $90/h covers your $80/h target") != NULL,
	    "reason: covers your target");
	j = job(js, 1, 50, 80, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 20), "at the target: 20");
	j = job(js, 1, 50, 60, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 10), "at the minimum: 10");
	j = job(js, 1, 30, 59.99, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 0), "below the minimum: 0");
	ok(strstr(json_of(&p, &j, &m), "budget up to $59.99/h is below your $60/h minimum") != NULL,
	    "reason: below the minimum, cents shown");
	j = job(js, 1, 45, 0, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 0), "no max: the min is the top (45 < 60)");
	j = job(js, 1, 0, 0, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 10) && strstr(json_of(&p, &j, &m), "budget not stated"),
	    "no budget: 10, budget not stated");
	j = job(js, 1, 50, 200, 0, -1, 0);
	j.usd = 0;
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 10) && strstr(json_of(&p, &j, &m), "not in USD"),
	    "another currency: 10, not compared");
	/* Fixed price against 20 hours: 1200 to 1600. */
	j = job(js, 0, 2000, 2000, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 20), "fixed $2,000 >= 20 h at $80: 20");
	ok(strstr(json_of(&p, &j, &m), "fixed price $2,000 covers 20 h at your $80/h target") != NULL,
	    "reason with thousands separators");
	j = job(js, 0, 1400, 1400, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 15), "fixed $1,400: half way from $1,200 to $1,600: 15 (%f)", m.budget);
	j = job(js, 0, 500, 500, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 0), "fixed $500 < $1,200: 0");
	profile(&norate, ps, 0, 0);
	j = job(js, 1, 50, 90, 0, -1, 0);
	match_score(&norate, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 10), "no rate in the profile: 10");
	profile(&onlytarget, ps, 0, 80);
	j = job(js, 1, 50, 70, 0, -1, 0);
	match_score(&onlytarget, &j, AS_OF, WINDOW, &m);
	ok(near(m.budget, 0), "no minimum: the target is the minimum, $70 < $80: 0");
	profile(&onlytarget, ps, 90, 80);
	match_score(&onlytarget, &j, AS_OF, WINDOW, &m);
	ok(near(onlytarget.rate_min, 80), "a minimum above the target is the target");
}

static void
test_recency_competition(void)
{
	const char		*ps[] = { "c", NULL };
	const char *const	 js[] = { "c", NULL };
	struct match_profile	 p;
	struct match_job	 j;
	struct match_result	 m;
	const struct { int applicants; double want; } comp[] = {
		{ -1, 2 }, { 0, 5 }, { 4, 5 }, { 5, 4 }, { 9, 4 }, { 10, 3 },
		{ 14, 3 }, { 15, 2 }, { 19, 2 }, { 20, 1 }, { 49, 1 }, { 50, 0 },
		{ 500, 0 },
	};
	size_t	i;

	profile(&p, ps, 0, 0);
	j = job(js, 1, 0, 0, 0, -1, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.recency, 10), "posted at asOf: 10");
	j = job(js, 1, 0, 0, 0, -1, -DAY_US);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.recency, 10), "posted after asOf: 10, not more");
	j = job(js, 1, 0, 0, 0, -1, 15 * DAY_US);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.recency, 5), "half the window: 5");
	j = job(js, 1, 0, 0, 0, -1, 30 * DAY_US);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.recency, 0), "the end of the window: 0");
	j = job(js, 1, 0, 0, 0, -1, 90 * DAY_US);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.recency, 0), "older: 0, not less");
	j = job(js, 1, 0, 0, 0, -1, 3 * 3600 * 1000000LL + 5);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(strstr(json_of(&p, &j, &m), "\"posted 3 hours ago\"") != NULL, "posted 3 hours ago");
	for (i = 0; i < nitems(comp); i++) {
		j = job(js, 1, 0, 0, 0, comp[i].applicants, 0);
		match_score(&p, &j, AS_OF, WINDOW, &m);
		ok(near(m.competition, comp[i].want), "%d proposals: %g",
		    comp[i].applicants, comp[i].want);
	}
	j = job(js, 1, 0, 0, 100, 0, 0);
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.client, 15), "client 100: 15");
	j.client_score = 250;
	match_score(&p, &j, AS_OF, WINDOW, &m);
	ok(near(m.client, 15), "an out-of-range client score is clamped");
}

/* Orderings a freelancer would agree with, on fixture jobs. */
static void
test_orderings(void)
{
	const char		*ps[] = { "postgresql", "c", "linux", NULL };
	const char *const	 good[] = { "c", "postgresql", "linux", NULL };
	const char *const	 half[] = { "c", "react", "css", "linux", NULL };
	const char *const	 other[] = { "figma", "ui/ux design", NULL };
	struct match_profile	 p;
	struct match_job	 a, b, c, d;
	struct match_result	 ma, mb, mc, md, again;

	profile(&p, ps, 50, 80);
	a = job(good, 1, 60, 100, 70, 3, DAY_US);
	b = job(half, 1, 60, 100, 70, 3, DAY_US);
	c = job(other, 1, 60, 100, 70, 3, DAY_US);
	d = job(good, 1, 20, 30, 70, 3, DAY_US);
	match_score(&p, &a, AS_OF, WINDOW, &ma);
	match_score(&p, &b, AS_OF, WINDOW, &mb);
	match_score(&p, &c, AS_OF, WINDOW, &mc);
	match_score(&p, &d, AS_OF, WINDOW, &md);
	ok(ma.score > mb.score && mb.score > mc.score,
	    "all skills > some skills > none (%d > %d > %d)", ma.score, mb.score, mc.score);
	ok(ma.score > md.score, "same skills, the budget decides (%d > %d)", ma.score, md.score);
	d = job(good, 1, 60, 100, 100, 0, 0);
	match_score(&p, &d, AS_OF, WINDOW, &md);
	is_int(md.score, 100, "every part at its best: 100");
	match_score(&p, &a, AS_OF, WINDOW, &again);
	ok(ma.score == again.score && ma.skills == again.skills &&
	    ma.budget == again.budget && ma.client == again.client &&
	    ma.recency == again.recency && ma.competition == again.competition &&
	    ma.matched_mask == again.matched_mask,
	    "the same inputs give the same result");
	a.posted_us = AS_OF - 29 * DAY_US;
	match_score(&p, &a, AS_OF, WINDOW, &again);
	ok(again.score < ma.score, "older scores lower (%d < %d)", again.score, ma.score);
}

int
main(void)
{
	test_hand_computed();
	test_skills();
	test_budget();
	test_recency_competition();
	test_orderings();
	return done_testing();
}

/* match.c: how well a job fits the freelancer: a 0-100 score, its breakdown and its reasons, from the job and the profile alone (no I/O). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/*
 * The score is the sum of five parts, each bounded, rounded once at
 * the end (README.md, "Matching", documents the same table):
 *
 *   skills       0-50  weighted overlap of the job's skills with the
 *                      profile's; the first half of the job's list
 *                      (rounded up) weighs 2, the rest 1; no skills on
 *                      either side: 25
 *   budget       0-20  hourly: the job's top rate >= target: 20;
 *                      between minimum and target: 10 to 20 pro rata;
 *                      below the minimum: 0.  Fixed price: the same
 *                      against the rates times MATCH_FIXED_HOURS.
 *                      Unknown budget, not in USD, or no rate: 10
 *   client       0-15  client_score * 0.15
 *   recency      0-10  10 when posted at asOf, falling linearly to 0 at
 *                      the end of the window
 *   competition  0-5   by proposals so far, Upwork's buckets: <5: 5,
 *                      5-9: 4, 10-14: 3, 15-19: 2, 20-49: 1, 50+: 0;
 *                      unknown: 2
 */
#define W_SKILLS	50.0
#define W_BUDGET	20.0
#define W_CLIENT	15.0
#define W_RECENCY	10.0
#define COMPETITION_UNKNOWN	2.0

static int
cmp_skill(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Prepare p from the profile's skills and rates.  skills (n pointers,
 * which p keeps) is sorted and its duplicates dropped in place; NULL
 * and empty entries are dropped too.  A rate <= 0 means not set; a
 * minimum that is not set (or above the target) is the target.
 */
void
match_profile_init(struct match_profile *p, const char **skills, size_t n,
    double rate_min, double rate_target)
{
	size_t	i, k = 0;

	for (i = 0; i < n; i++)
		if (skills[i] != NULL && skills[i][0] != '\0')
			skills[k++] = skills[i];
	if (k > 1)
		qsort(skills, k, sizeof(*skills), cmp_skill);
	for (i = 0, n = 0; i < k; i++)
		if (n == 0 || strcmp(skills[i], skills[n - 1]) != 0)
			skills[n++] = skills[i];
	p->skills = skills;
	p->nskills = n;
	p->rate_target = rate_target > 0 ? rate_target : 0;
	p->rate_min = rate_min > 0 && rate_min <= p->rate_target ? rate_min :
	    p->rate_target;
}

static int
has_skill(const struct match_profile *p, const char *s)
{
	return p->nskills > 0 && bsearch(&s, p->skills, p->nskills,
	    sizeof(*p->skills), cmp_skill) != NULL;
}

/*
 * The job's distinct skills in its order, at most MATCH_SKILLS_MAX:
 * their indices into j->skills go to idx.  Returns how many.
 */
static size_t
job_skills(const struct match_job *j, size_t *idx)
{
	size_t	i, k, n = 0;

	for (i = 0; i < j->nskills && n < MATCH_SKILLS_MAX; i++) {
		if (j->skills[i] == NULL || j->skills[i][0] == '\0')
			continue;
		for (k = 0; k < n; k++)
			if (strcmp(j->skills[idx[k]], j->skills[i]) == 0)
				break;
		if (k == n)
			idx[n++] = i;
	}
	return n;
}

static double
score_skills(const struct match_profile *p, const struct match_job *j,
    struct match_result *m)
{
	size_t	idx[MATCH_SKILLS_MAX], n, i, required;
	double	weight = 0, got = 0, w;

	n = job_skills(j, idx);
	m->considered = (int)n;
	m->matched = 0;
	m->matched_mask = 0;
	if (n == 0 || p->nskills == 0)
		return W_SKILLS / 2;
	required = (n + 1) / 2;
	for (i = 0; i < n; i++) {
		w = i < required ? 2 : 1;
		weight += w;
		if (has_skill(p, j->skills[idx[i]])) {
			got += w;
			m->matched++;
			m->matched_mask |= 1ULL << i;
		}
	}
	return W_SKILLS * got / weight;
}

/* 0 below lo, 10 to 20 from lo to hi, 20 at hi and above (lo <= hi). */
static double
pro_rata(double v, double lo, double hi)
{
	if (v >= hi)
		return W_BUDGET;
	if (v < lo)
		return 0;
	return W_BUDGET / 2 + W_BUDGET / 2 * (v - lo) / (hi - lo);
}

/* The job's top budget, or -1 when it has none to compare. */
static double
job_top(const struct match_job *j)
{
	double	top = j->budget_max > 0 ? j->budget_max : j->budget_min;

	return j->usd && top > 0 ? top : -1;
}

static double
score_budget(const struct match_profile *p, const struct match_job *j)
{
	double	top = job_top(j), hours = j->hourly ? 1 : MATCH_FIXED_HOURS;

	if (top < 0 || p->rate_target <= 0)
		return W_BUDGET / 2;
	return pro_rata(top, p->rate_min * hours, p->rate_target * hours);
}

static double
score_competition(int applicants)
{
	if (applicants < 0)
		return COMPETITION_UNKNOWN;
	if (applicants < 5)
		return 5;
	if (applicants < 10)
		return 4;
	if (applicants < 15)
		return 3;
	if (applicants < 20)
		return 2;
	if (applicants < 50)
		return 1;
	return 0;
}

/*
 * Score job j for profile p as of as_of_us, for a window of window_us
 * (the age at which recency reaches 0).  Pure: the same arguments
 * always give the same result.
 */
void
match_score(const struct match_profile *p, const struct match_job *j,
    long long as_of_us, long long window_us, struct match_result *m)
{
	long long	age = as_of_us - j->posted_us;
	double		total;
	int		cs = j->client_score < 0 ? 0 :
			    j->client_score > 100 ? 100 : j->client_score;

	m->skills = score_skills(p, j, m);
	m->budget = score_budget(p, j);
	m->client = cs * W_CLIENT / 100;
	if (window_us <= 0 || age >= window_us)
		m->recency = 0;
	else if (age <= 0)
		m->recency = W_RECENCY;
	else
		m->recency = W_RECENCY * (1 - (double)age / (double)window_us);
	m->competition = score_competition(j->applicants);
	total = m->skills + m->budget + m->client + m->recency + m->competition;
	m->score = (int)floor(total + 0.5);
	if (m->score > 100)
		m->score = 100;
}

/* A dollar amount as people write it: "$85", "$87.50", "$12,000". */
static void
put_money(struct buf *b, double v)
{
	long long	cents = llround(v * 100);
	char		digits[32];
	size_t		i, n;

	n = (size_t)snprintf(digits, sizeof(digits), "%lld", cents / 100);
	buf_putc(b, '$');
	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf_putc(b, ',');
		buf_putc(b, digits[i]);
	}
	if (cents % 100 != 0)
		buf_printf(b, ".%02lld", cents % 100);
}

static void
reason_skills(struct buf *b, const struct match_profile *p,
    const struct match_job *j, const struct match_result *m)
{
	size_t	idx[MATCH_SKILLS_MAX], n, i, shown = 0;

	if (m->considered == 0) {
		buf_puts(b, "the job lists no skills");
		return;
	}
	if (p->nskills == 0) {
		buf_puts(b, "your profile lists no skills");
		return;
	}
	if (m->matched == 0) {
		buf_printf(b, "none of the job's %d skill%s in your profile",
		    m->considered, m->considered == 1 ? " is" : "s are");
		return;
	}
	buf_printf(b, "matches %d of %d skill%s: ", m->matched, m->considered,
	    m->considered == 1 ? "" : "s");
	n = job_skills(j, idx);
	for (i = 0; i < n; i++)
		if (m->matched_mask & (1ULL << i))
			buf_printf(b, "%s%s", shown++ ? ", " : "",
			    j->skills[idx[i]]);
}

static void
reason_budget(struct buf *b, const struct match_profile *p,
    const struct match_job *j)
{
	double	top = job_top(j), hours = MATCH_FIXED_HOURS;

	if (!j->usd) {
		buf_puts(b, "budget not in USD, not compared with your rate");
		return;
	}
	if (top < 0) {
		buf_puts(b, "budget not stated");
		return;
	}
	if (p->rate_target <= 0) {
		buf_puts(b, "no hourly rate in your profile to compare the budget with");
		return;
	}
	if (j->hourly) {
		buf_puts(b, "budget up to ");
		put_money(b, top);
		if (top >= p->rate_target) {
			buf_puts(b, "/h covers your ");
			put_money(b, p->rate_target);
			buf_puts(b, "/h target");
		} else if (top >= p->rate_min) {
			buf_puts(b, "/h is between your ");
			put_money(b, p->rate_min);
			buf_puts(b, "/h minimum and ");
			put_money(b, p->rate_target);
			buf_puts(b, "/h target");
		} else {
			buf_puts(b, "/h is below your ");
			put_money(b, p->rate_min);
			buf_puts(b, "/h minimum");
		}
		return;
	}
	buf_puts(b, "fixed price ");
	put_money(b, top);
	if (top >= p->rate_target * hours) {
		buf_printf(b, " covers %d h at your ", MATCH_FIXED_HOURS);
		put_money(b, p->rate_target);
		buf_puts(b, "/h target");
	} else if (top >= p->rate_min * hours) {
		buf_printf(b, " is between %d h at your minimum and at your"
		    " target (", MATCH_FIXED_HOURS);
		put_money(b, p->rate_min * hours);
		buf_puts(b, " to ");
		put_money(b, p->rate_target * hours);
		buf_putc(b, ')');
	} else {
		buf_printf(b, " is below %d h at your ", MATCH_FIXED_HOURS);
		put_money(b, p->rate_min);
		buf_puts(b, "/h minimum (");
		put_money(b, p->rate_min * hours);
		buf_putc(b, ')');
	}
}

static void
reason_recency(struct buf *b, const struct match_job *j, long long as_of_us)
{
	long long	mins = (as_of_us - j->posted_us) / 60000000LL;

	if (mins < 1)
		buf_puts(b, "posted just now");
	else if (mins < 60)
		buf_printf(b, "posted %lld minute%s ago", mins, mins == 1 ? "" : "s");
	else if (mins < 48 * 60)
		buf_printf(b, "posted %lld hour%s ago", mins / 60,
		    mins / 60 == 1 ? "" : "s");
	else
		buf_printf(b, "posted %lld days ago", mins / (24 * 60));
}

static void
reason_competition(struct buf *b, int applicants)
{
	if (applicants < 0)
		buf_puts(b, "number of proposals unknown");
	else if (applicants < 5)
		buf_puts(b, "fewer than 5 proposals so far");
	else if (applicants < 50)
		buf_printf(b, "%d proposals so far", applicants);
	else
		buf_puts(b, "50 or more proposals so far");
}

/*
 * Append m as the API shows it:
 *   {"score":87,"reasons":["matches 3 of 4 skills: ...", ...],
 *    "breakdown":{"skills":41.67,"budget":20,...}}
 * One reason per part, in the order of the breakdown.
 */
void
match_json(struct buf *b, const struct match_profile *p,
    const struct match_job *j, long long as_of_us,
    const struct match_result *m)
{
	struct buf	r = { 0 };
	int		i;

	buf_printf(b, "{\"score\":%d,\"reasons\":[", m->score);
	for (i = 0; i < 5; i++) {
		buf_reset(&r);
		switch (i) {
		case 0:
			reason_skills(&r, p, j, m);
			break;
		case 1:
			reason_budget(&r, p, j);
			break;
		case 2:
			buf_printf(&r, "client score %d/100", j->client_score);
			break;
		case 3:
			reason_recency(&r, j, as_of_us);
			break;
		default:
			reason_competition(&r, j->applicants);
		}
		if (i > 0)
			buf_putc(b, ',');
		buf_json_string(b, r.data, r.len);
	}
	buf_printf(b, "],\"breakdown\":{\"skills\":%.2f,\"budget\":%.2f,"
	    "\"client\":%.2f,\"recency\":%.2f,\"competition\":%.2f}}",
	    m->skills, m->budget, m->client, m->recency, m->competition);
	buf_free(&r);
}

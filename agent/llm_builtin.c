/* llm_builtin.c: the offline provider: writes a structured proposal from the job and the freelancer's profile, deterministically. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"

const char *const tone_names[TONE__MAX + 1] = {
	"professional", "friendly", "confident", "concise", NULL
};

/* Skills as people write them; any other skill keeps its lower-case name. */
static const char *const pretty[][2] = {
	{ "api", "API" }, { "api development", "API development" },
	{ "api documentation", "API documentation" }, { "aws", "AWS" },
	{ "c", "C" }, { "c++", "C++" }, { "ci/cd", "CI/CD" }, { "css", "CSS" },
	{ "dart", "Dart" }, { "docker", "Docker" }, { "figma", "Figma" },
	{ "firebase", "Firebase" }, { "flutter", "Flutter" },
	{ "graphql", "GraphQL" }, { "html", "HTML" }, { "ios", "iOS" },
	{ "android", "Android" }, { "javascript", "JavaScript" },
	{ "kubernetes", "Kubernetes" }, { "langchain", "LangChain" },
	{ "linux", "Linux" }, { "liquid", "Liquid" }, { "llm", "LLM" },
	{ "mysql", "MySQL" }, { "next.js", "Next.js" }, { "node.js", "Node.js" },
	{ "openai api", "OpenAI API" }, { "pandas", "pandas" }, { "php", "PHP" },
	{ "postgresql", "PostgreSQL" }, { "python", "Python" },
	{ "react", "React" }, { "react native", "React Native" },
	{ "rest api", "REST API" }, { "rust", "Rust" }, { "scrapy", "Scrapy" },
	{ "selenium", "Selenium" }, { "seo", "SEO" }, { "shopify", "Shopify" },
	{ "shopify apps", "Shopify apps" }, { "sql", "SQL" },
	{ "tailwind css", "Tailwind CSS" }, { "tensorflow", "TensorFlow" },
	{ "terraform", "Terraform" }, { "typescript", "TypeScript" },
	{ "ui/ux design", "UI/UX design" }, { "woocommerce", "WooCommerce" },
	{ "wordpress", "WordPress" },
};

/* Verbs a job title may start with: "Build a REST API" reads as "to build a REST API". */
static const char *const verbs[] = {
	"add", "automate", "build", "clean", "convert", "create", "customise",
	"customize", "debug", "deploy", "design", "develop", "evaluate",
	"extract", "fix", "implement", "improve", "integrate", "make",
	"migrate", "move", "optimise", "optimize", "port", "publish",
	"redesign", "reduce", "refactor", "rewrite", "run", "scrape", "set",
	"speed", "train", "update", "upgrade", "write",
};

static const char *
skill_pretty(const char *s)
{
	size_t	i;

	for (i = 0; i < nitems(pretty); i++)
		if (strcasecmp(pretty[i][0], s) == 0)
			return pretty[i][1];
	return s;
}

/* Skills compare on letters and digits only: "Node.js" is "nodejs" is "node-js". */
static int
skill_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a != '\0' && !isalnum((unsigned char)*a) && *a != '+' &&
		    *a != '#')
			a++;
		while (*b != '\0' && !isalnum((unsigned char)*b) && *b != '+' &&
		    *b != '#')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if (tolower((unsigned char)*a++) != tolower((unsigned char)*b++))
			return 0;
	}
}

/* The job's skills the profile has (matched) and lacks (missing), in the job's order. */
void
skills_match(const struct job_brief *j, const struct profile *p,
    struct skill_match *matched, struct skill_match *missing)
{
	size_t	i, k;
	int	have;

	matched->n = missing->n = 0;
	for (i = 0; i < j->skills.n; i++) {
		for (have = 0, k = 0; k < p->skills.n && !have; k++)
			have = skill_eq(j->skills.v[i], p->skills.v[k]);
		if (have && matched->n < nitems(matched->v))
			matched->v[matched->n++] = j->skills.v[i];
		else if (!have && missing->n < nitems(missing->v))
			missing->v[missing->n++] = j->skills.v[i];
	}
}

/* Number of whitespace-separated words. */
size_t
words_count(const char *s, size_t n)
{
	size_t	i, words = 0;
	int	in = 0;

	for (i = 0; i < n; i++) {
		if (isspace((unsigned char)s[i]))
			in = 0;
		else if (!in) {
			in = 1;
			words++;
		}
	}
	return words;
}

/* "PostgreSQL, Node.js and TypeScript" */
static void
put_list(struct buf *b, const char *const *v, size_t n, size_t max)
{
	size_t	i;

	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_puts(b, i + 1 == n ? " and " : ", ");
		buf_puts(b, skill_pretty(v[i]));
	}
}

static void
put_money(struct buf *b, const struct job_brief *j, double v)
{
	int	usd = j->currency == NULL || strcmp(j->currency, "USD") == 0;

	if (usd)
		buf_putc(b, '$');
	if (v == floor(v))
		buf_printf(b, "%.0f", v);
	else
		buf_printf(b, "%.2f", v);
	if (!usd)
		buf_printf(b, " %s", j->currency);
}

/* Predicate: the description mentions any of the words (lower-case, as substrings). */
static int
mentions(const struct job_brief *j, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strcasestr(j->description, *words) != NULL ||
		    strcasestr(j->title, *words) != NULL)
			return 1;
	return 0;
}

static const char *const w_existing[] = { "existing", "legacy", "codebase",
    "code base", "prototype", "current ", "mature", "our app", NULL };
static const char *const w_design[] = { "figma", "designs", "mockup", NULL };
static const char *const w_data[] = { "data", "report", "analytics", NULL };
static const char *const w_deadline[] = { "deadline", "asap", "urgent",
    "this week", "by the end", "within ", NULL };
static const char *const w_tests[] = { "test", "quality", "reliab",
    "stability", NULL };
static const char *const w_perf[] = { "performance", "latency", "fast",
    "speed", "slow", NULL };
static const char *const w_secure[] = { "security", "isolation", "secure",
    "guardrail", NULL };
static const char *const w_deploy[] = { "deploy", "downtime", "staging",
    "release", NULL };

/* The client's need as a verb phrase ("build a REST API"), or NULL when the title is not one. */
static void
put_need(struct buf *b, const struct job_brief *j, int *is_verb)
{
	const char	*t = j->title;
	size_t		 n = strlen(t), w = strcspn(t, " "), i;

	while (n > 0 && strchr(".!?: ", t[n - 1]) != NULL)
		n--;
	*is_verb = 0;
	for (i = 0; i < nitems(verbs); i++)
		if (strlen(verbs[i]) == w && strncasecmp(t, verbs[i], w) == 0)
			*is_verb = 1;
	if (*is_verb) {
		buf_putc(b, (char)tolower((unsigned char)t[0]));
		buf_append(b, t + 1, n - 1);
	} else {
		buf_putc(b, '"');
		buf_append(b, t, n);
		buf_putc(b, '"');
	}
}

static void
put_hook(struct buf *b, const struct job_brief *j, enum tone tone)
{
	struct buf	need = { 0 };
	int		verb;

	put_need(&need, j, &verb);
	switch (tone) {
	case TONE_FRIENDLY:
		buf_printf(b, verb ? "I would love to help you %s - it is exactly "
		    "the kind of project I enjoy." : "Your %s project caught my "
		    "eye - it is exactly the kind of work I enjoy.", need.data);
		break;
	case TONE_CONFIDENT:
		buf_printf(b, verb ? "I can %s, and I know where the pitfalls "
		    "are because I have done this before." : "I can deliver your "
		    "%s project: I have done this kind of work before and know "
		    "where the pitfalls are.", need.data);
		break;
	case TONE_CONCISE:
		buf_printf(b, verb ? "You need to %s; I can do it." :
		    "I can deliver your %s project.", need.data);
		break;
	default:
		buf_printf(b, verb ? "You need someone to %s, and this is close "
		    "to the work I do every week." : "Your %s project is close to "
		    "the work I do every week.", need.data);
	}
	buf_free(&need);
}

/* "As a senior backend engineer, I have hands-on experience with ..." */
static void
put_experience(struct buf *b, const struct job_brief *j,
    const struct profile *p, const struct skill_match *m, int with_bio)
{
	const char	*t = p->title;
	size_t		 n;

	if (t != NULL && *t != '\0') {
		buf_printf(b, "As %s ", strchr("aeiouAEIOU", t[0]) ? "an" : "a");
		if (isupper((unsigned char)t[0]) && islower((unsigned char)t[1])) {
			buf_putc(b, (char)tolower((unsigned char)t[0]));
			buf_puts(b, t + 1);
		} else
			buf_puts(b, t);
		buf_puts(b, ", I ");
	} else
		buf_puts(b, "I ");
	if (m->n > 0) {
		buf_puts(b, "have hands-on experience with ");
		put_list(b, m->v, m->n, 5);
		buf_puts(b, m->n == j->skills.n && m->n > 1 ?
		    ", every skill your post lists." : ".");
	} else if (p->skills.n > 0) {
		buf_puts(b, "work mostly with ");
		put_list(b, (const char *const *)p->skills.v, p->skills.n, 3);
		buf_puts(b, ", and I have shipped projects like yours.");
	} else
		buf_puts(b, "have shipped projects like yours.");
	if (with_bio && p->bio != NULL && *p->bio != '\0') {
		n = strcspn(p->bio, ".!?\n");
		if (n > 0 && words_count(p->bio, n) <= 40) {
			buf_putc(b, ' ');
			buf_append(b, p->bio, n);
			buf_putc(b, p->bio[n] == '!' || p->bio[n] == '?' ?
			    p->bio[n] : '.');
		}
	}
}

/*
 * The portfolio item to show for a job: the one whose skills cover most
 * of the job's (skills compare as in skills_match()), the earlier on a
 * tie, else the first, which the freelancer put there; -1 when the
 * portfolio is empty.
 */
int
portfolio_pick(const struct job_brief *j, const struct profile *p)
{
	const struct portfolio_item	*it;
	size_t				 i, k, s;
	int				 best = -1, best_n = -1, n;

	for (i = 0; i < p->nportfolio; i++) {
		it = &p->portfolio[i];
		for (n = 0, k = 0; k < j->skills.n; k++)
			for (s = 0; s < it->skills.n; s++)
				if (skill_eq(j->skills.v[k], it->skills.v[s])) {
					n++;
					break;
				}
		if (n > best_n) {
			best = (int)i;
			best_n = n;
		}
	}
	return best;
}

/* " A project close to yours: Billing API - a multi-tenant API (https://...)." */
static void
put_portfolio(struct buf *b, const struct job_brief *j, const struct profile *p)
{
	const struct portfolio_item	*it;
	const char			*d;
	size_t				 n;
	int				 i;

	if ((i = portfolio_pick(j, p)) == -1)
		return;
	it = &p->portfolio[i];
	buf_puts(b, " A project close to yours: ");
	buf_puts(b, it->title);
	if ((d = it->description) != NULL && (n = strcspn(d, ".!?\n")) > 0 &&
	    words_count(d, n) <= 30) {
		buf_puts(b, " - ");
		buf_append(b, d, n);
	}
	if (it->url != NULL)
		buf_printf(b, " (%s)", it->url);
	if (b->len > 0 && strchr(".!?", b->data[b->len - 1]) == NULL)
		buf_putc(b, '.');
}

static void
put_highlights(struct buf *b, const struct strlist *h, size_t max)
{
	size_t	i, n;
	char	*s;

	buf_puts(b, "Relevant to your project:");
	for (i = 0; i < h->n && i < max; i++) {
		s = h->v[i];
		n = strlen(s);
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		buf_putc(b, ' ');
		buf_putc(b, (char)toupper((unsigned char)s[0]));
		buf_append(b, s + 1, n > 0 ? n - 1 : 0);
		if (n > 0 && strchr(".!?", s[n - 1]) == NULL)
			buf_putc(b, '.');
	}
}

static void
put_approach(struct buf *b, const struct job_brief *j)
{
	buf_printf(b, "How I would work: first, %s; then, build ",
	    mentions(j, w_existing) ? "read the existing code and agree on "
	    "the scope with you" : "confirm the scope and the acceptance "
	    "criteria with you");
	if (j->skills.n > 0) {
		buf_puts(b, "the ");
		put_list(b, (const char *const *)j->skills.v, j->skills.n, 2);
		buf_puts(b, " parts");
	} else
		buf_puts(b, "it");
	buf_puts(b, " in small, reviewable steps");
	if (mentions(j, w_tests))
		buf_puts(b, " with automated tests for every change");
	if (mentions(j, w_perf))
		buf_puts(b, ", measuring performance before and after");
	if (mentions(j, w_secure))
		buf_puts(b, ", with security designed in from the start");
	buf_printf(b, "; finally, %s.", mentions(j, w_deploy) ? "release "
	    "through staging without downtime and hand over with documentation"
	    : "hand everything over with documentation and a short walkthrough");
}

/* The rate or price, kept inside the client's budget, and a timeline. */
static void
put_terms(struct buf *b, const struct job_brief *j, const struct profile *p,
    int with_timeline)
{
	double	lo = j->budget_min, hi = j->budget_max, rate = p->hourly_rate,
		hours, days;
	int	hourly = j->budget_type != NULL &&
		    strcmp(j->budget_type, "hourly") == 0;
	static const char *const first[] = { "one week", "two weeks",
	    "three weeks" };
	int	level = j->experience_level == NULL ? 1 :
		    strcmp(j->experience_level, "ENTRY_LEVEL") == 0 ? 0 :
		    strcmp(j->experience_level, "EXPERT") == 0 ? 2 : 1;

	if (hi < 0 && lo >= 0)
		hi = lo;
	if (hourly && lo >= 0) {
		if (rate >= lo && rate <= hi) {
			buf_puts(b, "My rate is ");
			put_money(b, j, rate);
			buf_puts(b, "/hour, within your ");
		} else if (rate > hi) {
			buf_puts(b, "For this project I can work at ");
			put_money(b, j, hi);
			buf_puts(b, "/hour, the top of your ");
		} else if (rate >= 0) {
			buf_puts(b, "I can work at ");
			put_money(b, j, lo);
			buf_puts(b, "/hour, within your ");
		} else
			buf_puts(b, "I can work within your ");
		put_money(b, j, lo);
		if (hi > lo) {
			buf_putc(b, '-');
			put_money(b, j, hi);
		}
		buf_puts(b, "/hour range.");
		if (with_timeline)
			buf_printf(b, " I can start this week and expect to show "
			    "you a first working version within %s.", first[level]);
	} else if (lo >= 0) {
		buf_puts(b, "I can deliver this for your fixed budget of ");
		put_money(b, j, hi);
		if (rate > 0) {
			hours = hi / rate;
			days = ceil(hours / 6);
		} else
			days = hi <= 300 ? 3 : hi <= 1000 ? 5 : hi <= 5000 ? 15 : 30;
		if (days < 1)
			days = 1;
		if (days <= 5)
			buf_printf(b, ", within %.0f working day%s.", days,
			    days > 1 ? "s" : "");
		else
			buf_printf(b, ", within %.0f weeks.", ceil(days / 5));
		if (with_timeline)
			buf_puts(b, " I split the work into milestones, so you "
			    "see progress before the end.");
	} else {
		buf_puts(b, "We can agree on the budget once the scope is clear");
		if (rate > 0) {
			buf_puts(b, "; my rate is ");
			put_money(b, j, rate);
			buf_puts(b, "/hour");
		}
		buf_putc(b, '.');
	}
}

static void
put_question(struct buf *b, const struct job_brief *j, enum tone tone)
{
	static const char *const lead[TONE__MAX] = {
		"One question before we start: ", "Quick question: ",
		"To move fast, I need to know one thing: ", "",
	};
	const char	*q;

	if (mentions(j, w_existing))
		q = "could you share access to the existing code, so that I can "
		    "give you a precise plan?";
	else if (mentions(j, w_design))
		q = "are the designs final, or should I expect changes during the "
		    "build?";
	else if (mentions(j, w_data))
		q = "how large is the data, and where does it live today?";
	else if (!mentions(j, w_deadline))
		q = "what is your target date for the first release?";
	else
		q = "what would make this project a clear success for you in the "
		    "first two weeks?";
	buf_puts(b, lead[tone]);
	if (*lead[tone] == '\0') {
		buf_putc(b, (char)toupper((unsigned char)q[0]));
		buf_puts(b, q + 1);
	} else
		buf_puts(b, q);
}

static void
put_signoff(struct buf *b, const struct profile *p, enum tone tone)
{
	static const char *const close[TONE__MAX] = {
		"Best regards,", "Cheers,", "Looking forward to working with you,",
		"Thanks,",
	};

	buf_puts(b, close[tone]);
	if (p->name != NULL && *p->name != '\0') {
		buf_putc(b, '\n');
		buf_puts(b, p->name);
	}
}

/*
 * The body at a level of detail: 0 has everything, each level drops
 * the least useful part (the approach, the bio and all but one
 * highlight, then the highlights and the timeline).
 */
static void
compose(struct buf *b, const struct job_brief *j, const struct profile *p,
    enum tone tone, const struct strlist *h, int level)
{
	struct skill_match	m, missing;

	skills_match(j, p, &m, &missing);
	buf_puts(b, tone == TONE_FRIENDLY ? "Hi there!\n\n" : "Hello,\n\n");
	put_hook(b, j, tone);
	buf_puts(b, "\n\n");
	put_experience(b, j, p, &m, level < 2);
	if (level < 2)
		put_portfolio(b, j, p);
	if (h != NULL && h->n > 0 && level < 3) {
		buf_puts(b, "\n\n");
		put_highlights(b, h, level < 2 ? h->n : 1);
	}
	if (level < 1) {
		buf_puts(b, "\n\n");
		put_approach(b, j);
	}
	buf_puts(b, "\n\n");
	put_terms(b, j, p, level < 3);
	buf_puts(b, "\n\n");
	put_question(b, j, tone);
}

/* Keep the first max words of s, ending at a sentence when one ends in the second half. */
static void
truncate_words(struct buf *b, size_t max)
{
	size_t	i, words = 0, cut = b->len, sentence = 0;
	int	in = 0;

	for (i = 0; i < b->len; i++) {
		if (isspace((unsigned char)b->data[i])) {
			in = 0;
			continue;
		}
		if (!in && ++words > max) {
			cut = i;
			break;
		}
		in = 1;
		if (strchr(".?!", b->data[i]) != NULL && words * 2 >= max)
			sentence = i + 1;
	}
	if (cut == b->len)
		return;
	if (sentence > 0)
		cut = sentence;
	while (cut > 0 && isspace((unsigned char)b->data[cut - 1]))
		cut--;
	b->len = cut;
	b->data[cut] = '\0';
}

/*
 * Append a proposal of at most max_words words: the most detailed
 * composition that fits, else the plainest one cut at a sentence.
 */
void
llm_builtin_write(struct buf *out, const struct job_brief *j,
    const struct profile *p, enum tone tone, long long max_words,
    const struct strlist *h)
{
	struct buf	body = { 0 }, sign = { 0 };
	size_t		sign_words, total;
	int		level;

	put_signoff(&sign, p, tone);
	sign_words = words_count(sign.data, sign.len);
	for (level = tone == TONE_CONCISE ? 1 : 0; level <= 3; level++) {
		buf_reset(&body);
		compose(&body, j, p, tone, h, level);
		total = words_count(body.data, body.len) + sign_words;
		if (total <= (size_t)max_words)
			break;
	}
	if (level > 3)
		truncate_words(&body, (size_t)max_words > sign_words ?
		    (size_t)max_words - sign_words : 1);
	buf_append(out, body.data, body.len);
	buf_puts(out, "\n\n");
	buf_append(out, sign.data, sign.len);
	buf_free(&body);
	buf_free(&sign);
}

static void
suggest(struct buf *b, size_t *n, const char *text)
{
	if (*n >= 6)
		return;
	buf_puts(b, *n ? "," : "");
	buf_json_string(b, text, strlen(text));
	(*n)++;
}

/*
 * Tips for the freelancer about a draft, as a JSON array of strings:
 * skills the job wants that the profile lacks, a budget that does not
 * fit the rate, warning signs about the client, a draft over length.
 */
void
llm_builtin_suggest(struct buf *out, const struct job_brief *j,
    const struct profile *p, const char *draft, long long max_words)
{
	struct skill_match	 m, missing;
	struct buf		 t = { 0 };
	size_t			 n = 0, words, i;
	int			 linked;

	skills_match(j, p, &m, &missing);
	buf_putc(out, '[');
	if (p->skills.n == 0 || p->title == NULL || p->hourly_rate < 0)
		suggest(out, &n, "Complete your profile (title, skills and "
		    "hourly rate): the proposal is written from it.");
	if (missing.n > 0 && p->skills.n > 0) {
		buf_puts(&t, "The job asks for ");
		put_list(&t, missing.v, missing.n, 4);
		buf_puts(&t, ", which your profile does not list: mention related "
		    "work if you have it.");
		suggest(out, &n, t.data);
	}
	buf_reset(&t);
	if (j->budget_type != NULL && strcmp(j->budget_type, "hourly") == 0 &&
	    j->budget_max >= 0 && p->hourly_rate > j->budget_max) {
		buf_puts(&t, "Your rate (");
		put_money(&t, j, p->hourly_rate);
		buf_puts(&t, "/hour) is above the client's range; the draft offers ");
		put_money(&t, j, j->budget_max);
		buf_puts(&t, "/hour.");
		suggest(out, &n, t.data);
	} else if (j->budget_type != NULL && strcmp(j->budget_type, "fixed") == 0 &&
	    j->budget_max >= 0 && p->hourly_rate > 0 &&
	    j->budget_max / p->hourly_rate < 8) {
		buf_printf(&t, "The fixed budget pays for about %.0f hours at your "
		    "rate: agree on a narrow scope before you start.",
		    floor(j->budget_max / p->hourly_rate));
		suggest(out, &n, t.data);
	}
	if (j->client_name != NULL && !j->client_verified)
		suggest(out, &n, "The client's payment method is not verified: "
		    "make sure a milestone is funded before you start.");
	buf_reset(&t);
	if (j->client_name != NULL && j->client_rating >= 0 &&
	    j->client_rating < 4 && j->client_reviews >= 3) {
		buf_printf(&t, "Freelancers rate this client %.1f from %d reviews: "
		    "read them before you apply.", j->client_rating,
		    j->client_reviews);
		suggest(out, &n, t.data);
	}
	buf_reset(&t);
	words = words_count(draft, strlen(draft));
	if ((long long)words > max_words) {
		buf_printf(&t, "The draft has %zu words, more than the %lld you "
		    "asked for: trim it before sending.", words, max_words);
		suggest(out, &n, t.data);
	}
	for (i = 0, linked = 0; i < p->nportfolio; i++)
		linked |= p->portfolio[i].url != NULL;
	if (!linked && (p->bio == NULL || strstr(p->bio, "http") == NULL))
		suggest(out, &n, "Add a link to a similar project you shipped: "
		    "clients trust work they can see.");
	buf_putc(out, ']');
	buf_free(&t);
}

/*
 * The rate a proposal quotes: the freelancer's target rate, brought
 * into the client's range for an hourly job ("$70/hour"); nothing when
 * the profile has no rate.
 */
static void
put_rate(struct buf *b, const struct job_brief *j, const struct profile *p)
{
	double	rate = p->hourly_rate, lo = j->budget_min, hi = j->budget_max;

	if (rate < 0)
		return;
	if (hi < 0)
		hi = lo;
	if (j->budget_type != NULL && strcmp(j->budget_type, "hourly") == 0 &&
	    lo >= 0) {
		if (rate > hi)
			rate = hi;
		if (rate < lo)
			rate = lo;
	}
	put_money(b, j, rate);
	buf_puts(b, "/hour");
}

/*
 * Append a template filled in for this job and profile (README,
 * "Proposal templates"): the job's client and title, the job's skills
 * the profile has, the rate quoted, the freelancer's name and the
 * portfolio item that fits the job best ("Title (url)").  A value that
 * is missing is empty.  max_words > 0 cuts the result to that many
 * words, at a sentence when one ends in the second half.
 */
void
llm_builtin_template(struct buf *out, const char *tmpl,
    const struct job_brief *j, const struct profile *p, long long max_words)
{
	struct buf		 v[TEMPLATE_VAR__MAX], text = { 0 };
	const char		*values[TEMPLATE_VAR__MAX];
	struct skill_match	 m, missing;
	int			 i, k;

	memset(v, 0, sizeof(v));
	skills_match(j, p, &m, &missing);
	if (j->client_name != NULL)
		buf_puts(&v[TEMPLATE_CLIENT_NAME], j->client_name);
	if (j->title != NULL)
		buf_puts(&v[TEMPLATE_JOB_TITLE], j->title);
	put_list(&v[TEMPLATE_MATCHED_SKILLS], m.v, m.n, m.n);
	put_rate(&v[TEMPLATE_RATE], j, p);
	if (p->name != NULL)
		buf_puts(&v[TEMPLATE_FREELANCER_NAME], p->name);
	if ((k = portfolio_pick(j, p)) != -1) {
		buf_puts(&v[TEMPLATE_PORTFOLIO_HIGHLIGHT], p->portfolio[k].title);
		if (p->portfolio[k].url != NULL)
			buf_printf(&v[TEMPLATE_PORTFOLIO_HIGHLIGHT], " (%s)",
			    p->portfolio[k].url);
	}
	for (i = 0; i < TEMPLATE_VAR__MAX; i++)
		values[i] = v[i].data;
	template_fill(&text, tmpl, strlen(tmpl), values);
	if (max_words > 0 && text.len > 0)
		truncate_words(&text, (size_t)max_words);
	buf_append(out, text.data, text.len);
	for (i = 0; i < TEMPLATE_VAR__MAX; i++)
		buf_free(&v[i]);
	buf_free(&text);
}

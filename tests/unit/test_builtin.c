/* test_builtin.c: unit tests for the builtin proposal writer: skills matched, the budget kept, the length limit at every size, and the same text for the same input. */
#include <stdlib.h>
#include <string.h>

#include "../../agent/llm_builtin.c"
#include "tap.h"

static char *job_skills[] = { "node.js", "postgresql", "graphql" };
static char *profile_skills[] = { "PostgreSQL", "nodejs", "c" };
static char *highlights[] = { "cut p99 latency from 900 ms to 60 ms",
    "ran a team of four", "wrote the Node.js driver docs" };

static struct job_brief
hourly_job(void)
{
	struct job_brief	j = {
		.id = "00000000-0000-4000-8000-000000000001",
		.title = "Build a REST API for our clinic scheduling app",
		.description = "We need a Node.js and PostgreSQL backend with tenant "
		    "isolation and tests. Existing prototype in Express.",
		.skills = { job_skills, 3 },
		.budget_type = "hourly", .budget_min = 40, .budget_max = 60,
		.currency = "USD", .experience_level = "EXPERT",
		.client_name = "Acme Health", .client_country = "Germany",
		.client_rating = 4.9, .client_reviews = 12, .client_verified = 1,
	};

	return j;
}

static struct profile
dana(void)
{
	struct profile	p = {
		.name = "Dana Demo", .title = "Senior backend engineer",
		.bio = "I build multi-tenant APIs. Ten years of PostgreSQL.",
		.skills = { profile_skills, 3 }, .hourly_rate = 85,
	};

	return p;
}

static void
test_match(void)
{
	struct job_brief	j = hourly_job();
	struct profile		p = dana();
	struct skill_match	m, missing;

	skills_match(&j, &p, &m, &missing);
	ok(m.n == 2 && strcmp(m.v[0], "node.js") == 0 &&
	    strcmp(m.v[1], "postgresql") == 0,
	    "node.js matches nodejs and postgresql matches PostgreSQL");
	ok(missing.n == 1 && strcmp(missing.v[0], "graphql") == 0,
	    "graphql is missing");
	ok(skill_eq("C++", "c++") && !skill_eq("c++", "c") && !skill_eq("c#", "c"),
	    "C++ and C# are not C");
	is_int(words_count("  one two\n\nthree ", 17), 3, "words_count");
}

static void
test_write(void)
{
	struct job_brief	j = hourly_job();
	struct profile		p = dana();
	struct strlist		h = { highlights, 3 };
	struct buf		a = { 0 }, b = { 0 };

	llm_builtin_write(&a, &j, &p, TONE_PROFESSIONAL, 400, &h);
	llm_builtin_write(&b, &j, &p, TONE_PROFESSIONAL, 400, &h);
	is_str(a.data, b.data, "the same input gives the same text");
	ok(strstr(a.data, "Node.js") && strstr(a.data, "PostgreSQL"),
	    "names the matching skills as people write them");
	ok(strstr(a.data, "build a REST API for our clinic scheduling app") != NULL,
	    "hooks on the client's need");
	ok(strstr(a.data, "$60/hour") != NULL && strstr(a.data, "$85") == NULL,
	    "offers the top of the client's range, not the higher own rate");
	ok(strstr(a.data, "900 ms to 60 ms") != NULL, "includes a highlight");
	ok(strstr(a.data, "existing code") != NULL, "asks about the existing code");
	ok(strchr(a.data, '?') != NULL, "asks a question");
	ok(strstr(a.data, "tests") != NULL, "the approach follows the description (tests)");
	ok(a.len > 0 && strcmp(a.data + a.len - 9, "Dana Demo") == 0, "signed");

	buf_reset(&b);
	llm_builtin_write(&b, &j, &p, TONE_FRIENDLY, 400, &h);
	ok(strcmp(a.data, b.data) != 0 && strncmp(b.data, "Hi there!", 9) == 0,
	    "another tone, another text");

	p.hourly_rate = 50;
	buf_reset(&b);
	llm_builtin_write(&b, &j, &p, TONE_PROFESSIONAL, 400, &h);
	ok(strstr(b.data, "My rate is $50/hour, within your $40-$60/hour range") != NULL,
	    "a rate within the range is offered as it is");
	p.hourly_rate = 30;
	buf_reset(&b);
	llm_builtin_write(&b, &j, &p, TONE_PROFESSIONAL, 400, &h);
	ok(strstr(b.data, "$40/hour") != NULL, "a rate under the range rises to its bottom");

	j.budget_type = "fixed";
	j.budget_min = j.budget_max = 1700;
	p.hourly_rate = 85;
	buf_reset(&b);
	llm_builtin_write(&b, &j, &p, TONE_PROFESSIONAL, 400, &h);
	ok(strstr(b.data, "fixed budget of $1700, within 4 working days") != NULL,
	    "fixed price: the budget, and days at the freelancer's rate (20 h)");
	j.budget_min = j.budget_max = -1;
	buf_reset(&b);
	llm_builtin_write(&b, &j, &p, TONE_PROFESSIONAL, 400, &h);
	ok(strstr(b.data, "agree on the budget") != NULL, "no budget: agree on it");
	buf_free(&a);
	buf_free(&b);
}

/* Every length from 50 to 1000 words, every tone, with and without highlights and profile. */
static void
test_lengths(void)
{
	struct job_brief	j = hourly_job();
	struct profile		p = dana(), empty = { .hourly_rate = -1 };
	struct strlist		h = { highlights, 3 }, none = { NULL, 0 };
	struct buf		b = { 0 };
	long long		max;
	size_t			w;
	int			t, k, within = 1, signed_all = 1, shortest = 1000;

	for (max = 50; max <= 1000; max += 5)
		for (t = 0; t < TONE__MAX; t++)
			for (k = 0; k < 4; k++) {
				buf_reset(&b);
				llm_builtin_write(&b, &j, k & 1 ? &empty : &p, t, max,
				    k & 2 ? &none : &h);
				w = words_count(b.data, b.len);
				if ((long long)w > max) {
					within = 0;
					printf("# %s, maxWords %lld: %zu words\n",
					    tone_names[t], max, w);
				}
				if (!(k & 1) && strstr(b.data, "Dana Demo") == NULL)
					signed_all = 0;
				if ((int)w < shortest)
					shortest = (int)w;
			}
	ok(within, "never more words than maxWords (50 to 1000, 4 tones, 4 inputs)");
	ok(signed_all, "always signed, even when cut short");
	ok(shortest >= 30, "never empty (shortest %d words)", shortest);
	buf_free(&b);
}

static void
test_suggest(void)
{
	struct job_brief	 j = hourly_job();
	struct profile		 p = dana(), empty = { .hourly_rate = -1 };
	struct buf		 b = { 0 };
	json_object		*o;
	const char		*why;

	llm_builtin_suggest(&b, &j, &p, "short draft", 250);
	o = json_parse_strict(b.data, b.len, 4, &why);
	ok(o != NULL && json_object_is_type(o, json_type_array), "suggestions are a JSON array");
	ok(strstr(b.data, "GraphQL") != NULL, "names the missing skill");
	ok(strstr(b.data, "above the client's range") != NULL, "notes the rate above the range");
	json_object_put(o);
	buf_reset(&b);
	j.client_verified = 0;
	j.client_rating = 3.2;
	llm_builtin_suggest(&b, &j, &empty, "one two three four five", 3);
	ok(strstr(b.data, "Complete your profile") != NULL, "an empty profile: complete it");
	ok(strstr(b.data, "not verified") != NULL, "an unverified client");
	ok(strstr(b.data, "rate this client 3.2") != NULL, "a poorly rated client");
	ok(strstr(b.data, "5 words, more than the 3") != NULL, "a draft over length");
	buf_free(&b);
}

int
main(void)
{
	test_match();
	test_write();
	test_lengths();
	test_suggest();
	return done_testing();
}

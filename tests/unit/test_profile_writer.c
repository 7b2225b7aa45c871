/* test_profile_writer.c: unit tests for the profile as the writers read it (PROFILE_SQL's row: portfolio, tone, rates) and what the builtin writer makes of it: the portfolio highlight, templates filled in within maxWords. */
#include <string.h>

#include "agent.h"
#include "tap.h"

static char *job_skills[] = { "postgresql", "node.js", "graphql" };

static struct job_brief
job(void)
{
	struct job_brief	j = {
		.id = "00000000-0000-4000-8000-000000000001",
		.title = "Build a REST API for our clinic scheduling app",
		.description = "We need a Node.js and PostgreSQL backend.",
		.skills = { job_skills, 3 },
		.budget_type = "hourly", .budget_min = 40, .budget_max = 60,
		.currency = "USD", .client_name = "Acme Health",
		.client_rating = -1,
	};

	return j;
}

/* A result with PROFILE_SQL's columns, built in memory. */
static PGresult *
row(const char *const *v, int n)
{
	PGresult	*res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc	 attrs[16];
	int		 c;

	memset(attrs, 0, sizeof(attrs));
	for (c = 0; c < n; c++) {
		attrs[c].name = (char *)"c";
		attrs[c].typid = 25;
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
	}
	PQsetResultAttrs(res, n, attrs);
	for (c = 0; c < n; c++)
		PQsetvalue(res, 0, c, (char *)v[c], v[c] != NULL ? (int)strlen(v[c]) : -1);
	return res;
}

static const char *const dana_row[] = {
	"{\"node.js\",postgresql,c}", "60.00", "85.00", "70", "Dana Demo",
	"Senior backend engineer", "I build APIs.", "friendly",
	"[{\"title\": \"Shop front\", \"skills\": [\"react\"]},"
	" {\"title\": \"Clinic API\", \"description\": \"A multi-tenant booking API on"
	" PostgreSQL. Ten clinics.\", \"skills\": [\"postgresql\", \"nodejs\"],"
	" \"url\": \"https://example.com/clinic\"},"
	" {\"description\": \"no title: skipped\"}, 42]",
};

static void
test_profile_row(void)
{
	struct arena	 a = { 0 };
	struct profile	 p;
	PGresult	*res = row(dana_row, 9);
	const char	*empty_v[] = { "{}", NULL, NULL, NULL, NULL, NULL, NULL, NULL, "[]" };
	PGresult	*empty = row(empty_v, 9);

	profile_from_row(&a, res, 0, &p);
	ok(p.skills.n == 3 && strcmp(p.skills.v[0], "node.js") == 0 &&
	    strcmp(p.skills.v[2], "c") == 0, "skills in the freelancer's order");
	ok(p.hourly_rate == 85 && p.hourly_rate_min == 60 && p.threshold == 70,
	    "target and minimum rates, threshold");
	is_str(p.name, "Dana Demo", "name");
	is_int(p.tone, TONE_FRIENDLY, "preferred tone");
	is_int(p.nportfolio, 2, "two portfolio items: untitled and malformed ones skipped");
	is_str(p.portfolio[1].url, "https://example.com/clinic", "an item's url");
	ok(p.portfolio[1].skills.n == 2 && p.portfolio[0].description == NULL,
	    "an item's skills; a missing description is NULL");
	profile_from_row(&a, empty, 0, &p);
	ok(p.hourly_rate < 0 && p.hourly_rate_min < 0 && p.threshold == -1 &&
	    p.tone == -1 && p.nportfolio == 0 && p.name == NULL && p.skills.n == 0,
	    "an empty profile row: nothing set");
	profile_from_row(&a, NULL, 0, &p);
	ok(p.tone == -1 && p.hourly_rate < 0, "no row at all");
	PQclear(res);
	PQclear(empty);
	arena_reset(&a);
}

static void
test_portfolio(void)
{
	struct arena		 a = { 0 };
	struct profile		 p;
	struct job_brief	 j = job();
	struct buf		 b = { 0 };
	PGresult		*res = row(dana_row, 9);

	profile_from_row(&a, res, 0, &p);
	is_int(portfolio_pick(&j, &p), 1, "the item whose skills cover the job's (nodejs is node.js)");
	j.skills.n = 0;
	is_int(portfolio_pick(&j, &p), 0, "no overlap: the first item");
	j = job();
	llm_builtin_write(&b, &j, &p, TONE_PROFESSIONAL, 400, NULL);
	ok(strstr(b.data, "A project close to yours: Clinic API - A multi-tenant "
	    "booking API on PostgreSQL (https://example.com/clinic).") != NULL,
	    "the writer shows the highlight: title, first sentence, link");
	buf_reset(&b);
	llm_builtin_suggest(&b, &j, &p, "Hello", 250);
	ok(strstr(b.data, "Add a link") == NULL, "no tip to add a link when the portfolio has one");
	p.nportfolio = 0;
	buf_reset(&b);
	llm_builtin_write(&b, &j, &p, TONE_PROFESSIONAL, 400, NULL);
	ok(strstr(b.data, "A project close to yours") == NULL, "no portfolio, no highlight");
	buf_free(&b);
	PQclear(res);
	arena_reset(&a);
}

static void
test_template(void)
{
	struct arena		 a = { 0 };
	struct profile		 p;
	struct job_brief	 j = job();
	struct buf		 b = { 0 };
	PGresult		*res = row(dana_row, 9);

	profile_from_row(&a, res, 0, &p);
	llm_builtin_template(&b, "Hi {{client_name}}! About {{ job_title }}: I know "
	    "{{matched_skills}}. Rate {{rate}}. See {{portfolio_highlight}}. "
	    "{{freelancer_name}}", &j, &p, 0);
	is_str(b.data, "Hi Acme Health! About Build a REST API for our clinic scheduling "
	    "app: I know PostgreSQL and Node.js. Rate $60/hour. See Clinic API "
	    "(https://example.com/clinic). Dana Demo",
	    "every placeholder filled; the $85 target brought to the top of the $40-60 range");
	buf_reset(&b);
	j.budget_type = "fixed";
	j.client_name = NULL;
	p.name = NULL;
	llm_builtin_template(&b, "[{{client_name}}] {{rate}} [{{freelancer_name}}]", &j, &p, 0);
	is_str(b.data, "[] $85/hour []", "fixed price: the target rate; missing values are empty");
	buf_reset(&b);
	llm_builtin_template(&b, "One two three. Four five six seven. Eight nine ten "
	    "eleven twelve.", &j, &p, 8);
	is_str(b.data, "One two three. Four five six seven.", "maxWords: cut at a sentence");
	ok(words_count(b.data, b.len) <= 8, "within maxWords");
	buf_reset(&b);
	llm_builtin_template(&b, "no placeholders {here}", &j, &p, 50);
	is_str(b.data, "no placeholders {here}", "plain text as it is");
	buf_free(&b);
	PQclear(res);
	arena_reset(&a);
}

int
main(void)
{
	test_profile_row();
	test_portfolio();
	test_template();
	return done_testing();
}

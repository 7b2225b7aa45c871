/* test_template.c: unit tests for proposal template placeholders: what is refused when saving, and how values are filled in. */
#include <string.h>

#include "agent.h"
#include "tap.h"

/* "ok" with the used bits, or the error message. */
static const char *
check(const char *text, unsigned int *used)
{
	static struct template_error	 err;
	unsigned int			 u;

	if (template_check(text, strlen(text), used ? used : &u, &err) == 0)
		return "ok";
	return err.message;
}

static void
test_check(void)
{
	unsigned int	used = 0;

	is_str(check("Plain text, no placeholders.", &used), "ok", "plain text");
	is_int(used, 0, "uses nothing");
	is_str(check("Hi {{client_name}}, about {{job_title}}: {{matched_skills}} at {{rate}}."
	    " {{freelancer_name}} ({{portfolio_highlight}})", &used), "ok", "every placeholder");
	is_int(used, (1 << TEMPLATE_VAR__MAX) - 1, "all six used");
	is_str(check("Hi {{ client_name }} and {{\tjob_title}}", &used), "ok",
	    "spaces and tabs inside the braces");
	is_int(used, (1 << TEMPLATE_CLIENT_NAME) | (1 << TEMPLATE_JOB_TITLE), "two used");
	is_str(check("a { single } brace is text", NULL), "ok", "single braces are text");
	is_str(check("", NULL), "ok", "empty text");
	is_str(check("Dear {{budget}}", NULL),
	    "unknown placeholder {{budget}} at character 5; known: client_name, job_title,"
	    " matched_skills, rate, freelancer_name, portfolio_highlight",
	    "an unknown placeholder is named, with the known ones");
	is_str(check("{{Client_Name}}", NULL),
	    "unknown placeholder {{Client_Name}} at character 0; known: client_name, job_title,"
	    " matched_skills, rate, freelancer_name, portfolio_highlight",
	    "names are case-sensitive");
	is_str(check("Hi {{client_name", NULL),
	    "malformed placeholder \"{{client_name\" at character 3: write {{name}}",
	    "unclosed braces");
	is_str(check("Hi {{client name}}", NULL),
	    "malformed placeholder \"{{client name}}\" at character 3: write {{name}}",
	    "a space inside the name");
	is_str(check("{{}}", NULL), "malformed placeholder \"{{}}\" at character 0: write {{name}}",
	    "an empty name");
	is_str(check("{{{client_name}}}", NULL),
	    "malformed placeholder \"{{{client_name}}}\" at character 0: write {{name}}",
	    "triple braces");
	is_str(check("x }} y", NULL), "}} without a matching {{ at character 2", "stray closing braces");
	is_str(check("caf\xc3\xa9 {{nope}}", NULL),
	    "unknown placeholder {{nope}} at character 5; known: client_name, job_title,"
	    " matched_skills, rate, freelancer_name, portfolio_highlight",
	    "offsets count characters, not bytes");
	is_str(check("{{client_name}\n}", NULL),
	    "malformed placeholder \"{{client_name}\" at character 0: write {{name}}",
	    "a placeholder never spans lines, and the quote stops at the line's end");
	ok(strncmp(check("{{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}", NULL),
	    "malformed", 9) == 0, "an over-long name is malformed");
}

static void
test_fill(void)
{
	const char	*v[TEMPLATE_VAR__MAX] = { "Acme", "Build an API", "c, postgresql",
	    "$85/h", "Dana", NULL };
	const char	*t = "Hi {{client_name}}! For \"{{ job_title }}\" I bring {{matched_skills}}"
	    " at {{rate}}.{{portfolio_highlight}} -- {{freelancer_name}}";
	struct buf	 b = { 0 };

	template_fill(&b, t, strlen(t), v);
	is_str(b.data, "Hi Acme! For \"Build an API\" I bring c, postgresql at $85/h. -- Dana",
	    "values filled in, a missing one is empty");
	buf_reset(&b);
	template_fill(&b, "no placeholders {", 17, v);
	is_str(b.data, "no placeholders {", "text without placeholders is unchanged");
	buf_reset(&b);
	template_fill(&b, "{{client_name}}{{client_name}}", 30, v);
	is_str(b.data, "AcmeAcme", "adjacent placeholders");
	buf_reset(&b);
	is_str(check("}{{portfolio_highlight}}}", NULL), "ok", "single braces around one pass");
	template_fill(&b, "}{{portfolio_highlight}}}", 25, v);
	is_str(b.data, "}}", "and a missing value leaves them side by side: text, "
	    "never a placeholder again");
	buf_reset(&b);
	v[0] = "{{rate}}";
	template_fill(&b, "{{client_name}}", 15, v);
	is_str(b.data, "{{rate}}", "values are not expanded again");
	buf_free(&b);
}

int
main(void)
{
	test_check();
	test_fill();
	return done_testing();
}

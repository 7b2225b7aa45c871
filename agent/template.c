/* template.c: proposal templates: the {{placeholder}} syntax checked when a template is saved, and filled in when it is used. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

/*
 * The syntax: "{{" name "}}", with optional spaces or tabs inside the
 * braces; name is one of template_var_names.  "{{" always opens a
 * placeholder and "}}" outside one is an error, so a template never
 * means something other than what it looks like.  Single braces are
 * plain text.
 */
const char *const template_var_names[TEMPLATE_VAR__MAX + 1] = {
	[TEMPLATE_CLIENT_NAME] = "client_name",
	[TEMPLATE_JOB_TITLE] = "job_title",
	[TEMPLATE_MATCHED_SKILLS] = "matched_skills",
	[TEMPLATE_RATE] = "rate",
	[TEMPLATE_FREELANCER_NAME] = "freelancer_name",
	[TEMPLATE_PORTFOLIO_HIGHLIGHT] = "portfolio_highlight",
	[TEMPLATE_VAR__MAX] = NULL,
};

#define NAME_MAX_LEN	40	/* longer is malformed, not an unknown name */

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The placeholder whose "{{" is at s[i]: its variable, or -1 (unknown
 * name) or -2 (malformed); *end gets the index just past its "}}", and
 * the name's bounds go to *name / *namelen.
 */
static int
placeholder_at(const char *s, size_t len, size_t i, size_t *end,
    const char **name, size_t *namelen)
{
	size_t	p = i + 2, q;
	int	v;

	while (p < len && is_blank(s[p]))
		p++;
	for (q = p; q < len && ((s[q] >= 'a' && s[q] <= 'z') ||
	    (s[q] >= 'A' && s[q] <= 'Z') || (s[q] >= '0' && s[q] <= '9') ||
	    s[q] == '_'); q++)
		continue;
	*name = s + p;
	*namelen = q - p;
	while (q < len && is_blank(s[q]))
		q++;
	if (*namelen == 0 || *namelen > NAME_MAX_LEN || q + 1 >= len ||
	    s[q] != '}' || s[q + 1] != '}')
		return -2;
	*end = q + 2;
	for (v = 0; v < TEMPLATE_VAR__MAX; v++)
		if (strlen(template_var_names[v]) == *namelen &&
		    memcmp(template_var_names[v], *name, *namelen) == 0)
			return v;
	return -1;
}

/*
 * Record the first error: where (in characters, the offset given to the
 * message's format too) and what.
 */
static int PRINTF(4, 5)
fail(struct template_error *err, const char *s, size_t at, const char *fmt, ...)
{
	va_list	ap;

	err->offset = utf8_length(s, at);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Check the placeholders of a template text (UTF-8, len bytes).
 * Returns 0 and sets bit v of *used for each variable v it uses, or -1
 * with err describing the first problem: an unknown placeholder (named,
 * with the list of known ones) or malformed braces.
 */
int
template_check(const char *s, size_t len, unsigned int *used,
    struct template_error *err)
{
	const char	*name, *nl;
	size_t		 i, end, namelen, n;
	int		 v;

	*used = 0;
	for (i = 0; i + 1 < len; i++) {
		if (s[i] == '}' && s[i + 1] == '}')
			return fail(err, s, i, "}} without a matching {{ at "
			    "character %zu", utf8_length(s, i));
		if (s[i] != '{' || s[i + 1] != '{')
			continue;
		v = placeholder_at(s, len, i, &end, &name, &namelen);
		if (v == -2) {
			nl = memchr(s + i, '\n', len - i);
			n = nl != NULL ? (size_t)(nl - (s + i)) : len - i;
			if (n > 30)
				n = 30;
			while (n > 0 && n < len - i &&
			    ((unsigned char)s[i + n] & 0xc0) == 0x80)
				n--;	/* never cut a character in two */
			return fail(err, s, i, "malformed placeholder \"%.*s\" at "
			    "character %zu: write {{name}}", (int)n, s + i,
			    utf8_length(s, i));
		}
		if (v == -1) {
			fail(err, s, i, "unknown placeholder {{%.*s}} at character "
			    "%zu", (int)namelen, name, utf8_length(s, i));
			for (v = 0; v < TEMPLATE_VAR__MAX; v++) {
				n = strlen(err->message);
				snprintf(err->message + n, sizeof(err->message) - n,
				    "%s%s", v ? ", " : "; known: ",
				    template_var_names[v]);
			}
			return -1;
		}
		*used |= 1U << v;
		i = end - 1;
	}
	return 0;
}

/*
 * Append the template text with each placeholder replaced by
 * values[variable] (NULL: nothing).  The text should have passed
 * template_check(); anything that is not a placeholder is copied as it
 * is.
 */
void
template_fill(struct buf *b, const char *s, size_t len,
    const char *const values[TEMPLATE_VAR__MAX])
{
	const char	*name;
	size_t		 i, from = 0, end, namelen;
	int		 v;

	for (i = 0; i + 1 < len; i++) {
		if (s[i] != '{' || s[i + 1] != '{')
			continue;
		if ((v = placeholder_at(s, len, i, &end, &name, &namelen)) < 0)
			continue;
		buf_append(b, s + from, i - from);
		if (values[v] != NULL)
			buf_puts(b, values[v]);
		from = end;
		i = end - 1;
	}
	buf_append(b, s + from, len - from);
}

/* pgarray.c: PostgreSQL's text form of a one-dimensional array ({a,"b c",NULL}) split into its elements, in place. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common.h"

static char *
skip_space(char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
	    *p == '\v' || *p == '\f')
		p++;
	return p;
}

/*
 * Split the array literal s into its elements, rewriting s in place:
 * quotes and backslash escapes are removed and each element ends with
 * a NUL.  items[i] points into s, or is NULL for an SQL NULL element;
 * at most max are stored, the rest are checked and counted only.
 * Accepts what array_out() prints (elements quoted when they need it,
 * an optional "[lo:hi]=" dimension prefix) and the input syntax's
 * whitespace around elements; refuses nested arrays.  Returns the
 * number of elements, or -1 when s is not such an array (s is then
 * left partly rewritten).
 */
int
pg_array_parse(char *s, char **items, size_t max, size_t *n)
{
	char	*r = s, *w, *start, delim;
	int	 count = 0, quoted;

	*n = 0;
	if (*r == '[') {
		if ((r = strchr(r, '=')) == NULL)
			return -1;
		r++;
	}
	r = skip_space(r);
	if (*r++ != '{')
		return -1;
	r = skip_space(r);
	if (*r == '}') {
		r++;
		goto end;
	}
	for (;;) {
		r = skip_space(r);
		start = w = r;
		quoted = *r == '"';
		if (quoted) {
			for (r++; *r != '"'; *w++ = *r++) {
				if (*r == '\0')
					return -1;
				if (*r == '\\' && *++r == '\0')
					return -1;
			}
			r++;
		} else {
			for (; *r != ',' && *r != '}'; *w++ = *r++) {
				if (*r == '\0' || *r == '"' || *r == '{')
					return -1;
				if (*r == '\\' && *++r == '\0')
					return -1;
			}
			while (w > start && isspace((unsigned char)w[-1]))
				w--;
			if (w == start)
				return -1;	/* an empty element must be quoted */
		}
		r = skip_space(r);
		if ((delim = *r) != ',' && delim != '}')
			return -1;
		r++;
		*w = '\0';	/* may overwrite the delimiter: read already */
		if (*n < max)
			items[(*n)++] = !quoted && w - start == 4 &&
			    strncasecmp(start, "NULL", 4) == 0 ? NULL : start;
		if (count == INT32_MAX)
			return -1;
		count++;
		if (delim == '}')
			break;
	}
end:
	r = skip_space(r);
	return *r == '\0' ? count : -1;
}

/* cors.c: CORS for the API as the Fetch standard has it: the cors_origins allow-list, the headers of an allowed origin's responses and preflights. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define CORS_ORIGINS_MAX	256

static char	**origins;	/* cors_origins, parsed */
static size_t	  norigins;

/* Predicate: o is an origin as browsers serialise it, scheme://host[:port]. */
static int
origin_valid(const char *o)
{
	const char	*host, *p;

	if (strncmp(o, "http://", 7) == 0)
		host = o + 7;
	else if (strncmp(o, "https://", 8) == 0)
		host = o + 8;
	else
		return 0;
	if (*host == '\0' || *host == ':')
		return 0;
	for (p = host; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr(".-:[]", *p) == NULL)
			return 0;
	return 1;
}

/*
 * Parse list (cors_origins: a comma list) into the allow-list.  Returns
 * 0, or -1 after logging the entry that is not an origin ("*" and
 * "null" included: the responses allow credentials).
 */
int
cors_load(const char *list)
{
	const char	*p = list, *end;
	size_t		 len;
	char		*o;

	cors_free();
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		o = xmalloc(len + 1);
		memcpy(o, p, len);
		o[len] = '\0';
		p = end;
		if (!origin_valid(o) || norigins == CORS_ORIGINS_MAX) {
			LOG_ERR(NULL, "cors_origins: \"%s\" is not an origin "
			    "(scheme://host[:port], no path, no *, at most %d)",
			    o, CORS_ORIGINS_MAX);
			free(o);
			cors_free();
			return -1;
		}
		origins = xrealloc(origins, (norigins + 1) * sizeof(*origins));
		origins[norigins++] = o;
	}
	return 0;
}

void
cors_free(void)
{
	size_t	i;

	for (i = 0; i < norigins; i++)
		free(origins[i]);
	free(origins);
	origins = NULL;
	norigins = 0;
}

/*
 * Predicate: origin (the request's Origin header) is in the allow-list.
 * Scheme and host compare without regard to case, as origins do.
 */
int
cors_allowed(const char *origin)
{
	size_t	i;

	if (origin == NULL)
		return 0;
	for (i = 0; i < norigins; i++)
		if (strcasecmp(origins[i], origin) == 0)
			return 1;
	return 0;
}

/*
 * Queue the CORS headers of r's response.  methods is the route's
 * method list ("GET, HEAD, OPTIONS") when r is a preflight (OPTIONS
 * with Origin and Access-Control-Request-Method), else NULL.  The
 * allowed origin is echoed as the request sent it: the browser compares
 * the two byte for byte.
 */
void
cors_headers(struct req *r, const char *methods)
{
	const char	*origin;

	if (norigins == 0)
		return;
	http_header(r, "Vary", "Origin");
	origin = req_header(r, "HTTP_ORIGIN");
	if (!cors_allowed(origin))
		return;
	http_header(r, "Access-Control-Allow-Origin", "%s", origin);
	http_header(r, "Access-Control-Allow-Credentials", "true");
	if (methods == NULL) {
		http_header(r, "Access-Control-Expose-Headers", "%s",
		    CORS_EXPOSE_HEADERS);
		return;
	}
	http_header(r, "Access-Control-Allow-Methods", "%s", methods);
	http_header(r, "Access-Control-Allow-Headers", "%s", CORS_ALLOW_HEADERS);
	http_header(r, "Access-Control-Max-Age", "%d", CORS_MAX_AGE);
}

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
 * Parse list (cors_origins: a comma list) into *out, a new array of *n
 * origins, at most max of them.  Returns 0, the caller then owning each
 * string and the array; or -1 after logging, behind the prefix who, the
 * entry that is not an origin ("*" and "null" included: the responses
 * allow credentials) or is one too many, with *out and *n untouched.
 * The API (cors_load) and the broadcaster (push/http.c) both read the
 * knob with it, so the two never disagree on what it allows.
 */
int
cors_parse(const char *list, size_t max, const char *who, char ***out,
    size_t *n)
{
	const char	*p = list, *end;
	char		**v = NULL, *o;
	size_t		 len, nv = 0, i;

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
		if (!origin_valid(o) || nv == max) {
			LOG_ERR(NULL, "%scors_origins: \"%s\" is not an origin "
			    "(scheme://host[:port], no path, no *, at most %zu)",
			    who, o, max);
			free(o);
			for (i = 0; i < nv; i++)
				free(v[i]);
			free(v);
			return -1;
		}
		v = xrealloc(v, (nv + 1) * sizeof(*v));
		v[nv++] = o;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* cors_origins (list) as the API's allow-list: 0, or -1 as cors_parse. */
int
cors_load(const char *list)
{
	cors_free();
	return cors_parse(list, CORS_ORIGINS_MAX, "", &origins, &norigins);
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
 * The origin (scheme://host[:port]) of a Referer URL, into out.
 * Returns 0, or -1 when ref is not an absolute http(s) URL or its
 * origin does not fit.
 */
static int
referer_origin(const char *ref, char *out, size_t outlen)
{
	const char	*host;
	size_t		 len;

	if (strncmp(ref, "http://", 7) == 0)
		host = ref + 7;
	else if (strncmp(ref, "https://", 8) == 0)
		host = ref + 8;
	else
		return -1;
	len = (size_t)(host - ref) + strcspn(host, "/?#");
	if (len >= outlen)
		return -1;
	memcpy(out, ref, len);
	out[len] = '\0';
	return 0;
}

/*
 * Predicate: an unsafe request authenticated by a cookie may be
 * trusted not to be a cross-site forgery, because its Origin (or, when
 * a browser sends none, its Referer's origin) is the API's own (host,
 * the Host header; https, the request came over TLS: then only https
 * is the same origin, else either scheme is, as a TLS proxy in front
 * makes the browser's https the API's http) or in cors_origins.  A
 * request with neither header, or Origin "null", is not trusted: every
 * browser sends Origin on a cross-origin POST.
 */
int
cors_request_trusted(const char *origin, const char *referer,
    const char *host, int https)
{
	char		 buf[512];
	const char	*o = origin, *h;

	if (o == NULL) {
		if (referer == NULL ||
		    referer_origin(referer, buf, sizeof(buf)) == -1)
			return 0;
		o = buf;
	}
	if (!origin_valid(o))
		return 0;
	if (cors_allowed(o))
		return 1;
	if (host == NULL || *host == '\0')
		return 0;
	if (strncasecmp(o, "https://", 8) == 0)
		h = o + 8;
	else if (!https && strncasecmp(o, "http://", 7) == 0)
		h = o + 7;
	else
		return 0;
	return strcasecmp(h, host) == 0;
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

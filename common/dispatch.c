/* dispatch.c: route a request, authenticate it, check its body, run its handler, log it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

#define TOKEN_BUF	8193
#define ARG_MAX_LEN	200

/* The index of the route the request took, for its counters; -1: none. */
static int	route_taken;

/*
 * Compare path with a pattern such as "/api/things/{id}"; each {name}
 * takes one non-empty segment, stored in args in order.
 */
static int
route_fits(const char *pattern, const char *path, struct req *r, int store)
{
	const char	*p = pattern, *s = path, *end;
	size_t		 nargs = 0, len;

	while (*p != '\0') {
		if (*p == '{') {
			if ((end = strchr(s, '/')) == NULL)
				end = s + strlen(s);
			len = (size_t)(end - s);
			if (len == 0 || len > ARG_MAX_LEN || nargs == ROUTE_MAX_ARGS)
				return 0;
			if (store)
				r->args[nargs] = arena_strndup(&r->arena, s, len);
			nargs++;
			s = end;
			p = strchr(p, '}');
			if (p == NULL)
				return 0;
			p++;
		} else if (*p++ != *s++)
			return 0;
	}
	return *s == '\0';
}

/* The methods of mask as an Allow value, in the usual order ("GET, HEAD, OPTIONS"); the caller frees it. */
static char *
method_list(unsigned int mask)
{
	static const struct {
		enum method	 m;
		const char	*name;
	} names[] = {
		{ METHOD_GET, "GET" }, { METHOD_HEAD, "HEAD" },
		{ METHOD_POST, "POST" }, { METHOD_PUT, "PUT" },
		{ METHOD_PATCH, "PATCH" }, { METHOD_DELETE, "DELETE" },
		{ METHOD_OPTIONS, "OPTIONS" },
	};
	struct buf	b = { 0 };
	size_t		i;

	for (i = 0; i < nitems(names); i++)
		if (mask & names[i].m)
			buf_printf(&b, "%s%s", b.len ? ", " : "", names[i].name);
	return b.data != NULL ? b.data : xstrdup("");
}

static void
allow_header(struct req *r, unsigned int mask)
{
	char	*list = method_list(mask);

	http_header(r, "Allow", "%s", list);
	free(list);
}

/*
 * OPTIONS on a route: 204 with Allow, and when it is a CORS preflight
 * (Origin and Access-Control-Request-Method) the CORS headers of an
 * allowed origin.  No token is asked for: browsers send preflights
 * without credentials.
 */
static void
options(struct req *r, unsigned int mask)
{
	char	*list = method_list(mask);

	http_header(r, "Allow", "%s", list);
	cors_headers(r, req_header(r, "HTTP_ORIGIN") != NULL &&
	    req_header(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD") != NULL ?
	    list : NULL);
	free(list);
	http_send(r, 204, NULL, "", 0);
}

/*
 * Verify the request's token.  Returns NULL (r->authed set) or the
 * reason it is not acceptable; the 401 is written by the caller, after
 * the rate limit has counted the attempt against the client's address.
 * *cookie says whether the token came from the cookie, which a browser
 * sends whoever made the page (csrf_refused()).
 */
static const char *
authenticate(struct req *r, int *cookie)
{
	char		 buf[TOKEN_BUF];
	const char	*tok, *why, *authz;

	authz = req_header(r, "HTTP_AUTHORIZATION");
	*cookie = authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0;
	tok = auth_token_from(authz, req_header(r, "HTTP_COOKIE"), buf,
	    sizeof(buf));
	if (tok == NULL)
		return "a bearer token is required";
	if (auth_verify_cached(&r->app->keys, &cfg, tok, time(NULL), &r->auth,
	    &why) == -1)
		return why;
	r->authed = 1;
	return NULL;
}

/*
 * Predicate: r changes something, its token came from the cookie, and
 * its Origin (or Referer) is neither the API's own nor an allowed one:
 * a page of another site made the browser send it (a body-less POST
 * needs no preflight).  Refused with 403 by the caller.
 */
static int
csrf_refused(const struct req *r, int cookie)
{
	const char	*tls = req_header(r, "HTTPS");

	if (!cookie || r->method == METHOD_GET || r->method == METHOD_HEAD ||
	    r->method == METHOD_OPTIONS)
		return 0;
	return !cors_request_trusted(req_header(r, "HTTP_ORIGIN"),
	    req_header(r, "HTTP_REFERER"), req_header(r, "HTTP_HOST"),
	    tls != NULL && strcasecmp(tls, "on") == 0);
}

/* Predicate: the Content-Type is application/json, any charset utf-8. */
static int
is_json(const char *ct)
{
	size_t	n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ')
		ct++;
	if (*ct == '\0')
		return 1;
	if (*ct != ';')
		return 0;
	for (ct++; *ct == ' '; ct++)
		continue;
	return strcasecmp(ct, "charset=utf-8") == 0 ||
	    strcasecmp(ct, "charset=\"utf-8\"") == 0;
}

/* Predicate: the request says how long its body is (RFC 9112, 6.3). */
static int
has_length(const struct req *r)
{
	const char	*cl = req_header(r, "CONTENT_LENGTH");

	return (cl != NULL && *cl != '\0') ||
	    req_header(r, "HTTP_TRANSFER_ENCODING") != NULL;
}

/*
 * The body of a route that takes none: nothing, or an empty JSON
 * object; anything else is refused as a JSON body with no fields would
 * be (415, 413, 400 naming each unknown field).  0, or -1 after the
 * error.
 */
static int
no_body(struct req *r)
{
	const char	*cl = req_header(r, "CONTENT_LENGTH");
	uint64_t	 set;
	char		 none;

	if (cl != NULL && strcmp(cl, "0") == 0)
		return 0;
	if (req_read_body(r) == -1)
		return -1;
	if (r->body_len == 0)
		return 0;
	if (!is_json(req_header(r, "CONTENT_TYPE"))) {
		http_error(r, ERR_UNSUPPORTED_MEDIA, "this route takes no body");
		return -1;
	}
	return valid_json(r, NULL, 0, &none, &set);
}

/*
 * If-Match on a PUT, PATCH or DELETE: the resource's current ETag is
 * that of what its GET answers now, so the GET route of the same path
 * runs first with its response captured (r->capture), as the caller.
 * The list names the tag: 0, go on.  It does not: 412 and -1.  A path
 * without a GET, or whose GET is not a 200 (a 404: the write will say
 * so), ignores the condition (RFC 9110, 13.2.1).  The check and the
 * write are two transactions: a write between them is not seen (a
 * handler's own check inside its transaction is the atomic one).
 */
static int
precondition(struct req *r, const struct route *routes, size_t n,
    const struct route *write, const char *condition)
{
	const struct route	*get = NULL;
	struct buf		 body = { 0 };
	char			 tag[CACHE_ETAG_MAX];
	void			*qv = r->qv;
	struct idem		*idem = r->idem;	/* the probe is not the answer */
	uint64_t		 qset = r->qset;
	size_t			 i, hlen = r->headers.len;
	enum method		 m = r->method;
	int			 rc = 0;

	for (i = 0; i < n && get == NULL; i++)
		if (routes[i].method == METHOD_GET &&
		    route_fits(routes[i].pattern, r->path, r, 0))
			get = &routes[i];
	if (get == NULL)
		return 0;
	route_fits(get->pattern, r->path, r, 1);
	r->method = METHOD_GET;
	r->capture = &body;
	r->idem = NULL;
	r->qv = NULL;
	if (get->query != NULL) {
		r->qv = arena_alloc(&r->arena, get->query->size);
		memset(r->qv, 0, get->query->size);
	}
	if (get->query == NULL || valid_query(r, get->query->fields,
	    get->query->nfields, r->qv, &r->qset) == 0)
		get->handler(r);
	r->capture = NULL;
	r->idem = idem;
	r->method = m;
	r->qv = qv;
	r->qset = qset;
	r->headers.len = hlen;	/* what the GET added goes */
	if (r->headers.data != NULL)
		r->headers.data[hlen] = '\0';
	r->code = NULL;
	r->cache = NULL;
	route_fits(write->pattern, r->path, r, 1);
	if (r->status == 200) {
		cache_etag(body.data != NULL ? body.data : "", body.len, tag);
		if (!cache_etag_listed(condition, tag, 0)) {
			http_header(r, "ETag", "%s", tag);
			http_error(r, ERR_PRECONDITION_FAILED, "the resource has "
			    "changed: its ETag is now %s", tag);
			rc = -1;
		}
	}
	r->status = 0;
	buf_free(&body);
	return rc;
}

static void
dispatch(struct req *r, const struct route *routes, size_t n)
{
	const struct route	*rt = NULL;
	const char		*unauthorized = NULL, *condition;
	unsigned int		 allowed = 0, want;
	size_t			 i;
	int			 cookie = 0;
	char			 none;

	want = r->method == METHOD_HEAD ? METHOD_GET : r->method;
	for (i = 0; i < n; i++) {
		if (!route_fits(routes[i].pattern, r->path, r, 0))
			continue;
		allowed |= routes[i].method;
		if (routes[i].method == want && rt == NULL)
			rt = &routes[i];
	}
	if (allowed & METHOD_GET)
		allowed |= METHOD_HEAD;
	if (allowed != 0)
		allowed |= METHOD_OPTIONS;
	if (r->method == METHOD_OPTIONS && allowed != 0) {
		options(r, allowed);
		return;
	}
	cors_headers(r, NULL);
	/*
	 * A POST that does not say how long its body is: lighttpd refuses
	 * it before the program sees it (411), Apache passes it on.  The API
	 * answers as lighttpd does, whatever the path, so that both servers
	 * agree.  (A PUT or PATCH without a length has no body, RFC 9112
	 * 6.3: lighttpd passes it on with Content-Length 0, and so does the
	 * API take it.)
	 */
	if (r->method == METHOD_POST && !has_length(r)) {
		http_error(r, ERR_LENGTH_REQUIRED, "a POST needs a Content-Length "
		    "(0 for no body)");
		return;
	}
	if (rt == NULL) {
		if (allowed == 0) {
			http_error(r, ERR_NOT_FOUND, "no such route");
			return;
		}
		allow_header(r, allowed);
		http_error(r, ERR_METHOD_NOT_ALLOWED, "%s is not allowed here",
		    r->method_name);
		return;
	}
	route_fits(rt->pattern, r->path, r, 1);
	route_taken = (int)(rt - routes);
	if (!(rt->flags & ROUTE_PUBLIC))
		unauthorized = authenticate(r, &cookie);
	if (rl_check(r, rt->rl) == -1) {
		metrics_refused(rt->rl, r->status == 503);
		return;
	}
	if (unauthorized == auth_no_keys) {	/* not the token's fault */
		http_error(r, ERR_UNAVAILABLE, "%s", unauthorized);
		return;
	}
	if (unauthorized != NULL) {
		http_error(r, ERR_UNAUTHORIZED, "%s", unauthorized);
		return;
	}
	if (r->authed && csrf_refused(r, cookie)) {
		http_error(r, ERR_FORBIDDEN, "a request authenticated by the "
		    "cookie must come from this site or an allowed origin "
		    "(Origin)");
		return;
	}
	if ((rt->flags & ROUTE_ADMIN) && !r->auth.admin) {
		http_error(r, ERR_FORBIDDEN, "this changes the whole organisation: "
		    "it needs an admin role");
		return;
	}
	/* One rule for the query of every route: only what its table names. */
	if (rt->query != NULL) {
		r->qv = arena_alloc(&r->arena, rt->query->size);
		memset(r->qv, 0, rt->query->size);
		if (valid_query(r, rt->query->fields, rt->query->nfields, r->qv,
		    &r->qset) == -1)
			return;
	} else if (valid_query(r, NULL, 0, &none, &r->qset) == -1)
		return;
	if (rt->flags & ROUTE_JSON) {
		if (!is_json(req_header(r, "CONTENT_TYPE"))) {
			http_error(r, ERR_UNSUPPORTED_MEDIA, NULL);
			return;
		}
		if (req_read_body(r) == -1)
			return;
	} else if ((r->method & (METHOD_POST | METHOD_PUT | METHOD_PATCH)) &&
	    no_body(r) == -1)
		return;
	if (idem_begin(r) == -1)
		return;
	/* A replayed key answered above; a changed resource answers 412 (kept too). */
	if ((r->method & (METHOD_PUT | METHOD_PATCH | METHOD_DELETE)) &&
	    (condition = req_header(r, "HTTP_IF_MATCH")) != NULL &&
	    precondition(r, routes, n, rt, condition) == -1) {
		idem_end(r);
		return;
	}
	rt->handler(r);
	idem_end(r);
}

/*
 * Serve one FastCGI request with the endpoint's route table.  Whatever
 * the handler does, exactly one response is written and one access log
 * line follows; everything the request allocated is released.
 */
void
http_dispatch(struct app *app, FCGX_Request *f, const struct route *routes,
    size_t n)
{
	struct req	r;

	route_taken = -1;
	if (req_init(&r, app, f) == -1) {
		cors_headers(&r, NULL);
		http_error(&r, ERR_BAD_REQUEST, "the URL is not valid");
	} else
		dispatch(&r, routes, n);
	if (!r.responded) {
		LOG_ERR(&r, "handler wrote no response");
		http_error(&r, ERR_INTERNAL, NULL);
	}
	metrics_request(route_taken, r.status, now_ms() - r.t0);
	log_request(&r);
	req_free(&r);
}

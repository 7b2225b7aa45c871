/* reply.c: the API's success envelope and list pages, opened, closed, cached and sent in one place. */
#include <string.h>

#include "common.h"

/* {"success":true,"data": -- the writer then takes the data value. */
static void
reply_begin(struct reply *rp, struct req *r)
{
	memset(rp, 0, sizeof(*rp));
	rp->r = r;
	jw_init(&rp->w, &rp->body);
	jw_object(&rp->w, NULL);
	jw_bool(&rp->w, "success", 1);
	jw_key(&rp->w, "data");
}

/*
 * Send a 200: a GET's (and HEAD's) carries its ETag, and is a 304
 * without a body when the request's If-None-Match names that tag, so a
 * client asking again for a list or a resource pays for it only when
 * it changed.
 * Other statuses and methods are sent as they are.
 */
static void
reply_body(struct req *r, int status, const char *body, size_t len)
{
	char		 tag[CACHE_ETAG_MAX];
	const char	*inm;

	if (status == 200 && (r->method & (METHOD_GET | METHOD_HEAD))) {
		cache_etag(body, len, tag);
		http_header(r, "ETag", "%s", tag);
		if ((inm = req_header(r, "HTTP_IF_NONE_MATCH")) != NULL &&
		    cache_etag_listed(inm, tag, 1)) {
			http_send(r, 304, NULL, "", 0);
			return;
		}
	}
	http_json(r, status, body, len);
}

/* Open a reply that is not cached. */
void
reply_open(struct reply *rp, struct req *r)
{
	reply_begin(rp, r);
}

/*
 * Answer from the cache (cache_get_ex() of key in namespace ns) and
 * return 1, or open a reply whose body reply_send() will store there
 * and return 0.
 */
int
reply_cached(struct reply *rp, struct req *r, int ns, const char *key,
    unsigned int flags)
{
	struct buf	hit = { 0 };

	reply_begin(rp, r);
	if (cache_get_ex(r, ns, key, flags, &hit, &rp->lk) > CACHE_MISS) {
		reply_body(r, 200, hit.data, hit.len);
		buf_free(&hit);
		reply_free(rp);
		return 1;
	}
	rp->cached = 1;
	return 0;
}

/* The data is a list: its items follow, then reply_page(). */
void
reply_list(struct reply *rp)
{
	jw_array(&rp->w, NULL);
}

/*
 * End the list's items: "pagination" with the seed's page, limit,
 * total and hasMore.  The pagination object stays open for members of
 * the list's own.
 */
void
reply_page(struct reply *rp, long long page, long long limit, long long total)
{
	jw_end(&rp->w);
	jw_object(&rp->w, "pagination");
	jw_int(&rp->w, "page", page);
	jw_int(&rp->w, "limit", limit);
	jw_int(&rp->w, "total", total);
	jw_bool(&rp->w, "hasMore", page * limit < total);
}

/*
 * Close what is open, store the body in the cache when the reply came
 * from reply_cached(), send it with status, and free it.
 */
void
reply_send(struct reply *rp, int status)
{
	jw_close(&rp->w);
	if (rp->cached)
		cache_put(rp->r, &rp->lk, rp->body.data, rp->body.len);
	reply_body(rp->r, status, rp->body.data, rp->body.len);
	reply_free(rp);
}

/* Release a reply that was not sent (the handler answered an error); again is harmless. */
void
reply_free(struct reply *rp)
{
	buf_free(&rp->body);
	rp->cached = 0;
}

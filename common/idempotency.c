/* idempotency.c: Idempotency-Key on POST and PATCH, Stripe's semantics: the first response to a key is stored in PostgreSQL and replayed for 24 hours. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common.h"

/*
 * A key is scoped by tenant, user, method and path (the row's unique
 * key, under row-level security).  The dispatcher calls idem_begin()
 * once the request passed authentication and its body was read, and
 * idem_end() after the handler; response.c hands every response of a
 * claimed request to idem_head() and idem_body().  What is kept: the
 * status, the Content-Type, the headers the handler added (those queued
 * before it, CORS and rate limits, belong to each request), the body.
 * Not kept (the row is given up, so that a retry runs again): a 429 or
 * 5xx answer, or a body past IDEM_BODY_MAX.
 */
#define IDEM_KEY_MAX	255
#define IDEM_BODY_MAX	(1024 * 1024)
#define IDEM_LOCK_S	"300"	/* an unanswered claim is taken for dead after it */

struct idem {
	char		*id;		/* the claimed row */
	size_t		 hdr_off;	/* r->headers before the handler ran */
	int		 status;	/* 0: no response yet */
	char		*ctype;
	struct buf	 headers;
	struct buf	 body;
	int		 too_big;
};

enum stmt {
	STMT_ENSURE_TENANT,
	STMT_CLAIM,
	STMT_FIND,
	STMT_STORE,
	STMT_RELEASE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_ENSURE_TENANT] = "INSERT INTO tenants (kind) VALUES ($1)"
	    " ON CONFLICT (id) DO NOTHING",
	/* Claimed when new, expired, or left unanswered past locked_until. */
	[STMT_CLAIM] = "INSERT INTO idempotency_keys AS k (method, path, key,"
	    " fingerprint, locked_until, expires_at) VALUES ($1, $2, $3, $4,"
	    " now() + " IDEM_LOCK_S " * interval '1 second',"
	    " now() + interval '24 hours')"
	    " ON CONFLICT (tenant_id, user_id, method, path, key) DO UPDATE SET"
	    " fingerprint = excluded.fingerprint, status = NULL,"
	    " content_type = NULL, headers = NULL, body = NULL,"
	    " created_at = now(), locked_until = excluded.locked_until,"
	    " expires_at = excluded.expires_at"
	    " WHERE k.expires_at < now()"
	    " OR (k.status IS NULL AND k.locked_until < now())"
	    " RETURNING k.id",
	[STMT_FIND] = "SELECT k.fingerprint, k.status, k.content_type,"
	    " k.headers, k.body FROM idempotency_keys k"
	    " WHERE k.user_id = app_user() AND k.method = $1 AND k.path = $2"
	    " AND k.key = $3",
	[STMT_STORE] = "UPDATE idempotency_keys SET status = $2::int,"
	    " content_type = $3, headers = $4, body = $5 WHERE id = $1::bigint",
	[STMT_RELEASE] = "DELETE FROM idempotency_keys WHERE id = $1::bigint",
};

/* Predicate: key is 1 to IDEM_KEY_MAX printable ASCII characters. */
int
idem_key_valid(const char *key)
{
	size_t	n;

	for (n = 0; key[n] != '\0'; n++)
		if (key[n] < 0x20 || key[n] > 0x7e)
			return 0;
	return n >= 1 && n <= IDEM_KEY_MAX;
}

/*
 * What makes two requests with one key the same request: SHA-256 of
 * the query and the body, in hex (out: 65 bytes).  Method and path are
 * the row's scope.
 */
void
idem_fingerprint(const char *query, const char *body, size_t len, char *out)
{
	EVP_MD_CTX	*ctx;
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 dlen = 0, i;
	size_t		 qlen = query != NULL ? strlen(query) : 0;

	/* The query's length first: no query and body can pose as another. */
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &qlen, sizeof(qlen)) != 1 ||
	    EVP_DigestUpdate(ctx, query != NULL ? query : "", qlen) != 1 ||
	    EVP_DigestUpdate(ctx, body != NULL ? body : "",
	    body != NULL ? len : 0) != 1 ||
	    EVP_DigestFinal_ex(ctx, d, &dlen) != 1)
		oom();
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < dlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Answer r with the stored response of row res (STMT_FIND's). */
static void
replay(struct req *r, const PGresult *res)
{
	const char	*ctype = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);

	http_header(r, "Idempotent-Replayed", "true");
	if (!PQgetisnull(res, 0, 3))
		buf_puts(&r->headers, PQgetvalue(res, 0, 3));
	http_send(r, atoi(PQgetvalue(res, 0, 1)), ctype, PQgetvalue(res, 0, 4),
	    (size_t)PQgetlength(res, 0, 4));
}

/*
 * Before r's handler: when r is a POST or PATCH with an Idempotency-Key,
 * claim the key, or answer from what the key holds.  Returns 0 when
 * the handler is to run (no key, or the key claimed: r->idem set), or
 * -1 when r was answered: the stored response replayed
 * (Idempotent-Replayed: true), 409 while the first request is in
 * progress, 422 for a key used with another request, 400 for a key
 * that is not 1 to 255 printable characters, 503 without PostgreSQL.
 */
int
idem_begin(struct req *r)
{
	const char	*key = req_header(r, "HTTP_IDEMPOTENCY_KEY");
	const char	*method = r->method == METHOD_POST ? "POST" : "PATCH";
	const char	*kind[1], *claim[4];
	char		 fp[65];
	struct db_query	 qs[3];
	PGresult	*res[3];
	int		 rc = -1;

	if (key == NULL || !r->authed ||
	    (r->method != METHOD_POST && r->method != METHOD_PATCH))
		return 0;
	if (!idem_key_valid(key)) {
		http_error(r, ERR_BAD_REQUEST, "Idempotency-Key must be 1 to %d "
		    "printable ASCII characters", IDEM_KEY_MAX);
		return -1;
	}
	idem_fingerprint(req_header(r, "QUERY_STRING"), r->body, r->body_len, fp);
	kind[0] = r->auth.personal ? "personal" : "org";
	claim[0] = method;
	claim[1] = r->path;
	claim[2] = key;
	claim[3] = fp;
	qs[0] = (struct db_query){ stmts[STMT_ENSURE_TENANT], 1, kind };
	qs[1] = (struct db_query){ stmts[STMT_CLAIM], 4, claim };
	qs[2] = (struct db_query){ stmts[STMT_FIND], 3, claim };
	if (db_run(r, qs, 3, res) == -1)
		return -1;
	if (PQntuples(res[1]) == 1) {
		r->idem = arena_alloc(&r->arena, sizeof(*r->idem));
		memset(r->idem, 0, sizeof(*r->idem));
		r->idem->id = arena_strndup(&r->arena, PQgetvalue(res[1], 0, 0),
		    strlen(PQgetvalue(res[1], 0, 0)));
		r->idem->hdr_off = r->headers.len;
		rc = 0;
	} else if (PQntuples(res[2]) != 1) {
		/* Deleted between the two statements (prune): try again. */
		http_header(r, "Retry-After", "1");
		http_error(r, ERR_IDEM_IN_PROGRESS, "retry the request");
	} else if (strcmp(PQgetvalue(res[2], 0, 0), fp) != 0)
		http_error(r, ERR_IDEM_MISMATCH, NULL);
	else if (PQgetisnull(res[2], 0, 1)) {
		http_header(r, "Retry-After", "1");
		http_error(r, ERR_IDEM_IN_PROGRESS, NULL);
	} else
		replay(r, res[2]);
	db_clear(res, 3);
	return rc;
}

/* A claimed request's response starts: status, type, the handler's headers. */
void
idem_head(struct req *r, int status, const char *ctype)
{
	struct idem	*k = r->idem;

	k->status = status;
	k->ctype = ctype != NULL ? arena_strndup(&r->arena, ctype,
	    strlen(ctype)) : NULL;
	if (r->headers.len > k->hdr_off)
		buf_append(&k->headers, r->headers.data + k->hdr_off,
		    r->headers.len - k->hdr_off);
}

/* Bytes of a claimed request's response body, whole or streamed. */
void
idem_body(struct req *r, const char *p, size_t len)
{
	struct idem	*k = r->idem;

	if (k->too_big || k->body.len + len > IDEM_BODY_MAX) {
		k->too_big = 1;
		return;
	}
	buf_append(&k->body, p, len);
}

/*
 * After the handler of a claimed request: store its response in the
 * key's row, or give the row up when the response is not to be
 * replayed (none, 429, 5xx, too big), so that a retry runs again.  A
 * failure here is logged: the row then waits for locked_until.
 */
void
idem_end(struct req *r)
{
	struct idem	*k = r->idem;
	const char	*p[5];
	char		 status[16];
	struct db_query	 q;
	PGresult	*res;
	enum err	 e;

	if (k == NULL)
		return;
	r->idem = NULL;
	if (k->status == 0 || k->status == 429 || k->status >= 500 ||
	    k->too_big) {
		p[0] = k->id;
		q = (struct db_query){ stmts[STMT_RELEASE], 1, p };
	} else {
		snprintf(status, sizeof(status), "%d", k->status);
		buf_putc(&k->headers, '\0');	/* NUL-terminated, even empty */
		buf_putc(&k->body, '\0');
		p[0] = k->id;
		p[1] = status;
		p[2] = k->ctype;
		p[3] = k->headers.len > 1 ? k->headers.data : NULL;
		p[4] = k->body.data;
		q = (struct db_query){ stmts[STMT_STORE], 5, p };
	}
	if (db_batch(&r->app->db, r->auth.tenant_id, r->auth.user_id, &q, 1,
	    &res, &e, r) == 0)
		PQclear(res);
	else
		LOG_WARN(r, "idempotency: the response to key row %s not stored: "
		    "a retry waits %s s", k->id, IDEM_LOCK_S);
	buf_free(&k->headers);
	buf_free(&k->body);
}

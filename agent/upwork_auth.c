/* upwork_auth.c: Upwork OAuth2: signed single-use states, the code exchange, the sealed token pair per tenant, and refresh under a row lock. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent.h"

#define TOKEN_MAX	2048

enum stmt {
	STMT_STORE,
	STMT_READ,
	STMT_LOCK_TIMEOUT,
	STMT_LOCK,
	STMT_ROTATE,
	STMT_DISCONNECT,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_STORE] = "INSERT INTO upwork_accounts AS a (connected_by,"
	    " upwork_org_id, access_token, refresh_token, access_expires_at)"
	    " VALUES ($1, $2, $3, $4, now() + $5::bigint * interval '1 second')"
	    " ON CONFLICT (tenant_id) DO UPDATE SET status = 'connected',"
	    " connected_by = EXCLUDED.connected_by,"
	    " upwork_org_id = EXCLUDED.upwork_org_id,"
	    " access_token = EXCLUDED.access_token,"
	    " refresh_token = EXCLUDED.refresh_token,"
	    " access_expires_at = EXCLUDED.access_expires_at,"
	    " token_generation = a.token_generation + 1, refreshed_at = NULL,"
	    " disconnected_reason = NULL, connected_at = now(), updated_at = now()"
	    " RETURNING access_expires_at",
	[STMT_READ] = "SELECT status, access_token, coalesce(upwork_org_id, ''),"
	    " access_expires_at > now() + $1::int * interval '1 second',"
	    " token_generation, coalesce(disconnected_reason, '')"
	    " FROM upwork_accounts",
	[STMT_LOCK_TIMEOUT] = "SELECT set_config('statement_timeout', $1, true)",
	[STMT_LOCK] = "SELECT status, access_token, refresh_token,"
	    " coalesce(upwork_org_id, ''),"
	    " access_expires_at > now() + $1::int * interval '1 second',"
	    " access_expires_at > now(), token_generation,"
	    " coalesce(disconnected_reason, '')"
	    " FROM upwork_accounts FOR UPDATE",
	[STMT_ROTATE] = "UPDATE upwork_accounts SET access_token = $1,"
	    " refresh_token = $2,"
	    " access_expires_at = now() + $3::bigint * interval '1 second',"
	    " token_generation = token_generation + 1, refreshed_at = now(),"
	    " updated_at = now()",
	[STMT_DISCONNECT] = "UPDATE upwork_accounts SET status = 'disconnected',"
	    " access_token = NULL, refresh_token = NULL, access_expires_at = NULL,"
	    " disconnected_reason = $1, updated_at = now()",
};

/* --- states --------------------------------------------------------------- */

/*
 * The state a user carries to Upwork and back: base64url(JSON payload),
 * a dot, and base64url(HMAC-SHA256 of the first part).  Returns a
 * malloc'd string.
 */
char *
upwork_state_sign(const struct crypto_keys *k, const struct upwork_state *s)
{
	struct buf	 b = { 0 };
	unsigned char	 mac[32];
	char		*payload, *sig, *out;

	buf_puts(&b, "{\"t\":");
	buf_json_string(&b, s->tenant, strlen(s->tenant));
	buf_puts(&b, ",\"u\":");
	buf_json_string(&b, s->user, strlen(s->user));
	buf_printf(&b, ",\"n\":\"%s\",\"e\":%lld}", s->nonce, s->expires);
	payload = base64url_encode((unsigned char *)b.data, b.len);
	crypto_sign(k, payload, strlen(payload), mac);
	sig = base64url_encode(mac, sizeof(mac));
	buf_reset(&b);
	buf_printf(&b, "%s.%s", payload, sig);
	out = xstrdup(b.data);
	free(payload);
	free(sig);
	buf_free(&b);
	return out;
}

static int
hex32(const char *s)
{
	size_t	i;

	for (i = 0; i < 32; i++)
		if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
			return 0;
	return s[32] == '\0';
}

/*
 * Check a state: the signature, the form of each field, the expiry.
 * Returns 0 with s filled, or -1 (forged, altered, expired, garbage).
 * Single use is the caller's part: it consumes the nonce's row.
 */
int
upwork_state_verify(const struct crypto_keys *k, const char *state, time_t now,
    struct upwork_state *s)
{
	const char	*dot, *why;
	unsigned char	 mac[32], *sig = NULL, *payload = NULL;
	size_t		 siglen = 0, plen = 0;
	json_object	*o = NULL, *t, *u, *n, *e;
	int		 rc = -1;

	memset(s, 0, sizeof(*s));
	if (!k->loaded || strlen(state) > UPWORK_STATE_MAX ||
	    (dot = strchr(state, '.')) == NULL)
		return -1;
	crypto_sign(k, state, (size_t)(dot - state), mac);
	if (base64url_decode(dot + 1, strlen(dot + 1), &sig, &siglen) == -1 ||
	    siglen != sizeof(mac) || !crypto_equal(sig, mac, sizeof(mac)))
		goto out;
	if (base64url_decode(state, (size_t)(dot - state), &payload, &plen) == -1 ||
	    (o = json_parse_strict((char *)payload, plen, 3, &why)) == NULL)
		goto out;
	if (!json_object_object_get_ex(o, "t", &t) ||
	    !json_object_object_get_ex(o, "u", &u) ||
	    !json_object_object_get_ex(o, "n", &n) ||
	    !json_object_object_get_ex(o, "e", &e) ||
	    !json_object_is_type(t, json_type_string) ||
	    !json_object_is_type(u, json_type_string) ||
	    !json_object_is_type(n, json_type_string) ||
	    !json_object_is_type(e, json_type_int))
		goto out;
	if (json_object_get_string_len(t) >= (int)sizeof(s->tenant) ||
	    !ident_valid(json_object_get_string(u), strlen(json_object_get_string(u))) ||
	    !hex32(json_object_get_string(n)))
		goto out;
	snprintf(s->tenant, sizeof(s->tenant), "%s", json_object_get_string(t));
	snprintf(s->user, sizeof(s->user), "%s", json_object_get_string(u));
	snprintf(s->nonce, sizeof(s->nonce), "%s", json_object_get_string(n));
	s->expires = json_object_get_int64(e);
	if (*s->tenant == '\0' || s->expires <= (long long)now)
		goto out;
	rc = 0;
out:
	json_object_put(o);
	free(sig);
	free(payload);
	if (rc == -1)
		memset(s, 0, sizeof(*s));
	return rc;
}

static void
url_param(struct buf *b, const char *key, const char *val)
{
	char	*enc = curl_easy_escape(NULL, val, 0);

	if (enc == NULL)
		oom();
	buf_printf(b, "%c%s=%s", strchr(b->data, '?') ? '&' : '?', key, enc);
	curl_free(enc);
}

/* Upwork's consent page for this API key, redirect URL and state, into url. */
void
upwork_authorize_url(struct buf *url, const char *state)
{
	buf_puts(url, agent_cfg.upwork_authorize_url);
	url_param(url, "response_type", "code");
	url_param(url, "client_id", agent_cfg.upwork_client_id);
	url_param(url, "redirect_uri", agent_cfg.upwork_redirect_uri);
	url_param(url, "state", state);
}

/* --- the token endpoint --------------------------------------------------- */

/* Predicate: a token as OAuth2 allows it (RFC 6749 A.12): printable ASCII, no space. */
static int
token_valid(const char *t)
{
	size_t	n = strlen(t), i;

	if (n == 0 || n > TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return 0;
	return 1;
}

/*
 * The token endpoint's answer: on 200 the pair and its lifetime; on 400
 * or 401 with "invalid_grant" UPW_INVALID_GRANT (the code or the refresh
 * token is dead); anything else is an error of Upwork's.
 */
int
upwork_parse_tokens(const char *body, size_t len, long status,
    struct upwork_tokens *t, struct upwork_err *e)
{
	json_object	*o, *v;
	const char	*why, *err = NULL, *desc = NULL, *type;
	int		 rc = -1;

	memset(t, 0, sizeof(*t));
	o = json_parse_strict(body, len, 4, &why);
	if (o != NULL && json_object_is_type(o, json_type_object)) {
		if (json_object_object_get_ex(o, "error", &v))
			err = json_object_get_string(v);
		if (json_object_object_get_ex(o, "error_description", &v))
			desc = json_object_get_string(v);
	}
	if (status != 200) {
		if ((status == 400 || status == 401) && err != NULL &&
		    strcmp(err, "invalid_grant") == 0)
			upwork_fail(e, UPW_INVALID_GRANT, (int)status, "Upwork "
			    "refused the grant: %.150s", desc ? desc : err);
		else
			upwork_fail(e, UPW_HTTP, (int)status, "Upwork's token "
			    "endpoint answered HTTP %ld%s%.100s", status,
			    err ? ": " : "", err ? err : "");
		goto out;
	}
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		upwork_fail(e, UPW_MALFORMED, 200, "malformed token response: %s",
		    o == NULL ? why : "not an object");
		goto out;
	}
	if (!json_object_object_get_ex(o, "access_token", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !token_valid(json_object_get_string(v))) {
		upwork_fail(e, UPW_MALFORMED, 200, "malformed token response: "
		    "access_token");
		goto out;
	}
	snprintf(t->access, sizeof(t->access), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(o, "refresh_token", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !token_valid(json_object_get_string(v))) {
		upwork_fail(e, UPW_MALFORMED, 200, "malformed token response: "
		    "refresh_token");
		goto out;
	}
	snprintf(t->refresh, sizeof(t->refresh), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(o, "expires_in", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 1 || json_object_get_int64(v) > 100000000) {
		upwork_fail(e, UPW_MALFORMED, 200, "malformed token response: "
		    "expires_in");
		goto out;
	}
	t->expires_in = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "token_type", &v) &&
	    ((type = json_object_get_string(v)) == NULL ||
	    strcasecmp(type, "bearer") != 0)) {
		upwork_fail(e, UPW_MALFORMED, 200, "malformed token response: "
		    "token_type is not Bearer");
		goto out;
	}
	rc = 0;
out:
	json_object_put(o);
	if (rc == -1)
		explicit_bzero(t, sizeof(*t));
	return rc;
}

/* Append &key=value, the value form-encoded. */
static void
form_add(struct buf *b, const char *key, const char *val)
{
	char	*enc = curl_easy_escape(NULL, val, 0);

	if (enc == NULL)
		oom();
	buf_printf(b, "%s%s=%s", b->len ? "&" : "", key, enc);
	explicit_bzero(enc, strlen(enc));
	curl_free(enc);
}

/*
 * POST a grant to the token endpoint with the client's credentials (in
 * the form, as Upwork's libraries send them).  grant is "code" or
 * "refresh_token" and value its secret.
 */
static int
token_call(struct upwork *up, const char *grant, const char *value,
    struct upwork_tokens *t, struct upwork_err *e)
{
	struct buf	 form = { 0 }, resp = { 0 };
	char		*secret;
	size_t		 len;
	long		 status;
	int		 rc = -1;

	if ((secret = read_file(agent_cfg.upwork_client_secret_file, 4096, &len)) == NULL) {
		upwork_fail(e, UPW_CONFIG, 0, "Upwork is not configured: "
		    "upwork_client_secret_file: %s", strerror(errno));
		LOG_ERR(NULL, "upwork: %s", e->msg);
		return -1;
	}
	while (len > 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
		secret[--len] = '\0';
	if (strcmp(grant, "code") == 0) {
		form_add(&form, "grant_type", "authorization_code");
		form_add(&form, "code", value);
		form_add(&form, "redirect_uri", agent_cfg.upwork_redirect_uri);
	} else {
		form_add(&form, "grant_type", "refresh_token");
		form_add(&form, "refresh_token", value);
	}
	form_add(&form, "client_id", agent_cfg.upwork_client_id);
	form_add(&form, "client_secret", secret);
	crypto_free_secret(secret);
	if (upwork_http(up, agent_cfg.upwork_token_url,
	    "application/x-www-form-urlencoded", form.data, NULL, &resp, &status,
	    e) == 0) {
		rc = upwork_parse_tokens(resp.data, resp.len, status, t, e);
		if (rc == -1)
			LOG_WARN(NULL, "upwork: token endpoint (%s): %s", grant, e->msg);
	}
	explicit_bzero(form.data, form.len);
	buf_free(&form);
	if (resp.data != NULL)
		explicit_bzero(resp.data, resp.len);
	buf_free(&resp);
	return rc;
}

/* Exchange an authorization code for the tenant's first pair. */
int
upwork_exchange_code(struct upwork *up, const char *code, struct upwork_tokens *t,
    struct upwork_err *e)
{
	return token_call(up, "code", code, t, e);
}

/* --- the pair in the database --------------------------------------------- */

static char *
seal(struct upwork *up, const char *tenant, const char *column, const char *v)
{
	char	aad[200];

	snprintf(aad, sizeof(aad), "upwork_accounts|%s|%s", tenant, column);
	return crypto_seal(&up->keys, aad, v);
}

static char *
unseal(struct upwork *up, const char *tenant, const char *column, const char *v)
{
	char	aad[200];

	snprintf(aad, sizeof(aad), "upwork_accounts|%s|%s", tenant, column);
	return v != NULL ? crypto_open(&up->keys, aad, v) : NULL;
}

/*
 * Store a tenant's first pair (connection, or a new authorization),
 * sealed; user is who connected, org the X-Upwork-API-TenantId or NULL.
 */
int
upwork_account_store(struct upwork *up, struct db *db, const char *tenant,
    const char *user, const char *org, const struct upwork_tokens *t,
    struct upwork_err *e)
{
	const char	*params[5];
	struct db_query	 q = { stmts[STMT_STORE], 5, params };
	PGresult	*res;
	char		*access, *refresh, life[24];
	int		 rc = -1;

	access = seal(up, tenant, "access_token", t->access);
	refresh = seal(up, tenant, "refresh_token", t->refresh);
	if (access == NULL || refresh == NULL) {
		upwork_fail(e, UPW_CONFIG, 0, "tokens cannot be sealed "
		    "(upwork_token_key_file)");
		goto out;
	}
	snprintf(life, sizeof(life), "%lld", t->expires_in);
	params[0] = user;
	params[1] = org;
	params[2] = access;
	params[3] = refresh;
	params[4] = life;
	if (db_run_as(db, tenant, user, &q, 1, &res, NULL) == -1) {
		upwork_fail(e, UPW_DATABASE, 0, "the tokens could not be stored");
		goto out;
	}
	PQclear(res);
	rc = 0;
out:
	free(access);
	free(refresh);
	return rc;
}

static void
auth_set(struct upwork_auth *a, const char *access, const char *org)
{
	snprintf(a->access, sizeof(a->access), "%s", access);
	snprintf(a->org, sizeof(a->org), "%s", org);
}

/*
 * The refresh, inside the transaction that holds the account's row:
 * call Upwork, store the new pair, commit, and only then hand out the
 * new access token.  Returns 0 with a set, or -1 with e set and the
 * transaction ended.
 */
static int
refresh_locked(struct upwork *up, struct db *db, const char *tenant,
    const PGresult *row, struct upwork_auth *a, struct upwork_err *e)
{
	struct upwork_tokens	 t;
	struct db_query		 q;
	const char		*params[3];
	PGresult		*res;
	char			*old_refresh, *old_access = NULL, life[24];
	char			*access = NULL, *refresh = NULL;
	enum err		 dbe;
	int			 rc = -1, still_valid = *PQgetvalue(row, 0, 5) == 't';

	if ((old_refresh = unseal(up, tenant, "refresh_token",
	    db_value(row, 0, 2))) == NULL) {
		db_tx_rollback(db, NULL);
		upwork_fail(e, UPW_CONFIG, 0, "the stored refresh token cannot "
		    "be opened (was upwork_token_key_file changed?)");
		LOG_ERR(NULL, "upwork: tenant %s: %s", tenant, e->msg);
		return -1;
	}
	if (token_call(up, "refresh_token", old_refresh, &t, e) == -1) {
		crypto_free_secret(old_refresh);
		if (e->fail != UPW_INVALID_GRANT) {
			db_tx_rollback(db, NULL);
			/* Upwork is down, not the grant: the old token may do. */
			if (still_valid && (old_access = unseal(up, tenant,
			    "access_token", db_value(row, 0, 1))) != NULL) {
				LOG_WARN(NULL, "upwork: tenant %s: refresh failed "
				    "(%s); the current access token is still valid",
				    tenant, e->msg);
				auth_set(a, old_access, PQgetvalue(row, 0, 3));
				crypto_free_secret(old_access);
				return 0;
			}
			return -1;
		}
		params[0] = "Upwork refused to refresh the authorization "
		    "(revoked or expired); connect again";
		q = (struct db_query){ stmts[STMT_DISCONNECT], 1, params };
		if ((res = db_tx_exec(db, &q, &dbe, NULL)) != NULL) {
			PQclear(res);
			(void)db_tx_commit(db, &dbe, NULL);
		}
		LOG_WARN(NULL, "upwork: tenant %s: %s; marked disconnected",
		    tenant, e->msg);
		upwork_fail(e, UPW_NOT_CONNECTED, e->http_status, "%s",
		    params[0]);
		return -1;
	}
	crypto_free_secret(old_refresh);
	access = seal(up, tenant, "access_token", t.access);
	refresh = seal(up, tenant, "refresh_token", t.refresh);
	snprintf(life, sizeof(life), "%lld", t.expires_in);
	params[0] = access;
	params[1] = refresh;
	params[2] = life;
	q = (struct db_query){ stmts[STMT_ROTATE], 3, params };
	if (access == NULL || refresh == NULL ||
	    (res = db_tx_exec(db, &q, &dbe, NULL)) == NULL) {
		db_tx_rollback(db, NULL);
		goto lost;
	}
	PQclear(res);
	if (db_tx_commit(db, &dbe, NULL) == -1)
		goto lost;
	auth_set(a, t.access, PQgetvalue(row, 0, 3));
	LOG_INFO(NULL, "upwork: tenant %s: token pair refreshed", tenant);
	rc = 0;
	goto out;
lost:
	/*
	 * Upwork rotated the pair but it is not stored.  The old refresh
	 * token stays usable for a while on Upwork's side, so the next
	 * attempt can still recover; the new access token is not used.
	 */
	upwork_fail(e, UPW_DATABASE, 0, "the refreshed tokens could not be stored");
	LOG_ERR(NULL, "upwork: tenant %s: %s", tenant, e->msg);
out:
	explicit_bzero(&t, sizeof(t));
	free(access);
	free(refresh);
	return rc;
}

/*
 * The tenant's access token, refreshed first when it expires within
 * upwork_refresh_skew seconds or when force is set (Upwork just refused
 * it).  The refresh holds the account's row (SELECT ... FOR UPDATE) in
 * a transaction of its own: a second process that wants to refresh at
 * the same time waits, then finds the new pair and uses it.  Returns 0
 * with a filled (its access is a secret: do not log it), or -1 with e:
 * UPW_NOT_CONNECTED when there is no connection (any more).
 */
int
upwork_token(struct upwork *up, struct db *db, const char *tenant, int force,
    struct upwork_auth *a, struct upwork_err *e)
{
	const char	*p[1];
	struct db_query	 q;
	PGresult	*res;
	char		 skew[16], timeout[24], generation[24], *access;
	enum err	 dbe;

	memset(a, 0, sizeof(*a));
	if (!up->keys.loaded) {
		upwork_fail(e, UPW_CONFIG, 0, "Upwork is not configured "
		    "(upwork_token_key_file)");
		return -1;
	}
	snprintf(skew, sizeof(skew), "%d", agent_cfg.upwork_refresh_skew);
	p[0] = skew;
	q = (struct db_query){ stmts[STMT_READ], 1, p };
	if (db_run_as(db, tenant, NULL, &q, 1, &res, NULL) == -1) {
		upwork_fail(e, UPW_DATABASE, 0, "the database is unavailable");
		return -1;
	}
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "connected") != 0) {
		upwork_fail(e, UPW_NOT_CONNECTED, 0, "%s", PQntuples(res) == 0 ?
		    "no Upwork account is connected; connect one first" :
		    PQgetvalue(res, 0, 5));
		PQclear(res);
		return -1;
	}
	snprintf(generation, sizeof(generation), "%s", PQgetvalue(res, 0, 4));
	if (!force && *PQgetvalue(res, 0, 3) == 't' &&
	    (access = unseal(up, tenant, "access_token", PQgetvalue(res, 0, 1))) != NULL) {
		auth_set(a, access, PQgetvalue(res, 0, 2));
		crypto_free_secret(access);
		PQclear(res);
		return 0;
	}
	PQclear(res);

	/* Wait for another refresher as long as its call to Upwork can take. */
	snprintf(timeout, sizeof(timeout), "%d",
	    agent_cfg.upwork_timeout_ms * (agent_cfg.upwork_retries + 1) + 5000);
	db_tx_begin(db, tenant, NULL);
	p[0] = timeout;
	q = (struct db_query){ stmts[STMT_LOCK_TIMEOUT], 1, p };
	if ((res = db_tx_exec(db, &q, &dbe, NULL)) == NULL)
		goto dbfail;
	PQclear(res);
	p[0] = skew;
	q = (struct db_query){ stmts[STMT_LOCK], 1, p };
	if ((res = db_tx_exec(db, &q, &dbe, NULL)) == NULL)
		goto dbfail;
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "connected") != 0) {
		upwork_fail(e, UPW_NOT_CONNECTED, 0, "%s", PQntuples(res) == 0 ?
		    "no Upwork account is connected; connect one first" :
		    PQgetvalue(res, 0, 7));
		PQclear(res);
		db_tx_rollback(db, NULL);
		return -1;
	}
	/*
	 * Someone stored a new pair since we looked (a refresh while we
	 * waited for the row): theirs is the pair to use while it lasts.
	 */
	if (strcmp(PQgetvalue(res, 0, 6), generation) != 0 &&
	    *PQgetvalue(res, 0, 5) == 't' &&
	    (access = unseal(up, tenant, "access_token", PQgetvalue(res, 0, 1))) != NULL) {
		auth_set(a, access, PQgetvalue(res, 0, 3));
		crypto_free_secret(access);
		PQclear(res);
		db_tx_rollback(db, NULL);
		return 0;
	}
	if (refresh_locked(up, db, tenant, res, a, e) == -1) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
dbfail:
	upwork_fail(e, UPW_DATABASE, 0, "the database is unavailable");
	if (dbe != ERR_UNAVAILABLE)
		e->err = ERR_INTERNAL;
	return -1;
}

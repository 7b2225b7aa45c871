/* upwork.c: a tenant's Upwork connection: GET /api/upwork/connect and /callback (OAuth2), GET /api/upwork/status, DELETE /api/upwork/connection, POST /api/upwork/poll. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

struct connect_q {
	char	*organization;
};

static const struct field connect_fields[] = {
	{ FIELD("organization", FT_STRING, struct connect_q, organization),
	    .min = 1, .max = 64 },
};
static const struct field_obj connect_query = {
	.fields = connect_fields, .nfields = nitems(connect_fields),
	.size = sizeof(struct connect_q)
};

/*
 * Upwork's redirect back (RFC 6749, 4.1.2): code and state, or error
 * with its optional description and URI.  The handler checks the values.
 */
struct callback_q {
	char	*code;
	char	*state;
	char	*error;
	char	*error_description;
	char	*error_uri;
};
static const struct field callback_fields[] = {
	{ FIELD("code", FT_STRING, struct callback_q, code), .max = 4096 },
	{ FIELD("state", FT_STRING, struct callback_q, state), .max = 4096 },
	{ FIELD("error", FT_STRING, struct callback_q, error), .max = 4096 },
	{ FIELD("error_description", FT_STRING, struct callback_q,
	    error_description), .max = 4096 },
	{ FIELD("error_uri", FT_STRING, struct callback_q, error_uri),
	    .max = 4096 },
};
static const struct field_obj callback_query = {
	.fields = callback_fields, .nfields = nitems(callback_fields),
	.size = sizeof(struct callback_q)
};

enum stmt {
	STMT_ENSURE_TENANT,
	STMT_ENSURE_USER,
	STMT_STATE_NEW,
	STMT_STATE_TAKE,
	STMT_STATUS,
	STMT_DELETE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_ENSURE_TENANT] = "INSERT INTO tenants (kind) VALUES ($1)"
	    " ON CONFLICT (id) DO NOTHING",
	[STMT_ENSURE_USER] = "INSERT INTO users DEFAULT VALUES"
	    " ON CONFLICT (tenant_id, id) DO NOTHING",
	[STMT_STATE_NEW] = "INSERT INTO upwork_oauth_states (nonce, upwork_org_id,"
	    " expires_at) VALUES ($1, $2, now() + $3::int * interval '1 second')"
	    " RETURNING expires_at",
	[STMT_STATE_TAKE] = "DELETE FROM upwork_oauth_states WHERE nonce = $1"
	    " AND user_id = app_user() AND expires_at > now()"
	    " RETURNING upwork_org_id",
	[STMT_STATUS] = "SELECT status, upwork_org_id, access_expires_at,"
	    " connected_at, refreshed_at, disconnected_reason, connected_by"
	    " FROM upwork_accounts",
	[STMT_DELETE] = "DELETE FROM upwork_accounts RETURNING tenant_id",
};

static struct upwork	up;

/* Predicate: this server has what the OAuth flow needs. */
static int
configured(struct req *r)
{
	if (*agent_cfg.upwork_client_id != '\0' && *agent_cfg.upwork_redirect_uri != '\0' &&
	    up.keys.loaded)
		return 1;
	http_error(r, ERR_UNAVAILABLE, "Upwork is not configured on this server");
	return 0;
}

/*
 * Start an authorization: a single-use state (its nonce stored for the
 * tenant, the whole signed) and the URL of Upwork's consent page.
 */
static void
upwork_connect(struct req *r)
{
	const struct connect_q	*q = r->qv;
	struct upwork_state	 st;
	const char		*kind[1], *params[3];
	struct db_query		 qs[3];
	PGresult		*res[3];
	struct buf		 url = { 0 };
	struct reply		 rp;
	char			 ttl[16], *state;

	if (q->organization != NULL && !upwork_id_valid(q->organization)) {
		valid_fail_field(r, "organization", "must be an Upwork organization id");
		return;
	}
	if (!configured(r))
		return;
	memset(&st, 0, sizeof(st));
	snprintf(st.tenant, sizeof(st.tenant), "%s", r->auth.tenant_id);
	snprintf(st.user, sizeof(st.user), "%s", r->auth.user_id);
	random_hex(st.nonce, sizeof(st.nonce));
	st.expires = (long long)time(NULL) + agent_cfg.upwork_state_ttl;
	snprintf(ttl, sizeof(ttl), "%d", agent_cfg.upwork_state_ttl);
	kind[0] = r->auth.personal ? "personal" : "org";
	params[0] = st.nonce;
	params[1] = q->organization;
	params[2] = ttl;
	qs[0] = (struct db_query){ stmts[STMT_ENSURE_TENANT], 1, kind };
	qs[1] = (struct db_query){ stmts[STMT_ENSURE_USER], 0, NULL };
	qs[2] = (struct db_query){ stmts[STMT_STATE_NEW], 3, params };
	if (db_run(r, qs, 3, res) == -1)
		return;
	state = upwork_state_sign(&up.keys, &st);
	upwork_authorize_url(&url, state);
	reply_open(&rp, r);
	jw_object(&rp.w, NULL);
	jw_stringn(&rp.w, "authorizeUrl", url.data, url.len);
	jw_string(&rp.w, "state", state);
	shape_time(&rp.w, "expiresAt", PQgetvalue(res[2], 0, 0));
	reply_send(&rp, 200);
	free(state);
	buf_free(&url);
	db_clear(res, 3);
}

/* Predicate: printable ASCII without spaces, 1..max bytes. */
static int
param_valid(const char *s, size_t max)
{
	size_t	n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	return 1;
}

/*
 * Where Upwork sends the user's browser back.  The code proves consent;
 * the signed state says which authorization this is; and the request
 * must come from the very user who started it (the __session cookie
 * travels with this top-level redirect), or an attacker could send a
 * victim his own authorize URL and collect the victim's Upwork tokens
 * in his tenant (RFC 6749, section 10.12).
 */
static void
upwork_callback(struct req *r)
{
	const struct callback_q	*cq = r->qv;
	const char		*code = cq->code, *state = cq->state;
	const char		*denied = cq->error, *params[1];
	struct upwork_state	 st;
	struct upwork_tokens	 t;
	struct upwork_err	 e;
	struct db_query		 q = { stmts[STMT_STATE_TAKE], 1, params };
	PGresult		*res;
	struct reply		 rp;
	char			 org[65];

	if (!configured(r))
		return;
	up.deadline = now_ms() + agent_cfg.upwork_request_budget_ms;
	if (!param_valid(state, UPWORK_STATE_MAX) ||
	    upwork_state_verify(&up.keys, state, time(NULL), &st) == -1) {
		http_error(r, ERR_BAD_REQUEST, "the state is invalid or expired; "
		    "start again with GET /api/upwork/connect");
		return;
	}
	if (strcmp(st.tenant, r->auth.tenant_id) != 0 ||
	    strcmp(st.user, r->auth.user_id) != 0) {
		LOG_WARN(r, "upwork: callback for %s/%s presented by %s/%s",
		    st.tenant, st.user, r->auth.tenant_id, r->auth.user_id);
		http_error(r, ERR_BAD_REQUEST, "this authorization was started by "
		    "another user; start again with GET /api/upwork/connect");
		return;
	}
	params[0] = st.nonce;
	if (db_run_as(&r->app->db, st.tenant, st.user, &q, 1, &res, r) == -1) {
		http_error(r, ERR_UNAVAILABLE, "the database is unavailable");
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		http_error(r, ERR_BAD_REQUEST, "this authorization was already "
		    "used or has expired; start again with GET /api/upwork/connect");
		return;
	}
	snprintf(org, sizeof(org), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (denied != NULL) {
		http_error(r, ERR_BAD_REQUEST, "the authorization was not granted "
		    "on Upwork (%.100s)", param_valid(denied, 100) ? denied : "error");
		return;
	}
	if (!param_valid(code, 2048)) {
		valid_fail_field(r, "code", "must be the code Upwork sent");
		return;
	}
	if (upwork_exchange_code(&up, code, &t, &e) == -1) {
		if (e.fail == UPW_INVALID_GRANT)
			http_error(r, ERR_BAD_REQUEST, "Upwork refused the "
			    "authorization code; start again");
		else
			http_error(r, e.err, "%s", e.msg);
		return;
	}
	if (upwork_account_store(&up, &r->app->db, st.tenant, st.user,
	    *org ? org : NULL, &t, &e) == -1) {
		explicit_bzero(&t, sizeof(t));
		http_error(r, e.err, "%s", e.msg);
		return;
	}
	LOG_INFO(r, "upwork: tenant %s connected by %s", st.tenant, st.user);
	reply_open(&rp, r);
	jw_object(&rp.w, NULL);
	jw_bool(&rp.w, "connected", 1);
	jw_string(&rp.w, "tenant", st.tenant);
	jw_int(&rp.w, "expiresIn", t.expires_in);
	explicit_bzero(&t, sizeof(t));
	reply_send(&rp, 200);
}

/* What is known of the connection; never a token. */
static void
upwork_status(struct req *r)
{
	struct db_query	 q = { stmts[STMT_STATUS], 0, NULL };
	PGresult	*res;
	struct reply	 rp;
	const char	*v;

	if (db_run(r, &q, 1, &res) == -1)
		return;
	reply_open(&rp, r);
	jw_object(&rp.w, NULL);
	if (PQntuples(res) == 0) {
		jw_bool(&rp.w, "connected", 0);
		jw_string(&rp.w, "status", "none");
	} else {
		v = PQgetvalue(res, 0, 0);
		jw_bool(&rp.w, "connected", strcmp(v, "connected") == 0);
		jw_string(&rp.w, "status", v);
		jw_string(&rp.w, "organization", db_value(res, 0, 1));
		shape_time(&rp.w, "accessExpiresAt", db_value(res, 0, 2));
		shape_time(&rp.w, "connectedAt", db_value(res, 0, 3));
		shape_time(&rp.w, "refreshedAt", db_value(res, 0, 4));
		jw_string(&rp.w, "reason", db_value(res, 0, 5));
		jw_string(&rp.w, "connectedBy", PQgetvalue(res, 0, 6));
	}
	reply_send(&rp, 200);
	PQclear(res);
}

static void
upwork_disconnect(struct req *r)
{
	struct db_query	 q = { stmts[STMT_DELETE], 0, NULL };
	PGresult	*res;
	struct reply	 rp;

	if (db_run(r, &q, 1, &res) == -1)
		return;
	if (PQntuples(res) == 0)
		http_error(r, ERR_NOT_FOUND, "no Upwork account is connected");
	else {
		reply_open(&rp, r);
		jw_object(&rp.w, NULL);
		jw_bool(&rp.w, "disconnected", 1);
		reply_send(&rp, 200);
	}
	PQclear(res);
}

/* Run the tenant's saved searches now, as poll-jobs does, within upwork_request_budget_ms. */
static void
upwork_poll(struct req *r)
{
	struct poll_stats	 st = { 0 };
	struct upwork_err	 e;
	struct reply		 rp;
	long long		 wait;

	/* The shared Upwork key is every tenant's: one poll a tenant a while. */
	if ((wait = upwork_poll_cooldown(&r->app->redis, r->auth.tenant_id,
	    agent_cfg.upwork_poll_cooldown_s)) > 0) {
		http_header(r, "Retry-After", "%lld", wait);
		http_error(r, ERR_RATE_LIMITED, "this tenant was polled less than "
		    "%d seconds ago; the poller runs on its own every few minutes",
		    agent_cfg.upwork_poll_cooldown_s);
		return;
	}
	up.deadline = now_ms() + agent_cfg.upwork_request_budget_ms;
	if (poll_tenant(&up, &r->app->db, &r->app->redis, r->auth.tenant_id, 0,
	    &st, &e) == -1) {
		if (e.retry_after_ms > 0)
			http_header(r, "Retry-After", "%lld",
			    (e.retry_after_ms + 999) / 1000);
		http_error(r, e.err, "%s", e.msg);
		return;
	}
	reply_open(&rp, r);
	jw_object(&rp.w, NULL);
	jw_int(&rp.w, "searches", st.searches);
	jw_int(&rp.w, "pages", st.pages);
	jw_int(&rp.w, "fetched", st.fetched);
	jw_int(&rp.w, "new", st.inserted);
	jw_int(&rp.w, "updated", st.updated);
	jw_int(&rp.w, "announced", st.published);
	reply_send(&rp, 200);
}

static const struct route routes[] = {
	/* Connecting and disconnecting change the whole tenant: admins only. */
	{ "/api/upwork/connect", METHOD_GET, upwork_connect, ROUTE_ADMIN,
	    RL_DEFAULT, &connect_query },
	{ "/api/upwork/callback", METHOD_GET, upwork_callback, ROUTE_ADMIN,
	    RL_UPWORK, &callback_query },
	{ "/api/upwork/status", METHOD_GET, upwork_status, 0, RL_DEFAULT, NULL },
	{ "/api/upwork/connection", METHOD_DELETE, upwork_disconnect,
	    ROUTE_ADMIN, RL_DEFAULT, NULL },
	{ "/api/upwork/poll", METHOD_POST, upwork_poll, 0, RL_UPWORK, NULL },
};

int
main(void)
{
	return upwork_main("upwork", routes, nitems(routes), &up);
}

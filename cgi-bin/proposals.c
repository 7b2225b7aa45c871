/* proposals.c: GET /api/proposals lists the tenant's proposals, newest first; GET /api/proposals/{id} returns one with its history; PATCH /api/proposals/{id} moves the user's proposal along its lifecycle and edits a draft's text. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

struct list_q {
	char		*job_id;
	int		 status;
	long long	 page;
	long long	 limit;
};
enum { LQ_JOB, LQ_STATUS, LQ_PAGE, LQ_LIMIT };

static const struct field list_fields[] = {
	[LQ_JOB] = { FIELD("jobId", FT_UUID, struct list_q, job_id) },
	[LQ_STATUS] = { FIELD("status", FT_ENUM, struct list_q, status),
	    .choices = proposal_status_names },
	[LQ_PAGE] = { FIELD("page", FT_INT, struct list_q, page), .min = 1,
	    .max = 100000, .def = "1" },
	[LQ_LIMIT] = { FIELD("limit", FT_INT, struct list_q, limit), .min = 1,
	    .max = 50, .def = "20" },
};
static const struct field_obj list_query = {
	.fields = list_fields, .nfields = nitems(list_fields),
	.size = sizeof(struct list_q)
};

/* PATCH body: what may change; at least one of status, content, alternatives. */
struct alternative {
	int	 tone;
	char	*text;
};
struct patch_b {
	int		 status;
	char		*content;
	struct objlist	 alternatives;
	int		 expected;
};
enum { PB_STATUS, PB_CONTENT, PB_ALTERNATIVES, PB_EXPECTED };

static const struct field alternative_fields[] = {
	{ FIELD("tone", FT_ENUM, struct alternative, tone), .flags = F_REQUIRED,
	    .choices = tone_names },
	{ FIELD("text", FT_STRING, struct alternative, text),
	    .flags = F_REQUIRED, .min = 1, .max = 50000 },
};
static const struct field_obj alternative_obj = {
	.fields = alternative_fields, .nfields = nitems(alternative_fields),
	.size = sizeof(struct alternative)
};

static const struct field patch_fields[] = {
	[PB_STATUS] = { FIELD("status", FT_ENUM, struct patch_b, status),
	    .choices = proposal_status_names },
	[PB_CONTENT] = { FIELD("content", FT_STRING, struct patch_b, content),
	    .min = 1, .max = 50000 },
	[PB_ALTERNATIVES] = { FIELD("alternatives", FT_OBJLIST, struct patch_b,
	    alternatives), .max = PROPOSAL_ALT_MAX,
	    .choices = &alternative_obj },
	[PB_EXPECTED] = { FIELD("expectedStatus", FT_ENUM, struct patch_b,
	    expected), .choices = proposal_status_names },
};

/* Fields of a proposal that exist but never change: sending one is a 409. */
static const char *const read_only[] = {
	"id", "jobId", "userId", "tone", "provider", "model", "maxWords",
	"highlights", "suggestions", "usage", "job", "templateId", "readyAt",
	"createdAt", "updatedAt", "history",
};

/* The filters are optional: a NULL parameter matches every row. */
#define FILTER \
	" WHERE ($1::uuid IS NULL OR p.job_id = $1::uuid)" \
	" AND ($2::text IS NULL OR p.status = $2::text)"

enum stmt {
	STMT_COUNT,
	STMT_PAGE,
	STMT_ONE,
	STMT_HISTORY,
	STMT_LOCK,
	STMT_UPDATE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_COUNT] = "SELECT count(*) FROM proposals p" FILTER,
	[STMT_PAGE] = "SELECT " SHAPE_PROPOSAL_COLUMNS SHAPE_PROPOSAL_FROM FILTER
	    " ORDER BY p.created_at DESC, p.id DESC LIMIT $3::int OFFSET $4::int",
	[STMT_ONE] = SHAPE_PROPOSAL_ONE_SQL,
	[STMT_HISTORY] = SHAPE_HISTORY_SQL,
	/* Only its user changes a proposal: anyone else gets a 404. */
	[STMT_LOCK] = "SELECT status FROM proposals WHERE id = $1::uuid"
	    " AND user_id = app_user() FOR UPDATE",
	/*
	 * Under the lock taken by STMT_LOCK, after lifecycle_check() said
	 * yes; the trigger proposals_history records the change.
	 */
	[STMT_UPDATE] = "WITH p AS (UPDATE proposals SET status = $2,"
	    " content = coalesce($3, content),"
	    " alternatives = coalesce($4::jsonb, alternatives),"
	    " ready_at = CASE WHEN $2 = 'ready' AND status <> 'ready' THEN now()"
	    " ELSE ready_at END, updated_at = now()"
	    " WHERE id = $1::uuid RETURNING *)"
	    " SELECT " SHAPE_PROPOSAL_COLUMNS " FROM p" SHAPE_PROPOSAL_JOINS,
};

static void
proposals_list(struct req *r)
{
	struct list_q	 q = *(const struct list_q *)r->qv;
	uint64_t	 set = r->qset;
	const char	*params[4];
	struct db_query	 qs[2];
	PGresult	*res[2];
	struct reply	 rp;
	long long	 total;
	int		 i;

	params[0] = q.job_id;
	params[1] = FIELD_SET(set, LQ_STATUS) ? proposal_status_names[q.status] :
	    NULL;
	params[2] = arena_printf(&r->arena, "%lld", q.limit);
	params[3] = arena_printf(&r->arena, "%lld", (q.page - 1) * q.limit);
	qs[0] = (struct db_query){ stmts[STMT_COUNT], 2, params };
	qs[1] = (struct db_query){ stmts[STMT_PAGE], 4, params };
	if (db_run(r, qs, 2, res) == -1)
		return;
	total = strtoll(PQgetvalue(res[0], 0, 0), NULL, 10);
	reply_open(&rp, r);
	reply_list(&rp);
	for (i = 0; i < PQntuples(res[1]); i++)
		shape_proposal(&rp.w, res[1], i, 0);
	reply_page(&rp, q.page, q.limit, total);
	reply_send(&rp, 200);
	db_clear(res, 2);
}

/* The {id} of the path; 0, or -1 after the 400. */
static int
proposal_id(struct req *r)
{
	if (!uuid_valid(r->args[0])) {
		valid_fail_field(r, "id", "must be a UUID");
		return -1;
	}
	return 0;
}

/* Another tenant's proposal is invisible under RLS: 404, as for an id that never existed. */
static void
proposals_get(struct req *r)
{
	const char	*params[1] = { r->args[0] };
	struct db_query	 qs[2] = { { stmts[STMT_ONE], 1, params },
			    { stmts[STMT_HISTORY], 1, params } };
	PGresult	*res[2];
	struct reply	 rp;

	if (proposal_id(r) == -1 || db_run(r, qs, 2, res) == -1)
		return;
	if (PQntuples(res[0]) == 0) {
		http_error(r, ERR_NOT_FOUND, "no proposal with this id");
		goto out;
	}
	reply_open(&rp, r);
	shape_proposal_one(&rp.w, res[0], res[1], 0);
	reply_send(&rp, 200);
out:
	db_clear(res, 2);
}

/*
 * A field that exists on a proposal but is not the caller's to change:
 * 409.  Malformed JSON is left to valid_json(), which says so.  Returns
 * 0, or -1 after the 409.
 */
static int
refuse_read_only(struct req *r)
{
	json_object	*obj;
	struct buf	 names = { 0 };
	const char	*why;
	size_t		 i;

	obj = json_parse_strict(r->body, r->body_len, cfg.json_max_depth, &why);
	if (obj != NULL && json_object_is_type(obj, json_type_object))
		for (i = 0; i < nitems(read_only); i++)
			if (json_object_object_get_ex(obj, read_only[i], NULL))
				buf_printf(&names, "%s%s", names.len ? ", " : "",
				    read_only[i]);
	json_object_put(obj);
	if (names.len == 0)
		return 0;
	http_error(r, ERR_CONFLICT, "%s cannot be changed: PATCH changes status, "
	    "content and alternatives", names.data);
	buf_free(&names);
	return -1;
}

/* 409 with msg, naming the current state and what may follow it. */
static void
conflict(struct req *r, enum proposal_status from, const char *msg)
{
	json_object	*extra = json_object_new_object(), *allowed;
	unsigned int	 next = lifecycle_next(from);
	int		 i;

	allowed = json_object_new_array();
	for (i = 0; i < PS__MAX; i++)
		if (next & (1U << i))
			json_object_array_add(allowed,
			    json_object_new_string(proposal_status_names[i]));
	json_object_object_add(extra, "details", json_object_new_string(msg));
	json_object_object_add(extra, "currentStatus",
	    json_object_new_string(proposal_status_names[from]));
	json_object_object_add(extra, "allowed", allowed);
	http_error_obj(r, ERR_CONFLICT, NULL, extra);
}

static char *
alternatives_json(struct req *r, const struct objlist *l)
{
	const struct alternative *a = l->v;
	struct buf	 b = { 0 };
	struct jw	 w;
	char		*s;
	size_t		 i;

	jw_init(&w, &b);
	jw_array(&w, NULL);
	for (i = 0; i < l->n; i++) {
		jw_object(&w, NULL);
		jw_string(&w, "tone", tone_names[a[i].tone]);
		jw_string(&w, "text", a[i].text);
		jw_end(&w);
	}
	jw_end(&w);
	s = arena_strndup(&r->arena, b.data, b.len);
	buf_free(&b);
	return s;
}

/*
 * The check and the change happen under the proposal's row lock, so
 * concurrent PATCHes are applied one after the other, each checked
 * against the state the previous one left: one of N identical
 * transitions succeeds, the others see the new state and get a 409.
 */
static void
proposals_patch(struct req *r)
{
	struct patch_b		 b = { 0 };
	uint64_t		 set;
	const char		*params[5];
	PGresult		*row, *res = NULL;
	enum proposal_status	 from, to;
	enum lc_verdict		 v;
	struct buf		 out = { 0 }, ev = { 0 };
	struct reply		 rp;
	int			 edits;

	if (proposal_id(r) == -1 || refuse_read_only(r) == -1 ||
	    valid_json(r, patch_fields, nitems(patch_fields), &b, &set) == -1)
		return;
	edits = FIELD_SET(set, PB_CONTENT) || FIELD_SET(set, PB_ALTERNATIVES);
	if (!edits && !FIELD_SET(set, PB_STATUS)) {
		valid_fail_field(r, "body", "nothing to change: send status, "
		    "content or alternatives");
		return;
	}
	to = FIELD_SET(set, PB_STATUS) ? (enum proposal_status)b.status : PS_DRAFT;
	params[0] = r->args[0];
	params[1] = proposal_status_names[to];
	params[2] = b.content;
	params[3] = FIELD_SET(set, PB_ALTERNATIVES) ?
	    alternatives_json(r, &b.alternatives) : NULL;

	db_begin(r);
	if ((row = db_exec(r, stmts[STMT_LOCK], 1, params)) == NULL)
		return;
	if (PQntuples(row) == 0) {
		db_rollback(r);
		http_error(r, ERR_NOT_FOUND, "no proposal with this id");
		goto out;
	}
	if (lifecycle_parse(PQgetvalue(row, 0, 0), &from) == -1) {
		db_rollback(r);
		LOG_ERR(r, "proposals: %s has the unknown status %s", params[0],
		    PQgetvalue(row, 0, 0));
		http_error(r, ERR_INTERNAL, "%s", "unknown proposal status");
		goto out;
	}
	if (FIELD_SET(set, PB_EXPECTED) && (int)from != b.expected) {
		db_rollback(r);
		buf_printf(&out, "the proposal is %s, not %s (expectedStatus)",
		    proposal_status_names[from], proposal_status_names[b.expected]);
		conflict(r, from, out.data);
		goto out;
	}
	if ((v = lifecycle_check(from, to, edits)) != LC_OK) {
		db_rollback(r);
		lifecycle_message(&out, from, to, v);
		conflict(r, from, out.data);
		goto out;
	}
	if ((res = db_exec(r, stmts[STMT_UPDATE], 4, params)) == NULL ||
	    db_commit(r) == -1)
		goto out;

	cache_invalidate(&r->app->redis, CACHE_USER, cache_scope(r, CACHE_USER));
	if (to != from)
		buf_puts(&ev, to == PS_READY ? "status,readyAt" : "status");
	if (FIELD_SET(set, PB_CONTENT))
		buf_printf(&ev, "%scontent", ev.len ? "," : "");
	if (FIELD_SET(set, PB_ALTERNATIVES))
		buf_printf(&ev, "%salternatives", ev.len ? "," : "");
	reply_open(&rp, r);
	shape_proposal(&rp.w, res, 0, 0);
	reply_send(&rp, 200);
	proposal_announce(r, r->args[0], "updated", ev.data,
	    proposal_status_names[from]);
out:
	PQclear(row);
	PQclear(res);
	buf_free(&out);
	buf_free(&ev);
}

static const struct route routes[] = {
	{ "/api/proposals", METHOD_GET, proposals_list, 0, RL_DEFAULT,
	    &list_query },
	{ "/api/proposals/{id}", METHOD_GET, proposals_get, 0, RL_DEFAULT, NULL },
	{ "/api/proposals/{id}", METHOD_PATCH, proposals_patch, ROUTE_JSON,
	    RL_DEFAULT, NULL },
};

int
main(void)
{
	return agent_main("proposals", routes, nitems(routes), NULL);
}

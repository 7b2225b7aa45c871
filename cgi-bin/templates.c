/* templates.c: the caller's proposal templates: GET/POST /api/templates, GET/PUT/DELETE /api/templates/{id}. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define TEMPLATES_MAX	100	/* per user */

struct list_q {
	long long	page;
	long long	limit;
};

static const struct field list_fields[] = {
	{ FIELD("page", FT_INT, struct list_q, page), .min = 1, .max = 100000,
	    .def = "1" },
	{ FIELD("limit", FT_INT, struct list_q, limit), .min = 1, .max = 100,
	    .def = "50" },
};
static const struct field_obj list_query = {
	.fields = list_fields, .nfields = nitems(list_fields),
	.size = sizeof(struct list_q)
};

/* POST and PUT body: PUT replaces both fields. */
struct template_b {
	char	*name;
	char	*content;
};

static const struct field template_fields[] = {
	{ FIELD("name", FT_STRING, struct template_b, name),
	    .flags = F_REQUIRED, .min = 1, .max = 100 },
	{ FIELD("content", FT_STRING, struct template_b, content),
	    .flags = F_REQUIRED, .min = 1, .max = 10000 },
};

#define TEMPLATE_COLUMNS "t.id, t.name, t.content, t.created_at, t.updated_at"

/*
 * Row-level security keeps other tenants out; every statement adds
 * user_id = the caller, so another member's template is a 404 too.
 */
enum stmt {
	STMT_COUNT,
	STMT_PAGE,
	STMT_GET,
	STMT_ENSURE_TENANT,
	STMT_ENSURE_USER,
	STMT_INSERT,
	STMT_UPDATE,
	STMT_DELETE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_COUNT] = "SELECT count(*) FROM proposal_templates WHERE user_id = $1",
	[STMT_PAGE] = "SELECT " TEMPLATE_COLUMNS " FROM proposal_templates t"
	    " WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id DESC"
	    " LIMIT $2::int OFFSET $3::int",
	[STMT_GET] = "SELECT " TEMPLATE_COLUMNS " FROM proposal_templates t"
	    " WHERE t.id = $1::uuid AND t.user_id = $2",
	[STMT_ENSURE_TENANT] = "INSERT INTO tenants (kind) VALUES ($1)"
	    " ON CONFLICT (id) DO NOTHING",
	[STMT_ENSURE_USER] = "INSERT INTO users DEFAULT VALUES"
	    " ON CONFLICT (tenant_id, id) DO NOTHING",
	/* The cap is checked in the statement: no row comes back past it. */
	[STMT_INSERT] = "INSERT INTO proposal_templates AS t (name, content)"
	    " SELECT $1, $2 WHERE (SELECT count(*) FROM proposal_templates"
	    " WHERE user_id = $3) < $4::int RETURNING " TEMPLATE_COLUMNS,
	[STMT_UPDATE] = "UPDATE proposal_templates AS t SET name = $1,"
	    " content = $2, updated_at = now() WHERE t.id = $3::uuid"
	    " AND t.user_id = $4 RETURNING " TEMPLATE_COLUMNS,
	[STMT_DELETE] = "DELETE FROM proposal_templates WHERE id = $1::uuid"
	    " AND user_id = $2 RETURNING id",
};

/* A template from TEMPLATE_COLUMNS, with the placeholders it uses. */
static void
shape_template(struct jw *w, const PGresult *res, int row)
{
	const char		*content = PQgetvalue(res, row, 2);
	struct template_error	 err;
	unsigned int		 used = 0;
	int			 v;

	(void)template_check(content, (size_t)PQgetlength(res, row, 2), &used,
	    &err);
	jw_object(w, NULL);
	jw_stringn(w, "id", PQgetvalue(res, row, 0),
	    (size_t)PQgetlength(res, row, 0));
	jw_stringn(w, "name", PQgetvalue(res, row, 1),
	    (size_t)PQgetlength(res, row, 1));
	jw_stringn(w, "content", content, (size_t)PQgetlength(res, row, 2));
	jw_array(w, "placeholders");
	for (v = 0; v < TEMPLATE_VAR__MAX; v++)
		if (used & (1U << v))
			jw_string(w, NULL, template_var_names[v]);
	jw_end(w);
	shape_time(w, "createdAt", db_value(res, row, 3));
	shape_time(w, "updatedAt", db_value(res, row, 4));
	jw_end(w);
}

/* Validate a body and its placeholders; 0, or -1 after the 400. */
static int
template_body(struct req *r, struct template_b *t)
{
	struct template_error	err;
	uint64_t		set;
	unsigned int		used;

	if (valid_json(r, template_fields, nitems(template_fields), t, &set) == -1)
		return -1;
	if (template_check(t->content, strlen(t->content), &used, &err) == -1) {
		valid_fail_field(r, "content", "%s", err.message);
		return -1;
	}
	return 0;
}

/* The {id} of the path; 0, or -1 after the 400. */
static int
template_id(struct req *r)
{
	if (uuid_valid(r->args[0]))
		return 0;
	valid_fail_field(r, "id", "must be a UUID");
	return -1;
}

static void
answer_one(struct req *r, int status, const PGresult *res)
{
	struct reply	rp;

	reply_open(&rp, r);
	shape_template(&rp.w, res, 0);
	reply_send(&rp, status);
}

static void
templates_list(struct req *r)
{
	struct list_q	 q = *(const struct list_q *)r->qv;
	const char	*params[3];
	struct db_query	 qs[2];
	PGresult	*res[2];
	struct buf	 key = { 0 };
	struct reply	 rp;
	long long	 total;
	int		 i;

	buf_printf(&key, "templates?page=%lld&limit=%lld", q.page, q.limit);
	if (reply_cached(&rp, r, CACHE_USER, key.data, 0))
		goto out;
	params[0] = r->auth.user_id;
	params[1] = arena_printf(&r->arena, "%lld", q.limit);
	params[2] = arena_printf(&r->arena, "%lld", (q.page - 1) * q.limit);
	qs[0] = (struct db_query){ stmts[STMT_COUNT], 1, params };
	qs[1] = (struct db_query){ stmts[STMT_PAGE], 3, params };
	if (db_run(r, qs, 2, res) == -1)
		goto out;
	total = strtoll(PQgetvalue(res[0], 0, 0), NULL, 10);
	reply_list(&rp);
	for (i = 0; i < PQntuples(res[1]); i++)
		shape_template(&rp.w, res[1], i);
	reply_page(&rp, q.page, q.limit, total);
	reply_send(&rp, 200);
	db_clear(res, 2);
out:
	reply_free(&rp);
	buf_free(&key);
}

static void
templates_get(struct req *r)
{
	const char	*params[2] = { r->args[0], r->auth.user_id };
	struct db_query	 q = { stmts[STMT_GET], 2, params };
	PGresult	*res;

	if (template_id(r) == -1 || db_run(r, &q, 1, &res) == -1)
		return;
	if (PQntuples(res) == 0)
		http_error(r, ERR_NOT_FOUND, "no template with this id");
	else
		answer_one(r, 200, res);
	PQclear(res);
}

static void
templates_create(struct req *r)
{
	struct template_b t = { 0 };
	const char	*kind[1], *params[4];
	struct db_query	 qs[3];
	PGresult	*res[3];

	if (template_body(r, &t) == -1)
		return;
	kind[0] = r->auth.personal ? "personal" : "org";
	params[0] = t.name;
	params[1] = t.content;
	params[2] = r->auth.user_id;
	params[3] = arena_printf(&r->arena, "%d", TEMPLATES_MAX);
	qs[0] = (struct db_query){ stmts[STMT_ENSURE_TENANT], 1, kind };
	qs[1] = (struct db_query){ stmts[STMT_ENSURE_USER], 0, NULL };
	qs[2] = (struct db_query){ stmts[STMT_INSERT], 4, params };
	if (db_run(r, qs, 3, res) == -1)
		return;
	if (PQntuples(res[2]) == 0)
		http_error(r, ERR_CONFLICT, "a user has at most %d templates",
		    TEMPLATES_MAX);
	else {
		cache_invalidate(&r->app->redis, CACHE_USER, cache_scope(r, CACHE_USER));
		answer_one(r, 201, res[2]);
	}
	db_clear(res, 3);
}

static void
templates_update(struct req *r)
{
	struct template_b t = { 0 };
	const char	*params[4];
	struct db_query	 q = { stmts[STMT_UPDATE], 4, params };
	PGresult	*res;

	if (template_id(r) == -1 || template_body(r, &t) == -1)
		return;
	params[0] = t.name;
	params[1] = t.content;
	params[2] = r->args[0];
	params[3] = r->auth.user_id;
	if (db_run(r, &q, 1, &res) == -1)
		return;
	if (PQntuples(res) == 0)
		http_error(r, ERR_NOT_FOUND, "no template with this id");
	else {
		cache_invalidate(&r->app->redis, CACHE_USER, cache_scope(r, CACHE_USER));
		answer_one(r, 200, res);
	}
	PQclear(res);
}

static void
templates_delete(struct req *r)
{
	const char	*params[2] = { r->args[0], r->auth.user_id };
	struct db_query	 q = { stmts[STMT_DELETE], 2, params };
	PGresult	*res;
	struct reply	 rp;

	if (template_id(r) == -1 || db_run(r, &q, 1, &res) == -1)
		return;
	if (PQntuples(res) == 0)
		http_error(r, ERR_NOT_FOUND, "no template with this id");
	else {
		cache_invalidate(&r->app->redis, CACHE_USER, cache_scope(r, CACHE_USER));
		reply_open(&rp, r);
		jw_object(&rp.w, NULL);
		jw_string(&rp.w, "id", PQgetvalue(res, 0, 0));
		jw_bool(&rp.w, "deleted", 1);
		reply_send(&rp, 200);
	}
	PQclear(res);
}

static const struct route routes[] = {
	{ "/api/templates", METHOD_GET, templates_list, 0, RL_DEFAULT,
	    &list_query },
	{ "/api/templates", METHOD_POST, templates_create, ROUTE_JSON, RL_DEFAULT, NULL },
	{ "/api/templates/{id}", METHOD_GET, templates_get, 0, RL_DEFAULT, NULL },
	{ "/api/templates/{id}", METHOD_PUT, templates_update, ROUTE_JSON, RL_DEFAULT, NULL },
	{ "/api/templates/{id}", METHOD_DELETE, templates_delete, 0, RL_DEFAULT, NULL },
};

int
main(void)
{
	return agent_main("templates", routes, nitems(routes), NULL);
}

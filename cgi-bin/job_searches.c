/* job_searches.c: GET /api/job-searches lists the tenant's saved searches; DELETE /api/job-searches/{id} removes one. */
#include <stddef.h>
#include <stdlib.h>

#include "agent.h"

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

enum stmt {
	STMT_COUNT,
	STMT_PAGE,
	STMT_DELETE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_COUNT] = "SELECT count(*) FROM job_searches",
	[STMT_PAGE] = "SELECT " SHAPE_SEARCH_COLUMNS " FROM job_searches s"
	    " ORDER BY s.created_at DESC, s.id DESC LIMIT $1::int OFFSET $2::int",
	[STMT_DELETE] = "DELETE FROM job_searches WHERE id = $1::uuid RETURNING id",
};

static void
searches_list(struct req *r)
{
	struct list_q	 q = *(const struct list_q *)r->qv;
	const char	*params[2];
	struct db_query	 qs[2];
	PGresult	*res[2];
	struct buf	 key = { 0 };
	struct reply	 rp;
	long long	 total;
	int		 i;

	buf_printf(&key, "page=%lld&limit=%lld", q.page, q.limit);
	if (reply_cached(&rp, r, CACHE_SEARCHES, key.data, 0))
		goto out;
	params[0] = arena_printf(&r->arena, "%lld", q.limit);
	params[1] = arena_printf(&r->arena, "%lld", (q.page - 1) * q.limit);
	qs[0] = (struct db_query){ stmts[STMT_COUNT], 0, NULL };
	qs[1] = (struct db_query){ stmts[STMT_PAGE], 2, params };
	if (db_run(r, qs, 2, res) == -1)
		goto out;
	total = strtoll(PQgetvalue(res[0], 0, 0), NULL, 10);
	reply_list(&rp);
	for (i = 0; i < PQntuples(res[1]); i++)
		shape_search(&rp.w, res[1], i, 0);
	reply_page(&rp, q.page, q.limit, total);
	reply_send(&rp, 200);
	db_clear(res, 2);
out:
	reply_free(&rp);
	buf_free(&key);
}

/*
 * Another tenant's search is invisible under RLS, so deleting it finds
 * no row and answers 404, the same as an id that never existed.
 */
static void
searches_delete(struct req *r)
{
	const char	*params[1] = { r->args[0] };
	struct db_query	 q = { stmts[STMT_DELETE], 1, params };
	PGresult	*res;
	struct reply	 rp;

	if (!uuid_valid(r->args[0])) {
		valid_fail_field(r, "id", "must be a UUID");
		return;
	}
	if (db_run(r, &q, 1, &res) == -1)
		return;
	if (PQntuples(res) == 0)
		http_error(r, ERR_NOT_FOUND, "no saved search with this id");
	else {
		cache_invalidate(&r->app->redis, CACHE_SEARCHES,
		    r->auth.tenant_id);
		reply_open(&rp, r);
		jw_object(&rp.w, NULL);
		jw_string(&rp.w, "id", PQgetvalue(res, 0, 0));
		jw_bool(&rp.w, "deleted", 1);
		reply_send(&rp, 200);
	}
	PQclear(res);
}

static const struct route routes[] = {
	{ "/api/job-searches", METHOD_GET, searches_list, 0, RL_DEFAULT,
	    &list_query },
	{ "/api/job-searches/{id}", METHOD_DELETE, searches_delete, 0, RL_DEFAULT, NULL },
};

int
main(void)
{
	return agent_main("job-searches", routes, nitems(routes), NULL);
}

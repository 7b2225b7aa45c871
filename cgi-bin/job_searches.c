/* job_searches.c: GET /api/job-searches lists the tenant's saved searches; DELETE /api/job-searches/{id} removes one. */
#include <stddef.h>
#include <stdlib.h>

#include "agent.h"

struct list_q {
	long long	page;
	long long	limit;
};

static const struct field list_fields[] = {
	{ "page", FT_INT, 0, 1, 100000, 0, NULL,
	    offsetof(struct list_q, page), "1" },
	{ "limit", FT_INT, 0, 1, 100, 0, NULL,
	    offsetof(struct list_q, limit), "50" },
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
	struct list_q	 q;
	uint64_t	 set;
	const char	*params[2];
	struct db_query	 qs[2];
	PGresult	*res[2];
	struct buf	 b = { 0 }, key = { 0 };
	struct cache_lookup lk;
	long long	 total;
	int		 i;

	if (valid_query(r, list_fields, nitems(list_fields), &q, &set) == -1)
		return;
	buf_printf(&key, "page=%lld&limit=%lld", q.page, q.limit);
	if (cache_get(r, CACHE_SEARCHES, key.data, &b, &lk) >
	    CACHE_MISS) {
		http_json(r, 200, b.data, b.len);
		goto out;
	}
	params[0] = arena_printf(&r->arena, "%lld", q.limit);
	params[1] = arena_printf(&r->arena, "%lld", (q.page - 1) * q.limit);
	qs[0] = (struct db_query){ stmts[STMT_COUNT], 0, NULL };
	qs[1] = (struct db_query){ stmts[STMT_PAGE], 2, params };
	if (db_run(r, qs, 2, res) == -1)
		goto out;
	total = strtoll(PQgetvalue(res[0], 0, 0), NULL, 10);
	buf_puts(&b, "{\"success\":true,\"data\":[");
	for (i = 0; i < PQntuples(res[1]); i++) {
		if (i > 0)
			buf_putc(&b, ',');
		shape_search(&b, res[1], i, 0);
	}
	shape_page_end(&b, q.page, q.limit, total);
	cache_put(r, &lk, b.data, b.len);
	http_json(r, 200, b.data, b.len);
	db_clear(res, 2);
out:
	buf_free(&key);
	buf_free(&b);
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
	struct buf	 b = { 0 };

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
		buf_printf(&b, "{\"success\":true,\"data\":{\"id\":\"%s\","
		    "\"deleted\":true}}", PQgetvalue(res, 0, 0));
		http_json(r, 200, b.data, b.len);
		buf_free(&b);
	}
	PQclear(res);
}

static const struct route routes[] = {
	{ "/api/job-searches", METHOD_GET, searches_list, 0, RL_DEFAULT },
	{ "/api/job-searches/{id}", METHOD_DELETE, searches_delete, 0, RL_DEFAULT },
};

int
main(void)
{
	return agent_main("job-searches", routes, nitems(routes), NULL);
}

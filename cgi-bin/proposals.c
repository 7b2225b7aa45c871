/* proposals.c: GET /api/proposals lists the tenant's proposals, newest first; GET /api/proposals/{id} returns one. */
#include <stddef.h>
#include <stdlib.h>

#include "common.h"

struct list_q {
	char		*job_id;
	char		*status;
	long long	 page;
	long long	 limit;
};

static const struct field list_fields[] = {
	{ "jobId", FT_UUID, 0, 0, 0, 0, NULL, offsetof(struct list_q, job_id),
	    NULL },
	{ "status", FT_STRING, F_LOWER, 1, 20, 0, NULL,
	    offsetof(struct list_q, status), NULL },
	{ "page", FT_INT, 0, 1, 100000, 0, NULL, offsetof(struct list_q, page),
	    "1" },
	{ "limit", FT_INT, 0, 1, 50, 0, NULL, offsetof(struct list_q, limit),
	    "20" },
};

/*
 * A proposal with its job's title and what generating it cost.  The
 * filters are optional: a NULL parameter matches every row.
 */
#define COLUMNS \
	"p.id, p.job_id, p.user_id, p.status, p.content, p.alternatives," \
	" p.suggestions, p.tone, p.provider, p.model, p.max_words," \
	" array_to_json(p.highlights), u.prompt_tokens, u.completion_tokens," \
	" u.cost, j.title, p.created_at, p.updated_at"
#define FROM \
	" FROM proposals p LEFT JOIN jobs j" \
	" ON j.tenant_id = p.tenant_id AND j.id = p.job_id" \
	" LEFT JOIN LATERAL (SELECT sum(a.prompt_tokens) AS prompt_tokens," \
	" sum(a.completion_tokens) AS completion_tokens, sum(a.cost) AS cost" \
	" FROM ai_usage a WHERE a.tenant_id = p.tenant_id" \
	" AND a.proposal_id = p.id HAVING count(*) > 0) u ON true"
#define FILTER \
	" WHERE ($1::uuid IS NULL OR p.job_id = $1::uuid)" \
	" AND ($2::text IS NULL OR p.status = $2::text)"

enum stmt {
	STMT_COUNT,
	STMT_PAGE,
	STMT_ONE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_COUNT] = "SELECT count(*) FROM proposals p" FILTER,
	[STMT_PAGE] = "SELECT " COLUMNS FROM FILTER
	    " ORDER BY p.created_at DESC, p.id DESC LIMIT $3::int OFFSET $4::int",
	[STMT_ONE] = "SELECT " COLUMNS FROM " WHERE p.id = $1::uuid",
};

static void
put(struct buf *b, const PGresult *res, int row, int col, int quote)
{
	const char	*v = db_value(res, row, col);

	if (v == NULL)
		buf_puts(b, "null");
	else if (quote)
		buf_json_string(b, v, (size_t)PQgetlength(res, row, col));
	else
		buf_puts(b, v);		/* numbers and json columns as they are */
}

static void
shape_proposal(struct buf *b, const PGresult *res, int row)
{
	static const struct {
		const char	*key;
		int		 quote;
	} cols[] = {
		{ "id", 1 }, { "jobId", 1 }, { "userId", 1 }, { "status", 1 },
		{ "content", 1 }, { "alternatives", 0 }, { "suggestions", 0 },
		{ "tone", 1 }, { "provider", 1 }, { "model", 1 },
		{ "maxWords", 0 }, { "highlights", 0 },
	};
	size_t	i;

	buf_putc(b, '{');
	for (i = 0; i < nitems(cols); i++) {
		buf_printf(b, "%s\"%s\":", i ? "," : "", cols[i].key);
		put(b, res, row, (int)i, cols[i].quote);
	}
	buf_puts(b, ",\"usage\":");
	if (db_value(res, row, 12) == NULL)
		buf_puts(b, "null");
	else
		buf_printf(b, "{\"promptTokens\":%s,\"completionTokens\":%s,"
		    "\"cost\":%s}", PQgetvalue(res, row, 12),
		    PQgetvalue(res, row, 13), PQgetvalue(res, row, 14));
	buf_puts(b, ",\"job\":{\"id\":");
	put(b, res, row, 1, 1);
	buf_puts(b, ",\"title\":");
	put(b, res, row, 15, 1);
	buf_puts(b, "},\"createdAt\":");
	shape_time(b, db_value(res, row, 16));
	buf_puts(b, ",\"updatedAt\":");
	shape_time(b, db_value(res, row, 17));
	buf_putc(b, '}');
}

static void
proposals_list(struct req *r)
{
	struct list_q	 q = { 0 };
	uint64_t	 set;
	const char	*params[4];
	struct db_query	 qs[2];
	PGresult	*res[2];
	struct buf	 b = { 0 };
	long long	 total;
	int		 i;

	if (valid_query(r, list_fields, nitems(list_fields), &q, &set) == -1)
		return;
	params[0] = q.job_id;
	params[1] = q.status;
	params[2] = arena_printf(&r->arena, "%lld", q.limit);
	params[3] = arena_printf(&r->arena, "%lld", (q.page - 1) * q.limit);
	qs[0] = (struct db_query){ stmts[STMT_COUNT], 2, params };
	qs[1] = (struct db_query){ stmts[STMT_PAGE], 4, params };
	if (db_run(r, qs, 2, res) == -1)
		return;
	total = strtoll(PQgetvalue(res[0], 0, 0), NULL, 10);
	buf_puts(&b, "{\"success\":true,\"data\":[");
	for (i = 0; i < PQntuples(res[1]); i++) {
		if (i > 0)
			buf_putc(&b, ',');
		shape_proposal(&b, res[1], i);
	}
	buf_printf(&b, "],\"pagination\":{\"page\":%lld,\"limit\":%lld,"
	    "\"total\":%lld,\"hasMore\":%s}}", q.page, q.limit, total,
	    q.page * q.limit < total ? "true" : "false");
	http_json(r, 200, b.data, b.len);
	buf_free(&b);
	db_clear(res, 2);
}

/* Another tenant's proposal is invisible under RLS: 404, as for an id that never existed. */
static void
proposals_get(struct req *r)
{
	const char	*params[1] = { r->args[0] };
	struct db_query	 q = { stmts[STMT_ONE], 1, params };
	PGresult	*res;
	struct buf	 b = { 0 };

	if (r->nquery > 0) {
		valid_fail_field(r, r->query[0].key, "unknown parameter");
		return;
	}
	if (!uuid_valid(r->args[0])) {
		valid_fail_field(r, "id", "must be a UUID");
		return;
	}
	if (db_run(r, &q, 1, &res) == -1)
		return;
	if (PQntuples(res) == 0)
		http_error(r, ERR_NOT_FOUND, "no proposal with this id");
	else {
		buf_puts(&b, "{\"success\":true,\"data\":");
		shape_proposal(&b, res, 0);
		buf_putc(&b, '}');
		http_json(r, 200, b.data, b.len);
		buf_free(&b);
	}
	PQclear(res);
}

static const struct route routes[] = {
	{ "/api/proposals", METHOD_GET, proposals_list, 0, RL_DEFAULT },
	{ "/api/proposals/{id}", METHOD_GET, proposals_get, 0, RL_DEFAULT },
};

int
main(void)
{
	struct app	app;
	FCGX_Request	fcgi;

	if (app_init(&app, "proposals", &fcgi) == -1)
		return 1;
	while (app_accept(&app, &fcgi) >= 0) {
		http_dispatch(&app, &fcgi, routes, nitems(routes));
		FCGX_Finish_r(&fcgi);
	}
	return app_free(&app, &fcgi);
}

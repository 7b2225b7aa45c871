/* health.c: GET /api/health reports PostgreSQL and Redis reachability, without authentication; GET /api/openapi.yaml serves the API's OpenAPI document. */
#include <stdlib.h>

#include "agent.h"

/*
 * 200 when PostgreSQL answers (Redis down only degrades: the API keeps
 * working without it), 503 when PostgreSQL does not.  The web server
 * configs also send unknown /api/ paths here, and the dispatcher
 * answers those with a JSON 404.
 */
static void
health(struct req *r)
{
	struct buf	b = { 0 };
	struct jw	w;
	double		pg_ms = 0, redis_ms = 0;
	int		pg_ok, redis_ok;

	pg_ok = db_ping(&r->app->db, &pg_ms) == 0;
	/* No Redis configured is not a fault: the check is left out. */
	redis_ok = !redis_enabled() || redis_ping(&r->app->redis, &redis_ms) == 0;
	/* Not the success envelope; down, it is an error like any other 503 too. */
	jw_init(&w, &b);
	jw_object(&w, NULL);
	if (!pg_ok) {
		/* Reachable but too old says so: the fix is a migration. */
		jw_string(&w, "error", *db_schema_problem() != '\0' ?
		    db_schema_problem() : "PostgreSQL is unreachable");
		jw_string(&w, "code", err_code(ERR_UNAVAILABLE));
	}
	jw_bool(&w, "success", pg_ok);
	jw_string(&w, "status", !pg_ok ? "down" : redis_ok ? "ok" : "degraded");
	jw_object(&w, "checks");
	jw_object(&w, "postgres");
	jw_bool(&w, "ok", pg_ok);
	jw_fixed(&w, "latencyMs", pg_ms, 3);
	jw_end(&w);
	if (redis_enabled()) {
		jw_object(&w, "redis");
		jw_bool(&w, "ok", redis_ok);
		jw_fixed(&w, "latencyMs", redis_ms, 3);
	}
	jw_close(&w);
	if (!pg_ok) {
		r->code = err_code(ERR_UNAVAILABLE);
		http_header(r, "Retry-After", "5");
	}
	http_json(r, pg_ok ? 200 : 503, b.data, b.len);
	buf_free(&b);
}

#define OPENAPI_MAX	(4 * 1024 * 1024)

/*
 * The contract, for tools (openapi_file: docs/openapi.yaml as make
 * install and the stack put it).  Read on every request: it is small,
 * and an upgrade replaces it under a running worker.
 */
static void
openapi(struct req *r)
{
	char	*doc;
	size_t	 len;

	if (*cfg.openapi_file == '\0' ||
	    (doc = read_file(cfg.openapi_file, OPENAPI_MAX, &len)) == NULL) {
		http_error(r, ERR_NOT_FOUND, "no OpenAPI document is installed");
		return;
	}
	http_send(r, 200, "application/yaml; charset=utf-8", doc, len);
	free(doc);
}

static const struct route routes[] = {
	{ "/api/health", METHOD_GET, health, ROUTE_PUBLIC, RL_NONE, NULL },
	{ "/api/openapi.yaml", METHOD_GET, openapi, ROUTE_PUBLIC, RL_NONE, NULL },
};

int
main(void)
{
	return agent_main("health", routes, nitems(routes), NULL);
}

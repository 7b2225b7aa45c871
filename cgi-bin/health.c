/* health.c: GET /api/health reports PostgreSQL and Redis reachability, without authentication. */
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
	double		pg_ms = 0, redis_ms = 0;
	int		pg_ok, redis_ok;

	pg_ok = db_ping(&r->app->db, &pg_ms) == 0;
	redis_ok = redis_ping(&r->app->redis, &redis_ms) == 0;
	/* Down, it is an error like any other 503 as well: error and code. */
	buf_puts(&b, "{");
	if (!pg_ok)
		buf_printf(&b, "\"error\":\"PostgreSQL is unreachable\","
		    "\"code\":\"%s\",", err_code(ERR_UNAVAILABLE));
	buf_printf(&b, "\"success\":%s,\"status\":\"%s\",\"checks\":{"
	    "\"postgres\":{\"ok\":%s,\"latencyMs\":%.3f},"
	    "\"redis\":{\"ok\":%s,\"latencyMs\":%.3f}}}",
	    pg_ok ? "true" : "false",
	    !pg_ok ? "down" : redis_ok ? "ok" : "degraded",
	    pg_ok ? "true" : "false", pg_ms,
	    redis_ok ? "true" : "false", redis_ms);
	if (!pg_ok) {
		r->code = err_code(ERR_UNAVAILABLE);
		http_header(r, "Retry-After", "5");
	}
	http_json(r, pg_ok ? 200 : 503, b.data, b.len);
	buf_free(&b);
}

static const struct route routes[] = {
	{ "/api/health", METHOD_GET, health, ROUTE_PUBLIC, RL_NONE },
};

int
main(void)
{
	return agent_main("health", routes, nitems(routes), NULL);
}

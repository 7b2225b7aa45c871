/* metrics.c: GET /metrics sums the counters of every program of this host in Prometheus's text format; a 404 unless metrics_enabled, guarded by metrics_allow and metrics_token_file. */
#include "agent.h"

static const struct route routes[] = {
	{ "/metrics", METHOD_GET, metrics_serve, ROUTE_PUBLIC, RL_DEFAULT, NULL },
};

int
main(void)
{
	return agent_main("metrics", routes, nitems(routes), NULL);
}

/* metrics.c: the broadcaster's GET /metrics: its connections by transport, the bytes queued for them, and its counters, in Prometheus's text format, behind the guard every /metrics applies. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <http_parser.h>

#include "push.h"

enum transport {
	T_WEBSOCKET,
	T_POLLING,
	T_SSE,
	T_HTTP,		/* a request being read or answered */
	T__MAX
};
static const char *const transport_names[T__MAX] = {
	"websocket", "polling", "sse", "http",
};

struct gauges {
	uint64_t	n[T__MAX];
	uint64_t	queued;
};

static void
count(struct client *c, void *arg)
{
	struct gauges	*g = arg;

	if (c->flags & CF_CLOSE)
		return;
	if (c->flags & CF_POLL)
		g->n[T_POLLING]++;
	else if (c->flags & CF_WS)
		g->n[T_WEBSOCKET]++;
	else if (c->state == CS_SSE)
		g->n[T_SSE]++;
	else
		g->n[T_HTTP]++;
	g->queued += c->qbytes;
}

/* The peer's address as metrics_allow lists them (an IPv4-mapped one as IPv4). */
static const char *
peer(int fd, char *out, size_t size)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return NULL;
	if (ss.ss_family == AF_INET)
		return inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    out, (socklen_t)size);
	if (ss.ss_family != AF_INET6)
		return NULL;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out,
		    (socklen_t)size);
	return inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)size);
}

static void
counter(struct buf *b, const char *family, const char *help, uint64_t v)
{
	metrics_family(b, family, "counter", help);
	buf_printf(b, "%s %llu\n", family, (unsigned long long)v);
}

/* GET /metrics (method the parser's): guarded, then the gauges and counters. */
void
push_metrics(struct client *c, const char *authorization, int method)
{
	struct gauges	 g = { 0 };
	struct client	*x;
	struct buf	 b = { 0 };
	char		 ip[INET6_ADDRSTRLEN];
	size_t		 fd, t;

	if (method != HTTP_GET && method != HTTP_HEAD && cfg.metrics_enabled) {
		push_http_reply(c, 405, "method_not_allowed", "Method not allowed",
		    "Allow: GET, HEAD\r\n");
		return;
	}
	switch (metrics_allowed(peer(c->fd, ip, sizeof(ip)), authorization)) {
	case 0:
		break;
	case 404:
		push_http_reply(c, 404, "not_found", "Not found", NULL);
		return;
	case 403:
		push_http_reply(c, 403, "forbidden", "This address may not read "
		    "the metrics (metrics_allow)", NULL);
		return;
	default:
		push_http_reply(c, 401, "unauthorized", "The metrics token is "
		    "required (metrics_token_file)", "WWW-Authenticate: Bearer\r\n");
		return;
	}
	for (fd = 0; fd < srv.clients_cap; fd++)
		if ((x = srv.clients[fd]) != NULL && !(x->flags & CF_POLL) &&
		    x != c)
			count(x, &g);
	polling_foreach(count, &g);
	metrics_family(&b, "broadcaster_connections", "gauge", "Connections "
	    "held, by transport (polling: Engine.IO sessions over "
	    "long-polling; http: requests being read or answered)");
	for (t = 0; t < T__MAX; t++)
		buf_printf(&b, "broadcaster_connections{transport=\"%s\"} %llu\n",
		    transport_names[t], (unsigned long long)g.n[t]);
	metrics_family(&b, "broadcaster_queued_bytes", "gauge", "Bytes queued "
	    "for clients and not yet written (each client's capped at "
	    "push_output_max)");
	buf_printf(&b, "broadcaster_queued_bytes %llu\n",
	    (unsigned long long)g.queued);
	metrics_family(&b, "broadcaster_clients_max", "gauge",
	    "push_max_clients: connections held at most");
	buf_printf(&b, "broadcaster_clients_max %d\n", cfg.push_max_clients);
	counter(&b, "broadcaster_connections_accepted_total",
	    "Connections accepted", srv.stats.accepted);
	counter(&b, "broadcaster_connections_refused_total",
	    "Connections refused at push_max_clients or out of descriptors",
	    srv.stats.refused);
	counter(&b, "broadcaster_events_total", "Events received from Redis",
	    srv.stats.events);
	counter(&b, "broadcaster_events_dropped_total",
	    "Events from Redis dropped: unsigned, forged, or ids far ahead",
	    srv.stats.forged);
	counter(&b, "broadcaster_deliveries_total",
	    "Events queued for a client", srv.stats.delivered);
	counter(&b, "broadcaster_slow_consumers_total",
	    "Clients closed because their queue passed push_output_max",
	    srv.stats.slow_closed);
	counter(&b, "broadcaster_expired_total",
	    "Connections closed when their token expired", srv.stats.expired);
	counter(&b, "broadcaster_polling_sessions_total",
	    "Engine.IO sessions opened over long-polling", srv.stats.sessions);
	counter(&b, "broadcaster_upgrades_total",
	    "Long-polling sessions upgraded to a WebSocket", srv.stats.upgrades);
	push_http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    NULL, b.data, b.len);
	buf_free(&b);
}

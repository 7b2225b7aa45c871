/* main.c: the broadcaster: listen, accept (refusing past push_max_clients), the timers, write-before-sleep, graceful SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "push.h"

/* The answer when no descriptor is left for a client struct. */
static const char refusal[] = "HTTP/1.1 503 Service Unavailable\r\n"
    "Retry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

static int
listen_on(const char *spec)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 host[256], *colon;
	int		 fd = -1, one = 1, rc;

	snprintf(host, sizeof(host), "%s", spec);
	if ((colon = strrchr(host, ':')) == NULL) {
		LOG_ERR(NULL, "push: push_listen must be host:port, not %s", spec);
		return -1;
	}
	*colon = '\0';
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		colon[-1] = '\0';		/* [::1]:8081 */
		memmove(host, host + 1, strlen(host));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(*host != '\0' ? host : NULL, colon + 1, &hints,
	    &res)) != 0) {
		LOG_ERR(NULL, "push: %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 4096) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		LOG_ERR(NULL, "push: cannot listen on %s: %s", spec, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c;
	int		 fd, one = 1, i;

	(void)loop;
	(void)revents;
	for (i = 0; i < 256; i++) {
		fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    srv.spare_fd >= 0) {
				/* Out of descriptors: refuse one rather than spin. */
				close(srv.spare_fd);
				if ((fd = accept(w->fd, NULL, NULL)) >= 0) {
					(void)!write(fd, refusal, sizeof(refusal) - 1);
					close(fd);
					srv.stats.refused++;
				}
				srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				LOG_WARN(NULL, "push: out of file descriptors");
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_WARN(NULL, "push: accept: %s", strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = client_new(fd);
		client_slot_take(c);
		/*
		 * A polling session may have three requests on connections of
		 * their own (a GET on its way, a POST, the WebSocket that
		 * probes to take it over): room for those, so that sessions
		 * keep working at the limit.  A new client is refused on its
		 * request past push_max_clients (http.c), whatever the slack.
		 */
		if (srv.nslots > (size_t)cfg.push_max_clients + 3 * srv.npoll) {
			srv.stats.refused++;
			push_http_reply(c, 503, "service_unavailable",
			    "Too many connections", "Retry-After: 5\r\n");
			continue;
		}
		srv.stats.accepted++;
	}
}

/* The clocks of one sweep. */
struct sweep {
	double	now;		/* monotonic ms */
	time_t	wall;
};

/* One client's timers: its token, then what its deadline bounds in its state. */
static void
cron_one(struct client *c, void *arg)
{
	const struct sweep	*sw = arg;
	double			 now = sw->now;

	if (c->flags & CF_CLOSE)
		return;
	/*
	 * A subscription lasts as long as its token: a user removed from
	 * an organisation stops hearing it when the (short) session token
	 * runs out.  Clients reconnect with a new one.
	 */
	if (c->expires != 0 && sw->wall > c->expires &&
	    (c->state == CS_SIO || c->state == CS_SSE)) {
		client_expire(c);
		return;
	}
	switch (c->state) {
	case CS_EIO:
	case CS_SIO:
	case CS_PROBE:
		eio_cron(c, now);
		break;
	case CS_HTTP:
		if (now >= c->deadline)
			push_http_reply(c, 408, "bad_request", "Request timeout",
			    NULL);
		break;
	case CS_SSE:
		if (now >= c->deadline)
			sse_cron(c, now);
		break;
	case CS_REPLY:
	case CS_CLOSING:
	case CS_LINGER:
		if (now >= c->deadline)
			client_close(c, "timeout");
		break;
	}
}

/* Timeouts, pings and keep-alives: one sweep of the table, then of the polling sessions. */
static void
cron_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client	*c;
	struct sweep	 sw = { push_now(), time(NULL) };
	size_t		 fd;

	(void)loop;
	(void)w;
	(void)revents;
	for (fd = 0; fd < srv.clients_cap; fd++)
		if ((c = srv.clients[fd]) != NULL && !(c->flags & CF_POLL))
			cron_one(c, &sw);
	polling_foreach(cron_one, &sw);
}

/* Before the loop sleeps: write what was queued, release what was closed. */
static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)w;
	(void)revents;
	client_flush_pending();
	client_reap();
	if (srv.shutting_down && srv.nclients == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
shutdown_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	LOG_INFO(NULL, "push: %zu clients did not close in time", srv.nclients);
	ev_break(loop, EVBREAK_ALL);
}

/* At shutdown a polling session's held GET gets the close packet; one with none cannot come back. */
static void
shutdown_session(struct client *s, void *arg)
{
	(void)arg;
	if (s->flags & CF_HELD)
		polling_close(s);
	else
		client_close(s, "shutting down");
}

/* SIGTERM: stop accepting, close frames to every WebSocket, close packets to polling sessions, end every stream. */
static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct client	*c;
	size_t		 fd;

	(void)revents;
	if (srv.shutting_down)
		return;
	srv.shutting_down = 1;
	LOG_INFO(NULL, "push: signal %d: closing %zu clients", w->signum,
	    srv.nclients);
	ev_io_stop(loop, &srv.accept_io);
	close(srv.lfd);
	srv.lfd = -1;
	feed_stop();
	polling_foreach(shutdown_session, NULL);
	for (fd = 0; fd < srv.clients_cap; fd++) {
		if ((c = srv.clients[fd]) == NULL ||
		    (c->flags & (CF_CLOSE | CF_POLL)))
			continue;
		switch (c->state) {
		case CS_HTTP:
			push_http_reply(c, 503, "service_unavailable",
			    "Shutting down", "Retry-After: 1\r\n");
			break;
		case CS_EIO:
		case CS_SIO:
		case CS_PROBE:
			ws_close(c, 1001, "server shutting down");
			break;
		case CS_SSE:
			rooms_leave_all(c);
			client_finish(c);
			break;
		default:
			break;
		}
	}
	ev_timer_init(&srv.shutdown_timer, shutdown_timer_cb,
	    cfg.push_shutdown_ms / 1000.0, 0.);
	ev_timer_start(loop, &srv.shutdown_timer);
}

/* Within the descriptors there are: lower push_max_clients if need be. */
static void
clamp_clients(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)cfg.push_max_clients + 64) {
		LOG_WARN(NULL, "push: open files limited to %llu: "
		    "push_max_clients lowered from %d",
		    (unsigned long long)rl.rlim_cur, cfg.push_max_clients);
		cfg.push_max_clients = rl.rlim_cur > 128 ?
		    (int)rl.rlim_cur - 64 : 64;
	}
}

/* The sweep runs often enough for the shortest timeout to be honoured within a quarter. */
static double
sweep_period(void)
{
	double	period = cfg.push_handshake_timeout_ms;

	if (cfg.push_ping_timeout_ms < period)
		period = cfg.push_ping_timeout_ms;
	if (cfg.push_sse_keepalive_ms < period)
		period = cfg.push_sse_keepalive_ms;
	period = period / 4 / 1000.0;
	return period < 0.05 ? 0.05 : period > 1.0 ? 1.0 : period;
}

/* What only a restart changes: the listening address and the Redis feed's connection. */
static char *
restart_only(void)
{
	struct buf	b = { 0 };

	buf_printf(&b, "%s|%s|%s|%d|%d", cfg.push_listen, cfg.redis_socket,
	    cfg.redis_host, cfg.redis_port, cfg.redis_timeout_ms);
	return b.data;
}

/* A client's allowed Origin, from its index in the old list to the new. */
static void
remap_origin(struct client *c, void *arg)
{
	char	**old = arg;
	size_t	  i;

	if (c->origin == 0)
		return;
	for (i = 0; i < srv.norigins; i++)
		if (strcmp(srv.origins[i], old[c->origin - 1]) == 0)
			break;
	c->origin = (uint8_t)(i < srv.norigins ? i + 1 : 0);
}

/*
 * SIGHUP: the configuration read and checked again, and applied to
 * what runs: keys (a rotated JWKS), cors_origins, limits, timeouts,
 * the log level.  Clients stay connected.  push_listen and the Redis
 * settings need a restart (said when they changed); a configuration
 * that is not usable is refused and the one in use stays.
 */
static void
reload_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct auth_keys	 keys;
	struct client		*c;
	char			**old = srv.origins, *before, *after;
	size_t			 nold = srv.norigins, fd;

	(void)loop;
	(void)w;
	(void)revents;
	if (srv.shutting_down)
		return;
	before = restart_only();
	if (config_reload() == -1) {
		LOG_ERR(NULL, "push: SIGHUP: the configuration is not usable "
		    "(see above); keeping the one in use");
		free(before);
		return;
	}
	log_set_level(cfg.log_level);
	if (auth_keys_load(&keys, &cfg) == 0) {
		auth_keys_free(&srv.keys);
		srv.keys = keys;
	} else {
		auth_keys_free(&keys);
		LOG_ERR(NULL, "push: SIGHUP: keeping the keys in use");
	}
	srv.origins = NULL;
	srv.norigins = 0;
	if (push_http_cors_load() == -1) {
		for (fd = 0; fd < srv.norigins; fd++)
			free(srv.origins[fd]);
		free(srv.origins);
		srv.origins = old;
		srv.norigins = nold;
		LOG_ERR(NULL, "push: SIGHUP: keeping the origins in use");
	} else {
		for (fd = 0; fd < srv.clients_cap; fd++)
			if ((c = srv.clients[fd]) != NULL && !(c->flags & CF_POLL))
				remap_origin(c, old);
		polling_foreach(remap_origin, old);
		for (fd = 0; fd < nold; fd++)
			free(old[fd]);
		free(old);
	}
	clamp_clients();
	ev_timer_set(&srv.cron, sweep_period(), sweep_period());
	ev_timer_again(srv.loop, &srv.cron);
	after = restart_only();
	if (strcmp(before, after) != 0)
		LOG_WARN(NULL, "push: SIGHUP: push_listen and the Redis settings "
		    "apply at the next start: restart the broadcaster");
	LOG_INFO(NULL, "push: SIGHUP: configuration read again (at most %d "
	    "clients, %zu origins)", cfg.push_max_clients, srv.norigins);
	free(before);
	free(after);
}

static struct msg *
pinned(struct msg *m)
{
	m->refs++;	/* never freed by a queue */
	return m;
}

static void
usage(void)
{
	fprintf(stderr, "usage: broadcaster [-P pidfile]\n"
	    "  Reads APP_CONFIG (push_* knobs, Redis, JWT); see README.md.\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct rlimit	 rl;
	const char	*pidfile = NULL;
	double		 period;
	size_t		 fd;
	FILE		*f;
	int		 ch;

	while ((ch = getopt(argc, argv, "P:")) != -1) {
		switch (ch) {
		case 'P':
			pidfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("push");
	if (config_load() == -1 || config_check() == -1)
		return 1;
	log_set_level(cfg.log_level);
	if (auth_keys_load(&srv.keys, &cfg) == -1 || push_http_cors_load() == -1)
		return 1;
	signal(SIGPIPE, SIG_IGN);

	/* One descriptor per client: raise the soft limit to the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	clamp_clients();
	if ((srv.lfd = listen_on(cfg.push_listen)) == -1)
		return 1;
	if ((srv.loop = ev_default_loop(EVBACKEND_EPOLL)) == NULL) {
		LOG_ERR(NULL, "push: no epoll event loop");
		return 1;
	}
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv.keepalive = msg_new(14);
	msg_append(srv.keepalive, ": keep-alive\n\n", 14);
	srv.ping = ws_frame(WSLAY_TEXT_FRAME, "2", 1);
	srv.polling_ping = msg_new(1);
	msg_append(srv.polling_ping, "2", 1);
	srv.polling_sep = msg_new(1);
	msg_append(srv.polling_sep, "\x1e", 1);
	pinned(srv.keepalive);
	pinned(srv.ping);
	pinned(srv.polling_ping);
	pinned(srv.polling_sep);

	ev_io_init(&srv.accept_io, accept_cb, srv.lfd, EV_READ);
	ev_io_start(srv.loop, &srv.accept_io);
	ev_prepare_init(&srv.prepare, prepare_cb);
	ev_prepare_start(srv.loop, &srv.prepare);
	period = sweep_period();
	ev_timer_init(&srv.cron, cron_cb, period, period);
	ev_timer_start(srv.loop, &srv.cron);
	ev_signal_init(&srv.sigterm, signal_cb, SIGTERM);
	ev_signal_start(srv.loop, &srv.sigterm);
	ev_signal_init(&srv.sigint, signal_cb, SIGINT);
	ev_signal_start(srv.loop, &srv.sigint);
	ev_signal_init(&srv.sighup, reload_cb, SIGHUP);
	ev_signal_start(srv.loop, &srv.sighup);
	if (send_start(cfg.push_send_threads) == -1)
		LOG_WARN(NULL, "push: fewer send threads than push_send_threads");
	feed_start();
	if (pidfile != NULL) {
		if ((f = fopen(pidfile, "w")) == NULL) {
			LOG_ERR(NULL, "push: %s: %s", pidfile, strerror(errno));
			return 1;
		}
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
	LOG_INFO(NULL, "push: listening on %s (at most %d clients, %d send "
	    "threads)", cfg.push_listen, cfg.push_max_clients, send_threads() + 1);

	ev_run(srv.loop, 0);

	LOG_INFO(NULL, "push: stopped: %llu accepted, %llu refused, %llu events, "
	    "%llu deliveries, %llu slow consumers closed, %llu expired tokens, "
	    "%llu polling sessions (%llu upgraded)",
	    (unsigned long long)srv.stats.accepted,
	    (unsigned long long)srv.stats.refused,
	    (unsigned long long)srv.stats.events,
	    (unsigned long long)srv.stats.delivered,
	    (unsigned long long)srv.stats.slow_closed,
	    (unsigned long long)srv.stats.expired,
	    (unsigned long long)srv.stats.sessions,
	    (unsigned long long)srv.stats.upgrades);
	feed_stop();
	send_stop();
	client_reap();
	polling_free_all();
	for (fd = 0; fd < srv.clients_cap; fd++)
		if (srv.clients[fd] != NULL)
			client_free(srv.clients[fd]);
	if (srv.lfd >= 0)
		close(srv.lfd);
	if (srv.spare_fd >= 0)
		close(srv.spare_fd);
	rooms_free();
	free(srv.clients);
	free(srv.pending);
	free(srv.jobs);
	free(srv.closing);
	msg_unref(srv.keepalive);
	msg_unref(srv.keepalive);
	msg_unref(srv.ping);
	msg_unref(srv.ping);
	msg_unref(srv.polling_ping);
	msg_unref(srv.polling_ping);
	msg_unref(srv.polling_sep);
	msg_unref(srv.polling_sep);
	for (fd = 0; fd < srv.norigins; fd++)
		free(srv.origins[fd]);
	free(srv.origins);
	auth_keys_free(&srv.keys);
	ev_loop_destroy(srv.loop);
	if (pidfile != NULL)
		unlink(pidfile);
	config_free();
	return 0;
}

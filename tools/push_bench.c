/* push_bench.c: load generator for make bench: N Socket.IO subscribers over WebSocket or long-polling, the broadcaster's RSS per idle client, publish-to-delivery latency and first-to-last spread of fan-outs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "agent.h"

/*
 * Each connection does what socket.io-client does with transports
 * ['websocket']: the upgrade, the open packet, CONNECT with the token,
 * then 421["subscribe:jobs"] and waits for its ack; it answers pings.
 * With --polling each subscriber is a long-polling session instead, as
 * with transports ['polling']: the handshake GET, CONNECT and the
 * subscription POSTed, then always one GET held (a new connection per
 * request, as the server closes each); pings are answered by a POST.
 * Events carry the publisher's wall clock ({"t":ms,"seq":k}); the
 * latency of a delivery is the receiver's clock minus t (one machine).
 */
enum state { S_HTTP, S_OPEN, S_CONNECT, S_SUB, S_READY, S_DEAD };

struct conn {
	int		 fd;
	enum state	 state;
	size_t		 len;
	char		 buf[2048];
};

static struct conn	*conns;
static int		 nconns, ready, dead, epfd, port;
static const char	*token;
static double		*lat;
static size_t		 nlat, lat_cap;
static int		 cur_seq = -1, got_cur;
static double		 cur_first, cur_last;	/* the current event's deliveries */
static double		 t_pub;			/* when the current event was published */

/* A long-polling session and its (at most two) requests in flight. */
enum pstate { P_HS, P_CONNECT, P_SUB, P_READY, P_DEAD };
struct psess;
struct pconn {
	int		 fd;		/* -1: none in flight */
	int		 post;		/* a POST, else a GET */
	struct psess	*s;
	size_t		 len;
	char		 buf[4096];
};
struct psess {
	enum pstate	 state;
	char		 sid[32];
	struct pconn	 get, post;
	int		 pong_due;	/* a pong waits for the POST in flight */
};
static struct psess	*sessions;
static int		 polling;
static struct psess	**repoll;	/* GETs to send after the batch in hand is read */
static size_t		 nrepoll;

static double
wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A masked client text frame (mask key zero: the payload goes as is). */
static void
send_text(struct conn *c, const char *p, size_t n)
{
	char	f[8192];
	size_t	hl;

	if (n > sizeof(f) - 8)
		return;
	f[0] = (char)0x81;
	if (n < 126) {
		f[1] = (char)(0x80 | n);
		hl = 2;
	} else {
		f[1] = (char)(0x80 | 126);
		f[2] = (char)(n >> 8);
		f[3] = (char)n;
		hl = 4;
	}
	memset(f + hl, 0, 4);
	memcpy(f + hl + 4, p, n);
	if (send(c->fd, f, hl + 4 + n, MSG_NOSIGNAL) != (ssize_t)(hl + 4 + n))
		c->state = S_DEAD;
}

static void
kill_conn(struct conn *c)
{
	if (c->state == S_DEAD)
		return;
	if (c->state == S_READY)
		ready--;
	c->state = S_DEAD;
	dead++;
	close(c->fd);
}

/* A job:new packet p[0..n) arrived: its latency, and whether it is the event awaited. */
static void
record(const char *p, size_t n)
{
	const char	*t, *sq;
	double		 sent, now = wall_ms();

	if ((t = memmem(p, n, "\"t\":", 4)) == NULL)
		return;
	sent = strtod(t + 4, NULL);
	if (nlat == lat_cap) {
		lat_cap = lat_cap ? lat_cap * 2 : 65536;
		lat = xrealloc(lat, lat_cap * sizeof(*lat));
	}
	lat[nlat++] = now - sent;
	if ((sq = memmem(p, n, "\"seq\":", 6)) != NULL && atoi(sq + 6) == cur_seq) {
		if (got_cur++ == 0)
			cur_first = now;
		cur_last = now;
	}
}

static void
on_text(struct conn *c, const char *p, size_t n)
{
	char		 msg[4200];

	if (n == 1 && p[0] == '2') {
		send_text(c, "3", 1);
		return;
	}
	switch (c->state) {
	case S_OPEN:
		if (n > 0 && p[0] == '0') {
			snprintf(msg, sizeof(msg), "40{\"token\":\"%s\"}", token);
			send_text(c, msg, strlen(msg));
			c->state = S_CONNECT;
		}
		break;
	case S_CONNECT:
		if (n >= 3 && memcmp(p, "40{", 3) == 0) {
			send_text(c, "421[\"subscribe:jobs\"]", 21);
			c->state = S_SUB;
		} else
			kill_conn(c);
		break;
	case S_SUB:
		if (n >= 3 && memcmp(p, "431", 3) == 0) {
			c->state = S_READY;
			ready++;
		}
		break;
	case S_READY:
		if (n > 12 && memcmp(p, "42[\"job:new\"", 12) == 0)
			record(p, n);
		break;
	default:
		break;
	}
}

/* Consume complete frames from c->buf. */
static void
frames(struct conn *c)
{
	unsigned char	*b = (unsigned char *)c->buf;
	size_t		 off = 0, hl, n;

	for (;;) {
		if (c->len - off < 2)
			break;
		n = b[off + 1] & 0x7f;
		hl = 2;
		if (n == 126) {
			if (c->len - off < 4)
				break;
			n = (size_t)b[off + 2] << 8 | b[off + 3];
			hl = 4;
		} else if (n == 127) {
			kill_conn(c);	/* never this big here */
			return;
		}
		if (c->len - off < hl + n)
			break;
		if ((b[off] & 0x0f) == 1)
			on_text(c, c->buf + off + hl, n);
		else if ((b[off] & 0x0f) == 8) {
			kill_conn(c);
			return;
		}
		off += hl + n;
		if (c->state == S_DEAD)
			return;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
}

static void
on_readable(struct conn *c)
{
	char	*end;
	ssize_t	 r;
	int	 full;

	for (;;) {
		if (c->len == sizeof(c->buf)) {
			kill_conn(c);
			return;
		}
		r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			kill_conn(c);
			return;
		}
		if (r < 0)
			return;
		c->len += (size_t)r;
		full = c->len == sizeof(c->buf);
		if (c->state == S_HTTP) {
			c->buf[c->len < sizeof(c->buf) ? c->len : c->len - 1] = '\0';
			if ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
				continue;
			if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0) {
				kill_conn(c);
				return;
			}
			end += 4;
			c->len -= (size_t)(end - c->buf);
			memmove(c->buf, end, c->len);
			c->state = S_OPEN;
		}
		frames(c);
		/*
		 * A short read took all there was: epoll (level-triggered)
		 * says when more comes.  Not asking again until EAGAIN saves
		 * a system call per delivery, on the cores the server uses.
		 */
		if (c->state == S_DEAD || !full)
			return;
	}
}

static int
open_conn(struct conn *c)
{
	static const char req[] = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	struct epoll_event	ev = { .events = EPOLLIN };
	int			one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd == -1)
		return -1;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1) {
		close(c->fd);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->state = S_HTTP;
	c->len = 0;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

/* Connect to the server and send req whole; the answer is read from the loop. */
static int
p_open(struct pconn *pc, const char *req, size_t n)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	struct epoll_event	ev = { .events = EPOLLIN };
	int			fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	pc->fd = fd;
	pc->len = 0;
	ev.data.ptr = pc;
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

static void
p_kill(struct psess *s)
{
	if (s->state == P_DEAD)
		return;
	if (s->state == P_READY)
		ready--;
	s->state = P_DEAD;
	dead++;
	if (s->get.fd >= 0)
		close(s->get.fd);
	if (s->post.fd >= 0)
		close(s->post.fd);
	s->get.fd = s->post.fd = -1;
}

static void
p_get(struct psess *s)
{
	char	req[256];
	int	n;

	n = snprintf(req, sizeof(req), "GET /socket.io/?EIO=4&transport=polling%s%s "
	    "HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	    *s->sid ? "&sid=" : "", s->sid);
	if (p_open(&s->get, req, (size_t)n) == -1)
		p_kill(s);
}

static void
p_post(struct psess *s, const char *body)
{
	char	req[4600];
	int	n;

	if (s->post.fd >= 0) {		/* one POST at a time: only pongs wait */
		s->pong_due = 1;
		return;
	}
	n = snprintf(req, sizeof(req), "POST /socket.io/?EIO=4&transport=polling&sid=%s "
	    "HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", s->sid,
	    strlen(body), body);
	if (n >= (int)sizeof(req) || p_open(&s->post, req, (size_t)n) == -1)
		p_kill(s);
}

/* A whole response (the server closes after it): act on it, then poll again. */
static void
p_response(struct pconn *pc)
{
	struct psess	*s = pc->s;
	char		*body, *p, *end, *sep, msg[4200];
	int		 status = 0;

	pc->buf[pc->len < sizeof(pc->buf) ? pc->len : pc->len - 1] = '\0';
	if (sscanf(pc->buf, "HTTP/1.1 %d", &status) != 1 || status != 200 ||
	    (body = strstr(pc->buf, "\r\n\r\n")) == NULL) {
		p_kill(s);
		return;
	}
	body += 4;
	if (pc->post) {
		if (s->state == P_CONNECT && s->get.fd < 0)
			p_get(s);
		if (s->pong_due) {
			s->pong_due = 0;
			p_post(s, "3");
		}
		return;
	}
	if (s->state == P_HS) {
		if (strncmp(body, "0{\"sid\":\"", 9) != 0 ||
		    sscanf(body + 9, "%31[^\"]", s->sid) != 1) {
			p_kill(s);
			return;
		}
		s->state = P_CONNECT;
		snprintf(msg, sizeof(msg), "40{\"token\":\"%s\"}", token);
		p_post(s, msg);
		return;
	}
	for (p = body, end = body + strlen(body); p < end; p = sep + 1) {
		if ((sep = memchr(p, '\x1e', (size_t)(end - p))) == NULL)
			sep = end;
		if (sep - p == 1 && *p == '2')
			p_post(s, "3");
		else if (sep - p == 1 && *p == '1') {
			p_kill(s);
			return;
		} else if (s->state == P_CONNECT && strncmp(p, "40{", 3) == 0) {
			s->state = P_SUB;
			p_post(s, "421[\"subscribe:jobs\"]");
		} else if (s->state == P_SUB && strncmp(p, "431", 3) == 0) {
			s->state = P_READY;
			ready++;
		} else if (s->state == P_READY && sep - p > 12 &&
		    memcmp(p, "42[\"job:new\"", 12) == 0)
			record(p, (size_t)(sep - p));
	}
	if (s->state != P_DEAD)
		repoll[nrepoll++] = s;	/* once the other answers are read */
}

static void
p_readable(struct pconn *pc)
{
	ssize_t	r;

	for (;;) {
		if (pc->len == sizeof(pc->buf)) {
			p_kill(pc->s);
			return;
		}
		r = recv(pc->fd, pc->buf + pc->len, sizeof(pc->buf) - pc->len, 0);
		if (r > 0) {
			pc->len += (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close(pc->fd);		/* EOF (or an error): the response is whole */
		pc->fd = -1;
		if (r < 0) {
			p_kill(pc->s);
			return;
		}
		p_response(pc);
		return;
	}
}

static void
poll_once(int ms)
{
	struct epoll_event	evs[1024];
	int			n, i;

	n = epoll_wait(epfd, evs, 1024, ms);
	for (i = 0; i < n; i++) {
		if (polling) {
			struct pconn *pc = evs[i].data.ptr;

			if (pc->fd >= 0 && pc->s->state != P_DEAD)
				p_readable(pc);
		} else
			on_readable(evs[i].data.ptr);
	}
	while (nrepoll > 0) {
		struct psess *s = repoll[--nrepoll];

		if (s->state != P_DEAD && s->get.fd < 0)
			p_get(s);
	}
}

static long
rss_kb_one(long pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * The summed RSS of a comma-separated list of pids (the processes of a
 * cluster), or -1 when one of them is gone.
 */
static long
rss_kb(const char *pids)
{
	const char	*p = pids;
	char		*end;
	long		 pid, kb, sum = 0;

	do {
		pid = strtol(p, &end, 10);
		if (end == p || pid <= 0 || (kb = rss_kb_one(pid)) < 0)
			return -1;
		sum += kb;
		p = end + (*end == ',');
	} while (*end == ',');
	return *end == '\0' ? sum : -1;
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "connections", required_argument, NULL, 'n' },
		{ "events", required_argument, NULL, 'e' },
		{ "tenant", required_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'P' },
		{ "polling", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct redis	 rd = { 0 };
	struct rlimit	 rl;
	const char	*tenant = "org_bench";
	char		 data[128], id[64];
	const char	*pids = NULL;
	long		 rss0 = -1, rss1 = -1, rss_half = -1;
	int		 ready_half = 0;
	double		 t0, tconn, t, *spread;
	int		 nevents = 20, opened = 0, i, ch, k;

	log_init("push_bench");
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'n': nconns = atoi(optarg); break;
		case 'e': nevents = atoi(optarg); break;
		case 't': tenant = optarg; break;
		case 'P': pids = optarg; break;
		case 'L': polling = 1; break;
		default:
			fprintf(stderr, "usage: push_bench --port P --connections N "
			    "[--events E] [--tenant T] [--pid PID[,PID...]] [--polling]\n"
			    "  PUSH_BENCH_TOKEN: a token of the tenant; APP_CONFIG: Redis\n");
			return 2;
		}
	}
	if (port <= 0 || nconns <= 0 || (token = getenv("PUSH_BENCH_TOKEN")) == NULL ||
	    agent_config_load() == -1) {
		fprintf(stderr, "push_bench: --port, --connections, PUSH_BENCH_TOKEN and APP_CONFIG are needed\n");
		return 2;
	}
	log_set_level("error");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	conns = xcalloc((size_t)nconns, sizeof(*conns));
	sessions = xcalloc((size_t)nconns, sizeof(*sessions));
	repoll = xcalloc((size_t)nconns, sizeof(*repoll));
	for (i = 0; i < nconns; i++) {
		sessions[i].get.fd = sessions[i].post.fd = -1;
		sessions[i].get.s = sessions[i].post.s = &sessions[i];
		sessions[i].post.post = 1;
	}
	epfd = epoll_create1(0);
	if (pids != NULL)
		rss0 = rss_kb(pids);

	/*
	 * Connect, at most 500 handshakes in flight.  Halfway, idle a
	 * moment and read the RSS too: the growth from half to all is the
	 * cost of one more client, without what the process pays once.
	 */
	t0 = now_ms();
	while (ready + dead < nconns && now_ms() - t0 < 120000) {
		if (pids != NULL && rss_half < 0 && opened == nconns / 2 &&
		    ready + dead == opened) {
			for (t = now_ms(); now_ms() - t < 1000;)
				poll_once(50);
			rss_half = rss_kb(pids);
			ready_half = ready;
		}
		while (opened < nconns && opened - ready - dead < 500 &&
		    (pids == NULL || rss_half >= 0 || opened < nconns / 2)) {
			if (polling)
				p_get(&sessions[opened]);
			else if (open_conn(&conns[opened]) == -1) {
				conns[opened].state = S_DEAD;
				dead++;
			}
			opened++;
		}
		poll_once(10);
	}
	tconn = (now_ms() - t0) / 1000.0;
	/* Idle a moment, answering pings, then read the broadcaster's RSS. */
	for (t = now_ms(); now_ms() - t < 1000;)
		poll_once(50);
	if (pids != NULL)
		rss1 = rss_kb(pids);

	/*
	 * Fan-out: one event at a time, each to every subscriber.  An
	 * event's spread is the time from its first delivery to its last.
	 */
	spread = xcalloc((size_t)(nevents > 0 ? nevents : 1), sizeof(*spread));
	nlat = 0;
	for (k = 0; k < nevents; k++) {
		cur_seq = k;
		got_cur = 0;
		t_pub = wall_ms();
		snprintf(data, sizeof(data), "{\"t\":%.3f,\"seq\":%d}", t_pub, k);
		if (events_publish(&rd, "job:new", tenant, NULL, data, id,
		    sizeof(id)) == -1) {
			fprintf(stderr, "push_bench: publish failed\n");
			break;
		}
		for (t = now_ms(); got_cur < ready && now_ms() - t < 5000;)
			poll_once(5);
		for (t = now_ms(); now_ms() - t < 50;)
			poll_once(5);
		spread[k] = got_cur > 0 ? cur_last - cur_first : 0;
		if (getenv("PUSH_BENCH_TRACE") != NULL)
			fprintf(stderr, "event %d: first %.1f ms after publish, spread %.1f ms\n", k, cur_first - t_pub, spread[k]);
	}
	if (nlat > 0)	/* lat is NULL until the first delivery */
		qsort(lat, nlat, sizeof(*lat), cmp);
	qsort(spread, (size_t)k, sizeof(*spread), cmp);
	printf("connections=%d ready=%d failed=%d connect_s=%.2f\n", nconns,
	    ready, dead, tconn);
	if (rss0 >= 0 && rss1 >= 0)
		printf("rss_before_kb=%ld rss_after_kb=%ld per_conn_bytes=%.0f "
		    "marginal_bytes=%.0f\n", rss0, rss1,
		    ready > 0 ? (rss1 - rss0) * 1024.0 / ready : 0,
		    rss_half >= 0 && ready > ready_half ? (rss1 - rss_half) *
		    1024.0 / (ready - ready_half) : 0);
	printf("events=%d deliveries=%zu expected=%lld\n", nevents, nlat,
	    (long long)nevents * ready);
	if (nlat > 0)
		printf("p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", lat[nlat / 2],
		    lat[(size_t)(nlat * 0.99)], lat[nlat - 1]);
	if (k > 0)
		printf("spread_p50_ms=%.2f spread_p99_ms=%.2f spread_max_ms=%.2f\n",
		    spread[k / 2], spread[(size_t)(k * 0.99)], spread[k - 1]);
	for (i = 0; i < nconns; i++) {
		if (polling)
			p_kill(&sessions[i]);
		else if (conns[i].state != S_DEAD)
			close(conns[i].fd);
	}
	free(conns);
	free(sessions);
	free(repoll);
	free(lat);
	free(spread);
	redis_close(&rd);
	config_free();
	return 0;
}

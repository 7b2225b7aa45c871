/* worker.c: process setup, the worker supervisor, an accept that stops on SIGTERM, and the plain CGI transport. */
#include <sys/wait.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define CGI_BUF	8192

extern char	**environ;

static volatile sig_atomic_t	stopping, reloading;

static int	app_free(struct app *, FCGX_Request *);

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

static void
on_hup(int sig)
{
	(void)sig;
	reloading = 1;
	FCGX_ShutdownPending();		/* a lone worker: out of accept */
}

/*
 * SIGHUP: start again from the top, the configuration read anew and
 * checked as at start, by executing this program again in place (the
 * file at its path: a rebuilt or upgraded one runs): the same pid (for
 * systemd and pid files), the listening socket (fd 0) and the
 * environment kept, nothing to forget.  The old workers get
 * SIGTERM and finish the requests they are serving; the new program's
 * supervisor reaps them and starts its own.  If the exec fails the
 * program goes on as it was, its workers replaced as they end.
 */
static void
reexec(struct app *app, pid_t *kids, int n)
{
	char		 self[4096], *argv[2];
	sigset_t	 hup;
	ssize_t		 len;
	int		 i;

	reloading = 0;
	for (i = 0; i < n; i++)
		if (kids[i] != 0)
			kill(kids[i], SIGTERM);
	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		len = 0;
	self[len] = '\0';
	if (len > 10 && strcmp(self + len - 10, " (deleted)") == 0)
		self[len - 10] = '\0';
	LOG_INFO(NULL, "%s: SIGHUP: reading the configuration again", app->name);
	argv[0] = self;
	argv[1] = NULL;
	/* Another SIGHUP waits for the new program's handler (app_init()). */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_BLOCK, &hup, NULL);
	/* The program at its path: a rebuilt or upgraded one runs. */
	if (*self != '\0')
		execv(self, argv);
	execv("/proc/self/exe", argv);
	sigprocmask(SIG_UNBLOCK, &hup, NULL);
	LOG_ERR(NULL, "%s: SIGHUP: cannot execute %s again: %s; going on "
	    "with the configuration it has", app->name, self, strerror(errno));
}

static void
stop_all(pid_t *kids, int n)
{
	int	i, status;

	for (i = 0; i < n; i++)
		if (kids[i] != 0)
			kill(kids[i], SIGTERM);
	for (i = 0; i < n; i++)
		while (kids[i] != 0)
			if (waitpid(kids[i], &status, 0) == kids[i] ||
			    errno != EINTR)
				kids[i] = 0;
}

/*
 * The supervisor: keep n workers alive until SIGTERM, then pass the
 * signal on, wait for them to finish their current request, and exit.
 * A worker that dies (out of memory, a crash) is replaced; one that
 * dies at once is replaced after a pause, so a broken binary cannot
 * fork-bomb the host.  Returns only in a new worker.
 */
static void
supervise(struct app *app, int n)
{
	pid_t	*kids = xcalloc((size_t)n, sizeof(pid_t));
	double	*born = xcalloc((size_t)n, sizeof(double));
	pid_t	 pid;
	int	 i, status;

	while (!stopping) {
		if (reloading)
			reexec(app, kids, n);
		for (i = 0; i < n && !stopping && !reloading; i++) {
			if (kids[i] != 0)
				continue;
			if (born[i] != 0 && now_ms() - born[i] < 1000)
				sleep(1);
			if ((pid = fork()) == -1) {
				LOG_ERR(NULL, "%s: fork: %s", app->name,
				    strerror(errno));
				sleep(1);
				continue;
			}
			if (pid == 0) {
				/* The supervisor reloads; a worker just serves. */
				signal(SIGHUP, SIG_IGN);
				free(kids);
				free(born);
				return;
			}
			kids[i] = pid;
			born[i] = now_ms();
		}
		if (stopping || reloading ||
		    (pid = waitpid(-1, &status, 0)) == -1)
			continue;
		for (i = 0; i < n; i++)
			if (kids[i] == pid) {
				kids[i] = 0;
				LOG_WARN(NULL, "%s: worker %ld ended (status %d), "
				    "starting another", app->name, (long)pid,
				    status);
			}
	}
	stop_all(kids, n);
	free(kids);
	free(born);
	app_free(app, NULL);
	exit(0);
}

/* Release everything app_init() and the requests set up; returns main's exit status. */
static int
app_free(struct app *app, FCGX_Request *r)
{
	if (r != NULL)
		FCGX_Free(r, 1);
	db_close(&app->db);
	redis_close(&app->redis);
	cache_free();
	auth_keys_free(&app->keys);
	cors_free();
	metrics_close();
	config_free();
	return 0;
}

/*
 * Set up a FastCGI program: log, config, keys, signals.  Connections to
 * PostgreSQL and Redis are opened lazily by each worker, never here, so
 * no socket is shared across fork.  Returns -1 (after logging why) if
 * the program cannot serve.
 */
int
app_init(struct app *app, const char *name)
{
	struct sigaction	sa;

	memset(app, 0, sizeof(*app));
	app->name = name;
	app->redis.pg = &app->db;	/* the shared state without Redis */
	/*
	 * Keep freed memory for the next request instead of handing it back
	 * to the kernel: a request that sorts many rows allocates and frees
	 * a few MB, and fresh pages cost page faults (10% of its CPU).  The
	 * heap stays at the largest request's size.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
	log_init(name);
	if (config_load() == -1 || config_check() == -1)
		return -1;
	log_set_level(cfg.log_level);
	if (auth_keys_load(&app->keys, &cfg) == -1 ||
	    cors_load(cfg.cors_origins) == -1)
		return -1;
	signals_init(on_term, NULL);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sigaddset(&sa.sa_mask, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
	if (FCGX_Init() != 0) {
		LOG_ERR(NULL, "%s: FCGX_Init failed", name);
		return -1;
	}
	return 0;
}

/* FCGX_Accept_r, except that it returns -1 once SIGTERM (or, alone, SIGHUP) has arrived. */
static int
app_accept(FCGX_Request *r)
{
	if (stopping || reloading)
		return -1;
	return FCGX_Accept_r(r);
}

/*
 * The CGI transport.  A program run as a CGI (fd 0 not a listening
 * socket: FCGX_IsCGI(), as libfcgi tells) serves the one request its
 * environment describes: stdin and stdout become the FCGX_Streams of an
 * FCGX_Request whose parameters are the environment, so that everything
 * above (http_dispatch(), the request, the response) is the same code
 * for both transports.  The streams follow libfcgi's contract: a reader
 * fills [rdNext, stop) or closes at the end; a writer empties [buf,
 * wrNext) and closes on error, keeping the errno.
 */
struct cgi_stream {
	FCGX_Stream	 s;
	int		 fd;
	long long	 left;		/* reader: bytes still to read; writer: -1 */
	unsigned char	 buf[CGI_BUF];
};

static void
cgi_fill(FCGX_Stream *s)
{
	struct cgi_stream	*c = s->data;
	size_t			 want = sizeof(c->buf);
	ssize_t			 got;

	if ((long long)want > c->left)
		want = (size_t)c->left;
	got = 0;
	while (want > 0 && (got = read(c->fd, c->buf, want)) == -1 &&
	    errno == EINTR)
		;
	if (want == 0 || got <= 0) {
		if (got == -1)
			s->FCGI_errno = errno;
		s->isClosed = 1;
		s->rdNext = s->stop = c->buf;
		return;
	}
	c->left -= got;
	s->rdNext = s->stopUnget = c->buf;
	s->stop = c->buf + got;
}

static void
cgi_empty(FCGX_Stream *s, int closing)
{
	struct cgi_stream	*c = s->data;
	unsigned char		*p = c->buf;
	ssize_t			 put;

	(void)closing;
	while (p < s->wrNext && !s->isClosed) {
		if ((put = write(c->fd, p, (size_t)(s->wrNext - p))) > 0)
			p += put;
		else if (put == -1 && errno != EINTR) {
			s->FCGI_errno = errno;	/* the client went away: EPIPE */
			s->isClosed = 1;
		}
	}
	s->wrNext = c->buf;
	s->stop = c->buf + sizeof(c->buf);
}

/* A stream on fd; a reader ends after left bytes. */
static void
cgi_stream_init(struct cgi_stream *c, int fd, int reader, long long left)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->left = left;
	c->s.data = c;
	c->s.isReader = reader;
	c->s.fillBuffProc = cgi_fill;
	c->s.emptyBuffProc = cgi_empty;
	if (reader)
		c->s.rdNext = c->s.stop = c->s.stopUnget = c->s.wrNext = c->buf;
	else {
		c->s.wrNext = c->buf;
		c->s.stop = c->s.rdNext = c->buf + sizeof(c->buf);
	}
}

/*
 * The body a CGI may read: CONTENT_LENGTH bytes (RFC 3875, 4.2: never
 * more, and none without it; dispatch answers 411 to a body without a
 * length anyway); none when it is not a number (req_read_body()
 * refuses it).  So stdin, a terminal or a pipe nobody closes, never blocks.
 */
static long long
cgi_body_length(void)
{
	const char	*cl = getenv("CONTENT_LENGTH");
	long long	 v;

	if (cl == NULL || parse_int64(cl, &v) == -1 || v < 0)
		return 0;
	return v;
}

/*
 * Read what is left of the body (an answer given without reading it: a
 * 405, 413, 415), at most CONTENT_LENGTH bytes: a CGI that exits with
 * its stdin unread makes Apache's mod_cgid fail writing the body and
 * reset the connection, the answer lost.
 */
static void
cgi_drain(FCGX_Stream *in)
{
	char	sink[CGI_BUF];

	while (FCGX_GetStr(sink, sizeof(sink), in) > 0)
		;
}

/* Serve the one request of a CGI run; returns main's exit status. */
static int
cgi_serve(struct app *app, const struct route *routes, size_t n,
    int (*init)(struct app *))
{
	static struct cgi_stream	in, out, err;
	FCGX_Request			req;
	int				rc = 1;

	/* A lease would die with this process, its permits counted unused. */
	cfg.rl_lease_max = 1;
	cgi_stream_init(&in, STDIN_FILENO, 1, cgi_body_length());
	cgi_stream_init(&out, STDOUT_FILENO, 0, -1);
	cgi_stream_init(&err, STDERR_FILENO, 0, -1);
	memset(&req, 0, sizeof(req));
	req.in = &in.s;
	req.out = &out.s;
	req.err = &err.s;
	req.envp = environ;
	req.ipcFd = -1;
	if (init == NULL || init(app) == 0) {
		http_dispatch(app, &req, routes, n);
		FCGX_FFlush(&out.s);
		FCGX_FFlush(&err.s);
		cgi_drain(&in.s);
		rc = 0;
	}
	app_free(app, NULL);
	return rc;
}

/*
 * Serve until SIGTERM: the workers (cfg.workers > 1), init(app) in each
 * before its first request, then the accept loop around
 * http_dispatch() of the route table; run as a CGI, the one request of
 * the environment.  Returns main's exit status.
 */
int
app_serve(struct app *app, const struct route *routes, size_t n,
    int (*init)(struct app *))
{
	FCGX_Request	fcgi;

	metrics_open(app->name, routes, n);	/* shared by the workers */
	if (FCGX_IsCGI())
		return cgi_serve(app, routes, n, init);
	if (cfg.workers > 1)
		supervise(app, cfg.workers);
	FCGX_InitRequest(&fcgi, 0, 0);
	if (init != NULL && init(app) == -1) {
		app_free(app, &fcgi);
		return 1;
	}
	while (app_accept(&fcgi) >= 0) {
		http_dispatch(app, &fcgi, routes, n);
		FCGX_Finish_r(&fcgi);
	}
	if (reloading && !stopping) {		/* a lone worker (workers = 1) */
		FCGX_Free(&fcgi, 0);		/* the socket stays open */
		reexec(app, NULL, 0);
	}
	return app_free(app, &fcgi);
}

/* An endpoint's whole main(), for a program of the platform alone. */
int
app_main(const char *name, const struct route *routes, size_t n)
{
	struct app	app;

	if (app_init(&app, name) == -1)
		return 1;
	return app_serve(&app, routes, n, NULL);
}

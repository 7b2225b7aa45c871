/* worker.c: process setup, the worker supervisor, and an accept that stops on SIGTERM. */
#include <sys/wait.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t	stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

/* No SA_RESTART: a blocked accept(2) or waitpid(2) must see the signal. */
static void
catch_term(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
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
		for (i = 0; i < n && !stopping; i++) {
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
				free(kids);
				free(born);
				return;
			}
			kids[i] = pid;
			born[i] = now_ms();
		}
		if (stopping || (pid = waitpid(-1, &status, 0)) == -1)
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

/*
 * Set up a FastCGI program: config, log, keys, signals, and the worker
 * processes.  Connections to PostgreSQL and Redis are opened lazily by
 * each worker, never by the supervisor, so no socket is shared across
 * fork.  Returns -1 (after logging why) if the program cannot serve.
 */
int
app_init(struct app *app, const char *name, FCGX_Request *r)
{
	memset(app, 0, sizeof(*app));
	app->name = name;
	/*
	 * Keep freed memory for the next request instead of handing it back
	 * to the kernel: a ranking by match allocates and frees a few MB per
	 * request, and fresh pages cost page faults (10% of its CPU).  The
	 * heap stays at the largest request's size.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
	log_init(name);
	if (config_load() == -1)
		return -1;
	log_set_level(cfg.log_level);
	if (auth_keys_load(&app->keys, &cfg) == -1)
		return -1;
	catch_term();
	if (FCGX_Init() != 0) {
		LOG_ERR(NULL, "%s: FCGX_Init failed", name);
		return -1;
	}
	if (cfg.workers > 1 && !FCGX_IsCGI())
		supervise(app, cfg.workers);
	FCGX_InitRequest(r, 0, 0);
	return 0;
}

/* FCGX_Accept_r, except that it returns -1 once SIGTERM has arrived. */
int
app_accept(struct app *app, FCGX_Request *r)
{
	(void)app;
	if (stopping)
		return -1;
	return FCGX_Accept_r(r);
}

/* Release everything app_init() and the requests set up; returns main's exit status. */
int
app_free(struct app *app, FCGX_Request *r)
{
	if (r != NULL)
		FCGX_Free(r, 1);
	db_close(&app->db);
	redis_close(&app->redis);
	cache_free();
	auth_keys_free(&app->keys);
	config_free();
	return 0;
}

int
app_main(const char *name, const struct route *routes, size_t n)
{
	return app_main_init(name, routes, n, NULL);
}

/* app_main() with init(app) run in each worker before its first request. */
int
app_main_init(const char *name, const struct route *routes, size_t n,
    int (*init)(struct app *))
{
	struct app	app;
	FCGX_Request	fcgi;

	if (app_init(&app, name, &fcgi) == -1 ||
	    (init != NULL && init(&app) == -1))
		return 1;
	while (app_accept(&app, &fcgi) >= 0) {
		http_dispatch(&app, &fcgi, routes, n);
		FCGX_Finish_r(&fcgi);
	}
	return app_free(&app, &fcgi);
}

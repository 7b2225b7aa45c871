/* cron.c: what the cron binaries share: flags, one run at a time (a PostgreSQL session advisory lock), a time budget, the tenants with work, the end of a run. */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define CRON_OPTS_MAX	16
#define CRON_HARD_GRACE	60		/* seconds past --max-seconds before SIGALRM */

static volatile sig_atomic_t	cron_stop;

static void
on_term(int sig)
{
	(void)sig;
	cron_stop = 1;
}

/*
 * The hard bound: a run still going CRON_HARD_GRACE seconds after its
 * time budget (a call stuck past every timeout) ends here.  The lock
 * goes with the process.
 */
static void
on_alarm(int sig)
{
	static const char msg[] = "{\"level\":\"error\",\"msg\":\"cron: the "
	    "run passed its hard time limit and was ended\"}\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(CRON_FAILED);
}

static void
usage(const struct cron *c, const char *extra, FILE *f)
{
	fprintf(f, "usage: %s [--tenant ID] [--dry-run] [--verbose] "
	    "[--max-seconds N]%s%s\n"
	    "  --tenant ID       only this tenant\n"
	    "  --dry-run         read and report, change nothing\n"
	    "  --verbose         debug log lines\n"
	    "  --max-seconds N   start no work after N seconds (cron_max_seconds)\n"
	    "  --help            this text\n"
	    "Configuration: APP_CONFIG names the file; APP_<KEY> overrides.\n",
	    c->name, extra ? " " : "", extra ? extra : "");
}

/* Predicate: a tenant id as the schema allows it: [A-Za-z0-9_.:@|-]{1,137}. */
static int
tenant_valid(const char *s)
{
	size_t	n = strlen(s);

	if (n > 137)
		return 0;
	return n > 128 ? ident_valid(s, 128) && ident_valid(s + 128, n - 128) :
	    ident_valid(s, n);
}

/*
 * Load the configuration and parse the flags: the common ones, then
 * extra (long options only, each handed to on_opt, which returns -1 to
 * refuse the value).  Returns 0, or -1 with c->status the exit status:
 * 0 after --help, CRON_USAGE for a bad flag, CRON_FAILED for a bad
 * configuration.
 */
int
cron_init(struct cron *c, const char *name, int argc, char **argv,
    const struct option *extra, int (*on_opt)(int, const char *),
    const char *extra_usage)
{
	static const struct option common[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "max-seconds", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option		 opts[CRON_OPTS_MAX];
	size_t			 n = 0, i;
	long long		 v;
	int			 ch;

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->redis.pg = &c->db;	/* the shared state without Redis */
	c->t0 = now_ms();
	log_init(name);
	if (config_load() == -1 || config_check() == -1) {
		c->status = CRON_FAILED;
		return -1;
	}
	log_set_level(cfg.log_level);
	c->max_seconds = cfg.cron_max_seconds;
	for (i = 0; i < nitems(common); i++)
		opts[n++] = common[i];
	for (i = 0; extra != NULL && extra[i].name != NULL &&
	    n < CRON_OPTS_MAX - 1; i++)
		opts[n++] = extra[i];
	memset(&opts[n], 0, sizeof(opts[n]));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "t:nvm:h", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (!tenant_valid(optarg)) {
				fprintf(stderr, "%s: --tenant: not a tenant id\n", name);
				c->status = CRON_USAGE;
				return -1;
			}
			c->tenant = optarg;
			break;
		case 'n':
			c->dry_run = 1;
			break;
		case 'v':
			c->verbose = 1;
			break;
		case 'm':
			if (parse_int64(optarg, &v) == -1 || v < 1 || v > 86400) {
				fprintf(stderr, "%s: --max-seconds: 1 to 86400\n", name);
				c->status = CRON_USAGE;
				return -1;
			}
			c->max_seconds = (int)v;
			break;
		case 'h':
			usage(c, extra_usage, stdout);
			c->status = 0;
			return -1;
		default:
			if (ch >= 256 && on_opt != NULL &&
			    on_opt(ch, optarg) == 0)
				break;
			if (ch >= 256)
				fprintf(stderr, "%s: invalid value for an option\n",
				    name);
			usage(c, extra_usage, stderr);
			c->status = CRON_USAGE;
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument: %s\n", name, argv[optind]);
		usage(c, extra_usage, stderr);
		c->status = CRON_USAGE;
		return -1;
	}
	if (c->verbose)
		log_set_level("debug");
	/* A database older than the program: refuse before any work. */
	if (db_schema_need() > 0 && db_schema_check(&c->db) == -1) {
		c->status = CRON_FAILED;
		return -1;
	}
	metrics_open(name, NULL, 0);
	c->deadline = c->t0 + c->max_seconds * 1000.0;
	signals_init(on_term, on_alarm);
	alarm((unsigned)(c->max_seconds + CRON_HARD_GRACE));
	LOG_DEBUG(NULL, "%s: started%s%s%s", name, c->tenant ? " for " : "",
	    c->tenant ? c->tenant : "", c->dry_run ? " (dry run)" : "");
	return 0;
}

/*
 * One run at a time, across every host that runs the crontab: session
 * advisory locks on a connection kept only for them.  PostgreSQL
 * releases them when that session ends, so a run killed by anything
 * (kill -9, OOM, a reboot) never leaves them behind; a file lock would
 * only serialise one host.  A run over every tenant holds the binary's
 * lock exclusively; a --tenant run shares it and holds the tenant's
 * exclusively, so runs for different tenants may overlap, and nothing
 * overlaps a full run or another run for the same tenant.  Returns 1
 * (ours), 0 (another run has it) or -1.
 */
int
cron_lock(struct cron *c)
{
	/* The class numbers are the project's; hashtext() names the binary. */
	static const char	 all[] =
	    "SELECT pg_try_advisory_lock(727073691, hashtext($1))";
	static const char	 one[] =
	    "SELECT pg_try_advisory_lock_shared(727073691, hashtext($1))"
	    " AND pg_try_advisory_lock(727073692, hashtext($1 || ':' || $2))";
	const char		*params[2] = { c->name, c->tenant };
	struct db_query		 q = { c->tenant ? one : all, c->tenant ? 2 : 1,
				    params };
	PGresult		*res;
	int			 got;

	if (db_run_as(&c->lock, NULL, NULL, &q, 1, &res, NULL) == -1) {
		LOG_ERR(NULL, "%s: cannot reach PostgreSQL for the run lock", c->name);
		return -1;
	}
	got = *PQgetvalue(res, 0, 0) == 't';
	PQclear(res);
	if (!got)
		LOG_INFO(NULL, "%s: another run holds the lock%s%s; exiting", c->name,
		    c->tenant ? " for tenant " : "", c->tenant ? c->tenant : "");
	return got;
}

/*
 * Predicate: the lock's session is still there.  Nothing is pending on
 * that connection, so anything readable means the server ended it (a
 * restart): the lock is gone and another run may start.
 */
static int
lock_alive(struct cron *c)
{
	struct pollfd	pfd;

	if (c->lock.conn == NULL || PQstatus(c->lock.conn) != CONNECTION_OK)
		return 0;
	pfd.fd = PQsocket(c->lock.conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	return pfd.fd >= 0 && poll(&pfd, 1, 0) == 0;
}

/*
 * Predicate: start the next piece of work.  No after SIGTERM or Ctrl-C,
 * past the time budget, or when the run lock was lost (each logged
 * once).
 */
int
cron_go_on(struct cron *c)
{
	static int	told;

	if (cron_stop) {
		if (!told++)
			LOG_WARN(NULL, "%s: interrupted; stopping", c->name);
		c->interrupted = 1;
		return 0;
	}
	if (now_ms() >= c->deadline) {
		if (!told++)
			LOG_WARN(NULL, "%s: the time budget (%d s) is spent; the "
			    "rest is left to the next run", c->name, c->max_seconds);
		return 0;
	}
	if (c->lock.conn != NULL && !lock_alive(c)) {
		if (!told++)
			LOG_ERR(NULL, "%s: the run lock's session was lost; "
			    "stopping", c->name);
		c->interrupted = 1;
		return 0;
	}
	return 1;
}

/*
 * The tenants with work of this kind (the SQL function
 * scheduler_tenants(purpose, since)), or only --tenant when given and
 * it has work.
 * since is an SQL timestamptz or NULL.  Returns 0 with *ids (free with
 * cron_tenants_free()) or -1.
 */
int
cron_tenants(struct cron *c, const char *purpose, const char *since,
    char ***ids, size_t *n)
{
	static const char	 sql[] =
	    "SELECT t FROM scheduler_tenants($1, $2::timestamptz) t";
	const char		*params[2] = { purpose, since };
	struct db_query		 q = { sql, 2, params };
	PGresult		*res;
	int			 i;

	*ids = NULL;
	*n = 0;
	if (db_run_as(&c->db, NULL, NULL, &q, 1, &res, NULL) == -1) {
		LOG_ERR(NULL, "%s: cannot list the tenants with work", c->name);
		return -1;
	}
	*ids = xcalloc((size_t)PQntuples(res) + 1, sizeof(char *));
	for (i = 0; i < PQntuples(res); i++)
		if (c->tenant == NULL || strcmp(c->tenant, PQgetvalue(res, i, 0)) == 0)
			(*ids)[(*n)++] = xstrdup(PQgetvalue(res, i, 0));
	PQclear(res);
	if (c->tenant != NULL && *n == 0)
		LOG_INFO(NULL, "%s: tenant %s has no %s work", c->name, c->tenant,
		    purpose);
	return 0;
}

void
cron_tenants_free(char **ids, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/*
 * End the run: close everything (the lock goes with its session) and
 * return the exit status: rc, or CRON_FAILED when interrupted.
 */
int
cron_done(struct cron *c, int rc)
{
	if (c->interrupted && rc == CRON_OK)
		rc = CRON_FAILED;
	LOG_DEBUG(NULL, "%s: finished in %.0f ms, exit %d", c->name,
	    now_ms() - c->t0, rc);
	db_close(&c->db);
	db_close(&c->lock);
	redis_close(&c->redis);
	cache_free();
	metrics_close();
	config_free();
	return rc;
}

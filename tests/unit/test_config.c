/* test_config.c: unit tests for the error table and the config loader, and that README documents every knob. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

static void
test_errors(void)
{
	int	seen_codes = 1, i, j, statuses = 1;

	for (i = 0; i < ERR__MAX; i++) {
		statuses &= err_status(i) >= 400 && err_status(i) <= 599 &&
		    strcmp(http_reason(err_status(i)), "Unknown") != 0 &&
		    *err_message(i) != '\0';
		for (j = 0; j < i; j++)
			seen_codes &= strcmp(err_code(i), err_code(j)) != 0;
	}
	ok(statuses, "every error has a 4xx/5xx status with a reason and a message");
	ok(seen_codes, "every error code is distinct");
	is_int(err_status(ERR_VALIDATION), 400, "validation is 400");
	is_int(err_status(ERR_UNAUTHORIZED), 401, "unauthorized is 401");
	is_int(err_status(ERR_NOT_FOUND), 404, "not found is 404");
	is_int(err_status(ERR_METHOD_NOT_ALLOWED), 405, "405");
	is_int(err_status(ERR_TOO_LARGE), 413, "413");
	is_int(err_status(ERR_UNSUPPORTED_MEDIA), 415, "415");
	is_int(err_status(ERR_RATE_LIMITED), 429, "429");
	is_int(err_status(ERR_UNAVAILABLE), 503, "503");
	is_str(err_code(ERR_VALIDATION), "validation_failed", "stable code");
}

static void
write_conf(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static void
test_config(void)
{
	char	path[] = "/tmp/test_config.XXXXXX";
	int	fd = mkstemp(path);

	close(fd);
	unsetenv("APP_WORKERS");
	setenv("APP_CONFIG", path, 1);
	write_conf(path, "# comment\n\ndb_conninfo = host=/x dbname=y\nworkers = 7\n"
	    "jwt_alg = RS256\n");
	ok(config_load() == 0, "a valid file loads");
	is_str(cfg.db_conninfo, "host=/x dbname=y", "string knob, '=' inside the value kept");
	is_int(cfg.workers, 7, "integer knob");
	ok(cfg.jwt_alg == AUTH_RS256, "algorithm knob");
	is_int(cfg.redis_timeout_ms, 50, "default for an absent knob");
	/* The seed's classes, per minute; ai fails closed, the others open. */
	ok(cfg.rl[RL_DEFAULT].limit == 100 && cfg.rl[RL_DEFAULT].window == 60 &&
	    !cfg.rl[RL_DEFAULT].fail_closed, "rate class default: 100/min, fails open");
	ok(cfg.rl[RL_AI].limit == 10 && cfg.rl[RL_AI].window == 60 &&
	    cfg.rl[RL_AI].fail_closed, "rate class ai: 10/min, fails closed");
	ok(cfg.rl[RL_UPWORK].limit == 30 && cfg.rl[RL_UPWORK].window == 60 &&
	    !cfg.rl[RL_UPWORK].fail_closed, "rate class upwork: 30/min, fails open");
	setenv("APP_WORKERS", "3", 1);
	ok(config_load() == 0 && cfg.workers == 3, "the environment overrides the file");
	setenv("APP_WORKERS", "0", 1);
	ok(config_load() == -1, "out-of-range environment value refused");
	unsetenv("APP_WORKERS");
	write_conf(path, "wokers = 2\n");
	ok(config_load() == -1, "unknown key refused (a typo never falls back to a default)");
	write_conf(path, "workers = two\n");
	ok(config_load() == -1, "non-integer refused");
	write_conf(path, "jwt_alg = none\n");
	ok(config_load() == -1, "alg none cannot be configured");
	write_conf(path, "just a line\n");
	ok(config_load() == -1, "a line without '=' refused");
	unsetenv("APP_CONFIG");
	unlink(path);
	config_free();
}

/* README.md must document every knob: the test runs from the repository root. */
static void
test_readme(void)
{
	const char	*key, *def, *doc;
	char		*readme, want[128];
	size_t		 i, missing = 0;

	readme = read_file("README.md", 1 << 20, NULL);
	ok(readme != NULL, "README.md is readable");
	if (readme == NULL)
		return;
	for (i = 0; (key = config_knob_doc(i, &def, &doc)) != NULL; i++) {
		snprintf(want, sizeof(want), "`%s`", key);
		if (strstr(readme, want) == NULL) {
			printf("# README.md does not document %s\n", want);
			missing++;
		}
	}
	ok(i > 10 && missing == 0, "README.md documents all %zu knobs", i);
	free(readme);
}

int
main(void)
{
	test_errors();
	test_config();
	test_readme();
	return done_testing();
}

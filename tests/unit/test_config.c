/* test_config.c: unit tests for the error table, the config loader over the platform's and the product's knob tables, and that docs/configuration.md documents every knob with its default. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "tap.h"

static struct arena	arena;

static void
test_errors(void)
{
	int	seen_codes = 1, i, j, statuses = 1;

	for (i = 0; i < err_count(); i++) {
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
	is_int(err_status(ERR_BUDGET_EXHAUSTED), 402, "the product's 402");
	is_str(err_code(ERR_UPWORK_NOT_CONNECTED), "upwork_not_connected",
	    "the product's codes follow the platform's");
	is_int(err_status(ERR_UPWORK_NOT_CONNECTED), 409, "409");
	is_int(err_status((enum err)err_count()), 500, "past the last: 500");
}

static void
write_conf(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* Before any table is registered: the platform's knobs, the rest skipped (the broadcaster). */
static void
test_platform_alone(const char *path)
{
	write_conf(path, "workers = 5\nllm_provider = openai\nno_such_key = 1\n");
	ok(config_load() == 0 && cfg.workers == 5,
	    "the platform alone skips the keys of other programs' knobs");
	is_str(config_origin("workers"), arena_printf(&arena, "%s:1", path),
	    "and knows where its own came from");
	ok(config_origin("llm_provider") == NULL, "a key it does not know has no origin");
	write_conf(path, "workers = 0\n");
	ok(config_load() == -1, "its own knobs are still checked");
	ok(cfg.rl[RL_DEFAULT].limit == 100 && cfg.rl[RL_DEFAULT].window == 60 &&
	    !cfg.rl[RL_DEFAULT].fail_closed, "rate class default: 100/min, fails open");
}

static void
test_config(const char *path)
{
	unsetenv("APP_WORKERS");
	platform_register(&agent_platform);
	write_conf(path, "# comment\n\ndb_conninfo = host=/x dbname=y\nworkers = 7\n"
	    "jwt_alg = RS256\n");
	ok(config_load() == 0, "a valid file loads");
	is_str(cfg.db_conninfo, "host=/x dbname=y", "string knob, '=' inside the value kept");
	is_int(cfg.workers, 7, "integer knob");
	ok(cfg.jwt_alg == AUTH_RS256, "algorithm knob");
	is_int(cfg.redis_timeout_ms, 50, "default for an absent knob");
	is_str(config_origin("redis_timeout_ms"), "default", "its origin: default");
	is_str(config_origin("workers"), arena_printf(&arena, "%s:4", path),
	    "a file knob's origin: file and line");
	/* The seed's classes, per minute; ai fails closed, the others open. */
	ok(cfg.rl[RL_DEFAULT].limit == 100 && cfg.rl[RL_DEFAULT].window == 60 &&
	    !cfg.rl[RL_DEFAULT].fail_closed, "rate class default: 100/min, fails open");
	ok(cfg.rl[RL_AI].limit == 10 && cfg.rl[RL_AI].window == 60 &&
	    cfg.rl[RL_AI].fail_closed, "rate class ai: 10/min, fails closed");
	ok(cfg.rl[RL_UPWORK].limit == 30 && cfg.rl[RL_UPWORK].window == 60 &&
	    !cfg.rl[RL_UPWORK].fail_closed, "rate class upwork: 30/min, fails open");
	is_str(rl_class_name(RL_AI), "ai", "a registered class keeps its name");
	ok(cfg.cache_ttl[CACHE_JOBS] == 60 && cfg.cache_ttl[CACHE_SEARCHES] == 60 &&
	    cfg.cache_ttl[CACHE_CLIENTS] == 3600 && cfg.cache_ttl[CACHE_USER] == 300,
	    "cache TTLs: 60, 60, 3600, 300");
	setenv("APP_RL_AI_WINDOW", "30", 1);
	setenv("APP_CACHE_USER_TTL", "5", 1);
	ok(config_load() == 0 && cfg.rl[RL_AI].window == 30 &&
	    cfg.cache_ttl[CACHE_USER] == 5, "a class's and a namespace's knobs from the environment");
	unsetenv("APP_RL_AI_WINDOW");
	unsetenv("APP_CACHE_USER_TTL");
	setenv("APP_WORKERS", "3", 1);
	ok(config_load() == 0 && cfg.workers == 3, "the environment overrides the file");
	is_str(config_origin("workers"), "APP_WORKERS", "its origin: the variable");
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
	write_conf(path, "upwork_page_size = 101\n");
	ok(config_load() == -1, "a product knob's range is the loader's to check");
	write_conf(path, "\nllm_provider = gpt\n");
	ok(config_load() == 0 && agent_config_check() == -1,
	    "a product knob's syntax is the product's to check");
	is_str(config_origin("llm_provider"), arena_printf(&arena, "%s:2", path),
	    "which reports where the value was set");
	write_conf(path, "llm_prices = gpt-4o=1/2\nllm_base_url = https://x.test/v1\n");
	ok(config_load() == 0 && agent_config_check() == 0, "good values pass it");
	write_conf(path, "");
	ok(config_load() == 0, "an empty file loads");
	is_str(cfg.db_conninfo, "dbname=upwork", "the database's name is the installation's default");
}

/*
 * docs/configuration.md must document every knob in a table row
 * "| `key` | `APP_KEY` | default | ...", and the default it states must
 * be the code's: a default changed on one side only fails here.  The
 * test runs from the repository root.
 */
static void
doc_default(const char *cell, char *out, size_t outsz)
{
	size_t	n = 0;

	if (strcmp(cell, "(empty)") == 0)
		cell = "";
	for (; *cell != '\0' && n + 1 < outsz; cell++)
		if (*cell != '`')
			out[n++] = *cell;
	out[n] = '\0';
}

static void
test_documented(void)
{
	const char	*key, *def, *doc, *row, *cell, *end;
	char		*page, want[160], got[512];
	size_t		 i, missing = 0, wrong = 0, j;

	page = read_file("docs/configuration.md", 1 << 20, NULL);
	ok(page != NULL, "docs/configuration.md is readable");
	if (page == NULL)
		return;
	for (i = 0; (key = config_knob_doc(i, &def, &doc)) != NULL; i++) {
		snprintf(want, sizeof(want), "\n| `%s` | `APP_", key);
		if ((row = strstr(page, want)) == NULL) {
			printf("# docs/configuration.md has no row for `%s`\n", key);
			missing++;
			continue;
		}
		/* The third cell: past "| `key` | `APP_KEY` | ". */
		cell = row + 1;
		for (j = 0; j < 2 && cell != NULL; j++)
			if ((cell = strstr(cell, " | ")) != NULL)
				cell += 3;
		end = cell != NULL ? strstr(cell, " | ") : NULL;
		if (end == NULL || (size_t)(end - cell) >= sizeof(got)) {
			wrong++;
			continue;
		}
		memcpy(got, cell, (size_t)(end - cell));
		got[end - cell] = '\0';
		doc_default(got, want, sizeof(want));
		if (strcmp(want, def) != 0) {
			printf("# `%s`: the code's default is \"%s\", the page says \"%s\"\n",
			    key, def, want);
			wrong++;
		}
	}
	ok(i > 10 && missing == 0, "docs/configuration.md documents all %zu knobs", i);
	ok(wrong == 0, "and states each one's default as the code has it");
	free(page);
}

int
main(void)
{
	char	path[] = "/tmp/test_config.XXXXXX";
	int	fd = mkstemp(path);

	close(fd);
	setenv("APP_CONFIG", path, 1);
	test_platform_alone(path);
	test_config(path);
	unsetenv("APP_CONFIG");
	unlink(path);
	config_free();
	test_errors();
	test_documented();
	arena_reset(&arena);
	return done_testing();
}

/* itest.h: setup for the C integration tests: read the running stack's stack.env and load its app.conf, the product registered as in its programs. */
#ifndef ITEST_H
#define ITEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "agent.h"
#include "tap.h"

static char	itest_rt[1100];

/* A value of stack.env, or NULL. */
static const char *
itest_env(const char *key)
{
	static char	 line[1024], val[1024];
	const char	*path = getenv("STACK_ENV");
	FILE		*f;
	size_t		 n = strlen(key);

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == '=') {
			snprintf(val, sizeof(val), "%s", line + n + 1);
			val[strcspn(val, "\n")] = '\0';
			fclose(f);
			return val;
		}
	fclose(f);
	return NULL;
}

/* Load the stack's configuration, as a worker would; skips all without a stack. */
static void
itest_setup(const char *name)
{
	char		 conf[1200];
	const char	*rt = itest_env("RT");

	if (rt == NULL) {
		printf("1..0 # SKIP STACK_ENV does not name a running stack\n");
		exit(0);
	}
	snprintf(itest_rt, sizeof(itest_rt), "%s", rt);
	snprintf(conf, sizeof(conf), "%s/app.conf", rt);
	setenv("APP_CONFIG", conf, 1);
	log_init(name);
	if (agent_config_load() == -1) {
		printf("1..0 # SKIP cannot load %s\n", conf);
		exit(0);
	}
	log_set_level("error");
}

/* A connection of the test's own to the stack's Redis, authenticated as the programs' are. */
static inline struct redisContext *
itest_redis(void)
{
	struct redisContext	*c = redisConnectUnix(cfg.redis_socket);

	/* As redisConnectUnix() would: a failed context, and the test's checks fail. */
	if (c == NULL || c->err != 0 || redis_auth(c) == -1)
		printf("# cannot reach Redis at \"%s\"\n", cfg.redis_socket);
	return c;
}

#endif /* !ITEST_H */

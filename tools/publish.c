/* publish.c: publish one realtime event through events_publish() (make publish), as the workers and cron binaries do. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static void
usage(void)
{
	fprintf(stderr, "usage: publish --tenant TENANT [--user USER] --type EVENT "
	    "[--data JSON]\n"
	    "  Reads APP_CONFIG for Redis.  EVENT is like job:new or "
	    "proposal:updated;\n"
	    "  JSON is an object or an array ({} by default).  With USER, only "
	    "that user's\n"
	    "  connections receive the event.  Prints the event's id.\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "type", required_argument, NULL, 'e' },
		{ "data", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*tenant = NULL, *user = NULL, *type = NULL, *data = "{}";
	const char	*why;
	char		 id[64];
	struct db	 db = { 0 };
	struct redis	 rd = { .pg = &db };	/* without Redis: the events table */
	json_object	*obj;
	size_t		 len;
	int		 c, rc;

	log_init("publish");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': tenant = optarg; break;
		case 'u': user = *optarg != '\0' ? optarg : NULL; break;
		case 'e': type = optarg; break;
		case 'd': data = optarg; break;
		default: usage();
		}
	}
	if (tenant == NULL || type == NULL || optind != argc)
		usage();
	if (!(ident_valid(tenant, strlen(tenant)) ||
	    (strncmp(tenant, "personal:", 9) == 0 &&
	    ident_valid(tenant + 9, strlen(tenant + 9)))) ||
	    (user != NULL && !ident_valid(user, strlen(user)))) {
		fprintf(stderr, "publish: TENANT and SUB must be 1-128 characters "
		    "of [A-Za-z0-9_.:@|-]\n");
		return 2;
	}
	len = strlen(type);
	if (len == 0 || len > 64 || strspn(type, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") != len) {
		fprintf(stderr, "publish: EVENT must be 1-64 characters of "
		    "[A-Za-z0-9_.:-]\n");
		return 2;
	}
	if ((obj = json_parse_strict(data, strlen(data), 32, &why)) == NULL ||
	    (!json_object_is_type(obj, json_type_object) &&
	    !json_object_is_type(obj, json_type_array))) {
		fprintf(stderr, "publish: DATA must be a JSON object or array%s%s\n",
		    obj == NULL ? ": " : "", obj == NULL ? why : "");
		json_object_put(obj);
		return 2;
	}
	json_object_put(obj);
	if (agent_config_load() == -1)
		return 1;
	rc = events_publish(&rd, type, tenant, user, data, id, sizeof(id));
	redis_close(&rd);
	db_close(&db);
	config_free();
	if (rc == -1) {
		fprintf(stderr, "publish: not published (is %s up? see the "
		    "log line above)\n", redis_enabled() ? "Redis" : "PostgreSQL");
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

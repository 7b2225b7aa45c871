/* check-config.c: upwork-api-check-config: load the configuration as the programs do, run the same checks, and say what is wrong, line by line; or print every knob. */
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

static void
usage(void)
{
	fprintf(stderr, "usage: check-config [--user USER] [--db] [FILE]\n"
	    "       check-config --print-knobs\n"
	    "  Loads FILE (else APP_CONFIG) and the APP_* environment as every\n"
	    "  program does, runs the checks they run at start, and prints\n"
	    "  FILE:LINE: error: ... for each value that cannot work (exit 1)\n"
	    "  and FILE:LINE: warning: ... for those that surely are not\n"
	    "  meant (exit 0).\n"
	    "  --user USER   as root: check as USER, the user the programs run\n"
	    "                as (the files they must read, the config itself)\n"
	    "  --db          also connect to PostgreSQL and compare its schema\n"
	    "                version with the one this build needs\n"
	    "  --print-knobs every knob, tab-separated: key, default,\n"
	    "                description\n");
	exit(2);
}

/* Become user, for good: what it cannot read, the programs cannot either. */
static int
become(const char *user)
{
	struct passwd	*pw;

	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "check-config: --user %s: no such user\n", user);
		return -1;
	}
	if (getuid() == pw->pw_uid)
		return 0;
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		fprintf(stderr, "check-config: --user %s: %s (run as root)\n",
		    user, strerror(errno));
		return -1;
	}
	return 0;
}

/* --db: the database the programs reach, and its schema version. */
static int
check_db(void)
{
	struct db	db = { 0 };
	int		rc = 0;

	if (db_schema_check(&db) == -1) {
		fprintf(stderr, "schema: %s\n", *db_schema_problem() != '\0' ?
		    db_schema_problem() : "cannot reach PostgreSQL with "
		    "db_conninfo (see the log line above)");
		rc = -1;
	} else
		printf("schema: version %d or newer, as this build needs: ok\n",
		    db_schema_need());
	db_close(&db);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "db", no_argument, NULL, 'd' },
		{ "print-knobs", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*key, *def, *doc, *user = NULL, *path;
	size_t		 i;
	int		 ch, db = 0, knobs = 0, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			user = optarg;
			break;
		case 'd':
			db = 1;
			break;
		case 'p':
			knobs = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || (knobs && (argc > 0 || user != NULL || db)))
		usage();
	if (user != NULL && become(user) == -1)
		return 1;
	log_init("check-config");
	if (knobs) {
		platform_register(&agent_platform);
		for (i = 0; (key = config_knob_doc(i, &def, &doc)) != NULL; i++)
			printf("%s\t%s\t%s\n", key, def, doc);
		return 0;
	}
	if (argc == 1 && setenv("APP_CONFIG", argv[0], 1) == -1)
		return 1;
	path = getenv("APP_CONFIG");
	config_set_plain(1);
	/* A file that cannot be read: said, and nothing checked on defaults. */
	if (path != NULL && *path != '\0' && access(path, R_OK) == -1) {
		fprintf(stderr, "%s: error: %s\n", path, strerror(errno));
		return 1;
	}
	/* Every check, even after an error: all that is wrong, at once. */
	platform_register(&agent_platform);
	rc = 0;
	if (config_load() == -1)
		rc = 1;
	if (config_check() == -1)
		rc = 1;
	if (agent_config_check() == -1)
		rc = 1;
	if (rc == 0 && db && check_db() == -1)
		rc = 1;
	if (rc == 0)
		printf("config: %s: ok\n", path != NULL && *path != '\0' ? path :
		    "(defaults and environment)");
	else
		fprintf(stderr, "config: %s: not usable: the programs would not "
		    "start\n", path != NULL && *path != '\0' ? path :
		    "(defaults and environment)");
	config_free();
	return rc;
}

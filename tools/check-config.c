/* check-config.c: upwork-api-check-config: load the configuration as the programs do and say what is wrong, or print every knob. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static void
usage(void)
{
	fprintf(stderr, "usage: check-config [FILE]\n"
	    "       check-config --print-knobs\n"
	    "  Loads FILE (else APP_CONFIG) and the APP_* environment as every\n"
	    "  program does, and exits 1 naming each bad key and its line.\n"
	    "  --print-knobs prints every knob, tab-separated: key, default,\n"
	    "  description.\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*key, *def, *doc;
	size_t		 i;

	log_init("check-config");
	if (argc == 2 && strcmp(argv[1], "--print-knobs") == 0) {
		platform_register(&agent_platform);
		for (i = 0; (key = config_knob_doc(i, &def, &doc)) != NULL; i++)
			printf("%s\t%s\t%s\n", key, def, doc);
		return 0;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		usage();
	if (argc == 2 && setenv("APP_CONFIG", argv[1], 1) == -1)
		return 1;
	if (agent_config_load() == -1)
		return 1;
	printf("config: %s: ok\n", getenv("APP_CONFIG") != NULL ?
	    getenv("APP_CONFIG") : "(defaults and environment)");
	return 0;
}

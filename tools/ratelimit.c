/* ratelimit.c: a tool that prints the rate-limit Lua script or its SHA-1, for redis-cli and redis-benchmark. */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "agent.h"

int
main(int argc, char *argv[])
{
	unsigned char	d[SHA_DIGEST_LENGTH];
	int		i;

	if (argc == 2 && strcmp(argv[1], "--script") == 0) {
		fputs(rl_script(), stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--sha") == 0) {
		SHA1((const unsigned char *)rl_script(), strlen(rl_script()), d);
		for (i = 0; i < SHA_DIGEST_LENGTH; i++)
			printf("%02x", d[i]);
		printf("\n");
		return 0;
	}
	fprintf(stderr, "usage: ratelimit --script | --sha\n"
	    "  The script takes KEYS[1] = rl:{class:id}, ARGV = limit, window in ms.\n");
	return 2;
}

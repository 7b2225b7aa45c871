/* token.c: mint a JWT that the configured stack accepts (make token), signed with its dev key. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

static void
usage(void)
{
	fprintf(stderr, "usage: token --sub USER [--org ORG] [--ttl SECONDS] "
	    "[--key FILE] [--kid KID]\n"
	    "  Reads APP_CONFIG for the algorithm, issuer and audience.\n"
	    "  HS256 signs with jwt_secret_file; RS256 needs --key (PEM private key).\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "sub", required_argument, NULL, 's' },
		{ "org", required_argument, NULL, 'o' },
		{ "ttl", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "kid", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*sub = NULL, *org = NULL, *keyfile = NULL, *kid = NULL;
	char		*key, *tok, tenant[160];
	long long	 ttl = 3600;
	size_t		 keylen;
	json_object	*claims, *o;
	time_t		 now = time(NULL);
	int		 c;

	log_init("token");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sub = optarg; break;
		case 'o': org = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'i': kid = optarg; break;
		case 't':
			if (parse_int64(optarg, &ttl) == -1 || ttl < 1 ||
			    ttl > 30 * 86400)
				usage();
			break;
		default: usage();
		}
	}
	if (sub == NULL || optind != argc)
		usage();
	if (auth_tenant_for(sub, org, tenant, sizeof(tenant)) == -1) {
		fprintf(stderr, "token: SUB and ORG must be 1-128 characters "
		    "of [A-Za-z0-9_.:@|-]\n");
		return 1;
	}
	if (agent_config_load() == -1)
		return 1;
	if (keyfile == NULL) {
		if (cfg.jwt_alg != AUTH_HS256) {
			fprintf(stderr, "token: RS256 needs --key\n");
			return 1;
		}
		keyfile = cfg.jwt_secret_file;
	}
	if ((key = read_file(keyfile, 64 * 1024, &keylen)) == NULL) {
		fprintf(stderr, "token: %s: %s\n", keyfile, strerror(errno));
		return 1;
	}
	while (keylen > 0 && (key[keylen - 1] == '\n' || key[keylen - 1] == ' '))
		key[--keylen] = '\0';

	/* A Clerk v2 session token: the organisation in "o". */
	claims = json_object_new_object();
	json_object_object_add(claims, "sub", json_object_new_string(sub));
	json_object_object_add(claims, "iat", json_object_new_int64(now));
	json_object_object_add(claims, "nbf", json_object_new_int64(now));
	json_object_object_add(claims, "exp", json_object_new_int64(now + ttl));
	json_object_object_add(claims, "v", json_object_new_int(2));
	if (*cfg.jwt_issuer != '\0')
		json_object_object_add(claims, "iss",
		    json_object_new_string(cfg.jwt_issuer));
	if (*cfg.jwt_audience != '\0')
		json_object_object_add(claims, "aud",
		    json_object_new_string(cfg.jwt_audience));
	if (*cfg.jwt_azp != '\0') {
		char *azp = xstrdup(cfg.jwt_azp);
		azp[strcspn(azp, ",")] = '\0';
		json_object_object_add(claims, "azp", json_object_new_string(azp));
		free(azp);
	}
	if (org != NULL && *org != '\0') {
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(org));
		json_object_object_add(o, "rol", json_object_new_string("admin"));
		json_object_object_add(claims, "o", o);
	}
	tok = auth_sign(cfg.jwt_alg, (unsigned char *)key, keylen, kid,
	    json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN));
	json_object_put(claims);
	free(key);
	if (tok == NULL) {
		fprintf(stderr, "token: signing failed (is the key right for %s?)\n",
		    cfg.jwt_alg == AUTH_HS256 ? "HS256" : "RS256");
		return 1;
	}
	printf("%s\n", tok);
	free(tok);
	config_free();
	return 0;
}

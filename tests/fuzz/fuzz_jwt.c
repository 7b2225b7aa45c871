/* fuzz_jwt.c: libFuzzer target for token extraction and JWT verification (header, claims, signature checks). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct auth_keys	keys;
static struct config	c;

/* An HS256 key, so that inputs with a valid-looking header reach libjwt. */
static void
setup(void)
{
	static const char	secret[] = "0123456789abcdef0123456789abcdef";
	FILE			*f;

	if ((f = fopen("/tmp/fuzz_jwt.key", "w")) != NULL) {
		fputs(secret, f);
		fclose(f);
	}
	c.jwt_alg = AUTH_HS256;
	c.jwt_secret_file = "/tmp/fuzz_jwt.key";
	c.jwt_public_key_file = "";
	c.jwt_jwks_file = "";
	c.jwt_issuer = "https://issuer";
	c.jwt_audience = "api";
	c.jwt_azp = "";
	c.jwt_leeway = 30;
	if (auth_keys_load(&keys, &c) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 ready;
	struct principal	 p;
	const char		*why;
	char			*tok, buf[9000];

	if (!ready) {
		setup();
		ready = 1;
	}
	tok = xmalloc(size + 1);
	memcpy(tok, data, size);
	tok[size] = '\0';
	(void)auth_verify(&keys, &c, tok, (time_t)1800000000, &p, &why);
	(void)auth_token_from(tok, tok, buf, sizeof(buf));
	free(tok);
	return 0;
}

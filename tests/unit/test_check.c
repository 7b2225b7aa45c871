/* test_check.c: unit tests for the configuration checks across knobs, the platform's and the product's, as every program and check-config run them: what each says, where, and whether it stops the program; and config_reload() keeping the values in use when the new ones are refused. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "agent.h"
#include "tap.h"

static char		 dir[] = "/tmp/test_check.XXXXXX";
static char		 conf[300], errs[300];
static struct buf	 said;		/* what the last run() printed */
static struct arena	 arena;

#define HS	"jwt_secret_file = %D/hs.key\n"	/* what every good config here has */

static const char *
path(const char *name)
{
	return arena_printf(&arena, "%s/%s", dir, name);
}

static void
write_file(const char *p, const char *text)
{
	FILE	*f = fopen(p, "w");

	fputs(text, f);
	fclose(f);
}

/*
 * app.conf from text (%D stands for the scratch directory), loaded and
 * checked as check-config does it: the loader, the platform's checks,
 * the product's.  What they print lands in said.  Returns -1 when any
 * refused the configuration.
 */
static int
run(const char *text)
{
	struct buf	 t = { 0 };
	const char	*p;
	char		*data;
	int		 saved, fd, rc = 0;

	for (p = text; *p != '\0'; p++)
		if (p[0] == '%' && p[1] == 'D') {
			buf_puts(&t, dir);
			p++;
		} else
			buf_putc(&t, *p);
	write_file(conf, t.data != NULL ? t.data : "");
	buf_free(&t);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(errs, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, STDERR_FILENO);
	close(fd);
	if (config_load() == -1)
		rc = -1;
	else {
		if (config_check() == -1)
			rc = -1;
		if (agent_config_check() == -1)
			rc = -1;
	}
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	buf_reset(&said);
	if ((data = read_file(errs, 1 << 20, NULL)) != NULL) {
		buf_puts(&said, data);
		free(data);
	}
	if (said.data == NULL)
		buf_puts(&said, "");
	return rc;
}

/* Predicate: the last run printed a line holding s (%C: the config's path). */
static int
printed(const char *s)
{
	struct buf	 want = { 0 };
	const char	*p;
	int		 found;

	for (p = s; *p != '\0'; p++)
		if (p[0] == '%' && p[1] == 'C') {
			buf_puts(&want, conf);
			p++;
		} else if (p[0] == '%' && p[1] == 'D') {
			buf_puts(&want, dir);
			p++;
		} else
			buf_putc(&want, *p);
	found = strstr(said.data, want.data) != NULL;
	if (!found)
		printf("# wanted: %s\n# printed: %s", want.data, said.data);
	buf_free(&want);
	return found;
}

static void
test_loader(void)
{
	ok(run("workers = 2\nwokers = 3\n") == -1, "an unknown key stops the programs");
	ok(printed("%C:2: error: unknown key wokers (did you mean workers?)"),
	    "it is named with its line, and the key it was meant to be");
	run("rl_defualt_limit = 3\n");
	ok(printed("(did you mean rl_default_limit?)"), "two letters swapped: suggested too");
	run("zzz_nothing_like = 1\n");
	ok(printed("unknown key zzz_nothing_like\n"), "nothing near: no suggestion");
	ok(run(HS "workers = 2\nworkers = 4\n") == 0 && cfg.workers == 4,
	    "a key set twice: the last line wins, as always");
	ok(printed("%C:3: warning: workers set again: this line replaces line 2"),
	    "and check-config says so");
	ok(run("log_level = verbose\n") == -1 && printed("%C:1: error: log_level: "
	    "verbose: one of debug, info, warn, error"), "log_level: a word it "
	    "does not know stops the programs (it used to mean info)");
	config_set_plain(0);
	run("wokers = 3\n");
	ok(printed("{\"level\":\"error\",\"msg\":\"config: %C:1: unknown key wokers"),
	    "the programs print the same as a JSON log line");
	config_set_plain(1);
}

/* An RSA key's PEM (public) and its JWK, for the RS256 checks. */
static void
rsa_files(void)
{
	EVP_PKEY	*k = EVP_RSA_gen(2048);
	BIGNUM		*n = NULL, *e = NULL;
	unsigned char	 nb[512], eb[8];
	char		*pem, *ns, *es;
	BIO		*bio = BIO_new(BIO_s_mem());
	long		 len;

	PEM_write_bio_PUBKEY(bio, k);
	len = BIO_get_mem_data(bio, &pem);
	write_file(path("rs.pem"), arena_strndup(&arena, pem, (size_t)len));
	BIO_free(bio);
	EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
	EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
	ns = base64url_encode(nb, (size_t)BN_bn2bin(n, nb));
	es = base64url_encode(eb, (size_t)BN_bn2bin(e, eb));
	write_file(path("jwks.json"), arena_printf(&arena, "{\"keys\":[{\"kty\":"
	    "\"RSA\",\"kid\":\"k1\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}]}",
	    ns, es));
	free(ns);
	free(es);
	BN_free(n);
	BN_free(e);
	EVP_PKEY_free(k);
}

static void
test_jwt(void)
{
	write_file(path("short.key"), "0123456789\n");
	write_file(path("junk"), "not a key\n");
	rsa_files();
	ok(run("jwt_secret_file = %D/hs.key\n") == 0 && said.len == 0,
	    "HS256 with a 36-byte secret: nothing to say");
	ok(run("") == -1 && printed("%C: error: jwt_secret_file: not set, and "
	    "jwt_alg HS256 (default) needs the shared secret"),
	    "HS256 without a secret: refused, the file named (the key is at its default)");
	ok(run("jwt_secret_file = %D/short.key\n") == -1 &&
	    printed("%C:1: error: jwt_secret_file: %D/short.key: an HS256 secret "
	    "needs 32 bytes or more, it has 10"), "a short secret: refused");
	ok(run("jwt_secret_file = %D/none.key\n") == -1 &&
	    printed("%C:1: error: jwt_secret_file: %D/none.key: No such file or directory"),
	    "a secret file that is not there: refused");
	ok(run("jwt_alg = RS256\n") == -1 && printed("%C:1: error: jwt_alg: RS256 "
	    "needs jwt_jwks_url, jwt_jwks_file or jwt_public_key_file"),
	    "RS256 without a key source: refused");
	ok(run("jwt_alg = RS256\njwt_jwks_url = http://issuer.example/jwks\n") == -1 &&
	    printed("%C:2: error: jwt_jwks_url: http://issuer.example/jwks: must be an "
	    "https:// URL"), "a JWKS URL over plain http: refused");
	ok(run("jwt_alg = RS256\njwt_jwks_url = https://issuer.example/jwks\n") == 0,
	    "RS256 with a JWKS URL: fetched later, nothing to read now");
	ok(run("jwt_alg = RS256\njwt_public_key_file = %D/rs.pem\n") == 0,
	    "RS256 with a PEM public key");
	ok(run("jwt_alg = RS256\njwt_public_key_file = %D/junk\n") == -1 &&
	    printed("%C:2: error: jwt_public_key_file: %D/junk: not a PEM RSA public key"),
	    "a PEM file that is not one: refused at start, not at the first token");
	ok(run("jwt_alg = RS256\njwt_jwks_file = %D/jwks.json\n") == 0, "RS256 with a JWKS");
	ok(run("jwt_alg = RS256\njwt_jwks_file = %D/junk\n") == -1 &&
	    printed("%C:2: error: jwt_jwks_file: %D/junk: no usable RS256 key"),
	    "a JWKS without a key: refused");
	ok(run("jwt_alg = RS256\njwt_jwks_file = %D/jwks.json\njwt_public_key_file = "
	    "%D/rs.pem\n") == 0 && printed("%C:3: warning: jwt_public_key_file: "
	    "ignored: jwt_jwks_file (%C:2) takes precedence"), "both: the PEM is said to be ignored");
}

static void
test_platform(void)
{
	ok(run(HS "db_conninfo = upwork\n") == 0,
	    "db_conninfo: a database name");
	ok(run(HS "db_conninfo = host=/x dbname='oops\n") == -1 &&
	    printed("%C:2: error: db_conninfo: unterminated quoted string"),
	    "db_conninfo libpq cannot read: refused with libpq's words");
	ok(run(HS "db_conninfo = host=/x passfile=%D/nopass\n") == -1 &&
	    printed("error: db_conninfo: passfile=%D/nopass: No such file"),
	    "a passfile that is not there: refused (libpq would ignore it)");
	ok(run(HS "db_conninfo = dbname=u options='-c x=1' connect_timeout=9\n") == 0 && printed("warning: db_conninfo: options= is replaced by "
	    "db_statement_timeout_ms") && printed("warning: db_conninfo: "
	    "connect_timeout= is replaced by db_connect_timeout"),
	    "keywords the programs set themselves: said to be replaced");
	ok(run(HS "redis_socket = run/redis.sock\n") == -1 &&
	    printed("error: redis_socket: run/redis.sock: give the absolute path"),
	    "a relative Redis socket: refused");
	ok(run(HS "redis_host = 127.0.0.1:6379\n") == -1 &&
	    printed("error: redis_host: 127.0.0.1:6379: the port goes in redis_port"),
	    "a port in redis_host: refused");
	ok(run(HS "redis_host = ::1\n") == 0, "an IPv6 redis_host");
	ok(run(HS "redis_socket = /run/r.sock\nredis_port = 7000\n") == 0 && printed("%C:3: warning: redis_port: ignored: redis_socket "
	    "(%C:2) is set"), "a Redis port beside a socket: said to be ignored");
	ok(run(HS "trusted_proxies = 10.0.0.0/8, ::1, 1.2.3, 10.0.0.0/33\n") == -1 && printed("trusted_proxies: \"1.2.3\" is not an address") &&
	    printed("trusted_proxies: \"10.0.0.0/33\" is not an address"),
	    "trusted_proxies: each entry that would never match is named");
	ok(run(HS "push_listen = 8081\n") == -1 &&
	    printed("push_listen: \"8081\" is not host:port"), "push_listen without a host part");
	ok(run(HS "push_listen = 127.0.0.1:0\n") == -1, "port 0: refused");
	ok(run(HS "push_listen = :8081\n") == 0 &&
	    run(HS "push_listen = [::1]:8081\n") == 0 &&
	    run(HS "push_listen = ::1:8081\n") == 0 &&
	    run(HS "push_listen = push.internal:8081\n") == 0,
	    "push_listen: every address, [::1], ::1, a name");
	ok(run(HS "cors_origins = https://app.example, http://b.test:8080\n") == 0, "cors_origins: two origins");
	ok(run(HS "cors_origins = https://app.example/, *\n") == -1 &&
	    printed("cors_origins: \"https://app.example/\" is not an origin") &&
	    printed("cors_origins: \"*\" is not an origin"),
	    "cors_origins: a trailing slash and * are named");
	ok(run(HS "llm_api_key_file = %D\n") == -1 &&
	    printed("llm_api_key_file: %D: not a regular file"),
	    "a *_file knob of the product naming a directory: refused by the platform's check");
}

static void
test_metrics(void)
{
	mkdir(path("metrics"), 0700);
	write_file(path("metrics.token"), "0123456789abcdef01234567\n");
	ok(run(HS "metrics_enabled = 1\n") == -1 &&
	    printed("error: metrics_dir: not set, and metrics_enabled (%C:2) needs"),
	    "metrics on without a directory: refused");
	ok(run(HS "metrics_enabled = 1\nmetrics_dir = %D/nodir\n") == -1 &&
	    printed("metrics_dir: %D/nodir: not a directory"), "a directory that is not there");
	ok(run(HS "metrics_enabled = 1\nmetrics_dir = %D/metrics\n"
	    "metrics_allow =\n") == -1 && printed("/metrics would be open to anyone"),
	    "neither an address list nor a token: refused");
	ok(run(HS "metrics_enabled = 1\nmetrics_dir = %D/metrics\n"
	    "metrics_token_file = %D/short.key\n") == -1 &&
	    printed("metrics_token_file: %D/short.key: a token of 16 bytes or more"),
	    "a short token: refused");
	ok(run(HS "metrics_enabled = 1\nmetrics_dir = %D/metrics\n"
	    "metrics_token_file = %D/metrics.token\nmetrics_allow = 10.0.0.0/8\n") == 0,
	    "metrics with a directory, a token and an address list");
	ok(run(HS "metrics_allow = everyone\n") == -1,
	    "metrics_allow is checked even while metrics are off");
}

static void
test_product(void)
{
	write_file(path("secret"), "s3cret\n");
	write_file(path("empty"), "");
	write_file(path("up.key"), "0123456789abcdef0123456789abcdef\n");
	ok(run(HS "llm_provider = openai\nllm_model = gpt-5\n") == -1 &&
	    printed("%C:3: error: llm_model: gpt-5 has no price in llm_prices "
	    "(default): every generation would fail"),
	    "openai with a model llm_prices does not price: refused at start, not a 500 later");
	ok(run(HS "llm_provider = openai\nllm_model = gpt-5\n"
	    "llm_prices = gpt-5=1.25/10\n") == 0, "priced: accepted");
	ok(run(HS "llm_provider = openai\nllm_model = gpt-5\n"
	    "llm_prices = *=1/2\n") == 0, "or priced by *");
	ok(run(HS "llm_model = gpt-5\n") == 0 &&
	    printed("%C:2: warning: llm_model: gpt-5 has no price"),
	    "builtin by default: only a warning (a tenant may still choose openai)");
	ok(run(HS "llm_provider = openai\nllm_base_url = "
	    "http://10.1.2.3/v1\n") == -1 && printed("%C:3: error: llm_base_url: "
	    "http://10.1.2.3/v1: plain http to another host is refused unless "
	    "llm_allow_http = 1"), "openai over plain http to another host: refused");
	ok(run(HS "llm_provider = openai\nllm_base_url = "
	    "http://10.1.2.3/v1\nllm_allow_http = 1\n") == 0, "unless llm_allow_http");
	ok(run(HS "llm_provider = openai\nllm_base_url = "
	    "http://127.0.0.1:9/v1\n") == 0, "plain http to this host: accepted");
	ok(run(HS "llm_connect_timeout_ms = 60000\nllm_timeout_ms = 5000\n") == 0 && printed("warning: llm_connect_timeout_ms: 60000 is longer than "
	    "llm_timeout_ms (5000)"), "timeouts that contradict: a warning");

	ok(run(HS "upwork_client_id = key\n") == -1 &&
	    printed("error: upwork_token_key_file: not set") &&
	    printed("error: upwork_client_secret_file: not set") &&
	    printed("error: upwork_redirect_uri: not set"),
	    "an Upwork client id without what the OAuth flow needs: each named");
	ok(run(HS "upwork_client_id = key\nupwork_client_secret_file = "
	    "%D/secret\nupwork_token_key_file = %D/up.key\nupwork_redirect_uri = "
	    "https://api.example/api/upwork/callback\n") == 0 && said.len == 0,
	    "with them: nothing to say");
	ok(run(HS "upwork_client_id = key\nupwork_client_secret_file = "
	    "%D/empty\nupwork_token_key_file = %D/short.key\nupwork_redirect_uri = "
	    "https://api.example/oauth\n") == -1 &&
	    printed("upwork_client_secret_file: %D/empty: 0 bytes, 1 or more needed") &&
	    printed("upwork_token_key_file: %D/short.key: 10 bytes, 32 or more needed") &&
	    printed("warning: upwork_redirect_uri: https://api.example/oauth: the "
	    "callback is served at /api/upwork/callback"),
	    "an empty secret, a short key, a redirect elsewhere");
	ok(run(HS "upwork_graphql_url = ftp://x/graphql\n") == -1 &&
	    printed("upwork_graphql_url: \"ftp://x/graphql\" is not an http or https URL"),
	    "an Upwork URL that is not http(s)");
	/* Issue 15: Upwork over plain http only to this machine. */
	ok(run(HS "upwork_token_url = http://upwork.example/oauth2/token\n") == -1 &&
	    printed("upwork_token_url: \"http://upwork.example/oauth2/token\": plain "
	    "http to another host than this machine"),
	    "an Upwork URL over plain http to another host: refused");
	ok(run(HS "upwork_graphql_url = http://127.attacker.example/graphql\n") == -1,
	    "127.attacker.example is another host");
	ok(run(HS "upwork_graphql_url = http://127.0.0.1:9/graphql\n") == 0,
	    "plain http to a loopback fake: fine");
	ok(run(HS "upwork_client_id = key\nupwork_client_secret_file = "
	    "%D/secret\nupwork_token_key_file = %D/up.key\nupwork_redirect_uri = "
	    "https://api.example/api/upwork/callback\nupwork_rate_per_day = 100\n"
	    "refresh_clients_reserve = 100\n") == 0 &&
	    printed("warning: refresh_clients_reserve: 100 leaves nothing of "
	    "upwork_rate_per_day (100)"), "a reserve that takes the whole day: a warning");
}

static void
test_reload(void)
{
	ok(run("jwt_secret_file = %D/hs.key\nworkers = 5\n") == 0, "a configuration in use");
	write_file(conf, arena_printf(&arena, "jwt_secret_file = %s/hs.key\nworkers = 7\n"
	    "log_level = loud\n", dir));
	fflush(stderr);
	{
		int	saved = dup(STDERR_FILENO), fd = open("/dev/null", O_WRONLY);

		dup2(fd, STDERR_FILENO);
		close(fd);
		ok(config_reload() == -1, "config_reload() refuses a file the checks refuse");
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	ok(cfg.workers == 5 && strcmp(cfg.log_level, "info") == 0,
	    "and the values in use stay as they were");
	is_str(config_origin("workers"), arena_printf(&arena, "%s:2", conf),
	    "their origins too");
	write_file(conf, arena_printf(&arena, "jwt_secret_file = %s/hs.key\nworkers = 7\n", dir));
	ok(config_reload() == 0 && cfg.workers == 7, "a good one applies");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(conf, sizeof(conf), "%s/app.conf", dir);
	snprintf(errs, sizeof(errs), "%s/stderr", dir);
	setenv("APP_CONFIG", conf, 1);
	unsetenv("APP_WORKERS");
	platform_register(&agent_platform);
	config_set_plain(1);
	write_file(path("hs.key"), "0123456789abcdef0123456789abcdef0123\n");
	test_loader();
	test_jwt();
	test_platform();
	test_metrics();
	test_product();
	test_reload();
	config_free();
	buf_free(&said);
	arena_reset(&arena);
	(void)!system(arena_printf(&arena, "rm -rf '%s'", dir));
	arena_reset(&arena);
	return done_testing();
}

/* test_auth.c: unit tests for JWT verification: HS256, RS256 from PEM and JWKS, and every way a token can be wrong. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "common.h"
#include "tap.h"

static const char	 secret[] = "0123456789abcdef0123456789abcdef-test-secret";
static char		 dir[] = "/tmp/test_auth.XXXXXX";
static time_t		 now;

static char *
b64(const char *s)
{
	return base64url_encode((const unsigned char *)s, strlen(s));
}

/* An HS256 token made here, independently of the code under test. */
static char *
hs256(const char *header, const char *claims, const char *key)
{
	unsigned char	 mac[32];
	unsigned int	 maclen;
	char		*h = b64(header), *c = b64(claims), *sig, *tok;
	struct buf	 b = { 0 };

	buf_printf(&b, "%s.%s", h, c);
	HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)b.data, b.len,
	    mac, &maclen);
	sig = base64url_encode(mac, maclen);
	buf_printf(&b, ".%s", sig);
	tok = xstrdup(b.data);
	free(h);
	free(c);
	free(sig);
	buf_free(&b);
	return tok;
}

static char *
claims(const char *extra)
{
	static char	out[1024];

	snprintf(out, sizeof(out), "{\"sub\":\"user_1\",\"iat\":%lld,\"exp\":%lld%s%s}",
	    (long long)now - 10, (long long)now + 600, *extra ? "," : "", extra);
	return out;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE	*f = fopen(path, "w");

	fwrite(p, 1, n, f);
	fclose(f);
}

static struct config
base_config(void)
{
	static char	secret_path[64];
	struct config	c;

	memset(&c, 0, sizeof(c));
	snprintf(secret_path, sizeof(secret_path), "%s/hs.key", dir);
	c.jwt_alg = AUTH_HS256;
	c.jwt_secret_file = secret_path;
	c.jwt_public_key_file = "";
	c.jwt_jwks_file = "";
	c.jwt_issuer = "";
	c.jwt_audience = "";
	c.jwt_azp = "";
	c.jwt_admin_roles = "org:admin,admin";
	c.jwt_leeway = 30;
	return c;
}

/* Verify tok; returns "ok:<tenant>" or the reason. */
static const char *
verify(struct auth_keys *k, const struct config *c, const char *tok)
{
	static char		 out[300];
	struct principal	 p;
	const char		*why;

	if (auth_verify(k, c, tok, now, &p, &why) == 0) {
		snprintf(out, sizeof(out), "ok:%s:%s", p.user_id, p.tenant_id);
		return out;
	}
	return why;
}

static void
test_hs256(void)
{
	struct config	 c = base_config();
	struct auth_keys k;
	char		*t, big[9000];
	const char	*hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	write_file(c.jwt_secret_file, secret, strlen(secret));
	ok(auth_keys_load(&k, &c) == 0, "HS256 key loads");

#define CHECK(header, cl, key, want, what) do {				\
	t = hs256((header), (cl), (key));				\
	is_str(verify(&k, &c, t), (want), what);			\
	free(t);							\
} while (0)

	CHECK(hdr, claims(""), secret, "ok:user_1:personal:user_1", "personal tenant without an org");
	CHECK(hdr, claims("\"o\":{\"id\":\"org_a\",\"rol\":\"admin\"}"), secret,
	    "ok:user_1:org_a", "Clerk v2 o.id");
	CHECK(hdr, claims("\"org_id\":\"org_b\""), secret, "ok:user_1:org_b", "Clerk v1 org_id");
	CHECK(hdr, claims("\"o\":{\"id\":\"org_a\"},\"org_id\":\"org_b\""), secret,
	    "ok:user_1:org_a", "v2 wins over v1");
	/* Issue 15: a v2 token takes its tenant from o.id only. */
	CHECK(hdr, claims("\"v\":2,\"org_id\":\"org_b\""), secret,
	    "ok:user_1:personal:user_1", "v2 without o: org_id is not read");
	CHECK(hdr, claims("\"v\":2,\"o\":{\"rol\":\"admin\"},\"org_id\":\"org_b\""), secret,
	    "ok:user_1:personal:user_1", "v2 with o but no o.id: org_id is not read");
	CHECK(hdr, claims("\"o\":{},\"org_id\":\"org_b\""), secret,
	    "ok:user_1:personal:user_1", "o without v is v2 too");
	CHECK(hdr, claims("\"o\":null,\"org_id\":\"org_b\""), secret,
	    "ok:user_1:org_b", "o null, no v: a v1 token");
	CHECK(hdr, claims("\"v\":2,\"o\":{\"id\":\"org_a\"}"), secret,
	    "ok:user_1:org_a", "v2 o.id");
	/* NumericDate outside time_t: refused, never converted. */
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":1e300}", secret,
	    "token has no valid exp", "exp 1e300");
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":-1e300}", secret,
	    "token has no valid exp", "exp -1e300");
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":-5}", secret,
	    "token has no valid exp", "exp negative");
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":9223372036854775807}", secret,
	    "token has no valid exp", "exp INT64_MAX");
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":253402300800}", secret,
	    "token has no valid exp", "exp one second past year 9999");
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":253402300799}", secret,
	    "ok:user_1:personal:user_1", "exp at the end of year 9999");
	/* libjwt refuses these before claim_time() would. */
	t = hs256(hdr, "{\"sub\":\"user_1\",\"exp\":NaN}", secret);
	ok(strncmp(verify(&k, &c, t), "ok:", 3) != 0, "exp NaN refused");
	free(t);
	t = hs256(hdr, "{\"sub\":\"user_1\",\"exp\":Infinity}", secret);
	ok(strncmp(verify(&k, &c, t), "ok:", 3) != 0, "exp Infinity refused");
	free(t);
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":9999999999,\"sub\":\"admin\"}", secret,
	    "malformed token", "a claim twice");
	CHECK(hdr, claims("\"nbf\":1e300"), secret, "token not yet valid", "nbf 1e300");
	CHECK(hdr, claims("\"nbf\":-1"), secret, "token not yet valid", "nbf negative");
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":9999999999,\"iat\":-1e300}", secret,
	    "token issued in the future", "iat -1e300");
	/* RFC 7515 4.1.11: crit names extensions we do not understand. */
	CHECK("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", claims(""), secret,
	    "token has a critical header", "crit with a name");
	CHECK("{\"alg\":\"HS256\",\"crit\":[]}", claims(""), secret,
	    "token has a critical header", "crit empty (itself invalid)");
	{
		char cl[512], sub[129], want[300];

		memset(sub, 'u', 128);
		sub[128] = '\0';
		snprintf(cl, sizeof(cl), "{\"sub\":\"%s\",\"exp\":9999999999}", sub);
		snprintf(want, sizeof(want), "ok:%s:personal:%s", sub, sub);
		CHECK(hdr, cl, secret, want, "a personal tenant for a 128-character user id");
		sub[127] = '\0';
		snprintf(cl, sizeof(cl), "{\"sub\":\"%s\",\"exp\":9999999999}", sub);
		snprintf(want, sizeof(want), "ok:%s:personal:%s", sub, sub);
		CHECK(hdr, cl, secret, want, "and for a 127-character one");
	}
	CHECK(hdr, claims(""), "another-secret-another-secret-xx", "invalid signature", "wrong key");
	CHECK("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims(""), secret,
	    "token algorithm not accepted", "alg none");
	CHECK("{\"alg\":\"None\"}", claims(""), secret, "token algorithm not accepted", "alg None");
	CHECK("{\"alg\":\"HS512\"}", claims(""), secret, "token algorithm not accepted", "alg HS512");
	CHECK("{\"alg\":\"RS256\"}", claims(""), secret, "token algorithm not accepted", "alg RS256 when HS256 is pinned");
	CHECK("{\"typ\":\"JWT\"}", claims(""), secret, "token algorithm not accepted", "no alg");
	CHECK(hdr, "{\"sub\":\"user_1\"}", secret, "token has no valid exp", "no exp");
	CHECK(hdr, "{\"sub\":\"user_1\",\"exp\":\"tomorrow\"}", secret, "token has no valid exp", "exp not a number");

	{
		char cl[256];

		snprintf(cl, sizeof(cl), "{\"sub\":\"user_1\",\"exp\":%lld}", (long long)now - 31);
		CHECK(hdr, cl, secret, "token expired", "expired past the leeway");
		snprintf(cl, sizeof(cl), "{\"sub\":\"user_1\",\"exp\":%lld}", (long long)now - 29);
		CHECK(hdr, cl, secret, "ok:user_1:personal:user_1", "expired within the leeway");
		snprintf(cl, sizeof(cl), "{\"sub\":\"user_1\",\"exp\":%lld,\"nbf\":%lld}",
		    (long long)now + 600, (long long)now + 60);
		CHECK(hdr, cl, secret, "token not yet valid", "nbf in the future");
		snprintf(cl, sizeof(cl), "{\"sub\":\"user_1\",\"exp\":%lld,\"nbf\":%lld}",
		    (long long)now + 600, (long long)now + 20);
		CHECK(hdr, cl, secret, "ok:user_1:personal:user_1", "nbf within the leeway");
		snprintf(cl, sizeof(cl), "{\"sub\":\"user_1\",\"exp\":%lld,\"iat\":%lld}",
		    (long long)now + 600, (long long)now + 300);
		CHECK(hdr, cl, secret, "token issued in the future", "iat in the future");
	}
	CHECK(hdr, "{\"exp\":9999999999}", secret, "token has no valid sub", "no sub");
	CHECK(hdr, "{\"sub\":\"bad sub\",\"exp\":9999999999}", secret, "token has no valid sub", "sub with a space");
	CHECK(hdr, "{\"sub\":\"u\",\"exp\":9999999999,\"org_id\":\"o'1\"}", secret,
	    "token has an invalid organisation", "org with a quote");
	CHECK(hdr, "{\"sub\":\"u\",\"exp\":9999999999,\"org_id\":\"personal:victim\"}", secret,
	    "token has an invalid organisation", "an org named like another user's personal tenant");
	CHECK(hdr, "{\"sub\":\"u\",\"exp\":9999999999,\"o\":{\"id\":\"personal:u\"}}", secret,
	    "token has an invalid organisation", "even the user's own personal name, as o.id");

	c.jwt_issuer = "https://clerk.example.com";
	CHECK(hdr, claims("\"iss\":\"https://clerk.example.com\""), secret,
	    "ok:user_1:personal:user_1", "right issuer");
	CHECK(hdr, claims("\"iss\":\"https://evil.example.com\""), secret, "wrong issuer", "wrong issuer");
	CHECK(hdr, claims(""), secret, "wrong issuer", "missing issuer");
	c.jwt_issuer = "";
	c.jwt_audience = "api";
	CHECK(hdr, claims("\"aud\":\"api\""), secret, "ok:user_1:personal:user_1", "aud string");
	CHECK(hdr, claims("\"aud\":[\"web\",\"api\"]"), secret, "ok:user_1:personal:user_1", "aud array");
	CHECK(hdr, claims("\"aud\":\"web\""), secret, "wrong audience", "wrong aud");
	CHECK(hdr, claims("\"aud\":[\"web\"]"), secret, "wrong audience", "aud array without ours");
	c.jwt_audience = "";
	c.jwt_azp = "https://app.example.com,http://localhost:3000";
	CHECK(hdr, claims("\"azp\":\"http://localhost:3000\""), secret, "ok:user_1:personal:user_1", "azp in list");
	CHECK(hdr, claims("\"azp\":\"https://evil.example\""), secret, "wrong authorized party", "azp not in list");
	c.jwt_azp = "";

	is_str(verify(&k, &c, "garbage"), "malformed token", "garbage");
	is_str(verify(&k, &c, "a.b.c.d"), "malformed token", "four segments");
	is_str(verify(&k, &c, ""), "malformed token", "empty");
	t = hs256(hdr, claims(""), secret);
	t[strlen(t) - 3] ^= 1;
	is_str(verify(&k, &c, t), "invalid signature", "one bit flipped in the signature");
	*strrchr(t, '.') = '\0';
	strcat(t, ".");
	is_str(verify(&k, &c, t), "missing signature", "empty signature");
	free(t);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_str(verify(&k, &c, big), "malformed token", "9000 bytes");
	auth_keys_free(&k);
#undef CHECK
}

/* Whether tok's principal may change its whole tenant; -1: refused. */
static int
admin_of(struct auth_keys *k, const struct config *c, const char *claims_json)
{
	struct principal	 p;
	const char		*why;
	char			*t;
	int			 rc;

	t = hs256("{\"alg\":\"HS256\"}", claims_json, secret);
	rc = auth_verify(k, c, t, now, &p, &why) == 0 ? p.admin : -1;
	free(t);
	return rc;
}

static void
test_roles(void)
{
	struct config	 c = base_config();
	struct auth_keys k;

	c.jwt_admin_roles = "org:admin,admin";
	write_file(c.jwt_secret_file, secret, strlen(secret));
	ok(auth_keys_load(&k, &c) == 0, "roles: key loads");
	is_int(admin_of(&k, &c, claims("")), 1, "a personal tenant is its own admin");
	is_int(admin_of(&k, &c, claims("\"v\":2,\"o\":{\"id\":\"org_a\",\"rol\":\"admin\"}")), 1,
	    "v2 o.rol admin");
	is_int(admin_of(&k, &c, claims("\"v\":2,\"o\":{\"id\":\"org_a\",\"rol\":\"member\"}")), 0,
	    "v2 o.rol member");
	is_int(admin_of(&k, &c, claims("\"v\":2,\"o\":{\"id\":\"org_a\"}")), 0,
	    "v2 without o.rol");
	is_int(admin_of(&k, &c, claims("\"v\":2,\"o\":{\"id\":\"org_a\",\"rol\":\"member\"},"
	    "\"org_role\":\"org:admin\"")), 0, "v2: org_role is not read");
	is_int(admin_of(&k, &c, claims("\"org_id\":\"org_b\",\"org_role\":\"org:admin\"")), 1,
	    "v1 org_role org:admin");
	is_int(admin_of(&k, &c, claims("\"org_id\":\"org_b\",\"org_role\":\"org:member\"")), 0,
	    "v1 org_role org:member");
	is_int(admin_of(&k, &c, claims("\"org_id\":\"org_b\",\"org_role\":\"org:adminx\"")), 0,
	    "a role is compared whole, not as a prefix");
	c.jwt_admin_roles = "org:owner";
	is_int(admin_of(&k, &c, claims("\"v\":2,\"o\":{\"id\":\"org_a\",\"rol\":\"admin\"}")), 0,
	    "jwt_admin_roles is what decides");
	is_int(admin_of(&k, &c, claims("\"org_id\":\"org_b\",\"org_role\":\"org:owner\"")), 1,
	    "a configured role");
	auth_keys_free(&k);
}

static char *
pem_of(EVP_PKEY *pkey, int private)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	char	*data, *out;
	long	 len;

	if (private)
		PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
	else
		PEM_write_bio_PUBKEY(bio, pkey);
	len = BIO_get_mem_data(bio, &data);
	out = xmalloc((size_t)len + 1);
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	BIO_free(bio);
	return out;
}

static char *
jwk_of(EVP_PKEY *pkey, const char *kid)
{
	BIGNUM		*n = NULL, *e = NULL;
	unsigned char	 nb[512], eb[8];
	int		 nl, el;
	char		*ns, *es, *out;
	struct buf	 b = { 0 };

	EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n);
	EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e);
	nl = BN_bn2bin(n, nb);
	el = BN_bn2bin(e, eb);
	ns = base64url_encode(nb, (size_t)nl);
	es = base64url_encode(eb, (size_t)el);
	buf_printf(&b, "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\","
	    "\"n\":\"%s\",\"e\":\"%s\"}", kid, ns, es);
	out = xstrdup(b.data);
	buf_free(&b);
	free(ns);
	free(es);
	BN_free(n);
	BN_free(e);
	return out;
}

static void
test_rs256(void)
{
	struct config	 c = base_config();
	struct auth_keys k;
	EVP_PKEY	*k1 = EVP_RSA_gen(2048), *k2 = EVP_RSA_gen(2048);
	char		*priv1 = pem_of(k1, 1), *pub1 = pem_of(k1, 0);
	char		*priv2 = pem_of(k2, 1);
	char		*j1 = jwk_of(k1, "k1"), *j2 = jwk_of(k2, "k2"), *t, *t2;
	char		 path[256], jwks[4096];
	struct buf	 ec = { 0 };

	snprintf(path, sizeof(path), "%s/rs.pub.pem", dir);
	write_file(path, pub1, strlen(pub1));
	c.jwt_alg = AUTH_RS256;
	c.jwt_public_key_file = path;
	ok(auth_keys_load(&k, &c) == 0, "RS256 PEM public key loads");

	t = auth_sign(AUTH_RS256, (unsigned char *)priv1, strlen(priv1), NULL, claims(""));
	ok(t != NULL, "auth_sign makes an RS256 token");
	is_str(verify(&k, &c, t), "ok:user_1:personal:user_1", "RS256 token verifies");
	free(t);
	t = auth_sign(AUTH_RS256, (unsigned char *)priv2, strlen(priv2), NULL, claims(""));
	is_str(verify(&k, &c, t), "invalid signature", "signed by another key");
	free(t);
	/* The classic confusion: an HS256 token keyed with the public PEM. */
	t = hs256("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims(""), pub1);
	is_str(verify(&k, &c, t), "token algorithm not accepted",
	    "HS256 signed with the RS256 public key is refused");
	free(t);
	auth_keys_free(&k);

	snprintf(jwks, sizeof(jwks), "{\"keys\":[%s,%s,{\"kty\":\"EC\",\"kid\":\"e\"}]}", j1, j2);
	snprintf(path, sizeof(path), "%s/jwks.json", dir);
	write_file(path, jwks, strlen(jwks));
	c.jwt_public_key_file = "";
	c.jwt_jwks_file = path;
	ok(auth_keys_load(&k, &c) == 0 && k.nkeys == 2, "JWKS loads its two RSA keys, skips the EC one");
	t = auth_sign(AUTH_RS256, (unsigned char *)priv1, strlen(priv1), "k1", claims(""));
	t2 = auth_sign(AUTH_RS256, (unsigned char *)priv2, strlen(priv2), "k2", claims(""));
	is_str(verify(&k, &c, t), "ok:user_1:personal:user_1", "kid k1 selects key 1");
	is_str(verify(&k, &c, t2), "ok:user_1:personal:user_1", "kid k2 selects key 2");
	free(t);
	free(t2);
	t = auth_sign(AUTH_RS256, (unsigned char *)priv1, strlen(priv1), "k2", claims(""));
	is_str(verify(&k, &c, t), "invalid signature", "kid of the other key");
	free(t);
	t = auth_sign(AUTH_RS256, (unsigned char *)priv1, strlen(priv1), "nope", claims(""));
	is_str(verify(&k, &c, t), "unknown signing key", "unknown kid");
	free(t);
	t = auth_sign(AUTH_RS256, (unsigned char *)priv1, strlen(priv1), NULL, claims(""));
	is_str(verify(&k, &c, t), "unknown signing key", "no kid while the JWKS has two keys");
	free(t);
	auth_keys_free(&k);

	ok(auth_jwks_parse(&k, "{\"keys\":[]}", 11) == -1, "empty JWKS refused");
	ok(auth_jwks_parse(&k, "not json", 8) == -1, "garbage JWKS refused");
	buf_puts(&ec, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}");
	ok(auth_jwks_parse(&k, ec.data, ec.len) == -1, "a toy-sized RSA key refused");
	auth_keys_free(&k);
	buf_free(&ec);

	free(priv1);
	free(pub1);
	free(priv2);
	free(j1);
	free(j2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

static void
test_cached(void)
{
	struct config		 c = base_config();
	struct auth_keys	 k;
	struct principal	 p;
	const char		*why;
	char			*t, *t2, cl[256];

	ok(auth_keys_load(&k, &c) == 0, "keys for the cache test");
	snprintf(cl, sizeof(cl), "{\"sub\":\"user_c\",\"exp\":%lld,\"org_id\":\"org_c\"}",
	    (long long)now + 100);
	t = hs256("{\"alg\":\"HS256\"}", cl, secret);
	ok(auth_verify_cached(&k, &c, t, now, &p, &why) == 0 && strcmp(p.tenant_id, "org_c") == 0,
	    "cached verify: first time verifies");
	ok(p.exp == now + 100, "the principal carries the token's exp");
	memset(&p, 0, sizeof(p));
	ok(auth_verify_cached(&k, &c, t, now, &p, &why) == 0 && strcmp(p.user_id, "user_c") == 0 &&
	    strcmp(p.tenant_id, "org_c") == 0 && p.exp == now + 100,
	    "second time: the same principal (and exp) from the cache");
	ok(auth_verify_cached(&k, &c, t, now + 100 + 31, &p, &why) == -1 &&
	    strcmp(why, "token expired") == 0, "a cached token still expires");
	t2 = xstrdup(t);
	t2[strlen(t2) - 2] ^= 1;
	ok(auth_verify_cached(&k, &c, t2, now, &p, &why) == -1, "a forged twin is not served from the cache");
	free(t2);
	free(t);
	auth_keys_free(&k);
}

static void
test_token_from(void)
{
	char	out[64];

	is_str(auth_token_from("Bearer abc.def.ghi", NULL, out, sizeof(out)), "abc.def.ghi", "Bearer");
	is_str(auth_token_from("bearer   abc ", NULL, out, sizeof(out)), "abc", "case and spaces");
	is_str(auth_token_from("Basic dXNlcjpwYXNz", NULL, out, sizeof(out)), NULL, "Basic is not a bearer token");
	is_str(auth_token_from(NULL, "theme=dark; __session=tok123; x=1", out, sizeof(out)), "tok123",
	    "__session cookie");
	is_str(auth_token_from(NULL, "x__session=evil; __session=good", out, sizeof(out)), "good",
	    "a cookie that merely ends in __session is not it");
	is_str(auth_token_from(NULL, "theme=dark", out, sizeof(out)), NULL, "no cookie");
	is_str(auth_token_from("Bearer ", NULL, out, sizeof(out)), NULL, "empty bearer");
	ok(auth_token_from("Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    NULL, out, sizeof(out)) == NULL, "too long for the buffer");
}

/* How long a fetched JWKS is kept: its Cache-Control within the bounds. */
static void
test_jwks_max_age(void)
{
	ok(jwks_cache_max_age("public, max-age=300", 60, 86400) == 300, "max-age");
	ok(jwks_cache_max_age("max-age=5", 60, 86400) == 60, "below the minimum: the minimum");
	ok(jwks_cache_max_age("max-age=999999", 60, 86400) == 86400, "above the maximum: the maximum");
	ok(jwks_cache_max_age("no-cache", 60, 86400) == 60 &&
	    jwks_cache_max_age("no-store, max-age=600", 60, 86400) == 60,
	    "no-cache, no-store: the minimum");
	ok(jwks_cache_max_age(NULL, 60, 86400) == 60 &&
	    jwks_cache_max_age("public", 60, 86400) == 60, "none: the minimum");
	ok(jwks_cache_max_age("s-maxage=900, max-age=120", 60, 86400) == 120,
	    "s-maxage is not max-age");
	ok(jwks_cache_max_age("Max-Age=120", 1, 86400) == 120, "any case");
	ok(jwks_cache_max_age("max-age=99999999999999999999", 1, 500) == 1,
	    "a number too long to be one: ignored");
}

int
main(void)
{
	char	cmd[64];

	now = time(NULL);
	if (mkdtemp(dir) == NULL)
		return 1;
	test_hs256();
	test_roles();
	test_rs256();
	test_cached();
	test_token_from();
	test_jwks_max_age();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return done_testing();
}

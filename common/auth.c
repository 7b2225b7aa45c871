/* auth.c: JWT verification with a pinned algorithm, Clerk claims to a principal, and token minting for tools. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common.h"

#define TOKEN_MAX	8192
#define KEYFILE_MAX	(256 * 1024)

/* One verification key: an HS256 secret or an RS256 public key in PEM. */
struct auth_key {
	char		*kid;
	unsigned char	*key;
	size_t		 len;
};

static void
keys_add(struct auth_keys *k, const char *kid, unsigned char *key, size_t len)
{
	k->keys = xrealloc(k->keys, (k->nkeys + 1) * sizeof(*k->keys));
	k->keys[k->nkeys].kid = kid != NULL ? xstrdup(kid) : NULL;
	k->keys[k->nkeys].key = key;
	k->keys[k->nkeys].len = len;
	k->nkeys++;
}

/* Release k's keys, and where they came from (jwt_jwks_url). */
void
auth_keys_free(struct auth_keys *k)
{
	size_t	i;

	jwks_close(k);
	for (i = 0; i < k->nkeys; i++) {
		free(k->keys[i].kid);
		free(k->keys[i].key);
	}
	free(k->keys);
	k->keys = NULL;
	k->nkeys = 0;
}

static BIGNUM *
bn_from_b64url(const char *s)
{
	unsigned char	*raw;
	size_t		 len;
	BIGNUM		*bn;

	if (s == NULL || base64url_decode(s, strlen(s), &raw, &len) == -1)
		return NULL;
	bn = BN_bin2bn(raw, (int)len, NULL);
	free(raw);
	return bn;
}

/* An RSA JWK's n and e as a PEM SubjectPublicKeyInfo; NULL if unusable. */
static unsigned char *
jwk_to_pem(json_object *jwk, size_t *lenp)
{
	json_object	*n = NULL, *e = NULL;
	BIGNUM		*bn_n, *bn_e;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY_CTX	*ctx = NULL;
	EVP_PKEY	*pkey = NULL;
	BIO		*bio = NULL;
	unsigned char	*pem = NULL;
	char		*data;
	long		 len;

	json_object_object_get_ex(jwk, "n", &n);
	json_object_object_get_ex(jwk, "e", &e);
	bn_n = bn_from_b64url(json_object_get_string(n));
	bn_e = bn_from_b64url(json_object_get_string(e));
	if (bn_n == NULL || bn_e == NULL || BN_num_bits(bn_n) < 2048)
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PUBKEY(bio, pkey))
		goto out;
	len = BIO_get_mem_data(bio, &data);
	pem = xmalloc((size_t)len + 1);
	memcpy(pem, data, (size_t)len);
	pem[len] = '\0';
	*lenp = (size_t)len;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return pem;
}

static const char *
jstr(json_object *obj, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * Add the RS256 signing keys of a JWKS document.  This is the seam for
 * fetching the JWKS over HTTPS later: whatever fetches it calls this.
 * Returns the number of keys added, or -1 if the document is unusable.
 */
int
auth_jwks_parse(struct auth_keys *k, const char *json, size_t len)
{
	json_object	*doc, *arr, *jwk;
	const char	*why, *kty, *alg, *use;
	unsigned char	*pem;
	size_t		 i, pemlen;
	int		 added = 0;

	if ((doc = json_parse_strict(json, len, 8, &why)) == NULL)
		return -1;
	if (!json_object_object_get_ex(doc, "keys", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		json_object_put(doc);
		return -1;
	}
	for (i = 0; i < json_object_array_length(arr); i++) {
		jwk = json_object_array_get_idx(arr, i);
		kty = jstr(jwk, "kty");
		alg = jstr(jwk, "alg");
		use = jstr(jwk, "use");
		if (kty == NULL || strcmp(kty, "RSA") != 0 ||
		    (alg != NULL && strcmp(alg, "RS256") != 0) ||
		    (use != NULL && strcmp(use, "sig") != 0))
			continue;
		if ((pem = jwk_to_pem(jwk, &pemlen)) == NULL)
			continue;
		keys_add(k, jstr(jwk, "kid"), pem, pemlen);
		added++;
	}
	json_object_put(doc);
	return added > 0 ? added : -1;
}

static void
trim_key(unsigned char *p, size_t *len)
{
	while (*len > 0 && isspace(p[*len - 1]))
		p[--*len] = '\0';
}

/*
 * Load the verification keys the configuration names.  Returns -1 with
 * a log line when the key is missing or unusable: a worker that cannot
 * verify tokens must not start.
 */
int
auth_keys_load(struct auth_keys *k, const struct config *c)
{
	const char	*path;
	char		*data;
	size_t		 len;

	memset(k, 0, sizeof(*k));
	k->alg = c->jwt_alg;
	if (c->jwt_alg == AUTH_RS256 && c->jwt_jwks_url != NULL &&
	    *c->jwt_jwks_url != '\0')
		return jwks_open(k, c);
	if (c->jwt_alg == AUTH_HS256)
		path = c->jwt_secret_file;
	else if (*c->jwt_jwks_file != '\0')
		path = c->jwt_jwks_file;
	else
		path = c->jwt_public_key_file;
	if (*path == '\0') {
		LOG_ERR(NULL, "auth: no key file configured for %s",
		    c->jwt_alg == AUTH_HS256 ? "HS256" : "RS256");
		return -1;
	}
	if ((data = read_file(path, KEYFILE_MAX, &len)) == NULL) {
		LOG_ERR(NULL, "auth: %s: %s", path, strerror(errno));
		return -1;
	}
	if (c->jwt_alg == AUTH_RS256 && *c->jwt_jwks_file != '\0') {
		if (auth_jwks_parse(k, data, len) == -1) {
			LOG_ERR(NULL, "auth: %s: no usable RS256 key", path);
			free(data);
			return -1;
		}
		free(data);
		return 0;
	}
	trim_key((unsigned char *)data, &len);
	if (c->jwt_alg == AUTH_HS256 && len < 32) {
		LOG_ERR(NULL, "auth: %s: an HS256 secret needs 32 bytes or more",
		    path);
		free(data);
		return -1;
	}
	keys_add(k, NULL, (unsigned char *)data, len);
	return 0;
}

static const struct auth_key *
key_for(const struct auth_keys *k, const char *kid)
{
	size_t	i;

	if (kid == NULL)
		return k->nkeys == 1 ? &k->keys[0] : NULL;
	for (i = 0; i < k->nkeys; i++)
		if (k->keys[i].kid == NULL ? k->nkeys == 1 :
		    strcmp(k->keys[i].kid, kid) == 0)
			return &k->keys[i];
	return NULL;
}

/* Predicate: k holds a key for a token naming kid. */
int
auth_key_known(const struct auth_keys *k, const char *kid)
{
	return key_for(k, kid) != NULL;
}

/* Decode one base64url JSON segment of a token into an object. */
static json_object *
segment_json(const char *seg, size_t len)
{
	unsigned char	*raw;
	size_t		 rawlen;
	json_object	*obj;
	const char	*why;

	if (base64url_decode(seg, len, &raw, &rawlen) == -1)
		return NULL;
	obj = json_parse_strict((char *)raw, rawlen, 8, &why);
	free(raw);
	if (obj != NULL && !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/*
 * The largest NumericDate taken, 9999-12-31T23:59:59Z: beyond it (and
 * below 0) a claim cannot be a time_t everywhere, and converting such a
 * double is undefined behaviour.
 */
#define NUMERICDATE_MAX	253402300799.0

/*
 * A NumericDate claim: absent (0), a number of seconds from 0 to
 * NUMERICDATE_MAX (1), or anything else (-1): a string, a negative
 * number, 1e300.
 */
static int
claim_time(json_object *claims, const char *key, double *out)
{
	json_object	*v;
	double		 t;

	if (!json_object_object_get_ex(claims, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return -1;
	t = json_object_get_double(v);
	if (!(t >= 0 && t <= NUMERICDATE_MAX))	/* NaN too */
		return -1;
	*out = t;
	return 1;
}

static int
aud_matches(json_object *claims, const char *want)
{
	json_object	*v, *item;
	size_t		 i;

	if (!json_object_object_get_ex(claims, "aud", &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), want) == 0;
	if (!json_object_is_type(v, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(v); i++) {
		item = json_object_array_get_idx(v, i);
		if (json_object_is_type(item, json_type_string) &&
		    strcmp(json_object_get_string(item), want) == 0)
			return 1;
	}
	return 0;
}

/* Predicate: s is one of the comma-separated values of list. */
static int
in_list(const char *list, const char *s)
{
	size_t		 n = strlen(s);
	const char	*p = list;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, s, n) == 0)
			return 1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

/*
 * The organisation and its role of a Clerk session token.  Version 2
 * ("v":2, or any token carrying "o") has them in o.id and o.rol and
 * nowhere else: a v2 token without o.id is personal, whatever org_id
 * says.  Version 1 has org_id and org_role.  Either may be NULL.
 */
static void
claims_org(json_object *claims, const char **org, const char **role)
{
	json_object	*v, *o = NULL;
	int		 v2;

	v2 = json_object_object_get_ex(claims, "v", &v) &&
	    json_object_is_type(v, json_type_int) && json_object_get_int(v) >= 2;
	if (json_object_object_get_ex(claims, "o", &o) &&
	    json_object_is_type(o, json_type_object))
		v2 = 1;
	else
		o = NULL;
	*org = *role = NULL;
	if (v2) {
		if (o != NULL) {
			*org = jstr(o, "id");
			*role = jstr(o, "rol");
		}
		return;
	}
	*org = jstr(claims, "org_id");
	*role = jstr(claims, "org_role");
}

/*
 * The tenant of a principal: the organisation when there is one, else
 * a personal tenant derived from the user id.  Returns -1 if the ids
 * are not acceptable identifiers, or if the organisation claims a name
 * of the personal namespace (org_id "personal:u" would be u's tenant).
 */
int
auth_tenant_for(const char *sub, const char *org, char *out, size_t outlen)
{
	int	n;

	if (org != NULL && *org != '\0') {
		if (!ident_valid(org, strlen(org)) ||
		    strncmp(org, "personal:", 9) == 0)
			return -1;
		n = snprintf(out, outlen, "%s", org);
	} else {
		if (!ident_valid(sub, strlen(sub)))
			return -1;
		n = snprintf(out, outlen, "personal:%s", sub);
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * Verify a compact JWS and fill the principal (its exp included).  Returns 0, or -1 with *why set to a short reason that is safe
 * to show the client.
 */
const char	auth_no_keys[] = "the signing keys cannot be fetched";

int
auth_verify(struct auth_keys *k, const struct config *c, const char *token,
    time_t now, struct principal *p, const char **why)
{
	const char		*dot1, *dot2, *alg, *sub, *org, *role, *s;
	const char		*want = k->alg == AUTH_HS256 ? "HS256" : "RS256";
	const struct auth_key	*key;
	json_object		*hdr = NULL, *claims = NULL;
	jwt_t			*jwt = NULL;
	double			 t, leeway = c->jwt_leeway;
	size_t			 len = strlen(token);
	int			 rc = -1, has;

	*why = "malformed token";
	memset(p, 0, sizeof(*p));
	if (len == 0 || len > TOKEN_MAX)
		goto out;
	if ((dot1 = strchr(token, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL)
		goto out;
	if ((hdr = segment_json(token, (size_t)(dot1 - token))) == NULL)
		goto out;
	*why = "token algorithm not accepted";
	if ((alg = jstr(hdr, "alg")) == NULL || strcmp(alg, want) != 0)
		goto out;
	/* RFC 7515 4.1.11: no extension is understood, so none may be critical. */
	*why = "token has a critical header";
	if (json_object_object_get_ex(hdr, "crit", NULL))
		goto out;
	*why = "missing signature";
	if (dot2[1] == '\0')
		goto out;
	*why = auth_no_keys;
	if (jwks_current(k, now, jstr(hdr, "kid")) == -1)
		goto out;
	*why = "unknown signing key";
	if ((key = key_for(k, jstr(hdr, "kid"))) == NULL)
		goto out;
	*why = "invalid signature";
	if (jwt_decode(&jwt, token, key->key, (int)key->len) != 0 ||
	    strcmp(jwt_alg_str(jwt_get_alg(jwt)), want) != 0)
		goto out;
	*why = "malformed token";
	if ((claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
		goto out;

	*why = "token has no valid exp";
	if (claim_time(claims, "exp", &t) != 1)
		goto out;
	p->exp = (time_t)t;
	*why = "token expired";
	if ((double)now > t + leeway)
		goto out;
	*why = "token not yet valid";
	if ((has = claim_time(claims, "nbf", &t)) == -1 ||
	    (has && (double)now + leeway < t))
		goto out;
	*why = "token issued in the future";
	if ((has = claim_time(claims, "iat", &t)) == -1 ||
	    (has && (double)now + leeway < t))
		goto out;
	*why = "wrong issuer";
	if (*c->jwt_issuer != '\0' && ((s = jstr(claims, "iss")) == NULL ||
	    strcmp(s, c->jwt_issuer) != 0))
		goto out;
	*why = "wrong audience";
	if (*c->jwt_audience != '\0' && !aud_matches(claims, c->jwt_audience))
		goto out;
	*why = "wrong authorized party";
	if (*c->jwt_azp != '\0' && ((s = jstr(claims, "azp")) == NULL ||
	    !in_list(c->jwt_azp, s)))
		goto out;

	*why = "token has no valid sub";
	if ((sub = jstr(claims, "sub")) == NULL || !ident_valid(sub, strlen(sub)))
		goto out;
	claims_org(claims, &org, &role);
	*why = "token has an invalid organisation";
	if (auth_tenant_for(sub, org, p->tenant_id, sizeof(p->tenant_id)) == -1)
		goto out;
	snprintf(p->user_id, sizeof(p->user_id), "%s", sub);
	p->personal = org == NULL || *org == '\0';
	p->admin = p->personal || (role != NULL && in_list(c->jwt_admin_roles, role));
	*why = NULL;
	rc = 0;
out:
	jwt_free(jwt);
	json_object_put(hdr);
	json_object_put(claims);
	return rc;
}

/*
 * The bearer token of a request: the Authorization header when it is
 * "Bearer <token>", else the __session cookie (Clerk's).  The token is
 * copied into out; NULL when there is none or it does not fit.
 */
const char *
auth_token_from(const char *authz, const char *cookie, char *out, size_t outlen)
{
	const char	*p, *end;
	size_t		 n;

	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
		for (p = authz + 7; *p == ' '; p++)
			continue;
		n = strlen(p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
	} else if (cookie != NULL) {
		for (p = cookie; (p = strstr(p, "__session=")) != NULL; p++)
			if (p == cookie || p[-1] == ' ' || p[-1] == ';')
				break;
		if (p == NULL)
			return NULL;
		p += strlen("__session=");
		end = strchr(p, ';');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
	} else
		return NULL;
	if (n == 0 || n >= outlen)
		return NULL;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/*
 * Mint a token: claims_json is the payload, key is the HS256 secret or
 * the RS256 private key in PEM.  For the token tool and tests; the API
 * itself never signs.  Returns a malloc'd string or NULL.
 */
char *
auth_sign(enum auth_alg alg, const unsigned char *key, size_t keylen,
    const char *kid, const char *claims_json)
{
	jwt_t	*jwt = NULL;
	char	*tok = NULL;

	if (jwt_new(&jwt) != 0)
		return NULL;
	if (jwt_add_grants_json(jwt, claims_json) != 0 ||
	    (kid != NULL && *kid != '\0' && jwt_add_header(jwt, "kid", kid) != 0) ||
	    jwt_set_alg(jwt, alg == AUTH_HS256 ? JWT_ALG_HS256 : JWT_ALG_RS256,
	    key, (int)keylen) != 0)
		goto out;
	tok = jwt_encode_str(jwt);
out:
	jwt_free(jwt);
	return tok;
}

/*
 * Tokens verified recently, so that a client reusing its token (they
 * all do, for minutes) costs one SHA-256 instead of a signature check
 * (an RSA verification for RS256) and two JSON parses.  Keyed by the
 * token's digest; an entry is good until the token's exp (plus leeway),
 * which is checked again on every hit.  A small direct-mapped table per
 * worker: a collision only costs a full verification.
 */
#define AUTH_CACHE	128
static struct {
	unsigned char		digest[32];
	struct principal	p;		/* exp included */
	int			used;
} verified[AUTH_CACHE];

/* Forget every token verified: the keys changed. */
void
auth_cache_clear(void)
{
	memset(verified, 0, sizeof(verified));
}

int
auth_verify_cached(struct auth_keys *k, const struct config *c,
    const char *token, time_t now, struct principal *p, const char **why)
{
	unsigned char	d[32];
	unsigned int	slot;

	/* A key the issuer removed must stop working: look before the cache. */
	(void)jwks_current(k, now, NULL);

	SHA256((const unsigned char *)token, strlen(token), d);
	slot = (d[0] | (unsigned int)d[1] << 8) % AUTH_CACHE;
	if (verified[slot].used && memcmp(verified[slot].digest, d, 32) == 0) {
		if (now <= verified[slot].p.exp + c->jwt_leeway) {
			*p = verified[slot].p;
			*why = NULL;
			return 0;
		}
		verified[slot].used = 0;
		*why = "token expired";
		return -1;
	}
	if (auth_verify(k, c, token, now, p, why) == -1)
		return -1;
	memcpy(verified[slot].digest, d, 32);
	verified[slot].p = *p;
	verified[slot].used = 1;
	return 0;
}

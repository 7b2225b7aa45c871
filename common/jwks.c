/* jwks.c: the RS256 keys of a JWKS URL: fetched over HTTPS with libcurl, kept for their max-age, shared by a host's processes through a cache file, refetched for unknown kids at a bounded rate. */
#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/sha.h>

#include "common.h"

#define JWKS_MAX	(256 * 1024)	/* a JWKS larger than this is refused */
#define JWKS_MAGIC	"upw-jwks 1"	/* the cache file's first line */

/*
 * Where a URL's keys come from and when to look again.  The cache file
 * holds a header line, "upw-jwks 1 <fetched> <expires>", then the
 * document as the issuer sent it.  The lock file holds the last attempt
 * to fetch, "<time> <ok>": whoever fetches holds its flock(2), so the
 * host fetches once however many processes need the keys.
 */
struct jwks_remote {
	char		*url;
	char		*ca_file;
	char		*cache;		/* NULL: no cache directory */
	char		*lock;
	int		 min_ttl, max_ttl, interval, timeout_ms;
	time_t		 expires;	/* the set in memory is fresh until then */
	time_t		 next_try;	/* no fetch before then (after an attempt) */
	time_t		 checked;	/* the cache file was last looked at */
	struct timespec	 mtime;		/* of the cache file we read last */
	time_t		 last_attempt;	/* without a cache directory */
	int		 last_ok;
};

/* What a fetch collects through libcurl's callbacks. */
struct fetch {
	struct buf	body;
	int		max_age;	/* -1: none given */
	int		too_big;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct fetch	*f = arg;

	if (f->body.len + n > JWKS_MAX) {
		f->too_big = 1;
		return 0;
	}
	buf_append(&f->body, p, n);
	return n * size;
}

/*
 * Seconds a response may be kept by its Cache-Control value: max-age
 * bounded by min and max; no max-age, no-cache or no-store: min.  Pure.
 */
int
jwks_cache_max_age(const char *cc, int min, int max)
{
	const char	*p;
	long long	 v = -1;
	char		 num[16];
	size_t		 n;

	if (cc == NULL)
		return min;
	for (p = cc; *p != '\0'; p++) {
		if (p != cc && p[-1] != ' ' && p[-1] != ',' && p[-1] != '\t')
			continue;
		if (strncasecmp(p, "no-store", 8) == 0 ||
		    strncasecmp(p, "no-cache", 8) == 0)
			return min;
		if (strncasecmp(p, "max-age=", 8) == 0) {
			n = strspn(p + 8, "0123456789");
			if (n == 0 || n >= sizeof(num))
				continue;
			memcpy(num, p + 8, n);
			num[n] = '\0';
			v = strtoll(num, NULL, 10);
		}
	}
	if (v < min)
		return min;
	return v > max ? max : (int)v;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct fetch	*f = arg;
	char		 line[512];
	size_t		 len = n * size;

	if (len < 15 || len >= sizeof(line) ||
	    strncasecmp(p, "Cache-Control:", 14) != 0)
		return len;
	memcpy(line, p + 14, len - 14);
	line[len - 14] = '\0';
	f->max_age = jwks_cache_max_age(line, 0, 1 << 30);
	if (f->max_age == 0 && strstr(line, "max-age") == NULL)
		f->max_age = -1;
	return len;
}

/*
 * GET the JWKS over HTTPS, the certificate checked.  Returns 0 with the
 * document in f, or -1 after logging why.
 */
static int
fetch(const struct jwks_remote *jr, struct fetch *f)
{
	CURL		*c;
	CURLcode	 rc;
	long		 status = 0;
	int		 ret = -1;

	memset(f, 0, sizeof(*f));
	f->max_age = -1;
	if ((c = curl_easy_init()) == NULL)
		oom();
	curl_easy_setopt(c, CURLOPT_URL, jr->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (jr->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, jr->ca_file);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)jr->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)jr->timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "jwks-fetch/1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (f->too_big)
		LOG_ERR(NULL, "jwks: %s: larger than %d bytes", jr->url, JWKS_MAX);
	else if (rc != CURLE_OK)
		LOG_ERR(NULL, "jwks: %s: %s", jr->url, curl_easy_strerror(rc));
	else if (status != 200)
		LOG_ERR(NULL, "jwks: %s: HTTP status %ld", jr->url, status);
	else
		ret = 0;
	curl_easy_cleanup(c);
	if (ret == -1)
		buf_free(&f->body);
	return ret;
}

/*
 * Make doc the set in k: parsed first, so that a document without a
 * usable key leaves the last good set in place.  The tokens verified
 * with the old set are forgotten (a removed key stops working at once).
 * 0, or -1.
 */
static int
adopt(struct auth_keys *k, const char *doc, size_t len, time_t expires)
{
	struct auth_keys	 fresh;
	struct jwks_remote	*jr = k->remote;

	memset(&fresh, 0, sizeof(fresh));
	fresh.alg = k->alg;
	if (auth_jwks_parse(&fresh, doc, len) == -1) {
		auth_keys_free(&fresh);
		return -1;
	}
	k->remote = NULL;	/* the old keys go, not where they came from */
	auth_keys_free(k);
	k->remote = jr;
	k->keys = fresh.keys;
	k->nkeys = fresh.nkeys;
	jr->expires = expires;
	auth_cache_clear();
	return 0;
}

/*
 * Read the cache file if it changed since we last did; adopt its set.
 * 1 adopted, 0 unchanged or absent, -1 unusable.
 */
static int
read_cache(struct auth_keys *k)
{
	struct jwks_remote	*jr = k->remote;
	struct stat		 st;
	long long		 fetched, expires;
	char			*data, *nl;
	size_t			 len;
	int			 n = 0;

	if (stat(jr->cache, &st) == -1)
		return 0;
	if (st.st_mtim.tv_sec == jr->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == jr->mtime.tv_nsec)
		return 0;
	if ((data = read_file(jr->cache, JWKS_MAX + 128, &len)) == NULL)
		return 0;
	if ((nl = memchr(data, '\n', len)) == NULL ||
	    sscanf(data, JWKS_MAGIC " %lld %lld%n", &fetched, &expires, &n) != 2 ||
	    data + n != nl ||
	    adopt(k, nl + 1, len - (size_t)(nl + 1 - data), (time_t)expires) == -1) {
		LOG_ERR(NULL, "jwks: %s: not a usable cache file", jr->cache);
		free(data);
		return -1;
	}
	jr->mtime = st.st_mtim;
	free(data);
	return 1;
}

/* Write the document to the cache file: a temporary file renamed over it. */
static void
write_cache(struct jwks_remote *jr, const struct fetch *f, time_t now,
    time_t expires)
{
	struct buf	 tmp = { 0 };
	struct stat	 st;
	FILE		*fp;
	int		 ok;

	buf_printf(&tmp, "%s.%ld.tmp", jr->cache, (long)getpid());
	if ((fp = fopen(tmp.data, "w")) == NULL) {
		LOG_ERR(NULL, "jwks: %s: %s", tmp.data, strerror(errno));
		buf_free(&tmp);
		return;
	}
	fprintf(fp, JWKS_MAGIC " %lld %lld\n", (long long)now, (long long)expires);
	fwrite(f->body.data, 1, f->body.len, fp);
	ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
	if (fclose(fp) != 0 || !ok || rename(tmp.data, jr->cache) == -1) {
		LOG_ERR(NULL, "jwks: %s: %s", jr->cache, strerror(errno));
		unlink(tmp.data);
	} else if (stat(jr->cache, &st) == 0)
		jr->mtime = st.st_mtim;	/* ours: no need to read it back */
	buf_free(&tmp);
}

/* The last attempt to fetch, from the lock file (fd) or from memory. */
static void
attempt_get(struct jwks_remote *jr, int fd, time_t *at, int *ok)
{
	char		b[64];
	ssize_t		n;
	long long	t;
	int		o;

	*at = jr->last_attempt;
	*ok = jr->last_ok;
	if (fd == -1 || (n = pread(fd, b, sizeof(b) - 1, 0)) <= 0)
		return;
	b[n] = '\0';
	if (sscanf(b, "%lld %d", &t, &o) == 2) {
		*at = (time_t)t;
		*ok = o;
	}
}

static void
attempt_set(struct jwks_remote *jr, int fd, time_t at, int ok)
{
	char	b[64];
	int	n;

	jr->last_attempt = at;
	jr->last_ok = ok;
	if (fd == -1)
		return;
	n = snprintf(b, sizeof(b), "%lld %d\n", (long long)at, ok);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, b, (size_t)n, 0) != n)
		LOG_ERR(NULL, "jwks: %s: %s", jr->lock, strerror(errno));
}

/*
 * Fetch now if the host's last attempt allows it: a set that merely
 * expired is fetched at once after a good attempt, else (an unknown kid,
 * no set at all, the last attempt failed) not within the interval of
 * the last attempt.  Called with the lock held (fd), or without a cache.
 */
static void
maybe_fetch(struct auth_keys *k, int fd, time_t now, int expired_only)
{
	struct jwks_remote	*jr = k->remote;
	struct fetch		 f;
	time_t			 at, expires;
	int			 ok, ttl;

	attempt_get(jr, fd, &at, &ok);
	if (!(expired_only && ok) && now < at + jr->interval) {
		jr->next_try = at + jr->interval;
		return;
	}
	if (fetch(jr, &f) == -1) {
		attempt_set(jr, fd, now, 0);
		jr->next_try = now + jr->interval;
		if (k->nkeys > 0)
			LOG_WARN(NULL, "jwks: %s: keeping the last good set",
			    jr->url);
		return;
	}
	ttl = jwks_cache_max_age(NULL, jr->min_ttl, jr->max_ttl);
	if (f.max_age >= 0)
		ttl = f.max_age < jr->min_ttl ? jr->min_ttl :
		    f.max_age > jr->max_ttl ? jr->max_ttl : f.max_age;
	expires = now + ttl;
	if (adopt(k, f.body.data, f.body.len, expires) == -1) {
		LOG_ERR(NULL, "jwks: %s: no usable RS256 key in the document%s",
		    jr->url, k->nkeys > 0 ? "; keeping the last good set" : "");
		attempt_set(jr, fd, now, 0);
		jr->next_try = now + jr->interval;
	} else {
		LOG_INFO(NULL, "jwks: %s: %zu keys, kept %d s", jr->url,
		    k->nkeys, ttl);
		attempt_set(jr, fd, now, 1);
		jr->next_try = now + jr->interval;
		if (jr->cache != NULL)
			write_cache(jr, &f, now, expires);
	}
	buf_free(&f.body);
}

/* Predicate: k holds the key of kid (kid NULL: k holds keys at all). */
static int
has_kid(const struct auth_keys *k, const char *kid)
{
	return kid == NULL ? k->nkeys > 0 : auth_key_known(k, kid);
}

/*
 * Bring k's set up to date before a token naming kid is checked:
 * another process's newer copy is read (the file is looked at once a
 * second), an expired set is fetched again, and an unknown kid makes it
 * look at most once per interval for the host.  Returns 0 when k has
 * keys to try, -1 when it has none at all.
 */
int
jwks_current(struct auth_keys *k, time_t now, const char *kid)
{
	struct jwks_remote	*jr = k->remote;
	int			 fd = -1, unknown;

	if (jr == NULL)
		return 0;
	if (jr->cache != NULL && now != jr->checked) {
		jr->checked = now;
		(void)read_cache(k);
	}
	unknown = !has_kid(k, kid);
	if (!unknown && now < jr->expires)
		return 0;
	if (now < jr->next_try && (unknown || k->nkeys == 0))
		return k->nkeys > 0 ? 0 : -1;
	if (jr->cache != NULL) {
		if ((fd = open(jr->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1 ||
		    flock(fd, LOCK_EX) == -1) {
			LOG_ERR(NULL, "jwks: %s: %s", jr->lock, strerror(errno));
			if (fd != -1)
				close(fd);
			fd = -1;
		} else
			(void)read_cache(k);	/* another process may just have fetched */
		unknown = !has_kid(k, kid);
	}
	if (unknown || now >= jr->expires)
		maybe_fetch(k, fd, now, !unknown && k->nkeys > 0);
	if (fd != -1)
		close(fd);	/* and the lock with it */
	return k->nkeys > 0 ? 0 : -1;
}

/* dir/jwks-<hex><suffix>, malloc'd. */
static char *
cache_path(const char *dir, const char *hex, const char *suffix)
{
	struct buf	b = { 0 };

	buf_printf(&b, "%s/jwks-%s%s", dir, hex, suffix);
	return b.data;
}

/*
 * Set k up for jwt_jwks_url: the shared copy when there is one, else a
 * fetch.  A worker starts even when the issuer cannot be reached (its
 * tokens are answered 503 until a fetch succeeds); only a bad
 * configuration is an error.  0, or -1 after logging why.
 */
int
jwks_open(struct auth_keys *k, const struct config *c)
{
	struct jwks_remote	*jr;
	unsigned char		 d[SHA256_DIGEST_LENGTH];
	char			 hex[17];
	int			 i;

	if (strncmp(c->jwt_jwks_url, "https://", 8) != 0) {
		LOG_ERR(NULL, "auth: jwt_jwks_url must be an https:// URL");
		return -1;
	}
	if (c->jwt_jwks_min_ttl > c->jwt_jwks_max_ttl) {
		LOG_ERR(NULL, "auth: jwt_jwks_min_ttl is above jwt_jwks_max_ttl");
		return -1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	jr = k->remote = xcalloc(1, sizeof(*jr));
	jr->url = xstrdup(c->jwt_jwks_url);
	if (*c->jwt_jwks_ca_file != '\0')
		jr->ca_file = xstrdup(c->jwt_jwks_ca_file);
	jr->min_ttl = c->jwt_jwks_min_ttl;
	jr->max_ttl = c->jwt_jwks_max_ttl;
	jr->interval = c->jwt_jwks_refetch_interval;
	jr->timeout_ms = c->jwt_jwks_timeout_ms;
	if (*c->jwt_jwks_cache_dir != '\0') {
		SHA256((const unsigned char *)jr->url, strlen(jr->url), d);
		for (i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
		jr->cache = cache_path(c->jwt_jwks_cache_dir, hex, ".json");
		jr->lock = cache_path(c->jwt_jwks_cache_dir, hex, ".lock");
	}
	if (jwks_current(k, time(NULL), NULL) == -1)
		LOG_ERR(NULL, "auth: %s: no keys yet; tokens get a 503 until "
		    "the issuer answers", jr->url);
	return 0;
}

void
jwks_close(struct auth_keys *k)
{
	struct jwks_remote	*jr = k->remote;

	if (jr == NULL)
		return;
	free(jr->url);
	free(jr->ca_file);
	free(jr->cache);
	free(jr->lock);
	free(jr);
	k->remote = NULL;
}

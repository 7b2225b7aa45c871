/* cache.c: two-layer cache: a bounded LRU in each worker (L1) over Redis (L2, off without Redis), invalidated by generation counters, never by KEYS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "common.h"

/*
 * Keys.  Each (namespace, scope) pair has a generation in Redis,
 * "c:{<ns>:<scope>}:g", and every L2 entry of the pair carries it:
 * "c:{<ns>:<scope>}:<gen>:<sha1 of the canonical key>".  Invalidating
 * the pair is one INCR: the old entries are never read again and expire
 * on their own.  The braces keep a pair's keys on one Redis Cluster
 * slot.  A scope longer than SCOPE_KEY_MAX (a user scope of long ids
 * reaches 266 characters) is named by "#" and its SHA-256 in hex
 * instead: a key is never cut, so two scopes never share one ('#' is
 * not a character of ids).
 *
 * L1 holds recent values in the worker's memory for cache_l1_ttl_ms,
 * without asking Redis: its staleness after a write elsewhere is bounded
 * by that TTL.  Namespaces whose writes a user expects to see at once
 * (what users edit themselves) are registered without L1.
 */
static const struct cache_ns	*ns_def;
static size_t			 nns;
static struct {
	char	key[48];	/* cache_<name>_ttl */
	char	def[16];
} ttl_knob[CACHE_NS_MAX];
static struct knob	knobs[CACHE_NS_MAX];

/*
 * The program's namespaces, numbered 0, 1, ... in the order given; each
 * gets its knob cache_<name>_ttl with the default and description
 * given.
 */
void
cache_register(const struct cache_ns *ns, size_t n)
{
	size_t	i;

	if (n > CACHE_NS_MAX) {
		LOG_ERR(NULL, "cache: too many namespaces");
		abort();
	}
	ns_def = ns;
	nns = n;
	for (i = 0; i < n; i++) {
		snprintf(ttl_knob[i].key, sizeof(ttl_knob[i].key),
		    "cache_%s_ttl", ns[i].name);
		snprintf(ttl_knob[i].def, sizeof(ttl_knob[i].def), "%d",
		    ns[i].ttl);
		knobs[i] = (struct knob)CONFIG_INT(ttl_knob[i].key,
		    cfg.cache_ttl[i], ttl_knob[i].def, 1, 86400, ns[i].ttl_doc);
	}
	config_register(knobs, n);
}

/*
 * One round trip for a lookup: the generation (created if missing, from
 * Redis's clock, so that it never repeats an old one), the value, and,
 * on a miss, a short lock that makes this caller the one that fills it.
 * KEYS[1] the generation key; ARGV[1] the value key's prefix, ARGV[2]
 * its suffix, ARGV[3] the lock's lifetime in ms.
 * Returns {gen, value} or {gen, false, 1 if the lock is ours}.
 */
static struct redis_script get_lua = { .lua =
    "local gen = redis.call('GET', KEYS[1])\n"
    "if not gen then\n"
    "  local t = redis.call('TIME')\n"
    "  redis.call('SET', KEYS[1], t[1] .. string.format('%06d', t[2]), 'NX')\n"
    "  gen = redis.call('GET', KEYS[1])\n"
    "end\n"
    "local vkey = ARGV[1] .. gen .. ARGV[2]\n"
    "local v = redis.call('GET', vkey)\n"
    "if v then return {gen, v} end\n"
    "local mine = redis.call('SET', vkey .. ':lock', '1', 'NX', 'PX', ARGV[3])\n"
    "return {gen, false, mine and 1 or 0}\n" };

struct l1_entry {
	struct l1_entry	*hnext;		/* hash chain */
	struct l1_entry	*prev, *next;	/* LRU list, most recent first */
	unsigned long	 hash;
	double		 expires;
	size_t		 vlen;
	size_t		 size;		/* what it counts against the byte cap */
	char		*key;
	char		*val;
};

#define L1_BUCKETS	4096

static struct {
	struct l1_entry	*bucket[L1_BUCKETS];
	struct l1_entry	*head, *tail;
	size_t		 count;
	size_t		 bytes;
} l1;

static struct cache_stats	stats;
static double			stats_logged;

static const char *const result_names[] = {
	[CACHE_MISS] = "MISS", [CACHE_HIT_L1] = "HIT-L1",
	[CACHE_HIT_L2] = "HIT-L2", [CACHE_BYPASS] = "BYPASS",
};

static void
l1_unlink(struct l1_entry *e)
{
	struct l1_entry	**pp = &l1.bucket[e->hash % L1_BUCKETS];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		l1.head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		l1.tail = e->prev;
	l1.count--;
	l1.bytes -= e->size;
	free(e->key);
	free(e->val);
	free(e);
}

static struct l1_entry *
l1_find(const char *key, unsigned long h)
{
	struct l1_entry	*e;

	for (e = l1.bucket[h % L1_BUCKETS]; e != NULL; e = e->hnext)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void
l1_to_front(struct l1_entry *e)
{
	if (l1.head == e)
		return;
	e->prev->next = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		l1.tail = e->prev;
	e->prev = NULL;
	e->next = l1.head;
	l1.head->prev = e;
	l1.head = e;
}

/* Store a copy; evict least recently used entries until within both caps. */
static void
l1_put(const char *key, const char *val, size_t vlen)
{
	unsigned long	 h = str_hash(key);
	struct l1_entry	*e;
	size_t		 size = sizeof(*e) + strlen(key) + 1 + vlen;

	if (cfg.cache_l1_ttl_ms <= 0 || size > (size_t)cfg.cache_l1_max_bytes / 4)
		return;		/* one entry may not take more than a quarter */
	if ((e = l1_find(key, h)) != NULL)
		l1_unlink(e);
	while (l1.tail != NULL && (l1.count + 1 > (size_t)cfg.cache_l1_max_entries ||
	    l1.bytes + size > (size_t)cfg.cache_l1_max_bytes))
		l1_unlink(l1.tail);
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->val = xmalloc(vlen + 1);
	memcpy(e->val, val, vlen);
	e->val[vlen] = '\0';
	e->vlen = vlen;
	e->size = size;
	e->hash = h;
	e->expires = now_ms() + cfg.cache_l1_ttl_ms;
	e->hnext = l1.bucket[h % L1_BUCKETS];
	l1.bucket[h % L1_BUCKETS] = e;
	e->next = l1.head;
	if (l1.head != NULL)
		l1.head->prev = e;
	l1.head = e;
	if (l1.tail == NULL)
		l1.tail = e;
	l1.count++;
	l1.bytes += size;
}

static struct l1_entry *
l1_get(const char *key)
{
	unsigned long	 h = str_hash(key);
	struct l1_entry	*e = l1_find(key, h);

	if (e == NULL)
		return NULL;
	if (now_ms() >= e->expires) {
		l1_unlink(e);
		return NULL;
	}
	l1_to_front(e);
	return e;
}

/* Drop every L1 entry of one (namespace, scope): after this worker's own write. */
static void
l1_drop_scope(const char *prefix)
{
	struct l1_entry	*e, *next;
	size_t		 n = strlen(prefix);

	for (e = l1.head; e != NULL; e = next) {
		next = e->next;
		if (strncmp(e->key, prefix, n) == 0)
			l1_unlink(e);
	}
}

#define SCOPE_KEY_MAX	100

/* The scope as the keys name it (see the top of this file). */
static void
scope_key(const char *scope, char out[SCOPE_KEY_MAX + 1])
{
	unsigned char	d[SHA256_DIGEST_LENGTH];
	size_t		n = strlen(scope);
	int		i;

	if (n <= SCOPE_KEY_MAX) {
		memcpy(out, scope, n + 1);
		return;
	}
	SHA256((const unsigned char *)scope, n, d);
	out[0] = '#';
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", d[i]);
}

/* SHA-1 of the canonical form of a key, in hex: keys of bounded length. */
static void
key_digest(const char *key, char out[41])
{
	unsigned char	d[SHA_DIGEST_LENGTH];
	int		i;

	SHA1((const unsigned char *)key, strlen(key), d);
	for (i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/*
 * The keys of an entry (see the top of this file): its L1 key, the
 * prefix and suffix of its L2 key around the generation, and the
 * generation's own key into gkey.
 */
static void
lookup_keys(struct cache_lookup *lk, int ns, const char *full_scope,
    const char *key, struct buf *gkey)
{
	char	digest[41], scope[SCOPE_KEY_MAX + 1];

	scope_key(full_scope, scope);
	key_digest(key, digest);
	snprintf(lk->l1key, sizeof(lk->l1key), "%s|%s|%s", ns_def[ns].name, scope,
	    digest);
	buf_printf(gkey, "c:{%s:%s}:g", ns_def[ns].name, scope);
	snprintf(lk->prefix, sizeof(lk->prefix), "c:{%s:%s}:", ns_def[ns].name,
	    scope);
	snprintf(lk->suffix, sizeof(lk->suffix), ":%s", digest);
}

static void
stats_count(enum cache_result res)
{
	double	now = now_ms();

	switch (res) {
	case CACHE_HIT_L1: stats.l1_hits++; break;
	case CACHE_HIT_L2: stats.l2_hits++; break;
	case CACHE_MISS: stats.misses++; break;
	case CACHE_BYPASS: stats.bypasses++; break;
	}
	if (stats_logged == 0)
		stats_logged = now;
	else if (now - stats_logged >= 60000)
		cache_log_stats();
}

/* The per-layer counters of this worker, as one log line. */
void
cache_log_stats(void)
{
	stats_logged = now_ms();
	if (stats.l1_hits + stats.l2_hits + stats.misses + stats.bypasses == 0)
		return;
	LOG_INFO(NULL, "cache stats: l1_hits=%lu l2_hits=%lu misses=%lu "
	    "bypasses=%lu l1_entries=%zu l1_bytes=%zu", stats.l1_hits,
	    stats.l2_hits, stats.misses, stats.bypasses, l1.count, l1.bytes);
}

const struct cache_stats *
cache_get_stats(void)
{
	stats.l1_entries = l1.count;
	stats.l1_bytes = l1.bytes;
	return &stats;
}

static enum cache_result
finish(struct req *r, struct cache_lookup *lk, enum cache_result res)
{
	lk->result = res;
	stats_count(res);
	metrics_cache(lk->ns, res);
	if (r != NULL) {
		http_header(r, "X-Cache", "%s", result_names[res]);
		r->cache = result_names[res];
	}
	return res;
}

/*
 * L2 signing.  With events_key_file set, every L2 value is stored as an
 * HMAC-SHA256 (32 bytes, key derived under "redis-cache") over its full
 * Redis key and its body, then the body: whoever can write to Redis
 * without the key cannot have a forged body served, nor move one
 * tenant's entry under another's key.  A value that does not verify is
 * a MISS (this request computes the body and overwrites it).
 */
#define L2_MAC	32

/* The key: 1 with it in *k, 0 when none is configured, -1 unusable. */
static int
l2_key(const struct crypto_keys **k)
{
	static struct crypto_keys	keys;
	static int			state;

	if (*cfg.events_key_file == '\0')
		return 0;
	if (state == 0)
		state = crypto_keys_load(&keys, cfg.events_key_file,
		    "redis-cache") == 0 ? 1 : -1;
	*k = &keys;
	return state;
}

static void
l2_mac(const struct crypto_keys *k, const struct cache_lookup *lk,
    const char *body, size_t len, unsigned char mac[L2_MAC])
{
	struct buf	m = { 0 };

	buf_printf(&m, "%s%s%s", lk->prefix, lk->gen, lk->suffix);
	buf_append(&m, "", 1);
	buf_append(&m, body, len);
	crypto_sign(k, m.data, m.len, mac);
	buf_free(&m);
}

/*
 * An L2 value's body: 1 with it in *body and *len, 0 when it does not
 * verify (counted and logged: someone wrote to Redis without the key).
 */
static int
l2_open(struct req *r, const struct cache_lookup *lk, const char *v, size_t n,
    const char **body, size_t *len)
{
	const struct crypto_keys *k;
	unsigned char	 mac[L2_MAC];
	int		 have = l2_key(&k);

	if (have == 0) {
		*body = v;
		*len = n;
		return 1;
	}
	if (have == 1 && n >= L2_MAC) {
		l2_mac(k, lk, v + L2_MAC, n - L2_MAC, mac);
		if (crypto_equal(mac, v, L2_MAC)) {
			*body = v + L2_MAC;
			*len = n - L2_MAC;
			return 1;
		}
	}
	stats.forged++;
	LOG_WARN(r, "cache: L2 entry %s%s%s dropped: %s", lk->prefix, lk->gen,
	    lk->suffix, have == 1 ? "its signature does not verify" :
	    "events_key_file unusable");
	return 0;
}

/* Predicate: the client asked not to be served from a cache. */
static int
client_no_cache(struct req *r)
{
	const char	*cc = req_header(r, "HTTP_CACHE_CONTROL");
	const char	*pragma = req_header(r, "HTTP_PRAGMA");

	return (cc != NULL && strstr(cc, "no-cache") != NULL) ||
	    (pragma != NULL && strstr(pragma, "no-cache") != NULL);
}

/*
 * Look key up in namespace ns, in the caller's scope (cache_scope());
 * key is any canonical text (a normalised filter set).  On a hit the value is
 * appended to out.  On a miss, lk remembers what cache_put() needs; if
 * another worker is already computing the same entry, this waits up to
 * cache_wait_ms for it first (the stampede guard).  BYPASS: the cache is
 * off, Redis is unreachable, or the client sent Cache-Control: no-cache.
 * Sets the X-Cache header.
 */
enum cache_result
cache_get(struct req *r, int ns, const char *key, struct buf *out,
    struct cache_lookup *lk)
{
	return cache_get_ex(r, ns, key, 0, out, lk);
}

/*
 * cache_get() with flags: CACHE_NO_L1 skips this worker's memory for the
 * entry (lookup and fill), for values derived from what the user edits
 * (an order that depends on the user's own settings), which must change
 * at once after the edit on every worker, while the rest of the
 * namespace keeps its L1.
 */
enum cache_result
cache_get_ex(struct req *r, int ns, const char *key, unsigned int flags,
    struct buf *out, struct cache_lookup *lk)
{
	struct redisReply	*reply;
	struct l1_entry		*e;
	struct buf		 gkey = { 0 };
	const char		*args[4], *body;
	char			 lockms[16];
	size_t			 blen;
	double			 until;
	enum cache_result	 res = CACHE_MISS;

	memset(lk, 0, sizeof(*lk));
	lk->ns = ns;
	if (ns < 0 || (size_t)ns >= nns) {
		LOG_ERR(r, "cache: no namespace %d", ns);
		return finish(r, lk, CACHE_BYPASS);
	}
	lk->l1 = ns_def[ns].l1 && !(flags & CACHE_NO_L1);
	if (!cfg.cache_enabled || client_no_cache(r) ||
	    (!lk->l1 && !redis_enabled()) ||
	    (redis_enabled() && redis_get(&r->app->redis) == NULL))
		return finish(r, lk, CACHE_BYPASS);
	lookup_keys(lk, ns, cache_scope(r, ns), key, &gkey);
	if (lk->l1 && (e = l1_get(lk->l1key)) != NULL) {
		buf_free(&gkey);
		buf_append(out, e->val, e->vlen);
		return finish(r, lk, CACHE_HIT_L1);
	}
	if (!redis_enabled()) {
		/* No L2: L1 alone, filled by this worker (cache_put()). */
		buf_free(&gkey);
		lk->fill = 1;
		return finish(r, lk, CACHE_MISS);
	}

	snprintf(lockms, sizeof(lockms), "%d", cfg.cache_wait_ms * 5 + 1000);
	args[0] = gkey.data;
	args[1] = lk->prefix;
	args[2] = lk->suffix;
	args[3] = lockms;
	reply = redis_script(&r->app->redis, &get_lua, 1, 4, args, NULL);
	buf_free(&gkey);
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements < 2 || reply->element[0]->type != REDIS_REPLY_STRING) {
		freeReplyObject(reply);
		return finish(r, lk, CACHE_BYPASS);
	}
	snprintf(lk->gen, sizeof(lk->gen), "%s", reply->element[0]->str);
	if (reply->element[1]->type == REDIS_REPLY_STRING) {
		if (l2_open(r, lk, reply->element[1]->str,
		    reply->element[1]->len, &body, &blen)) {
			buf_append(out, body, blen);
			if (lk->l1)
				l1_put(lk->l1key, body, blen);
			res = CACHE_HIT_L2;
		}
	} else if (reply->elements == 3 && reply->element[2]->integer == 0) {
		/* Someone else is filling it: wait for them a little. */
		until = now_ms() + cfg.cache_wait_ms;
		while (res == CACHE_MISS && now_ms() < until) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			redisReply *v;

			nanosleep(&ts, NULL);
			v = redisCommand(r->app->redis.ctx, "GET %s%s%s",
			    lk->prefix, lk->gen, lk->suffix);
			if (v == NULL) {
				redis_fail(&r->app->redis);
				break;
			}
			if (v->type == REDIS_REPLY_STRING &&
			    l2_open(r, lk, v->str, v->len, &body, &blen)) {
				buf_append(out, body, blen);
				res = CACHE_HIT_L2;
			}
			freeReplyObject(v);
			if (r->app->redis.ctx == NULL)
				break;
		}
	}
	freeReplyObject(reply);
	if (res == CACHE_MISS)
		lk->fill = 1;
	return finish(r, lk, res);
}

/*
 * After a MISS: store the computed value in L2 (under the generation
 * read by cache_get(), so a value computed before an invalidation is
 * stored where nobody will look) and in L1, and release the lock.
 */
void
cache_put(struct req *r, struct cache_lookup *lk, const char *val, size_t len)
{
	struct redisContext	*c;
	redisReply		*reply;
	const struct crypto_keys *k;
	struct buf		 vkey = { 0 }, signed_val = { 0 };
	unsigned char		 mac[L2_MAC];
	char			 ttl[16];
	int			 i, have;

	if (lk->fill && lk->l1 && !redis_enabled()) {
		l1_put(lk->l1key, val, len);
		return;
	}
	if (!lk->fill || (c = redis_get(&r->app->redis)) == NULL)
		return;
	if ((have = l2_key(&k)) == -1)
		return;
	buf_printf(&vkey, "%s%s%s", lk->prefix, lk->gen, lk->suffix);
	snprintf(ttl, sizeof(ttl), "%d", cfg.cache_ttl[lk->ns]);
	if (have == 1) {
		l2_mac(k, lk, val, len, mac);
		buf_append(&signed_val, (const char *)mac, L2_MAC);
		buf_append(&signed_val, val, len);
		redisAppendCommand(c, "SET %s %b EX %s", vkey.data,
		    signed_val.data, signed_val.len, ttl);
	} else
		redisAppendCommand(c, "SET %s %b EX %s", vkey.data, val, len,
		    ttl);
	redisAppendCommand(c, "DEL %s:lock", vkey.data);
	for (i = 0; i < 2; i++) {
		if (redisGetReply(c, (void **)&reply) != REDIS_OK) {
			redis_fail(&r->app->redis);
			break;
		}
		freeReplyObject(reply);
	}
	if (lk->l1)
		l1_put(lk->l1key, val, len);
	buf_free(&vkey);
	buf_free(&signed_val);
}

/*
 * Invalidate every entry of (namespace, scope): one INCR of its
 * generation.  Also drops this worker's own L1 entries of the pair.
 * For workers and cron binaries alike; returns -1 if Redis is
 * unreachable (entries then expire by their TTL).  It tries Redis even
 * during the pause after a failure (redis_retry_ms): a skipped INCR
 * would leave every other worker serving the old data from L2 while
 * Redis is well again.  Writes are rare; the try costs at most
 * redis_timeout_ms.
 */
int
cache_invalidate(struct redis *rd, int ns, const char *full_scope)
{
	redisReply	*reply = NULL;
	char		 prefix[200], scope[SCOPE_KEY_MAX + 1];

	if (ns < 0 || (size_t)ns >= nns) {
		LOG_ERR(NULL, "cache: no namespace %d", ns);
		return -1;
	}
	scope_key(full_scope, scope);
	snprintf(prefix, sizeof(prefix), "%s|%s|", ns_def[ns].name, scope);
	l1_drop_scope(prefix);
	if (!redis_enabled())
		return 0;	/* L1 only: the others' entries live out cache_l1_ttl_ms */
	rd->down_until = 0;
	if (redis_get(rd) != NULL &&
	    (reply = redisCommand(rd->ctx, "INCR c:{%s:%s}:g",
	    ns_def[ns].name, scope)) == NULL)
		redis_fail(rd);
	if (reply == NULL) {
		LOG_WARN(NULL, "cache: %s of %s not invalidated: redis "
		    "unavailable; its entries live out their TTL",
		    ns_def[ns].name, scope);
		return -1;
	}
	freeReplyObject(reply);
	return 0;
}

/*
 * The caller's scope in namespace ns: the tenant, or for a namespace of
 * users' own entries the user within the tenant, "org_x/user_y" (ids
 * never contain '/'), since the same user has other data in another
 * tenant.  In r's arena.
 */
const char *
cache_scope(struct req *r, int ns)
{
	if (ns >= 0 && (size_t)ns < nns && ns_def[ns].scope == CACHE_SCOPE_USER)
		return arena_printf(&r->arena, "%s/%s", r->auth.tenant_id,
		    r->auth.user_id);
	return r->auth.tenant_id;
}

/* Free L1 (at exit, so that leak checkers see a clean heap). */
void
cache_free(void)
{
	cache_log_stats();
	while (l1.head != NULL)
		l1_unlink(l1.head);
}

/* --- conditional requests -------------------------------------------------- */

/*
 * A 200's ETag is the SHA-256 of its body, its first 18 bytes in
 * base64url, quoted: a strong tag that is the same for the same body on
 * every worker, with Redis or without, cached or not, so a client that
 * asks again for a list with If-None-Match gets 304 until it changes.  out
 * gets at least CACHE_ETAG_MAX bytes.
 */
void
cache_etag(const char *body, size_t len, char *out)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char		 d[SHA256_DIGEST_LENGTH];
	size_t			 i, o = 0;
	unsigned int		 v;

	SHA256((const unsigned char *)body, len, d);
	out[o++] = '"';
	for (i = 0; i < 18; i += 3) {
		v = (unsigned int)d[i] << 16 | (unsigned int)d[i + 1] << 8 | d[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	out[o++] = '"';
	out[o] = '\0';
}

/*
 * Predicate: the If-None-Match or If-Match value list names tag: "*",
 * or one of its comma-separated entity tags.  weak: compare as
 * If-None-Match does (RFC 9110, 13.1.2), ignoring a W/ prefix; else
 * strongly (If-Match: a weak tag is never equal).
 */
int
cache_etag_listed(const char *list, const char *tag, int weak)
{
	const char	*p = list, *q;
	size_t		 n = strlen(tag);

	while (*p != '\0') {
		p += strspn(p, " \t,");
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0) {
			p += 2;
			if (!weak) {
				p += strcspn(p, ",");
				continue;
			}
		}
		if (*p != '"')
			return 0;	/* not an entity tag: none is named */
		if ((q = strchr(p + 1, '"')) == NULL)
			return 0;
		if ((size_t)(q + 1 - p) == n && strncmp(p, tag, n) == 0)
			return 1;
		p = q + 1;
	}
	return 0;
}

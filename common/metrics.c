/* metrics.c: counters shared by all the processes of a program through a memory-mapped file, and their sum across programs in Prometheus's text format for /metrics. */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common.h"

/*
 * The file of a program, metrics_dir/<program>.metrics: a head, the
 * name of each series (its family, its labels, its kind and where its
 * values are), then the values, 64-bit counters that every process
 * mapping the file adds to atomically.  The file says everything a
 * reader needs: /metrics sums the files of every program without
 * knowing their routes.  A program whose series differ from the file's
 * (an upgrade) starts a new file, renamed over the old one under the
 * directory's lock: processes still mapping the old one write into the
 * unlinked copy, never into a file being rewritten.
 */
#define METRICS_MAGIC		"METRICS1"
#define METRICS_VERSION		1
#define FAMILY_MAX		64
#define LABELS_MAX		192
#define SERIES_MAX		4096

/* The histogram's upper bounds, in seconds; +Inf follows. */
static const double	bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
#define NBUCKETS	(nitems(bounds) + 1)
#define HIST_VALUES	(NBUCKETS + 1)		/* the buckets, then the sum in µs */

/* The statuses counted apart; any other is "other". */
static const int	statuses[] = {
	200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 402,
	403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 422,
	428, 429, 431, 500, 501, 502, 503, 504,
};
#define NSTATUS		(nitems(statuses) + 1)

enum kind {
	KIND_COUNTER,
	KIND_MICRO,		/* a counter of millionths: printed divided */
	KIND_HISTOGRAM
};
#define FLAG_SPARSE	0x01	/* zeros are not printed (one series per status) */

struct head {
	char		magic[8];
	uint32_t	version;
	uint32_t	nseries;
	uint32_t	nvalues;
	uint32_t	names_off;
	uint32_t	values_off;
	uint32_t	size;
	uint64_t	layout;		/* a hash of the names */
};
struct name {
	char		family[FAMILY_MAX];
	char		labels[LABELS_MAX];
	uint8_t		kind;
	uint8_t		flags;
	uint8_t		pad[2];
	uint32_t	value;		/* index of its first value */
};

/* The families this program knows, for their HELP lines. */
static const struct {
	const char	*family;
	const char	*help;
} platform_help[] = {
	{ "http_requests_total", "Requests answered, by program, route, "
	    "method and status" },
	{ "http_request_duration_seconds", "Time from the request's arrival "
	    "to the end of its response, by program and route" },
	{ "cache_requests_total", "Cache lookups, by namespace and result "
	    "(l1_hit, l2_hit, miss, bypass)" },
	{ "ratelimit_refusals_total", "Requests refused by a rate limit, by "
	    "class and reason (limit: over it; unavailable: Redis failed "
	    "and the class fails closed)" },
};

static const char *const cache_results[] = { "bypass", "miss", "l2_hit",
    "l1_hit" };

/* What platform_register() handed over. */
static const struct cache_ns	*ns_def;
static size_t			 nns;
static const struct metric_def	*ext;
static size_t			 next;

/* This process's mapping, and where each group of series starts. */
static struct {
	uint64_t	*v;
	void		*map;
	size_t		 size;
	size_t		 nroutes;
	uint32_t	 req, dur, cache, rl, ext;
} m;

void
metrics_register(const struct cache_ns *ns, size_t n,
    const struct metric_def *defs, size_t ndefs)
{
	ns_def = ns;
	nns = n;
	ext = defs;
	next = ndefs;
}

static const char *
method_label(enum method mth)
{
	switch (mth) {
	case METHOD_GET: return "GET";
	case METHOD_POST: return "POST";
	case METHOD_PUT: return "PUT";
	case METHOD_PATCH: return "PATCH";
	case METHOD_DELETE: return "DELETE";
	default: return "other";
	}
}

/* Predicate: s can go between a label's quotes as it is. */
static int
label_safe(const char *s)
{
	return strpbrk(s, "\"\\\n") == NULL;
}

/* One series at the end of the list; returns its first value's index. */
static uint32_t
add(struct name **names, size_t *n, uint32_t *nvalues, const char *family,
    enum kind kind, int flags, const char *fmt, ...) PRINTF(7, 8);
static uint32_t
add(struct name **names, size_t *n, uint32_t *nvalues, const char *family,
    enum kind kind, int flags, const char *fmt, ...)
{
	struct name	*x;
	va_list		 ap;
	uint32_t	 at = *nvalues;

	*names = xrealloc(*names, (*n + 1) * sizeof(**names));
	x = &(*names)[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->family, sizeof(x->family), "%s", family);
	va_start(ap, fmt);
	vsnprintf(x->labels, sizeof(x->labels), fmt, ap);
	va_end(ap);
	x->kind = (uint8_t)kind;
	x->flags = (uint8_t)flags;
	x->value = at;
	*nvalues += kind == KIND_HISTOGRAM ? HIST_VALUES : 1;
	return at;
}

static uint64_t
layout_hash(const struct name *names, size_t n)
{
	const unsigned char	*p = (const unsigned char *)names;
	uint64_t		 h = 1469598103934665603ULL;
	size_t			 i;

	for (i = 0; i < n * sizeof(*names); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* Predicate: the mapped file at p, of size bytes, is one we would write. */
static int
head_fits(const void *p, size_t size, const struct head *want)
{
	const struct head	*h = p;

	return size == want->size && memcmp(h->magic, METRICS_MAGIC, 8) == 0 &&
	    h->version == want->version && h->nseries == want->nseries &&
	    h->nvalues == want->nvalues && h->layout == want->layout &&
	    h->names_off == want->names_off && h->values_off == want->values_off;
}

/* Write a fresh file for these series at path (through a temporary one). */
static int
create(const char *path, const struct head *h, const struct name *names)
{
	char	tmp[4200];
	char	*zero;
	int	fd, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) == -1)
		return -1;
	zero = xcalloc(1, h->size);
	memcpy(zero, h, sizeof(*h));
	memcpy(zero + h->names_off, names, h->nseries * sizeof(*names));
	if (write(fd, zero, h->size) == (ssize_t)h->size &&
	    rename(tmp, path) == 0)
		rc = 0;
	free(zero);
	close(fd);
	if (rc == -1)
		unlink(tmp);
	return rc;
}

/*
 * Open (or create) the program's counters: its routes' series, the
 * cache's, the rate limits', and those a library registered.  Called
 * once, before the workers fork, which share the mapping; a cron binary
 * calls it with no routes.  Nothing when metrics_enabled is 0; on any
 * failure the program runs without counting (logged).
 */
void
metrics_open(const char *program, const struct route *routes, size_t nroutes)
{
	struct name	*names = NULL;
	struct head	 h;
	struct stat	 st;
	char		 path[4096];
	size_t		 n = 0, i, j;
	uint32_t	 nv = 0;
	void		*p = MAP_FAILED;
	int		 fd = -1, dfd = -1, c;

	metrics_close();
	if (!cfg.metrics_enabled || *cfg.metrics_dir == '\0')
		return;
	if (!label_safe(program))
		return;
	m.nroutes = nroutes;
	m.req = nv;
	for (i = 0; i <= nroutes; i++)
		for (j = 0; j < NSTATUS; j++) {
			char	 status[8];

			if (j < NSTATUS - 1)
				snprintf(status, sizeof(status), "%d", statuses[j]);
			else
				snprintf(status, sizeof(status), "other");
			add(&names, &n, &nv, "http_requests_total", KIND_COUNTER,
			    FLAG_SPARSE, "program=\"%s\",route=\"%s\","
			    "method=\"%s\",status=\"%s\"", program, i < nroutes &&
			    label_safe(routes[i].pattern) ? routes[i].pattern :
			    "none", i < nroutes ? method_label(routes[i].method) :
			    "other", status);
		}
	m.dur = nv;
	for (i = 0; i <= nroutes; i++)
		add(&names, &n, &nv, "http_request_duration_seconds",
		    KIND_HISTOGRAM, FLAG_SPARSE, "program=\"%s\",route=\"%s\","
		    "method=\"%s\"", program, i < nroutes &&
		    label_safe(routes[i].pattern) ? routes[i].pattern : "none",
		    i < nroutes ? method_label(routes[i].method) : "other");
	m.cache = nv;
	for (i = 0; i < nns; i++)
		for (j = 0; j < nitems(cache_results); j++)
			add(&names, &n, &nv, "cache_requests_total", KIND_COUNTER, 0,
			    "namespace=\"%s\",result=\"%s\"", ns_def[i].name,
			    cache_results[j]);
	m.rl = nv;
	for (c = 0; c < RL_CLASSES_MAX; c++) {
		add(&names, &n, &nv, "ratelimit_refusals_total", KIND_COUNTER,
		    FLAG_SPARSE, "class=\"%s\",reason=\"limit\"", rl_class_name(c));
		add(&names, &n, &nv, "ratelimit_refusals_total", KIND_COUNTER,
		    FLAG_SPARSE, "class=\"%s\",reason=\"unavailable\"",
		    rl_class_name(c));
	}
	m.ext = nv;
	for (i = 0; i < next; i++)
		add(&names, &n, &nv, ext[i].family, ext[i].micro ? KIND_MICRO :
		    KIND_COUNTER, 0, "%s", ext[i].labels);

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, METRICS_MAGIC, 8);
	h.version = METRICS_VERSION;
	h.nseries = (uint32_t)n;
	h.nvalues = nv;
	h.names_off = sizeof(h);
	h.values_off = (uint32_t)((sizeof(h) + n * sizeof(*names) + 63) & ~(size_t)63);
	h.size = h.values_off + nv * (uint32_t)sizeof(uint64_t);
	h.layout = layout_hash(names, n);

	snprintf(path, sizeof(path), "%s/%s.metrics", cfg.metrics_dir, program);
	/* One program's processes at a time: the directory's lock. */
	if ((dfd = open(cfg.metrics_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    flock(dfd, LOCK_EX) == -1) {
		LOG_ERR(NULL, "metrics: %s: %s", cfg.metrics_dir, strerror(errno));
		goto out;
	}
	for (i = 0; i < 2 && p == MAP_FAILED; i++) {
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) != -1 &&
		    fstat(fd, &st) == 0 && (size_t)st.st_size == h.size &&
		    (p = mmap(NULL, h.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0)) != MAP_FAILED && !head_fits(p, h.size, &h)) {
			munmap(p, h.size);
			p = MAP_FAILED;
		}
		if (fd != -1)
			close(fd);
		fd = -1;
		if (p == MAP_FAILED && i == 0 && create(path, &h, names) == -1) {
			LOG_ERR(NULL, "metrics: %s: %s", path, strerror(errno));
			break;
		}
	}
	if (p == MAP_FAILED)
		goto out;
	m.map = p;
	m.size = h.size;
	m.v = (uint64_t *)((char *)p + h.values_off);
out:
	if (dfd != -1)
		close(dfd);		/* and its lock */
	free(names);
}

void
metrics_close(void)
{
	if (m.map != NULL)
		munmap(m.map, m.size);
	memset(&m, 0, sizeof(m));
}

static void
bump(uint32_t at, uint64_t n)
{
	__atomic_fetch_add(&m.v[at], n, __ATOMIC_RELAXED);
}

/*
 * A request answered: route is its index in the program's table (-1:
 * no route), the status and how long it took.
 */
void
metrics_request(int route, int status, double ms)
{
	size_t	r, s, b;
	double	sec = ms / 1000.0;

	if (m.v == NULL)
		return;
	r = route >= 0 && (size_t)route < m.nroutes ? (size_t)route : m.nroutes;
	for (s = 0; s < NSTATUS - 1 && statuses[s] != status; s++)
		continue;
	bump(m.req + (uint32_t)(r * NSTATUS + s), 1);
	for (b = 0; b < nitems(bounds) && sec > bounds[b]; b++)
		continue;
	bump(m.dur + (uint32_t)(r * HIST_VALUES + b), 1);
	bump(m.dur + (uint32_t)(r * HIST_VALUES + NBUCKETS),
	    ms > 0 ? (uint64_t)(ms * 1000.0) : 0);
}

/* A cache lookup of namespace ns ended with res. */
void
metrics_cache(int ns, enum cache_result res)
{
	if (m.v == NULL || ns < 0 || (size_t)ns >= nns || (int)res < 0 ||
	    (size_t)res >= nitems(cache_results))
		return;
	bump(m.cache + (uint32_t)(ns * (int)nitems(cache_results) + (int)res), 1);
}

/* A request of class c refused: over its limit, or (unavailable) failing closed. */
void
metrics_refused(int c, int unavailable)
{
	if (m.v == NULL || c < 0 || c >= RL_CLASSES_MAX)
		return;
	bump(m.rl + (uint32_t)(c * 2 + (unavailable ? 1 : 0)), 1);
}

/* Add n to series id of the table a library registered. */
void
metrics_count(int id, uint64_t n)
{
	if (m.v == NULL || id < 0 || (size_t)id >= next)
		return;
	bump(m.ext + (uint32_t)id, n);
}

/* --- /metrics: the files of every program, summed -------------------------- */

/* One series as printed: the sum of its values over the files. */
struct sum {
	char		 family[FAMILY_MAX];
	char		 labels[LABELS_MAX];
	uint8_t		 kind, flags;
	uint64_t	 v[HIST_VALUES];
	size_t		 order;		/* of its family's first appearance */
};
struct sums {
	struct sum	*s;
	size_t		 n, cap;
	struct {
		char	 family[FAMILY_MAX];
	}		*fam;
	size_t		 nfam;
};

static size_t
family_order(struct sums *t, const char *family)
{
	size_t	i;

	for (i = 0; i < t->nfam; i++)
		if (strcmp(t->fam[i].family, family) == 0)
			return i;
	t->fam = xrealloc(t->fam, (t->nfam + 1) * sizeof(*t->fam));
	snprintf(t->fam[t->nfam].family, FAMILY_MAX, "%s", family);
	return t->nfam++;
}

/* Add one file's series into t; a file that does not say what we expect is skipped. */
static void
sum_file(struct sums *t, const char *path)
{
	const struct head	*h;
	const struct name	*names, *x;
	const uint64_t		*v;
	struct stat		 st;
	void			*p;
	size_t			 i, j, k, nv;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &st) == -1 || st.st_size < (off_t)sizeof(*h) ||
	    st.st_size > 64 * 1024 * 1024 ||
	    (p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd,
	    0)) == MAP_FAILED) {
		close(fd);
		return;
	}
	close(fd);
	h = p;
	if (memcmp(h->magic, METRICS_MAGIC, 8) != 0 ||
	    h->version != METRICS_VERSION || h->size != (uint64_t)st.st_size ||
	    h->nseries > SERIES_MAX || h->names_off < sizeof(*h) ||
	    h->names_off + (uint64_t)h->nseries * sizeof(*names) > h->values_off ||
	    h->values_off + (uint64_t)h->nvalues * sizeof(*v) > h->size ||
	    h->values_off % 8 != 0) {
		LOG_WARN(NULL, "metrics: %s: not a counters file; skipped", path);
		munmap(p, (size_t)st.st_size);
		return;
	}
	names = (const struct name *)((const char *)p + h->names_off);
	v = (const uint64_t *)((const char *)p + h->values_off);
	for (i = 0; i < h->nseries; i++) {
		x = &names[i];
		nv = x->kind == KIND_HISTOGRAM ? HIST_VALUES : 1;
		if (x->kind > KIND_HISTOGRAM || x->value + (uint64_t)nv > h->nvalues ||
		    memchr(x->family, '\0', FAMILY_MAX) == NULL ||
		    memchr(x->labels, '\0', LABELS_MAX) == NULL)
			continue;
		for (j = 0; j < t->n; j++)
			if (t->s[j].kind == x->kind &&
			    strcmp(t->s[j].family, x->family) == 0 &&
			    strcmp(t->s[j].labels, x->labels) == 0)
				break;
		if (j == t->n) {
			if (t->n == t->cap) {
				t->cap = t->cap ? t->cap * 2 : 256;
				t->s = xrealloc(t->s, t->cap * sizeof(*t->s));
			}
			memset(&t->s[j], 0, sizeof(t->s[j]));
			memcpy(t->s[j].family, x->family, FAMILY_MAX);
			memcpy(t->s[j].labels, x->labels, LABELS_MAX);
			t->s[j].kind = x->kind;
			t->s[j].flags = x->flags;
			t->s[j].order = family_order(t, x->family);
			t->n++;
		}
		for (k = 0; k < nv; k++)
			t->s[j].v[k] += __atomic_load_n(&v[x->value + k],
			    __ATOMIC_RELAXED);
	}
	munmap(p, (size_t)st.st_size);
}

static const char *
help_for(const char *family)
{
	size_t	i;

	for (i = 0; i < nitems(platform_help); i++)
		if (strcmp(platform_help[i].family, family) == 0)
			return platform_help[i].help;
	for (i = 0; i < next; i++)
		if (strcmp(ext[i].family, family) == 0)
			return ext[i].help;
	return NULL;
}

/* One family's HELP and TYPE lines. */
void
metrics_family(struct buf *b, const char *family, const char *type,
    const char *help)
{
	if (help != NULL)
		buf_printf(b, "# HELP %s %s\n", family, help);
	buf_printf(b, "# TYPE %s %s\n", family, type);
}

static int
sum_zero(const struct sum *s)
{
	size_t	i, n = s->kind == KIND_HISTOGRAM ? NBUCKETS : 1;

	for (i = 0; i < n; i++)
		if (s->v[i] != 0)
			return 0;
	return 1;
}

static void
print_sum(struct buf *b, const struct sum *s)
{
	const char	*sep = *s->labels != '\0' ? "," : "";
	uint64_t	 cum = 0;
	size_t		 i;

	switch (s->kind) {
	case KIND_COUNTER:
		buf_printf(b, "%s{%s} %llu\n", s->family, s->labels,
		    (unsigned long long)s->v[0]);
		break;
	case KIND_MICRO:
		buf_printf(b, "%s{%s} %llu.%06llu\n", s->family, s->labels,
		    (unsigned long long)(s->v[0] / 1000000),
		    (unsigned long long)(s->v[0] % 1000000));
		break;
	case KIND_HISTOGRAM:
		for (i = 0; i < NBUCKETS; i++) {
			cum += s->v[i];
			if (i < nitems(bounds))
				buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n",
				    s->family, s->labels, sep, bounds[i],
				    (unsigned long long)cum);
			else
				buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n",
				    s->family, s->labels, sep,
				    (unsigned long long)cum);
		}
		buf_printf(b, "%s_sum{%s} %llu.%06llu\n", s->family, s->labels,
		    (unsigned long long)(s->v[NBUCKETS] / 1000000),
		    (unsigned long long)(s->v[NBUCKETS] % 1000000));
		buf_printf(b, "%s_count{%s} %llu\n", s->family, s->labels,
		    (unsigned long long)cum);
		break;
	}
}

/*
 * The counters of every program with a file in metrics_dir, summed by
 * series (the same family and labels in several files add up: the
 * cache's, the rate limits', a library's), each family once with its
 * HELP and TYPE.  Series counted per status print only once they are
 * not zero.
 */
void
metrics_render(struct buf *b)
{
	struct sums	 t = { 0 };
	struct dirent	*de;
	DIR		*d;
	char		 path[4096];
	size_t		 f, i, len;

	if ((d = opendir(cfg.metrics_dir)) == NULL) {
		LOG_ERR(NULL, "metrics: %s: %s", cfg.metrics_dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 8 || strcmp(de->d_name + len - 8, ".metrics") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", cfg.metrics_dir, de->d_name);
		sum_file(&t, path);
	}
	closedir(d);
	for (f = 0; f < t.nfam; f++) {
		for (i = 0; i < t.n && t.s[i].order != f; i++)
			continue;
		if (i == t.n)
			continue;
		metrics_family(b, t.fam[f].family, t.s[i].kind == KIND_HISTOGRAM ?
		    "histogram" : "counter", help_for(t.fam[f].family));
		for (; i < t.n; i++)
			if (t.s[i].order == f && !((t.s[i].flags & FLAG_SPARSE) &&
			    sum_zero(&t.s[i])))
				print_sum(b, &t.s[i]);
	}
	free(t.s);
	free(t.fam);
}

/*
 * Who may read the counters: metrics_enabled, then the client's
 * address in metrics_allow (when set), then the bearer token of
 * metrics_token_file (when set), compared in constant time.  Returns 0,
 * or the status to answer: 404 (off), 403, 401.  Pure but for reading
 * the token's file, each time (a rotated token applies at once).
 */
int
metrics_allowed(const char *ip, const char *authorization)
{
	char	*token;
	size_t	 len, given;
	int	 ok;

	if (!cfg.metrics_enabled)
		return 404;
	if (*cfg.metrics_allow != '\0' && (ip == NULL ||
	    !ip_in_list(ip, cfg.metrics_allow)))
		return 403;
	if (*cfg.metrics_token_file == '\0')
		return 0;
	if (authorization == NULL ||
	    strncasecmp(authorization, "Bearer ", 7) != 0)
		return 401;
	authorization += 7;
	if ((token = read_file(cfg.metrics_token_file, 4096, &len)) == NULL) {
		LOG_ERR(NULL, "metrics: %s: %s", cfg.metrics_token_file,
		    strerror(errno));
		return 401;
	}
	while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r' ||
	    token[len - 1] == ' '))
		token[--len] = '\0';
	given = strlen(authorization);
	ok = len > 0 && given == len && crypto_equal(token, authorization, len);
	explicit_bzero(token, len);
	free(token);
	return ok ? 0 : 401;
}

/* GET /metrics of a FastCGI program: the guard, then the sums. */
void
metrics_serve(struct req *r)
{
	struct buf	b = { 0 };

	switch (metrics_allowed(req_client_ip(r),
	    req_header(r, "HTTP_AUTHORIZATION"))) {
	case 0:
		break;
	case 404:
		http_error(r, ERR_NOT_FOUND, "no such route");
		return;
	case 403:
		http_error(r, ERR_FORBIDDEN, "this address may not read the "
		    "metrics (metrics_allow)");
		return;
	default:
		http_error(r, ERR_UNAUTHORIZED, "the metrics token is required "
		    "(metrics_token_file)");
		return;
	}
	metrics_render(&b);
	http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
}

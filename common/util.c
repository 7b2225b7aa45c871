/* util.c: small helpers: allocation that cannot fail, UTF-8, URL and base64url decoding, strict integers, signal setup. */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/*
 * Out of memory ends the process: the worker supervisor (or the web
 * server) starts a fresh one, which is simpler and safer than unwinding
 * half-built state.
 */
void
oom(void)
{
	static const char msg[] =
	    "{\"level\":\"error\",\"msg\":\"out of memory, exiting\"}\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(70);
}

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n ? n : 1)) == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

/*
 * Length of the well-formed UTF-8 sequence at p, or 0 if there is none:
 * overlong forms, surrogates and code points past U+10FFFF are refused
 * (RFC 3629), as PostgreSQL and browsers refuse them.
 */
size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned int	c = p[0];

	if (n == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0)
			return 0;	/* overlong */
		if (c == 0xed && p[1] >= 0xa0)
			return 0;	/* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90)
			return 0;	/* overlong */
		if (c == 0xf4 && p[1] >= 0x90)
			return 0;	/* past U+10FFFF */
		return 4;
	}
	return 0;
}

/* Predicate: s[0..n) is well-formed UTF-8 without NUL bytes. */
int
utf8_valid(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k;

	while (i < n) {
		if (p[i] == 0 || (k = utf8_seq(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* Number of code points in well-formed UTF-8. */
size_t
utf8_length(const char *s, size_t n)
{
	size_t	i, count = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode s in place (and '+' to space when plus is set, as in
 * query strings); *len gets the decoded length.  Returns -1 on a broken
 * escape, on %00, or when the result is not UTF-8.
 */
int
url_decode(char *s, size_t *len, int plus)
{
	char	*in = s, *out = s;
	int	 hi, lo;

	while (*in != '\0') {
		if (*in == '%') {
			if ((hi = hexval(in[1])) < 0 || (lo = hexval(in[2])) < 0)
				return -1;
			if (hi == 0 && lo == 0)
				return -1;
			*out++ = (char)(hi << 4 | lo);
			in += 3;
		} else if (*in == '+' && plus) {
			*out++ = ' ';
			in++;
		} else
			*out++ = *in++;
	}
	*out = '\0';
	*len = (size_t)(out - s);
	return utf8_valid(s, *len) ? 0 : -1;
}

/*
 * Strict decimal integer: an optional '-', then digits only, no
 * whitespace, no '+', no exponent, no trailing garbage, no overflow.
 * "abc", "1e3", "12abc", " 1" and "99999999999999999999" all fail.
 */
int
parse_int64(const char *s, long long *out)
{
	const char	*p = s;
	long long	 v = 0;
	int		 neg = 0, d;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p == '\0' || strlen(p) > 19)
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		d = *p - '0';
		if (v > (LLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = neg ? -v : v;
	return 0;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decode unpadded base64url (RFC 4648 section 5).  On success *out is
 * a malloc'd buffer, NUL-terminated for convenience, which the caller
 * frees.
 */
int
base64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char	*p;
	unsigned int	 acc = 0;
	size_t		 i, len = 0;
	int		 bits = 0, v;

	if (n % 4 == 1)
		return -1;
	p = xmalloc(n / 4 * 3 + 3);
	for (i = 0; i < n; i++) {
		if ((v = b64val((unsigned char)s[i])) < 0) {
			free(p);
			return -1;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[len++] = (unsigned char)(acc >> bits);
		}
	}
	/* The unused low bits of the last character must be zero: one
	 * encoding per byte string, so an altered signature never decodes
	 * to the same bytes. */
	if ((acc & ((1u << bits) - 1)) != 0) {
		free(p);
		return -1;
	}
	p[len] = '\0';
	*out = p;
	*outlen = len;
	return 0;
}

/* Unpadded base64url of p[0..n); the caller frees the result. */
char *
base64url_encode(const unsigned char *p, size_t n)
{
	static const char	 tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char			*out = xmalloc(n / 3 * 4 + 5), *o = out;
	size_t			 i;

	for (i = 0; i + 2 < n; i += 3) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = tab[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		*o++ = tab[p[i + 2] & 63];
	}
	if (n - i == 1) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = tab[(p[i + 1] & 15) << 2];
	}
	*o = '\0';
	return out;
}

/* Fill out with n-1 random hex digits and a NUL. */
void
random_hex(char *out, size_t n)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		raw[64];
	size_t			i, want = (n - 1 + 1) / 2;

	if (want > sizeof(raw))
		want = sizeof(raw);
	if (getrandom(raw, want, 0) != (ssize_t)want)
		for (i = 0; i < want; i++)	/* never happens on Linux >= 3.17 */
			raw[i] = (unsigned char)rand();
	for (i = 0; i + 1 < n && i / 2 < want; i++)
		out[i] = hex[i % 2 ? raw[i / 2] & 15 : raw[i / 2] >> 4];
	out[i] = '\0';
}

/* Milliseconds on the monotonic clock: for durations only. */
double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Read a whole file of at most max bytes.  Returns a malloc'd,
 * NUL-terminated buffer (the caller frees it) or NULL with errno set
 * (EFBIG when the file is larger than max).
 */
char *
read_file(const char *path, size_t max, size_t *lenp)
{
	struct stat	 st;
	char		*p;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	p = xmalloc(max + 1);
	while (len < max && (n = read(fd, p + len, max - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			free(p);
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	p[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return p;
}

/*
 * Predicate: s is a plausible external identifier (a JWT sub or org id):
 * 1..128 bytes of [A-Za-z0-9_.:@|-].  These ids end up in Redis keys,
 * room names and log lines, so nothing else is let through.
 */
int
ident_valid(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == ':' || c == '@' || c == '|' || c == '-'))
			return 0;
	}
	return 1;
}

/* djb2: a quick hash for small bounded in-process tables, where a collision costs a comparison. */
unsigned long
str_hash(const char *s)
{
	unsigned long	h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* Sleep ms milliseconds (none when ms <= 0), through signals. */
void
sleep_ms(long long ms)
{
	struct timespec	ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
}

/*
 * The signals every long-running program handles the same way: SIGTERM
 * and SIGINT call on_stop, SIGALRM calls on_alarm (when not NULL), and
 * SIGPIPE is ignored (a peer that went away is an error return, not a
 * death).  No SA_RESTART: a blocked accept(2), waitpid(2) or poll(2)
 * must see the signal and return.
 */
void
signals_init(void (*on_stop)(int), void (*on_alarm)(int))
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (on_alarm != NULL) {
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

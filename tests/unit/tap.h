/* tap.h: a minimal Test Anything Protocol emitter for the C unit tests, run by prove. */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int	tap_n;
static int	tap_failed;

/* ok(cond, fmt, ...): one test line; failures print where they are. */
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static void __attribute__((format(printf, 4, 5)))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list	ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   Failed at %s line %d\n", file, line);
	}
	fflush(stdout);
}

/* is_str(got, want, what): string equality with both shown on failure. */
#define is_str(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	int p_ = (g_ == NULL && w_ == NULL) ||				\
	    (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);		\
	ok(p_, __VA_ARGS__);						\
	if (!p_)							\
		printf("#          got: '%s'\n#     expected: '%s'\n",	\
		    g_ ? g_ : "(null)", w_ ? w_ : "(null)");		\
} while (0)

#define is_int(got, want, ...) do {					\
	long long g_ = (got), w_ = (want);				\
	ok(g_ == w_, __VA_ARGS__);					\
	if (g_ != w_)							\
		printf("#          got: %lld\n#     expected: %lld\n", g_, w_); \
} while (0)

static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* !TAP_H */

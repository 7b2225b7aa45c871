/* json.c: a small JSON writer over a struct buf: it places the commas and closes what it opened. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

void
jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/*
 * Start a value at the current level: the comma after a sibling, then
 * the key when inside an object.  A key given by jw_key() just before
 * stands for this value's.
 */
static void
jw_begin(struct jw *w, const char *key)
{
	uint32_t	bit = 1U << w->depth;

	if (w->pending) {
		w->pending = 0;
		return;
	}
	if (w->depth > 0 && (w->filled & bit))
		buf_putc(w->b, ',');
	w->filled |= bit;
	if (key != NULL && !(w->arrays & bit)) {
		buf_json_string(w->b, key, strlen(key));
		buf_putc(w->b, ':');
	}
}

static void
jw_open(struct jw *w, const char *key, char c)
{
	jw_begin(w, key);
	if (w->depth + 1 >= JW_DEPTH_MAX) {
		LOG_ERR(NULL, "json: nested deeper than %d", JW_DEPTH_MAX);
		abort();
	}
	buf_putc(w->b, c);
	w->depth++;
	w->filled &= ~(1U << w->depth);
	if (c == '[')
		w->arrays |= 1U << w->depth;
	else
		w->arrays &= ~(1U << w->depth);
}

void
jw_object(struct jw *w, const char *key)
{
	jw_open(w, key, '{');
}

void
jw_array(struct jw *w, const char *key)
{
	jw_open(w, key, '[');
}

/* Close the innermost open object or array. */
void
jw_end(struct jw *w)
{
	if (w->depth == 0)
		return;
	buf_putc(w->b, (w->arrays & (1U << w->depth)) ? ']' : '}');
	w->depth--;
}

/* Close everything still open. */
void
jw_close(struct jw *w)
{
	while (w->depth > 0)
		jw_end(w);
}

/* The key of the next value written through the writer, whichever function writes it. */
void
jw_key(struct jw *w, const char *key)
{
	jw_begin(w, key);
	w->pending = 1;
}

/*
 * For a value the caller appends itself (one whole JSON value, from a
 * function that writes into a buffer): its separator and key are
 * written, and the buffer is returned.
 */
struct buf *
jw_value(struct jw *w, const char *key)
{
	jw_begin(w, key);
	return w->b;
}

/* A string, escaped; NULL is null. */
void
jw_string(struct jw *w, const char *key, const char *s)
{
	jw_begin(w, key);
	if (s == NULL)
		buf_puts(w->b, "null");
	else
		buf_json_string(w->b, s, strlen(s));
}

void
jw_stringn(struct jw *w, const char *key, const char *s, size_t n)
{
	jw_begin(w, key);
	buf_json_string(w->b, s, n);
}

/* Text that is JSON already (a json column, a number PostgreSQL printed); NULL is null. */
void
jw_raw(struct jw *w, const char *key, const char *json)
{
	jw_begin(w, key);
	buf_puts(w->b, json != NULL ? json : "null");
}

void
jw_int(struct jw *w, const char *key, long long v)
{
	jw_begin(w, key);
	buf_printf(w->b, "%lld", v);
}

/* A number with a fixed count of decimals ("%.2f"). */
void
jw_fixed(struct jw *w, const char *key, double v, int decimals)
{
	jw_begin(w, key);
	buf_printf(w->b, "%.*f", decimals, v);
}

void
jw_bool(struct jw *w, const char *key, int v)
{
	jw_begin(w, key);
	buf_puts(w->b, v ? "true" : "false");
}

void
jw_null(struct jw *w, const char *key)
{
	jw_begin(w, key);
	buf_puts(w->b, "null");
}

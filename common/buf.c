/* buf.c: growable NUL-terminated byte strings for responses, logs and SQL parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void
buf_grow(struct buf *b, size_t more)
{
	size_t	cap;

	if (b->len + more + 1 <= b->cap)
		return;
	if (more > SIZE_MAX / 2 - b->len)
		oom();
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	ap2;
	int	n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		oom();
	buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/*
 * Append s as a JSON string literal, quotes included.  Invalid UTF-8
 * bytes are replaced by U+FFFD so that the output is always valid JSON
 * whatever the input was (log lines carry untrusted paths).
 */
void
buf_json_string(struct buf *b, const char *s, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, run;

	buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c >= 0x80) {
			if ((run = utf8_seq(p + i, n - i)) == 0) {
				buf_puts(b, "\xef\xbf\xbd");
				continue;
			}
			buf_append(b, p + i, run);
			i += run - 1;
			continue;
		}
		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char esc[6] = { '\\', 'u', '0', '0',
				    hex[c >> 4], hex[c & 0xf] };
				buf_append(b, esc, sizeof(esc));
			} else
				buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

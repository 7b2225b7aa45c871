/* arena.c: per-request bump allocator, released in one call when the request ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/*
 * Blocks are chained newest first.  A request that needs more than a
 * block gets a block of its own size, so one large body does not make
 * every later block large.
 */
#define ARENA_BLOCK	(16 * 1024)

struct arena_block {
	struct arena_block	*next;
	size_t			 used;
	size_t			 size;
	max_align_t		 data[];
};

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block	*b = a->head;
	size_t			 need, size;
	void			*p;

	need = (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
	if (need < n)
		oom();
	if (b == NULL || b->size - b->used < need) {
		size = need > ARENA_BLOCK ? need : ARENA_BLOCK;
		b = xmalloc(sizeof(*b) + size);
		b->used = 0;
		b->size = size;
		b->next = a->head;
		a->head = b;
	}
	p = (char *)b->data + b->used;
	b->used += need;
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char	*p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void
arena_reset(struct arena *a)
{
	struct arena_block	*b, *next;

	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

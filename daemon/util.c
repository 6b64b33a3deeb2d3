/* util.c - see util.h */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"

void iopd_oom(void)
{
	static const char msg[] = "iopd: out of memory\n";
	fwrite(msg, 1, sizeof msg - 1, stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		iopd_oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		iopd_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		iopd_oom();
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		iopd_oom();
	return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...)
{
	struct sbuf b = {0};
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	return b.s ? b.s : xstrdup("");
}

/* Loading 100,000 patients fills ~60 MB of buffers (the configuration's
 * text, the patients cache), and parsing them ~50 MB of arenas.  In 4 KiB
 * pages that is ~15,000 and ~12,000 page faults, and where a fault traps
 * to the hypervisor (bench W1's machine: paravirt page tables) the first
 * were half of `iopd agenda`'s load; in 2 MiB pages, 30.
 * Transparent huge pages in "madvise" mode (Debian's default) give them
 * only to ranges marked so.  Only in the short-lived commands (agenda,
 * render, -t): a huge page's first fault may wait for the kernel to compact
 * memory, and in the daemon the loop's own faults and mappings could wait
 * behind a reload thread's. */
#define HUGE_PAGE ((uintptr_t)2 << 20)

static bool huge_ok;

void huge_pages_allow(void)
{
	huge_ok = true;
}

/* Whether a block of n bytes goes in huge pages: from half of one on,
 * where they are allowed (zeroing the rest of one costs less than the 256
 * faults of the 4 KiB pages it saves). */
static bool huge_size(size_t n)
{
	return huge_ok && n >= HUGE_PAGE / 2;
}

/* Whole huge pages, aligned to them: a block that merely spans some
 * (malloc's) has up to 2 MiB at each end in 4 KiB pages, a fault each
 * (bench W1: 1,300 of `iopd agenda`'s 5,000). */
void *huge_alloc(size_t n)
{
	void *p;

	if (!huge_size(n))
		return xmalloc(n);
	n = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if (!(p = aligned_alloc(HUGE_PAGE, n)))
		iopd_oom();
#ifdef MADV_HUGEPAGE
	(void)madvise(p, n, MADV_HUGEPAGE);
#endif
	return p;
}

void *huge_allocarray(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		iopd_oom();
	return huge_alloc(n && size ? n * size : 1);
}

/* p (or NULL) grown to n bytes, its first `keep` kept.  A block of
 * huge_size moves into huge pages instead:
 * realloc would copy it into 4 KiB pages, a fault each (the text of
 * 1,000,000 patients, read file by file: 60,000 faults, bench WM). */
static void *regrow(void *p, size_t keep, size_t n)
{
	void *q;

	if (!huge_size(n))
		return xrealloc(p, n);
	q = huge_alloc(n);
	if (p)
		memcpy(q, p, keep);
	free(p);
	return q;
}

void grow_array(void *arrp, size_t *cap, size_t need, size_t size)
{
	void **arr = arrp;
	size_t n = *cap ? *cap : 4;

	if (need <= *cap)
		return;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / size)
		iopd_oom();
	*arr = regrow(*arr, *cap * size, n * size);
	*cap = n;
}

void sbuf_reserve(struct sbuf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	size_t n;

	if (need <= b->cap)
		return;
	n = b->cap ? b->cap : 64;
	while (n < need)
		n *= 2;
	b->s = regrow(b->s, b->len, n);
	b->s[b->len] = '\0';
	b->cap = n;
}

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	sbuf_reserve(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addc(struct sbuf *b, char c)
{
	sbuf_reserve(b, 1);
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	sbuf_reserve(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

void sbuf_json_str(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	/* Fast path (bench W1: four strings per agenda row, 1.7M rows): a
	 * string with nothing to escape, the usual case, is one copy. */
	while (*p >= 0x20 && *p != '"' && *p != '\\')
		p++;
	if (!*p) {
		size_t n = (size_t)(p - (const unsigned char *)s);
		sbuf_reserve(b, n + 2);
		b->s[b->len++] = '"';
		memcpy(b->s + b->len, s, n);
		b->len += n;
		b->s[b->len++] = '"';
		b->s[b->len] = '\0';
		return;
	}
	p = (const unsigned char *)s;
	sbuf_reserve(b, strlen(s) + 2);
	sbuf_addc(b, '"');
	for (; *p; p++) {
		switch (*p) {
		case '"': sbuf_add(b, "\\\"", 2); break;
		case '\\': sbuf_add(b, "\\\\", 2); break;
		case '\n': sbuf_add(b, "\\n", 2); break;
		case '\r': sbuf_add(b, "\\r", 2); break;
		case '\t': sbuf_add(b, "\\t", 2); break;
		default:
			if (*p < 0x20) {
				char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
				sbuf_add(b, u, 6);
			} else {
				sbuf_addc(b, (char)*p);
			}
		}
	}
	sbuf_addc(b, '"');
}

void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void sbuf_free(struct sbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	max_align_t data[];
};

#define ARENA_CHUNK (64 * 1024)
/* Where huge pages are allowed, a chunk is four of them, aligned to them:
 * parsing 100,000 patients filled ~750 chunks of 64 KiB, a fault for each
 * of their 12,000 pages (71% of `iopd -t`'s faults, bench W1). */
#define ARENA_CHUNK_HUGE (4 * HUGE_PAGE)

/* A chunk for at least n bytes. */
static struct arena_chunk *arena_chunk_new(size_t n)
{
	struct arena_chunk *c;

	if (huge_ok && n <= ARENA_CHUNK_HUGE / 4) {
		c = huge_alloc(ARENA_CHUNK_HUGE);
		c->size = ARENA_CHUNK_HUGE - sizeof *c;
	} else {
		size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		c = huge_alloc(sizeof *c + size);
		c->size = size;
	}
	c->used = 0;
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->size - c->used < n) {
		c = arena_chunk_new(n);
		if (c->size == n && a->head) {   /* a big block: keep filling the current chunk */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += n;
	a->used_total += n;
	memset(p, 0, n);
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(arena_alloc(a, n), s, n);
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->used_total = 0;
}

uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;     /* FNV-1a: fine for in-memory tables */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}


static void intern_grow(struct intern *in)
{
	size_t ncap = in->cap ? in->cap * 2 : 256, i;
	const char **ns = xcalloc(ncap, sizeof *ns);

	for (i = 0; i < in->cap; i++) {
		const char *s = in->slots[i];
		size_t j;
		if (!s)
			continue;
		for (j = hash_str(s) & (ncap - 1); ns[j]; j = (j + 1) & (ncap - 1))
			;
		ns[j] = s;
	}
	free(in->slots);
	in->slots = ns;
	in->cap = ncap;
}

const char *intern(struct intern *in, const char *s)
{
	size_t j;

	if (!s)
		return NULL;
	if (2 * (in->count + 1) > in->cap)
		intern_grow(in);
	for (j = hash_str(s) & (in->cap - 1); in->slots[j]; j = (j + 1) & (in->cap - 1))
		if (strcmp(in->slots[j], s) == 0)
			return in->slots[j];
	in->slots[j] = arena_strdup(in->arena, s);
	in->count++;
	return in->slots[j];
}

void intern_free(struct intern *in)
{
	free(in->slots);
	in->slots = NULL;
	in->cap = in->count = 0;
}

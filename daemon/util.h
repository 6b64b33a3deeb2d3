/* util.h - memory, growable buffers, arenas and string interning.
 *
 * Allocation failure is fatal everywhere in iopd: a daemon that cannot
 * allocate a few bytes cannot keep any of its promises, so it stops loudly
 * and systemd restarts it. */
#ifndef IOPD_UTIL_H
#define IOPD_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define IOPD_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define IOPD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define IOPD_NORETURN __attribute__((noreturn))
#else
#define IOPD_PRINTF(f, a)
#define IOPD_NORETURN
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) IOPD_PRINTF(1, 2);
IOPD_NORETURN void iopd_oom(void);

/* Grow *arr (of *cap elements of size `size`) so that it holds at least `need`. */
void grow_array(void *arrp, size_t *cap, size_t need, size_t size);

/* Memory for n bytes (free() it) in huge pages, once a short-lived
 * command allowed them (never the daemon: util.c) and n fills half of one
 * or more; else malloc's.  The kernel may still refuse them: a hint.
 * grow_array and sbuf_reserve move a growing block into them too. */
void huge_pages_allow(void);
void *huge_alloc(size_t n);
void *huge_allocarray(size_t n, size_t size);

/* A growable, always NUL-terminated byte buffer. */
struct sbuf {
	char *s;
	size_t len, cap;
};
void sbuf_reserve(struct sbuf *b, size_t extra);
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) IOPD_PRINTF(2, 3);
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap) IOPD_PRINTF(2, 0);
void sbuf_json_str(struct sbuf *b, const char *s);  /* adds "s" with JSON escapes */
void sbuf_reset(struct sbuf *b);
void sbuf_free(struct sbuf *b);

/* Bump allocator: everything a snapshot owns lives in one arena and is
 * released at once, which keeps 100,000 patients cheap in memory. */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	size_t used_total;
};
void *arena_alloc(struct arena *a, size_t n);           /* zeroed, 8-aligned */
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

/* String interning over an arena: equal strings share one pointer. */
struct intern {
	struct arena *arena;
	const char **slots;
	size_t cap, count;
};
const char *intern(struct intern *in, const char *s);
void intern_free(struct intern *in);                    /* the strings stay in the arena */

uint64_t hash_str(const char *s);

#endif

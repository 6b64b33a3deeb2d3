/* strset.h - a set of strings (open addressing), for runtime overrides
 * keyed by "patient" or "patient\x1fchannel". */
#ifndef IOPD_STRSET_H
#define IOPD_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strset {
	char **slots;
	size_t cap, count, tombs;
};

bool strset_has(const struct strset *s, const char *k);
bool strset_add(struct strset *s, const char *k);      /* true if it was new */
bool strset_del(struct strset *s, const char *k);      /* true if it was there */
void strset_free(struct strset *s);

/* The same, for 64-bit ids (0 is not a valid member). */
struct idset {
	uint64_t *slots;
	size_t cap, count, tombs;
};

bool idset_has(const struct idset *s, uint64_t id);
bool idset_add(struct idset *s, uint64_t id);
bool idset_del(struct idset *s, uint64_t id);
void idset_free(struct idset *s);

#endif

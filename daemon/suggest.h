/* suggest.h - "did you mean ...?" for a name that is not known.
 *
 * Pure and self-contained (no other part of iopd), so that iopctl, which
 * links nothing of the daemon's core, can use it too. */
#ifndef IOPD_SUGGEST_H
#define IOPD_SUGGEST_H

#include <stddef.h>

/* Edit distance of a and b, a swap of two neighbours counting as one edit
 * ("stauts" -> "status": 1); letters compare case-insensitively. */
size_t suggest_distance(const char *a, const char *b);

/* The name of `names` (n of them) nearest to `s`, if near enough to be a
 * likely typo of it (1 edit for names of up to 4 letters, 2 up to 8, 3
 * beyond, and never the whole of s), else NULL.  Ties: the first. */
const char *suggest_nearest(const char *s, const char *const *names, size_t n);

#endif

/* suggest.c - see suggest.h */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "suggest.h"

#define SUGGEST_MAX_LEN 128            /* longer names are not typos worth a guess */

static char fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* Optimal string alignment distance, three rows of the usual table. */
size_t suggest_distance(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), i, j;
	size_t r0[SUGGEST_MAX_LEN + 1], r1[SUGGEST_MAX_LEN + 1], r2[SUGGEST_MAX_LEN + 1];
	size_t *prev2 = r0, *prev = r1, *cur = r2, *t;

	if (na > SUGGEST_MAX_LEN || nb > SUGGEST_MAX_LEN)
		return (size_t)-1;
	for (j = 0; j <= nb; j++)
		prev[j] = j;
	for (i = 1; i <= na; i++) {
		cur[0] = i;
		for (j = 1; j <= nb; j++) {
			size_t cost = fold(a[i - 1]) != fold(b[j - 1]);
			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) && prev2[j - 2] + 1 < cur[j])
				cur[j] = prev2[j - 2] + 1;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[nb];
}

static size_t allowed(const char *name)
{
	size_t n = strlen(name);

	return n <= 4 ? 1 : n <= 8 ? 2 : 3;
}

const char *suggest_nearest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t i, bestd = (size_t)-1, len = strlen(s);

	for (i = 0; i < n; i++) {
		size_t d;
		if (!names[i] || !*names[i])
			continue;
		d = suggest_distance(s, names[i]);
		if (d < bestd && d <= allowed(names[i]) && d < len) {
			best = names[i];
			bestd = d;
		}
	}
	return best;
}

/* strset.c - see strset.h.  Linear probing with tombstones; tables grow at
 * half full and are rebuilt when tombstones pile up. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "strset.h"
#include "util.h"

static char tomb_mark;
#define TOMB (&tomb_mark)

static size_t str_find(char **slots, size_t cap, const char *k)
{
	size_t i = hash_str(k) & (cap - 1), first_tomb = cap;

	for (; slots[i]; i = (i + 1) & (cap - 1)) {
		if (slots[i] == TOMB) {
			if (first_tomb == cap)
				first_tomb = i;
		} else if (strcmp(slots[i], k) == 0) {
			return i;
		}
	}
	return first_tomb != cap ? first_tomb : i;
}

static void str_rehash(struct strset *s, size_t ncap)
{
	char **old = s->slots;
	size_t oc = s->cap, i;

	s->slots = xcalloc(ncap, sizeof *s->slots);
	s->cap = ncap;
	s->tombs = 0;
	for (i = 0; i < oc; i++)
		if (old[i] && old[i] != TOMB)
			s->slots[str_find(s->slots, ncap, old[i])] = old[i];
	free(old);
}

bool strset_has(const struct strset *s, const char *k)
{
	size_t i;

	if (!s->cap)
		return false;
	i = str_find(s->slots, s->cap, k);
	return s->slots[i] && s->slots[i] != TOMB;
}

bool strset_add(struct strset *s, const char *k)
{
	size_t i;

	if (2 * (s->count + s->tombs + 1) > s->cap)
		str_rehash(s, s->cap && 4 * s->count < s->cap ? s->cap : (s->cap ? 2 * s->cap : 16));
	i = str_find(s->slots, s->cap, k);
	if (s->slots[i] && s->slots[i] != TOMB)
		return false;
	if (s->slots[i] == TOMB)
		s->tombs--;
	s->slots[i] = xstrdup(k);
	s->count++;
	return true;
}

bool strset_del(struct strset *s, const char *k)
{
	size_t i;

	if (!strset_has(s, k))
		return false;
	i = str_find(s->slots, s->cap, k);
	free(s->slots[i]);
	s->slots[i] = TOMB;
	s->count--;
	s->tombs++;
	return true;
}

void strset_free(struct strset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->slots[i] && s->slots[i] != TOMB)
			free(s->slots[i]);
	free(s->slots);
	memset(s, 0, sizeof *s);
}

/* ---- ids: slot value 0 is empty and 1 a tombstone, so the ids 0 and 1
 * are stored XOR a constant (they then share a slot value with two other
 * ids; ids are 64-bit hashes, so that never matters). */

#define ID_EMPTY 0
#define ID_TOMB 1
#define ID_SWAP 0x9e3779b97f4a7c15ULL

static uint64_t id_key(uint64_t id)
{
	return id == ID_EMPTY || id == ID_TOMB ? id ^ ID_SWAP : id;
}

static uint64_t id_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static size_t id_find(const uint64_t *slots, size_t cap, uint64_t k)
{
	size_t i = id_mix(k) & (cap - 1), first_tomb = cap;

	for (; slots[i] != ID_EMPTY; i = (i + 1) & (cap - 1)) {
		if (slots[i] == ID_TOMB) {
			if (first_tomb == cap)
				first_tomb = i;
		} else if (slots[i] == k) {
			return i;
		}
	}
	return first_tomb != cap ? first_tomb : i;
}

static void id_rehash(struct idset *s, size_t ncap)
{
	uint64_t *old = s->slots;
	size_t oc = s->cap, i;

	s->slots = xcalloc(ncap, sizeof *s->slots);
	s->cap = ncap;
	s->tombs = 0;
	for (i = 0; i < oc; i++)
		if (old[i] != ID_EMPTY && old[i] != ID_TOMB)
			s->slots[id_find(s->slots, ncap, old[i])] = old[i];
	free(old);
}

bool idset_has(const struct idset *s, uint64_t id)
{
	uint64_t k = id_key(id);

	return s->cap && s->slots[id_find(s->slots, s->cap, k)] == k;
}

bool idset_add(struct idset *s, uint64_t id)
{
	uint64_t k = id_key(id);
	size_t i;

	if (2 * (s->count + s->tombs + 1) > s->cap)
		id_rehash(s, s->cap && 4 * s->count < s->cap ? s->cap : (s->cap ? 2 * s->cap : 64));
	i = id_find(s->slots, s->cap, k);
	if (s->slots[i] == k)
		return false;
	if (s->slots[i] == ID_TOMB)
		s->tombs--;
	s->slots[i] = k;
	s->count++;
	return true;
}

bool idset_del(struct idset *s, uint64_t id)
{
	uint64_t k = id_key(id);
	size_t i;

	if (!s->cap)
		return false;
	i = id_find(s->slots, s->cap, k);
	if (s->slots[i] != k)
		return false;
	s->slots[i] = ID_TOMB;
	s->count--;
	s->tombs++;
	return true;
}

void idset_free(struct idset *s)
{
	free(s->slots);
	memset(s, 0, sizeof *s);
}

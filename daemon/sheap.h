/* sheap.h - a 4-ary min-heap of calendar streams keyed by (due, rank).
 *
 * The daemon keeps one stream of each series in it, so the earliest due
 * reminder is always at the top.
 * Entries carry their key, so sifting never touches the streams. */
#ifndef IOPD_SHEAP_H
#define IOPD_SHEAP_H

#include <stddef.h>
#include <stdint.h>

struct sheap_ent {
	int64_t due;
	uint32_t rank;                 /* tie-break: the patient's rank */
	uint32_t idx;                  /* the stream's index */
};

struct sheap {
	struct sheap_ent *v;
	size_t n, cap;
};

/* The top entry; h->n must be > 0. */
static inline const struct sheap_ent *sheap_top(const struct sheap *h)
{
	return &h->v[0];
}
void sheap_pop(struct sheap *h);
/* Replaces the top's key (the stream moved on) and restores the order. */
void sheap_replace_top(struct sheap *h, int64_t due, uint32_t rank);
/* Builds a heap from entries appended with sheap_append, in O(n). */
void sheap_append(struct sheap *h, int64_t due, uint32_t rank, uint32_t idx);
void sheap_heapify(struct sheap *h);
void sheap_free(struct sheap *h);

#endif

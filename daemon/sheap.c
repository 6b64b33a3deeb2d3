/* sheap.c - see sheap.h */
#include "config.h"

#include <stdlib.h>

#include "sheap.h"
#include "util.h"

static int less(const struct sheap_ent *a, const struct sheap_ent *b)
{
	return a->due != b->due ? a->due < b->due : a->rank != b->rank ? a->rank < b->rank : a->idx < b->idx;
}


static void sift_down(struct sheap *h, size_t i)
{
	struct sheap_ent e = h->v[i];

	for (;;) {
		size_t c = 4 * i + 1, best = c, k;
		if (c >= h->n)
			break;
		for (k = c + 1; k < c + 4 && k < h->n; k++)
			if (less(&h->v[k], &h->v[best]))
				best = k;
		if (!less(&h->v[best], &e))
			break;
		h->v[i] = h->v[best];
		i = best;
	}
	h->v[i] = e;
}

void sheap_append(struct sheap *h, int64_t due, uint32_t rank, uint32_t idx)
{
	grow_array(&h->v, &h->cap, h->n + 1, sizeof *h->v);
	h->v[h->n].due = due;
	h->v[h->n].rank = rank;
	h->v[h->n].idx = idx;
	h->n++;
}


void sheap_heapify(struct sheap *h)
{
	size_t i = h->n / 4 + 1;

	while (i-- > 0)
		if (i < h->n)
			sift_down(h, i);
}

void sheap_pop(struct sheap *h)
{
	if (!h->n)
		return;
	h->v[0] = h->v[--h->n];
	if (h->n)
		sift_down(h, 0);
}

void sheap_replace_top(struct sheap *h, int64_t due, uint32_t rank)
{
	h->v[0].due = due;
	h->v[0].rank = rank;
	sift_down(h, 0);
}

void sheap_free(struct sheap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

/* ledger_recent.c - see ledger_recent.h.
 *
 * A ring of entries (the oldest is replaced when it is full) indexed by a
 * chained hash of their ids. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ledger_recent.h"
#include "util.h"

struct entry {
	struct ledger_rec r;           /* strings owned */
	int32_t next;                  /* in its bucket's chain; -1: end */
	bool used;
};

struct recent {
	struct entry *e;
	int32_t *bucket;               /* heads of the chains; -1: empty */
	size_t cap, nbuckets, oldest, n;
};

struct recent *recent_new(size_t cap)
{
	struct recent *c = xcalloc(1, sizeof *c);
	size_t i;

	c->cap = cap;
	c->nbuckets = cap * 2;
	c->e = xcalloc(cap, sizeof *c->e);
	c->bucket = xreallocarray(NULL, c->nbuckets, sizeof *c->bucket);
	for (i = 0; i < c->nbuckets; i++)
		c->bucket[i] = -1;
	return c;
}

static void entry_clear(struct entry *e)
{
	free((char *)e->r.patient);
	free((char *)e->r.channel);
	free((char *)e->r.kind);
	free((char *)e->r.reason);
	free((char *)e->r.gateway_id);
	free((char *)e->r.tmpl);
	free((char *)e->r.receipt);
	free((char *)e->r.response);
	memset(&e->r, 0, sizeof e->r);
	e->used = false;
}

void recent_free(struct recent *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->cap; i++)
		entry_clear(&c->e[i]);
	free(c->e);
	free(c->bucket);
	free(c);
}

static size_t slot(const struct recent *c, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 17) % c->nbuckets;
}

static struct entry *find(const struct recent *c, uint64_t id)
{
	int32_t i;

	for (i = c->bucket[slot(c, id)]; i >= 0; i = c->e[i].next)
		if (c->e[i].r.id == id)
			return &c->e[i];
	return NULL;
}

static void unlink_entry(struct recent *c, int32_t k)
{
	int32_t *p = &c->bucket[slot(c, c->e[k].r.id)];

	while (*p >= 0 && *p != k)
		p = &c->e[*p].next;
	if (*p == k)
		*p = c->e[k].next;
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void set_str(const char **dst, const char *v)
{
	free((char *)*dst);
	*dst = dup0(v);
}

/* r's entry, made (in the oldest's place) if it is not there. */
static struct entry *entry_for(struct recent *c, const struct ledger_rec *r, bool *made)
{
	struct entry *e = find(c, r->id);
	int32_t k;

	*made = !e;
	if (!e) {
		k = (int32_t)c->oldest;
		e = &c->e[k];
		if (e->used)
			unlink_entry(c, k);
		entry_clear(e);
		c->oldest = (c->oldest + 1) % c->cap;
		e->used = true;
		e->r.id = r->id;
		e->r.patient = dup0(r->patient);
		e->r.channel = dup0(r->channel);
		e->r.kind = dup0(r->kind);
		e->r.due = r->due;
		e->r.event = r->event;
		e->r.expires = r->expires;
		e->r.origin = r->origin;
		e->r.tmpl = dup0(r->tmpl);
		e->next = c->bucket[slot(c, r->id)];
		c->bucket[slot(c, r->id)] = k;
	}
	return e;
}

void recent_put(struct recent *c, const struct ledger_rec *r)
{
	bool made;
	struct entry *e = entry_for(c, r, &made);

	if (!made && rec_final(e->r.status) && !rec_final(r->status))
		return;                        /* a final state stays */
	e->r.status = r->status;
	if (r->attempts > e->r.attempts)
		e->r.attempts = r->attempts;
	set_str(&e->r.reason, r->reason);
	set_str(&e->r.gateway_id, r->gateway_id);
	e->r.at = r->at;
}

void recent_set(struct recent *c, const struct ledger_rec *r)
{
	bool made;
	struct entry *e = entry_for(c, r, &made);

	e->r.status = r->status;
	e->r.attempts = r->attempts;
	set_str(&e->r.reason, r->reason);
	set_str(&e->r.gateway_id, r->gateway_id);
	e->r.at = r->at;
	set_str(&e->r.receipt, r->receipt);
	e->r.receipt_at = r->receipt_at;
	set_str(&e->r.response, r->response);
}

void recent_receipt(struct recent *c, uint64_t id, const char *state, int64_t at)
{
	struct entry *e = find(c, id);

	if (e) {
		set_str(&e->r.receipt, state);
		e->r.receipt_at = at;
	}
}

void recent_respond(struct recent *c, uint64_t id, const char *response)
{
	struct entry *e = find(c, id);

	if (e)
		set_str(&e->r.response, response);
}

static void copy_out(const struct entry *e, struct ledger_rec *r, char *buf, size_t len)
{
	*r = e->r;
	r->patient = ledger_keep(&buf, &len, e->r.patient);
	r->channel = ledger_keep(&buf, &len, e->r.channel);
	r->kind = ledger_keep(&buf, &len, e->r.kind);
	r->reason = ledger_keep(&buf, &len, e->r.reason);
	r->gateway_id = ledger_keep(&buf, &len, e->r.gateway_id);
	r->tmpl = ledger_keep(&buf, &len, e->r.tmpl);
	r->body = NULL;
	r->receipt = ledger_keep(&buf, &len, e->r.receipt);
	r->response = ledger_keep(&buf, &len, e->r.response);
}

int recent_get(const struct recent *c, uint64_t id, struct ledger_rec *r, char *buf, size_t len)
{
	const struct entry *e = find(c, id);

	r->id = id;
	r->status = REC_NONE;
	if (!e)
		return 0;
	copy_out(e, r, buf, len);
	return 1;
}

static bool in_list(const char *v, const char *const *list)
{
	for (; v && list && *list; list++)
		if (strcmp(v, *list) == 0)
			return true;
	return false;
}

int recent_latest_sent(const struct recent *c, const char *patient, const char *const *channels,
    const char *const *kinds, int64_t since, struct ledger_rec *r, char *buf, size_t len)
{
	const struct entry *best = NULL;
	size_t i;

	for (i = 0; i < c->cap; i++) {
		const struct entry *e = &c->e[i];
		if (!e->used || e->r.status != REC_SENT || e->r.at < since ||
		    strcmp(e->r.patient, patient) != 0 || !in_list(e->r.channel, channels) ||
		    !in_list(e->r.kind, kinds))
			continue;
		if (!best || e->r.at > best->r.at || (e->r.at == best->r.at && e->r.due > best->r.due))
			best = e;
	}
	if (!best)
		return 0;
	copy_out(best, r, buf, len);
	return 1;
}

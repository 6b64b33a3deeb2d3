/* agenda_ledger.c - see agenda_ledger.h.  The overrides are kept in a
 * struct consent of its own, filled from the ledger read. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agenda_ledger.h"
#include "consent.h"
#include "util.h"

/* After this many lookups, the ledger's ids are read once, up to IDS_MAX
 * of them (8 bytes each), and a row whose id is not among them is not
 * looked up.  A week at 100,000 patients is 1.7M rows, nearly all not in
 * the ledger yet, each lookup a statement (a round trip on PostgreSQL); a
 * patient's week is a few dozen, cheaper than reading every id.  A bigger
 * ledger is asked row by row. */
#define LOOKUPS_FIRST 4096
#define IDS_MAX ((size_t)2 << 20)

struct agenda_ledger {
	struct ledger *r;
	struct consent *c;
	size_t n;
	bool live;
	size_t lookups;       /* up to LOOKUPS_FIRST + 1: then the ids were read */
	bool have_ids;        /* ids holds every id in the ledger */
	int64_t *ids;
	size_t nids;
};

static void ovr_cb(const struct ledger_ovr *o, void *arg)
{
	struct agenda_ledger *al = arg;
	struct consent_change ch = {o->kind, o->patient, o->channel, 1, o->origin, o->source, o->at,
		o->author, o->uid, o->reason, o->until};

	consent_apply(al->c, &ch);
	al->n++;
}

struct agenda_ledger *agenda_ledger_new(struct ledger *r, bool live, char *err, size_t errlen)
{
	struct agenda_ledger *al = xcalloc(1, sizeof *al);

	al->r = r;
	al->live = live;
	al->c = consent_new();
	if (r->ops->overrides(r, ovr_cb, al)) {
		snprintf(err, errlen, "%s", r->ops->error(r));
		agenda_ledger_free(al);
		return NULL;
	}
	return al;
}

void agenda_ledger_free(struct agenda_ledger *al)
{
	if (!al)
		return;
	consent_free(al->c);
	free(al->ids);
	free(al);
}

size_t agenda_ledger_overrides(const struct agenda_ledger *al)
{
	return al->n;
}

bool agenda_ledger_cancelled(const char *reason)
{
	return reason && strncmp(reason, "cancelled", 9) == 0;
}

/* A receipt as iopctl shows it (SPEC 8): "read" is delivered, and read. */
static const char *receipt_shown(const char *receipt)
{
	return receipt && strcmp(receipt, "read") == 0 ? "delivered" : receipt;
}

/* The ledger's words as static strings (the agenda keeps them past the
 * lookup's buffer). */
static const char *static_word(const char *w, const char *const *words)
{
	for (; w && *words; words++)
		if (strcmp(w, *words) == 0)
			return *words;
	return NULL;
}

/* skipped:paused, skipped:cancelled ...: a reason of one word is shown
 * with the status, a sentence is not (iopctl history has it). */
static const char *recorded(const struct ledger_rec *rec, char *buf, size_t len)
{
	if (rec->status == REC_SKIPPED && agenda_ledger_cancelled(rec->reason))
		snprintf(buf, len, "skipped:cancelled");
	else if (rec->status == REC_SKIPPED && rec->reason && *rec->reason && !strchr(rec->reason, ' '))
		snprintf(buf, len, "skipped:%s", rec->reason);
	else
		snprintf(buf, len, "%s", rec_status_names[rec->status]);
	return buf;
}

/* Whether the ledger may have `id`: true until the ids are read, and
 * then only for one among them (in SQL's signed order).  A ledger that
 * cannot give them (too many, an error) is asked row by row. */
static bool may_have(struct agenda_ledger *al, uint64_t id)
{
	int64_t v = (int64_t)id;
	size_t lo = 0, hi;

	if (al->lookups <= LOOKUPS_FIRST) {
		if (++al->lookups <= LOOKUPS_FIRST || !al->r->ops->ids)
			return true;
		al->have_ids = al->r->ops->ids(al->r, IDS_MAX, &al->ids, &al->nids) == 0;
	}
	if (!al->have_ids)
		return true;
	for (hi = al->nids; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		if (al->ids[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < al->nids && al->ids[lo] == v;
}

const char *agenda_ledger_status(const struct snapshot *s, const struct agenda_row *r, char *buf,
    size_t len, struct agenda_live *live, void *arg)
{
	static const char *const receipts[] = {"delivered", "undelivered", "failed", NULL};
	static const char *const replies[] = {"confirm", "reschedule", "taken", NULL};
	struct agenda_ledger *al = arg;
	struct ledger_rec rec;
	char tmp[1024];

	if (may_have(al, r->id) && al->r->ops->lookup(al->r, r->id, &rec, tmp, sizeof tmp) == 1) {
		if (al->live) {
			live->receipt = static_word(receipt_shown(rec.receipt), receipts);
			live->reply = static_word(rec.response, replies);
		}
		return recorded(&rec, buf, len);
	}
	if (r->status != STATUS_SCHEDULED)
		return NULL;
	if (consent_paused(al->c, r->o->patient->id, r->o->due))
		return "skipped:paused";
	if (consent_opted_out(al->c, r->o->patient->id, s->channels[r->ch].name))
		return "skipped:opt-out";
	return NULL;
}

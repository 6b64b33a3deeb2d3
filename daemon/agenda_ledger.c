/* agenda_ledger.c - see agenda_ledger.h.  The overrides are kept in a
 * struct consent of its own, filled from the ledger read. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agenda_ledger.h"
#include "consent.h"
#include "util.h"

struct agenda_ledger {
	struct ledger *r;
	struct consent *c;
	size_t n;
	bool live;
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

const char *agenda_ledger_status(const struct snapshot *s, const struct agenda_row *r, char *buf,
    size_t len, struct agenda_live *live, void *arg)
{
	static const char *const receipts[] = {"delivered", "undelivered", "failed", NULL};
	static const char *const replies[] = {"confirm", "reschedule", "taken", NULL};
	struct agenda_ledger *al = arg;
	struct ledger_rec rec;
	char tmp[1024];

	if (al->r->ops->lookup(al->r, r->id, &rec, tmp, sizeof tmp) == 1) {
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

/* ledger.c - what the backends share: the copy of a record's texts, and
 * the batch and start operations for a backend whose transactions are
 * synchronous (SQLite): each completes before it returns, so the dispatcher
 * behaves, and costs, exactly as it did when it called begin/claim/.../commit
 * itself. */
#include "config.h"

#include <string.h>

#include "ledger.h"
#include "log.h"

const char *const ovr_origin_names[OVR_ORIGIN_COUNT] = {"staff", "reply", "gateway"};

enum ovr_origin ovr_origin_parse(const char *s)
{
	int i;

	for (i = 0; s && i < OVR_ORIGIN_COUNT; i++)
		if (strcmp(ovr_origin_names[i], s) == 0)
			return (enum ovr_origin)i;
	return OVR_STAFF;
}

const char *ledger_keep(char **buf, size_t *len, const char *v)
{
	size_t n;
	char *p = *buf;

	if (!v)
		return NULL;
	n = strlen(v) + 1;
	if (n > *len)
		return "";
	memcpy(p, v, n);
	*buf += n;
	*len -= n;
	return p;
}

static int write_batch(struct ledger *l, struct ledger_batch *b)
{
	const struct ledger_ops *o = l->ops;
	size_t i;

	for (i = 0; i < b->nnotes; i++)
		if (o->note(l, &b->notes[i]))
			return -1;
	for (i = 0; i < b->noutcomes; i++)
		if (o->record(l, &b->outcomes[i]))
			return -1;
	for (i = 0; i < b->novrs; i++)
		if (o->set_override(l, &b->ovrs[i]))
			return -1;
	for (i = 0; i < b->nclaims; i++)
		if ((b->results[i] = o->claim(l, &b->claims[i])) < 0)
			return -1;
	if (b->extra && b->extra(l, b->extra_arg))
		return -1;
	if (b->mark >= 0 && o->set_mark(l, b->mark))
		return -1;
	return 0;
}

void ledger_sync_submit(struct ledger *l, struct ledger_batch *b, ledger_done_fn done, void *arg)
{
	int rc = -1;

	b->lost = 0;
	if (l->ops->begin(l) == 0) {
		if (write_batch(l, b) == 0)
			rc = l->ops->commit(l);        /* rolls back itself when it fails */
		else
			l->ops->rollback(l);
	}
	done(rc, arg);
}

int ledger_sync_load(struct ledger *l, int64_t now, const struct ledger_load *cb)
{
	int64_t mark = l->ops->get_mark(l);

	if (l->ops->overrides(l, cb->ovr, cb->arg) || l->ops->pending(l, cb->pending, cb->arg))
		return -1;
	/* A new ledger's mark is written at once, not with the first batch: a
	 * crash before that batch must not make the next start "new" again,
	 * skipping what fell due in between.  If it cannot be written, the
	 * first batch will (and nothing is sent before it is). */
	if (mark < 0 && (l->ops->begin(l) || l->ops->set_mark(l, now) || l->ops->commit(l))) {
		l->ops->rollback(l);
		log_warn("ledger: cannot record the start mark yet: %s", l->ops->error(l));
	}
	cb->done(mark, cb->arg);
	return 0;
}

/* consent.c - see consent.h.
 *
 * Pauses are a set of patient ids, and the few that end (--until) are
 * also listed with their end; opt-outs a set of "patient\x1fchannel"
 * keys per origin, a key being in at most one of them (the last setter's
 * origin; replies.c never lets a reply or a gateway take over an opt-out
 * staff set). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"
#include "log.h"
#include "strset.h"
#include "util.h"

#define CONSENT_KEY_MAX 512

struct ending {
	char *patient;
	int64_t until;
};

struct consent_req;

struct consent {
	struct consent_req *reqs;      /* changes on their way to the ledger (consent_submit) */
	struct strset paused;
	struct ending *ends;           /* pauses with an end: usually none or a few */
	size_t nends, capends;
	struct strset optout[OVR_ORIGIN_COUNT];
};

static void key_of(char *buf, size_t len, const char *patient, const char *channel)
{
	snprintf(buf, len, "%s\x1f%s", patient, channel ? channel : "");
}

struct consent *consent_new(void)
{
	return xcalloc(1, sizeof(struct consent));
}

static void forget_all(struct consent *c)
{
	size_t i;

	strset_free(&c->paused);
	for (i = 0; i < c->nends; i++)
		free(c->ends[i].patient);
	free(c->ends);
	c->ends = NULL;
	c->nends = c->capends = 0;
	for (i = 0; i < OVR_ORIGIN_COUNT; i++)
		strset_free(&c->optout[i]);
}

static void reqs_drop(struct consent *c);

void consent_free(struct consent *c)
{
	if (!c)
		return;
	reqs_drop(c);
	forget_all(c);
	free(c);
}

void consent_reset(struct consent *c)
{
	forget_all(c);
}

static const struct ending *ending_of(const struct consent *c, const char *patient)
{
	size_t i;

	for (i = 0; i < c->nends; i++)
		if (strcmp(c->ends[i].patient, patient) == 0)
			return &c->ends[i];
	return NULL;
}

static void ending_drop(struct consent *c, const char *patient)
{
	struct ending *e = (struct ending *)ending_of(c, patient);

	if (e) {
		free(e->patient);
		*e = c->ends[--c->nends];
	}
}

int64_t consent_pause_until(const struct consent *c, const char *patient)
{
	char k[CONSENT_KEY_MAX];
	const struct ending *e;

	key_of(k, sizeof k, patient, NULL);
	if (!strset_has(&c->paused, k))
		return -1;
	return c->nends && (e = ending_of(c, patient)) ? e->until : 0;
}

bool consent_paused(const struct consent *c, const char *patient, int64_t now)
{
	int64_t until = consent_pause_until(c, patient);

	return until == 0 || until > now;
}

int64_t consent_next_expiry(const struct consent *c)
{
	int64_t t = 0;
	size_t i;

	for (i = 0; i < c->nends; i++)
		if (!t || c->ends[i].until < t)
			t = c->ends[i].until;
	return t;
}

const char *consent_first_expired(const struct consent *c, int64_t now)
{
	size_t i;

	for (i = 0; i < c->nends; i++)
		if (c->ends[i].until <= now)
			return c->ends[i].patient;
	return NULL;
}

int consent_optout_origin(const struct consent *c, const char *patient, const char *channel)
{
	char k[CONSENT_KEY_MAX];
	int i;

	key_of(k, sizeof k, patient, channel);
	for (i = 0; i < OVR_ORIGIN_COUNT; i++)
		if (strset_has(&c->optout[i], k))
			return i;
	return -1;
}

bool consent_opted_out(const struct consent *c, const char *patient, const char *channel)
{
	return consent_optout_origin(c, patient, channel) >= 0;
}

void consent_apply(struct consent *c, const struct consent_change *ch)
{
	char k[CONSENT_KEY_MAX];
	int i;

	key_of(k, sizeof k, ch->patient, ch->kind == OVR_PAUSE ? NULL : ch->channel);
	if (ch->kind == OVR_PAUSE) {
		ending_drop(c, ch->patient);
		if (ch->on)
			strset_add(&c->paused, k);
		else
			strset_del(&c->paused, k);
		if (ch->on && ch->until > 0) {
			grow_array(&c->ends, &c->capends, c->nends + 1, sizeof *c->ends);
			c->ends[c->nends].patient = xstrdup(ch->patient);
			c->ends[c->nends++].until = ch->until;
		}
		return;
	}
	for (i = 0; i < OVR_ORIGIN_COUNT; i++)
		strset_del(&c->optout[i], k);
	if (ch->on)
		strset_add(&c->optout[ch->origin], k);
}

void consent_loaded(const struct ledger_ovr *o, void *arg)
{
	struct consent_change ch = {o->kind, o->patient, o->channel, 1, o->origin, o->source, o->at,
		o->author, o->uid, o->reason, o->until};

	consent_apply(arg, &ch);
}

int consent_load(struct consent *c, struct ledger *l)
{
	return l->ops->overrides(l, consent_loaded, c);
}

int consent_write(struct ledger *l, const struct consent_change *ch)
{
	struct ledger_ovr o;

	memset(&o, 0, sizeof o);
	o.kind = ch->kind;
	o.patient = ch->patient;
	o.channel = ch->kind == OVR_OPTOUT ? ch->channel : NULL;
	o.source = ch->source;
	o.at = ch->at;
	o.on = ch->on;
	o.origin = ch->origin;
	o.author = ch->author;
	o.uid = ch->author ? ch->uid : -1;
	o.reason = ch->reason;
	o.until = ch->kind == OVR_PAUSE && ch->on ? ch->until : 0;
	return l->ops->set_override(l, &o);
}

static void change_logged(const struct consent_change *ch)
{
	log_ctx(LOG_LVL_NOTICE, &(struct log_ctx){NULL, ch->patient,
	    ch->kind == OVR_OPTOUT ? ch->channel : NULL}, "%s %s (%s%s%s)",
	    ch->kind == OVR_PAUSE ? "pause" : "opt-out", ch->on ? "set" : "lifted",
	    ch->source ? ch->source : ovr_origin_names[ch->origin], ch->author ? " by " : "",
	    ch->author ? ch->author : "");
}

int consent_set(struct consent *c, struct ledger *l, const struct consent_change *ch,
    char *err, size_t errlen)
{
	if (l->ops->begin(l) || consent_write(l, ch) || l->ops->commit(l)) {
		snprintf(err, errlen, "%s", l->ops->error(l));
		l->ops->rollback(l);
		return -1;
	}
	consent_apply(c, ch);
	change_logged(ch);
	return 0;
}

/* A change on its way to the ledger in a batch of its own, with copies of
 * what it records (`next` first: consent_free walks the list by it). */
struct consent_req {
	struct consent_req *next;
	struct consent *c;
	struct consent_change ch;
	struct ledger_ovr o;
	struct ledger_batch b;
	struct ledger *l;
	consent_done_fn done;
	void *arg;
};

static void req_free(struct consent_req *q)
{
	free((char *)q->ch.patient);
	free((char *)q->ch.channel);
	free((char *)q->ch.source);
	free((char *)q->ch.author);
	free((char *)q->ch.reason);
	free(q);
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void submitted(int rc, void *arg)
{
	struct consent_req *q = arg, **p;
	struct consent *c = q->c;
	char err[256] = "";

	for (p = &c->reqs; *p != q; p = &(*p)->next)
		;
	*p = q->next;
	if (rc == 0) {
		consent_apply(c, &q->ch);
		change_logged(&q->ch);
	} else {
		snprintf(err, sizeof err, "%s", q->l->ops->error(q->l));
	}
	if (q->done)
		q->done(rc, err, q->arg);
	req_free(q);
}

void consent_submit(struct consent *c, struct ledger *l, const struct consent_change *ch,
    consent_done_fn done, void *arg)
{
	struct consent_req *q = xcalloc(1, sizeof *q);

	q->c = c;
	q->l = l;
	q->ch = *ch;
	q->ch.patient = dup0(ch->patient);
	q->ch.channel = dup0(ch->channel);
	q->ch.source = dup0(ch->source);
	q->ch.author = dup0(ch->author);
	q->ch.reason = dup0(ch->reason);
	q->o.kind = ch->kind;
	q->o.patient = q->ch.patient;
	q->o.channel = ch->kind == OVR_OPTOUT ? q->ch.channel : NULL;
	q->o.source = q->ch.source;
	q->o.at = ch->at;
	q->o.on = ch->on;
	q->o.origin = ch->origin;
	q->o.author = q->ch.author;
	q->o.uid = ch->author ? ch->uid : -1;
	q->o.reason = q->ch.reason;
	q->o.until = ch->kind == OVR_PAUSE && ch->on ? ch->until : 0;
	q->b.ovrs = &q->o;
	q->b.novrs = 1;
	q->b.mark = -1;
	q->done = done;
	q->arg = arg;
	q->next = c->reqs;
	c->reqs = q;
	l->ops->submit(l, &q->b, submitted, q);
}

/* The ledger is closed after the consent: no answer comes. */
static void reqs_drop(struct consent *c)
{
	while (c->reqs) {
		struct consent_req *q = c->reqs;
		c->reqs = q->next;
		req_free(q);
	}
}

void consent_cancel(struct consent *c, void *arg)
{
	struct consent_req *q;

	for (q = c->reqs; q; q = q->next)
		if (q->arg == arg)
			q->done = NULL;
}

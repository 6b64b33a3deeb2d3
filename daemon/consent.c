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

struct consent {
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

void consent_free(struct consent *c)
{
	size_t i;

	if (!c)
		return;
	strset_free(&c->paused);
	for (i = 0; i < c->nends; i++)
		free(c->ends[i].patient);
	free(c->ends);
	for (i = 0; i < OVR_ORIGIN_COUNT; i++)
		strset_free(&c->optout[i]);
	free(c);
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

static void loaded(const struct ledger_ovr *o, void *arg)
{
	struct consent_change ch = {o->kind, o->patient, o->channel, 1, o->origin, o->source, o->at,
		o->author, o->uid, o->reason, o->until};

	consent_apply(arg, &ch);
}

int consent_load(struct consent *c, struct ledger *l)
{
	return l->ops->overrides(l, loaded, c);
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

int consent_set(struct consent *c, struct ledger *l, const struct consent_change *ch,
    char *err, size_t errlen)
{
	if (l->ops->begin(l) || consent_write(l, ch) || l->ops->commit(l)) {
		snprintf(err, errlen, "%s", l->ops->error(l));
		l->ops->rollback(l);
		return -1;
	}
	consent_apply(c, ch);
	log_ctx(LOG_LVL_NOTICE, &(struct log_ctx){NULL, ch->patient,
	    ch->kind == OVR_OPTOUT ? ch->channel : NULL}, "%s %s (%s%s%s)",
	    ch->kind == OVR_PAUSE ? "pause" : "opt-out", ch->on ? "set" : "lifted",
	    ch->source ? ch->source : ovr_origin_names[ch->origin], ch->author ? " by " : "",
	    ch->author ? ch->author : "");
	return 0;
}

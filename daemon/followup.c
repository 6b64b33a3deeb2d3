/* followup.c - see followup.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "consent.h"
#include "followup.h"
#include "ident.h"
#include "log.h"
#include "timefmt.h"

#define NOTICE_VALID (24 * 3600)       /* staff hear of it within a day, or it expired */

uint64_t followup_notice(struct daemon *dm, const struct snapshot *s, uint32_t patient,
    const char *type, uint64_t from, const char *json, const char *stored)
{
	struct send_spec sp;
	int64_t now = (int64_t)ev_now(dm->loop);

	if (s->inbound.staff < 0 || !s->channels[s->inbound.staff].inst)
		return 0;
	memset(&sp, 0, sizeof sp);
	sp.type = SEND_NOTICE;
	sp.id = ident_derived(IDENT_NOTICE, from, type, s->patients[patient].id);
	sp.origin = from;
	sp.patient = patient;
	sp.ch = (uint16_t)s->inbound.staff;
	sp.tmpl = -1;
	sp.kind = KIND_COUNT;
	sp.due = sp.event = now;
	sp.expires = now + NOTICE_VALID;
	sp.label = type;
	sp.body = json;
	sp.stored = stored;
	sp.why = type;
	dispatch_send(dm->dispatch, s, &sp, NULL);
	return sp.id;
}

/* {"type":"failed","patient":...,"channel":...,"reminder":...,"reason":...} */
static void notice_failed(struct daemon *dm, const struct snapshot *s, uint32_t patient,
    const char *channel, uint64_t id, const char *reason)
{
	struct sbuf j = {0};
	char hex[IDENT_HEX_LEN + 1];

	ident_hex(id, hex);
	sbuf_adds(&j, "{\"type\":\"failed\",\"patient\":");
	sbuf_json_str(&j, s->patients[patient].id);
	sbuf_adds(&j, ",\"channel\":");
	sbuf_json_str(&j, channel);
	sbuf_printf(&j, ",\"reminder\":\"%s\",\"reason\":", hex);
	sbuf_json_str(&j, reason ? reason : "");
	sbuf_addc(&j, '}');
	followup_notice(dm, s, patient, "failed", id, j.s, NULL);
	sbuf_free(&j);
}

/* Can the patient be reached on channel `ch` at all (SPEC 8: "has that
 * contact, has not opted out of it")?  The configuration's allow-list,
 * opt_out and paused, and the run-time consent. */
static const char *unreachable(struct daemon *dm, const struct snapshot *s, uint32_t patient,
    uint16_t ch)
{
	const struct patient *p = &s->patients[patient];
	const struct channel *c = &s->channels[ch];
	chanmask bit = (chanmask)1 << ch;

	if (!c->inst)
		return "its channel is out of service";
	if ((c->contact == IOPD_CONTACT_PHONE && !p->phone) || (c->contact == IOPD_CONTACT_EMAIL && !p->email))
		return "no contact for it";
	if (p->paused || consent_paused(dm->consent, p->id, (int64_t)ev_now(dm->loop)))
		return "paused";
	if ((p->optout & bit) || !(p->allow & bit) || consent_opted_out(dm->consent, p->id, c->name))
		return "opted out of it";
	return NULL;
}

void followup_failed(void *arg, const struct snapshot *s, const struct send_spec *sent,
    const char *reason)
{
	struct daemon *dm = arg;
	const struct channel *c = &s->channels[sent->ch];
	char hex[IDENT_HEX_LEN + 1];
	const char *why;
	struct send_spec fb;
	char *note;

	ident_hex(sent->id, hex);
	if (sent->type == SEND_REMINDER && c->fallback >= 0) {
		why = unreachable(dm, s, sent->patient, (uint16_t)c->fallback);
		if (!why && ev_now(dm->loop) >= (double)sent->expires)
			why = "it has expired";
		if (!why) {
			fb = *sent;
			fb.type = SEND_FALLBACK;
			fb.ch = (uint16_t)c->fallback;
			fb.origin = sent->id;
			fb.id = ident_derived(IDENT_FALLBACK, sent->id, s->channels[fb.ch].name, "");
			note = xasprintf("fallback of %s (%s: %s)", hex, c->name, reason ? reason : "failed");
			fb.why = note;
			dispatch_send(dm->dispatch, s, &fb, NULL);
			free(note);
			return;
		}
		log_ctx(LOG_LVL_NOTICE, &(struct log_ctx){hex, s->patients[sent->patient].id, c->name},
		    "no fallback on %s: %s", s->channels[c->fallback].name, why);
	}
	notice_failed(dm, s, sent->patient, c->name, sent->id, reason);
}

bool followup_spec(const struct snapshot *s, const struct ledger_rec *r, struct send_spec *sp)
{
	int64_t p = snapshot_patient(s, r->patient);
	int ch = snapshot_channel(s, r->channel);

	if (p < 0 || ch < 0)
		return false;
	memset(sp, 0, sizeof *sp);
	sp->id = r->id;
	sp->origin = r->origin;
	sp->patient = (uint32_t)p;
	sp->ch = (uint16_t)ch;
	sp->due = r->due;
	sp->event = r->event;
	sp->expires = r->expires;
	sp->tmpl = -1;
	sp->kind = KIND_COUNT;
	return true;
}

bool followup_texts(const struct snapshot *s, uint64_t reminder, struct send_spec *sp)
{
	struct occ o;
	uint16_t och;

	if (cal_find(s, sp->patient, sp->due, reminder, &o, &och) != 0)
		return false;
	sp->tmpl = o.tmpl;
	sp->kind = o.kind;
	sp->location = o.location;
	sp->label = o.label;
	return true;
}

/* The failed send again as a send_spec: its reminder's group found in the
 * calendar (the texts of a fallback need its template, location, label). */
void followup_receipt_failed(struct daemon *dm, const struct ledger_rec *r, const char *reason)
{
	struct send_spec sp;

	if (!followup_spec(dm->snap, r, &sp))
		return;                        /* gone from the configuration */
	sp.type = r->origin ? SEND_FALLBACK : SEND_REMINDER;
	if (sp.type == SEND_REMINDER && !followup_texts(dm->snap, r->id, &sp))
		return;                        /* the calendar no longer has it */
	followup_failed(dm, dm->snap, &sp, reason);
}

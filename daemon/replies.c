/* replies.c - see replies.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "followup.h"
#include "ident.h"
#include "log.h"
#include "replies.h"
#include "timefmt.h"

#define ANSWER_VALID 3600              /* an answer later than an hour helps nobody */
#define TAKEN_WINDOW (12 * 3600)       /* T applies to a prompt of the last 12 hours */

/* ---- the writes ---------------------------------------------------------- */

int cb_writes_put(struct ledger *l, const struct cb_writes *w)
{
	size_t i;

	for (i = 0; i < w->nreplies; i++)
		if (l->ops->reply(l, &w->replies[i]))
			return -1;
	for (i = 0; i < w->nchanges; i++)
		if (consent_write(l, &w->changes[i]))
			return -1;
	for (i = 0; i < w->nresponds; i++)
		if (l->ops->respond(l, w->respond_ids[i], w->responses[i]))
			return -1;
	if (w->receipt && l->ops->receipt(l, w->receipt, w->receipt_state, w->receipt_at,
	    w->receipt_reason[0] ? w->receipt_reason : NULL))
		return -1;
	return 0;
}

void cb_writes_apply(struct consent *c, const struct cb_writes *w)
{
	size_t i;

	for (i = 0; i < w->nchanges; i++)
		consent_apply(c, &w->changes[i]);
}

void cb_writes_free(struct cb_writes *w)
{
	free(w->replies);
	free(w->changes);
	free(w->respond_ids);
	free(w->responses);
	snapshot_unref(w->snap);
	memset(w, 0, sizeof *w);
}

static void add_change(struct cb_writes *w, const char *patient, const char *channel, int on,
    int64_t now)
{
	struct consent_change *c;

	grow_array(&w->changes, &w->capchanges, w->nchanges + 1, sizeof *w->changes);
	c = &w->changes[w->nchanges++];
	memset(c, 0, sizeof *c);               /* no author, reason or end: a patient's */
	c->kind = OVR_OPTOUT;
	c->patient = patient;
	c->channel = channel;
	c->on = on;
	c->origin = OVR_REPLY;
	c->source = w->source;
	c->at = now;
}

static void add_response(struct cb_writes *w, uint64_t id, const char *response)
{
	size_t cap = w->capresponds;

	grow_array(&w->respond_ids, &w->capresponds, w->nresponds + 1, sizeof *w->respond_ids);
	grow_array(&w->responses, &cap, w->nresponds + 1, sizeof *w->responses);
	w->respond_ids[w->nresponds] = id;
	w->responses[w->nresponds++] = response;
}

/* ---- patients by phone ------------------------------------------------- */

void reply_ctx_free(struct reply_ctx *rc)
{
	snapshot_unref(rc->snap);
	free(rc->by_phone);
	rc->snap = NULL;
	rc->by_phone = NULL;
	rc->n = 0;
}

static int by_phone_cmp(const void *a, const void *b, void *arg)
{
	const struct snapshot *s = arg;
	const struct patient *x = &s->patients[*(const uint32_t *)a];
	const struct patient *y = &s->patients[*(const uint32_t *)b];
	int c = strcmp(x->phone, y->phone);

	return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

static void index_build(struct reply_ctx *rc, struct snapshot *s)
{
	uint32_t i;

	reply_ctx_free(rc);
	rc->snap = snapshot_ref(s);
	rc->by_phone = xreallocarray(NULL, s->npatients ? s->npatients : 1, sizeof *rc->by_phone);
	for (i = 0; i < s->npatients; i++)
		if (s->patients[i].phone)
			rc->by_phone[rc->n++] = i;
	qsort_r(rc->by_phone, rc->n, sizeof *rc->by_phone, by_phone_cmp, s);
}

/* The patients whose phone is `from`: *first of them in by_phone; how many. */
static uint32_t index_find(const struct reply_ctx *rc, const char *from, uint32_t *first)
{
	uint32_t lo = 0, hi = rc->n, end;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (strcmp(rc->snap->patients[rc->by_phone[mid]].phone, from) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < rc->n && strcmp(rc->snap->patients[rc->by_phone[end]].phone, from) == 0; end++)
		;
	*first = lo;
	return end - lo;
}

/* ---- acting on a text -------------------------------------------------- */

/* What one text comes to, while replies_take works on it. */
struct text {
	struct daemon *dm;
	const struct snapshot *s;
	uint16_t ch;
	const char *phone_chans[SNAP_MAX_CHANNELS + 1];   /* NULL-terminated */
	uint16_t phone_idx[SNAP_MAX_CHANNELS];
	size_t nphone;
	enum intent intent;
	uint64_t id;                   /* the reply's */
	int64_t now;
	const char *text;
	struct cb_writes *w;
};

static void phone_channels(struct text *t)
{
	uint16_t i;

	for (i = 0; i < t->s->nchannels; i++)
		if (t->s->channels[i].contact == IOPD_CONTACT_PHONE) {
			t->phone_idx[t->nphone] = i;
			t->phone_chans[t->nphone++] = t->s->channels[i].name;
		}
	t->phone_chans[t->nphone] = NULL;
}

/* YES is START while the phone is opted out by a reply (or its gateway's
 * STOP, which is one), else CONFIRM. */
static bool opted_out_by_reply(const struct text *t, const struct reply_ctx *rc, uint32_t first,
    uint32_t n)
{
	uint32_t i;
	size_t k;

	for (i = first; i < first + n; i++)
		for (k = 0; k < t->nphone; k++) {
			int o = consent_optout_origin(t->dm->consent,
			    t->s->patients[rc->by_phone[i]].id, t->phone_chans[k]);
			if (o == OVR_REPLY || o == OVR_GATEWAY)
				return true;
		}
	return false;
}

/* STOP: out of every channel that addresses phones (an opt-out staff set
 * stays staff's); START: what replies and gateways set is lifted. */
static void consent_changes(struct text *t, const struct patient *p)
{
	size_t k;

	for (k = 0; k < t->nphone; k++) {
		int o = consent_optout_origin(t->dm->consent, p->id, t->phone_chans[k]);

		if (t->intent == INTENT_STOP && o < 0)
			add_change(t->w, p->id, t->phone_chans[k], 1, t->now);
		else if (t->intent == INTENT_START && (o == OVR_REPLY || o == OVR_GATEWAY))
			add_change(t->w, p->id, t->phone_chans[k], 0, t->now);
	}
}

/* C, R: the session or appointment the latest reminder sent to that phone
 * announced, if still ahead; T: the latest medication prompt sent within
 * 12 hours.  Records the response on it; 1 if there was one. */
static int applies_to(struct text *t, const struct patient *p, struct ledger_rec *r, char *buf,
    size_t len)
{
	static const char *const events[] = {"session", "appointment", NULL};
	static const char *const meds[] = {"medication", NULL};
	struct ledger *l = t->dm->ledger;
	bool taken = t->intent == INTENT_TAKEN;
	int found;

	if (t->intent != INTENT_CONFIRM && t->intent != INTENT_RESCHEDULE && !taken)
		return 0;
	found = l->ops->latest_sent(l, p->id, t->phone_chans, taken ? meds : events,
	    taken ? t->now - TAKEN_WINDOW : 0, r, buf, len);
	if (found != 1 || (!taken && r->event <= t->now))
		return 0;
	add_response(t->w, r->id, intent_names[t->intent]);
	return 1;
}

/* {"type":"reply","intent":..,"patient":..,"channel":..,"reminder":..,
 * "event":..,"received":..} (+ "text" for other, which is never stored). */
static void tell_staff(struct text *t, uint32_t patient, const struct ledger_rec *r, bool applied)
{
	struct sbuf j = {0};
	char hex[IDENT_HEX_LEN + 1], when[FMT_UTC_LEN + 1];
	size_t stored;

	sbuf_printf(&j, "{\"type\":\"reply\",\"intent\":\"%s\",\"patient\":", intent_names[t->intent]);
	sbuf_json_str(&j, t->s->patients[patient].id);
	sbuf_adds(&j, ",\"channel\":");
	sbuf_json_str(&j, t->s->channels[t->ch].name);
	if (applied) {
		ident_hex(r->id, hex);
		fmt_utc(r->event, when);
		sbuf_printf(&j, ",\"reminder\":\"%s\",\"event\":\"%s\"", hex, when);
	} else {
		sbuf_adds(&j, ",\"reminder\":null,\"event\":null");
	}
	fmt_utc(t->now, when);
	sbuf_printf(&j, ",\"received\":\"%s\"", when);
	stored = j.len;
	if (t->intent == INTENT_OTHER) {
		sbuf_adds(&j, ",\"text\":");
		sbuf_json_str(&j, t->text);
	}
	sbuf_addc(&j, '}');
	{
		char *keep = xasprintf("%.*s}", (int)stored, j.s);
		followup_notice(t->dm, t->s, patient, "reply", t->id, j.s, keep);
		free(keep);
	}
	sbuf_free(&j);
}

/* The answer's template for this intent, or -1 (none, or not defined). */
static int answer_template(const struct text *t)
{
	static const char *const names[INTENT_COUNT] = {
		[INTENT_STOP] = "stopped", [INTENT_START] = "started", [INTENT_HELP] = "help",
		[INTENT_CONFIRM] = "confirmed", [INTENT_RESCHEDULE] = "reschedule",
	};

	if (!t->s->channels[t->ch].replies || !names[t->intent])
		return -1;
	return snapshot_template(t->s, names[t->intent]);
}

/* One answer per text, to the sender, through the channel it came in on,
 * rendered for the first of its patients (and the event confirmed). */
static uint64_t answer(struct text *t, uint32_t patient, int64_t event)
{
	struct send_spec sp;
	int tmpl = answer_template(t);

	if (tmpl < 0)
		return 0;
	memset(&sp, 0, sizeof sp);
	sp.type = SEND_ANSWER;
	sp.id = ident_derived(IDENT_ANSWER, t->id, "", "");
	sp.origin = t->id;
	sp.patient = patient;
	sp.ch = t->ch;
	sp.tmpl = tmpl;
	sp.kind = KIND_COUNT;
	sp.due = t->now;
	sp.event = event;
	sp.expires = t->now + ANSWER_VALID;
	sp.why = intent_names[t->intent];
	dispatch_send(t->dm->dispatch, t->s, &sp, NULL);
	return sp.id;
}

static uint64_t reply_id(struct reply_ctx *rc, const char *channel, const char *key)
{
	char seq[48];

	if (key)
		return ident_derived(IDENT_REPLY, 0, channel, key);
	snprintf(seq, sizeof seq, "@%.6f#%llu", ev_time(), (unsigned long long)++rc->seq);
	return ident_derived(IDENT_REPLY, 0, channel, seq);
}

static void one_patient(struct text *t, uint32_t patient, uint64_t answer_id,
    struct ledger_rec *r, bool applied)
{
	const struct patient *p = &t->s->patients[patient];
	struct ledger_reply *lr;

	consent_changes(t, p);
	grow_array(&t->w->replies, &t->w->capreplies, t->w->nreplies + 1, sizeof *t->w->replies);
	lr = &t->w->replies[t->w->nreplies++];
	memset(lr, 0, sizeof *lr);
	lr->id = t->id;
	lr->patient = p->id;
	lr->channel = t->s->channels[t->ch].name;
	lr->intent = intent_names[t->intent];
	lr->at = t->now;
	lr->reminder = applied ? r->id : 0;
	lr->event = applied ? r->event : 0;
	lr->answer = answer_id;
	log_ctx(LOG_LVL_INFO, &(struct log_ctx){NULL, p->id, t->s->channels[t->ch].name},
	    "reply: %s%s", intent_names[t->intent], applied ? " (on its latest reminder)" : "");
	if (t->intent != INTENT_HELP && t->intent != INTENT_TAKEN)
		tell_staff(t, patient, r, applied);
}

void replies_patients(struct daemon *dm, struct reply_ctx *rc, const char *from,
    void (*fn)(const char *patient, void *arg), void *arg)
{
	uint32_t first, n, i;

	if (rc->snap != dm->snap)
		index_build(rc, dm->snap);
	if (!from || !(n = index_find(rc, from, &first)))
		return;
	for (i = first; i < first + n; i++)
		fn(rc->snap->patients[rc->by_phone[i]].id, arg);
}

int replies_take(struct daemon *dm, struct reply_ctx *rc, uint16_t ch, const char *from,
    const char *text, const char *key, int64_t now, struct cb_writes *w)
{
	struct text t;
	struct ledger_rec r;
	char buf[2048];
	uint32_t first, n, i;
	uint64_t ans;
	bool applied0;

	if (rc->snap != dm->snap)
		index_build(rc, dm->snap);
	if (!from || !(n = index_find(rc, from, &first)))
		return -1;
	memset(&t, 0, sizeof t);
	t.dm = dm;
	t.s = rc->snap;
	t.ch = ch;
	t.now = now;
	t.text = text ? text : "";
	t.w = w;
	phone_channels(&t);
	t.intent = keyword_intent(t.text, opted_out_by_reply(&t, rc, first, n));
	t.id = reply_id(rc, t.s->channels[ch].name, key);
	w->snap = snapshot_ref(rc->snap);
	snprintf(w->source, sizeof w->source, "reply %s on %s", intent_names[t.intent],
	    t.s->channels[ch].name);
	/* the first patient's reminder gives the answer its {day}, {time} */
	applied0 = applies_to(&t, &t.s->patients[rc->by_phone[first]], &r, buf, sizeof buf) == 1;
	ans = answer(&t, rc->by_phone[first], applied0 ? r.event : now);
	one_patient(&t, rc->by_phone[first], ans, &r, applied0);
	for (i = first + 1; i < first + n; i++) {
		bool applied = applies_to(&t, &t.s->patients[rc->by_phone[i]], &r, buf, sizeof buf) == 1;
		one_patient(&t, rc->by_phone[i], ans, &r, applied);
	}
	return (int)t.intent;
}

/* consent.h - who may be sent what, over the configuration: pauses and
 * opt-outs set at run time, each with its origin (SPEC 2, 8).
 *
 * Staff set them with iopctl, a patient with a reply (STOP, START), a
 * gateway by refusing a number that unsubscribed.  The origin matters: a
 * START lifts what a reply or the gateway set, never what staff set.
 * The dispatcher asks before it queues a reminder and again at the moment
 * it hands one to a plugin; the control socket and the inbound side ask
 * and change.  The configuration's own `paused` and `opt_out` are the
 * calendar's (SPEC 4) and not kept here.
 *
 * A change is written to the ledger inside a batch (consent_write) and in
 * force once that batch committed (consent_apply), or in a transaction
 * of its own (consent_set).  One owner (the daemon), on the loop thread. */
#ifndef IOPD_CONSENT_H
#define IOPD_CONSENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

struct consent;

struct consent_change {
	enum ovr_kind kind;
	const char *patient;
	const char *channel;           /* OVR_OPTOUT only */
	int on;                        /* 1 set, 0 lift */
	enum ovr_origin origin;
	const char *source;            /* for history: "iopctl", "reply STOP on sms", ... */
	int64_t at;
	/* staff's (ledger.h, struct ledger_ovr): who, why, and until when a
	 * pause lasts (0: until resumed) */
	const char *author;
	long uid;
	const char *reason;
	int64_t until;
};

struct consent *consent_new(void);
void consent_free(struct consent *c);
/* What the ledger holds in force; 0, or -1 with the ledger's error. */
int consent_load(struct consent *c, struct ledger *l);
/* One override the ledger holds in force (arg: the consent), as load reads it. */
void consent_loaded(const struct ledger_ovr *o, void *arg);

/* Is the patient paused at `now`?  A pause set with an end (--until) is
 * over at that instant, even before the daemon recorded its lifting. */
bool consent_paused(const struct consent *c, const char *patient, int64_t now);
/* The end of the patient's pause: -1 not paused, 0 none (until resumed). */
int64_t consent_pause_until(const struct consent *c, const char *patient);
/* The earliest end of a pause in force, or 0 if no pause has one. */
int64_t consent_next_expiry(const struct consent *c);
/* A patient whose pause ended at or before `now` and is still recorded
 * as in force (the daemon then lifts it, consent_set), or NULL. */
const char *consent_first_expired(const struct consent *c, int64_t now);
bool consent_opted_out(const struct consent *c, const char *patient, const char *channel);
/* The origin of the opt-out in force, or -1 if there is none. */
int consent_optout_origin(const struct consent *c, const char *patient, const char *channel);

/* Into the ledger's open batch.  0, or -1. */
int consent_write(struct ledger *l, const struct consent_change *ch);
/* In force, once the batch holding it committed. */
void consent_apply(struct consent *c, const struct consent_change *ch);
/* A transaction of its own: written, committed, in force.  0, or -1 with
 * the ledger's error in err. */
int consent_set(struct consent *c, struct ledger *l, const struct consent_change *ch,
    char *err, size_t errlen);
/* The same, for any backend: in a batch of its own, submitted to the
 * ledger; in force once it committed, then done(0, "", arg) -- at once
 * with SQLite, after a round trip with a server -- or done(-1, why, arg).
 * `done` may be NULL. */
typedef void (*consent_done_fn)(int rc, const char *err, void *arg);
void consent_submit(struct consent *c, struct ledger *l, const struct consent_change *ch,
    consent_done_fn done, void *arg);
/* The requests made with `arg` will not call their done (its owner is gone). */
void consent_cancel(struct consent *c, void *arg);
/* Forgets everything in force (a shared ledger's overrides are read again). */
void consent_reset(struct consent *c);

#endif

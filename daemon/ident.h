/* ident.h - stable reminder ids (SPEC 5).
 *
 * A reminder's id is a 64-bit keyed hash (SipHash-2-4, fixed public key) of
 * exactly what identifies it: patient id, kind, series, lead, channel and
 * the occurrence instant.  Positions in the file, template texts and other
 * patients never enter it, so the id survives restarts, reloads and
 * unrelated edits; it is the idempotency key toward gateways.
 *
 * Computed in two steps so the calendar can hash the (long) textual part
 * once per series and channel and then mix in each occurrence cheaply. */
#ifndef IOPD_IDENT_H
#define IOPD_IDENT_H

#include <stddef.h>
#include <stdint.h>

#define IDENT_HEX_LEN 16

uint64_t siphash24(const uint64_t key[2], const void *data, size_t len);

/* The series part: NUL-separated fields, versioned. */
uint64_t ident_series(const char *patient, const char *kind, const char *series,
    const char *lead, const char *channel);
/* The whole id: series part plus the occurrence instant (Unix seconds). */
uint64_t ident_reminder(uint64_t series, int64_t occurrence);

/* The id of a send derived from another (docs/ids.md, SPEC 8): SipHash
 * of `tag`, `from` as 16 hex digits, a and b, each NUL-terminated.  Tags:
 * IDENT_FALLBACK (from the reminder, a = the fallback channel),
 * IDENT_REPLY (from 0, a = channel, b = the gateway's key of the text),
 * IDENT_ANSWER (from the reply), IDENT_NOTICE (from the reply or the
 * failed reminder, a = the notice type, b = the patient). */
#define IDENT_FALLBACK "iopd-fallback-1"
#define IDENT_REPLY "iopd-reply-1"
#define IDENT_ANSWER "iopd-answer-1"
#define IDENT_NOTICE "iopd-notice-1"
uint64_t ident_derived(const char *tag, uint64_t from, const char *a, const char *b);

void ident_hex(uint64_t id, char buf[IDENT_HEX_LEN + 1]);
/* Parses 16 lowercase hex digits; -1 if s is not one. */
int ident_parse(const char *s, uint64_t *id);

#endif

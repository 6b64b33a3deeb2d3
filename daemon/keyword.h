/* keyword.h - what a patient's text means (SPEC 8's keyword table).
 *
 * Pure: no state, no I/O.  The text is trimmed of spaces and punctuation
 * at both ends, runs of them inside become one space, and it is compared
 * without regard to case with the keywords; anything else is "other".
 * CANCEL means stop, as carriers and the FCC read it. */
#ifndef IOPD_KEYWORD_H
#define IOPD_KEYWORD_H

#include <stdbool.h>

enum intent {
	INTENT_STOP, INTENT_START, INTENT_HELP, INTENT_CONFIRM, INTENT_RESCHEDULE, INTENT_TAKEN,
	INTENT_OTHER, INTENT_COUNT
};
extern const char *const intent_names[INTENT_COUNT];   /* "stop", "start", ... */

/* `optout_by_reply`: the sender's phone is opted out by a reply (or its
 * gateway's STOP); YES then means start, else confirm. */
enum intent keyword_intent(const char *text, bool optout_by_reply);

#endif

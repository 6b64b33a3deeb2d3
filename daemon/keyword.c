/* keyword.c - see keyword.h. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "keyword.h"
#include "util.h"

#define KEYWORD_MAX 16                 /* longer texts are no keyword */

const char *const intent_names[INTENT_COUNT] = {
	"stop", "start", "help", "confirm", "reschedule", "taken", "other"
};

static const struct {
	const char *word;
	enum intent intent;
} keywords[] = {
	{"STOP", INTENT_STOP}, {"STOPALL", INTENT_STOP}, {"UNSUBSCRIBE", INTENT_STOP},
	{"CANCEL", INTENT_STOP}, {"END", INTENT_STOP}, {"QUIT", INTENT_STOP},
	{"REVOKE", INTENT_STOP}, {"OPTOUT", INTENT_STOP}, {"OPT OUT", INTENT_STOP},
	{"START", INTENT_START}, {"UNSTOP", INTENT_START},
	{"HELP", INTENT_HELP}, {"INFO", INTENT_HELP},
	{"C", INTENT_CONFIRM}, {"CONFIRM", INTENT_CONFIRM},
	{"R", INTENT_RESCHEDULE}, {"RESCHEDULE", INTENT_RESCHEDULE},
	{"T", INTENT_TAKEN}, {"TAKEN", INTENT_TAKEN},
};

/* ASCII spaces and punctuation; every other byte (letters, digits, and
 * all of UTF-8's multi-byte sequences) is part of a word. */
static bool separator(unsigned char ch)
{
	return (ch >= 0x09 && ch <= 0x0d) || ch == ' ' || (ch >= '!' && ch <= '/') ||
	    (ch >= ':' && ch <= '@') || (ch >= '[' && ch <= '`') || (ch >= '{' && ch <= '~');
}

/* The text as compared: upper case, single spaces between words.
 * false when it is too long to be a keyword. */
static bool normalise(const char *text, char out[KEYWORD_MAX + 1])
{
	size_t n = 0;
	bool gap = false;

	for (; *text; text++) {
		unsigned char ch = (unsigned char)*text;

		if (separator(ch)) {
			gap = n > 0;
			continue;
		}
		if (gap) {
			if (n == KEYWORD_MAX)
				return false;
			out[n++] = ' ';
			gap = false;
		}
		if (n == KEYWORD_MAX)
			return false;
		out[n++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
	}
	out[n] = '\0';
	return true;
}

enum intent keyword_intent(const char *text, bool optout_by_reply)
{
	char w[KEYWORD_MAX + 1];
	size_t i;

	if (!text || !normalise(text, w))
		return INTENT_OTHER;
	if (strcmp(w, "YES") == 0)
		return optout_by_reply ? INTENT_START : INTENT_CONFIRM;
	for (i = 0; i < IOPD_NELEM(keywords); i++)
		if (strcmp(w, keywords[i].word) == 0)
			return keywords[i].intent;
	return INTENT_OTHER;
}

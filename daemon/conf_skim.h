/* conf_skim.h - where a list of the configuration's text ends, found
 * without reading it.
 *
 * With the patients in the cache, the reader still has to find where each
 * patients list ends (and on which line) to read what follows it.  That
 * skim passes over every byte of the patients' text, 25 MB for 100,000
 * patients (bench W1). */
#ifndef IOPD_CONF_SKIM_H
#define IOPD_CONF_SKIM_H

#include <stdbool.h>

struct conf_skim {
	const char *p;                 /* where the skim is: never inside a string or comment */
	int depth;                     /* lists open; the skim ends when none is */
	int line;                      /* newlines passed */
};

/* Moves s to just after the ')' that closes its last open list, past
 * strings and comments, counting every newline on the way.  false if the
 * text ends first (s is then somewhere before end). */
bool conf_skim(struct conf_skim *s, const char *end);

/* The same, one token at a time: what conf_skim does where it cannot
 * classify a block of text at once, and what the tests hold it to. */
bool conf_skim_tokens(struct conf_skim *s, const char *end);

#endif

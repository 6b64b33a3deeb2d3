/* safetext.h - text from configuration files and requests, made safe to
 * echo and checked for what iopd accepts.
 *
 * A value an admin (or a client of the control socket) wrote ends up in
 * error messages, the log and the terminal.  A newline there would start a
 * forged log line (with a "<0>" priority of its own), an escape sequence
 * would drive the terminal: every echoed value goes through safe_escape. */
#ifndef IOPD_SAFETEXT_H
#define IOPD_SAFETEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Appends s[0..n) to b with every control character (C0, DEL, C1) and
 * every byte that is not part of valid UTF-8 written as an escape: \n, \r,
 * \t, or \xNN.  Everything else, UTF-8 letters included, is copied. */
void safe_escape(struct sbuf *b, const char *s, size_t n);

/* The same, line by line: newlines are kept (a message of several lines
 * stays one), every other control character is escaped. */
void safe_escape_lines(struct sbuf *b, const char *s, size_t n);

/* Whether s is valid UTF-8 (no overlongs, no surrogates, nothing above
 * U+10FFFF).  If not, *bad (may be NULL) is the offset of the first byte
 * that is not. */
bool safe_utf8(const char *s, size_t n, size_t *bad);

/* Patient ids: one or more of A-Z a-z 0-9 . _ -  (SPEC reading: ids name
 * patients in the ledger, the log, metrics and iopctl arguments). */
#define SAFE_ID_RULE "letters A-Z a-z, digits, '.', '_' and '-' only"
bool safe_id(const char *s);

#endif

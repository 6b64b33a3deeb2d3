/* conf_text.h - what iopd reads in the configuration's text itself, before
 * and after libconfig does: its tokens, as libconfig's scanner sees them
 * (strings, comments, brackets), on the one text of conf_source.h.
 *
 * Two uses:
 *   - patients from several files: libconfig refuses a setting given twice,
 *     so the second and later top-level `patients` lists are renamed
 *     "patients*2", "patients*3", ... (same length of lines: every
 *     FILE:LINE stays right) and conf.c reads them as one list;
 *   - a syntax error in a list or array that is a missing ',' between two
 *     elements: libconfig reports the token after it, on the next line;
 *     iopd names the line that lacks it. */
#ifndef IOPD_CONF_TEXT_H
#define IOPD_CONF_TEXT_H

#include "util.h"

/* Renames, in `text`, the second and later settings called `name` at the
 * top level to "name*2", "name*3", ...  Returns how many there are. */
int conf_text_merge(struct sbuf *text, const char *name);

/* For a syntax error libconfig reported at line `line` of `text`: if that
 * line starts an element of a list or array and the code line before it
 * ends one without a ',', the number of that line (1-based), else 0. */
int conf_text_missing_comma(const char *text, int line);

/* The repeat number of a merged name: "patients" -> 1, "patients*2" -> 2;
 * 0 if `s` is neither `name` nor one of its repeats. */
int conf_text_repeat(const char *s, const char *name);

#endif

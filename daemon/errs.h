/* errs.h - collects configuration diagnostics as "FILE:LINE: message".
 *
 * Parsing never stops at the first error: every error of a run is
 * collected, so an admin fixes a file in one pass.  Warnings are kept apart
 * and never make a configuration invalid.  errs_sort() puts both lists in
 * file and line order (the files in the order they were read), however
 * the parser came across them. */
#ifndef IOPD_ERRS_H
#define IOPD_ERRS_H

#include <stdio.h>

#include <libconfig.h>

#include "util.h"

struct conf_source;

struct errs_line;

/* What a stretch of parsing said, to say it again (the snapshot cache,
 * snapcache.h): each message with its file (its rank in the files read)
 * and line, the message as written before escaping. */
struct errs_said {
	int warn;
	size_t file;
	int line;
	char *text;
};

struct errs_capture {
	struct errs_said *v;
	size_t n, cap;
};

struct errs {
	struct sbuf text;              /* errors, one per line */
	struct sbuf warn;              /* warnings, one per line */
	int count, nwarn;
	struct errs_line *where;       /* per line of text and warn: its place, for errs_sort */
	size_t nwhere, capwhere;
	const char *main_file;         /* as given: for settings without a source file */
	const struct conf_source *src; /* while a configuration is read: its line map */
	struct errs_capture *capture;  /* when set, every message is kept there too */
};

void errs_at(struct errs *e, const char *file, int line, const char *fmt, ...) IOPD_PRINTF(4, 5);
void errs_vat(struct errs *e, const char *file, int line, const char *fmt, va_list ap) IOPD_PRINTF(4, 0);
/* At setting s (its file and line, as libconfig recorded them). */
void errs_set(struct errs *e, const config_setting_t *s, const char *fmt, ...) IOPD_PRINTF(3, 4);
void errs_vset(struct errs *e, const config_setting_t *s, const char *fmt, va_list ap) IOPD_PRINTF(3, 0);
void warn_set(struct errs *e, const config_setting_t *s, const char *fmt, ...) IOPD_PRINTF(3, 4);
void warn_at(struct errs *e, const char *file, int line, const char *fmt, ...) IOPD_PRINTF(4, 5);
/* Where setting s was written: the file as the admin named it (openable
 * from the working directory) and its line there. */
const char *setting_file(const struct errs *e, const config_setting_t *s);
int setting_line(const struct errs *e, const config_setting_t *s);
/* The same for line `line` of the text libconfig read (what
 * config_setting_source_line() said of a setting no longer in memory: a
 * patient is read one at a time, conf_read.h), and messages there. */
const char *text_file(const struct errs *e, int line);
int text_line(const struct errs *e, int line);
void errs_line(struct errs *e, int line, const char *fmt, ...) IOPD_PRINTF(3, 4);
void warn_line(struct errs *e, int line, const char *fmt, ...) IOPD_PRINTF(3, 4);
/* Sorts errors and warnings by file (in the order the configuration's
 * files were read; e->src must still be set) and line; stable. */
void errs_sort(struct errs *e);
/* Where the messages end now, and back to there (a load that starts over). */
struct errs_mark {
	int count, nwarn;
	size_t nwhere, text, warn;
};
void errs_mark(const struct errs *e, struct errs_mark *m);
void errs_rewind(struct errs *e, const struct errs_mark *m);
/* Says again what was captured, at the same files and lines (e->src
 * names the files). */
void errs_replay(struct errs *e, const struct errs_said *v, size_t n);
void errs_capture_free(struct errs_capture *c);
void errs_print(const struct errs *e, FILE *f);
void errs_free(struct errs *e);

#endif

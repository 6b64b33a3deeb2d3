/* errs.h - collects configuration diagnostics as "FILE:LINE: message".
 *
 * Parsing never stops at the first error: every error of a run is
 * collected, so an admin fixes a file in one pass.  Warnings are kept apart
 * and never make a configuration invalid. */
#ifndef IOPD_ERRS_H
#define IOPD_ERRS_H

#include <stdio.h>

#include <libconfig.h>

#include "util.h"

struct errs {
	struct sbuf text;              /* errors, one per line */
	struct sbuf warn;              /* warnings, one per line */
	int count, nwarn;
	const char *main_file;         /* as given: for settings without a source file */
	const char *include_dir;       /* libconfig names included files relative to it */
	char **paths;                  /* included files' names, joined to include_dir */
	size_t npaths;
};

void errs_at(struct errs *e, const char *file, int line, const char *fmt, ...) IOPD_PRINTF(4, 5);
void errs_vat(struct errs *e, const char *file, int line, const char *fmt, va_list ap) IOPD_PRINTF(4, 0);
/* At setting s (its file and line, as libconfig recorded them). */
void errs_set(struct errs *e, const config_setting_t *s, const char *fmt, ...) IOPD_PRINTF(3, 4);
void errs_vset(struct errs *e, const config_setting_t *s, const char *fmt, va_list ap) IOPD_PRINTF(3, 0);
void warn_set(struct errs *e, const config_setting_t *s, const char *fmt, ...) IOPD_PRINTF(3, 4);
const char *setting_file(const struct errs *e, const config_setting_t *s);
/* Drops the joined file names setting_file() made (they are only valid
 * while the libconfig tree they name is). */
void errs_paths_free(struct errs *e);
void errs_print(const struct errs *e, FILE *f);
void errs_free(struct errs *e);

#endif

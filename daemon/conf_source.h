/* conf_source.h - the configuration's text, with its @include lines
 * expanded by iopd rather than by libconfig.
 *
 * libconfig 1.5 reads a relative @include against one folder for the whole
 * tree (or the working directory), so a file in patients/ that includes a
 * neighbour would look for it in the wrong place; newer libconfig has a
 * hook for this, 1.5 has none.  So iopd expands the includes itself, each
 * relative path against the folder of the file that names it, hands
 * libconfig one text, and keeps a map from its lines back to each file and
 * line, which every FILE:LINE message goes through (errs.c). */
#ifndef IOPD_CONF_SOURCE_H
#define IOPD_CONF_SOURCE_H

#include <stddef.h>

#include "util.h"

struct errs;

struct src_span {
	int out_line;                  /* first line of the run in the text */
	int line;                      /* its line in the file */
	size_t file;                   /* index into files */
};

struct conf_source {
	struct sbuf text;
	struct src_span *spans;
	size_t nspans, capspans;
	char **files;                  /* as the admin wrote them, openable from here */
	size_t nfiles, capfiles;
	int out_lines;
};

/* Reads `path` and everything it includes; errors go to e (FILE:LINE).
 * Returns 0, or -1 when a file could not be read or an include is bad. */
int conf_source_load(struct conf_source *src, const char *path, struct errs *e);
/* The file and line of line `out_line` of the text (1-based). */
void conf_source_where(const struct conf_source *src, int out_line, const char **file, int *line);
void conf_source_free(struct conf_source *src);

#endif

/* unit.h - helpers shared by the unit tests of the configuration and the
 * calendar: scratch folders, configuration files written on the fly, and
 * checks of "FILE:LINE: message" diagnostics.
 *
 * Every helper is static inline so that a test includes this header and
 * uses what it needs without unused-function warnings. */
#ifndef IOPD_TESTS_UNIT_H
#define IOPD_TESTS_UNIT_H

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "conf.h"
#include "errs.h"
#include "snapshot.h"
#include "timefmt.h"
#include "tz.h"

/* ---- scratch folders ---------------------------------------------------- */

static inline int unit_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A new folder under $TMPDIR (or /tmp); its absolute path, to free. */
static inline char *unit_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[PATH_MAX], *real;

	snprintf(tmpl, sizeof tmpl, "%s/iopd-unit-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(tmpl));
	real = realpath(tmpl, NULL);     /* conf_load reports absolute, resolved paths */
	assert_non_null(real);
	return real;
}

static inline void unit_rmtree(char *dir)
{
	if (dir)
		nftw(dir, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* A scratch folder for each test that names these as its cmocka setup
 * and teardown. */
static char *unit_dir __attribute__((unused));

static inline int unit_setup(void **state)
{
	(void)state;
	unit_dir = unit_mkdtemp();
	return 0;
}

static inline int unit_teardown(void **state)
{
	(void)state;
	unit_rmtree(unit_dir);
	unit_dir = NULL;
	return 0;
}

/* dir/name (created folders on the way are the caller's business); to free. */
static inline char *unit_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Writes `text` to dir/name with exactly `mode`; returns the path, to free. */
static inline char *unit_write(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *path = unit_path(dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t len = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);     /* whatever the umask */
	assert_int_equal(close(fd), 0);
	return path;
}

/* ---- loading --------------------------------------------------------------- */

/* conf_load of a text written to a fresh file `name` (mode 0600) in `dir`. */
static inline struct snapshot *unit_load_text(const char *dir, const char *name, const char *text,
    enum conf_mode mode, struct errs *e)
{
	char *path = unit_write(dir, name, text, 0600);
	struct snapshot *s = conf_load(path, mode, e);

	free(path);
	return s;
}

/* Loads a configuration that must be valid: fails the test with every
 * diagnostic otherwise. */
static inline struct snapshot *unit_load_ok(const char *dir, const char *text)
{
	struct errs e = {0};
	struct snapshot *s = unit_load_text(dir, "ok.conf", text, CONF_CALENDAR, &e);

	if (!s)
		print_error("unexpected configuration errors:\n%s", e.text.s ? e.text.s : "(none)\n");
	assert_non_null(s);
	errs_free(&e);
	return s;
}

/* ---- diagnostics ----------------------------------------------------------- */

struct unit_err {
	const char *file;              /* absolute path */
	int line;                      /* every diagnostic has one (1 for a whole file) */
	const char *text;              /* a part of the message */
};

/* The diagnostic's file as an absolute path: libconfig 1.5 records an
 * @include path as written, i.e. relative to the include folder (the main
 * file's folder), so a relative one is read against `dir`. */
static inline void unit_abs_file(const char *file, size_t flen, const char *dir, char *out,
    size_t outlen)
{
	char joined[PATH_MAX], *real;

	if (flen && file[0] == '/')
		snprintf(joined, sizeof joined, "%.*s", (int)flen, file);
	else
		snprintf(joined, sizeof joined, "%s/%.*s", dir, (int)flen, file);
	real = realpath(joined, NULL);
	snprintf(out, outlen, "%s", real ? real : joined);
	free(real);
}

/* Does the diagnostic `l` (one line, without its newline) match `x`? */
static inline int unit_err_match(const char *l, size_t len, const struct unit_err *x,
    const char *dir)
{
	char want[PATH_MAX + 16], file[PATH_MAX], msg[4096];
	const char *colon;
	size_t flen;

	snprintf(msg, sizeof msg, "%.*s", (int)len, l);
	if (x->line > 0)
		snprintf(want, sizeof want, ":%d: ", x->line);
	else
		snprintf(want, sizeof want, ": ");
	if (!(colon = strstr(msg, want)))
		return 0;
	flen = (size_t)(colon - msg);
	/* "FILE:LINE: " must be the very first colon-separated fields */
	if (memchr(msg, ':', flen))
		return 0;
	unit_abs_file(msg, flen, dir, file, sizeof file);
	return strcmp(file, x->file) == 0 && strstr(colon + strlen(want), x->text) != NULL;
}

/* Every line of e->text must match exactly one of the n expected
 * diagnostics and each expected one a different line: the count is exact.
 * `dir` is the folder relative include names are read against. */
static inline void unit_expect_errs(const struct errs *e, const struct unit_err *x, size_t n,
    const char *dir)
{
	const char *text = e->text.s ? e->text.s : "";
	const char *lines[512];
	size_t lens[512], nl = 0, i, j;
	char used[512] = {0};
	int bad = 0;
	const char *p;

	for (p = text; *p && nl < 512; ) {
		const char *nlp = strchr(p, '\n');
		size_t len = nlp ? (size_t)(nlp - p) : strlen(p);
		lines[nl] = p;
		lens[nl++] = len;
		p += len + (nlp ? 1 : 0);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < nl; j++)
			if (!used[j] && unit_err_match(lines[j], lens[j], &x[i], dir))
				break;
		if (j == nl) {
			print_error("missing diagnostic %s:%d: ...%s...\n", x[i].file, x[i].line, x[i].text);
			bad = 1;
		} else {
			used[j] = 1;
		}
	}
	for (j = 0; j < nl; j++)
		if (!used[j]) {
			print_error("unexpected diagnostic: %.*s\n", (int)lens[j], lines[j]);
			bad = 1;
		}
	if (bad || (size_t)e->count != n) {
		print_error("all diagnostics (%d, expected %zu):\n%s", e->count, n, text);
		fail();
	}
}

/* ---- time ----------------------------------------------------------------- */

/* "2026-12-01T18:00:00Z" (or with an offset) -> instant; fails the test
 * on a typo. */
static inline int64_t unit_t(const char *iso)
{
	char err[128];
	const struct tz *utc = tz_get("UTC", err, sizeof err);
	int64_t t = 0;

	assert_non_null(utc);
	if (parse_instant(iso, utc, &t) != 0)
		fail_msg("bad instant in the test: %s", iso);
	return t;
}

static inline const struct tz *unit_zone(const char *name)
{
	char err[256];
	const struct tz *z = tz_get(name, err, sizeof err);

	if (!z)
		fail_msg("zone %s: %s", name, err);
	return z;
}

#endif

/* conf_source.c - see conf_source.h.
 *
 * An @include is recognised as libconfig's scanner does: a line that
 * starts (after blanks) with @include and a quoted file name, outside
 * block comments; a comment may follow on the line.
 *
 * A name with wildcards (glob(7): `@include "patients/STAR.conf"`, STAR
 * being "*") includes every regular file it matches, in byte order of
 * their names: a folder with one file per patient or group.  Matching nothing is a warning, not
 * an error (a clinic may have discharged everyone), unless the folder
 * itself is missing; anything but a regular file is skipped with a
 * warning (a subfolder, a socket, a FIFO that would block the read). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_source.h"
#include "errs.h"

#define MAX_DEPTH 16                   /* deeper is surely a loop or a mistake */
/* Bounds on what is read: 100,000 patients take about 40 MB.  A file
 * included from several places counts each time it is read. */
#define FILE_MAX ((size_t)64 << 20)
#define TEXT_MAX ((size_t)256 << 20)

struct expand {
	struct conf_source *src;
	struct errs *e;
	char *stack[MAX_DEPTH];        /* real paths being read: cycles */
	int depth;
};

static size_t add_file(struct conf_source *s, const char *name)
{
	grow_array(&s->files, &s->capfiles, s->nfiles + 1, sizeof *s->files);
	s->files[s->nfiles] = xstrdup(name);
	return s->nfiles++;
}

/* Appends one line of file f (line number `line`) to the text. */
static void add_line(struct conf_source *s, size_t f, int line, const char *p, size_t n)
{
	struct src_span *last = s->nspans ? &s->spans[s->nspans - 1] : NULL;

	s->out_lines++;
	if (!last || last->file != f || last->line + (s->out_lines - last->out_line) != line) {
		grow_array(&s->spans, &s->capspans, s->nspans + 1, sizeof *s->spans);
		s->spans[s->nspans].out_line = s->out_lines;
		s->spans[s->nspans].line = line;
		s->spans[s->nspans].file = f;
		s->nspans++;
	}
	sbuf_add(&s->text, p, n);
	sbuf_addc(&s->text, '\n');
}

/* Scans a line for comments and strings: whether it ends inside a block
 * comment, given whether it began in one. */
static int ends_in_comment(const char *p, size_t n, int in_comment)
{
	size_t i;
	int in_string = 0;

	for (i = 0; i < n; i++) {
		if (in_comment) {
			if (p[i] == '*' && i + 1 < n && p[i + 1] == '/') {
				in_comment = 0;
				i++;
			}
		} else if (in_string) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_string = 0;
		} else if (p[i] == '"') {
			in_string = 1;
		} else if (p[i] == '#' || (p[i] == '/' && i + 1 < n && p[i + 1] == '/')) {
			return 0;
		} else if (p[i] == '/' && i + 1 < n && p[i + 1] == '*') {
			in_comment = 1;
			i++;
		}
	}
	return in_comment;
}

/* If the line is `@include "name"`, writes the name and returns 1; 0 if it
 * is not an include; -1 if it is a malformed one. */
static int include_line(const char *p, size_t n, char *name, size_t len)
{
	const char *end = p + n;
	size_t k = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < 8 || memcmp(p, "@include", 8) != 0)
		return 0;
	p += 8;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p++ != '"')
		return -1;
	for (; p < end && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		if (k + 1 < len)
			name[k++] = *p;
	}
	name[k] = '\0';
	if (p == end || !k)
		return -1;
	for (p++; p < end && (*p == ' ' || *p == '\t' || *p == '\r'); p++)
		;
	return p == end || *p == '#' || (*p == '/' && p + 1 < end && p[1] == '/') ? 1 : -1;
}

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
	    S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* Appends a whole configuration file to b (the text: read straight into
 * it, a patients file of 25 MB is not copied twice), or returns -1 with
 * the reason in why (b as it was).  Regular files only, judged on the open
 * descriptor: a FIFO would block the reader for ever (and, in a running
 * daemon, a reload with it), /dev/zero would grow until memory runs out.
 * O_NONBLOCK: opening a FIFO does not wait for a writer. */
static int read_into(const char *path, struct sbuf *b, size_t left, size_t *len, char *why,
    size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	size_t max = left < FILE_MAX ? left : FILE_MAX, at = b->len;
	struct stat st;
	ssize_t n = 0;

	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "it is %s: name a regular file", file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	/* room for the file as it is now and a little more, then 64 KiB at a time */
	sbuf_reserve(b, (st.st_size > 0 && (size_t)st.st_size <= max ? (size_t)st.st_size : 0) + 4096);
	while (b->len - at <= max) {
		if (b->cap - b->len < 4096)
			sbuf_reserve(b, 65536);
		n = read(fd, b->s + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b->len += (size_t)n;
	}
	if (b->len - at <= max && n < 0)
		snprintf(why, whylen, "%s", strerror(errno));
	else if (b->len - at > max && max == FILE_MAX)
		snprintf(why, whylen, "it is larger than %zu MiB, the most iopd reads of one file",
		    FILE_MAX >> 20);
	else if (b->len - at > max)
		snprintf(why, whylen, "with it the configuration and its includes would be larger "
		    "than %zu MiB, the most iopd reads", TEXT_MAX >> 20);
	close(fd);
	*len = b->len - at;
	if (*len > max || n < 0) {
		b->len = at;
		b->s[at] = '\0';
		return -1;
	}
	b->s[b->len] = '\0';
	return 0;
}

/* "patients/a.conf" named in "conf/iopd.conf" -> "conf/patients/a.conf". */
static char *resolve(const char *including, const char *name)
{
	const char *slash = strrchr(including, '/');

	if (name[0] == '/' || !slash)
		return xstrdup(name);
	return xasprintf("%.*s/%s", (int)(slash - including), including, name);
}

static int expand_file(struct expand *x, const char *name, const char *written, const char *from,
    int from_line);

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folder part of a pattern, if it has no wildcard of its own. */
static int missing_folder(const char *pattern, char *dir, size_t len)
{
	const char *slash = strrchr(pattern, '/');
	struct stat st;

	if (!slash)
		return 0;
	snprintf(dir, len, "%.*s", (int)(slash - pattern), pattern);
	if (!*dir || strpbrk(dir, "*?["))
		return 0;
	return stat(dir, &st) != 0 || !S_ISDIR(st.st_mode);
}

static int expand_glob(struct expand *x, size_t f, const char *written, int line)
{
	const char *from = x->src->files[f];
	char *pattern = resolve(from, written), dir[PATH_MAX];
	glob_t g;
	size_t i;
	int rc = glob(pattern, GLOB_NOSORT, NULL, &g), bad = 0;

	if (rc == GLOB_NOMATCH) {
		if (missing_folder(pattern, dir, sizeof dir)) {
			errs_at(x->e, from, line, "@include \"%s\": no folder %s", written, dir);
			bad = 1;
		} else {
			warn_at(x->e, from, line, "@include \"%s\" matches no file", written);
		}
	} else if (rc != 0) {
		errs_at(x->e, from, line, "@include \"%s\": cannot list the files it names (%s)", written,
		    rc == GLOB_ABORTED ? "a folder cannot be read" : "out of memory");
		bad = 1;
	} else {
		qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str);
		for (i = 0; i < g.gl_pathc; i++) {
			const char *m = g.gl_pathv[i];
			struct stat st;
			if (stat(m, &st) == 0 && !S_ISREG(st.st_mode))
				warn_at(x->e, from, line, "@include \"%s\": %s is not a regular file: skipped",
				    written, m);
			else
				bad += expand_file(x, m, m, from, line) != 0;
		}
	}
	if (rc != GLOB_NOMATCH)
		globfree(&g);
	free(pattern);
	return bad ? -1 : 0;
}

/* Does text name "@include" anywhere?  glibc's memmem took 2.8 ms over
 * W1's 25 MB of patients, a search for its rare first byte 0.5 ms. */
static bool names_include(const char *p, const char *end)
{
	while ((p = memchr(p, '@', (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) >= 8 && memcmp(p, "@include", 8) == 0)
			return true;
		p++;
	}
	return false;
}

/* A file with no @include and no NUL byte is its lines as they are: as
 * read into the text at `at`, one span (a patients file of 100,000 lines,
 * line by line, was a twentieth of loading it).  0 if it is not one. */
static int plain_file(struct expand *x, size_t f, size_t at, size_t len)
{
	struct conf_source *s = x->src;
	const char *text = s->text.s + at, *p = text, *end = text + len;
	int lines = 0;

	if (!len || memchr(text, '\0', len) || names_include(text, end))
		return 0;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	grow_array(&s->spans, &s->capspans, s->nspans + 1, sizeof *s->spans);
	s->spans[s->nspans].out_line = s->out_lines + 1;
	s->spans[s->nspans].line = 1;
	s->spans[s->nspans].file = f;
	s->nspans++;
	if (text[len - 1] != '\n') {          /* as add_line ends every line */
		sbuf_addc(&s->text, '\n');
		lines++;
	}
	s->out_lines += lines;
	return 1;
}

static int expand_text(struct expand *x, size_t f, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int line = 0, in_comment = 0, bad = 0;
	char inc[PATH_MAX];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int kind = in_comment ? 0 : include_line(p, n, inc, sizeof inc);

		line++;
		if (memchr(p, '\0', n)) {
			/* libconfig reads a C string: the rest of the file would be lost */
			errs_at(x->e, x->src->files[f], line, "a NUL byte (\\0) at column %zu: the file "
			    "is damaged or not text; remove it", (size_t)((const char *)memchr(p, '\0', n) - p) + 1);
			bad++;
		} else if (kind > 0 && strpbrk(inc, "*?[")) {
			bad += expand_glob(x, f, inc, line) != 0;
		} else if (kind > 0) {
			char *path = resolve(x->src->files[f], inc);
			bad += expand_file(x, path, inc, x->src->files[f], line) != 0;
			free(path);
		} else if (kind < 0) {
			errs_at(x->e, x->src->files[f], line, "malformed @include: write @include \"file\" "
			    "on a line of its own");
			bad++;
		} else {
			/* a line with no '/' opens no comment (most lines, and every
			 * line of a patients file) */
			if (in_comment || memchr(p, '/', n))
				in_comment = ends_in_comment(p, n, in_comment);
			add_line(x->src, f, line, p, n);
		}
		p += n + (nl != NULL);
	}
	return bad ? -1 : 0;
}

static int expand_file(struct expand *x, const char *name, const char *written, const char *from,
    int from_line)
{
	struct sbuf *t = &x->src->text;
	char *real = realpath(name, NULL), *text, why[256];
	size_t len = 0, f, at = t->len;
	int i, rc = -1;

	if (!real)
		snprintf(why, sizeof why, "%s", strerror(errno));
	else
		rc = read_into(name, t, t->len < TEXT_MAX ? TEXT_MAX - t->len : 0, &len, why, sizeof why);
	if (rc != 0) {
		if (from)
			errs_at(x->e, from, from_line, "cannot read @include \"%s\" (%s): %s", written, name, why);
		else
			errs_at(x->e, name, 1, "cannot read the configuration: %s", why);
		free(real);
		return -1;
	}
	for (i = 0; i <= x->depth; i++)
		if (i == MAX_DEPTH || (i < x->depth && strcmp(x->stack[i], real) == 0)) {
			errs_at(x->e, from, from_line, "@include \"%s\": %s", written,
			    i == MAX_DEPTH ? "includes nested too deep" : "it includes itself");
			t->len = at;
			t->s[at] = '\0';
			free(real);
			return -1;
		}
	x->stack[x->depth++] = real;
	f = add_file(x->src, name);
	if (plain_file(x, f, at, len)) {
		rc = 0;
	} else {                               /* line by line, from a copy */
		text = xmalloc(len + 1);
		memcpy(text, t->s + at, len);
		text[len] = '\0';
		t->len = at;
		t->s[at] = '\0';
		rc = expand_text(x, f, text, len);
		free(text);
	}
	x->depth--;
	free(real);
	return rc;
}

int conf_source_load(struct conf_source *src, const char *path, struct errs *e)
{
	struct expand x;

	memset(src, 0, sizeof *src);
	memset(&x, 0, sizeof x);
	x.src = src;
	x.e = e;
	if (expand_file(&x, path, path, NULL, 0) != 0)
		return -1;
	if (!src->text.s)
		sbuf_adds(&src->text, "");
	return 0;
}

void conf_source_where(const struct conf_source *src, int out_line, const char **file, int *line)
{
	size_t lo = 0, hi = src->nspans;

	if (!src->nspans || out_line < 1) {
		*file = src->nfiles ? src->files[0] : NULL;
		*line = out_line;
		return;
	}
	while (hi - lo > 1) {                  /* the last span starting at or before */
		size_t mid = lo + (hi - lo) / 2;
		if (src->spans[mid].out_line <= out_line)
			lo = mid;
		else
			hi = mid;
	}
	*file = src->files[src->spans[lo].file];
	*line = src->spans[lo].line + (out_line - src->spans[lo].out_line);
}

void conf_source_free(struct conf_source *src)
{
	size_t i;

	for (i = 0; i < src->nfiles; i++)
		free(src->files[i]);
	free(src->files);
	free(src->spans);
	sbuf_free(&src->text);
	memset(src, 0, sizeof *src);
}

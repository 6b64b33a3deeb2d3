/* errs.c - see errs.h */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf_source.h"
#include "errs.h"
#include "safetext.h"

/* Where one line of text or warn came from. */
struct errs_line {
	size_t off, len;               /* in its buffer */
	size_t file;                   /* rank of its file: reading order */
	int line;
	int warn;
	size_t seq;                    /* order of arrival: keeps the sort stable */
};

/* libconfig reads one text that iopd expanded (conf_source.c): its own
 * line numbers are mapped back to the files. */
const char *text_file(const struct errs *e, int line)
{
	const char *f = NULL;
	int l;

	if (e->src)
		conf_source_where(e->src, line, &f, &l);
	return f ? f : (e->main_file ? e->main_file : "(config)");
}

int text_line(const struct errs *e, int line)
{
	const char *f;
	int l;

	if (!e->src)
		return line;
	conf_source_where(e->src, line, &f, &l);
	return l;
}

const char *setting_file(const struct errs *e, const config_setting_t *s)
{
	return s ? text_file(e, config_setting_source_line(s)) :
	    (e->main_file ? e->main_file : "(config)");
}

int setting_line(const struct errs *e, const config_setting_t *s)
{
	return s ? text_line(e, config_setting_source_line(s)) : 0;
}

/* The file's place in the reading order: the main file first, then each
 * included file where its @include was read. */
static size_t file_rank(const struct errs *e, const char *file)
{
	size_t i;

	if (e->src)
		for (i = 0; i < e->src->nfiles; i++)
			if (e->src->files[i] == file || strcmp(e->src->files[i], file) == 0)
				return i;
	return e->main_file && strcmp(file, e->main_file) == 0 ? 0 : (size_t)-1;
}

/* "FILE:LINE: " then the message, every value in it escaped (safetext.h):
 * a newline in a patient id must not start a log line of its own.  Every
 * message has a line, for editors and CI annotations that read FILE:LINE:
 * one about a file as a whole (it cannot be read) names its first.  Each
 * line's place is kept for errs_sort. */
static void add(struct errs *e, int warn, const char *file, int line, const char *fmt, va_list ap)
    IOPD_PRINTF(5, 0);

static void add(struct errs *e, int warn, const char *file, int line, const char *fmt, va_list ap)
{
	struct sbuf *b = warn ? &e->warn : &e->text;
	struct errs_line *w;
	struct sbuf m = {0};

	if (e->capture) {
		struct errs_capture *c = e->capture;
		struct sbuf t = {0};
		va_list ap2;
		va_copy(ap2, ap);
		sbuf_vprintf(&t, fmt, ap2);
		va_end(ap2);
		grow_array(&c->v, &c->cap, c->n + 1, sizeof *c->v);
		c->v[c->n].warn = warn;
		c->v[c->n].file = file_rank(e, file);
		c->v[c->n].line = line;
		c->v[c->n].text = t.s ? t.s : xstrdup("");
		c->n++;
	}

	grow_array(&e->where, &e->capwhere, e->nwhere + 1, sizeof *e->where);
	w = &e->where[e->nwhere];
	w->off = b->len;
	w->file = file_rank(e, file);
	w->line = line;
	w->warn = warn;
	w->seq = e->nwhere++;
	sbuf_printf(&m, "%s:%d: %s", file, line > 0 ? line : 1, warn ? "warning: " : "");
	sbuf_vprintf(&m, fmt, ap);
	safe_escape(b, m.s, m.len);
	sbuf_addc(b, '\n');
	sbuf_free(&m);
	w->len = b->len - w->off;
	if (warn)
		e->nwarn++;
	else
		e->count++;
}

void errs_vat(struct errs *e, const char *file, int line, const char *fmt, va_list ap)
{
	add(e, 0, file, line, fmt, ap);
}

void errs_at(struct errs *e, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_vat(e, file, line, fmt, ap);
	va_end(ap);
}

void errs_vset(struct errs *e, const config_setting_t *s, const char *fmt, va_list ap)
{
	errs_vat(e, setting_file(e, s), setting_line(e, s), fmt, ap);
}

void errs_set(struct errs *e, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_vset(e, s, fmt, ap);
	va_end(ap);
}

void warn_at(struct errs *e, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(e, 1, file, line, fmt, ap);
	va_end(ap);
}

void warn_set(struct errs *e, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(e, 1, setting_file(e, s), setting_line(e, s), fmt, ap);
	va_end(ap);
}

void errs_line(struct errs *e, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(e, 0, text_file(e, line), text_line(e, line), fmt, ap);
	va_end(ap);
}

void warn_line(struct errs *e, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(e, 1, text_file(e, line), text_line(e, line), fmt, ap);
	va_end(ap);
}

static int cmp_where(const void *a, const void *b)
{
	const struct errs_line *x = a, *y = b;

	if (x->warn != y->warn)
		return x->warn - y->warn;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void rebuild(struct sbuf *b, const struct errs_line *w, size_t n)
{
	struct sbuf out = {0};
	size_t i;

	if (!b->len)
		return;
	sbuf_reserve(&out, b->len);
	for (i = 0; i < n; i++)
		sbuf_add(&out, b->s + w[i].off, w[i].len);
	sbuf_free(b);
	*b = out;
}

void errs_sort(struct errs *e)
{
	size_t i, nerr = 0, off[2] = {0, 0};

	if (e->nwhere < 2)
		return;
	qsort(e->where, e->nwhere, sizeof *e->where, cmp_where);
	while (nerr < e->nwhere && !e->where[nerr].warn)
		nerr++;
	rebuild(&e->text, e->where, nerr);
	rebuild(&e->warn, e->where + nerr, e->nwhere - nerr);
	for (i = 0; i < e->nwhere; i++) {      /* where each line now is */
		e->where[i].off = off[e->where[i].warn];
		off[e->where[i].warn] += e->where[i].len;
		e->where[i].seq = i;
	}
}

void errs_mark(const struct errs *e, struct errs_mark *m)
{
	m->count = e->count;
	m->nwarn = e->nwarn;
	m->nwhere = e->nwhere;
	m->text = e->text.len;
	m->warn = e->warn.len;
}

void errs_rewind(struct errs *e, const struct errs_mark *m)
{
	e->count = m->count;
	e->nwarn = m->nwarn;
	e->nwhere = m->nwhere;
	e->text.len = m->text;
	e->warn.len = m->warn;
	if (e->text.s)
		e->text.s[e->text.len] = '\0';
	if (e->warn.s)
		e->warn.s[e->warn.len] = '\0';
}

void errs_replay(struct errs *e, const struct errs_said *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *file = e->src && v[i].file < e->src->nfiles ? e->src->files[v[i].file] :
		    (e->main_file ? e->main_file : "(config)");
		if (v[i].warn)
			warn_at(e, file, v[i].line, "%s", v[i].text);
		else
			errs_at(e, file, v[i].line, "%s", v[i].text);
	}
}

void errs_capture_free(struct errs_capture *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].text);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

void errs_print(const struct errs *e, FILE *f)
{
	if (e->warn.len)
		fputs(e->warn.s, f);
	if (e->text.len)
		fputs(e->text.s, f);
}

void errs_free(struct errs *e)
{
	sbuf_free(&e->text);
	sbuf_free(&e->warn);
	free(e->where);
	e->where = NULL;
	e->nwhere = e->capwhere = 0;
	e->count = e->nwarn = 0;
}

/* errs.c - see errs.h */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf_source.h"
#include "errs.h"
#include "safetext.h"

/* libconfig reads one text that iopd expanded (conf_source.c): its own
 * line numbers are mapped back to the files. */
const char *setting_file(const struct errs *e, const config_setting_t *s)
{
	const char *f = NULL;
	int line;

	if (s && e->src)
		conf_source_where(e->src, config_setting_source_line(s), &f, &line);
	return f ? f : (e->main_file ? e->main_file : "(config)");
}

int setting_line(const struct errs *e, const config_setting_t *s)
{
	const char *f;
	int line;

	if (!s)
		return 0;
	if (!e->src)
		return config_setting_source_line(s);
	conf_source_where(e->src, config_setting_source_line(s), &f, &line);
	return line;
}

/* "FILE:LINE: " then the message, every value in it escaped (safetext.h):
 * a newline in a patient id must not start a log line of its own.  Every
 * message has a line, for editors and CI annotations that read FILE:LINE:
 * one about a file as a whole (it cannot be read) names its first. */
static void add_message(struct sbuf *out, const char *file, int line, const char *kind,
    const char *fmt, va_list ap) IOPD_PRINTF(5, 0);

static void add_message(struct sbuf *out, const char *file, int line, const char *kind,
    const char *fmt, va_list ap)
{
	struct sbuf m = {0};

	sbuf_printf(&m, "%s:%d: %s", file, line > 0 ? line : 1, kind);
	sbuf_vprintf(&m, fmt, ap);
	safe_escape(out, m.s, m.len);
	sbuf_addc(out, '\n');
	sbuf_free(&m);
}

void errs_vat(struct errs *e, const char *file, int line, const char *fmt, va_list ap)
{
	add_message(&e->text, file, line, "", fmt, ap);
	e->count++;
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

void warn_set(struct errs *e, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_message(&e->warn, setting_file(e, s), setting_line(e, s), "warning: ", fmt, ap);
	va_end(ap);
	e->nwarn++;
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
	e->count = e->nwarn = 0;
}

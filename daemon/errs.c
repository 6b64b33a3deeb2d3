/* errs.c - see errs.h */
#include "config.h"

#include <stdarg.h>

#include "errs.h"

const char *setting_file(const struct errs *e, const config_setting_t *s)
{
	const char *f = s ? config_setting_source_file(s) : NULL;
	return f ? f : (e->main_file ? e->main_file : "(config)");
}

void errs_vat(struct errs *e, const char *file, int line, const char *fmt, va_list ap)
{
	if (line > 0)
		sbuf_printf(&e->text, "%s:%d: ", file, line);
	else
		sbuf_printf(&e->text, "%s: ", file);
	sbuf_vprintf(&e->text, fmt, ap);
	sbuf_addc(&e->text, '\n');
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
	errs_vat(e, setting_file(e, s), s ? config_setting_source_line(s) : 0, fmt, ap);
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

	sbuf_printf(&e->warn, "%s:%d: warning: ", setting_file(e, s),
	    s ? config_setting_source_line(s) : 0);
	va_start(ap, fmt);
	sbuf_vprintf(&e->warn, fmt, ap);
	va_end(ap);
	sbuf_addc(&e->warn, '\n');
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

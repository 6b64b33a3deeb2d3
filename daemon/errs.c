/* errs.c - see errs.h */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf_source.h"
#include "errs.h"

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

	sbuf_printf(&e->warn, "%s:%d: warning: ", setting_file(e, s), setting_line(e, s));
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

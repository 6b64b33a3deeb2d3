/* errs.c - see errs.h */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"

/* libconfig 1.5 records an @included file's name as written in the
 * @include line, relative to the include folder (the main file's); an
 * admin needs a path that opens from where they ran the command. */
const char *setting_file(const struct errs *e, const config_setting_t *s)
{
	struct errs *m = (struct errs *)e;     /* the path cache only */
	const char *f = s ? config_setting_source_file(s) : NULL;
	char *joined;
	size_t i;

	if (!f)
		return e->main_file ? e->main_file : "(config)";
	if (f[0] == '/' || !e->include_dir || (e->main_file && strcmp(f, e->main_file) == 0))
		return f;
	joined = xasprintf("%s/%s", e->include_dir, f);
	for (i = 0; i < m->npaths; i++)
		if (strcmp(m->paths[i], joined) == 0) {
			free(joined);
			return m->paths[i];
		}
	m->paths = xreallocarray(m->paths, m->npaths + 1, sizeof *m->paths);
	return m->paths[m->npaths++] = joined;
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

void errs_paths_free(struct errs *e)
{
	size_t i;

	for (i = 0; i < e->npaths; i++)
		free(e->paths[i]);
	free(e->paths);
	e->paths = NULL;
	e->npaths = 0;
}

void errs_free(struct errs *e)
{
	errs_paths_free(e);
	sbuf_free(&e->text);
	sbuf_free(&e->warn);
	e->count = e->nwarn = 0;
}

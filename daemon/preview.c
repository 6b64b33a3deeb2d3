/* preview.c - see preview.h */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "agenda.h"
#include "ident.h"
#include "lang.h"
#include "preview.h"
#include "render.h"
#include "timefmt.h"

#define WINDOW (31 * 86400)            /* the calendar is walked a month at a time */
#define HORIZON (10LL * 366 * 86400)   /* and no further than this */

struct preview {
	FILE *f;
	struct rendered r;
	int left, shown;
};

/* "2026-12-06 19:00 -06:00": the patient's wall clock and its offset. */
static void local(int64_t t, const struct tz *z, char *out, size_t len)
{
	char b[FMT_LOCAL_LEN + 1];

	fmt_local(t, z, b);
	snprintf(out, len, "%.10s %.5s %.6s", b, b + 11, b + 19);
}

/* Each line of text, indented under its reminder. */
static void indented(FILE *f, const char *label, const char *text)
{
	const char *p = text, *nl;

	do {
		nl = strchr(p, '\n');
		fprintf(f, "  %s%.*s\n", label, nl ? (int)(nl - p) : (int)strlen(p), p);
		label = "";
		p = nl ? nl + 1 : p;
	} while (nl && *p);
}

static int one(const struct snapshot *s, const struct agenda_row *r, void *arg)
{
	struct preview *pv = arg;
	const struct occ *o = r->o;
	const struct channel *c = &s->channels[r->ch];
	char due[40], event[40], id[IDENT_HEX_LEN + 1];
	enum render_form form = render_occ(s, o, r->ch, &pv->r);

	if (form == RENDER_NONE)
		return 0;                      /* a webhook: nothing the patient reads */
	local(o->due, o->patient->tz, due, sizeof due);
	local(o->event, o->patient->tz, event, sizeof event);
	ident_hex(r->id, id);
	fprintf(pv->f, "\n%s  %s  %s of %s  %s  id %s\n", due, c->name, kind_names[o->kind], event,
	    status_names[r->status], id);
	if (form == RENDER_EMAIL) {
		indented(pv->f, "Subject: ", pv->r.subject.s);
		indented(pv->f, "", pv->r.body.s);
	} else {
		indented(pv->f, "", pv->r.text.s);
	}
	pv->shown++;
	return --pv->left <= 0;
}

static void header(const struct patient *p, int64_t from, int count, FILE *f)
{
	char at[40];
	const char *loc = p->lang ? lang_locale(p->lang) : NULL;

	local(from, p->tz, at, sizeof at);
	fprintf(f, "patient %s: language %s (%s), zone %s; the next %d reminder%s from %s\n", p->id,
	    p->language, loc ? loc : p->lang && lang_fallback(p->lang) ?
	    "no locale data: dates and times in English" : "built-in English", tz_name(p->tz), count,
	    count == 1 ? "" : "s", at);
}

int preview_print(const struct snapshot *s, uint32_t p, int64_t from, int count, FILE *f)
{
	struct preview pv = {f, {{0}}, count, 0};
	int64_t t;

	header(&s->patients[p], from, count, f);
	for (t = from; pv.left > 0 && t - from < HORIZON; t += WINDOW)
		agenda_walk(s, t, t + WINDOW, p, one, &pv);
	if (!pv.shown)
		fputs("\n(no reminders)\n", f);
	rendered_free(&pv.r);
	return fflush(f) != 0 || ferror(f) ? -1 : 0;
}

/* render.c - see render.h */
#include "config.h"

#include <string.h>

#include "calendar.h"
#include "civil.h"
#include "lang.h"
#include "render.h"
#include "template.h"
#include "timefmt.h"
#include "tz.h"

static void one(const struct tmpl_text *t, const struct tmpl_values *v, const char *fallback,
    struct sbuf *out)
{
	sbuf_reset(out);
	if (t)
		tmpl_render(t, v, out);
	else
		sbuf_adds(out, fallback);
}

void render(const struct snapshot *s, const struct render_in *in, struct rendered *out)
{
	const struct patient *p = in->patient;
	const char *lang = p->language;
	const struct lang *names = p->lang ? p->lang : lang_english();
	int64_t wall = tz_to_wall(p->tz, in->event);
	char date[FMT_DATE_LEN + 1], day[LANG_DAY_MAX], clock[LANG_TIME_MAX];
	struct tmpl_values v;

	/* {date} stays ISO 8601 in every language (SPEC 4.1: 2026-12-01) */
	fmt_date(wall_date(wall), date);
	lang_day(names, wall, day, sizeof day);
	lang_time(names, wall, clock, sizeof clock);
	v.v[PH_FIRST_NAME] = p->first_name ? p->first_name : "";
	v.v[PH_DATE] = date;
	v.v[PH_DAY] = day;
	v.v[PH_TIME] = clock;
	v.v[PH_LOCATION] = in->location ? in->location : "";
	v.v[PH_LABEL] = in->label ? in->label : "";
	v.v[PH_CLINIC_PHONE] = s->clinic_phone ? s->clinic_phone : "";
	one(tmpl_sms(in->tmpl, lang), &v, "", &out->text);
	one(tmpl_subject(in->tmpl, lang), &v, "Reminder", &out->subject);
	one(tmpl_body(in->tmpl, lang), &v, "", &out->body);
}

enum render_form render_occ(const struct snapshot *s, const struct occ *o, uint16_t ch,
    struct rendered *out)
{
	const struct channel *c = &s->channels[ch];
	struct render_in in = {o->patient, NULL, o->event, o->location, o->label};

	sbuf_reset(&out->text);
	sbuf_reset(&out->subject);
	sbuf_reset(&out->body);
	if (o->tmpl < 0)
		return RENDER_NONE;
	in.tmpl = &s->templates[o->tmpl];
	render(s, &in, out);
	if (c->contact == IOPD_CONTACT_EMAIL)
		return RENDER_EMAIL;
	if (c->contact == IOPD_CONTACT_PHONE || strcmp(c->module, "console") == 0)
		return RENDER_TEXT;
	return RENDER_NONE;
}

void rendered_free(struct rendered *r)
{
	sbuf_free(&r->text);
	sbuf_free(&r->subject);
	sbuf_free(&r->body);
}

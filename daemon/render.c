/* render.c - see render.h */
#include "config.h"

#include "civil.h"
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
	int64_t wall = tz_to_wall(p->tz, in->event);
	char date[FMT_DATE_LEN + 1], day[32], time12[16];
	struct tmpl_values v;

	fmt_date(wall_date(wall), date);
	fmt_day(wall, day, sizeof day);
	fmt_time12(wall, time12, sizeof time12);
	v.v[PH_FIRST_NAME] = p->first_name ? p->first_name : "";
	v.v[PH_DATE] = date;
	v.v[PH_DAY] = day;
	v.v[PH_TIME] = time12;
	v.v[PH_LOCATION] = in->location ? in->location : "";
	v.v[PH_LABEL] = in->label ? in->label : "";
	v.v[PH_CLINIC_PHONE] = s->clinic_phone ? s->clinic_phone : "";
	one(tmpl_sms(in->tmpl, lang), &v, "", &out->text);
	one(tmpl_subject(in->tmpl, lang), &v, "Reminder", &out->subject);
	one(tmpl_body(in->tmpl, lang), &v, "", &out->body);
}

void rendered_free(struct rendered *r)
{
	sbuf_free(&r->text);
	sbuf_free(&r->subject);
	sbuf_free(&r->body);
}

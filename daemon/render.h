/* render.h - a reminder's texts, from its template (SPEC 4.1). */
#ifndef IOPD_RENDER_H
#define IOPD_RENDER_H

#include <stdint.h>

#include "snapshot.h"
#include "util.h"

struct render_in {
	const struct patient *patient;
	const struct template *tmpl;
	int64_t event;                 /* {date} {day} {time}, in the patient's zone and language */
	const char *location, *label;
};

struct rendered {
	struct sbuf text;              /* SMS and console */
	struct sbuf subject;           /* e-mail */
	struct sbuf body;              /* e-mail */
};

void render(const struct snapshot *s, const struct render_in *in, struct rendered *out);
void rendered_free(struct rendered *r);

struct occ;

/* What the patient reads of a reminder, by its channel's module. */
enum render_form {
	RENDER_TEXT,                   /* SMS, console: out->text */
	RENDER_EMAIL,                  /* e-mail: out->subject and out->body */
	RENDER_NONE                    /* webhook and other modules: no text reaches the patient */
};

/* Renders the reminder of group o on channel ch as the daemon would send
 * it (previews: iopd agenda --text, iopd render). */
enum render_form render_occ(const struct snapshot *s, const struct occ *o, uint16_t ch,
    struct rendered *out);

#endif

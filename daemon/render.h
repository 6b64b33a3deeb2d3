/* render.h - a reminder's texts, from its template (SPEC 4.1). */
#ifndef IOPD_RENDER_H
#define IOPD_RENDER_H

#include <stdint.h>

#include "snapshot.h"
#include "util.h"

struct render_in {
	const struct patient *patient;
	const struct template *tmpl;
	int64_t event;                 /* {date} {day} {time}, in the patient's zone */
	const char *location, *label;
};

struct rendered {
	struct sbuf text;              /* SMS and console */
	struct sbuf subject;           /* e-mail */
	struct sbuf body;              /* e-mail */
};

void render(const struct snapshot *s, const struct render_in *in, struct rendered *out);
void rendered_free(struct rendered *r);

#endif

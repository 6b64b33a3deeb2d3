/* template.h - reminder texts with {placeholders} (SPEC 4.1).
 *
 * A text is compiled once at load into literal and placeholder segments,
 * so an unknown placeholder is a configuration error and rendering is a
 * single pass. */
#ifndef IOPD_TEMPLATE_H
#define IOPD_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "util.h"

enum tmpl_ph {
	PH_FIRST_NAME, PH_DATE, PH_DAY, PH_TIME, PH_LOCATION, PH_LABEL, PH_CLINIC_PHONE,
	PH_COUNT, PH_LITERAL = 255
};

struct tmpl_seg {
	uint8_t ph;                    /* enum tmpl_ph or PH_LITERAL */
	uint32_t off, len;             /* literal: bytes of src */
};

struct tmpl_text {
	const char *src;
	struct tmpl_seg *segs;
	uint16_t nsegs;
};

/* Values for one rendering. */
struct tmpl_values {
	const char *v[PH_COUNT];
};

/* NULL and a reason in err (e.g. "unknown placeholder {fist_name}"). */
struct tmpl_text *tmpl_compile(struct arena *a, const char *src, char *err, size_t errlen);
void tmpl_render(const struct tmpl_text *t, const struct tmpl_values *v, struct sbuf *out);
const char *tmpl_ph_name(enum tmpl_ph ph);

/* The fields a patient of `lang` gets: the language group's field, else
 * the template's own.  sms also serves as the e-mail body when there is
 * no email_body; the subject defaults to "Reminder". */
const struct tmpl_text *tmpl_sms(const struct template *t, const char *lang);
const struct tmpl_text *tmpl_subject(const struct template *t, const char *lang);
const struct tmpl_text *tmpl_body(const struct template *t, const char *lang);

/* Does `text` name treatment (addiction, detox, methadone, ...) or one of
 * the `phrases` (program names)?  Writes the offending word into `word`. */
int tmpl_names_treatment(const char *text, const char *const *phrases, size_t nphrases,
    char *word, size_t wordlen);

/* SMS parts `text` needs: GSM-7 (160 alone, 153 per part) when every
 * character is in the GSM 03.38 alphabet, else UCS-2 (70 alone, 67). */
int sms_segments(const char *text, int *ucs2);

#endif

/* fuzz_template.c - the template compiler and renderer (template.c,
 * SPEC 4.1), the treatment-word check and the SMS segment count.
 *
 * The input is one template text.  Invariants: a text without "{"
 * always compiles and renders as itself; a compiled text renders to its
 * literals plus the values of its placeholders, each value inserted as
 * is (a value that looks like a placeholder is never expanded again);
 * an SMS is at least one part. */
#include "config.h"

#include "fuzz.h"

#include "template.h"

/* Values as a patient's record may hold them: plain, UTF-8, empty, and
 * one that looks like a placeholder. */
static const struct tmpl_values values = {{
	[PH_FIRST_NAME] = "{first_name}", [PH_DATE] = "2026-12-01", [PH_DAY] = "Tue Dec 1",
	[PH_TIME] = "6:00 PM", [PH_LOCATION] = "Sala 2, 2\xc2\xaa planta", [PH_LABEL] = "",
	[PH_CLINIC_PHONE] = "+15550009999",
}};

static const char *const phrases[] = {"Evening IOP", "Day Program", ""};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static size_t expected_len(const struct tmpl_text *t)
{
	size_t n = 0;
	uint16_t i;

	for (i = 0; i < t->nsegs; i++) {
		const struct tmpl_seg *s = &t->segs[i];
		FUZZ_CHECK(s->ph == PH_LITERAL || s->ph < PH_COUNT);
		n += s->ph == PH_LITERAL ? s->len : strlen(values.v[s->ph]);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src = fuzz_cstr(data, size), err[256] = "", word[64];
	struct arena a = {0};
	struct tmpl_text *t = tmpl_compile(&a, src, err, sizeof err);
	struct sbuf out = {0};
	int ucs2;

	if (!t) {
		FUZZ_CHECK(err[0] != '\0' && strchr(src, '{'));
	} else {
		tmpl_render(t, &values, &out);
		FUZZ_CHECK(out.s && out.len == expected_len(t));
		if (!strchr(src, '{'))
			FUZZ_CHECK(strcmp(out.s, src) == 0);
		FUZZ_CHECK(sms_segments(out.s, &ucs2) >= 1);
		(void)tmpl_names_treatment(out.s, phrases, FUZZ_NELEM(phrases), word, sizeof word);
	}
	FUZZ_CHECK(sms_segments(src, &ucs2) >= 1);
	if (tmpl_names_treatment(src, phrases, FUZZ_NELEM(phrases), word, sizeof word))
		FUZZ_CHECK(word[0] != '\0');
	sbuf_free(&out);
	arena_free(&a);
	free(src);
	return 0;
}

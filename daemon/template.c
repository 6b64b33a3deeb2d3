/* template.c - see template.h */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "template.h"

static const char *const ph_names[PH_COUNT] = {
	"first_name", "date", "day", "time", "location", "label", "clinic_phone"
};

const char *tmpl_ph_name(enum tmpl_ph ph)
{
	return ph < PH_COUNT ? ph_names[ph] : "";
}

static int ph_lookup(const char *name, size_t len)
{
	int i;

	for (i = 0; i < PH_COUNT; i++)
		if (strlen(ph_names[i]) == len && memcmp(ph_names[i], name, len) == 0)
			return i;
	return -1;
}

static void add_seg(struct tmpl_seg *segs, uint16_t *n, uint8_t ph, size_t off, size_t len)
{
	if (ph == PH_LITERAL && len == 0)
		return;
	segs[*n].ph = ph;
	segs[*n].off = (uint32_t)off;
	segs[*n].len = (uint32_t)len;
	(*n)++;
}

struct tmpl_text *tmpl_compile(struct arena *a, const char *src, char *err, size_t errlen)
{
	size_t n = strlen(src), i, lit = 0, maxsegs = 1;
	struct tmpl_text *t;
	uint16_t nsegs = 0;

	for (i = 0; i < n; i++)
		maxsegs += src[i] == '{' ? 2 : 0;
	if (maxsegs > 60000 || n > 0xffffff) {
		snprintf(err, errlen, "template text is too long");
		return NULL;
	}
	t = arena_alloc(a, sizeof *t);
	t->src = arena_strdup(a, src);
	t->segs = arena_alloc(a, sizeof *t->segs * maxsegs);
	for (i = 0; i < n; i++) {
		const char *close;
		int ph;

		if (src[i] != '{')
			continue;
		close = strchr(src + i + 1, '}');
		if (!close) {
			snprintf(err, errlen, "unclosed \"{\" in template text (placeholders look like {first_name})");
			return NULL;
		}
		ph = ph_lookup(src + i + 1, (size_t)(close - src - (long)i - 1));
		if (ph < 0) {
			snprintf(err, errlen, "unknown placeholder {%.*s} (known: {first_name}, {date}, {day}, "
			    "{time}, {location}, {label}, {clinic_phone})", (int)(close - src - (long)i - 1), src + i + 1);
			return NULL;
		}
		add_seg(t->segs, &nsegs, PH_LITERAL, lit, i - lit);
		add_seg(t->segs, &nsegs, (uint8_t)ph, 0, 0);
		i = (size_t)(close - src);
		lit = i + 1;
	}
	add_seg(t->segs, &nsegs, PH_LITERAL, lit, n - lit);
	t->nsegs = nsegs;
	return t;
}

void tmpl_render(const struct tmpl_text *t, const struct tmpl_values *v, struct sbuf *out)
{
	uint16_t i;

	for (i = 0; i < t->nsegs; i++) {
		const struct tmpl_seg *s = &t->segs[i];
		if (s->ph == PH_LITERAL)
			sbuf_add(out, t->src + s->off, s->len);
		else if (v->v[s->ph])
			sbuf_adds(out, v->v[s->ph]);
	}
	if (!out->s)
		sbuf_adds(out, "");
}

/* The group of `lang` ("es-MX"), else of its primary subtag ("es"). */
static const struct tmpl_lang *lang_group(const struct template *t, const char *lang)
{
	size_t primary = lang ? strcspn(lang, "-_") : 0;
	uint16_t i;

	for (i = 0; lang && i < t->nlangs; i++)
		if (strcmp(t->langs[i].lang, lang) == 0)
			return &t->langs[i];
	for (i = 0; lang && lang[primary] && i < t->nlangs; i++)
		if (strlen(t->langs[i].lang) == primary && strncmp(t->langs[i].lang, lang, primary) == 0)
			return &t->langs[i];
	return NULL;
}

#define FIELD(t, lang, name) \
	(lang_group(t, lang) && lang_group(t, lang)->f.name ? lang_group(t, lang)->f.name : (t)->f.name)

const struct tmpl_text *tmpl_sms(const struct template *t, const char *lang)
{
	return FIELD(t, lang, sms);
}

const struct tmpl_text *tmpl_subject(const struct template *t, const char *lang)
{
	return FIELD(t, lang, subject);
}

const struct tmpl_text *tmpl_body(const struct template *t, const char *lang)
{
	const struct tmpl_text *b = FIELD(t, lang, body);
	return b ? b : tmpl_sms(t, lang);
}

/* Words that tell a reader the patient is in (substance-use or mental
 * health) treatment: HIPAA minimum necessary, 42 CFR Part 2. */
static const char *const treatment_words[] = {
	"addict", "addicted", "addiction", "addictions", "rehab", "rehabilitation", "detox",
	"detoxification", "methadone", "buprenorphine", "suboxone", "subutex", "zubsolv",
	"sublocade", "naltrexone", "vivitrol", "naloxone", "narcan", "opioid", "opioids",
	"opiate", "opiates", "heroin", "fentanyl", "alcohol", "alcoholic", "alcoholism",
	"substance", "substances", "sud", "overdose", "relapse", "sobriety", "sober",
	"recovery", "withdrawal", "mat", "iop", "php", "intensive outpatient",
	"partial hospitalization", "psychiatric", "psychiatry", "mental health",
	"behavioral health", "12-step", "adiccion", "adicción", "desintoxicacion",
	"desintoxicación", "metadona", "buprenorfina", "rehabilitacion", "rehabilitación",
	"alcoholismo", "recuperacion", "recuperación",
	NULL
};

/* Case-insensitive match of `w` at text[i] on word boundaries. */
static int word_at(const char *text, size_t i, const char *w)
{
	size_t n = strlen(w);
	unsigned char before = i ? (unsigned char)text[i - 1] : ' ', after;

	if (strncasecmp(text + i, w, n) != 0)
		return 0;
	after = (unsigned char)text[i + n];    /* only now known to be inside the text */
	return !(isalnum(before) || before >= 0x80) && !(isalnum(after) || after >= 0x80);
}

static int find_word(const char *text, const char *w)
{
	size_t i, n = strlen(text);

	if (!*w)
		return 0;
	for (i = 0; i < n; i++)
		if (word_at(text, i, w))
			return 1;
	return 0;
}

int tmpl_names_treatment(const char *text, const char *const *phrases, size_t nphrases,
    char *word, size_t wordlen)
{
	size_t i;

	for (i = 0; treatment_words[i]; i++)
		if (find_word(text, treatment_words[i])) {
			snprintf(word, wordlen, "%s", treatment_words[i]);
			return 1;
		}
	for (i = 0; i < nphrases; i++)
		if (phrases[i] && find_word(text, phrases[i])) {
			snprintf(word, wordlen, "%s", phrases[i]);
			return 1;
		}
	return 0;
}

/* GSM 03.38: the basic set (one septet) and the extension set (two). */
static const char gsm_basic[] =
	"@$\n\r _!\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char gsm_ext[] = "^{}\\[~]|";
static const uint32_t gsm_basic_uni[] = {   /* non-ASCII code points of the basic set */
	0xa3, 0xa5, 0xe8, 0xe9, 0xf9, 0xec, 0xf2, 0xc7, 0xd8, 0xf8, 0xc5, 0xe5, 0x394, 0x3a6,
	0x393, 0x39b, 0x3a9, 0x3a0, 0x3a8, 0x3a3, 0x398, 0x39e, 0xc6, 0xe6, 0xdf, 0xc9, 0xa4,
	0xa1, 0xc4, 0xd6, 0xd1, 0xdc, 0xa7, 0xbf, 0xe4, 0xf6, 0xf1, 0xfc, 0xe0
};

/* Decodes one UTF-8 sequence; invalid bytes count as one U+FFFD. */
static uint32_t utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t c = s[0];
	int n = c < 0x80 ? 0 : c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
	int i;

	if (n < 0) {
		*p = s + 1;
		return 0xfffd;
	}
	c &= n ? 0x3f >> n : 0x7f;
	for (i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*p = s + i;
			return 0xfffd;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	*p = s + n + 1;
	return c;
}

/* Septets of c in GSM-7, or 0 if c is not representable. */
static int gsm_septets(uint32_t c)
{
	size_t i;

	if (c < 0x80)
		return c && strchr(gsm_basic, (int)c) ? 1 : c && strchr(gsm_ext, (int)c) ? 2 : 0;
	if (c == 0x20ac)
		return 2;                      /* the euro sign is in the extension set */
	for (i = 0; i < IOPD_NELEM(gsm_basic_uni); i++)
		if (gsm_basic_uni[i] == c)
			return 1;
	return 0;
}

int sms_segments(const char *text, int *ucs2)
{
	const unsigned char *p = (const unsigned char *)text;
	long septets = 0, units = 0;
	int gsm = 1;

	while (*p) {
		uint32_t c = utf8_next(&p);
		int s = gsm_septets(c);
		if (!s)
			gsm = 0;
		septets += s;
		units += c > 0xffff ? 2 : 1;
	}
	*ucs2 = !gsm;
	if (gsm)
		return septets <= 160 ? 1 : (int)((septets + 152) / 153);
	return units <= 70 ? 1 : (int)((units + 66) / 67);
}

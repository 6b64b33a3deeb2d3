/* lang.c - see lang.h.
 *
 * A locale's LC_TIME says how its people write a date and a time, but not
 * in the short form a reminder wants: date_fmt ("%a %d %b %Y %T %Z", what
 * date(1) prints) carries the year, the time and the zone; t_fmt ("%T")
 * carries seconds.  So the formats are derived from them: the conversions
 * iopd keeps (weekday, day, month; hour, minute, AM/PM) in the locale's
 * order, with the text the locale puts between them, and the rest left
 * out.  That gives "Tue Dec 1" (en_US), "mar 1 dic" (es), "mar. 1 déc."
 * (fr), "Di 1. Dez" (de), "12月 1日 星期二" (zh) from the locale's own data,
 * with no table of languages to keep up to date. */
#include "config.h"

#include <locale.h>
#include <langinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "civil.h"
#include "lang.h"
#include "timefmt.h"
#include "util.h"

#define FMT_MAX 96

struct lang {
	const char *code;              /* as asked (the cache's key) */
	char locale[48];               /* "" for the built-in English */
	locale_t lc;                   /* (locale_t)0: the built-in English */
	bool fallback;                 /* asked for another language, got English */
	char day_fmt[FMT_MAX], time_fmt[FMT_MAX];
	struct lang *next;
	char *owned_code;              /* code, when allocated */
};

static struct lang lang_en = {"en", "", (locale_t)0, false, "", "", NULL, NULL};
static pthread_mutex_t lang_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lang *lang_list;

/* Languages whose usual locale is not xx_XX (the language code twice). */
static const struct {
	const char *lang, *locale;
} lang_defaults[] = {
	{"af", "af_ZA"}, {"am", "am_ET"}, {"ar", "ar_EG"}, {"be", "be_BY"}, {"bn", "bn_BD"},
	{"bs", "bs_BA"}, {"ca", "ca_ES"}, {"cs", "cs_CZ"}, {"cy", "cy_GB"}, {"da", "da_DK"},
	{"el", "el_GR"}, {"et", "et_EE"}, {"eu", "eu_ES"}, {"fa", "fa_IR"}, {"fil", "fil_PH"},
	{"ga", "ga_IE"}, {"gl", "gl_ES"}, {"gu", "gu_IN"}, {"ha", "ha_NG"}, {"he", "he_IL"},
	{"hi", "hi_IN"}, {"ht", "ht_HT"}, {"hy", "hy_AM"}, {"ig", "ig_NG"}, {"ja", "ja_JP"},
	{"ka", "ka_GE"}, {"kk", "kk_KZ"}, {"km", "km_KH"}, {"kn", "kn_IN"}, {"ko", "ko_KR"},
	{"lo", "lo_LA"}, {"mi", "mi_NZ"}, {"ml", "ml_IN"}, {"mr", "mr_IN"}, {"ms", "ms_MY"},
	{"my", "my_MM"}, {"nb", "nb_NO"}, {"ne", "ne_NP"}, {"nn", "nn_NO"}, {"no", "nb_NO"},
	{"pa", "pa_IN"}, {"ps", "ps_AF"}, {"sl", "sl_SI"}, {"so", "so_SO"}, {"sq", "sq_AL"},
	{"sr", "sr_RS"}, {"sv", "sv_SE"}, {"sw", "sw_KE"}, {"ta", "ta_IN"}, {"te", "te_IN"},
	{"ti", "ti_ER"}, {"tl", "tl_PH"}, {"uk", "uk_UA"}, {"ur", "ur_PK"}, {"uz", "uz_UZ"},
	{"vi", "vi_VN"}, {"yi", "yi_US"}, {"yo", "yo_NG"}, {"zh", "zh_CN"}, {"zu", "zu_ZA"},
};

/* ---- language codes ------------------------------------------------------ */

static bool all_alpha(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* "ES_mx" -> primary "es", region "MX"; a script subtag ("zh-Hant-TW") is
 * skipped, a numeric region ("es-419") has no locale and is dropped.
 * Returns false for something that is not a language code at all. */
static bool split_code(const char *code, char primary[4], char region[3])
{
	size_t n = strcspn(code, "-_"), i;
	const char *p = code + n;

	primary[0] = region[0] = '\0';
	if (n < 2 || n > 3 || !all_alpha(code, n))
		return false;
	for (i = 0; i < n; i++)
		primary[i] = lower(code[i]);
	primary[n] = '\0';
	while (*p) {
		size_t k = strcspn(++p, "-_");
		if (k == 2 && all_alpha(p, 2)) {
			region[0] = upper(p[0]);
			region[1] = upper(p[1]);
			region[2] = '\0';
			return true;
		}
		p += k;
	}
	return true;
}

static const char *default_locale(const char *primary, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < IOPD_NELEM(lang_defaults); i++)
		if (strcmp(lang_defaults[i].lang, primary) == 0) {
			snprintf(buf, len, "%s.UTF-8", lang_defaults[i].locale);
			return buf;
		}
	if (strlen(primary) != 2)
		return NULL;
	snprintf(buf, len, "%s_%c%c.UTF-8", primary, upper(primary[0]), upper(primary[1]));
	return buf;
}

/* ---- formats from the locale's own --------------------------------------- */

/* One token of a strftime format: a conversion (conv != 0, with the
 * modifier E or O if any) or a run of literal text. */
struct tok {
	const char *p;
	size_t n;
	char conv, mod;
};

static size_t tokenize(const char *f, struct tok *t, size_t max)
{
	size_t n = 0;

	while (*f && n < max) {
		const char *s = f;
		if (*f == '%' && f[1] && f[1] != '%') {
			f++;
			f += strspn(f, "-_0^#");
			f += strspn(f, "0123456789");
			t[n].mod = *f == 'E' || *f == 'O' ? *f++ : 0;
			t[n].conv = *f;
			if (*f)
				f++;
		} else {
			t[n].conv = t[n].mod = 0;
			f += *f == '%' ? 2 : 0;
			while (*f && !(*f == '%' && f[1] && f[1] != '%'))
				f += *f == '%' ? 2 : 1;
		}
		t[n].p = s;
		t[n].n = (size_t)(f - s);
		n++;
	}
	return n;
}

/* Spells out the conversions that stand for others (%T, %R, %r, %X). */
static void expand_time(const char *f, const char *ampm, const char *tfmt, char *out, size_t len)
{
	struct tok t[32];
	size_t n = tokenize(f, t, IOPD_NELEM(t)), i, k = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *add = NULL;
		switch (t[i].conv) {
		case 'T': add = "%H:%M:%S"; break;
		case 'R': add = "%H:%M"; break;
		case 'r': add = *ampm ? ampm : "%I:%M:%S %p"; break;
		case 'X': add = tfmt; break;
		default: break;
		}
		if (add && strstr(add, "%X"))
			add = "%H:%M:%S";
		k += (size_t)snprintf(out + k, k < len ? len - k : 0, "%.*s",
		    add ? (int)strlen(add) : (int)t[i].n, add ? add : t[i].p);
		if (k >= len)
			break;
	}
}

/* How a kept conversion is written: days, months and 12-hour hours without
 * padding ("1", not "01" or " 1"), as "Tue Dec 1" and "6:00 PM" have them. */
static const char *normal_conv(char conv)
{
	switch (conv) {
	case 'd': case 'e': return "-d";
	case 'm': return "-m";
	case 'I': case 'l': return "-I";
	default: return NULL;
	}
}

/* Is the text (trimmed) made only of closing brackets? */
static bool closing_only(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr(" \t)]", s[i]))
			return false;
	return true;
}

/* Appends the literal s[0..n) without leading and trailing blanks and
 * `strip` characters. */
static size_t add_trimmed(char *out, size_t k, size_t len, const char *s, size_t n, const char *strip)
{
	while (n && strchr(strip, s[n - 1]))
		n--;
	while (n && strchr(strip, s[0]))
		s++, n--;
	return k + (size_t)snprintf(out + k, k < len ? len - k : 0, "%.*s", (int)n, s);
}

/* The conversions of `src` whose letter is in `keep`, in its order, each
 * preceded by the last literal before it (after the first), and followed
 * by the literal right after the last one when `trail` accepts it.
 * "%a %d %b %Y %T %Z" with keep "aAbBhdem" -> "%a %-d %b". */
static void derive(const char *src, const char *keep, bool (*trail)(const char *, size_t),
    const char *strip, char *out, size_t len)
{
	struct tok t[48];
	size_t n = tokenize(src, t, IOPD_NELEM(t)), i, k = 0, kept = 0, last = 0;
	const struct tok *lit = NULL;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *norm;
		if (!t[i].conv) {
			lit = &t[i];
			continue;
		}
		if (!strchr(keep, t[i].conv))
			continue;
		if (kept++ && lit)
			k += (size_t)snprintf(out + k, k < len ? len - k : 0, "%.*s", (int)lit->n, lit->p);
		norm = normal_conv(t[i].conv);
		if (norm && !t[i].mod)
			k += (size_t)snprintf(out + k, k < len ? len - k : 0, "%%%s", norm);
		else if (t[i].mod)
			k += (size_t)snprintf(out + k, k < len ? len - k : 0, "%%%c%c", t[i].mod, t[i].conv);
		else
			k += (size_t)snprintf(out + k, k < len ? len - k : 0, "%%%c", t[i].conv);
		lit = NULL;
		last = i;
	}
	if (kept && last + 1 < n && !t[last + 1].conv && (!trail || trail(t[last + 1].p, t[last + 1].n)))
		k = add_trimmed(out, k, len, t[last + 1].p, t[last + 1].n, strip);
	if (k >= len)
		out[0] = '\0';
}

static bool has_conv(const char *f, const char *convs)
{
	struct tok t[48];
	size_t n = tokenize(f, t, IOPD_NELEM(t)), i;

	for (i = 0; i < n; i++)
		if (t[i].conv && strchr(convs, t[i].conv))
			return true;
	return false;
}

/* {day}: the locale's date_fmt without year, time and zone; day and month
 * are required, a weekday is added in front when the locale's has none. */
static void day_format(locale_t lc, char *out, size_t len)
{
	const char *date_fmt = nl_langinfo_l(_DATE_FMT, lc), *d_fmt = nl_langinfo_l(D_FMT, lc);
	char f[FMT_MAX - 3];             /* room for a weekday in front */

	derive(date_fmt, "aAbBhdem", closing_only, " \t", f, sizeof f);
	if (!has_conv(f, "de") || !has_conv(f, "bBhm")) {
		/* day before month, or after, as the locale's numeric date has it */
		const char *d = strstr(d_fmt, "%d"), *m = strstr(d_fmt, "%m");
		snprintf(f, sizeof f, "%s", d && m && d < m ? "%a %-d %b" : "%a %b %-d");
	}
	if (!has_conv(f, "aA"))
		snprintf(out, len, "%%a %s", f);
	else
		snprintf(out, len, "%s", f);
}

/* {time}: the locale's time of day without seconds and zone, on the
 * 12-hour clock when the locale's own time is (t_fmt uses %r, %I or %l)
 * and it has AM/PM words. */
static void time_format(locale_t lc, char *out, size_t len)
{
	const char *t_fmt = nl_langinfo_l(T_FMT, lc), *ampm = nl_langinfo_l(T_FMT_AMPM, lc);
	const char *am = nl_langinfo_l(AM_STR, lc);
	char src[FMT_MAX * 2];
	bool h12 = has_conv(t_fmt, "rIl") && *am;

	expand_time(t_fmt, ampm, t_fmt, src, sizeof src);
	derive(src, h12 ? "IlMpP" : "HkMpP", NULL, " \t:.,", out, len);
	if (!has_conv(out, h12 ? "Il" : "Hk") || !has_conv(out, "M"))
		snprintf(out, len, "%s", h12 ? "%-I:%M %p" : "%H:%M");
}

/* ---- the cache -------------------------------------------------------- */

static struct lang *lang_load(const char *code)
{
	struct lang *l = xcalloc(1, sizeof *l);
	char primary[4], region[3], name[48], usual[48];
	const char *tries[2] = {NULL, NULL};
	size_t i;
	bool ok = split_code(code, primary, region);

	l->code = l->owned_code = xstrdup(code);
	if (ok && region[0]) {
		snprintf(name, sizeof name, "%s_%s.UTF-8", primary, region);
		tries[0] = name;
	}
	if (ok)
		tries[1] = default_locale(primary, usual, sizeof usual);
	for (i = 0; i < 2 && !l->lc; i++)
		if (tries[i] && (l->lc = newlocale(LC_TIME_MASK, tries[i], (locale_t)0)))
			snprintf(l->locale, sizeof l->locale, "%s", tries[i]);
	if (!l->lc) {
		/* English after all: the built-in one, flagged unless it was asked for */
		l->locale[0] = '\0';
		l->fallback = !(ok && strcmp(primary, "en") == 0);
		return l;
	}
	day_format(l->lc, l->day_fmt, sizeof l->day_fmt);
	time_format(l->lc, l->time_fmt, sizeof l->time_fmt);
	return l;
}

const struct lang *lang_get(const char *code)
{
	struct lang *l;

	if (!code || !*code || strcmp(code, "en") == 0)
		return &lang_en;
	pthread_mutex_lock(&lang_lock);
	for (l = lang_list; l; l = l->next)
		if (strcmp(l->code, code) == 0)
			break;
	if (!l) {
		l = lang_load(code);
		l->next = lang_list;
		lang_list = l;
	}
	pthread_mutex_unlock(&lang_lock);
	return l;
}

const struct lang *lang_english(void)
{
	return &lang_en;
}

bool lang_fallback(const struct lang *l)
{
	return l->fallback;
}

const char *lang_locale(const struct lang *l)
{
	return l->lc ? l->locale : NULL;
}

const char *lang_code(const struct lang *l)
{
	return l->code;
}

void lang_describe(const struct lang *l, struct sbuf *b)
{
	sbuf_add(b, l->code, strlen(l->code) + 1);
	sbuf_add(b, l->locale, strlen(l->locale) + 1);
	sbuf_addc(b, l->fallback ? '1' : '0');
	sbuf_add(b, l->day_fmt, strlen(l->day_fmt) + 1);
	sbuf_add(b, l->time_fmt, strlen(l->time_fmt) + 1);
}

/* ---- formatting -------------------------------------------------------- */

static void wall_tm(int64_t wall, struct tm *tm)
{
	int32_t date = wall_date(wall), secs = wall_secs(wall);
	struct civil c = days_to_civil(date);

	memset(tm, 0, sizeof *tm);
	tm->tm_year = c.y - 1900;
	tm->tm_mon = c.m - 1;
	tm->tm_mday = c.d;
	tm->tm_wday = (days_weekday(date) + 1) % 7;     /* struct tm: 0 = Sunday */
	tm->tm_yday = date - civil_to_days(c.y, 1, 1);
	tm->tm_hour = secs / 3600;
	tm->tm_min = secs / 60 % 60;
	tm->tm_sec = secs % 60;
}

static void format(const struct lang *l, const char *fmt, int64_t wall, char *buf, size_t len)
{
	struct tm tm;
	size_t n, i;

	wall_tm(wall, &tm);
	if (!len)
		return;
	if ((n = strftime_l(buf, len, fmt, &tm, l->lc)) == 0)
		buf[0] = '\0';
	for (i = 0; buf[i] == ' '; i++)        /* " 3月": a name padded by the locale */
		;
	memmove(buf, buf + i, n - i + 1);
}

void lang_day(const struct lang *l, int64_t wall, char *buf, size_t len)
{
	if (l->lc)
		format(l, l->day_fmt, wall, buf, len);
	else
		fmt_day(wall, buf, len);
}

void lang_time(const struct lang *l, int64_t wall, char *buf, size_t len)
{
	if (l->lc)
		format(l, l->time_fmt, wall, buf, len);
	else
		fmt_time12(wall, buf, len);
}

void lang_longest(const struct lang *l, char *day, size_t daylen, char *time, size_t timelen)
{
	char b[LANG_DAY_MAX];
	int m, d, h;

	day[0] = time[0] = '\0';
	for (m = 1; m <= 12; m++)
		for (d = 22; d <= 28; d++) {       /* every weekday, a two-digit day */
			lang_day(l, wall_make(civil_to_days(2026, m, d), 0), b, sizeof b);
			if (strlen(b) > strlen(day))
				snprintf(day, daylen, "%s", b);
		}
	for (h = 0; h < 24; h++) {
		lang_time(l, wall_make(civil_to_days(2026, 1, 1), h * 3600 + 59 * 60), b, sizeof b);
		if (strlen(b) > strlen(time))
			snprintf(time, timelen, "%s", b);
	}
}

void lang_cleanup(void)
{
	pthread_mutex_lock(&lang_lock);
	while (lang_list) {
		struct lang *l = lang_list;
		lang_list = l->next;
		if (l->lc)
			freelocale(l->lc);
		free(l->owned_code);
		free(l);
	}
	pthread_mutex_unlock(&lang_lock);
}

/* lang.h - {day} and {time} in the patient's language.
 *
 * The names of weekdays and months and the 12- or 24-hour clock come from
 * the C library's locale data (LC_TIME; on Debian the locales-all package):
 * a language code picks a locale (lang_get), whose own short date (as
 * date(1) prints it, less the year and the time) and time of day (less the
 * seconds) become the formats of {day} and {time}.  English ("en") is
 * built in, byte for byte what iopd always wrote ("Tue Dec 1", "6:00 PM"),
 * and is the fallback of a language with no locale data.
 *
 * Each language is loaded once per process (newlocale is not cheap) and
 * kept until lang_cleanup(); lookups lock, formatting does not (strftime_l
 * on an immutable locale), so any thread may render. */
#ifndef IOPD_LANG_H
#define IOPD_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf;

struct lang;

#define LANG_DAY_MAX 128               /* a {day} text, with its NUL */
#define LANG_TIME_MAX 64               /* a {time} text, with its NUL */

/* The formats of language `code` ("es", "es-MX", "pt_BR", "EN"), never
 * NULL: a code without locale data gets English (lang_fallback says so).
 * Locale chosen (first that exists): xx_RR.UTF-8 for a regional code
 * xx-RR; then xx's usual locale (xx_XX.UTF-8, or a table for the
 * languages whose main country differs: zh_CN, ja_JP, ar_EG, ...). */
const struct lang *lang_get(const char *code);
/* English, built in. */
const struct lang *lang_english(void);

/* True when `code` asked for a language other than English and no locale
 * of it is installed: {day} and {time} are then in English. */
bool lang_fallback(const struct lang *l);
/* The locale in use ("es_ES.UTF-8"), or NULL for the built-in English. */
const char *lang_locale(const struct lang *l);
/* The code as the configuration wrote it: "es", "es-MX". */
const char *lang_code(const struct lang *l);
/* What the language's texts are made of (its code, locale, whether it
 * fell back to English, its formats), as bytes appended to b: equal
 * descriptions, equal texts (the snapshot cache compares them). */
void lang_describe(const struct lang *l, struct sbuf *b);

/* {day} ("Tue Dec 1", "mar 1 dic", "Di 1. Dez") and {time} ("6:00 PM",
 * "18:00") of a wall time (civil.h). */
void lang_day(const struct lang *l, int64_t wall, char *buf, size_t len);
void lang_time(const struct lang *l, int64_t wall, char *buf, size_t len);

/* The longest {day} and {time} texts of the language, in bytes (for SMS
 * length checks): over every weekday, month, and hour. */
void lang_longest(const struct lang *l, char *day, size_t daylen, char *time, size_t timelen);

/* Frees every loaded locale.  Only at exit, when no thread renders. */
void lang_cleanup(void);

#endif

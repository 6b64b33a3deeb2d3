/* phone.h - telephone numbers against their country's numbering plan.
 *
 * The check is libphonenumber's (Google's numbering-plan data, as Debian
 * ships it): a number must be one its country could actually have, not
 * merely "+" and digits.  `+3125550101` (a Chicago number without its
 * country code 1) has the shape of E.164 but is no Dutch number, and is
 * refused here.  libphonenumber is C++: phone.cc is the only file that
 * touches it, behind this C interface; plugins never link it.  phone.cc
 * is a module, phone.so, that iopd loads on the first number it checks
 * (module.h): libphonenumber, ICU and the C++ runtime were half of the
 * start of every iopd command (9 ms here), and `iopd agenda` and the
 * daemon with their patients from the cache check none.
 *
 * Costs: about 15 microseconds a number (libphonenumber's regular
 * expressions), so 100,000 patients take about 1.5 s to check. */
#ifndef IOPD_PHONE_H
#define IOPD_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PHONE_E164_MAX 20              /* "+" 15 digits, NUL, room */

struct phone_result {
	char e164[PHONE_E164_MAX];     /* when valid: the number as E.164 */
	char why[512];                 /* when not: what is wrong (never the number itself) */
};

/* 0 when `text` is a valid number, written internationally ("+1 312
 * 555-0101", "+13125550101") or, given `region` (ISO 3166 alpha-2, e.g.
 * "US"; NULL or "" for none), in that country's national notation ("(312)
 * 555-0101"); its E.164 form goes to out->e164.  -1 when it is not, with
 * the reason in out->why, naming the number's country ("not a number of
 * the Netherlands (+31): ..."). */
int phone_check(const char *text, const char *region, struct phone_result *out);

/* Is `region` a region libphonenumber has a numbering plan for ("US")?
 * (false too when phone_unavailable) */
bool phone_region_ok(const char *region);

/* NULL when the numbering plans can be consulted; else why not (the
 * phone module cannot be loaded).  Loads the module. */
const char *phone_unavailable(void);

/* Has a number or region been checked with the module yet (by any thread)? */
bool phone_loaded(void);

/* Where the phone module is loaded from, or would be if it were needed
 * now (the module is not loaded); "" when it is linked into the program. */
void phone_module_path(char *out, size_t len);

/* What phone.so exports (phone.cc) */
struct phonemod {
	const char *version;           /* PACKAGE_STRING of the module's build */
	int (*check)(const char *text, const char *region, struct phone_result *out);
	bool (*region_ok)(const char *region);
};
extern const struct phonemod iopd_phonemod;

#ifdef __cplusplus
}
#endif
#endif

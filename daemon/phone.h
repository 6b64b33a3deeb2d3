/* phone.h - telephone numbers against their country's numbering plan.
 *
 * The check is libphonenumber's (Google's numbering-plan data, as Debian
 * ships it): a number must be one its country could actually have, not
 * merely "+" and digits.  `+3125550101` (a Chicago number without its
 * country code 1) has the shape of E.164 but is no Dutch number, and is
 * refused here.  libphonenumber is C++: phone.cc is the only file that
 * touches it, behind this C interface; plugins never link it.
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
	char why[200];                 /* when not: what is wrong (never the number itself) */
};

/* 0 when `text` is a valid number, written internationally ("+1 312
 * 555-0101", "+13125550101") or, given `region` (ISO 3166 alpha-2, e.g.
 * "US"; NULL or "" for none), in that country's national notation ("(312)
 * 555-0101"); its E.164 form goes to out->e164.  -1 when it is not, with
 * the reason in out->why, naming the number's country ("not a number of
 * the Netherlands (+31): ..."). */
int phone_check(const char *text, const char *region, struct phone_result *out);

/* Is `region` a region libphonenumber has a numbering plan for ("US")? */
bool phone_region_ok(const char *region);

#ifdef __cplusplus
}
#endif
#endif

// phone.cc - see phone.h: phone.so, the phone module.  The one C++ file of
// iopd: libphonenumber is a C++ library.  Nothing here throws past the C
// interface.
#include "config.h"

#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <list>

#include <phonenumbers/phonenumberutil.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include "phone.h"

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

// "Netherlands" for "NL", from ICU's region names (libphonenumber's own
// dependency).
std::string region_name(const std::string &region)
{
	icu::UnicodeString u;
	std::string s;

	if (region == "001")
		return "international non-geographic numbers";
	icu::Locale("", region.c_str()).getDisplayCountry(icu::Locale::getEnglish(), u);
	u.toUTF8String(s);
	return s.empty() || s == region ? region : s;
}

// "+31 (Netherlands)", "+1 (United States and 24 other countries)".
std::string calling_code(const PhoneNumberUtil *u, int cc)
{
	std::list<std::string> regions;
	std::string main, out = "+" + std::to_string(cc);

	u->GetRegionCodeForCountryCode(cc, &main);
	u->GetRegionCodesForCountryCallingCode(cc, &regions);
	out += " (" + region_name(main);
	if (regions.size() > 2)
		out += " and " + std::to_string(regions.size() - 1) + " other countries";
	else if (regions.size() == 2)
		out += " and one other country";
	return out + ")";
}

void say(struct phone_result *out, const std::string &why)
{
	std::snprintf(out->why, sizeof out->why, "%s", why.c_str());
}

bool written_international(const char *text)
{
	while (*text == ' ' || *text == '\t')
		text++;
	return *text == '+';
}

// A number written with "+" that is invalid, but valid as a national number
// of the default region: most likely its country code was left out.
std::string missing_code_hint(const PhoneNumberUtil *u, const char *text, const char *region)
{
	PhoneNumber n;
	const char *p = std::strchr(text, '+');

	if (!region || !*region || !p ||
	    u->Parse(std::string(p + 1), region, &n) != PhoneNumberUtil::NO_PARSING_ERROR ||
	    !u->IsValidNumber(n))
		return "";
	return std::string("; as a number of daemon.default_country ") + region + " (" + region_name(region) +
	    ") it would be valid: is its country code +" + std::to_string(n.country_code()) + " missing?";
}

std::string parse_error(PhoneNumberUtil::ErrorType e, const char *text, const char *region)
{
	switch (e) {
	case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
		if (written_international(text))
			return "no country has the calling code it starts with";
		return std::string("it has no country code: write \"+\", the country code and the number") +
		    (region && *region ? "" : " (or set daemon.default_country, e.g. \"US\", for "
		    "numbers written the national way)");
	case PhoneNumberUtil::NOT_A_NUMBER:
		return "it is not a telephone number";
	case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
	case PhoneNumberUtil::TOO_SHORT_NSN:
		return "it is too short to be a telephone number";
	case PhoneNumberUtil::TOO_LONG_NSN:
		return "it is too long to be a telephone number";
	default:
		return "it is not a telephone number";
	}
}

std::string invalid(const PhoneNumberUtil *u, const PhoneNumber &n)
{
	std::string cc = calling_code(u, n.country_code());

	switch (u->IsPossibleNumberWithReason(n)) {
	case PhoneNumberUtil::INVALID_COUNTRY_CODE:
		return "no country has the calling code +" + std::to_string(n.country_code());
	case PhoneNumberUtil::TOO_SHORT:
		return "too short for a number of " + cc;
	case PhoneNumberUtil::TOO_LONG:
		return "too long for a number of " + cc;
	case PhoneNumberUtil::INVALID_LENGTH:
		return "the wrong length for a number of " + cc;
	case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY:
		return "too short for a number of " + cc + " (it could only be dialled locally)";
	default:
		return "not a number in use in the numbering plan of " + cc;
	}
}

// +1 555 XXX XXXX: the NANP assigns no area code 555, and examples, test
// configurations and SPEC 3's own (+15551234567) use it for numbers that
// reach nobody.  Refusing them would break every configuration written
// from the examples; they are accepted as they are.
bool fictional(const PhoneNumber &n)
{
	uint64_t nsn = n.national_number();

	// (the national number is an integer: "000005555205955" is 5555205955
	// with leading zeros, which a 555 number never has)
	return n.country_code() == 1 && !n.italian_leading_zero() && nsn / 10000000 == 555;
}

int check(const char *text, const char *region, struct phone_result *out)
{
	const PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
	PhoneNumber n;
	std::string e164;
	PhoneNumberUtil::ErrorType e = u->Parse(std::string(text), region && *region ? region : "ZZ", &n);

	if (e != PhoneNumberUtil::NO_PARSING_ERROR) {
		say(out, parse_error(e, text, region));
		return -1;
	}
	if (!u->IsValidNumber(n) && !fictional(n)) {
		say(out, invalid(u, n) + missing_code_hint(u, text, region));
		return -1;
	}
	u->Format(n, PhoneNumberUtil::E164, &e164);
	static_assert(PHONE_E164_MAX > 16, "e164 holds \"+\", 15 digits and the NUL");
	if (e164.size() > 16) {                // E.164: "+" and at most 15 digits
		say(out, "too long to be a telephone number");
		return -1;
	}
	std::snprintf(out->e164, sizeof out->e164, "%s", e164.c_str());
	return 0;
}

int checked(const char *text, const char *region, struct phone_result *out)
{
	out->e164[0] = out->why[0] = '\0';
	try {
		return check(text, region, out);
	} catch (...) {
		say(out, "cannot be checked (libphonenumber failed)");
		return -1;
	}
}

bool region_ok(const char *region)
{
	try {
		std::set<std::string> regions;
		PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
		return regions.count(region) > 0;
	} catch (...) {
		return false;
	}
}

}  // namespace

extern "C" const struct phonemod iopd_phonemod = {PACKAGE_STRING, checked, region_ok};

/* phone.c - see phone.h: the phone module, loaded on first use. */
#include "config.h"

#include <stdio.h>

#include "module.h"
#include "phone.h"

/* Defined where phone.cc is linked into the program itself (the unit
 * tests); absent (NULL) from the iopd executable, which loads phone.so. */
extern const struct phonemod iopd_phonemod __attribute__((weak));

static struct module phone = MODULE("phone", "IOPD_PHONEMOD", IOPD_BUILD_PHONEMOD_PATH, IOPD_PHONEMOD_PATH,
    "iopd_phonemod", &iopd_phonemod);

const char *phone_unavailable(void)
{
	const char *why;

	return module_get(&phone, &why) ? NULL : why;
}

bool phone_loaded(void)
{
	return module_loaded(&phone);
}

void phone_module_path(char *out, size_t len)
{
	module_path(&phone, out, len);
}

int phone_check(const char *text, const char *region, struct phone_result *out)
{
	const char *why;
	const struct phonemod *mod = module_get(&phone, &why);

	if (mod)
		return mod->check(text, region, out);
	out->e164[0] = '\0';
	snprintf(out->why, sizeof out->why, "%s", why);
	return -1;
}

bool phone_region_ok(const char *region)
{
	const char *why;
	const struct phonemod *mod = module_get(&phone, &why);

	return mod && mod->region_ok(region);
}

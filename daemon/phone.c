/* phone.c - see phone.h: the phone module, loaded on first use. */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "module.h"
#include "phone.h"

/* Defined where phone.cc is linked into the program itself (the unit
 * tests); absent (NULL) from the iopd executable, which loads phone.so. */
extern const struct phonemod iopd_phonemod __attribute__((weak));

static const struct module_spec spec = {
	"phone", "IOPD_PHONEMOD", IOPD_BUILD_PHONEMOD_PATH, IOPD_PHONEMOD_PATH, "iopd_phonemod",
};
static pthread_once_t mod_once = PTHREAD_ONCE_INIT;
static const struct phonemod *mod;
static char mod_err[PATH_MAX + 256];

static void mod_load(void)
{
	__atomic_store_n(&mod, &iopd_phonemod ? &iopd_phonemod : module_load(&spec, mod_err, sizeof mod_err),
	    __ATOMIC_RELEASE);
}

const char *phone_unavailable(void)
{
	pthread_once(&mod_once, mod_load);
	return mod ? NULL : mod_err;
}

bool phone_loaded(void)
{
	return __atomic_load_n(&mod, __ATOMIC_ACQUIRE) != NULL;
}

void phone_module_path(char *out, size_t len)
{
	if (&iopd_phonemod)
		snprintf(out, len, "%s", "");
	else
		module_path(&spec, out, len);
}

int phone_check(const char *text, const char *region, struct phone_result *out)
{
	const char *why = phone_unavailable();

	if (!why)
		return mod->check(text, region, out);
	out->e164[0] = '\0';
	snprintf(out->why, sizeof out->why, "%s", why);
	return -1;
}

bool phone_region_ok(const char *region)
{
	return !phone_unavailable() && mod->region_ok(region);
}

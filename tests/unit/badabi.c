/* badabi.c - plugins iopd must refuse, for tests/unit/test_plugin_host.c.
 *
 * Built twice from this file: badabi.so claims ABI major 2, and (with
 * -DBADABI_SMALL_OPS) badops.so declares an operations table that ends
 * before `stop`.  Neither is ever configured: the host refuses them at
 * load time, which is what the tests check. */
#include <stddef.h>

#include "iopd/plugin.h"

static void *bad_configure(const struct iopd_host *h, const config_setting_t *s,
    const struct iopd_channel_info *info)
{
	(void)h;
	(void)s;
	(void)info;
	return NULL;
}

static int bad_start(void *inst)
{
	(void)inst;
	return -1;
}

static void bad_send(void *inst, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	(void)inst;
	(void)m;
	(void)done;
	(void)token;
}

static void bad_cancel(void *inst, void *token)
{
	(void)inst;
	(void)token;
}

static void bad_stop(void *inst)
{
	(void)inst;
}

static const struct iopd_plugin_ops bad_ops = {
	bad_configure, bad_start, bad_send, bad_cancel, bad_stop
};

#ifdef BADABI_SMALL_OPS
IOPD_PLUGIN_EXPORT const struct iopd_plugin iopd_plugin = {
	IOPD_PLUGIN_ABI_MAJOR, IOPD_PLUGIN_ABI_MINOR, "badops", "0", IOPD_CONTACT_NONE,
	offsetof(struct iopd_plugin_ops, cancel), &bad_ops
};
#else
IOPD_PLUGIN_EXPORT const struct iopd_plugin iopd_plugin = {
	IOPD_PLUGIN_ABI_MAJOR + 1, 0, "badabi", "0", IOPD_CONTACT_NONE,
	sizeof(struct iopd_plugin_ops), &bad_ops
};
#endif

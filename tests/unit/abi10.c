/* abi10.c - a plugin exactly as one built against ABI 1.0 looks, for
 * tests/unit/test_plugin_host.c: its descriptor says 1.0, and its
 * operations table ends at `stop` -- it is a struct of five pointers, so
 * a host reading the 1.1 members (inbound, callback) would read past the
 * end of this object (and AddressSanitizer, which puts a red zone after
 * every global, says so).  ABI 1.1 must still load it, configure it and
 * send through it, and never ask it for callbacks or give it a notice.
 *
 * It delivers every message at once, with the id as the gateway's. */
#include <stddef.h>
#include <stdlib.h>

#include "iopd/plugin.h"

struct abi10 {
	const struct iopd_host *h;
};

static void *a10_configure(const struct iopd_host *h, const config_setting_t *s,
    const struct iopd_channel_info *info)
{
	struct abi10 *a = calloc(1, sizeof *a);

	(void)info;
	if (h->conf_check_keys(h, s, NULL) > 0 || !a) {
		free(a);
		return NULL;
	}
	a->h = h;
	return a;
}

static int a10_start(void *inst)
{
	(void)inst;
	return 0;
}

static void a10_send(void *inst, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	struct iopd_outcome o = {IOPD_DELIVERED, m->id, NULL, -1.0};

	(void)inst;
	done(token, &o);
}

static void a10_cancel(void *inst, void *token)
{
	(void)inst;
	(void)token;
}

static void a10_stop(void *inst)
{
	free(inst);
}

/* The 1.0 layout of struct iopd_plugin_ops. */
struct ops_1_0 {
	void *(*configure)(const struct iopd_host *, const config_setting_t *,
	    const struct iopd_channel_info *);
	int (*start)(void *);
	void (*send)(void *, const struct iopd_message *, iopd_done_fn, void *);
	void (*cancel)(void *, void *);
	void (*stop)(void *);
};

static const struct ops_1_0 a10_ops = {a10_configure, a10_start, a10_send, a10_cancel, a10_stop};

IOPD_PLUGIN_EXPORT const struct iopd_plugin iopd_plugin = {
	1, 0, "abi10", "1.0", IOPD_CONTACT_PHONE, sizeof(struct ops_1_0),
	(const struct iopd_plugin_ops *)(const void *)&a10_ops
};

/* plugin_host.h - loading plugins and running their instances.
 *
 * The only code in iopd that knows the plugin ABI (include/iopd/plugin.h).
 * A module is loaded once per process and kept; each channel of a
 * configuration gets its own instance, with its own struct iopd_host whose
 * services are bound to that channel. */
#ifndef IOPD_PLUGIN_HOST_H
#define IOPD_PLUGIN_HOST_H

#include <stddef.h>

#include <ev.h>
#include <libconfig.h>

#include "errs.h"
#include "http.h"
#include "iopd/plugin.h"

/* Keys every channel group may hold, parsed by the host, not the plugin. */
extern const char *const chan_common_keys[];

struct plugin_mod;                     /* a loaded module, lives until exit */

/* Finds MODULE.so in, in order: $IOPD_PLUGIN_DIR, `plugin_dir` (may be
 * NULL), the compiled-in IOPD_PLUGIN_DIR, and the build tree when iopd runs
 * from it.  Loads it once (thread-safe); refuses a different ABI major.
 * Returns NULL with a reason in err. */
const struct plugin_mod *plugin_load(const char *module, const char *plugin_dir,
    char *err, size_t errlen);
/* Is this process's executable inside the build tree?  Only then may it
 * load the build tree's modules: an installed iopd must never pick up a
 * stale one from a developer's checkout. */
int plugin_runs_from_build_tree(void);
/* This process's executable's path (/proc/self/exe) into out; its length,
 * 0 (and "") if it cannot be read. */
size_t plugin_exe_path(char *out, size_t len);
const struct iopd_plugin *plugin_desc(const struct plugin_mod *m);
const char *plugin_path(const struct plugin_mod *m);
/* Unloads every module; only at exit. */
void plugin_unload_all(void);

struct chan_inst;                      /* a configured instance: one channel */

/* Calls the plugin's configure on the channel group `s`; errors go to
 * `errs` as FILE:LINE.  `config_dir` resolves relative token_file paths.
 * May run off the loop thread.  NULL on error. */
struct chan_inst *chan_inst_configure(const struct plugin_mod *m, const config_setting_t *s,
    const struct iopd_channel_info *info, const char *config_dir, struct errs *errs);
/* Binds the instance to the loop and the shared multi handle, then calls
 * the plugin's start.  Returns its result. */
int chan_inst_start(struct chan_inst *c, struct ev_loop *loop, const struct http_port *http);
void chan_inst_send(struct chan_inst *c, const struct iopd_message *m, iopd_done_fn done, void *token);
void chan_inst_cancel(struct chan_inst *c, void *token);
/* Stops the plugin instance (if started) and frees it.  No send may be
 * outstanding. */
void chan_inst_free(struct chan_inst *c);
const char *chan_inst_name(const struct chan_inst *c);
/* The last line the plugin logged at error level (a relay without
 * STARTTLS, refused credentials) and when, or NULL: `iopctl status`. */
const char *chan_inst_problem(const struct chan_inst *c, double *at);

/* ABI 1.1, the channel's callbacks.  What its plugin takes (NULL: none;
 * every 1.0 plugin). */
const struct iopd_inbound *chan_inst_inbound(const struct chan_inst *c);
/* Is the plugin built for ABI 1.1 or later (it knows the "notice" kind)? */
int chan_inst_takes_notices(const struct chan_inst *c);
/* Binds the instance to iopd's `inbound` block: loads the secret its
 * callbacks are checked with (the channel's token for IOPD_AUTH_TWILIO,
 * callback_key_file for IOPD_AUTH_KEY) and makes host->callback_url's
 * URLs from `public_url`.  Errors go to `errs` at the group's settings.
 * May run off the loop thread (a reload).  0, or -1. */
int chan_inst_inbound_bind(struct chan_inst *c, const config_setting_t *group,
    const char *public_url, struct errs *errs);
/* The bound secret (never log it), or NULL. */
const char *chan_inst_auth_secret(const struct chan_inst *c);
/* The plugin reads an authenticated request: 0 with `out` filled, or -1
 * (malformed, or the channel takes no callbacks, or is out of service). */
int chan_inst_callback(struct chan_inst *c, const struct iopd_request *rq, struct iopd_callback *out);

/* Reads a secret file the way secret_load does (exposed for tests). */
char *secret_read_file(const char *path, char *err, size_t errlen);

#endif

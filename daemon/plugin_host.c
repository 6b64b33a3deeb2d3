/* plugin_host.c - loading plugins and running their instances (see
 * plugin_host.h and include/iopd/plugin.h).
 *
 * Three parts: the module list (dlopen once, keep until exit), the
 * services of struct iopd_host bound to one channel instance, and the
 * instance lifecycle configure -> start -> send/cancel -> stop.
 *
 * Every object handed to a plugin or to libev as a void * carries a magic
 * number, checked on the way back (hitch's miniobj idea): a plugin that
 * passes a stale timer or someone else's host trips an assertion instead
 * of scribbling over memory. */
#include "config.h"

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "plugin_host.h"
#include "util.h"

#define PH_MOD_MAGIC 0x4d4f4455u       /* "MODU" */
#define PH_CHAN_MAGIC 0x4348414eu      /* "CHAN" */
#define PH_TIMER_MAGIC 0x54494d45u     /* "TIME" */
#define PH_XFER_MAGIC 0x50584652u      /* "PXFR" */

#define PH_MODULE_NAME_MAX 64
#define PH_SECRET_MAX (64 * 1024)      /* a token, a password: never megabytes */

/* The part of struct iopd_plugin_ops this host calls: up to `stop`. */
#define PH_OPS_MIN (offsetof(struct iopd_plugin_ops, stop) + sizeof(void (*)(void *)))

const char *const chan_common_keys[] = {
	"name", "module", "rate", "concurrency", "timeout",
	"insecure_tls", "token_file", "token_credential",
	"fallback", "replies", "callback_key_file", NULL
};

/* ========================================================================
 * Modules
 * ===================================================================== */

struct plugin_mod {
	unsigned magic;
	char *name;
	char *path;
	void *dl;
	const struct iopd_plugin *desc;
	struct plugin_mod *next;
};

/* Loaded modules, kept until plugin_unload_all: an instance (or a send
 * still in flight on an old configuration after a reload) may run code of
 * any of them at any time, so nothing is ever dlclose'd earlier. */
static pthread_mutex_t ph_mods_lock = PTHREAD_MUTEX_INITIALIZER;
static struct plugin_mod *ph_mods;

static int ph_module_name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
		    s[n] == '_' || s[n] == '-'))
			return 0;
	return n > 0 && n <= PH_MODULE_NAME_MAX;
}

size_t plugin_exe_path(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);

	if (n <= 0)
		n = 0;
	out[n] = '\0';
	return (size_t)n;
}

int plugin_runs_from_build_tree(void)
{
#ifdef IOPD_BUILD_DIR
	char exe[PATH_MAX], root[PATH_MAX];
	size_t len;

	if (!plugin_exe_path(exe, sizeof exe) || !realpath(IOPD_BUILD_DIR, root))
		return 0;
	len = strlen(root);
	return strncmp(exe, root, len) == 0 && exe[len] == '/';
#else
	return 0;
#endif
}

/* The plugin directories in search order; NULL entries are skipped. */
static void ph_plugin_dirs(const char *plugin_dir, const char *dirs[4])
{
	const char *env = getenv("IOPD_PLUGIN_DIR");

	dirs[0] = env && *env ? env : NULL;
	dirs[1] = plugin_dir && *plugin_dir ? plugin_dir : NULL;
	dirs[2] = IOPD_PLUGIN_DIR;
	dirs[3] = NULL;
#ifdef IOPD_BUILD_PLUGIN_DIR
	if (plugin_runs_from_build_tree())
		dirs[3] = IOPD_BUILD_PLUGIN_DIR;
#endif
}

static struct plugin_mod *ph_mod_find(const char *name)
{
	struct plugin_mod *m;

	for (m = ph_mods; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

/* The descriptor checks, in the order that makes reading it safe: the ABI
 * major decides the layout of everything after it. */
static int ph_desc_check(const struct iopd_plugin *d, const char *module, const char *path,
    char *err, size_t errlen)
{
	const struct iopd_plugin_ops *o;

	if (d->abi_major != IOPD_PLUGIN_ABI_MAJOR) {
		snprintf(err, errlen, "plugin %s was built for ABI %u.%u; this iopd speaks %d.x: rebuild it",
		    path, (unsigned)d->abi_major, (unsigned)d->abi_minor, IOPD_PLUGIN_ABI_MAJOR);
		return -1;
	}
	if (!d->name || strcmp(d->name, module) != 0) {
		snprintf(err, errlen, "plugin %s calls itself \"%s\", not \"%s\": a renamed file?",
		    path, d->name ? d->name : "(null)", module);
		return -1;
	}
	o = d->ops;
	if (!o || d->ops_size < PH_OPS_MIN) {
		snprintf(err, errlen, "plugin %s has an operations table of %zu bytes; ABI %d.0 needs %zu",
		    path, o ? d->ops_size : (size_t)0, IOPD_PLUGIN_ABI_MAJOR, (size_t)PH_OPS_MIN);
		return -1;
	}
	if (!o->configure || !o->start || !o->send || !o->cancel || !o->stop) {
		snprintf(err, errlen, "plugin %s leaves an operation NULL", path);
		return -1;
	}
	return 0;
}

static struct plugin_mod *ph_mod_open(const char *module, const char *path, char *err, size_t errlen)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const struct iopd_plugin *d;
	struct plugin_mod *m;

	if (!dl) {
		snprintf(err, errlen, "cannot load plugin %s: %s", path, dlerror());
		return NULL;
	}
	d = dlsym(dl, IOPD_PLUGIN_SYMBOL);
	if (!d) {
		snprintf(err, errlen, "%s is not an iopd plugin (no symbol %s)", path, IOPD_PLUGIN_SYMBOL);
		dlclose(dl);
		return NULL;
	}
	if (ph_desc_check(d, module, path, err, errlen) < 0) {
		dlclose(dl);           /* nothing of it was ever used */
		return NULL;
	}
	m = xcalloc(1, sizeof *m);
	m->magic = PH_MOD_MAGIC;
	m->name = xstrdup(module);
	m->path = xstrdup(path);
	m->dl = dl;
	m->desc = d;
	return m;
}

/* The first directory holding MODULE.so decides: a broken plugin there is
 * an error, never a reason to fall back to another copy. */
static struct plugin_mod *ph_mod_search(const char *module, const char *plugin_dir,
    char *err, size_t errlen)
{
	const char *dirs[4];
	struct sbuf looked = {0};
	struct plugin_mod *m = NULL;
	struct stat st;
	size_t i;

	ph_plugin_dirs(plugin_dir, dirs);
	for (i = 0; i < IOPD_NELEM(dirs); i++) {
		char *path;

		if (!dirs[i])
			continue;
		path = xasprintf("%s/%s.so", dirs[i], module);
		if (stat(path, &st) == 0) {
			m = ph_mod_open(module, path, err, errlen);
			free(path);
			sbuf_free(&looked);
			return m;
		}
		sbuf_printf(&looked, "%s%s", looked.len ? ", " : "", dirs[i]);
		free(path);
	}
	snprintf(err, errlen, "plugin \"%s\" not found (looked for %s.so in %s)", module, module,
	    looked.s ? looked.s : "no directory");
	sbuf_free(&looked);
	return NULL;
}

const struct plugin_mod *plugin_load(const char *module, const char *plugin_dir,
    char *err, size_t errlen)
{
	struct plugin_mod *m;

	if (!module || !ph_module_name_ok(module)) {
		snprintf(err, errlen, "bad module name \"%s\": only a-z, 0-9, '_' and '-'",
		    module ? module : "");
		return NULL;
	}
	pthread_mutex_lock(&ph_mods_lock);
	m = ph_mod_find(module);
	if (!m && (m = ph_mod_search(module, plugin_dir, err, errlen)) != NULL) {
		m->next = ph_mods;
		ph_mods = m;
	}
	pthread_mutex_unlock(&ph_mods_lock);
	return m;
}

const struct iopd_plugin *plugin_desc(const struct plugin_mod *m)
{
	assert(m && m->magic == PH_MOD_MAGIC);
	return m->desc;
}

const char *plugin_path(const struct plugin_mod *m)
{
	assert(m && m->magic == PH_MOD_MAGIC);
	return m->path;
}

void plugin_unload_all(void)
{
	struct plugin_mod *m;

	pthread_mutex_lock(&ph_mods_lock);
	while ((m = ph_mods) != NULL) {
		ph_mods = m->next;
		dlclose(m->dl);
		free(m->name);
		free(m->path);
		m->magic = 0;
		free(m);
	}
	pthread_mutex_unlock(&ph_mods_lock);
}

/* ========================================================================
 * Instances
 * ===================================================================== */

/* A timer lent to a plugin (opaque in plugin.h). */
struct iopd_timer {
	unsigned magic;
	struct chan_inst *c;
	ev_timer w;
	iopd_timer_fn fn;
	void *arg;
	int firing;                    /* fn is running: the host frees it after */
	struct iopd_timer *prev, *next;
};

/* A transfer submitted by a plugin, so the instance knows what it has in
 * flight and can withdraw it before the plugin frees its handles. */
struct ph_xfer {
	unsigned magic;
	struct chan_inst *c;
	CURL *easy;
	iopd_http_fn done;
	void *arg;
	struct ph_xfer *prev, *next;
};

struct chan_inst {
	unsigned magic;
	const struct plugin_mod *mod;
	struct iopd_host host;         /* host.host_data == this */
	struct iopd_channel_info info; /* what the plugin saw; info.name == name */
	char *name;
	char *config_dir;
	struct log_ctx lctx;
	void *inst;                    /* the plugin's */

	/* Only while configure runs. */
	struct errs *errs;
	const config_setting_t *group;
	int nerrs;

	/* From start on. */
	struct ev_loop *loop;
	const struct http_port *http;
	int started, live, stopping;
	struct iopd_timer *timers;
	struct ph_xfer *xfers;
	char problem[256];             /* the last line the plugin logged at error level */
	double problem_at;

	/* ABI 1.1: callbacks from the gateway (has_inbound: the plugin takes
	 * them); bound to iopd's `inbound` block by chan_inst_inbound_bind */
	struct iopd_inbound inb;
	int has_inbound;
	char *auth_secret;             /* the token or key callbacks are checked with */
	char *url_status, *url_reply;  /* callback_url's answers; NULL: not bound */
};

static struct chan_inst *ph_chan(const struct iopd_host *h)
{
	struct chan_inst *c = h ? h->host_data : NULL;

	assert(c && c->magic == PH_CHAN_MAGIC && &c->host == h);
	return c;
}

static const struct iopd_plugin_ops *ph_ops(const struct chan_inst *c)
{
	return c->mod->desc->ops;
}

/* The ABI 1.1 operations, only where the plugin's table reaches them: a
 * plugin built for 1.0 has a shorter table, and what lies past its end is
 * not ours to read. */
static int (*ph_op_inbound(const struct chan_inst *c))(void *, struct iopd_inbound *)
{
	const struct iopd_plugin *d = c->mod->desc;

	return IOPD_ABI_HAS(d->ops_size, struct iopd_plugin_ops, inbound) ? d->ops->inbound : NULL;
}

static int (*ph_op_callback(const struct chan_inst *c))(void *, const struct iopd_request *,
    struct iopd_callback *)
{
	const struct iopd_plugin *d = c->mod->desc;

	return IOPD_ABI_HAS(d->ops_size, struct iopd_plugin_ops, callback) ? d->ops->callback : NULL;
}

/* ------------------------------------------------------------------------
 * log, conf_error, conf_check_keys
 * --------------------------------------------------------------------- */

static int ph_clamp_level(int level)
{
	if (level < LOG_LVL_ERR)
		return LOG_LVL_ERR;
	return level > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : level;
}

static void ph_host_log(const struct iopd_host *h, int level, const char *fmt, ...)
    IOPD_PRINTF(3, 4);
static void ph_host_log(const struct iopd_host *h, int level, const char *fmt, ...)
{
	struct chan_inst *c = ph_chan(h);
	struct sbuf msg = {0};
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&msg, fmt, ap);
	va_end(ap);
	level = ph_clamp_level(level);
	log_ctx(level, &c->lctx, "%s", msg.s ? msg.s : "");
	if (level == LOG_LVL_ERR) {        /* for `iopctl status` (chan_inst_problem) */
		snprintf(c->problem, sizeof c->problem, "%s", msg.s ? msg.s : "");
		c->problem_at = c->loop ? ev_now(c->loop) : (double)time(NULL);
	}
	sbuf_free(&msg);
}

/* A configuration error: into the collector while configure runs (at
 * FILE:LINE of `s`, else of the channel group), otherwise a log line, since
 * the settings may be gone by then. */
static void ph_vreport(struct chan_inst *c, const config_setting_t *s, const char *fmt, va_list ap)
    IOPD_PRINTF(3, 0);
static void ph_vreport(struct chan_inst *c, const config_setting_t *s, const char *fmt, va_list ap)
{
	struct sbuf msg = {0};

	sbuf_vprintf(&msg, fmt, ap);
	if (c->errs) {
		errs_set(c->errs, s ? s : c->group, "channel %s: %s", c->name, msg.s ? msg.s : "");
		c->nerrs++;
	} else {
		log_ctx(LOG_LVL_ERR, &c->lctx, "configuration: %s", msg.s ? msg.s : "");
	}
	sbuf_free(&msg);
}

static void ph_report(struct chan_inst *c, const config_setting_t *s, const char *fmt, ...)
    IOPD_PRINTF(3, 4);
static void ph_report(struct chan_inst *c, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ph_vreport(c, s, fmt, ap);
	va_end(ap);
}

static void ph_host_conf_error(const struct iopd_host *h, const config_setting_t *s,
    const char *fmt, ...) IOPD_PRINTF(3, 4);
static void ph_host_conf_error(const struct iopd_host *h, const config_setting_t *s,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ph_vreport(ph_chan(h), s, fmt, ap);
	va_end(ap);
}

static int ph_key_in(const char *key, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(key, *list) == 0)
			return 1;
	return 0;
}

static void ph_keys_join(struct sbuf *b, const char *const *allowed)
{
	const char *const *k;

	for (k = chan_common_keys; *k; k++)
		sbuf_printf(b, "%s%s", b->len ? ", " : "", *k);
	for (k = allowed; k && *k; k++)
		sbuf_printf(b, "%s%s", b->len ? ", " : "", *k);
}

/* Reported at the unknown key's own line (not the group's), without the
 * "channel NAME:" prefix of conf_error since the message names it. */
static void ph_unknown_key(struct chan_inst *c, const config_setting_t *e, const char *const *allowed)
{
	struct sbuf known = {0};
	const char *key = config_setting_name(e) ? config_setting_name(e) : "?";

	ph_keys_join(&known, allowed);
	if (c->errs) {
		errs_set(c->errs, e, "unknown key \"%s\" in channel %s (module %s); known keys: %s",
		    key, c->name, c->mod->name, known.s);
		c->nerrs++;
	} else {
		log_ctx(LOG_LVL_ERR, &c->lctx, "configuration: unknown key \"%s\" (module %s)",
		    key, c->mod->name);
	}
	sbuf_free(&known);
}

static int ph_host_conf_check_keys(const struct iopd_host *h, const config_setting_t *s,
    const char *const *allowed)
{
	struct chan_inst *c = ph_chan(h);
	int i, n, unknown = 0;

	if (!s || !config_setting_is_group(s))
		return 0;
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *key = config_setting_name(e);

		if (key && (ph_key_in(key, chan_common_keys) || ph_key_in(key, allowed)))
			continue;
		ph_unknown_key(c, e, allowed);
		unknown++;
	}
	return unknown;
}

/* ------------------------------------------------------------------------
 * Secrets
 * --------------------------------------------------------------------- */

static void ph_wipe_free(char *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	free(p);
}

/* Reads at most PH_SECRET_MAX bytes of an open file into a new buffer. */
static char *ph_read_all(int fd, size_t *lenp, char *err, size_t errlen, const char *path)
{
	char *buf = xmalloc(PH_SECRET_MAX + 1);
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, PH_SECRET_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			ph_wipe_free(buf, len);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > PH_SECRET_MAX) {
			snprintf(err, errlen, "%s is larger than %d bytes: not a secret", path, PH_SECRET_MAX);
			ph_wipe_free(buf, len);
			return NULL;
		}
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* The checks are made on the open descriptor, so the file judged is the
 * file read.  O_NONBLOCK keeps a FIFO planted there from hanging us;
 * O_NOFOLLOW refuses a symbolic link (the check would judge its target,
 * which whoever may change the link chooses).  The owner must be root or
 * iopd's own user: a file another account owns can be rewritten by it. */
static int ph_secret_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	struct stat st;

	if (fd < 0 && errno == ELOOP) {
		snprintf(err, errlen, "%s is a symbolic link: name the file itself", path);
		return -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s belongs to uid %lu, neither root nor iopd's user (uid %lu): "
		    "chown root %s", path, (unsigned long)st.st_uid, (unsigned long)geteuid(), path);
		close(fd);
		return -1;
	}
	if (st.st_mode & S_IROTH) {
		snprintf(err, errlen, "%s is readable by other users; chmod o-r %s", path, path);
		close(fd);
		return -1;
	}
	return fd;
}

char *secret_read_file(const char *path, char *err, size_t errlen)
{
	int fd = ph_secret_open(path, err, errlen);
	size_t len = 0;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = ph_read_all(fd, &len, err, errlen, path);
	close(fd);
	if (!buf)
		return NULL;
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';     /* exactly one: `echo token > file` */
	if (len == 0 || strlen(buf) != len) {
		snprintf(err, errlen, len == 0 ? "%s is empty" : "%s contains a NUL byte", path);
		ph_wipe_free(buf, len);
		return NULL;
	}
	return buf;
}

static const char *ph_string_of(struct chan_inst *c, const config_setting_t *s, const char *key)
{
	const char *v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;

	if (!v || !*v)
		ph_report(c, s, "%s must be a non-empty string", key);
	return v && *v ? v : NULL;
}

static char *ph_secret_path(struct chan_inst *c, const config_setting_t *s, const char *path)
{
	char err[PATH_MAX + 128];
	char *full, *secret;

	if (path[0] == '/' || !c->config_dir)
		full = xstrdup(path);
	else
		full = xasprintf("%s/%s", c->config_dir, path);
	secret = secret_read_file(full, err, sizeof err);
	if (!secret)
		ph_report(c, s, "%s: %s", config_setting_name(s), err);
	free(full);
	return secret;
}

/* systemd's LoadCredential=NAME:... puts NAME in $CREDENTIALS_DIRECTORY;
 * a name with '/' could climb out of it. */
static char *ph_secret_credential(struct chan_inst *c, const config_setting_t *s, const char *name)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char *path, *secret;

	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		ph_report(c, s, "token_credential \"%s\" must be a plain name, without '/'", name);
		return NULL;
	}
	if (!dir || !*dir) {
		ph_report(c, s, "token_credential \"%s\" needs $CREDENTIALS_DIRECTORY, which is not set "
		    "(use LoadCredential= in the unit, or token_file)", name);
		return NULL;
	}
	path = xasprintf("%s/%s", dir, name);
	secret = ph_secret_path(c, s, path);
	free(path);
	return secret;
}

static char *ph_host_secret_load(const struct iopd_host *h, const config_setting_t *s, int required)
{
	struct chan_inst *c = ph_chan(h);
	const config_setting_t *f = s ? config_setting_get_member(s, "token_file") : NULL;
	const config_setting_t *k = s ? config_setting_get_member(s, "token_credential") : NULL;
	const char *v;

	if (f && k) {
		ph_report(c, k, "token_file and token_credential are both set; keep one");
		return NULL;
	}
	if (!f && !k) {
		if (required)
			ph_report(c, s, "needs a secret: set token_file or token_credential");
		return NULL;
	}
	if (!(v = ph_string_of(c, f ? f : k, f ? "token_file" : "token_credential")))
		return NULL;
	return f ? ph_secret_path(c, f, v) : ph_secret_credential(c, k, v);
}

static void ph_host_secret_free(char *secret)
{
	if (secret)
		ph_wipe_free(secret, strlen(secret));
}

/* ------------------------------------------------------------------------
 * http_submit, http_cancel
 * --------------------------------------------------------------------- */

static void ph_xfer_unlink(struct chan_inst *c, struct ph_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		c->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->magic = 0;
	free(x);
}

static void ph_xfer_done(CURL *easy, CURLcode rc, void *arg)
{
	struct ph_xfer *x = arg;
	iopd_http_fn done;
	void *darg;

	assert(x && x->magic == PH_XFER_MAGIC);
	done = x->done;
	darg = x->arg;
	ph_xfer_unlink(x->c, x);
	done(easy, rc, darg);
}

static int ph_host_http_submit(const struct iopd_host *h, CURL *easy, iopd_http_fn done, void *arg)
{
	struct chan_inst *c = ph_chan(h);
	struct ph_xfer *x;

	if (!c->http || c->stopping || !done)
		return -1;
	x = xcalloc(1, sizeof *x);
	x->magic = PH_XFER_MAGIC;
	x->c = c;
	x->easy = easy;
	x->done = done;
	x->arg = arg;
	if (c->http->submit(c->http->http, easy, ph_xfer_done, x) < 0) {
		x->magic = 0;
		free(x);
		return -1;
	}
	x->next = c->xfers;
	if (c->xfers)
		c->xfers->prev = x;
	c->xfers = x;
	return 0;
}

static void ph_host_http_cancel(const struct iopd_host *h, CURL *easy)
{
	struct chan_inst *c = ph_chan(h);
	struct ph_xfer *x;

	for (x = c->xfers; x; x = x->next)
		if (x->easy == easy) {
			c->http->cancel(c->http->http, easy);
			ph_xfer_unlink(c, x);
			return;
		}
}

/* ------------------------------------------------------------------------
 * Timers and time
 * --------------------------------------------------------------------- */

static void ph_timer_unlink(struct chan_inst *c, struct iopd_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		c->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

static void ph_timer_free(struct iopd_timer *t)
{
	t->magic = 0;
	free(t);
}

static void ph_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct iopd_timer *t = w->data;

	(void)loop;
	(void)revents;
	assert(t && t->magic == PH_TIMER_MAGIC);
	ph_timer_unlink(t->c, t);
	t->firing = 1;
	t->fn(t->arg);
	ph_timer_free(t);
}

static struct iopd_timer *ph_host_timer_start(const struct iopd_host *h, double seconds,
    iopd_timer_fn fn, void *arg)
{
	struct chan_inst *c = ph_chan(h);
	struct iopd_timer *t;

	if (!c->loop || c->stopping || !fn)
		return NULL;
	if (!(seconds > 0.0))
		seconds = 0.0;         /* also NaN */
	t = xcalloc(1, sizeof *t);
	t->magic = PH_TIMER_MAGIC;
	t->c = c;
	t->fn = fn;
	t->arg = arg;
	ev_timer_init(&t->w, ph_timer_cb, seconds, 0.0);
	t->w.data = t;
	t->next = c->timers;
	if (c->timers)
		c->timers->prev = t;
	c->timers = t;
	ev_timer_start(c->loop, &t->w);
	return t;
}

/* Stopping a timer from inside its own callback is allowed and does
 * nothing: the host frees it when the callback returns. */
static void ph_host_timer_stop(const struct iopd_host *h, struct iopd_timer *t)
{
	struct chan_inst *c = ph_chan(h);

	if (!t)
		return;
	assert(t->magic == PH_TIMER_MAGIC && t->c == c);
	if (t->firing)
		return;
	ev_timer_stop(c->loop, &t->w);
	ph_timer_unlink(c, t);
	ph_timer_free(t);
}

static double ph_host_now(const struct iopd_host *h)
{
	struct chan_inst *c = ph_chan(h);

	return c->loop ? ev_now(c->loop) : ev_time();
}

static const char *ph_host_callback_url(const struct iopd_host *h, const char *what)
{
	struct chan_inst *c = ph_chan(h);

	if (!what)
		return NULL;
	if (strcmp(what, "status") == 0)
		return c->url_status;
	return strcmp(what, "reply") == 0 ? c->url_reply : NULL;
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * --------------------------------------------------------------------- */

static void ph_host_init(struct chan_inst *c)
{
	struct iopd_host *h = &c->host;

	h->size = sizeof *h;
	h->abi_major = IOPD_PLUGIN_ABI_MAJOR;
	h->abi_minor = IOPD_PLUGIN_ABI_MINOR;
	h->log = ph_host_log;
	h->conf_error = ph_host_conf_error;
	h->conf_check_keys = ph_host_conf_check_keys;
	h->secret_load = ph_host_secret_load;
	h->secret_free = ph_host_secret_free;
	h->http_submit = ph_host_http_submit;
	h->http_cancel = ph_host_http_cancel;
	h->timer_start = ph_host_timer_start;
	h->timer_stop = ph_host_timer_stop;
	h->now = ph_host_now;
	h->host_data = c;
	h->callback_url = ph_host_callback_url;
}

static struct chan_inst *ph_chan_new(const struct plugin_mod *m, const config_setting_t *s,
    const struct iopd_channel_info *info, const char *config_dir)
{
	struct chan_inst *c = xcalloc(1, sizeof *c);
	const char *name = info && info->name ? info->name : config_setting_name(s);

	c->magic = PH_CHAN_MAGIC;
	c->mod = m;
	c->name = xstrdup(name ? name : m->name);
	c->config_dir = config_dir ? xstrdup(config_dir) : NULL;
	c->lctx.channel = c->name;
	if (info)
		c->info = *info;
	else
		c->info.timeout = 15.0;
	c->info.name = c->name;
	ph_host_init(c);
	return c;
}

static void ph_chan_destroy(struct chan_inst *c)
{
	ph_host_secret_free(c->auth_secret);
	free(c->url_status);
	free(c->url_reply);
	free(c->name);
	free(c->config_dir);
	c->magic = 0;
	free(c);
}

/* Asks a 1.1 plugin whether the instance takes callbacks; one that says
 * so without a `callback` operation, or with a method or scheme the host
 * does not know, is taken at its word only as far as it can be. */
static void ph_inbound_ask(struct chan_inst *c)
{
	int (*ask)(void *, struct iopd_inbound *) = ph_op_inbound(c);
	struct iopd_inbound in;

	memset(&in, 0, sizeof in);
	if (!ask || !ph_op_callback(c) || ask(c->inst, &in) != 0)
		return;
	if ((in.auth != IOPD_AUTH_TWILIO && in.auth != IOPD_AUTH_KEY) || !in.method ||
	    (strcmp(in.method, "POST") != 0 && strcmp(in.method, "GET") != 0)) {
		log_ctx(LOG_LVL_WARNING, &c->lctx, "module %s describes its callbacks in a way this "
		    "iopd does not know: it takes none", c->mod->name);
		return;
	}
	c->inb = in;
	c->inb.replies = in.replies != 0;
	c->has_inbound = 1;
}

struct chan_inst *chan_inst_configure(const struct plugin_mod *m, const config_setting_t *s,
    const struct iopd_channel_info *info, const char *config_dir, struct errs *errs)
{
	struct chan_inst *c;

	assert(m && m->magic == PH_MOD_MAGIC && errs);
	c = ph_chan_new(m, s, info, config_dir);
	c->errs = errs;
	c->group = s;
	c->inst = ph_ops(c)->configure(&c->host, s, &c->info);
	if (!c->inst && c->nerrs == 0)
		ph_report(c, s, "module %s refused the configuration without saying why", m->name);
	if (c->inst && c->nerrs > 0) {
		/* It reported an error yet returned an instance: an error wins. */
		ph_ops(c)->stop(c->inst);
		c->inst = NULL;
	}
	c->errs = NULL;
	c->group = NULL;
	if (!c->inst) {
		ph_chan_destroy(c);
		return NULL;
	}
	ph_inbound_ask(c);
	return c;
}

int chan_inst_start(struct chan_inst *c, struct ev_loop *loop, const struct http_port *http)
{
	int rc;

	assert(c && c->magic == PH_CHAN_MAGIC && !c->started);
	c->loop = loop;
	c->http = http;
	c->started = 1;
	rc = ph_ops(c)->start(c->inst);
	c->live = rc == 0;
	return rc == 0 ? 0 : -1;
}

/* A channel whose start failed is out of service: its sends fail as
 * transient, so the reminders wait for a reload instead of being lost. */
void chan_inst_send(struct chan_inst *c, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	static const struct iopd_outcome down = {
		IOPD_TRANSIENT, NULL, "channel out of service", -1.0
	};

	assert(c && c->magic == PH_CHAN_MAGIC && c->started && !c->stopping);
	if (!c->live) {
		done(token, &down);
		return;
	}
	ph_ops(c)->send(c->inst, m, done, token);
}

void chan_inst_cancel(struct chan_inst *c, void *token)
{
	assert(c && c->magic == PH_CHAN_MAGIC);
	if (c->live)
		ph_ops(c)->cancel(c->inst, token);
}

/* Transfers still running are withdrawn BEFORE stop, while their easy
 * handles surely exist (stop may free them); timers still armed are
 * dropped AFTER stop, which may itself stop them. */
static void ph_chan_withdraw_xfers(struct chan_inst *c)
{
	while (c->xfers) {
		c->http->cancel(c->http->http, c->xfers->easy);
		ph_xfer_unlink(c, c->xfers);
	}
}

static void ph_chan_drop_timers(struct chan_inst *c)
{
	int n = 0;

	while (c->timers) {
		struct iopd_timer *t = c->timers;

		ev_timer_stop(c->loop, &t->w);
		ph_timer_unlink(c, t);
		ph_timer_free(t);
		n++;
	}
	if (n)
		log_ctx(LOG_LVL_WARNING, &c->lctx, "module %s left %d timer%s armed at stop",
		    c->mod->name, n, n == 1 ? "" : "s");
}

/* stop is the plugin's only destructor, so it runs for every configured
 * instance, started or not (e.g. a reload rejected by another channel). */
void chan_inst_free(struct chan_inst *c)
{
	if (!c)
		return;
	assert(c->magic == PH_CHAN_MAGIC);
	c->stopping = 1;
	ph_chan_withdraw_xfers(c);
	ph_ops(c)->stop(c->inst);
	c->inst = NULL;
	ph_chan_drop_timers(c);
	ph_chan_destroy(c);
}

const char *chan_inst_problem(const struct chan_inst *c, double *at)
{
	assert(c && c->magic == PH_CHAN_MAGIC);
	*at = c->problem_at;
	return c->problem[0] ? c->problem : NULL;
}

const char *chan_inst_name(const struct chan_inst *c)
{
	assert(c && c->magic == PH_CHAN_MAGIC);
	return c->name;
}

/* ------------------------------------------------------------------------
 * ABI 1.1: the inbound side of an instance
 * --------------------------------------------------------------------- */

const struct iopd_inbound *chan_inst_inbound(const struct chan_inst *c)
{
	assert(c && c->magic == PH_CHAN_MAGIC);
	return c->has_inbound ? &c->inb : NULL;
}

int chan_inst_takes_notices(const struct chan_inst *c)
{
	assert(c && c->magic == PH_CHAN_MAGIC);
	return c->mod->desc->abi_minor >= 1;
}

const char *chan_inst_auth_secret(const struct chan_inst *c)
{
	assert(c && c->magic == PH_CHAN_MAGIC);
	return c->auth_secret;
}

static char *ph_callback_url(const struct chan_inst *c, const char *public_url, const char *what)
{
	struct sbuf b = {0};
	size_t n = strlen(public_url);

	while (n && public_url[n - 1] == '/')
		n--;
	sbuf_add(&b, public_url, n);
	sbuf_printf(&b, "/sms/%s/%s", c->name, what);
	if (c->inb.auth == IOPD_AUTH_KEY) {
		sbuf_adds(&b, "?key=");
		sbuf_adds(&b, c->auth_secret);     /* URL-safe: ph_callback_key */
	}
	return b.s;
}

/* callback_key_file: a secret file like token_file, relative to the
 * configuration's folder. */
static char *ph_callback_key(struct chan_inst *c, const config_setting_t *group)
{
	const config_setting_t *k = config_setting_get_member(group, "callback_key_file");
	const char *v;
	char *key;

	if (!k) {
		ph_report(c, group, "callback_key_file is required with inbound: the key Kannel "
		    "presents in its callbacks (key=...), from a file of its own");
		return NULL;
	}
	if (!(v = ph_string_of(c, k, "callback_key_file")) || !(key = ph_secret_path(c, k, v)))
		return NULL;
	/* Kannel rewrites '%' sequences in its URLs (%p, %d ...): a key
	 * that needed escaping would not come back as it left */
	if (strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") !=
	    strlen(key)) {
		ph_report(c, k, "callback_key_file: the key may hold only letters, digits, '-', '.', "
		    "'_' and '~' (it travels in URLs Kannel rewrites); make one with "
		    "`openssl rand -hex 24`");
		ph_host_secret_free(key);
		return NULL;
	}
	return key;
}

int chan_inst_inbound_bind(struct chan_inst *c, const config_setting_t *group, const char *public_url,
    struct errs *errs)
{
	const config_setting_t *k = config_setting_get_member(group, "callback_key_file");

	assert(c && c->magic == PH_CHAN_MAGIC && errs);
	c->errs = errs;
	c->group = group;
	c->nerrs = 0;
	if (!c->has_inbound) {
		if (k)
			ph_report(c, k, "callback_key_file: module %s takes no callbacks", c->mod->name);
	} else if (c->inb.auth == IOPD_AUTH_KEY) {
		c->auth_secret = ph_callback_key(c, group);
	} else {
		if (k)
			ph_report(c, k, "callback_key_file is not used: this channel's callbacks are "
			    "signed with its token (token_file)");
		else
			c->auth_secret = ph_host_secret_load(&c->host, group, 1);
	}
	if (c->has_inbound && c->auth_secret && !c->nerrs) {
		c->url_status = ph_callback_url(c, public_url, "status");
		c->url_reply = ph_callback_url(c, public_url, "reply");
	}
	c->errs = NULL;
	c->group = NULL;
	return c->nerrs ? -1 : 0;
}

int chan_inst_callback(struct chan_inst *c, const struct iopd_request *rq, struct iopd_callback *out)
{
	int (*cb)(void *, const struct iopd_request *, struct iopd_callback *);

	assert(c && c->magic == PH_CHAN_MAGIC);
	memset(out, 0, sizeof *out);
	if (!c->has_inbound || !c->live || !(cb = ph_op_callback(c)))
		return -1;
	return cb(c->inst, rq, out) == 0 ? 0 : -1;
}

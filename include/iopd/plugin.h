/* iopd/plugin.h - the interface between iopd and its delivery plugins.
 *
 * This is the only header a plugin includes.  A plugin is a shared object
 * (plugin_dir/NAME.so) that exports exactly one symbol, `iopd_plugin`, a
 * constant descriptor.  iopd loads it with dlopen(RTLD_NOW | RTLD_LOCAL),
 * refuses a different ABI major, and then, for every channel of the
 * configuration whose `module` is NAME, makes one instance:
 *
 *     configure -> start -> send ... send -> stop
 *
 * All calls except `configure` happen on iopd's event-loop thread, one at a
 * time, so a plugin needs no locks.  A plugin must never block that thread:
 * network I/O goes through host->http_submit (one libcurl multi handle that
 * iopd drives from its loop), waits go through host->timer_start.
 *
 * ABI rules: a new minor version only appends members to the end of
 * struct iopd_host and struct iopd_plugin_ops; both carry their size, so
 * either side can tell whether a member exists.  Anything else is a new
 * major version.  See iopd-plugin(7) and plugins/example/example.c.
 */
#ifndef IOPD_PLUGIN_H
#define IOPD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <libconfig.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOPD_PLUGIN_ABI_MAJOR 1
#define IOPD_PLUGIN_ABI_MINOR 0

#if defined(__GNUC__)
#define IOPD_PLUGIN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define IOPD_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define IOPD_PLUGIN_PRINTF(f, a)
#define IOPD_PLUGIN_EXPORT
#endif

/* Which contact detail of a patient a module addresses (SPEC 4.2). */
enum iopd_contact {
	IOPD_CONTACT_NONE = 0,         /* webhook, console: always have a recipient */
	IOPD_CONTACT_PHONE = 1,        /* the patient's E.164 `phone` */
	IOPD_CONTACT_EMAIL = 2         /* the patient's `email` */
};

/* Log priorities: the syslog(3) numbers. */
enum iopd_log_level {
	IOPD_LOG_ERR = 3,
	IOPD_LOG_WARNING = 4,
	IOPD_LOG_NOTICE = 5,
	IOPD_LOG_INFO = 6,
	IOPD_LOG_DEBUG = 7
};

/* What became of one send. */
enum iopd_result {
	IOPD_DELIVERED = 0,            /* the gateway accepted it */
	IOPD_TRANSIENT = 1,            /* try again later (network, 429, 5xx, SMTP 4xx) */
	IOPD_PERMANENT = 2,            /* never try again (other 4xx, SMTP 5xx, bad number) */
	IOPD_OPTED_OUT = 3             /* the recipient unsubscribed at the gateway */
};

/* One rendered reminder, ready to leave.
 *
 * Ownership: the host owns the message and every string in it.  They stay
 * valid until the plugin calls `done` for this send, or until the host
 * calls `cancel` for it; a plugin that needs them longer copies them. */
struct iopd_message {
	const char *id;                /* 16 hex digits: the idempotency key, stable across retries */
	const char *kind;              /* "session" | "appointment" | "medication" | "aftercare" | "test" */
	const char *patient;           /* patient id (never a name) */
	const char *channel;           /* the channel's name */
	const char *to;                /* phone or email per the module's contact; NULL for NONE */
	const char *text;              /* the SMS / console text (UTF-8) */
	const char *subject;           /* e-mail subject (UTF-8) */
	const char *body;              /* e-mail body (UTF-8) */
	int64_t event;                 /* the event's instant, Unix seconds */
	int64_t due;                   /* when it fell due, Unix seconds */
	int64_t expires;               /* useless at or after this instant (0: never) */
	int attempt;                   /* 1 for the first try */
};

/* The outcome a plugin reports through `done`.
 * Ownership: the plugin owns the strings; the host copies what it keeps
 * before `done` returns. */
struct iopd_outcome {
	enum iopd_result result;
	const char *gateway_id;        /* DELIVERED: the gateway's message id, or NULL */
	const char *reason;            /* otherwise: short reason, e.g. "HTTP 503", "twilio 21211".
	                                * Never contact details or message text. */
	double retry_after;            /* TRANSIENT: seconds the gateway asked us to wait, or < 0 */
};

/* Called exactly once per send that was not cancelled, on the loop thread.
 * It may be called from inside `send` (a synchronous outcome). */
typedef void (*iopd_done_fn)(void *token, const struct iopd_outcome *outcome);

/* Called when a transfer submitted with http_submit ends (success or not).
 * `rc` is the transfer's CURLcode.  The easy handle has already been
 * removed from the multi handle and belongs to the plugin again. */
typedef void (*iopd_http_fn)(CURL *easy, CURLcode rc, void *arg);

typedef void (*iopd_timer_fn)(void *arg);

struct iopd_timer;                     /* opaque */

/* Settings common to every channel, parsed by the host. */
struct iopd_channel_info {
	const char *name;              /* the channel's `name` */
	double timeout;                /* seconds, from `timeout` (default 15) */
	int insecure_tls;              /* `insecure_tls`: skip TLS verification (tests only) */
};

/* Services the host lends a plugin instance.  One per instance; valid from
 * `configure` until `stop` returns.  Members may only be called on the loop
 * thread, except log, conf_error, conf_check_keys and secret_load, which
 * are also allowed in `configure`. */
struct iopd_host {
	size_t size;                   /* sizeof(struct iopd_host) of the host */
	uint32_t abi_major, abi_minor;

	/* log: one line, prefixed by the host with the channel's name.  Never
	 * pass contact details or message text at IOPD_LOG_INFO or above. */
	void (*log)(const struct iopd_host *h, int level, const char *fmt, ...)
	    IOPD_PLUGIN_PRINTF(3, 4);

	/* conf_error: reports a configuration error at setting `s` as
	 * "FILE:LINE: channel NAME: message".  configure then returns NULL. */
	void (*conf_error)(const struct iopd_host *h, const config_setting_t *s,
	    const char *fmt, ...) IOPD_PLUGIN_PRINTF(3, 4);

	/* conf_check_keys: reports every member of group `s` that is neither a
	 * common channel key nor listed in the NULL-terminated `allowed`.
	 * Returns the number of unknown keys. */
	int (*conf_check_keys)(const struct iopd_host *h, const config_setting_t *s,
	    const char *const *allowed);

	/* secret_load: the channel's secret, from `token_file` (the file's
	 * content less one trailing newline; refused if readable by "other")
	 * or `token_credential` (a file in $CREDENTIALS_DIRECTORY).  Returns a
	 * malloc'd string the plugin releases with secret_free, or NULL: if
	 * `required`, after reporting the error with conf_error; if not and
	 * no secret key is set, silently.  Never log the result. */
	char *(*secret_load)(const struct iopd_host *h, const config_setting_t *s, int required);
	void (*secret_free)(char *secret);          /* wipes, then frees; NULL is fine */

	/* http_submit: adds an easy handle to the host's multi handle.  The
	 * plugin sets every option it needs (URL, body, headers, timeouts)
	 * except CURLOPT_PRIVATE and the share handle, which belong to the
	 * host.  The easy handle stays the plugin's; `done` is called once when
	 * the transfer ends, unless http_cancel was called first.  Returns 0,
	 * or -1 if the handle could not be added (then `done` is not called). */
	int (*http_submit)(const struct iopd_host *h, CURL *easy, iopd_http_fn done, void *arg);
	/* http_cancel: removes a submitted handle; its `done` will not run. */
	void (*http_cancel)(const struct iopd_host *h, CURL *easy);

	/* timer_start: calls fn(arg) once, after `seconds` (0 is the next loop
	 * iteration).  The host frees the timer after fn returns; timer_stop
	 * before that cancels and frees it.  Returns NULL only on shutdown. */
	struct iopd_timer *(*timer_start)(const struct iopd_host *h, double seconds,
	    iopd_timer_fn fn, void *arg);
	void (*timer_stop)(const struct iopd_host *h, struct iopd_timer *t);

	/* now: the loop's idea of the current time, Unix seconds. */
	double (*now)(const struct iopd_host *h);

	void *host_data;               /* the host's own; plugins leave it alone */
};

/* A plugin's operations.  `inst` is whatever configure returned. */
struct iopd_plugin_ops {
	/* configure: reads the channel's own group `s` (which also holds the
	 * common keys; check yours with conf_check_keys) and returns a new
	 * instance, or NULL after reporting every error with conf_error.  May
	 * run on a thread other than the loop's, for a reload: no network, no
	 * timers, no global state.  The host keeps `h` valid for the instance. */
	void *(*configure)(const struct iopd_host *h, const config_setting_t *s,
	    const struct iopd_channel_info *info);

	/* start: the instance goes live (loop services may now be used).
	 * Returns 0, or -1 after logging why: the channel is then out of
	 * service and its reminders fail as transient until a reload. */
	int (*start)(void *inst);

	/* send: begins delivering `m`; reports the outcome through
	 * done(token, ...) exactly once, now or later. */
	void (*send)(void *inst, const struct iopd_message *m, iopd_done_fn done, void *token);

	/* cancel: abandons the send identified by `token` (shutdown past its
	 * drain bound).  `done` must not be called for it afterwards. */
	void (*cancel)(void *inst, void *token);

	/* stop: frees the instance.  Called when no send is outstanding. */
	void (*stop)(void *inst);
};

/* The descriptor every plugin exports as `iopd_plugin`. */
struct iopd_plugin {
	uint32_t abi_major;            /* IOPD_PLUGIN_ABI_MAJOR */
	uint32_t abi_minor;            /* IOPD_PLUGIN_ABI_MINOR */
	const char *name;              /* the module name, e.g. "sms" */
	const char *version;           /* the plugin's own version text */
	enum iopd_contact contact;
	size_t ops_size;               /* sizeof(struct iopd_plugin_ops) */
	const struct iopd_plugin_ops *ops;
};

#define IOPD_PLUGIN_SYMBOL "iopd_plugin"
extern const struct iopd_plugin iopd_plugin;

#define IOPD_PLUGIN_DEFINE(NAME, VERSION, CONTACT, OPS)                       \
	IOPD_PLUGIN_EXPORT const struct iopd_plugin iopd_plugin = {            \
		IOPD_PLUGIN_ABI_MAJOR, IOPD_PLUGIN_ABI_MINOR, (NAME), (VERSION), \
		(CONTACT), sizeof(struct iopd_plugin_ops), &(OPS)              \
	}

#ifdef __cplusplus
}
#endif
#endif

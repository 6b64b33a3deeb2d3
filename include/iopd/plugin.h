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
 *
 * ABI 1.1 (two-way SMS) added: host->callback_url; the operations
 * `inbound` and `callback`; the message kinds "reply" (an answer to a
 * patient's text) and "notice" (a JSON body for the staff webhook, to be
 * posted verbatim).  A plugin built against 1.0 still loads: it simply
 * takes no callbacks and is never given a notice.
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
#define IOPD_PLUGIN_ABI_MINOR 1

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
 * Since ABI 1.1 a message may also be an answer to a patient's text (kind
 * "reply": `text` as for a reminder, `event` and `due` the time of the
 * text) or, for a channel chosen as the staff channel, a "notice": `body`
 * holds a JSON document to post verbatim (`text` and `subject` name what
 * it is about, e.g. "reply" or "failed"); `to` is NULL.  Only plugins
 * built for ABI 1.1 or later are given notices.
 *
 * Ownership: the host owns the message and every string in it.  They stay
 * valid until the plugin calls `done` for this send, or until the host
 * calls `cancel` for it; a plugin that needs them longer copies them. */
struct iopd_message {
	const char *id;                /* 16 hex digits: the idempotency key, stable across retries */
	const char *kind;              /* "session" | "appointment" | "medication" | "aftercare" | "test"
	                                * | "reply" | "notice" (ABI 1.1) */
	const char *patient;           /* patient id (never a name) */
	const char *channel;           /* the channel's name */
	const char *to;                /* phone or email per the module's contact; NULL for NONE */
	const char *text;              /* the SMS / console text (UTF-8) */
	const char *subject;           /* e-mail subject (UTF-8) */
	const char *body;              /* e-mail body (UTF-8); "notice": the JSON to post */
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

	/* ---- ABI 1.1: check h->size (offsetof the member + its size) before
	 * calling one; a 1.0 host does not have them. ---- */

	/* NAME
	 *	callback_url - where the gateway calls iopd back
	 * DESCRIPTION
	 *	The absolute URL the channel's gateway should call for `what`:
	 *	"status" (delivery reports) or "reply" (incoming messages).  It
	 *	is the `public_url` of iopd's `inbound` block, then
	 *	"/sms/CHANNEL/WHAT", then, for a channel whose callbacks are
	 *	authenticated by a key (IOPD_AUTH_KEY), "?key=KEY" (escaped).  A
	 *	plugin adds its own parameters after it ('&' if the URL already
	 *	holds a '?', else '?').  The URL may hold a secret: never log it.
	 * RETURN VALUE
	 *	A host-owned string, valid until `stop`; NULL when iopd has no
	 *	`inbound` block (then a send asks for no callbacks).  Callable
	 *	from `start` on, on the loop thread. */
	const char *(*callback_url)(const struct iopd_host *h, const char *what);
};

/* ---- ABI 1.1: callbacks from a gateway ------------------------------- */

/* How the host authenticates the callbacks of a channel (the host holds
 * the secrets and checks them before the plugin sees a request). */
enum iopd_auth {
	IOPD_AUTH_TWILIO = 1,          /* X-Twilio-Signature: base64 HMAC-SHA1 keyed by the
	                                * channel's secret (token_file), over public_url + path
	                                * + each POST parameter's name and value, sorted */
	IOPD_AUTH_KEY = 2              /* a `key` parameter equal to the content of the
	                                * channel's callback_key_file (constant-time compare) */
};

/* What an instance takes from its gateway, filled by the `inbound` op. */
struct iopd_inbound {
	int auth;                      /* enum iopd_auth */
	const char *method;            /* "POST" (form body) or "GET" (query string); static */
	int replies;                   /* the default of the channel's `replies`: 1 when iopd
	                                * should answer keywords itself, 0 when the gateway does */
};

struct iopd_param {
	const char *name, *value;      /* percent-decoded, NUL-terminated */
};

/* One authenticated request for this channel.  Host-owned; valid while
 * the `callback` op runs. */
struct iopd_request {
	const char *what;              /* "reply" or "status": the path's last segment */
	const struct iopd_param *params;   /* the query's, then the form body's, as received */
	size_t nparams;
};

enum iopd_callback_type {
	IOPD_CALLBACK_NONE = 0,        /* taken, nothing to record (a gateway's test ping) */
	IOPD_CALLBACK_REPLY = 1,       /* a text from a patient's phone */
	IOPD_CALLBACK_RECEIPT = 2      /* a delivery report of a send */
};

/* A delivery report's meaning.  Only the final ones are recorded. */
enum iopd_receipt {
	IOPD_RECEIPT_INTERIM = 0,      /* a stage on the way (queued, sent, the SMSC's ack) */
	IOPD_RECEIPT_DELIVERED = 1,    /* on the handset */
	IOPD_RECEIPT_UNDELIVERED = 2,  /* the carrier could not deliver it */
	IOPD_RECEIPT_FAILED = 3,       /* it never left the gateway, or the SMSC refused it */
	IOPD_RECEIPT_READ = 4          /* delivered and read (recorded as delivered) */
};

/* What the plugin made of a request, filled by the `callback` op.
 * Ownership: the strings point into the request or into the instance;
 * they stay valid until `callback` is called again for this instance or
 * the instance stops.  The host copies what it keeps.  Never put contact
 * details or the text in `dedup`, `stage` or `reason`. */
struct iopd_callback {
	int type;                      /* enum iopd_callback_type */
	const char *dedup;             /* what the gateway repeats when it delivers the same
	                                * callback again (Twilio: MessageSid and status;
	                                * Kannel: id and type), or NULL: nothing to tell by */
	/* IOPD_CALLBACK_REPLY */
	const char *from;              /* the sender's phone, E.164 */
	const char *text;              /* the message (UTF-8): never log or keep it */
	/* IOPD_CALLBACK_RECEIPT */
	const char *reminder;          /* the id (16 hex digits) the send carried, or NULL */
	const char *gateway_id;        /* the gateway's message id, or NULL */
	int receipt;                   /* enum iopd_receipt */
	const char *stage;             /* the gateway's own word for it ("delivered", "16") */
	const char *reason;            /* why it failed, e.g. "twilio 30003", or NULL */
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

	/* ---- ABI 1.1: the host reads them only when ops_size covers them;
	 * NULL means "not supported". ---- */

	/* NAME
	 *	inbound - does this instance take callbacks from its gateway?
	 * DESCRIPTION
	 *	Called once after `configure` returned the instance, on the same
	 *	thread (maybe not the loop's).  Fills `in`: how the host must
	 *	authenticate the callbacks, which HTTP method the gateway uses,
	 *	and the default of the channel's `replies`.
	 * RETURN VALUE
	 *	0 when the instance takes callbacks, -1 when it does not. */
	int (*inbound)(void *inst, struct iopd_inbound *in);

	/* NAME
	 *	callback - reads one callback of the channel's gateway
	 * DESCRIPTION
	 *	The host has routed the request (POST or GET /sms/CHANNEL/WHAT)
	 *	and authenticated it; the plugin only reads its parameters into
	 *	`out` (a reply's sender and text, or a receipt's id and state).
	 *	The host records it, answers the gateway and acts on it (consent,
	 *	answers, fallback); the plugin sends nothing here and must not
	 *	block.  Called on the loop thread.
	 * RETURN VALUE
	 *	0 when `out` is filled (the host answers 200), -1 when the
	 *	request is malformed (the host answers 400 and records nothing). */
	int (*callback)(void *inst, const struct iopd_request *rq, struct iopd_callback *out);
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

/* Does a struct of `size` bytes (a host's h->size, a descriptor's
 * ops_size) reach past `member` of `type`?  For members added by a minor
 * version, e.g. IOPD_ABI_HAS(h->size, struct iopd_host, callback_url). */
#define IOPD_ABI_HAS(size, type, member) \
	((size) >= offsetof(type, member) + sizeof(((type *)0)->member))

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

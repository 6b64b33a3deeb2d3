/* example.c - a starting point for iopd plugin authors.
 *
 * Copy this file to plugins/NAME/NAME.c, rename "example" everywhere, and
 * replace the fake delivery in example_fire() with real work.  It shows:
 *
 *   - configure: checking keys with conf_check_keys, reading a typed key
 *     and reporting a bad value at its FILE:LINE with conf_error, loading
 *     an optional secret;
 *   - send: an asynchronous delivery (here: a timer standing in for a
 *     gateway round trip), with the outcome reported through `done`;
 *     the message kinds of ABI 1.1 ("reply", "notice");
 *   - cancel and stop, with who-owns-what spelled out;
 *   - the ABI 1.1 operations for gateways that call back (inbound,
 *     callback), which this plugin leaves NULL: see the end of the file.
 *
 * A real gateway module would build a CURL easy handle in send, hand it to
 * host->http_submit and report the outcome from the transfer's callback;
 * the ownership is the same as for the timer below (see plugins/webhook).
 *
 * Configuration (channel group; the common keys are parsed by the host):
 *
 *     channel = { name = "try"; module = "example";
 *                 delay = 0.05;              # seconds, 0..60, default 0.01
 *                 token_file = "try.token";  # optional
 *               };
 *
 * Test hook: a message whose text contains "transient" or "permanent"
 * ends that way instead of being delivered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopd/plugin.h"

/* One configured channel.  Everything here is the plugin's to free. */
struct example {
	const struct iopd_host *h;     /* valid until example_stop returns */
	double delay;
	char *secret;                  /* NULL without token_file/token_credential */
	struct example_send *sends;    /* outstanding sends, for cancel and stop */
};

/* One send in flight.  The plugin owns it from send until it calls `done`
 * or the host cancels it; the message it came from stays the host's and
 * is valid for just as long, so anything kept past that is copied. */
struct example_send {
	struct example *ex;
	struct iopd_timer *timer;      /* the host's; freed by it after firing */
	iopd_done_fn done;
	void *token;                   /* the host's: it identifies the send */
	enum iopd_result result;
	char gateway_id[32];           /* copied: the host's `id` may be gone */
	struct example_send *next;
};

/* Keys of our own; conf_check_keys adds the common ones (name, module,
 * timeout, token_file, ...). */
static const char *const example_keys[] = {"delay", NULL};

/* A typed key: absent means the default, present must be a number in
 * range.  Errors go through conf_error so the admin reads
 * "FILE:LINE: channel NAME: delay must be ...". */
static int example_delay(const struct iopd_host *h, const config_setting_t *s, double *delay)
{
	const config_setting_t *d = config_setting_get_member(s, "delay");

	*delay = 0.01;
	if (!d)
		return 0;
	switch (config_setting_type(d)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		*delay = (double)config_setting_get_int64(d);
		break;
	case CONFIG_TYPE_FLOAT:
		*delay = config_setting_get_float(d);
		break;
	default:
		h->conf_error(h, d, "delay must be a number of seconds");
		return -1;
	}
	if (!(*delay >= 0.0 && *delay <= 60.0)) {
		h->conf_error(h, d, "delay must be between 0 and 60 seconds");
		return -1;
	}
	return 0;
}

/* configure: may run off the loop thread (on a reload), so it only reads
 * the configuration: no network, no timers, no global state.  Report
 * EVERY error before returning NULL, so the admin fixes all in one go. */
static void *example_configure(const struct iopd_host *h, const config_setting_t *s,
    const struct iopd_channel_info *info)
{
	struct example *ex;
	double delay;
	int bad = 0;

	(void)info;                    /* info->timeout would bound a real request */
	if (h->conf_check_keys(h, s, example_keys) > 0)
		bad = 1;
	if (example_delay(h, s, &delay) < 0)
		bad = 1;
	if (bad)
		return NULL;
	ex = calloc(1, sizeof *ex);
	if (!ex) {
		h->conf_error(h, s, "out of memory");
		return NULL;
	}
	ex->h = h;
	ex->delay = delay;
	/* Optional (required = 0): NULL and silence when no secret key is set,
	 * NULL after a conf_error when one is set but unusable. */
	ex->secret = h->secret_load(h, s, 0);
	if (!ex->secret && (config_setting_get_member(s, "token_file") ||
	    config_setting_get_member(s, "token_credential"))) {
		free(ex);
		return NULL;
	}
	return ex;
}

/* start: the loop's services (timers, http) may be used from now on. */
static int example_start(void *inst)
{
	struct example *ex = inst;

	ex->h->log(ex->h, IOPD_LOG_DEBUG, "example: started, delay %.3f s%s", ex->delay,
	    ex->secret ? ", with a secret" : "");      /* never the secret itself */
	return 0;
}

static void example_unlink(struct example *ex, struct example_send *snd)
{
	struct example_send **p;

	for (p = &ex->sends; *p; p = &(*p)->next)
		if (*p == snd) {
			*p = snd->next;
			return;
		}
}

/* The "gateway" answered.  The host frees the timer after we return, so
 * we only forget our pointer to it. */
static void example_fire(void *arg)
{
	struct example_send *snd = arg;
	struct iopd_outcome o = {snd->result, NULL, NULL, -1.0};

	if (o.result == IOPD_DELIVERED)
		o.gateway_id = snd->gateway_id;
	else if (o.result == IOPD_TRANSIENT) {
		o.reason = "example: transient failure requested";
		o.retry_after = 5.0;
	} else
		o.reason = "example: permanent failure requested";
	example_unlink(snd->ex, snd);
	/* `done` is the last thing we do with this send: the host may start
	 * another send (even through this plugin) from inside it. */
	snd->done(snd->token, &o);      /* the host copies o's strings */
	free(snd);
}

/* send: start the delivery and return at once; never block. */
static void example_send(void *inst, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	struct example *ex = inst;
	struct example_send *snd = calloc(1, sizeof *snd);
	struct iopd_outcome oom = {IOPD_TRANSIENT, NULL, "example: out of memory", -1.0};

	if (!snd) {
		done(token, &oom);      /* a synchronous outcome is allowed */
		return;
	}
	snd->ex = ex;
	snd->done = done;
	snd->token = token;
	snd->result = IOPD_DELIVERED;
	/* ABI 1.1: a "notice" is for a channel chosen as inbound.staff; its
	 * body is a JSON document to post verbatim (the webhook module does).
	 * A "reply" is iopd's answer to a patient's text: send it like any
	 * text.  This plugin delivers both like the rest. */
	if (strcmp(m->kind, "notice") == 0)
		ex->h->log(ex->h, IOPD_LOG_DEBUG, "example: a %s notice of %zu bytes", m->text,
		    m->body ? strlen(m->body) : (size_t)0);
	if (m->text && strstr(m->text, "transient"))
		snd->result = IOPD_TRANSIENT;
	else if (m->text && strstr(m->text, "permanent"))
		snd->result = IOPD_PERMANENT;
	/* Message text never goes into a log line or a reason; ids may. */
	snprintf(snd->gateway_id, sizeof snd->gateway_id, "example-%s", m->id);
	snd->timer = ex->h->timer_start(ex->h, ex->delay, example_fire, snd);
	if (!snd->timer) {              /* only while iopd shuts down */
		oom.reason = "example: shutting down";
		free(snd);
		done(token, &oom);
		return;
	}
	snd->next = ex->sends;
	ex->sends = snd;
}

/* cancel: the host gives up on `token`.  Stop what runs for it (a timer
 * here; http_cancel for a transfer) and free it; `done` must never be
 * called for it afterwards. */
static void example_cancel(void *inst, void *token)
{
	struct example *ex = inst;
	struct example_send *snd;

	for (snd = ex->sends; snd; snd = snd->next)
		if (snd->token == token) {
			ex->h->timer_stop(ex->h, snd->timer);   /* frees the timer */
			example_unlink(ex, snd);
			free(snd);
			return;
		}
}

/* stop: free the instance.  The host calls it once no send is outstanding,
 * and also for an instance that was configured but never started (a
 * reload rejected elsewhere), so it must not assume start ran.  The loop
 * below is defensive: it finds nothing when the host keeps its word. */
static void example_stop(void *inst)
{
	struct example *ex = inst;

	while (ex->sends)
		example_cancel(ex, ex->sends->token);
	ex->h->secret_free(ex->secret);                 /* wipes, then frees */
	free(ex);
}

/* ABI 1.1: callbacks.  A gateway module that hears back from its gateway
 * (delivery reports, patients' texts) fills in two more operations:
 *
 *   int inbound(void *inst, struct iopd_inbound *in)
 *       right after configure: return -1 (no callbacks), or say how iopd
 *       must authenticate them (IOPD_AUTH_TWILIO: the gateway signs with
 *       the channel's token; IOPD_AUTH_KEY: it presents the channel's
 *       callback_key_file), the HTTP method, and whether iopd should
 *       answer keywords (STOP, HELP ...) itself by default;
 *   int callback(void *inst, const struct iopd_request *rq, struct iopd_callback *out)
 *       read one authenticated request for /sms/CHANNEL/reply or /status
 *       into `out` (a reply's sender and text, or a receipt's id and
 *       state); return -1 if it is malformed.  Send nothing, keep nothing:
 *       iopd records, answers, and acts on consent.
 *
 * and, in send, asks its gateway to call back at host->callback_url(h,
 * "status") with the message id added (check IOPD_ABI_HAS(h->size, struct
 * iopd_host, callback_url) if the plugin may run under an older iopd).
 * plugins/sms/sms.c does all of it for Twilio and Kannel.  This plugin
 * has no gateway to hear from: NULL, as a plugin built for 1.0 has none. */
static const struct iopd_plugin_ops example_ops = {
	example_configure, example_start, example_send, example_cancel, example_stop,
	NULL, NULL                     /* inbound, callback */
};

/* The one exported symbol: ABI version, module name (must equal the file
 * name, example.so), version, which contact detail it addresses, ops. */
IOPD_PLUGIN_DEFINE("example", "1.0", IOPD_CONTACT_NONE, example_ops);

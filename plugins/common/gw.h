/* gw.h - helpers shared by the network delivery plugins (sms, smtp, webhook).
 *
 * "gw" for gateway.  Compiled into each of the three plugin modules (every
 * module is its own shared object and, built with -fvisibility=hidden,
 * exports none of these names) and into their unit tests.
 *
 * Four parts (the first in gw_text.c, the others in gw.c):
 *   - text: growable buffers, form and JSON encoders, a JSON member
 *     scanner, Retry-After / HTTP-date parsing, and the cleaning of
 *     anything a gateway says before it reaches a log or the ledger;
 *   - configuration: typed key readers that report at the key's line;
 *   - curl: the options every transfer needs (timeout, TLS, no signals)
 *     and the capture of a reply's body and Retry-After header;
 *   - sends in flight: the bookkeeping of plugin.h's completion rules
 *     (done exactly once, never after cancel), shared by all three.
 *
 * Ownership in one sentence: everything a struct gw_xfer points to is the
 * xfer's, and the xfer is the plugin's from gw_xfer_new until it either
 * reports its outcome (gw_xfer_finish) or is cancelled. */
#ifndef IOPD_PLUGIN_GW_H
#define IOPD_PLUGIN_GW_H

#include <stddef.h>
#include <stdint.h>

#include "iopd/plugin.h"

#define GW_REASON_MAX 160              /* an outcome's reason, with its NUL */
#define GW_ID_MAX 128                  /* a gateway message id, with its NUL */
#define GW_BODY_MAX (16 * 1024)        /* of a reply body we keep; the rest is dropped */
#define GW_RETRY_AFTER_MAX 64          /* of the raw Retry-After value */

/* ------------------------------------------------------------------------
 * Text
 * --------------------------------------------------------------------- */

/* A growable, always NUL-terminated buffer.  An allocation failure puts it
 * in a failed state (`oom`): later additions do nothing, and the caller
 * checks once, at the end, instead of after every call. */
struct gw_buf {
	char *s;
	size_t len, cap;
	int oom;
};

void gw_buf_add(struct gw_buf *b, const void *p, size_t n);
void gw_buf_adds(struct gw_buf *b, const char *s);
void gw_buf_addc(struct gw_buf *b, char c);
void gw_buf_printf(struct gw_buf *b, const char *fmt, ...) IOPD_PLUGIN_PRINTF(2, 3);
void gw_buf_free(struct gw_buf *b);
void gw_buf_wipe(struct gw_buf *b);    /* zeroes, then frees: it held a secret */
/* The contents ("" when empty), or NULL after an allocation failure. */
const char *gw_buf_str(const struct gw_buf *b);

/* application/x-www-form-urlencoded (WHATWG): A-Z a-z 0-9 * - . _ stay,
 * space becomes '+', every other byte %XX.  Also right for a URL query. */
void gw_form_escape(struct gw_buf *b, const char *s);
/* Adds "s" as a JSON string: ", \ and control characters escaped, UTF-8
 * passed through. */
void gw_json_string(struct gw_buf *b, const char *s);

enum gw_json_type {
	GW_JSON_ABSENT = 0,            /* an object without that member */
	GW_JSON_INVALID,               /* not a JSON object (as far as it was read) */
	GW_JSON_STRING,
	GW_JSON_NUMBER,
	GW_JSON_NULL,
	GW_JSON_BOOL,
	GW_JSON_OBJECT,
	GW_JSON_ARRAY
};
/* Finds member `key` of the top-level object of the JSON text js[0..len),
 * skipping nested values (so "sid" inside "subresource_uris" is never
 * taken for the top-level "sid").  A string's value is unescaped into
 * out (UTF-8, truncated to outlen - 1 bytes); a number's text is copied.
 * out may be NULL.  The first of duplicate members wins. */
enum gw_json_type gw_json_member(const char *js, size_t len, const char *key,
    char *out, size_t outlen);

/* An HTTP-date (RFC 9110 5.6.7: IMF-fixdate, RFC 850 or asctime form) to
 * Unix seconds.  Returns 0, or -1 if it is none of those. */
int gw_http_date(const char *s, int64_t *t);
/* A Retry-After value (delay-seconds or HTTP-date) to seconds from `now`:
 * >= 0, or -1 if absent or malformed.  A date in the past gives 0. */
double gw_retry_after(const char *value, double now);

/* Copies what a gateway said (src[0..srclen), not NUL-terminated) into a
 * one-line reason: printable ASCII only, whitespace runs folded to one
 * space, trimmed, cut at n - 1 bytes, and every run of six or more digits
 * (a phone number, whatever the gateway chose to echo) masked as "#".
 * Returns dst. */
char *gw_reason_clean(char *dst, size_t n, const char *src, size_t srclen);
/* A gateway's message id, made safe to log and store: bytes 0x21..0x7e
 * only (others become '_'), at most n - 1.  Returns 0, or -1 if src is
 * empty (then dst is ""). */
int gw_token_clean(char *dst, size_t n, const char *src);
/* The last two digits of a phone number, as "**67", for log lines
 * (SPEC 7).  `buf` needs 8 bytes. */
const char *gw_phone_tail(const char *phone, char *buf);

/* What a transfer came to, before it becomes a struct iopd_outcome. */
struct gw_result {
	enum iopd_result result;
	double retry_after;            /* TRANSIENT: seconds, or < 0 */
	int auth_failed;               /* the gateway refused our credentials */
	int misdirected;               /* the reply is not the gateway's: the url is wrong */
	char reason[GW_REASON_MAX];    /* never contact details or message text */
	char gateway_id[GW_ID_MAX];    /* DELIVERED: "" = none */
};

void gw_result_init(struct gw_result *r);
void gw_result_set(struct gw_result *r, enum iopd_result res, const char *fmt, ...)
    IOPD_PLUGIN_PRINTF(3, 4);
/* The gateway refused our credentials (HTTP 401, Kannel's 403
 * "Authorization failed", SMTP 535): PERMANENT with auth_failed set, in all
 * three modules alike, as the contract classes other HTTP 4xx and SMTP 5xx.
 * A refused secret is the channel's configuration and fails every reminder
 * until the admin fixes it, so gw.c logs the first refusal at error level
 * (and the recovery), and each reminder is recorded failed with the reason,
 * where `iopctl status` and the metrics show it. */
void gw_result_auth(struct gw_result *r, const char *fmt, ...) IOPD_PLUGIN_PRINTF(2, 3);
/* The reply shows the channel is not talking to its gateway: a redirect
 * (never followed: a gateway's API does not move, a captive portal or a
 * wrong url does), or a success whose body is not the gateway's (Twilio's
 * JSON without a "sid").  PERMANENT with misdirected set: like refused
 * credentials it fails every send until the admin fixes the url, so gw.c
 * says it once at error level (and the recovery); retrying would only
 * hold each reminder until it expires. */
void gw_result_misdirected(struct gw_result *r, const char *fmt, ...) IOPD_PLUGIN_PRINTF(2, 3);
/* A transfer that failed in curl (no usable reply): TRANSIENT, with curl's
 * own words, and "TLS certificate verification failed" said plainly when
 * that is what happened. */
void gw_result_curl(struct gw_result *r, CURLcode rc, const char *errbuf);
/* The common reading of an HTTP status (SPEC 6), reason "HTTP <status>":
 *   2xx            DELIVERED
 *   401            gw_result_auth: our credentials were refused (PERMANENT)
 *   408, 429, 5xx  TRANSIENT, honouring Retry-After
 *   other 4xx      PERMANENT
 *   3xx            gw_result_misdirected: redirects are never followed
 *   anything else  TRANSIENT (1xx) */
void gw_http_status(struct gw_result *r, long status, const char *retry_after, double now);
/* The outcome to hand to `done`; it points into r. */
void gw_result_outcome(const struct gw_result *r, struct iopd_outcome *o);

/* ------------------------------------------------------------------------
 * Configuration
 * --------------------------------------------------------------------- */

/* The state of one configure run: every reader reports through the host
 * at the offending setting's line and counts, so configure reports every
 * error before it gives up. */
struct gw_conf {
	const struct iopd_host *h;
	const config_setting_t *group;
	int errors;
};

void gw_conf_error(struct gw_conf *c, const config_setting_t *s, const char *fmt, ...)
    IOPD_PLUGIN_PRINTF(3, 4);
/* A string key: NULL if absent (an error when `required`) or bad.  Control
 * characters are refused: these values end up in headers and URLs. */
const char *gw_conf_string(struct gw_conf *c, const char *key, int required);

/* A gateway URL.  `schemes` lists the accepted schemes (lower case);
 * `plain` names the one that is cleartext ("http"; NULL if none is): it is
 * accepted, with a warning unless the host is a loopback address (SPEC
 * 3.1).  Userinfo in the URL is refused: secrets come from files only.
 * Returns the index in `schemes`, or -1 after reporting. */
int gw_conf_url(struct gw_conf *c, const char *key, const char *url,
    const char *const *schemes, const char *plain);
/* Is this host name or address a loopback one?  ("localhost", *.localhost,
 * 127.0.0.0/8, ::1, with or without brackets.) */
int gw_host_is_loopback(const char *host);

/* The network settings every transfer of a channel uses. */
struct gw_net {
	long timeout_ms;               /* CURLOPT_TIMEOUT_MS, from info->timeout */
	int insecure_tls;              /* skip peer and host verification */
	char *ca_file;                 /* `ca_file`: trust these CAs instead (or NULL) */
	const char *protocols;         /* CURLOPT_PROTOCOLS_STR, e.g. "http,https" */
	const char *user_agent;        /* HTTP only; NULL for none */
};

/* Fills n from info and the optional `ca_file` key (an absolute path to a
 * readable PEM file).  Returns 0 or -1 after reporting. */
int gw_conf_net(struct gw_conf *c, const struct iopd_channel_info *info, struct gw_net *n,
    const char *protocols, const char *user_agent);
void gw_net_free(struct gw_net *n);
/* The options every transfer of a channel gets (URL, timeout, TLS, no
 * signals, error buffer of CURL_ERROR_SIZE); gw_xfer_new uses it, a
 * module's own transfers (a probe at start) too.  Returns 0 or -1. */
int gw_easy_opts(CURL *e, const struct gw_net *n, const char *url, char *errbuf);

/* ------------------------------------------------------------------------
 * Sends in flight
 * --------------------------------------------------------------------- */

struct gw_xfer;

/* Turns a finished transfer into a result.  Runs on the loop thread; the
 * message is still valid (its send has not completed yet). */
typedef void (*gw_classify_fn)(void *owner, struct gw_xfer *x, CURLcode rc,
    struct gw_result *r);

/* The sends one instance has in flight. */
struct gw_xfers {
	const struct iopd_host *h;
	void *owner;                   /* the plugin instance, passed to classify */
	gw_classify_fn classify;
	const char *module;            /* for log lines */
	struct gw_xfer *head;
	size_t count;
	int auth_failing;              /* for logging that once, and the recovery */
	int misdirected;               /* the same for a wrong url */
	CURL **idle;                   /* easy handles of finished sends, reset, for reuse */
	size_t nidle;
};

/* A reply as curl delivered it. */
struct gw_reply {
	struct gw_buf body;            /* at most GW_BODY_MAX bytes of it */
	char retry_after[GW_RETRY_AFTER_MAX]; /* the raw header value, "" if none */
};

/* One send.  The plugin fills `easy` (created by gw_xfer_new with the
 * common options set), its request and the rest; everything here is freed
 * with the xfer. */
struct gw_xfer {
	unsigned magic;
	struct gw_xfers *list;
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers;    /* CURLOPT_HTTPHEADER */
	struct curl_slist *rcpt;       /* CURLOPT_MAIL_RCPT */
	struct gw_buf req;             /* the request body / message; wiped at free */
	size_t req_off;                /* upload position (CURLOPT_READFUNCTION) */
	struct gw_reply reply;         /* SMTP: reply.body gets the server's reply lines */
	char id[24];                   /* the message id (16 hex digits) */
	const struct iopd_message *m;  /* valid until done is called */
	iopd_done_fn done;
	void *token;
	struct gw_xfer *prev, *next;
};

/* A new xfer for message m with an easy handle carrying the common options
 * (URL, timeout, TLS, no signals, error buffer) and, when `capture`, the
 * HTTP reply capture.  On failure reports TRANSIENT through done and
 * returns NULL. */
struct gw_xfer *gw_xfer_new(struct gw_xfers *l, const struct gw_net *n, const char *url,
    int capture, const struct iopd_message *m, iopd_done_fn done, void *token);
/* Appends a header line to x->headers.  Returns 0, or -1 when out of
 * memory or when the line holds a CR or LF (a header injection). */
int gw_xfer_header(struct gw_xfer *x, const char *fmt, ...) IOPD_PLUGIN_PRINTF(2, 3);
/* Hands the transfer to the host.  If the host refuses it, reports
 * TRANSIENT and frees x.  Either way x must not be used afterwards by the
 * caller (the outcome may already have been reported). */
void gw_xfer_submit(struct gw_xfer *x);
/* Reports an outcome for an xfer not (or no longer) in the host's hands,
 * and frees it: for failures found before submitting. */
void gw_xfer_fail(struct gw_xfer *x, enum iopd_result res, const char *reason);
/* cancel(token): withdraws and frees the send, without calling done. */
void gw_xfers_cancel(struct gw_xfers *l, void *token);
/* stop: cancels whatever is left (nothing, if the host keeps its word),
 * and frees the idle easy handles. */
void gw_xfers_drop_all(struct gw_xfers *l);

/* CURLOPT_READFUNCTION and CURLOPT_SEEKFUNCTION over x->req (the upload
 * of an e-mail; the seek lets libcurl rewind and send it again). */
size_t gw_read_req(char *dst, size_t size, size_t nmemb, void *arg);
int gw_seek_req(void *arg, curl_off_t offset, int origin);

#endif

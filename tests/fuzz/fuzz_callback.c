/* fuzz_callback.c - the gateways' callbacks (SPEC 8), from the bytes of a
 * request to what a patient's text means: what anyone who can reach the
 * inbound listener sends.
 *
 * The input is one request as httpd.c hands it over: a request line
 * ("POST /sms/sms/status?id=... HTTP/1.1"), header lines, an empty line
 * and the body.  The harness reads it as httpd.c and inbound.c do:
 *   - the path is %-decoded, the query and an x-www-form-urlencoded body
 *     (by Content-Type) are parsed (daemon/form.c);
 *   - /sms/CHANNEL/reply or /status is routed; the parameters are those of
 *     the query but `key`, then the body's;
 *   - Twilio's signature of the POST parameters is computed and checked,
 *     as is a Kannel key (daemon/signature.c);
 *   - the sms module reads the request as Twilio's webhook and as Kannel's
 *     get-url (plugins/sms/sms_fmt.c: both readings, whichever the method,
 *     since the channel's api decides, not the request), whether or not it
 *     is authentic (the fuzzer cannot sign);
 *   - a reply's text gets its intent (daemon/keyword.c).
 * Invariants:
 *   - form: what parses is exactly the reference decoding of the bytes
 *     (no name or value holds a NUL or is cut short); what does not parse
 *     (a bad %-escape, %00, a NUL byte) leaves the form as it was;
 *   - signature: the one computed verifies; one byte changed anywhere
 *     (URL, a POST name or value, the signature) does not; the order of
 *     the parameters does not matter; a given header verifies exactly
 *     when it is that signature; a key matches exactly when equal;
 *   - reading: a request read is a reply (a sender, a text) or a receipt
 *     (one of the known states, our id or none, a printable stage and
 *     key, a reason without a phone-number-long run of digits); the key
 *     is not cut short; and nothing the daemon logs or keeps of it
 *     (type, key, stage, reason, ids) changes when the text or the phone
 *     numbers change: a reply's text and the numbers are never logged;
 *   - intent: one of the table's, the same whatever the case of the
 *     letters and the spaces and punctuation around the text; the sender
 *     being opted out by a reply changes YES only. */
#include "config.h"

#include <strings.h>

#include "fuzz.h"

#include "form.h"
#include "keyword.h"
#include "signature.h"
#include "util.h"

#include "../../plugins/sms/sms_fmt.h"

#define PUBLIC_URL "https://iopd.example.org"
#define TWILIO_TOKEN "7d1a6c2e9f0b4c8da3e5f61728394a5b"   /* signs the corpus */
#define KANNEL_KEY "K3y-of-the-channel"

/* RIG 1c: the vector of Twilio's own libraries. */
static void twilio_vector(void)
{
	static const struct iopd_param p[] = {
		{"To", "+18005551212"}, {"Digits", "1234"}, {"CallSid", "CA1234567890ABCDE"},
		{"From", "+14158675309"}, {"Caller", "+14158675309"},
	};
	static const char url[] = "https://mycompany.com/myapp.php?foo=1&bar=2";
	char sig[SIG_TWILIO_LEN + 1];

	FUZZ_CHECK(sig_twilio("12345", url, p, FUZZ_NELEM(p), sig) == 0);
	FUZZ_CHECK(strcmp(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=") == 0);
	FUZZ_CHECK(sig_twilio_ok("12345", url, p, FUZZ_NELEM(p), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
	FUZZ_CHECK(!sig_twilio_ok("12345", url, p, FUZZ_NELEM(p), "RSOYDt4T1cUTdK1PDd93/VVr8B9="));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	twilio_vector();
	return 0;
}

/* A byte other than c, never NUL: what "one byte changed" writes. */
static char other(char c)
{
	return c == 'x' ? 'y' : 'x';
}

/* FNV-1a of the input: where to change a byte, the same for each run. */
static uint32_t input_hash(const uint8_t *d, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *d++) * 16777619u;
	return h;
}

/* ---- the form: a reference decoding -------------------------------------- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* `n` bytes at s decoded into out (n bytes of room): the length, or -1
 * for what must be refused (a bad or %00 escape, a NUL byte). */
static long ref_decode(const char *s, size_t n, bool plus, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\0')
			return -1;
		if (s[i] == '%') {
			if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0 ||
			    hexval(s[i + 1]) * 16 + hexval(s[i + 2]) == 0)
				return -1;
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i] == '+' && plus ? ' ' : s[i];
		}
	}
	return (long)o;
}

/* Does the decoded C string `got` hold exactly the reference decoding? */
static void same_decoding(const char *got, const char *s, size_t n, bool plus)
{
	char *want = malloc(n ? n : 1);
	long len = ref_decode(s, n, plus, want);

	FUZZ_CHECK(len >= 0 && strlen(got) == (size_t)len && memcmp(got, want, (size_t)len) == 0);
	free(want);
}

/* form_parse of `len` bytes at s, appended to f (which holds f->n
 * parameters already), against the reference: 0 or -1 as it says. */
static int checked_parse(struct form *f, const char *s, size_t len, bool from_body)
{
	size_t n0 = f->n, i = 0, j, k = n0;
	const char *first = n0 ? f->v[0].value : NULL;
	int rc = form_parse(f, s, len, from_body), ok = 0;
	char *scratch = malloc(len ? len : 1);

	for (i = 0; i < len; i = j + 1) {          /* the pieces: does each decode? */
		const char *amp = memchr(s + i, '&', len - i);
		const char *eq;
		j = amp ? (size_t)(amp - s) : len;
		if (j == i)
			continue;
		eq = memchr(s + i, '=', j - i);
		if (ref_decode(s + i, (size_t)((eq ? eq : s + j) - (s + i)), true, scratch) < 0 ||
		    (eq && ref_decode(eq + 1, (size_t)(s + j - eq - 1), true, scratch) < 0))
			ok = -1;
	}
	FUZZ_CHECK(rc == ok);
	if (rc < 0) {
		FUZZ_CHECK(f->n == n0 && (!n0 || f->v[0].value == first));
		free(scratch);
		return -1;
	}
	for (i = 0; i < len; i = j + 1) {          /* each parameter is its piece */
		const char *amp = memchr(s + i, '&', len - i);
		const char *eq;
		j = amp ? (size_t)(amp - s) : len;
		if (j == i)
			continue;
		FUZZ_CHECK(k < f->n && f->v[k].from_body == from_body);
		eq = memchr(s + i, '=', j - i);
		same_decoding(f->v[k].name, s + i, (size_t)((eq ? eq : s + j) - (s + i)), true);
		if (eq)
			same_decoding(f->v[k].value, eq + 1, (size_t)(s + j - eq - 1), true);
		else
			FUZZ_CHECK(f->v[k].value[0] == '\0');
		k++;
	}
	FUZZ_CHECK(k == f->n);
	for (k = 0; k < f->n; k++) {               /* form_get: the first of a name */
		size_t m = 0;
		while (strcmp(f->v[m].name, f->v[k].name) != 0)
			m++;
		FUZZ_CHECK(form_get(f, f->v[k].name) == f->v[m].value);
	}
	free(scratch);
	return 0;
}

/* form_decode of a path (a '+' stays), against the reference. */
static bool decoded_path(char *path)
{
	size_t n = strlen(path);
	char *want = malloc(n ? n : 1);
	long len = ref_decode(path, n, false, want);
	int rc = form_decode(path, false);

	FUZZ_CHECK((rc < 0) == (len < 0));
	if (rc == 0)
		FUZZ_CHECK(strlen(path) == (size_t)len && memcmp(want, path, (size_t)len) == 0);
	free(want);
	return rc == 0;
}

/* ---- the request ---------------------------------------------------------- */

struct request {
	char *head;                    /* request line and headers, NUL-terminated */
	const char *method, *target, *ctype, *signature;
	const char *body;
	size_t body_len;
};

/* The value of header `name` in the header lines from `p` on, trimmed. */
static void header(struct request *q, char *line)
{
	char *colon = strchr(line, ':'), *v, *end;

	if (!colon)
		return;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	*end = '\0';
	if (!q->ctype && strcasecmp(line, "Content-Type") == 0)
		q->ctype = v;
	else if (!q->signature && strcasecmp(line, "X-Twilio-Signature") == 0)
		q->signature = v;
}

/* Splits the input; false when libmicrohttpd would not hand it over (no
 * request line, a NUL in the head). */
static bool request_read(struct request *q, const uint8_t *data, size_t size)
{
	const char *d = (const char *)data, *end = NULL;
	size_t i, hlen;
	char *line, *next, *sp;

	memset(q, 0, sizeof *q);
	for (i = 0; i < size && !end; i++)
		if (d[i] == '\n' && ((i + 1 < size && d[i + 1] == '\n') ||
		    (i + 2 < size && d[i + 1] == '\r' && d[i + 2] == '\n')))
			end = d + i;
	hlen = end ? (size_t)(end - d) : size;
	if (memchr(d, '\0', hlen))
		return false;
	q->head = fuzz_cstr(data, hlen);
	if (end) {
		q->body = end + (end[1] == '\n' ? 2 : 3);
		q->body_len = size - (size_t)(q->body - d);
	}
	for (line = q->head; line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (*line && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (line != q->head) {
			header(q, line);
			continue;
		}
		if (!(sp = strchr(line, ' ')))
			return false;
		*sp = '\0';
		q->method = line;
		q->target = sp + 1;
		if ((sp = strchr(sp + 1, ' ')))
			*sp = '\0';            /* " HTTP/1.1" */
	}
	return *q->method && *q->target;
}

/* inbound.c's route: "/sms/CHANNEL/reply" or ".../status". */
static const char *route(const char *path)
{
	const char *slash;

	if (strncmp(path, "/sms/", 5) != 0 || !(slash = strchr(path + 5, '/')) || slash == path + 5)
		return NULL;
	return strcmp(slash + 1, "reply") == 0 ? "reply" : strcmp(slash + 1, "status") == 0 ?
	    "status" : NULL;
}

/* ---- the signature -------------------------------------------------------- */

static bool verifies(const char *url, const struct iopd_param *p, size_t n, const char *sig)
{
	return sig_twilio_ok(TWILIO_TOKEN, url, p, n, sig);
}

/* One byte of the text that is signed (URL, then each name and value)
 * changed, at `at` modulo its length: the signature no longer verifies.
 * The names and values are the form's own strings, changed in place and
 * put back. */
static void tampered(char *url, const struct iopd_param *p, size_t n, const char *sig, uint32_t at)
{
	size_t total = strlen(url), i;
	char *byte = NULL, was;

	for (i = 0; i < n; i++)
		total += strlen(p[i].name) + strlen(p[i].value);
	at %= (uint32_t)total;
	if (at < strlen(url))
		byte = url + at;
	else
		at -= (uint32_t)strlen(url);
	for (i = 0; !byte && i < n; i++) {
		size_t ln = strlen(p[i].name), lv = strlen(p[i].value);
		if (at < ln)
			byte = (char *)(uintptr_t)p[i].name + at;
		else if (at < ln + lv)
			byte = (char *)(uintptr_t)p[i].value + (at - ln);
		else
			at -= (uint32_t)(ln + lv);
	}
	FUZZ_CHECK(byte != NULL);
	was = *byte;
	*byte = other(was);
	FUZZ_CHECK(!verifies(url, p, n, sig));
	*byte = was;
}

static void check_signature(const struct request *q, const struct iopd_param *post, size_t n,
    uint32_t h)
{
	char *url = xasprintf("%s%s", PUBLIC_URL, q->target);
	char sig[SIG_TWILIO_LEN + 1], bad[SIG_TWILIO_LEN + 1];
	struct iopd_param *rev = xreallocarray(NULL, n ? n : 1, sizeof *rev);
	size_t i;

	FUZZ_CHECK(sig_twilio(TWILIO_TOKEN, url, post, n, sig) == 0);
	FUZZ_CHECK(strlen(sig) == SIG_TWILIO_LEN && sig[SIG_TWILIO_LEN - 1] == '=');
	FUZZ_CHECK(verifies(url, post, n, sig));
	FUZZ_CHECK(verifies(url, post, n, q->signature) ==
	    (q->signature && strcmp(q->signature, sig) == 0));
	FUZZ_CHECK(!verifies(url, post, n, NULL));
	memcpy(bad, sig, sizeof bad);
	bad[h % (SIG_TWILIO_LEN - 1)] = other(bad[h % (SIG_TWILIO_LEN - 1)]);
	FUZZ_CHECK(!verifies(url, post, n, bad));
	bad[SIG_TWILIO_LEN - 1] = '\0';
	FUZZ_CHECK(!verifies(url, post, n, bad));
	tampered(url, post, n, sig, h);
	FUZZ_CHECK(verifies(url, post, n, sig));
	for (i = 0; i < n; i++)
		rev[i] = post[n - 1 - i];
	FUZZ_CHECK(verifies(url, rev, n, sig));
	free(rev);
	free(url);
}

/* Kannel's key: the first `key` parameter, compared as inbound.c does. */
static void check_key(const struct form *f)
{
	const char *key = form_get(f, "key");

	FUZZ_CHECK(sig_equal(KANNEL_KEY, KANNEL_KEY));
	if (key) {
		FUZZ_CHECK(sig_equal(key, KANNEL_KEY) == (strcmp(key, KANNEL_KEY) == 0));
		FUZZ_CHECK(sig_equal(key, key));
	}
}

/* ---- the intent ----------------------------------------------------------- */

static void check_intent(const char *text)
{
	enum intent i = keyword_intent(text, false), o = keyword_intent(text, true);
	size_t n = strlen(text), k;
	char *v = malloc(n + 8);

	FUZZ_CHECK(i >= INTENT_STOP && i < INTENT_COUNT && intent_names[i] != NULL);
	FUZZ_CHECK(o >= INTENT_STOP && o < INTENT_COUNT);
	FUZZ_CHECK(i == o || (i == INTENT_CONFIRM && o == INTENT_START));
	/* spaces and punctuation around it */
	sprintf(v, " \t%s.!", text);
	FUZZ_CHECK(keyword_intent(v, false) == i);
	/* any case */
	for (k = 0; k < n; k++)
		v[k] = text[k] >= 'A' && text[k] <= 'Z' ? (char)(text[k] - 'A' + 'a') :
		    text[k] >= 'a' && text[k] <= 'z' ? (char)(text[k] - 'a' + 'A') : text[k];
	v[n] = '\0';
	FUZZ_CHECK(keyword_intent(v, false) == i && keyword_intent(v, true) == o);
	free(v);
}

/* ---- the sms module's reading -------------------------------------------- */

static void printable(const char *s, bool digits_ok)
{
	size_t run = 0;

	FUZZ_CHECK(s != NULL);
	for (; *s; s++) {
		FUZZ_CHECK(*s >= 0x20 && *s < 0x7f);
		run = *s >= '0' && *s <= '9' ? run + 1 : 0;
		FUZZ_CHECK(digits_ok || run < 7);
	}
}

static void check_reading(const struct iopd_request *rq, const struct iopd_callback *cb, int rc,
    bool twilio)
{
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc)
		return;
	if (cb->type == IOPD_CALLBACK_REPLY) {
		FUZZ_CHECK(cb->from && *cb->from && cb->text);
		if (twilio)
			printable(cb->dedup, true);
		check_intent(cb->text);
		return;
	}
	FUZZ_CHECK(cb->type == IOPD_CALLBACK_RECEIPT);
	FUZZ_CHECK(cb->receipt == IOPD_RECEIPT_INTERIM || cb->receipt == IOPD_RECEIPT_DELIVERED ||
	    cb->receipt == IOPD_RECEIPT_UNDELIVERED || cb->receipt == IOPD_RECEIPT_FAILED ||
	    cb->receipt == IOPD_RECEIPT_READ);
	FUZZ_CHECK(!cb->reminder || (strlen(cb->reminder) == 16 &&
	    strspn(cb->reminder, "0123456789abcdef") == 16));
	printable(cb->stage, true);
	printable(cb->dedup, true);
	if (cb->gateway_id)
		printable(cb->gateway_id, true);
	if (cb->reason)
		printable(cb->reason, false);
	if (twilio) {
		/* the key is the MessageSid and the status, whole */
		size_t i;
		const char *sid = NULL, *status = NULL;
		for (i = 0; i < rq->nparams; i++) {
			if (!sid && strcmp(rq->params[i].name, "MessageSid") == 0)
				sid = rq->params[i].value;
			if (!status && strcmp(rq->params[i].name, "MessageStatus") == 0)
				status = rq->params[i].value;
		}
		FUZZ_CHECK(sid && status && strlen(cb->dedup) == strlen(sid) + 1 + strlen(status));
	} else {
		FUZZ_CHECK(cb->reminder != NULL);
		FUZZ_CHECK((cb->receipt == IOPD_RECEIPT_DELIVERED) == (strcmp(cb->stage, "1") == 0));
	}
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* What the daemon logs or keeps of a callback, besides the sender and
 * the text. */
static void same_outside_text(const struct iopd_callback *a, int ra, const struct iopd_callback *b,
    int rb)
{
	FUZZ_CHECK(ra == rb);
	if (ra)
		return;
	FUZZ_CHECK(a->type == b->type && a->receipt == b->receipt);
	FUZZ_CHECK(same_str(a->dedup, b->dedup) && same_str(a->stage, b->stage));
	FUZZ_CHECK(same_str(a->reason, b->reason) && same_str(a->reminder, b->reminder));
	FUZZ_CHECK(same_str(a->gateway_id, b->gateway_id));
}

/* The parameters that carry the text and the phone numbers. */
static bool private_param(const char *name)
{
	static const char *const names[] = {"Body", "From", "To", "text", "from", "to"};
	size_t i;

	for (i = 0; i < FUZZ_NELEM(names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static int read_as(bool twilio, const struct iopd_request *rq, struct iopd_callback *cb,
    struct sms_cb_buf *buf)
{
	memset(cb, 0, sizeof *cb);
	memset(buf, 0, sizeof *buf);
	return twilio ? sms_twilio_callback(rq, cb, buf) : sms_kannel_callback(rq, cb, buf);
}

static void check_module(const char *what, const struct iopd_param *all, size_t n, bool twilio)
{
	struct iopd_request rq = {what, all, n}, rq2 = {what, NULL, n};
	struct iopd_param *other_p = xreallocarray(NULL, n ? n : 1, sizeof *other_p);
	struct iopd_callback cb, cb2;
	struct sms_cb_buf buf, buf2;
	int rc, rc2;
	size_t i;

	rc = read_as(twilio, &rq, &cb, &buf);
	check_reading(&rq, &cb, rc, twilio);
	/* the same request, another text and other numbers */
	for (i = 0; i < n; i++) {
		other_p[i] = all[i];
		if (private_param(all[i].name) && *all[i].value)
			other_p[i].value = strcmp(all[i].value, "+15550009999") ? "+15550009999" : "Other text";
	}
	rq2.params = other_p;
	rc2 = read_as(twilio, &rq2, &cb2, &buf2);
	same_outside_text(&cb, rc, &cb2, rc2);
	if (rc == 0 && cb.type == IOPD_CALLBACK_REPLY) {
		/* the text as it came, whole */
		const char *body = NULL;
		for (i = 0; i < n && !body; i++)
			if (strcmp(all[i].name, twilio ? "Body" : "text") == 0)
				body = all[i].value;
		FUZZ_CHECK(strcmp(cb.text, body ? body : "") == 0);
	}
	free(other_p);
}

/* ---- one request ---------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request q;
	struct form f = {0};
	struct iopd_param *all, *post;
	size_t nall = 0, npost = 0, i;
	const char *what, *qs;
	char *path;
	uint32_t h = input_hash(data, size);

	/* form_parse of the raw bytes, whatever they hold (NULs included) */
	checked_parse(&f, (const char *)data, size, true);
	form_free(&f);
	if (!request_read(&q, data, size)) {
		free(q.head);
		return 0;
	}
	/* httpd.c: the path decoded (a '+' is a '+'), the query parsed, then
	 * the body if it is a form; a bad escape anywhere is a 400 */
	qs = strchr(q.target, '?');
	path = qs ? xasprintf("%.*s", (int)(qs - q.target), q.target) : xstrdup(q.target);
	if (!decoded_path(path))
		goto done;
	if (qs && checked_parse(&f, qs + 1, strlen(qs + 1), false) < 0)
		goto done;
	if (q.body_len && form_is_urlencoded(q.ctype)) {
		FUZZ_CHECK(strncasecmp(q.ctype + strspn(q.ctype, " \t"),
		    "application/x-www-form-urlencoded", 33) == 0);
		if (checked_parse(&f, q.body, q.body_len, true) < 0)
			goto done;
	}
	if (!(what = route(path)))
		goto done;             /* 404 */
	/* inbound.c: the plugin's parameters, and the POST ones signed */
	all = xreallocarray(NULL, f.n ? f.n : 1, sizeof *all);
	post = xreallocarray(NULL, f.n ? f.n : 1, sizeof *post);
	for (i = 0; i < f.n; i++) {
		if (f.v[i].from_body)
			post[npost++] = (struct iopd_param){f.v[i].name, f.v[i].value};
		if (strcmp(f.v[i].name, "key") != 0 || f.v[i].from_body)
			all[nall++] = (struct iopd_param){f.v[i].name, f.v[i].value};
	}
	check_signature(&q, post, npost, h);
	check_key(&f);
	check_module(what, all, nall, true);
	check_module(what, all, nall, false);
	free(all);
	free(post);
done:
	free(path);
	form_free(&f);
	free(q.head);
	return 0;
}

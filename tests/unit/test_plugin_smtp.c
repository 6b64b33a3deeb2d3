/* test_plugin_smtp.c - the pure parts of the smtp module
 * (plugins/smtp/smtp_fmt.h): addresses, RFC 2047 headers, quoted-printable,
 * the assembled message, and the reading of the server's replies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "../../plugins/smtp/smtp_fmt.h"

static void test_addresses(void **state)
{
	char name[64], addr[64];

	(void)state;
	assert_true(smtp_addr_ok("alex@example.org"));
	assert_true(smtp_addr_ok("a.b+tag@sub.example.org"));
	assert_false(smtp_addr_ok("alex"));
	assert_false(smtp_addr_ok("@example.org"));
	assert_false(smtp_addr_ok("alex@"));
	assert_false(smtp_addr_ok("a@b@c"));
	assert_false(smtp_addr_ok("alex @example.org"));
	assert_false(smtp_addr_ok("alex@example.org\r\nBcc: x@y"));
	assert_false(smtp_addr_ok("<alex@example.org>"));
	assert_false(smtp_addr_ok("al\xc3\xa9x@example.org"));
	assert_false(smtp_addr_ok("alex@example.org."));
	assert_false(smtp_addr_ok(NULL));

	assert_int_equal(smtp_parse_from("Clinic <noreply@example.org>", name, sizeof name, addr,
	    sizeof addr), 0);
	assert_string_equal(name, "Clinic");
	assert_string_equal(addr, "noreply@example.org");
	assert_int_equal(smtp_parse_from("  noreply@example.org ", name, sizeof name, addr,
	    sizeof addr), 0);
	assert_string_equal(name, "");
	assert_string_equal(addr, "noreply@example.org");
	assert_int_equal(smtp_parse_from("\"Dr. Smith, Clinic\" <a@b.org>", name, sizeof name, addr,
	    sizeof addr), 0);
	assert_string_equal(name, "Dr. Smith, Clinic");
	assert_int_equal(smtp_parse_from("<a@b.org>", name, sizeof name, addr, sizeof addr), 0);
	assert_string_equal(name, "");
	assert_int_equal(smtp_parse_from("Clinic <a@b.org", name, sizeof name, addr, sizeof addr), -1);
	assert_int_equal(smtp_parse_from("Clinic <a@b.org> x", name, sizeof name, addr, sizeof addr), -1);
	assert_int_equal(smtp_parse_from("Clinic <nope>", name, sizeof name, addr, sizeof addr), -1);
	assert_int_equal(smtp_parse_from("Clinic", name, sizeof name, addr, sizeof addr), -1);
}

static void test_date(void **state)
{
	char d[64];

	(void)state;
	smtp_date(d, sizeof d, 1796083200);            /* 2026-12-01T00:00:00Z */
	assert_string_equal(d, "Tue, 01 Dec 2026 00:00:00 +0000");
	smtp_date(d, sizeof d, 1835438461);
	assert_string_equal(d, "Tue, 29 Feb 2028 12:01:01 +0000");
}

static const char *header(const char *name, const char *value)
{
	static char out[4096];
	struct gw_buf b = {0};

	smtp_header_text(&b, name, value);
	assert_non_null(gw_buf_str(&b));
	snprintf(out, sizeof out, "%s", b.s);
	gw_buf_free(&b);
	return out;
}

static void test_subject_ascii(void **state)
{
	(void)state;
	assert_string_equal(header("Subject", "Appointment reminder"),
	    "Subject: Appointment reminder\r\n");
	/* CR, LF and tabs can never start a new header */
	assert_string_equal(header("Subject", "a\r\nBcc: x@y\tz"), "Subject: a Bcc: x@y z\r\n");
	/* folded at spaces, lines within 78 */
	assert_string_equal(header("Subject", "This is a rather long subject line that goes on and "
	    "on, well beyond the seventy-eight columns of a line"),
	    "Subject: This is a rather long subject line that goes on and on, well beyond\r\n"
	    " the seventy-eight columns of a line\r\n");
}

static void test_subject_rfc2047(void **state)
{
	(void)state;
	assert_string_equal(header("Subject", "Café"), "Subject: =?UTF-8?B?Q2Fmw6k=?=\r\n");
	assert_string_equal(header("Subject", "Recordatorio: su cita mañana"),
	    "Subject: =?UTF-8?B?UmVjb3JkYXRvcmlvOiBzdSBjaXRhIG1hw7FhbmE=?=\r\n");
	/* folded: 42 bytes a word, never half a character */
	assert_string_equal(header("Subject",
	    "Erinnerung: Ihr Termin morgen um 18:00 Uhr – bitte pünktlich sein"),
	    "Subject: =?UTF-8?B?RXJpbm5lcnVuZzogSWhyIFRlcm1pbiBtb3JnZW4gdW0gMTg6MDAgVWhy?=\r\n"
	    " =?UTF-8?B?IOKAkyBiaXR0ZSBww7xua3RsaWNoIHNlaW4=?=\r\n");
	assert_string_equal(header("Subject", "aééééééééééééééééééééééééé"),
	    "Subject: =?UTF-8?B?YcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6k=?=\r\n"
	    " =?UTF-8?B?w6nDqcOpw6nDqQ==?=\r\n");
	/* something that reads like an encoded-word is encoded itself */
	assert_string_equal(header("Subject", "=?x?"), "Subject: =?UTF-8?B?PT94Pw==?=\r\n");
	/* a word too long to fold */
	assert_non_null(strstr(header("Subject", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "=?UTF-8?B?"));
}

static void test_subject_lines_within_limits(void **state)
{
	char subject[600];
	const char *h, *p;
	size_t i;

	(void)state;
	for (i = 0; i + 3 < sizeof subject; i += 3)
		memcpy(subject + i, "\xe2\x82\xac", 3);        /* € */
	subject[i] = '\0';
	h = header("Subject", subject);
	for (p = h; *p;) {
		size_t n = strcspn(p, "\r");

		assert_true(n <= 78);
		assert_memory_equal(p + n, "\r\n", 2);
		p += n + 2;
	}
}

static const char *from(const char *name, const char *addr)
{
	static char out[512];
	struct gw_buf b = {0};

	smtp_header_from(&b, name, addr);
	snprintf(out, sizeof out, "%s", gw_buf_str(&b));
	gw_buf_free(&b);
	return out;
}

static void test_from_header(void **state)
{
	(void)state;
	assert_string_equal(from("Clinic", "noreply@example.org"),
	    "From: Clinic <noreply@example.org>\r\n");
	assert_string_equal(from("", "noreply@example.org"), "From: noreply@example.org\r\n");
	assert_string_equal(from("Dr. \"Who\", Clinic", "a@b.org"),
	    "From: \"Dr. \\\"Who\\\", Clinic\" <a@b.org>\r\n");
	assert_string_equal(from("Café", "a@b.org"), "From: =?UTF-8?B?Q2Fmw6k=?= <a@b.org>\r\n");
}

static const char *qp(const char *text)
{
	static char out[2048];
	struct gw_buf b = {0};

	smtp_qp(&b, text);
	snprintf(out, sizeof out, "%s", gw_buf_str(&b));
	gw_buf_free(&b);
	return out;
}

static void test_quoted_printable(void **state)
{
	(void)state;
	assert_string_equal(qp("Hello"), "Hello\r\n");
	assert_string_equal(qp("a=b"), "a=3Db\r\n");
	assert_string_equal(qp("café €"), "caf=C3=A9 =E2=82=AC\r\n");
	/* line breaks: LF and CRLF both become CRLF; a bare CR is encoded */
	assert_string_equal(qp("one\ntwo\r\nthree\rfour\n"), "one\r\ntwo\r\nthree=0Dfour\r\n");
	/* whitespace before a break or at the end is encoded; inside it is not */
	assert_string_equal(qp("a b \nc\t"), "a b=20\r\nc=09\r\n");
	assert_string_equal(qp("From here\nFrom"), "=46rom here\r\nFrom\r\n");
	assert_string_equal(qp(""), "\r\n");
	assert_string_equal(qp(NULL), "\r\n");
	assert_string_equal(qp(".\n."), ".\r\n.\r\n");  /* dot-stuffing is libcurl's */
}

static void test_quoted_printable_soft_breaks(void **state)
{
	char text[300];
	const char *out, *p;

	(void)state;
	memset(text, 'x', 200);
	text[200] = '\0';
	out = qp(text);
	assert_int_equal(strcspn(out, "\r"), 76);
	assert_memory_equal(out + 75, "=\r\n", 3);
	/* an escape is never split, and every line stays within 76 */
	memset(text, 'y', 74);
	strcpy(text + 74, "é and more");
	out = qp(text);
	assert_memory_equal(out + 74, "=\r\n=C3=A9 and more\r\n", 20);
	for (p = out; *p;) {
		size_t n = strcspn(p, "\r");

		assert_true(n <= 76);
		p += n + 2;
	}
}

static void test_message(void **state)
{
	struct smtp_msg m = {
		"Clinic", "noreply@example.org", "alex@example.org", "Recordatorio: su cita mañana",
		"Hola Alex,\nsu cita es mañana a las 6:00 PM.\n", "9f2c41d07ab3e815",
		1796083200, 1796004000
	};
	struct gw_buf b = {0};
	char msgid[128];

	(void)state;
	smtp_message(&b, &m, msgid, sizeof msgid);
	assert_string_equal(msgid, "<9f2c41d07ab3e815.1796004000@example.org>");
	assert_string_equal(gw_buf_str(&b),
	    "Date: Tue, 01 Dec 2026 00:00:00 +0000\r\n"
	    "From: Clinic <noreply@example.org>\r\n"
	    "To: alex@example.org\r\n"
	    "Subject: =?UTF-8?B?UmVjb3JkYXRvcmlvOiBzdSBjaXRhIG1hw7FhbmE=?=\r\n"
	    "Message-ID: <9f2c41d07ab3e815.1796004000@example.org>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "\r\n"
	    "Hola Alex,\r\n"
	    "su cita es ma=C3=B1ana a las 6:00 PM.\r\n");
	gw_buf_free(&b);

	/* no subject: "Reminder"; no body: an empty line */
	m.subject = NULL;
	m.body = NULL;
	smtp_message(&b, &m, msgid, sizeof msgid);
	assert_non_null(strstr(gw_buf_str(&b), "\r\nSubject: Reminder\r\n"));
	assert_int_equal(strcmp(b.s + b.len - 4, "\r\n\r\n"), 0);
	gw_buf_free(&b);
}

static int qid(const char *lines, char *out, size_t n)
{
	return smtp_queue_id(lines, strlen(lines), out, n);
}

static void test_queue_id(void **state)
{
	char id[64];

	(void)state;
	assert_int_equal(qid("220 mx ESMTP\r\n250-mx\r\n250 SIZE\r\n250 OK\r\n250 OK\r\n354 go ahead\r\n"
	    "250 2.0.0 Ok: queued as 4Bf1Jk2XyzQ\r\n", id, sizeof id), 0);
	assert_string_equal(id, "4Bf1Jk2XyzQ");
	assert_int_equal(qid("354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 OK queued as 1764547200.M123P456Q1.host\r\n", id, sizeof id), 0);
	assert_string_equal(id, "1764547200.M123P456Q1.host");
	assert_int_equal(qid("354 go\r\n250 OK id=1abcDE-0001xY-Zz\r\n", id, sizeof id), 0);
	assert_string_equal(id, "1abcDE-0001xY-Zz");
	/* no "queued as" after the DATA reply; or never got that far */
	assert_int_equal(qid("354 go\r\n250 2.0.0 Message accepted for delivery\r\n", id, sizeof id), -1);
	assert_int_equal(qid("250 OK queued as early\r\n", id, sizeof id), -1);
	assert_int_equal(qid("", id, sizeof id), -1);
	assert_int_equal(smtp_queue_id(NULL, 0, id, sizeof id), -1);
}

static void reply(struct gw_result *r, CURLcode rc, long code, const char *lines)
{
	gw_result_init(r);
	smtp_reply(r, rc, code, lines, lines ? strlen(lines) : 0, "");
}

static void test_replies(void **state)
{
	struct gw_result r;

	(void)state;
	reply(&r, CURLE_OK, 250, "250 OK\r\n");
	assert_int_equal(r.result, IOPD_DELIVERED);
	/* rejected at RCPT: curl 55, the text may echo the address */
	reply(&r, CURLE_SEND_ERROR, 550, "250 OK\r\n550 5.1.1 <alex@example.org>: mailbox unavailable\r\n");
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "SMTP 550 5.1.1");
	reply(&r, CURLE_SEND_ERROR, 451, "451 4.3.0 try again later\r\n");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_string_equal(r.reason, "SMTP 451 4.3.0");
	/* rejected after DATA: curl 8 */
	reply(&r, CURLE_WEIRD_SERVER_REPLY, 554, "354 go\r\n554 5.6.0 rejected\r\n");
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "SMTP 554 5.6.0");
	reply(&r, CURLE_WEIRD_SERVER_REPLY, 552, "552 too big\r\n");
	assert_string_equal(r.reason, "SMTP 552");
	/* credentials: permanent (an SMTP 5xx), flagged */
	reply(&r, CURLE_LOGIN_DENIED, 535, "535 5.7.8 Authentication credentials invalid\r\n");
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_true(r.auth_failed);
	assert_string_equal(r.reason, "SMTP 535 5.7.8: authentication failed");
	reply(&r, CURLE_SEND_ERROR, 530, "530 5.7.0 Authentication required\r\n");
	assert_true(r.auth_failed);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "SMTP 530 5.7.0: authentication failed");
	/* no STARTTLS */
	reply(&r, CURLE_USE_SSL_FAILED, 250, "250 OK\r\n");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_string_equal(r.reason, "SMTP server does not offer STARTTLS, which is required");
	/* network: curl's words, whatever the last code was */
	reply(&r, CURLE_OPERATION_TIMEDOUT, 354, "354 go\r\n");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_string_equal(r.reason, "curl 28: Timeout was reached");
	reply(&r, CURLE_COULDNT_CONNECT, 0, NULL);
	assert_int_equal(r.result, IOPD_TRANSIENT);
	/* a malformed enhanced code is left out */
	reply(&r, CURLE_SEND_ERROR, 550, "550 5.1 nope\r\n");
	assert_string_equal(r.reason, "SMTP 550");
	reply(&r, CURLE_SEND_ERROR, 550, "550 4.1.1 wrong class\r\n");
	assert_string_equal(r.reason, "SMTP 550");
	/* RFC 3463: 1 to 3 digits a part, so no echoed number gets through
	 * (found by tests/fuzz/fuzz_smtp) */
	reply(&r, CURLE_SEND_ERROR, 550, "550 5.1.15551234567 <alex@example.org>\r\n");
	assert_string_equal(r.reason, "SMTP 550");
	reply(&r, CURLE_SEND_ERROR, 550, "550 5..1 empty subject\r\n");
	assert_string_equal(r.reason, "SMTP 550");
	reply(&r, CURLE_SEND_ERROR, 550, "550 5.7.1.2 four parts\r\n");
	assert_string_equal(r.reason, "SMTP 550");
	reply(&r, CURLE_SEND_ERROR, 554, "554 5.123.456\r\n");
	assert_string_equal(r.reason, "SMTP 554 5.123.456");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_subject_ascii),
		cmocka_unit_test(test_subject_rfc2047),
		cmocka_unit_test(test_subject_lines_within_limits),
		cmocka_unit_test(test_from_header),
		cmocka_unit_test(test_quoted_printable),
		cmocka_unit_test(test_quoted_printable_soft_breaks),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_queue_id),
		cmocka_unit_test(test_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

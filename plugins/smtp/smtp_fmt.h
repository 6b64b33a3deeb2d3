/* smtp_fmt.h - the pure parts of the smtp module: addresses, the RFC 5322
 * message (RFC 2047 headers, quoted-printable body) and the reading of
 * the server's replies.  Unit-tested on their own
 * (tests/unit/test_plugin_smtp.c). */
#ifndef IOPD_PLUGIN_SMTP_FMT_H
#define IOPD_PLUGIN_SMTP_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/gw.h"

#define SMTP_ADDR_MAX 256              /* RFC 5321 4.5.3.1.3: a path is at most 256 */
#define SMTP_NAME_MAX 256

/* An address we can put in MAIL FROM / RCPT TO and a header unquoted:
 * local@domain, printable ASCII, none of the specials or spaces, one '@'
 * with something on both sides.  (No SMTPUTF8, no quoted local parts.) */
int smtp_addr_ok(const char *addr);

/* Splits the `from` setting: "Clinic <noreply@example.org>" or a bare
 * "noreply@example.org" (then name is "").  A quoted name loses its
 * quotes.  Returns 0, or -1 if there is no usable address. */
int smtp_parse_from(const char *from, char *name, size_t namelen, char *addr, size_t addrlen);

/* RFC 5322 date-time in UTC: "Fri, 27 Nov 2026 12:00:00 +0000". */
void smtp_date(char *out, size_t n, int64_t t);

/* RFC 2047 B encoded-words of the UTF-8 text s[0..n): each word at most 68
 * characters ("=?UTF-8?B?" + 56 + "?="), never splitting a character,
 * separated by CRLF SP.  Returns the column after the last word, given
 * the column where the first one starts. */
size_t smtp_rfc2047(struct gw_buf *b, const char *s, size_t n, size_t col);

/* "Name: value\r\n" for an unstructured header (Subject): as is, folded at
 * spaces to stay within 78 columns, when it is plain ASCII; RFC 2047
 * encoded otherwise (and when a word is too long to fold, or the text
 * looks like an encoded-word).  Tabs, CR and LF become spaces. */
void smtp_header_text(struct gw_buf *b, const char *name, const char *value);

/* "From: name <addr>\r\n": the name as is, quoted, or RFC 2047 encoded. */
void smtp_header_from(struct gw_buf *b, const char *name, const char *addr);

/* Quoted-printable (RFC 2045 6.7) of UTF-8 text: lines of at most 76
 * characters, CRLF line breaks (LF or CRLF in the text), '=', bytes
 * outside ASCII, control characters and whitespace before a line break
 * encoded; "From " at a line start is protected for mbox readers.  Ends
 * with CRLF. */
void smtp_qp(struct gw_buf *b, const char *text);

struct smtp_msg {
	const char *from_name, *from_addr;
	const char *to;
	const char *subject;           /* NULL or "": "Reminder" (SPEC 4.1) */
	const char *body;
	const char *id;                /* the reminder id */
	int64_t date;                  /* now */
	int64_t due;
};
/* The whole message, headers and body, CRLF line endings.  The
 * Message-ID is <id.due@domain of from>: the same for every retry of a
 * reminder, so a receiver that stored a first try (whose reply we lost)
 * can tell the second one is the same message.  It goes to msgid (with
 * its angle brackets) as well. */
void smtp_message(struct gw_buf *b, const struct smtp_msg *m, char *msgid, size_t msgidlen);

/* The queue id in the server's reply to the message ("250 2.0.0 Ok: queued
 * as 4Bf1Jk", "250 OK id=1abcDE-00...", our sink's "250 OK queued as X"),
 * found in the reply lines after the last "354".  Returns 0 or -1. */
int smtp_queue_id(const char *lines, size_t len, char *out, size_t outlen);

/* The outcome of a transfer from curl's code, the last SMTP reply code
 * (CURLINFO_RESPONSE_CODE) and the reply lines (for the enhanced status
 * code, e.g. "5.1.1"; never their text, which may echo the address):
 *   CURLE_OK                      DELIVERED
 *   530, 534, 535, 538, curl 67   PERMANENT  gw_result_auth: our credentials
 *   curl 64 (no STARTTLS)         TRANSIENT
 *   4xx                           TRANSIENT  "SMTP 451 4.3.0"
 *   5xx                           PERMANENT  "SMTP 550 5.1.1"
 *   anything else                 TRANSIENT, curl's words (network, TLS) */
void smtp_reply(struct gw_result *r, CURLcode rc, long code, const char *lines, size_t len,
    const char *errbuf);

#endif

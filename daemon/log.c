/* log.c - see log.h */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "log.h"
#include "safetext.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define SYSLOG_SOCKET "/dev/log"

enum log_dest { DEST_STDERR, DEST_JOURNAL, DEST_SYSLOG, DEST_FILE };

static int log_lvl = LOG_LVL_INFO;
static enum log_dest log_to = DEST_STDERR;
static bool log_tty;                   /* stderr is a terminal: no "<N>" */
static bool log_detached;              /* stderr is /dev/null */
static int log_fd = -1;                /* DEST_FILE */

/* libsystemd's sd_journal_sendv, loaded when the journal is chosen: the
 * commands run at a terminal (agenda, render, -t) never load libsystemd. */
static __typeof__(sd_journal_sendv) *journal_sendv;

static bool journal_open(void)
{
	void *dl;

	if (!journal_sendv && (dl = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL)) != NULL)
		*(void **)&journal_sendv = dlsym(dl, "sd_journal_sendv");
	return journal_sendv != NULL;
}

/* $JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected to our
 * stderr; it only counts if stderr is still that stream (not redirected). */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(int level)
{
	log_lvl = level;
	log_to = stderr_is_journal() && journal_open() ? DEST_JOURNAL : DEST_STDERR;
	log_tty = log_to == DEST_STDERR && isatty(2);
}

static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

void log_detach(const char *file, char *where, size_t len)
{
	log_detached = true;
	log_tty = false;
	if (is_socket(JOURNAL_SOCKET) && journal_open()) {
		log_to = DEST_JOURNAL;
		snprintf(where, len, "logging to the journal (journalctl -t iopd)");
		return;
	}
	if (is_socket(SYSLOG_SOCKET)) {
		openlog("iopd", LOG_PID, LOG_DAEMON);
		log_to = DEST_SYSLOG;
		snprintf(where, len, "logging to syslog (facility daemon, tag iopd)");
		return;
	}
	/* neither journald nor syslog on this host: a file, or nothing at all */
	log_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (log_fd >= 0) {
		log_to = DEST_FILE;
		snprintf(where, len, "logging to %s (no journald, no syslog on this host)", file);
	} else {
		log_to = DEST_SYSLOG;
		snprintf(where, len, "NOT logging: no journald, no syslog, and %s cannot be opened (%s); "
		    "run iopd with -f to see its log", file, strerror(errno));
	}
}

void log_set_level(int level)
{
	log_lvl = level;
}

int log_level(void)
{
	return log_lvl;
}

bool log_enabled(int prio)
{
	return prio <= log_lvl;
}

int log_parse_level(const char *s)
{
	static const char *const names[] = {"err", "warning", "notice", "info", "debug"};
	size_t i;

	for (i = 0; i < IOPD_NELEM(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i + LOG_LVL_ERR;
	if (s[0] >= '3' && s[0] <= '7' && !s[1])
		return s[0] - '0';
	return -1;
}

static void iov_field(struct iovec *iov, int *n, struct sbuf *b, const char *key, const char *val)
{
	if (!val)
		return;
	b[*n].len = 0;
	sbuf_printf(&b[*n], "%s=%s", key, val);
	iov[*n].iov_base = b[*n].s;
	iov[*n].iov_len = b[*n].len;
	(*n)++;
}

static void log_to_stderr(int prio, const struct log_ctx *c, const char *msg);

static void log_to_journal(int prio, const struct log_ctx *c, const char *msg)
{
	struct sbuf b[6] = {{0}};
	struct iovec iov[6];
	char pr[2] = {(char)('0' + prio), 0};
	int n = 0, i;

	iov_field(iov, &n, b, "MESSAGE", msg);
	iov_field(iov, &n, b, "PRIORITY", pr);
	iov_field(iov, &n, b, "SYSLOG_IDENTIFIER", "iopd");
	if (c) {
		iov_field(iov, &n, b, "IOPD_REMINDER_ID", c->reminder);
		iov_field(iov, &n, b, "IOPD_PATIENT_ID", c->patient);
		iov_field(iov, &n, b, "IOPD_CHANNEL", c->channel);
	}
	if (journal_sendv(iov, n) < 0 && !log_detached)
		log_to_stderr(prio, c, msg);   /* journald away: the stream still works */
	for (i = 0; i < n; i++)
		sbuf_free(&b[i]);
}

/* ---- the last line of defence (SPEC 7) --------------------------------
 *
 * Callers never pass contact details (they name patients by id; plugins
 * clean gateway replies), but a log line is forever: as a guard, every
 * line is scrubbed before it leaves.  What it catches:
 *   - an E.164-looking number, "+" then at least 7 digits (single spaces,
 *     dashes, dots or parentheses between them allowed): "***NN", its last
 *     two digits, as log_redact_phone() writes them;
 *   - an e-mail address: "[address]", except iopd's own SMTP Message-IDs
 *     ("<16 hex>.<digits>@host"), which identify a send, not a person.
 * Time-zone offsets (+05:45), reminder ids and Unix times are untouched. */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_local(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	    (c != '\0' && strchr("._%+-'", c));
}

static bool is_domain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '-';
}

/* A phone number at s ("+..."): its length, and its last two digits. */
static size_t phone_at(const char *s, char last[3])
{
	size_t i = 1, end = 0;
	int digits = 0;

	while (s[i]) {
		if (is_digit(s[i])) {
			digits++;
			last[0] = last[1];
			last[1] = s[i];
			end = ++i;
		} else if (strchr(" -.()", s[i]) && is_digit(s[i + 1]) && digits > 0) {
			i++;
		} else {
			break;
		}
	}
	last[2] = '\0';
	return digits >= 7 ? end : 0;
}

static bool own_message_id(const char *local, size_t n)
{
	size_t i;

	if (n < 18 || local[16] != '.')
		return false;
	for (i = 0; i < 16; i++)
		if (!is_digit(local[i]) && !(local[i] >= 'a' && local[i] <= 'f'))
			return false;
	for (i = 17; i < n; i++)
		if (!is_digit(local[i]))
			return false;
	return true;
}

static void scrub_addresses(struct sbuf *out, const char *msg)
{
	size_t i, n = strlen(msg), start = 0;

	for (i = 1; i < n; i++) {
		size_t l = i, r = i + 1;
		bool dot = false;

		if (msg[i] != '@')
			continue;
		while (l > start && is_local(msg[l - 1]))
			l--;
		while (r < n && is_domain(msg[r]))
			dot |= msg[r++] == '.';
		while (r > i + 1 && (msg[r - 1] == '.' || msg[r - 1] == '-'))
			r--;               /* "... to a@b.org." keeps its full stop */
		if (l < i && r > i + 1 && dot && !own_message_id(msg + l, i - l)) {
			sbuf_add(out, msg + start, l - start);
			sbuf_adds(out, "[address]");
			start = r;
			i = r - 1;
		}
	}
	sbuf_add(out, msg + start, n - start);
}

static void scrub_phones(struct sbuf *out, const char *msg)
{
	size_t i = 0, n = strlen(msg), start = 0, len;

	while (i < n) {
		char last[3] = {'0', '0', '\0'};
		if (msg[i] == '+' && (len = phone_at(msg + i, last))) {
			sbuf_add(out, msg + start, i - start);
			sbuf_printf(out, "***%s", last);
			i += len;
			start = i;
		} else {
			i++;
		}
	}
	sbuf_add(out, msg + start, n - start);
}

/* Appends msg to out, scrubbed: addresses first (one may hold a "+"). */
static void scrub(struct sbuf *out, const char *msg)
{
	struct sbuf t = {0};

	scrub_addresses(&t, msg);
	scrub_phones(out, t.s ? t.s : "");
	sbuf_free(&t);
}

static const char *level_word(int prio)
{
	static const char *const words[] = {"error", "warning", "notice", "info", "debug"};

	return prio >= LOG_LVL_ERR && prio <= LOG_LVL_DEBUG ? words[prio - LOG_LVL_ERR] : "info";
}

/* " (patient P, reminder R)", either part alone when the other is NULL. */
static void format_ctx(const struct log_ctx *c, struct sbuf *out)
{
	sbuf_adds(out, " (");
	if (c->patient) {
		sbuf_adds(out, "patient ");
		sbuf_adds(out, c->patient);
	}
	if (c->reminder) {
		sbuf_adds(out, c->patient ? ", reminder " : "reminder ");
		sbuf_adds(out, c->reminder);
	}
	sbuf_addc(out, ')');
}

/* "[channel] message (patient P, reminder R)", a line for each line of
 * the message (a reload's errors), each with `prefix` in front. */
static void format_lines(int prio, const struct log_ctx *c, const char *msg, const char *prefix,
    struct sbuf *out)
{
	const char *p = msg, *nl;
	bool first = true;

	do {
		size_t n = (nl = strchr(p, '\n')) ? (size_t)(nl - p) : strlen(p);
		if (!first && n == 0 && !nl)
			break;                     /* the trailing newline */
		sbuf_adds(out, prefix);
		if (first && c && c->channel) {
			sbuf_addc(out, '[');
			sbuf_adds(out, c->channel);
			sbuf_adds(out, "] ");
		}
		sbuf_add(out, p, n);
		if (first && c && (c->reminder || c->patient))
			format_ctx(c, out);
		sbuf_addc(out, '\n');
		first = false;
		p = nl ? nl + 1 : p + n;
	} while (nl);
}

/* "<N>" is sd-daemon(3)'s prefix, which journald reads when stderr is a
 * journal stream it does not know as such; a person at a terminal gets
 * plain lines, and errors and warnings said in words.  One write(2). */
static void log_to_stderr(int prio, const struct log_ctx *c, const char *msg)
{
	struct sbuf out = {0};
	char prefix[16];

	if (log_tty)
		snprintf(prefix, sizeof prefix, "%s", prio <= LOG_LVL_WARNING ? prio == LOG_LVL_ERR ?
		    "error: " : "warning: " : "");
	else
		snprintf(prefix, sizeof prefix, "<%d>", prio);
	format_lines(prio, c, msg, prefix, &out);
	fwrite(out.s, 1, out.len, stderr);
	fflush(stderr);
	sbuf_free(&out);
}

static void log_to_syslog(int prio, const struct log_ctx *c, const char *msg)
{
	struct sbuf out = {0};

	format_lines(prio, c, msg, "", &out);
	if (out.len)
		out.s[--out.len] = '\0';          /* syslog ends the line itself */
	syslog(prio, "%s", out.s ? out.s : "");
	sbuf_free(&out);
}

/* "2026-12-01T18:00:00Z notice: message": a file has no timestamps of
 * its own. */
static void log_to_file(int prio, const struct log_ctx *c, const char *msg)
{
	struct sbuf out = {0};
	char prefix[48];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	snprintf(prefix + strlen(prefix), sizeof prefix - strlen(prefix), "%s: ", level_word(prio));
	format_lines(prio, c, msg, prefix, &out);
	if (write(log_fd, out.s, out.len) < 0) {
		/* nowhere left to say it */
	}
	sbuf_free(&out);
}

/* Printable ASCII and newlines only, and neither '@' nor '+': what
 * safe_escape_lines and scrub would give back unchanged.  Most lines are
 * (every send logs one): they skip both copies. */
static bool log_plain(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((s[i] < 0x20 && s[i] != '\n') || s[i] > 0x7e || s[i] == '@' || s[i] == '+')
			return false;
	return true;
}

void log_vctx(int prio, const struct log_ctx *c, const char *fmt, va_list ap)
{
	struct sbuf raw = {0}, esc = {0}, b = {0};

	if (!log_enabled(prio))
		return;
	sbuf_vprintf(&raw, fmt, ap);
	/* a control character from some value (a gateway's reply, a request)
	 * must not reach the terminal or the journal raw; lines stay lines,
	 * each with its own priority (log_to_stderr) */
	if (log_plain(raw.s ? raw.s : "", raw.len)) {
		b = raw;
	} else {
		safe_escape_lines(&esc, raw.s ? raw.s : "", raw.len);
		scrub(&b, esc.s ? esc.s : "");
		sbuf_free(&raw);
		sbuf_free(&esc);
	}
	switch (log_to) {
	case DEST_JOURNAL: log_to_journal(prio, c, b.s ? b.s : ""); break;
	case DEST_SYSLOG: log_to_syslog(prio, c, b.s ? b.s : ""); break;
	case DEST_FILE: log_to_file(prio, c, b.s ? b.s : ""); break;
	default: log_to_stderr(prio, c, b.s ? b.s : ""); break;
	}
	sbuf_free(&b);
}

void log_ctx(int prio, const struct log_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vctx(prio, c, fmt, ap);
	va_end(ap);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vctx(prio, NULL, fmt, ap);
	va_end(ap);
}

const char *log_redact_phone(const char *phone, char *buf, size_t len)
{
	size_t n = phone ? strlen(phone) : 0;

	snprintf(buf, len, "***%s", n >= 2 ? phone + n - 2 : "");
	return buf;
}

/* log.c - see log.h */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "log.h"

static int log_lvl = LOG_LVL_INFO;
static bool log_journal;

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
	log_journal = stderr_is_journal();
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
	sd_journal_sendv(iov, n);
	for (i = 0; i < n; i++)
		sbuf_free(&b[i]);
}

void log_vctx(int prio, const struct log_ctx *c, const char *fmt, va_list ap)
{
	struct sbuf b = {0};

	if (!log_enabled(prio))
		return;
	sbuf_vprintf(&b, fmt, ap);
	if (log_journal) {
		log_to_journal(prio, c, b.s ? b.s : "");
	} else {
		struct sbuf line = {0};
		sbuf_printf(&line, "<%d>", prio);
		if (c && c->channel)
			sbuf_printf(&line, "[%s] ", c->channel);
		sbuf_adds(&line, b.s ? b.s : "");
		if (c && (c->reminder || c->patient))
			sbuf_printf(&line, " (%s%s%s%s)", c->patient ? "patient " : "",
			    c->patient ? c->patient : "", c->reminder && c->patient ? ", reminder " : c->reminder ? "reminder " : "",
			    c->reminder ? c->reminder : "");
		sbuf_addc(&line, '\n');
		fputs(line.s, stderr);
		sbuf_free(&line);
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

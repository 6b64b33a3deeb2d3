/* console.c - the "console" delivery module: one line per reminder.
 *
 * For trying a configuration out and for tests: every message becomes
 * exactly one line on stdout (or stderr, with `stream = "stderr"`):
 *
 *     2024-05-06T07:30:00Z clinic-console P0042 session 3f2a9c0d11e4b7a8: Your session ...
 *     <due, UTC>           <channel>      <patient> <kind> <id>: <text>
 *
 * Newlines, carriage returns and tabs become spaces, so one reminder is
 * one line whatever its template produced.  Every send completes at once
 * (allowed by plugin.h): nothing is ever outstanding, so cancel has
 * nothing to do.  Writes to a terminal or pipe may block in theory; this
 * module is for tests and trials, never for production volumes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iopd/plugin.h"

struct console {
	const struct iopd_host *h;
	FILE *out;
};

static const char *const console_keys[] = {"stream", NULL};

/* "stdout" | "stderr"; anything else is reported where it was written. */
static int console_stream(const struct iopd_host *h, const config_setting_t *s, FILE **out)
{
	const config_setting_t *st = config_setting_get_member(s, "stream");
	const char *v;

	*out = stdout;
	if (!st)
		return 0;
	v = config_setting_type(st) == CONFIG_TYPE_STRING ? config_setting_get_string(st) : NULL;
	if (v && strcmp(v, "stdout") == 0)
		return 0;
	if (v && strcmp(v, "stderr") == 0) {
		*out = stderr;
		return 0;
	}
	h->conf_error(h, st, "stream must be \"stdout\" or \"stderr\"");
	return -1;
}

static void *console_configure(const struct iopd_host *h, const config_setting_t *s,
    const struct iopd_channel_info *info)
{
	struct console *c;
	FILE *out;
	int bad;

	(void)info;
	bad = h->conf_check_keys(h, s, console_keys) > 0;
	if (console_stream(h, s, &out) < 0 || bad)
		return NULL;
	c = calloc(1, sizeof *c);
	if (!c) {
		h->conf_error(h, s, "out of memory");
		return NULL;
	}
	c->h = h;
	c->out = out;
	return c;
}

static int console_start(void *inst)
{
	(void)inst;
	return 0;
}

/* Writes `s` with the characters that would break the line replaced. */
static void console_put(FILE *f, const char *s)
{
	for (; s && *s; s++)
		putc_unlocked(*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s, f);
}

static void console_due(int64_t due, char *buf, size_t len)
{
	time_t t = (time_t)due;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)due);
}

/* One write under the stream's lock, so lines of concurrent writers in
 * the same process (logging to stderr) never interleave mid-line. */
static int console_write(FILE *f, const struct iopd_message *m, const char *due)
{
	int rc;

	flockfile(f);
	console_put(f, due);
	putc_unlocked(' ', f);
	console_put(f, m->channel);
	putc_unlocked(' ', f);
	console_put(f, m->patient);
	putc_unlocked(' ', f);
	console_put(f, m->kind);
	putc_unlocked(' ', f);
	console_put(f, m->id);
	putc_unlocked(':', f);
	putc_unlocked(' ', f);
	console_put(f, m->text);
	putc_unlocked('\n', f);
	rc = fflush(f) == 0 && !ferror(f) ? 0 : -1;
	clearerr(f);
	funlockfile(f);
	return rc;
}

static void console_send(void *inst, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	struct console *c = inst;
	struct iopd_outcome o = {IOPD_DELIVERED, NULL, NULL, -1.0};
	char due[64], gw[64];

	console_due(m->due, due, sizeof due);
	if (console_write(c->out, m, due) < 0) {
		/* A full disk or a closed pipe: worth another try later. */
		o.result = IOPD_TRANSIENT;
		o.reason = "console: write failed";
	} else {
		snprintf(gw, sizeof gw, "console-%s", m->id ? m->id : "");
		o.gateway_id = gw;
	}
	done(token, &o);
}

/* Sends complete inside console_send: there is never one to cancel. */
static void console_cancel(void *inst, void *token)
{
	(void)inst;
	(void)token;
}

static void console_stop(void *inst)
{
	free(inst);
}

static const struct iopd_plugin_ops console_ops = {
	console_configure, console_start, console_send, console_cancel, console_stop
};

IOPD_PLUGIN_DEFINE("console", "1.0", IOPD_CONTACT_NONE, console_ops);

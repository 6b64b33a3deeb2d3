/* log.h - one place that writes log lines.
 *
 * Under systemd (stderr is the journal, per $JOURNAL_STREAM) lines go to the
 * journal with structured fields; otherwise to stderr: on a terminal as
 * plain lines ("warning: " and "error: " said in words), else with
 * sd-daemon(3) "<N>" priority prefixes, which a supervisor that pipes
 * stderr to journald or syslog reads (each line of a multi-line message
 * gets its own).  A daemon that detached goes to the journal, else syslog,
 * else a file (log_detach).  Callers name patients by id only (SPEC 7); as a last guard every
 * line is scrubbed of E.164-looking numbers (kept: the last two digits)
 * and e-mail addresses before it leaves, at every level. */
#ifndef IOPD_LOG_H
#define IOPD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "util.h"

enum { LOG_LVL_ERR = 3, LOG_LVL_WARNING = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Structured context of a line; any member may be NULL. */
struct log_ctx {
	const char *reminder;          /* IOPD_REMINDER_ID */
	const char *patient;           /* IOPD_PATIENT_ID */
	const char *channel;           /* IOPD_CHANNEL */
};

void log_init(int level);
/* Before iopd detaches from its terminal: where lines go from now on,
 * the first that exists of the journal (journald's socket), syslog
 * (/dev/log), or `file` (appended, mode 0600: state_dir/iopd.log).
 * Writes a sentence saying which into `where`, for the terminal. */
void log_detach(const char *file, char *where, size_t len);
void log_set_level(int level);
int log_level(void);
bool log_enabled(int prio);
/* Parses "err", "warning", "notice", "info", "debug" (or 3..7); -1 if bad. */
int log_parse_level(const char *s);

void log_msg(int prio, const char *fmt, ...) IOPD_PRINTF(2, 3);
void log_ctx(int prio, const struct log_ctx *ctx, const char *fmt, ...) IOPD_PRINTF(3, 4);
void log_vctx(int prio, const struct log_ctx *ctx, const char *fmt, va_list ap) IOPD_PRINTF(3, 0);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* "+1555...67" -> "***67": at most the last two digits (SPEC 7). */
const char *log_redact_phone(const char *phone, char *buf, size_t len);

#endif

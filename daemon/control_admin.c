/* control_admin.c - the parts of admin commands that may take a while,
 * on a control job's thread.
 *
 * prep: before the loop records an override or a cancel, the name of the
 * user who asked (SO_PEERCRED gives a uid; the name may come from LDAP
 * through NSS, which can block) and, for a cancel, where the calendar has
 * the reminder (a walk of every patient's streams from the schedule's
 * mark on).  Its answer is read by the connection, not by the client:
 *
 *     OK
 *     author NAME
 *     found PATIENT DUE        (or "none"; only when asked to find)
 *
 * backup: the ledger's online copy (ledger.h, backup) into a new file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calendar.h"
#include "control_job_int.h"
#include "ident.h"
#include "timefmt.h"

#define FIND_POLL_EVERY 1024           /* streams between two looks at the client */

/* ---- prep ---------------------------------------------------------------- */

/* The user name of `uid`, as the ledger records it (letters, digits and
 * ._-@ kept, anything else '?'), or "unknown" without one. */
static void user_name(long uid, char *name, size_t len)
{
	struct passwd pw, *res = NULL;
	long max = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t blen = max > 0 ? (size_t)max : 16384, i;
	char *buf = xcalloc(1, blen);

	if (getpwuid_r((uid_t)uid, &pw, buf, blen, &res) == 0 && res && res->pw_name[0])
		snprintf(name, len, "%s", res->pw_name);
	else
		snprintf(name, len, "unknown");
	free(buf);
	for (i = 0; name[i]; i++)
		if (!strchr("._-@", name[i]) && !((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9')))
			name[i] = '?';
}

/* Has the connection gone (the pipe's reader closed)? */
static bool client_gone(struct cjob_out *o)
{
	struct pollfd p = {fileno(o->f), POLLOUT, 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* The stream's groups from `from` on, until reminder `id` (1) or the end
 * of the stream (0).  The series part of the id is the same for every
 * group of a stream but appointments (calendar.h). */
static int find_in_stream(const struct snapshot *s, struct stream *st, int64_t from, uint64_t id,
    int64_t *due)
{
	uint64_t series[SNAP_MAX_CHANNELS];
	bool cached = false;
	struct occ o;
	uint8_t k;

	for (cal_seek(s, st, from); st->due != CAL_END; cal_next(s, st)) {
		cal_occ(s, st, &o);
		for (k = 0; k < o.rule->nchan; k++) {
			uint16_t ch = o.rule->chan[k];
			if (!cached || st->kind == STREAM_APPTS)
				series[k] = cal_series_id(s, &o, ch);
			if (ident_reminder(series[k], o.event) == id) {
				*due = o.due;
				return 1;
			}
		}
		cached = true;
	}
	return 0;
}

/* 1 found (patient index, due), 0 not in the calendar, -1 client gone. */
static int find_reminder(const struct snapshot *s, uint64_t id, int64_t from, struct cjob_out *o,
    uint32_t *patient, int64_t *due)
{
	struct stream *st = NULL;
	size_t cap = 0, polled = 0;
	uint32_t p, n, i;
	int rc = 0;

	for (p = 0; p < s->npatients && !rc; p++) {
		n = cal_streams(s, p, NULL);
		grow_array(&st, &cap, n ? n : 1, sizeof *st);
		cal_streams(s, p, st);
		for (i = 0; i < n && !rc; i++)
			if (find_in_stream(s, &st[i], from, id, due)) {
				*patient = p;
				rc = 1;
			}
		if ((polled += n) >= FIND_POLL_EVERY) {
			polled = 0;
			if (client_gone(o))
				rc = -1;
		}
	}
	free(st);
	return rc;
}

void cjob_prep(const struct cjob_req *req, const struct snapshot *s, struct cjob_out *o)
{
	char name[64];
	uint32_t p;
	int64_t due;
	int rc;

	user_name(req->uid, name, sizeof name);
	sbuf_printf(&o->buf, "author %s\n", name);
	if (req->find_id) {
		if ((rc = find_reminder(s, req->find_id, req->find_from, o, &p, &due)) < 0)
			return;
		if (rc)
			sbuf_printf(&o->buf, "found %s %lld\n", s->patients[p].id, (long long)due);
		else
			sbuf_adds(&o->buf, "none\n");
	}
	cjob_out_flush(o);
}

/* ---- backup -------------------------------------------------------------- */

static char *dir_of(const char *path)
{
	char *d = xstrdup(path), *slash = strrchr(d, '/');

	if (slash == d)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	return d;
}

/* The new file takes its name only now, and never over another one. */
static int publish(const char *tmp, const char *path, char *err, size_t errlen)
{
	char *dir;
	int fd;

	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0 &&
	    (errno != EINVAL || link(tmp, path) != 0 || unlink(tmp) != 0)) {
		snprintf(err, errlen, "%s: %s", path, errno == EEXIST ?
		    "it exists now (made while the copy ran): iopctl backup never replaces a file" :
		    strerror(errno));
		return -1;
	}
	dir = dir_of(path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);                     /* the new name, durable */
		close(fd);
	}
	free(dir);
	return 0;
}

static void backup_answer(struct cjob_out *o, const char *path, int64_t bytes, int64_t at,
    double secs)
{
	char t[FMT_UTC_LEN + 1], msg[PATH_MAX + 160];

	fmt_utc(at, t);
	snprintf(msg, sizeof msg, "ledger copied to %s: %lld bytes, as it was at %s (%.1f s)", path,
	    (long long)bytes, t, secs);
	if (o->json) {
		sbuf_adds(&o->buf, "{\"ok\":true,\"message\":");
		sbuf_json_str(&o->buf, msg);
		sbuf_adds(&o->buf, ",\"path\":");
		sbuf_json_str(&o->buf, path);
		sbuf_printf(&o->buf, ",\"bytes\":%lld,\"at\":\"%s\",\"seconds\":%.3f}\n", (long long)bytes,
		    t, secs);
	} else {
		sbuf_printf(&o->buf, "%s\n", msg);
	}
	cjob_out_flush(o);
}

/* Into PATH.tmp-XXXXXX (0600), then renamed to PATH if nothing is there:
 * a backup cut short by a crash or a full disk never looks like a whole
 * one. */
void cjob_backup(const struct cjob_req *req, struct ledger *l, struct cjob_out *o)
{
	const char *path = req->path;
	char *tmp = xasprintf("%s.tmp-XXXXXX", path), err[PATH_MAX + 256];
	struct timespec t0, t1;
	int64_t bytes = 0, at;
	struct stat st;
	int fd;

	if (!l->ops->backup) {
		if (strcmp(l->ops->name, "postgresql") == 0)
			snprintf(err, sizeof err, "the ledger is in PostgreSQL: back it up with pg_dump "
			    "(e.g. pg_dump -Fc -f iopd.dump DBNAME, as a role that can read iopd's tables), "
			    "or with the server's own backups; iopctl backup copies SQLite ledgers");
		else
			snprintf(err, sizeof err, "the %s ledger has no online backup here: back it up with "
			    "the database's own tools", l->ops->name);
		cjob_out_error(o, "backup", err);
	} else if (lstat(path, &st) == 0) {
		snprintf(err, sizeof err, "%s exists: iopctl backup never replaces a file; give a new "
		    "name (e.g. with the date in it)", path);
		cjob_out_error(o, "backup", err);
	} else if ((fd = mkstemp(tmp)) < 0) {
		snprintf(err, sizeof err, "cannot create a file in the folder of %s: %s (iopd writes the "
		    "copy itself, as its own user: choose a folder it may write)", path, strerror(errno));
		cjob_out_error(o, "backup", err);
	} else {
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		at = (int64_t)time(NULL);
		if (l->ops->backup(l, tmp, &bytes, err, sizeof err) || publish(tmp, path, err, sizeof err)) {
			unlink(tmp);
			cjob_out_error(o, "backup", err);
		} else {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			backup_answer(o, path, bytes, at, (double)(t1.tv_sec - t0.tv_sec) +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		}
	}
	free(tmp);
}

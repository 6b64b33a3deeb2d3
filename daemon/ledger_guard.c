/* ledger_guard.c - a ledger that lived in state_dir is never silently
 * replaced by a new, empty one.
 *
 * The ledger remembers who was paused or opted out at run time and what
 * was already sent.  If it disappears (deleted by mistake, a state folder
 * restored without it) and iopd simply made a new one, a patient who
 * answered STOP would be texted again.  So the first ledger made in a
 * state_dir leaves a marker there, ledger.id, naming its identity
 * (ledger.h, identity()); at every start the ledger found must be the one
 * the marker names.  `iopd --new-ledger` is the admin's explicit word that
 * the ledger found (or a new one, if none) is to be used from now on. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"
#include "log.h"
#include "util.h"

#define MARKER "ledger.id"
#define MARKER_MAX 4096
#define MARKER_KEY "ledger "

/* Reads the identity the marker names into id (idlen >= 33).  1: found,
 * 0: no marker, -1: a marker that cannot be read or makes no sense (err). */
static int marker_read(const char *dir, char *id, size_t idlen, char *err, size_t errlen)
{
	char path[PATH_MAX], buf[MARKER_MAX + 1], *line;
	int fd;
	ssize_t n;
	struct stat st;

	snprintf(path, sizeof path, "%s/" MARKER, dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (n = read(fd, buf, MARKER_MAX)) < 0) {
		snprintf(err, errlen, "cannot read %s: not a regular file, or %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	for (line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, MARKER_KEY, strlen(MARKER_KEY)) == 0) {
			size_t k = strspn(line + strlen(MARKER_KEY), "0123456789abcdef");
			if (k > 0 && k < idlen) {
				snprintf(id, idlen, "%.*s", (int)k, line + strlen(MARKER_KEY));
				return 1;
			}
		}
	snprintf(err, errlen, "%s does not name a ledger (a line \"ledger <id>\"): move it aside "
	    "and start iopd with --new-ledger if the ledger here is the right one", path);
	return -1;
}

/* Writes the marker whole or not at all: a temporary file, fsync, rename,
 * fsync of the folder. */
static int marker_write(const char *dir, const char *id, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[256];
	int fd, dfd, n;

	snprintf(path, sizeof path, "%s/" MARKER, dir);
	snprintf(tmp, sizeof tmp, "%s/" MARKER ".tmp", dir);
	n = snprintf(text, sizeof text, "# iopd: the ledger that lives in this folder (iopd(8), "
	    "--new-ledger); do not edit\n" MARKER_KEY "%s\n", id);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, text, (size_t)n) != n || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static void refuse_missing(const char *dir, const char *id, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s/ledger.db is missing, but %s/" MARKER " says a ledger (id %.8s...) "
	    "lived here: its record of what was sent and of who paused or opted out is gone.  Restore "
	    "it from a backup; or, to begin with a new, empty ledger (patients paused or opted out "
	    "with iopctl would get reminders again), start iopd once with --new-ledger", dir, dir, id);
}

static void refuse_other(const char *dir, const char *found, const char *id, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "%s/ledger.db is not the ledger that lived here (its id is %.8s..., "
	    "%s/" MARKER " names %.8s...): it was replaced.  Put the right one back; or, if this one is "
	    "to be used from now on, start iopd once with --new-ledger", dir, found, dir, id);
}

struct ledger *ledger_open_guarded(const char *dir, int adopt, char *err, size_t errlen)
{
	char id[64] = "";
	int marked = marker_read(dir, id, sizeof id, err, errlen), exists;
	struct ledger *l;
	const char *found;

	if (marked < 0)
		return NULL;
	if ((exists = ledger_sqlite_exists(dir)) < 0 && errno != ENOTDIR) {
		snprintf(err, errlen, "%s/ledger.db: %s", dir, strerror(errno));
		return NULL;
	}
	if (marked && exists == 0 && !adopt) {
		refuse_missing(dir, id, err, errlen);
		return NULL;
	}
	if (!(l = ledger_sqlite_open(dir, err, errlen)))
		return NULL;
	found = l->ops->identity(l);
	if (marked && strcmp(found, id) != 0 && !adopt) {
		refuse_other(dir, found, id, err, errlen);
		l->ops->close(l);
		return NULL;
	}
	if (!marked || strcmp(found, id) != 0) {
		if (marker_write(dir, found, err, errlen)) {
			l->ops->close(l);
			return NULL;
		}
		if (marked)
			log_notice("--new-ledger: %s/ledger.db (id %.8s...) is this folder's ledger from now on%s",
			    dir, found, exists ? "" : " (a new, empty one)");
		else if (exists)
			log_notice("ledger %s/ledger.db (id %.8s...) recorded in %s/" MARKER, dir, found, dir);
	} else if (adopt) {
		log_notice("--new-ledger: %s/ledger.db is already this folder's ledger; nothing to do", dir);
	}
	return l;
}

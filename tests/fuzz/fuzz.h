/* fuzz.h - what the libFuzzer targets of tests/fuzz share: the entry
 * points, a private scratch folder, and files written into it.
 *
 * Each target defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize).  Built with --enable-fuzzing they link libFuzzer;
 * otherwise replay_main.c drives them over their corpus, so every input
 * in tests/fuzz/corpus runs in `make check` as well (tests/fuzz/replay.sh).
 *
 * Everything is static inline so that a target uses what it needs
 * without unused-function warnings. */
#ifndef IOPD_TESTS_FUZZ_H
#define IOPD_TESTS_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_NELEM(a) (sizeof(a) / sizeof((a)[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A target's own invariant does not hold: report and abort, which
 * libFuzzer records as a crash with its input. */
#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* The input as a C string (it ends at its first NUL, as any C string
 * read from a file or socket would). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static char *fuzz_dir;

static inline int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void fuzz_cleanup(void)
{
	if (fuzz_dir)
		nftw(fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fuzz_dir);
	fuzz_dir = NULL;
}

/* The target's private folder (made once, removed at exit), resolved. */
static inline const char *fuzz_scratch(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	if (fuzz_dir)
		return fuzz_dir;
	snprintf(tmpl, sizeof tmpl, "%s/iopd-fuzz-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpl) || !(fuzz_dir = realpath(tmpl, NULL))) {
		perror("iopd fuzz: scratch folder");
		exit(1);
	}
	atexit(fuzz_cleanup);
	return fuzz_dir;
}

/* Writes data to path (made mode `mode`, folders as needed are not). */
static inline void fuzz_write(const char *path, const void *data, size_t size, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || fchmod(fd, mode) < 0) {
		fprintf(stderr, "iopd fuzz: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

#endif

/* snapcache_libs.c - see snapcache_libs.h */
#include "config.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phone.h"
#include "snapcache_libs.h"

/* libphonenumber, ICU and the C++ runtime they use */
static bool phone_library(const char *name)
{
	static const char *const libs[] = {"/libphonenumber.so", "/libicu", "/libstdc++.so"};
	size_t i;

	for (i = 0; i < IOPD_NELEM(libs); i++)
		if (strstr(name, libs[i]))
			return true;
	return false;
}

bool snapcache_libs_build_id(const void *notes, size_t len, const unsigned char **id, size_t *n)
{
	const unsigned char *p = notes;
	size_t at = 0;

	/* offsets, not pointers: a note's sizes come from a file */
	while (len - at >= sizeof(ElfW(Nhdr))) {
		ElfW(Nhdr) nh;
		size_t name = at + sizeof nh, namesz, descsz;
		memcpy(&nh, p + at, sizeof nh);
		namesz = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
		descsz = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
		if (namesz > len - name || nh.n_descsz > len - name - namesz)
			break;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(p + name, "GNU", 4) == 0) {
			*id = p + name + namesz;
			*n = nh.n_descsz;
			return true;
		}
		if (descsz > len - name - namesz)
			break;
		at = name + namesz + descsz;
	}
	return false;
}

static void add_hex(struct sbuf *out, const unsigned char *id, size_t n)
{
	size_t i;

	sbuf_adds(out, "id:");
	for (i = 0; i < n; i++)
		sbuf_printf(out, "%02x", id[i]);
}

/* A file or directory by what changes when it is replaced, written or
 * (a directory) has an entry added or removed.  statx, not stat: the
 * kernel's times, which libfaketime (tests, bench) shifts in stat only. */
static void add_path_id(struct sbuf *out, const char *path)
{
	struct statx st;

	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &st) != 0) {
		sbuf_printf(out, "errno:%d", errno);
		return;
	}
	sbuf_printf(out, "stat:%u:%u:%" PRIu64 ":%" PRIu64 ":%" PRId64 ".%09u:%" PRId64 ".%09u",
	    st.stx_dev_major, st.stx_dev_minor, (uint64_t)st.stx_ino, (uint64_t)st.stx_size,
	    (int64_t)st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec, (int64_t)st.stx_ctime.tv_sec,
	    st.stx_ctime.tv_nsec);
}

/* A loaded object: its build id, from its notes in memory */
static void add_loaded_id(struct sbuf *out, const struct dl_phdr_info *info)
{
	const unsigned char *id;
	size_t n;
	int i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_NOTE &&
		    snapcache_libs_build_id((const void *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz, &id, &n)) {
			add_hex(out, id, n);
			return;
		}
	}
	add_path_id(out, info->dlpi_name);
}

static int pread_all(int fd, void *p, size_t n, off_t at)
{
	return pread(fd, p, n, at) == (ssize_t)n ? 0 : -1;
}

#define NOTES_MAX (1 << 20)

/* An object on disk: its build id, from its notes in the file.  The
 * writer took it from the object in memory: a file since replaced by
 * another build answers differently. */
static void add_file_id(struct sbuf *out, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ElfW(Ehdr) eh;
	ElfW(Phdr) ph;
	unsigned i;
	bool found = false;

	if (fd >= 0 && pread_all(fd, &eh, sizeof eh, 0) == 0 && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
	    eh.e_phentsize == sizeof ph) {
		for (i = 0; i < eh.e_phnum && !found; i++) {
			const unsigned char *id;
			char *notes;
			size_t n;
			if (pread_all(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != 0)
				break;
			if (ph.p_type != PT_NOTE || ph.p_filesz > NOTES_MAX)
				continue;
			notes = xmalloc(ph.p_filesz + 1);
			if (pread_all(fd, notes, ph.p_filesz, (off_t)ph.p_offset) == 0 &&
			    snapcache_libs_build_id(notes, ph.p_filesz, &id, &n)) {
				add_hex(out, id, n);
				found = true;
			}
			free(notes);
		}
	}
	if (fd >= 0)
		close(fd);
	if (!found)
		add_path_id(out, path);
}

/* LD_PRELOAD's phone libraries (the rest, libfaketime among them, change
 * no number) */
static void add_preloaded(struct sbuf *out)
{
	const char *v = getenv("LD_PRELOAD");
	char *copy, *tok, *save;

	if (!v)
		return;
	copy = xstrdup(v);
	for (tok = strtok_r(copy, " :", &save); tok; tok = strtok_r(NULL, " :", &save))
		if (phone_library(tok))
			sbuf_printf(out, "%s:", tok);
	free(copy);
}

/* The answer to a line's question now; false for a question not known */
static bool answer(const char *kind, const char *name, struct sbuf *out)
{
	if (strcmp(kind, "phone") == 0) {
		sbuf_adds(out, "unused");      /* holds whatever the system */
	} else if (strcmp(kind, "module") == 0) {
		char path[PATH_MAX];
		phone_module_path(path, sizeof path);
		sbuf_adds(out, path);
	} else if (strcmp(kind, "env") == 0 && strcmp(name, "LD_PRELOAD") == 0) {
		add_preloaded(out);
	} else if (strcmp(kind, "env") == 0) {
		const char *v = getenv(name);
		sbuf_adds(out, v ? v : "");
	} else if (strcmp(kind, "object") == 0) {
		add_file_id(out, name);
	} else if (strcmp(kind, "path") == 0) {
		add_path_id(out, name);
	} else {
		return false;
	}
	return true;
}

/* ---- writing ---- */

struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *s)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], s) == 0)
			return;
	grow_array(&ns->v, &ns->cap, ns->n + 1, sizeof *ns->v);
	ns->v[ns->n++] = xstrdup(s);
}

static void names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

struct objects {
	const char *module;            /* the phone module's path, "" if linked in */
	struct names names;
	struct sbuf *out;
};

static bool line_ok(const char *s)
{
	return !strpbrk(s, "\t\n");
}

static void add_line(struct sbuf *out, const char *kind, const char *name, const struct sbuf *v)
{
	sbuf_printf(out, "%s\t%s\t%s\n", kind, name, v->s ? v->s : "");
}

static int describe_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct objects *o = arg;
	struct sbuf id = {0};

	(void)size;
	if (!info->dlpi_name || !*info->dlpi_name ||
	    !(phone_library(info->dlpi_name) || (*o->module && strcmp(info->dlpi_name, o->module) == 0)))
		return 0;
	add_loaded_id(&id, info);
	add_line(o->out, "object", info->dlpi_name, &id);
	sbuf_free(&id);
	names_add(&o->names, info->dlpi_name);
	return 0;
}

/* The directories the dynamic loader searches for the dependencies of
 * the object `h` (LD_LIBRARY_PATH, its run path, the system's) */
static int search_dirs(void *h, struct names *dirs)
{
	Dl_serinfo size, *si;
	unsigned i;
	int rc = -1;

	if (!h || dlinfo(h, RTLD_DI_SERINFOSIZE, &size) != 0)
		return -1;
	si = xmalloc(size.dls_size);
	si->dls_size = size.dls_size;
	si->dls_cnt = size.dls_cnt;
	if (dlinfo(h, RTLD_DI_SERINFO, si) == 0) {
		for (i = 0; i < si->dls_cnt; i++)
			names_add(dirs, si->dls_serpath[i].dls_name);
		rc = 0;
	}
	free(si);
	return rc;
}

int snapcache_libs_describe(struct sbuf *out, char *err, size_t errlen)
{
	static const char *const files[] = {"/etc/ld.so.cache", "/etc/ld.so.preload"};
	char module[PATH_MAX];
	struct objects o = {module, {0}, out};
	struct names dirs = {0};
	struct sbuf v = {0};
	size_t i;
	int rc = 0;

	/* A load that checked a number loaded the module (and one that
	 * could not check it failed, and writes no cache): without it, the
	 * patients owe the phone libraries nothing. */
	if (!phone_loaded()) {
		sbuf_adds(out, "phone\t-\tunused\n");
		return 0;
	}
	phone_module_path(module, sizeof module);
	sbuf_adds(&v, module);
	add_line(out, "module", "-", &v);
	dl_iterate_phdr(describe_object, &o);
	/* (dlopen is for after dl_iterate_phdr, which holds the loader's lock) */
	rc |= search_dirs(dlopen(NULL, RTLD_LAZY), &dirs);
	for (i = 0; i < o.names.n; i++) {
		void *h = dlopen(o.names.v[i], RTLD_LAZY | RTLD_NOLOAD);
		rc |= search_dirs(h, &dirs);
		if (h)
			dlclose(h);
	}
	for (i = 0; i < dirs.n + IOPD_NELEM(files); i++) {
		const char *p = i < dirs.n ? dirs.v[i] : files[i - dirs.n];
		sbuf_reset(&v);
		add_path_id(&v, p);
		rc |= line_ok(p) ? 0 : -1;
		add_line(out, "path", p, &v);
	}
	for (i = 0; i < 2; i++) {
		const char *name = i ? "LD_PRELOAD" : "LD_LIBRARY_PATH";
		sbuf_reset(&v);
		answer("env", name, &v);
		rc |= line_ok(v.s ? v.s : "") ? 0 : -1;
		add_line(out, "env", name, &v);
	}
	rc |= line_ok(module) ? 0 : -1;
	for (i = 0; i < o.names.n; i++)
		rc |= line_ok(o.names.v[i]) ? 0 : -1;
	if (rc != 0)
		snprintf(err, errlen, "cannot tell where the dynamic loader found the phone libraries");
	names_free(&o.names);
	names_free(&dirs);
	sbuf_free(&v);
	return rc;
}

/* ---- reading ---- */

/* One line "kind\tname\tvalue" of [p, nl): does it hold now? */
static bool line_holds(const char *p, const char *nl, struct sbuf *kind, struct sbuf *name,
    struct sbuf *now)
{
	const char *t1 = memchr(p, '\t', (size_t)(nl - p)), *t2;

	if (!t1 || t1 == p || !(t2 = memchr(t1 + 1, '\t', (size_t)(nl - t1 - 1))) || t2 == t1 + 1)
		return false;
	sbuf_reset(kind);
	sbuf_reset(name);
	sbuf_reset(now);
	sbuf_add(kind, p, (size_t)(t1 - p));
	sbuf_add(name, t1 + 1, (size_t)(t2 - t1 - 1));
	return answer(kind->s, name->s, now) && now->len == (size_t)(nl - t2 - 1) &&
	    memcmp(now->s ? now->s : "", t2 + 1, now->len) == 0;
}

int snapcache_libs_current(const char *desc, size_t len)
{
	const char *p = desc, *end = desc + len, *nl;
	struct sbuf kind = {0}, name = {0}, now = {0};
	int rc = len > 0 && !memchr(desc, '\0', len) ? 0 : -1;

	while (rc == 0 && p < end) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))) || !line_holds(p, nl, &kind, &name, &now))
			rc = -1;
		else
			p = nl + 1;
	}
	sbuf_free(&kind);
	sbuf_free(&name);
	sbuf_free(&now);
	return rc;
}

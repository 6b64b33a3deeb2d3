/* snapcache_libs.h - the phone libraries a patients cache was read with.
 *
 * Phone numbers in the cache were checked and normalised by libphonenumber
 * (with ICU and the C++ runtime), through the phone module.  Which build
 * of them iopd would use now cannot be asked of the dynamic loader
 * without loading them, which is the cost (9 ms) the cache spares `iopd
 * agenda`.  So the writer describes, as lines of text, what decided the
 * ones it ran with: the module's path; each library's path and identity
 * (its GNU build id, else its file's device, inode, size and times); what
 * the dynamic loader searched them in (LD_LIBRARY_PATH, each directory of
 * every search path of those objects and of the program, with its times,
 * which a file added or removed changes; /etc/ld.so.cache and
 * /etc/ld.so.preload; the libraries of LD_PRELOAD among them).  The
 * reader takes each line as a question about the system now (the file's
 * identity on disk, the directory's times, the variable's value) and uses
 * the cache only if every answer is the same: loading the module now
 * would then find the very same files. */
#ifndef IOPD_SNAPCACHE_LIBS_H
#define IOPD_SNAPCACHE_LIBS_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* The GNU build id (a hash the linker made of the object) among an ELF
 * object's notes [notes, notes + len): *id, *n; false if there is none. */
bool snapcache_libs_build_id(const void *notes, size_t len, const unsigned char **id, size_t *n);

/* The description, from what this process loaded: the phone module and
 * its libraries if a number was checked, else a line saying the patients
 * owe them nothing.  -1 with the reason in err if it cannot be made. */
int snapcache_libs_describe(struct sbuf *out, char *err, size_t errlen);

/* 0 if every line of a description holds now. */
int snapcache_libs_current(const char *desc, size_t len);

#endif

/* fingerprint.c - what decides reminders, as one digest (SPEC 9).
 *
 * Instances sharing a ledger must compute the same schedule from the same
 * configuration; each publishes this digest with its heartbeat, and a
 * difference is logged.  It is a hash over a canonical walk of the parsed
 * tree (includes expanded): each setting hashes its type, name and value,
 * and a group, list or array the sorted hashes of its members, so order,
 * spacing, comments and the split into files do not count.  Settings that
 * differ per host by design are left out: daemon.instance, state_dir,
 * control_socket, plugin_dir, log_level, metrics_file, metrics_interval,
 * ledger, postgresql, and inbound.listen. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_parts.h"
#include "ident.h"

static const uint64_t fp_key[2] = {0x696f70642d667072ULL, 0x696e747631000000ULL};   /* "iopd-fprintv1" */

static const char *const per_host_daemon[] = {
	"instance", "state_dir", "control_socket", "plugin_dir", "log_level", "metrics_file",
	"metrics_interval", "ledger", "postgresql", NULL
};
static const char *const per_host_inbound[] = {"listen", NULL};

static bool listed(const char *const *list, const char *name)
{
	for (; name && *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The settings of the top level and the daemon and inbound groups that
 * stay out. */
static const char *const *skipped_in(const config_setting_t *g)
{
	const config_setting_t *p = config_setting_parent(g);
	const char *name = config_setting_name(g);

	if (!p || !config_setting_is_root(p) || !name)
		return NULL;
	if (strcmp(name, "daemon") == 0)
		return per_host_daemon;
	if (strcmp(name, "inbound") == 0)
		return per_host_inbound;
	return NULL;
}

static uint64_t walk(const config_setting_t *s)
{
	const char *name = config_setting_name(s);
	int type = config_setting_type(s), i, n;
	size_t nlen = name ? strlen(name) : 0, len = 0, m = 0;
	unsigned char *buf;
	uint64_t h, *kids = NULL;
	const char *const *skip;

	if (type == CONFIG_TYPE_GROUP || type == CONFIG_TYPE_LIST || type == CONFIG_TYPE_ARRAY) {
		skip = type == CONFIG_TYPE_GROUP ? skipped_in(s) : NULL;
		n = config_setting_length(s);
		kids = xmalloc(sizeof *kids * (size_t)(n + 1));
		for (i = 0; i < n; i++) {
			const config_setting_t *k = config_setting_get_elem(s, (unsigned)i);
			if (!skip || !listed(skip, config_setting_name(k)))
				kids[m++] = walk(k);
		}
		qsort(kids, m, sizeof *kids, cmp_u64);
		len = m * sizeof *kids;
	} else if (type == CONFIG_TYPE_STRING) {
		len = strlen(config_setting_get_string(s));
	} else {
		len = sizeof(int64_t);
	}
	buf = xmalloc(2 + nlen + len);
	buf[0] = (unsigned char)type;
	memcpy(buf + 1, name ? name : "", nlen);
	buf[1 + nlen] = 0;
	if (kids) {
		memcpy(buf + 2 + nlen, kids, len);
	} else if (type == CONFIG_TYPE_STRING) {
		memcpy(buf + 2 + nlen, config_setting_get_string(s), len);
	} else {
		int64_t v = 0;
		double f;
		if (type == CONFIG_TYPE_FLOAT) {
			f = config_setting_get_float(s);
			memcpy(&v, &f, sizeof v);
		} else if (type == CONFIG_TYPE_BOOL) {
			v = config_setting_get_bool(s);
		} else {
			v = config_setting_get_int64(s);
		}
		memcpy(buf + 2 + nlen, &v, sizeof v);
	}
	h = siphash24(fp_key, buf, 2 + nlen + len);
	free(buf);
	free(kids);
	return h;
}

uint64_t conf_fp_setting(const config_setting_t *s)
{
	return walk(s);
}

const char *conf_fingerprint(struct intern *strings, const config_setting_t *root,
    uint64_t *patients, size_t npatients)
{
	char hex[IDENT_HEX_LEN + 1];
	uint64_t h = walk(root), *all;

	if (npatients) {
		/* the streamed patients (conf_read.h), in any order, with the rest */
		qsort(patients, npatients, sizeof *patients, cmp_u64);
		all = xmalloc((npatients + 1) * sizeof *all);
		all[0] = h;
		memcpy(all + 1, patients, npatients * sizeof *all);
		h = siphash24(fp_key, all, (npatients + 1) * sizeof *all);
		free(all);
	}
	ident_hex(h, hex);
	return intern(strings, hex);
}

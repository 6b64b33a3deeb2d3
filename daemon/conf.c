/* conf.c - the top of the configuration: files, includes, `daemon`,
 * global closures, and the checks that need the whole tree. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "conf_parts.h"
#include "conf_source.h"
#include "log.h"
#include "tz.h"

static const char *const root_keys[] = {
	"daemon", "channels", "templates", "closures", "programs", "patients", "inbound", NULL
};

static const char *const daemon_keys[] = {
	"timezone", "state_dir", "control_socket", "plugin_dir", "quiet_hours", "catch_up",
	"medication_grace", "clinic_phone", "log_level", "metrics_file", "metrics_interval", NULL
};

/* Under systemd, StateDirectory= and RuntimeDirectory= say where the
 * service may write ($STATE_DIRECTORY, $RUNTIME_DIRECTORY; a list
 * separated by ':' when the unit names several): they become the
 * defaults of state_dir and control_socket, so the unit works whatever
 * --localstatedir iopd was built with.  Keys set in the file still win. */
static const char *systemd_dir(const char *var)
{
	const char *v = getenv(var);

	return v && v[0] == '/' ? v : NULL;
}

static const char *first_of(struct snapshot *s, const char *list, const char *suffix)
{
	size_t n = strcspn(list, ":");
	char *t = xasprintf("%.*s%s", (int)n, list, suffix);
	const char *r = intern(&s->strings, t);

	free(t);
	return r;
}

static void daemon_defaults(struct snapshot *s)
{
	char err[128];

	const char *sd = systemd_dir("STATE_DIRECTORY"), *rd = systemd_dir("RUNTIME_DIRECTORY");

	s->tz = tz_get("UTC", err, sizeof err);
	s->state_dir = sd ? first_of(s, sd, "") : intern(&s->strings, "/var/lib/iopd");
	s->control_socket = rd ? first_of(s, rd, "/control.sock") :
	    intern(&s->strings, "/run/iopd/control.sock");
	s->plugin_dir = NULL;                  /* plugin_load's own search order */
	s->quiet.from = 21 * 3600;
	s->quiet.to = 8 * 3600;
	s->catch_up = 2 * 3600;
	s->medication_grace = 3600;
	s->clinic_phone = intern(&s->strings, "");
	s->log_level = -1;
	s->metrics_file = NULL;
	s->metrics_interval = 15.0;
}

/* A duration in seconds: catch-up and grace are spans of elapsed time, so
 * a calendar day counts as 24 hours here. */
static int exact_secs(struct conf_ctx *c, const config_setting_t *g, const char *key,
    int64_t *out)
{
	struct dur d;
	int rc = conf_dur(c, g, key, false, &d, NULL);

	if (rc == CONF_OK)
		*out = dur_approx_secs(d);
	return rc == CONF_BAD;
}

/* metrics_file: the Prometheus text written every metrics_interval (for
 * node_exporter's textfile collector, which reads only *.prom files). */
static int parse_metrics(struct conf_ctx *c, const config_setting_t *g)
{
	struct snapshot *s = c->snap;
	const char *file = NULL;
	int64_t every = 0;
	int bad = conf_string(c, g, "metrics_file", false, &file) == CONF_BAD;

	if (file && file[0] != '/') {
		errs_set(c->errs, config_setting_get_member(g, "metrics_file"),
		    "daemon.metrics_file must be an absolute path, e.g. "
		    "\"/var/lib/prometheus/node-exporter/iopd.prom\"");
		bad++;
	} else if (file) {
		s->metrics_file = file;
		if (strlen(file) < 5 || strcmp(file + strlen(file) - 5, ".prom") != 0)
			warn_set(c->errs, config_setting_get_member(g, "metrics_file"),
			    "daemon.metrics_file: node_exporter's textfile collector only reads "
			    "files ending in .prom");
	}
	if (config_setting_get_member(g, "metrics_interval")) {
		if (exact_secs(c, g, "metrics_interval", &every)) {
			bad++;
		} else if (every < 1 || every > 86400) {
			errs_set(c->errs, config_setting_get_member(g, "metrics_interval"),
			    "daemon.metrics_interval must be between 1s and 24h");
			bad++;
		} else {
			s->metrics_interval = (double)every;
		}
	}
	return bad;
}

static int parse_daemon(struct conf_ctx *c, const config_setting_t *g)
{
	struct snapshot *s = c->snap;
	const char *phone = NULL, *level = NULL;
	int bad;

	if (conf_expect(c, g, CONFIG_TYPE_GROUP, NULL))
		return 1;
	bad = conf_check_keys(c, g, daemon_keys);
	bad += conf_tz(c, g, "timezone", false, &s->tz) == CONF_BAD;
	bad += conf_string(c, g, "state_dir", false, &s->state_dir) == CONF_BAD;
	bad += conf_string(c, g, "control_socket", false, &s->control_socket) == CONF_BAD;
	bad += conf_string(c, g, "plugin_dir", false, &s->plugin_dir) == CONF_BAD;
	bad += conf_quiet(c, g, "quiet_hours", false, &s->quiet) == CONF_BAD;
	bad += exact_secs(c, g, "catch_up", &s->catch_up);
	bad += exact_secs(c, g, "medication_grace", &s->medication_grace);
	bad += conf_string(c, g, "log_level", false, &level) == CONF_BAD;
	if (level && (s->log_level = log_parse_level(level)) < 0) {
		errs_set(c->errs, config_setting_get_member(g, "log_level"),
		    "daemon.log_level: unknown level \"%s\" (err, warning, notice, info or debug)", level);
		bad++;
	}
	bad += parse_metrics(c, g);
	bad += conf_string(c, g, "clinic_phone", false, &phone) == CONF_BAD;
	if (phone && !conf_phone_ok(phone)) {
		errs_set(c->errs, config_setting_get_member(g, "clinic_phone"),
		    "daemon.clinic_phone: \"%s\" is not an E.164 number (write it like +15550009999)", phone);
		bad++;
	} else if (phone) {
		s->clinic_phone = phone;
	}
	return bad;
}

/* Resolves the configuration file to an absolute path: the daemon may
 * chdir and reload later, and relative includes need its folder. */
static char *absolute(const char *path)
{
	char *r = realpath(path, NULL);

	return r ? r : xstrdup(path);
}

static char *dir_of(const char *path)
{
	char *d = xstrdup(path), *slash = strrchr(d, '/');

	if (slash == d)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(d, ".");
	return d;
}

static int read_tree(config_t *cfg, const char *path, struct conf_source *src, struct errs *e)
{
	config_init(cfg);
	if (conf_source_load(src, path, e) != 0)
		return -1;
	e->src = src;
	if (config_read_string(cfg, src->text.s))
		return 0;
	{
		const char *f;
		int line;
		conf_source_where(src, config_error_line(cfg), &f, &line);
		errs_at(e, f ? f : path, line, "%s (libconfig syntax: key = value; groups { }, "
		    "lists ( ), arrays [ ])", config_error_text(cfg));
	}
	return -1;
}

/* SPEC 7: files holding patients must not be readable by "other". */
static int check_patient_files(struct conf_ctx *c, const config_setting_t *patients)
{
	const char *last = NULL;
	int i, n = config_setting_length(patients), bad = 0;
	struct stat st;

	for (i = 0; i < n; i++) {
		const config_setting_t *p = config_setting_get_elem(patients, (unsigned)i);
		const char *f = setting_file(c->errs, p);      /* opens from here */
		if (last && strcmp(f, last) == 0)
			continue;
		last = f;
		if (stat(f, &st) == 0 && (st.st_mode & S_IROTH)) {
			errs_set(c->errs, p, "%s holds patient data and is readable by other users; "
			    "chmod o-r %s", f, f);
			bad++;
		}
	}
	return bad;
}

static int cmp_channel_name(const void *a, const void *b, void *arg)
{
	const struct snapshot *s = arg;
	return strcmp(s->channels[*(const uint16_t *)a].name, s->channels[*(const uint16_t *)b].name);
}

static int cmp_patient_id(const void *a, const void *b, void *arg)
{
	const struct snapshot *s = arg;
	return strcmp(s->patients[*(const uint32_t *)a].id, s->patients[*(const uint32_t *)b].id);
}

/* Sorted indexes: the agenda's order (patient, channel) and id lookups. */
static void build_channel_order(struct snapshot *s)
{
	uint16_t i;

	s->channel_order = arena_alloc(&s->arena, sizeof *s->channel_order * (s->nchannels + 1u));
	for (i = 0; i < s->nchannels; i++)
		s->channel_order[i] = i;
	qsort_r(s->channel_order, s->nchannels, sizeof *s->channel_order, cmp_channel_name, s);
}

static void build_patient_order(struct snapshot *s)
{
	uint32_t i;

	s->patient_order = arena_alloc(&s->arena, sizeof *s->patient_order * (s->npatients + 1u));
	for (i = 0; i < s->npatients; i++)
		s->patient_order[i] = i;
	qsort_r(s->patient_order, s->npatients, sizeof *s->patient_order, cmp_patient_id, s);
	for (i = 0; i < s->npatients; i++)
		s->patients[s->patient_order[i]].rank = i;
}

static int check_unique_patients(struct conf_ctx *c, const config_setting_t *list)
{
	struct snapshot *s = c->snap;
	uint32_t i;
	int bad = 0;

	for (i = 1; i < s->npatients; i++) {
		uint32_t a = s->patient_order[i - 1], b = s->patient_order[i];
		/* a missing or empty id is reported already */
		if (*s->patients[a].id && strcmp(s->patients[a].id, s->patients[b].id) == 0) {
			uint32_t later = a > b ? a : b, first = a > b ? b : a;
			const config_setting_t *p = config_setting_get_elem(list, later);
			const config_setting_t *q = config_setting_get_elem(list, first);
			/* at the offending setting itself: the later `id` */
			if (config_setting_get_member(p, "id"))
				p = config_setting_get_member(p, "id");
			if (config_setting_get_member(q, "id"))
				q = config_setting_get_member(q, "id");
			errs_set(c->errs, p, "duplicate patient id \"%s\" (also at %s:%d)",
			    s->patients[a].id, setting_file(c->errs, q), setting_line(c->errs, q));
			bad++;
		}
	}
	return bad;
}

static int parse_root(struct conf_ctx *c, config_setting_t *root)
{
	const config_setting_t *g;
	int32_t *closures = NULL;
	uint32_t nclosures = 0;
	int bad = conf_check_keys(c, root, root_keys);

	if ((g = config_setting_get_member(root, "daemon")))
		bad += parse_daemon(c, g);
	if ((g = config_setting_get_member(root, "channels")))
		bad += conf_parse_channels(c, g);
	build_channel_order(c->snap);
	if ((g = config_setting_get_member(root, "templates")))
		bad += conf_parse_templates(c, g);
	bad += conf_dates(c, root, "closures", false, &closures, &nclosures) == CONF_BAD;
	if ((g = config_setting_get_member(root, "programs")))
		bad += conf_parse_programs(c, g, closures, nclosures);
	if ((g = config_setting_get_member(root, "patients"))) {
		bad += conf_parse_patients(c, g);
		build_patient_order(c->snap);
		bad += check_unique_patients(c, g);
		if (c->check)
			bad += check_patient_files(c, g);
	} else {
		build_patient_order(c->snap);
	}
	if ((g = config_setting_get_member(root, "templates")))
		bad += conf_check_templates(c, g);
	conf_reply_templates(c);
	bad += conf_parse_inbound(c, config_setting_get_member(root, "inbound"),
	    config_setting_get_member(root, "channels"));
	return bad;
}

struct snapshot *conf_load(const char *path, enum conf_mode mode, struct errs *errs)
{
	struct snapshot *s = snapshot_new();
	char *abs = absolute(path), *dir = dir_of(abs);
	struct conf_ctx c = {s, errs, NULL, dir, mode == CONF_FULL};
	struct conf_source src;
	config_t cfg;
	int before = errs->count;

	/* messages name the files as the admin wrote them; the snapshot keeps
	 * the absolute path, for reloads */
	s->config_file = intern(&s->strings, abs);
	errs->main_file = path;
	s->loaded_at = time(NULL);
	daemon_defaults(s);
	if (read_tree(&cfg, path, &src, errs) == 0) {
		c.cfg = &cfg;
		parse_root(&c, config_root_setting(&cfg));
	}
	config_destroy(&cfg);
	errs->main_file = NULL;
	errs->src = NULL;
	conf_source_free(&src);
	free(abs);
	free(dir);
	if (errs->count > before) {
		snapshot_unref(s);
		return NULL;
	}
	intern_free(&s->strings);      /* the strings stay; the lookup table is not needed */
	return s;
}

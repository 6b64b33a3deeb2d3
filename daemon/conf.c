/* conf.c - the top of the configuration: files, includes, `daemon`,
 * global closures, and the checks that need the whole tree. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "conf_parts.h"
#include "conf_read.h"
#include "conf_source.h"
#include "snapcache.h"
#include "conf_text.h"
#include "lang.h"
#include "log.h"
#include "phone.h"
#include "tz.h"

static const char *const root_keys[] = {
	"daemon", "channels", "templates", "closures", "programs", "patients", "inbound", NULL
};

static const char *const daemon_keys[] = {
	"timezone", "state_dir", "control_socket", "plugin_dir", "quiet_hours", "catch_up",
	"medication_grace", "clinic_phone", "default_country", "log_level", "metrics_file",
	"metrics_interval", "ledger_retention", "ledger", "postgresql", "instance", NULL
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
	s->ledger_retention = LEDGER_RETENTION_DEFAULT;
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
		errs_set(c->errs, conf_member(g, "metrics_file"),
		    "daemon.metrics_file must be an absolute path, e.g. "
		    "\"/var/lib/prometheus/node-exporter/iopd.prom\"");
		bad++;
	} else if (file) {
		s->metrics_file = file;
		if (strlen(file) < 5 || strcmp(file + strlen(file) - 5, ".prom") != 0)
			warn_set(c->errs, conf_member(g, "metrics_file"),
			    "daemon.metrics_file: node_exporter's textfile collector only reads "
			    "files ending in .prom");
	}
	if (conf_member(g, "metrics_interval")) {
		if (exact_secs(c, g, "metrics_interval", &every)) {
			bad++;
		} else if (every < 1 || every > 86400) {
			errs_set(c->errs, conf_member(g, "metrics_interval"),
			    "daemon.metrics_interval must be between 1s and 24h");
			bad++;
		} else {
			s->metrics_interval = (double)every;
		}
	}
	return bad;
}

/* ledger_retention: how long settled reminders, replies and callback
 * keys stay in the ledger ("400d"), or "forever". */
static int parse_retention(struct conf_ctx *c, const config_setting_t *g)
{
	const config_setting_t *rs = config_setting_get_member(g, "ledger_retention");
	const char *v = NULL;
	int64_t secs = 0;

	if (!rs)
		return 0;
	if (conf_string(c, g, "ledger_retention", false, &v) != CONF_OK)
		return 1;
	if (strcmp(v, "forever") == 0) {
		c->snap->ledger_retention = 0;
		return 0;
	}
	if (exact_secs(c, g, "ledger_retention", &secs))
		return 1;
	if (secs < LEDGER_RETENTION_MIN) {
		errs_set(c->errs, rs, "daemon.ledger_retention \"%s\" is shorter than 30 days: receipts, "
		    "replies and iopctl history still need those rows; write \"30d\" or more, or "
		    "\"forever\"", v);
		return 1;
	}
	c->snap->ledger_retention = secs;
	return 0;
}

/* default_country: the ISO 3166 code ("US") national phone numbers
 * ("(312) 555-0101") are read in. */
static int parse_country(struct conf_ctx *c, const config_setting_t *g)
{
	const config_setting_t *cs = conf_member(g, "default_country");
	const char *v = NULL, *why;
	char up[4];
	size_t i;

	if (conf_string(c, g, "default_country", false, &v) != CONF_OK)
		return cs != NULL;
	for (i = 0; v[i] && i < 3; i++)
		up[i] = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 'a' + 'A') : v[i];
	up[i] = '\0';
	if (strlen(v) == 2 && !c->numbers_known && (why = phone_unavailable()) != NULL) {
		errs_set(c->errs, cs, "daemon.default_country: \"%s\" cannot be checked: %s", v, why);
		return 1;
	}
	if (strlen(v) != 2 || (!c->numbers_known && !phone_region_ok(up))) {
		errs_set(c->errs, cs, "daemon.default_country: \"%s\" is not a country code with a "
		    "numbering plan: write the two letters of ISO 3166, like \"US\" or \"MX\"", v);
		return 1;
	}
	c->snap->default_country = intern(&c->snap->strings, up);
	return 0;
}

/* clinic_phone is checked like a patient's number, but kept as written:
 * it is shown to patients through {clinic_phone}. */
static int parse_clinic_phone(struct conf_ctx *c, const config_setting_t *g)
{
	const char *phone = NULL;
	struct phone_result pc;

	if (conf_string(c, g, "clinic_phone", false, &phone) != CONF_OK)
		return conf_member(g, "clinic_phone") != NULL;
	if (!c->numbers_known && phone_check(phone, c->snap->default_country, &pc) != 0) {
		errs_set(c->errs, conf_member(g, "clinic_phone"),
		    "daemon.clinic_phone: \"%s\" is not a valid phone number: %s", phone, pc.why);
		return 1;
	}
	c->snap->clinic_phone = phone;
	return 0;
}

/* ---- what the daemon will do with its paths (-t and the daemon) ------- */

/* SQLite's Unix VFS handles paths of at most 512 bytes (MAX_PATHNAME); the
 * longest name iopd makes in state_dir is the ledger's rollback journal. */
#define LEDGER_PATH_MAX 512
#define LEDGER_LONGEST_NAME "/ledger.db-journal"

/* The setting `key` of daemon = { }, else the daemon group, else NULL
 * (the main file): where a message about a default value points. */
static const config_setting_t *daemon_key(const config_setting_t *g, const char *key)
{
	const config_setting_t *k = g ? conf_member(g, key) : NULL;

	return k ? k : g;
}

static size_t absolute_len(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
		return strlen(path);
	return strlen(cwd) + 1 + strlen(path);
}

static int check_state_dir(struct conf_ctx *c, const config_setting_t *g)
{
	const char *dir = c->snap->state_dir;
	const config_setting_t *at = daemon_key(g, "state_dir");
	size_t room = LEDGER_PATH_MAX - 1 - strlen(LEDGER_LONGEST_NAME);
	struct stat st;

	if (absolute_len(dir) > room) {
		errs_set(c->errs, at, "daemon.state_dir is %zu bytes long%s; the ledger inside it needs "
		    "a path under %d bytes (SQLite's limit), so state_dir may have at most %zu: choose "
		    "a shorter folder", absolute_len(dir), dir[0] == '/' ? "" : " as an absolute path",
		    LEDGER_PATH_MAX, room);
		return 1;
	}
	/* the ledger names patients and what was sent to them (SPEC 7) */
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & (S_IROTH | S_IXOTH)))
		warn_set(c->errs, at, "daemon.state_dir %s can be read by other users (mode %04o): "
		    "chmod 700 %s (the ledger names patients)", dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

static int check_control_socket(struct conf_ctx *c, const config_setting_t *g)
{
	const char *path = c->snap->control_socket;
	const config_setting_t *at = daemon_key(g, "control_socket");
	struct sockaddr_un sa;
	struct stat st;

	if (strlen(path) >= sizeof sa.sun_path) {
		errs_set(c->errs, at, "daemon.control_socket is %zu bytes long; a Unix socket's path "
		    "has room for at most %zu: choose a shorter path", strlen(path), sizeof sa.sun_path - 1);
		return 1;
	}
	/* iopd removes a socket left behind by an earlier run: never a file */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		errs_set(c->errs, at, "daemon.control_socket %s exists and is not a socket (it is %s): "
		    "iopd would have to delete it; name a path of its own, e.g. /run/iopd/control.sock",
		    path, S_ISREG(st.st_mode) ? "a file" : S_ISDIR(st.st_mode) ? "a folder" :
		    S_ISLNK(st.st_mode) ? "a symbolic link" : "not a socket");
		return 1;
	}
	return 0;
}

static int check_path_len(struct conf_ctx *c, const config_setting_t *g, const char *key,
    const char *path, size_t extra)
{
	if (!path || strlen(path) + extra < PATH_MAX)
		return 0;
	errs_set(c->errs, daemon_key(g, key), "daemon.%s is %zu bytes long: at most %zu",
	    key, strlen(path), (size_t)PATH_MAX - 1 - extra);
	return 1;
}

/* Paths the daemon will use, checked now rather than when it fails. */
static int check_paths(struct conf_ctx *c, const config_setting_t *g)
{
	return check_state_dir(c, g) + check_control_socket(c, g) +
	    check_path_len(c, g, "plugin_dir", c->snap->plugin_dir, 64) +
	    check_path_len(c, g, "metrics_file", c->snap->metrics_file, strlen(".tmp.XXXXXX"));
}

static int parse_daemon(struct conf_ctx *c, const config_setting_t *g)
{
	struct snapshot *s = c->snap;
	const char *level = NULL;
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
		errs_set(c->errs, conf_member(g, "log_level"),
		    "daemon.log_level: unknown level \"%s\" (err, warning, notice, info or debug)", level);
		bad++;
	}
	bad += parse_metrics(c, g);
	bad += conf_parse_ledger(c, g);
	bad += parse_retention(c, g);
	bad += parse_country(c, g);
	bad += parse_clinic_phone(c, g);
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

/* A syntax error: at the line libconfig stopped, or, for a missing ','
 * between two elements of a list, at the line that lacks it. */
static void syntax_error(config_t *cfg, const struct conf_source *src, const char *path,
    struct errs *e)
{
	int at = config_error_line(cfg), lacks = conf_text_missing_comma(src->text.s, at), line, l2;
	const char *f, *f2;

	conf_source_where(src, at, &f, &line);
	if (!lacks) {
		errs_at(e, f ? f : path, line, "%s (libconfig syntax: key = value; groups { }, "
		    "lists ( ), arrays [ ])", config_error_text(cfg));
		return;
	}
	conf_source_where(src, lacks, &f2, &l2);
	if (f2 == f || (f && f2 && strcmp(f, f2) == 0))
		errs_at(e, f2 ? f2 : path, l2, "syntax error: missing ',' after line %d (the elements of "
		    "a list ( ) or an array [ ] are separated by commas; libconfig stopped at line %d)", l2, line);
	else
		errs_at(e, f2 ? f2 : path, l2, "syntax error: missing ',' after line %d (the elements of "
		    "a list ( ) or an array [ ] are separated by commas; libconfig stopped at %s:%d)", l2,
		    f ? f : path, line);
}

/* libconfig's tree of the text, or NULL after a syntax error. */
static config_setting_t *libconfig_tree(config_t *cfg, const char *path, struct conf_source *src,
    struct errs *e)
{
	/* patients = ( ... ) in several files: one list (conf_text.h) */
	conf_text_merge(&src->text, "patients");
	if (config_read_string(cfg, src->text.s))
		return config_root_setting(cfg);
	syntax_error(cfg, src, path, e);
	return NULL;
}

/* The tree: iopd's reader (conf_read.h) when it takes the text, else
 * libconfig, whose diagnostics a text it does not take gets.  `lazy`:
 * the patients lists are skimmed, for the cache (read_patients_from).
 * Returns the root, or NULL. */
static config_setting_t *read_tree(config_t *cfg, const char *path, struct conf_source *src,
    struct errs *e, struct conf_reader **reader, bool lazy)
{
	config_init(cfg);
	*reader = NULL;
	e->src = src;                  /* errors in the includes sort by file too */
	if (conf_source_load(src, path, e) != 0)
		return NULL;
	if ((*reader = conf_read_lazy(src->text.s, src->text.len, cfg, lazy)))
		return conf_read_root(*reader);
	return libconfig_tree(cfg, path, src, e);
}

/* state_dir as this configuration sets it, before anything else of it is
 * read: where its cache is.  The daemon group read on its own, its
 * messages dropped (the real reading says them). */
static char *early_state_dir(const struct conf_ctx *real, const config_setting_t *root,
    enum ledger_kind *ledger)
{
	struct snapshot *t = snapshot_new();
	struct errs e = {0};
	/* only the state dir and the ledger are wanted: the load checks the rest */
	struct conf_ctx c = {.snap = t, .errs = &e, .root = root, .config_dir = real->config_dir,
	    .numbers_known = true};
	const config_setting_t *g = conf_member(root, "daemon");
	char *dir;

	daemon_defaults(t);
	if (g)
		parse_daemon(&c, g);
	dir = xstrdup(t->state_dir);
	*ledger = t->ledger;
	snapshot_unref(t);
	errs_free(&e);
	return dir;
}

/* Where the patients come from: the cache when it holds them (cc->use),
 * else the text, whose skimmed lists are read once now (-1: they are not
 * text iopd's reader takes; then libconfig must read it all). */
static int read_patients_from(struct conf_ctx *c, const config_setting_t *root,
    const struct conf_source *src, struct conf_cache *cc)
{
	struct snapcache *img = NULL;

	snapcache_key(src, &cc->key);
	if (cc->use) {
		enum ledger_kind ledger;
		char *dir = early_state_dir(c, root, &ledger);
		/* a shared ledger's instances compare fingerprints, which need
		 * every patient read: no cache */
		if (ledger == LEDGER_SQLITE && (img = snapcache_open(dir, &cc->key)) &&
		    snapcache_current(img) != 0) {
			snapcache_free(img);
			img = NULL;
		}
		free(dir);
	}
	c->cache = img;
	return img || conf_read_check(c->reader) == 0 ? 0 : -1;
}

/* SPEC 7: files holding patients must not be readable by "other". */
static int check_patient_files(struct conf_ctx *c)
{
	const char *last = NULL;
	uint32_t i;
	int bad = 0;
	struct stat st;

	for (i = 0; i < c->snap->npatients; i++) {
		const char *f = text_file(c->errs, c->patient_line[i]);     /* opens from here */
		if (last && strcmp(f, last) == 0)
			continue;
		last = f;
		if (stat(f, &st) == 0 && (st.st_mode & S_IROTH)) {
			errs_line(c->errs, c->patient_line[i], "%s holds patient data and is readable by "
			    "other users; chmod o-r %s", f, f);
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

/* Patients sorted by id: each with its id's first 8 bytes as a number
 * that compares as strcmp() does, so that most comparisons need not reach
 * the ids (a million of them, far apart in memory). */
struct id_key {
	uint64_t prefix;
	const char *id;
	uint32_t idx;
};

static int cmp_id_key(const void *a, const void *b)
{
	const struct id_key *x = a, *y = b;
	int c;

	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	if ((c = strcmp(x->id, y->id)) != 0)
		return c;
	return (x->idx > y->idx) - (x->idx < y->idx);   /* equal ids: in reading order */
}

static uint64_t id_prefix(const char *id)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		v = v << 8 | (unsigned char)*id;
		if (*id)
			id++;
	}
	return v;
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
	struct id_key *k = xreallocarray(NULL, s->npatients + 1u, sizeof *k);
	uint32_t i;

	for (i = 0; i < s->npatients; i++) {
		k[i].prefix = id_prefix(s->patients[i].id);
		k[i].id = s->patients[i].id;
		k[i].idx = i;
	}
	qsort(k, s->npatients, sizeof *k, cmp_id_key);
	s->patient_order = arena_alloc(&s->arena, sizeof *s->patient_order * (s->npatients + 1u));
	for (i = 0; i < s->npatients; i++) {
		s->patient_order[i] = k[i].idx;
		s->patients[k[i].idx].rank = i;
	}
	free(k);
}

static int check_unique_patients(struct conf_ctx *c)
{
	struct snapshot *s = c->snap;
	uint32_t i;
	int bad = 0;

	for (i = 1; i < s->npatients; i++) {
		uint32_t a = s->patient_order[i - 1], b = s->patient_order[i];
		/* a missing or empty id is reported already */
		if (*s->patients[a].id && strcmp(s->patients[a].id, s->patients[b].id) == 0) {
			uint32_t later = a > b ? a : b, first = a > b ? b : a;
			int q = c->patient_id_line[first];
			/* at the offending setting itself: the later `id` */
			errs_line(c->errs, c->patient_id_line[later], "duplicate patient id \"%s\" (also at "
			    "%s:%d)", s->patients[a].id, text_file(c->errs, q), text_line(c->errs, q));
			bad++;
		}
	}
	return bad;
}

/* The top-level `patients` lists, the first and its repeats from other
 * files (conf_text.h), in the order they were read. */
static size_t patient_lists(const config_setting_t *root, const config_setting_t **out, size_t max)
{
	int i, n = config_setting_length(root);
	size_t k = 0;

	for (i = 0; i < n && k < max; i++) {
		const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
		if (config_setting_name(m) && conf_text_repeat(config_setting_name(m), "patients"))
			out[k++] = m;
	}
	return k;
}

/* A configuration the daemon could run but never send with: say what is
 * missing and what to add (an empty clinic is only a warning: patients
 * come with a reload). */
static int check_not_empty(struct conf_ctx *c, const config_setting_t *root)
{
	const struct snapshot *s = c->snap;
	int bad = 0;

	if (!s->nchannels) {
		errs_set(c->errs, conf_member(root, "channels"), "no channels: iopd would "
		    "have nowhere to send; add channels = ( { name = \"sms\"; module = \"sms\"; ... } ) "
		    "(iopd.conf(5), CHANNELS)");
		bad++;
	}
	if (!s->nprograms) {
		errs_set(c->errs, conf_member(root, "programs"), "no programs: no patient "
		    "can be enrolled; add programs = ( { id = \"iop\"; timezone = ...; sessions = ( ... ); } ) "
		    "(iopd.conf(5), PROGRAMS)");
		bad++;
	}
	if (!s->npatients && !bad)
		warn_set(c->errs, conf_member(root, "patients"), "no patients: nothing "
		    "will be sent until patients = ( ... ) are added and iopd reloaded");
	return bad;
}

static int parse_root(struct conf_ctx *c, config_setting_t *root)
{
	const config_setting_t *g, **lists;
	int32_t *closures = NULL;
	uint32_t nclosures = 0;
	size_t nlists;
	int bad = conf_check_keys(c, root, root_keys);

	if ((g = conf_member(root, "daemon")))
		bad += parse_daemon(c, g);
	else
		bad += conf_parse_ledger(c, NULL);
	if ((g = conf_member(root, "channels")))
		bad += conf_parse_channels(c, g);
	build_channel_order(c->snap);
	if ((g = conf_member(root, "templates")))
		bad += conf_parse_templates(c, g);
	bad += conf_dates(c, root, "closures", false, &closures, &nclosures) == CONF_BAD;
	if ((g = conf_member(root, "programs")))
		bad += conf_parse_programs(c, g, closures, nclosures);
	if (c->cache) {
		/* the snapshot's patients from the cache: as read before, with
		 * what reading them said, said again here, in its place */
		if (snapcache_apply(c->cache, c->snap, &c->patient_line, &c->patient_id_line, c->errs)) {
			c->restart = true;
			return bad + 1;
		}
	} else {
		lists = xreallocarray(NULL, (size_t)config_setting_length(root) + 1, sizeof *lists);
		nlists = patient_lists(root, lists, (size_t)config_setting_length(root));
		c->errs->capture = c->said;
		bad += conf_parse_patients(c, lists, nlists);
		c->errs->capture = NULL;
		free(lists);
		build_patient_order(c->snap);
	}
	bad += check_unique_patients(c);
	if (c->check)
		bad += check_patient_files(c);
	if ((g = conf_member(root, "templates")))
		bad += conf_check_templates(c, g);
	conf_reply_templates(c);
	bad += conf_parse_inbound(c, conf_member(root, "inbound"),
	    conf_member(root, "channels"));
	if (c->check)
		bad += check_paths(c, conf_member(root, "daemon")) + check_not_empty(c, root);
	/* a shared ledger: what every instance must agree on, for the others
	 * to compare (only then: it walks the whole tree) */
	if (!bad && c->check && c->snap->ledger == LEDGER_POSTGRESQL)
		c->snap->fingerprint = conf_fingerprint(&c->snap->strings, root, c->fp_patients,
		    c->nfp_patients);
	return bad;
}

/* One reading; with cc, the cache may give the patients (c.restart: it
 * could not after all, and nothing of this reading counts). */
static struct snapshot *load(const char *path, enum conf_mode mode, struct errs *errs,
    struct conf_cache *cc, bool *restart)
{
	struct snapshot *s = snapshot_new();
	char *abs = absolute(path), *dir = dir_of(abs);
	struct conf_ctx c = {.snap = s, .errs = errs, .config_dir = dir, .check = mode == CONF_FULL};
	struct conf_source src;
	config_setting_t *root;
	config_t cfg;
	int before = errs->count;
	bool lazy = cc && (cc->use || cc->keep);

	/* messages name the files as the admin wrote them; the snapshot keeps
	 * the absolute path, for reloads */
	s->config_file = intern(&s->strings, abs);
	errs->main_file = path;
	s->loaded_at = time(NULL);
	daemon_defaults(s);
	root = read_tree(&cfg, path, &src, errs, &c.reader, lazy);
	if (root && c.reader && lazy && read_patients_from(&c, root, &src, cc) != 0) {
		conf_read_free(c.reader);      /* not iopd's to read: libconfig's */
		c.reader = NULL;
		root = libconfig_tree(&cfg, path, &src, errs);
	}
	if (root) {
		c.root = root;
		/* With the patients from the cache, the daemon's country and
		 * clinic_phone were checked when it was written: its key covers
		 * this very text and libphonenumber's build, and only a load
		 * without errors writes one.  Setting up libphonenumber to check
		 * them again was 38,000 allocations and 3% of `iopd agenda`. */
		c.numbers_known = c.cache != NULL;
		if (lazy && c.reader && !c.cache && cc->keep)
			c.said = &cc->said;
		parse_root(&c, root);
	}
	*restart = c.restart;
	if (cc) {
		cc->hit = c.cache != NULL && !c.restart;
		cc->can_save = cc->keep && c.said && !c.restart;
		if (cc->can_save) {            /* what the save needs, kept */
			cc->patient_line = c.patient_line;
			cc->patient_id_line = c.patient_id_line;
			c.patient_line = c.patient_id_line = NULL;
		}
	}
	snapcache_free(c.cache);
	conf_read_free(c.reader);
	config_destroy(&cfg);
	free(c.patient_line);
	free(c.patient_id_line);
	free(c.prog_of);
	free(c.fp_patients);
	if (!c.restart)                        /* else the caller drops what this one said */
		errs_sort(errs);
	errs->main_file = NULL;
	errs->src = NULL;
	conf_source_free(&src);
	free(abs);
	free(dir);
	if (errs->count > before || c.restart) {
		if (cc)
			cc->can_save = false;
		snapshot_unref(s);
		return NULL;
	}
	intern_free(&s->strings);      /* the strings stay; the lookup table is not needed */
	return s;
}

struct snapshot *conf_load(const char *path, enum conf_mode mode, struct errs *errs)
{
	bool restart;

	return load(path, mode, errs, NULL, &restart);
}

struct snapshot *conf_load_cache(const char *path, enum conf_mode mode, struct errs *errs,
    struct conf_cache *cc)
{
	struct errs_mark m;
	struct snapshot *s;
	bool restart;

	errs_mark(errs, &m);
	s = load(path, mode, errs, cc, &restart);
	if (restart) {                         /* a cache that did not fit: read it all */
		errs_rewind(errs, &m);
		conf_cache_free(cc);
		cc->use = false;
		s = load(path, mode, errs, cc, &restart);
	}
	return s;
}

int conf_cache_save(struct conf_cache *cc, const struct snapshot *s, char *err, size_t errlen)
{
	struct snapcache_extra x = {cc->patient_line, cc->patient_id_line, cc->said.v, cc->said.n};

	if (!cc->can_save) {
		snprintf(err, errlen, "nothing to save");
		return -1;
	}
	return snapcache_save(s->state_dir, &cc->key, s, &x, err, errlen);
}

void conf_cache_free(struct conf_cache *cc)
{
	free(cc->patient_line);
	free(cc->patient_id_line);
	cc->patient_line = cc->patient_id_line = NULL;
	errs_capture_free(&cc->said);
	cc->hit = cc->can_save = false;
}

/* conf_ledger.c - daemon.ledger, daemon.postgresql and daemon.instance
 * (SPEC 9): which ledger, how to reach a shared one, and under which name
 * this instance claims reminders in it. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_parts.h"
#include "netmod.h"
#include "plugin_host.h"

static const char *const pg_keys[] = {"conninfo", "token_file", "token_credential", "lease", NULL};

#define LEASE_MIN 1
#define LEASE_MAX 3600
#define INSTANCE_MAX 63

/* Instance names travel in logs, status and the database's
 * application_name: letters, digits, '.', '_' and '-'. */
static bool instance_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > INSTANCE_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int parse_instance(struct conf_ctx *c, const config_setting_t *g)
{
	const char *v = NULL;
	char host[256];

	if (g && conf_string(c, g, "instance", false, &v) == CONF_BAD)
		return 1;
	if (v) {
		if (instance_ok(v)) {
			c->snap->instance = v;
			return 0;
		}
		errs_set(c->errs, config_setting_get_member(g, "instance"), "daemon.instance \"%s\": "
		    "use 1 to %d letters, digits, '.', '_' or '-', unique per instance", v, INSTANCE_MAX);
		return 1;
	}
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "iopd");
	host[sizeof host - 1] = '\0';
	host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] = '\0';
	host[INSTANCE_MAX] = '\0';
	c->snap->instance = intern(&c->snap->strings, *host ? host : "iopd");
	return 0;
}

/* libpq's own reading of the conninfo (in the network module): a syntax
 * error, or a password in it, is the admin's to fix, at its line. */
static int check_conninfo(struct conf_ctx *c, const config_setting_t *s, const char *conninfo)
{
	char msg[512];
	const struct netmod *net = netmod(msg, sizeof msg);

	if (!net) {
		errs_set(c->errs, s, "daemon.postgresql.conninfo cannot be checked: %s", msg);
		return 1;
	}
	switch (net->pg_conninfo_check(conninfo, msg, sizeof msg)) {
	case 0:
		return 0;
	case 1:
		errs_set(c->errs, s, "daemon.postgresql.conninfo must not hold a password: put it "
		    "in a file (mode 0600) named by daemon.postgresql.token_file, or use "
		    "token_credential");
		return 1;
	default:
		errs_set(c->errs, s, "daemon.postgresql.conninfo: %s", msg);
		return 1;
	}
}

/* The password, as every secret: a file of its own, or a systemd
 * credential.  NULL and err when it cannot be read. */
char *conf_pg_password(const struct snapshot *s, char *err, size_t errlen)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];

	if (s->pg_token_file)
		return secret_read_file(s->pg_token_file, err, errlen);
	if (!s->pg_token_credential) {
		snprintf(err, errlen, "no password configured");
		return NULL;
	}
	if (!dir || !*dir) {
		snprintf(err, errlen, "token_credential \"%s\" needs $CREDENTIALS_DIRECTORY, which is "
		    "not set (use LoadCredential= in the unit, or token_file)", s->pg_token_credential);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s", dir, s->pg_token_credential);
	return secret_read_file(path, err, errlen);
}

static int parse_secret(struct conf_ctx *c, const config_setting_t *g)
{
	struct snapshot *s = c->snap;
	const char *file = NULL, *cred = NULL;
	int bad = (conf_string(c, g, "token_file", false, &file) == CONF_BAD) +
	    (conf_string(c, g, "token_credential", false, &cred) == CONF_BAD);
	const config_setting_t *where = config_setting_get_member(g, file ? "token_file" : "token_credential");
	char err[PATH_MAX + 128], *secret;

	if (bad || (!file && !cred))
		return bad;
	if (file && cred) {
		errs_set(c->errs, config_setting_get_member(g, "token_credential"),
		    "token_file and token_credential are both set; keep one");
		return 1;
	}
	if (cred && (strchr(cred, '/') || !*cred || strcmp(cred, ".") == 0 || strcmp(cred, "..") == 0)) {
		errs_set(c->errs, where, "token_credential \"%s\" must be a plain name, without '/'", cred);
		return 1;
	}
	if (file && file[0] != '/') {
		char *abs = xasprintf("%s/%s", c->config_dir, file);
		file = intern(&s->strings, abs);
		free(abs);
	}
	s->pg_token_file = file;
	s->pg_token_credential = cred;
	if (!c->check)
		return 0;
	/* -t and the daemon: it must be readable now, as the other secrets */
	if (!(secret = conf_pg_password(s, err, sizeof err))) {
		errs_set(c->errs, where, "%s: %s", config_setting_name(where), err);
		return 1;
	}
	explicit_bzero(secret, strlen(secret));
	free(secret);
	return 0;
}

static int parse_pg(struct conf_ctx *c, const config_setting_t *g)
{
	struct snapshot *s = c->snap;
	const char *conninfo = NULL;
	struct dur d;
	int bad, rc;

	if (conf_expect(c, g, CONFIG_TYPE_GROUP, NULL))
		return 1;
	bad = conf_check_keys(c, g, pg_keys);
	if (conf_string(c, g, "conninfo", true, &conninfo) != CONF_OK)
		bad++;
	else if (check_conninfo(c, config_setting_get_member(g, "conninfo"), conninfo))
		bad++;
	else
		s->pg_conninfo = conninfo;
	bad += parse_secret(c, g);
	rc = conf_dur(c, g, "lease", false, &d, NULL);
	if (rc == CONF_BAD) {
		bad++;
	} else if (rc == CONF_OK) {
		int64_t secs = dur_approx_secs(d);
		if (secs < LEASE_MIN || secs > LEASE_MAX) {
			errs_set(c->errs, config_setting_get_member(g, "lease"),
			    "daemon.postgresql.lease must be between %ds and 1h (default 30s)", LEASE_MIN);
			bad++;
		} else {
			s->pg_lease = (double)secs;
		}
	}
	return bad;
}

int conf_parse_ledger(struct conf_ctx *c, const config_setting_t *daemon)
{
	struct snapshot *s = c->snap;
	const config_setting_t *pg = daemon ? config_setting_get_member(daemon, "postgresql") : NULL;
	const char *kind = NULL;
	int bad = 0;

	s->ledger = LEDGER_SQLITE;
	s->pg_lease = 30.0;
	if (daemon && conf_string(c, daemon, "ledger", false, &kind) == CONF_BAD)
		bad++;
	if (kind && strcmp(kind, "postgresql") == 0) {
		s->ledger = LEDGER_POSTGRESQL;
	} else if (kind && strcmp(kind, "sqlite") != 0) {
		errs_set(c->errs, config_setting_get_member(daemon, "ledger"),
		    "daemon.ledger must be \"sqlite\" (the default: state_dir/ledger.db) or \"postgresql\"");
		bad++;
	}
	bad += parse_instance(c, daemon);
	if (s->ledger == LEDGER_POSTGRESQL && !pg) {
		errs_set(c->errs, config_setting_get_member(daemon, "ledger"), "daemon.ledger = "
		    "\"postgresql\" needs daemon.postgresql = { conninfo = \"host=... dbname=... "
		    "user=...\"; token_file = \"...\"; }");
		bad++;
	}
	if (pg) {
		bad += parse_pg(c, pg);
		if (s->ledger != LEDGER_POSTGRESQL)
			warn_set(c->errs, pg, "daemon.postgresql is not used: daemon.ledger is \"sqlite\" "
			    "(set daemon.ledger = \"postgresql\" to use it)");
	}
	return bad;
}

/* conf_channels.c - channels = ( { name = ...; module = ...; ... }, ... )
 *
 * The host parses the keys common to every channel; the rest of a group
 * belongs to its module, whose plugin checks it in `configure`. */
#include "config.h"

#include <string.h>

#include "conf_parts.h"
#include "plugin_host.h"

/* The standard modules' contacts (SPEC 4.2), so that `agenda` needs no
 * plugin loaded to know which patients a channel can reach. */
static const struct {
	const char *module;
	enum iopd_contact contact;
} std_modules[] = {
	{"sms", IOPD_CONTACT_PHONE},
	{"smtp", IOPD_CONTACT_EMAIL},
	{"webhook", IOPD_CONTACT_NONE},
	{"console", IOPD_CONTACT_NONE},
};

static bool name_ok(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

static int std_contact(const char *module, enum iopd_contact *out)
{
	size_t i;

	for (i = 0; i < IOPD_NELEM(std_modules); i++)
		if (strcmp(std_modules[i].module, module) == 0) {
			*out = std_modules[i].contact;
			return 0;
		}
	return -1;
}

static int common_keys(struct conf_ctx *c, const config_setting_t *g, struct channel *ch)
{
	struct dur timeout = {0, 15};
	long concurrency = 8;
	const char *name;
	int bad = 0;

	bad += conf_float(c, g, "rate", false, 0.001, 1e6, &ch->rate) == CONF_BAD;
	bad += conf_int(c, g, "concurrency", false, 1, 1024, &concurrency) == CONF_BAD;
	ch->concurrency = (int)concurrency;
	bad += conf_dur(c, g, "timeout", false, &timeout, NULL) == CONF_BAD;
	ch->timeout = (double)dur_approx_secs(timeout);
	if (ch->timeout <= 0) {
		errs_set(c->errs, conf_member(g, "timeout"),
		    "channel %s: timeout must be more than 0s", ch->name);
		bad++;
	}
	bad += conf_bool(c, g, "insecure_tls", false, &ch->insecure_tls) == CONF_BAD;
	bad += conf_bool(c, g, "replies", false, &ch->replies) == CONF_BAD;
	bad += conf_string(c, g, "fallback", false, &name) == CONF_BAD;
	bad += conf_string(c, g, "callback_key_file", false, &name) == CONF_BAD;
	return bad;
}

/* What the plugin takes from its gateway: `replies` defaults to what it
 * says (Kannel answers nothing itself, Twilio's Advanced Opt-Out does),
 * and is an error on a channel that takes no replies at all. */
static int channel_callbacks(struct conf_ctx *c, const config_setting_t *g, struct channel *ch)
{
	const struct iopd_inbound *in = chan_inst_inbound(ch->inst);
	const config_setting_t *r = conf_member(g, "replies");

	ch->callbacks = in != NULL;
	if (!r)
		ch->replies = in && in->replies;
	if (r && !in) {
		errs_set(c->errs, r, "channel %s: replies: module %s takes no replies (only sms "
		    "channels do)", ch->name, ch->module);
		return 1;
	}
	return 0;
}

/* Loads the module's plugin (full mode) and lets it check its own keys. */
static int configure_plugin(struct conf_ctx *c, const config_setting_t *g, struct channel *ch)
{
	const config_setting_t *ms = conf_member(g, "module");
	const struct plugin_mod *m;
	char err[512];
	struct iopd_channel_info info;

	if (!c->check && std_contact(ch->module, &ch->contact) == 0)
		return 0;
	if (!(m = plugin_load(ch->module, c->snap->plugin_dir, err, sizeof err))) {
		errs_set(c->errs, ms, "channel %s: module \"%s\": %s", ch->name, ch->module, err);
		return 1;
	}
	ch->contact = plugin_desc(m)->contact;
	if (!c->check)
		return 0;
	info.name = ch->name;
	info.timeout = ch->timeout;
	info.insecure_tls = ch->insecure_tls;
	if (ch->insecure_tls)
		warn_set(c->errs, conf_member(g, "insecure_tls"),
		    "channel %s: TLS certificate verification is OFF (insecure_tls): for tests only", ch->name);
	ch->inst = chan_inst_configure(m, g, &info, c->config_dir, c->errs);
	if (!ch->inst)
		return 1;
	return channel_callbacks(c, g, ch);
}

static int parse_channel(struct conf_ctx *c, const config_setting_t *g, struct channel *ch)
{
	int bad = 0;

	ch->file = intern(&c->snap->strings, setting_file(c->errs, g));
	ch->line = setting_line(c->errs, g);
	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { name = ...; module = ...; }"))
		return 1;
	if (conf_string(c, g, "name", true, &ch->name) != CONF_OK ||
	    conf_string(c, g, "module", true, &ch->module) != CONF_OK)
		return 1;
	if (!name_ok(ch->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-")) {
		errs_set(c->errs, conf_member(g, "name"),
		    "channel name \"%s\": use letters, digits, '_', '.' or '-'", ch->name);
		bad++;
	}
	if (!name_ok(ch->module, "_-")) {
		errs_set(c->errs, conf_member(g, "module"),
		    "module \"%s\": use lowercase letters, digits, '_' or '-'", ch->module);
		return bad + 1;
	}
	bad += common_keys(c, g, ch);
	if (bad)
		return bad;
	return configure_plugin(c, g, ch);
}

/* `fallback = "NAME"`: another channel of this file, resolved once all
 * are known. */
static int resolve_fallbacks(struct conf_ctx *c, const config_setting_t *list)
{
	struct snapshot *s = c->snap;
	int i, n = config_setting_length(list), bad = 0;

	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *f = g ? conf_member(g, "fallback") : NULL;
		const char *name = f ? config_setting_get_string(f) : NULL;
		const config_setting_t *nm = g ? conf_member(g, "name") : NULL;
		int self = nm && config_setting_get_string(nm) ?
		    snapshot_channel(s, config_setting_get_string(nm)) : -1;
		int to;

		if (!name || self < 0)
			continue;
		to = snapshot_channel(s, name);
		if (to < 0) {
			errs_set(c->errs, f, "channel %s: fallback \"%s\" is not a channel of this "
			    "configuration", s->channels[self].name, name);
			bad++;
		} else if (to == self) {
			errs_set(c->errs, f, "channel %s: fallback names the channel itself; name another "
			    "channel (e.g. an e-mail channel)", name);
			bad++;
		} else {
			s->channels[self].fallback = (int16_t)to;
		}
	}
	return bad;
}

int conf_parse_channels(struct conf_ctx *c, const config_setting_t *list)
{
	struct snapshot *s = c->snap;
	int i, n, bad = 0;

	if (conf_expect(c, list, CONFIG_TYPE_LIST, "a list ( { name = ...; module = ...; }, ... )"))
		return 1;
	n = config_setting_length(list);
	if (n > SNAP_MAX_CHANNELS) {
		errs_set(c->errs, list, "channels: %d channels defined; iopd supports at most %d", n,
		    SNAP_MAX_CHANNELS);
		return 1;
	}
	s->channels = arena_alloc(&s->arena, sizeof *s->channels * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct channel *ch = &s->channels[s->nchannels];
		int dup;

		ch->fallback = -1;
		if (parse_channel(c, g, ch)) {
			bad++;
			if (!ch->name)
				continue;
		}
		dup = snapshot_channel(s, ch->name);
		if (dup >= 0) {
			errs_set(c->errs, conf_member(g, "name"),
			    "duplicate channel name \"%s\" (first defined at %s:%d)", ch->name,
			    s->channels[dup].file, s->channels[dup].line);
			if (ch->inst)
				chan_inst_free(ch->inst);
			memset(ch, 0, sizeof *ch);
			bad++;
			continue;
		}
		s->nchannels++;
	}
	return bad + resolve_fallbacks(c, list);
}

/* conf_inbound.c - inbound = { listen; public_url; staff; } (SPEC 8), and
 * what it needs of the channels: the secrets their callbacks are checked
 * with, and the URLs their sends ask gateways to call back. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "conf_parts.h"
#include "plugin_host.h"

static const char *const inbound_keys[] = {"listen", "public_url", "staff", NULL};

/* "ADDRESS:PORT": a numeric IPv4 address, an IPv6 one in brackets, or
 * "localhost" (127.0.0.1): the listener resolves no names, so that no DNS
 * stands on the way to listening. */
static bool listen_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	char host[INET6_ADDRSTRLEN + 2], buf[sizeof(struct in6_addr)];
	size_t n;
	char *end;
	long port;

	if (!colon || colon == v || (n = (size_t)(colon - v)) >= sizeof host)
		return false;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 1 || port > 65535)
		return false;
	memcpy(host, v, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	if (host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, buf) == 1;
	}
	return inet_pton(AF_INET, host, buf) == 1;
}

static bool host_is_loopback(const char *h, size_t n)
{
	return (n == 9 && strncmp(h, "localhost", 9) == 0) || (n >= 4 && strncmp(h, "127.", 4) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", 5) == 0);
}

/* http(s)://HOST[:PORT][/PATH], nothing else: gateways call it, and it
 * is what Twilio signs (SPEC 8). */
static int parse_public_url(struct conf_ctx *c, const config_setting_t *g, const char **out)
{
	const config_setting_t *s = conf_member(g, "public_url");
	const char *v = *out, *host;
	size_t hn, n;
	char *t;

	host = strncmp(v, "https://", 8) == 0 ? v + 8 : strncmp(v, "http://", 7) == 0 ? v + 7 : NULL;
	hn = host ? strcspn(host, "/:") : 0;
	if (!host || !hn || strpbrk(v, "?#@ \t") || strcspn(host, "/") == 0) {
		errs_set(c->errs, s, "inbound.public_url \"%s\": expected http:// or https:// and a host "
		    "(and maybe a path), without a query, e.g. \"https://iopd.example.org\"", v);
		return 1;
	}
	if (host == v + 7 && !host_is_loopback(host, hn))
		warn_set(c->errs, s, "inbound.public_url is plain http:// on a host that is not this "
		    "one: put a TLS proxy in front and give its https:// URL");
	t = xstrdup(v);
	for (n = strlen(t); n > (size_t)(host - v) + hn && t[n - 1] == '/'; n--)
		t[n - 1] = '\0';
	*out = intern(&c->snap->strings, t);
	free(t);
	return 0;
}

/* staff: a webhook channel built for ABI 1.1 or later (it knows the
 * "notice" kind). */
static int parse_staff(struct conf_ctx *c, const config_setting_t *g, const char *name)
{
	const config_setting_t *s = conf_member(g, "staff");
	struct snapshot *snap = c->snap;
	int ch = snapshot_channel(snap, name);

	if (ch < 0) {
		errs_set(c->errs, s, "inbound.staff: \"%s\" is not a channel of this configuration", name);
		return 1;
	}
	if (strcmp(snap->channels[ch].module, "webhook") != 0) {
		errs_set(c->errs, s, "inbound.staff: channel %s is a %s channel; staff are told through "
		    "a webhook channel (module = \"webhook\")", name, snap->channels[ch].module);
		return 1;
	}
	if (snap->channels[ch].inst && !chan_inst_takes_notices(snap->channels[ch].inst)) {
		errs_set(c->errs, s, "inbound.staff: the webhook plugin of channel %s is built for "
		    "plugin ABI 1.0, which cannot post notices: install iopd's own", name);
		return 1;
	}
	snap->inbound.staff = ch;
	return 0;
}

static const config_setting_t *channel_group(const config_setting_t *list, const char *name)
{
	int i, n = list ? config_setting_length(list) : 0;

	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		const char *v = NULL;

		if (config_setting_lookup_string(g, "name", &v) && strcmp(v, name) == 0)
			return g;
	}
	return NULL;
}

/* Each channel that takes callbacks gets its secret and callback URLs;
 * keys that mean nothing without `inbound` are pointed out. */
static int bind_channels(struct conf_ctx *c, const config_setting_t *list)
{
	struct snapshot *s = c->snap;
	bool answers = false;
	int bad = 0;
	uint16_t i;

	for (i = 0; i < s->nchannels; i++) {
		struct channel *ch = &s->channels[i];
		const config_setting_t *g = channel_group(list, ch->name);

		if (!ch->inst || !g)
			continue;
		if (!s->inbound.listen) {
			const config_setting_t *k = conf_member(g, "callback_key_file");
			if (k)
				warn_set(c->errs, k, "channel %s: callback_key_file has no use without an "
				    "inbound block", ch->name);
			continue;
		}
		if (ch->callbacks || conf_member(g, "callback_key_file"))
			bad += chan_inst_inbound_bind(ch->inst, g, s->inbound.public_url, c->errs) != 0;
		answers |= ch->replies;
	}
	if (answers && !*s->clinic_phone)
		warn_set(c->errs, conf_member(c->root, "inbound"),
		    "iopd answers HELP, STOP and START with texts that give daemon.clinic_phone, "
		    "which is not set");
	return bad;
}

int conf_parse_inbound(struct conf_ctx *c, const config_setting_t *g, const config_setting_t *channels)
{
	struct inbound_conf *in = &c->snap->inbound;
	const char *listen = NULL, *url = NULL, *staff = NULL;
	int bad;

	if (!g)
		return c->check ? bind_channels(c, channels) : 0;
	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { listen = ...; public_url = ...; }"))
		return 1;
	if (c->errs->main_file && strcmp(setting_file(c->errs, g), c->errs->main_file) != 0) {
		errs_set(c->errs, g, "inbound belongs in the main configuration file (%s), not in a "
		    "file it includes", c->errs->main_file);
		return 1;
	}
	bad = conf_check_keys(c, g, inbound_keys);
	bad += conf_string(c, g, "listen", true, &listen) != CONF_OK;
	bad += conf_string(c, g, "public_url", true, &url) != CONF_OK;
	bad += conf_string(c, g, "staff", false, &staff) == CONF_BAD;
	if (listen && !listen_ok(listen)) {
		errs_set(c->errs, conf_member(g, "listen"), "inbound.listen \"%s\": expected "
		    "ADDRESS:PORT with a numeric address (or localhost), e.g. \"127.0.0.1:8787\" or "
		    "\"[::1]:8787\"", listen);
		bad++;
	}
	if (url)
		bad += parse_public_url(c, g, &url);
	if (staff)
		bad += parse_staff(c, g, staff);
	if (bad)
		return bad;
	in->listen = listen;
	in->public_url = url;
	return c->check ? bind_channels(c, channels) : 0;
}

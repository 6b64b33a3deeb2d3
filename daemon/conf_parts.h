/* conf_parts.h - the parsers of each block of the configuration.
 * Internal to conf*.c; each reports its errors and returns the number of
 * errors it found (0: the block is complete in the snapshot). */
#ifndef IOPD_CONF_PARTS_H
#define IOPD_CONF_PARTS_H

#include "conf_util.h"

int conf_parse_channels(struct conf_ctx *c, const config_setting_t *list);
int conf_parse_templates(struct conf_ctx *c, const config_setting_t *group);
int conf_parse_programs(struct conf_ctx *c, const config_setting_t *list,
    const int32_t *closures, uint32_t nclosures);
/* Every patient of the lists (the top-level `patients` of each file),
 * as one list; c->patient_set gets each one's group. */
int conf_parse_patients(struct conf_ctx *c, const config_setting_t *const *lists, size_t nlists);
/* inbound = { ... } (g may be NULL), once channels are parsed. */
int conf_parse_inbound(struct conf_ctx *c, const config_setting_t *g,
    const config_setting_t *channels);
/* The answers' templates (SPEC 8): help, stopped and started get discreet
 * defaults when the file does not define them. */
void conf_reply_templates(struct conf_ctx *c);

/* A list of reminder rules ( { before = ...; at = ...; channels = [...]; template = ...; } ). */
int conf_parse_rules(struct conf_ctx *c, const config_setting_t *list, struct rules *out);
/* Resolves the template for a rule or entry: explicit name at `key` of `g`,
 * else `fallback` (a kind's default); reports a missing template. */
int conf_template_ref(struct conf_ctx *c, const config_setting_t *g, const char *key,
    const char *fallback, int32_t *out);
/* Fills rule->chan (channel indexes in name order) from rule->channels:
 * one array per set of channels, shared by the rules that have it. */
void conf_rule_channels(struct conf_ctx *c, struct rule *r);

/* daemon.ledger, daemon.postgresql, daemon.instance (daemon: NULL when the
 * file has no daemon group: the defaults). */
int conf_parse_ledger(struct conf_ctx *c, const config_setting_t *daemon);
/* The hex digest of what decides reminders: the whole tree less the
 * settings that differ per host (fingerprint.c). */
const char *conf_fingerprint(struct intern *strings, const config_setting_t *root,
    uint64_t *patients, size_t npatients);
/* The digest of one setting, as conf_fingerprint folds it in. */
uint64_t conf_fp_setting(const config_setting_t *s);

/* Checks run once everything is parsed: discreet texts, SMS lengths. */
int conf_check_templates(struct conf_ctx *c, const config_setting_t *group);

#endif

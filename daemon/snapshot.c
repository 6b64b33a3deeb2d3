/* snapshot.c - see snapshot.h */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"
#include "snapshot.h"

const char *const kind_names[KIND_COUNT] = {"session", "appointment", "medication", "aftercare"};

struct snapshot *snapshot_new(void)
{
	struct snapshot *s = xcalloc(1, sizeof *s);
	int k;

	s->strings.arena = &s->arena;
	s->refs = 1;
	for (k = 0; k < KIND_COUNT; k++)
		s->default_tmpl[k] = -1;       /* until templates = { ... } defines them */
	s->inbound.staff = -1;
	return s;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	s->refs++;
	return s;
}

void snapshot_unref(struct snapshot *s)
{
	uint16_t i;

	if (!s || --s->refs > 0)
		return;
	for (i = 0; i < s->nchannels; i++)
		if (s->channels[i].inst)
			chan_inst_free(s->channels[i].inst);
	intern_free(&s->strings);
	arena_free(&s->arena);
	free(s->image);
	free(s);
}

int snapshot_channel(const struct snapshot *s, const char *name)
{
	uint16_t i;

	for (i = 0; i < s->nchannels; i++)
		if (strcmp(s->channels[i].name, name) == 0)
			return i;
	return -1;
}

int snapshot_template(const struct snapshot *s, const char *name)
{
	uint16_t i;

	for (i = 0; i < s->ntemplates; i++)
		if (strcmp(s->templates[i].name, name) == 0)
			return i;
	return -1;
}

int snapshot_program(const struct snapshot *s, const char *id)
{
	uint16_t i;

	for (i = 0; i < s->nprograms; i++)
		if (strcmp(s->programs[i].id, id) == 0)
			return i;
	return -1;
}

/* Binary search over the id-ordered index. */
int64_t snapshot_patient(const struct snapshot *s, const char *id)
{
	uint32_t lo = 0, hi = s->npatients;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->patients[s->patient_order[mid]].id, id);
		if (c == 0)
			return s->patient_order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool date_in(const int32_t *v, uint32_t n, int32_t date)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v[mid] == date)
			return true;
		if (v[mid] < date)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

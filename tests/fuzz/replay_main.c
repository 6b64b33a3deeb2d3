/* replay_main.c - runs a fuzz target once over each input named on the
 * command line (a file, or a folder of them), without libFuzzer: the
 * corpus as regression inputs in every build, with any compiler.
 * Exits 0 when every input ran; a target that finds a fault aborts. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static long replayed;

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		perror(path);
		exit(2);
	}
	fprintf(stderr, "%s\n", path);   /* the input a fault report is about */
	do {
		if (len == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 65536)))
			abort();
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	/* a copy of exactly the input's size, so ASan sees a read past it */
	{
		uint8_t *in = malloc(len ? len : 1);
		if (!in)
			abort();
		memcpy(in, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(in, len);
		free(in);
	}
	replayed++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay(const char *path)
{
	struct dirent **ents;
	struct stat st;
	int n, i;

	if (stat(path, &st) < 0) {
		perror(path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	if ((n = scandir(path, &ents, NULL, by_name)) < 0) {
		perror(path);
		exit(2);
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			char *p = malloc(strlen(path) + strlen(ents[i]->d_name) + 2);
			if (!p)
				abort();
			sprintf(p, "%s/%s", path, ents[i]->d_name);
			replay(p);
			free(p);
		}
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	int i;

	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++)
		replay(argv[i]);
	printf("%s: %ld inputs replayed\n", argv[0], replayed);
	return 0;
}

/* daemon.c - placeholder until the delivery loop lands. */
#include "config.h"

#include <stdio.h>

#include "daemon.h"

int daemon_main(const struct daemon_opts *o)
{
	(void)o;
	fputs("iopd: the daemon is not built yet\n", stderr);
	return 1;
}

/* netmod_entry.c - what net.so exports: see netmod.h */
#include "config.h"

#include "netmod.h"
#include "pg_conn.h"

const struct netmod iopd_netmod = {
	PACKAGE_STRING, daemon_main, ledger_copy_main, ledger_pg_peek, pg_conninfo_check,
};

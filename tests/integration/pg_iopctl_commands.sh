#!/bin/bash
# pg_iopctl_commands.sh - iopctl_commands.sh, the same test body, on a
# PostgreSQL ledger (SPEC 9): every iopctl command against a running iopd.
# Left out there: a ledger of a newer schema refused at start (SQLite's
# file; a PostgreSQL ledger is reached after the start and refuses a newer
# schema while running, which pg_failover.sh checks).
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/iopctl_commands.sh" "$@"

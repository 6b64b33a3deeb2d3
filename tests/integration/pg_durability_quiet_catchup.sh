#!/bin/bash
# pg_durability_quiet_catchup.sh - durability_quiet_catchup.sh, the same
# test body, on a PostgreSQL ledger (SPEC 9, 6): caught up in quiet hours,
# it waits for the morning, and a kill -9 meanwhile loses nothing.
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/durability_quiet_catchup.sh" "$@"

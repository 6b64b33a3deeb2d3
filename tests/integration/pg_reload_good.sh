#!/bin/bash
# pg_reload_good.sh - reload_good.sh, the same test body, on a PostgreSQL
# ledger (SPEC 9): reloads under load, patients added and removed; nothing
# sent twice or lost, the removed patient's queued prompt recorded skipped.
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/reload_good.sh" "$@"

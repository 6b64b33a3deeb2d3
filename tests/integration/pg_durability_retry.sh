#!/bin/bash
# pg_durability_retry.sh - durability_retry.sh, the same test body, on a
# PostgreSQL ledger (SPEC 9, 6): a reminder waiting for a retry across
# SIGTERM and kill -9 keeps its id, its backoff and the quiet hours.
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/durability_retry.sh" "$@"

#!/bin/bash
# pg_durability_kill9.sh - durability_kill9.sh, the same test body, on a
# PostgreSQL ledger (SPEC 9, 6): bursts of 3,000 and 200 reminders, iopd
# killed -9 again and again: nothing lost, at most what was in flight sent
# again, no send before its claim is committed.  Each burst's ledger is a
# database of its own (as each has a file of its own on SQLite).
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/durability_kill9.sh" "$@"

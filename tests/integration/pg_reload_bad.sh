#!/bin/bash
# pg_reload_bad.sh - reload_bad.sh, the same test body, on a PostgreSQL
# ledger (SPEC 9): broken reloads keep the old configuration running and
# sending, and are reported (log, STATUS=, iopctl).
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/reload_bad.sh" "$@"

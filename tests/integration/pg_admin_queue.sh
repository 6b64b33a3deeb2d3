#!/bin/bash
# pg_admin_queue.sh - admin_queue.sh, the same test body, on a PostgreSQL
# ledger (SPEC 9): iopctl cancel and retry, a cancel that holds over a
# restart, a retry out of quiet hours.
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/admin_queue.sh" "$@"

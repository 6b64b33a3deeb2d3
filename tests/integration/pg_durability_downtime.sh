#!/bin/bash
# pg_durability_downtime.sh - durability_downtime.sh, the same test body, on
# a PostgreSQL ledger (SPEC 9, 6): a fresh ledger, downtime within and past
# catch_up, the clock stepped back under a running iopd (the instance's
# mark stays), nothing sent twice.
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/durability_downtime.sh" "$@"

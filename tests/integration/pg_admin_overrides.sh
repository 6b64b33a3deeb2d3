#!/bin/bash
# pg_admin_overrides.sh - admin_overrides.sh, the same test body, on a
# PostgreSQL ledger (SPEC 9): overrides with author, reason and end, lifted
# by the daemon at their end; replies' and gateways' opt-outs kept; history
# merged; iopd agenda reading the ledger beside the daemon and after it.
# Not in the date-independence rerun (the runner's clock faked): the SQLite
# run of the same body is checked there.
[ -z "${FAKETIME:-}" ] || { echo "1..0 # SKIP on PostgreSQL in the plain suite only"; exit 77; }
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/admin_overrides.sh" "$@"

#!/bin/bash
# pg_admin_overrides.sh - admin_overrides.sh, the same test body, on a
# PostgreSQL ledger (SPEC 9): overrides with author, reason and end, lifted
# by the daemon at their end; replies' and gateways' opt-outs kept; history
# merged; iopd agenda reading the ledger beside the daemon and after it.
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/admin_overrides.sh" "$@"

#!/bin/bash
# pg_admin_queue.sh - admin_queue.sh, the same test body, on a PostgreSQL
# ledger (SPEC 9): iopctl cancel and retry, a cancel that holds over a
# restart, a retry out of quiet hours.
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/admin_queue.sh" "$@"

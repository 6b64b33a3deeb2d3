#!/bin/bash
# pg_twoway_consent.sh - twoway_consent.sh, the same test body, on a
# PostgreSQL ledger (SPEC 9): a STOP taken by the instance holding a claim
# is in force before its send; the consent it records is the shared one.
IOPD_TEST_LEDGER=postgresql exec bash "$(dirname "$0")/twoway_consent.sh" "$@"

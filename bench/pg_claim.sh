#!/bin/bash
# bench/pg_claim.sh - the shared ledger's claim, two designs, measured with
# pgbench on a private PostgreSQL cluster (tests/rig/pg.sh).  Not a test.
#
#   A  one statement: INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE the
#      row is open and not held by a live instance ... RETURNING (iopd's,
#      daemon/ledger_pg_sql.c claim_sql, pause/opt-out check included);
#   B  the rows made first (INSERT ... ON CONFLICT DO NOTHING, as an instance
#      would when a reminder is offered), then UPDATE ... WHERE id IN
#      (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING: two statements, one
#      transaction.
# Each with one client (one instance) and with two clients claiming the
# same batches in the same order (two instances offering the same
# reminders: one wins each row, the other finds it held).  A batch is
# BATCH ids (default 64, the daemon claims up to a channel's concurrency
# per loop iteration); SECS (10) per case; synchronous_commit on, fsync on,
# custom plans (as iopd sets for its sessions).
# Prints batches/s (all clients) and reminders claimed/s (distinct rows).
#
#   bench/pg_claim.sh            PGDIR=... reuses a cluster made by pg.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RIG=$HERE/../tests/rig/pg.sh
BATCH=${BATCH:-64}
SECS=${SECS:-10}
PORT=${PG_PORT:-28432}

if [ -z "${PGDIR:-}" ]; then
	base=$(mktemp -d /tmp/iopd-bench-pg.XXXXXX)
	chmod 755 "$base"
	PGDIR=$base/c
	trap 'sh "$RIG" stop "$PGDIR" fast >/dev/null 2>&1; rm -rf "$base"' EXIT
	sh "$RIG" init "$PGDIR" "$PORT" >/dev/null
fi
. "$PGDIR/env"
BIN=$PG_BIN
psql_() { "$BIN/psql" -X -q -At -h "$PG_SOCKET" -p "$PG_PORT" -U iopd -d iopd "$@"; }
W=$(mktemp -d)

# the schema: iopd creates it; here the same tables, empty, and two live instances
reset() {
	psql_ -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS reminder, outcome, override, instance" >/dev/null
	psql_ <<'EOF' >/dev/null
CREATE TABLE reminder(id bigint PRIMARY KEY, patient text NOT NULL, channel text NOT NULL,
  kind text NOT NULL, due bigint NOT NULL, event bigint NOT NULL, expires bigint NOT NULL,
  status text NOT NULL, attempts integer NOT NULL DEFAULT 0, reason text, gateway_id text,
  updated bigint NOT NULL, owner text);
CREATE INDEX reminder_patient ON reminder(patient, due);
CREATE INDEX reminder_open ON reminder(owner) WHERE status IN ('inflight', 'retry');
CREATE INDEX reminder_updated ON reminder(updated);
CREATE TABLE outcome(id bigint NOT NULL, at bigint NOT NULL, status text NOT NULL,
  attempt integer NOT NULL, reason text, gateway_id text, instance text);
CREATE TABLE override(kind text NOT NULL, patient text NOT NULL, channel text NOT NULL,
  source text, at bigint NOT NULL, PRIMARY KEY(kind, patient, channel));
CREATE TABLE instance(name text PRIMARY KEY, token text NOT NULL, lease interval NOT NULL,
  heartbeat timestamptz NOT NULL, stopped boolean NOT NULL DEFAULT false);
INSERT INTO instance VALUES ('i0', 't', '1 hour', now() + interval '1 hour', false),
  ('i1', 't', '1 hour', now() + interval '1 hour', false);
EOF
}

# Each client walks batches k = 1, 2, ...: ids k*BATCH .. k*BATCH+BATCH-1.
IDS="(SELECT array_agg(g::bigint) FROM generate_series(:k * $BATCH, :k * $BATCH + $BATCH - 1) g)"
TXT="(SELECT array_agg('p-' || g) FROM generate_series(:k * $BATCH, :k * $BATCH + $BATCH - 1) g)"
CH="array_fill('hook'::text, ARRAY[$BATCH])"
KIND="array_fill('medication'::text, ARRAY[$BATCH])"
NUM="array_fill(1796119200::bigint, ARRAY[$BATCH])"
ME="('i' || :client_id)"
CLAIMABLE="(r.owner IS NULL OR r.owner = $ME OR NOT EXISTS (SELECT 1 FROM instance n WHERE n.name = r.owner AND NOT n.stopped AND n.heartbeat > clock_timestamp() - n.lease))"

cat >"$W/a.sql" <<EOF
\\set k :k + 1
WITH i AS (SELECT * FROM unnest($IDS, $TXT, $CH, $KIND, $NUM, $NUM, $NUM)
    AS t(id, patient, channel, kind, due, event, expires)),
 b AS (SELECT i.*, CASE
    WHEN EXISTS (SELECT 1 FROM override o WHERE o.kind = 'pause' AND o.patient = i.patient AND o.channel = '') THEN 'paused'
    WHEN EXISTS (SELECT 1 FROM override o WHERE o.kind = 'opt-out' AND o.patient = i.patient AND o.channel = i.channel) THEN 'opt-out' END AS why
  FROM i WHERE EXISTS (SELECT 1 FROM instance WHERE name = $ME AND token = 't')),
 c AS (INSERT INTO reminder AS r (id, patient, channel, kind, due, event, expires, status, attempts, reason, updated, owner)
  SELECT id, patient, channel, kind, due, event, expires, CASE WHEN why IS NULL THEN 'inflight' ELSE 'skipped' END,
    CASE WHEN why IS NULL THEN 1 ELSE 0 END, why, 1796119200, $ME FROM b ORDER BY id
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
    attempts = r.attempts + excluded.attempts, updated = excluded.updated, owner = excluded.owner
  WHERE r.status IN ('inflight', 'retry') AND $CLAIMABLE
  RETURNING r.id, r.attempts, r.status, r.reason),
 l AS (INSERT INTO outcome(id, at, status, attempt, reason, instance)
  SELECT id, 1796119200, status, attempts, reason, $ME FROM c WHERE status = 'skipped')
SELECT count(*) FROM i LEFT JOIN c ON c.id = i.id LEFT JOIN reminder r ON r.id = i.id;
EOF

cat >"$W/b.sql" <<EOF
\\set k :k + 1
BEGIN;
INSERT INTO reminder(id, patient, channel, kind, due, event, expires, status, attempts, updated)
  SELECT id, patient, channel, kind, due, event, expires, 'retry', 0, 1796119200
  FROM unnest($IDS, $TXT, $CH, $KIND, $NUM, $NUM, $NUM) AS t(id, patient, channel, kind, due, event, expires)
  ORDER BY id ON CONFLICT (id) DO NOTHING;
UPDATE reminder r SET status = 'inflight', attempts = r.attempts + 1, owner = $ME, updated = 1796119200
  WHERE r.id IN (SELECT s.id FROM reminder s WHERE s.id BETWEEN :k * $BATCH AND :k * $BATCH + $BATCH - 1 AND s.status IN ('inflight', 'retry')
    AND (s.owner IS NULL OR s.owner = $ME OR NOT EXISTS (SELECT 1 FROM instance n WHERE n.name = s.owner
      AND NOT n.stopped AND n.heartbeat > clock_timestamp() - n.lease))
    AND NOT EXISTS (SELECT 1 FROM override o WHERE o.patient = s.patient AND (o.channel = '' OR o.channel = s.channel))
    ORDER BY s.id FOR UPDATE SKIP LOCKED)
  RETURNING r.id, r.attempts;
COMMIT;
EOF

run() { # DESIGN CLIENTS
	local out tps rows
	reset
	out=$(PGOPTIONS="-c plan_cache_mode=force_custom_plan" "$BIN/pgbench" -n -h "$PG_SOCKET" -p "$PG_PORT" -U iopd -M prepared -D k=0 -c "$2" -j "$2" \
		-T "$SECS" -f "$W/$1.sql" iopd 2>&1) || { echo "$out" | tail -12 >&2; return 1; }
	tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
	rows=$(psql_ -c "SELECT count(*) FROM reminder WHERE status = 'inflight'")
	printf '%-2s %d client(s): %9.1f batches/s  %9.0f reminders claimed/s  (%s rows, %s s)\n' \
		"$1" "$2" "$tps" "$(awk -v r="$rows" -v s="$SECS" 'BEGIN { print r / s }')" "$rows" "$SECS"
}

echo "claim of $BATCH reminders a batch, $SECS s each, PostgreSQL $(psql_ -c 'SHOW server_version'), synchronous_commit $(psql_ -c 'SHOW synchronous_commit')"
for d in a b; do
	for c in 1 2; do run "$d" "$c"; done
done
rm -rf "$W"

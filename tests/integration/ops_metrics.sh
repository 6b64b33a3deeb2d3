#!/bin/bash
# ops_metrics.sh - `iopctl metrics` and daemon.metrics_file, with the real
# daemon sending through a console channel and a Twilio-style gateway that
# fails once:
#
#   valid Prometheus text format 0.0.4 (a strict checker below: HELP/TYPE
#     before a family's samples, families contiguous and unique, names,
#     labels, values, histogram buckets cumulative with +Inf = _count;
#     promtool check metrics too, when installed)
#   what issue 5 asks for: reminders by kind/channel/status, the scheduled
#     gauge, the due->delivered latency histogram, retries, ledger size,
#     reloads
#   metrics_file: written at start and every metrics_interval, replaced
#     atomically (no partial file is ever seen, no temporary *.prom left),
#     mode 0644; a failure logged once and its end logged; a reload can
#     change or drop it; bad values are FILE:LINE errors of iopd -t
#
# Run by `make check` from the top build directory.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/ops_lib.sh" ] && { . "$d/ops_lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ops_metrics.sh: ops_lib.sh not found" >&2; exit 99; }
ops_need_build
need curl

cat >"$T/promcheck.py" <<'EOF'
"""Strict check of the Prometheus text exposition format 0.0.4 (stdlib).
usage: promcheck.py FILE  -> prints problems, exit 1 if any; else the samples
as JSON lines {"name", "labels", "value"} on stdout with --dump."""
import json, math, re, sys

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
errs, samples, fams, order = [], [], {}, []

def family(name, typ):
    if typ == "histogram":
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and name[: -len(suf)] in fams:
                return name[: -len(suf)]
    return name

text = open(sys.argv[1], encoding="utf-8").read()
if not text.endswith("\n"):
    errs.append("no final newline")
current = None
for n, line in enumerate(text.split("\n")[:-1], 1):
    if not line.strip():
        continue
    if line.startswith("#"):
        p = line.split(None, 3)
        if len(p) >= 3 and p[1] in ("HELP", "TYPE"):
            name = p[2]
            if not NAME.match(name):
                errs.append("%d: bad metric name %r" % (n, name))
            f = fams.setdefault(name, {"help": None, "type": None, "samples": 0, "line": n})
            if f["samples"]:
                errs.append("%d: %s for %s after its samples" % (n, p[1], name))
            if f[p[1].lower()] is not None:
                errs.append("%d: second %s for %s" % (n, p[1], name))
            if p[1] == "TYPE":
                typ = p[3] if len(p) > 3 else ""
                if typ not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    errs.append("%d: bad type %r" % (n, typ))
                f["type"] = typ
            else:
                f["help"] = p[3] if len(p) > 3 else ""
            if name not in order:
                order.append(name)
            current = name
        continue
    m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$", line)
    if not m:
        errs.append("%d: not a sample: %r" % (n, line)); continue
    name, labels, value = m.group(1), m.group(3) or "", m.group(4)
    pairs = LABEL.findall(labels)
    rebuilt = ",".join('%s="%s"' % kv for kv in pairs)
    if labels.rstrip(",") != rebuilt:
        errs.append("%d: bad labels {%s}" % (n, labels))
    if len({k for k, _ in pairs}) != len(pairs):
        errs.append("%d: repeated label" % n)
    try:
        v = float(value)
    except ValueError:
        errs.append("%d: bad value %r" % (n, value)); continue
    typ = fams.get(current, {}).get("type") if current else None
    fam = family(name, typ or "")
    if fam != current:
        errs.append("%d: sample %s outside its family block (current %s)" % (n, name, current))
        if fam not in fams:
            continue
    f = fams[fam]
    f["samples"] += 1
    if f["type"] is None or f["help"] is None:
        errs.append("%d: %s has no TYPE/HELP before its samples" % (n, fam))
    if f["type"] == "counter" and (v < 0 or not fam.endswith("_total")):
        errs.append("%d: counter %s negative or not named *_total" % (n, fam))
    samples.append({"name": name, "labels": dict(pairs), "value": v, "family": fam})
for name, f in fams.items():
    if not f["samples"]:
        errs.append("family %s has no samples" % name)
    if f["type"] == "histogram":
        series = {}
        for s in samples:
            if s["family"] != name:
                continue
            key = tuple(sorted((k, v) for k, v in s["labels"].items() if k != "le"))
            d = series.setdefault(key, {"b": [], "sum": None, "count": None})
            if s["name"].endswith("_bucket"):
                d["b"].append((float(s["labels"]["le"]), s["value"]))
            elif s["name"].endswith("_sum"):
                d["sum"] = s["value"]
            else:
                d["count"] = s["value"]
        for key, d in series.items():
            les = [le for le, _ in d["b"]]
            cum = [c for _, c in d["b"]]
            if les != sorted(les) or not les or not math.isinf(les[-1]):
                errs.append("%s%s: buckets unsorted or no +Inf" % (name, key))
            if cum != sorted(cum):
                errs.append("%s%s: buckets not cumulative %s" % (name, key, cum))
            if d["count"] is None or d["sum"] is None or (cum and cum[-1] != d["count"]):
                errs.append("%s%s: +Inf bucket != _count, or no _sum" % (name, key))
for e in errs:
    print("promcheck:", e, file=sys.stderr)
if "--dump" in sys.argv:
    for s in samples:
        print(json.dumps({"name": s["name"], "labels": s["labels"], "value": s["value"]}))
sys.exit(1 if errs else 0)
EOF
promcheck() { "$PY" "$T/promcheck.py" "$@"; }
# metric NAME [COND] -> the value of the first sample NAME whose labels match
metric() { # FILE NAME [COND]
	promcheck "$1" --dump >"$1.jsonl" 2>/dev/null || true
	jsonl_field "$1.jsonl" 'r["value"]' "r['name'] == '$2' and (${3:-True})" | head -n 1
}

# --- a daemon with a console and an SMS channel; the gateway fails once ----
start_twilio
printf '%s\n' "$TWILIO_TOKEN" >"$T/tw.token"
chmod 600 "$T/tw.token"
curl -s -o /dev/null -X POST "$TWILIO_URL/__control?status=503&times=1&retry_after=1"
CH="{ name = \"term\"; module = \"console\"; },
  { name = \"sms\"; module = \"sms\"; api = \"twilio\"; url = \"$TWILIO_API\";
  account = \"$TWILIO_SID\"; token_file = \"$T/tw.token\"; from = \"+13125551111\"; }"
mkdir -p "$T/textfile"
ops_due_in 2
ops_conf "$T/m.conf" M "$CH" '"term", "sms"' "metrics_file = \"$T/textfile/iopd.prom\"; metrics_interval = \"1s\";"
check "iopd -t accepts metrics_file and metrics_interval" "$IOPD" -t -c "$T/m.conf"
ops_start M "$T/m.conf"
waitfor "[ \$(jsonl_count '$TWILIO_LOG' 'r[\"reply\"] == 201') -ge 1 ]" 20 || true
waitfor "grep -q '\\] sent ' '$M_LOG' && [ \$(grep -c '\\] sent ' '$M_LOG') -ge 2 ]" 5 || true

rc=0
ops_ctl M metrics >"$T/metrics.txt" 2>"$T/metrics.err" || rc=$?
add_log "$T/metrics.txt" "$T/metrics.err"
check "iopctl metrics: exit 0" test "$rc" -eq 0
check "valid Prometheus text (strict check)" promcheck "$T/metrics.txt"
if command -v promtool >/dev/null; then
	check "promtool check metrics" sh -c "promtool check metrics <'$T/metrics.txt'"
fi
v() { metric "$T/metrics.txt" "$@"; }
check "reminders by kind, channel, status: appointment/term/sent = 1" \
	test "$(v iopd_reminders_total 'r["labels"] == {"kind": "appointment", "channel": "term", "status": "sent"}')" = 1.0
check "the SMS counted sent once" \
	test "$(v iopd_reminders_total 'r["labels"].get("channel") == "sms" and r["labels"].get("status") == "sent"')" = 1.0
check "retries: 1 on sms" test "$(v iopd_retries_total 'r["labels"].get("channel") == "sms"')" = 1.0
check "the scheduled gauge" test -n "$(v iopd_scheduled_series)"
check "next due gauge" test -n "$(v iopd_next_due_timestamp_seconds)"
check "latency histogram due -> delivered: 1 observation on term" \
	test "$(v iopd_delivery_latency_seconds_count 'r["labels"].get("channel") == "term"')" = 1.0
check "latency histogram: +Inf bucket" \
	test "$(v iopd_delivery_latency_seconds_bucket 'r["labels"].get("channel") == "sms" and r["labels"].get("le") == "+Inf"')" = 1.0
check "the SMS took at least its retry (sum >= 0.5 s)" \
	"$PY" -c "import sys; sys.exit(not float('$(v iopd_delivery_latency_seconds_sum 'r["labels"].get("channel") == "sms"')') >= 0.5)"
check "ledger size > 0" "$PY" -c "import sys; sys.exit(not float('$(v iopd_ledger_bytes)') > 0)"
check "reloads: none yet" test "$(v iopd_reloads_total 'r["labels"].get("result") == "ok"')" = 0.0
check "no patient ids in metrics" sh -c "! grep -q 'p-000' '$T/metrics.txt'"

# --- metrics_file --------------------------------------------------------
F=$T/textfile/iopd.prom
check "metrics_file written" test -s "$F"
check "metrics_file is valid Prometheus text" promcheck "$F"
check "metrics_file mode 0644 (node_exporter runs as another user)" test "$(stat -c %a "$F")" = 644
# Watch the file for 2.5 s: always complete, and rewritten every second.
"$PY" - "$F" "$T/promcheck.py" >"$T/watch.out" 2>&1 <<'EOF' || true
import os, subprocess, sys, time
f, chk = sys.argv[1], sys.argv[2]
seen, bad, inodes = 0, 0, set()
end = time.time() + 2.5
while time.time() < end:
    try:
        st = os.stat(f)
        text = open(f).read()
    except FileNotFoundError:
        bad += 1; continue
    inodes.add(st.st_ino)
    seen += 1
    if not text.endswith("iopd_config_loaded_timestamp_seconds %s\n" % text.rsplit(" ", 1)[-1].strip()):
        bad += 1
    time.sleep(0.01)
print("reads", seen, "incomplete", bad, "versions", len(inodes))
EOF
add_log "$T/watch.out"
check "never missing or half-written while rewritten ($(cat "$T/watch.out"))" grep -q 'incomplete 0 ' "$T/watch.out"
check "rewritten every metrics_interval (1 s)" grep -Eq 'versions [2-9]' "$T/watch.out"
check "no temporary file left that node_exporter would read" \
	test "$(find "$T/textfile" -name '*.prom' | wc -l)" -eq 1
check "no temporary file left at all" test "$(find "$T/textfile" -type f | wc -l)" -eq 1

# --- a reload: counted; metrics_file moves ----------------------------------
mkdir -p "$T/textfile2"
sed -i "s#$T/textfile/iopd.prom#$T/textfile2/iopd.prom#" "$T/m.conf"
ops_ctl M reload >/dev/null
ops_ctl M metrics >"$T/metrics2.txt"
check "reloads: 1 ok" test "$(metric "$T/metrics2.txt" iopd_reloads_total 'r["labels"].get("result") == "ok"')" = 1.0
waitfor "[ -s '$T/textfile2/iopd.prom' ]" 3 || true
check "after the reload the new metrics_file is written" test -s "$T/textfile2/iopd.prom"
check "and says so" grep -q 'iopd_reloads_total{result="ok"} 1' "$T/textfile2/iopd.prom"
old=$(stat -c %Y.%s "$F")
sleep 1.5
check "the old file is no longer written" test "$(stat -c %Y.%s "$F")" = "$old"

# --- a folder iopd cannot write: logged once, and when it works again -----
chmod 500 "$T/textfile2"
if [ -w "$T/textfile2" ] && [ "$(id -u)" -eq 0 ]; then
	# root writes anyway: make it a file instead of a folder (renamed
	# away whole: iopd may be writing in it, and rm -rf would race it)
	chmod 700 "$T/textfile2"; mv "$T/textfile2" "$T/textfile2.gone"; : >"$T/textfile2"
fi
sleep 3.2
check "an unwritable metrics_file is warned about once" test "$(grep -c '^<4>metrics_file: ' "$M_LOG")" -eq 1
rm -f "$T/textfile2"; mkdir -p "$T/textfile2"; chmod 700 "$T/textfile2"
waitfor "grep -q 'metrics_file: .* written again' '$M_LOG'" 3 || true
check "its recovery is logged" grep -q '^<5>metrics_file: .* written again' "$M_LOG"

# --- dropping it -----------------------------------------------------------------
sed -i '/metrics_file/d' "$T/m.conf"
ops_ctl M reload >/dev/null
old=$(stat -c %Y.%s "$T/textfile2/iopd.prom")
sleep 1.5
check "a reload without metrics_file stops the writing" test "$(stat -c %Y.%s "$T/textfile2/iopd.prom")" = "$old"
stop_pid "$M_PID" 15
check "iopd exits 0" test "${STOP_RC:-x}" = 0

# --- configuration errors ----------------------------------------------------
bad_conf() { # DAEMON_EXTRA -> iopd -t output in $T/bad.out, status in rc
	ops_conf "$T/bad.conf" B '{ name = "term"; module = "console"; }' '"term"' "$1"
	rc=0
	"$IOPD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
}
line_of() { grep -n "$1" "$T/bad.conf" | head -n 1 | cut -d: -f1; }
bad_conf 'metrics_file = "iopd.prom";'
check "a relative metrics_file: exit 1, FILE:LINE" \
	sh -c "[ $rc -eq 1 ] && grep -q '^$T/bad.conf:$(line_of metrics_file): daemon.metrics_file must be an absolute path' '$T/bad.out'"
bad_conf 'metrics_file = "/tmp/iopd.txt";'
check "a name node_exporter would not read: a warning, still valid" \
	sh -c "[ $rc -eq 0 ] && grep -q 'only reads files ending in .prom' '$T/bad.out'"
bad_conf 'metrics_interval = "0s";'
check "metrics_interval 0s: exit 1, FILE:LINE" \
	sh -c "[ $rc -eq 1 ] && grep -q '^$T/bad.conf:$(line_of metrics_interval): daemon.metrics_interval must be between 1s and 24h' '$T/bad.out'"
bad_conf 'metrics_interval = 15;'
check "metrics_interval must be a duration" sh -c "[ $rc -eq 1 ] && grep -q ':$(line_of metrics_interval): ' '$T/bad.out'"
check "no contact details or texts in the logs" \
	sh -c "! grep -Eq '2125554|example\\.org|$OPS_NAME_MARK|$OPS_TEXT_MARK' '$M_LOG'"
finish

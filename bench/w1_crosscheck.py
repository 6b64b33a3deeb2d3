#!/usr/bin/python3
"""W1 mapping check: iopd's agenda holds the very occurrences dateutil finds.

usage: w1_crosscheck.py AGENDA.jsonl RRULE.txt
  AGENDA.jsonl  `iopd agenda --from 2027-01-10 --to 2027-01-19` of the generated
                configuration (a wider UTC window: the reference window is in
                patient-local dates)
  RRULE.txt     expand_rrule.py's output: "<UTC> <local date> <local time> <pid> <series>"
Keeps the agenda rows whose due_local date is 2027-01-11..17 and compares the
multisets of (patient, UTC minute, kind) with kind = session for g*, medication
for m*.  Exit 0 when equal."""
import collections
import json
import sys

agenda, rrule = sys.argv[1], sys.argv[2]
a = collections.Counter()
with open(agenda) as f:
    for line in f:
        r = json.loads(line)
        if "2027-01-11" <= r["due_local"][:10] <= "2027-01-17":
            assert r["due"] == r["event"], r          # before = "0s", no quiet hours
            a[(r["patient"], r["due"][:16] + "Z", r["kind"])] += 1
b = collections.Counter()
with open(rrule) as f:
    for line in f:
        utc, _d, _t, pid, series = line.split()
        b[(pid, utc, "session" if series.startswith("g") else "medication")] += 1
if a == b:
    print(f"crosscheck OK: {sum(a.values())} occurrences identical (patient, UTC instant, kind)")
    sys.exit(0)
print(f"crosscheck FAILED: iopd {sum(a.values())} vs dateutil {sum(b.values())}; "
      f"only iopd: {list((a - b).items())[:5]}; only dateutil: {list((b - a).items())[:5]}")
sys.exit(1)

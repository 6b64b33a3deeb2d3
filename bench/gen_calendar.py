#!/usr/bin/python3
"""(bench/ copy of the reference gen_calendar.py; only the output folder is an argument)
Synthetic reminder calendar: P patients x (3 weekly group-session series + 2 daily
medication times) in 5 time zones, 12-week enrollment, starts staggered over 4 weeks.

Writes (deterministic, no randomness) into OUTDIR (argv[2], default bench/data; with a third
argument --tsv-only, the TSV alone: the 1,000,000-patient size needs no Remind files):
  data/patients.tsv      one line per patient: pid tz start end g1=MO@18:00 ... m2=*@20:00
  data/calendar.rem      Remind: one REM line per series (5 per patient), floating local time
  data/calendar-tz.rem   Remind, same, MSG prints the UTC time via tzconvert()
The query window (Mon 2027-01-11 .. Sun 2027-01-17, patient-local dates) lies inside every
enrollment, so the expected count is P * (3 + 2*7) = 17 * P occurrences.
"""
import os, sys
from datetime import date, timedelta

P = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
here = os.path.dirname(os.path.abspath(__file__))
# bench/ adaptation: the output folder is the second argument (default bench/data)
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "data")
tsv_only = len(sys.argv) > 3 and sys.argv[3] == "--tsv-only"
os.makedirs(out, exist_ok=True)

ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles",
         "Europe/London", "Asia/Kolkata"]
# three distinct weekdays per patient (one weekly series each)
TRIPLES = [("MO", "WE", "TH"), ("TU", "TH", "SA"), ("MO", "TU", "FR"), ("WE", "FR", "SU"),
           ("MO", "WE", "FR"), ("TU", "WE", "TH"), ("SA", "SU", "MO")]
REMDAY = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat", "SU": "Sun"}
BASE = date(2026, 11, 30)            # a Monday

def hm(minutes):
    return f"{minutes // 60:02d}:{minutes % 60:02d}"

with open(os.path.join(out, "patients.tsv"), "w") as tsv, \
     open(os.devnull if tsv_only else os.path.join(out, "calendar.rem"), "w") as rem, \
     open(os.devnull if tsv_only else os.path.join(out, "calendar-tz.rem"), "w") as remtz:
    for i in range(1, P + 1):
        pid = f"p{i:06d}"
        tz = ZONES[i % len(ZONES)]
        start = BASE + timedelta(days=i % 28)
        end = start + timedelta(days=83)          # 12 weeks, inclusive
        g = 17 * 60 + 30 * (i % 6)                # group 17:00 .. 19:30
        m1 = 7 * 60 + 30 * (i % 5)                # meds 07:00 .. 09:00
        m2 = 19 * 60 + 30 * (i % 5)               #      19:00 .. 21:00
        series = [(f"g{j+1}", d, g) for j, d in enumerate(TRIPLES[i % len(TRIPLES)])]
        series += [("m1", "*", m1), ("m2", "*", m2)]
        tsv.write("\t".join([pid, tz, start.isoformat(), end.isoformat()] +
                            [f"{n}={d}@{hm(t)}" for n, d, t in series]) + "\n")
        for n, d, t in ([] if tsv_only else series):
            day = "" if d == "*" else REMDAY[d] + " "
            head = f"REM {day}FROM {start.isoformat()} UNTIL {end.isoformat()} AT {hm(t)} MSG "
            rem.write(f"{head}{pid} {n}\n")
            remtz.write(f'{head}[tzconvert(trigdatetime(), "{tz}", "UTC")] {pid} {n}\n')
print(f"patients={P} series={5*P} expected_occurrences_7d={17*P}")

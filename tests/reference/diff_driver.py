#!/usr/bin/env python3
"""Differential test: `iopd agenda` against agenda_ref.py on random calendars.

    diff_driver.py [--keep-going] IOPD [N] [FIRST_SEED]

For each seed, gen_calendars.py writes a calendar (mode 0600), and for every
window it chose (around a DST transition, several spellings of --from/--to,
one window covering the whole enrollment and aftercare) plus `--patient` on
the full window, both implementations must print the same lines byte for
byte.  Stops at the first difference and prints the seed, the calendar, the
command and the first differing lines.  Exit 0 = all equal.  --keep-going
prints one line per mismatching run (seed, window, first differing lines)
and goes on: for triage.
"""
import difflib
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agenda_ref import agenda_lines  # noqa: E402
from gen_calendars import generate  # noqa: E402
from libconfig_mini import parse_file  # noqa: E402


def run_iopd(iopd, conf, frm, to, patient=None):
    # --no-ledger: the calendar alone, whatever ledger the default
    # state_dir of this machine may hold
    cmd = [iopd, "agenda", "-c", conf, "--from", frm, "--to", to, "--no-ledger"]
    if patient:  # the --patient run also spells out the default format
        cmd += ["--patient", patient, "--format", "jsonl"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return cmd, p


def main():
    args = sys.argv[1:]
    keep = "--keep-going" in args
    args = [a for a in args if a != "--keep-going"]
    iopd = args[0]
    n = int(args[1]) if len(args) > 1 else 60
    first = int(args[2]) if len(args) > 2 else 1
    total_lines = bad = 0
    with tempfile.TemporaryDirectory(prefix="agenda_diff.") as tmp:
        for seed in range(first, first + n):
            cal = generate(seed)
            conf = os.path.join(tmp, "seed%d.conf" % seed)
            fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(cal.text)
            parsed = parse_file(conf)
            runs = [(frm, to, None) for frm, to in cal.windows]
            runs.append(cal.windows[-1] + (random.Random(seed).choice(cal.patients),))
            for frm, to, patient in runs:
                cmd, p = run_iopd(iopd, conf, frm, to, patient)
                if p.returncode != 0:
                    print("seed %d: %s exited %d\n%s" % (seed, " ".join(cmd), p.returncode, p.stderr))
                    print("--- calendar (seed %d) ---\n%s" % (seed, cal.text))
                    return 1
                got = p.stdout.splitlines()
                want = agenda_lines(parsed, frm, to, patient)
                total_lines += len(want)
                if got != want and keep:
                    bad += 1
                    d = [l for l in difflib.unified_diff(want, got, n=0, lineterm="") if l[:1] in "+-" and l[:3] not in ("+++", "---")]
                    print("seed %d %s %s %s\n   %s" % (seed, frm, to, patient or "", "\n   ".join(d[:4])))
                    continue
                if got != want:
                    print("seed %d: MISMATCH for: %s" % (seed, " ".join(cmd[1:])))
                    print("--- calendar (seed %d; regenerate with tests/reference/gen_calendars.py %d) ---" % (seed, seed))
                    print(cal.text)
                    diff = list(difflib.unified_diff(want, got, "agenda_ref.py", "iopd agenda", n=1, lineterm=""))
                    print("\n".join(diff[:40]))
                    if len(diff) > 40:
                        print("... (%d more diff lines)" % (len(diff) - 40))
                    return 1
    if bad:
        print("agenda_diff: %d mismatching runs" % bad)
        return 1
    print("agenda_diff: %d calendars, %d reminder lines compared, no difference" % (n, total_lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

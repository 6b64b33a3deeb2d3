#!/usr/bin/env python3
"""Check the hand-derived agendas in tests/golden/README.md against agenda_ref.py.

    check_hand.py [GOLDEN_DIR]

README.md holds, under a heading naming NAME.conf, `### run: ARGS` followed by
a fenced block of lines `due due_local patient kind event lead channel template
status` (`-` = empty lead; status abbreviations sched/paused/opt-out/
no-contact/quiet).  Lines must match the reference in order, except that
lines with the same (due, patient, channel) -- ordered by id, which nobody
computes by hand -- may come in any order.
"""
import json
import os
import re
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agenda_ref import agenda_lines  # noqa: E402
from libconfig_mini import parse_file  # noqa: E402

ST = {"sched": "scheduled", "paused": "skipped:paused", "opt-out": "skipped:opt-out",
      "no-contact": "skipped:no-contact", "quiet": "skipped:quiet-hours"}
KEYS = ["due", "due_local", "patient", "kind", "event", "lead", "channel", "template", "status"]


def groups(rows):
    out = []
    for r in rows:
        k = (r["due"], r["patient"], r["channel"])
        if out and out[-1][0] == k:
            out[-1][1].append(tuple(r[x] for x in KEYS))
        else:
            out.append((k, [tuple(r[x] for x in KEYS)]))
    return [(k, sorted(v)) for k, v in out]


def main():
    gdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
    text = open(os.path.join(gdir, "README.md")).read()
    conf = None
    bad = runs = 0
    for m in re.finditer(r"^## \(\w\) (\S+\.conf)|^### run: ([^\n]*)\n```\n(.*?)```", text, re.M | re.S):
        if m.group(1):
            conf = parse_file(os.path.join(gdir, m.group(1)))
            name = m.group(1)
            continue
        a = shlex.split(m.group(2))
        opts = dict(zip(a[::2], a[1::2]))
        hand = []
        for line in m.group(3).splitlines():
            f = line.split()
            r = dict(zip(KEYS, f))
            r["lead"] = "" if r["lead"] == "-" else r["lead"]
            r["status"] = ST[r["status"]]
            hand.append(r)
        ref = [json.loads(l) for l in agenda_lines(conf, opts["--from"], opts["--to"], opts.get("--patient"))]
        runs += 1
        if groups(hand) != groups(ref):
            bad += 1
            print("%s %s: hand and reference differ" % (name, m.group(2)))
            hs = [" ".join(x) for _, v in groups(hand) for x in v]
            rs = [" ".join(x) for _, v in groups(ref) for x in v]
            import difflib
            print("\n".join(difflib.unified_diff(hs, rs, "hand", "agenda_ref", lineterm="", n=0)))
    print("check_hand: %d runs, %d differ" % (runs, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Reads the sink's access log (bench/sink/nginx.conf.in format:
   msec method status request_length content_length idempotency_key).

  sinklog.py rate LOG
      iopd's requests (those with an Idempotency-Key): count, distinct ids, POST 204s,
      first and last msec, and deliveries/s from the first to the last request.
      Prints KEY=VALUE words.
  sinklog.py lateness LOG AGENDA.jsonl [--window FROM TO]
      joins every reminder of the agenda (id, due) with the first request that
      carried its id: lateness = sink msec - due, in ms.  With --window, only the
      reminders with due in [FROM, TO] (Unix seconds).  Prints KEY=VALUE words:
      n, missing, dup (ids seen more than once), p50, p90, p99, max (ms).
"""
import calendar
import json
import sys
import time


def read(log):
    first = {}
    n = dup = ok = 0
    t_first = t_last = None
    with open(log) as f:
        for line in f:
            p = line.split()
            if len(p) < 6 or p[5] == "-":
                continue
            t = float(p[0])
            n += 1
            ok += p[1] == "POST" and p[2] == "204"
            if p[5] in first:
                dup += 1
            else:
                first[p[5]] = t
            t_first = t if t_first is None else min(t_first, t)
            t_last = t if t_last is None else max(t_last, t)
    return first, n, dup, ok, t_first, t_last


def pct(v, q):
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(q / 100.0 * len(v) + 0.5)) - 1))   # nearest rank
    return v[k]


def main():
    cmd, log = sys.argv[1], sys.argv[2]
    first, n, dup, ok, t0, t1 = read(log)
    if cmd == "rate":
        secs = (t1 - t0) if n > 1 else float("nan")
        rate = n / secs if n > 1 and secs > 0 else float("nan")
        print(f"requests={n} distinct={len(first)} post204={ok} dup={dup} "
              f"first={t0} last={t1} secs={secs:.3f} rate={rate:.1f}")
        return
    agenda = sys.argv[3]
    lo, hi = float("-inf"), float("inf")
    if "--window" in sys.argv:
        i = sys.argv.index("--window")
        lo, hi = float(sys.argv[i + 1]), float(sys.argv[i + 2])
    late, missing = [], 0
    with open(agenda) as f:
        for line in f:
            r = json.loads(line)
            due = calendar.timegm(time.strptime(r["due"], "%Y-%m-%dT%H:%M:%SZ"))
            if not lo <= due <= hi:
                continue
            t = first.get(r["id"])
            if t is None:
                missing += 1
                continue
            late.append((t - due) * 1000.0)
    late.sort()
    print(f"n={len(late)} missing={missing} dup={dup} p50={pct(late, 50):.1f} p90={pct(late, 90):.1f} "
          f"p99={pct(late, 99):.1f} max={late[-1] if late else float('nan'):.1f} "
          f"min={late[0] if late else float('nan'):.1f}")


main()

#!/usr/bin/env python3
"""Independent reference implementation of the iopd agenda (SPEC 3-5, docs/ids.md).

    agenda_ref.py -c FILE --from T --to T [--patient ID]

prints one JSON object per line exactly as `iopd agenda --format jsonl` must.
Written only from docs/SPEC.md and docs/ids.md; it does not validate
the configuration beyond what it needs (feed it configurations iopd accepts).

Readings of points the SPEC leaves open (argued in tests/reference/README.md):
  R1  wall time -> instant (SPEC 3.2) = zoneinfo with fold=0.
  R2  `before`: event wall time in the event's (program's) zone, minus the
      calendar days, read by 3.2, minus the exact seconds; with `at`: that
      instant's date in the patient's zone, local `at` on it (3.2).
  R3  appointments use their own `reminders` if present, else the program's.
  R4  template: rule's, else the entry's (series, appointment, medication,
      aftercare block), else the kind's default.
  R5  quiet hours [from, to) on the due's wall time (with seconds) in the
      patient's zone; end = local `to` that day (next day for a crossing
      window and wall >= from), read by 3.2; from == to: none; a patient's
      quiet_hours replaces the daemon's.
  R6  session/appointment moved to >= event: skipped:quiet-hours, original
      due; aftercare only moves (event = unshifted due); medication: no
      quiet hours.
  R7  the quiet-hours move applies whatever the status; status = first match
      of paused, opt-out, no-contact, quiet-hours.
  R8  aftercare at end + N days; end = discharge or start + 7*weeks - 1;
      medication from/until default to start/end.
  R9  bare --from/--to date = midnight in daemon.timezone by 3.2; the window
      [from, to) applies to the final due of every kind.
  R10 sort by due instant, then patient, channel, id as byte strings.
  R11 rules with equal canonical leads give equal ids; both are printed.
"""
import argparse
import datetime as dt
import json
import os
import re
import struct
import sys
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from libconfig_mini import parse_file  # noqa: E402

UTC = dt.timezone.utc
MASK = (1 << 64) - 1

# ---------------------------------------------------------------- SipHash-2-4


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(k0, k1, data):
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(n):
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & MASK; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & MASK; v3 = _rotl(v3, 16); v3 ^= v2
            v0 = (v0 + v3) & MASK; v3 = _rotl(v3, 21); v3 ^= v0
            v2 = (v2 + v1) & MASK; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)

    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v3 ^= m
        rounds(2)
        v0 ^= m
    b = ((n & 0xFF) << 56) | int.from_bytes(data[end:] + b"\0" * (8 - n % 8), "little")
    v3 ^= b
    rounds(2)
    v0 ^= b
    v2 ^= 0xFF
    rounds(4)
    return v0 ^ v1 ^ v2 ^ v3


def _selftest():
    key = bytes(range(16))
    got = siphash24(int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little"), bytes(range(15)))
    assert got == 0xA129CA6149BE45E5, hex(got)


_selftest()

K0 = 0x696F70642D696431
K1 = 0x7365726965732D31


def reminder_id(patient, kind, series_key, lead_key, channel, occurrence):
    msg = b"iopd-id-1\0" + b"".join(s.encode("utf-8") + b"\0" for s in (patient, kind, series_key, lead_key, channel))
    series = siphash24(K0, K1, msg)
    rid = siphash24(series, series ^ 0x6F63637572656E63, struct.pack("<q", occurrence))
    return "%016x" % rid


# ------------------------------------------------------------------- values

_DUR = re.compile(r"^(?:[0-9]+[wdhms])+$")


def parse_duration(text):
    """-> (calendar days, exact seconds)"""
    if not _DUR.match(text):
        raise ValueError("bad duration %r" % text)
    days = secs = 0
    for n, u in re.findall(r"([0-9]+)([wdhms])", text):
        n = int(n)
        if u == "w":
            days += 7 * n
        elif u == "d":
            days += n
        else:
            secs += n * {"h": 3600, "m": 60, "s": 1}[u]
    return days, secs


def canonical_duration(text):
    days, secs = parse_duration(text)
    out = ""
    if days:
        out += "%dd" % days
    h, rest = divmod(secs, 3600)
    m, s = divmod(rest, 60)
    for n, u in ((h, "h"), (m, "m"), (s, "s")):
        if n:
            out += "%d%s" % (n, u)
    return out or "0s"


def parse_date(s):
    return dt.date.fromisoformat(s)


def parse_hm(s):
    m = re.fullmatch(r"([0-9]{2}):([0-9]{2})", s)
    if not m:
        raise ValueError("bad time %r" % s)
    return int(m.group(1)), int(m.group(2))


def local_to_ts(date, h, m, zone, s=0):
    """SPEC 3.2: wall time -> Unix seconds; fold=0 = first of a repeated time,
    offset before the gap for a missing one."""
    return int(dt.datetime(date.year, date.month, date.day, h, m, s, tzinfo=zone, fold=0).timestamp())


def ts_to_local(ts, zone):
    return dt.datetime.fromtimestamp(ts, zone)


def fmt_utc(ts):
    return dt.datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_local(ts, zone):
    d = ts_to_local(ts, zone)
    off = int(d.utcoffset().total_seconds())
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + "%s%02d:%02d" % (sign, off // 3600, off % 3600 // 60)


def parse_T(text, daemon_zone):
    m = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})", text)
    if m:
        d = parse_date(text)
        return local_to_ts(d, 0, 0, daemon_zone)
    m = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?(Z|[+-][0-9]{2}:[0-9]{2})", text)
    if not m:
        raise ValueError("bad time %r" % text)
    d = parse_date(m.group(1))
    base = dt.datetime(d.year, d.month, d.day, int(m.group(2)), int(m.group(3)), int(m.group(4) or 0), tzinfo=UTC)
    off = 0
    if m.group(5) != "Z":
        sign = -1 if m.group(5)[0] == "-" else 1
        off = sign * (int(m.group(5)[1:3]) * 3600 + int(m.group(5)[4:6]) * 60)
    return int(base.timestamp()) - off


# --------------------------------------------------------------- the agenda


def apply_before(event_ts, event_zone, before, at, patient_zone):
    """SPEC 4 / reading R2."""
    days, secs = parse_duration(before)
    t = event_ts
    if days:
        w = ts_to_local(event_ts, event_zone)
        d = w.date() - dt.timedelta(days=days)
        t = local_to_ts(d, w.hour, w.minute, event_zone, w.second)
    t -= secs
    if at is not None:
        h, m = parse_hm(at)
        t = local_to_ts(ts_to_local(t, patient_zone).date(), h, m, patient_zone)
    return t


def quiet_end(due, qh, zone):
    """End of the quiet window holding `due`, or None (reading R5)."""
    if qh is None:
        return None
    (fh, fm), (th, tm) = qh
    f, to = fh * 3600 + fm * 60, th * 3600 + tm * 60
    if f == to:
        return None
    w = ts_to_local(due, zone)
    sod = w.hour * 3600 + w.minute * 60 + w.second
    d = w.date()
    if f < to:
        if not (f <= sod < to):
            return None
    else:
        if sod >= f:
            d = d + dt.timedelta(days=1)
        elif sod >= to:
            return None
    return local_to_ts(d, th, tm, zone)


def daterange(a, b):
    d = a
    while d <= b:
        yield d
        d += dt.timedelta(days=1)


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def build(conf, patient_filter=None):
    daemon = conf.get("daemon", {})
    dzone_name = daemon.get("timezone", "UTC")
    dzone = ZoneInfo(dzone_name)
    dqh = daemon.get("quiet_hours", {"from": "21:00", "to": "08:00"})
    modules = {c["name"]: c["module"] for c in conf.get("channels", [])}
    gclosures = set(parse_date(s) for s in conf.get("closures", []))
    programs = {p["id"]: p for p in conf.get("programs", [])}
    out = []

    for pat in conf.get("patients", []):
        pid = pat["id"]
        if patient_filter is not None and pid != patient_filter:
            continue
        prog = programs[pat["program"]]
        prog_zone = ZoneInfo(prog.get("timezone", dzone_name))
        pzone = ZoneInfo(pat.get("timezone", dzone_name))
        qsrc = pat.get("quiet_hours", dqh)
        qh = (parse_hm(qsrc["from"]), parse_hm(qsrc["to"]))
        start = parse_date(pat["start"])
        if "discharge" in pat:
            end = parse_date(pat["discharge"])
        else:
            end = start + dt.timedelta(days=7 * int(prog.get("weeks", 12)) - 1)
        closures = gclosures | set(parse_date(s) for s in prog.get("closures", []))
        absences = set(parse_date(s) for s in pat.get("absences", []))
        allow = pat.get("channels")
        opt_out = set(pat.get("opt_out", []))
        paused = bool(pat.get("paused", False))
        phone, email = pat.get("phone"), pat.get("email")

        def status_of(channel, quiet_skipped):
            if paused:
                return "skipped:paused"
            if channel in opt_out or (allow is not None and channel not in allow):
                return "skipped:opt-out"
            mod = modules[channel]
            if (mod == "sms" and not phone) or (mod == "smtp" and not email):
                return "skipped:no-contact"
            if quiet_skipped:
                return "skipped:quiet-hours"
            return "scheduled"

        def emit(kind, series_key, lead, lead_key, channel, event, due, template):
            out.append({
                "id": reminder_id(pid, kind, series_key, lead_key, channel, event),
                "due": due, "patient": pid, "kind": kind, "event": event, "lead": lead,
                "channel": channel, "template": template,
            })

        def event_reminders(kind, series_key, event, rules, entry_template):
            for rule in rules:
                before = rule["before"]
                at = rule.get("at")
                due = apply_before(event, prog_zone, before, at, pzone)
                skipped = False
                qend = quiet_end(due, qh, pzone)
                if qend is not None:
                    if qend >= event:
                        skipped = True
                    else:
                        due = qend
                lead_key = canonical_duration(before) + ("@%02d:%02d" % parse_hm(at) if at is not None else "")
                template = rule.get("template") or entry_template or "session"
                for ch in rule["channels"]:
                    emit(kind, series_key, before, lead_key, ch, event, due, template)
                    out[-1]["status"] = status_of(ch, skipped)

        # sessions
        for ses in prog.get("sessions", []):
            days = set(WEEKDAYS.index(d) for d in ses["days"])
            h, m = parse_hm(ses["start"])
            rules = ses["reminders"] if "reminders" in ses else prog.get("reminders", [])
            for d in daterange(start, end):
                if d.weekday() not in days or d in closures or d in absences:
                    continue
                event = local_to_ts(d, h, m, prog_zone)
                event_reminders("session", "%s/%s" % (prog["id"], ses["id"]), event, rules, ses.get("template"))

        # appointments (kept outside the enrollment, not cancelled by closures)
        for ap in pat.get("appointments", []):
            mm = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}:[0-9]{2})", ap["at"])
            h, m = parse_hm(mm.group(2))
            event = local_to_ts(parse_date(mm.group(1)), h, m, prog_zone)
            key = ap.get("id") or ap.get("type") or ""
            rules = ap["reminders"] if "reminders" in ap else prog.get("reminders", [])
            event_reminders("appointment", key, event, rules, ap.get("template"))

        # medication prompts: no lead, no quiet hours
        for med in pat.get("medications", []):
            f = parse_date(med["from"]) if "from" in med else start
            u = parse_date(med["until"]) if "until" in med else end
            times = [parse_hm(t) for t in med["times"]]
            for d in daterange(f, u):
                for h, m in times:
                    due = local_to_ts(d, h, m, pzone)
                    for ch in med["channels"]:
                        emit("medication", med["label"], "", "", ch, due, due, med.get("template") or "medication")
                        out[-1]["status"] = status_of(ch, False)

        # aftercare: quiet hours move it, never skip it
        ac = prog.get("aftercare")
        if ac:
            h, m = parse_hm(ac["at"])
            for off in ac["after"]:
                days, secs = parse_duration(off)
                assert secs == 0, "aftercare offsets take w and d only"
                event = local_to_ts(end + dt.timedelta(days=days), h, m, pzone)
                due = quiet_end(event, qh, pzone) or event
                for ch in ac["channels"]:
                    emit("aftercare", "aftercare", "", "", ch, event, due, ac.get("template") or "aftercare")
                    out[-1]["status"] = status_of(ch, False)

        for r in out:
            if "due_local" not in r and r["patient"] == pid:
                r["due_local"] = fmt_local(r["due"], pzone)
    return out, dzone


def agenda_lines(conf, frm, to, patient=None):
    """The agenda of parsed configuration `conf` in [frm, to) as JSON lines."""
    rems, dzone = build(conf, patient)
    lo, hi = parse_T(frm, dzone), parse_T(to, dzone)
    rems = [r for r in rems if lo <= r["due"] < hi]
    rems.sort(key=lambda r: (r["due"], r["patient"].encode(), r["channel"].encode(), r["id"]))
    lines = []
    for r in rems:
        line = {
            "id": r["id"], "due": fmt_utc(r["due"]), "due_local": r["due_local"], "patient": r["patient"],
            "kind": r["kind"], "event": fmt_utc(r["event"]), "lead": r["lead"], "channel": r["channel"],
            "template": r["template"], "status": r["status"],
        }
        lines.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-c", dest="conf", required=True)
    ap.add_argument("--from", dest="frm", required=True)
    ap.add_argument("--to", dest="to", required=True)
    ap.add_argument("--patient")
    a = ap.parse_args(argv)
    for line in agenda_lines(parse_file(a.conf), a.frm, a.to, a.patient):
        sys.stdout.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Writes iopd configurations for the benchmark workloads (stdlib only).

  gen_iopd.py calendar OUTDIR --tsv patients.tsv [--shift-days N] [--empty]
      W1/W4/W5: the calendar of gen_calendar.py (read from its patients.tsv, so both
      tools see the very same calendar) as an iopd configuration:
        - one program per (zone, weekday triple, group time) combination found in
          the TSV (210 for gen_calendar's cycles), timezone = the patient's zone,
          weeks = 12, three sessions g1 g2 g3 (one weekday each, at the group time),
          and ONE reminder rule: before = "0s" on ONE channel.  So every session
          occurrence yields exactly one agenda row, due = the session's instant;
        - per patient two medication entries m1 and m2 (one time each, on the same
          one channel): one agenda row per dose;
        - quiet hours off (from == to), so no due is moved or skipped.
      Hence `iopd agenda` rows == Remind/dateutil occurrences (17 per patient in
      the week 2027-01-11..17).  --shift-days moves every enrollment (a multiple of 7
      keeps the weekdays) so that nothing falls due while a daemon holds it.
      --empty writes the same daemon/channels/templates/programs with no patients.
      --phones gives every patient a phone number (distinct, in four notations: national
      "(312) 234-5678" and "312-234-5678" read in default_country US, "+1 312 234 5678",
      "+13122345678"; real area codes, never 555), each checked by libphonenumber at load.
  gen_iopd.py burst OUTDIR --n N --due EPOCH
      W2: N patients, each with ONE session reminder due at EPOCH (whole seconds):
      one program, daily session at a minute boundary E >= due + 10 min, rule
      before = "<E-due>s" (the lead takes seconds, the session start only minutes).
  gen_iopd.py spread OUTDIR --n N --t0 EPOCH --secs S [--warmup W] [--tsv T --shift-days D]
      W3/W5: N patients, patient i due at t0 + (i mod S): S programs, program k
      with before = "<E-t0-k>s"; --warmup: W more due at t0 - 5 s.  With --tsv, the (shifted) calendar patients of
      gen_calendar.py are added (W5: 100k patients held, none due during the run).
      W6 adds, with --sms-n N --sms-due EPOCH --sms-token FILE --listen ADDR:PORT: N
      patients with a phone, each with ONE reminder on an "sms" channel (api twilio,
      its Messages URL on the sink, concurrency --concurrency) due at EPOCH, and an
      inbound block (listen and public_url http://ADDR:PORT) that takes their
      status callbacks.
Common: --url URL (the sink), --concurrency C, --state DIR (state_dir and the
control socket), --key FILE (webhook HMAC key file; omitted: unsigned), --split N
(the patients in files of N each, OUTDIR/patients/NNNN.conf, read through
@include "patients/*.conf": one file may hold at most 64 MiB, about 250,000 patients),
--daemon-extra TEXT (settings added to the daemon group: a PostgreSQL ledger).
Writes OUTDIR/iopd.conf and OUTDIR/patients.conf (mode 0600, as iopd requires),
and for burst/spread OUTDIR/dues.tsv (patient, due epoch).
"""
import argparse
import datetime as dt
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["calendar", "burst", "spread"])
ap.add_argument("outdir")
ap.add_argument("--tsv")
ap.add_argument("--shift-days", type=int, default=0)
ap.add_argument("--empty", action="store_true")
ap.add_argument("--n", type=int, default=0)
ap.add_argument("--due", type=int)
ap.add_argument("--t0", type=int)
ap.add_argument("--secs", type=int, default=60)
ap.add_argument("--warmup", type=int, default=0,
                help="spread: this many more reminders due at t0 - 5 s (they open the "
                     "channel's connections; outside the measured window)")
ap.add_argument("--url", default="http://127.0.0.1:28204/")
ap.add_argument("--concurrency", type=int, default=8)
ap.add_argument("--state")
ap.add_argument("--key")
ap.add_argument("--daemon-extra", default="")
ap.add_argument("--sms-n", type=int, default=0)
ap.add_argument("--sms-due", type=int)
ap.add_argument("--sms-token")
ap.add_argument("--listen")
ap.add_argument("--phones", action="store_true")
ap.add_argument("--split", type=int, default=0)
ap.add_argument("--before", default="0s",
                help='calendar: the session rule\'s lead ("0s": one agenda row per session; '
                     'daemons use "2h", as "0s" reminders are never sent)')
a = ap.parse_args()

os.makedirs(a.outdir, exist_ok=True)
state = os.path.abspath(a.state or os.path.join(a.outdir, "state"))
DAYS = {"MO": "mon", "TU": "tue", "WE": "wed", "TH": "thu", "FR": "fri", "SA": "sat", "SU": "sun"}
ALLDAYS = '["mon","tue","wed","thu","fri","sat","sun"]'


def sms_parts():
    """W6: the sms channel and the inbound block."""
    if not a.sms_n:
        return "", ""
    url = a.url.rstrip("/") + "/2010-04-01/Accounts/AC0123/Messages.json"
    chan = (f',\n  {{ name = "sms"; module = "sms"; api = "twilio"; url = "{url}"; account = "AC0123";'
            f' token_file = "{os.path.abspath(a.sms_token)}"; from = "+15550001111";'
            f' concurrency = {a.concurrency}; timeout = "30s"; }}')
    inbound = f'inbound = {{ listen = "{a.listen}"; public_url = "http://{a.listen}"; }};\n'
    return chan, inbound


def head(programs):
    key = f'token_file = "{os.path.abspath(a.key)}"; ' if a.key else ""
    sms, inbound = sms_parts()
    return f"""# generated by bench/gen_iopd.py {a.mode}: do not edit
daemon = {{
  timezone = "UTC";
  state_dir = "{state}";
  control_socket = "{state}/control.sock";
  quiet_hours = {{ from = "00:00"; to = "00:00"; }};
  catch_up = "2h";
  clinic_phone = "+13125559999";
  default_country = "US";
  {a.daemon_extra}
}};
channels = (
  {{ name = "hook"; module = "webhook"; url = "{a.url}"; {key}concurrency = {a.concurrency}; timeout = "30s"; }}{sms}
);
{inbound}
templates = {{
  session    = {{ sms = "Hi {{first_name}}, reminder: appointment {{day}} at {{time}} in {{location}}."; }};
  medication = {{ sms = "Hi {{first_name}}, it is {{time}}: time for your {{label}}."; }};
  aftercare  = {{ sms = "Hi {{first_name}}, checking in. Call us at {{clinic_phone}} any time."; }};
}};
programs = (
{programs}
);
@include "{'patients/*.conf' if a.split else 'patients.conf'}"
"""


def write_private(path, lines):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("patients = (\n")
        f.write(",\n".join(lines))
        f.write("\n);\n")


def write(programs, patients_lines):
    with open(os.path.join(a.outdir, "iopd.conf"), "w") as f:
        f.write(head(",\n".join(programs)))
    if not a.split:
        write_private(os.path.join(a.outdir, "patients.conf"), patients_lines)
        return
    folder = os.path.join(a.outdir, "patients")
    if os.path.isdir(folder):
        for old in os.listdir(folder):
            os.unlink(os.path.join(folder, old))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for k in range(0, max(len(patients_lines), 1), a.split):
        write_private(os.path.join(folder, f"{k // a.split:04d}.conf"), patients_lines[k:k + a.split])


# Area codes and exchanges libphonenumber takes as numbers in use (never 555, no N11).
AREAS = ["312", "773", "415", "212", "646", "617", "202", "305", "713", "206"]
EXCHANGES = [e for e in range(200, 1000) if e % 100 != 11 and e != 555]


def phone(i):
    """Patient i's number, distinct for i < 10 x 10,000 x len(EXCHANGES) (79 million)."""
    area = AREAS[i % len(AREAS)]
    r = i // len(AREAS)
    exch = EXCHANGES[(r // 10000) % len(EXCHANGES)]
    line = (r * 7919) % 10000           # 7919 is prime to 10,000: r -> line is one to one
    n = (area, f"{exch:03d}", f"{line:04d}")
    return [f"({n[0]}) {n[1]}-{n[2]}", f"{n[0]}-{n[1]}-{n[2]}", f"+1 {n[0]} {n[1]} {n[2]}",
            f"+1{n[0]}{n[1]}{n[2]}"][i % 4]


def hhmm(t):
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


def calendar_parts(tsv, shift):
    """programs (list of strings), patient lines, from gen_calendar's TSV."""
    progs, order, pats = {}, [], []
    with open(tsv) as f:
        for line in f:
            pid, tz, s, e, *series = line.rstrip("\n").split("\t")
            groups = [x for x in series if x.startswith("g")]
            meds = [x for x in series if x.startswith("m")]
            gtime = groups[0].split("@")[1]
            days = tuple(x.split("=")[1].split("@")[0] for x in groups)
            assert all(x.split("@")[1] == gtime for x in groups)
            k = (tz, days, gtime)
            if k not in progs:
                progs[k] = f"c{len(progs):03d}"
                order.append(k)
            start = dt.date.fromisoformat(s) + dt.timedelta(days=shift)
            end = dt.date.fromisoformat(e) + dt.timedelta(days=shift)
            disch = "" if end == start + dt.timedelta(days=83) else f' discharge = "{end}";'
            med = ", ".join(
                f'{{ label = "{m.split("=")[0]}"; times = ["{m.split("@")[1]}"]; channels = ["hook"]; }}'
                for m in meds)
            ph = f' phone = "{phone(len(pats))}";' if a.phones else ""
            pats.append(f'  {{ id = "{pid}"; first_name = "Pat";{ph} timezone = "{tz}"; program = "{progs[k]}";'
                        f' start = "{start}";{disch} medications = ( {med} ); }}')
    plist = []
    for k in order:
        tz, days, gtime = k
        sess = ", ".join(f'{{ id = "g{j+1}"; type = "group"; days = ["{DAYS[d]}"]; start = "{gtime}";'
                         f' duration = "1h"; location = "Room 2"; }}' for j, d in enumerate(days))
        plist.append(f'  {{ id = "{progs[k]}"; name = "Group program {progs[k]}"; kind = "IOP";'
                     f' timezone = "{tz}"; weeks = 12;\n    sessions = ( {sess} );\n'
                     f'    reminders = ( {{ before = "{a.before}"; channels = ["hook"]; }} ); }}')
    return plist, pats


def timed_parts(n, dues, prefix, rows=None, channel="hook"):
    """n patients; patient i due at dues[i % len(dues)] (whole seconds, one session each);
    on the sms channel each has a phone."""
    e = max(dues) + 600
    e = (e + 59) // 60 * 60                     # a minute boundary >= every due + 10 min
    ev = dt.datetime.fromtimestamp(e, dt.timezone.utc)
    day = ev.date().isoformat()
    plist = []
    for k, due in enumerate(dues):
        plist.append(f'  {{ id = "{prefix}{k:02d}"; name = "Timed program {k}"; kind = "IOP"; timezone = "UTC"; weeks = 1;\n'
                     f'    sessions = ( {{ id = "s"; type = "group"; days = {ALLDAYS}; start = "{ev:%H:%M}"; duration = "1h"; location = "Room 1"; }} );\n'
                     f'    reminders = ( {{ before = "{e - due}s"; channels = ["{channel}"]; }} ); }}')
    pats = []
    rows = [] if rows is None else rows
    for i in range(n):
        k = i % len(dues)
        pid = f"{prefix}{i + 1:06d}"
        phone = f' phone = "+1555{i:07d}";' if channel == "sms" else ""
        pats.append(f'  {{ id = "{pid}"; first_name = "Pat";{phone} program = "{prefix}{k:02d}"; start = "{day}"; discharge = "{day}"; }}')
        rows.append(f"{pid}\t{dues[k]}\n")
    with open(os.path.join(a.outdir, "dues.tsv"), "w") as f:
        f.writelines(rows)
    return plist, pats, rows


if a.mode == "calendar":
    progs, pats = calendar_parts(a.tsv, a.shift_days)
    write(progs, [] if a.empty else pats)
    print(f"calendar: {len(progs)} programs, {0 if a.empty else len(pats)} patients")
elif a.mode == "burst":
    progs, pats, _ = timed_parts(a.n, [a.due], "b")
    write(progs, pats)
    print(f"burst: {a.n} reminders due at {a.due}")
else:
    sprogs, spats = [], []
    if a.sms_n:                                 # first: dues.tsv is the spread's
        sprogs, spats, _ = timed_parts(a.sms_n, [a.sms_due], "t", [], "sms")
    progs, pats, rows = timed_parts(a.n, [a.t0 + k for k in range(a.secs)], "s")
    progs += sprogs
    pats += spats
    if a.warmup:
        wp, wpats, _ = timed_parts(a.warmup, [a.t0 - 5], "w", rows)
        progs += wp
        pats += wpats
    if a.tsv:
        cp, cpats = calendar_parts(a.tsv, a.shift_days)
        progs += cp
        pats += cpats
    write(progs, pats)
    print(f"spread: {a.n} reminders over {a.secs} s from {a.t0}; {len(pats)} patients in all")

#!/usr/bin/env python3
"""Property test: daemon/tz.c (through tests/unit/tzprobe) against python3's
zoneinfo, an independent implementation reading the same zone files.

    tz_property.py PATH/TO/tzprobe

For a set of awkward zones it compares, at seeded random instants and wall
times over 1970-2100, at every transition +-1 s and at wall times in and
around every gap and overlap:

  O  tz_offset(t)      vs  datetime.fromtimestamp(t, zi), as a wall clock, - t
  T  tz_to_wall(t)     vs  t + that offset
  W  tz_from_wall(w)   vs  datetime(..., tzinfo=zi, fold=0).timestamp()

fold=0 is exactly SPEC 3.2: the earlier of a repeated wall time, and the
offset before the gap for a missing one.  Every other zone of the database
gets the transition checks only.  Then 60 synthetic zones (random tables
with transitions minutes apart, and footer-only zones with unusual POSIX
rules) are written to a temporary TZDIR and checked the same way.  Exits 1
on any mismatch, 77 (skip) when python3 has no zoneinfo.
"""
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

try:
    import zoneinfo
except ImportError:
    print("tz_property: python3 has no zoneinfo module (needs 3.9+); skipping")
    sys.exit(77)


def zone_from_file(path, key):
    """The zone of a TZif file.  Some CPython releases' C zoneinfo (Debian
    12's 3.11.2) refuse a POSIX rule whose transition time is negative or
    past 24h (M3.2.0/-100), which RFC 8536 allows and the synthetic zones
    use; zoneinfo's own pure-Python implementation reads it."""
    with open(path, "rb") as f:
        try:
            return zoneinfo.ZoneInfo.from_file(f, key=key)
        except ValueError:
            from zoneinfo import _zoneinfo
            f.seek(0)
            return _zoneinfo.ZoneInfo.from_file(f, key=key)

ZONES = [
    "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kathmandu", "America/St_Johns",
    "Europe/Dublin", "America/Sao_Paulo", "America/New_York", "Europe/London",
    "Asia/Kolkata", "Pacific/Apia", "Pacific/Kiritimati", "America/Santiago",
    "Africa/Casablanca", "Asia/Tehran", "Antarctica/Troll", "Europe/Moscow",
    "Australia/Adelaide", "America/Havana", "Asia/Gaza", "UTC",
    "America/Nuuk", "Asia/Jerusalem", "Africa/Cairo", "Pacific/Norfolk",
    "Europe/Lisbon", "America/Caracas", "Pacific/Fiji", "Asia/Pyongyang",
]
SEED = 20240611
N_RANDOM = 1500                 # random instants and random walls per zone
EPOCH = datetime(1970, 1, 1)
EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
SEC = timedelta(seconds=1)
LO = 0                                                  # 1970-01-01
HI = (datetime(2101, 1, 1) - EPOCH) // SEC              # 2101-01-01
MIN_T = (datetime(2, 1, 1) - EPOCH) // SEC              # datetime's range
MAX_T = (datetime(9998, 1, 1) - EPOCH) // SEC


def read_tzif(path):
    """(transitions, offsets after each, offset of type 0, offset python
    uses before the first transition, footer) from the 64-bit block."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"TZif" or b[4:5] not in (b"2", b"3", b"4"):
        return None

    def counts(o):
        return struct.unpack(">6l", b[o + 20:o + 44])

    isut, isstd, leap, nt, nty, nch = counts(0)
    o = 44 + nt * 5 + nty * 6 + nch + leap * 8 + isstd + isut
    isut, isstd, leap, nt, nty, nch = counts(o)
    o += 44
    at = struct.unpack(">%dq" % nt, b[o:o + 8 * nt])
    idx = b[o + 8 * nt:o + 9 * nt]
    o += 9 * nt
    types = [struct.unpack(">lBB", b[o + 6 * i:o + 6 * i + 6]) for i in range(nty)]
    o += 6 * nty + nch + leap * 12 + isstd + isut
    footer = b[o + 1:b.index(b"\n", o + 1)].decode()
    # zoneinfo uses the first standard-time type before the first
    # transition; RFC 8536 (and tz.c) use type 0.
    py_before = next((t[0] for t in types if not t[1]), types[0][0])
    return list(at), [types[i][0] for i in idx], types[0][0], py_before, footer


def ref_offset(zi, t):
    # The wall clock fromutc() yields, minus t: unlike .utcoffset(), which
    # looks the wall time up again, this holds for transitions close together.
    return (datetime.fromtimestamp(t, zi).replace(tzinfo=None) - EPOCH) // SEC - t


def ref_from_wall(zi, w):
    return ((EPOCH + w * SEC).replace(tzinfo=zi, fold=0) - EPOCH_UTC) // SEC


def footer_transitions(zi, start, end):
    """Offset changes after the table, found with zoneinfo itself: weekly
    steps, then bisection to the second."""
    out, t, off = [], start, ref_offset(zi, start)
    while t < end:
        u = min(t + 7 * 86400, end)
        o = ref_offset(zi, u)
        if o != off:
            a, b = t, u             # off at a, o at b
            while b - a > 1:
                m = (a + b) // 2
                if ref_offset(zi, m) == off:
                    a = m
                else:
                    b = m
            out.append((b, off, o))
            off = o
        t = u
    return out


def transitions(zone, zi, path):
    """[(instant, offset before, offset after)] in datetime's range, and the
    instant before which zoneinfo and RFC 8536 may legitimately differ."""
    data = read_tzif(path)
    if data is None:
        return None, None
    at, offs, off0, py_before, footer = data
    out, prev = [], off0
    for t, o in zip(at, offs):
        if o != prev and MIN_T < t < MAX_T:
            out.append((t, prev, o))
        prev = o
    if "," in footer:               # a DST rule: its changes are not in the table
        start = max(at[-1] if at else LO, LO)
        out += footer_transitions(zi, start + 1, HI)
    unsure = at[0] if at and py_before != off0 else None
    return out, unsure


# --- synthetic zones ----------------------------------------------------------
# Random transition tables exercise what real data rarely does: transitions
# hours apart, offset jumps of a day, odd seconds.  zoneinfo resolves wall
# times one transition at a time, which is exact only while transitions are
# far apart, so for "close" zones the wall-time reference is the definition
# itself (SPEC 3.2 by brute force over all periods).

FOOTERS = [  # footer-only zones: the whole zone is the POSIX TZ rule
    "EST5EDT,M3.2.0,M11.1.0", "IST-1GMT0,M10.5.0,M3.5.0/1",
    "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
    "IST-2IDT,M3.4.4/26,M10.5.0", "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
    "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", "EET-2EEST,M3.4.4/50,M10.4.4/50",
    "<-03>3<-02>,M3.2.0/-100,M11.1.0/100", "EST5EDT4,0/0,J365/25",
    "NST3:30NDT,M3.2.0,M11.1.0", "XXX-14YYY-13:15:30,M1.1.0/0,M12.5.6/23:59:59",
    # Jn, but not J59: CPython's zoneinfo puts J59 on Feb 29 in leap years,
    # and it reads the zero-based "n" form as one-based (tests/unit covers
    # both).  No rule here crosses the UTC new year: zoneinfo (like glibc)
    # evaluates the rule of the UTC year only, tz.c (like tzcode) every year.
    "<+0330>-3:30<+0430>,J80/0,J264/0", "AAA3BBB,J60/0,J365/20",
]


def write_tzif(path, trans, types, footer):
    """A TZif v2 file: trans [(instant, type index)], types [utoff]."""
    def header(nt, nty):
        return struct.pack(">4sc15x6l", b"TZif", b"2", 0, 0, 0, nt, nty, 4)
    v1 = header(0, 1) + struct.pack(">lBB", types[0], 0, 0) + b"ABC\0"  # skipped by v2 readers
    v2 = header(len(trans), len(types))
    v2 += b"".join(struct.pack(">q", t) for t, _ in trans) + bytes(i for _, i in trans)
    v2 += b"".join(struct.pack(">lBB", o, 0, 0) for o in types) + b"ABC\0"
    with open(path, "wb") as f:
        f.write(v1 + v2 + b"\n" + footer.encode() + b"\n")


def posix_offset(east):
    sign, v = ("-", east) if east > 0 else ("", -east)
    return "%s%d:%02d:%02d" % (sign, v // 3600, v // 60 % 60, v % 60)


def brute_from_wall(periods, w):
    """SPEC 3.2 read literally: the earliest period that holds w - off; if
    none, w is in a gap: use the offset of the last period begun before it."""
    before = None
    for start, end, off in periods:
        u = w - off
        if start is not None and u < start:
            continue
        if end is None or u < end:
            return u
        before = off
    return w - before


def synthetic(tzdir, rng, add):
    for k in range(60):
        zone, kind = "Synth/Z%02d" % k, ("close", "apart", "footer")[k % 3]
        path = os.path.join(tzdir, zone)
        if kind == "footer":
            write_tzif(path, [], [0], FOOTERS[k // 3 % len(FOOTERS)])
            zi = zone_from_file(path, zone)
            trans = footer_transitions(zi, LO, HI)
            periods = None
        else:
            types = [rng.randrange(-48, 57) * 900 + rng.choice((0, 0, 0, rng.randrange(900)))
                     for _ in range(rng.randrange(2, 6))]
            t, tab = rng.randrange(LO, HI // 2), []
            for _ in range(rng.randrange(1, 40)):
                t += (rng.choice((rng.randrange(1, 7200), rng.randrange(3600, 3 * 86400)))
                      if kind == "close" else rng.randrange(3 * 86400, 200 * 86400))
                tab.append((t, rng.randrange(len(types))))
            last = types[tab[-1][1]]
            write_tzif(path, tab, types, rng.choice(("", "<ABC>" + posix_offset(last))))
            zi = zone_from_file(path, zone)
            offs = [types[0]] + [types[i] for _, i in tab]
            trans = [(t, offs[j], offs[j + 1]) for j, (t, _) in enumerate(tab)
                     if offs[j] != offs[j + 1]]
            cuts = [None] + [t for t, _, _ in trans] + [None]
            periods = [(cuts[j], cuts[j + 1], o) for j, o in
                       enumerate([types[0]] + [b for _, _, b in trans])]
        walls = [rng.randrange(LO, HI) for _ in range(200)]
        for t, a, b in trans:
            for u in (t - 1, t, t + 1, rng.randrange(t - 86400, t + 86400)):
                add("O", zone, u, ref_offset(zi, u))
            lo, hi = t + min(a, b), t + max(a, b)
            walls += [lo - 1, lo, lo + 1, (lo + hi) // 2, hi - 1, hi, hi + 1,
                      rng.randrange(lo - 3600, hi + 3600)]
        for w in walls:
            add("W", zone, w, brute_from_wall(periods, w) if kind == "close"
                else ref_from_wall(zi, w))


def human(v):
    try:
        return (EPOCH + v * SEC).isoformat()
    except OverflowError:
        return "?"


def real_zones(tzdir, rng, add):
    """Returns the zones that could not be read and the number that could."""
    missing = []
    # Only files of tzdir: zoneinfo also lists the pip "tzdata" package's.
    others = sorted(z for z in zoneinfo.available_timezones() - set(ZONES)
                    if os.path.isfile(os.path.join(tzdir, z)))
    for zone in ZONES + others:
        try:
            zi = zoneinfo.ZoneInfo(zone)
            trans, unsure = transitions(zone, zi, os.path.join(tzdir, zone))
        except (OSError, ValueError, zoneinfo.ZoneInfoNotFoundError):
            trans = None
        if trans is None:
            missing.append(zone)
            continue
        walls = []
        for t, a, b in trans:
            for u in (t - 1, t, t + 1):
                if unsure is None or u >= unsure:
                    add("O", zone, u, ref_offset(zi, u))
            lo, hi = t + min(a, b), t + max(a, b)     # the gap or the overlap
            walls += [lo - 1, lo, lo + 1, (lo + hi) // 2, hi - 1, hi, hi + 1]
            walls.append(rng.randrange(lo - 3600, hi + 3600))
        if zone in ZONES:
            for _ in range(N_RANDOM):
                t = rng.randrange(LO, HI)
                o = ref_offset(zi, t)
                add("O", zone, t, o)
                add("T", zone, t, t + o)
            walls += [rng.randrange(LO, HI) for _ in range(N_RANDOM)]
        for w in walls:
            # Near the first transition zoneinfo reads type 0 differently.
            if unsure is None or w >= unsure + 2 * 86400:
                add("W", zone, w, ref_from_wall(zi, w))
    return missing, len(ZONES) + len(others) - len(missing)


def check(probe, tzdir, queries, expect, counts, shown):
    """Runs tzprobe on the queries; returns the number of mismatches."""
    env = dict(os.environ, TZDIR=tzdir)
    res = subprocess.run([probe], input="".join(queries), capture_output=True, text=True,
                         env=env, check=False)
    got = res.stdout.splitlines()
    if res.returncode != 0 or len(got) != len(queries):
        print("tz_property: tzprobe failed (exit %d, %d answers to %d queries)\n%s"
              % (res.returncode, len(got), len(queries), res.stderr))
        return max(1, len(queries))
    bad = 0
    for q, g, e in zip(queries, got, expect):
        op, zone, v = q.split()
        counts[op] += 1
        if g != str(e):
            bad += 1
            if shown[0] < 20:
                shown[0] += 1
                print("MISMATCH %s %s %s (%s): tz.c %s, reference %d (%s)"
                      % (op, zone, v, human(int(v)), g, e,
                         human(e) if op != "O" else "%+ds" % e))
    return bad


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tz_property.py PATH/TO/tzprobe")
    probe = sys.argv[1]
    tzdir = os.environ.get("TZDIR") or "/usr/share/zoneinfo"
    zoneinfo.reset_tzpath(to=[tzdir])           # the files tz.c reads
    rng = random.Random(SEED)
    began = time.monotonic()
    counts, shown = {"O": 0, "T": 0, "W": 0}, [0]

    queries, expect = [], []
    def add(op, zone, v, ref):
        queries.append("%s %s %d\n" % (op, zone, v))
        expect.append(ref)

    missing, nzones = real_zones(tzdir, rng, add)
    nreal = len(queries)
    bad = check(probe, tzdir, queries, expect, counts, shown)

    queries, expect = [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "Synth"))
        synthetic(tmp, rng, add)
        bad += check(probe, tmp, queries, expect, counts, shown)

    for zone in missing:
        print("MISSING zone %s (not a readable TZif file in %s)" % (zone, tzdir))
    print("tz_property: %d comparisons (%d offset, %d to_wall, %d from_wall): "
          "%d on the %d readable zones of %s, %d on 60 synthetic zones; "
          "%d mismatches, %d missing zones, %.1fs"
          % (sum(counts.values()), counts["O"], counts["T"], counts["W"], nreal,
             nzones, tzdir,
             len(queries), bad, len(missing), time.monotonic() - began))
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main())

"""The test's clock, for the loopback peers of tests/lib.sh.

tests/lib.sh starts a peer with RIG_CLOCK="EPOCH UPTIME": the test's own clock
($EPOCHREALTIME of its shell, Unix seconds) and the kernel's /proc/uptime, read
together.  now() carries that clock on by the real time elapsed since (uptime
once, then time.monotonic()), so the times a peer logs compare with the test's
and, through them, with iopd's, whatever this process's own clock says: under
a test runner faked by libfaketime every new process may start at one fixed
date, and however long this one took to start does not matter either.  The
uptime's 10 ms steps bound the error.  Without RIG_CLOCK: time.time().
"""
import os
import time


def _clock():
    spec = os.environ.get("RIG_CLOCK", "").split()
    if len(spec) != 2:
        return time.time
    try:
        epoch, up0 = float(spec[0]), float(spec[1])
        with open("/proc/uptime", encoding="ascii") as f:
            up = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return time.time
    base = epoch + (up - up0) - time.monotonic()
    return lambda: base + time.monotonic()


now = _clock()

#!/usr/bin/env python3
"""Fake systemd notify socket for iopd tests (stdlib only, any python3).

Binds an AF_UNIX SOCK_DGRAM socket (a path, or @name for the abstract namespace)
and writes ONE JSON line per datagram (datagram boundaries are kept):
  {"t": epoch, "pid": sender pid (SCM_CREDENTIALS), "uid": ..., "fields": ["READY=1", ...]}
("t": the test's clock, RIG_CLOCK, tests/rig/testclock.py)
"fields" is the datagram split at newlines (empty trailing entries dropped).
Exits after --max datagrams, after --timeout seconds, or on SIGTERM (all exit 0).

usage: notify_listen.py SOCKET [--max N] [--timeout S] [--out FILE] [--ready-file F]
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import time

from testclock import now as clock_now


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("socket", help="filesystem path or @abstract-name")
    p.add_argument("--max", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--out", help="append JSON lines here (default stdout)")
    p.add_argument("--ready-file", help="created once the socket is bound")
    a = p.parse_args()

    out = open(a.out, "a", encoding="utf-8") if a.out else sys.stdout
    abstract = a.socket.startswith("@")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        s.bind("\0" + a.socket[1:])
    else:
        if os.path.exists(a.socket):
            os.unlink(a.socket)
        s.bind(a.socket)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write(a.socket + "\n")
        os.rename(a.ready_file + ".tmp", a.ready_file)
    deadline = time.monotonic() + a.timeout
    n = 0
    while n < a.max and not stop:                           # bounded by --timeout
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(min(left, 0.2))
        try:
            data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        pid = uid = None
        for lvl, typ, d in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("3i", d[:12])
        n += 1
        fields = [f for f in data.decode("utf-8", "replace").split("\n") if f]
        out.write(json.dumps({"t": round(clock_now(), 3), "pid": pid, "uid": uid,
                              "fields": fields}) + "\n")
        out.flush()
    s.close()
    if not abstract:
        try:
            os.unlink(a.socket)
        except OSError:
            pass


if __name__ == "__main__":
    main()

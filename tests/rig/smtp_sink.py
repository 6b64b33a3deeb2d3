#!/usr/bin/python3
"""Loopback SMTP sink for iopd integration tests.

Needs Debian's python3-aiosmtpd: run it with /usr/bin/python3 ($SYSPY in
tests/lib.sh); another python3 on PATH may not see the module.

Each accepted message -> one file in <maildir>/new and one JSON line in --log:
  {"t", "key", "mail_from", "rcpt_tos", "tls", "auth_user", "peer", "data"}
Optional --events FILE: one JSON line per SMTP outcome, also rejections
  {"t", "stage": "mail"|"rcpt"|"data"|"auth", "reply", "arg"} (to count retries).

Fault injection by recipient local part (case-insensitive prefix):
  rcpt550-...   550 5.1.1 at RCPT          rcpt451-...   451 4.3.0 at RCPT
  data554-...   554 5.6.0 after DATA       data451-...   451 4.3.0 after DATA
  slow<N>-...   wait N s (<= 60) before answering DATA (message still stored)
Options: --tls CERT KEY   STARTTLS, required unless --tls-optional
         --smtps CERT KEY implicit TLS (smtps://)
         --auth USER:PASS AUTH PLAIN/LOGIN, required before MAIL (over TLS unless
                          --auth-plaintext)
         --port 0         kernel picks; --ready-file F gets the port once listening
SIGTERM/SIGINT: clean exit 0.
"t" is the test's clock (RIG_CLOCK, tests/rig/testclock.py).
"""
import argparse
import asyncio
import json
import logging
import mailbox
import os
import re
import signal
import ssl
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from testclock import now as clock_now

logging.getLogger("mail.log").setLevel(logging.ERROR)   # "login_data is deprecated"


class Handler:
    def __init__(self, maildir, log, events, need_auth):
        self.box = mailbox.Maildir(maildir, create=True)
        self.log = log
        self.events = events
        self.need_auth = need_auth

    def event(self, stage, reply, arg=None):
        if self.events:
            with open(self.events, "a", encoding="utf-8") as f:
                f.write(json.dumps({"t": clock_now(), "stage": stage, "reply": reply,
                                    "arg": arg}) + "\n")
        return reply

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.need_auth and not session.authenticated:
            return self.event("mail", "530 5.7.0 Authentication required", address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return self.event("mail", "250 OK", address)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("rcpt550"):
            return self.event("rcpt", "550 5.1.1 mailbox unavailable", address)
        if local.startswith("rcpt451"):
            return self.event("rcpt", "451 4.3.0 try again later", address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return self.event("rcpt", "250 OK", address)

    async def handle_DATA(self, server, session, envelope):
        locs = [r.split("@", 1)[0].lower() for r in envelope.rcpt_tos]
        for loc in locs:
            m = re.match(r"slow(\d+)", loc)
            if m:
                await asyncio.sleep(min(int(m.group(1)), 60))
        if any(loc.startswith("data554") for loc in locs):
            return self.event("data", "554 5.6.0 rejected", envelope.rcpt_tos)
        if any(loc.startswith("data451") for loc in locs):
            return self.event("data", "451 4.3.0 temp failure", envelope.rcpt_tos)
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode()
        key = self.box.add(data)
        auth = session.auth_data
        rec = {"t": clock_now(), "key": key, "mail_from": envelope.mail_from,
               "rcpt_tos": envelope.rcpt_tos,
               "tls": bool(session.ssl) or server.transport.get_extra_info("ssl_object") is not None,
               "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
               "peer": list(session.peer) if session.peer else None,
               "data": data.decode("utf-8", "replace")}
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return self.event("data", "250 OK queued as %s" % key, envelope.rcpt_tos)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--maildir", default="maildir")
    p.add_argument("--log", default="smtp.jsonl")
    p.add_argument("--events")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--tls-optional", action="store_true")
    p.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--auth-plaintext", action="store_true")
    p.add_argument("--ready-file")
    a = p.parse_args()

    handler = Handler(a.maildir, a.log, a.events, bool(a.auth))
    kw = {"hostname": "localhost"}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*a.tls)
        kw.update(tls_context=ctx, require_starttls=not a.tls_optional)
    server_ssl = None
    if a.smtps:
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ssl.load_cert_chain(*a.smtps)
    if a.auth:
        user, pw = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword) and data.login.decode() == user
                  and data.password.decode() == pw)
            handler.event("auth", "235" if ok else "535", mechanism)
            return AuthResult(success=ok, handled=False, auth_data=data)
        # aiosmtpd 1.4.3 counts only STARTTLS as TLS: implicit TLS must turn the
        # check off, or AUTH is never advertised.
        kw.update(authenticator=authenticator,
                  auth_require_tls=not (a.auth_plaintext or a.smtps))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, loop=loop, **kw), host=a.bind, port=a.port, ssl=server_ssl,
        reuse_address=True))
    port = srv.sockets[0].getsockname()[1]
    done = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: done.done() or done.set_result(True))
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(a.ready_file + ".tmp", a.ready_file)
    print("smtp sink on %s:%d" % (a.bind, port), flush=True)
    loop.run_until_complete(done)
    srv.close()


if __name__ == "__main__":
    main()

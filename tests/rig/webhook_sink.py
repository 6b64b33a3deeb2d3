#!/usr/bin/env python3
"""Loopback HTTP(S) sink for iopd integration tests (stdlib only, any python3).

Every request (except /__control) is appended as ONE JSON line to --log, written
before the reply is sent:
  {"t", "method", "path", "query", "headers", "body", "form", "auth_user",
   "idempotency_key", "reply", "twilio"?}
  form            parsed application/x-www-form-urlencoded body (last value wins,
                  repeated keys become lists), else null
  idempotency_key value of Idempotency-Key or I-Twilio-Idempotency-Token, or null
  reply           HTTP status that was sent

Behaviour, in order of precedence:
  1. path segments /status/<code>/ and /delay/<secs>/ anywhere in the path
     (/delay/2/status/503/hook -> 503 after 2 s)
  2. queued control rules (FIFO, first rule whose optional path prefix matches):
       POST /__control?status=503&times=2&delay=0&retry_after=5&body=...
                       [&path=/prefix][&ctype=application/json][&twilio_error=21610]
       GET|POST /__control/reset   clear rules and the request counter
       GET /__control/count        number of requests logged so far
  3. --status / --delay defaults (200, 0)

Twilio Messages API shape (POST /2010-04-01/Accounts/{Sid}/Messages.json, form
fields To, From|MessagingServiceSid, Body, [ValidityPeriod, StatusCallback, ...]):
  * HTTP basic auth checked against --twilio-auth SID:TOKEN -> 401 / code 20003
  * success: 201 + Message resource JSON (sid "SM" + 32 hex, status "queued")
  * faults by the To number (Twilio's magic test numbers also work):
      ...21610 or +15005550004 -> 400 21610  unsubscribed recipient
      ...21211 or +15005550001 -> 400 21211  invalid 'To' number
      ...21614 or +15005550009 -> 400 21614  not a mobile number
      ...21612 or +15005550002 -> 400 21612  not reachable via SMS
      ...21408 or +15005550003 -> 400 21408  region not enabled
      ...20429                  -> 429 20429  with Retry-After (default 1)
      ...00500 / ...00503       -> 500 / 503
    or by a control rule: twilio_error=CODE, or status=N (Twilio-style error JSON).
"t" is the test's clock (RIG_CLOCK, tests/rig/testclock.py).
Options: --tls CERT KEY serves HTTPS. --ready-file F gets the bound port (written
atomically once listening; use --port 0 to let the kernel pick). SIGTERM: clean exit 0.
"""
import argparse
import base64
import json
import os
import re
import secrets
import signal
import ssl
import sys
import threading
import time

from testclock import now as clock_now
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
RULES = []          # dicts: status, delay, times, retry_after, body, ctype, path, twilio_error
COUNT = [0]
ARGS = None
TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
MAX_DELAY = 120.0

TWILIO_ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21408: (400, "Permission to send an SMS has not been enabled for the region "
                 "indicated by the 'To' number: {to}."),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (400, "The 'To' phone number: {to}, is not currently reachable using "
                 "the 'From' phone number: {frm} via SMS."),
    21614: (400, "'To' number {to} is not a valid mobile number"),
}
MAGIC_TO = {"+15005550001": 21211, "+15005550002": 21612, "+15005550003": 21408,
            "+15005550004": 21610, "+15005550009": 21614}
SUFFIX_TO = {"21610": 21610, "21211": 21211, "21614": 21614, "21612": 21612,
             "21408": 21408, "20429": 20429, "00500": 20500, "00503": 20503}
STATUS_TO_CODE = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


def take_rule(path):
    """Pop one use of the first queued rule matching path, or None."""
    with LOCK:
        for r in list(RULES):
            if r["times"] <= 0:
                RULES.remove(r)
                continue
            if r["path"] and not path.startswith(r["path"]):
                continue
            r["times"] -= 1
            if r["times"] <= 0:
                RULES.remove(r)
            return dict(r)
    return None


def rfc2822(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def twilio_error(code, to="", frm=""):
    status, msg = TWILIO_ERRORS.get(code, (400, "Error %d" % code))
    return status, {"code": code, "message": msg.format(to=to, frm=frm),
                    "more_info": "https://www.twilio.com/docs/errors/%d" % code,
                    "status": status}


def flatten(qs):
    return {k: (v[0] if len(v) == 1 else v) for k, v in qs.items()}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "webhook-sink/2"

    timeout = 60                               # idle keep-alive connections

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()     # in this thread, bounded by timeout

    def log_message(self, fmt, *a):
        if ARGS.verbose:
            sys.stderr.write("%s\n" % (fmt % a))

    def _send(self, code, body=b"", ctype="text/plain; charset=utf-8", extra=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = b""
            while True:                        # ends with the 0-chunk or at EOF
                line = self.rfile.readline(1024)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline(1024)
            return body
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _control(self, u):
        q = flatten(parse_qs(u.query, keep_blank_values=True))
        if u.path.rstrip("/").endswith("/reset"):
            with LOCK:
                RULES.clear()
                COUNT[0] = 0
            return self._send(200, "reset\n")
        if u.path.rstrip("/").endswith("/count"):
            return self._send(200, "%d\n" % COUNT[0])
        try:
            rule = {"status": int(q["status"]) if "status" in q else None,
                    "delay": min(float(q.get("delay", 0)), MAX_DELAY),
                    "times": int(q.get("times", 1)),
                    "retry_after": q.get("retry_after"),
                    "body": q.get("body"),
                    "ctype": q.get("ctype"),
                    "path": q.get("path"),
                    "twilio_error": int(q["twilio_error"]) if "twilio_error" in q else None}
        except ValueError as e:
            return self._send(400, "bad control rule: %s\n" % e)
        with LOCK:
            RULES.append(rule)
        return self._send(200, "queued\n")

    def _auth(self):
        h = self.headers.get("Authorization") or ""
        if not h.lower().startswith("basic "):
            return None, None
        try:
            user, _, pw = base64.b64decode(h[6:].strip()).decode().partition(":")
            return user, pw
        except Exception:
            return None, None

    def _twilio(self, account, form, rule, user, pw):
        """Return (status, json_obj, extra_headers, info) for a Messages.json POST."""
        to = form.get("To") or ""
        frm = form.get("From") or ""
        info = {"account_sid": account, "auth_ok": True, "sid": None, "error_code": None}
        code = None
        if ARGS.twilio_auth:
            sid, _, token = ARGS.twilio_auth.partition(":")
            if (user, pw) != (sid, token):
                info["auth_ok"] = False
                code = 20003
            elif account != sid:
                code = 20404
        if code is None and rule and rule["twilio_error"]:
            code = rule["twilio_error"]
        if code is None and rule and rule["status"] and rule["status"] >= 400:
            code = STATUS_TO_CODE.get(rule["status"], rule["status"])
        if code is None:
            if not to:
                code = 21604
            elif not frm and not form.get("MessagingServiceSid"):
                code = 21603
            elif not form.get("Body") and not form.get("MediaUrl"):
                code = 21602
            else:
                digits = re.sub(r"\D", "", to)
                code = MAGIC_TO.get(to) or SUFFIX_TO.get(digits[-5:])
        extra = []
        if code is not None:
            status, obj = twilio_error(code, to, frm)
            if code not in TWILIO_ERRORS and rule and rule["status"]:
                status = obj["status"] = rule["status"]
            if code == 20003:
                extra.append(("WWW-Authenticate", 'Basic realm="Twilio API"'))
            if status == 429 or (rule and rule["retry_after"]):
                extra.append(("Retry-After", str((rule and rule["retry_after"]) or 1)))
            info["error_code"] = code
            return status, obj, extra, info
        now = clock_now()
        msid = "SM" + secrets.token_hex(16)
        base = "/2010-04-01/Accounts/%s/Messages/%s" % (account, msid)
        body = form.get("Body") or ""
        obj = {"account_sid": account, "api_version": "2010-04-01", "body": body,
               "date_created": rfc2822(now), "date_sent": None, "date_updated": rfc2822(now),
               "direction": "outbound-api", "error_code": None, "error_message": None,
               "from": frm or None, "messaging_service_sid": form.get("MessagingServiceSid"),
               "num_media": "0", "num_segments": str(1 if len(body) <= 160 else -(-len(body) // 153)),
               "price": None, "price_unit": "USD", "sid": msid,
               "status": "queued" if frm else "accepted",
               "subresource_uris": {"media": base + "/Media.json"},
               "to": to, "uri": base + ".json"}
        info["sid"] = msid
        status = 201
        if rule and rule["status"]:
            status = rule["status"]
        return status, obj, extra, info

    def _handle(self):
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        u = urlsplit(self.path)
        if u.path.startswith("/__control"):
            return self._control(u)

        rule = take_rule(u.path)
        status = ARGS.status
        delay = ARGS.delay
        if rule:
            status = rule["status"] or status
            delay = rule["delay"] or delay
        for m in re.finditer(r"/(status|delay)/([0-9.]+)(?=/|$)", u.path):
            if m.group(1) == "status":
                status = int(float(m.group(2)))
            else:
                delay = min(float(m.group(2)), MAX_DELAY)
        ctype_in = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        text = body.decode("utf-8", "replace")
        form = None
        if ctype_in == "application/x-www-form-urlencoded":
            form = flatten(parse_qs(text, keep_blank_values=True))
        user, pw = self._auth()
        rec = {"t": clock_now(), "method": self.command, "path": u.path, "query": u.query,
               "headers": dict(self.headers.items()), "body": text, "form": form,
               "auth_user": user,
               "idempotency_key": (self.headers.get("Idempotency-Key")
                                   or self.headers.get("I-Twilio-Idempotency-Token")),
               "tls": isinstance(self.connection, ssl.SSLSocket)}

        extra = []
        ctype = "text/plain; charset=utf-8"
        tm = TWILIO_PATH.match(u.path)
        if tm and self.command == "POST":
            status, obj, extra, info = self._twilio(tm.group(1), form or {}, rule, user, pw)
            rec["twilio"] = info
            reply = json.dumps(obj)
            ctype = "application/json; charset=utf-8"
            if rule and rule["body"] is not None:
                reply = rule["body"]
        else:
            reply = "status %d\n" % status
            if rule and rule["body"] is not None:
                reply = rule["body"]
                ctype = "application/json" if reply.lstrip().startswith(("{", "[")) else ctype
            if rule and rule["retry_after"]:
                extra.append(("Retry-After", str(rule["retry_after"])))
        if rule and rule["ctype"]:
            ctype = rule["ctype"]
        rec["reply"] = status
        with LOCK:
            COUNT[0] += 1
            with open(ARGS.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        if delay > 0:
            time.sleep(delay)
        try:
            self._send(status, reply, ctype, extra)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if ARGS.verbose:
            super().handle_error(request, client_address)


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0, help="0 = kernel picks (see --ready-file)")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--log", default="webhook.jsonl")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--twilio-auth", metavar="SID:TOKEN")
    p.add_argument("--ready-file", help="gets the port number once listening")
    p.add_argument("--verbose", action="store_true")
    ARGS = p.parse_args()
    srv = Server((ARGS.bind, ARGS.port), H)
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*ARGS.tls)
        # handshake lazily in the handler thread, not in accept()
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    port = srv.server_address[1]

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if ARGS.ready_file:
        tmp = ARGS.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, ARGS.ready_file)
    print("webhook sink on %s://%s:%d" % ("https" if ARGS.tls else "http", ARGS.bind, port),
          flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Posts a callback to iopd the way Twilio does, signed with the auth token
(stdlib only).  Prints "STATUS BODY" on one line.

  twilio_post.py --listen http://127.0.0.1:PORT --public https://iopd.example.org \
      --token TOKEN --path '/sms/sms/status?id=0123456789abcdef' \
      MessageSid=SM1 MessageStatus=delivered [--sign-with OTHER] [--no-signature]
      [--signed-path PATH] [--repeat N] [--ctype]

The signature is base64(HMAC-SHA1(token, public URL + path + each POST
parameter's name and value, sorted by name)): X-Twilio-Signature.  The
request goes to the listen URL + path (a TLS proxy would sit in between).
--signed-path signs for another path than the one posted to (a signature
replayed elsewhere); --ctype prints "STATUS CONTENT-TYPE BODY".
--repeat posts the same request N times (a gateway's retries).
"""
import argparse
import base64
import hashlib
import hmac
import sys
import urllib.error
import urllib.parse
import urllib.request


def signature(token, url, params):
    text = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--public", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--sign-with")
    p.add_argument("--no-signature", action="store_true")
    p.add_argument("--signed-path")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--ctype", action="store_true")
    p.add_argument("params", nargs="*")
    a = p.parse_args()
    params = [tuple(x.split("=", 1)) for x in a.params]
    body = urllib.parse.urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "User-Agent": "TwilioProxy/1.1"}
    if not a.no_signature:
        headers["X-Twilio-Signature"] = signature(a.sign_with or a.token,
                                                  a.public + (a.signed_path or a.path), params)
    for _ in range(a.repeat):
        req = urllib.request.Request(a.listen + a.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                out = [str(r.status), r.headers.get("Content-Type", "")] if a.ctype else [str(r.status)]
                print(*out, r.read().decode(errors="replace").strip())
        except urllib.error.HTTPError as e:
            print(e.code, e.read().decode(errors="replace").strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())

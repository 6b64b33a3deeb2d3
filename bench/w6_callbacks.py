#!/usr/bin/python3
"""W6: the status callbacks wrk posts, signed as Twilio signs them (stdlib only).

  w6_callbacks.py AGENDA.jsonl PUBLIC_URL TOKEN_FILE OUT

For every reminder of the agenda on channel "sms": one line
PATH<TAB>FORM BODY<TAB>X-Twilio-Signature, PATH = /sms/sms/status?id=ID (the
StatusCallback iopd set), the body MessageSid=SM...&MessageStatus=delivered.
The first line comes twice: wrk takes one request from a dynamic script before
it sends any, and never sends it (iopd counts the repeat once anyway).  Prints
the number of callbacks.
"""
import base64
import hashlib
import hmac
import json
import sys
import urllib.parse


def main():
    agenda, public, token_file, out = sys.argv[1:5]
    token = open(token_file).read().rstrip("\n").encode()
    n = 0
    with open(agenda) as f, open(out, "w") as o:
        for line in f:
            r = json.loads(line)
            if r["channel"] != "sms":
                continue
            path = "/sms/sms/status?id=" + r["id"]
            params = [("MessageSid", "SM" + r["id"] * 2), ("MessageStatus", "delivered")]
            text = public + path + "".join(k + v for k, v in sorted(params))
            sig = base64.b64encode(hmac.new(token, text.encode(), hashlib.sha1).digest()).decode()
            line = "%s\t%s\t%s\n" % (path, urllib.parse.urlencode(params), sig)
            o.write(line if n else line + line)
            n += 1
    print(n)


if __name__ == "__main__":
    main()

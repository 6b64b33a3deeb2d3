r"""Minimal libconfig reader for the syntax subset iopd configurations use.

Independent of iopd's C code (written from the libconfig manual): settings
`name = value;` / `name : value;` (terminator `;` or `,`, optional), groups
{ }, lists ( ), arrays [ ], strings with escapes (\\ \" \n \r \t \f \xNN)
and adjacent-string concatenation, integers (decimal, 0x hex, 0b binary,
0o octal, L/LL suffix), floats, booleans (true/false, any case), comments
(# // /* */) and `@include "file"` (resolved relative to the folder of the
main file, as iopd does).

parse_file(path) -> dict (groups are dicts in file order, lists and arrays
are Python lists).  Errors raise ConfigError("file:line: message").
"""
import os
import re

__all__ = ["ConfigError", "parse_file", "parse_string"]


class ConfigError(Exception):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<include>@include[ \t]+"(?:[^"\\\n]|\\.)*")
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<float>[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+)
  | (?P<hex>0[xX][0-9A-Fa-f]+(?:LL|L)?)
  | (?P<bin>0[bB][01]+(?:LL|L)?)
  | (?P<oct>0[oOqQ][0-7]+(?:LL|L)?)
  | (?P<int>[-+]?[0-9]+(?:LL|L)?)
  | (?P<bool>(?i:true|false)(?![A-Za-z0-9_*-]))
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}()\[\]])
""", re.VERBOSE | re.DOTALL)

_ESC = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "f": "\f", "a": "\a", "b": "\b", "v": "\v"}


def _unescape(body, where):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in _ESC:
            out.append(_ESC[n])
            i += 2
        elif n == "x" and re.match(r"[0-9A-Fa-f]{2}", body[i + 2:i + 4]):
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        else:
            raise ConfigError("%s: bad escape \\%s" % (where, n))
    # \xNN escapes are bytes in libconfig; re-decode runs of them as UTF-8
    s = "".join(out)
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def _tokenize(text, fname, basedir, depth=0):
    """Yield (kind, value, file, line); @include is expanded in place."""
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ConfigError("%s:%d: syntax error near %r" % (fname, line, text[pos:pos + 10]))
        kind, val = m.lastgroup, m.group()
        where = "%s:%d" % (fname, line)
        if kind == "include":
            inc = _unescape(val[val.index('"') + 1:-1], where)
            path = inc if os.path.isabs(inc) else os.path.join(basedir, inc)
            if depth > 10:
                raise ConfigError("%s: @include nested too deep" % where)
            try:
                with open(path, encoding="utf-8") as f:
                    sub = f.read()
            except OSError as e:
                raise ConfigError("%s: cannot include %s: %s" % (where, inc, e))
            yield from _tokenize(sub, path, basedir, depth + 1)
        elif kind not in ("ws", "comment"):
            yield kind, val, fname, line
        line += val.count("\n")
        pos = m.end()
    if depth == 0:
        yield "eof", "", fname, line


class _Parser:
    def __init__(self, tokens):
        self.toks = list(tokens)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, msg):
        _, val, f, ln = self.peek()
        raise ConfigError("%s:%d: %s (at %r)" % (f, ln, msg, val))

    def expect(self, punct):
        if self.peek()[:2] != ("punct", punct):
            self.error("expected %r" % punct)
        self.take()

    def settings(self, end):
        group = {}
        while not (self.peek()[0] == end or self.peek()[:2] == ("punct", end)):
            kind, name, _, _ = self.take()
            if kind != "name":
                self.i -= 1
                self.error("expected a setting name")
            if self.peek()[:2] not in (("punct", "="), ("punct", ":")):
                self.error("expected '=' or ':'")
            self.take()
            if name in group:
                self.error("duplicate setting %r" % name)
            group[name] = self.value()
            if self.peek()[:2] in (("punct", ";"), ("punct", ",")):
                self.take()
        return group

    def value(self):
        kind, val, f, ln = self.take()
        where = "%s:%d" % (f, ln)
        if kind == "string":
            s = _unescape(val[1:-1], where)
            while self.peek()[0] == "string":
                _, v2, f2, l2 = self.take()
                s += _unescape(v2[1:-1], "%s:%d" % (f2, l2))
            return s
        if kind in ("int", "hex", "bin", "oct"):
            v = val.rstrip("L")
            base = {"int": 10, "hex": 16, "bin": 2, "oct": 8}[kind]
            if kind == "oct":
                v = "0o" + v[2:]
            return int(v, base if kind == "int" else 0)
        if kind == "float":
            return float(val)
        if kind == "bool":
            return val.lower() == "true"
        if (kind, val) == ("punct", "{"):
            g = self.settings("}")
            self.expect("}")
            return g
        if kind == "punct" and val in "([":
            close = ")" if val == "(" else "]"
            items = []
            while self.peek()[:2] != ("punct", close):
                items.append(self.value())
                if self.peek()[:2] == ("punct", ","):
                    self.take()
                elif self.peek()[:2] != ("punct", close):
                    self.error("expected ',' or %r" % close)
            self.take()
            return items
        self.i -= 1
        self.error("expected a value")


def parse_string(text, fname="<string>", basedir="."):
    p = _Parser(_tokenize(text, fname, basedir))
    root = p.settings("eof")
    if p.peek()[0] != "eof":
        p.error("unexpected token")
    return root


def parse_file(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return parse_string(text, path, os.path.dirname(os.path.abspath(path)))


if __name__ == "__main__":
    import json
    import sys
    print(json.dumps(parse_file(sys.argv[1]), indent=2))

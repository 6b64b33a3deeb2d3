#!/bin/sh
# usage: mkcert.sh DIR
# Makes two unrelated self-signed (CA-less) certificates for localhost/127.0.0.1
# in DIR, both created under faketime at 2020-01-01 00:00:00 UTC and valid for
# 20 years, so they verify at any faked date from 2020 to 2039:
#   DIR/cert.pem  DIR/key.pem         the server cert; clients trust it with
#                                     --cacert DIR/cert.pem (curl) / CAINFO
#   DIR/other-cert.pem DIR/other-key.pem  a different cert with the same names:
#                                     serve it while the client trusts cert.pem
#                                     to get a verification failure (curl rc 60)
# Existing files are kept (cheap to call from every test). Exit 77 if openssl or
# faketime is missing (automake SKIP).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
D=$1
command -v openssl >/dev/null 2>&1 || { echo "mkcert.sh: openssl not found" >&2; exit 77; }
# libfaketime itself, not the faketime(1) wrapper: the wrapper names a
# semaphore after its pid and fails ("sem_open: File exists") when a killed
# predecessor with a recycled pid left one behind.
LIB=
for f in ${FAKETIME_LIB:-} /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 \
         /usr/lib64/faketime/libfaketime.so.1 /usr/local/lib/faketime/libfaketime.so.1; do
  [ -f "$f" ] && { LIB=$f; break; }
done
[ -n "$LIB" ] || { echo "mkcert.sh: libfaketime not found" >&2; exit 77; }
mkdir -p "$D"

mk() { # CERT KEY CN
  [ -s "$1" ] && [ -s "$2" ] && return 0
  TZ=UTC LD_PRELOAD=$LIB FAKETIME='@2020-01-01 00:00:00' openssl req -x509 -nodes \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$2.tmp" -out "$1.tmp" -days 7305 -subj "/CN=$3" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
  chmod 600 "$2.tmp"
  mv "$2.tmp" "$2"
  mv "$1.tmp" "$1"
}
mk "$D/cert.pem" "$D/key.pem" localhost
mk "$D/other-cert.pem" "$D/other-key.pem" localhost

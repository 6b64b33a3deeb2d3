#!/bin/sh
# setup.sh - runs in the test container before iopd.service (see
# iopd-test-setup.service).  The configuration staged in /srv/iopd-test
# holds @AT@ and @BEFORE@: an appointment at the next whole minute but one,
# and a reminder `before` it that falls due DUE_IN seconds from now.
set -eu
S=/srv/iopd-test
DUE_IN=$(cat "$S/due_in")
now=$(date -u +%s)
due=$((now + DUE_IN))
event=$(( (due + 60 + 59) / 60 * 60 ))
at=$(date -u -d "@$event" '+%Y-%m-%d %H:%M')
before="$((event - due))s"
day=$(date -u +%Y-%m-%d)
sed -e "s/@AT@/$at/g" -e "s/@BEFORE@/$before/g" -e "s/@DAY@/$day/g" "$S/iopd.conf.in" >/tmp/iopd.conf
# as an admin installs it: readable by the service's group, not by others
install -d -o root -g iopd -m 0750 /etc/iopd
install -o root -g iopd -m 0640 /tmp/iopd.conf /etc/iopd/iopd.conf
rm -f /tmp/iopd.conf
echo "$due" >/out/due
stat -c 'config: %U:%G %a' /etc/iopd/iopd.conf >/out/setup.txt
stat -c 'etc/iopd: %U:%G %a' /etc/iopd >>/out/setup.txt
getent passwd iopd >>/out/setup.txt

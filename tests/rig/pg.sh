#!/bin/sh
# A private PostgreSQL cluster for iopd tests and benchmarks.
#
# usage: pg.sh init DIR PORT [SETTING=VALUE...]   initdb in DIR/data, then start
#        pg.sh standby DIR PRIMARY_DIR PORT       a streaming replica of PRIMARY_DIR
#                                                 (pg_basebackup -R): a hot standby,
#                                                 read-only until promoted
#        pg.sh promote DIR                        the standby becomes a primary
#        pg.sh start DIR                          start it again (after stop)
#        pg.sh stop DIR [fast|immediate]          stop (immediate: the crash case)
#        pg.sh psql DIR [psql args...]            psql as the superuser, database iopd
#        pg.sh env DIR                            print the PG_* lines again
#
# The server runs as an unprivileged user (initdb refuses root): `postgres`
# when this runs as root, the current user otherwise; DIR is made that user's.
# It listens on a Unix socket in DIR and on 127.0.0.1:PORT.  Authentication:
# trust on the socket, scram-sha-256 over TCP (role iopd, password in
# DIR/password, mode 0600 and owned by the caller, as iopd's token_file wants).
# SETTING=VALUE pairs go to postgresql.conf (e.g. fsync=off for speed, or
# default_transaction_read_only=on for a read-only "standby").
#
# init and start print KEY=VALUE lines (also in DIR/env, sourceable):
#   PG_DIR PG_PORT PG_SOCKET PG_USER PG_DB PG_PASSWORD_FILE PG_TCP (conninfo over
#   TCP, no password in it) PG_LOCAL (conninfo over the socket) PG_BIN
#
# Exit: 0 ok, 1 failed, 2 usage, 3 the port was busy, 77 the server binaries
#       are missing (apt-get install postgresql).  PG_BINDIR overrides the
#       search (/usr/lib/postgresql/*/bin, then PATH).
set -eu

STEP=0.1
TRIES=300                       # polls per wait -> about 30 s

usage() { sed -n '2,8p' "$0" >&2; exit 2; }

find_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return 0; fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
	done
	d=$(command -v initdb 2>/dev/null) && { dirname "$d"; return 0; }
	return 1
}

# Runs a command as the cluster's owner.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$OWNER" -- "$@"
	else
		"$@"
	fi
}

load_env() {
	[ -f "$D/env" ] || { echo "pg.sh: $D holds no cluster (run pg.sh init)" >&2; exit 1; }
	# shellcheck disable=SC1091
	. "$D/env"
}

write_env() {
	cat >"$D/env" <<EOF
PG_DIR='$D'
PG_PORT=$PORT
PG_SOCKET='$D'
PG_USER=iopd
PG_DB=iopd
PG_PASSWORD_FILE='$D/password'
PG_TCP='host=127.0.0.1 port=$PORT user=iopd dbname=iopd'
PG_LOCAL='host=$D port=$PORT user=iopd dbname=iopd'
PG_BIN='$BIN'
PG_OWNER='$OWNER'
EOF
	cat "$D/env"
}

server_up() {
	"$BIN/pg_isready" -q -h "$D" -p "$PORT" -U iopd -d postgres >/dev/null 2>&1
}

do_start() {
	if ! as_owner "$BIN/pg_ctl" -D "$D/data" -l "$D/log" -w -t 60 start >/dev/null; then
		grep -qi 'address already in use\|could not bind' "$D/log" 2>/dev/null && exit 3
		echo "pg.sh: the server did not start:" >&2
		tail -n 20 "$D/log" >&2
		exit 1
	fi
	i=0
	until server_up; do
		i=$((i + 1)); [ $i -le $TRIES ] || { echo "pg.sh: no answer on $D" >&2; exit 1; }
		sleep $STEP
	done
}

do_init() {
	case $PORT in ''|*[!0-9]*) usage ;; esac
	mkdir -p "$D"
	chmod 755 "$D"
	[ "$(id -u)" -eq 0 ] && chown "$OWNER" "$D"
	as_owner test -x "$D" ||
		{ echo "pg.sh: user $OWNER cannot reach $D (a parent folder is closed to it)" >&2; exit 1; }
	# a password the test can give iopd through token_file
	head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$D/password"
	chmod 600 "$D/password"
	cp "$D/password" "$D/.pwfile"
	[ "$(id -u)" -eq 0 ] && chown "$OWNER" "$D/.pwfile"
	# -N: no fsync during initdb itself; the server's own fsync stays as set below
	if ! as_owner "$BIN/initdb" -D "$D/data" -U iopd --pwfile="$D/.pwfile" -E UTF8 --locale=C \
	    --auth-local=trust --auth-host=scram-sha-256 -N >"$D/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		tail -n 20 "$D/initdb.log" >&2
		exit 1
	fi
	rm -f "$D/.pwfile"
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $PORT"
		echo "unix_socket_directories = '$D'"
		echo "max_connections = 40"
		echo "shared_buffers = 64MB"
		echo "log_min_messages = warning"
		echo "log_line_prefix = '%m [%p] %a '"
	} | as_owner sh -c "cat >>'$D/data/postgresql.conf'"
	do_start
	"$BIN/psql" -X -q -h "$D" -p "$PORT" -U iopd -d postgres -c "CREATE DATABASE iopd" >/dev/null
	# the caller's settings once the database exists (one may be
	# default_transaction_read_only), then a restart to apply them all
	if [ $# -gt 0 ]; then
		for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done |
			as_owner sh -c "cat >>'$D/data/postgresql.conf'"
		as_owner "$BIN/pg_ctl" -D "$D/data" -l "$D/log" -w -t 60 restart >/dev/null ||
			{ echo "pg.sh: restart with the settings failed:" >&2; tail -n 20 "$D/log" >&2; exit 1; }
	fi
	write_env
}

# A replica of a running primary: its data through pg_basebackup over the
# primary's socket (initdb's pg_hba trusts local replication), then its
# own port and socket.
do_standby() {
	prim=$1
	case $PORT in ''|*[!0-9]*) usage ;; esac
	# shellcheck disable=SC1091
	PRIM_PORT=$(. "$prim/env" && echo "$PG_PORT")
	mkdir -p "$D"
	chmod 755 "$D"
	[ "$(id -u)" -eq 0 ] && chown "$OWNER" "$D"
	cp "$prim/password" "$D/password"
	chmod 600 "$D/password"
	if ! as_owner "$BIN/pg_basebackup" -D "$D/data" -h "$prim" -p "$PRIM_PORT" -U iopd -R -X stream -c fast \
	    >"$D/basebackup.log" 2>&1; then
		echo "pg.sh: pg_basebackup failed:" >&2
		tail -n 20 "$D/basebackup.log" >&2
		exit 1
	fi
	{
		echo "port = $PORT"
		echo "unix_socket_directories = '$D'"
		echo "hot_standby = on"
	} | as_owner sh -c "cat >>'$D/data/postgresql.conf'"
	do_start
	write_env
}

do_promote() {
	as_owner "$BIN/pg_ctl" -D "$D/data" -w -t 30 promote >/dev/null ||
		{ echo "pg.sh: promote failed" >&2; exit 1; }
}

do_stop() {
	mode=${1:-fast}
	case $mode in fast|immediate|smart) ;; *) usage ;; esac
	[ -f "$D/data/postmaster.pid" ] || { echo "pg.sh: not running"; return 0; }
	as_owner "$BIN/pg_ctl" -D "$D/data" -m "$mode" -w -t 30 stop >/dev/null ||
		{ echo "pg.sh: stop failed" >&2; exit 1; }
}

[ $# -ge 2 ] || usage
CMD=$1
D=$2
shift 2
case $D in /*) ;; *) D=$(pwd)/$D ;; esac
# psql first: tests poll with it, and it needs only what init wrote
if [ "$CMD" = psql ]; then
	load_env
	exec "$PG_BIN/psql" -X -q -h "$D" -p "$PG_PORT" -U iopd -d iopd "$@"
fi
BIN=$(find_bindir) || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 77; }
OWNER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	OWNER=postgres
	id "$OWNER" >/dev/null 2>&1 || { echo "pg.sh: running as root and there is no user postgres to run the server" >&2; exit 77; }
fi
case $CMD in
init) [ $# -ge 1 ] || usage; PORT=$1; shift; do_init "$@" ;;
standby) [ $# -eq 2 ] || usage; PORT=$2; do_standby "$(cd "$1" && pwd)" ;;
promote) load_env; do_promote ;;
start) load_env; PORT=$PG_PORT; do_start; write_env ;;
stop) load_env; do_stop "${1:-fast}" ;;
env) load_env; PORT=$PG_PORT; write_env ;;
*) usage ;;
esac

#!/bin/sh
# quickstart.sh - from a fresh Debian 12 machine to a running iopd.
#
#   contrib/quickstart.sh demo    install what is missing, build, and run
#                                 iopd in the foreground on conf/demo.conf,
#                                 from a fresh state (contrib/demo.sh)
#   contrib/quickstart.sh test    install what is missing, build, and run the
#                                 whole test suite (unit, integration against
#                                 real peers, under valgrind, the same again
#                                 under ASan+UBSan, the fuzz targets)
#
# Packages are installed with apt-get (through sudo when not root).  The
# build happens in this source tree; the sanitizer build in build-san/.
set -eu
cd "$(dirname "$0")/.."

# locales-all is needed at run time too: it gives {day} and {time} their
# weekday and month names in the patients' languages.  libphonenumber-dev
# (C++: build-essential's g++) checks phone numbers; libicu-dev names their
# countries.
BUILD_PKGS="build-essential autoconf automake libtool pkg-config libev-dev
  libcurl4-openssl-dev libconfig-dev libsystemd-dev libsqlite3-dev libssl-dev
  libmicrohttpd-dev libcmocka-dev tzdata locales-all libphonenumber-dev libicu-dev libpq-dev
  libxxhash-dev"
TEST_PKGS="python3 curl openssl socat faketime libfaketime kannel kannel-extras
  python3-aiosmtpd clang libclang-rt-14-dev systemd systemd-container sqlite3
  valgrind postgresql"

install_missing() {
	missing=""
	for p in $*; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "quickstart: installing$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# kannel's and opensmtpd's post-install scripts may try to start their
	# services; that is harmless (tests start their own on other ports).
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing </dev/null
}

build() {
	[ -x configure ] || autoreconf -fi
	[ -f Makefile ] || ./configure --enable-werror "$@"
	make -j"$(nproc)"
}

case "${1:-}" in
demo)
	install_missing $BUILD_PKGS
	build
	exec contrib/demo.sh
	;;
test)
	install_missing $BUILD_PKGS $TEST_PKGS
	build
	exec tests/run-all.sh
	;;
*)
	echo "usage: $0 demo|test" >&2
	exit 2
	;;
esac

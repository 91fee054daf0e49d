#!/bin/bash
# make.sh - the bundles of the migration scenario, from real hosts.
#
# An application server is moved from a SysV Debian 11 host to a systemd
# Debian 12 host.  Three real hosts (tests/hostlab/hostlab.sh, kinds app11,
# app12full and app12gaps; see tests/hostlab/README.md) are built if needed,
# booted one after the other with their own init as PID 1, the collector is
# run in each as root with python3, and each is stopped again:
#
#   tests/scenarios/bundles/app11.tgz       the source
#   tests/scenarios/bundles/app12full.tgz   a target migrated completely
#   tests/scenarios/bundles/app12gaps.tgz   a target with deliberate gaps
#   tests/scenarios/bundles/app12gaps-labuser.tgz  the same, collected as labuser (not root)
#
# usage: tests/scenarios/make.sh [ROOTS_DIR [COLLECTOR.py]]
#   ROOTS_DIR     where the host roots live (default /var/tmp/migdiff-scenarios;
#                 mkroot is a no-op for a root that is already built)
#   COLLECTOR.py  default: snapshot/migsnap.py of this repository
#
# Needs root (like hostlab.sh).  It does not run migdiff.  On failure or ^C
# every host it booted is stopped again; bundles already written are kept,
# a bundle is replaced only once its host's collection has succeeded.
# Environment: passed on to hostlab.sh (HOSTLAB_CACHE, HOSTLAB_MIRROR,
# HOSTLAB_BOOT_TIMEOUT, ...); HOSTLAB_USER is ignored (collection is as root,
# and once as labuser for app12gaps).
set -eu
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
HOSTLAB=$REPO/tests/hostlab/hostlab.sh
KINDS="app11 app12full app12gaps"

case ${1:-} in -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
[ $# -le 2 ] || { echo "usage: $0 [ROOTS_DIR [COLLECTOR.py]]" >&2; exit 2; }
ROOTS=${1:-/var/tmp/migdiff-scenarios}
COLLECTOR=${2:-$REPO/snapshot/migsnap.py}
OUT=$HERE/bundles

[ "$(id -u)" = 0 ] || { echo "make.sh: must run as root" >&2; exit 1; }
[ -f "$COLLECTOR" ] || { echo "make.sh: no collector at $COLLECTOR" >&2; exit 1; }
COLLECTOR=$(realpath -- "$COLLECTOR")
unset HOSTLAB_USER
mkdir -p "$ROOTS" "$OUT"
ROOTS=$(realpath -- "$ROOTS")

BOOTED=""   # hosts booted by this run and not stopped yet
TMP=""
cleanup() {
	local rc=$? k
	trap - EXIT INT TERM
	for k in $BOOTED; do
		echo "make.sh: stopping $k after a failure" >&2
		"$HOSTLAB" stop "$ROOTS/$k" || true
	done
	[ -z "$TMP" ] || rm -rf -- "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/migdiff-scenarios.XXXXXX)

for k in $KINDS; do
	echo "make.sh: $k: mkroot" >&2
	"$HOSTLAB" mkroot "$k" "$ROOTS/$k"
done

for k in $KINDS; do
	root=$ROOTS/$k
	echo "make.sh: $k: boot" >&2
	"$HOSTLAB" boot "$root"
	BOOTED="$BOOTED $k"
	echo "make.sh: $k: collect" >&2
	mkdir "$TMP/$k"
	printed=$("$HOSTLAB" collect "$root" "$COLLECTOR" python3 "$TMP/$k")
	bundle=$(printf '%s\n' "$printed" | tail -n 1)
	[ -f "$bundle" ] || { echo "make.sh: $k: collect printed no bundle path" >&2; exit 1; }
	if [ "$k" = app12gaps ]; then
		# the same target collected by an ordinary user: sockets of other users' processes
		# have no process, which the verdict must call unknown, not absent
		echo "make.sh: $k: collect as labuser" >&2
		mkdir "$TMP/$k-labuser"
		printed=$(HOSTLAB_USER=labuser "$HOSTLAB" collect "$root" "$COLLECTOR" python3 "$TMP/$k-labuser")
		user_bundle=$(printf '%s\n' "$printed" | tail -n 1)
		[ -f "$user_bundle" ] || { echo "make.sh: $k: collect as labuser printed no bundle path" >&2; exit 1; }
		mv -f -- "$user_bundle" "$OUT/.$k-labuser.tgz.part"
		mv -f -- "$OUT/.$k-labuser.tgz.part" "$OUT/$k-labuser.tgz"
		echo "$OUT/$k-labuser.tgz"
	fi
	echo "make.sh: $k: stop" >&2
	"$HOSTLAB" stop "$root"
	BOOTED=${BOOTED% "$k"}
	mv -f -- "$bundle" "$OUT/.$k.tgz.part"
	mv -f -- "$OUT/.$k.tgz.part" "$OUT/$k.tgz"
	echo "$OUT/$k.tgz"
done

#!/bin/bash
# make.sh - the bundles of the migration scenario, from real hosts.
#
# An application server is moved from a SysV Debian 11 host to a systemd
# Debian 12 host.  Three real hosts (tests/hostlab/hostlab.sh, kinds app11,
# app12full and app12gaps; see tests/hostlab/README.md) are built if needed,
# booted one after the other with their own init as PID 1, the collector is
# run in each as root with python3, and each is stopped again:
#
#   OUT_DIR/app11.tgz       the source
#   OUT_DIR/app12full.tgz   a target migrated completely
#   OUT_DIR/app12gaps.tgz   a target with deliberate gaps
#   OUT_DIR/app12gaps-labuser.tgz  the same, collected as labuser (not root)
#
# A fourth host, peer12 ("db1", 10.99.0.2), is booted first and stays up
# while the three are collected: each host in turn is wired to it with a veth
# pair (eth1 on both sides; the host 10.99.0.1/24, db1 10.99.0.2/24), and the
# collection starts only once the host shows ESTABLISHED connections both
# ways: myapp -> 10.99.0.2:5433 (app11, app12full) and db1's web-client ->
# 10.99.0.1:80.  peer12 is not collected.  Before anything boots, app12full's
# root public key is written to app11's /root/.ssh/authorized_keys.
#
# usage: tests/scenarios/make.sh [ROOTS_DIR [COLLECTOR.py [OUT_DIR]]]
#   ROOTS_DIR     where the host roots live (default /var/tmp/migdiff-scenarios;
#                 mkroot is a no-op for a root that is already built)
#   COLLECTOR.py  default: snapshot/migsnap.py of this repository
#   OUT_DIR       where the bundles go (default: $MIGDIFF_SCENARIO_OUT, else
#                 tests/scenarios/bundles of this repository)
#
# Needs root (like hostlab.sh).  It does not run migdiff.  On failure or ^C
# every host it booted (peer12 included) is stopped again; bundles already
# written are kept, a bundle is replaced only once its host's collection has
# succeeded.  Running it again gives the same configuration.
# Environment: MIGDIFF_SCENARIO_OUT (see OUT_DIR), MIGDIFF_WIRE_TIMEOUT
# (seconds to wait for the connections, default 20); the rest is passed on to
# hostlab.sh (HOSTLAB_CACHE, HOSTLAB_MIRROR, HOSTLAB_BOOT_TIMEOUT, ...);
# HOSTLAB_USER is ignored (collection is as root, and once as labuser for
# app12gaps).
set -eu
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
HOSTLAB=$REPO/tests/hostlab/hostlab.sh
KINDS="app11 app12full app12gaps"   # collected, in this order
PEER=peer12                        # booted first, wired to each, not collected
DB_CLIENTS="app11 app12full"       # hosts whose myapp holds a connection to db1:5433
HOST_IP=10.99.0.1 PEER_IP=10.99.0.2 PREFIX=24 IFNAME=eth1
WIRE_TIMEOUT=${MIGDIFF_WIRE_TIMEOUT:-20}

case ${1:-} in -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
[ $# -le 3 ] || { echo "usage: $0 [ROOTS_DIR [COLLECTOR.py [OUT_DIR]]]" >&2; exit 2; }
ROOTS=${1:-/var/tmp/migdiff-scenarios}
COLLECTOR=${2:-$REPO/snapshot/migsnap.py}
OUT=${3:-${MIGDIFF_SCENARIO_OUT:-$HERE/bundles}}

[ "$(id -u)" = 0 ] || { echo "make.sh: must run as root" >&2; exit 1; }
command -v ip >/dev/null || { echo "make.sh: needs ip (iproute2) on this machine for the veth pairs" >&2; exit 1; }
[ -f "$COLLECTOR" ] || { echo "make.sh: no collector at $COLLECTOR" >&2; exit 1; }
COLLECTOR=$(realpath -- "$COLLECTOR")
unset HOSTLAB_USER
mkdir -p "$ROOTS" "$OUT"
ROOTS=$(realpath -- "$ROOTS")
OUT=$(realpath -- "$OUT")
PEER_ROOT=$ROOTS/$PEER

die() { echo "make.sh: error: $*" >&2; exit 1; }

BOOTED=""        # scenario hosts booted by this run and not stopped yet
PEER_BOOTED=""   # peer12, if booted by this run and not stopped yet
TMP=""
cleanup() {
	local rc=$? k
	trap - EXIT INT TERM
	for k in $BOOTED $PEER_BOOTED; do
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

# authorize_target_key: app12full's root public key goes into app11's
# /root/.ssh/authorized_keys (700/600, root's), so that the target's root may
# log in to the source, as for copying data over.  Files inside the roots,
# before anything boots; the file is rewritten only if its content differs.
authorize_target_key() {
	local pub=$ROOTS/app12full/root/.ssh/id_ed25519.pub dir=$ROOTS/app11/root/.ssh
	{ [ -s "$pub" ] && [ ! -L "$pub" ]; } || die "no root key $pub (rebuild app12full)"
	{ [ -d "$dir" ] && [ ! -L "$dir" ]; } || die "no directory $dir (rebuild app11)"
	[ ! -L "$dir/authorized_keys" ] || die "$dir/authorized_keys is a symlink"
	chown root:root "$dir"; chmod 700 "$dir"
	if ! cmp -s "$pub" "$dir/authorized_keys"; then
		install -m 600 -o root -g root "$pub" "$dir/.authorized_keys.new"
		mv -f "$dir/.authorized_keys.new" "$dir/authorized_keys"
	fi
	chown root:root "$dir/authorized_keys"; chmod 600 "$dir/authorized_keys"
	echo "make.sh: app11: /root/.ssh/authorized_keys = app12full's $(cut -d' ' -f1,3 "$pub")" >&2
}

# netns_fd FD ROOT: open the network namespace of the booted host ROOT on fd
# FD, and check it is not this machine's own (a veth end must never land here).
netns_fd() {
	local fd=$1 root=$2 pid
	pid=$("$HOSTLAB" pid "$root") || die "$root is not booted"
	eval "exec $fd<\"/proc/\$pid/ns/net\"" || die "cannot open the network namespace of $root"
	[ "$(readlink "/proc/$$/fd/$fd")" != "$(readlink /proc/self/ns/net)" ] ||
		die "$root (init pid $pid) shares this machine's network namespace; not wiring it"
}

# wire ROOT: a veth pair between the host ROOT and peer12, eth1 on both sides,
# created straight into the two namespaces (it never appears on this machine).
wire() {
	local root=$1
	# a leftover of an earlier run (deleting either end deletes the pair)
	"$HOSTLAB" exec "$root" /bin/sh -c "ip link del $IFNAME 2>/dev/null; true"
	"$HOSTLAB" exec "$PEER_ROOT" /bin/sh -c "ip link del $IFNAME 2>/dev/null; true"
	netns_fd 7 "$root"
	netns_fd 8 "$PEER_ROOT"
	ip link add "$IFNAME" netns /proc/self/fd/7 type veth peer name "$IFNAME" netns /proc/self/fd/8
	exec 7<&- 8<&-
	"$HOSTLAB" exec "$root" /bin/sh -ec "ip addr add $HOST_IP/$PREFIX dev $IFNAME; ip link set $IFNAME up"
	"$HOSTLAB" exec "$PEER_ROOT" /bin/sh -ec "ip addr add $PEER_IP/$PREFIX dev $IFNAME; ip link set $IFNAME up"
}
unwire() { "$HOSTLAB" exec "$1" ip link del "$IFNAME"; }

# wait_connected KIND ROOT: until (bounded) the host's `ss` shows the
# connections ESTABLISHED: db1's web-client to HOST_IP:80 and, for the hosts
# that run myapp, myapp's to PEER_IP:5433.
wait_connected() {
	local k=$1 root=$2 deadline db=no web=no t0
	case " $DB_CLIENTS " in *" $k "*) ;; *) db=n/a ;; esac
	t0=$(date +%s.%N)
	deadline=$(( $(date +%s) + WIRE_TIMEOUT ))
	while :; do
		[ "$db" = n/a ] || db=no
		if [ "$db" = no ] && [ -n "$("$HOSTLAB" exec "$root" ss -Hnt state established src "$HOST_IP" dst "$PEER_IP:5433")" ]; then db=yes; fi
		web=no
		if [ -n "$("$HOSTLAB" exec "$root" ss -Hnt state established src "$HOST_IP:80" dst "$PEER_IP")" ]; then web=yes; fi
		[ "$db" = no ] || [ "$web" = no ] || break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			"$HOSTLAB" exec "$root" ss -ntp >&2 || true
			die "$k: no ESTABLISHED connection after $WIRE_TIMEOUT s (to $PEER_IP:5433: $db, from $PEER_IP to :80: $web)"
		fi
		sleep 0.5
	done
	echo "make.sh: $k: connected to db1 after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s ($PEER_IP:5433: $db, web-client to :80: $web):" >&2
	"$HOSTLAB" exec "$root" ss -ntp state established "( dst $PEER_IP or src $PEER_IP )" | sed 's/^/    /' >&2
}

T0=$(date +%s)
for k in $KINDS $PEER; do
	echo "make.sh: $k: mkroot" >&2
	"$HOSTLAB" mkroot "$k" "$ROOTS/$k"
done
authorize_target_key

echo "make.sh: $PEER: boot" >&2
"$HOSTLAB" boot "$PEER_ROOT"
PEER_BOOTED=$PEER

for k in $KINDS; do
	root=$ROOTS/$k
	echo "make.sh: $k: boot" >&2
	"$HOSTLAB" boot "$root"
	BOOTED="$BOOTED $k"
	echo "make.sh: $k: wire to $PEER" >&2
	wire "$root"
	wait_connected "$k" "$root"
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
	echo "make.sh: $k: unwire, stop" >&2
	unwire "$root"
	"$HOSTLAB" stop "$root"
	BOOTED=${BOOTED% "$k"}
	mv -f -- "$bundle" "$OUT/.$k.tgz.part"
	mv -f -- "$OUT/.$k.tgz.part" "$OUT/$k.tgz"
	echo "$OUT/$k.tgz"
done

echo "make.sh: $PEER: stop" >&2
"$HOSTLAB" stop "$PEER_ROOT"
PEER_BOOTED=""
echo "make.sh: done in $(( $(date +%s) - T0 )) s" >&2

#!/bin/bash
# Remakes the sample bundles from real hosts: builds (or reuses) the host-lab roots, boots each host
# with its real init as PID 1, runs the collector inside with the host's own Python, copies the
# bundle here under a stable name and stops the host.  Needs root, debootstrap, systemd-container.
#   sample_bundles/make.sh            # all three
#   sample_bundles/make.sh sysv11     # one (sysv11, systemd12 or openrc12)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
H=$REPO/tests/hostlab/hostlab.sh
L=${MIGDIFF_HOSTLAB_DIR:-/var/tmp/migdiff-hostlab}

make_one() {  # kind python name
  local kind=$1 python=$2 name=$3 out
  "$H" mkroot "$kind" "$L/$kind"
  "$H" boot "$L/$kind"
  out=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: stop this host and drop the scratch dir whatever happens
  trap "'$H' stop '$L/$kind'; rm -rf '$out'" EXIT
  local started=$SECONDS
  bundle=$("$H" collect "$L/$kind" "$REPO/snapshot/migsnap.py" "$python" "$out" | tail -n 1)
  echo "$name: collected in $((SECONDS - started)) s (boot to bundle copied out)"
  mv "$bundle" "$HERE/$name.tgz"
  chmod 0644 "$HERE/$name.tgz"
  "$H" stop "$L/$kind"
  rm -rf "$out"
  trap - EXIT
  echo "wrote $HERE/$name.tgz ($(stat -c %s "$HERE/$name.tgz") bytes)"
}

want=${1:-all}
[ "$want" = all ] || [ "$want" = sysv11 ] && make_one sysv11 python2.7 debian11-sysv
[ "$want" = all ] || [ "$want" = systemd12 ] && make_one systemd12 python3 debian12-systemd
[ "$want" = all ] || [ "$want" = openrc12 ] && make_one openrc12 python3 debian12-openrc
exit 0

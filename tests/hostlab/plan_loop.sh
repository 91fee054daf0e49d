#!/bin/bash
# plan_loop.sh: the closed loop of `migdiff plan` (issue 16) on a real booted host.
#
#   plan_loop.sh sh|ansible OUTDIR
#
# 1. copies the app12gaps root (the target with gaps; built by `hostlab.sh mkroot app12gaps`)
#    to OUTDIR/root, so the lab's own root stays as built, and boots the copy;
# 2. collects it (before.tgz) and writes the plan of SOURCE (default: the scenario's app11.tgz)
#    against it: plan.sh, or plan.yml with --format ansible;
# 3. gives the host, which has no network, a local apt repository with the .debs the plan needs
#    (resolved by `apt-get install -s` inside the host, taken from hostlab's .deb cache or
#    fetched here with `apt-get download`; for ansible also Debian's ansible-core), as its only
#    apt source (file:, trusted);
# 4. runs the plan inside the host (sh plan.sh, or ansible-playbook -c local), then again;
# 5. collects it again (after.tgz) and diffs SOURCE against before and after (before.json,
#    after.json);
# and stops the host whatever happens.  It writes OUTDIR/run1.log, run2.log and OUTDIR/result
# (key=value lines) for tests/test_plan.py to judge; its exit status is 0 when every step ran.
#
# Needs root, like hostlab.sh.  MIGDIFF (default: the repo's .venv/bin/migdiff),
# MIGDIFF_HOSTLAB_DIR (default /var/tmp/migdiff-hostlab), PLAN_LOOP_SOURCE.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
HOSTLAB=$HERE/hostlab.sh
MODE=${1:?usage: plan_loop.sh sh|ansible OUTDIR}
OUT=${2:?usage: plan_loop.sh sh|ansible OUTDIR}
case $MODE in sh|ansible) ;; *) echo "plan_loop.sh: mode is sh or ansible" >&2; exit 2 ;; esac
ROOTS=${MIGDIFF_HOSTLAB_DIR:-/var/tmp/migdiff-hostlab}
MIGDIFF=${MIGDIFF:-$REPO/.venv/bin/migdiff}
SOURCE=${PLAN_LOOP_SOURCE:-$REPO/tests/scenarios/bundles/app11.tgz}
CACHE=${HOSTLAB_CACHE-/var/cache/migdiff-hostlab/debs}
COLLECTOR=$REPO/snapshot/migsnap.py

[ -f "$ROOTS/app12gaps/.hostlab-ready" ] || { echo "plan_loop.sh: no app12gaps root in $ROOTS (hostlab.sh mkroot app12gaps $ROOTS/app12gaps)" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(realpath -- "$OUT")
R=$OUT/root
note() { echo "plan_loop: $*" >&2; }
t0=$(date +%s)

# A copy of the root: the plan changes it.  Only our own folder is ever removed.
if [ -e "$R" ]; then "$HOSTLAB" stop "$R" >/dev/null 2>&1 || true; rm -rf --one-file-system "$R"; fi
rm -rf "$OUT/repo" "$OUT"/*.tgz "$OUT"/*.json "$OUT"/*.log "$OUT/result" "$OUT"/plan.*
cp -a --reflink=auto "$ROOTS/app12gaps" "$R"
note "copied the app12gaps root in $(( $(date +%s) - t0 )) s"

trap '"$HOSTLAB" stop "$R" >&2 || true' EXIT
"$HOSTLAB" boot "$R"

collect() {   # collect NAME: the host's bundle as OUT/NAME.tgz
	local got
	got=$("$HOSTLAB" collect "$R" "$COLLECTOR" python3 "$OUT/collect.$1" 2>"$OUT/collect.$1.log" | tail -n1)
	mv -f "$got" "$OUT/$1.tgz"
	rm -rf "$OUT/collect.$1"
}
findings() {  # findings NAME SEVERITY: "section key [reason]" of each finding of SOURCE against NAME.tgz
	local rc=0
	[ -f "$OUT/$1.json" ] || "$MIGDIFF" diff "$SOURCE" "$OUT/$1.tgz" -f json -o "$OUT/$1.json" || rc=$?
	[ "$rc" -le 1 ] || { echo "plan_loop.sh: migdiff diff failed ($rc)" >&2; exit 1; }
	python3 -c 'import json, sys
for c in json.load(open(sys.argv[1]))["changes"]:
    if c["severity"] == sys.argv[2] and not c["ignored"]:
        print(c["section"], c["key"], "[%s]" % c["reason"])' "$OUT/$1.json" "$2"
}

collect before
"$MIGDIFF" plan "$SOURCE" "$OUT/before.tgz" -o "$OUT/plan.sh" --force
if [ "$MODE" = ansible ]; then "$MIGDIFF" plan "$SOURCE" "$OUT/before.tgz" -f ansible -o "$OUT/plan.yml" --force; fi

# The local apt repository: every package apt would install for the plan's packages.
pkgs=$(sed -n 's/^pkg_install \(.*\)$/\1/p' "$OUT/plan.sh" | tr -d "'")
[ "$MODE" = ansible ] && pkgs="$pkgs ansible-core python3-apt"   # the controller, and what its apt module needs
mkdir -p "$OUT/repo"
if [ -n "${pkgs// /}" ]; then
	# shellcheck disable=SC2086
	"$HOSTLAB" exec "$R" apt-get install -s --no-install-recommends $pkgs >"$OUT/simulate.log"
	awk '/^Inst /{ v=$3; gsub(/[()]/, "", v); print $2, v }' "$OUT/simulate.log" | while read -r name ver; do
		f=""
		[ -n "$CACHE" ] && f=$(ls "$CACHE/${name}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
		if [ -n "$f" ]; then cp "$f" "$OUT/repo/"
		else (cd "$OUT/repo" && apt-get download -q "$name=$ver" >/dev/null 2>>"$OUT/download.log"); fi
	done
fi
(cd "$OUT/repo" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
note "local repository: $(ls "$OUT/repo" | grep -c '\.deb$') .debs"
rm -rf "$R/var/tmp/migdiff-plan-repo"
cp -a "$OUT/repo" "$R/var/tmp/migdiff-plan-repo"
echo "deb [trusted=yes] file:/var/tmp/migdiff-plan-repo ./" >"$R/etc/apt/sources.list"

if [ "$MODE" = ansible ]; then
	# the controller, from Debian, inside the host (lab setup, not part of the plan)
	"$HOSTLAB" exec "$R" sh -c 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ansible-core python3-apt >/dev/null'
	"$HOSTLAB" exec "$R" sh -c 'cat >/root/plan.yml' <"$OUT/plan.yml"
	run_plan() { "$HOSTLAB" exec "$R" env HOME=/root LC_ALL=C.UTF-8 ANSIBLE_NOCOLOR=1 \
		ansible-playbook -i localhost, -c local /root/plan.yml; }
else
	"$HOSTLAB" exec "$R" sh -c 'cat >/root/plan.sh' <"$OUT/plan.sh"
	run_plan() { "$HOSTLAB" exec "$R" sh /root/plan.sh; }
fi

rc1=0; run_plan >"$OUT/run1.log" 2>&1 || rc1=$?
rc2=0; run_plan >"$OUT/run2.log" 2>&1 || rc2=$?
note "plan runs: $rc1 then $rc2"
# what the second run changed on disk is what it said: compare the status line / the recap
collect after

{
	echo "mode=$MODE"
	echo "run1=$rc1"
	echo "run2=$rc2"
	# what the second run changed, as it says itself: the script's "done: N changes", Ansible's recap
	if [ "$MODE" = sh ]; then echo "second_run_changes=$(sed -n 's/^done: \([0-9]*\) changes.*/\1/p' "$OUT/run2.log")"
	else echo "second_run_changes=$(sed -n 's/.* changed=\([0-9]*\) .*/\1/p' "$OUT/run2.log" | tail -n1)"; fi
	echo "before=$(findings before blocker | tr '\n' ';')"
	echo "after=$(findings after blocker | tr '\n' ';')"
	echo "warnings_before=$(findings before warning | tr '\n' ';')"
	echo "warnings_after=$(findings after warning | tr '\n' ';')"
	# the files the plan recreated, as the collector saw them afterwards (sha256 of the raw copy)
	for f in raw/cron-files/etc/cron.d/myapp-report raw/init-scripts/etc/init.d/myapp raw/user-crontabs/var/spool/cron/crontabs/labuser; do
		echo "sha256:$f=$(tar -xzOf "$OUT/after.tgz" --wildcards "*/$f" 2>/dev/null | sha256sum | cut -d' ' -f1)"
	done
	echo "seconds=$(( $(date +%s) - t0 ))"
} >"$OUT/result"
cat "$OUT/result" >&2
"$HOSTLAB" stop "$R" >&2
trap - EXIT
rm -rf --one-file-system "$R"
[ "$rc1" = 0 ] && [ "$rc2" = 0 ]

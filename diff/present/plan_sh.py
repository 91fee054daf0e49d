"""A plan as a POSIX sh script, for review before it runs.

Safe against hostile bundle data: every name and path reaches a command only shell-quoted (and
make_plan lets only plain names and paths through); every text of a finding reaches a comment
only as one line, its control characters shown as escapes (a newline in a comment would start a
command).  File contents travel as base64 in quoted here-documents, whose end marker cannot
occur in base64.
"""
from __future__ import annotations

import shlex
import textwrap

from ..plan import Decide, Install, Plan, PutFile, Service, Step, finding_line, one_line

q = shlex.quote
END = "MIGDIFF_PLAN_B64_END"

HELPERS = r'''
PROG=${0##*/}
DRY_RUN=0
case "${1:-}" in
--dry-run|-n) DRY_RUN=1 ;;
"") ;;
*) echo "usage: $PROG [--dry-run]" >&2; exit 2 ;;
esac
CHANGED=0 UNCHANGED=0 LEFT=0 PKG_LISTS=0 WROTE=0

say() { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "$PROG" "$*" >&2; }
unchanged() { say "ok: $*"; UNCHANGED=$((UNCHANGED + 1)); }
left() { warn "$*"; LEFT=$((LEFT + 1)); }
# act CMD...: a change (only printed with --dry-run)
act() {
	CHANGED=$((CHANGED + 1))
	if [ "$DRY_RUN" = 1 ]; then say "would run: $*"; return 0; fi
	say "+ $*"
	"$@"
}

guard() {
	here=$(hostname 2>/dev/null || uname -n)
	why=""
	[ "$here" = "$PLAN_HOSTNAME" ] || why="its hostname is '$here', not '$PLAN_HOSTNAME'"
	if [ -n "$PLAN_MACHINE_ID" ]; then
		mid=$(cat /etc/machine-id 2>/dev/null || true)
		[ "$mid" = "$PLAN_MACHINE_ID" ] || why="${why:+$why; }its machine id is '$mid', not '$PLAN_MACHINE_ID'"
	fi
	if [ -n "$why" ]; then
		if [ "$DRY_RUN" = 1 ]; then warn "dry run on another host: a real run would refuse ($why)"; return 0; fi
		warn "refusing to run: this host is not the plan's target ($why)"
		exit 2
	fi
	if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then warn "refusing to run: must run as root"; exit 2; fi
}

# put_file PATH MODE OWNER GROUP SHA256, the content as base64 on stdin: written only when PATH is
# absent (through a temporary file in its directory); a PATH with other content is left alone and
# the source's copy goes beside it as PATH.migdiff-plan.  Sets WROTE=1 when it wrote.
same_file() { [ -f "$1" ] && [ ! -L "$1" ] && [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$2" ]; }
put_file() {
	WROTE=0
	dest=$1
	if [ -e "$1" ] || [ -L "$1" ]; then
		if same_file "$1" "$5"; then cat >/dev/null; unchanged "$1 is in place"; return 0; fi
		dest=$1.migdiff-plan
		if [ -e "$dest" ] || [ -L "$dest" ]; then
			cat >/dev/null
			if same_file "$dest" "$5"; then left "$1 differs from the source's: compare it with $dest (left alone)"
			else left "$1 and $dest both exist and differ from the source's: left alone"; fi
			return 0
		fi
		left "$1 exists with other content: left alone; the source's copy goes to $dest"
	fi
	if [ "$DRY_RUN" = 1 ]; then cat >/dev/null; act write "$dest" "mode=$2" "owner=$3:$4"; WROTE=1; return 0; fi
	dir=${dest%/*}
	[ -d "$dir" ] || act mkdir -p "$dir"
	tmp=$(mktemp "$dir/.migdiff-plan.XXXXXX")
	if ! base64 -d >"$tmp" || ! same_file "$tmp" "$5"; then
		rm -f "$tmp"   # our own temporary file, never a file of the host
		warn "could not decode the content of $dest"
		exit 1
	fi
	chown "$3:$4" "$tmp"
	chmod "$2" "$tmp"
	act mv -n "$tmp" "$dest"
	if [ -e "$tmp" ]; then rm -f "$tmp"; warn "$dest appeared meanwhile: left alone"; exit 1; fi
	WROTE=1
}

# put_crontab USER SHA256, the crontab as base64 on stdin: installed with crontab -u USER only
# when USER has none; another crontab is left alone.
put_crontab() {
	if ! id "$1" >/dev/null 2>&1; then
		cat >/dev/null; left "no user $1 on this host: create it, then run this plan again"; return 0
	fi
	if crontab -u "$1" -l >/dev/null 2>&1; then
		cat >/dev/null
		if [ "$(crontab -u "$1" -l | sha256sum | cut -d' ' -f1)" = "$2" ]; then unchanged "$1's crontab is in place"
		else left "$1 has another crontab: left alone; merge the source's (in this plan) by hand"; fi
		return 0
	fi
	if [ "$DRY_RUN" = 1 ]; then cat >/dev/null; act crontab -u "$1" FILE; return 0; fi
	tmp=$(mktemp)
	if ! base64 -d >"$tmp" || [ "$(sha256sum <"$tmp" | cut -d' ' -f1)" != "$2" ]; then
		rm -f "$tmp"; warn "could not decode $1's crontab"; exit 1
	fi
	chmod 0644 "$tmp"
	act crontab -u "$1" "$tmp"
	rm -f "$tmp"   # our own temporary file
}

# requires NAME PATH...: true when every PATH exists; else says why NAME is not started
requires() {
	n=$1; shift
	for p in "$@"; do
		if [ ! -e "$p" ]; then left "not starting $n: $p is missing (see its DECIDE)"; return 1; fi
	done
	return 0
}
'''

MANAGER_HELPERS = {
    "apt-get": r'''
pkg_install() {   # NAME: installed unless it is; the package lists are updated once, first
	if dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q ' ok installed$'; then
		unchanged "package $1 is installed"; return 0
	fi
	if [ "$PKG_LISTS" = 0 ] && [ "$DRY_RUN" = 0 ]; then say "+ apt-get update"; apt-get update; PKG_LISTS=1; fi
	act env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$1"
}
''',
    "dnf": r'''
pkg_install() {
	if rpm -q "$1" >/dev/null 2>&1; then unchanged "package $1 is installed"; return 0; fi
	act dnf install -y "$1"
}
''',
    "yum": r'''
pkg_install() {
	if rpm -q "$1" >/dev/null 2>&1; then unchanged "package $1 is installed"; return 0; fi
	act yum install -y "$1"
}
''',
    "zypper": r'''
pkg_install() {
	if rpm -q "$1" >/dev/null 2>&1; then unchanged "package $1 is installed"; return 0; fi
	act zypper --non-interactive install "$1"
}
''',
    "apk": r'''
pkg_install() {
	if apk info -e "$1" >/dev/null 2>&1; then unchanged "package $1 is installed"; return 0; fi
	act apk add "$1"
}
''',
}

INIT_HELPERS = {
    "systemd": r'''
svc_enable() {   # NAME
	if systemctl is-enabled --quiet "$1" 2>/dev/null; then unchanged "$1 is enabled"; return 0; fi
	act systemctl enable "$1"
}
svc_start() {
	if systemctl is-active --quiet "$1" 2>/dev/null; then unchanged "$1 is running"; return 0; fi
	act systemctl start "$1"
}
''',
    "sysv-deb": r'''
svc_enable() {   # NAME LEVEL...: update-rc.d follows the script's LSB header
	n=$1; shift
	for l in "$@"; do
		if ! ls /etc/rc"$l".d/S[0-9][0-9]"$n" >/dev/null 2>&1; then
			if ls /etc/rc?.d/[SK][0-9][0-9]"$n" >/dev/null 2>&1; then act update-rc.d "$n" enable
			else act update-rc.d "$n" defaults; fi
			return 0
		fi
	done
	unchanged "$n is enabled"
}
svc_start() {
	if service "$1" status >/dev/null 2>&1; then unchanged "$1 is running"; return 0; fi
	act service "$1" start
}
''',
    "sysv-rpm": r'''
svc_enable() {   # NAME LEVEL...
	n=$1; shift
	levels=$(printf '%s' "$@")
	for l in "$@"; do
		if ! chkconfig --list "$n" 2>/dev/null | grep -q "[[:space:]]$l:on"; then
			act chkconfig --level "${levels:-2345}" "$n" on; return 0
		fi
	done
	unchanged "$n is enabled"
}
svc_start() {
	if service "$1" status >/dev/null 2>&1; then unchanged "$1 is running"; return 0; fi
	act service "$1" start
}
''',
    "openrc": r'''
svc_enable() {   # NAME RUNLEVEL...
	n=$1; shift
	for l in "$@"; do
		if rc-update show "$l" 2>/dev/null | grep -q "^ *$n |"; then unchanged "$n is in runlevel $l"
		else act rc-update add "$n" "$l"; fi
	done
}
svc_start() {
	if rc-service "$1" status >/dev/null 2>&1; then unchanged "$1 is running"; return 0; fi
	act rc-service "$1" start
}
''',
    "upstart": r'''
svc_enable() {   # Upstart starts a job on the events of its "start on" stanza: nothing to enable
	unchanged "$1 starts on its own events (Upstart)"
}
svc_start() {
	if initctl status "$1" 2>/dev/null | grep -q 'start/'; then unchanged "$1 is running"; return 0; fi
	act initctl start "$1"
}
''',
}


def _comment(text: str, prefix: str = "# ", width: int = 100) -> list[str]:
    lines = textwrap.wrap(one_line(text, 2000), width=width - len(prefix), break_long_words=True,
                          break_on_hyphens=False) or [""]
    return [prefix + lines[0]] + ["#   " + line for line in lines[1:]]


def _finding_comments(step: Step) -> list[str]:
    out = []
    for f in step.findings:
        out += _comment(f"finding ({f.severity}): {finding_line(f)}")
    return out


def _b64_lines(b64: str) -> list[str]:
    return [b64[i:i + 76] for i in range(0, len(b64), 76)] or [""]


def init_key(plan: Plan) -> str:
    if plan.init == "sysv":
        return "sysv-deb" if plan.manager == "apt-get" else "sysv-rpm"
    return plan.init


def step_lines(plan: Plan, step: Step, number: int, total: int) -> list[str]:
    a = step.action
    out = [f"# --- step {number}/{total}: {a.kind} " + "-" * 40]
    out += _finding_comments(step)
    if isinstance(a, Install):
        out += _comment(f"source: {a.source_name} {a.source_version or '(version unknown)'}; no version is pinned: "
                        f"the target's release picks its own")
        if a.mapped:
            out += _comment(f"name {a.mapped}")
        out.append(f"pkg_install {q(a.package)}")
    elif isinstance(a, Service):
        if a.source_levels:
            out += _comment(f"on the source: {a.source_levels}; here: "
                            + (", ".join(a.levels) if a.levels else "as the unit or script says"))
        if a.enable:
            out.append(" ".join(["svc_enable", q(a.name), *(q(level) for level in a.levels)]))
        if a.start:
            if a.requires:
                out.append(f"if requires {q(a.name)} {' '.join(q(p) for p in a.requires)}; "
                           f"then svc_start {q(a.name)}; fi")
            else:
                out.append(f"svc_start {q(a.name)}")
    elif isinstance(a, PutFile):
        if a.note:
            out += _comment(a.note)
        if a.crontab_user:
            out += _comment(f"crontab of {a.crontab_user} ({a.size} bytes, sha256 {a.sha256[:12]}...), from the "
                            f"source's {a.path}")
            out.append(f"put_crontab {q(a.crontab_user)} {q(a.sha256)} <<'{END}'")
        else:
            out += _comment(f"{a.path}: {a.size} bytes from the source bundle, byte for byte; mode {a.mode} "
                            f"{a.owner}:{a.group} " + ("(as on the source: its ls -l)" if a.mode_from == "source" else "(the bundle records no modes: the directory's convention)"))
            out.append(f"put_file {q(a.path)} {q(a.mode)} {q(a.owner)} {q(a.group)} {q(a.sha256)} <<'{END}'")
        out += _b64_lines(a.content_b64)
        out.append(END)
        for cmd in a.after:
            out.append(f"if [ \"$WROTE\" = 1 ]; then act {' '.join(q(w) for w in cmd.split())}; fi")
    elif isinstance(a, Decide):
        out += _comment(f"DECIDE: {a.what}")
        out += _comment(f"look at: {a.look_at}", prefix="#   ")
    return out


def render_plan(plan: Plan) -> str:
    steps = plan.steps
    decisions = [s for s in steps if isinstance(s.action, Decide)]
    src, tgt = plan.source, plan.target
    out = ["#!/bin/sh"]
    out += _comment(f"migdiff plan: make {tgt.hostname} take over from {src.hostname}")
    out += _comment(f"generated by migdiff {plan.migdiff_version} from {src.bundle} ({src.hostname}, {src.distro}, "
                    f"{src.init}) and {tgt.bundle} ({tgt.hostname}, {tgt.distro}, {tgt.init})")
    if plan.verdict:
        out += _comment(f"the diff said: {plan.verdict}; this plan has {plan.actions} steps and "
                        f"{plan.decisions} decisions (# DECIDE:)")
    out += [
        "#",
        "# FOR REVIEW, NOT FOR BLIND EXECUTION.  Read every step; delete the ones you do not want.",
        "#   sh plan.sh --dry-run   prints what it would change, changes nothing (on any host)",
        "#   sh plan.sh             runs it, as root, only on the target (hostname and machine id)",
        "# Every step says the finding it addresses and does nothing when its work is done already:",
        "# a second run changes nothing.  Nothing here deletes or overwrites a file: a file that",
        "# exists with other content is left alone and the source's copy is written beside it",
        "# (PATH.migdiff-plan).  Packages are installed by name, never at a pinned version.",
        "set -eu",
        f"PLAN_HOSTNAME={q(tgt.hostname or '')}",
        f"PLAN_MACHINE_ID={q(tgt.machine_id or '')}",
        f"DECISIONS={len(decisions)}",
    ]
    out += HELPERS.strip("\n").splitlines()
    if any(isinstance(s.action, Install) for s in steps) and plan.manager in MANAGER_HELPERS:
        out += MANAGER_HELPERS[plan.manager].strip("\n").splitlines()
    if any(isinstance(s.action, Service) for s in steps) and init_key(plan) in INIT_HELPERS:
        out += INIT_HELPERS[init_key(plan)].strip("\n").splitlines()
    out += ["", "guard", ""]
    for i, step in enumerate(steps, 1):
        out += step_lines(plan, step, i, len(steps))
        out.append("")
    out.append("say \"done: $CHANGED changes, $UNCHANGED already in place, $LEFT left alone\"")
    if decisions:
        out.append(f"say {q(f'{len(decisions)} decisions left: see the # DECIDE: comments')}")
        for s in decisions:
            out.append(f"say {q('  DECIDE: ' + one_line(s.action.what, 200))}")
    out.append("exit 0")
    return "\n".join(out) + "\n"

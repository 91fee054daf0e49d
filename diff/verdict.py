"""Judging a diff: how much each change matters and why, which differences are expected, the verdict.

The question is "can the target take over from the source?", asked of what the host does: its
endpoints (listening sockets), its services (packaged or local) and the software an admin chose.
Everything else (the base system, libraries, dependencies) is evidence.

- blocker: breaks the workload or its operation at cutover: a service that ran or started at
  boot and that nothing on the target does (service-missing, -stopped, -disabled); an endpoint
  nothing serves any more (port-missing), or serves for fewer addresses (port-narrowed).
- warning: a decision for a human: another program doing the job (role-swapped, role-builtin),
  a new release series of what serves or holds data (new-series), a service that moved to
  another port (port-moved), a socket reachable from more addresses (exposed-port), software an
  admin installed that the target lacks (package-dropped), what the evidence could not settle
  (unknown-evidence), another init system, architecture or distribution.
- info: the rest, summarized by kind.

One root cause is one finding: the ports and packages of a missing service are evidence of that
service's blocker (follows-service), and the records of one upgrade are one warning (covered).

Every judged change gets a stable reason code and, for blockers and warnings, a hint of what to
check.  Expected differences are set aside by rules (built-in data/expected.toml, and the user's
ignore file): they are counted and listed with --show-ignored, never silently dropped.
"""
from __future__ import annotations

import fnmatch
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import migsnap

from .changes import SECTIONS, Change, Counts, DiffReport, HostRef, Judgement
from .errors import MigdiffError
from .names import load_toml, user_config
from .packages import name_numbers
from .roles import Role, Roles
from .roles import load as load_roles

BUILTIN_RULES = Path(__file__).resolve().parent / "data" / "expected.toml"
FailOn = Literal["blocker", "warning", "any"]
Judged = tuple[str, str, str | None]  # severity, reason, hint

# Every reason code, and how the report names a group of its info changes.
REASONS: dict[str, str] = {
    "service-missing": "services that nothing on the target does",
    "service-stopped": "services running on source, stopped on target",
    "service-disabled": "services that no longer start at boot",
    "role-swapped": "jobs taken over by another program",
    "role-builtin": "jobs taken over by the target's init system",
    "unknown-evidence": "records the evidence could not settle",
    "provided-by": "names whose job another record does on target",
    "not-in-use": "services neither running nor enabled on source",
    "one-shot": "one-shot jobs whose 'running' means nothing",
    "static-unit": "units started by another unit or a generator on target",
    "state-unknown": "services whose state one side does not know",
    "new-service": "services only on target",
    "more-on-target": "services that run or start at boot on target only",
    "not-at-boot": "services enabled but not for the target's boot level",
    "boot-levels": "services starting in other boot levels",
    "port-missing": "endpoints nothing serves on target",
    "port-narrowed": "endpoints served for fewer addresses on target",
    "port-moved": "services listening on another port",
    "exposed-port": "sockets reachable from more addresses on target",
    "other-program": "endpoints served by another program",
    "follows-service": "records of a service already reported",
    "successor": "renamed successors (a new release's name)",
    "new-listener": "sockets only on target, loopback or local",
    "package-dropped": "packages chosen on source, absent on target",
    "new-series": "new release series of what serves or holds data",
    "downgraded": "packages older on target",
    "covered": "records another finding already covers",
    "base-system": "base-system packages changed or gone",
    "library": "libraries changed or gone",
    "dependency": "dependencies changed or gone",
    "upgraded": "packages upgraded within their release series",
    "repackaged": "packages repackaged (same upstream version)",
    "new-package": "packages only on target",
    "not-installed": "packages not installed on source (config files left)",
    "other-arch": "packages of another architecture",
    "kernel-series": "kernel series changed",
    "arch-changed": "architecture changed",
    "distro-changed": "distribution changed",
    "release-changed": "facts of the release",
    "identity": "identity facts",
    "init-changed": "init system changed",
    "boot-level-lower": "hosts booting into a lower level",
    "boot-level": "boot facts",
    "job-missing": "jobs of the workload not scheduled on target",
    "job-changed": "jobs scheduled otherwise",
    "job-converted": "jobs that run the same command another way",
    "package-job": "jobs a package ships",
    "pending-at": "one-off at jobs pending on source",
    "new-job": "jobs only on target",
    "unit-missing": "local units or scripts of the workload missing on target",
    "override-missing": "local drop-ins missing on target",
    "unit-converted": "local init scripts become units",
    "unit-changed": "local units that run something else",
    "new-unit": "local units only on target",
    "dependency-unseen": "remote endpoints the target was not seen reaching",
    "new-dependency": "remote endpoints only the target reaches",
}
SEVERITY_ORDER = {"info": 0, "warning": 1, "blocker": 2}
LOSSY = ("timeout", "truncated", "denied", "partial", "error")
# Entries that tie records to their services and packages, not the lists of records themselves:
# losing one (a pid file only root may read) weakens attribution, it hides no service or socket.
AUXILIARY = ("init-scripts", "etc-default", "pid-files", "listen-procs", "listen-dpkg-S", "listen-rpm-qf", "ls-rc-d")
STATIC_STATES = ("static", "indirect", "generated", "alias", "enabled-runtime", "transient")


@dataclass(frozen=True)
class Rule:
    section: str
    pattern: str
    reason: str
    origin: str

    def describe(self) -> str:
        return f"{self.reason} ({self.origin}: {self.section} {self.pattern!r})"


def parse_rules(doc: dict, origin: str) -> list[Rule]:
    rules = []
    for section, table in doc.items():
        if section not in SECTIONS:
            raise MigdiffError(f"{origin}: unknown section [{section}]; sections are {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise MigdiffError(f"{origin}: [{section}] must hold pattern = \"reason\" lines")
        for pattern, reason in table.items():
            if not isinstance(reason, str) or not reason.strip():
                raise MigdiffError(f"{origin}: [{section}] {pattern!r} needs a reason (a non-empty string)")
            rules.append(Rule(section, pattern, reason.strip(), origin))
    return rules


def load_rules(path: Path | None = None, builtin: bool = True) -> list[Rule]:
    """Built-in rules (unless disabled), then the user's: --ignore FILE, else
    $XDG_CONFIG_HOME/migdiff/ignore.toml when it exists."""
    rules = parse_rules(load_toml(BUILTIN_RULES), "built-in") if builtin else []
    user = path if path is not None else user_config("ignore.toml")
    if path is not None or user.exists():
        rules += parse_rules(load_toml(user), str(user))
    return rules


def subjects(change: Change) -> list[str]:
    """The names a rule may match for this change: its key, the names it involves, and
    "reason:<code>" (a rule can set aside every change of one reason in a section)."""
    names = change.key.split(" = ")
    if change.key not in names:
        names.insert(0, change.key)
    if change.pair and change.pair.how != "built-in":  # the journal is not what a rule on systemd-* means
        names += [change.pair.source, change.pair.target]
    elif change.pair:
        names.append(change.pair.source)
    if change.section == "packages":
        names += [part.split(":")[1] for part in change.key.split(" = ") if part.count(":") == 2]
    if change.attribution and change.attribution.process:
        names.append(change.attribution.process)
    if change.reason:
        names.append(f"reason:{change.reason}")
    return names


def matching_rule(change: Change, rules: list[Rule]) -> Rule | None:
    sections = {change.section, "services"} if change.section == "runlevels" else {change.section}
    names = subjects(change)
    for rule in rules:
        if rule.section in sections and any(fnmatch.fnmatchcase(n, rule.pattern) for n in names):
            return rule
    return None


# --- what each bundle could see -----------------------------------------------------------

class Evidence:
    """Which sections of one host's bundle are incomplete, and why."""

    def __init__(self, ref: HostRef, side: str) -> None:
        self.side = side
        self.lost: dict[str, list[str]] = {}
        for status in LOSSY:
            for capture_id in ref.incomplete.get(status, []):
                if capture_id in AUXILIARY:
                    continue
                try:
                    section = migsnap.capture_by_id(capture_id).section
                except KeyError:
                    continue
                self.lost.setdefault(section, []).append(f"{capture_id} {status}")
        self.not_root = ref.euid not in (0, None)

    def incomplete(self, section: str, capture: str | None = None) -> str | None:
        """Why the section is incomplete on this side, or None; with `capture`, only that entry's
        loss counts (a user's crontab hidden from a non-root run says nothing of /etc/cron.d)."""
        found = [f for f in self.lost.get(section, []) if capture is None or f.split(" ")[0] == capture]
        if found:
            return f"the {self.side}'s {section} are incomplete ({', '.join(found)})"
        return None

    def notes(self) -> list[str]:
        out = [f"{self.side}: {section} incomplete ({', '.join(found)})"
               for section, found in sorted(self.lost.items())]
        if self.not_root:
            out.append(f"{self.side}: collected without root (sockets of other users' processes have no process)")
        return out


@dataclass
class Judge:
    source: Evidence
    target: Evidence
    roles: Roles
    blocked_services: set[str]
    reported_services: set[str]
    unnamed_target_sockets: dict[str, list[str]]  # protocol -> sockets only on target, program unknown
    replaced_services: set[str] = field(default_factory=set)  # swapped for another program doing the job

    def role(self, name: str | None) -> Role | None:
        return next((r for r in self.roles.roles if r.name == name), None) if name else None

    def check_of(self, role: str | None) -> str | None:
        found = self.role(role)
        return found.check if found and found.check else None

    def data_role(self, role: str | None) -> bool:
        return any(r.name == role and r.data for r in self.roles.roles)


def _major_minor(release: object) -> tuple[str, ...]:
    return tuple(re.findall(r"\d+", str(release or ""))[:2])


def judge_system(c: Change, j: Judge) -> Judged:
    if c.key in ("hostname", "machine_id"):
        return "info", "identity", None
    if c.key == "kernel_release" and _major_minor(c.source) != _major_minor(c.target):
        return "warning", "kernel-series", "check kernel modules, drivers and sysctl settings the workload relies on"
    if c.key == "arch":
        return "warning", "arch-changed", "binaries, local builds and data files tied to the architecture must " \
                                          "be rebuilt"
    if c.key == "distro_id":
        return "warning", "distro-changed", "package names, paths and defaults differ: check each service's " \
                                            "configuration"
    return "info", "release-changed", None


def judge_init(c: Change, j: Judge) -> Judged:
    if c.key == "active":
        if c.target == "openrc":
            return "warning", "init-changed", "check that every local init script or job is in an OpenRC runlevel " \
                                              "(rc-update add NAME default) and starts at boot"
        return "warning", "init-changed", "check that every local init script or job became a unit (or the " \
                                          "other way round) and starts at boot"
    if c.key == "default_boot":
        order = ("rescue.target", "multi-user.target", "graphical.target")
        if c.source in order and c.target in order and order.index(c.target) < order.index(c.source):
            return "warning", "boot-level-lower", "services that start only in the source's level will not start"
    return "info", "boot-level", None


def judge_service(c: Change, j: Judge) -> Judged:
    if c.kind == "only-in-target":
        return "info", "new-service", None
    if c.kind == "only-in-source":
        s, pair = c.source, c.pair
        if pair is not None and pair.how == "provided-by":
            return "info", "provided-by", None
        if pair is not None and pair.how == "built-in":
            return "warning", "role-builtin", j.check_of(c.role) or f"check that {pair.target} does all {s} did"
        if not (s["running"] or s["enabled"]):
            return "info", "not-in-use", None
        if s["oneshot"] and s["enabled_state"] == "in runlevel sysinit":
            # OpenRC's sysinit scripts are SysV's rcS ones (mounts, hostname, networking, sysctl):
            # ran once at boot, done by the target's init system its own way
            return "info", "one-shot", None
        lost = j.target.incomplete("services")
        if lost:
            return "warning", "unknown-evidence", f"unknown: {lost}; check the target by hand"
        what = "running and starting at boot" if s["running"] and s["enabled"] else \
            "running" if s["running"] else "starting at boot"
        return "blocker", "service-missing", f"it was {what} on source: install and enable it on target, or " \
                                             "move its job elsewhere and set this finding aside"
    if c.field == "replaced-by":
        return "warning", "role-swapped", j.check_of(c.role) or "check that its configuration was carried over"
    if c.field != "state":
        return "info", "state-unknown", None
    a, b = c.source, c.target
    verdicts: list[Judged] = []
    if a["running"] and not b["running"]:
        if a["oneshot"] or b["oneshot"]:
            verdicts.append(("info", "one-shot", None))
        elif b["running"] is None:
            verdicts.append(("info", "state-unknown", None))
        else:
            verdicts.append(("blocker", "service-stopped", "start it on target (and find out why it stopped)"))
    if a["enabled"] and not b["enabled"]:
        if b["enabled"] is None and (b["enabled_state"] in STATIC_STATES or b["enabled_state"] is None):
            verdicts.append(("info", "static-unit" if b["enabled_state"] else "state-unknown", None))
        elif b["enabled"] is None:
            verdicts.append(("info", "state-unknown", None))
        else:
            verdicts.append(("blocker", "service-disabled", "enable it on target so that it starts at boot"))
    if not verdicts:
        verdicts.append(("info", "more-on-target" if (b["running"] and not a["running"]) or
                         (b["enabled"] and not a["enabled"]) else "state-unknown", None))
    return max(verdicts, key=lambda v: SEVERITY_ORDER[v[0]])


def judge_runlevels(c: Change, j: Judge) -> Judged:
    if c.kind == "changed":
        a, b = c.source, c.target
        if a["default"] in a["levels"] and b["default"] not in b["levels"] and b["enabled"]:
            return "warning", "not-at-boot", f"it is enabled on target but not for {b['default']}, the level the " \
                                             "target boots into: enable it for that target"
    return "info", "boot-levels", None


def judge_port(c: Change, j: Judge) -> Judged:
    who = c.attribution
    if c.kind == "only-in-target":
        if c.target["exposure"] in ("all", "host"):
            return "warning", "exposed-port", "nothing listened there on source: check that it is meant to be " \
                                              "reachable, and that the firewall agrees"
        return "info", "new-listener", None
    if c.kind == "only-in-source":
        if who and who.service and who.service in j.blocked_services:
            return "info", "follows-service", None
        if c.key.startswith("unix:") and who and who.service and who.service in j.replaced_services:
            # the program that made it is replaced by another doing its job (a warning under
            # services says what to port): its own socket goes with it, as exim's notify socket
            return "info", "follows-service", None
        lost = j.target.incomplete("ports")
        if lost:
            return "warning", "unknown-evidence", f"unknown: {lost}; check the target by hand"
        if j.target.not_root and j.unnamed_target_sockets.get(c.key.split("/", 1)[0]):
            return "warning", "unknown-evidence", "unknown: the target was collected without root and cannot " \
                "name what listens on " + ", ".join(j.unnamed_target_sockets[c.key.split("/", 1)[0]]) + \
                ": check whether the service moved there"
        server = (who.service or who.process) if who else None
        return "blocker", "port-missing", (f"{server} served it on source; " if server else "") + \
            "start what serves it on target, or repoint its clients"
    if c.field == "bind":
        if c.pair and c.pair.how == "narrower-bind":
            return "blocker", "port-narrowed", "clients from other hosts are cut off: bind it to all addresses " \
                                               "again (the daemon's listen address)"
        return "warning", "exposed-port", "reachable from more addresses than on source: check the firewall and " \
                                          "the daemon's own access rules"
    if c.field == "port":
        return "warning", "port-moved", "update the firewall rules, the clients (and for sshd, the admins' " \
                                        "ssh configs and scripts) to the new port"
    if c.field == "path":
        return "info", "successor", None
    if c.field == "programs":
        if not c.source["programs"] or not c.target["programs"]:
            return "info", "unknown-evidence", None
        if c.target.get("same_role"):
            return "info", "role-swapped", None
        return "warning", "other-program", "another program answers there: check that it speaks to the clients " \
                                           "as the old one did"
    return "info", "other-program", None


def judge_package(c: Change, j: Judge) -> Judged:
    who = c.attribution
    # behind a service this report already judges, or behind an endpoint: that finding speaks for it
    behind = bool(who and ((who.service and who.service in j.reported_services) or who.ports))
    chosen = c.installed_as in ("chosen", "unknown")
    if c.kind == "only-in-target":
        return "info", "new-package", None
    if c.kind == "only-in-source" or (c.field == "status" and c.source == "installed"):
        if c.pair is not None and c.pair.how == "provided-by":
            return "info", "provided-by", None
        if c.kind == "only-in-source" and c.source["status"] != "installed":
            return "info", "not-installed", None
        if behind:
            return "info", "follows-service", None
        if chosen:
            lost = j.target.incomplete("packages")
            if lost:
                return "warning", "unknown-evidence", f"unknown: {lost}; check the target by hand"
            return "warning", "package-dropped", "an admin installed it on source (not the base system, not a " \
                                                 "dependency): install it on target if the workload needs it"
        return "info", {"base": "base-system"}.get(c.installed_as or "", c.installed_as or "dependency"), None
    if c.field == "replaced-by":
        return "warning", "role-swapped", j.check_of(c.role) or "check that its configuration was carried over"
    if c.field == "version":
        serves = bool(who and who.ports)
        # "unknown" (an older collector) would make every base package a candidate: only a package
        # an admin is known to have chosen, one behind an endpoint, or one holding data counts
        relevant = c.installed_as == "chosen" or serves or j.data_role(c.role)
        if c.movement in ("downgraded", "unordered") and relevant:
            return "warning", "downgraded", "an older release than on source: check that the workload does not " \
                                            "need what the newer one had"
        if c.new_series and relevant:
            role = j.role(c.role)
            return "warning", "new-series", (role.upgrade if role else "") or (
                "a new release series of what serves clients: check its configuration (deprecated options, "
                "new defaults) and what connects to it" if serves else
                "check the code and configuration that use it against the new release")
        if c.pair is not None and c.pair.how in ("successor", "library-soname"):
            return "info", "successor", None
        if c.installed_as in ("base", "library", "dependency") and c.new_series:
            return "info", {"base": "base-system"}.get(c.installed_as, c.installed_as), None
        return "info", c.movement if c.movement in ("repackaged",) else "upgraded", None
    if c.field == "arch":
        return "info", "other-arch", None
    return "info", "upgraded", None


def judge_job(c: Change, j: Judge) -> Judged:
    if c.kind == "only-in-target":
        return "info", "new-job", None
    if c.kind == "changed" and c.field == "where":
        return "info", "job-converted", None
    package = c.source.get("package") if isinstance(c.source, dict) else None
    kind = c.source.get("kind") if isinstance(c.source, dict) else None
    if c.kind == "only-in-source":
        if kind == "at":
            return "warning", "pending-at", "a one-off job waiting on the source: run it there before cutover, " \
                                            "or queue it again on target"
        if package not in (None, "?"):
            return "info", "package-job", None
        lost = j.target.incomplete("jobs", c.source.get("capture"))
        if lost:
            return "warning", "unknown-evidence", f"unknown: {lost}; check the target by hand"
        if package == "?" and kind not in ("crontab",):
            return "warning", "unknown-evidence", "unknown: the bundle does not say whether a package owns its " \
                                                  "file; if none does, recreate it on target"
        return "blocker", "job-missing", "it belongs to the workload (no package ships it) and stops running at " \
                                         "cutover: recreate it on target (copy the cron file, crontab -u USER, or " \
                                         "a timer)"
    return "warning", "job-changed", "it is scheduled otherwise on target: check that is intended"


def judge_unit(c: Change, j: Judge) -> Judged:
    if c.kind == "only-in-target":
        return "info", "new-unit", None
    if c.kind == "changed":
        if c.field == "kind":
            return "info", "unit-converted", None
        return "info", "unit-changed", None
    names = set(c.key.split(" = "))
    names |= {n[:-len(".service")] for n in names if n.endswith(".service")}
    if names & j.reported_services:
        return "info", "follows-service", None
    if c.source.get("kind") == "drop-in":
        return "warning", "override-missing", "an admin's override of a unit is not on target: copy it to " \
                                              "/etc/systemd/system/UNIT.d/ if the target's unit needs it too"
    lost = j.target.incomplete("services")
    if lost:
        return "warning", "unknown-evidence", f"unknown: {lost}; check the target by hand"
    if c.source.get("package") == "?":
        return "warning", "unknown-evidence", "unknown: the bundle does not say whether a package owns it"
    return "blocker", "unit-missing", "the workload's own unit or script (no package owns it) is not on " \
                                      "target: copy it over and enable it"


def judge_connection(c: Change, j: Judge) -> Judged:
    if c.kind == "only-in-source":
        return "warning", "dependency-unseen", f"check that the target can reach {c.key} (routes, firewalls, " \
                                               "the remote side's access rules such as pg_hba.conf) before cutover"
    return "info", "new-dependency", None


JUDGES = {"system": judge_system, "init": judge_init, "services": judge_service, "runlevels": judge_runlevels,
          "ports": judge_port, "packages": judge_package, "jobs": judge_job, "units": judge_unit,
          "connections": judge_connection}


def _cover(changes: list[Change]) -> None:
    """The records of one upgrade are one warning: PostgreSQL 13 to 15 is the server package and
    its meta package, PHP 7.4 to 8.2 every php7.4-* a person chose; and one wildcard socket that
    replaces two loopback ones is one exposure.  The record that serves something stays a
    warning; the others say which one covers them."""
    groups: dict[tuple, list[Change]] = {}
    for c in changes:
        if c.section == "packages" and c.reason == "new-series" and not c.ignored:
            names = c.key.split(" = ")
            a = names[0].split(":")[1] if names[0].count(":") == 2 else names[0]
            b = names[-1].split(":")[1] if names[-1].count(":") == 2 else names[-1]
            prefix = re.split(r"[\d.]", a, maxsplit=1)[0].rstrip("-")
            key = ("role", c.role) if c.role else ("name", prefix, tuple(name_numbers(a)), tuple(name_numbers(b)))
            groups.setdefault(key, []).append(c)
        elif c.section == "ports" and c.reason == "exposed-port" and c.pair and not c.ignored:
            groups.setdefault(("socket", c.pair.target), []).append(c)  # 127.0.0.1 and ::1, one wildcard
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda c: (not (c.attribution and (c.attribution.service or c.attribution.ports)), c.key))
        lead = members[0]
        for c in members[1:]:
            c.severity, c.reason, c.hint = "info", "covered", f"part of the upgrade reported for {lead.key}"


def _lacking(report: DiffReport) -> dict[str, str]:
    """What the target lacks of the source's map: services and sockets nothing serves there, and
    the endpoints it was not seen reaching."""
    out: dict[str, str] = {}
    for c in report.changes:
        if c.kind == "identical" or c.ignored:
            continue
        if c.section == "services" and c.severity == "blocker":
            for name in c.key.split(" = ")[:1]:
                out[name] = "missing on target" if c.kind == "only-in-source" else "not running on target"
        elif c.section == "ports" and c.kind == "only-in-source":
            out[c.key] = "nothing listens on target"
        elif c.section == "ports" and c.pair and c.pair.how in ("moved", "narrower-bind"):
            out[c.pair.source] = f"on target: {c.pair.target}"
        elif c.section == "services" and c.field == "replaced-by" and c.pair:
            out[c.pair.source] = f"replaced by {c.pair.target}"
        elif c.section == "connections" and c.kind == "only-in-source":
            out[c.key] = "not reached by target"
    return out


def judge(report: DiffReport, rules: list[Rule], fail_on: FailOn = "any", roles: Roles | None = None) -> DiffReport:
    """Sets each change's severity, reason, hint and ignore reason, recounts the summary, and adds
    the verdict.  Services are judged first: the ports and packages of a service already reported
    follow it."""
    j = Judge(Evidence(report.source, "source"), Evidence(report.target, "target"),
              roles if roles is not None else load_roles(), set(), set(), {})
    for change in report.changes:
        if change.section == "ports" and change.kind == "only-in-target" and not change.target["programs"]:
            j.unnamed_target_sockets.setdefault(change.key.split("/", 1)[0], []).append(change.key)
    order = {"system": 0, "init": 0, "services": 0, "runlevels": 1, "ports": 1, "packages": 1, "jobs": 1,
             "units": 1, "connections": 1}
    for stage in (0, 1):
        for change in report.changes:
            if order[change.section] != stage:
                continue
            if change.kind == "identical":
                change.severity, change.reason, change.hint = "info", None, None
                continue
            change.severity, change.reason, change.hint = JUDGES[change.section](change, j)
            rule = matching_rule(change, rules)
            change.ignored = rule.describe() if rule else None
            if change.hint is None or change.severity == "info":
                change.hint = None
            # a service's finding speaks for its sockets and packages, set aside or not
            if stage == 0 and change.section == "services" and change.severity != "info":
                j.reported_services.update(change.key.split(" = "))
                if change.severity == "blocker":
                    j.blocked_services.update(change.key.split(" = "))
                if change.reason in ("role-swapped", "role-builtin"):
                    j.replaced_services.update(change.key.split(" = "))
    _cover(report.changes)
    if report.source_map is not None:
        report.source_map.lacking = _lacking(report)
    summary: dict[str, Counts] = {}
    for section in report.sections:
        summary[section] = Counts(identical=report.summary[section].identical)
    for change in report.changes:
        summary[change.section].add(change)
    report.summary = summary
    totals = {s: sum(getattr(c, s) for c in summary.values()) for s in ("blocker", "warning", "info", "ignored")}
    if totals["blocker"]:
        verdict = "NOT READY"
    elif totals["warning"]:
        verdict = "READY WITH WARNINGS"
    else:
        verdict = "READY"
    kinds = Counter(f"{c.section}:{c.reason}" for c in report.changes
                    if c.kind != "identical" and not c.ignored and c.severity == "info")
    report.judgement = Judgement(verdict=verdict, fail_on=fail_on, evidence=j.source.notes() + j.target.notes(),
                                 kinds=dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))), **totals)
    return report


def fails(report: DiffReport) -> bool:
    """Whether the report should exit 1 under its --fail-on level (as diff(1) when 'any')."""
    j = report.judgement
    if j is None:
        return report.differences > 0
    if j.fail_on == "blocker":
        return j.blocker > 0
    if j.fail_on == "warning":
        return j.blocker + j.warning > 0
    return j.blocker + j.warning + j.info > 0


def headline(report: DiffReport) -> str:
    j = report.judgement
    if j is None:
        return f"{report.differences} differences"
    counts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in
              ((j.blocker, "blocker"), (j.warning, "warning")) if n or j.verdict != "READY"]
    tail = f"; {j.info} other differences" if j.info else ""
    tail += f"; {j.ignored} expected differences set aside" if j.ignored else ""
    tail += "; evidence incomplete" if j.evidence else ""
    return f"{j.verdict}: {', '.join(counts) or 'no differences that matter'}{tail}"


def kind_phrase(kind: str, count: int) -> str:
    """ "145 packages upgraded within their release series" for a Judgement.kinds entry."""
    section, _, reason = kind.partition(":")
    phrase = REASONS.get(reason, f"{section} ({reason})")
    if count == 1:  # "1 record of a service already reported", not "1 records"
        phrase = _SINGULAR.sub(lambda m: _NOUNS[m.group(0)], phrase)
        phrase = _THIRD_PERSON.sub(lambda m: _VERBS[m.group(0)], phrase)
    return f"{count} {phrase}"


# The plural nouns of REASONS' phrases and their singulars.
_NOUNS = {"records": "record", "services": "service", "jobs": "job", "units": "unit", "endpoints": "endpoint",
          "sockets": "socket", "names": "name", "packages": "package", "libraries": "library",
          "dependencies": "dependency", "successors": "successor", "hosts": "host", "facts": "fact",
          "scripts": "script"}
_SINGULAR = re.compile(r"\b(?:" + "|".join(_NOUNS) + r")\b")
# and the verbs that follow such a noun ("1 service that runs", not "that run")
_VERBS = {"that run or start": "that runs or starts", "that no longer start": "that no longer starts",
          "that run": "that runs"}
_THIRD_PERSON = re.compile("|".join(sorted(_VERBS, key=len, reverse=True)))

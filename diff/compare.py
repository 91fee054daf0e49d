"""Comparing two snapshots into one DiffReport.

Every section becomes a map {natural key: Rec}, where Rec.view holds only what is compared
(no pids, no provenance) and Rec.shown what a reader (and the verdict) needs to know of the
record.  Records present on one side only are then paired where they are the same thing under
another name (names.toml, a new release's name, another arch or package manager), another
program doing the same job (roles.toml), or the same socket bound or numbered otherwise.  The
two maps are walked once: equal views cost a dict comparison, and only views that differ go
through deepdiff, whose result is converted here, once, into Change objects.  Severity is judged
afterwards (verdict.py), from the facts each Change carries.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .attribution import HostAttribution, Who, attribute, port_key
from .changes import SECTIONS, Change, ClientList, Counts, DiffReport, HostMap, HostRef, Pair, Readiness
from .models import Package, Service, Snapshot
from .names import NameMap
from .packages import Classifier, new_series, stem
from .roles import Roles
from .roles import load as load_roles
from .versions import movement

View = dict[str, Any]
SYSTEM_FIELDS = ("hostname", "kernel_release", "kernel_version", "arch", "distro_id", "distro_version",
                 "distro_codename", "distro_pretty_name", "issue", "machine_id")
INIT_FIELDS = ("active", "pid1", "present", "default_runlevel", "default_target", "default_boot",
               "current_runlevel")
# systemd's own runlevelN.target aliases: the target a SysV default runlevel corresponds to
RUNLEVEL_TARGETS = {"0": "poweroff.target", "1": "rescue.target", "S": "rescue.target", "2": "multi-user.target",
                    "3": "multi-user.target", "4": "multi-user.target", "5": "graphical.target",
                    "6": "reboot.target"}
# The boot levels every init system shares, as the seed article maps them: SysV and Upstart
# runlevels, systemd targets (graphical.target pulls in multi-user.target, which pulls in
# sysinit.target; rescue.target pulls in sysinit.target too) and OpenRC runlevels.
LEVEL_OF_RUNLEVEL = {"S": ("rescue", "multi-user", "graphical"), "1": ("rescue",), "2": ("multi-user",),
                     "3": ("multi-user",), "4": ("multi-user",), "5": ("graphical",)}
LEVEL_OF_TARGET = {"rescue.target": "rescue", "emergency.target": "rescue", "multi-user.target": "multi-user",
                   "graphical.target": "graphical"}
# OpenRC's runlevels by name.  A host boots through sysinit, then boot, then default (Debian's
# /etc/init.d/rc runs `openrc default` for SysV runlevels 2-5, `openrc sysinit` for rcS): a script
# in sysinit or boot starts in every level, like SysV's S and systemd's sysinit.target; default
# is where daemons go, SysV's 2-5 and multi-user.target (display managers are in default too, so
# it covers graphical.target).  single (Gentoo, Alpine) and recovery (Debian, SysV's 1) are
# rescue.target.  shutdown, off and reboot (SysV's 0 and 6), nonetwork (a fallback stacked by
# OpenRC) and an admin's own runlevels start nothing at boot.
LEVEL_OF_OPENRC = {"sysinit": ("rescue", "multi-user", "graphical"), "boot": ("rescue", "multi-user", "graphical"),
                   "default": ("multi-user", "graphical"), "single": ("rescue",), "recovery": ("rescue",)}
OPENRC_ORDER = ("sysinit", "boot", "default", "single", "recovery", "nonetwork", "shutdown", "off", "reboot")
# the systemd target an OpenRC runlevel a host is in corresponds to
OPENRC_TARGETS = {"default": "multi-user.target", "single": "rescue.target", "recovery": "rescue.target",
                  "shutdown": "poweroff.target", "off": "poweroff.target", "reboot": "reboot.target"}
EARLY_TARGETS = ("sysinit.target", "local-fs.target", "local-fs-pre.target", "swap.target", "cryptsetup.target")
BOOT_ORDER = ("rescue", "multi-user", "graphical")


@dataclass(slots=True)
class Rec:
    """One record of a section: what is compared (view) and what helps a reader (name, shown)."""

    view: View
    name: str
    shown: dict[str, Any] | None = None
    attribution: Who | None = None
    origin: Any = None  # the snapshot record it stands for, where the section needs more of it
    extra: tuple[str, ...] = ()  # attributes of origin carried (not compared) by an only-in change

    def whole(self) -> View:
        if not self.extra:
            return self.view
        return {**self.view, **{name: getattr(self.origin, name) for name in self.extra}}


@dataclass
class Host:
    snap: Snapshot
    who: HostAttribution
    installed_as: Classifier


@dataclass
class Context:
    source: Host
    target: Host
    names: NameMap
    roles: Roles
    include_identical: bool
    _services: tuple[dict[str, Rec], dict[str, Rec], dict[str, Pair]] | None = field(default=None, repr=False)


LOSSY_STATUSES = ("missing", "failed", "timeout", "truncated", "denied", "partial", "error")


def host_ref(bundle_name: str, snap: Snapshot, manifest: dict[str, Any]) -> HostRef:
    collector = manifest.get("collector") or {}
    incomplete: dict[str, list[str]] = {}
    for entry in manifest.get("entries") or []:
        if entry.get("status") in LOSSY_STATUSES:
            incomplete.setdefault(entry["status"], []).append(entry["id"])
    return HostRef(bundle=bundle_name, hostname=snap.system.hostname, distro=snap.system.distro_pretty_name,
                   kernel_release=snap.system.kernel_release, init=snap.init.active,
                   collected_at=manifest.get("started_at"), collector_version=collector.get("version"),
                   duration=manifest.get("duration"), euid=manifest.get("euid"), incomplete=incomplete,
                   redacted=bool(manifest.get("redaction")))


def compare(source: Snapshot, target: Snapshot, source_ref: HostRef, target_ref: HostRef, names: NameMap,
            sections: Iterable[str] = SECTIONS, include_identical: bool = False,
            roles: Roles | None = None) -> DiffReport:
    chosen = [s for s in SECTIONS if s in set(sections)]
    ctx = Context(Host(source, attribute(source, names), Classifier(source)),
                  Host(target, attribute(target, names), Classifier(target)), names,
                  roles if roles is not None else load_roles(), include_identical)
    changes: list[Change] = []
    summary: dict[str, Counts] = {}
    for section in chosen:
        found, identical = SECTION_COMPARERS[section](ctx)
        changes.extend(found)
        summary[section] = Counts(identical=identical)
    return DiffReport(source=source_ref, target=target_ref, sections=chosen, summary=summary, changes=changes,
                      readiness=[ssh_readiness(source, target, target_ref)], clients=clients_to_repoint(source),
                      source_map=host_map(f"{source_ref.hostname or source_ref.bundle}: what it serves, who uses it, "
                                          "what it needs", source, ctx.source.who))


# --- the walk shared by every section --------------------------------------------------------

# describe(kind, field, a, b, va, vb, pair) -> one line; a and b are the records (None when absent),
# va and vb the compared values: whole views, or for kind "changed" the values of `field`.
Describe = Callable[[str, str | None, Rec | None, Rec | None, Any, Any, Pair | None], str]
Compared = tuple[list[Change], int]


def walk(section: str, src: dict[str, Rec], tgt: dict[str, Rec], describe: Describe, ctx: Context,
         pairs: dict[str, Pair] | None = None, order: Callable[[str], Any] | None = None,
         replacements: bool = True) -> Compared:
    """Changes between two keyed maps, and how many records are identical (built only if asked).
    A pair of two programs doing one job is a change of its own ("replaced-by"), unless the
    section only borrows another's pairing (replacements=False).

    Equal views cost one dict comparison; the views that differ go to deepdiff together, once."""
    pairs = pairs or {}
    keys = sorted(src.keys() | tgt.keys(), key=order)
    differing = [k for k in keys if k in src and k in tgt and src[k].view != tgt[k].view]
    fields = field_changes({k: src[k].view for k in differing}, {k: tgt[k].view for k in differing}) \
        if differing else {}
    out = []
    identical = 0
    for key in keys:
        a, b = src.get(key), tgt.get(key)
        pair = pairs.get(key)
        if b is None:
            out.append(_change(section, key, "only-in-source", None, a, None, a.whole(), None, describe, pair))
        elif a is None:
            out.append(_change(section, key, "only-in-target", None, None, b, None, b.whole(), describe, pair))
        else:
            announce = replacements and pair is not None and pair.how == "replacement"
            if announce:  # another program doing the job: say so
                out.append(_change(section, key, "changed", "replaced-by", a, b, pair.source, pair.target,
                                   describe, pair))
            if key in fields:
                for fld, va, vb in fields[key]:
                    out.append(_change(section, key, "changed", fld, a, b, va, vb, describe, pair))
            elif not announce:
                identical += 1
                if ctx.include_identical:
                    out.append(_change(section, key, "identical", None, a, b, a.view, b.view, describe, pair))
    return out, identical


def _change(section: str, key: str, kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
            describe: Describe, pair: Pair | None) -> Change:
    who = (a or b).attribution
    return Change(section=section, key=key, kind=kind, field=fld, source=va, target=vb, pair=pair,
                  attribution=who.model() if who else None,
                  movement=(a.shown or {}).get("movement") if a and b and fld == "version" else None,
                  text=describe(kind, fld, a, b, va, vb, pair))


def field_changes(a: dict[str, View], b: dict[str, View]) -> dict[str, list[tuple[str, Any, Any]]]:
    """For records whose views differ (same keys in a and b), the fields that differ:
    {record key: [(field, source value, target value)]}, fields in name order.

    A field holding a value (a version, a list of targets) is reported whole.  A dict-valued
    field is reported per key ("runlevels.2"): one deepdiff of all of those finds where they
    differ, so its cost follows the nested differences, not the records.
    """
    found: dict[str, dict[str, tuple[Any, Any]]] = defaultdict(dict)
    nested_a: dict[str, View] = defaultdict(dict)
    nested_b: dict[str, View] = defaultdict(dict)
    for key, view_a in a.items():
        view_b = b[key]
        for top in view_a.keys() | view_b.keys():
            va, vb = view_a.get(top), view_b.get(top)
            if va == vb:
                continue
            if isinstance(va, dict) and isinstance(vb, dict):
                nested_a[key][top], nested_b[key][top] = va, vb
            else:
                found[key][top] = (va, vb)
    if nested_a:
        from deepdiff import DeepDiff  # imported on the first nested difference, not at start-up
        for report in DeepDiff(dict(nested_a), dict(nested_b), view="tree", verbose_level=2).values():
            for node in report:
                key, top, inner = node.path(output_format="list")[:3]
                found[key][f"{top}.{inner}"] = (nested_a[key][top].get(inner), nested_b[key][top].get(inner))
    return {key: [(name, va, vb) for name, (va, vb) in sorted(fields.items())] for key, fields in found.items()}


# A matcher names the group a lone record belongs to (or None): (how, group_of, provided_by).
Matcher = tuple[str, Callable[[Rec], str | None], bool]


def pair_up(src: dict[str, Rec], tgt: dict[str, Rec], matchers: list[Matcher],
            replacement: Callable[[str], bool] = lambda f: False) -> dict[str, Pair]:
    """Pairs records present on one side only that are the same thing: for each matcher in turn
    (a name for the group a record belongs to, or None), one-to-one within a group.  With
    provided_by, a source record whose group still exists on the target, already matched, is
    "provided-by" it.  Paired records move to the key "source key = target key".  Only unmatched
    records are looked at, so the cost follows the differences, not the size of the hosts."""
    pairs: dict[str, Pair] = {}
    for how, group_of, provided_by in matchers:
        lone_src = sorted(k for k in src if k not in tgt and k not in pairs)
        if not lone_src:
            break
        lone_tgt: dict[str, list[str]] = defaultdict(list)
        for key in sorted(k for k in tgt if k not in src):
            group = group_of(tgt[key])
            if group is not None:
                lone_tgt[group].append(key)
        any_tgt: dict[str, str] | None = None  # group -> a target name having it, matched or not
        for key in lone_src:
            group = group_of(src[key])
            if group is None:
                continue
            if lone_tgt.get(group):
                other = lone_tgt[group].pop(0)
                new = f"{key} = {other}"
                src[new], tgt[new] = src.pop(key), tgt.pop(other)
                kind = "replacement" if how == "same-function" and replacement(group) else how
                pairs[new] = Pair(source=src[new].name, target=tgt[new].name, function=group, how=kind)
            elif provided_by:
                if any_tgt is None:
                    any_tgt = {}
                    for other in sorted(tgt):
                        found = group_of(tgt[other])
                        if found is not None:
                            any_tgt.setdefault(found, tgt[other].name)
                if group in any_tgt:
                    pairs[key] = Pair(source=src[key].name, target=any_tgt[group], function=group,
                                      how="provided-by")
    return pairs


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    return str(value)


def _label(a: Rec | None, b: Rec | None, pair: Pair | None) -> str:
    """The record's name; for a pair of differently named records both names."""
    if pair is not None and pair.how != "provided-by" and a and b and pair.source != pair.target:
        return f"{pair.source} (source) = {pair.target} (target)"
    return (a or b).name


def _who(att: Who | None, service: bool = True, ports: bool = True) -> str:
    """ " [service apache2; serves tcp/*:80; package apache2-bin]" for a text line."""
    if att is None:
        return ""
    parts = []
    if service and att.service:
        parts.append(f"service {att.service}")
    if ports and att.ports:
        parts.append("serves " + ", ".join(att.ports))
    if att.package:
        parts.append(f"package {att.package}")
    return f" [{'; '.join(parts)}]" if parts else ""


# --- system and init: one record of named facts -------------------------------------------

def _facts_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                    pair: Pair | None) -> str:
    name = (a or b).name
    if kind == "changed":
        return f"{name}: {_show(va)} on source, {_show(vb)} on target"
    if kind == "identical":
        return f"{name}: {_show(va['value'])} on both"
    return f"{name}: {_show(va['value']) if a else 'absent'} on source, {_show(vb['value']) if b else 'absent'} on target"


def compare_system(ctx: Context) -> Compared:
    def recs(snap: Snapshot) -> dict[str, Rec]:
        return {f: Rec({"value": getattr(snap.system, f)}, f) for f in SYSTEM_FIELDS}
    return walk("system", recs(ctx.source.snap), recs(ctx.target.snap), _facts_describe, ctx)


def default_boot(snap: Snapshot) -> str | None:
    """What the host boots into, as a systemd target: the default target, or its SysV runlevel's;
    an OpenRC host without a SysV default (Alpine's busybox init) boots into OpenRC's default."""
    if snap.init.default_target:
        return snap.init.default_target
    if snap.init.default_runlevel in RUNLEVEL_TARGETS:
        return RUNLEVEL_TARGETS[snap.init.default_runlevel]
    if snap.init.active == "openrc":
        return OPENRC_TARGETS["default"]
    return None


def default_level(snap: Snapshot) -> str | None:
    """The shared boot level (rescue, multi-user, graphical) the host boots into."""
    return LEVEL_OF_TARGET.get(default_boot(snap) or "")


def compare_init(ctx: Context) -> Compared:
    def recs(snap: Snapshot) -> dict[str, Rec]:
        values = snap.init.model_dump()
        values["default_boot"] = default_boot(snap)
        return {f: Rec({"value": values[f]}, f, {"level": default_level(snap)} if f == "default_boot" else None)
                for f in INIT_FIELDS}
    return walk("init", recs(ctx.source.snap), recs(ctx.target.snap), _facts_describe, ctx)


# --- services -----------------------------------------------------------------------------------

def _running(value: bool | None) -> str:
    return {True: "running", False: "stopped", None: "state unknown"}[value]


def _enabled(value: bool | None, state: str | None = None) -> str:
    if state and (value is None or state not in ("enabled", "disabled")):
        return state
    return {True: "enabled", False: "disabled", None: "boot state unknown"}[value]


def oneshot(svc: Service) -> bool:
    """A job that runs once and exits (a boot script, a systemd oneshot), whose "running" means
    nothing: a unit active/exited, a SysV script started only in rcS (an OpenRC one only in
    sysinit, its counterpart), or one whose script names no program and no pid file and that does
    not run.  OpenRC says "started" of every script it ran, daemon or not: one naming no program
    is a one-shot even so (rc.local, rmnologin)."""
    if svc.state and svc.state.endswith("/exited"):
        return True
    on = {level for level, state in svc.runlevels.items() if state == "on"}
    if (svc.init == "sysv" and on == {"S"}) or (svc.init == "openrc" and on == {"sysinit"}):
        return True
    if svc.init == "openrc" and svc.daemons == []:
        return True
    return svc.init == "sysv" and svc.daemons == [] and not svc.running


def _state(svc: Service) -> View:
    """The whole state of a service, as a state change carries it."""
    return {"running": svc.running, "enabled": svc.enabled, "unit_state": svc.state,
            "enabled_state": svc.enabled_state, "oneshot": oneshot(svc), "disabled_by": svc.disabled_by}


def _state_words(rec: Rec) -> str:
    s = rec.shown
    return f"{_running(s['running'])} and {_enabled(s['enabled'], s['enabled_state'])}"


def _service_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                      pair: Pair | None) -> str:
    name = _label(a, b, pair)
    if kind == "only-in-source":
        if pair is not None and pair.how == "built-in":
            gone = f"; on target {pair.target}, part of its init system, does its job"
        elif pair is not None:
            gone = f"; {pair.function} is provided by {pair.target} on target"
        else:
            gone = ", absent on target"
        return f"{name}: {_state_words(a)} on source{gone}" + _who(a.attribution, service=False)
    if kind == "only-in-target":
        return f"{name}: absent on source, {_state_words(b)} on target"
    if kind == "identical":
        if _state_words(a) != _state_words(b):  # alike in other init systems' words
            return f"{name}: {_state_words(a)} on source, {_state_words(b)} on target: alike"
        return f"{name}: {_state_words(a)} on both"
    if fld == "replaced-by":
        return f"{pair.source} on source is replaced by {pair.target} on target ({pair.function})"
    return f"{name}: {_state_words(a)} on source, {_state_words(b)} on target" + _who(a.attribution, service=False)


def service_maps(ctx: Context) -> tuple[dict[str, Rec], dict[str, Rec], dict[str, Pair]]:
    """The services of both hosts keyed alike: same name, then names.toml's names of one program,
    then a new release's name (php7.4-fpm, php8.2-fpm), then another program doing the job
    (roles.toml); a job the target's init system does itself is noted on the source record.
    Built once, for the services and runlevels sections."""
    if ctx._services is not None:
        return ctx._services

    def recs(host: Host) -> dict[str, Rec]:
        return {name: Rec({"running": s.running, "enabled": s.enabled}, name, _state(s), host.who.for_service(name),
                          origin=s) for name, s in host.snap.services.items()}
    src, tgt = recs(ctx.source), recs(ctx.target)

    def function(rec: Rec) -> str | None:
        found = ctx.names.function("services", rec.name)
        return found.name if found else None

    def role(rec: Rec) -> str | None:
        found = ctx.roles.of("services", rec.name, ctx.names)
        return found.name if found else None
    pairs = pair_up(src, tgt, [("same-function", function, True), ("successor", lambda r: stem(r.name), False),
                               ("replacement", role, False)], replacement=_replacement(ctx.names))
    running = {name for name, s in ctx.target.snap.services.items() if s.running}
    for key in [k for k in src if k not in tgt and k not in pairs]:
        found = ctx.roles.of("services", src[key].name, ctx.names)
        builtin = next((b for b in (found.builtin if found else ()) if b in running), None)
        if builtin:
            pairs[key] = Pair(source=src[key].name, target=builtin, function=found.name, how="built-in")
    ctx._services = (src, tgt, pairs)
    return ctx._services


def compare_services(ctx: Context) -> Compared:
    src, tgt, pairs = service_maps(ctx)
    found, identical = walk("services", src, tgt, _service_describe, ctx, pairs)
    out = []
    seen: set[str] = set()
    for change in found:
        # running and enabled are one state: one change a service, carrying both sides whole
        if change.kind == "changed" and change.field in ("running", "enabled"):
            if change.key in seen:
                continue
            seen.add(change.key)
            change.field, change.source, change.target = "state", src[change.key].shown, tgt[change.key].shown
        elif change.kind == "only-in-source":
            change.source = {**change.source, **src[change.key].shown}
        elif change.kind == "only-in-target":
            change.target = {**change.target, **tgt[change.key].shown}
        name = (change.pair.source if change.pair else change.key.split(" = ")[0])
        if change.kind != "only-in-target":
            found_role = ctx.roles.of("services", name, ctx.names)
            change.role = found_role.name if found_role else None
            if change.field == "replaced-by" and found_role:
                change.text = f"{change.pair.source} on source, {change.pair.target} on target: " \
                              f"{found_role.title} swapped"
        out.append(change)
    return out, identical


def _replacement(names: NameMap) -> Callable[[str], bool]:
    flags = {f.name: f.replacement for f in names.functions}
    return lambda group: flags.get(group, False)


# --- runlevels: which boot levels each service starts in --------------------------------------

def boot_levels(svc: Service, snap: Snapshot) -> set[str]:
    """The shared boot levels (rescue, multi-user, graphical) a service starts in: from its SysV or
    Upstart runlevels, or on a systemd host from the targets that pull it in (a service found
    under multi-user.target starts in graphical.target too; one under sysinit.target in
    rescue.target as well).  A script its /etc/default file turns off starts nowhere."""
    if svc.disabled_by:
        return set()
    levels: set[str] = set()
    if snap.init.active != "systemd":  # under systemd a script's links decide nothing: its targets do
        for level, state in svc.runlevels.items():
            if state == "on":
                levels.update(LEVEL_OF_RUNLEVEL.get(level) or LEVEL_OF_OPENRC.get(level, ()))
    if svc.targets:
        if "systemctl-deps-multi-user" in svc.sources:
            levels.update(("multi-user", "graphical"))
        elif "systemctl-deps-default" in svc.sources and default_level(snap):
            levels.add(default_level(snap))
        for target in svc.targets:
            if target in EARLY_TARGETS:
                levels.add("rescue")
            elif target in LEVEL_OF_TARGET:
                levels.add(LEVEL_OF_TARGET[target])
    return levels


def _native(svc: Service, snap: Snapshot) -> str:
    """Where a service starts, in its host's init system's words."""
    if snap.init.active == "systemd":
        return ", ".join(svc.targets) or "no target wants it"
    on = sorted(level for level, state in svc.runlevels.items() if state == "on")
    if any(len(level) > 1 for level in on):  # OpenRC's runlevels have names, in boot order first
        named = sorted(on, key=lambda x: (OPENRC_ORDER.index(x) if x in OPENRC_ORDER else len(OPENRC_ORDER), x))
        return f"OpenRC runlevel{'s' if len(named) > 1 else ''} {', '.join(named)}"
    return f"runlevels {''.join(on)}" if on else "no runlevel"


def _level_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                    pair: Pair | None) -> str:
    name = _label(a, b, pair)
    if kind == "identical":
        return f"{name} starts in {_show(va['levels'])} on both"
    return f"{name} starts in {_show(va)} on source ({a.shown['native']}), {_show(vb)} on target " \
           f"({b.shown['native']})"


def compare_runlevels(ctx: Context) -> Compared:
    """Per service present on both hosts (keyed as in the services section), the boot levels it
    starts in, mapped between runlevels and targets both ways: a SysV script started in runlevels
    2-5 and a unit wanted by multi-user.target start alike.  Services on one side only are the
    services section's."""
    src_all, tgt_all, pairs = service_maps(ctx)

    def recs(services: dict[str, Rec], host: Host) -> dict[str, Rec]:
        out = {}
        for key, rec in services.items():
            if key in src_all and key in tgt_all:
                levels = boot_levels(rec.origin, host.snap)
                out[key] = Rec({"levels": sorted(levels, key=BOOT_ORDER.index)}, rec.name,
                               {"native": _native(rec.origin, host.snap), "default": default_level(host.snap),
                                "enabled": rec.origin.enabled}, rec.attribution, rec.origin)
        return out
    a, b = recs(src_all, ctx.source), recs(tgt_all, ctx.target)
    keep = [k for k in a if a[k].view["levels"] or b[k].view["levels"]]
    a, b = {k: a[k] for k in keep}, {k: b[k] for k in keep}
    found, identical = walk("runlevels", a, b, _level_describe, ctx, {k: p for k, p in pairs.items() if k in a},
                            replacements=False)
    for change in found:
        if change.kind == "changed":
            change.source = {"levels": change.source, **a[change.key].shown}
            change.target = {"levels": change.target, **b[change.key].shown}
    return found, identical


# --- ports ----------------------------------------------------------------------------------------

def exposure(key: str) -> str:
    """Who can reach a socket: "all" addresses, a "host" address, "loopback", or "unix"."""
    if key.startswith("unix:"):
        return "unix"
    address = key.split("/", 1)[1].rpartition(":")[0]
    return {"*": "all", "host": "host"}.get(address, "loopback")


def _port_recs(host: Host, names: NameMap) -> dict[str, Rec]:
    recs: dict[str, Rec] = {}
    for p in host.snap.ports:
        key = port_key(p.protocol, p.bind, p.port, p.path)
        rec = recs.get(key)
        if rec is None:
            rec = recs[key] = Rec({"programs": []}, key, {"processes": [], "addresses": [], "exposure": exposure(key)},
                                  host.who.for_port(key))
        if p.bind and p.bind not in rec.shown["addresses"]:
            rec.shown["addresses"].append(p.bind)
        daemons = [q for q in p.processes if q.pid != 1] or p.processes  # PID 1 only holds activated sockets
        for proc in daemons:
            if proc.name and proc.name not in rec.shown["processes"]:
                rec.shown["processes"].append(proc.name)
                program = names.common("processes", proc.name)
                if program not in rec.view["programs"]:
                    rec.view["programs"].append(program)
    for rec in recs.values():
        rec.view["programs"].sort()
        rec.shown["processes"].sort()
    return recs


def _procs(rec: Rec | None) -> str:
    return ", ".join(rec.shown["processes"]) if rec and rec.shown["processes"] else "process unknown"


def _port_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                   pair: Pair | None) -> str:
    if kind == "only-in-source":
        if pair is not None:
            return f"{a.name} ({_procs(a)}) listens on source; on target only {pair.target}"
        return f"{a.name} ({_procs(a)}) listens on source, nothing on target" + _who(a.attribution, ports=False)
    if kind == "only-in-target":
        return f"{b.name} ({_procs(b)}) listens on target, nothing on source"
    if kind == "identical":
        return f"{a.name} ({_procs(a)}) listens on both"
    if fld == "bind":
        return f"{pair.source} ({_procs(a)}) on source listens on {pair.target} on target ({_procs(b)})"
    if fld in ("port", "path"):
        return f"{_procs(a)} listened on {pair.source} on source, on {pair.target} on target"
    return f"{a.name}: {_procs(a)} on source, {_procs(b)} on target"


def _port_order(key: str) -> tuple[int, int, str]:
    """tcp, then udp, then unix sockets; by port number, then address."""
    key = key.split(" = ")[0]
    if key.startswith("unix:"):
        return (2, 0, key)
    protocol, _, rest = key.partition("/")
    address, _, port = rest.rpartition(":")
    return (0 if protocol == "tcp" else 1, int(port) if port.isdigit() else 0, address)


def compare_ports(ctx: Context) -> Compared:
    src, tgt = _port_recs(ctx.source, ctx.names), _port_recs(ctx.target, ctx.names)
    pairs = _pair_binds(src, tgt, ctx.roles)
    running = {ctx.names.common("services", name) for name, s in ctx.target.snap.services.items() if s.running}

    def still_runs(rec: Rec) -> bool:  # the service behind a source socket runs on the target
        who = rec.attribution
        return bool(who and who.service and ctx.names.common("services", who.service) in running)
    pairs.update(_pair_moved(src, tgt, still_runs))
    found, identical = walk("ports", src, tgt, _port_describe, ctx, pairs, order=_port_order)
    for change in found:
        rec = src.get(change.key) or tgt.get(change.key)
        programs = (src.get(change.key) or rec).view["programs"]
        found_role = next((ctx.roles.of("processes", p, ctx.names) for p in programs
                           if ctx.roles.of("processes", p, ctx.names)), None)
        change.role = found_role.name if found_role else None
        if change.kind == "changed" and change.field == "programs":
            b = tgt[change.key]
            roles_b = {r.name for r in (ctx.roles.of("processes", p, ctx.names) for p in b.view["programs"]) if r}
            change.source = {"programs": change.source, "exposure": src[change.key].shown["exposure"]}
            change.target = {"programs": change.target, "exposure": b.shown["exposure"],
                             "same_role": bool(found_role and found_role.name in roles_b)}
        elif change.kind == "only-in-source":
            change.source = {**change.source, "exposure": src[change.key].shown["exposure"]}
        elif change.kind == "only-in-target":
            change.target = {**change.target, "exposure": tgt[change.key].shown["exposure"]}
    return found, identical


def _split(key: str) -> tuple[str, str, str]:
    protocol, _, rest = key.partition("/")
    address, _, port = rest.rpartition(":")
    return protocol, address, port


def _pair_binds(src: dict[str, Rec], tgt: dict[str, Rec], roles: Roles | None = None) -> dict[str, Pair]:
    """One socket bound otherwise is one record, not one missing and one new: 127.0.0.1:3306 on the
    source and *:3306 on the target is a wider bind (more exposed), *:80 and 127.0.0.1:80 a narrower
    one (clients from elsewhere are cut off).  Both loopbacks (127.0.0.1:5432 and [::1]:5432) are
    served by one wildcard: the first pairs with it, the others are noted as covered by that pair.
    A unix socket under a new release's path (/run/php/php7.4-fpm.sock, php8.2-fpm.sock) is the
    same socket, and so is a role's well-known socket at another path (roles.toml `sockets`)."""
    pairs: dict[str, Pair] = {}
    lone_tgt = sorted(k for k in tgt if k not in src)
    by_role: dict[str, list[str]] = defaultdict(list)  # a role -> the target's sockets of it
    for key in lone_tgt:
        found = roles.socket_role(key[len("unix:"):]) if roles and key.startswith("unix:") else None
        if found:
            by_role[found.name].append(key)
    by_port: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_stem: dict[str, list[str]] = defaultdict(list)
    for key in lone_tgt:
        if key.startswith("unix:"):
            if stem(key):
                by_stem[stem(key)].append(key)
        else:
            protocol, _, port = _split(key)
            by_port[(protocol, port)].append(key)
    wide_taken: dict[str, str] = {}  # a target wildcard already paired -> the pair's key
    for key in sorted(k for k in src if k not in tgt):
        protocol, address, port = _split(key) if not key.startswith("unix:") else ("unix", "", "")
        found = roles.socket_role(key[len("unix:"):]) if roles and key.startswith("unix:") else None
        if found and by_role.get(found.name):
            candidates, how, fld = by_role[found.name], "replacement", "path"
        elif key.startswith("unix:"):
            candidates, how, fld = by_stem.get(stem(key) or "", []), "successor", "path"
        elif address == "*":  # all addresses on the source: the target binds fewer
            candidates, how, fld = by_port.get((protocol, port), []), "narrower-bind", "bind"
        else:
            wide = f"{protocol}/*:{port}"
            if wide in wide_taken:  # the wildcard that serves an earlier loopback serves this one too
                new = f"{key} = {wide}"
                src[new] = src.pop(key)
                tgt[new] = Rec(dict(tgt[wide_taken[wide]].view), wide, tgt[wide_taken[wide]].shown,
                               tgt[wide_taken[wide]].attribution)
                src[new].view["bind"], tgt[new].view["bind"] = key, wide
                pairs[new] = Pair(source=key, target=wide, function=f"{protocol} port {port}", how="wider-bind")
                continue
            candidates = [c for c in by_port.get((protocol, port), []) if c == wide]
            how, fld = "wider-bind", "bind"
        if not candidates:
            continue
        other = candidates[0]
        for group in (by_stem, by_port, by_role):  # the target's record is taken: it pairs once
            for found in group.values():
                if other in found:
                    found.remove(other)
        new = f"{key} = {other}"
        src[new], tgt[new] = src.pop(key), tgt.pop(other)
        src[new].view[fld], tgt[new].view[fld] = key, other
        if how == "wider-bind":
            wide_taken[other] = new
        pairs[new] = Pair(source=key, target=other, function=f"{protocol} port {port}" if fld == "bind"
                          else found.title if how == "replacement" and found else stem(key) or key, how=how)
    return pairs


def _pair_moved(src: dict[str, Rec], tgt: dict[str, Rec], still_runs: Callable[[Rec], bool]) -> dict[str, Pair]:
    """A program that listens on another port on the target (sshd on 22, then on 2222): the same
    programs, the same protocol and address class, both ports lone.  When the target's bundle
    cannot name its sockets' programs (not collected as root), a lone socket of unknown program
    stands in for them if the source socket's service still runs on the target and it is the only
    such candidate."""
    pairs: dict[str, Pair] = {}
    lone: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for key in sorted(k for k in tgt if k not in src and not k.startswith("unix:")):
        protocol, address, _ = _split(key)
        lone[(protocol, address, tuple(tgt[key].view["programs"]))].append(key)
    for key in sorted(k for k in src if k not in tgt and not k.startswith("unix:")):
        if not src[key].view["programs"]:
            continue
        protocol, address, _ = _split(key)
        candidates = lone.get((protocol, address, tuple(src[key].view["programs"])))
        if not candidates:
            unknown = lone.get((protocol, address, ()))
            candidates = unknown if unknown and len(unknown) == 1 and still_runs(src[key]) else None
        if not candidates:
            continue
        other = candidates.pop(0)
        new = f"{key} = {other}"
        src[new], tgt[new] = src.pop(key), tgt.pop(other)
        src[new].view["port"], tgt[new].view["port"] = key, other
        pairs[new] = Pair(source=key, target=other, function=", ".join(src[new].view["programs"]), how="moved")
    return pairs


# --- packages -----------------------------------------------------------------------------------

def evr(epoch: str | None, version: str | None, release: str | None) -> str:
    """epoch:version-release, the way dpkg and rpm print a full version."""
    text = version or ""
    if epoch and epoch != "0":
        text = f"{epoch}:{text}"
    if release:
        text = f"{text}-{release}"
    return text


def _packages_by_key(snap: Snapshot) -> dict[str, list[Package]]:
    """Packages by natural key (manager, name, arch); a name installed in several versions (kernels
    on rpm) has several."""
    index: dict[str, list[Package]] = {}
    for p in snap.packages:
        key = f"{p.manager}:{p.name}:{p.arch or '-'}"
        found = index.get(key)
        if found is None:
            index[key] = [p]
        else:
            found.append(p)
    return index


def _package_rec(packages: list[Package]) -> Rec:
    p = packages[0]
    versions = sorted({evr(q.epoch, q.version, q.release) for q in packages})
    # several installed versions of one name compare as a set
    return Rec({"version": versions[0] if len(versions) == 1 else versions, "status": p.status}, p.name, origin=p,
               extra=("manager", "arch", "auto"))


def _package_recs(src: dict[str, list[Package]], tgt: dict[str, list[Package]],
                  include_identical: bool) -> tuple[dict[str, Rec], dict[str, Rec], int]:
    """Recs of the packages to compare, and how many were set aside as identical without one.

    A large host's packages are nearly all the same on both sides: one tuple comparison settles
    those, and records are built only for what differs (or for every package, when asked to
    list identical ones too).  The loop follows the snapshot's order, as the objects lie in
    memory: in hash order it took three times as long."""
    identical = 0
    if not include_identical:
        same = []
        for key, a in src.items():
            b = tgt.get(key)
            if b is not None and len(a) == 1 == len(b):
                pa, pb = a[0], b[0]
                if (pa.epoch, pa.version, pa.release, pa.status) == (pb.epoch, pb.version, pb.release, pb.status):
                    same.append(key)
        identical = len(same)
        src, tgt = dict(src), dict(tgt)
        for key in same:
            del src[key], tgt[key]
    return ({key: _package_rec(found) for key, found in src.items()},
            {key: _package_rec(found) for key, found in tgt.items()}, identical)


_SONAME = re.compile(r"^(lib.*?[a-z+-])(\d+(?:\.\d+)*[a-z]?)(t64)?$")


def _library_stem(rec: Rec) -> str | None:
    """libssl1.1 and libssl3 are one library whose soname moved (Debian puts it in the name)."""
    m = _SONAME.match(rec.name)
    return f"{rec.origin.manager}:{m.group(1)}" if m and rec.name.startswith("lib") else None


def _successor(rec: Rec) -> str | None:
    """gcc-10-base and gcc-12-base, php7.4-fpm and php8.2-fpm: the name with its release numbers out."""
    found = stem(rec.name)
    return f"{rec.origin.manager}:{found}" if found else None


def _same_source(rec: Rec) -> str | None:
    """libprocps8 and libproc2-0, both built from procps: a library renamed within its source package."""
    p = rec.origin
    if p.source_package and p.source_package != p.name and p.name.startswith("lib"):
        return f"{p.manager}:{stem(p.source_package) or p.source_package}"
    return None


def _package_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                      pair: Pair | None) -> str:
    rec = a or b
    arch = rec.origin.arch or "no arch"
    if kind == "only-in-source":
        gone = f"; {pair.function} is provided by {pair.target} on target" if pair else ", absent on target"
        return f"{a.name} {_show(va['version'])} ({arch}): {va['status']} on source{gone}" + _who(a.attribution)
    if kind == "only-in-target":
        return f"{b.name} {_show(vb['version'])} ({arch}): absent on source, {vb['status']} on target"
    name = _label(a, b, pair)
    if kind == "identical":
        return f"{name} {_show(va['version'])}: same on both"
    if fld == "replaced-by":
        return f"{pair.source} on source is replaced by {pair.target} on target ({pair.function})"
    if fld == "version":
        how = (a.shown or {}).get("movement")
        moved = f" ({how})" if how in ("upgraded", "downgraded", "repackaged") else ""
        return f"{name}: {_show(va)} on source, {_show(vb)} on target{moved}" + _who(a.attribution)
    return f"{name}: {fld} {_show(va)} on source, {_show(vb)} on target"


def compare_packages(ctx: Context) -> Compared:
    src, tgt, identical = _package_recs(_packages_by_key(ctx.source.snap), _packages_by_key(ctx.target.snap),
                                        ctx.include_identical)

    def function(rec: Rec) -> str | None:
        found = ctx.names.function("packages", rec.name)
        return found.name if found else None
    pairs = pair_up(src, tgt, [
        ("other-arch", lambda r: f"{r.origin.manager}:{r.name}", False),
        ("other-manager", lambda r: r.name, False),
        ("same-function", function, True),
        ("library-soname", _library_stem, False),
        ("successor", _successor, False),
        ("successor", _same_source, False),
    ], replacement=_replacement(ctx.names))
    for key in src.keys() & tgt.keys():
        a, b = src[key], tgt[key]
        pa, pb = a.origin, b.origin
        if pa.arch != pb.arch:  # only paired records can differ here
            a.view["arch"], b.view["arch"] = pa.arch, pb.arch
        va, vb = a.view["version"], b.view["version"]
        if va == vb or not isinstance(va, str) or not isinstance(vb, str):
            continue
        if pa.manager == pb.manager:
            a.shown = {"movement": movement(pa.manager, va, vb, pa.version, pb.version)}
        else:  # different packaging schemes: only the upstream versions compare (rpm's generic rules)
            a.shown = {"movement": movement("rpm", pa.version or "", pb.version or "", None, None)}
    for rec in src.values():
        rec.attribution = ctx.source.who.for_package(rec.name)
    # by manager, name, then arch: "dpkg:python3:amd64" before "dpkg:python3-minimal:amd64"
    found, same = walk("packages", src, tgt, _package_describe, ctx, pairs,
                       order=lambda key: tuple(key.split(" = ")[0].split(":")))
    for change in found:
        if change.kind == "only-in-target":
            continue
        a, b = src[change.key], tgt.get(change.key)
        change.installed_as = ctx.source.installed_as(a.origin)
        fn = ctx.names.function("packages", a.name)
        found_role = ctx.roles.of("packages", a.name, ctx.names)
        if found_role is None and a.attribution and a.attribution.service:  # the job of the service it is behind
            found_role = ctx.roles.of("services", a.attribution.service, ctx.names)
        change.role = found_role.name if found_role else None
        if change.kind == "changed" and change.field == "version" and b is not None:
            change.new_series = new_series(a.name, b.name, a.origin.version, b.origin.version, fn.series if fn else 1)
    return found, same + identical


# --- scheduled jobs ------------------------------------------------------------------------------

def _job_key(job: Any) -> str:
    """ "/etc/cron.d/myapp-report: /opt/myapp/report.sh", "crontab labuser: ...", "x.timer: ..."."""
    return f"{job.where}: {job.command or job.schedule or '?'}"


def _job_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                  pair: Pair | None) -> str:
    rec = a or b
    job = rec.origin
    what = job.phrase()
    owner = "" if job.package in (None, "?") else f" [package {job.package}]"
    if kind == "only-in-source":
        return f"{what}: on source, not on target{owner}"
    if kind == "only-in-target":
        return f"{what}: on target only{owner}"
    if kind == "identical":
        return f"{what}: on both"
    if fld == "where":
        return f"{pair.source} on source runs as {b.origin.kind} {pair.target} on target"
    return f"{_label(a, b, pair)}: {fld} {_show(va)} on source, {_show(vb)} on target"


def compare_jobs(ctx: Context) -> Compared:
    """Scheduled jobs by where they are defined and what they run; a job that runs the same
    command elsewhere on the target (a cron job become a timer) is the same job."""
    def recs(snap: Snapshot) -> dict[str, Rec]:
        out: dict[str, Rec] = {}
        for job in snap.jobs:
            out.setdefault(_job_key(job), Rec({"schedule": job.schedule, "user": job.user}, _job_key(job),
                                              {"kind": job.kind, "package": job.package}, origin=job))
        return out
    src, tgt = recs(ctx.source.snap), recs(ctx.target.snap)
    pairs = pair_up(src, tgt, [("same-command", lambda r: r.origin.command if r.origin.kind != "at" else None,
                                False)])
    for key, pair in pairs.items():  # compared by what runs, not by how it is scheduled
        a, b = src[key], tgt[key]
        a.view, b.view = {"where": a.origin.where}, {"where": b.origin.where}
    found, identical = walk("jobs", src, tgt, _job_describe, ctx, pairs)
    for change in found:
        rec = src.get(change.key) or tgt.get(change.key)
        if change.kind == "only-in-source" or change.kind == "changed":
            change.source = {**(change.source if isinstance(change.source, dict) else {"value": change.source}),
                             "kind": rec.origin.kind, "package": rec.origin.package, "capture": rec.origin.source}
    return found, identical


# --- local units: what an admin wrote in /etc/systemd/system, init scripts no package owns ------

def _unit_key(unit: Any) -> str:
    return unit.name


def _unit_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                   pair: Pair | None) -> str:
    rec = a or b
    unit = rec.origin
    what = f"{unit.kind} {unit.name} ({unit.file}" + (f", runs {unit.exec}" if unit.exec else "") + ")"
    if kind == "only-in-source":
        return f"{what}: no package owns it, on source only"
    if kind == "only-in-target":
        return f"{what}: no package owns it, on target only"
    if kind == "identical":
        return f"{unit.kind} {unit.name}: on both"
    if fld == "kind":
        return f"{pair.source} ({a.origin.kind}) on source is {pair.target} ({b.origin.kind}) on target"
    return f"{_label(a, b, pair)}: {fld} {_show(va)} on source, {_show(vb)} on target"


def compare_units(ctx: Context) -> Compared:
    """The units, drop-ins, init scripts and Upstart jobs no package owns (or whose owner is not
    known): the workload's own.  An init script and a unit of the same service are one."""
    def recs(snap: Snapshot) -> dict[str, Rec]:
        return {_unit_key(u): Rec({"kind": u.kind, "exec": u.exec}, u.name, {"package": u.package}, origin=u)
                for u in snap.units if u.package in (None, "?")}
    src, tgt = recs(ctx.source.snap), recs(ctx.target.snap)

    def service(rec: Rec) -> str | None:
        unit = rec.origin
        if unit.kind == "drop-in":
            return None
        return unit.name[:-len(".service")] if unit.name.endswith(".service") else \
            (unit.name if unit.kind in ("init-script", "upstart-job") else None)
    pairs = pair_up(src, tgt, [("converted", service, False)])
    for key in pairs:
        src[key].view, tgt[key].view = {"kind": src[key].origin.kind}, {"kind": tgt[key].origin.kind}
    found, identical = walk("units", src, tgt, _unit_describe, ctx, pairs)
    for change in found:
        rec = src.get(change.key) or tgt.get(change.key)
        change.source = {**(change.source if isinstance(change.source, dict) else {"value": change.source}),
                         "kind": rec.origin.kind, "package": rec.origin.package} \
            if change.kind != "only-in-target" else change.source
    return found, identical


# --- connections: the hosts this one depends on ----------------------------------------------------

def _dep_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                  pair: Pair | None) -> str:
    rec = a or b
    who = ", ".join(rec.shown["who"]) or "process unknown"
    if kind == "only-in-source":
        return f"{rec.name} ({who}): the source connects to it, the target was not seen doing so"
    if kind == "only-in-target":
        return f"{rec.name} ({who}): the target connects to it, the source was not seen doing so"
    return f"{rec.name} ({who}): both connect to it"


def compare_connections(ctx: Context) -> Compared:
    """The remote endpoints each host was seen connected to (loopback stays local)."""
    def recs(snap: Snapshot) -> dict[str, Rec]:
        out: dict[str, Rec] = {}
        for dep in snap.connections.dependencies:
            key = f"{dep.remote}:{dep.port}" if ":" not in dep.remote else f"[{dep.remote}]:{dep.port}"
            rec = out.setdefault(key, Rec({}, key, {"who": [], "count": 0}, origin=dep))
            who = dep.service or dep.process
            if who and who not in rec.shown["who"]:
                rec.shown["who"].append(who)
            rec.shown["count"] += dep.count
        return out
    src, tgt = recs(ctx.source.snap), recs(ctx.target.snap)
    found, identical = walk("connections", src, tgt, _dep_describe, ctx)
    for change in found:
        rec = src.get(change.key) or tgt.get(change.key)
        side = "source" if change.kind == "only-in-source" else "target"
        setattr(change, side, {"remote": rec.origin.remote, "port": rec.origin.port, "who": rec.shown["who"],
                               "connections": rec.shown["count"]})
    return found, identical


def host_map(title: str, snap: Snapshot, who: HostAttribution) -> HostMap:
    """The map of a host: each TCP or UDP listening socket under the service (else the process)
    behind it, the clients of each socket, and each service's dependencies."""
    m = HostMap(title=title)
    seen: set[str] = set()
    by_port: dict[int, str] = {}
    for p in snap.ports:
        if p.protocol == "unix":
            continue
        key = port_key(p.protocol, p.bind, p.port, p.path)
        if key in seen:
            continue
        seen.add(key)
        att = who.for_port(key)
        owner = (att.service or att.process) if att else None
        m.services.setdefault(owner or "process unknown", []).append(key)
        if p.protocol == "tcp" and p.port is not None:
            by_port.setdefault(p.port, key)
    for c in snap.connections.clients:
        key = by_port.get(c.port)
        if key and c.remote not in m.clients.setdefault(key, []):
            m.clients[key].append(c.remote)
    for d in snap.connections.dependencies:
        endpoint = f"{d.remote}:{d.port}" if ":" not in d.remote else f"[{d.remote}]:{d.port}"
        owner = d.service or d.process or "process unknown"
        if endpoint not in m.dependencies.setdefault(owner, []):
            m.dependencies[owner].append(endpoint)
    return m


def clients_to_repoint(snap: Snapshot) -> list[ClientList]:
    """The source's clients per listening port: what must be pointed at the target at cutover."""
    by_port: dict[int, ClientList] = {}
    for c in snap.connections.clients:
        entry = by_port.setdefault(c.port, ClientList(port=c.port, remotes=[], connections=0))
        if c.remote not in entry.remotes:
            entry.remotes.append(c.remote)
        entry.connections += c.count
    return [by_port[p] for p in sorted(by_port)]


def ssh_readiness(source: Snapshot, target: Snapshot, target_ref: HostRef | None = None) -> Readiness:
    """The seed's "Set Up SSH Key Access": does the target have a key, and may it log in to the source?"""
    keys = [k for k in target.ssh.keys if k.private_key] or list(target.ssh.keys)
    hidden = target_ref is not None and any("ssh-keys" in ids for status, ids in target_ref.incomplete.items()
                                            if status in ("denied", "partial", "timeout", "error"))
    if not keys and hidden:
        return Readiness(topic="ssh", ready=None, text="unknown: the target's bundle could not read its users' "
                         "keys (collected without root): check by hand that its key is in the source's "
                         "authorized_keys")
    if not keys and target.ssh.sshd.source is None and not target.ssh.authorized:
        return Readiness(topic="ssh", ready=None, text="unknown: the target's bundle holds no SSH facts (an older "
                         "collector, or no sshd and no keys)")
    if not keys:
        return Readiness(topic="ssh", ready=None if not target.ssh.authorized and not source.ssh.authorized
                         else False, text="the target has no SSH key pair of root or of a user (collected without "
                         "root, or none made): make one (ssh-keygen) and add its public key to the source's "
                         "authorized_keys")
    authorized = {k.fingerprint: k for k in source.ssh.authorized}
    sshd = source.ssh.sshd
    where = f" (sshd on port {', '.join(map(str, sshd.ports))})" if sshd.ports and sshd.ports != [22] else ""
    for key in keys:
        if key.fingerprint in authorized:
            who = authorized[key.fingerprint].user or "a user"
            # an authorized key of root's is no use when the source's sshd refuses root, or lets
            # root run only the command its key line forces
            policy = (sshd.permit_root_login or "").lower() if who == "root" else ""
            if policy in ("no", "forced-commands-only"):
                return Readiness(topic="ssh", ready=False, text=f"not ready: the target's {key.user} key "
                                 f"{key.fingerprint} ({key.type}) is in root's authorized_keys on the source, but "
                                 f"the source's sshd has PermitRootLogin {policy}: log in as another user, or "
                                 "allow root with keys (prohibit-password) for the copy")
            return Readiness(topic="ssh", ready=True, text=f"ready: the target's {key.user} key {key.fingerprint} "
                             f"({key.type}) may log in to the source as {who}{where}")
    first = keys[0]
    return Readiness(topic="ssh", ready=False, text=f"not ready: the target's {first.user} key {first.fingerprint} "
                     f"({first.type}) is in none of the source's authorized_keys: add it (ssh-copy-id) before "
                     "copying data over")


SECTION_COMPARERS: dict[str, Callable[[Context], Compared]] = {
    "system": compare_system,
    "init": compare_init,
    "services": compare_services,
    "runlevels": compare_runlevels,
    "ports": compare_ports,
    "packages": compare_packages,
    "jobs": compare_jobs,
    "units": compare_units,
    "connections": compare_connections,
}

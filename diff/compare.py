"""Comparing two snapshots into one DiffReport.

Every section becomes a map {natural key: Rec}, where Rec.view holds only what is compared
(no pids, no provenance) and Rec.shown what a reader needs to recognise the record.  Records
present on one side only are then paired where they are the same thing under another name
(names.toml, another arch or package manager, a library's new soname).  The two maps are walked
once: equal views cost a dict comparison, and only views that differ go through deepdiff,
whose result is converted here, once, into Change objects.  Severity is judged afterwards
(verdict.py).
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .attribution import HostAttribution, Who, attribute, port_key
from .changes import SECTIONS, Change, Counts, DiffReport, HostRef, Pair
from .models import Package, Snapshot
from .names import NameMap
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


@dataclass
class Context:
    source: Host
    target: Host
    names: NameMap
    include_identical: bool


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
            sections: Iterable[str] = SECTIONS, include_identical: bool = False) -> DiffReport:
    chosen = [s for s in SECTIONS if s in set(sections)]
    ctx = Context(Host(source, attribute(source, names)), Host(target, attribute(target, names)), names,
                  include_identical)
    changes: list[Change] = []
    summary: dict[str, Counts] = {}
    for section in chosen:
        found, identical = SECTION_COMPARERS[section](ctx)
        changes.extend(found)
        summary[section] = Counts(identical=identical)
    return DiffReport(source=source_ref, target=target_ref, sections=chosen, summary=summary, changes=changes)


# --- the walk shared by every section --------------------------------------------------------

# describe(kind, field, a, b, va, vb, pair) -> one line; a and b are the records (None when absent),
# va and vb the compared values: whole views, or for kind "changed" the values of `field`.
Describe = Callable[[str, str | None, Rec | None, Rec | None, Any, Any, Pair | None], str]
Compared = tuple[list[Change], int]


def walk(section: str, src: dict[str, Rec], tgt: dict[str, Rec], describe: Describe, ctx: Context,
         pairs: dict[str, Pair] | None = None, order: Callable[[str], Any] | None = None) -> Compared:
    """Changes between two keyed maps, and how many records are identical (built only if asked).

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
            if pair is not None and pair.how == "replacement":  # another program doing the job: say so
                out.append(_change(section, key, "changed", "replaced-by", a, b, pair.source, pair.target,
                                   describe, pair))
            if key in fields:
                for fld, va, vb in fields[key]:
                    out.append(_change(section, key, "changed", fld, a, b, va, vb, describe, pair))
            elif pair is None or pair.how != "replacement":
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


def pair_up(src: dict[str, Rec], tgt: dict[str, Rec], matchers: list[tuple[str, Callable[[Rec], str | None]]],
            replacement: Callable[[str], bool] = lambda f: False) -> dict[str, Pair]:
    """Pairs records present on one side only that are the same thing: for each matcher in turn
    (a name for the group a record belongs to, or None), one-to-one within a group.  A source
    record whose group still exists on the target, already matched, is "provided-by" it.
    Paired records move to the key "source key = target key".  Only unmatched records are
    looked at, so the cost follows the differences, not the size of the hosts."""
    pairs: dict[str, Pair] = {}
    for how, group_of in matchers:
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
            elif how == "same-function":
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
    """What the host boots into, as a systemd target: the default target, or its SysV runlevel's."""
    if snap.init.default_target:
        return snap.init.default_target
    return RUNLEVEL_TARGETS.get(snap.init.default_runlevel or "")


def compare_init(ctx: Context) -> Compared:
    def recs(snap: Snapshot) -> dict[str, Rec]:
        values = snap.init.model_dump()
        values["default_boot"] = default_boot(snap)
        return {f: Rec({"value": values[f]}, f) for f in INIT_FIELDS}
    return walk("init", recs(ctx.source.snap), recs(ctx.target.snap), _facts_describe, ctx)


# --- services -----------------------------------------------------------------------------------

def _running(value: bool | None) -> str:
    return {True: "running", False: "stopped", None: "state unknown"}[value]


def _enabled(value: bool | None, state: str | None = None) -> str:
    if value is None and state:
        return state
    return {True: "enabled", False: "disabled", None: "boot state unknown"}[value]


def _service_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                      pair: Pair | None) -> str:
    name = _label(a, b, pair)
    if kind == "only-in-source":
        gone = f"; {pair.function} is provided by {pair.target} on target" if pair else ", absent on target"
        state = f"{_running(va['running'])} and {_enabled(va['enabled'], a.shown['state'])}"
        return f"{name}: {state} on source{gone}" + _who(a.attribution, service=False)
    if kind == "only-in-target":
        return f"{name}: absent on source, {_running(vb['running'])} and " \
               f"{_enabled(vb['enabled'], b.shown['state'])} on target"
    if kind == "identical":
        return f"{name}: {_running(va['running'])}, {_enabled(va['enabled'], a.shown['state'])} on both"
    if fld == "replaced-by":
        return f"{pair.source} on source is replaced by {pair.target} on target ({pair.function}): " \
               "check that its configuration was carried over"
    if fld == "running":
        return f"{name}: {_running(va)} on source, {_running(vb)} on target" + _who(a.attribution, service=False)
    return f"{name}: {_enabled(va, a.shown['state'])} on source, {_enabled(vb, b.shown['state'])} on target" \
        + _who(a.attribution, service=False)


def compare_services(ctx: Context) -> Compared:
    def recs(host: Host) -> dict[str, Rec]:
        return {name: Rec({"running": s.running, "enabled": s.enabled}, name, {"state": s.enabled_state},
                          host.who.for_service(name))
                for name, s in host.snap.services.items()}
    src, tgt = recs(ctx.source), recs(ctx.target)

    def function(rec: Rec) -> str | None:
        found = ctx.names.function("services", rec.name)
        return found.name if found else None
    pairs = pair_up(src, tgt, [("same-function", function)], replacement=_replacement(ctx.names))
    return walk("services", src, tgt, _service_describe, ctx, pairs)


def _replacement(names: NameMap) -> Callable[[str], bool]:
    flags = {f.name: f.replacement for f in names.functions}
    return lambda group: flags.get(group, False)


# --- runlevels: which services start in each runlevel or target ------------------------------

def boot_levels(snap: Snapshot) -> dict[str, set[str]]:
    """{"runlevel 2": {services started there}, "multi-user.target": {services it wants}}."""
    levels: dict[str, set[str]] = defaultdict(set)
    for name, svc in snap.services.items():
        for level, state in svc.runlevels.items():
            members = levels[f"runlevel {level}"]  # a level with only "off" links still exists
            if state == "on":
                members.add(name)
        for target in svc.targets:
            levels[target].add(name)
    return levels


def _levels(levels: list[str]) -> str:
    runlevels = "".join(sorted(lv[len("runlevel "):] for lv in levels if lv.startswith("runlevel ")))
    targets = [lv for lv in levels if not lv.startswith("runlevel ")]
    parts = ([f"runlevels {runlevels}"] if runlevels else []) + targets
    return ", ".join(parts) or "nowhere"


def _level_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                    pair: Pair | None) -> str:
    rec = a or b
    if kind == "only-in-source":
        return f"{rec.name} starts in {_levels(va['levels'])} on source, in none of them on target"
    if kind == "only-in-target":
        return f"{rec.name} starts in {_levels(vb['levels'])} on target, in none of them on source"
    if kind == "identical":
        return f"{rec.name} starts in {_levels(va['levels'])} on both"
    return f"{rec.name} starts in {_levels(va)} on source, {_levels(vb)} on target"


def compare_runlevels(ctx: Context) -> Compared:
    """Per service, the runlevels and targets it starts in.  Only levels both hosts know are
    compared (a SysV runlevel has no counterpart on a systemd-only host), and services by their
    common name, so apache2 in runlevel 3 matches httpd there."""
    a, b = boot_levels(ctx.source.snap), boot_levels(ctx.target.snap)
    common = sorted(a.keys() & b.keys())

    def recs(levels: dict[str, set[str]]) -> dict[str, Rec]:
        out: dict[str, Rec] = {}
        for level in common:
            for name in levels[level]:
                key = ctx.names.common("services", name)
                rec = out.setdefault(key, Rec({"levels": []}, name))
                rec.view["levels"].append(level)
        return out
    return walk("runlevels", recs(a), recs(b), _level_describe, ctx)


# --- ports ----------------------------------------------------------------------------------------

def _port_recs(host: Host, names: NameMap) -> dict[str, Rec]:
    recs: dict[str, Rec] = {}
    for p in host.snap.ports:
        key = port_key(p.protocol, p.bind, p.port, p.path)
        rec = recs.get(key)
        if rec is None:
            rec = recs[key] = Rec({"programs": []}, key, {"processes": [], "addresses": []}, host.who.for_port(key))
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
    pairs = _pair_binds(src, tgt)
    return walk("ports", src, tgt, _port_describe, ctx, pairs, order=_port_order)


def _pair_binds(src: dict[str, Rec], tgt: dict[str, Rec]) -> dict[str, Pair]:
    """A socket bound to one address on the source is still served when the target listens on all
    addresses (127.0.0.1:3306 -> *:3306): pair them as a change of bind, not a missing port."""
    pairs: dict[str, Pair] = {}
    for key in sorted(k for k in src if k not in tgt and not k.startswith("unix:")):
        protocol, _, rest = key.partition("/")
        port = rest.rpartition(":")[2]
        wide = f"{protocol}/*:{port}"
        if wide in tgt:
            new = f"{key} = {wide}"
            src[new] = src.pop(key)
            tgt[new] = Rec(dict(tgt[wide].view), wide, tgt[wide].shown, tgt[wide].attribution)
            src[new].view["bind"], tgt[new].view["bind"] = key, wide
            pairs[new] = Pair(source=key, target=wide, function=f"{protocol} port {port}", how="wider-bind")
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


def _package_describe(kind: str, fld: str | None, a: Rec | None, b: Rec | None, va: Any, vb: Any,
                      pair: Pair | None) -> str:
    rec = a or b
    arch = rec.origin.arch or "no arch"
    if kind == "only-in-source":
        gone = f"; {pair.function} is provided by {pair.target} on target" if pair else ", absent on target"
        return f"{a.name} {_show(va['version'])} ({arch}): {va['status']} on source{gone}"
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
        return f"{name}: {_show(va)} on source, {_show(vb)} on target{moved}"
    return f"{name}: {fld} {_show(va)} on source, {_show(vb)} on target"


def compare_packages(ctx: Context) -> Compared:
    src, tgt, identical = _package_recs(_packages_by_key(ctx.source.snap), _packages_by_key(ctx.target.snap),
                                        ctx.include_identical)

    def function(rec: Rec) -> str | None:
        found = ctx.names.function("packages", rec.name)
        return found.name if found else None
    pairs = pair_up(src, tgt, [
        ("other-arch", lambda r: f"{r.origin.manager}:{r.name}"),
        ("other-manager", lambda r: r.name),
        ("same-function", function),
        ("library-soname", _library_stem),
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
    found, same = walk("packages", src, tgt, _package_describe, ctx, pairs)
    return found, same + identical


SECTION_COMPARERS: dict[str, Callable[[Context], Compared]] = {
    "system": compare_system,
    "init": compare_init,
    "services": compare_services,
    "runlevels": compare_runlevels,
    "ports": compare_ports,
    "packages": compare_packages,
}

"""Comparing two snapshots into one DiffReport.

Every section is turned into a map {natural key: view}, where a view holds only
what should be compared (no pids, no provenance).  The two maps are walked
once: equal views cost a dict comparison, and only views that differ go
through deepdiff, whose result is converted here, once, into Change objects.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from deepdiff import DeepDiff

from .changes import SECTIONS, Change, Counts, DiffReport, HostRef
from .models import Snapshot

View = dict[str, Any]
WILDCARDS = frozenset({"0.0.0.0", "::", "*", "[::]", ""})
SYSTEM_FIELDS = ("hostname", "kernel_release", "kernel_version", "arch", "distro_id", "distro_version",
                 "distro_codename", "distro_pretty_name", "issue", "machine_id")
EXPECTED_SYSTEM = frozenset({"hostname", "machine_id"})
INIT_FIELDS = ("active", "pid1", "present", "default_runlevel", "default_target", "current_runlevel")


def host_ref(bundle_name: str, snap: Snapshot, manifest: dict[str, Any]) -> HostRef:
    collector = manifest.get("collector") or {}
    return HostRef(bundle=bundle_name, hostname=snap.system.hostname, distro=snap.system.distro_pretty_name,
                   kernel_release=snap.system.kernel_release, init=snap.init.active,
                   collected_at=manifest.get("started_at"), collector_version=collector.get("version"))


def compare(source: Snapshot, target: Snapshot, source_ref: HostRef, target_ref: HostRef,
            sections: Iterable[str] = SECTIONS, include_identical: bool = False) -> DiffReport:
    chosen = [s for s in SECTIONS if s in set(sections)]
    changes: list[Change] = []
    summary: dict[str, Counts] = {}
    for section in chosen:
        found, identical = SECTION_COMPARERS[section](source, target, include_identical)
        counts = Counts(identical=identical)
        for change in found:
            if change.kind != "identical":
                counts.add(change)
        changes.extend(found)
        summary[section] = counts
    return DiffReport(source=source_ref, target=target_ref, sections=chosen, summary=summary, changes=changes)


# --- the walk shared by every section --------------------------------------------

# describe(key, kind, a, b, field) -> one line; a and b are the whole views, except for
# kind "changed", where they are the values of the field that changed.
Describe = Callable[[str, str, Any, Any, str | None], str]


Compared = tuple[list[Change], int]


def walk(section: str, src: dict[str, View], tgt: dict[str, View], describe: Describe,
         include_identical: bool, expected: frozenset[str] = frozenset(),
         order: Callable[[str], Any] | None = None) -> Compared:
    """Changes between two keyed maps, and how many records are identical (built only if asked)."""
    out = []
    identical = 0
    for key in sorted(src.keys() | tgt.keys(), key=order):
        a, b = src.get(key), tgt.get(key)
        is_expected = key in expected
        if b is None:
            out.append(_change(section, key, "only-in-source", None, a, None, describe, is_expected))
        elif a is None:
            out.append(_change(section, key, "only-in-target", None, None, b, describe, is_expected))
        elif a == b:
            identical += 1
            if include_identical:
                out.append(_change(section, key, "identical", None, a, b, describe, is_expected))
        else:
            for field, va, vb in field_changes(a, b):
                out.append(_change(section, key, "changed", field, va, vb, describe, is_expected))
    return out, identical


def _change(section: str, key: str, kind: str, field: str | None, a: Any, b: Any,
            describe: Describe, expected: bool) -> Change:
    return Change(section=section, key=key, kind=kind, field=field, source=a, target=b,
                  expected=expected, text=describe(key, kind, a, b, field))


def field_changes(a: View, b: View) -> list[tuple[str, Any, Any]]:
    """The fields of two differing views that differ, from deepdiff's tree.

    A dict-valued field (runlevel maps) is reported per key; any other field whole.
    """
    tree = DeepDiff(a, b, view="tree", verbose_level=2)
    fields: dict[str, tuple[Any, Any]] = {}
    for report in tree.values():
        for node in report:
            path = node.path(output_format="list")
            top = path[0]
            va, vb = a.get(top), b.get(top)
            if len(path) > 1 and isinstance(va, dict) and isinstance(vb, dict):
                fields[f"{top}.{path[1]}"] = (va.get(path[1]), vb.get(path[1]))
            else:
                fields[top] = (va, vb)
    return [(name, va, vb) for name, (va, vb) in sorted(fields.items())]


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    return str(value)


# --- system and init: one record of named facts -------------------------------------

def _facts_describe(key: str, kind: str, a: Any, b: Any, field: str | None) -> str:
    if kind == "changed":
        return f"{key}: {_show(a)} on source, {_show(b)} on target"
    va = _show(a["value"]) if a else "absent"
    vb = _show(b["value"]) if b else "absent"
    if kind == "identical":
        return f"{key}: {va} on both"
    return f"{key}: {va} on source, {vb} on target"


def compare_system(source: Snapshot, target: Snapshot, include_identical: bool) -> Compared:
    def view(snap: Snapshot) -> dict[str, View]:
        return {f: {"value": getattr(snap.system, f)} for f in SYSTEM_FIELDS}
    return walk("system", view(source), view(target), _facts_describe, include_identical, EXPECTED_SYSTEM)


def compare_init(source: Snapshot, target: Snapshot, include_identical: bool) -> Compared:
    def view(snap: Snapshot) -> dict[str, View]:
        return {f: {"value": getattr(snap.init, f)} for f in INIT_FIELDS}
    return walk("init", view(source), view(target), _facts_describe, include_identical)


# --- services ---------------------------------------------------------------------------

def _service_view(svc: Any) -> View:
    return {"running": svc.running, "enabled": svc.enabled}


def _running(value: bool | None) -> str:
    return {True: "running", False: "stopped", None: "state unknown"}[value]


def _enabled(value: bool | None) -> str:
    return {True: "enabled", False: "disabled", None: "boot state unknown"}[value]


def _service_describe(key: str, kind: str, a: Any, b: Any, field: str | None) -> str:
    if kind == "only-in-source":
        return f"{key}: {_running(a['running'])} and {_enabled(a['enabled'])} on source, absent on target"
    if kind == "only-in-target":
        return f"{key}: absent on source, {_running(b['running'])} and {_enabled(b['enabled'])} on target"
    if kind == "identical":
        return f"{key}: {_running(a['running'])}, {_enabled(a['enabled'])} on both"
    word = _running if field == "running" else _enabled
    return f"{key}: {word(a)} on source, {word(b)} on target"


def compare_services(source: Snapshot, target: Snapshot, include_identical: bool) -> Compared:
    src = {name: _service_view(s) for name, s in source.services.items()}
    tgt = {name: _service_view(s) for name, s in target.services.items()}
    return walk("services", src, tgt, _service_describe, include_identical)


# --- runlevels: which services start in each runlevel or target --------------------------

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


def _level_describe(key: str, kind: str, a: Any, b: Any, field: str | None) -> str:
    level, _, name = key.partition(": ")
    verb = "is wanted by" if level.endswith(".target") else "starts in"
    if kind == "only-in-source":
        return f"{name} {verb} {level} on source, not on target"
    if kind == "only-in-target":
        return f"{name} {verb} {level} on target, not on source"
    return f"{name} {verb} {level} on both"


def compare_runlevels(source: Snapshot, target: Snapshot, include_identical: bool) -> Compared:
    """Only levels both hosts know are compared: a SysV runlevel has no counterpart on a systemd-only host."""
    a, b = boot_levels(source), boot_levels(target)
    common = a.keys() & b.keys()
    src = {f"{level}: {name}": {"starts": True} for level in common for name in a[level]}
    tgt = {f"{level}: {name}": {"starts": True} for level in common for name in b[level]}
    return walk("runlevels", src, tgt, _level_describe, include_identical)


# --- ports -----------------------------------------------------------------------------------

def port_key(protocol: str, bind: str | None, port: int | None, path: str | None) -> str:
    if protocol == "unix":
        return f"unix:{path}"
    address = "*" if (bind or "") in WILDCARDS else (f"[{bind}]" if ":" in (bind or "") else bind)
    return f"{protocol}/{address}:{port}"


def _port_views(snap: Snapshot) -> dict[str, View]:
    views: dict[str, View] = {}
    for p in snap.ports:
        key = port_key(p.protocol, p.bind, p.port, p.path)
        names = views.setdefault(key, {"processes": []})["processes"]
        for proc in p.processes:
            if proc.name and proc.name not in names:
                names.append(proc.name)
    for view in views.values():
        view["processes"].sort()
    return views


def _procs(names: list[str]) -> str:
    return ", ".join(names) if names else "process unknown"


def _port_describe(key: str, kind: str, a: Any, b: Any, field: str | None) -> str:
    if kind == "only-in-source":
        return f"{key} ({_procs(a['processes'])}) listens on source, nothing on target"
    if kind == "only-in-target":
        return f"{key} ({_procs(b['processes'])}) listens on target, nothing on source"
    if kind == "identical":
        return f"{key} ({_procs(a['processes'])}) listens on both"
    return f"{key}: {_procs(a)} on source, {_procs(b)} on target"


def _port_order(key: str) -> tuple[int, int, str]:
    """tcp, then udp, then unix sockets; by port number, then address."""
    if key.startswith("unix:"):
        return (2, 0, key)
    protocol, _, rest = key.partition("/")
    address, _, port = rest.rpartition(":")
    return (0 if protocol == "tcp" else 1, int(port) if port.isdigit() else 0, address)


def compare_ports(source: Snapshot, target: Snapshot, include_identical: bool) -> Compared:
    return walk("ports", _port_views(source), _port_views(target), _port_describe, include_identical,
                order=_port_order)


# --- packages ---------------------------------------------------------------------------------

def evr(epoch: str | None, version: str | None, release: str | None) -> str:
    """epoch:version-release, the way dpkg and rpm print a full version."""
    text = version or ""
    if epoch and epoch != "0":
        text = f"{epoch}:{text}"
    if release:
        text = f"{text}-{release}"
    return text


def _package_views(snap: Snapshot) -> dict[str, View]:
    views: dict[str, View] = {}
    for p in snap.packages:
        key = f"{p.manager}:{p.name}:{p.arch or '-'}"
        view = views.setdefault(key, {"version": [], "status": p.status, "arch": p.arch})
        view["version"].append(evr(p.epoch, p.version, p.release))
    for view in views.values():  # several installed versions (kernels on rpm) compare as a set
        versions = sorted(set(view["version"]))
        view["version"] = versions[0] if len(versions) == 1 else versions
    return views


def _pair_cross_arch(src: dict[str, View], tgt: dict[str, View]) -> None:
    """A package present once on each side under different arches (i686 -> x86_64, any -> all)
    is one package that changed arch: re-key both sides to manager:name."""
    def unmatched(mine: dict[str, View], other: dict[str, View]) -> dict[str, list[str]]:
        by_name: dict[str, list[str]] = defaultdict(list)
        for key in mine.keys() - other.keys():
            by_name[key.rsplit(":", 1)[0]].append(key)
        return by_name
    a, b = unmatched(src, tgt), unmatched(tgt, src)
    for name in a.keys() & b.keys():
        if len(a[name]) == 1 and len(b[name]) == 1:
            src[name] = src.pop(a[name][0])
            tgt[name] = tgt.pop(b[name][0])


def _package_describe(key: str, kind: str, a: Any, b: Any, field: str | None) -> str:
    name = key.split(":")[1]
    if kind == "only-in-source":
        return f"{name} {_show(a['version'])} ({a['arch'] or 'no arch'}): {a['status']} on source, absent on target"
    if kind == "only-in-target":
        return f"{name} {_show(b['version'])} ({b['arch'] or 'no arch'}): absent on source, {b['status']} on target"
    if kind == "identical":
        return f"{name} {_show(a['version'])}: same on both"
    return f"{name}: {field} {_show(a)} on source, {_show(b)} on target"


def compare_packages(source: Snapshot, target: Snapshot, include_identical: bool) -> Compared:
    src, tgt = _package_views(source), _package_views(target)
    _pair_cross_arch(src, tgt)
    return walk("packages", src, tgt, _package_describe, include_identical)


SECTION_COMPARERS: dict[str, Callable[[Snapshot, Snapshot, bool], Compared]] = {
    "system": compare_system,
    "init": compare_init,
    "services": compare_services,
    "runlevels": compare_runlevels,
    "ports": compare_ports,
    "packages": compare_packages,
}

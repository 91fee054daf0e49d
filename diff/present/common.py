"""What every presenter shares: labels, the order changes are read in, and safe host text."""
from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel

from ..changes import SECTIONS, Change, DiffReport, HostRef
from ..errors import escaped
from ..verdict import headline, kind_phrase

MARKS = {"only-in-source": "-", "only-in-target": "+", "changed": "~", "identical": "="}
SUMMARY_TITLE = "Other differences, by kind (every one with --all)"
COLUMNS = (("blocker", "blockers"), ("warning", "warnings"), ("info", "other"), ("ignored", "set aside"),
           ("only_in_source", "only in source"), ("only_in_target", "only in target"), ("changed", "changed"),
           ("identical", "identical"))

__all__ = ["MARKS", "COLUMNS", "SUMMARY_TITLE", "CLIENTS_TITLE", "MAX_VALUE", "clip", "safe", "capped", "record_text",
           "host_line", "headline", "groups",
           "finding", "kinds", "evidence_lines", "readiness_lines", "client_lines", "workload_lines"]


# No value is shown whole past this many characters, in any format: a 50 MB string in a snapshot
# would otherwise be copied a dozen times on its way out.
MAX_VALUE = 4096


def clip(text: str, limit: int = MAX_VALUE) -> str:
    """text, or its first `limit` characters and a mark saying how many more there were."""
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit} more characters]"


def safe(text: object) -> str:
    """Host data may carry terminal escapes, control bytes or bidirectional overrides: show them,
    never obey them (and never show more than MAX_VALUE characters of one value)."""
    return escaped(clip(str(text)))


def capped(value: Any, limit: int = MAX_VALUE) -> Any:
    """value with every string in it longer than `limit` clipped (clip), models and dataclasses
    included; the very same object when nothing is that long, so that a report is copied only
    where it must be."""
    if isinstance(value, str):
        return clip(value, limit) if len(value) > limit else value
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, BaseModel):
        update = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = capped(old, limit)
            if new is not old:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        update = {}
        for field in dataclasses.fields(value):
            old = getattr(value, field.name)
            new = capped(old, limit)
            if new is not old:
                update[field.name] = new
        if not update:
            return value
        copy = object.__new__(type(value))  # no validation: only strings got shorter
        for field in dataclasses.fields(value):
            object.__setattr__(copy, field.name, update.get(field.name, getattr(value, field.name)))
        return copy
    if isinstance(value, (list, tuple)):
        items = [capped(item, limit) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return type(value)(items) if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        pairs = [(capped(k, limit), capped(v, limit)) for k, v in value.items()]
        if all(k is old_k and v is old_v for (k, v), (old_k, old_v) in zip(pairs, value.items())):
            return value
        return dict(pairs)
    return value


def host_line(ref: HostRef) -> str:
    parts = [ref.hostname or "?", ref.distro or "unknown distribution", ref.init or "unknown init"]
    return f"{safe(ref.bundle)} ({', '.join(safe(p) for p in parts)})"


def groups(report: DiffReport, show_ignored: bool = False, full: bool = True) -> list[tuple[str, list[Change]]]:
    """The changes in reading order: blockers, warnings, then (when full) the rest by section; the
    set-aside ones last, when asked for."""
    live = [c for c in report.changes if not c.ignored]
    out = [("Blockers", [c for c in live if c.severity == "blocker" and c.kind != "identical"]),
           ("Warnings", [c for c in live if c.severity == "warning" and c.kind != "identical"])]
    if full:
        for section in SECTIONS:
            rest = [c for c in live if c.section == section and (c.severity == "info" or c.kind == "identical")]
            out.append((f"Other differences: {section}", rest))
    if show_ignored:
        out.append(("Set aside as expected", [c for c in report.changes if c.ignored]))
    return [(title, changes) for title, changes in out if changes]


def finding(change: Change) -> str:
    """A blocker's or warning's line: what differs, then what to check."""
    return f"{change.text} — {change.hint}" if change.hint else change.text


def kinds(report: DiffReport) -> list[str]:
    """The other differences counted by kind: "packages: 145 packages upgraded within ..."."""
    if report.judgement is None:
        return []
    return [f"{kind.partition(':')[0]}: {kind_phrase(kind, n)}" for kind, n in report.judgement.kinds.items()]


def evidence_lines(report: DiffReport) -> list[str]:
    return [f"evidence: {note}" for note in (report.judgement.evidence if report.judgement else [])]


def readiness_lines(report: DiffReport) -> list[str]:
    """ "ssh: ready: the target's root key ... may log in to the source as root"."""
    return [f"{r.topic}: {r.text}" for r in report.readiness]


CLIENTS_TITLE = "Clients to repoint (connected to the source's listening ports)"


def client_lines(report: DiffReport) -> list[str]:
    return [f"tcp port {c.port}: {', '.join(c.remotes)} ({c.connections} connection{'s' if c.connections != 1 else ''})"
            for c in report.clients]


def workload_lines(req) -> list[tuple[str, list[str]]]:
    """A host's jobs, local units, dependencies and clients, as (title, lines) for `show`."""
    out = []
    if "jobs" in req.sections:
        out.append((f"scheduled jobs ({len(req.jobs)})", [
            j.phrase()
            + (" [no package: the workload's own]" if j.package is None else
               "" if j.package == "?" else f" [package {j.package}]") for j in req.jobs]))
    if "units" in req.sections:
        out.append((f"local units, no package owns them ({len(req.units)})", [
            f"{u.kind} {u.name} ({u.file})" + (f": runs {u.exec}" if u.exec else "") for u in req.units]))
    if "connections" in req.sections:
        out.append((f"dependencies: remote endpoints it connects to ({len(req.dependencies)})", [
            (f"{d.remote}:{d.port}" if ":" not in d.remote else f"[{d.remote}]:{d.port}")
            + f" ({d.service or d.process or 'process unknown'}, {d.count} connection{'s' if d.count != 1 else ''})"
            for d in req.dependencies]))
        out.append((f"clients: who connects to its listening ports ({len(req.clients)})", [
            f"tcp port {c.port}: {c.remote} ({c.count} connection{'s' if c.count != 1 else ''})" for c in req.clients]))
    return out


def record_text(section: str, record: Any) -> str | None:
    """A whole record (a package, service, port or job found on one host only) as a person reads it
    in one cell: "2.4.62-1~deb11u1 amd64, installed by hand", not every field with its name.  None
    when the value is not such a record (the caller shows it as it is)."""
    if not isinstance(record, dict):
        return None
    get = record.get
    if section == "packages" and "version" in record:
        words = [str(get("version") or "no version"), str(get("arch") or "")]
        extra = [] if get("status") in (None, "installed") else [str(get("status"))]
        if get("auto") is not None:
            extra.append("pulled in as a dependency" if get("auto") else "installed by hand")
        return " ".join(w for w in words if w) + (f", {', '.join(extra)}" if extra else "")
    if section == "services" and "running" in record:
        state = "running" if get("running") else "not running"
        enabled = {True: "enabled", False: "disabled"}.get(get("enabled"), get("enabled_state") or "enablement unknown")
        return f"{state}, {enabled}"
    if section == "ports" and "programs" in record:
        who = ", ".join(get("programs") or []) or "process unknown"
        return f"{who} ({get('exposure')})" if get("exposure") else who
    if section == "jobs" and "schedule" in record:
        said = " ".join(x for x in (get("schedule"), get("user") and f"as {get('user')}") if x)
        return said or str(get("kind") or "scheduled job")
    return None

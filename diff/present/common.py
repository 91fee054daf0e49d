"""What every presenter shares: labels, the order changes are read in, and safe host text."""
from __future__ import annotations

from ..changes import SECTIONS, Change, DiffReport, HostRef
from ..verdict import headline

MARKS = {"only-in-source": "-", "only-in-target": "+", "changed": "~", "identical": "="}
COLUMNS = (("blocker", "blockers"), ("warning", "warnings"), ("info", "other"), ("ignored", "set aside"),
           ("only_in_source", "only in source"), ("only_in_target", "only in target"), ("changed", "changed"),
           ("identical", "identical"))

__all__ = ["MARKS", "COLUMNS", "safe", "host_line", "headline", "groups"]


def safe(text: object) -> str:
    """Host data may carry terminal escapes or control bytes: show them, never obey them."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in s)


def host_line(ref: HostRef) -> str:
    parts = [ref.hostname or "?", ref.distro or "unknown distribution", ref.init or "unknown init"]
    return f"{ref.bundle} ({', '.join(safe(p) for p in parts)})"


def groups(report: DiffReport, show_ignored: bool = False) -> list[tuple[str, list[Change]]]:
    """The changes in reading order: blockers, warnings, then the rest by section; the set-aside
    ones last, when asked for."""
    live = [c for c in report.changes if not c.ignored]
    out = [("Blockers", [c for c in live if c.severity == "blocker" and c.kind != "identical"]),
           ("Warnings", [c for c in live if c.severity == "warning" and c.kind != "identical"])]
    for section in SECTIONS:
        rest = [c for c in live if c.section == section and (c.severity == "info" or c.kind == "identical")]
        out.append((f"Other differences: {section}", rest))
    if show_ignored:
        out.append(("Set aside as expected", [c for c in report.changes if c.ignored]))
    return [(title, changes) for title, changes in out if changes]

"""What every presenter shares: labels, the order changes are read in, and safe host text."""
from __future__ import annotations

from ..changes import SECTIONS, Change, DiffReport, HostRef
from ..verdict import headline, kind_phrase

MARKS = {"only-in-source": "-", "only-in-target": "+", "changed": "~", "identical": "="}
SUMMARY_TITLE = "Other differences, by kind (every one with --all)"
COLUMNS = (("blocker", "blockers"), ("warning", "warnings"), ("info", "other"), ("ignored", "set aside"),
           ("only_in_source", "only in source"), ("only_in_target", "only in target"), ("changed", "changed"),
           ("identical", "identical"))

__all__ = ["MARKS", "COLUMNS", "SUMMARY_TITLE", "safe", "host_line", "headline", "groups", "finding", "kinds",
           "evidence_lines"]


def safe(text: object) -> str:
    """Host data may carry terminal escapes or control bytes: show them, never obey them."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in s)


def host_line(ref: HostRef) -> str:
    parts = [ref.hostname or "?", ref.distro or "unknown distribution", ref.init or "unknown init"]
    return f"{ref.bundle} ({', '.join(safe(p) for p in parts)})"


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

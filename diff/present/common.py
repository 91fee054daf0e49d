"""What every presenter shares: labels, markers and making host-supplied text safe to print."""
from __future__ import annotations

from ..changes import DiffReport, HostRef

MARKS = {"only-in-source": "-", "only-in-target": "+", "changed": "~", "identical": "="}
COLUMNS = (("only_in_source", "only in source"), ("only_in_target", "only in target"),
           ("changed", "changed"), ("identical", "identical"), ("expected", "expected"))


def safe(text: object) -> str:
    """Host data may carry terminal escapes or control bytes: show them, never obey them."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in s)


def host_line(ref: HostRef) -> str:
    parts = [ref.hostname or "?", ref.distro or "unknown distribution", ref.init or "unknown init"]
    return f"{ref.bundle} ({', '.join(safe(p) for p in parts)})"


def headline(report: DiffReport) -> str:
    n = report.differences
    if not n:
        return "no differences"
    return f"{n} difference{'s' if n != 1 else ''}"

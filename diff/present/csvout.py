"""CSV: one row per change, for spreadsheets."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..changes import DiffReport
from ..errors import UsageError

FIELDS = ("section", "key", "severity", "reason", "kind", "field", "source", "target", "text", "hint", "set_aside")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def render_diff(report: DiffReport, show_ignored: bool = False, full: bool = False) -> str:
    """Every difference (set-aside ones only with show_ignored), blockers first as in the report."""
    order = {"blocker": 0, "warning": 1, "info": 2}
    rows = [c for c in report.changes if c.kind != "identical" and (show_ignored or not c.ignored)]
    rows.sort(key=lambda c: (bool(c.ignored), order[c.severity]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for c in rows:
        writer.writerow([c.section, c.key, c.severity, c.reason or "", c.kind, c.field or "", _cell(c.source),
                         _cell(c.target), c.text, c.hint or "", c.ignored or ""])
    return out.getvalue()


def render_show(req: Any) -> str:
    raise UsageError("--format csv lists the changes of a diff; for one host use json, markdown or html")

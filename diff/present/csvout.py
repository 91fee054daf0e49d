"""CSV: one row per change, for spreadsheets."""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from ..changes import DiffReport
from ..errors import UsageError
from .common import safe

FIELDS = ("section", "key", "severity", "reason", "kind", "field", "source", "target", "text", "hint", "set_aside")


# What makes a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a formula; OWASP's list.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A cell that is a plain number stays as it is ("-1", "+5", "1.5e3"): a spreadsheet reads it as
# that number, which runs nothing; any other cell starting as a formula gets a leading "'", which
# spreadsheets take as "this is text" and do not show.
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _cell(value: Any) -> str:
    """One CSV field: host text with control and bidi characters escaped, cut at MAX_VALUE, and never
    a formula."""
    if value is None:
        return ""
    text = safe(value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str))
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def render_diff(report: DiffReport, show_ignored: bool = False, full: bool = False) -> str:
    """Every difference (set-aside ones only with show_ignored), blockers first as in the report."""
    order = {"blocker": 0, "warning": 1, "info": 2}
    rows = [c for c in report.changes if c.kind != "identical" and (show_ignored or not c.ignored)]
    rows.sort(key=lambda c: (bool(c.ignored), order[c.severity]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for c in rows:
        writer.writerow([_cell(value) for value in (c.section, c.key, c.severity, c.reason, c.kind, c.field, c.source,
                                                    c.target, c.text, c.hint, c.ignored)])
    return out.getvalue()


def render_show(req: Any) -> str:
    raise UsageError("--format csv lists the changes of a diff; for one host use json, markdown or html")

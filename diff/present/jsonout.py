"""JSON: the DiffReport (or Requirements) model itself; schemas/diff.schema.json describes it."""
from __future__ import annotations

from ..changes import DiffReport
from ..show import Requirements


def render_diff(report: DiffReport, show_ignored: bool = False, full: bool = False) -> str:
    """Every change, set-aside ones included (with their reason): JSON is for machines."""
    return report.model_dump_json(indent=2) + "\n"


def render_show(req: Requirements) -> str:
    return req.model_dump_json(indent=2) + "\n"

"""JSON: the DiffReport (or Requirements) model itself; schemas/diff.schema.json describes it."""
from __future__ import annotations

import re

from ..changes import DiffReport
from ..show import Requirements

# JSON escapes the C0 controls itself; these pass through as they are, and a terminal showing the
# document would obey them (C1 controls such as CSI \x9b) or reorder the text (bidi overrides).
# Escaped as \\uXXXX they are the same JSON strings.
TERMINAL = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")


def _escaped(text: str) -> str:
    if not TERMINAL.search(text):
        return text
    return TERMINAL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render_diff(report: DiffReport, show_ignored: bool = False, full: bool = False) -> str:
    """Every change, set-aside ones included (with their reason): JSON is for machines."""
    return _escaped(report.model_dump_json(indent=2)) + "\n"


def render_show(req: Requirements) -> str:
    return _escaped(req.model_dump_json(indent=2)) + "\n"

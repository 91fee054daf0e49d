"""Presenters: one per output format, all reading the same report (DiffReport or Requirements)."""
from __future__ import annotations

import importlib
import io
from typing import Any

MODULES = {"text": "text", "json": "jsonout", "markdown": "markdown", "html": "html", "csv": "csvout"}


def presenter(fmt: str, what: str):
    """render_<what> of the format's module ("diff" or "show"), given the report with every long
    value clipped and marked (common.capped): no presenter copies a huge value around."""
    from .common import capped
    module = importlib.import_module(f".{MODULES[fmt]}", __name__)
    render_one = getattr(module, f"render_{what}")

    def render_capped(obj: Any, *args: Any, **options: Any) -> Any:
        return render_one(capped(obj), *args, **options)
    return module, render_capped


def render(fmt: str, what: str, obj: Any, width: int | None = None, **options: Any) -> str:
    """The report as text in that format; the terminal format without color, at `width`."""
    module, render_one = presenter(fmt, what)
    if fmt != "text":
        return render_one(obj, **options)
    buf = io.StringIO()
    render_one(obj, module.console_for(buf, to_file=True, width=width or 120), **options)
    return buf.getvalue()

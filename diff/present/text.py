"""Terminal report: the verdict, a summary table per section, blockers and warnings first."""
from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..changes import DiffReport
from ..show import Requirements, package_version, runlevels_on
from .common import (
    CLIENTS_TITLE,
    COLUMNS,
    MARKS,
    SUMMARY_TITLE,
    client_lines,
    evidence_lines,
    finding,
    groups,
    headline,
    host_line,
    kinds,
    readiness_lines,
    safe,
    workload_lines,
)

STYLES = {"blocker": "bold red", "warning": "yellow", "info": "", "identical": "dim"}
VERDICT_STYLES = {"NOT READY": "bold red", "READY WITH WARNINGS": "bold yellow", "READY": "bold green"}


def _columns() -> int | None:
    """COLUMNS from the environment, when it is a usable width."""
    import os
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) >= MIN_WIDTH else None


MIN_WIDTH = 20      # narrower than this, nothing reads anyway: lines are cut at it
INDENT = "      "   # continuation of a wrapped change line, under its text


def console_for(stream: TextIO, to_file: bool, width: int | None = None) -> Console:
    # Console itself drops color when the stream is not a terminal or NO_COLOR is set.  The width
    # is --width, else the terminal's, else COLUMNS (a pipe to a pager or a narrow tool), else
    # none: piped output then has 120 columns of room and is not wrapped, so grep finds whole lines.
    tty = hasattr(stream, "isatty") and stream.isatty()
    if width is None and not tty:
        width = _columns()
        wrap = width is not None
        width = width or 120
    else:
        wrap = True
    if width is not None:
        width = max(width, MIN_WIDTH)
    console = Console(file=stream, width=width, no_color=to_file or None, highlight=False,
                      color_system=None if to_file else "auto", soft_wrap=not wrap)

    def reader_gone() -> None:
        # rich exits 1 when the reader goes away (`migdiff show x.tgz | head`): that is not a
        # difference; the rest goes nowhere and the command ends with its own status
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
        console.quiet = True
    console.on_broken_pipe = reader_gone  # type: ignore[method-assign]
    return console


def render_diff(report: DiffReport, console: Console, show_ignored: bool = False, full: bool = False) -> None:
    verdict = report.judgement.verdict if report.judgement else ""
    _print(console, Text(safe(headline(report)), style=VERDICT_STYLES.get(verdict, "bold")))
    _print(console, Text(f"source: {host_line(report.source)}"))
    _print(console, Text(f"target: {host_line(report.target)}"))
    for line in evidence_lines(report):
        _print(console, Text(safe(line), style="yellow"))
    for line in readiness_lines(report):
        _print(console, Text(safe(line)))
    console.print()
    _counts(console, report)
    found = groups(report, show_ignored, full)
    findings = [(t, c) for t, c in found if t in ("Blockers", "Warnings")]
    rest = [(t, c) for t, c in found if t.startswith("Other")]
    aside = [(t, c) for t, c in found if t == "Set aside as expected"]
    for title, changes in findings:
        _group(console, title, changes)
    _block(console, CLIENTS_TITLE, client_lines(report))
    for title, changes in rest:
        _group(console, title, changes)
    if not full:
        _block(console, SUMMARY_TITLE, kinds(report))
    for title, changes in aside:
        _group(console, title, changes)


def _counts(console: Console, report: DiffReport) -> None:
    """The counts per section: a table where it fits, else a line per section that says the same
    ("services: 2 blockers, 1 warning, 12 identical"): a squeezed table cuts headers and numbers."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("section", no_wrap=True)
    for _, title in COLUMNS:
        table.add_column(title, justify="right", no_wrap=True)
    for section in report.sections:
        counts = report.summary[section]
        table.add_row(section, *(str(getattr(counts, attr)) for attr, _ in COLUMNS))
    rows = [["section", *(title for _, title in COLUMNS)]]
    rows += [[section, *(str(getattr(report.summary[section], attr)) for attr, _ in COLUMNS)]
             for section in report.sections]
    natural = sum(max(len(row[i]) for row in rows) for i in range(len(rows[0]))) + 2 * (len(rows[0]) - 1)
    if console.soft_wrap or natural <= console.width:
        console.print(table)
        return
    console.print(Text("differences per section", style="bold"))
    for section in report.sections:
        counts = report.summary[section]
        said = [f"{n} {title[:-1] if n == 1 and title in ('blockers', 'warnings') else title}"
                for n, title in ((getattr(counts, attr), title) for attr, title in COLUMNS) if n]
        _print(console, Text(f"  {section}: " + (", ".join(said) or "nothing")))


def _print(console: Console, line: Text) -> None:
    """One line, wrapped at the console's width with the continuation indented under the text
    (a change line is one thought; a wrap back to column 0 hides where the next one starts)."""
    if console.soft_wrap or line.cell_len <= console.width:
        console.print(line)
        return
    room = max(console.width - len(INDENT), MIN_WIDTH // 2)
    first, *rest = line.wrap(console, console.width)
    first.rstrip()
    console.print(first)
    if rest:
        pieces = [piece.copy() for piece in rest]
        for piece in pieces:
            piece.rstrip()  # the space a wrap broke at: joined again by one space
        tail = Text(" ").join(pieces)
        for piece in tail.wrap(console, room):
            piece.rstrip()
            console.print(Text(INDENT) + piece)


def _group(console: Console, title: str, changes: list) -> None:
    console.print()
    console.print(Text(title, style="bold underline"))
    for change in changes:
        style = STYLES["identical" if change.kind == "identical" else change.severity]
        line = Text(f"  {MARKS[change.kind]} ", style=style)
        if not title.startswith("Other"):
            line.append(f"{change.section}: ", style="dim")
        line.append(safe(finding(change) if title in ("Blockers", "Warnings") else change.text), style=style)
        if change.reason and change.kind != "identical" and not change.ignored:
            line.append(f" [{safe(change.reason)}]", style="dim")
        if change.ignored:
            line.append(f"  ({safe(change.ignored)})", style="dim")
        _print(console, line)


def _block(console: Console, title: str, lines: list[str]) -> None:
    if lines:
        console.print()
        console.print(Text(title, style="bold underline"))
        for line in lines:
            _print(console, Text(f"  {safe(line)}"))


def _fact(value: object) -> str:
    """A fact as a person reads it: "none", "a, b", not Python's None or ['a', 'b']."""
    if value is None or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def render_show(req: Requirements, console: Console) -> None:
    console.print(Text(f"host: {host_line(req.host)}", style="bold"))
    if req.system:
        console.print()
        console.print(Text("system", style="bold underline"))
        for key, value in req.system.model_dump(exclude={"sources"}).items():
            _print(console, Text(f"  {safe(key)}: {safe(_fact(value))}"))
    if req.init:
        console.print()
        console.print(Text("init", style="bold underline"))
        for key, value in req.init.model_dump(exclude={"sources"}).items():
            _print(console, Text(f"  {safe(key)}: {safe(_fact(value))}"))
    if "services" in req.sections:
        console.print()
        console.print(Text(f"services running or enabled ({len(req.services)})", style="bold underline"))
        for s in req.services:
            levels = runlevels_on(s)
            where = ", ".join(s.targets) or (f"runlevels {levels}" if levels else "")
            state = ("running" if s.running else "not running") + (", enabled" if s.enabled else "")
            cut = f" [name completed from {safe(s.cut_name)!r}]" if s.cut_name else ""
            _print(console, Text(f"  {safe(s.name)} [{safe(s.init)}] {state}" + (f" ({safe(where)})" if where else "")
                                 + cut))
    if "ports" in req.sections:
        console.print()
        console.print(Text(f"listening ({len(req.ports)})", style="bold underline"))
        for p in req.ports:
            who = ", ".join(x for x in (p.service and f"service {p.service}", p.package and f"package {p.package}") if x)
            _print(console, Text(f"  {safe(p.key)} {safe(', '.join(p.processes) or 'process unknown')}"
                               + (f" [{safe(who)}]" if who else "")))
    if "packages" in req.sections:
        console.print()
        console.print(Text(f"packages installed ({len(req.packages)})", style="bold underline"))
        for p in req.packages:
            _print(console, Text(f"  {safe(p.name)} {safe(package_version(p))} {safe(p.arch or '')}".rstrip()))
    for title, lines in workload_lines(req):
        _block(console, title, lines)

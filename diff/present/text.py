"""Terminal report: the verdict, a summary table per section, blockers and warnings first."""
from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..changes import DiffReport
from ..show import Requirements, package_version
from .common import COLUMNS, MARKS, SUMMARY_TITLE, evidence_lines, finding, groups, headline, host_line, kinds, safe

STYLES = {"blocker": "bold red", "warning": "yellow", "info": "", "identical": "dim"}
VERDICT_STYLES = {"NOT READY": "bold red", "READY WITH WARNINGS": "bold yellow", "READY": "bold green"}


def console_for(stream: TextIO, to_file: bool, width: int | None = None) -> Console:
    # Console itself drops color when the stream is not a terminal or NO_COLOR is set.  Piped
    # output has no width to respect: give the summary table room rather than the 80 columns
    # rich assumes.
    if width is None and not (hasattr(stream, "isatty") and stream.isatty()):
        width = 120
    return Console(file=stream, width=width, no_color=to_file or None, highlight=False,
                   color_system=None if to_file else "auto", soft_wrap=True)


def render_diff(report: DiffReport, console: Console, show_ignored: bool = False, full: bool = False) -> None:
    verdict = report.judgement.verdict if report.judgement else ""
    console.print(Text(headline(report), style=VERDICT_STYLES.get(verdict, "bold")))
    console.print(Text(f"source: {host_line(report.source)}"))
    console.print(Text(f"target: {host_line(report.target)}"))
    for line in evidence_lines(report):
        console.print(Text(safe(line), style="yellow"))
    console.print()
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("section")
    for _, title in COLUMNS:
        table.add_column(title, justify="right")
    for section in report.sections:
        counts = report.summary[section]
        table.add_row(section, *(str(getattr(counts, attr)) for attr, _ in COLUMNS))
    console.print(table)
    summary_done = full
    for title, changes in groups(report, show_ignored, full):
        if not summary_done and title == "Set aside as expected":
            _summary(report, console)
            summary_done = True
        console.print()
        console.print(Text(title, style="bold underline"))
        for change in changes:
            style = STYLES["identical" if change.kind == "identical" else change.severity]
            line = Text(f"  {MARKS[change.kind]} ", style=style)
            if not title.startswith("Other"):
                line.append(f"{change.section}: ", style="dim")
            line.append(safe(finding(change) if title in ("Blockers", "Warnings") else change.text), style=style)
            if change.reason and change.kind != "identical" and not change.ignored:
                line.append(f" [{change.reason}]", style="dim")
            if change.ignored:
                line.append(f"  ({safe(change.ignored)})", style="dim")
            console.print(line)
    if not summary_done:
        _summary(report, console)


def _summary(report: DiffReport, console: Console) -> None:
    lines = kinds(report)
    if lines:
        console.print()
        console.print(Text(SUMMARY_TITLE, style="bold underline"))
        for line in lines:
            console.print(Text(f"  {line}"))


def render_show(req: Requirements, console: Console) -> None:
    console.print(Text(f"host: {host_line(req.host)}", style="bold"))
    if req.system:
        console.print()
        console.print(Text("system", style="bold underline"))
        for key, value in req.system.model_dump(exclude={"sources"}).items():
            console.print(Text(f"  {key}: {safe(value)}"))
    if req.init:
        console.print()
        console.print(Text("init", style="bold underline"))
        for key, value in req.init.model_dump(exclude={"sources"}).items():
            console.print(Text(f"  {key}: {safe(value)}"))
    if "services" in req.sections:
        console.print()
        console.print(Text(f"services running or enabled ({len(req.services)})", style="bold underline"))
        for s in req.services:
            levels = "".join(sorted(k for k, v in s.runlevels.items() if v == "on"))
            where = ", ".join(s.targets) or (f"runlevels {levels}" if levels else "")
            state = ("running" if s.running else "not running") + (", enabled" if s.enabled else "")
            console.print(Text(f"  {safe(s.name)} [{s.init}] {state}" + (f" ({safe(where)})" if where else "")))
    if "ports" in req.sections:
        console.print()
        console.print(Text(f"listening ({len(req.ports)})", style="bold underline"))
        for p in req.ports:
            who = ", ".join(x for x in (p.service and f"service {p.service}", p.package and f"package {p.package}") if x)
            console.print(Text(f"  {safe(p.key)} {safe(', '.join(p.processes) or 'process unknown')}"
                               + (f" [{safe(who)}]" if who else "")))
    if "packages" in req.sections:
        console.print()
        console.print(Text(f"packages installed ({len(req.packages)})", style="bold underline"))
        for p in req.packages:
            console.print(Text(f"  {safe(p.name)} {safe(package_version(p))} {p.arch or ''}".rstrip()))

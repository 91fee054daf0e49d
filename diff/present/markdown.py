"""Markdown (GitHub-flavoured tables), for pasting into a ticket: the verdict first."""
from __future__ import annotations

from ..changes import DiffReport
from ..show import Requirements, package_version
from .common import COLUMNS, MARKS, SUMMARY_TITLE, evidence_lines, finding, groups, headline, host_line, kinds, safe


def cell(value: object) -> str:
    return safe(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_diff(report: DiffReport, show_ignored: bool = False, full: bool = False) -> str:
    out = [f"# migdiff: {cell(headline(report))}", "",
           f"- source: {cell(host_line(report.source))}",
           f"- target: {cell(host_line(report.target))}"]
    out += [f"- {cell(line)}" for line in evidence_lines(report)]
    out += ["", "| section | " + " | ".join(title for _, title in COLUMNS) + " |",
            "|---|" + "---:|" * len(COLUMNS)]
    for section in report.sections:
        counts = report.summary[section]
        out.append(f"| {section} | " + " | ".join(str(getattr(counts, a)) for a, _ in COLUMNS) + " |")
    summary_done = full
    for title, changes in groups(report, show_ignored, full):
        if not summary_done and title == "Set aside as expected":
            out += _summary(report)
            summary_done = True
        judged = title in ("Blockers", "Warnings")
        out += ["", f"## {title}", "", "| | section | key | change | reason |" if judged else
                "| | section | key | change |", "|---|---|---|---|---|" if judged else "|---|---|---|---|"]
        for c in changes:
            note = f" *({cell(c.ignored)})*" if c.ignored else ""
            if judged:
                out.append(f"| {MARKS[c.kind]} | {c.section} | `{cell(c.key)}` | {cell(finding(c))}{note} | "
                           f"`{c.reason or ''}` |")
            else:
                out.append(f"| {MARKS[c.kind]} | {c.section} | `{cell(c.key)}` | {cell(c.text)}{note} |")
    if not summary_done:
        out += _summary(report)
    return "\n".join(out) + "\n"


def _summary(report: DiffReport) -> list[str]:
    lines = kinds(report)
    return ["", f"## {SUMMARY_TITLE}", ""] + [f"- {cell(line)}" for line in lines] if lines else []


def render_show(req: Requirements) -> str:
    out = [f"# Requirements of {cell(host_line(req.host))}"]
    if req.system:
        out += ["", "## system", "", "| fact | value |", "|---|---|"]
        out += [f"| {k} | {cell(v)} |" for k, v in req.system.model_dump(exclude={'sources'}).items()]
    if req.init:
        out += ["", "## init", "", "| fact | value |", "|---|---|"]
        out += [f"| {k} | {cell(v)} |" for k, v in req.init.model_dump(exclude={'sources'}).items()]
    if "services" in req.sections:
        out += ["", "## services running or enabled", "", "| service | init | running | enabled | runlevels | targets |",
                "|---|---|---|---|---|---|"]
        for s in req.services:
            levels = "".join(sorted(k for k, v in s.runlevels.items() if v == "on"))
            out.append(f"| {cell(s.name)} | {s.init} | {s.running} | {s.enabled} | {levels} | {cell(', '.join(s.targets))} |")
    if "ports" in req.sections:
        out += ["", "## listening", "", "| socket | processes | service | package |", "|---|---|---|---|"]
        out += [f"| `{cell(p.key)}` | {cell(', '.join(p.processes))} | {cell(p.service or '')} | {cell(p.package or '')} |"
                for p in req.ports]
    if "packages" in req.sections:
        out += ["", "## packages installed", "", "| package | version | arch |", "|---|---|---|"]
        out += [f"| {cell(p.name)} | {cell(package_version(p))} | {p.arch or ''} |" for p in req.packages]
    return "\n".join(out) + "\n"

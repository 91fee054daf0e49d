"""Markdown (GitHub-flavoured tables), for pasting into a ticket: the verdict first."""
from __future__ import annotations

import re

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

# What Markdown (GitHub's) reads as markup in a table cell: a pipe ends the cell; a backtick starts or
# ends a code span (outside one, `![x](http://...)` is an image, fetched when the ticket is viewed);
# "](" and "][" make links and images; < autolinks and HTML; & entities (&#x202e; is a bidi
# override); * ~ and an underscore at a word's edge emphasis or strike text through; a backslash
# escapes them all, and is escaped itself.  Underscores inside words (mod_php) and brackets
# that make no link ([package apache2]) stay as they are.
MARKUP = re.compile(r"[\\`|<&*~]|\](?=[(\[])|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# A key shown as code when it holds nothing a code span cannot (a backtick, a backslash) or could
# hide (brackets): names, sockets, package keys.
CODE = re.compile(r"[\w.:/@*+=,~%-]+( [\w.:/@*+=,~%-]+)*")


def _escape(text: str) -> str:
    return MARKUP.sub(lambda m: "\\" + m.group(), text)


def cell(value: object) -> str:
    """Host text in a table cell or list item: escaped (common.safe), every markup character
    backslash-escaped, so it reads as the text it is."""
    return _escape(safe(value))


def code(value: object) -> str:
    """A key as a code span when it can be one safely; otherwise as cell() text."""
    text = safe(value)
    return f"`{text}`" if CODE.fullmatch(text) else _escape(text)


def render_diff(report: DiffReport, show_ignored: bool = False, full: bool = False) -> str:
    out = [f"# migdiff: {cell(headline(report))}", "",
           f"- source: {cell(host_line(report.source))}",
           f"- target: {cell(host_line(report.target))}"]
    out += [f"- {cell(line)}" for line in evidence_lines(report) + readiness_lines(report)]
    out += ["", "| section | " + " | ".join(title for _, title in COLUMNS) + " |",
            "|---|" + "---:|" * len(COLUMNS)]
    for section in report.sections:
        counts = report.summary[section]
        out.append(f"| {section} | " + " | ".join(str(getattr(counts, a)) for a, _ in COLUMNS) + " |")
    found = groups(report, show_ignored, full)
    for title, changes in [(t, c) for t, c in found if t in ("Blockers", "Warnings")]:
        out += ["", f"## {title}", "", "| | section | key | change | reason |", "|---|---|---|---|---|"]
        for c in changes:
            out.append(f"| {MARKS[c.kind]} | {c.section} | {code(c.key)} | {cell(finding(c))} | "
                       f"{code(c.reason or '')} |")
    out += _list(CLIENTS_TITLE, client_lines(report))
    for title, changes in [(t, c) for t, c in found if t.startswith("Other") or t == "Set aside as expected"]:
        if title == "Set aside as expected" and not full:
            out += _list(SUMMARY_TITLE, kinds(report))
            full = True  # the summary is written once, before what was set aside
        out += ["", f"## {title}", "", "| | section | key | change |", "|---|---|---|---|"]
        for c in changes:
            note = f" *({cell(c.ignored)})*" if c.ignored else ""
            out.append(f"| {MARKS[c.kind]} | {c.section} | {code(c.key)} | {cell(c.text)}{note} |")
    if not full:
        out += _list(SUMMARY_TITLE, kinds(report))
    return "\n".join(out) + "\n"


def _list(title: str, lines: list[str]) -> list[str]:
    return ["", f"## {title}", ""] + [f"- {cell(line)}" for line in lines] if lines else []


def render_show(req: Requirements) -> str:
    out = [f"# Requirements of {cell(host_line(req.host))}"]
    if req.system:
        out += ["", "## system", "", "| fact | value |", "|---|---|"]
        out += [f"| {cell(k)} | {cell(v)} |" for k, v in req.system.model_dump(exclude={'sources'}).items()]
    if req.init:
        out += ["", "## init", "", "| fact | value |", "|---|---|"]
        out += [f"| {cell(k)} | {cell(v)} |" for k, v in req.init.model_dump(exclude={'sources'}).items()]
    if "services" in req.sections:
        out += ["", "## services running or enabled", "", "| service | init | running | enabled | runlevels | targets |",
                "|---|---|---|---|---|---|"]
        for s in req.services:
            levels = runlevels_on(s)
            out.append(f"| {cell(s.name)} | {cell(s.init)} | {cell(s.running)} | {cell(s.enabled)} | {cell(levels)} | "
                       f"{cell(', '.join(s.targets))} |")
    if "ports" in req.sections:
        out += ["", "## listening", "", "| socket | processes | service | package |", "|---|---|---|---|"]
        out += [f"| {code(p.key)} | {cell(', '.join(p.processes))} | {cell(p.service or '')} | "
                f"{cell(p.package or '')} |"
                for p in req.ports]
    if "packages" in req.sections:
        out += ["", "## packages installed", "", "| package | version | arch |", "|---|---|---|"]
        out += [f"| {cell(p.name)} | {cell(package_version(p))} | {cell(p.arch or '')} |" for p in req.packages]
    for title, lines in workload_lines(req):
        out += ["", f"## {cell(title)}", ""] + [f"- {cell(line)}" for line in lines]
    return "\n".join(out) + "\n"

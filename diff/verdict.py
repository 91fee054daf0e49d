"""Judging a diff: how much each change matters, which differences are expected, and the verdict.

Severity (the question is "can the target take over from the source?"):
- blocker: a service running or enabled on the source that is absent, stopped or not enabled on
  the target; a port listening on the source with nothing on the target (or a narrower bind);
  a package installed on the source missing on the target (unless apt installed it only as a
  dependency: then a warning, as it comes and goes with what needs it).
- warning: a package downgrade or an unordered version; a kernel major.minor change; an
  architecture or distribution change; a change of init system or of the default runlevel or
  target; a service replaced by another program; a port served by another program or bound
  more widely; a service that no longer starts in a runlevel or target.
- info: everything else: extra on the target, upgrades, packaging-only revisions.

Expected differences are set aside by rules (built-in data/expected.toml, and the user's ignore
file): they are counted and listed with --show-ignored, never silently dropped.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .changes import SECTIONS, Change, Counts, DiffReport, Judgement
from .errors import MigdiffError
from .names import load_toml, user_config

BUILTIN_RULES = Path(__file__).resolve().parent / "data" / "expected.toml"
FailOn = Literal["blocker", "warning", "any"]


@dataclass(frozen=True)
class Rule:
    section: str
    pattern: str
    reason: str
    origin: str

    def describe(self) -> str:
        return f"{self.reason} ({self.origin}: {self.section} {self.pattern!r})"


def parse_rules(doc: dict, origin: str) -> list[Rule]:
    rules = []
    for section, table in doc.items():
        if section not in SECTIONS:
            raise MigdiffError(f"{origin}: unknown section [{section}]; sections are {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise MigdiffError(f"{origin}: [{section}] must hold pattern = \"reason\" lines")
        for pattern, reason in table.items():
            if not isinstance(reason, str) or not reason.strip():
                raise MigdiffError(f"{origin}: [{section}] {pattern!r} needs a reason (a non-empty string)")
            rules.append(Rule(section, pattern, reason.strip(), origin))
    return rules


def load_rules(path: Path | None = None, builtin: bool = True) -> list[Rule]:
    """Built-in rules (unless disabled), then the user's: --ignore FILE, else
    $XDG_CONFIG_HOME/migdiff/ignore.toml when it exists."""
    rules = parse_rules(load_toml(BUILTIN_RULES), "built-in") if builtin else []
    user = path if path is not None else user_config("ignore.toml")
    if path is not None or user.exists():
        rules += parse_rules(load_toml(user), str(user))
    return rules


def subjects(change: Change) -> list[str]:
    """The names a rule may match for this change: its key and the names it involves."""
    names = [change.key]
    if change.pair:
        names += [change.pair.source, change.pair.target]
    if change.section == "packages":
        names += [part.split(":")[1] for part in change.key.split(" = ") if part.count(":") == 2]
    elif change.section == "services":
        names += change.key.split(" = ")
    if change.attribution and change.attribution.process:
        names.append(change.attribution.process)
    return names


def matching_rule(change: Change, rules: list[Rule]) -> Rule | None:
    sections = {change.section, "services"} if change.section == "runlevels" else {change.section}
    names = subjects(change)
    for rule in rules:
        if rule.section in sections and any(fnmatch.fnmatchcase(n, rule.pattern) for n in names):
            return rule
    return None


def _major_minor(release: object) -> tuple[str, ...]:
    return tuple(re.findall(r"\d+", str(release or ""))[:2])


def severity(change: Change) -> str:
    section, kind, fld = change.section, change.kind, change.field
    if kind == "only-in-target" or kind == "identical":
        return "info"
    if section == "services":
        if kind == "only-in-source":
            if change.pair and change.pair.how == "provided-by":
                return "info"
            return "blocker" if change.source["running"] or change.source["enabled"] else "info"
        if fld == "replaced-by":
            return "warning"
        return "blocker" if change.source is True and change.target is not True else "info"
    if section == "ports":
        if kind == "only-in-source":
            return "blocker"
        if fld == "bind":
            return "warning"  # served on more addresses than before: check the exposure
        return "warning"  # another program serves it
    if section == "packages":
        if kind == "only-in-source":
            if change.pair and change.pair.how == "provided-by":
                return "info"
            if change.source["status"] != "installed":
                return "info"
            return "warning" if change.source.get("auto") else "blocker"  # a dependency follows its dependents
        if fld == "status":
            return "blocker" if change.source == "installed" else "info"
        if fld == "version":
            return "warning" if change.movement in ("downgraded", "unordered") else "info"
        if fld == "replaced-by":
            return "warning"
        return "info"
    if section == "runlevels":
        return "warning" if kind == "only-in-source" else "info"
    if section == "system":
        if fld is None:
            return "info"
        if change.key == "kernel_release":
            return "warning" if _major_minor(change.source) != _major_minor(change.target) else "info"
        return "warning" if change.key in ("arch", "distro_id") else "info"
    if section == "init":
        return "warning" if change.key in ("active", "default_boot") else "info"
    return "info"


def judge(report: DiffReport, rules: list[Rule], fail_on: FailOn = "any") -> DiffReport:
    """Sets each change's severity and ignore reason, recounts the summary, and adds the verdict."""
    for change in report.changes:
        change.severity = severity(change)
        rule = matching_rule(change, rules) if change.kind != "identical" else None
        change.ignored = rule.describe() if rule else None
    summary: dict[str, Counts] = {}
    for section in report.sections:
        summary[section] = Counts(identical=report.summary[section].identical)
    for change in report.changes:
        summary[change.section].add(change)
    report.summary = summary
    totals = {s: sum(getattr(c, s) for c in summary.values()) for s in ("blocker", "warning", "info", "ignored")}
    if totals["blocker"]:
        verdict = "NOT READY"
    elif totals["warning"]:
        verdict = "READY WITH WARNINGS"
    else:
        verdict = "READY"
    report.judgement = Judgement(verdict=verdict, fail_on=fail_on, **totals)
    return report


def fails(report: DiffReport) -> bool:
    """Whether the report should exit 1 under its --fail-on level (as diff(1) when 'any')."""
    j = report.judgement
    if j is None:
        return report.differences > 0
    if j.fail_on == "blocker":
        return j.blocker > 0
    if j.fail_on == "warning":
        return j.blocker + j.warning > 0
    return j.blocker + j.warning + j.info > 0


def headline(report: DiffReport) -> str:
    j = report.judgement
    if j is None:
        return f"{report.differences} differences"
    counts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in
              ((j.blocker, "blocker"), (j.warning, "warning")) if n or j.verdict != "READY"]
    tail = f"; {j.info} other differences" if j.info else ""
    tail += f"; {j.ignored} expected differences set aside" if j.ignored else ""
    return f"{j.verdict}: {', '.join(counts) or 'no differences that matter'}{tail}"

"""A plan as a Markdown checklist for a change ticket: the same steps as the script, in the same
order, each with the finding it addresses and its commands in a code block; decisions as
checklist items of their own.  Text from the bundles is one line, escaped, and kept out of
Markdown syntax (code spans, fences)."""
from __future__ import annotations

import shlex

from ..plan import Decide, Install, Plan, PutFile, Service, finding_line, one_line

q = shlex.quote


def _md(text: str) -> str:
    """One line of plain text for Markdown: its syntax characters escaped."""
    out = one_line(text, 600)
    for ch in "\\`*_[]<>#|!~":
        out = out.replace(ch, "\\" + ch)
    return out


def _fence(lines: list[str]) -> list[str]:
    return ["  ```sh", *("  " + line for line in lines), "  ```"]


def _commands(plan: Plan, step) -> list[str]:
    a = step.action
    if isinstance(a, Install):
        cmd = {"apt-get": "apt-get install -y --no-install-recommends", "dnf": "dnf install -y",
               "yum": "yum install -y", "zypper": "zypper --non-interactive install", "apk": "apk add"}
        return [f"{cmd.get(a.manager, a.manager + ' install')} {q(a.package)}"]
    if isinstance(a, Service):
        out = []
        name = q(a.name)
        if a.init == "systemd":
            out += [f"systemctl enable {name}"] if a.enable else []
            out += [f"systemctl start {name}"] if a.start else []
        elif a.init == "sysv":
            if a.enable:
                out.append(f"update-rc.d {name} defaults" if plan.manager == "apt-get"
                           else f"chkconfig --level {''.join(a.levels) or '2345'} {name} on")
            out += [f"service {name} start"] if a.start else []
        elif a.init == "openrc":
            out += [f"rc-update add {name} {q(level)}" for level in (a.levels or ["default"])] if a.enable else []
            out += [f"rc-service {name} start"] if a.start else []
        elif a.init == "upstart":
            out += [f"initctl start {name}"] if a.start else []
        return out
    if isinstance(a, PutFile):
        if a.crontab_user:
            return [(f"crontab -u {q(a.crontab_user)} FILE   # FILE: the source's crontab (sha256 "
                     f"{a.sha256[:12]}...; see the script)")]
        return [(f"install -m {a.mode} -o {q(a.owner)} -g {q(a.group)} FILE {q(a.path)}   # only if absent; FILE: "
                 f"the source's copy (sha256 {a.sha256[:12]}...; see the script)"), *a.after]
    return []


def render_plan(plan: Plan) -> str:
    src, tgt = plan.source, plan.target
    out = [f"# Plan: {_md(str(tgt.hostname))} takes over from {_md(str(src.hostname))}", "",
           f"- source: {_md(src.bundle)} ({_md(str(src.hostname))}, {_md(str(src.distro))}, {_md(src.init)})",
           (f"- target: {_md(tgt.bundle)} ({_md(str(tgt.hostname))}, {_md(str(tgt.distro))}, {_md(tgt.init)}; "
            f"machine id {_md(str(tgt.machine_id))})"),
           f"- the diff said: {plan.verdict or 'not judged'}; {plan.actions} steps, {plan.decisions} decisions",
           (f"- written by migdiff {plan.migdiff_version} (`migdiff plan`); the script (`--format sh`) does the "
            f"same steps, idempotently, refusing any host but the target"), ""]
    actions = [s for s in plan.steps if not isinstance(s.action, Decide)]
    decisions = [s for s in plan.steps if isinstance(s.action, Decide)]
    if actions:
        out += ["## Steps", ""]
    for step in actions:
        a = step.action
        title = {"install": f"Install {a.package}" if isinstance(a, Install) else "",
                 "service": f"Enable and start {a.name}" if isinstance(a, Service) else "",
                 "file": (f"Install {a.crontab_user}'s crontab" if getattr(a, "crontab_user", None)
                          else f"Recreate {getattr(a, 'path', '')}")}[a.kind]
        out.append(f"- [ ] **{_md(title)}**")
        for f in step.findings:
            out.append(f"  - finding ({f.severity}): {_md(finding_line(f))}")
        if isinstance(a, Install):
            out.append(f"  - source version {_md(a.source_version or 'unknown')}, not pinned"
                       + (f"; name {_md(a.mapped)}" if a.mapped else ""))
        if isinstance(a, Service) and a.source_levels:
            out.append(f"  - on the source: {_md(a.source_levels)}; here: {_md(', '.join(a.levels) or 'as its unit says')}")
        if isinstance(a, Service) and a.requires:
            out.append(f"  - start only once {_md(', '.join(a.requires))} exist (see the decisions)")
        if isinstance(a, PutFile) and a.note:
            out.append(f"  - {_md(a.note)}")
        out += _fence(_commands(plan, step))
    if decisions:
        out += ["", "## Decisions", ""]
    for step in decisions:
        a = step.action
        out.append(f"- [ ] **DECIDE:** {_md(a.what)}")
        out.append(f"  - look at: {_md(a.look_at)}")
        for f in step.findings:
            out.append(f"  - finding ({f.severity}): {_md(finding_line(f))}")
    if not plan.steps:
        out.append("Nothing to do: the diff has no blocker or warning a plan addresses.")
    return "\n".join(out) + "\n"

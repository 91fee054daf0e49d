"""HTML: one self-contained file (inline CSS and a little vanilla JS, nothing fetched), readable
without JS, printable, for air-gapped laptops and change boards.

The report opens with the verdict and the counts per section and severity, lists the blockers and
warnings, then shows each section as a table with source and target side by side; identical
records sit behind a toggle (a <details>, so no script is needed to open it).  A filter box
narrows a section's rows.  The footer says how complete each bundle's data is.
"""
from __future__ import annotations

from html import escape
from typing import Any

from ..changes import Change, DiffReport, HostRef
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
    kinds,
    readiness_lines,
    record_text,
    safe,
    workload_lines,
)
from .hostmap import render as render_map

# Nothing may leave the page: no fetch, no font, no image from elsewhere.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
SEVERITY_WORDS = {"blocker": "Blocker", "warning": "Warning", "info": "Info"}
VERDICT_CLASS = {"NOT READY": "not-ready", "READY WITH WARNINGS": "warnings", "READY": "ready"}

STYLE = """
:root { --fg: #1a1a1a; --muted: #595959; --line: #c8c8c8; --bg-alt: #f4f4f4;
        --blocker: #a4001d; --blocker-bg: #fde8ec; --warning: #7a4a00; --warning-bg: #fff3d6;
        --ok: #1b5e20; --ok-bg: #e6f4e7; --link: #0b4f9c; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1400px; padding: 1.5rem; background: #fff; }
h1 { font-size: 1.9rem; margin: 0 0 .3rem; padding: .4rem .8rem; border-radius: 6px; display: inline-block; }
h1.not-ready { color: var(--blocker); background: var(--blocker-bg); }
h1.warnings { color: var(--warning); background: var(--warning-bg); }
h1.ready { color: var(--ok); background: var(--ok-bg); }
h2 { font-size: 1.35rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
.hosts { color: var(--muted); margin: .2rem 0 1rem; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 1rem; font-size: .92rem; }
caption { text-align: left; color: var(--muted); padding: .2rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--bg-alt); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.value { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; word-break: break-word; }
tr.blocker td:first-child { border-left: 6px solid var(--blocker); }
tr.warning td:first-child { border-left: 6px solid var(--warning); }
tr.blocker { background: var(--blocker-bg); }
tr.warning { background: var(--warning-bg); }
tr.identical { color: var(--muted); }
.badge { font-weight: 600; white-space: nowrap; }
.badge.blocker { color: var(--blocker); } .badge.warning { color: var(--warning); }
.filter { margin: .3rem 0; }
.filter input { font: inherit; padding: .3rem .5rem; width: min(28rem, 100%); border: 1px solid var(--muted); border-radius: 4px; }
details { margin: .2rem 0 1rem; } summary { cursor: pointer; color: var(--link); }
a { color: var(--link); }
footer { margin-top: 2.5rem; border-top: 2px solid var(--line); padding-top: .8rem; color: var(--muted); font-size: .9rem; }
footer dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .3rem 0 1rem; }
footer dt { font-weight: 600; color: var(--fg); }
.set-aside { color: var(--muted); font-size: .85rem; }
.evidence { color: var(--warning); background: var(--warning-bg); padding: .2rem .5rem; display: inline-block; margin: .1rem 0; }
code.reason { color: var(--muted); font-size: .8rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .filter, summary { display: none; }
  tr { break-inside: avoid; }
  h2 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

# Filters a section's rows as one types; plain DOM, no library.  Without JS the tables are whole.
SCRIPT = """
document.querySelectorAll('input[data-filter]').forEach(function (box) {
  var section = document.getElementById(box.getAttribute('data-filter'));
  var rows = Array.prototype.slice.call(section.querySelectorAll('tbody tr'));
  var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
  var details = Array.prototype.slice.call(section.querySelectorAll('details'));
  var count = section.querySelector('[data-count]');
  var timer = null;
  box.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = box.value.trim().toLowerCase(), shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var hit = !q || texts[i].indexOf(q) !== -1;
        rows[i].hidden = !hit;
        if (hit) { shown++; }
      }
      details.forEach(function (d) { d.open = q !== '' || d.hasAttribute('data-was-open'); });
      if (count) { count.textContent = q ? shown + ' of ' + rows.length + ' rows match' : ''; }
    }, 80);
  });
});
window.addEventListener('beforeprint', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
});
"""


def _e(value: Any) -> str:
    return escape(safe(value), quote=True)


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value(v)}" for k, v in value.items())
    return str(value)


def _page(title: str, body: list[str]) -> str:
    return "\n".join([
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        *body, f"<script>{SCRIPT}</script>", "</body>", "</html>", ""])


def _host(ref: HostRef) -> str:
    parts = [ref.hostname or "?", ref.distro or "unknown distribution", ref.init or "unknown init"]
    return f"<strong>{_e(ref.bundle)}</strong> ({_e(', '.join(parts))})"


def _facts(role: str, ref: HostRef) -> list[str]:
    rows = [("bundle", ref.bundle), ("host", ref.hostname), ("distribution", ref.distro),
            ("kernel", ref.kernel_release), ("init", ref.init), ("collected at", ref.collected_at),
            ("collector", f"migsnap {ref.collector_version}" if ref.collector_version else None),
            ("collection took", f"{ref.duration:.1f} s" if ref.duration is not None else None),
            ("run as", None if ref.euid is None else ("root" if ref.euid == 0 else
                                                       f"uid {ref.euid} (not root: some process names are missing)")),
            ("redacted", "yes: names and addresses are pseudonyms" if ref.redacted else None)]
    for status, ids in sorted(ref.incomplete.items()):
        rows.append((f"commands {status}", ", ".join(ids)))
    if not ref.incomplete:
        rows.append(("completeness", "every capture ran to completion"))
    out = [f"<h3>{_e(role)}</h3>", "<dl>"]
    out += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows if v is not None]
    return out + ["</dl>"]


def _change_row(change: Change, anchor: bool = False) -> str:
    kind = "identical" if change.kind == "identical" else change.severity
    badge = "Same" if change.kind == "identical" else SEVERITY_WORDS[change.severity]
    note = f' <span class="set-aside">(set aside: {_e(change.ignored)})</span>' if change.ignored else ""
    row_id = f' id="{_e(_anchor(change))}"' if anchor else ""
    return (f'<tr class="{kind}"{row_id}><td><span class="badge {kind}">{badge}</span> '
            f'<span aria-label="{change.kind}">{MARKS[change.kind]}</span></td>'
            f'<td class="value">{_e(change.key)}</td>'
            f'<td class="value">{_e(_cell(change, change.source))}</td>'
            f'<td class="value">{_e(_cell(change, change.target))}</td>'
            f"<td>{_e(change.text)}{note}</td></tr>")


def _cell(change: Change, value: Any) -> str:
    """A side of a change: a whole record in one phrase (record_text), anything else as it is."""
    if change.field is None:
        text = record_text(change.section, value)
        if text is not None:
            return text
    return _value(value)


def _anchor(change: Change) -> str:
    return f"{change.section}-{change.key}-{change.field or ''}".replace(" ", "_")


HEAD = ('<thead><tr><th scope="col">Severity</th><th scope="col">Key</th><th scope="col">Source</th>'
        '<th scope="col">Target</th><th scope="col">What it means</th></tr></thead>')


def render_diff(report: DiffReport, show_ignored: bool = False, full: bool = False) -> str:
    j = report.judgement
    verdict = j.verdict if j else "DIFF"
    body = [f'<header><h1 class="{VERDICT_CLASS.get(verdict, "warnings")}">{_e(verdict)}</h1>',
            f"<p>{_e(headline(report).split(': ', 1)[-1])}</p>",
            f'<p class="hosts">source: {_host(report.source)}<br>target: {_host(report.target)}</p>',
            *(f'<p class="evidence">{_e(line)}</p>' for line in evidence_lines(report)),
            *(f'<p class="readiness">{_e(line)}</p>' for line in readiness_lines(report)), "</header>",
            "<main>", '<section aria-labelledby="summary"><h2 id="summary">Counts</h2><table>',
            "<caption>Differences per section and severity; identical records are not counted as differences."
            "</caption>", '<thead><tr><th scope="col">Section</th>'
            + "".join(f'<th scope="col" class="num">{_e(t)}</th>' for _, t in COLUMNS) + "</tr></thead><tbody>"]
    for section in report.sections:
        counts = report.summary[section]
        body.append(f'<tr><th scope="row"><a href="#{section}">{section}</a></th>'
                    + "".join(f'<td class="num">{getattr(counts, a)}</td>' for a, _ in COLUMNS) + "</tr>")
    body.append("</tbody></table></section>")
    for title, changes in groups(report, show_ignored=False):
        if title not in ("Blockers", "Warnings"):
            continue
        body += [f'<section aria-labelledby="{title.lower()}"><h2 id="{title.lower()}">{title} ({len(changes)})</h2>',
                 "<ul>"]
        body += [f'<li>{_e(c.section)}: <a href="#{_e(_anchor(c))}">{_e(finding(c))}</a> '
                 f'<code class="reason">{_e(c.reason or "")}</code></li>' for c in changes]
        body.append("</ul></section>")
    if client_lines(report):
        body += ['<section aria-labelledby="clients"><h2 id="clients">' + _e(CLIENTS_TITLE) + "</h2><ul>",
                 *(f"<li>{_e(line)}</li>" for line in client_lines(report)), "</ul></section>"]
    if report.source_map is not None and (report.source_map.services or report.source_map.dependencies):
        body += ['<section aria-labelledby="map"><h2 id="map">The source\'s map: what must move together, what must '
                 "be repointed (marked: what the target lacks)</h2>", render_map(report.source_map), "</section>"]
    if kinds(report):
        body += ['<section aria-labelledby="kinds"><h2 id="kinds">' + _e(SUMMARY_TITLE.split(" (")[0]) + "</h2><ul>",
                 *(f"<li>{_e(line)}</li>" for line in kinds(report)), "</ul></section>"]
    for section in report.sections:
        body += _section(report, section, show_ignored)
    body += ["</main>", "<footer><h2>How complete the data is</h2>",
             *_facts("Source", report.source), *_facts("Target", report.target),
             "<p>Made by migdiff from bundles written by the migsnap collector.</p></footer>"]
    return _page(f"migdiff: {verdict}: {report.source.bundle} → {report.target.bundle}", body)


def _section(report: DiffReport, section: str, show_ignored: bool) -> list[str]:
    changes = [c for c in report.changes if c.section == section and c.kind != "identical"
               and (show_ignored or not c.ignored)]
    same = [c for c in report.changes if c.section == section and c.kind == "identical"]
    ignored = sum(1 for c in report.changes if c.section == section and c.ignored)
    order = {"blocker": 0, "warning": 1, "info": 2}
    changes.sort(key=lambda c: (bool(c.ignored), order[c.severity]))
    out = [f'<section id="{section}" aria-labelledby="h-{section}"><h2 id="h-{section}">{section}</h2>']
    if len(changes) + len(same) > 20:
        out.append(f'<p class="filter"><label for="filter-{section}">Filter {section}: </label>'
                   f'<input type="search" id="filter-{section}" data-filter="{section}" '
                   f'placeholder="name, version, port…" autocomplete="off"> <span data-count aria-live="polite">'
                   f"</span></p>")
    judged = [c for c in changes if c.severity != "info" and not c.ignored]
    rest = [c for c in changes if c.severity == "info" or c.ignored]
    if judged:
        out += [f"<table><caption>{len(judged)} blockers and warnings</caption>",
                HEAD, "<tbody>", *(_change_row(c, anchor=True) for c in judged), "</tbody></table>"]
    if rest:
        out += [f"<details><summary>Show the {len(rest)} other differences"
                + (f" ({ignored} set aside as expected)" if ignored and not show_ignored else "") + "</summary>",
                f"<table><caption>{len(rest)} other differences</caption>", HEAD, "<tbody>",
                *(_change_row(c, anchor=True) for c in rest), "</tbody></table></details>"]
    if not changes:
        out.append("<p>No differences.</p>")
    if same:
        out += [f"<details><summary>Show the {len(same)} identical records</summary>",
                f"<table><caption>{len(same)} records the same on both hosts</caption>", HEAD, "<tbody>",
                *(_change_row(c) for c in same), "</tbody></table></details>"]
    out.append("</section>")
    return out


def render_show(req: Requirements) -> str:
    body = [f"<header><h1 class=\"ready\">Requirements</h1><p class=\"hosts\">{_host(req.host)}</p></header>",
            "<main>"]
    for name, model in (("system", req.system), ("init", req.init)):
        if model is None:
            continue
        body += [f'<section id="{name}"><h2>{name}</h2><table><thead><tr><th scope="col">Fact</th>'
                 '<th scope="col">Value</th></tr></thead><tbody>']
        body += [f'<tr><th scope="row">{_e(k)}</th><td class="value">{_e(_value(v))}</td></tr>'
                 for k, v in model.model_dump(exclude={"sources"}).items()]
        body.append("</tbody></table></section>")
    tables = {
        "services": (("Service", "Init", "Running", "Enabled", "Runlevels", "Targets"),
                     [(s.name, s.init, _value(s.running), _value(s.enabled),
                       runlevels_on(s), ", ".join(s.targets))
                      for s in req.services]),
        "ports": (("Socket", "Processes", "Service", "Package"),
                  [(p.key, ", ".join(p.processes), p.service or "", p.package or "") for p in req.ports]),
        "packages": (("Package", "Version", "Arch"),
                     [(p.name, package_version(p), p.arch or "") for p in req.packages]),
    }
    for name, (heads, rows) in tables.items():
        if name not in req.sections:
            continue
        body.append(f'<section id="{name}"><h2>{name} ({len(rows)})</h2>')
        if len(rows) > 20:
            body.append(f'<p class="filter"><label for="filter-{name}">Filter {name}: </label>'
                        f'<input type="search" id="filter-{name}" data-filter="{name}" autocomplete="off"> '
                        '<span data-count aria-live="polite"></span></p>')
        body.append("<table><thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in heads) + "</tr></thead><tbody>")
        body += ["<tr>" + "".join(f'<td class="value">{_e(v)}</td>' for v in row) + "</tr>" for row in rows]
        body.append("</tbody></table></section>")
    for title, lines in workload_lines(req):
        body += [f"<section><h2>{_e(title)}</h2><ul>", *(f"<li>{_e(line)}</li>" for line in lines), "</ul></section>"]
    if req.map is not None and (req.map.services or req.map.dependencies):
        body += ['<section aria-labelledby="map"><h2 id="map">Map</h2>', render_map(req.map), "</section>"]
    body += ["</main>", "<footer><h2>How complete the data is</h2>", *_facts("Host", req.host), "</footer>"]
    return _page(f"migdiff: requirements of {req.host.bundle}", body)

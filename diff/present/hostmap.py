"""A host's map as inline SVG: who connects to it, what it serves, and what it depends on.

Three columns, left to right: the clients (remote addresses seen connected to a listening
port), the services with the sockets they listen on, and the dependencies (remote endpoints the
host's processes connect to).  Lines join a client to the port it uses and a service to the
endpoint it reaches.  For a diff, what the target lacks is marked on the source's map: a socket
or service nothing serves on the target, a dependency the target was not seen reaching.

Pure: data in, one SVG string out; every text escaped; no script, font or link (the HTML
report's Content-Security-Policy allows none).
"""
from __future__ import annotations

from html import escape

from ..changes import HostMap

ROW = 24
LACK = ' class="lack"'
WIDTH = 960
COLUMNS = (20, 230, 690)  # x of the clients, services and dependencies columns
BOX = 420
MAX_ROWS = 40  # a map is a picture: beyond this many rows a column says how many more


def _text(x: int, y: int, value: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f'<text x="{x}" y="{y}"{attr}>{escape(value, quote=True)}</text>'


def render(m: HostMap) -> str:
    """The SVG of one host's map."""
    rows: list[tuple[str, list[str]]] = []  # service -> its sockets, in order
    for service in sorted(m.services):
        rows.append((service, sorted(m.services[service])))
    for service in sorted(set(m.dependencies) - set(m.services)):  # connects out, listens nowhere
        rows.append((service, []))
    middle: list[tuple[int, str, str]] = []  # (y, kind, label)
    y = 40
    socket_y: dict[str, int] = {}
    service_y: dict[str, int] = {}
    for service, sockets in rows[:MAX_ROWS]:
        service_y[service] = y
        middle.append((y, "service", service))
        y += ROW
        for key in sockets:
            socket_y[key] = y
            middle.append((y, "socket", key))
            y += ROW
    left: list[tuple[int, str, str]] = []
    ly = 40
    for key in sorted(m.clients, key=lambda k: socket_y.get(k, 0)):
        for remote in sorted(m.clients[key]):
            left.append((ly, remote, key))
            ly += ROW
    right: list[tuple[int, str, str]] = []
    ry = 40
    for service in sorted(m.dependencies, key=lambda s: service_y.get(s, 0)):
        for endpoint in sorted(m.dependencies[service]):
            right.append((ry, endpoint, service))
            ry += ROW
    height = max(y, ly, ry, 80) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height}" '
           f'width="100%" aria-label="{escape(m.title, quote=True)}">',
           "<style>text{font:13px system-ui,sans-serif;fill:#1a1a1a}.head{font-weight:600}"
           ".lack{fill:#a4001d}.note{fill:#595959;font-size:11px}"
           "rect{fill:#f4f4f4;stroke:#c8c8c8}rect.lack{fill:#fde8ec;stroke:#a4001d;stroke-dasharray:4 3}"
           "line{stroke:#595959}line.lack{stroke:#a4001d;stroke-dasharray:4 3}</style>",
           f"<title>{escape(m.title)}</title>",
           _text(COLUMNS[0], 20, "clients (to repoint)", "head"), _text(COLUMNS[1], 20, "listening services", "head"),
           _text(COLUMNS[2], 20, "dependencies (must be reachable)", "head")]
    for ry_, kind, label in middle:
        lack = label in m.lacking
        x = COLUMNS[1] + (0 if kind == "service" else 16)
        out.append(f'<rect x="{x - 4}" y="{ry_ - 15}" width="{BOX - (0 if kind == "service" else 16)}" height="20" '
                   f'rx="3"{LACK if lack else ""}/>')
        out.append(_text(x, ry_, label + (f" ({m.lacking[label]})" if lack else ""),
                         "lack" if lack else ("head" if kind == "service" else "")))
    for ly_, remote, key in left:
        out.append(_text(COLUMNS[0], ly_, remote))
        if key in socket_y:
            lack = key in m.lacking
            out.append(f'<line x1="{COLUMNS[0] + 150}" y1="{ly_ - 4}" x2="{COLUMNS[1] + 10}" '
                       f'y2="{socket_y[key] - 4}"{LACK if lack else ""}/>')
    for ry_, endpoint, service in right:
        lack = endpoint in m.lacking
        out.append(_text(COLUMNS[2], ry_, endpoint + (f" ({m.lacking[endpoint]})" if lack else ""),
                         "lack" if lack else ""))
        if service in service_y:
            out.append(f'<line x1="{COLUMNS[1] + BOX - 4}" y1="{service_y[service] - 4}" x2="{COLUMNS[2] - 6}" '
                       f'y2="{ry_ - 4}"{LACK if lack else ""}/>')
    if len(rows) > MAX_ROWS:
        out.append(_text(COLUMNS[1], y + 4, f"... and {len(rows) - MAX_ROWS} more services", "note"))
    out.append("</svg>")
    return "\n".join(out)


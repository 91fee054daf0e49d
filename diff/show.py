"""One host's requirement list: what the seed article builds by hand before a migration."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .attribution import attribute, port_key
from .changes import HostMap, HostRef
from .compare import OPENRC_ORDER, evr, host_map
from .models import Client, Dependency, Init, Job, LocalUnit, Package, Service, Snapshot, System
from .names import NameMap

SHOW_SECTIONS = ("system", "init", "services", "ports", "packages", "jobs", "units", "connections")
ShowSection = Literal["system", "init", "services", "ports", "packages", "jobs", "units", "connections"]


class ListeningPort(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    processes: list[str]
    service: str | None
    package: str | None


class Requirements(BaseModel):
    """What the new host must provide: services that run or start at boot, ports, packages."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["migdiff-show"] = "migdiff-show"
    format_version: Literal[1] = 1
    host: HostRef
    sections: list[ShowSection]
    system: System | None
    init: Init | None
    services: list[Service]
    ports: list[ListeningPort]
    packages: list[Package]
    jobs: list[Job] = []
    units: list[LocalUnit] = []
    dependencies: list[Dependency] = []
    clients: list[Client] = []
    map: HostMap | None = None


def requirements(ref: HostRef, snap: Snapshot, sections: list[str], names: NameMap) -> Requirements:
    who = attribute(snap, names)
    ports: dict[str, list[str]] = {}
    for p in snap.ports:
        names = ports.setdefault(port_key(p.protocol, p.bind, p.port, p.path), [])
        names.extend(n.name for n in p.processes if n.name and n.name not in names)
    wanted = [s for s in snap.services.values() if s.running or s.enabled]
    return Requirements(
        host=ref, sections=[s for s in SHOW_SECTIONS if s in sections],
        system=snap.system if "system" in sections else None,
        init=snap.init if "init" in sections else None,
        services=sorted(wanted, key=lambda s: s.name) if "services" in sections else [],
        ports=[ListeningPort(key=k, processes=sorted(v), service=_att(who.for_port(k), "service"),
                             package=_att(who.for_port(k), "package")) for k, v in sorted(ports.items())]
        if "ports" in sections else [],
        packages=[p for p in snap.packages if p.status == "installed"] if "packages" in sections else [],
        jobs=list(snap.jobs) if "jobs" in sections else [],
        units=[u for u in snap.units if u.package in (None, "?")] if "units" in sections else [],
        dependencies=list(snap.connections.dependencies) if "connections" in sections else [],
        clients=list(snap.connections.clients) if "connections" in sections else [],
        map=host_map(f"{ref.hostname or ref.bundle}: what it serves, who uses it, what it needs", snap, who)
        if "connections" in sections or "ports" in sections else None,
    )


def runlevels_on(s: Service) -> str:
    """The runlevels a service starts in: SysV's run together ("2345"), OpenRC's named runlevels
    in boot order ("boot, default")."""
    on = sorted(k for k, v in s.runlevels.items() if v == "on")
    if any(len(k) > 1 for k in on):
        on.sort(key=lambda k: (OPENRC_ORDER.index(k) if k in OPENRC_ORDER else len(OPENRC_ORDER), k))
        return ", ".join(on)
    return "".join(on)


def _att(att, name: str) -> str | None:
    return getattr(att, name) if att else None


def package_version(p: Package) -> str:
    return evr(p.epoch, p.version, p.release)

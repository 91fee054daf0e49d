"""Who is behind a listening port, and what a service brings with it.

A port is attributed to its process, the process to a service (the systemd unit whose cgroup
holds it; otherwise the running service of the same name or function) and to the package that
owns its executable (recorded by the collector with dpkg -S / rpm -qf).  A service collects the
ports attributed to it and a package (its process's, else the package of the same name or
function).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .changes import Attribution
from .models import PortProcess, Snapshot
from .names import NameMap


def port_key(protocol: str, bind: str | None, port: int | None, path: str | None) -> str:
    """The natural key of a listening socket: protocol, address class and port (or unix path).

    Wildcards (0.0.0.0, ::, *, [::]) are "*"; loopback addresses stay as they are; any other
    specific address is the host's own, which differs between two hosts by nature, so it is
    "host" (the address itself is shown, not compared).
    """
    if protocol == "unix":
        return f"unix:{path}"
    address = bind or ""
    if address in ("0.0.0.0", "::", "*", "[::]", ""):
        shown = "*"
    elif address.startswith("127.") or address == "::1":
        shown = f"[{address}]" if ":" in address else address
    else:
        shown = "host"
    return f"{protocol}/{shown}:{port}"


@dataclass(slots=True)
class Who:
    """Who is behind a port or a service on one host (turned into an Attribution for a change)."""

    process: str | None = None
    exe: str | None = None
    service: str | None = None
    package: str | None = None
    ports: list[str] = field(default_factory=list)

    def model(self) -> Attribution:
        return Attribution(process=self.process, exe=self.exe, service=self.service, package=self.package,
                           ports=list(self.ports))


@dataclass
class HostAttribution:
    ports: dict[str, Who] = field(default_factory=dict)
    services: dict[str, Who] = field(default_factory=dict)

    def for_port(self, key: str) -> Who | None:
        return self.ports.get(key)

    def for_service(self, name: str) -> Who | None:
        return self.services.get(name)


def _main_process(procs: list[PortProcess]) -> PortProcess | None:
    """The daemon among a socket's processes: one in a service unit, else not PID 1 (that one only
    holds sockets it activates), else the first."""
    best = None
    for p in procs:
        if p.unit is not None:
            return p
        if best is None or (best.pid == 1 and p.pid != 1):
            best = p
    return best


def attribute(snap: Snapshot, names: NameMap) -> HostAttribution:
    by_function: dict[str, list[str]] = defaultdict(list)
    for name, svc in sorted(snap.services.items(), key=lambda kv: (not kv[1].running, kv[0])):
        by_function[names.common("services", name)].append(name)
    packages_by_name = {p.name for p in snap.packages}
    out = HostAttribution()
    for port in snap.ports:
        key = port_key(port.protocol, port.bind, port.port, port.path)
        proc = _main_process(port.processes)
        if proc is None or key in out.ports:
            continue
        service = None
        if proc.unit and proc.unit.endswith(".service") and proc.unit[:-8] in snap.services:
            service = proc.unit[:-8]
        elif proc.name:
            candidates = by_function.get(names.common("processes", proc.name)) or by_function.get(proc.name)
            service = candidates[0] if candidates else None
        out.ports[key] = Who(proc.name, proc.exe, service, proc.package, [key])
        if service:
            svc = out.services.get(service)
            if svc is None:
                svc = out.services[service] = Who(service=service)
            svc.ports.append(key)
            svc.process = svc.process or proc.name
            svc.exe = svc.exe or proc.exe
            svc.package = svc.package or proc.package
    packages_of: dict[str, str] | None = None  # function -> a package providing it, built if needed
    for name in snap.services:
        svc = out.services.get(name)
        if svc is not None and svc.package is not None:
            continue
        package = name if name in packages_by_name else None
        if package is None and names.function("services", name) is not None:
            if packages_of is None:
                packages_of = {}
                for p in snap.packages:
                    found = names.function("packages", p.name)
                    if found is not None:
                        packages_of.setdefault(found.name, p.name)
            package = packages_of.get(names.common("services", name))
        if package:
            if svc is None:
                svc = out.services[name] = Who(service=name)
            svc.package = package
    return out

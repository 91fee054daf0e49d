"""Who is behind a listening port, and what a service brings with it.

A port is attributed to its process, the process to a service (what the collector found: the
systemd unit whose cgroup holds it, or the init script whose pid file or program names it or a
parent; otherwise the running service of the same name or function) and to the package that owns
its executable (recorded by the collector with dpkg -S / rpm -qf).  An interpreter's package
(python3.11-minimal running a local service's script) is not the service's: the service's own
package (same name or function) is, or none (a local service).  A service collects the ports
attributed to it and a package; a package, the services and ports it is behind.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import migsnap

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
    names: NameMap | None = field(default=None, repr=False)
    _packages: dict[str, Who] | None = field(default=None, repr=False)
    _by_function: dict[str, Who] = field(default_factory=dict, repr=False)

    def for_port(self, key: str) -> Who | None:
        return self.ports.get(key)

    def for_service(self, name: str) -> Who | None:
        return self.services.get(name)

    def for_package(self, name: str) -> Who | None:
        """The services and ports a package is behind on this host: the package of a service's
        program, or a package named as the service or as its function (apache2 beside
        apache2-bin, mariadb-server beside mariadb-server-core); built on first use."""
        if self._packages is None:
            self._packages = {}
            by_function: dict[str, Who] = {}
            for svc in self.services.values():
                if svc.service and (svc.process or svc.ports):  # a daemon, not a package-named script
                    self._packages.setdefault(svc.service, svc)
                    if self.names is not None:
                        by_function.setdefault(self.names.common("services", svc.service), svc)
                if svc.package:
                    self._packages.setdefault(svc.package, svc)
            for key, port in self.ports.items():
                if port.package and port.package not in self._packages:
                    self._packages[port.package] = Who(port.process, port.exe, port.service, port.package, [key])
            self._by_function = by_function
        found = self._packages.get(name)
        if found is None and self.names is not None and self._by_function:
            function = self.names.function("packages", name)
            found = self._by_function.get(function.name) if function else None
        if found is None:
            return None
        return Who(found.process, found.exe, found.service, name, list(found.ports))


def interpreted(exe: str | None) -> bool:
    """A program that runs other programs' code (the collector's list): its package says nothing
    of the service it runs."""
    return bool(exe) and bool(migsnap.INTERPRETER.match(exe.rsplit("/", 1)[-1]))


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
    out = HostAttribution(names=names)
    for port in snap.ports:
        key = port_key(port.protocol, port.bind, port.port, port.path)
        proc = _main_process(port.processes)
        if proc is None or key in out.ports:
            continue
        service = None
        found = proc.service or (proc.unit[:-8] if proc.unit and proc.unit.endswith(".service") else None)
        if found and found in snap.services:
            service = found
        elif proc.name:
            candidates = by_function.get(names.common("processes", proc.name)) or by_function.get(proc.name)
            service = candidates[0] if candidates else None
        package = None if interpreted(proc.exe) else proc.package
        out.ports[key] = Who(proc.name, proc.exe, service, package, [key])
        if service:
            svc = out.services.get(service)
            if svc is None:
                svc = out.services[service] = Who(service=service)
            svc.ports.append(key)
            svc.process = svc.process or proc.name
            svc.exe = svc.exe or proc.exe
            svc.package = svc.package or package
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

"""The jobs a server does (web server, MTA, database ...) and which programs can do each.

The table ships as data/roles.toml; users add their own with --roles FILE or
$XDG_CONFIG_HOME/migdiff/roles.toml.  A member is a function of names.toml or a service name
(fnmatch patterns allowed), so a role is found for a service, a package or a process by its
common name first and its own name second.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MigdiffError
from .names import NameMap, load_toml, user_config

BUILTIN = Path(__file__).resolve().parent / "data" / "roles.toml"
KEYS = {"title", "members", "builtin", "data", "check", "upgrade", "sockets"}


@dataclass(frozen=True)
class Role:
    name: str
    title: str
    members: tuple[str, ...]
    builtin: tuple[str, ...] = ()
    data: bool = False
    check: str = ""
    upgrade: str = ""
    sockets: tuple[str, ...] = ()

    def has(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.members)


@dataclass
class Roles:
    roles: list[Role] = field(default_factory=list)
    _seen: dict[tuple[str, str], Role | None] = field(default_factory=dict, repr=False)

    def of(self, kind: str, name: str, names: NameMap) -> Role | None:
        """The role of a service, package or process: by its common name (names.toml), else by
        its own name; the first table that has it (the user's first)."""
        key = (kind, name)
        if key not in self._seen:
            common = names.common(kind, name)
            found = None
            for candidate in (common, name):
                found = next((r for r in self.roles if r.has(candidate)), None)
                if found:
                    break
            self._seen[key] = found
        return self._seen[key]

    def socket_role(self, path: str) -> Role | None:
        """The role whose well-known unix socket this path is (/dev/log: the system logger)."""
        return next((r for r in self.roles if path in r.sockets), None)

    def builtin_for(self, service: str) -> Role | None:
        """The role a built-in service of an init system does (systemd-journald: the system logger)."""
        return next((r for r in self.roles if service in r.builtin), None)


def parse(doc: dict, origin: str) -> list[Role]:
    out = []
    for name, table in doc.items():
        if not isinstance(table, dict):
            raise MigdiffError(f"{origin}: [{name}] must be a table")
        unknown = set(table) - KEYS
        if unknown:
            raise MigdiffError(f"{origin}: [{name}] has unknown keys: {', '.join(sorted(unknown))}")
        for key in ("members", "builtin", "sockets"):
            values = table.get(key, [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise MigdiffError(f"{origin}: [{name}] {key} must be a list of names")
        if not table.get("members"):
            raise MigdiffError(f"{origin}: [{name}] needs members")
        for key in ("title", "check", "upgrade"):
            if not isinstance(table.get(key, ""), str):
                raise MigdiffError(f"{origin}: [{name}] {key} must be a string")
        if not isinstance(table.get("data", False), bool):
            raise MigdiffError(f"{origin}: [{name}] data must be true or false")
        out.append(Role(name, table.get("title") or name, tuple(table["members"]), tuple(table.get("builtin", [])),
                        table.get("data", False), table.get("check", ""), table.get("upgrade", ""),
                        tuple(table.get("sockets", []))))
    return out


def load(extra: Path | None = None) -> Roles:
    """The user's roles (--roles FILE, else the config file if present), then the built-in ones
    they do not replace."""
    builtin = parse(load_toml(BUILTIN), str(BUILTIN))
    path = extra if extra is not None else user_config("roles.toml")
    user = parse(load_toml(path), str(path)) if extra is not None or path.exists() else []
    mine = {r.name for r in user}
    return Roles(user + [r for r in builtin if r.name not in mine])

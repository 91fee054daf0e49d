"""The same function under different names across distributions (apache2 = httpd).

The map ships as data/names.toml; users add their own with --names FILE or
$XDG_CONFIG_HOME/migdiff/names.toml.
"""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MigdiffError

KINDS = ("services", "packages", "processes")
BUILTIN = Path(__file__).resolve().parent / "data" / "names.toml"


def load_toml(path: Path) -> dict:
    """A TOML file, or MigdiffError naming the file and the problem."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise MigdiffError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MigdiffError(f"{path}: not valid TOML: {exc}") from None


def user_config(name: str) -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "migdiff" / name


@dataclass(frozen=True)
class Function:
    name: str
    patterns: dict[str, tuple[str, ...]]
    replacement: bool = False
    series: int = 1  # how many leading numbers of the upstream version name a release series


@dataclass
class NameMap:
    functions: list[Function] = field(default_factory=list)
    _exact: dict[str, dict[str, Function]] = field(default_factory=dict, repr=False)
    _globs: dict[str, tuple[re.Pattern[str] | None, list[Function]]] = field(default_factory=dict, repr=False)
    _seen: dict[tuple[str, str], Function | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Plain names go in a dict; the patterns of a kind become one regex whose matching group
        # says which function: a lookup is a dict probe and one regex match, whatever the map's size.
        for kind in KINDS:
            exact: dict[str, Function] = {}
            groups, owners = [], []
            for f in self.functions:
                for pattern in f.patterns.get(kind, ()):
                    if any(ch in pattern for ch in "*?["):
                        groups.append(f"(?P<g{len(owners)}>{fnmatch.translate(pattern)})")
                        owners.append(f)
                    else:
                        exact.setdefault(pattern, f)
            self._exact[kind] = exact
            self._globs[kind] = (re.compile("|".join(groups)) if groups else None, owners)

    def function(self, kind: str, name: str) -> Function | None:
        """The function a service, package or process name belongs to, if the map knows it: a name
        listed as such wins over a pattern; among patterns, the earliest table (the user's first)."""
        key = (kind, name)
        if key in self._seen:
            return self._seen[key]
        found = self._exact[kind].get(name)
        pattern, owners = self._globs[kind]
        if found is None and pattern is not None:
            m = pattern.match(name)
            found = owners[int(m.lastgroup[1:])] if m else None
        self._seen[key] = found
        return found

    def common(self, kind: str, name: str) -> str:
        """The common name: the function's, or the name itself."""
        found = self.function(kind, name)
        return found.name if found else name


def parse(doc: dict, origin: str) -> list[Function]:
    out = []
    for name, table in doc.items():
        if not isinstance(table, dict):
            raise MigdiffError(f"{origin}: [{name}] must be a table")
        patterns = {}
        for kind in KINDS:
            values = table.get(kind, [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise MigdiffError(f"{origin}: [{name}] {kind} must be a list of names")
            patterns[kind] = tuple(values)
        unknown = set(table) - set(KINDS) - {"replacement", "series"}
        if unknown:
            raise MigdiffError(f"{origin}: [{name}] has unknown keys: {', '.join(sorted(unknown))}")
        series = table.get("series", 1)
        if not isinstance(series, int) or isinstance(series, bool) or not 1 <= series <= 4:
            raise MigdiffError(f"{origin}: [{name}] series must be a whole number from 1 to 4")
        out.append(Function(name, patterns, bool(table.get("replacement", False)), series))
    return out


def load(extra: Path | None = None) -> NameMap:
    """The user's tables (--names FILE, else the config file if present), then the built-in ones
    they do not replace; the user's are tried first."""
    builtin = parse(load_toml(BUILTIN), str(BUILTIN))
    path = extra if extra is not None else user_config("names.toml")
    user = parse(load_toml(path), str(path)) if extra is not None or path.exists() else []
    mine = {f.name for f in user}
    return NameMap(user + [f for f in builtin if f.name not in mine])

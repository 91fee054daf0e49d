"""Package version order, by each package manager's own rules.

The rules are not ours to write: univers implements dpkg's (deb-version(7): epoch, upstream,
revision, "~" before everything), rpm's rpmvercmp (epoch, version, release, "~" and "^") and
apk's.  This module is the one place migdiff calls it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

Manager = Literal["dpkg", "rpm", "apk"]
Movement = Literal["upgraded", "downgraded", "repackaged", "same", "unordered"]


@lru_cache(maxsize=None)
def _classes() -> dict[str, type]:
    from univers.versions import AlpineLinuxVersion, DebianVersion, RpmVersion
    return {"dpkg": DebianVersion, "rpm": RpmVersion, "apk": AlpineLinuxVersion}


def compare_versions(manager: str, a: str, b: str) -> int | None:
    """-1, 0 or 1 as a sorts before, with or after b under `manager`'s rules; None when either is
    not a valid version for that manager (then no order is claimed)."""
    from univers.versions import InvalidVersion
    cls = _classes()[manager]
    try:
        va, vb = cls(a), cls(b)
    except (InvalidVersion, ValueError, TypeError):
        return None
    if va < vb:  # the usual case in a migration, settled by one comparison
        return -1
    return 1 if vb < va else 0


def movement(manager: str, a_full: str, b_full: str, a_upstream: str | None, b_upstream: str | None) -> Movement:
    """How a package's version moved from source (a) to target (b).

    "repackaged" is the same upstream version (and epoch) with another packaging revision, as
    2.0-1 and 2.0-1ubuntu1; otherwise the full versions are ordered by the manager's rules.
    """
    order = compare_versions(manager, a_full, b_full)
    if order == 0:
        return "same"
    if a_upstream is not None and a_upstream == b_upstream and _epoch(a_full) == _epoch(b_full):
        return "repackaged"
    if order is None:
        return "unordered"
    return "upgraded" if order < 0 else "downgraded"


def _epoch(full: str) -> str:
    head, sep, _ = full.partition(":")
    return head if sep and head.isdigit() else "0"

"""Why a package is on a host, and which packages are the same software under a new release's name.

A package list mixes what the release ships (the base system), what other packages pulled in
(libraries, dependencies) and the software an admin chose.  Only the last says something about
the workload; the rest is evidence.  How each package manager tells them apart:

- dpkg: Essential: yes, or Priority required, important or standard, is the base system (what
  debootstrap and the installer put there: they leave it marked manual, so apt's auto flag alone
  cannot tell); Section libs/oldlibs/libdevel or a lib* name is a library; apt's Auto-Installed,
  or another installed package depending on it (how debootstrap's own pulls, lsb-base, show),
  is a dependency; the rest was chosen.
- rpm: the packages of the first install transaction (INSTALLTID) are the installed system; lib*
  and *-libs are libraries; the rest was chosen (rpm keeps no record of dependencies).
- apk: /etc/apk/world lists what the admin asked for; alpine-base and its like are the base.

A bundle from an older collector lacks these fields: its packages are "unknown", judged as chosen.
"""
from __future__ import annotations

import re
from typing import Literal

from .models import Package, Snapshot

InstalledAs = Literal["base", "library", "dependency", "chosen", "unknown"]
BASE_PRIORITIES = ("required", "important", "standard")
LIBRARY_SECTIONS = ("libs", "oldlibs", "libdevel")
APK_BASE = ("alpine-base", "alpine-baselayout", "alpine-baselayout-data", "alpine-keys", "alpine-release",
            "apk-tools", "busybox", "busybox-binsh", "musl", "musl-utils", "libc-utils", "openrc",
            "ca-certificates-bundle")
_RPM_LIBRARY = re.compile(r"^lib|-libs?$")


def is_library(p: Package) -> bool:
    section = (p.section or "").rsplit("/", 1)[-1]
    if section in LIBRARY_SECTIONS:
        return True
    if p.manager == "rpm":
        return bool(_RPM_LIBRARY.search(p.name))
    return p.name.startswith("lib") and not p.name.startswith(("libreoffice", "librecad"))


class Classifier:
    """installed_as(package) for the packages of one host."""

    def __init__(self, snap: Snapshot) -> None:
        tids = [p.transaction for p in snap.packages if p.manager == "rpm" and p.transaction]
        self.first_transaction = min(tids) if tids else None
        # one transaction for everything (an image): nothing tells the system from the rest
        self.one_transaction = len(set(tids)) == 1

    def __call__(self, p: Package) -> InstalledAs:
        if p.manager == "dpkg":
            if p.essential or p.priority in BASE_PRIORITIES:
                return "base"
            if is_library(p):
                return "library"
            if p.auto or p.dependents:
                return "dependency"
            # without Priority (an older collector) the base system cannot be told from a choice
            return "chosen" if p.priority is not None else "unknown"
        if p.manager == "rpm":
            if p.name == "gpg-pubkey":
                return "base"
            if is_library(p):
                return "library"
            if p.transaction is None or self.one_transaction:
                return "unknown"
            return "base" if p.transaction == self.first_transaction else "chosen"
        if p.name in APK_BASE:
            return "base"
        if is_library(p):
            return "library"
        if p.auto is None:
            return "unknown"
        return "dependency" if p.auto else "chosen"


# A run of digits (with dots between) in a name is a release number: gcc-10-base and gcc-12-base,
# python3.9 and python3.11, libicu67 and libicu72, php7.4-fpm and php8.2-fpm, postgresql@13-main.
_NUMBER = re.compile(r"\d+(?:\.\d+)*")


def stem(name: str) -> str | None:
    """The name with its release numbers replaced by '#', or None when it has none.  Debian's
    time64 rename (libssl3 -> libssl3t64) is the same library."""
    if name.endswith("t64"):
        name = name[:-3]
    replaced = _NUMBER.sub("#", name)
    return replaced if replaced != name else None


def name_numbers(name: str) -> list[str]:
    return _NUMBER.findall(name[:-3] if name.endswith("t64") else name)


def series(version: str | None, parts: int = 1) -> tuple[int, ...]:
    """The release series of an upstream version: its first `parts` numbers (epoch dropped)."""
    if not version:
        return ()
    text = version.split(":", 1)[-1]
    return tuple(int(n) for n in re.findall(r"\d+", text)[:parts])


def new_series(a_name: str, b_name: str, a_version: str | None, b_version: str | None, parts: int = 1) -> bool:
    """Whether b is a new release series of a: the numbers in their names differ (postgresql-13 and
    postgresql-15), or the first `parts` numbers of their upstream versions do."""
    if name_numbers(a_name) != name_numbers(b_name):
        return True
    sa, sb = series(a_version, parts), series(b_version, parts)
    return bool(sa and sb and sa != sb)

"""The one model of a difference between two hosts, and of the verdict on them.

compare.py fills a DiffReport once, verdict.py judges it; every presenter (text, json,
markdown) reads the same report.  The JSON output is DiffReport itself, so
schemas/diff.schema.json is generated from these classes.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .models import SCHEMA_DIALECT

DIFF_FORMAT = "migdiff-diff"
DIFF_FORMAT_VERSION = 2

SECTIONS = ("system", "init", "services", "runlevels", "ports", "packages", "jobs", "units", "connections")
SectionName = Literal["system", "init", "services", "runlevels", "ports", "packages", "jobs", "units", "connections"]
Kind = Literal["only-in-source", "only-in-target", "changed", "identical"]
Severity = Literal["blocker", "warning", "info"]
Verdict = Literal["READY", "READY WITH WARNINGS", "NOT READY"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attribution(Strict):
    """Who is behind a record on the host it comes from."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)
    process: str | None = None
    exe: str | None = None
    service: str | None = None
    package: str | None = None
    ports: list[str] = Field(default_factory=list, description="listening sockets, as port keys")


class Pair(Strict):
    """Two differently named records taken as the same thing."""

    source: str = Field(description="the name on the source host")
    target: str = Field(description="the name on the target host")
    function: str = Field(description="the common name they share (names.toml), or the shared package name")
    how: Literal["same-function", "replacement", "built-in", "provided-by", "successor", "other-arch",
                 "other-manager", "library-soname", "wider-bind", "narrower-bind", "moved", "same-command",
                 "converted"] = Field(
        description="same-function: names.toml's names of one program; replacement: another program doing the "
                    "job (a role of roles.toml); built-in: the target's init system does the job; provided-by: "
                    "the job is done on the target by a record already paired; successor: the same software "
                    "under a new release's name (php7.4-fpm, php8.2-fpm) or from the same source package; "
                    "other-arch, other-manager, library-soname: the same package otherwise named; wider-bind, "
                    "narrower-bind: a socket bound to more or fewer addresses; moved: the same programs listen "
                    "on another port; same-command: a job that runs the same command elsewhere (a cron job "
                    "become a timer); converted: a local init script become a unit of the same name")


InstalledAs = Literal["base", "library", "dependency", "chosen", "unknown"]


class Change(Strict):
    section: SectionName
    key: str = Field(description="the record's natural key, e.g. apache2, tcp/*:80, dpkg:openssh-server:amd64")
    kind: Kind
    field: str | None = Field(description="for 'changed': which field of the record differs")
    source: Any = Field(description="the value (or whole record) on the source host; null when absent")
    target: Any = Field(description="the value (or whole record) on the target host; null when absent")
    severity: Severity = "info"
    pair: Pair | None = None
    movement: Literal["upgraded", "downgraded", "repackaged", "same", "unordered"] | None = Field(
        default=None, description="packages: how the version moved, by the package manager's rules")
    attribution: Attribution | None = Field(default=None, description="who is behind it on the source host")
    ignored: str | None = Field(default=None, description="why an expected difference is set aside (rule and reason)")
    text: str = Field(description="one line for a human")
    reason: str | None = Field(default=None, description="why it has its severity: a stable code (service-missing, "
                               "role-swapped, new-series, ...; README lists them) that tickets and ignore files "
                               "can name")
    hint: str | None = Field(default=None, description="what to check or do, for blockers and warnings")
    installed_as: InstalledAs | None = Field(
        default=None, description="packages: why the package is on the source host: base system, library, "
                                  "dependency, chosen by an admin, or unknown (an older collector)")
    role: str | None = Field(default=None, description="the job the record does on the source (roles.toml)")
    new_series: bool | None = Field(default=None, description="packages: the target's version starts a new release "
                                    "series (PostgreSQL 13 to 15, PHP 7.4 to 8.2, MariaDB 10.5 to 10.11)")


class Counts(Strict):
    only_in_source: int = 0
    only_in_target: int = 0
    changed: int = 0
    identical: int = 0
    blocker: int = 0
    warning: int = 0
    info: int = 0
    ignored: int = 0

    def add(self, change: Change) -> None:
        if change.kind == "identical":
            return
        if change.ignored:
            self.ignored += 1
            return
        kind = change.kind.replace("-", "_")
        setattr(self, kind, getattr(self, kind) + 1)
        setattr(self, change.severity, getattr(self, change.severity) + 1)

    @property
    def differences(self) -> int:
        return self.only_in_source + self.only_in_target + self.changed


class HostRef(Strict):
    bundle: str = Field(description="bundle file name")
    hostname: str | None
    distro: str | None
    kernel_release: str | None
    init: str | None
    collected_at: str | None
    collector_version: str | None
    duration: float | None = Field(default=None, description="seconds the collector ran")
    euid: int | None = Field(default=None, description="who ran the collector (0: root)")
    incomplete: dict[str, list[str]] = Field(
        default_factory=dict, description="capture ids by status, for the statuses that lose data "
                                          "(missing, failed, timeout, truncated, denied, error): how complete the data is")
    redacted: bool = False


class Judgement(Strict):
    verdict: Verdict
    blocker: int
    warning: int
    info: int
    ignored: int
    fail_on: Literal["blocker", "warning", "any"] = "any"
    evidence: list[str] = Field(default_factory=list, description="what the bundles could not see, which the "
                                "verdict could not judge (empty: the evidence is complete)")
    kinds: dict[str, int] = Field(default_factory=dict, description="the other differences (info) counted by "
                                  "kind, as the report summarizes them")


class ClientList(Strict):
    """Who connects to one of the source's listening ports: what must be repointed at cutover."""

    port: int
    remotes: list[str]
    connections: int


class Readiness(Strict):
    """A yes/no question the migration itself asks, not a difference (the seed's "Set Up SSH Key
    Access" step): can the target reach the source over SSH with a key?"""

    topic: Literal["ssh"]
    ready: bool | None = Field(description="None: the bundles cannot tell")
    text: str


class HostMap(Strict):
    """A host's map: its services with the sockets they listen on, the clients of each socket,
    each service's dependencies; and, for a diff, what the target lacks of it."""

    title: str
    services: dict[str, list[str]] = Field(default_factory=dict, description="service (else process) -> socket keys")
    clients: dict[str, list[str]] = Field(default_factory=dict, description="socket key -> remote addresses")
    dependencies: dict[str, list[str]] = Field(default_factory=dict, description="service (else process) -> "
                                               "remote endpoints")
    lacking: dict[str, str] = Field(default_factory=dict, description="service, socket or endpoint -> what the "
                                    "target lacks of it")


class DiffReport(Strict):
    model_config = ConfigDict(extra="forbid", title="migdiff diff report",
                              json_schema_extra={"$schema": SCHEMA_DIALECT, "$id": "diff.schema.json"})

    format: Literal["migdiff-diff"] = DIFF_FORMAT
    format_version: Literal[2] = DIFF_FORMAT_VERSION
    source: HostRef
    target: HostRef
    sections: list[SectionName]
    judgement: Judgement | None = None
    readiness: list[Readiness] = Field(default_factory=list)
    clients: list[ClientList] = Field(default_factory=list, description="the source's clients, per listening port: "
                                      "shown, not judged (to repoint at cutover)")
    source_map: HostMap | None = Field(default=None, description="the source's map, with what the target lacks")
    summary: dict[SectionName, Counts]
    changes: list[Change]

    @property
    def differences(self) -> int:
        return sum(c.differences for c in self.summary.values())

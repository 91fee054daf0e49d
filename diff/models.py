"""Pydantic models of what a bundle holds: manifest.json, snapshot.json, parsed.json.

These models are the single source of the JSON Schemas in schemas/ (see
schemas.py); the collector writes plain JSON and its output is tested against
the committed schemas.  The parsed.json model is built from the collector's
own capture table, so an entry cannot be added without a schema for it.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
UtcTime = Annotated[str, Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")]
NonNegative = Annotated[int, Field(ge=0)]
SysvRunlevel = Annotated[str, Field(pattern=r"^[0-6S]$")]
# a SysV runlevel (0-6, S), or an OpenRC runlevel's name (sysinit, boot, default, an admin's own)
Runlevel = Annotated[str, Field(pattern=r"^(?:[0-6S]|[A-Za-z_][A-Za-z0-9_.+-]*)$")]
OnOff = Literal["on", "off"]
Section = Literal["system", "init", "services", "ports", "packages", "jobs", "connections", "ssh"]
Status = Literal["ok", "failed", "missing", "timeout", "truncated", "absent", "denied", "partial", "error", "skipped"]


# Validators are built on first use (defer_build): a diff builds the snapshot's only; the
# manifest is checked against its plain mirror (plain.py), parsed.json in a forked child.
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# --- manifest.json -----------------------------------------------------------

class RawFile(Strict):
    name: str = Field(description="path inside the bundle's top folder, e.g. raw/ss-nlpaxtudw.out")
    role: Literal["stdout", "stderr", "file"]
    path: str | None = Field(description="the host file copied (file and glob entries)")
    size: NonNegative
    sha256: Sha256 | None = Field(description="null only in a raw-only bundle whose host had no sha256 tool "
                                              "(hashes.tool null)")


class Entry(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-zA-Z0-9-]*$")
    section: Section
    kind: Literal["cmd", "file", "glob", "links", "procs"]
    parser: str = Field(pattern=r"^parse_[a-z0-9_]+$")
    source: str = Field(description="the command line or path(s), as --list shows it")
    argv: list[str] | None = Field(description="the argv run, globs expanded")
    executable: str | None
    status: Status
    exit_code: int | None
    error: str | None
    duration: float = Field(ge=0)
    truncated: bool
    warnings: NonNegative | None = Field(description="parser warnings, listed in parsed.json; null in a raw-only "
                                                     "bundle (parsing.where none)")
    parse_error: str | None
    files: list[RawFile]


class TopFile(Strict):
    name: Literal["parsed.json", "snapshot.json"]
    size: NonNegative
    sha256: Sha256


class CollectorInfo(Strict):
    name: Literal["migsnap", "migsnap.sh"] = Field(description="migsnap: the Python collector (parses and hashes "
                                                   "on the host); migsnap.sh: its POSIX sh twin (raw output only)")
    version: str
    sha256: Sha256 | None = Field(description="of the collector file that ran; null when it could not be hashed")


class PythonInfo(Strict):
    version: str
    implementation: str
    executable: str | None


class Shell(Strict):
    """The shell migsnap.sh ran under."""

    executable: str | None
    name: str = Field(description="dash, bash, busybox sh, ...")


class ParsedNowhere(Strict):
    """A raw-only bundle: raw output and a manifest, no parsed.json or snapshot.json."""

    where: Literal["none"]


class ParsedByMigdiff(Strict):
    """A raw-only bundle completed by `migdiff complete`, on the analyst's machine."""

    where: Literal["migdiff"]
    by: str = Field(description="migdiff <version>, migsnap <version> parsers (sha256 <first 12 hex digits>)")
    at: UtcTime


HashTool = Literal["sha256sum", "openssl", "busybox sha256sum"]


class HashedOnHost(Strict):
    """How migsnap.sh hashed the raw files on the host; tool null: it found no tool, and every
    sha256 is null."""

    tool: HashTool | None


class HashedOnArrival(Strict):
    """The host had no sha256 tool: migdiff complete computed the sha256 when the bundle arrived,
    so integrity starts there (nothing proves what happened to the files before)."""

    tool: None
    computed: Literal["migdiff on arrival"]
    at: UtcTime


class Settings(Strict):
    timeout: float = Field(gt=0)
    max_output: int = Field(gt=0)
    jobs: int = Field(gt=0)
    skip: list[str]
    path: str
    locale: str


class Summary(Strict):
    entries: NonNegative
    commands: NonNegative
    statuses: dict[Status, NonNegative]
    parse_warnings: NonNegative | None = Field(description="null in a raw-only bundle")
    parse_errors: NonNegative | None = Field(description="null in a raw-only bundle")


class Redaction(Strict):
    applied: Literal[True]
    method: str
    kinds: list[str]
    replaced: dict[str, NonNegative] = Field(description="how many distinct hosts, addresses, users were replaced")


class Manifest(Strict):
    model_config = ConfigDict(extra="forbid", defer_build=True, title="migsnap bundle manifest",
                              json_schema_extra={"$schema": SCHEMA_DIALECT, "$id": "manifest.schema.json"})

    format: Literal["migsnap-bundle"]
    format_version: Literal[1]
    collector: CollectorInfo
    python: PythonInfo | None = Field(description="null for migsnap.sh, which runs no Python")
    shell: Shell | None = Field(default=None, description="migsnap.sh only")
    parsing: ParsedNowhere | ParsedByMigdiff | None = Field(
        default=None, description="migsnap.sh only: where the raw files were parsed (absent: by the Python "
                                  "collector, on the host)")
    hashes: HashedOnHost | HashedOnArrival | None = Field(
        default=None, description="migsnap.sh only: what computed the sha256 (absent: the Python collector, "
                                  "on the host)")
    hostname: str
    euid: int
    uid: int
    started_at: UtcTime
    finished_at: UtcTime
    duration: float = Field(ge=0)
    argv: list[str]
    settings: Settings
    notes: list[str]
    lost: list[str] = Field(description="what this run could not see (e.g. not root)")
    redaction: Redaction | None = Field(default=None, description="present when identifiers were "
                                        "replaced by pseudonyms (the key is never recorded)")
    summary: Summary
    entries: list[Entry]
    files: list[TopFile] = Field(description="parsed.json and snapshot.json; empty in a raw-only bundle")

    @model_validator(mode="after")
    def _one_shape(self) -> Manifest:
        problem = manifest_shape_problem(self.model_dump())
        if problem:
            raise ValueError(problem)
        return self



def _plain_check(document: dict) -> dict:
    problem = manifest_shape_problem(document)
    if problem:
        raise ValueError(problem)
    return document


# What plain.py's mirror of a model runs after its own checks: the model's validators, over the plain dict.
PLAIN_CHECKS = {Manifest: _plain_check}


def manifest_shape_problem(manifest: dict) -> str | None:
    """What makes a manifest that follows its schema neither a Python collector's bundle, nor a
    raw-only one (migsnap.sh), nor a raw-only one completed by migdiff; None when it is one of
    them.  Rules the JSON Schema cannot say (one field depends on another): a null sha256 only
    when the host had no sha256 tool, and then every sha256 null; parser counts null exactly
    when nothing was parsed; a raw-only bundle lists no parsed.json or snapshot.json.  The
    manifest's types are as the schema says (an absent optional field reads as null)."""
    collector = manifest["collector"]["name"]
    parsing, hashes, shell = manifest.get("parsing"), manifest.get("hashes"), manifest.get("shell")
    if collector == "migsnap":
        if manifest.get("python") is None:
            return "python is null, but the Python collector (migsnap) wrote the bundle"
        present = [name for name, value in (("parsing", parsing), ("hashes", hashes), ("shell", shell)) if value]
        if present:
            return (f"{present[0]} is set, but the Python collector (migsnap) wrote the bundle: it parses and "
                    "hashes on the host (only migsnap.sh bundles say where)")
    else:
        absent = [name for name, value in (("parsing", parsing), ("hashes", hashes), ("shell", shell)) if not value]
        if absent:
            return f"{absent[0]} is missing: a migsnap.sh bundle says where it was parsed, hashed and run"
        if manifest.get("python") is not None:
            return "python is set, but migsnap.sh runs no Python"
    raw_only = parsing is not None and parsing["where"] == "none"
    where = "nothing was parsed (parsing: none)" if raw_only else "the bundle was parsed"
    if raw_only and manifest["files"]:
        return f"files lists {manifest['files'][0]['name']}, but {where}"
    summary = manifest["summary"]
    for field in ("parse_warnings", "parse_errors"):
        if (summary[field] is None) != raw_only:
            return f"summary.{field} is {'set' if raw_only else 'null'}, but {where}"
    for i, entry in enumerate(manifest["entries"]):
        if (entry["warnings"] is None) != raw_only:
            return f"entries[{i}] ({entry['id']}): warnings is {'set' if raw_only else 'null'}, but {where}"
        if raw_only and entry["parse_error"] is not None:
            return f"entries[{i}] ({entry['id']}): parse_error is set, but {where}"
    computed = bool(hashes and hashes.get("computed"))
    if computed and raw_only:
        return "hashes.computed is set, but nothing was parsed (parsing: none): only migdiff complete computes them"
    tool = hashes["tool"] if hashes else "migsnap"
    none_expected = hashes is not None and tool is None and not computed
    if hashes is not None and tool is None and not computed and not raw_only:
        return "hashes.tool is null (no sha256 on the host), but the bundle was parsed without computing them"
    for i, entry in enumerate(manifest["entries"]):
        for record in entry["files"]:
            if (record["sha256"] is None) != none_expected:
                if none_expected:
                    return (f"{record['name']}: a sha256, but hashes.tool is null (the host had no sha256 tool, "
                            "so every sha256 is null)")
                said = f"hashes.tool is {tool!r}" if hashes and tool else (
                    "migdiff computed them on arrival" if computed else "the Python collector hashes every file")
                return f"{record['name']}: sha256 is null, but {said}"
    return None


# --- snapshot.json -------------------------------------------------------------

class System(Strict):
    hostname: str | None
    kernel_release: str | None
    kernel_version: str | None
    arch: str | None
    distro_id: str | None
    distro_version: str | None
    distro_codename: str | None
    distro_name: str | None
    distro_pretty_name: str | None
    distro_like: list[str]
    debian_version: str | None
    issue: str | None
    machine_id: str | None
    sources: dict[str, str] = Field(description="which capture each field came from")


InitSystem = Literal["systemd", "sysv", "upstart", "openrc"]


class Init(Strict):
    pid1: str | None
    active: Literal["systemd", "sysv", "upstart", "openrc", "unknown"]
    present: list[InitSystem]
    default_runlevel: str | None
    current_runlevel: str | None
    previous_runlevel: str | None
    default_target: str | None
    active_targets: list[str]
    sources: dict[str, str | None]
    openrc_runlevel: Annotated[str | None, Field(description="OpenRC: the runlevel it is in (/run/openrc/"
                                                             "softlevel)")] = None


# The records a snapshot holds by the ten thousand are slotted pydantic dataclasses: a model
# instance carries a __dict__ and a set of the fields given, seven times the memory (27 MB
# against 3.5 MB for 25,000 packages), for nothing a comparison uses.
Record = dataclass(slots=True, config=ConfigDict(extra="forbid", defer_build=True))


@Record
class Service:
    name: str
    init: Literal["systemd", "sysv", "upstart", "openrc", "xinetd"]
    unit: str | None
    running: Annotated[bool | None, Field(description="None when no source knows")]
    state: str | None
    enabled: Annotated[bool | None, Field(description="starts at boot; None when no source knows")]
    enabled_state: str | None
    runlevels: dict[Runlevel, OnOff]
    targets: list[str]
    sources: list[str]
    disabled_by: Annotated[str | None, Field(description="the /etc/default file and setting that keep a SysV "
                                                         "script from starting its daemon, although its links "
                                                         "are there")] = None
    daemons: Annotated[list[str] | None, Field(description="SysV: the programs and pid files its init script "
                                                          "names (none: a one-shot script); None when not read")] = None
    cut_name: Annotated[str | None, Field(description="the name as a capture cut it (sysv-rc-conf keeps 12 "
                                                      "characters), completed from /etc/init.d")] = None


@Record
class PortProcess:
    name: str | None
    pid: int | None
    user: str | None
    exe: Annotated[str | None, Field(description="/proc/<pid>/exe")]
    unit: Annotated[str | None, Field(description="the systemd service whose cgroup holds the process")]
    package: Annotated[str | None, Field(description="the package that owns exe (dpkg -S, rpm -qf)")]
    service: Annotated[str | None, Field(description="the service the process belongs to: its systemd unit, else "
                                                     "the init script whose pid file or program names it or a "
                                                     "parent")] = None
    cut_name: Annotated[str | None, Field(description="the name as netstat cut it ('sshd: /usr/sbi'), "
                                                      "completed from /proc/<pid>/comm")] = None


@Record
class Port:
    protocol: Literal["tcp", "udp", "unix"]
    family: Literal["inet", "inet6", "unix"] | None
    bind: str | None
    port: Annotated[int, Field(ge=0, le=65535)] | None
    path: str | None
    interface: str | None
    processes: list[PortProcess]
    uid: int | None
    source: str


@Record
class Package:
    manager: Literal["dpkg", "rpm", "apk"]
    name: str
    epoch: str | None
    version: str | None
    release: str | None
    arch: str | None
    status: str
    auto: Annotated[bool | None, Field(description="installed only as a dependency (apt's Auto-Installed; "
                                                   "apk: not in /etc/apk/world); None when the manager does "
                                                   "not say")]
    source: str
    # What tells the release's own packages from the ones an admin chose (since migsnap 0.2; absent
    # from bundles of earlier collectors).
    source_package: Annotated[str | None, Field(description="the source package it was built from")] = None
    priority: Annotated[str | None, Field(description="dpkg's Priority (required, important, standard, "
                                                      "optional, extra)")] = None
    essential: Annotated[bool | None, Field(description="dpkg's Essential: yes")] = None
    section: Annotated[str | None, Field(description="dpkg's Section (libs, net, ...)")] = None
    transaction: Annotated[int | None, Field(description="rpm: the id of the transaction that installed it "
                                                         "(the first one installed the system)")] = None
    dependents: Annotated[int | None, Field(ge=0, description="dpkg: how many installed packages depend on it "
                                                              "(Pre-Depends, Depends, through Provides too)")] = None


Owner = Annotated[str | None, Field(description="the package owning its definition; None: no package does (an "
                                                "admin's, the workload's own); \"?\": the package database was not asked")]


@Record
class Job:
    kind: Literal["cron", "anacron", "crontab", "cron-script", "timer", "at"]
    where: Annotated[str, Field(description="the file, \"crontab USER\", cron's run-parts folder, the timer unit, "
                                           "or \"at N\"")]
    user: str | None
    schedule: str | None
    command: str | None
    unit: Annotated[str | None, Field(description="timers: the unit it starts")]
    package: Owner
    source: str

    def phrase(self) -> str:
        """ "/etc/cron.d/x (*/15 * * * *) as www-data: /opt/x.sh": how every report names a job."""
        return self.where + (f" ({self.schedule})" if self.schedule else "") + \
            (f" as {self.user}" if self.user else "") + (f": {self.command}" if self.command else "")


@Record
class LocalUnit:
    name: Annotated[str, Field(description="unit name (a drop-in: UNIT/FILE.conf), init script or Upstart job name")]
    kind: Literal["unit", "drop-in", "init-script", "upstart-job"]
    file: str
    package: Owner
    description: str | None
    exec: Annotated[str | None, Field(description="what it runs: ExecStart, or the program its init script starts")]
    wanted_by: list[str]
    source: str


class Dependency(Strict):
    remote: str = Field(description="the address this host connects to")
    port: Annotated[int, Field(ge=0, le=65535)]
    process: str | None
    service: str | None
    count: NonNegative
    source: str


class Client(Strict):
    port: Annotated[int, Field(ge=0, le=65535)] = Field(description="the local listening port they connect to")
    remote: str
    count: NonNegative


class Connections(Strict):
    dependencies: list[Dependency] = []
    clients: list[Client] = []


class SshKey(Strict):
    user: str | None
    type: str
    fingerprint: str
    private_key: bool = Field(description="the private half lies beside it (only its existence is read)")
    file: str


class AuthorizedKey(Strict):
    user: str | None
    type: str
    fingerprint: str
    comment: str | None
    file: str


class Sshd(Strict):
    ports: list[Annotated[int, Field(ge=0, le=65535)]] = []
    permit_root_login: str | None = None
    source: str | None = None


class Ssh(Strict):
    keys: list[SshKey] = []
    authorized: list[AuthorizedKey] = []
    sshd: Sshd = Sshd()


class Snapshot(Strict):
    model_config = ConfigDict(extra="forbid", defer_build=True, title="migsnap snapshot",
                              json_schema_extra={"$schema": SCHEMA_DIALECT, "$id": "snapshot.schema.json"})

    format: Literal["migsnap-snapshot"]
    format_version: Literal[1]
    collector_version: str
    system: System
    init: Init
    services: dict[str, Service]
    ports: list[Port]
    packages: list[Package]
    # since migsnap 0.2: what the workload does beyond packages
    jobs: list[Job] = []
    units: list[LocalUnit] = []
    connections: Connections = Connections()
    ssh: Ssh = Ssh()

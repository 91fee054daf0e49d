"""Pydantic models of parsed.json: one model per parser's output.

The model of parsed.json is built from the collector's own capture table, so an entry cannot
be added without a schema for it (test_conformance checks every parser has one here).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

import migsnap

from .models import SCHEMA_DIALECT, NonNegative, OnOff, Strict
from .models import SysvRunlevel as Runlevel


class ValueData(Strict):
    value: str | None = None


class UnameData(Strict):
    kernel_name: str | None = None
    node_name: str | None = None
    kernel_release: str | None = None
    kernel_version: str | None = None
    machine: str | None = None
    processor: str | None = None
    hardware_platform: str | None = None
    operating_system: str | None = None


class ReleaseData(Strict):
    line: str | None = None
    name: str | None = None
    version: str | None = None
    codename: str | None = None
    fields: dict[str, str] = {}


class IssueData(Strict):
    lines: list[str] = []


class RunlevelData(Strict):
    previous: str | None = None
    current: str | None = None


class WhoRData(Strict):
    current: str | None = None
    since: str | None = None
    previous: str | None = None


class InittabEntry(Strict):
    id: str
    runlevels: str
    action: str
    process: str


class InittabData(Strict):
    default_runlevel: str | None = None
    entries: list[InittabEntry] = []


class StatusAllRow(Strict):
    name: str
    status: Literal["running", "stopped", "unknown", "dead"]
    pid: int | None


class ChkconfigService(Strict):
    name: str
    runlevels: dict[Runlevel, OnOff]


class XinetdService(Strict):
    name: str
    state: OnOff


class ChkconfigData(Strict):
    services: list[ChkconfigService] = []
    xinetd: list[XinetdService] = []


class InitDRow(Strict):
    name: str
    type: str
    target: str | None


class RcLinkRow(Strict):
    runlevel: Runlevel
    action: Literal["S", "K"]
    priority: NonNegative
    script: str
    link: str
    target: str | None


class RcStatusRow(Strict):
    runlevel: str
    dynamic: bool
    name: str
    status: str
    detail: str | None


class RcUpdateRow(Strict):
    name: str
    runlevels: list[str]


class OpenrcRunlevelRow(Strict):
    runlevel: str
    name: str
    type: str
    target: str | None
    stacked: bool


class LsRow(Strict):
    dir: str | None
    name: str
    type: str
    mode: str
    links: NonNegative
    owner: str
    group: str
    size: str
    date: str
    target: str | None


class InitctlJob(Strict):
    name: str
    instance: str | None
    goal: str
    state: str
    pid: int | None


class InitctlConfig(Strict):
    name: str
    start_on: str | None
    stop_on: str | None
    emits: list[str]


class UpstartJob(Strict):
    name: str
    file: str
    description: str | None
    start_on: str | None
    stop_on: str | None
    manual: bool
    override: bool
    env: dict[str, str]


class UnitRow(Strict):
    unit: str
    load: str
    active: str
    sub: str
    description: str


class UnitFileRow(Strict):
    unit_file: str
    state: str
    preset: str | None


class DependencyRow(Strict):
    unit: str
    depth: NonNegative
    parent: str | None


class NetstatRow(Strict):
    proto: str
    recv_q: int | None
    send_q: int | None
    local_address: str | None
    local_port: str | None
    foreign_address: str | None
    foreign_port: str | None
    state: str | None
    user: str | None
    inode: int | None
    pid: int | None
    program: str | None
    path: str | None
    flags: str | None
    type: str | None


class LsofRow(Strict):
    command: str
    pid: int
    tid: int | None
    user: str | None
    fd: str | None
    type: str | None
    device: str | None
    size_off: str | None
    node: str | None
    name: str


class SsProcess(Strict):
    name: str
    pid: int
    fd: int


class SsRow(Strict):
    netid: str
    state: str
    recv_q: int
    send_q: int
    local_address: str
    local_port: str
    peer_address: str
    peer_port: str
    processes: list[SsProcess]
    extra: str | None


class ProcNetInetRow(Strict):
    local_address: str
    local_port: Annotated[int, Field(ge=0, le=65535)]
    remote_address: str
    remote_port: Annotated[int, Field(ge=0, le=65535)]
    state_code: str
    state: str | None
    uid: int
    inode: int


class ProcNetUnixRow(Strict):
    refcount: int
    flags: str
    type: str
    state: str
    inode: int
    path: str | None
    listening: bool


class DpkgLRow(Strict):
    codes: str
    desired: str
    status: str
    error: str | None
    name: str
    version: str
    arch: str | None
    description: str


class DpkgQueryRow(Strict):
    name: str
    version: str
    arch: str | None
    want: str
    flag: str
    status: str
    # Read since migsnap 0.2; optional so that bundles of earlier collectors stay valid.
    priority: str | None = None
    essential: bool | None = None
    section: str | None = None
    source: str | None = None
    dependents: Annotated[int, Field(ge=0)] | None = None


class RpmRow(Strict):
    name: str
    epoch: str | None
    version: str | None
    release: str | None
    arch: str | None


class RpmQfRow(RpmRow):
    source_rpm: str | None = None
    transaction: int | None = None


class ApkRow(Strict):
    name: str
    version: str


class ApkWorldRow(Strict):
    name: str
    spec: str


class EtcDefaultFile(Strict):
    file: str
    name: str
    vars: dict[str, str]


class InitScript(Strict):
    name: str
    file: str
    provides: list[str]
    default_start: list[str] | None
    default_stop: list[str] | None
    description: str | None
    daemons: list[str]
    pidfiles: list[str]


class PidFile(Strict):
    file: str
    name: str
    pid: Annotated[int, Field(gt=0)]


class AptStateRow(Strict):
    name: str
    arch: str | None
    auto: bool


class PasswdRow(Strict):
    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str


class ListenProc(Strict):
    pid: int
    exe: str | None
    comm: str | None
    ppid: int | None
    cgroup: str | None
    unit: str | None
    cmdline: list[str] | None = None
    errors: list[str]


class DpkgSearchRow(Strict):
    packages: list[str]
    path: str


class RpmOwner(Strict):
    name: str
    epoch: str | None
    version: str | None
    release: str | None
    arch: str | None
    files: list[str]


class RpmOwnersData(Strict):
    packages: list[RpmOwner] = []
    unowned: list[str] = []


class CronJobRow(Strict):
    file: str
    user: str | None
    schedule: str
    command: str


class CronScriptRow(Strict):
    dir: str
    name: str
    file: str
    type: str
    target: str | None


class TimerRow(Strict):
    unit: str
    activates: str | None
    next: str | None
    last: str | None


class AtRow(Strict):
    job: int
    when: str
    queue: str
    user: str


class UnitFileRow2(Strict):
    file: str
    unit: str
    dropin: bool
    settings: dict[str, list[str]]


class SshKeyRow(Strict):
    file: str
    user: str | None
    kind: Literal["identity", "authorized"]
    type: str
    fingerprint: str
    comment: str | None


class SshDirRow(Strict):
    user: str | None
    name: str
    type: str
    private_key: bool


# The data each parser returns; test_conformance checks this covers every parser in the table.
PARSER_MODELS: dict[str, Any] = {
    "parse_value": ValueData,
    "parse_uname_a": UnameData,
    "parse_os_release": dict[str, str],
    "parse_release_file": ReleaseData,
    "parse_issue": IssueData,
    "parse_runlevel": RunlevelData,
    "parse_who_r": WhoRData,
    "parse_inittab": InittabData,
    "parse_service_status_all": list[StatusAllRow],
    "parse_chkconfig": ChkconfigData,
    "parse_init_d": list[InitDRow],
    "parse_rc_links": list[RcLinkRow],
    "parse_ls_l": list[LsRow],
    "parse_rc_status": list[RcStatusRow],
    "parse_rc_update_show": list[RcUpdateRow],
    "parse_openrc_runlevels": list[OpenrcRunlevelRow],
    "parse_initctl_list": list[InitctlJob],
    "parse_initctl_show_config": list[InitctlConfig],
    "parse_upstart_jobs": list[UpstartJob],
    "parse_systemctl_units": list[UnitRow],
    "parse_systemctl_unit_files": list[UnitFileRow],
    "parse_systemctl_dependencies": list[DependencyRow],
    "parse_netstat": list[NetstatRow],
    "parse_lsof": list[LsofRow],
    "parse_ss": list[SsRow],
    "parse_proc_net_inet": list[ProcNetInetRow],
    "parse_proc_net_unix": list[ProcNetUnixRow],
    "parse_dpkg_l": list[DpkgLRow],
    "parse_dpkg_query": list[DpkgQueryRow],
    "parse_rpm_qa": list[RpmRow],
    "parse_rpm_qf": list[RpmQfRow],
    "parse_apk_info": list[ApkRow],
    "parse_apk_world": list[ApkWorldRow],
    "parse_etc_default": list[EtcDefaultFile],
    "parse_init_scripts": list[InitScript],
    "parse_pid_files": list[PidFile],
    "parse_apt_extended_states": list[AptStateRow],
    "parse_listen_procs": list[ListenProc],
    "parse_passwd": list[PasswdRow],
    "parse_dpkg_search": list[DpkgSearchRow],
    "parse_rpm_owners": RpmOwnersData,
    "parse_cron_files": list[CronJobRow],
    "parse_user_crontabs": list[CronJobRow],
    "parse_cron_scripts": list[CronScriptRow],
    "parse_systemctl_timers": list[TimerRow],
    "parse_atq": list[AtRow],
    "parse_unit_files": list[UnitFileRow2],
    "parse_ssh_keys": list[SshKeyRow],
    "parse_ssh_dirs": list[SshDirRow],
    "parse_sshd_config": dict[str, list[str]],
}


def _parsed_entry_model(capture_id: str, data_model: Any) -> type[BaseModel]:
    title = "".join(part.capitalize() for part in capture_id.split("-"))
    return create_model(f"Parsed{title}", __base__=Strict, data=(data_model, ...), warnings=(list[str], ...))


def _parsed_entries_model() -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for capture in migsnap.captures():
        entry = _parsed_entry_model(capture.id, PARSER_MODELS[capture.parser])
        fields[capture.id.replace("-", "_")] = (entry | None, Field(None, alias=capture.id))
    return create_model("ParsedEntries", __base__=Strict, **fields)


ParsedEntries = _parsed_entries_model()


class Parsed(Strict):
    model_config = ConfigDict(extra="forbid", title="migsnap parsed entries",
                              json_schema_extra={"$schema": SCHEMA_DIALECT, "$id": "parsed.schema.json"})

    format: Literal["migsnap-parsed"]
    format_version: Literal[1]
    entries: ParsedEntries  # type: ignore[valid-type]

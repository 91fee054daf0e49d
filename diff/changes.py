"""The one model of a difference between two hosts.

compare.py fills a DiffReport once; every presenter (text, json, markdown)
reads the same report.  The JSON output is DiffReport itself, so
schemas/diff.schema.json is generated from these classes.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .models import SCHEMA_DIALECT

DIFF_FORMAT = "migdiff-diff"
DIFF_FORMAT_VERSION = 1

SECTIONS = ("system", "init", "services", "runlevels", "ports", "packages")
SectionName = Literal["system", "init", "services", "runlevels", "ports", "packages"]
Kind = Literal["only-in-source", "only-in-target", "changed", "identical"]
KINDS: tuple[str, ...] = ("only-in-source", "only-in-target", "changed", "identical")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Change(Strict):
    section: SectionName
    key: str = Field(description="the record's natural key, e.g. apache2, tcp/*:80, dpkg:openssh-server:amd64")
    kind: Kind
    field: str | None = Field(description="for 'changed': which field of the record differs")
    source: Any = Field(description="the value (or whole record) on the source host; null when absent")
    target: Any = Field(description="the value (or whole record) on the target host; null when absent")
    expected: bool = Field(description="a difference every two hosts have (hostname, machine id)")
    text: str = Field(description="one line for a human")


class Counts(Strict):
    only_in_source: int = 0
    only_in_target: int = 0
    changed: int = 0
    identical: int = 0
    expected: int = 0

    def add(self, change: Change) -> None:
        if change.expected:
            self.expected += 1
        else:
            attr = change.kind.replace("-", "_")
            setattr(self, attr, getattr(self, attr) + 1)

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


class DiffReport(Strict):
    model_config = ConfigDict(extra="forbid", title="migdiff diff report",
                              json_schema_extra={"$schema": SCHEMA_DIALECT, "$id": "diff.schema.json"})

    format: Literal["migdiff-diff"] = DIFF_FORMAT
    format_version: Literal[1] = DIFF_FORMAT_VERSION
    source: HostRef
    target: HostRef
    sections: list[SectionName]
    summary: dict[SectionName, Counts]
    changes: list[Change]

    @property
    def differences(self) -> int:
        return sum(c.differences for c in self.summary.values())

"""Validation of a bundle that reads: JSON Schemas, file integrity, format version."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from . import schema
from .bundle import Bundle
from .errors import BundleError

DOCUMENTS = (("manifest", "manifest.json"), ("snapshot", "snapshot.json"), ("parsed", "parsed.json"))
MAX_REASONS = 20
MAX_MESSAGE = 160


@dataclass(frozen=True)
class Validation:
    path: str
    reasons: tuple[str, ...]
    facts: str

    @property
    def ok(self) -> bool:
        return not self.reasons

    def line(self) -> str:
        if self.ok:
            return f"{self.path}: OK ({self.facts})"
        return f"{self.path}: INVALID: " + "; ".join(self.reasons)


def validate(bundle: Bundle) -> Validation:
    reasons: list[str] = []
    schema_ok = {}
    for name, member in DOCUMENTS:
        schema_ok[name] = _check_schema(bundle, name, member, reasons)
    if schema_ok["manifest"]:
        _check_integrity(bundle, reasons)
    else:
        reasons.append("integrity not checked: the manifest does not follow its schema")
    if len(reasons) > MAX_REASONS:
        reasons = reasons[:MAX_REASONS] + [f"{len(reasons) - MAX_REASONS} more problems"]
    return Validation(bundle.path, tuple(reasons), _facts(bundle.manifest))


def _check_schema(bundle: Bundle, name: str, member: str, reasons: list[str]) -> bool:
    try:
        document = bundle.json_member(member)
    except BundleError as exc:
        reasons.append(exc.problem)
        return False
    errors = sorted(schema.validator(name).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        reasons.append(f"{member} {error.json_path}: {_clip(error.message)}")
    return not errors


def _check_integrity(bundle: Bundle, reasons: list[str]) -> None:
    listed: dict[str, dict[str, Any]] = {}
    for entry in bundle.manifest["entries"]:
        for record in entry["files"]:
            listed[record["name"]] = record
    for record in bundle.manifest["files"]:
        listed[record["name"]] = record
    for name, record in listed.items():
        data = bundle.files.get(name)
        if data is None:
            reasons.append(f"{name}: listed in the manifest but not in the bundle")
        elif len(data) != record["size"]:
            reasons.append(f"{name}: {len(data)} bytes, the manifest says {record['size']}")
        elif hashlib.sha256(data).hexdigest() != record["sha256"]:
            reasons.append(f"{name}: sha256 does not match the manifest (changed after collection)")
    for name in sorted(bundle.files):
        if name not in listed and name != "manifest.json":
            reasons.append(f"{name}: in the bundle but not in the manifest")


def _facts(manifest: dict[str, Any]) -> str:
    collector = manifest.get("collector") if isinstance(manifest.get("collector"), dict) else {}
    entries = manifest.get("entries")
    return (f"host {manifest.get('hostname')}, migsnap {collector.get('version')}, "
            f"format {manifest.get('format_version')}, {len(entries) if isinstance(entries, list) else '?'} entries")


def _clip(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "..."

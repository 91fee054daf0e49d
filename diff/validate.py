"""Validation of a bundle that reads: JSON Schemas, file integrity, format version."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any

from . import schema
from .bundle import Bundle, check_json_bytes, shown
from .errors import BundleError

# parsed.json before snapshot.json: its model, the largest, is dropped before the snapshot's is built
DOCUMENTS = (("manifest", "manifest.json"), ("parsed", "parsed.json"), ("snapshot", "snapshot.json"))

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
    """Checks the bundle's three documents against their schemas and the integrity of every file."""
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
    return Validation(bundle.path, tuple(_printable(r) for r in reasons), _facts(bundle.manifest))


def _model(name: str) -> Any:
    if name == "parsed":  # a large model, built only when parsed.json is checked
        from .parsed_models import Parsed
        return Parsed
    from .models import Manifest, Snapshot
    return {"manifest": Manifest, "snapshot": Snapshot}[name]


def _check_schema(bundle: Bundle, name: str, member: str, reasons: list[str]) -> bool:
    """A document against its schema.

    The schemas are generated from the pydantic models (test_conformance keeps them in step), so
    a document the model accepts in strict mode follows its schema: that compiled check is the
    fast path, and it types the document for later use.  Only a document it refuses goes through
    jsonschema, which says what is wrong, with JSON paths (and has the last word).
    """
    model = _model(name)
    data = bundle.files.get(member)
    if data is not None:
        try:
            check_json_bytes(bundle.path, member, data)
            typed = model.model_validate_json(data, strict=True)
            if name != "parsed":  # nothing reads parsed.json's model: do not hold 100,000 objects
                bundle.typed[name] = typed
            return True
        except BundleError as exc:
            reasons.append(exc.problem)
            return False
        except ValueError:  # pydantic's ValidationError: let the schema speak
            pass
    try:
        document = bundle.json_member(member)
    except BundleError as exc:
        reasons.append(exc.problem)
        return False
    # a hostile document can fail in millions of places: read only the first few errors
    found = []
    for error in islice(schema.validator(name).iter_errors(document), MAX_REASONS + 1):
        found.append((list(map(str, error.absolute_path)), f"{member} {_clip(error.json_path)}: {_clip(error.message)}"))
    for _, reason in sorted(found, key=lambda pair: pair[0]):
        reasons.append(reason)
    if found:
        return False
    try:  # the schema accepts what the strict model refused (say 1.0 for an integer): type it leniently
        typed = model.model_validate(document)
        if name != "parsed":
            bundle.typed[name] = typed
    except ValueError as exc:
        reasons.append(f"{member}: {_clip(str(exc).splitlines()[0])}")
        return False
    return True


def _check_integrity(bundle: Bundle, reasons: list[str]) -> None:
    """Every file's size and sha256 as recorded while the bundle streamed by (bundle.digests)."""
    listed: dict[str, dict[str, Any]] = {}
    records = [record for entry in bundle.manifest["entries"] for record in entry["files"]]
    for record in records + bundle.manifest["files"]:
        name = record["name"]
        if name in listed and (listed[name]["size"], listed[name]["sha256"]) != (record["size"], record["sha256"]):
            reasons.append(f"{_name(name)}: listed twice in the manifest, with different sizes or sha256")
        listed[name] = record
    for name, record in listed.items():
        digest = bundle.digests.get(name)
        if digest is None:
            reasons.append(f"{_name(name)}: listed in the manifest but not in the bundle")
        elif digest[0] != record["size"]:
            reasons.append(f"{_name(name)}: {digest[0]} bytes, the manifest says {shown(record['size'])}")
        elif digest[1] != record["sha256"]:
            reasons.append(f"{_name(name)}: sha256 does not match the manifest (changed after collection)")
    for name in sorted(bundle.digests):
        if name not in listed and name != "manifest.json":
            reasons.append(f"{_name(name)}: in the bundle but not in the manifest")


def _name(name: str) -> str:
    """A file name as the manifest or the archive gives it, safe on one line."""
    return _clip(name) if name.isprintable() else shown(name)


def _printable(text: str) -> str:
    """Escapes what a terminal would obey (control bytes, bidi overrides): one line, shown not run."""
    return text if text.isprintable() else "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _facts(manifest: dict[str, Any]) -> str:
    collector = manifest.get("collector") if isinstance(manifest.get("collector"), dict) else {}
    entries = manifest.get("entries")
    return _printable(f"host {_fact(manifest.get('hostname'))}, migsnap {_fact(collector.get('version'))}, "
                      f"format {_fact(manifest.get('format_version'))}, "
                      f"{len(entries) if isinstance(entries, list) else '?'} entries")


def _fact(value: Any) -> str:
    return _clip(value) if isinstance(value, str) else shown(value)


def _clip(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "..."

"""Validation of a bundle that reads: JSON Schemas, file integrity, format version."""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from itertools import islice
from typing import Any

from . import schema
from .bundle import Bundle, check_json_bytes, shown
from .errors import BundleError
from .forking import forked
from .plain import plain_validator

DOCUMENTS = (("manifest", "manifest.json"), ("parsed", "parsed.json"), ("snapshot", "snapshot.json"))
TYPED = ("snapshot",)  # what comparing needs as model instances; other documents are only checked
# Below this many bytes of parsed.json, forking a child costs more than it saves (a 25,000-package
# bundle has 13 MB; a real host's some 100 KB)
FORK_FROM = 4 * 1024 * 1024

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


def validate(bundle: Bundle, typed: Collection[str] = TYPED) -> Validation:
    """Checks the bundle's three documents against their schemas and the integrity of every file.

    The documents named in `typed` are kept in bundle.typed as model instances."""
    return start_validation([bundle], typed, fork_from=None).results()[0]


def start_validation(bundles: list[Bundle], typed: Collection[str] = TYPED,
                     fork_from: int | None = None) -> PendingValidation:
    """validate() of each bundle, begun.

    When the parsed.json documents hold at least `fork_from` bytes (say FORK_FROM), a forked
    child checks them (the largest documents, which nothing downstream reads) while this process
    checks and types the others and goes on with its work until it asks for the results: two
    cores share the work.  Otherwise everything is checked here, now."""
    def check_parsed() -> list[list[str]]:
        return [_document_reasons(bundle, "parsed", typed) for bundle in bundles]

    size = sum(len(bundle.files.get("parsed.json") or b"") for bundle in bundles)
    if fork_from is not None and size >= fork_from:
        parsed = forked(check_parsed)
    else:
        parsed_reasons = check_parsed()
        parsed = lambda: parsed_reasons  # noqa: E731
    found = [{name: _document_reasons(bundle, name, typed) for name in ("manifest", "snapshot")}
             for bundle in bundles]
    return PendingValidation(bundles, found, parsed)


@dataclass
class PendingValidation:
    bundles: list[Bundle]
    found: list[dict[str, list[str]]]  # per bundle, the reasons against the documents checked here
    parsed: Callable[[], list[list[str]]]  # waits for the reasons against each parsed.json
    _results: list[Validation] | None = None

    def usable(self) -> bool:
        """The documents checked here follow their schemas (the snapshots are typed)."""
        return not any(reasons for found in self.found for reasons in found.values())

    def results(self) -> list[Validation]:
        """Every bundle's validation, once the parsed.json checks are in."""
        if self._results is None:
            self._results = [self._result(bundle, found, parsed)
                             for bundle, found, parsed in zip(self.bundles, self.found, self.parsed())]
        return self._results

    @staticmethod
    def _result(bundle: Bundle, found: dict[str, list[str]], parsed: list[str]) -> Validation:
        reasons = [reason for name, _ in DOCUMENTS for reason in (parsed if name == "parsed" else found[name])]
        if not found["manifest"]:
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


def _document_reasons(bundle: Bundle, name: str, typed: Collection[str]) -> list[str]:
    """What is wrong with one document (nothing: it follows its schema).

    The schemas are generated from the pydantic models (test_conformance keeps them in step), so
    a document the model accepts in strict mode follows its schema: that compiled check is the
    fast path.  It builds the model's objects only for a document named in `typed`, into
    bundle.typed; others are checked against the model's plain mirror (plain.py).  Only a
    document refused goes through jsonschema, which says what is wrong, with JSON paths (and
    has the last word).
    """
    model = _model(name)
    member = dict(DOCUMENTS)[name]
    data = bundle.files.get(member)
    if data is not None:
        try:
            check_json_bytes(bundle.path, member, data)
            if name in typed:
                bundle.typed[name] = model.model_validate_json(data, strict=True)
            else:
                plain_validator(model).validate_json(data, strict=True)
            return []
        except BundleError as exc:
            return [exc.problem]
        except ValueError:  # pydantic's ValidationError: let the schema speak
            pass
    try:
        document = bundle.json_member(member)
    except BundleError as exc:
        return [exc.problem]
    # a hostile document can fail in millions of places: read only the first few errors
    found = []
    for error in islice(schema.validator(name).iter_errors(document), MAX_REASONS + 1):
        found.append((list(map(str, error.absolute_path)), f"{member} {_clip(error.json_path)}: {_clip(error.message)}"))
    if found:
        return [reason for _, reason in sorted(found, key=lambda pair: pair[0])]
    try:  # the schema accepts what the strict model refused (say 1.0 for an integer): type it leniently
        instance = model.model_validate(document)
    except ValueError as exc:
        return [f"{member}: {_clip(str(exc).splitlines()[0])}"]
    if name in typed:
        bundle.typed[name] = instance
    return []


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

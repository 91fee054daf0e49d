"""Validation of a bundle that reads: JSON Schemas, file integrity, format version, the entries of
its collector's table, its JSON documents against its raw files, and its signature (trust.py)."""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from itertools import islice
from typing import Any

from . import complete, trust
from .bundle import DEFAULT_LIMITS, SIGNATURE, Bundle, Limits, check_json_bytes, shown, strict_problem
from .errors import BundleError, escaped
from .forking import forked

# pydantic and jsonschema (schema, plain, the models) are imported when a document is checked: the
# child that re-parses a large bundle's raw files (content_reasons) starts before they are loaded.

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
    notes: tuple[str, ...] = ()  # what a valid bundle's line adds: checks not made, its signature

    @property
    def ok(self) -> bool:
        return not self.reasons

    def line(self) -> str:
        path = escaped(self.path)  # a file name can hold escapes too
        if self.ok:
            return f"{path}: OK ({'; '.join((self.facts, *self.notes))})"
        return f"{path}: INVALID: " + "; ".join(self.reasons)


def validate(bundle: Bundle, typed: Collection[str] = TYPED, limits: Limits = DEFAULT_LIMITS,
             verify_key: bytes | None = None) -> Validation:
    """Checks the bundle's three documents against their schemas, the integrity of every file, its
    entries, its documents against its raw files, and its signature (against verify_key, if given).

    The documents named in `typed` are kept in bundle.typed as model instances."""
    return start_validation([bundle], typed, fork_from=None, limits=limits, verify_key=verify_key).results()[0]


@dataclass(frozen=True)
class Content:
    """What the content checks found in one bundle (content_reasons)."""

    parsed: list[str]    # parsed.json against its schema
    reasons: list[str]   # entries, the documents against the raw files, JSON that is not JSON
    notes: list[str]     # checks not made, and why


def start_validation(bundles: list[Bundle], typed: Collection[str] = TYPED, fork_from: int | None = None,
                     limits: Limits = DEFAULT_LIMITS, verify_key: bytes | None = None) -> PendingValidation:
    """validate() of each bundle, begun.

    When the parsed.json documents hold at least `fork_from` bytes (say FORK_FROM), the content
    of each bundle (its raw files parsed again, against parsed.json and snapshot.json: some 1.3 s
    and 100 MB for 25,000 packages) is checked by a forked child of its own.  One bundle: its
    child works while this process checks and types the other documents and goes on with its
    work until it asks for the results.  Several: their children work side by side while this
    process waits, small (it has let go of the documents, read again afterwards): one after
    the other beside this process's own work they would take twice as long, and side by side
    with its models they would not fit in the memory budget (250 MB for a 25,000-package pair).
    Otherwise everything is checked here, now.

    A raw-only bundle (migsnap.sh) is checked and parsed here first (open_raw_only): then it is
    checked as if it held the documents the parsers made."""
    early: dict[int, list[str]] = {}
    for i, bundle in enumerate(bundles):
        if complete.is_raw_only(bundle.manifest):
            early[i] = _document_reasons(bundle, "manifest", ())
            open_raw_only(bundle, limits, manifest_ok=not early[i])
    size = sum(len(bundle.files.get("parsed.json") or b"") for bundle in bundles if bundle.arrival is None)
    if fork_from is not None and size >= fork_from:
        apart = len(bundles) > 1
        for bundle in bundles:  # compared by their sha256 (read again only if they differ)
            _drop(bundle, ("parsed.json", "snapshot.json") if apart else ("parsed.json",), raw=False)
        workers = [forked(lambda bundle=bundle: content_reasons(bundle, typed, limits)) for bundle in bundles]
        if apart:
            content_found = [worker() for worker in workers]
            _read_documents_again(bundles, limits)
            content = lambda: content_found  # noqa: E731
        else:
            content = lambda: [worker() for worker in workers]  # noqa: E731
    else:
        content_found = [content_reasons(bundle, typed, limits) for bundle in bundles]
        content = lambda: content_found  # noqa: E731
    for bundle in bundles:  # parsed again (or being, by a child): not needed here
        _drop(bundle, ())
    found, signed = [], []
    for i, bundle in enumerate(bundles):
        if i in early:
            found.append({"manifest": early[i], "snapshot": _document_reasons(bundle, "snapshot", typed)
                          if bundle.arrival.parsed else []})
        else:
            found.append({name: _document_reasons(bundle, name, typed) for name in ("manifest", "snapshot")})
        reasons, notes = trust.signature_reasons(bundle, verify_key)
        found[-1]["signature"] = reasons
        signed.append(notes)
    return PendingValidation(bundles, found, signed, content)


def _read_documents_again(bundles: list[Bundle], limits: Limits) -> None:
    """The bundles' snapshot.json, let go of while the children worked, read again (side by side:
    inflating releases the GIL); BundleError if a bundle is no longer what was read."""
    from concurrent.futures import ThreadPoolExecutor
    missing = [bundle for bundle in bundles
               if "snapshot.json" in bundle.digests and "snapshot.json" not in bundle.files]
    with ThreadPoolExecutor(max_workers=max(1, len(missing))) as pool:
        again = list(pool.map(lambda bundle: trust.read_again(bundle, limits, set()), missing))
    for bundle, fresh in zip(missing, again):
        bundle.files["snapshot.json"] = fresh.files["snapshot.json"]


def _drop(bundle: Bundle, documents: Collection[str], raw: bool = True) -> None:
    """Lets go of the bundle's raw files and of these documents, unless the caller rewrites it
    (or, for the documents, they were made here: they cannot be read again)."""
    if bundle.keep_raw:
        return
    if bundle.arrival is not None:
        documents = ()
    for name in [name for name in bundle.files if (raw and name.startswith("raw/")) or name in documents]:
        del bundle.files[name]


@dataclass
class PendingValidation:
    bundles: list[Bundle]
    found: list[dict[str, list[str]]]  # per bundle, the reasons against the documents checked here
    signed: list[list[str]]            # per bundle, what its signature is
    content: Callable[[], list[Content]]  # waits for the content checks of each bundle
    _results: list[Validation] | None = None

    def usable(self) -> bool:
        """The documents checked here follow their schemas (the snapshots are typed), and the
        signatures are as asked; and a raw-only bundle was parsed here."""
        return (not any(reasons for found in self.found for reasons in found.values())
                and all(bundle.arrival is None or bundle.arrival.parsed for bundle in self.bundles))

    def results(self) -> list[Validation]:
        """Every bundle's validation, once the content checks are in."""
        if self._results is None:
            self._results = [self._result(*args)
                             for args in zip(self.bundles, self.found, self.signed, self.content())]
        return self._results

    @staticmethod
    def _result(bundle: Bundle, found: dict[str, list[str]], signed: list[str], content: Content) -> Validation:
        reasons = [reason for name, _ in DOCUMENTS for reason in (content.parsed if name == "parsed" else found[name])]
        provenance = []
        if found["manifest"]:
            reasons.append("integrity not checked: the manifest does not follow its schema")
        else:
            if bundle.arrival is None:  # a raw-only bundle's was checked as it was opened
                _check_integrity(bundle, reasons)
            provenance = complete.provenance_notes(bundle.manifest)
        reasons += content.reasons + found["signature"]
        if len(reasons) > MAX_REASONS:
            reasons = reasons[:MAX_REASONS] + [f"{len(reasons) - MAX_REASONS} more problems"]
        return Validation(bundle.path, tuple(_printable(r) for r in reasons), _facts(bundle.manifest),
                          tuple(_printable(n) for n in provenance + content.notes + signed))


def content_reasons(bundle: Bundle, typed: Collection[str] = TYPED, limits: Limits = DEFAULT_LIMITS) -> Content:
    """The checks of what the bundle says, beyond its schemas and checksums (trust.py): every entry
    of its collector's table; its raw files parsed again and compared with parsed.json and
    snapshot.json; JSON that Python reads but JSON does not allow (a key twice, NaN, Infinity).

    parsed.json is checked against its schema unless it is byte for byte what the parsers make of
    the raw files: that is the collector's own output, which its schema describes."""
    if bundle.arrival is not None:  # raw only: its documents, if any, are the parsers' own, made just now
        return Content([], list(bundle.arrival.reasons), list(bundle.arrival.notes))
    reasons: list[str] = []
    notes: list[str] = []
    canonical: set[str] = set()
    if trust.manifest_usable(bundle.manifest):  # else its own check says what is wrong with it
        found, notes = trust.entry_reasons(bundle.manifest)
        reasons += found
        if not found:
            found, more, canonical = trust.reparse(bundle, limits)
            reasons += found
            notes += more
    # The documents may have been let go of (a child checks them, with its own copy): read again
    # when they are needed, that is when they are not the parsers' very bytes.
    for member in ("parsed.json", "snapshot.json"):
        if member not in canonical and member in bundle.digests and member not in bundle.files:
            try:
                trust.member_bytes(bundle, member, limits)
            except BundleError as exc:
                return Content([], [exc.problem], notes)
    parsed = [] if "parsed.json" in canonical else _document_reasons(bundle, "parsed", typed)
    for member in ("parsed.json", "snapshot.json"):
        data = bundle.files.get(member)
        if member in canonical or data is None:
            continue
        problem = strict_problem(bundle.path, member, data)  # what the schema checks let through
        if problem:
            reasons.append(f"{member}: {problem}: refused")
    return Content(parsed, reasons, notes)


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
    from . import schema
    from .plain import plain_validator
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
    except ValueError as exc:  # or a rule across fields, which no schema says (models.manifest_shape_problem)
        return [f"{member}: {_clip(_first_error(exc))}"]
    if name in typed:
        bundle.typed[name] = instance
    return []


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    first = errors()[0]
    where = ".".join(map(str, first["loc"]))
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def open_raw_only(bundle: Bundle, limits: Limits, manifest_ok: bool = True, check: bool = True) -> None:
    """A raw-only bundle (migsnap.sh: raw files and a manifest) checked and parsed in memory:
    bundle.arrival says what was found, and bundle.files gets the parsed.json and snapshot.json
    the parsers make of its raw files.  Checked first, as a full bundle is: every entry of its
    collector's table, every file's size (and sha256, when the host had a tool), no parsed JSON.
    Unless `check`, only parsed (--no-validate); BundleError if it cannot be."""
    from .errors import BundleError
    if check:
        reasons: list[str] = []
        notes: list[str] = []
        if manifest_ok and trust.manifest_usable(bundle.manifest):
            reasons, notes = trust.entry_reasons(bundle.manifest)
            _check_integrity(bundle, reasons)
        if not manifest_ok or reasons:
            bundle.arrival = complete.Arrival(reasons=reasons, notes=notes)
            return
        bundle.arrival, reasons = complete.parse_here(bundle, limits)
        bundle.arrival.reasons, bundle.arrival.notes = reasons, notes
        return
    if not trust.manifest_usable(bundle.manifest):
        raise BundleError(bundle.path, "manifest.json cannot be used to parse the raw files (see migdiff validate)")
    bundle.arrival, reasons = complete.parse_here(bundle, limits)
    if reasons:
        raise BundleError(bundle.path, f"raw only, not parsed: {reasons[0]}")


def _check_integrity(bundle: Bundle, reasons: list[str]) -> None:
    """Every file's size and sha256 as recorded while the bundle streamed by (bundle.digests).

    A raw-only bundle's host may have had no sha256 tool (null sha256): its sizes are checked;
    and it holds no parsed.json nor snapshot.json."""
    raw_only = complete.is_raw_only(bundle.manifest)
    listed: dict[str, dict[str, Any]] = {}
    records = [record for entry in bundle.manifest["entries"] for record in entry["files"]]
    for record in records + bundle.manifest["files"]:
        name = record["name"]
        if name in listed and (listed[name]["size"], listed[name]["sha256"]) != (record["size"], record["sha256"]):
            reasons.append(f"{_name(name)}: listed twice in the manifest, with different sizes or sha256")
        listed[name] = record
    for name, record in listed.items():
        if raw_only and not name.startswith("raw/"):  # (a raw-only bundle lists no other file)
            reasons.append(f"{_name(name)}: listed as a raw file, but raw files are under raw/")
            continue
        digest = bundle.digests.get(name)
        if digest is None:
            reasons.append(f"{_name(name)}: listed in the manifest but not in the bundle")
        elif digest[0] != record["size"]:
            reasons.append(f"{_name(name)}: {digest[0]} bytes, the manifest says {shown(record['size'])}")
        elif record["sha256"] is not None and digest[1] != record["sha256"]:
            reasons.append(f"{_name(name)}: sha256 does not match the manifest (changed after collection)")
    for name in sorted(bundle.digests):
        if raw_only and name in complete.DOCUMENTS:
            reasons.append(f"{name}: in the bundle, but its manifest says nothing was parsed (parsing: none): "
                           "not a migsnap.sh bundle as written")
        elif name not in listed and name not in ("manifest.json", SIGNATURE):
            reasons.append(f"{_name(name)}: in the bundle but not in the manifest")


def _name(name: str) -> str:
    """A file name as the manifest or the archive gives it, safe on one line."""
    return _clip(name) if name.isprintable() else shown(name)


def _printable(text: str) -> str:
    """Escapes what a terminal would obey (control bytes, bidi overrides): one line, shown not run."""
    return escaped(text)


def _facts(manifest: dict[str, Any]) -> str:
    collector = manifest.get("collector") if isinstance(manifest.get("collector"), dict) else {}
    entries = manifest.get("entries")
    name = "migsnap.sh" if collector.get("name") == "migsnap.sh" else "migsnap"
    return _printable(f"host {_fact(manifest.get('hostname'))}, {name} {_fact(collector.get('version'))}, "
                      f"format {_fact(manifest.get('format_version'))}, "
                      f"{len(entries) if isinstance(entries, list) else '?'} entries")


def _fact(value: Any) -> str:
    return _clip(value) if isinstance(value, str) else shown(value)


def _clip(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "..."

"""Raw-only bundles: what migsnap.sh writes (raw output and a manifest, no parsed JSON), parsed on
the analyst's machine with the very parsers the Python collector runs on a host.

`migdiff validate`, `diff` and `show` parse such a bundle in memory (validate.open_raw_only) and
go on as if it held parsed.json and snapshot.json; `migdiff complete` writes the full bundle:
the raw files as collected, parsed.json and snapshot.json as migsnap's own writer makes them
(build_members, the same compact JSON, byte for byte what the Python collector would have
written from those raw files), and the manifest with every fact of the collector kept and
"parsing" saying who parsed, with what and when.  A host without a sha256 tool gave no sha256:
they are computed as the bundle arrives, and the manifest and every check say that integrity
starts there.

The collector signed the manifest it wrote, which completing rewrites: a signed bundle is
completed only after its signature is verified (--verify-key-file), and the completed bundle is
signed again only with --sign-key-file.
"""
from __future__ import annotations

import calendar
import copy
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import migsnap

from . import __version__, trust
from .bundle import SIGNATURE, Bundle, write_bundle_file
from .errors import UsageError

RAW_ONLY = "none"
COMPLETED = "migdiff"
ON_ARRIVAL = "migdiff on arrival"
DOCUMENTS = ("parsed.json", "snapshot.json")


@dataclass
class Arrival:
    """What parsing a raw-only bundle here found: reasons it is invalid, notes, and (when it
    could be parsed) what the parsers counted, for the manifest of the completed bundle."""

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parsed: bool = False
    counts: list[tuple[int, str | None]] = field(default_factory=list)  # (warnings, parse_error) by entry
    summary: dict[str, Any] = field(default_factory=dict)               # parse_warnings, parse_errors


def where_parsed(manifest: Any) -> str:
    """"host" (the Python collector parsed it there), "none" (raw only) or "migdiff"."""
    parsing = manifest.get("parsing") if isinstance(manifest, dict) else None
    if isinstance(parsing, dict) and parsing.get("where") in (RAW_ONLY, COMPLETED):
        return parsing["where"]
    return "host"


def is_raw_only(manifest: Any) -> bool:
    return where_parsed(manifest) == RAW_ONLY


def parsers_line() -> str:
    """Who parses here, as the manifest's parsing.by says it."""
    return (f"migdiff {__version__}, migsnap {migsnap.__version__} parsers "
            f"(sha256 {(trust.own_sha256() or 'unknown')[:12]})")


def parsed_here(at: str | None = None) -> dict[str, str]:
    """The manifest's "parsing" of a bundle whose raw files migdiff parses now."""
    return {"where": COMPLETED, "by": parsers_line(), "at": at or _utc_now()}


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _collected_by(manifest: dict[str, Any]) -> str:
    collector, shell = manifest["collector"], manifest.get("shell") or {}
    under = f" under {shell['name']}" if shell.get("name") else ""
    return f"collected by {collector['name']} {_short(collector['version'])}{under}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _another_build(manifest: dict[str, Any]) -> list[str]:
    """A note when a migsnap.sh bundle was not written by the migsnap.sh migdiff carries."""
    collector = manifest["collector"]
    if collector["name"] != "migsnap.sh":
        return []
    ours, theirs = trust.own_sh_sha256(), collector["sha256"]
    if theirs is not None and theirs == ours:
        return []
    if theirs is None:
        return ["which build of migsnap.sh ran is not known (the host could not hash it)"]
    carried = f"this migdiff carries {ours[:12]}" if ours else "this migdiff carries no migsnap.sh"
    return [f"collected by another build of migsnap.sh (sha256 {theirs[:12]}; {carried})"]


def provenance_notes(manifest: dict[str, Any]) -> list[str]:
    """What validate's line says of where a bundle was parsed and hashed (nothing for a bundle of
    the Python collector, which does both on the host).  The manifest follows its schema."""
    where = where_parsed(manifest)
    hashes = manifest.get("hashes") or {}
    notes = []
    if where == RAW_ONLY:
        notes.append(f"raw only ({_collected_by(manifest)}): parsed here by migdiff {__version__} "
                     f"with migsnap {migsnap.__version__}'s parsers")
        if hashes.get("tool") is None:
            notes.append("no sha256 tool on the host: sizes checked, not sha256; integrity starts at arrival "
                         "(migdiff complete records the sha256; nothing proves what happened before)")
    elif where == COMPLETED:
        parsing = manifest["parsing"]
        notes.append(f"{_collected_by(manifest)}, parsed by {_short(parsing['by'], 120)} at {parsing['at']}")
        if hashes.get("computed"):
            notes.append(f"no sha256 tool on the host: sha256 computed by {hashes['computed']} ({hashes['at']}); "
                         "integrity starts there, nothing proves what happened before")
    return notes + (_another_build(manifest) if where != "host" else [])


def cautions(manifest: dict[str, Any]) -> list[str]:
    """What `diff` and `show` say on stderr about a bundle they use: that it was parsed just now,
    and that its integrity starts at arrival."""
    where = where_parsed(manifest)
    if where == "host":
        return []
    try:
        hashes = manifest.get("hashes") or {}
        notes = []
        if where == RAW_ONLY:
            notes.append(f"raw only ({_collected_by(manifest)}): parsed here by migdiff {__version__}")
        if hashes.get("tool") is None:
            notes.append("the host had no sha256 tool: integrity starts at arrival (no proof from before)")
        return notes
    except (KeyError, TypeError, AttributeError):  # --no-validate, and the manifest is broken
        return []


# --- the documents -----------------------------------------------------------------------------------

def make_documents(results: list[migsnap.Result]) -> tuple[bytes, bytes, list[tuple[int, str | None]], dict[str, Any]]:
    """(parsed.json, snapshot.json, (warnings, parse_error) of each entry, the summary) as the
    collector writes them from these parsed results: its own build_members, which the Python
    collector runs on a host.  The results hold no raw bytes (parsed, they are not needed)."""
    members, manifest = migsnap.build_members(results, {})
    made = dict(members)
    counts = [(entry["warnings"], entry["parse_error"]) for entry in manifest["entries"]]
    return made["parsed.json"], made["snapshot.json"], counts, manifest["summary"]


def parse_here(bundle: Bundle, limits: Any) -> tuple[Arrival, list[str]]:
    """The raw-only bundle parsed in memory: its parsed.json and snapshot.json put in
    bundle.files; (what was found, reasons it could not be parsed)."""
    records = {f["name"]: f for entry in bundle.manifest["entries"] for f in entry["files"]}
    results, reasons = trust.parse_raw(bundle, limits, records, "parsed")
    if results is None:
        return Arrival(), reasons
    parsed, snapshot, counts, summary = make_documents(results)
    del results
    bundle.files["parsed.json"], bundle.files["snapshot.json"] = parsed, snapshot
    bundle._json.pop("parsed.json", None)
    bundle._json.pop("snapshot.json", None)
    return Arrival(parsed=True, counts=counts, summary=summary), []


# --- the completed bundle ----------------------------------------------------------------------------

def completed_manifest(bundle: Bundle, at: str) -> dict[str, Any]:
    """The manifest of the completed bundle: the collector's, every fact kept, with what the
    parsers counted, the documents' sizes and sha256, who parsed, and (when the host had no tool)
    the sha256 computed as the bundle arrived."""
    arrival: Arrival = bundle.arrival
    manifest = copy.deepcopy(bundle.manifest)
    for entry, (warnings, parse_error) in zip(manifest["entries"], arrival.counts):
        entry["warnings"], entry["parse_error"] = warnings, parse_error
        for record in entry["files"]:
            if record["sha256"] is None:
                record["sha256"] = bundle.digests[record["name"]][1]  # hashed as the bundle streamed in
    manifest["summary"]["parse_warnings"] = arrival.summary["parse_warnings"]
    manifest["summary"]["parse_errors"] = arrival.summary["parse_errors"]
    manifest["files"] = [{"name": name, "size": len(bundle.files[name]),
                          "sha256": migsnap.sha256_hex(bundle.files[name])} for name in DOCUMENTS]
    manifest["parsing"] = parsed_here(at)
    if manifest["hashes"]["tool"] is None:
        manifest["hashes"] = {"tool": None, "computed": ON_ARRIVAL, "at": at}
    return manifest


def completed_members(bundle: Bundle, sign_key: bytes | None) -> list[tuple[str, bytes]]:
    """The completed bundle's members, as the collector orders them: the raw files (as collected,
    each once), parsed.json, snapshot.json, the manifest, and its signature with a key."""
    members, seen = [], set()
    for entry in bundle.manifest["entries"]:
        for record in entry["files"]:
            if record["name"] not in seen:
                seen.add(record["name"])
                members.append((record["name"], bundle.files[record["name"]]))
    members += [(name, bundle.files[name]) for name in DOCUMENTS]
    members.append(("manifest.json", migsnap.json_bytes(completed_manifest(bundle, _utc_now()))))
    return migsnap.signed(members, sign_key)


def signature_needed(bundle: Bundle, verified: bool) -> None:
    """A signed raw-only bundle is completed only once its signature is verified: completing
    rewrites the manifest it signs.  UsageError otherwise."""
    if SIGNATURE in bundle.files and not verified:
        raise UsageError(f"{bundle.path}: signed: completing rewrites the manifest its signature covers, so "
                         "verify it first with --verify-key-file (and sign the completed bundle with "
                         "--sign-key-file)")


def completed_line(collected: dict[str, Any], signed: bool) -> str:
    """What `migdiff complete` says of the bundle it wrote."""
    said = [f"{_collected_by(collected)}, parsed here by {parsers_line()}"]
    if collected["hashes"]["tool"] is None:
        said.append("no sha256 tool on the host: sha256 computed on arrival, integrity starts there")
    said.append("signed with --sign-key-file" if signed else "not signed")
    return "; ".join(said)


def _mtime(manifest: dict[str, Any]) -> int:
    try:
        return calendar.timegm(time.strptime(manifest["started_at"], "%Y-%m-%dT%H:%M:%SZ"))
    except (ValueError, OverflowError):
        return 0


def write_completed(bundle: Bundle, output: Path, force: bool, sign_key: bytes | None) -> Path:
    """Writes the completed bundle to `output` (a file, or a directory to put <top>-full.tgz in),
    atomically; never replaces a file unless `force` (not one that was there before, nor one that
    appeared meanwhile), and never the bundle it reads."""
    target = output / f"{bundle.top}-full.tgz" if output.is_dir() else output
    if target.is_dir():
        raise UsageError(f"{target}: is a directory; give a file name")
    if os.path.lexists(target):
        try:
            same = os.path.samefile(target, bundle.path)
        except OSError:
            same = False
        if same:
            raise UsageError(f"{target} is the bundle being completed; give another file name")
        if not force:
            raise UsageError(f"{target} exists; use --force to replace it")
    members = completed_members(bundle, sign_key)
    write_bundle_file(target, bundle.top, members, _mtime(bundle.manifest), force)
    return target

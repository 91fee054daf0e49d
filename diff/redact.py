"""Redacting an existing bundle with the collector's own redaction (migsnap.redact_results).

The raw files are redacted, then re-parsed and re-normalized by the collector's parsers, so the
new bundle's parsed.json and snapshot.json agree with its raw files, and its manifest says that
redaction was applied (never with what key).  A bundle whose /etc/passwd was cut (or not read) is
refused: the user names past the cut would stay.  With a signing key, the copy is signed as the
collector signs (signature.json, an HMAC-SHA256 of its manifest).
"""
from __future__ import annotations

import os
from pathlib import Path

import migsnap

from .bundle import Bundle, write_bundle_file
from .errors import MigdiffError, UsageError
from .trust import rebuilt_result


def read_key(text: str | None, path: Path | None) -> bytes:
    try:
        return migsnap.redaction_key(text, str(path) if path else None)
    except migsnap.Trouble as exc:
        raise UsageError(str(exc)) from None


def read_sign_key(path: Path | None) -> bytes | None:
    """The site's signing key from --sign-key-file, read as the collector reads it (at least 8 bytes)."""
    if path is None:
        return None
    try:
        return migsnap.read_key_file(str(path), "--sign-key-file")
    except migsnap.Trouble as exc:
        raise UsageError(str(exc)) from None


def results_of(bundle: Bundle) -> list[migsnap.Result]:
    """The collector's results rebuilt from a bundle: what ran, how it ended, its raw files."""
    results = []
    for entry in bundle.manifest["entries"]:
        try:
            capture = migsnap.capture_by_id(entry["id"])
        except KeyError:
            raise MigdiffError(f"{bundle.path}: entry {entry['id']!r} is unknown to this migdiff's collector "
                               f"(migsnap {migsnap.__version__}); redact it with the collector that made it") from None
        results.append(rebuilt_result(capture, entry, bundle.files))
    return results


def redact_bundle(bundle: Bundle, key: bytes, output: Path, force: bool = False,
                  sign_key: bytes | None = None) -> Path:
    """Writes the redacted copy of `bundle` to `output` (a file, or a directory to put it in),
    signed with `sign_key` when given.  Never replaces a file unless `force`: not one that was
    there before, nor one that appeared while the copy was written."""
    from .complete import is_raw_only
    if is_raw_only(bundle.manifest):
        raise UsageError(f"{bundle.path}: raw only (migsnap.sh): complete it first (migdiff complete), then redact "
                         "the completed bundle")
    results = results_of(bundle)
    for result in results:
        migsnap.apply_parser(result)
    meta = {k: v for k, v in bundle.manifest.items() if k not in ("entries", "summary", "files")}
    if isinstance(meta.get("parsing"), dict):  # completed by migdiff: parsed again here, by these parsers
        from .complete import parsed_here
        meta["parsing"] = parsed_here()
    try:
        meta = migsnap.redact_results(results, meta, key)
    except migsnap.Trouble as exc:
        raise MigdiffError(f"{bundle.path}: {exc}") from None
    members, _ = migsnap.build_members(results, meta)
    members = migsnap.signed(members, sign_key)
    stamp = str(bundle.manifest.get("started_at") or "").replace("-", "").replace(":", "")
    top = migsnap.bundle_stem(meta.get("hostname"), stamp)  # the pseudonym; never a control byte
    target = output / f"{top}.tgz" if output.is_dir() else output
    if os.path.lexists(target) and not force:
        raise UsageError(f"{target} exists; use --force to replace it")
    write_bundle_file(target, top, members, 0, force)
    return target

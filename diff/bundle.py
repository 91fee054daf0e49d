"""Reading a migsnap bundle: straight from the tar stream into memory, never onto disk.

A bundle comes from a host we do not control, on a USB stick: every member is
checked before a byte of it is read (type, name, size), and the whole read is
bounded by Limits.
"""
from __future__ import annotations

import json
import os
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .errors import BundleError

BUNDLE_FORMAT = "migsnap-bundle"
SUPPORTED_FORMAT_VERSION = 1
MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Caps on what one bundle may hold (the collector caps each output at 16 MiB)."""

    max_member_size: int = 64 * MiB
    max_total_size: int = 256 * MiB
    max_members: int = 20_000


DEFAULT_LIMITS = Limits()


@dataclass
class Bundle:
    """A bundle read into memory: its files by name relative to the top folder."""

    path: str
    top: str
    files: dict[str, bytes]
    manifest: dict[str, Any]
    _json: dict[str, Any] = field(default_factory=dict, repr=False)

    def json_member(self, name: str) -> Any:
        """A JSON member decoded (once); BundleError when absent or not JSON."""
        if name not in self._json:
            if name not in self.files:
                raise BundleError(self.path, f"{name} is missing")
            self._json[name] = decode_json(self.path, name, self.files[name])
        return self._json[name]

    @property
    def snapshot(self) -> dict[str, Any]:
        return self.json_member("snapshot.json")

    @property
    def parsed(self) -> dict[str, Any]:
        return self.json_member("parsed.json")

    @property
    def label(self) -> str:
        return os.path.basename(self.path)


def decode_json(path: str, name: str, data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(path, f"{name} is not UTF-8 (byte {exc.start})") from None
    if "\x00" in text:
        raise BundleError(path, f"{name} contains a NUL byte")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(path, f"{name} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:  # the C decoder bounds its recursion; deep nesting lands here, not in a crash
        raise BundleError(path, f"{name} nests too deeply to be a migsnap file") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise BundleError(path, f"{name} is not usable JSON: {exc}") from None


def read_bundle(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> Bundle:
    """Reads and checks a bundle's container; BundleError on anything unsafe or unreadable."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise BundleError(path, "no such file")
    if os.path.isdir(path):
        raise BundleError(path, "is a directory, not a bundle (.tgz file)")
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise BundleError(path, f"cannot open: {exc.strerror}") from None
    with f:
        if f.read(2) != b"\x1f\x8b":
            raise BundleError(path, "not a gzip file, so not a migsnap bundle (.tgz)")
        f.seek(0)
        top, files = _read_members(path, f, limits)
    if "manifest.json" not in files:
        raise BundleError(path, "no manifest.json in the archive: not a migsnap bundle")
    manifest = decode_json(path, "manifest.json", files["manifest.json"])
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise BundleError(path, f"not a migsnap bundle (manifest format is {found!r}, expected {BUNDLE_FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(path, f"manifest.json has no usable format_version ({version!r})")
    if version > SUPPORTED_FORMAT_VERSION:
        raise BundleError(path, f"bundle format {version} is newer than this migdiff reads "
                                f"({SUPPORTED_FORMAT_VERSION}): upgrade migdiff")
    return Bundle(path=path, top=top, files=files, manifest=manifest)


def _read_members(path: str, f: Any, limits: Limits) -> tuple[str, dict[str, bytes]]:
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    top: str | None = None
    total = count = 0
    try:
        tar = tarfile.open(fileobj=f, mode="r|gz")
    except tarfile.ReadError as exc:
        raise BundleError(path, _read_error(exc, first=True)) from None
    except (EOFError, zlib.error, OSError) as exc:
        raise BundleError(path, f"corrupt or truncated gzip data ({exc})") from None
    try:
        for member in tar:
            count += 1
            if count > limits.max_members:
                raise BundleError(path, f"more than {limits.max_members} members (limit: --max-members)")
            name = _safe_name(path, member.name)
            if member.isdir():
                dirs.add(name)
                top = _same_top(path, top, name)
                continue
            if not member.isreg() or member.issparse():
                raise BundleError(path, f"member {name!r} is a {_kind(member)}: refused")
            if member.size > limits.max_member_size:
                raise BundleError(path, f"member {name!r} is {member.size} bytes, over the "
                                        f"{limits.max_member_size}-byte limit (--max-member-size)")
            total += member.size
            if total > limits.max_total_size:
                raise BundleError(path, f"members add up to more than {limits.max_total_size} bytes "
                                        "(limit: --max-total-size)")
            top = _same_top(path, top, name)
            rel = name[len(top) + 1:]
            if not rel:
                raise BundleError(path, f"member {name!r} is a file where the top folder should be")
            if rel in files:
                raise BundleError(path, f"member {name!r} appears twice")
            extracted = tar.extractfile(member)
            data = extracted.read(member.size + 1) if extracted else b""
            if len(data) != member.size:
                raise BundleError(path, f"member {name!r} is cut short: truncated archive")
            files[rel] = data
        tar.close()
    except tarfile.ReadError as exc:
        raise BundleError(path, _read_error(exc, first=count == 0)) from None
    except (EOFError, zlib.error, OSError) as exc:
        raise BundleError(path, f"corrupt or truncated gzip data ({exc})") from None
    if top is None:
        raise BundleError(path, "empty archive: not a migsnap bundle")
    for d in dirs:
        if d != top and not d.startswith(top + "/"):
            raise BundleError(path, f"more than one top folder ({top!r} and {d!r})")
    return top, files


def _read_error(exc: tarfile.ReadError, first: bool) -> str:
    text = str(exc)
    if "unexpected end of data" in text or "truncated" in text:
        return "truncated archive (unexpected end of data)"
    if "invalid compressed data" in text or "crc" in text.lower() or "compressed file ended" in text:
        return f"corrupt or truncated gzip data ({text})"
    if first:
        return f"a gzip file but not a tar archive ({text})"
    return f"damaged tar archive ({text})"


def _safe_name(path: str, name: str) -> str:
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        raise BundleError(path, f"member name {name!r} is not UTF-8")
    if name.startswith("/"):
        raise BundleError(path, f"member {name!r} has an absolute path: refused")
    clean = name[2:] if name.startswith("./") else name
    parts = PurePosixPath(clean).parts
    if ".." in parts:
        raise BundleError(path, f"member {name!r} climbs out with '..': refused")
    if not parts or any(ch in clean for ch in "\\\x00"):
        raise BundleError(path, f"member name {name!r} refused")
    return "/".join(parts)


def _same_top(path: str, top: str | None, name: str) -> str:
    first = name.split("/", 1)[0]
    if top is not None and first != top:
        raise BundleError(path, f"more than one top folder ({top!r} and {first!r})")
    return first


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"symlink to {member.linkname!r}"
    if member.islnk():
        return f"hard link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    if member.issparse():
        return "sparse file"
    return f"member of tar type {member.type!r}"

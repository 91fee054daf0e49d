"""Reading a migsnap bundle: straight from the gzip stream, never onto disk.

A bundle comes from a host we do not control, on a USB stick.  The tar stream is parsed here,
block by block, not by tarfile (whose pax and GNU long-name headers, sparse maps and chains of
extended headers are read whole, unbounded, or recursively): every header is checked before a byte
of its member is read (checksum, type, name, size), extended headers are bounded, and the whole
read is bounded by Limits.  Members are streamed in chunks: each one's size and sha256 are
recorded, and only the JSON documents are kept (every member with keep_raw=True), so memory does
not grow with the bundle.  The gzip stream is read to its end, so its CRC and length are checked.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import reprlib
import stat
import struct
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from .errors import BundleError

BUNDLE_FORMAT = "migsnap-bundle"
SUPPORTED_FORMAT_VERSION = 1
MiB = 1024 * 1024
GiB = 1024 * MiB

DOCUMENTS = frozenset({"manifest.json", "snapshot.json", "parsed.json"})  # kept in memory, decoded
SIGNATURE = "signature.json"    # migsnap.SIGNATURE_NAME: beside the manifest, which it signs; kept too
MAX_SIGNATURE = 4096            # a signature.json is some 200 bytes
# Raw files kept in memory as a bundle is read for validation, to be parsed again without reading it
# twice (a 25,000-package bundle has 8 MB of them; past this, those the manifest lists are read again)
RAW_IN_MEMORY = 16 * 1024 * 1024
BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
CHUNK = 1 * MiB                 # members are hashed this much at a time
MAX_EXTENDED = 64 * 1024        # one pax header or GNU long name (a path is at most a few KiB)
MAX_EXTENDED_RUN = 4            # extended headers in a row before the member they describe
MAX_TRAILER = 1 * MiB           # zeros after the end-of-archive marker (tar pads to 10 KiB)
SHOWN = 120                     # characters of a hostile value quoted in a message
# Decoded JSON costs about 3 times its text for real migsnap documents (one object or list per
# ~160 bytes), but 20 to 30 times for a hostile one made of empty lists ("[[],[],...]": 64 bytes
# of Python for 3 of text).  A document over this many objects and lists is refused unparsed;
# a real one reaches it only well past the 64 MiB member cap.
MAX_JSON_CONTAINERS = 1_000_000

REGULAR = frozenset({b"0", b"\x00", b"7"})   # file, old-style file, contiguous file
EXTENDED = {b"x": "pax", b"X": "pax", b"g": "global pax", b"L": "GNU long name", b"K": "GNU long link"}
KINDS = {b"1": "hard link", b"2": "symlink", b"3": "character device", b"4": "block device", b"6": "FIFO",
         b"S": "sparse file", b"V": "volume label", b"M": "multi-volume continuation", b"D": "GNU dump directory",
         b"N": "old GNU long name"}


@dataclass(frozen=True)
class Limits:
    """Caps on what one bundle may hold (the collector caps each output at 16 MiB).

    Memory does not depend on max_total_size (members are hashed as they stream by); it bounds
    how long a gzip bomb is inflated before it is refused (about 3 s a GiB).
    """

    max_member_size: int = 64 * MiB
    max_total_size: int = 1 * GiB
    max_members: int = 20_000
    # Raw files are held in memory to be re-parsed (validate.py): a 100,000-package host has 33 MB
    # of them; parsing costs some ten times their size.
    max_reparse_size: int = 64 * MiB


DEFAULT_LIMITS = Limits()


@dataclass
class Bundle:
    """A bundle read from its tar stream: every file's size and sha256, and the files kept.

    `digests` holds every regular file by name relative to the top folder: (size, sha256 hex).
    `files` holds the bytes of manifest.json, snapshot.json, parsed.json and signature.json (and
    the raw files read_bundle was asked to keep); with keep_raw=True (see read_bundle) every file.
    """

    path: str
    top: str
    files: dict[str, bytes]
    manifest: dict[str, Any]
    digests: dict[str, tuple[int, str]] = field(default_factory=dict)
    keep_raw: bool = False
    typed: dict[str, Any] = field(default_factory=dict, repr=False)  # documents validated into their models
    # a raw-only bundle (migsnap.sh): what parsing it here found (complete.Arrival); its
    # parsed.json and snapshot.json, once made, are in `files` (not in `digests`: not in the archive)
    arrival: Any = field(default=None, repr=False)
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


def shown(value: Any) -> str:
    """A hostile value quoted in a one-line message: repr (control bytes escaped), bounded in length
    and in the work it takes (a huge string, list or number is not rendered whole)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<a number of about {int(value.bit_length() * 0.30103) + 1} digits>"
    try:
        text = _REPR.repr(value)
    except (RecursionError, ValueError):
        text = f"<a {_json_type(value)} too big to show>"
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = SHOWN
_REPR.maxlevel = 3


def check_json_bytes(path: str, name: str, data: bytes) -> str:
    """The checks that need no parsing (size of the structure, NUL, UTF-8); the text."""
    containers = data.count(b"[") + data.count(b"{")  # an upper bound: brackets in strings count too
    if containers > MAX_JSON_CONTAINERS:
        raise BundleError(path, f"{name} holds more than {MAX_JSON_CONTAINERS} objects and lists "
                                f"({containers} brackets): not a migsnap file, refused")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise BundleError(path, f"{name} contains a NUL byte (byte {nul})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(path, f"{name} is not UTF-8 (byte {exc.start})") from None


class NotJson(ValueError):
    """What Python's json module takes but JSON (RFC 8259) does not, or takes two ways."""


def _one_of_each_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise NotJson(f"key {shown(twice)} appears twice in one object (readers disagree on which counts)")
    return obj


def _no_constant(name: str) -> float:
    raise NotJson(f"{name}, which JSON does not allow")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"a number too large for a float ({shown(text)})")
    return value


def strict_json(text: str | bytes) -> Any:
    """json.loads, refusing what JSON does not define or defines two ways: NaN, Infinity and
    numbers beyond a float (Python takes them), and a key twice in one object (Python keeps the
    last, other readers the first).  Raises ValueError (json.JSONDecodeError, or one saying why)."""
    return json.loads(text, object_pairs_hook=_one_of_each_key, parse_constant=_no_constant, parse_float=_finite)


def strict_problem(path: str, name: str, data: bytes) -> str | None:
    """What makes a document JSON that Python reads but JSON does not allow (strict_json), if
    anything; None also when it does not read at all (its other checks say why)."""
    try:
        strict_json(check_json_bytes(path, name, data))
    except NotJson as exc:
        return str(exc)
    except (BundleError, ValueError, RecursionError):
        pass
    return None


def decode_json(path: str, name: str, data: bytes) -> Any:
    text = check_json_bytes(path, name, data)
    try:
        return strict_json(text)
    except NotJson as exc:
        raise BundleError(path, f"{name} is not valid JSON: {exc}: refused") from None
    except json.JSONDecodeError as exc:
        raise BundleError(path, f"{name} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:  # the C decoder bounds its recursion; deep nesting lands here, not in a crash
        raise BundleError(path, f"{name} nests too deeply to be a migsnap file") from None
    except ValueError as exc:  # an integer with more digits than Python converts (sys.get_int_max_str_digits)
        if "integer string conversion" in str(exc):
            raise BundleError(path, f"{name} holds a number too long to be a migsnap value "
                                    "(over 4300 digits)") from None
        raise BundleError(path, f"{name} is not usable JSON: {shown(str(exc))}") from None


FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
              (stat.S_ISSOCK, "a socket"))


def open_regular(path: str) -> BinaryIO:
    """The file at `path` opened for reading, if it is a regular file; BundleError otherwise.

    Opened without blocking (O_NONBLOCK): opening a FIFO for reading waits for a writer, for ever,
    and a device may wait too.  What was opened is checked (fstat), not what the name pointed to a
    moment before."""
    if os.path.isdir(path):
        raise BundleError(path, "is a directory, not a bundle (.tgz file)")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise BundleError(path, "no such file") from None
    except OSError as exc:
        raise BundleError(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = next((name for test, name in FILE_KINDS if test(mode)),
                        "a directory" if stat.S_ISDIR(mode) else "a file of an unknown kind")
            raise BundleError(path, f"is {what}, not a regular file (a bundle is a .tgz file)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bundle(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS, keep_raw: bool = False,
                keep: Collection[str] = (), raw_budget: int | None = None) -> Bundle:
    """Reads and checks a bundle's container; BundleError on anything unsafe or unreadable.

    Keeps in memory only manifest.json, snapshot.json, parsed.json and signature.json, the files
    named in `keep` (relative to the top folder), and the files under raw/ as long as they add up
    to at most `raw_budget` bytes (validation parses them again; past the budget it reads the
    bundle again for the ones the manifest lists).  With keep_raw every file is kept (up to
    limits.max_total_size bytes), for callers that rewrite bundles.
    """
    path = os.fspath(path)
    f = open_regular(path)
    with f:
        try:
            magic = f.read(2)
        except OSError as exc:
            raise BundleError(path, f"cannot read: {exc.strerror or exc}") from None
        if not magic:
            raise BundleError(path, "empty file, not a migsnap bundle (.tgz)")
        if magic != b"\x1f\x8b":
            raise BundleError(path, "not a gzip file, so not a migsnap bundle (.tgz)")
        f.seek(0)
        top, files, digests = _read_members(path, f, limits, keep_raw, frozenset(keep), raw_budget)
    if "manifest.json" not in files:
        raise BundleError(path, "no manifest.json in the archive: not a migsnap bundle")
    manifest = decode_json(path, "manifest.json", files["manifest.json"])
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = shown(manifest.get("format")) if isinstance(manifest, dict) else f"a JSON {_json_type(manifest)}"
        raise BundleError(path, f"not a migsnap bundle (manifest format is {found}, expected {BUNDLE_FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(path, f"manifest.json has no usable format_version ({shown(version)}, "
                                f"a JSON {_json_type(version)}; expected an integer)")
    if version > SUPPORTED_FORMAT_VERSION:
        raise BundleError(path, f"bundle format {shown(version)} is newer than this migdiff reads "
                                f"({SUPPORTED_FORMAT_VERSION}): upgrade migdiff")
    return Bundle(path=path, top=top, files=files, manifest=manifest, digests=digests, keep_raw=keep_raw)


def read_bundles(paths: list[str], limits: Limits = DEFAULT_LIMITS,
                 meanwhile: Callable[[], object] | None = None, raw_budget: int | None = None) -> list[Bundle]:
    """read_bundle() of each, in threads, while this thread runs meanwhile() (say, imports).

    Inflating and hashing release the GIL: two bundles read in two threads take little more
    than one (0.08 s against 0.14 s for a 25,000-package pair).  The first error, in the order
    given, is raised."""
    if len(paths) < 2:  # nothing to share the time with: a fleet reads one bundle a worker, many times
        if meanwhile is not None:
            meanwhile()
        return [read_bundle(path, limits, raw_budget=raw_budget) for path in paths]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        reading = [pool.submit(read_bundle, path, limits, raw_budget=raw_budget) for path in paths]
        if meanwhile is not None:
            meanwhile()
        return [future.result() for future in reading]


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number",
             type(None): "null"}
    return names.get(type(value), type(value).__name__)


class _Stream:
    """The inflated tar stream, read in bounded pieces; gzip and I/O trouble become BundleError."""

    def __init__(self, path: str, f: BinaryIO) -> None:
        self.path = path
        self.gz = gzip.GzipFile(fileobj=f, mode="rb")
        self.offset = 0

    def read(self, n: int) -> bytes:
        """n bytes, fewer only where the data ends."""
        parts = []
        while n > 0:
            try:
                piece = self.gz.read(n)
            except EOFError:
                raise BundleError(self.path, f"truncated archive: the gzip data ends early "
                                             f"(after {self.offset + sum(map(len, parts))} bytes of tar)") from None
            except (gzip.BadGzipFile, zlib.error) as exc:  # bad deflate data, CRC or length
                raise BundleError(self.path, f"corrupt gzip data ({exc})") from None
            except OSError as exc:
                raise BundleError(self.path, f"cannot read: {exc.strerror or exc}") from None
            if not piece:
                break
            parts.append(piece)
            n -= len(piece)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self.offset += len(data)
        return data

    def exactly(self, n: int, what: str) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise BundleError(self.path, f"truncated archive: {what} is cut short")
        return data


@dataclass
class _Header:
    at: int
    name: bytes
    size: int
    kind: bytes
    linkname: bytes


def _read_members(path: str, f: BinaryIO, limits: Limits, keep_raw: bool, keep_also: frozenset[str] = frozenset(),
                  raw_budget: int | None = None) -> tuple[str, dict[str, bytes], dict[str, tuple[int, str]]]:
    stream = _Stream(path, f)
    files: dict[str, bytes] = {}
    digests: dict[str, tuple[int, str]] = {}
    dirs: set[str] = set()
    names: set[str] = set()         # every file member, by full name
    folders: set[str] = set()       # every folder, named or implied by a member inside it
    top: str | None = None
    total = count = 0
    extended: dict[str, bytes] = {}   # what the extended headers before a member say about it
    run = 0
    while True:
        at = stream.offset
        block = stream.read(BLOCK)
        if block == ZERO_BLOCK:
            if extended:
                raise BundleError(path, f"damaged tar archive (an extended header at byte {at - BLOCK} "
                                        "describes no member)")
            break
        if len(block) < BLOCK:
            if at == 0:
                raise BundleError(path, "a gzip file but not a tar archive (it holds no tar header)")
            raise BundleError(path, "truncated archive: the tar data ends without its end-of-archive marker")
        header = _parse_header(path, block, at)
        if header.kind in EXTENDED:
            run += 1
            what = EXTENDED[header.kind]
            if run > MAX_EXTENDED_RUN:
                raise BundleError(path, f"damaged tar archive (more than {MAX_EXTENDED_RUN} extended headers "
                                        f"in a row, at byte {at}): refused")
            if header.size > MAX_EXTENDED:
                raise BundleError(path, f"a {what} header of {header.size} bytes at byte {at}, over the "
                                        f"{MAX_EXTENDED}-byte limit for one: refused")
            total += header.size
            if total > limits.max_total_size:
                raise BundleError(path, f"members add up to more than {limits.max_total_size} bytes "
                                        "(limit: --max-total-size)")
            data = stream.exactly(header.size, f"the {what} header at byte {at}")
            stream.exactly(-header.size % BLOCK, f"the {what} header at byte {at}")
            _extend(path, extended, header, data)
            continue
        run = 0
        described, extended = extended, {}
        count += 1
        if count > limits.max_members:
            raise BundleError(path, f"more than {limits.max_members} members (limit: --max-members)")
        raw_name = described.get("path", header.name)
        linkname = described.get("linkpath", header.linkname)
        size = header.size
        if "size" in described:
            size = _decimal(path, described["size"], at)
        text_name = raw_name.decode("utf-8", "surrogateescape")
        name = _safe_name(path, text_name)
        is_dir = header.kind == b"5" or (header.kind == b"\x00" and text_name.endswith("/"))
        _one_of_a_name(path, name, is_dir, names, folders)
        if is_dir:
            if size:
                raise BundleError(path, f"member {shown(name)} is a directory carrying {size} bytes: refused")
            dirs.add(name)
            top = _same_top(path, top, name)
            continue
        if header.kind not in REGULAR:
            raise BundleError(path, f"member {shown(name)} is a {_kind(header.kind, linkname)}: refused")
        if any(key.startswith("GNU.sparse.") for key in described):
            raise BundleError(path, f"member {shown(name)} is a sparse file: refused")
        if size > limits.max_member_size:
            raise BundleError(path, f"member {shown(name)} is {size} bytes, over the "
                                    f"{limits.max_member_size}-byte limit (--max-member-size)")
        total += size
        if total > limits.max_total_size:
            raise BundleError(path, f"members add up to more than {limits.max_total_size} bytes "
                                    "(limit: --max-total-size)")
        top = _same_top(path, top, name)
        rel = name[len(top) + 1:]
        if not rel:
            raise BundleError(path, f"member {shown(name)} is a file where the top folder should be")
        if rel in digests:
            raise BundleError(path, f"member {shown(name)} appears twice: refused (which one is the real one?)")
        if rel == SIGNATURE and size > MAX_SIGNATURE:
            raise BundleError(path, f"{SIGNATURE} is {size} bytes, over the {MAX_SIGNATURE} bytes of a migsnap "
                                    "signature: refused")
        keep = keep_raw or rel in DOCUMENTS or rel == SIGNATURE or rel in keep_also
        if not keep and raw_budget is not None and rel.startswith("raw/") and size <= raw_budget:
            keep, raw_budget = True, raw_budget - size
        digest, parts, left = hashlib.sha256(), [], size
        while left:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                raise BundleError(path, f"member {shown(name)} is cut short: truncated archive")
            digest.update(chunk)
            if keep:
                parts.append(chunk)
            left -= len(chunk)
        stream.exactly(-size % BLOCK, f"member {shown(name)}")
        digests[rel] = (size, digest.hexdigest())
        if keep:
            files[rel] = b"".join(parts)
            del parts
    _finish(path, stream)
    if top is None:
        raise BundleError(path, "empty archive: not a migsnap bundle")
    for d in dirs:
        if d != top and not d.startswith(top + "/"):
            raise BundleError(path, f"more than one top folder ({shown(top)} and {shown(d)})")
    return top, files, digests


def _one_of_a_name(path: str, name: str, is_dir: bool, names: set[str], folders: set[str]) -> None:
    """A name is a file or a folder, once: extracting the bundle must not depend on member order."""
    parts = name.split("/")
    ancestors = ["/".join(parts[:i]) for i in range(1, len(parts))]
    for folder in ancestors:
        if folder in names:
            raise BundleError(path, f"member {shown(folder)} appears twice (as a file and a folder): refused")
    if is_dir:
        if name in names:
            raise BundleError(path, f"member {shown(name)} appears twice (as a file and a folder): refused")
        folders.add(name)
    else:
        if name in folders:
            raise BundleError(path, f"member {shown(name)} appears twice (as a folder and a file): refused")
        if name in names:
            raise BundleError(path, f"member {shown(name)} appears twice: refused (which one is the real one?)")
        names.add(name)
    folders.update(ancestors)


def _finish(path: str, stream: _Stream) -> None:
    """Reads what follows the end-of-archive marker to the end of the gzip stream: its CRC and
    length get checked, and nothing hides after the archive (tar pads with zeros, nothing else)."""
    after = 0
    while True:
        piece = stream.read(64 * 1024)
        if not piece:
            return
        if piece.count(0) != len(piece):
            raise BundleError(path, f"data after the end of the tar archive (near byte {stream.offset - len(piece)}): "
                                    "refused")
        after += len(piece)
        if after > MAX_TRAILER:
            raise BundleError(path, f"more than {MAX_TRAILER} bytes after the end of the tar archive: refused")


def _parse_header(path: str, block: bytes, at: int) -> _Header:
    stored = _field(block[148:156]).strip()
    unsigned = 256 + sum(struct.unpack_from("148B8x356B", block))
    signed = 256 + sum(struct.unpack_from("148b8x356b", block))
    if not _is_octal(stored) or int(stored, 8) not in (unsigned, signed):
        if at == 0:
            raise BundleError(path, "a gzip file but not a tar archive (no tar header at the start)")
        raise BundleError(path, f"damaged tar archive (bad header checksum at byte {at})")
    raw_size = block[124:136]
    if raw_size[0] & 0x80:  # GNU base-256, for members of 8 GiB and more
        if raw_size[0] != 0x80:
            raise BundleError(path, f"damaged tar archive (negative member size at byte {at})")
        size = int.from_bytes(raw_size[1:], "big")
    else:
        digits = _field(raw_size).strip()
        if not _is_octal(digits, empty=True):
            raise BundleError(path, f"damaged tar archive (member size {shown(digits)} at byte {at})")
        size = int(digits, 8) if digits else 0
    name = _field(block[0:100])
    if block[257:263] == b"ustar\x00":  # POSIX ustar: a name may be split into prefix and name
        prefix = _field(block[345:500])
        if prefix:
            name = prefix + b"/" + name
    return _Header(at, name, size, block[156:157], _field(block[157:257]))


def _field(raw: bytes) -> bytes:
    return raw.split(b"\x00", 1)[0]


def _is_octal(digits: bytes, empty: bool = False) -> bool:
    return (bool(digits) or empty) and not digits.strip(b"01234567")


def _decimal(path: str, value: bytes, at: int) -> int:
    if not value.isdigit() or len(value) > 20:
        raise BundleError(path, f"damaged tar archive (pax size {shown(value)} at byte {at})")
    return int(value)


def _extend(path: str, extended: dict[str, bytes], header: _Header, data: bytes) -> None:
    """Folds one extended header into what is known of the next member."""
    if header.kind == b"L":
        extended["path"] = _field(data)
        return
    if header.kind == b"K":
        extended["linkpath"] = _field(data)
        return
    records = _pax_records(path, data, header.at)
    if header.kind == b"g":
        said = [k for k in records if k in ("path", "linkpath", "size") or k.startswith("GNU.sparse.")]
        if said:
            raise BundleError(path, f"a global pax header at byte {header.at} sets {shown(said[0])} "
                                    "for every member: refused")
        return
    for key, value in records.items():
        if key in ("path", "linkpath", "size") or key.startswith("GNU.sparse."):
            if value or key.startswith("GNU.sparse."):
                extended[key] = value
            else:  # an empty value takes the field back to the header's own
                extended.pop(key, None)


def _pax_records(path: str, data: bytes, at: int) -> dict[str, bytes]:
    """The records of a pax header: "<length> <key>=<value>\\n", the length counting itself."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # some writers pad with NULs
            break
        space = data.find(b" ", pos, pos + 21)
        length_text = data[pos:space] if space > pos else b""
        if not length_text.isdigit():
            raise BundleError(path, f"damaged tar archive (bad pax record at byte {at})")
        length = int(length_text)
        end = pos + length
        record = data[space + 1:end]
        if end > len(data) or length <= len(length_text) + 1 or not record.endswith(b"\n") or b"=" not in record:
            raise BundleError(path, f"damaged tar archive (bad pax record at byte {at})")
        key, value = record[:-1].split(b"=", 1)
        try:
            records[key.decode("utf-8")] = value
        except UnicodeDecodeError:
            raise BundleError(path, f"damaged tar archive (pax key {shown(key)} is not UTF-8, at byte {at})") from None
        pos = end
    return records


def _safe_name(path: str, name: str) -> str:
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        raise BundleError(path, f"member name {shown(name.encode('utf-8', 'surrogateescape'))} is not UTF-8")
    if name.startswith("/"):
        raise BundleError(path, f"member {shown(name)} has an absolute path: refused")
    clean = name[2:] if name.startswith("./") else name
    parts = PurePosixPath(clean).parts
    if ".." in parts:
        raise BundleError(path, f"member {shown(name)} climbs out with '..': refused")
    if not parts or "\\" in clean or not clean.isprintable():
        raise BundleError(path, f"member name {shown(name)} refused (empty, a backslash or a control character)")
    return "/".join(parts)


def _same_top(path: str, top: str | None, name: str) -> str:
    first = name.split("/", 1)[0]
    if top is not None and first != top:
        raise BundleError(path, f"more than one top folder ({shown(top)} and {shown(first)})")
    return first


def _kind(kind: bytes, linkname: bytes) -> str:
    what = KINDS.get(kind, f"member of tar type {shown(kind.decode('latin-1'))}")
    if kind in (b"1", b"2"):
        what += f" to {shown(linkname.decode('utf-8', 'backslashreplace'))}"
    return what


def write_bundle_file(target: Path, top: str, members: list[tuple[str, bytes]], mtime: float, force: bool) -> None:
    """Writes a bundle's members as a .tgz at `target`, atomically, mode 0600 (it holds a host's
    inventory): through a temporary file beside it, then put in place without replacing anything
    (migsnap.publish: not a file that was there, nor one that appeared meanwhile) unless `force`.
    Nothing is left behind on error.  The caller checks what `target` may be."""
    import tempfile

    import migsnap

    from .errors import UsageError
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            migsnap.write_tar(f, top, members, mtime)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        if force:
            os.replace(tmp, target)
        else:
            try:
                migsnap.publish(tmp, str(target))
            except migsnap.Trouble as exc:
                raise UsageError(str(exc)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

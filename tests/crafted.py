"""Crafting broken and hostile bundles from a real one, for the bad-input tests."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tarfile
import zlib
from pathlib import Path


def members(bundle: Path) -> tuple[str, dict[str, bytes]]:
    """(top folder, {relative name: bytes}) of a real bundle."""
    out = {}
    with tarfile.open(bundle) as tar:
        top = tar.getnames()[0].split("/")[0]
        for m in tar.getmembers():
            if m.isfile():
                out[m.name[len(top) + 1:]] = tar.extractfile(m).read()
    return top, out


def tar_bytes(entries: list[tuple[str, bytes | tarfile.TarInfo]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """An uncompressed tar of the given (name, bytes) pairs, in order; a TarInfo is added as is."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in entries:
            if isinstance(data, tarfile.TarInfo):
                data.name = name
                tar.addfile(data)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_tgz(path: Path, entries: list[tuple[str, bytes | tarfile.TarInfo]], fmt: int = tarfile.PAX_FORMAT) -> Path:
    """A .tgz of the given (name, bytes) pairs, in order; a TarInfo is added as is (links, devices)."""
    path.write_bytes(gzip.compress(tar_bytes(entries, fmt)))
    return path


def rebuild(bundle: Path, out: Path, change=None) -> Path:
    """The bundle rewritten with `change(files)` applied to its {name: bytes} dict."""
    top, files = members(bundle)
    if change:
        change(files)
    return write_tgz(out, [(f"{top}/{name}", data) for name, data in files.items()])


def edit_json(files: dict[str, bytes], name: str, edit) -> None:
    doc = json.loads(files[name])
    edit(doc)
    files[name] = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def fix_manifest(files: dict[str, bytes], *names: str) -> None:
    """Records the current size and sha256 of `names` in the manifest, as if collected that way."""
    def edit(manifest):
        for record in manifest["files"] + [r for entry in manifest["entries"] for r in entry["files"]]:
            if record["name"] in names:
                record["size"] = len(files[record["name"]])
                record["sha256"] = hashlib.sha256(files[record["name"]]).hexdigest()
    edit_json(files, "manifest.json", edit)


def with_manifest_last(files: dict[str, bytes], top: str,
                       extra: list[tuple[str, bytes | tarfile.TarInfo]] = ()) -> list[tuple[str, bytes | tarfile.TarInfo]]:
    """The bundle's members as (name, data) under `top`, `extra` slipped in before the manifest."""
    entries: list[tuple[str, bytes | tarfile.TarInfo]] = [
        (f"{top}/{name}", data) for name, data in files.items() if name != "manifest.json"]
    return entries + list(extra) + [(f"{top}/manifest.json", files["manifest.json"])]


# --- streaming builders: hostile bundles far bigger inflated than the test may hold -------------

BLOCK = 512
GNU_MAGIC = b"ustar  \x00"
POSIX_MAGIC = b"ustar\x0000"


def tar_header(name: bytes | str, size: int = 0, kind: bytes = b"0", linkname: bytes = b"",
               magic: bytes = POSIX_MAGIC, mode: int = 0o644) -> bytes:
    """One 512-byte tar header, written by hand so that nothing second-guesses it."""
    if isinstance(name, str):
        name = name.encode()
    assert len(name) <= 100 and len(linkname) <= 100
    h = bytearray(BLOCK)
    h[0:len(name)] = name
    h[100:108] = b"%07o\x00" % mode
    h[108:116] = h[116:124] = b"0000000\x00"
    h[124:136] = b"%011o\x00" % size if size < 8 ** 11 else b"\x80" + size.to_bytes(11, "big")
    h[136:148] = b"%011o\x00" % 0
    h[148:156] = b" " * 8
    h[156:157] = kind
    h[157:157 + len(linkname)] = linkname
    h[257:265] = magic
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def tar_data(data: bytes) -> bytes:
    """A member's data padded to whole blocks."""
    return data + bytes(-len(data) % BLOCK)


def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib's crc32_combine (not exposed by Python): the CRC-32 of A+B from those of A and B."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]   # one zero bit
    even = [_gf2_times(odd, odd[n]) for n in range(32)]  # two zero bits
    odd = [_gf2_times(even, even[n]) for n in range(32)]  # four zero bits
    while True:
        even = [_gf2_times(odd, odd[n]) for n in range(32)]
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = [_gf2_times(even, even[n]) for n in range(32)]
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


class GzipStream:
    """One ordinary single-stream gzip file, written piece by piece and never held whole.

    zeros(n) appends n zero bytes from one deflate segment compressed once and cached (after a
    full flush a deflate block depends on nothing before it), so a file that inflates to
    gigabytes costs one compression of one run and a few megabytes of writes.
    """

    _segments: dict[tuple[int, int], tuple[bytes, int]] = {}

    def __init__(self, f, level: int = 9) -> None:
        self.f, self.level = f, level
        self.crc = self.size = 0
        self.compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")

    def write(self, data: bytes) -> None:
        self.f.write(self.compressor.compress(data))
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)

    def zeros(self, n: int) -> None:
        """n zero bytes, as runs of at most 64 MiB each compressed once and cached."""
        while n:
            run = min(n, self.ZERO_RUN)
            segment, crc = self._zero_segment(run)
            self.f.write(self.compressor.flush(zlib.Z_FULL_FLUSH))
            self.f.write(segment)
            self.crc = crc32_combine(self.crc, crc, run)
            self.size += run
            n -= run

    ZERO_RUN = 64 * 1024 * 1024

    def _zero_segment(self, n: int) -> tuple[bytes, int]:
        key = (n, self.level)
        if key not in self._segments:
            c = zlib.compressobj(self.level, zlib.DEFLATED, -zlib.MAX_WBITS)
            chunk, crc, parts, left = bytes(1 << 20), 0, [], n
            while left:
                piece = chunk[:min(left, len(chunk))]
                parts.append(c.compress(piece))
                crc = zlib.crc32(piece, crc)
                left -= len(piece)
            parts.append(c.flush(zlib.Z_FULL_FLUSH))
            self._segments[key] = (b"".join(parts), crc)
        return self._segments[key]

    def close(self) -> None:
        self.f.write(self.compressor.flush(zlib.Z_FINISH))
        self.f.write(struct.pack("<II", self.crc & 0xFFFFFFFF, self.size & 0xFFFFFFFF))


def write_bomb(path: Path, bundle: Path, count: int, member_size: int) -> int:
    """A real bundle with `count` members of `member_size` zero bytes slipped in before its
    manifest; returns how many bytes it inflates to. Built streaming: small in memory and fast."""
    top, files = members(bundle)
    manifest = files.pop("manifest.json")
    with open(path, "wb") as f:
        gz = GzipStream(f)
        gz.write(tar_header(f"{top}/", kind=b"5", mode=0o755))
        for name, data in files.items():
            gz.write(tar_header(f"{top}/{name}", len(data)) + tar_data(data))
        for i in range(count):
            gz.write(tar_header(f"{top}/raw/zeros-{i:04d}.out", member_size))
            gz.zeros(member_size + (-member_size % BLOCK))
        gz.write(tar_header(f"{top}/manifest.json", len(manifest)) + tar_data(manifest) + bytes(2 * BLOCK))
        gz.close()
        return gz.size


def write_many_members(path: Path, bundle: Path, count: int, content: bytes = b"\n", level: int = 1) -> int:
    """A real bundle's top folder holding `count` tiny members (then the real files); returns the
    inflated size. Headers come from one template, so a million members take a few seconds."""
    top, files = members(bundle)
    prefix = f"{top}/raw/m".encode()
    template = tar_header(prefix + b"0000000", len(content))
    name_end = len(prefix) + 7
    base = sum(template[:148]) + sum(template[156:]) + 8 * 32 - sum(b"0000000")
    head, tail = template[:len(prefix)], template[name_end:148]
    after = template[156:]
    data = tar_data(content)
    with open(path, "wb") as f:
        gz = GzipStream(f, level)
        gz.write(tar_header(f"{top}/", kind=b"5", mode=0o755) + tar_header(f"{top}/raw/", kind=b"5", mode=0o755))
        batch = []
        for i in range(count):
            digits = b"%07d" % i
            batch.append(head + digits + tail + b"%06o\x00 " % (base + sum(digits)) + after + data)
            if len(batch) == 10_000:
                gz.write(b"".join(batch))
                batch.clear()
        gz.write(b"".join(batch))
        for name, blob in files.items():
            gz.write(tar_header(f"{top}/{name}", len(blob)) + tar_data(blob))
        gz.write(bytes(2 * BLOCK))
        gz.close()
        return gz.size


# --- bundles as this collector would write them from given raw files ------------------------------

def recollect(files: dict[str, bytes], edit_entries=None, **collector: object) -> dict[str, bytes]:
    """The bundle's files rebuilt from its raw files by this very collector's parsers and writer:
    parsed.json, snapshot.json and the manifest (its entries' warnings and files, the summary) agree
    with the raw files, and the manifest names this collector build (version and sha256), so that
    migdiff re-parses it.  `edit_entries(entries)` may change the manifest's entries first (drop
    one, add one); `collector` overrides the manifest's collector fields afterwards."""
    import migsnap
    manifest = json.loads(files["manifest.json"])
    table = [c.id for c in migsnap.captures()]
    present = {entry["id"] for entry in manifest["entries"]}
    for capture in migsnap.captures():  # entries the bundle's collector did not have: as with --skip
        if capture.id not in present:
            skipped = migsnap.Result(capture)
            skipped.status, skipped.error = "skipped", "--skip"
            manifest["entries"].append(migsnap.manifest_entry(skipped))
    manifest["entries"].sort(key=lambda entry: table.index(entry["id"]) if entry["id"] in table else len(table))
    entries = manifest["entries"]
    if edit_entries:
        edit_entries(entries)
    results = []
    for entry in entries:
        capture = migsnap.capture_by_id(entry["id"]) if entry["id"] in table \
            else migsnap.Capture((entry["id"], entry["section"], entry["kind"], entry["source"], entry["parser"]))
        result = migsnap.Result(capture)
        for attr in ("status", "exit_code", "error", "duration", "truncated", "argv", "executable"):
            setattr(result, attr, entry[attr])
        result.raw = [(f["name"], f["role"], f["path"], files[f["name"]]) for f in entry["files"]]
        migsnap.apply_parser(result)
        results.append(result)
    meta = {k: v for k, v in manifest.items() if k not in ("entries", "summary", "files")}
    meta["collector"] = dict(meta["collector"], version=migsnap.__version__, sha256=migsnap.own_sha256())
    members, new_manifest = migsnap.build_members(results, meta)
    out = {name: data for name, data in members}
    if collector:
        new_manifest["collector"].update(collector)
        out["manifest.json"] = migsnap.json_bytes(new_manifest)
    return out


def sign(files: dict[str, bytes], key: bytes) -> dict[str, bytes]:
    """The files with a signature.json beside the manifest, by this site key."""
    import migsnap
    signed = dict(files)
    signature = migsnap.manifest_signature(files["manifest.json"], key)
    signed[migsnap.SIGNATURE_NAME] = (json.dumps(signature) + "\n").encode()
    return signed


def write_bundle(path: Path, top: str, files: dict[str, bytes]) -> Path:
    """A .tgz of `files` under `top`, the manifest last as the collector writes it."""
    return write_tgz(path, with_manifest_last(files, top))


# --- raw-only bundles, as migsnap.sh writes them ----------------------------------------------------

def raw_only(files: dict[str, bytes], sh_sha256: str | None = None, tool: str | None = "sha256sum",
             shell: tuple[str, str | None] = ("dash", "/bin/dash")) -> dict[str, bytes]:
    """A bundle's files turned into what migsnap.sh writes from the same raw files: no parsed.json
    nor snapshot.json; a manifest that names migsnap.sh (this collector's version, the given
    sha256), no Python, the shell, parsing "none", the hash tool (None: the host had none, and every
    sha256 is null), and no parser counts."""
    import migsnap
    manifest = json.loads(files["manifest.json"])
    manifest["collector"] = {"name": "migsnap.sh", "version": migsnap.__version__, "sha256": sh_sha256}
    manifest["python"] = None
    manifest["shell"] = {"name": shell[0], "executable": shell[1]}
    manifest["parsing"] = {"where": "none"}
    manifest["hashes"] = {"tool": tool}
    for entry in manifest["entries"]:
        entry["warnings"] = entry["parse_error"] = None
        for record in entry["files"]:
            if tool is None:
                record["sha256"] = None
    manifest["summary"]["parse_warnings"] = manifest["summary"]["parse_errors"] = None
    manifest["files"] = []
    out = {name: data for name, data in files.items() if name not in ("parsed.json", "snapshot.json", "manifest.json")}
    out["manifest.json"] = migsnap.json_bytes(manifest)
    return out

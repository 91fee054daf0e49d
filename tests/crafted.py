"""Crafting broken and hostile bundles from a real one, for the bad-input tests."""
from __future__ import annotations

import gzip
import io
import json
import tarfile
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


def write_tgz(path: Path, entries: list[tuple[str, bytes | tarfile.TarInfo]]) -> Path:
    """A .tgz of the given (name, bytes) pairs, in order; a TarInfo is added as is (links, devices)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            if isinstance(data, tarfile.TarInfo):
                data.name = name
                tar.addfile(data)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue()))
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

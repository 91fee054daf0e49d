"""Shared test helpers: where things are, and a real collector run on this machine."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COLLECTOR = REPO / "snapshot" / "migsnap.py"
FIXTURES = REPO / "tests" / "fixtures"
SAMPLES = REPO / "sample_bundles"
SHARED = Path(os.environ.get("MIGDIFF_SHARED", REPO.parent / "shared"))


def run_collector(outdir: Path, *args: str, python: str = sys.executable, env: dict | None = None,
                  timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([python, str(COLLECTOR), "-o", str(outdir), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def bundle_documents(path: Path) -> dict[str, object]:
    """manifest/snapshot/parsed JSON of a bundle, read with plain tarfile (independent of migdiff)."""
    out = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            base = member.name.split("/", 1)[-1]
            if base in ("manifest.json", "snapshot.json", "parsed.json"):
                out[base] = json.load(tar.extractfile(member))
    return out


def all_bytes(bundle: Path) -> bytes:
    """Every member of a bundle, names included: what a scan for leaks has to search."""
    out = []
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            out.append(member.name.encode())
            if member.isfile():
                out.append(tar.extractfile(member).read())
    return b"\n".join(out)


def only_bundle(directory: Path) -> Path:
    found = sorted(directory.glob("*.tgz"))
    assert len(found) == 1, f"expected one bundle in {directory}, found {found}"
    return found[0]


@pytest.fixture(scope="session")
def host_bundle(tmp_path_factory) -> Path:
    """The collector run for real on this machine, once per test session."""
    out = tmp_path_factory.mktemp("host")
    proc = run_collector(out)
    assert proc.returncode == 0, proc.stderr
    return only_bundle(out)


@pytest.fixture(scope="session")
def sample_pair() -> tuple[Path, Path]:
    """The two committed sample bundles: a SysV Debian 11 host and a systemd Debian 12 host."""
    sysv = sorted(SAMPLES.glob("*sysv*.tgz"))
    systemd = sorted(SAMPLES.glob("*systemd*.tgz"))
    if not sysv or not systemd:
        pytest.fail("sample_bundles/ lacks the SysV and systemd bundles (see sample_bundles/README.md)")
    return sysv[0], systemd[0]

"""Shared test helpers: where things are, and a real collector run on this machine."""
from __future__ import annotations

import json
import os
import signal
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


def glob_fixture_files(capture, folder: Path) -> list[tuple[str, bytes]]:
    """The files of a glob entry's fixture folder as the parser gets them, [(host path, bytes)]: a
    folder that mirrors the host's tree (init-scripts.out/etc/init.d/cron) gives each file's own
    path; a flat one (upstart-jobs.out/ssh.conf) puts its files in the pattern's directory."""
    if any(p.is_dir() for p in folder.iterdir()):
        return [("/" + str(p.relative_to(folder)), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]
    where = os.path.dirname(capture.source[0])
    return [(f"{where}/{p.name}", p.read_bytes()) for p in sorted(folder.iterdir())]


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


SCENARIOS = REPO / "tests" / "scenarios" / "bundles"


@pytest.fixture(scope="session")
def gaps_pair() -> tuple[Path, Path]:
    """An application server (SysV Debian 11) and a systemd Debian 12 target with deliberate gaps."""
    return SCENARIOS / "app11.tgz", SCENARIOS / "app12gaps.tgz"


@pytest.fixture(scope="session")
def full_pair() -> tuple[Path, Path]:
    """The same source, and a target the workload was migrated to completely."""
    return SCENARIOS / "app11.tgz", SCENARIOS / "app12full.tgz"


def diff_json(a: Path, b: Path, *extra: object) -> dict:
    """`migdiff diff A B --format json` through the CLI, parsed."""
    from typer.testing import CliRunner

    from migdiff.cli import app
    result = CliRunner().invoke(app, ["diff", str(a), str(b), "--format", "json", *map(str, extra)])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def by_key(report: dict, section: str) -> dict[str, list[dict]]:
    """A JSON diff's changes of one section, by key."""
    out: dict[str, list[dict]] = {}
    for c in report["changes"]:
        if c["section"] == section:
            out.setdefault(c["key"], []).append(c)
    return out


def snapshot_of(path: Path):
    """A bundle's typed snapshot, opened as migdiff opens it."""
    from migdiff.host import opened_hosts
    with opened_hosts([str(path)]) as (host,):
        return host.snapshot


# --- fake commands, for the collectors' host-fault tests (migsnap.py and migsnap.sh) ---------------

def fake_bin(tmp_path: Path, scripts: dict[str, str]) -> dict:
    """An environment whose PATH shadows some commands with shell scripts."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name, body in scripts.items():
        script = bindir / name
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(0o755)
    return dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")


def end_process(pidfile: Path, name: str) -> bool:
    """Kills the process whose pid a fake command wrote, if it still runs that program; whether it did."""
    try:
        pid = int(pidfile.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return False
    if name.encode() in cmdline and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
        os.kill(pid, signal.SIGKILL)
        return True
    return False

"""The collector on real Debian hosts booted here (tests/hostlab/): SysV init as PID 1 in a user
namespace with bullseye's python2.7, systemd as PID 1 under systemd-nspawn, and sysvinit with
Debian's openrc as the rc system (openrc12).

Building a root takes a few minutes the first time (debootstrap from Debian's mirror); the roots
are kept in $MIGDIFF_HOSTLAB_DIR (default /var/tmp/migdiff-hostlab) and reused.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import COLLECTOR, REPO, all_bytes, bundle_documents
from migdiff.bundle import read_bundle
from migdiff.validate import validate

HOSTLAB = REPO / "tests" / "hostlab" / "hostlab.sh"
ROOTS = Path(os.environ.get("MIGDIFF_HOSTLAB_DIR", "/var/tmp/migdiff-hostlab"))

pytestmark = [pytest.mark.slow]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("debootstrap", "systemd-nspawn", "unshare", "nsenter", "setpriv"):
        if not shutil.which(tool):
            return f"needs {tool} (apt-get install debootstrap systemd-container)"
    return None


if _missing():
    pytest.skip(_missing(), allow_module_level=True)


def hostlab(*args: str, env: dict | None = None, timeout: float = 1800) -> str:
    proc = subprocess.run([str(HOSTLAB), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"hostlab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def root(kind: str) -> Path:
    path = ROOTS / kind
    hostlab("mkroot", kind, str(path))
    return path


@pytest.fixture(scope="module")
def sysv11() -> Path:
    return root("sysv11")


@pytest.fixture(scope="module")
def systemd12() -> Path:
    return root("systemd12")


def collect(host: Path, python: str, out: Path, user: str | None = None) -> dict:
    out.mkdir(exist_ok=True)
    printed = hostlab("collect", str(host), str(COLLECTOR), python, str(out),
                      env={"HOSTLAB_USER": user} if user else None).strip().splitlines()[-1]
    bundle = Path(printed)
    result = validate(read_bundle(str(bundle)))
    assert result.ok, result.reasons
    return bundle_documents(bundle)


def booted(root: Path):
    """The host running with its own init for the tests of this module; shut down after them."""
    hostlab("boot", str(root), timeout=300)
    try:
        yield root
    finally:
        hostlab("stop", str(root), timeout=300)


@pytest.fixture(scope="module")
def booted_sysv(sysv11: Path):
    yield from booted(sysv11)


@pytest.fixture(scope="module")
def booted_systemd(systemd12: Path):
    yield from booted(systemd12)


def test_python27_in_a_bullseye_chroot(sysv11: Path, tmp_path: Path) -> None:
    """No init, no daemons: the collector still writes a valid bundle under bullseye's python2.7."""
    inside = sysv11 / "tmp" / "migsnap-chroot-test"
    shutil.rmtree(inside, ignore_errors=True)
    inside.mkdir(parents=True)
    shutil.copy(COLLECTOR, inside / "migsnap.py")
    try:
        hostlab("chroot-run", str(sysv11), "python2.7", "/tmp/migsnap-chroot-test/migsnap.py",
                "-o", "/tmp/migsnap-chroot-test/", "-q")
        bundle = next(inside.glob("*.tgz"))
        assert validate(read_bundle(str(bundle))).ok
        docs = bundle_documents(bundle)
    finally:
        shutil.rmtree(inside, ignore_errors=True)
    assert docs["manifest.json"]["python"]["version"] == "2.7.18"
    assert docs["snapshot.json"]["system"]["distro_codename"] == "bullseye"


def test_booted_sysv_host(booted_sysv: Path, tmp_path: Path) -> None:
    docs = collect(booted_sysv, "python2.7", tmp_path)
    snap = docs["snapshot.json"]
    assert snap["init"]["active"] == "sysv" and snap["init"]["current_runlevel"] == "2"
    assert snap["init"]["default_runlevel"] == "2"
    for name in ("ssh", "apache2", "cron", "rsyslog", "mariadb"):
        svc = snap["services"][name]
        assert svc["running"] is True and svc["enabled"] is True, (name, svc)
        assert svc["runlevels"]["2"] == "on"
    listening = {(p["protocol"], p["port"]): {q["name"] for q in p["processes"]} for p in snap["ports"]}
    assert "sshd" in listening[("tcp", 22)] and "apache2" in listening[("tcp", 80)]
    assert listening[("tcp", 3306)] & {"mariadbd", "mysqld"}
    assert docs["manifest.json"]["python"]["version"] == "2.7.18"


def test_booted_systemd_host(booted_systemd: Path, tmp_path: Path) -> None:
    snap = collect(booted_systemd, "python3", tmp_path)["snapshot.json"]
    assert snap["init"]["active"] == "systemd" and snap["init"]["default_target"]
    for name in ("ssh", "nginx", "cron", "mariadb", "memcached"):
        svc = snap["services"][name]
        assert svc["running"] is True and svc["enabled"] is True, (name, svc)
        assert svc["targets"], (name, svc)
    ports = {(p["protocol"], p["port"]) for p in snap["ports"]}
    assert {("tcp", 22), ("tcp", 80), ("tcp", 3306), ("tcp", 11211)} <= ports


def test_booted_openrc_host(tmp_path: Path) -> None:
    """Debian 12 with sysvinit's init and Debian's openrc as the rc system (issue 15): one boot,
    collected as root and as labuser."""
    for _ in booted(root("openrc12")):
        snap = collect(ROOTS / "openrc12", "python3", tmp_path / "root")["snapshot.json"]
        user = collect(ROOTS / "openrc12", "python3", tmp_path / "user", user="labuser")["snapshot.json"]
    for s in (snap, user):
        assert s["init"]["active"] == "openrc" and s["init"]["openrc_runlevel"] == "default"
        assert s["init"]["current_runlevel"] == "2"
        for name, level in (("ssh", "default"), ("cron", "default"), ("lighttpd", "default"),
                            ("rsyslog", "default"), ("memcached", "boot")):
            svc = s["services"][name]
            assert svc["init"] == "openrc" and svc["runlevels"] == {level: "on"}, (name, svc)
            assert svc["running"] is True and svc["enabled"] is True, (name, svc)
        assert s["services"]["rsync"]["runlevels"] == {"offline": "on"} and not s["services"]["rsync"]["enabled"]
    ports = {(p["protocol"], p["port"]) for p in snap["ports"]}
    assert {("tcp", 22), ("tcp", 80), ("tcp", 11211)} <= ports


def test_unprivileged_user_on_a_booted_host(booted_systemd: Path, tmp_path: Path) -> None:
    docs = collect(booted_systemd, "python3", tmp_path, user="labuser")
    assert docs["manifest.json"]["euid"] == 1000 and docs["manifest.json"]["lost"]
    ssh = [p for p in docs["snapshot.json"]["ports"] if p["protocol"] == "tcp" and p["port"] == 22]
    assert ssh and all(not p["processes"] for p in ssh), "root's sshd cannot be named by another user"


def test_redacted_collection_on_a_booted_host_leaks_nothing(booted_systemd: Path, tmp_path: Path) -> None:
    """An outside address with a listener on it, a human user (labuser, uid 1000) and the host's name:
    after --redact none of them is anywhere in the bundle, raw files, JSON or member names."""
    hostlab("exec", str(booted_systemd), "ip", "addr", "add", "198.51.100.7/32", "dev", "lo")
    hostlab("exec", str(booted_systemd), "sh", "-c",
            "setsid python3 -m http.server --bind 198.51.100.7 8099 >/dev/null 2>&1 < /dev/null &")
    key = booted_systemd / "var" / "tmp" / "redact.key"  # systemd gives the host a /tmp of its own
    key.write_text("a key for the whole site\n")
    try:
        for _ in range(50):  # the listener needs a moment
            if "198.51.100.7:8099" in hostlab("exec", str(booted_systemd), "ss", "-ltn"):
                break
        out = tmp_path / "redacted"
        out.mkdir()
        printed = hostlab("collect", str(booted_systemd), str(COLLECTOR), "python3", str(out),
                          "--redact-key-file", "/var/tmp/redact.key").strip().splitlines()[-1]
    finally:
        hostlab("exec", str(booted_systemd), "pkill", "-f", "^python3 -m http.server")
        key.unlink()
    bundle = Path(printed)
    assert validate(read_bundle(str(bundle))).ok
    blob = all_bytes(bundle)
    for original in (b"hostlab-systemd12", b"198.51.100.7", b"076433C6", b"labuser", b"a key for the whole site"):
        assert original not in blob, original
    snap = bundle_documents(bundle)["snapshot.json"]
    assert any(p["port"] == 8099 and p["bind"].startswith("10.") for p in snap["ports"]), "the port is still there"

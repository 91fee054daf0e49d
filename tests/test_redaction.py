"""Redaction: pseudonyms instead of hostnames, addresses, MACs and user names, consistent under a key."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import migsnap
from conftest import all_bytes, bundle_documents
from migdiff.bundle import read_bundle
from migdiff.cli import app
from migdiff.validate import validate

runner = CliRunner()
KEY = "site key shared by both hosts"


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def redact(bundle: Path, out: Path, key: str = KEY) -> Path:
    result = run("redact", bundle, "-o", out, "--redact-key", key)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().split(" ", 1)[1])


# --- the pseudonyms ---------------------------------------------------------------------------------

def test_pseudonyms_are_stable_per_key_and_well_formed() -> None:
    one, same, other = migsnap.Redactor(b"k" * 16), migsnap.Redactor(b"k" * 16), migsnap.Redactor(b"x" * 16)
    assert one.ipv4("198.51.100.7") == same.ipv4("198.51.100.7") != other.ipv4("198.51.100.7")
    socket.inet_pton(socket.AF_INET, one.ipv4("198.51.100.7"))
    assert one.ipv4("198.51.100.7").startswith("10.")
    assert one.ipv6("2001:db8::7").startswith("fd") and socket.inet_pton(socket.AF_INET6, one.ipv6("2001:db8::7"))
    assert re.match(r"^02(:[0-9a-f]{2}){5}$", one.mac("52:54:00:12:34:56"))
    assert one.label("host", "web1", "h") != one.label("host", "web2", "h")


def live_proc_net_tcp(address: str) -> bytes:
    """/proc/net/tcp of a network namespace with a socket listening on `address`: real kernel output."""
    script = (f"ip link set lo up && ip addr add {address}/32 dev lo && "
              f"python3 -c \"import socket,time; s=socket.socket(); s.bind(('{address}', 8099)); s.listen(1); "
              f"print(open('/proc/net/tcp').read())\"")
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs root, unshare and iproute2 for a network namespace")
def test_the_proc_net_spelling_is_redacted_too() -> None:
    addr = "198.51.100.9"
    real = live_proc_net_tcp(addr)
    rows = migsnap.parse_proc_net_inet(real.decode())[0]
    assert {r["local_address"] for r in rows} == {addr}
    redactor = migsnap.Redactor(b"k" * 16)
    rules = migsnap.replacements({"hosts": set(), "addresses": {addr}, "users": set(), "names": set()}, redactor)
    redacted = migsnap.redact_bytes(real, rules, redactor, "proc-net-tcp")
    rows = migsnap.parse_proc_net_inet(redacted.decode())[0]
    assert {r["local_address"] for r in rows} == {redactor.ipv4(addr)} and rows[0]["local_port"] == 8099
    assert migsnap._proc_hex(addr).encode() not in redacted


@pytest.mark.skipif(not shutil.which("ip"), reason="iproute2 is not installed")
def test_mac_addresses_in_real_output_are_replaced() -> None:
    real = subprocess.run(["ip", "-o", "link"], capture_output=True).stdout
    macs = set(re.findall(rb"link/\w+ ((?:[0-9a-f]{2}:){5}[0-9a-f]{2})", real)) - {b"00:00:00:00:00:00"}
    if not macs:
        pytest.skip("no interface with a MAC address here")
    redactor = migsnap.Redactor(b"k" * 16)
    redacted = migsnap.redact_bytes(real, [], redactor, "any")
    assert not any(mac in redacted for mac in macs)
    assert b"00:00:00:00:00:00" in redacted or b"00:00:00:00:00:00" not in real


# --- redacting bundles ----------------------------------------------------------------------------------

def originals(bundle: Path) -> dict[str, set[str]]:
    docs = bundle_documents(bundle)
    parsed = {k: v["data"] for k, v in docs["parsed.json"]["entries"].items()}
    return migsnap.identifiers(parsed, [docs["manifest.json"]["hostname"]])


def test_a_redacted_sample_bundle_leaks_no_identifier(sample_pair, tmp_path: Path) -> None:
    for bundle in sample_pair:
        found = originals(bundle)
        assert found["hosts"] and found["users"], found  # hostlab-*, and labuser (uid 1000)
        redacted = redact(bundle, tmp_path)
        assert validate(read_bundle(str(redacted))).ok
        data = all_bytes(redacted)
        for name in found["hosts"] | found["users"] | found["addresses"] | found["names"]:
            assert re.search(rb"(?<![A-Za-z0-9_.-])" + re.escape(name.encode()) + rb"(?![A-Za-z0-9_-])", data) is None, name
        assert KEY.encode() not in data
        manifest = bundle_documents(redacted)["manifest.json"]
        assert manifest["redaction"]["applied"] is True and manifest["hostname"].startswith("h")


def test_two_redacted_hosts_diff_as_the_originals(sample_pair, tmp_path: Path) -> None:
    a, b = (redact(p, tmp_path / f"r{i}.tgz") for i, p in enumerate(sample_pair))

    def changes(x: Path, y: Path) -> list[tuple]:
        result = run("diff", x, y, "--format", "json", "--show-ignored")
        report = json.loads(result.stdout)
        return [(c["section"], c["key"], c["kind"], c["field"], c["severity"], bool(c["ignored"]))
                for c in report["changes"]]
    assert changes(a, b) == changes(*sample_pair)


def test_redact_refuses_without_a_key_or_over_an_existing_file(sample_pair, tmp_path: Path) -> None:
    result = run("redact", sample_pair[0], "-o", tmp_path)
    assert result.exit_code == 2 and "key" in result.stderr
    result = run("redact", sample_pair[0], "-o", tmp_path, "--redact-key", "short")
    assert result.exit_code == 2 and "at least 8" in result.stderr
    first = redact(sample_pair[0], tmp_path / "x.tgz")
    again = run("redact", sample_pair[0], "-o", first, "--redact-key", KEY)
    assert again.exit_code == 2 and "exists" in again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tgz"], "no temp file left behind"

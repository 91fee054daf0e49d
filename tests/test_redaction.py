"""Redaction: pseudonyms instead of hostnames, addresses, MACs and user names, consistent under a key."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import migsnap
from conftest import COLLECTOR, all_bytes, bundle_documents, only_bundle
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


# --- issue 12: hostnames of any bytes, IPv4 seen through IPv6 sockets, a cut /etc/passwd ------------------

PYENV = Path(os.path.expanduser("~root/.pyenv/versions"))
PY27 = sorted(PYENV.glob("2.7*/bin/python")) if PYENV.is_dir() else []
PYTHONS = [pytest.param(sys.executable, id="py3")] + [pytest.param(str(PY27[0]), id="py2.7")] * bool(PY27)
NEEDS_NAMESPACES = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                      reason="needs root and unshare for a private namespace")
# A hostname the kernel takes (any bytes but NUL, up to 64): a quote, a backslash, a terminal
# escape, bytes that are not UTF-8, and a bell in its second label.
ODD_HOST = b'we"b\\1\x1b[31m\xff\xfe.ex\x07ample'
ODD_LABELS = (b'we"b', b'we\\"b', b"\x07ample", b"\\u0007ample", b"[31m")  # as raw bytes and as JSON spells them
SAFE_NAME = re.compile(r"^migsnap-[A-Za-z0-9._-]+\.tgz$")


def collect(out: Path, python: str, *args: str, wrap: list[str] = (), before: str = "", timeout: float = 300):
    """The collector run for real, inside `wrap` (unshare ...) after the shell commands `before`."""
    out.mkdir(exist_ok=True)
    script = (before + "; " if before else "") + 'exec "$@"'
    return subprocess.run([*wrap, "sh", "-c", script, "sh", python, str(COLLECTOR), "-o", str(out), *args],
                          capture_output=True, timeout=timeout)


def with_hostname(name: bytes) -> str:
    return f"{sys.executable} -c \"import socket; socket.sethostname(bytes.fromhex('{name.hex()}'))\""


def leaks(bundle: Path, fragments) -> list[bytes]:
    data = all_bytes(bundle)
    return [f for f in fragments if f in data]


@NEEDS_NAMESPACES
@pytest.mark.parametrize("python", PYTHONS)
def test_a_hostname_of_any_bytes_is_redacted_and_never_names_a_file(python: str, tmp_path: Path) -> None:
    proc = collect(tmp_path / "out", python, "-q", "--redact-key", KEY, wrap=["unshare", "--uts"],
                   before=with_hostname(ODD_HOST))
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    bundle = (tmp_path / "out").glob("*.tgz").__next__()
    assert SAFE_NAME.match(bundle.name), bundle.name
    with tarfile.open(bundle) as tar:
        assert all(re.match(r"^[A-Za-z0-9._/-]+$", n) for n in tar.getnames()), tar.getnames()[:3]
    assert leaks(bundle, ODD_LABELS) == []
    docs = bundle_documents(bundle)
    assert validate(read_bundle(str(bundle))).ok
    redactor = migsnap.Redactor(KEY.encode())
    expected = ".".join(redactor.label("host", label.lower(), "h") for label in ODD_HOST.split(b"."))
    assert docs["manifest.json"]["hostname"] == expected
    assert docs["snapshot.json"]["system"]["hostname"] == expected


@NEEDS_NAMESPACES
@pytest.mark.parametrize("python", PYTHONS)
def test_migdiff_redact_of_a_host_with_an_odd_hostname(python: str, tmp_path: Path) -> None:
    """Collected without redaction (Python 2.7 used to fail writing such a manifest), then redacted
    by migdiff: the same pseudonym as the collector's own --redact gives."""
    proc = collect(tmp_path / "out", python, "-q", wrap=["unshare", "--uts"], before=with_hostname(ODD_HOST))
    assert proc.returncode == 0, proc.stderr
    original = (tmp_path / "out").glob("*.tgz").__next__()
    assert SAFE_NAME.match(original.name), original.name
    manifest = bundle_documents(original)["manifest.json"]
    assert manifest["hostname"] == ODD_HOST.decode("utf-8", "replace"), "the manifest holds text, not escapes"
    assert validate(read_bundle(str(original))).ok
    target = tmp_path / "redacted"
    target.mkdir()
    redacted = redact(original, target)
    assert SAFE_NAME.match(redacted.name), redacted.name
    assert leaks(redacted, ODD_LABELS) == []
    assert validate(read_bundle(str(redacted))).ok
    by_collector = collect(tmp_path / "c", python, "-q", "--redact-key", KEY, wrap=["unshare", "--uts"],
                           before=with_hostname(ODD_HOST))
    assert by_collector.returncode == 0, by_collector.stderr
    same = bundle_documents((tmp_path / "c").glob("*.tgz").__next__())["manifest.json"]["hostname"]
    assert bundle_documents(redacted)["manifest.json"]["hostname"] == same, "one key, one pseudonym, either way"


def odd_host_results() -> list:
    """hostname and uname -a as a host with ODD_HOST answers them (and an /etc/passwd read whole)."""
    passwd = migsnap.Result(migsnap.capture_by_id("etc-passwd"))
    passwd.raw = [("raw/etc-passwd.out", "file", "/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n")]
    migsnap.apply_parser(passwd)
    out = [passwd]
    for cid, stdout in (("hostname", ODD_HOST + b"\n"), ("uname-a", b"Linux " + ODD_HOST + b" 6.1.0 #1 SMP x86_64 GNU/Linux\n")):
        result = migsnap.Result(migsnap.capture_by_id(cid))
        result.raw = [(f"raw/{cid}.out", "stdout", None, stdout), (f"raw/{cid}.err", "stderr", None, b"")]
        migsnap.apply_parser(result)
        out.append(result)
    return out


@pytest.mark.parametrize("hostname", [os.fsdecode(ODD_HOST), ODD_HOST.decode("utf-8", "replace")],
                         ids=["surrogate-escapes", "replacement-characters"])
def test_redact_results_takes_a_hostname_of_any_bytes(hostname: str) -> None:
    results = odd_host_results()
    meta = {"hostname": hostname, "argv": ["migsnap.py", "-o", "/tmp/" + hostname + "/"]}
    redacted = migsnap.redact_results(results, meta, KEY.encode())
    doc = migsnap.json_bytes(redacted)
    for fragment in ODD_LABELS:
        assert fragment not in doc
        assert not [r for r in results for _, _, _, data in r.raw if fragment in data]
    assert re.match(r"^h[0-9a-f]{8}\.h[0-9a-f]{8}$", redacted["hostname"]), redacted["hostname"]
    assert redacted["argv"][-1] == "/tmp/" + redacted["hostname"] + "/"
    assert results[1].parsed[0]["value"] == redacted["hostname"]


# IPv4 through a dual-stack socket: ss and netstat print ::ffff:a.b.c.d, /proc/net/tcp6 the
# mapped address in 32-bit little-endian words.
MAPPED = "198.51.100.9"
LISTENER = ("import socket, sys, time; s = socket.socket(socket.AF_INET6); "
            "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::ffff:%s', 8099)); s.listen(1); "
            "open(sys.argv[1], 'w').close(); time.sleep(300)")


def test_the_mapped_hex_spelling_is_the_kernels() -> None:
    assert migsnap._proc_hex("::ffff:" + MAPPED) == "0000000000000000FFFF0000096433C6"
    assert migsnap._proc_hex(MAPPED) == "096433C6"


def test_an_ipv4_address_seen_only_through_an_ipv6_socket_is_redacted() -> None:
    parsed = {"ss-nlpaxtudw": [{"netid": "tcp", "local_address": "[::ffff:%s]" % MAPPED, "peer_address": "[::]"}]}
    ids = migsnap.identifiers(parsed, ["web1"])
    redactor = migsnap.Redactor(KEY.encode())
    rules = migsnap.replacements(ids, redactor)
    fake = redactor.ipv4(MAPPED)
    line = ("tcp   LISTEN 0      1      [::ffff:%s]:8099          [::]:*\n" % MAPPED).encode()
    assert migsnap.redact_bytes(line, rules, redactor, "ss-nlpaxtudw") == line.replace(MAPPED.encode(), fake.encode())
    tcp6 = ("   0: 0000000000000000FFFF0000096433C6:1FA3 00000000000000000000000000000000:0000 0A 00000000:00000000 "
            "00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n").encode()
    redacted = migsnap.redact_bytes(tcp6, rules, redactor, "proc-net-tcp6")
    assert redacted == tcp6.replace(b"0000000000000000FFFF0000096433C6",
                                    migsnap._proc_hex("::ffff:" + fake).encode())


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs root, unshare and iproute2 for a network namespace")
@pytest.mark.parametrize("python", PYTHONS)
def test_a_dual_stack_socket_leaks_no_ipv4_address(python: str, tmp_path: Path) -> None:
    """A real socket bound to ::ffff:198.51.100.9 in a network namespace, and the collector beside it."""
    ready = tmp_path / "ready"
    before = (f"ip link set lo up && ip addr add {MAPPED}/32 dev lo && "
              f"{{ {sys.executable} -c \"{LISTENER % MAPPED}\" {ready} & }}; pid=$!; trap 'kill $pid' EXIT; "
              f"i=0; while [ ! -e {ready} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done")
    script = before + '; "$@"'
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script, "sh", python, str(COLLECTOR), "-o",
                           str(tmp_path), "-q", "--redact-key", KEY], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    bundle = only_bundle(tmp_path)
    fake = migsnap.Redactor(KEY.encode()).ipv4(MAPPED)
    assert leaks(bundle, [MAPPED.encode(), b"096433C6", b"096433c6"]) == []
    with tarfile.open(bundle) as tar:
        top = tar.getnames()[0].split("/")[0]
        tcp6 = tar.extractfile(f"{top}/raw/proc-net-tcp6.out").read()
        ss = tar.extractfile(f"{top}/raw/ss-nlpaxtudw.out").read()
    assert migsnap._proc_hex("::ffff:" + fake).encode() in tcp6
    assert ("::ffff:" + fake).encode() in ss
    assert validate(read_bundle(str(bundle))).ok


# /etc/passwd cut by --max-output: the users after the cut must still be found.
def crafted_passwd() -> bytes:
    lines = [b"root:x:0:0:root:/root:/bin/bash"]
    lines += [b"svc%02d:x:%d:65534:service account %d:/nonexistent:/usr/sbin/nologin" % (i, 100 + i, i)
              for i in range(40)]
    lines += [b"alice:x:1000:1000:Alice Liddell,,,:/home/alice:/bin/bash",
              b"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"]
    return b"\n".join(lines) + b"\n"


def cut_passwd_host(tmp_path: Path) -> tuple[list[str], str]:
    """unshare and the shell commands that give a private /etc/passwd (alice after byte 700) and an
    /etc/default whose one file names alice."""
    passwd = tmp_path / "passwd"
    passwd.write_bytes(crafted_passwd())
    assert crafted_passwd().index(b"alice") > 1000
    default = tmp_path / "default"
    default.mkdir()
    (default / "app").write_bytes(b'RUN_AS=alice\nOWNER="Alice Liddell"\n')
    return (["unshare", "--mount", "--propagation", "private"],
            f"mount --bind {passwd} /etc/passwd && mount --bind {default} /etc/default")


@NEEDS_NAMESPACES
@pytest.mark.parametrize("python", PYTHONS)
def test_a_passwd_cut_by_max_output_hides_no_user_from_redaction(python: str, tmp_path: Path) -> None:
    wrap, before = cut_passwd_host(tmp_path)
    proc = collect(tmp_path / "out", python, "-q", "--max-output", "700", "--redact-key", KEY, wrap=wrap,
                   before=before)
    assert proc.returncode == 0, proc.stderr
    bundle = only_bundle(tmp_path / "out")
    entries = {e["id"]: e for e in bundle_documents(bundle)["manifest.json"]["entries"]}
    assert entries["etc-passwd"]["status"] == "truncated"
    assert leaks(bundle, [b"alice", b"Alice Liddell"]) == []
    redactor = migsnap.Redactor(KEY.encode())
    assert redactor.label("user", "alice", "u").encode() in all_bytes(bundle)


@NEEDS_NAMESPACES
def test_migdiff_refuses_to_redact_a_bundle_whose_passwd_is_cut(tmp_path: Path) -> None:
    wrap, before = cut_passwd_host(tmp_path)
    proc = collect(tmp_path / "out", sys.executable, "-q", "--max-output", "700", wrap=wrap, before=before)
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "redacted"
    target.mkdir()
    result = run("redact", only_bundle(tmp_path / "out"), "-o", target, "--redact-key", KEY)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "etc-passwd" in result.stderr, result.stderr
    assert list(target.iterdir()) == []


def test_redact_results_refuses_a_cut_passwd_without_a_whole_one() -> None:
    result = migsnap.Result(migsnap.capture_by_id("etc-passwd"))
    result.raw = [("raw/etc-passwd.out", "file", "/etc/passwd", crafted_passwd()[:700])]
    result.status, result.truncated = "truncated", True
    migsnap.apply_parser(result)
    with pytest.raises(migsnap.Trouble, match="etc-passwd"):
        migsnap.redact_results([result], {"hostname": "web1"}, KEY.encode())
    redacted = migsnap.redact_results([result], {"hostname": "web1"}, KEY.encode(), passwd=crafted_passwd())
    assert redacted["redaction"]["replaced"]["users"] == 1


# --- signing a redacted copy ------------------------------------------------------------------------------------

def test_migdiff_redact_signs_the_copy_with_the_given_key(sample_pair, tmp_path: Path) -> None:
    keyfile = tmp_path / "sign.key"
    keyfile.write_bytes(b"the site's signing key\n")
    result = run("redact", sample_pair[0], "-o", tmp_path / "r.tgz", "--redact-key", KEY, "--sign-key-file", keyfile)
    assert result.exit_code == 0, result.output
    with tarfile.open(tmp_path / "r.tgz") as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()]
        top = tar.getnames()[0].split("/")[0]
        manifest = tar.extractfile(f"{top}/manifest.json").read()
        signature = json.loads(tar.extractfile(f"{top}/{migsnap.SIGNATURE_NAME}").read())
    assert names[-2:] == ["manifest.json", migsnap.SIGNATURE_NAME]
    assert migsnap.signature_valid(manifest, signature, b"the site's signing key")
    bad = run("redact", sample_pair[0], "-o", tmp_path / "s.tgz", "--redact-key", KEY, "--sign-key-file",
              tmp_path / "nothing-here")
    assert bad.exit_code == 2 and "--sign-key-file" in bad.stderr and not (tmp_path / "s.tgz").exists()

"""The collector, run for real: on this machine, under every Python here, and when things go wrong."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

import migsnap
from conftest import COLLECTOR, bundle_documents, only_bundle, run_collector
from migdiff.bundle import read_bundle
from migdiff.validate import validate

PYENV = Path(os.path.expanduser("~root/.pyenv/versions"))
INTERPRETERS = sorted(PYENV.glob("*/bin/python")) if PYENV.is_dir() else []


def assert_valid(path: Path) -> dict:
    result = validate(read_bundle(str(path)))
    assert result.ok, result.reasons
    return bundle_documents(path)


def test_list_prints_the_table_and_runs_nothing(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(COLLECTOR), "--list"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "SECTION", "KIND", "PARSER"]
    assert [line.split()[0] for line in lines[1:]] == [c.id for c in migsnap.captures()]
    assert "ss -nlpaxtudw" in proc.stdout and "/etc/rc[0-6S].d/*" in proc.stdout
    # every kind of entry shows its source as written: a command line, a path, paths, a pattern
    sources = {line.split()[0]: line.split(None, 4)[4] for line in lines[1:]}
    assert sources["dpkg-query"] == ("dpkg-query -W -f '${Package}\\t${Version}\\t${Architecture}\\t${Status}\\t"
                                     "${Priority}\\t${Essential}\\t${Section}\\t${Source}\\t${Pre-Depends}\\t"
                                     "${Depends}\\t${Provides}\\n'")
    assert sources["os-release"] == "/etc/os-release"
    assert sources["upstart-jobs"] == "/etc/init/*.conf /etc/init/*.override"
    assert sources["listen-procs"] == "/proc/<each listening pid, and its parents>/{exe,comm,stat,cgroup,cmdline}"
    assert sources["pid-files"] == "/run/*.pid /run/*/*.pid /var/run/*.pid /var/run/*/*.pid"
    assert list(tmp_path.iterdir()) == []


def test_version_and_help() -> None:
    out = subprocess.run([sys.executable, str(COLLECTOR), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and migsnap.__version__ in out.stdout
    help_text = subprocess.run([sys.executable, str(COLLECTOR), "--help"], capture_output=True, text=True).stdout
    for option in ("--list", "--output", "--timeout", "--max-output", "--jobs", "--skip", "--quiet"):
        assert option in help_text


def test_run_on_this_machine_writes_a_valid_bundle(host_bundle: Path) -> None:
    docs = assert_valid(host_bundle)
    manifest, snapshot = docs["manifest.json"], docs["snapshot.json"]
    assert [e["id"] for e in manifest["entries"]] == [c.id for c in migsnap.captures()]
    assert manifest["euid"] == os.geteuid()
    assert snapshot["system"]["kernel_release"] == os.uname().release
    assert snapshot["system"]["arch"] == os.uname().machine
    assert any(p["name"] == "dpkg" for p in snapshot["packages"]) or not shutil.which("dpkg")
    with tarfile.open(host_bundle) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        assert all(n == top or n.startswith(top + "/") for n in names)
        uname = tar.extractfile(f"{top}/raw/uname-r.out").read()
    assert uname.decode().strip() == os.uname().release
    assert host_bundle.stat().st_mode & 0o077 == 0, "a bundle describes the host: not world-readable"


def test_bundle_is_not_half_written_and_names_the_host(host_bundle: Path) -> None:
    assert host_bundle.name.startswith("migsnap-") and host_bundle.suffix == ".tgz"
    assert not list(host_bundle.parent.glob(".migsnap-*"))


@pytest.mark.parametrize("python", INTERPRETERS, ids=[p.parent.parent.name for p in INTERPRETERS])
def test_runs_under_every_interpreter_here(python: Path, tmp_path: Path) -> None:
    proc = run_collector(tmp_path, "-q", python=str(python))
    assert proc.returncode == 0, proc.stderr
    docs = assert_valid(only_bundle(tmp_path))
    version = subprocess.run([str(python), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True).stdout.strip()
    assert docs["manifest.json"]["python"]["version"] == version


SEES_ITS_FDS = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
import migsnap
held = open(sys.argv[2])  # a descriptor of ours a command must not inherit
other = migsnap.Runner(10, 1 << 20, migsnap.command_env(os.environ))
result = other.run(migsnap.Capture(("fds", "system", migsnap.CMD, ["ls", "/proc/self/fd"], "parse_value")))
sys.stdout.write(result.status + " " + " ".join(sorted(result.raw[0][3].decode().split())))
"""


@pytest.mark.parametrize("python", [Path(sys.executable)] + [p for p in INTERPRETERS if "2.7" in str(p)],
                         ids=lambda p: p.parent.parent.name if "pyenv" in str(p) else "this")
def test_commands_get_no_descriptor_of_ours(python: Path, tmp_path: Path) -> None:
    """A command inherits stdin, stdout and stderr only (ls shows its own directory as a 4th).
    Python 2 closes the rest from /proc/self/fd, not by closing every number up to the limit."""
    held = tmp_path / "held"
    held.write_text("x")
    proc = subprocess.run([str(python), "-c", SEES_ITS_FDS, str(COLLECTOR.parent), str(held)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok 0 1 2 3"


def test_interpreter_matrix_is_present() -> None:
    if not PYENV.is_dir():
        pytest.skip("no ~root/.pyenv/versions on this machine")
    assert any(p.parent.parent.name.startswith("2.7") for p in INTERPRETERS)


def test_vermin_finds_nothing_newer_than_python_2_6() -> None:
    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    if not Path(vermin).exists():
        pytest.skip("vermin is not installed (pip install vermin)")
    proc = subprocess.run([vermin, "--no-tips", "--violations", "-t=2.6-", "-t=3.0-", str(COLLECTOR)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_collector_imports_only_the_standard_library() -> None:
    proc = subprocess.run([sys.executable, "-c", f"""
import sys, runpy
before = set(sys.modules)
sys.argv = ['migsnap', '--version']
try:
    runpy.run_path({str(COLLECTOR)!r}, run_name='__main__')
except SystemExit:
    pass
import sysconfig, os
std = sysconfig.get_paths()['stdlib']
bad = [m for m in set(sys.modules) - before
       if getattr(sys.modules[m], '__file__', None) and 'site-packages' in sys.modules[m].__file__]
print(bad)
"""], capture_output=True, text=True)
    assert proc.stdout.strip().endswith("[]"), proc.stdout + proc.stderr


# --- the runner on hostile commands ------------------------------------------------------------

def runner(timeout: float = 30, max_output: int = 1 << 20) -> migsnap.Runner:
    return migsnap.Runner(timeout, max_output, migsnap.command_env(os.environ))


def capture(argv: list[str]) -> migsnap.Capture:
    return migsnap.Capture(("probe", "system", migsnap.CMD, argv, "parse_value"))


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    started = time.monotonic()
    result = runner(timeout=1).run(capture(["sh", "-c", f"sleep 300 & echo $! > {pidfile}; sleep 300"]))
    assert time.monotonic() - started < 10
    assert result.status == "timeout" and "killed" in result.error
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_output_is_capped_and_marked_truncated() -> None:
    result = runner(max_output=100_000).run(capture(["yes", "migsnap"]))
    out = [data for name, role, path, data in result.raw if role == "stdout"][0]
    assert result.status == "truncated" and result.truncated
    assert len(out) == 100_000


def test_missing_command_is_recorded_not_fatal() -> None:
    result = runner().run(capture(["no-such-command-migsnap"]))
    assert result.status == "missing" and result.raw == []


def test_nonzero_exit_keeps_the_output() -> None:
    result = runner().run(capture(["sh", "-c", "echo partial; echo oops >&2; exit 3"]))
    assert result.status == "failed" and result.exit_code == 3
    assert [d for n, r, p, d in result.raw] == [b"partial\n", b"oops\n"]


def test_commands_run_in_the_c_locale_without_pager() -> None:
    result = runner().run(capture(["sh", "-c", "echo $LC_ALL $COLUMNS $SYSTEMD_PAGER. $PATH"]))
    out = result.raw[0][3].decode()
    assert out.startswith("C 512 .") and ":/sbin" in out and "/usr/sbin" in out


# --- the collector as a whole, on a host that fights back ----------------------------------------

def fake_bin(tmp_path: Path, scripts: dict[str, str]) -> dict:
    """A PATH whose first directory shadows some commands with scripts."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, body in scripts.items():
        script = bindir / name
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bindir}:{env['PATH']}"
    return env


def test_hung_and_flooding_commands_end_in_a_valid_bundle(tmp_path: Path) -> None:
    env = fake_bin(tmp_path, {"uname": "sleep 600", "hostname": "head -c 5000000 /dev/zero | tr '\\0' x"})
    out = tmp_path / "out"
    out.mkdir()
    started = time.monotonic()
    proc = run_collector(out, "--timeout", "2", "--max-output", "100000", env=env)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 30
    docs = assert_valid(only_bundle(out))
    status = {e["id"]: e for e in docs["manifest.json"]["entries"]}
    assert status["uname-r"]["status"] == "timeout" and status["uname-a"]["status"] == "timeout"
    assert status["hostname"]["status"] == "truncated" and status["hostname"]["truncated"]
    assert status["hostname"]["files"][0]["size"] == 100000
    assert "hostname" not in docs["snapshot.json"]["system"]["sources"], "cut output must not feed the snapshot"


def test_skip_leaves_an_entry_out(tmp_path: Path) -> None:
    proc = run_collector(tmp_path, "--skip", "ss-nlpaxtudw,lsof-nPi", "-q")
    assert proc.returncode == 0
    entries = {e["id"]: e for e in assert_valid(only_bundle(tmp_path))["manifest.json"]["entries"]}
    assert entries["ss-nlpaxtudw"]["status"] == "skipped" and entries["lsof-nPi"]["status"] == "skipped"
    bad = run_collector(tmp_path, "--skip", "nonsense")
    assert bad.returncode == 2 and "no such entry" in bad.stderr


@pytest.fixture
def open_dir():
    """A directory other users can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="migsnap-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_unwritable_output_directory_is_refused_before_anything_runs(open_dir: Path) -> None:
    target = open_dir / "ro"
    target.mkdir()
    target.chmod(0o555)
    env = dict(os.environ)
    try:
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                               str(COLLECTOR), "-o", str(target)], capture_output=True, text=True, env=env)
    finally:
        target.chmod(0o755)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"migsnap: error: cannot write in {target}: Permission denied"
    assert list(target.iterdir()) == []


def test_existing_bundle_is_never_overwritten(tmp_path: Path) -> None:
    existing = tmp_path / "keep.tgz"
    existing.write_bytes(b"precious")
    proc = run_collector(existing)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert existing.read_bytes() == b"precious"


def test_runs_as_an_unprivileged_user_and_says_what_is_lost(open_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to nobody")
    out = open_dir / "nobody"
    out.mkdir()
    out.chmod(0o777)
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                           str(COLLECTOR), "-o", str(out), "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    manifest = assert_valid(only_bundle(out))["manifest.json"]
    assert manifest["euid"] == 65534
    assert any("not root" in note for note in manifest["lost"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_leaves_no_bundle_and_no_temp_file(tmp_path: Path, signum: int) -> None:
    env = fake_bin(tmp_path, {"uname": "sleep 600"})
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, str(COLLECTOR), "-o", str(out), "--timeout", "120"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == (130 if signum == signal.SIGINT else 128 + signum)
    assert "no bundle written" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_raw_files_match_the_manifest_byte_for_byte(host_bundle: Path) -> None:
    manifest = bundle_documents(host_bundle)["manifest.json"]
    with tarfile.open(host_bundle) as tar:
        top = tar.getnames()[0].split("/")[0]
        for entry in manifest["entries"]:
            for record in entry["files"]:
                data = tar.extractfile(f"{top}/{record['name']}").read()
                assert hashlib.sha256(data).hexdigest() == record["sha256"]
                assert len(data) == record["size"]


def test_a_file_entry_copies_its_file_byte_for_byte(tmp_path: Path) -> None:
    """A file the test controls (a live /var/lib/apt/extended_states changes when apt runs):
    bytes that are no text, NULs, CR LF and no final newline are copied as they are."""
    path = tmp_path / "extended_states"
    data = b"Package: caf\xc3\xa9\r\nArchitecture: amd64\x00\xff\xfe\nAuto-Installed: 1"
    path.write_bytes(data)
    capture = migsnap.Capture(("apt-extended-states", "packages", migsnap.FILE, str(path),
                               "parse_apt_extended_states"))
    runner = migsnap.Runner(30.0, 1 << 20, migsnap.command_env(os.environ))
    result = runner.run(capture)
    assert result.status == "ok" and result.raw == [("raw/apt-extended-states.out", "file", str(path), data)]


# --- more faults of the host: disk, PATH, bytes, locale, vanishing processes ---------------------------

def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a small tmpfs privately")
    disk = tmp_path / "tiny"
    disk.mkdir()
    script = (f"mount -t tmpfs -o size=48k tmpfs {disk} && {sys.executable} {COLLECTOR} -q -o {disk}; "
              f"echo rc=$?; ls -A {disk}")
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout.splitlines()
    assert "rc=2" in out, proc.stdout + proc.stderr
    assert out[out.index("rc=2") + 1:] == [], "no partial bundle, no temp file"
    assert proc.stderr.strip().startswith("migsnap: error: writing ") and "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_path_without_sbin_still_finds_the_admin_tools(tmp_path: Path) -> None:
    env = dict(os.environ, PATH="/usr/bin:/bin")
    proc = run_collector(tmp_path, "-q", env=env)
    assert proc.returncode == 0
    entries = {e["id"]: e for e in assert_valid(only_bundle(tmp_path))["manifest.json"]["entries"]}
    sbin = [e for e in entries.values() if (e["executable"] or "").startswith(("/sbin/", "/usr/sbin/"))]
    assert sbin, "tools from /sbin and /usr/sbin were found although PATH lacked them"
    assert entries["runlevel"]["status"] != "missing"


def test_non_utf8_bytes_and_terminal_escapes_are_kept_and_defused(tmp_path: Path) -> None:
    env = fake_bin(tmp_path, {"hostname": r"printf 'web\377\376\033[31mred\033]0;title\007\n'"})
    out = tmp_path / "out"
    out.mkdir()
    assert run_collector(out, "-q", env=env).returncode == 0
    bundle = only_bundle(out)
    docs = assert_valid(bundle)
    with tarfile.open(bundle) as tar:
        top = tar.getnames()[0].split("/")[0]
        raw = tar.extractfile(f"{top}/raw/hostname.out").read()
    assert raw == b"web\xff\xfe\x1b[31mred\x1b]0;title\x07\n", "raw output kept byte for byte"
    assert "\ufffd" in docs["snapshot.json"]["system"]["hostname"]
    from typer.testing import CliRunner
    from migdiff.cli import app
    shown = CliRunner().invoke(app, ["show", str(bundle), "-s", "system"])
    assert shown.exit_code == 0 and "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "\\x1b[31mred" in shown.stdout


@pytest.mark.parametrize("locale", ["tr_TR.UTF-8", "xx_XX.broken", "C.UTF-8", "POSIX"])
def test_an_odd_locale_changes_nothing(tmp_path: Path, locale: str) -> None:
    env = dict(os.environ, LANG=locale, LC_ALL=locale, LC_CTYPE=locale, LANGUAGE="tr")
    proc = run_collector(tmp_path, "-q", env=env)
    assert proc.returncode == 0, proc.stderr
    manifest = assert_valid(only_bundle(tmp_path))["manifest.json"]
    assert manifest["settings"]["locale"] == "C"
    probe = runner().run(capture(["sh", "-c", "echo $LC_ALL $LANG ${LANGUAGE:-unset} ${LC_CTYPE:-unset}"]))
    assert probe.raw[0][3] == b"C C unset unset\n"


def test_processes_vanishing_mid_read_are_recorded(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    alive = os.getpid()
    listen = migsnap.capture_by_id("listen-procs")
    result = runner().run(listen, {migsnap.PIDS: [gone.pid, alive]})
    assert result.status == "ok"
    data, warnings = migsnap.run_parser(listen, result.parser_input())
    by_pid = {p["pid"]: p for p in data}
    assert by_pid[gone.pid]["exe"] is None and by_pid[gone.pid]["errors"]
    assert by_pid[alive]["exe"] == os.path.realpath(sys.executable) and not warnings


def test_redact_needs_a_real_key_and_never_records_it(tmp_path: Path) -> None:
    bad = run_collector(tmp_path, "--redact")
    assert bad.returncode == 2 and "key" in bad.stderr and list(tmp_path.iterdir()) == []
    proc = run_collector(tmp_path, "-q", "--redact-key", "correct horse battery staple")
    assert proc.returncode == 0, proc.stderr
    bundle = only_bundle(tmp_path)
    assert socket_hostname() not in bundle.name
    docs = assert_valid(bundle)
    assert docs["manifest.json"]["redaction"]["applied"] is True
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            if member.isfile():
                assert b"correct horse" not in tar.extractfile(member).read(), member.name


def socket_hostname() -> str:
    import socket
    return socket.gethostname()


def test_pseudonyms_match_across_interpreters(tmp_path: Path) -> None:
    """Old and new hosts run different Pythons: the same key must give the same pseudonyms."""
    oldest = [p for p in INTERPRETERS if p.parent.parent.name.startswith("2.")]
    if not oldest:
        pytest.skip("no Python 2 interpreter here")
    names = []
    for i, python in enumerate([oldest[0], Path(sys.executable)]):
        out = tmp_path / str(i)
        out.mkdir()
        assert run_collector(out, "-q", "--redact-key", "same key everywhere", python=str(python)).returncode == 0
        manifest = assert_valid(only_bundle(out))["manifest.json"]
        names.append((manifest["hostname"], only_bundle(out).name.split("-")[1]))
    assert names[0] == names[1]


def test_a_failed_command_says_its_exit_code_and_first_stderr_line(tmp_path: Path) -> None:
    env = fake_bin(tmp_path, {"hostname": "echo 'hostname: cannot open /etc/mystery' >&2; echo second >&2; exit 3"})
    out = tmp_path / "out"
    out.mkdir()
    proc = run_collector(out, "--jobs", "2", env=env)
    assert proc.returncode == 0, proc.stderr
    line = next(row for row in proc.stderr.splitlines() if "] hostname " in row)
    assert "failed: exit 3, hostname: cannot open /etc/mystery (" in line, line
    assert "second" not in line
    wrote = proc.stderr.strip().splitlines()[-1]
    assert wrote.startswith("migsnap: wrote ") and " 0 failed" not in wrote, wrote

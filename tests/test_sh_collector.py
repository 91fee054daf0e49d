"""migsnap.sh, the POSIX sh twin of the collector (issue 15): generated from migsnap.py's table and
checked to be current; run for real under dash, bash, busybox sh and mksh, in a Debian minbase root
without Python and in a root holding nothing but busybox; its snapshot compared with migsnap.py's
on the same host; and the host faults migsnap.py survives (hang, flood, read-only or full disk,
signals, an existing file).

A bundle of migsnap.sh holds raw files and a manifest only: here it is parsed with migsnap.py's
parsers and normalizer, as `migdiff complete` does.  No test depends on timing but for generous
deadlines that only catch a hang; every process a test starts is ended.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

import migsnap
from conftest import COLLECTOR, REPO, end_process, fake_bin, only_bundle, run_collector
from migdiff.bundle import read_bundle
from migdiff.validate import validate

SH = REPO / "snapshot" / "migsnap.sh"
HOSTLAB = REPO / "tests" / "hostlab" / "hostlab.sh"
ROOTS = Path(os.environ.get("MIGDIFF_HOSTLAB_DIR", "/var/tmp/migdiff-hostlab"))
DEADLINE = 240  # seconds: only there to turn a hang into a failure
IN_CI = bool(os.environ.get("CI"))
SHELLS = {"dash": ["dash"], "bash": ["bash"], "busybox": ["busybox", "sh"], "mksh": ["mksh"]}
# the entries a fault test does not need: what is left runs in a second
SLOW = ["service-status-all", "systemctl-unit-files-service", "systemctl-unit-files-target", "lsof-nPi",
        "dpkg-l", "dpkg-query", "rpm-qa", "rpm-qa-qf", "netstat-nlp", "ss-nlpaxtudw", "ss-ntup", "netstat-ntp",
        "files-dpkg-S", "files-rpm-qf", "systemctl-units-service", "systemctl-units-target",
        "systemctl-deps-default", "systemctl-deps-multi-user", "systemctl-timers"]


def shell(name: str) -> list[str]:
    argv = SHELLS[name]
    if not shutil.which(argv[0]):
        if IN_CI:
            pytest.fail(f"{argv[0]} is not installed (.ci/run installs it)")
        pytest.skip(f"{argv[0]} is not installed")
    return argv


def run_sh(out: Path, *args: str, sh: str = "dash", env: dict | None = None, script: Path = SH,
           timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    return subprocess.run([*shell(sh), str(script), "-o", str(out), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def reparse(path: Path) -> tuple[dict, list, dict]:
    """(manifest, results, snapshot) of a raw-only bundle, parsed with migsnap.py's parsers as
    migdiff's trust.reparse does."""
    files = members(path)
    manifest = json.loads(files["manifest.json"])
    results = []
    for entry in manifest["entries"]:
        result = migsnap.Result(migsnap.capture_by_id(entry["id"]))
        for attr in ("status", "exit_code", "error", "duration", "truncated", "argv", "executable"):
            setattr(result, attr, entry[attr])
        result.raw = [(f["name"], f["role"], f["path"], files[f["name"]]) for f in entry["files"]]
        migsnap.apply_parser(result)
        results.append(result)
    snapshot = migsnap.normalize(migsnap.complete_data(results))
    snapshot["collector_version"] = migsnap.__version__
    return manifest, results, snapshot


def assert_valid(path: Path) -> dict:
    """The bundle validates with migdiff, its manifest has the sh collector's facts, its records
    match the raw files, and every entry re-parses without a parser error."""
    result = validate(read_bundle(str(path)))
    assert result.ok, result.reasons
    manifest, results, _ = reparse(path)
    assert manifest["collector"]["name"] == "migsnap.sh" and manifest["python"] is None
    assert manifest["parsing"] == {"where": "none"} and "parsed.json" not in members(path)
    assert [e["id"] for e in manifest["entries"]] == [c.id for c in migsnap.captures()]
    assert [r.capture.id for r in results if r.parse_error] == []
    return manifest


def entries(manifest: dict) -> dict[str, dict]:
    return {e["id"]: e for e in manifest["entries"]}


# --- generated, current, portable ---------------------------------------------------------------

def test_the_committed_script_is_the_generated_one() -> None:
    assert SH.read_text() == migsnap.sh_twin(), (
        "snapshot/migsnap.sh is not what migsnap.py generates: run "
        "`python snapshot/migsnap.py --emit-sh > snapshot/migsnap.sh` and commit it")
    assert SH.stat().st_mode & 0o777 == 0o755


def test_the_table_is_rendered_not_copied() -> None:
    text = SH.read_text()
    rows = [line.split()[2] for line in text.splitlines() if line.startswith("\trow ")]
    assert rows == [c.id for c in migsnap.captures()]
    assert f"VERSION={migsnap.__version__}\n" in text


def test_the_files_it_asks_owners_of_are_those_of_workload_files() -> None:
    """migsnap.sh finds FILES without parsers, in the entries workload_files reads: if that
    function starts reading another entry, derive_files in the sh runtime must follow."""
    readers = set()
    for c in migsnap.captures():
        row = {"file": "/x/" + c.id, "type": "file"}
        try:
            if migsnap.workload_files({c.id: [row]}):
                readers.add(c.id)
        except (KeyError, TypeError):
            pass
    assert readers == {"systemd-local", "init-scripts", "cron-files", "upstart-jobs", "cron-scripts"}


def test_shellcheck_finds_nothing() -> None:
    if not shutil.which("shellcheck"):
        if IN_CI:
            pytest.fail("shellcheck is not installed (.ci/run installs it)")
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run(["shellcheck", "-s", "sh", str(SH)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("sh", sorted(SHELLS))
def test_list_version_and_help_match_the_python_collector(sh: str, tmp_path: Path) -> None:
    proc = subprocess.run([*shell(sh), str(SH), "--list"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == migsnap.table_text()
    version = subprocess.run([*shell(sh), str(SH), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"migsnap.sh {migsnap.__version__} (bundle format {migsnap.FORMAT_VERSION})"
    help_text = subprocess.run([*shell(sh), str(SH), "--help"], capture_output=True, text=True).stdout
    for option in ("--list", "--output", "--timeout", "--max-output", "--jobs", "--skip", "--quiet"):
        assert option in help_text
    redact = subprocess.run([*shell(sh), str(SH), "--redact"], capture_output=True, text=True, cwd=tmp_path)
    assert redact.returncode == 2 and "migdiff redact" in redact.stderr
    bad = subprocess.run([*shell(sh), str(SH), "--skip", "nonsense"], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "no such entry: nonsense" in bad.stderr
    assert list(tmp_path.iterdir()) == []


# --- real runs on this machine ------------------------------------------------------------------

@pytest.mark.parametrize("sh", sorted(SHELLS))
def test_a_run_under_each_shell_writes_a_valid_bundle(sh: str, tmp_path: Path) -> None:
    proc = run_sh(tmp_path, sh=sh)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.splitlines()[-1].startswith("migsnap: wrote ")
    manifest = assert_valid(only_bundle(tmp_path))
    assert manifest["shell"]["name"] == sh and manifest["euid"] == os.geteuid()
    assert manifest["hashes"]["tool"] == "sha256sum"
    assert manifest["collector"]["sha256"] == migsnap.sha256_hex(SH.read_bytes())
    ran = entries(manifest)
    assert ran["uname-r"]["status"] == "ok" and ran["etc-passwd"]["status"] == "ok"
    assert ran["uname-r"]["files"][0]["size"] == len(os.uname().release) + 1


def test_the_same_host_gives_the_same_snapshot_as_the_python_collector(tmp_path: Path) -> None:
    """migsnap.py and migsnap.sh back to back on this machine: snapshot.json and the snapshot
    the Python normalizer makes of the sh bundle's raw files are the same."""
    py_out, sh_out = tmp_path / "py", tmp_path / "sh"
    py_out.mkdir()
    sh_out.mkdir()
    assert run_collector(py_out, "-q").returncode == 0
    assert run_sh(sh_out, "-q").returncode == 0
    with tarfile.open(only_bundle(py_out)) as tar:
        python = json.load(tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("/snapshot.json"))))
    _, _, snapshot = reparse(only_bundle(sh_out))
    assert snapshot == python


# --- host faults ----------------------------------------------------------------------------------

def test_hung_and_flooding_commands_are_killed_and_capped(tmp_path: Path) -> None:
    env = fake_bin(tmp_path, {"uname": "sleep 600", "hostname": "head -c 5000000 /dev/zero | tr '\\0' x"})
    (tmp_path / "out").mkdir()
    proc = run_sh(tmp_path / "out", "--timeout", "2",
                  "--max-output", "100000", *[a for s in SLOW for a in ("--skip", s)], env=env)
    assert proc.returncode == 0, proc.stderr
    manifest = assert_valid(only_bundle(tmp_path / "out"))
    ran = entries(manifest)
    assert ran["uname-r"]["status"] == "timeout" and ran["uname-r"]["error"] == "killed after 2s"
    assert ran["uname-r"]["exit_code"] == -9
    assert ran["hostname"]["status"] == "truncated" and ran["hostname"]["truncated"]
    assert ran["hostname"]["files"][0]["size"] == 100000
    _, _, snapshot = reparse(only_bundle(tmp_path / "out"))
    assert "hostname" not in snapshot["system"]["sources"], "cut output must not feed the snapshot"


def test_a_command_that_closes_its_pipes_and_hangs_is_killed_at_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    env = fake_bin(tmp_path, {"hostname": f"echo started; echo $$ > {pidfile}; exec >&- 2>&-; exec sleep 300"})
    out = tmp_path / "out"
    out.mkdir()
    try:
        proc = run_sh(out, "-q", "--timeout", "3", *[a for s in SLOW for a in ("--skip", s)], env=env)
    finally:
        left_running = end_process(pidfile, "sleep")
    assert proc.returncode == 0, proc.stderr
    assert not left_running, "the helper was killed at the timeout, not left behind"
    ran = entries(assert_valid(only_bundle(out)))
    assert ran["hostname"]["status"] == "timeout" and "killed after 3s" in ran["hostname"]["error"]
    assert ran["hostname"]["files"][0]["size"] == len(b"started\n"), "what it wrote before is kept"


def test_statuses_follow_the_python_runner(tmp_path: Path) -> None:
    env = fake_bin(tmp_path, {"hostname": "echo 'hostname: cannot open /etc/mystery' >&2; exit 3",
                              "atq": "exit 1", "runlevel": "exit 127", "uname": "printf 'web\\377\\033[31m\\n'"})
    out = tmp_path / "out"
    out.mkdir()
    proc = run_sh(out, *[a for s in SLOW for a in ("--skip", s)], "--skip", "who-r", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "hostname                       failed: exit 3, hostname: cannot open /etc/mystery" in proc.stderr
    ran = entries(assert_valid(only_bundle(out)))
    assert (ran["hostname"]["status"], ran["hostname"]["exit_code"]) == ("failed", 3)
    assert (ran["atq"]["status"], ran["atq"]["exit_code"]) == ("ok", 1), "atq's 1 means no job"
    assert ran["runlevel"]["status"] == "missing"
    assert ran["chkconfig-list"]["status"] == "missing" and ran["chkconfig-list"]["error"] == "chkconfig: command not found"
    assert ran["who-r"]["status"] == "skipped" and ran["who-r"]["error"] == "--skip"
    assert ran["redhat-release"]["status"] == "absent" and ran["redhat-release"]["files"] == []
    assert members(only_bundle(out))["raw/uname-a.out"] == b"web\xff\x1b[31m\n", "bytes kept as they are"


def test_an_unwritable_output_directory_is_refused_before_anything_runs(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as nobody")
    base = Path("/tmp") / f"migsnap-sh-ro-{os.getpid()}"
    target = base / "ro"
    target.mkdir(parents=True)
    base.chmod(0o755)
    target.chmod(0o555)
    try:
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *shell("dash"),
                               str(SH), "-o", str(target)], capture_output=True, text=True, timeout=DEADLINE)
        assert proc.returncode == 2
        assert proc.stderr.strip() == f"migsnap: error: cannot write in {target}: Permission denied"
        assert list(target.iterdir()) == []
    finally:
        shutil.rmtree(base)


def test_an_existing_file_is_never_replaced(tmp_path: Path) -> None:
    existing = tmp_path / "keep.tgz"
    existing.write_bytes(b"precious")
    proc = run_sh(existing)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert existing.read_bytes() == b"precious" and [p.name for p in tmp_path.iterdir()] == ["keep.tgz"]


def test_a_file_that_appears_at_the_final_name_during_the_run_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "b.tgz"
    env = fake_bin(tmp_path, {"hostname": f"echo intruder > {target}; echo h"})
    out_dir_before = set(tmp_path.iterdir())
    proc = run_sh(target, *[a for s in SLOW for a in ("--skip", s)], env=env)
    assert proc.returncode == 2 and "appeared while this run was working" in proc.stderr
    assert target.read_text() == "intruder\n"
    assert set(tmp_path.iterdir()) == out_dir_before | {target}, "no temp file left"


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a small tmpfs privately")
    disk = tmp_path / "tiny"
    disk.mkdir()
    script = f"mount -t tmpfs -o size=48k tmpfs {disk} && dash {SH} -q -o {disk}; echo rc=$?; ls -A {disk}"
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=DEADLINE)
    out = proc.stdout.splitlines()
    assert "rc=2" in out, proc.stdout + proc.stderr
    assert out[out.index("rc=2") + 1:] == [], "no partial bundle, no work folder"
    assert proc.stderr.strip().startswith("migsnap: error: writing ") and "No space left" in proc.stderr


@pytest.mark.parametrize("sh", sorted(SHELLS))
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["INT", "TERM", "HUP"])
def test_a_signal_during_the_run_ends_it_and_writes_nothing(sh: str, signum: int, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    env = fake_bin(tmp_path, {"uname": f"echo $$ > {pidfile}; exec sleep 600"})
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([*shell(sh), str(SH), "-o", str(out), "--timeout", "120"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pidfile.exists(), "the hung command started"
        time.sleep(0.2)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        left_running = end_process(pidfile, "sleep")
    assert proc.returncode == 128 + signum, err
    last = err.strip().splitlines()[-1]
    assert last == ("migsnap: interrupted; no bundle written" if signum == signal.SIGINT
                    else f"migsnap: terminated by signal {int(signum)}; no bundle written")
    assert not left_running, "the running command was killed with the run"
    assert list(out.iterdir()) == []


# --- a host with listeners and a connection, and hosts without Python -----------------------------

def needs_root_and(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if os.geteuid() != 0 or missing:
        pytest.skip(f"needs root and {', '.join(tools)}")


EQUAL_RUN = """ip link set lo up
python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &
python3 -c 'import socket, time; time.sleep(0.5); c = socket.create_connection(("127.0.0.1", 8765)); time.sleep(60)' &
python3 -c 'import socket, time; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("{out}/log.sock"); time.sleep(60)' syslogd-like &
sleep 1.5
{python} {collector} -q -o {out}/py
dash {sh} -q -o {out}/sh
"""


def test_listeners_and_their_processes_are_found_as_the_python_collector_finds_them(tmp_path: Path) -> None:
    """In private net, pid and mount namespaces: a listening server, a client holding a connection
    to it, and a process whose only socket is a named unix datagram one (a syslog daemon's /dev/log).
    Both collectors back to back: the same PIDS (listen-procs byte for byte), the same EXES
    (listen-dpkg-S byte for byte), the same snapshot."""
    needs_root_and("unshare", "ip", "python3")
    (tmp_path / "py").mkdir()
    (tmp_path / "sh").mkdir()
    script = EQUAL_RUN.format(python=sys.executable, collector=COLLECTOR, out=tmp_path, sh=SH)
    proc = subprocess.run(["unshare", "--net", "--pid", "--mount", "--fork", "--mount-proc", "sh", "-c", script],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert proc.returncode == 0, proc.stderr
    python, sh = only_bundle(tmp_path / "py"), only_bundle(tmp_path / "sh")
    py_files, sh_files = members(python), members(sh)
    assert b"\targ\thttp.server\n" in sh_files["raw/listen-procs.out"]
    assert b"\targ\tsyslogd-like\n" in sh_files["raw/listen-procs.out"]
    assert sh_files["raw/listen-procs.out"] == py_files["raw/listen-procs.out"]
    assert sh_files.get("raw/listen-dpkg-S.out") == py_files.get("raw/listen-dpkg-S.out")
    assert reparse(sh)[2] == json.loads(py_files["snapshot.json"])


def test_a_root_holding_only_busybox(tmp_path: Path) -> None:
    """busybox-static's binary and its applet links as the whole userland: the commands that are no
    applets are missing, busybox's own netstat and who refuse the table's options (failed), the
    hashes come from `busybox sha256sum`, and the bundle validates."""
    needs_root_and("unshare", "chroot")
    busybox = Path("/bin/busybox")
    if not busybox.exists() or b"statically linked" not in subprocess.run(
            ["file", "-L", str(busybox)], capture_output=True).stdout and shutil.which("file"):
        pytest.skip("needs busybox-static's /bin/busybox")
    root = tmp_path / "root"
    for d in ("bin", "proc", "tmp", "etc", "dev", "out"):
        (root / d).mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in subprocess.run([str(busybox), "--list"], capture_output=True, text=True).stdout.split():
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    shutil.copy2(SH, root / "tmp" / "migsnap.sh")
    script = (f"mknod -m 666 {root}/dev/null c 1 3 && hostname bbhost && mount -t proc proc {root}/proc && "
              f"chroot {root} /bin/sh /tmp/migsnap.sh -q -o /out")
    proc = subprocess.run(["unshare", "--mount", "--pid", "--uts", "--net", "--fork", "sh", "-c", script],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert proc.returncode == 0, proc.stderr
    manifest = assert_valid(only_bundle(root / "out"))
    assert manifest["shell"] == {"executable": "/bin/busybox", "name": "busybox"}
    assert manifest["hashes"] == {"tool": "busybox sha256sum"} and manifest["hostname"] == "bbhost"
    ran = entries(manifest)
    assert {i for i in ("uname-r", "hostname", "etc-passwd", "pid1-comm", "proc-net-tcp") if ran[i]["status"] == "ok"} \
        == {"uname-r", "hostname", "etc-passwd", "pid1-comm", "proc-net-tcp"}
    assert all(ran[i]["status"] == "missing" for i in ("ss-nlpaxtudw", "systemctl-get-default", "lsof-nPi", "sshd-T"))


MINBASE = ROOTS / "minbase12"


@pytest.fixture(scope="session")
def minbase12() -> Path:
    """`debootstrap --variant=minbase bookworm`, nothing else: a Debian without Python."""
    if not (MINBASE / "etc" / "debian_version").exists():
        needs_root_and("debootstrap", "unshare", "chroot")
        work = MINBASE.with_name("minbase12.partial")
        shutil.rmtree(work, ignore_errors=True)
        cache = ["--cache-dir=/var/cache/migdiff-hostlab/debs"] * Path("/var/cache/migdiff-hostlab/debs").is_dir()
        subprocess.run(["debootstrap", "--variant=minbase", *cache, "bookworm", str(work), "http://deb.debian.org/debian"],
                       check=True, capture_output=True, timeout=1800)
        work.rename(MINBASE)
    return MINBASE


def test_a_debian_minbase_root_without_python(minbase12: Path, tmp_path: Path) -> None:
    needs_root_and("unshare", "chroot")
    assert not list((minbase12 / "usr" / "bin").glob("python*")), "minbase has no Python"
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy2(SH, out / "migsnap.sh")
    script = (f"hostname minbase12 && mount -t proc proc {minbase12}/proc && mount --bind {out} {minbase12}/mnt && "
              "chroot {root} /bin/sh /mnt/migsnap.sh -q -o /mnt").replace("{root}", str(minbase12))
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "--pid", "--uts", "--net", "--fork",
                           "sh", "-c", script], capture_output=True, text=True, timeout=DEADLINE)
    assert proc.returncode == 0, proc.stderr
    manifest = assert_valid(only_bundle(out))
    assert manifest["shell"]["name"] == "dash" and manifest["hashes"] == {"tool": "sha256sum"}
    ran = entries(manifest)
    for ok in ("os-release", "dpkg-l", "dpkg-query", "init-scripts", "cron-files", "files-dpkg-S", "etc-passwd"):
        assert ran[ok]["status"] == "ok", ran[ok]
    _, _, snapshot = reparse(only_bundle(out))
    assert snapshot["system"]["distro_id"] == "debian" and len(snapshot["packages"]) > 50


@pytest.mark.parametrize("sh", sorted(SHELLS))
@pytest.mark.parametrize("key", [b"a site key of ours\n", bytes(range(256)) * 2 + b"long"], ids=["short", "long"])
def test_a_signed_run_is_verified_with_the_key_and_refused_with_another(sh: str, key: bytes, tmp_path: Path) -> None:
    """--sign-key-file: the sh collector's signature.json is the Python collector's (HMAC-SHA256 of
    manifest.json with the site key), computed with the host's sha256 tool alone, a key over 64
    bytes hashed first as RFC 2104 says; the key is on no command line."""
    key_file, other = tmp_path / "site.key", tmp_path / "other.key"
    key_file.write_bytes(key)
    other.write_bytes(b"somebody else's key\n")
    out = tmp_path / "out"
    out.mkdir()
    proc = run_sh(out, "--sign-key-file", str(key_file), "--skip", ",".join(SLOW), sh=sh)
    assert proc.returncode == 0, proc.stderr
    bundle = only_bundle(out)
    files = members(bundle)
    signature = json.loads(files["signature.json"])
    assert signature == migsnap.manifest_signature(files["manifest.json"], key.strip())
    from migdiff.trust import read_key
    assert validate(read_bundle(str(bundle)), verify_key=read_key(key_file)).ok
    refused = validate(read_bundle(str(bundle)), verify_key=read_key(other))
    assert not refused.ok and "not with the key given" in " ".join(refused.reasons)
    assert "openssl" not in SH.read_text().split("hmac() {", 1)[1].split("\n}", 1)[0]
"""The collector when its run goes wrong (issue 12): hung helpers, signals at any moment, a progress
reader that goes away, two runs into one folder, odd option values, and the optional signature.

Every test runs the collector under this Python and under Python 2.7 (the servers it is carried to
run old interpreters): the fixes live in one file that both must run.  No test depends on timing
but for generous deadlines that only catch a hang; every process a test starts is ended.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import migsnap
from conftest import COLLECTOR, bundle_documents, end_process, fake_bin, only_bundle, run_collector
from migdiff.bundle import read_bundle
from migdiff.validate import validate

PYENV = Path(os.path.expanduser("~root/.pyenv/versions"))
PY27 = sorted(PYENV.glob("2.7*/bin/python")) if PYENV.is_dir() else []
PYTHONS = [pytest.param(sys.executable, id="py3")] + [pytest.param(str(PY27[0]), id="py2.7")] * bool(PY27)
ENTRIES = [c.id for c in migsnap.captures()]
HANG_DEADLINE = 240  # seconds: only there to turn a hang into a failure, never reached by a good run


def assert_valid(path: Path) -> dict:
    result = validate(read_bundle(str(path)))
    assert result.ok, result.reasons
    return bundle_documents(path)


def stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


DRIVER = r"""
import os, signal, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import migsnap
hook = sys.argv[2]
if hook.startswith("parse:"):  # a signal arrives while the collector parses an entry
    signum = int(hook.split(":")[1])
    real = migsnap.parse_value
    def parse_value(text):
        os.kill(os.getpid(), signum)
        for _ in range(500):
            time.sleep(0.01)
        return real(text)
    migsnap.parse_value = parse_value
elif hook.startswith("publish:"):  # a signal while the finished bundle is put at its name
    signum = int(hook.split(":")[1])
    real_publish = migsnap.publish
    def publish(tmp, final):
        os.kill(os.getpid(), signum)
        return real_publish(tmp, final)
    migsnap.publish = publish
elif hook.startswith("wrote:"):  # a signal once the bundle is in place, as the run says so
    signum = int(hook.split(":")[1])
    real_emit = migsnap.emit
    def emit(name, text):
        if text.startswith("migsnap: wrote"):
            os.kill(os.getpid(), signum)
            time.sleep(5)
        return real_emit(name, text)
    migsnap.emit = emit
elif hook == "nolink":  # a file system without hard links (FAT on a USB stick)
    import errno
    def link(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")
    os.link = link
sys.exit(migsnap.main(sys.argv[3:]))
"""


def drive(python: str, hook: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """migsnap.main(args) under `python`, with one of DRIVER's hooks in place."""
    return subprocess.run([python, "-c", DRIVER, str(COLLECTOR), hook, *args], capture_output=True, text=True,
                          env=env, timeout=HANG_DEADLINE)


# --- a command that closes its pipes and hangs ------------------------------------------------------

@pytest.mark.parametrize("python", PYTHONS)
def test_a_command_that_closes_its_pipes_and_hangs_is_killed_at_the_timeout(python: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    env = fake_bin(tmp_path, {"hostname": f"echo started; echo $$ > {pidfile}; exec >&- 2>&-; exec sleep 300"})
    out = tmp_path / "out"
    out.mkdir()
    try:
        proc = run_collector(out, "-q", "--timeout", "3", python=python, env=env, timeout=HANG_DEADLINE)
    finally:
        left_running = end_process(pidfile, "sleep")
    assert proc.returncode == 0, proc.stderr
    assert not left_running, "the helper was killed at the timeout, not left behind"
    entries = {e["id"]: e for e in assert_valid(only_bundle(out))["manifest.json"]["entries"]}
    assert entries["hostname"]["status"] == "timeout" and "killed after 3s" in entries["hostname"]["error"]
    assert entries["hostname"]["files"][0]["size"] == len(b"started\n"), "what it wrote before is kept"


# --- signals --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_while_parsing_ends_the_run_and_writes_nothing(python: str, signum: int, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = drive(python, f"parse:{int(signum)}", "-o", str(out))
    assert proc.returncode == 128 + signum, proc.stderr
    assert f"terminated by signal {int(signum)}; no bundle written" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("python", PYTHONS)
def test_a_signal_while_the_bundle_is_put_in_place_leaves_nothing(python: str, tmp_path: Path) -> None:
    """The signal waits until the link is made, then the bundle is taken away again: 143, nothing."""
    out = tmp_path / "out"
    out.mkdir()
    proc = drive(python, "publish:%d" % signal.SIGTERM, "-o", str(out))
    assert proc.returncode == 143, proc.stderr
    assert stderr_lines(proc.stderr)[-1] == "migsnap: terminated by signal 15; no bundle written"
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("python", PYTHONS)
def test_a_signal_after_the_bundle_is_in_place_keeps_it(python: str, tmp_path: Path) -> None:
    """Once the bundle is at its name the run has succeeded: a signal only cuts the last line short."""
    out = tmp_path / "out"
    out.mkdir()
    proc = drive(python, "wrote:%d" % signal.SIGTERM, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "no bundle written" not in proc.stderr
    assert [e["id"] for e in assert_valid(only_bundle(out))["manifest.json"]["entries"]] == ENTRIES
    assert [p.name for p in out.iterdir()] == [only_bundle(out).name], "no temp file left"


# Sends a signal at the n-th line the collector's own code runs (counted from its first line):
# moments all along its start, not a moment a sleep happens to hit.  The first 12 lines set the
# handlers (docstring, imports of signal and sys, a loop of three); before them, and before the
# collector's first line, Python's own Ctrl-C handling is all there is.
AT_LINE = r"""
import os, runpy, signal, sys
collector, n, signum = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.argv = [collector] + sys.argv[4:]
seen = [0]
def local(frame, event, arg):
    if event == "line":
        seen[0] += 1
        if seen[0] == n:
            sys.settrace(None)
            os.kill(os.getpid(), signum)
            return None
    return local
def tracer(frame, event, arg):
    if seen[0] < n and frame.f_code.co_filename == collector:
        return local(frame, event, arg)
    return None
sys.settrace(tracer)
runpy.run_path(collector, run_name="__main__")
"""


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_any_moment_of_the_start_is_a_clean_exit(python: str, signum: int, tmp_path: Path) -> None:
    """Ctrl-C right after starting (while the collector imports, reads its options, sets up) ends
    with 130, or 143 for SIGTERM, one line and nothing written: never a traceback."""
    out = tmp_path / "out"
    out.mkdir()
    for n in (13, 16, 30, 60, 120, 250, 500, 1000, 2000, 4000):
        proc = subprocess.run([python, "-c", AT_LINE, str(COLLECTOR), str(n), str(int(signum)), "-o", str(out)],
                              capture_output=True, text=True, timeout=HANG_DEADLINE)
        assert "Traceback" not in proc.stderr, (n, proc.stderr)
        assert proc.returncode == 128 + signum, (n, proc.returncode, proc.stderr)
        assert stderr_lines(proc.stderr)[-1:] == [
            "migsnap: interrupted; no bundle written" if signum == signal.SIGINT
            else "migsnap: terminated by signal 15; no bundle written"], (n, proc.stderr)
        assert list(out.iterdir()) == [], n


# --- the reader of progress goes away -------------------------------------------------------------------

@pytest.mark.parametrize("python", PYTHONS)
def test_progress_that_cannot_be_written_costs_no_entry(python: str, tmp_path: Path) -> None:
    """`migsnap.py 2>&1 | head -3`: head leaves after three lines, the run goes on (hostname
    answers only after head has gone) and its bundle holds every entry, each with its status."""
    env = fake_bin(tmp_path, {"hostname": "sleep 2; echo slowhost"})
    out = tmp_path / "out"
    out.mkdir()
    rc = tmp_path / "rc"
    script = f'("$0" "{COLLECTOR}" -o "{out}" 2>&1; echo $? > "{rc}") | head -3'
    proc = subprocess.run(["sh", "-c", script, python], capture_output=True, text=True, env=env,
                          timeout=HANG_DEADLINE)
    assert len(proc.stdout.splitlines()) == 3
    assert rc.read_text().strip() == "0"
    manifest = assert_valid(only_bundle(out))["manifest.json"]
    assert [e["id"] for e in manifest["entries"]] == ENTRIES
    assert {e["id"]: e["status"] for e in manifest["entries"]}["hostname"] == "ok"
    assert not [e for e in manifest["entries"] if "pipe" in (e["error"] or "").lower()]


@pytest.mark.parametrize("python", PYTHONS)
def test_quiet_with_a_closed_stdout_still_writes_the_bundle(python: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(["sh", "-c", '"$0" "$@" >&-', python, str(COLLECTOR), "-q", "-o", str(out)],
                          capture_output=True, text=True, timeout=HANG_DEADLINE)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    bundle = only_bundle(out)
    assert [e["id"] for e in assert_valid(bundle)["manifest.json"]["entries"]] == ENTRIES
    assert str(bundle) in proc.stderr, "the name that could not go to stdout is said on stderr"


# --- never replace a file --------------------------------------------------------------------------------

@pytest.mark.parametrize("python", PYTHONS)
def test_a_file_that_appears_at_the_final_name_during_the_run_is_kept(python: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    final = out / "b.tgz"
    env = fake_bin(tmp_path, {"hostname": f"printf precious > {final}; echo host"})
    proc = run_collector(final, python=python, env=env, timeout=HANG_DEADLINE)
    assert proc.returncode == 2, proc.stderr
    assert final.read_bytes() == b"precious"
    assert sorted(p.name for p in out.iterdir()) == ["b.tgz"], "no temp file left"
    errors = [line for line in stderr_lines(proc.stderr) if not line.startswith("migsnap: [")]
    assert errors == [f"migsnap: error: {final} appeared while this run was working; not replacing it "
                      f"(nothing written)"]


@pytest.mark.parametrize("python", PYTHONS)
def test_two_runs_into_one_file_at_once_never_replace_each_other(python: str, tmp_path: Path) -> None:
    """Both runs pass the start's check; hostname holds each back until the other got there too."""
    out = tmp_path / "out"
    out.mkdir()
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = fake_bin(tmp_path, {"hostname": f"touch {barrier}/$$; i=0; "
                                          f"while [ $(ls {barrier} | wc -l) -lt 2 ] && [ $i -lt 1200 ]; "
                                          f"do sleep 0.05; i=$((i+1)); done; echo host"})
    final = out / "b.tgz"
    runs = [subprocess.Popen([python, str(COLLECTOR), "-q", "-o", str(final)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        ends = [run.communicate(timeout=HANG_DEADLINE) for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, 2], ends
    loser = [err for run, (_, err) in zip(runs, ends) if run.returncode == 2][0]
    assert stderr_lines(loser) == [f"migsnap: error: {final} appeared while this run was working; "
                                   f"not replacing it (nothing written)"]
    winner = [o for run, (o, _) in zip(runs, ends) if run.returncode == 0][0]
    assert winner.strip() == str(final)
    assert_valid(final)
    assert sorted(p.name for p in out.iterdir()) == ["b.tgz"]


@pytest.mark.parametrize("python", PYTHONS)
def test_without_hard_links_the_bundle_is_still_published_without_replacing(python: str, tmp_path: Path) -> None:
    """FAT on a USB stick has no hard links: the bundle is copied into a file made with O_EXCL."""
    out = tmp_path / "out"
    out.mkdir()
    proc = drive(python, "nolink", "-q", "-o", str(out / "b.tgz"))
    assert proc.returncode == 0, proc.stderr
    assert [e["id"] for e in assert_valid(out / "b.tgz")["manifest.json"]["entries"]] == ENTRIES
    assert (out / "b.tgz").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in out.iterdir()) == ["b.tgz"]
    clash = tmp_path / "clash"
    clash.mkdir()
    env = fake_bin(tmp_path, {"hostname": f"printf precious > {clash}/b.tgz; echo host"})
    proc = drive(python, "nolink", "-q", "-o", str(clash / "b.tgz"), env=env)
    assert proc.returncode == 2, proc.stderr
    assert (clash / "b.tgz").read_bytes() == b"precious"
    assert sorted(p.name for p in clash.iterdir()) == ["b.tgz"]


# --- what --max-output, --timeout and friends may be given -----------------------------------------------

@pytest.mark.parametrize("python", PYTHONS)
def test_a_file_cut_by_max_output_is_truncated_and_kept_out_of_the_snapshot(python: str, tmp_path: Path) -> None:
    proc = run_collector(tmp_path, "-q", "--max-output", "60", python=python, timeout=HANG_DEADLINE)
    assert proc.returncode == 0, proc.stderr
    docs = assert_valid(only_bundle(tmp_path))
    entries = {e["id"]: e for e in docs["manifest.json"]["entries"]}
    for cid in ("etc-passwd", "os-release", "etc-default"):
        assert entries[cid]["status"] == "truncated" and entries[cid]["truncated"], entries[cid]
        assert "60 bytes" in entries[cid]["error"]
        assert docs["parsed.json"]["entries"][cid]["warnings"][0].startswith("output incomplete (truncated)")
    assert sum(f["size"] for f in entries["etc-default"]["files"]) <= 60
    assert not {"os-release", "usr-lib-os-release"} & set(docs["snapshot.json"]["system"]["sources"].values())


@pytest.mark.parametrize("python", PYTHONS)
def test_a_huge_max_output_is_no_limit_not_an_error(python: str, tmp_path: Path) -> None:
    proc = run_collector(tmp_path, "-q", "--max-output", "9" * 30, python=python, timeout=HANG_DEADLINE)
    assert proc.returncode == 0, proc.stderr
    entries = assert_valid(only_bundle(tmp_path))["manifest.json"]["entries"]
    assert not [e for e in entries if "Overflow" in (e["error"] or "") or e["status"] == "error"]


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("option, value", [("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "-1"),
                                           ("--max-output", "0"), ("--jobs", "0")])
def test_an_option_value_that_makes_no_sense_is_refused_before_anything_runs(
        python: str, option: str, value: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    env = fake_bin(tmp_path, {"hostname": f"touch {marker}; echo host"})
    out = tmp_path / "out"
    out.mkdir()
    proc = run_collector(out, option, value, python=python, env=env, timeout=HANG_DEADLINE)
    assert proc.returncode == 2
    assert option in stderr_lines(proc.stderr)[-1] and "Traceback" not in proc.stderr
    assert list(out.iterdir()) == [] and not marker.exists()


# --- signing ---------------------------------------------------------------------------------------------

def members_of(bundle: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(bundle) as tar:
        return [(m.name.split("/", 1)[-1], tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]


@pytest.mark.parametrize("python", PYTHONS)
def test_sign_key_file_signs_the_manifest_with_hmac(python: str, tmp_path: Path) -> None:
    key = b"the site's signing key \x00\xff"
    keyfile = tmp_path / "site.key"
    keyfile.write_bytes(key + b"\n")
    out = tmp_path / "out"
    out.mkdir()
    proc = run_collector(out, "-q", "--sign-key-file", str(keyfile), python=python, timeout=HANG_DEADLINE)
    assert proc.returncode == 0, proc.stderr
    files = members_of(only_bundle(out))
    assert [name for name, _ in files[-2:]] == ["manifest.json", migsnap.SIGNATURE_NAME], "the signature comes last"
    manifest, signature = files[-2][1], json.loads(files[-1][1])
    assert signature == migsnap.manifest_signature(manifest, key)
    assert migsnap.signature_valid(manifest, signature, key)
    assert not migsnap.signature_valid(manifest, signature, b"another key of the site")
    assert not any(key in data or key.hex().encode() in data for _, data in files)
    argv = json.loads(manifest)["argv"]
    assert "--sign-key-file" in argv and str(keyfile) in argv


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("case", ["missing", "short", "directory", "empty"])
def test_a_bad_sign_key_file_is_one_line_before_anything_runs(python: str, case: str, tmp_path: Path) -> None:
    keyfile = tmp_path / "site.key"
    if case == "short":
        keyfile.write_bytes(b"1234567\n")
    elif case == "directory":
        keyfile.mkdir()
    elif case == "empty":
        keyfile.write_bytes(b"")
    marker = tmp_path / "ran"
    env = fake_bin(tmp_path, {"hostname": f"touch {marker}; echo host"})
    out = tmp_path / "out"
    out.mkdir()
    proc = run_collector(out, "--sign-key-file", str(keyfile), python=python, env=env, timeout=HANG_DEADLINE)
    assert proc.returncode == 2
    lines = stderr_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"migsnap: error: --sign-key-file {keyfile}"), lines
    assert list(out.iterdir()) == [] and not marker.exists()

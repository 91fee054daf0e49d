"""migdiff's commands driven through typer's CliRunner: every command, every exit code, every bad input."""
from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import migsnap
from conftest import FIXTURES
from crafted import edit_json, members, rebuild, write_tgz
from migdiff import schema
from migdiff.cli import app, default_command

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(result, path: Path | str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert str(path) in lines[0]
    return lines[0]


# --- validate ------------------------------------------------------------------------------------

def test_validate_ok(host_bundle: Path) -> None:
    result = run("validate", host_bundle)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{host_bundle}: OK (host ")


def test_validate_flipped_byte_is_invalid(host_bundle: Path, tmp_path: Path) -> None:
    def flip(files):
        raw = bytearray(files["raw/uname-r.out"])
        raw[0] ^= 1
        files["raw/uname-r.out"] = bytes(raw)
    bad = rebuild(host_bundle, tmp_path / "flipped.tgz", flip)
    result = run("validate", host_bundle, bad)
    assert result.exit_code == 1
    ok, invalid = result.stdout.splitlines()
    assert ok.endswith(")") and ": OK" in ok
    assert invalid.startswith(f"{bad}: INVALID: raw/uname-r.out: sha256 does not match")


def test_validate_missing_and_extra_files(host_bundle: Path, tmp_path: Path) -> None:
    def change(files):
        del files["raw/uname-m.out"]
        files["raw/smuggled.sh"] = b"rm -rf /\n"
    result = run("validate", rebuild(host_bundle, tmp_path / "b.tgz", change))
    assert result.exit_code == 1
    assert "raw/uname-m.out: listed in the manifest but not in the bundle" in result.stdout
    assert "raw/smuggled.sh: in the bundle but not in the manifest" in result.stdout


def test_validate_schema_errors_carry_json_paths(host_bundle: Path, tmp_path: Path) -> None:
    def change(files):
        edit_json(files, "snapshot.json", lambda d: d["ports"].append({"protocol": "sctp"}))
    result = run("validate", rebuild(host_bundle, tmp_path / "s.tgz", change))
    assert result.exit_code == 1
    assert "snapshot.json $.ports[" in result.stdout


def test_validate_mixed_trouble_exits_2_but_reports_the_rest(host_bundle: Path, tmp_path: Path) -> None:
    result = run("validate", host_bundle, tmp_path / "nope.tgz")
    assert result.exit_code == 2
    assert ": OK" in result.stdout and "nope.tgz: no such file" in result.stderr


def test_newer_format_asks_for_an_upgrade(host_bundle: Path, tmp_path: Path) -> None:
    def change(files):
        edit_json(files, "manifest.json", lambda d: d.update(format_version=99))
    bad = rebuild(host_bundle, tmp_path / "future.tgz", change)
    line = one_error_line(run("validate", bad), bad)
    assert "upgrade migdiff" in line


# --- bad input: one line naming the file, exit 2, no traceback ----------------------------------

def bad_inputs(host_bundle: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    good = host_bundle.read_bytes()
    top, files = members(host_bundle)
    cases = {
        "missing file": (tmp / "absent.tgz", "no such file"),
        "directory": (tmp, "is a directory"),
        "not gzip": (tmp / "plain.tgz", "not a gzip file"),
        "truncated gzip": (tmp / "cut.tgz", "truncated"),
        "not a tar": (tmp / "notar.tgz", "not a tar archive"),
        "no manifest": (tmp / "nomanifest.tgz", "no manifest.json"),
        "manifest not JSON": (tmp / "badjson.tgz", "manifest.json is not valid JSON"),
        "wrong schema": (tmp / "schema.tgz", "snapshot.json $.system"),
        "another tool's bundle": (tmp / "other.tgz", "not a migsnap bundle"),
        "symlink member": (tmp / "link.tgz", "symlink"),
        "absolute path": (tmp / "abs.tgz", "absolute path"),
        "dot-dot path": (tmp / "dotdot.tgz", "'..'"),
    }
    (tmp / "plain.tgz").write_text("hello\n")
    (tmp / "cut.tgz").write_bytes(good[: len(good) // 2])
    (tmp / "notar.tgz").write_bytes(gzip.compress(b"just some text, no tar headers here\n" * 40))
    write_tgz(tmp / "nomanifest.tgz", [(f"{top}/raw/uname-r.out", files["raw/uname-r.out"])])
    write_tgz(tmp / "badjson.tgz", [(f"{top}/manifest.json", b"{not json")])
    rebuild(host_bundle, tmp / "schema.tgz",
            lambda f: edit_json(f, "snapshot.json", lambda d: d["system"].update(arch=7)))
    write_tgz(tmp / "other.tgz", [("sosreport-x/manifest.json", json.dumps({"format": "sos"}).encode())])
    link = tarfile.TarInfo()
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
    write_tgz(tmp / "link.tgz", [(f"{top}/raw/evil", link)])
    write_tgz(tmp / "abs.tgz", [("/etc/cron.d/evil", b"* * * * * root sh\n")])
    write_tgz(tmp / "dotdot.tgz", [(f"{top}/../../evil", b"x")])
    return cases


CASES = ["missing file", "directory", "not gzip", "truncated gzip", "not a tar", "no manifest",
         "manifest not JSON", "wrong schema", "another tool's bundle", "symlink member", "absolute path",
         "dot-dot path"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["diff", "show"])
def test_bad_input_is_one_line_and_exit_2(case: str, command: str, host_bundle: Path, tmp_path: Path) -> None:
    path, words = bad_inputs(host_bundle, tmp_path)[case]
    args = [command, path, host_bundle] if command == "diff" else [command, path]
    line = one_error_line(run(*args), path)
    assert words in line, line
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("case", [c for c in CASES if c != "wrong schema"])
def test_validate_bad_input_is_trouble(case: str, host_bundle: Path, tmp_path: Path) -> None:
    path, words = bad_inputs(host_bundle, tmp_path)[case]
    assert words in one_error_line(run("validate", path), path)


def test_wrong_schema_is_invalid_for_validate(host_bundle: Path, tmp_path: Path) -> None:
    path, _ = bad_inputs(host_bundle, tmp_path)["wrong schema"]
    result = run("validate", path)
    assert result.exit_code == 1 and "INVALID" in result.stdout and "$.system.arch" in result.stdout


def test_no_validate_forces_a_bundle_with_bad_checksums(host_bundle: Path, tmp_path: Path) -> None:
    def change(files):
        files["raw/uname-r.out"] = b"tampered\n"
    bad = rebuild(host_bundle, tmp_path / "t.tgz", change)
    assert run("diff", bad, host_bundle).exit_code == 2
    assert run("diff", "--no-validate", bad, host_bundle).exit_code == 0


def test_limits_are_enforced_and_overridable(host_bundle: Path) -> None:
    result = run("validate", "--max-members", "5", host_bundle)
    assert result.exit_code == 2 and "more than 5 members" in result.stderr
    result = run("validate", "--max-member-size", "1000", host_bundle)
    assert result.exit_code == 2 and "over the 1000-byte limit" in result.stderr


# --- diff ----------------------------------------------------------------------------------------

def test_diff_against_itself_is_identical(host_bundle: Path) -> None:
    result = run("diff", host_bundle, host_bundle)
    assert result.exit_code == 0, result.output
    assert "no differences" in result.stdout


def test_diff_formats_and_output_file(host_bundle: Path, tmp_path: Path, sample_pair) -> None:
    a, b = sample_pair
    result = run("diff", a, b, "--format", "json", "-o", tmp_path / "d.json")
    assert result.exit_code == 1 and result.stdout == ""
    report = json.loads((tmp_path / "d.json").read_text())
    errors = list(schema.validator("diff").iter_errors(report))
    assert not errors, errors[:3]
    assert report["format"] == "migdiff-diff" and report["format_version"] == 2
    assert {c["section"] for c in report["changes"]} >= {"services", "ports", "packages"}
    md = run("diff", a, b, "--format", "markdown")
    assert md.exit_code == 1 and md.stdout.startswith("# migdiff: ") and "| section |" in md.stdout


def test_diff_against_a_sample_shows_expected_sections(host_bundle: Path, sample_pair) -> None:
    result = run("diff", host_bundle, sample_pair[0], "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    changed = {c["section"] for c in report["changes"] if not c["ignored"]}
    assert {"system", "packages", "services"} <= changed


def test_section_filter_and_all(sample_pair) -> None:
    a, b = sample_pair
    only = json.loads(run("diff", a, b, "-f", "json", "-s", "ports").stdout)
    assert only["sections"] == ["ports"] and {c["section"] for c in only["changes"]} == {"ports"}
    every = json.loads(run("diff", a, b, "-f", "json", "-s", "packages", "--all").stdout)
    assert any(c["kind"] == "identical" for c in every["changes"])
    assert every["summary"]["packages"]["identical"] == sum(c["kind"] == "identical" for c in every["changes"])


def test_the_default_command_is_diff() -> None:
    assert default_command(["a.tgz", "b.tgz"]) == ["diff", "a.tgz", "b.tgz"]
    assert default_command(["--format", "json", "a.tgz", "b.tgz"])[0] == "diff"
    assert default_command(["validate", "a.tgz"]) == ["validate", "a.tgz"]
    assert default_command(["--help"]) == ["--help"]
    assert default_command([]) == []


# --- show, parse, collector -------------------------------------------------------------------------

def test_show_lists_requirements(host_bundle: Path) -> None:
    result = run("show", host_bundle, "-f", "json")
    assert result.exit_code == 0
    req = json.loads(result.stdout)
    assert req["system"]["kernel_release"] and isinstance(req["packages"], list)
    text = run("show", host_bundle, "-s", "system")
    assert text.exit_code == 0 and "kernel_release" in text.stdout
    assert run("show", host_bundle, "-s", "bogus").exit_code == 2
    csv = run("show", host_bundle, "-f", "csv")
    assert csv.exit_code == 2 and "csv lists the changes of a diff" in csv.stderr


def test_parse_uses_the_collectors_parser() -> None:
    fixture = FIXTURES / "ubuntu-12.04-seed" / "ss-nlpaxtudw.out"
    result = run("parse", "ss-nlpaxtudw", fixture)
    assert result.exit_code == 0
    got = json.loads(result.stdout)
    expected = json.loads(fixture.with_suffix(".json").read_text())
    assert got["data"] == expected["data"] and got["parser"] == "parse_ss"
    assert run("parse", "no-such-id", fixture).exit_code == 2
    assert run("parse", "ss-nlpaxtudw", "/nonexistent").exit_code == 2


def test_parse_reads_several_files_for_glob_entries() -> None:
    folder = FIXTURES / "ubuntu-upstart-packages" / "upstart-jobs.out"
    result = run("parse", "upstart-jobs", *sorted(folder.iterdir()))
    assert result.exit_code == 0
    assert {j["name"] for j in json.loads(result.stdout)["data"]} >= {"ssh", "tty1"}


def test_collector_writes_the_very_file_that_runs(tmp_path: Path) -> None:
    result = run("collector", "-o", tmp_path)
    assert result.exit_code == 0
    written = tmp_path / "migsnap.py"
    assert hashlib.sha256(written.read_bytes()).digest() == hashlib.sha256(
        Path(migsnap.__file__).read_bytes()).digest()
    (tmp_path / "other.py").write_text("different")
    assert run("collector", "-o", tmp_path / "other.py").exit_code == 2
    assert run("collector", "-o", tmp_path / "other.py", "--force").exit_code == 0


def test_version_and_help() -> None:
    assert migsnap.__version__ in run("--version").stdout
    help_text = run("--help").stdout
    for command in ("diff", "validate", "show", "parse", "collector"):
        assert command in help_text


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("args", [["validate", "BUNDLE"], ["--help"], ["--version"], ["BUNDLE", "BUNDLE", "--format", "json"]],
                         ids=["validate", "help", "version", "diff"])
def test_a_full_disk_on_stdout_is_one_line_and_exit_2(args: list[str], host_bundle: Path) -> None:
    import subprocess
    import sys
    argv = [str(host_bundle) if a == "BUNDLE" else a for a in args]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "migdiff", *argv], stdout=full, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["migdiff: output: No space left on device"], proc.stderr

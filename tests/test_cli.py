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
    assert csv.exit_code == 2 and "'csv' is not one of 'text', 'json', 'markdown', 'html'" in csv.stderr


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


# --- issue 12: bundles you can trust ------------------------------------------------------------

SITE_KEY = b"a site key kept on the analyst's laptop"


def recollected(host_bundle: Path, out: Path, change=None, **collector) -> Path:
    """host_bundle's raw files, changed, rebuilt by this collector (the JSON agrees with them)."""
    from crafted import recollect, write_bundle
    top, files = members(host_bundle)
    if change:
        change(files)
    return write_bundle(out, top, recollect(files, **collector))


def edited(bundle: Path, out: Path, member: str, edit) -> Path:
    """`member`, a JSON document, edited and written as the collector writes it; the manifest's
    size and sha256 recomputed, as anyone can."""
    from crafted import fix_manifest, write_bundle
    top, files = members(bundle)
    doc = json.loads(files[member])
    edit(doc)
    files[member] = migsnap.json_bytes(doc, pretty=member == "manifest.json")
    fix_manifest(files, member)
    return write_bundle(out, top, files)


def signed(bundle: Path, out: Path, key: bytes = SITE_KEY) -> Path:
    from crafted import sign, write_bundle
    top, files = members(bundle)
    return write_bundle(out, top, sign(files, key))


@pytest.fixture(scope="module")
def current(host_bundle: Path, tmp_path_factory) -> Path:
    """host_bundle as this very collector build writes it (the one migdiff re-parses with)."""
    return recollected(host_bundle, tmp_path_factory.mktemp("current") / "current.tgz")


def key_file(tmp_path: Path, key: bytes = SITE_KEY) -> Path:
    path = tmp_path / "site.key"
    path.write_bytes(key + b"\n")
    return path


def test_validate_refuses_a_forged_package_version_naming_the_record(current: Path, tmp_path: Path) -> None:
    def forge(doc):
        doc["packages"][0]["version"] = "99.9-forged"
    bad = edited(current, tmp_path / "forged.tgz", "snapshot.json", forge)
    result = run("validate", bad)
    assert result.exit_code == 1, result.output
    name = json.loads(members(current)[1]["snapshot.json"])["packages"][0]["name"]
    assert f"snapshot.json disagrees with the raw files: $.packages[0].version (package {name!r}): " \
           f"'99.9-forged' in the document, the raw files give " in result.stdout, result.stdout
    diffed = run("diff", bad, current)
    assert diffed.exit_code == 2 and "INVALID: snapshot.json disagrees with the raw files" in diffed.stderr


def test_validate_refuses_a_forged_parsed_json(current: Path, tmp_path: Path) -> None:
    def forge(doc):
        doc["entries"]["uname-r"]["data"]["value"] = "9.9.9-forged"
    bad = edited(current, tmp_path / "forged.tgz", "parsed.json", forge)
    result = run("validate", bad)
    assert result.exit_code == 1
    assert "parsed.json disagrees with the raw files: $.entries['uname-r'].data.value: '9.9.9-forged'" in result.stdout


def test_the_forged_snapshot_is_found_by_the_forked_check_too(current: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from migdiff import validate as validation
    monkeypatch.setattr(validation, "FORK_FROM", 0)
    bad = edited(current, tmp_path / "forged.tgz", "snapshot.json",
                 lambda d: d["system"].update(kernel_release="0.0-forged"))
    out = tmp_path / "report.json"
    result = run("diff", current, bad, "--format", "json", "-o", out)
    assert result.exit_code == 2 and "snapshot.json disagrees with the raw files: $.system.kernel_release" \
        in result.stderr, result.output
    assert not out.exists()


def test_a_bundle_of_another_collector_build_is_not_re_parsed(host_bundle: Path, tmp_path: Path) -> None:
    other = recollected(host_bundle, tmp_path / "other.tgz", sha256="ab" * 32)
    result = run("validate", other)
    assert result.exit_code == 0, result.output
    assert "not re-parsed: another build of migsnap" in result.stdout


def test_the_entry_tables_of_known_collectors() -> None:
    from migdiff import trust
    table = tuple(c.id for c in migsnap.captures())
    assert trust.entry_tables(migsnap.__version__, trust.own_sha256()) == [table]
    assert table in trust.entry_tables(migsnap.__version__, "0" * 64)
    old, = trust.entry_tables("0.1.0", "0" * 64)
    assert len(old) == 51 and len(set(old)) == 51
    assert set(trust.RELEASED["0.2.0"]) - set(old) == {"init-scripts", "etc-default", "pid-files", "apk-world"}
    assert len(trust.RELEASED["0.2.0"]) == 55 and set(trust.RELEASED["0.2.0"]) <= set(table)
    assert trust.entry_tables("0.0.1", None) == []


def test_a_signature_is_reported_and_verified(current: Path, tmp_path: Path) -> None:
    good = signed(current, tmp_path / "signed.tgz")
    kid = migsnap.key_id(SITE_KEY)
    result = run("validate", good)
    assert result.exit_code == 0 and f"signed, key {kid} (not verified" in result.stdout, result.output
    result = run("validate", "--verify-key-file", key_file(tmp_path), good)
    assert result.exit_code == 0 and f"signature verified, key {kid}" in result.stdout, result.output
    diffed = run("diff", "--verify-key-file", key_file(tmp_path), good, good)
    assert diffed.exit_code == 0, diffed.output


def test_verify_key_refuses_unsigned_other_key_and_changed_manifest(current: Path, tmp_path: Path) -> None:
    key = key_file(tmp_path)
    other_key = b"another site's key, not ours"
    other = signed(current, tmp_path / "other.tgz", other_key)
    changed = edited(signed(current, tmp_path / "s.tgz"), tmp_path / "changed.tgz", "manifest.json",
                     lambda m: m.update(hostname="somewhere-else"))
    for bundle, words in ((current, "not signed: --verify-key-file needs a signature.json"),
                          (other, f"signed with key {migsnap.key_id(other_key)}, "
                                  f"not with the key given ({migsnap.key_id(SITE_KEY)})"),
                          (changed, "the signature does not match manifest.json")):
        result = run("validate", "--verify-key-file", key, bundle)
        assert result.exit_code == 1, result.output
        assert result.stdout.startswith(f"{bundle}: INVALID: ") and words in result.stdout, result.stdout
        diffed = run("diff", "--verify-key-file", key, bundle, current)
        assert diffed.exit_code == 2 and words in diffed.stderr, diffed.output
    assert "signature" not in run("validate", changed).stdout.split("INVALID")[0]


def test_a_verify_key_file_that_cannot_be_read_is_trouble(current: Path, tmp_path: Path) -> None:
    result = run("validate", "--verify-key-file", tmp_path / "absent.key", current)
    assert result.exit_code == 2 and "absent.key" in result.stderr
    short = tmp_path / "short.key"
    short.write_bytes(b"abc\n")
    assert run("validate", "--verify-key-file", short, current).exit_code == 2


def test_duplicate_keys_and_infinity_are_refused(current: Path, tmp_path: Path) -> None:
    from crafted import write_bundle, fix_manifest
    top, files = members(current)
    files["parsed.json"] = files["parsed.json"].replace(b'"format":', b'"format":"x","format":', 1)
    fix_manifest(files, "parsed.json")
    result = run("validate", write_bundle(tmp_path / "dup.tgz", top, files))
    assert result.exit_code == 1 and "parsed.json: key 'format' appears twice in one object" in result.stdout


# --- issue 12: what migdiff prints --------------------------------------------------------------

ESC = "\x1b]0;owned\x07\x1b[2J\u202eevil\u2066"


def test_validate_and_the_report_escape_a_bundle_file_name(current: Path, tmp_path: Path) -> None:
    import shutil
    evil = tmp_path / f"web{ESC}.tgz"
    shutil.copy(current, evil)
    result = run("validate", evil)
    assert result.exit_code == 0, result.output
    assert all(ch.isprintable() for ch in result.stdout.strip()), repr(result.stdout)
    assert "web\\x1b]0;owned\\x07\\x1b[2J\\u202eevil\\u2066.tgz: OK" in result.stdout
    for fmt in ("text", "markdown", "csv"):
        out = run("diff", current, evil, "--format", fmt)
        assert all(ch.isprintable() for line in out.stdout.splitlines() for ch in line), (fmt, out.stdout[:500])
    text = run("diff", current, evil)
    assert "target: web\\x1b]0;owned\\x07\\x1b[2J\\u202eevil\\u2066.tgz (" in text.stdout
    missing = run("diff", current, tmp_path / f"gone{ESC}.tgz")
    assert missing.exit_code == 2 and all(ch.isprintable() for ch in missing.stderr.strip()), repr(missing.stderr)


@pytest.fixture(scope="module")
def hostile_names(host_bundle: Path, tmp_path_factory) -> Path:
    """Packages whose names, versions and arch carry formulas, Markdown and terminal escapes; the
    first three packages' versions become a formula, a negative and a positive number."""
    def change(files):
        if not files.get("raw/dpkg-query.out"):
            pytest.skip("no dpkg-query output on this machine")
        lines = files["raw/dpkg-query.out"].decode().splitlines()
        for i, version in enumerate(("=2+2", "-1", "+5")):
            fields = lines[i].split("\t")
            fields[1] = version
            lines[i] = "\t".join(fields)
        lines += ["\t".join([name, version, arch, "install ok installed", "optional", "no", "admin", "", "", "", ""])
                  for name, version, arch in (("=1+1", "1.0", "amd64"), ("@SUM(A1)", "1.0", f"amd64{ESC}"),
                                              ("-cmd|' /C calc'!A0", "2.0", "amd64"),
                                              ("`![x](http://evil.example/p.png)`", "3.0|x", "all"),
                                              ("a|b", "1.0", "all"))]
        files["raw/dpkg-query.out"] = ("\n".join(lines) + "\n").encode()
    return recollected(host_bundle, tmp_path_factory.mktemp("names") / "names.tgz", change)


def test_csv_neutralises_formulas_but_keeps_numbers(hostile_names: Path, current: Path) -> None:
    import csv
    import io
    result = run("diff", current, hostile_names, "--format", "csv")
    assert result.exit_code == 1, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell in ("-1", "+5"), cell
    targets = {row["target"] for row in rows if row["section"] == "packages"}
    assert {"'=2+2", "-1", "+5"} <= targets, sorted(targets)[:20]


def test_csv_cells_are_neutralised_one_by_one() -> None:
    from migdiff.present.csvout import _cell
    assert _cell("=1+1") == "'=1+1" and _cell("@SUM(A1)") == "'@SUM(A1)" and _cell("-cmd") == "'-cmd"
    assert _cell("+5") == "+5" and _cell("-1") == "-1" and _cell("-1.5e3") == "-1.5e3" and _cell("1:2.3-4") == "1:2.3-4"
    assert _cell("\t=x") == "\\t=x" and _cell("a\x1bb") == "a\\x1bb" and _cell(5) == "5"


def test_markdown_escapes_every_cell(hostile_names: Path, current: Path) -> None:
    import re as regex
    for args in (("diff", current, hostile_names, "--format", "markdown", "--all"),
                 ("show", hostile_names, "--format", "markdown")):
        result = run(*args)
        assert result.exit_code in (0, 1), result.output
        for line in result.stdout.splitlines():
            assert all(ch.isprintable() for ch in line), repr(line)
            assert not regex.search(r"(?<!\\)\]\(|(?<!\\)<[a-zA-Z/]", line), line
        header = None
        for line in result.stdout.splitlines():
            if not line.startswith("|"):
                header = None
                continue
            pipes = len(regex.findall(r"(?<!\\)\|", line))
            header = pipes if header is None else header
            assert pipes == header, line


def test_show_escapes_the_arch_in_text_and_markdown(hostile_names: Path) -> None:
    shown = {"text": "amd64\\x1b]0;owned\\x07\\x1b[2J\\u202eevil\\u2066",  # Markdown escapes its markup too:
             "markdown": "amd64\\\\x1b]0;owned\\\\x07\\\\x1b[2J\\\\u202eevil\\\\u2066"}  # \\x1b shows as \x1b
    for fmt, escaped in shown.items():
        result = run("show", hostile_names, "--format", fmt, "-s", "packages")
        assert result.exit_code == 0, result.output
        assert escaped in result.stdout, fmt
        assert all(ch.isprintable() for line in result.stdout.splitlines() for ch in line), fmt


def test_json_output_escapes_c1_controls_and_bidi(hostile_names: Path, current: Path) -> None:
    result = run("show", hostile_names, "--format", "json")
    assert result.exit_code == 0
    assert all(ch.isprintable() for line in result.stdout.splitlines() for ch in line)
    assert json.loads(result.stdout)["packages"]


def test_presenters_cap_long_values() -> None:
    from migdiff.present.common import MAX_VALUE, capped, safe
    long = "x" * (MAX_VALUE * 10)
    assert len(safe(long)) < MAX_VALUE + 100 and safe(long).endswith(f"[{MAX_VALUE * 9} more characters]")
    assert capped({"a": [long, "short"]}) == {"a": [safe(long), "short"]}
    same = {"a": ["short"]}
    assert capped(same) is same


# --- issue 12: where migdiff reads and writes -------------------------------------------------------

def _in_subprocess(*args: object, timeout: float = 60, **kwargs):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "migdiff", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)


@pytest.mark.parametrize("command", ["validate", "diff", "show"])
def test_a_fifo_given_as_a_bundle_is_refused_without_blocking(command: str, tmp_path: Path, current: Path) -> None:
    import os
    fifo = tmp_path / "pipe.tgz"
    os.mkfifo(fifo)
    args = [command, fifo] + ([current] if command == "diff" else [])
    proc = _in_subprocess(*args, timeout=30)
    assert proc.returncode == 2, proc
    assert proc.stderr.strip() == f"migdiff: {fifo}: is a FIFO, not a regular file (a bundle is a .tgz file)"


def test_output_to_a_symlink_writes_through_and_keeps_the_link(current: Path, tmp_path: Path) -> None:
    target = tmp_path / "real-report.txt"
    target.write_text("old\n")
    link = tmp_path / "report.txt"
    link.symlink_to(target)
    result = run("diff", current, current, "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and "no differences" in target.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_output_to_a_fifo_writes_through(current: Path, tmp_path: Path) -> None:
    import os
    import threading
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    result = run("diff", current, current, "-o", fifo)
    reader.join(30)
    if reader.is_alive():  # nothing came: unblock the reader before failing
        with open(fifo, "w"):
            pass
    assert result.exit_code == 0, result.output
    assert got and "no differences" in got[0]
    import stat
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_to_dev_stdout_and_dev_null_never_replaces_them(current: Path) -> None:
    import os
    import stat
    before = {p: os.lstat(p) for p in ("/dev/null", "/dev/stdout")}
    proc = _in_subprocess("diff", current, current, "-o", "/dev/stdout")
    assert proc.returncode == 0 and "no differences" in proc.stdout, proc
    proc = _in_subprocess("diff", current, current, "--format", "json", "-o", "/dev/null")
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc
    after = {p: os.lstat(p) for p in before}
    assert stat.S_ISCHR(after["/dev/null"].st_mode) and stat.S_ISLNK(after["/dev/stdout"].st_mode)
    assert {p: (s.st_ino, s.st_mode) for p, s in before.items()} == {p: (s.st_ino, s.st_mode) for p, s in after.items()}


def test_an_output_error_names_the_file_given(current: Path, tmp_path: Path) -> None:
    out = tmp_path / "no-such-dir" / "report.json"
    result = run("diff", current, current, "--format", "json", "-o", out)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"migdiff: {out}: No such file or directory", result.stderr


def giant_report(size: int = 16 * 1024 * 1024):
    """A diff whose one change carries a kernel release of `size` characters, on both sides and in its text."""
    from migdiff.changes import Change, Counts, DiffReport, HostRef
    giant = "6.1." + "7" * size
    ref = HostRef(bundle="a.tgz", hostname="a", distro=None, kernel_release=giant, init=None, collected_at=None,
                  collector_version=None)
    change = Change(section="system", key="kernel_release", kind="changed", field="kernel_release", source=giant,
                    target=giant + "8", severity="warning", reason="kernel-series", hint="check the kernel",
                    text=f"system: kernel_release: {giant} on source, {giant}8 on target")
    return DiffReport(source=ref, target=ref, sections=["system"], summary={"system": Counts(changed=1, warning=1)},
                      changes=[change])


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html", "csv"])
def test_every_presenter_caps_a_huge_value(fmt: str) -> None:
    """A 16 MiB value (the collector's cap for one output) costs no presenter more than a few MB."""
    import tracemalloc
    from migdiff.present import render
    report = giant_report()
    tracemalloc.start()
    try:
        out = render(fmt, "diff", report, 120, show_ignored=False, full=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(out) < 200_000, f"{fmt}: {len(out)} characters"
    assert "more characters" in out, fmt
    assert peak < 8 * 1024 * 1024, f"{fmt}: peak {peak / 2**20:.0f} MiB"


def test_a_redacted_bundle_still_agrees_with_its_raw_files(current: Path, tmp_path: Path) -> None:
    result = run("redact", current, "-o", tmp_path / "redacted.tgz", "--redact-key", "a site key of ours")
    assert result.exit_code == 0, result.output
    checked = run("validate", tmp_path / "redacted.tgz")
    assert checked.exit_code == 0, checked.output
    assert "not re-parsed" not in checked.stdout and "entries not checked" not in checked.stdout, checked.stdout


def test_verify_key_file_works_for_show_and_contradicts_no_validate(current: Path, tmp_path: Path) -> None:
    key = key_file(tmp_path)
    good = signed(current, tmp_path / "signed.tgz")
    assert run("show", "--verify-key-file", key, good, "-s", "system").exit_code == 0
    refused = run("show", "--verify-key-file", key, current)
    assert refused.exit_code == 2 and "not signed" in refused.stderr
    both = run("diff", "--no-validate", "--verify-key-file", key, good, good)
    assert both.exit_code == 2 and "--no-validate" in both.stderr


# --- issue 14: what a person sees --------------------------------------------------------------

def _piped_to_head(argv: list[str]) -> tuple[int, str, int]:
    """`migdiff argv | head -1`: migdiff's status, its stderr and the full run's status."""
    import subprocess
    import sys
    cmd = [sys.executable, "-m", "migdiff", *argv]
    full = subprocess.run(cmd, capture_output=True, text=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as head does after its first line
    err = proc.stderr.read().decode()
    return proc.wait(), err, full.returncode


@pytest.mark.parametrize("argv", [["show", "SYSV"], ["SYSV", "SYSTEMD"], ["SYSV", "SYSTEMD", "-f", "json"],
                                  ["show", "SYSV", "-f", "markdown"]], ids=["show", "diff", "diff-json", "show-md"])
def test_a_reader_that_goes_away_is_no_error(argv: list[str], sample_pair) -> None:
    sysv, systemd = sample_pair
    status, err, full = _piped_to_head([{"SYSV": str(sysv), "SYSTEMD": str(systemd)}.get(a, a) for a in argv])
    assert err == "", err
    assert status == full, (status, full)  # the verdict's status, not trouble: nothing went wrong


def test_show_offers_only_the_formats_it_renders(host_bundle: Path) -> None:
    import re
    help_text = re.sub(r"\x1b\[[0-9;]*m", "", run("show", "--help").stdout)
    assert "text" in help_text and "markdown" in help_text and "csv" not in help_text


def test_show_facts_read_as_words_not_python(sample_pair) -> None:
    for bundle in sample_pair:
        text = run("show", bundle, "-s", "system", "-s", "init")
        assert text.exit_code == 0, text.output
        assert "None" not in text.stdout and "['" not in text.stdout, text.stdout
    init = run("show", sample_pair[0], "-s", "init").stdout
    assert "  active: sysv" in init and "  default_target: none" in init, init


def test_packages_are_ordered_by_name_then_arch(sample_pair) -> None:
    result = run("diff", *sample_pair, "-s", "packages", "-f", "json", "--all")
    keys = [c["key"].split(" = ")[0] for c in json.loads(result.stdout)["changes"]]
    assert keys == sorted(keys, key=lambda k: tuple(k.split(":"))), "not in (manager, name, arch) order"
    names = [k.split(":")[1] for k in keys]
    assert names.index("python2.7") < names.index("python2.7-minimal")  # not "-" (0x2d) before end of name


def test_collector_message_names_the_file_written(tmp_path: Path) -> None:
    result = run("collector", "-o", tmp_path / "snap.py")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("run it on the host with: python snap.py"), result.stdout


# --- narrow terminals (issue 14) -------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize("width", [40, 60, 80])
def test_a_narrow_width_wraps_every_line_and_cuts_nothing(width: int, sample_pair: tuple[Path, Path]) -> None:
    """--width N: no line is longer than N, no count is cut to "1…", and the words are those of the
    unwrapped report (wrapping moves text, never drops it)."""
    sysv, systemd = sample_pair
    narrow = runner.invoke(app, ["diff", str(sysv), str(systemd), "--width", str(width)], env={"NO_COLOR": "1"})
    wide = runner.invoke(app, ["diff", str(sysv), str(systemd)], env={"NO_COLOR": "1", "COLUMNS": ""})
    assert narrow.exit_code == wide.exit_code == 1
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= width, [line for line in lines if len(line) > width]
    assert "…" not in narrow.stdout
    assert "differences per section" in narrow.stdout
    assert "  init: 1 warning, " in narrow.stdout  # one warning, not "1 warnings"
    table = wide.stdout.split("\n\n")[1]  # the counts table, as wide output prints it
    assert table.splitlines()[0].split()[:3] == ["section", "blockers", "warnings"]
    after = lambda out: out.split("\nWarnings\n", 1)[1]  # noqa: E731  (findings onwards)
    assert _words(after(narrow.stdout)) == _words(after(wide.stdout))


def test_columns_is_the_width_when_piped(sample_pair: tuple[Path, Path]) -> None:
    sysv, systemd = sample_pair
    result = runner.invoke(app, ["diff", str(sysv), str(systemd)], env={"NO_COLOR": "1", "COLUMNS": "70"})
    assert max(len(line) for line in result.stdout.splitlines()) <= 70


def test_piped_without_a_width_keeps_a_finding_on_one_line(sample_pair: tuple[Path, Path]) -> None:
    """No terminal, no COLUMNS, no --width: grep must find a finding whole, so nothing is wrapped."""
    sysv, systemd = sample_pair
    result = runner.invoke(app, ["diff", str(sysv), str(systemd)], env={"NO_COLOR": "1", "COLUMNS": ""})
    swapped = [line for line in result.stdout.splitlines() if "web server swapped" in line]
    assert len(swapped) == 1 and "[role-swapped]" in swapped[0] and len(swapped[0]) > 120


def test_show_wraps_at_the_width(sample_pair: tuple[Path, Path]) -> None:
    sysv = sample_pair[0]
    result = runner.invoke(app, ["show", str(sysv), "--width", "40"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 40

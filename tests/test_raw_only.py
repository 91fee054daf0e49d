"""Raw-only bundles (issue 15): what migsnap.sh writes on a host without Python (raw output and a
manifest) is parsed by migdiff with the very parsers the Python collector runs.

The bundles here are made from a real one written by this collector build (the host this runs on,
rebuilt by crafted.recollect): turned into migsnap.sh's shape (crafted.raw_only), they must give,
parsed here, byte for byte the documents the Python collector wrote.  Their collector sha256 is
that of the migsnap.sh migdiff carries: snapshot/migsnap.sh when it exists, else a stand-in file
migdiff is made to carry (reparse.sh_collector_path), so that the trust check recognises it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import migsnap
from conftest import REPO, bundle_documents
from crafted import edit_json, members, raw_only, recollect, sign, write_bundle
from migdiff import __version__, trust
from migdiff.cli import app

SITE_KEY = b"a site key kept on the analyst's laptop"
SH = REPO / "snapshot" / "migsnap.sh"


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def sh_sha(tmp_path_factory, monkeypatch) -> str:
    """The sha256 of the migsnap.sh migdiff carries: the real one, or a stand-in migdiff is made to carry."""
    trust.own_sh_sha256.cache_clear()
    if not SH.is_file():
        stand_in = tmp_path_factory.mktemp("sh") / "migsnap.sh"
        stand_in.write_text("#!/bin/sh\n# a stand-in for migsnap.sh, which is not in the tree yet\n")
        import migdiff.reparse
        monkeypatch.setattr(migdiff.reparse, "sh_collector_path", lambda: stand_in)
    yield trust.own_sh_sha256()
    trust.own_sh_sha256.cache_clear()


@pytest.fixture(scope="module")
def collected(host_bundle: Path) -> tuple[str, dict[str, bytes]]:
    """This host's bundle as this very collector build writes it: (top folder, files)."""
    top, files = members(host_bundle)
    return top, recollect(files)


@pytest.fixture
def python_bundle(collected, tmp_path: Path) -> Path:
    top, files = collected
    return write_bundle(tmp_path / "python.tgz", top, files)


def make_raw(collected, out: Path, sha: str | None, tool: str | None = "sha256sum", change=None) -> Path:
    top, files = collected
    files = raw_only(files, sha, tool)
    if change:
        change(files)
    return write_bundle(out, top, files)


@pytest.fixture
def raw(collected, sh_sha: str, tmp_path: Path) -> Path:
    return make_raw(collected, tmp_path / "raw.tgz", sh_sha)


@pytest.fixture
def raw_nohash(collected, sh_sha: str, tmp_path: Path) -> Path:
    return make_raw(collected, tmp_path / "raw-nohash.tgz", sh_sha, tool=None)


# --- validate, diff, show: a raw-only bundle is parsed in memory ------------------------------------

def test_validate_parses_a_raw_only_bundle_and_says_so(raw: Path) -> None:
    result = run("validate", raw)
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith(f"{raw}: OK (host "), line
    assert f"migsnap.sh {migsnap.__version__}, format 1" in line
    assert (f"raw only (collected by migsnap.sh {migsnap.__version__} under dash): parsed here by migdiff "
            f"{__version__} with migsnap {migsnap.__version__}'s parsers") in line
    assert "another build" not in line and "integrity starts" not in line, line


def test_the_migsnap_sh_migdiff_carries_is_recognised(sh_sha: str) -> None:
    assert sh_sha is not None
    assert trust.entry_tables(migsnap.__version__, sh_sha) == [trust.current_table()]
    assert trust.entry_tables("7.7.7", sh_sha) == [trust.current_table()]  # that file's table, whatever it says


def test_a_raw_only_bundle_of_another_build_is_parsed_with_a_note(collected, sh_sha: str, tmp_path: Path) -> None:
    other = make_raw(collected, tmp_path / "other.tgz", "0" * 64)
    result = run("validate", other)
    assert result.exit_code == 0, result.output
    assert f"collected by another build of migsnap.sh (sha256 000000000000; this migdiff carries {sh_sha[:12]})" \
        in result.stdout


def test_diff_of_a_raw_only_bundle_and_its_python_twin_finds_nothing(raw: Path, python_bundle: Path) -> None:
    result = run("diff", raw, python_bundle, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert not any(c["kind"] != "identical" for c in report["changes"]), report["changes"][:3]
    assert f"migdiff: note: {raw}: raw only (collected by migsnap.sh" in result.stderr


def test_show_says_on_stderr_that_it_parsed_here(raw: Path, raw_nohash: Path) -> None:
    result = run("show", raw)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"migdiff: note: {raw}: raw only (collected by migsnap.sh {migsnap.__version__} under dash): "
        f"parsed here by migdiff {__version__}"]
    many = run("show", raw, raw_nohash, "--format", "json", "--jobs", "1")
    assert many.exit_code == 0, many.output
    assert len(json.loads(many.stdout)) == 2
    assert f"{raw_nohash}: the host had no sha256 tool: integrity starts at arrival" in many.stderr


def test_a_raw_only_bundle_over_the_re_parse_limit_is_refused(raw: Path) -> None:
    result = run("validate", raw, "--max-reparse-size", "1000")
    assert result.exit_code == 1, result.output
    assert "over the 1000-byte re-parse limit (--max-reparse-size): not parsed, refused" in result.stdout
    assert run("diff", raw, raw, "--max-reparse-size", "1000").exit_code == 2


def test_no_validate_parses_a_raw_only_bundle_too(raw: Path, python_bundle: Path) -> None:
    result = run("diff", raw, python_bundle, "--no-validate")
    assert result.exit_code == 0, result.output


# --- complete -------------------------------------------------------------------------------------------

def test_complete_writes_what_the_python_collector_writes(raw: Path, python_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "full.tgz"
    result = run("complete", raw, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out}: collected by migsnap.sh {migsnap.__version__} under dash, "
                                    f"parsed here by migdiff {__version__}"), result.stdout
    _, full = members(out)
    _, python = members(python_bundle)
    _, collected_raw = members(raw)
    for name in ("parsed.json", "snapshot.json"):
        assert full[name] == python[name], f"{name} differs from the Python collector's"
    assert {n: d for n, d in full.items() if n.startswith("raw/")} == \
        {n: d for n, d in collected_raw.items() if n.startswith("raw/")}
    manifest, theirs, before = (json.loads(d["manifest.json"]) for d in (full, python, collected_raw))
    # every fact of the collector kept; the parsers' counts as the Python collector recorded them
    for key in ("collector", "shell", "python", "hostname", "started_at", "finished_at", "argv", "settings", "euid"):
        assert manifest[key] == before[key], key
    assert manifest["entries"] == theirs["entries"]
    assert manifest["summary"] == theirs["summary"]
    assert manifest["files"] == theirs["files"]
    assert manifest["hashes"] == {"tool": "sha256sum"}
    assert manifest["parsing"]["where"] == "migdiff"
    assert manifest["parsing"]["by"] == (f"migdiff {__version__}, migsnap {migsnap.__version__} parsers "
                                         f"(sha256 {trust.own_sha256()[:12]})")
    check = run("validate", out)
    assert check.exit_code == 0, check.output
    assert f"parsed by migdiff {__version__}, migsnap {migsnap.__version__} parsers" in check.stdout
    assert "not re-parsed" not in check.stdout  # these are the parsers migdiff carries: parsed again


def test_diff_of_a_raw_only_bundle_and_its_completed_twin_finds_nothing(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "full.tgz"
    assert run("complete", raw, "-o", out).exit_code == 0
    result = run("diff", raw, out)
    assert result.exit_code == 0, result.output
    assert "no differences" in result.stdout


def test_no_sha256_tool_sha256_computed_on_arrival(raw_nohash: Path, tmp_path: Path) -> None:
    check = run("validate", raw_nohash)
    assert check.exit_code == 0, check.output
    assert "no sha256 tool on the host: sizes checked, not sha256; integrity starts at arrival" in check.stdout
    out = tmp_path / "full.tgz"
    result = run("complete", raw_nohash, "-o", out)
    assert result.exit_code == 0, result.output
    assert "no sha256 tool on the host: sha256 computed on arrival, integrity starts there" in result.stdout
    _, files = members(out)
    manifest = json.loads(files["manifest.json"])
    assert manifest["hashes"]["tool"] is None and manifest["hashes"]["computed"] == "migdiff on arrival"
    assert manifest["hashes"]["at"] == manifest["parsing"]["at"]
    for entry in manifest["entries"]:
        for record in entry["files"]:
            assert record["sha256"] == hashlib.sha256(files[record["name"]]).hexdigest()
    check = run("validate", out)
    assert check.exit_code == 0, check.output
    assert "no sha256 tool on the host: sha256 computed by migdiff on arrival" in check.stdout
    assert "integrity starts there, nothing proves what happened before" in check.stdout
    shown = run("show", out)
    assert shown.exit_code == 0
    assert f"migdiff: note: {out}: the host had no sha256 tool: integrity starts at arrival" in shown.stderr


def test_complete_leaves_a_full_bundle_alone(python_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "full.tgz"
    result = run("complete", python_bundle, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{python_bundle}: already parsed (on its host): nothing to complete, nothing written"
    assert not out.exists()


def test_complete_never_replaces_a_file_unless_forced(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "full.tgz"
    out.write_bytes(b"precious")
    result = run("complete", raw, "-o", out)
    assert result.exit_code == 2 and "exists; use --force to replace it" in result.stderr
    assert out.read_bytes() == b"precious"
    assert run("complete", raw, "-o", raw, "--force").exit_code == 2  # never over the bundle it reads
    assert run("complete", raw, "-o", out, "--force").exit_code == 0
    assert run("validate", out).exit_code == 0
    into = run("complete", raw, "-o", tmp_path)  # a directory: <top>-full.tgz in it
    assert into.exit_code == 0, into.output
    assert list(tmp_path.glob("*-full.tgz"))
    assert not list(tmp_path.glob(".*.part"))


def test_complete_refuses_an_invalid_bundle_and_writes_nothing(collected, sh_sha: str, tmp_path: Path) -> None:
    def drop(files):
        edit_json(files, "manifest.json", lambda m: m["entries"].remove(
            next(e for e in m["entries"] if e["id"] == "apk-world")))
    bad = make_raw(collected, tmp_path / "bad.tgz", sh_sha, change=drop)
    out = tmp_path / "full.tgz"
    result = run("complete", bad, "-o", out)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"migdiff: {bad}: INVALID: manifest.json lacks 1 entry"), lines
    assert "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_a_signed_raw_only_bundle_is_completed_only_once_verified(collected, sh_sha: str, tmp_path: Path) -> None:
    key = tmp_path / "site.key"
    key.write_bytes(SITE_KEY + b"\n")
    top, files = collected
    signed = write_bundle(tmp_path / "signed.tgz", top, sign(raw_only(files, sh_sha), SITE_KEY))
    out = tmp_path / "full.tgz"
    refused = run("complete", signed, "-o", out)
    assert refused.exit_code == 2 and "verify it first with --verify-key-file" in refused.stderr, refused.output
    assert not out.exists()
    other = tmp_path / "other.key"
    other.write_bytes(b"another key, not the site's\n")
    assert run("complete", signed, "-o", out, "--verify-key-file", other).exit_code == 1
    assert not out.exists()
    done = run("complete", signed, "-o", out, "--verify-key-file", key)
    assert done.exit_code == 0 and done.stdout.rstrip().endswith("not signed"), done.output
    assert "signature.json" not in members(out)[1]
    resigned = tmp_path / "resigned.tgz"
    done = run("complete", signed, "-o", resigned, "--verify-key-file", key, "--sign-key-file", key)
    assert done.exit_code == 0, done.output
    check = run("validate", resigned, "--verify-key-file", key)
    assert check.exit_code == 0 and "signature verified" in check.stdout, check.output


def test_a_forged_completed_bundle_is_caught_by_parsing_again(raw: Path, tmp_path: Path) -> None:
    from crafted import fix_manifest
    out = tmp_path / "full.tgz"
    assert run("complete", raw, "-o", out).exit_code == 0
    top, files = members(out)
    doc = json.loads(files["snapshot.json"])
    doc["packages"][0]["version"] = "99.9-forged"
    files["snapshot.json"] = migsnap.json_bytes(doc, pretty=False)
    fix_manifest(files, "snapshot.json")
    forged = write_bundle(tmp_path / "forged.tgz", top, files)
    result = run("validate", forged)
    assert result.exit_code == 1 and "snapshot.json disagrees with the raw files: $.packages[0]" in result.stdout


def test_a_bundle_completed_by_other_parsers_is_not_parsed_again(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "full.tgz"
    assert run("complete", raw, "-o", out).exit_code == 0
    top, files = members(out)
    edit_json(files, "manifest.json", lambda m: m["parsing"].update(
        by="migdiff 0.0.9, migsnap 0.4.0 parsers (sha256 0123456789ab)"))
    other = write_bundle(tmp_path / "other.tgz", top, files)
    result = run("validate", other)
    assert result.exit_code == 0, result.output
    assert "not re-parsed: another build of migsnap's parsers made its documents (sha256 0123456789ab" \
        in result.stdout


def test_the_completed_documents_follow_their_schemas(raw_nohash: Path, tmp_path: Path) -> None:
    from migdiff import schema
    out = tmp_path / "full.tgz"
    assert run("complete", raw_nohash, "-o", out).exit_code == 0
    documents = bundle_documents(out)
    for name in ("manifest", "snapshot", "parsed"):
        assert not list(schema.validator(name).iter_errors(documents[f"{name}.json"])), name


# --- the collector migdiff carries -----------------------------------------------------------------------

def test_collector_writes_migsnap_sh(sh_sha: str, tmp_path: Path) -> None:
    result = run("collector", "--sh", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    written = tmp_path / "migsnap.sh"
    assert hashlib.sha256(written.read_bytes()).hexdigest() == sh_sha
    assert "sh migsnap.sh" in result.stdout and "migdiff complete" in result.stdout


def test_collector_sh_without_one_is_trouble(monkeypatch, tmp_path: Path) -> None:
    import migdiff.reparse
    monkeypatch.setattr(migdiff.reparse, "sh_collector_path", lambda: None)
    result = run("collector", "--sh", "-o", tmp_path)
    assert result.exit_code == 2 and "carries no migsnap.sh" in result.stderr


# --- redaction ------------------------------------------------------------------------------------------

def test_redact_asks_for_a_raw_only_bundle_to_be_completed_first(raw: Path, tmp_path: Path) -> None:
    key = tmp_path / "redact.key"
    key.write_text("a redaction key\n")
    result = run("redact", raw, "-o", tmp_path / "r.tgz", "--redact-key-file", key)
    assert result.exit_code == 2 and "raw only (migsnap.sh): complete it first" in result.stderr
    assert not (tmp_path / "r.tgz").exists()


def test_a_completed_bundle_redacts_and_says_these_parsers_parsed_it(raw_nohash: Path, tmp_path: Path) -> None:
    key = tmp_path / "redact.key"
    key.write_text("a redaction key\n")
    full, redacted = tmp_path / "full.tgz", tmp_path / "r.tgz"
    assert run("complete", raw_nohash, "-o", full).exit_code == 0
    result = run("redact", full, "-o", redacted, "--redact-key-file", key)
    assert result.exit_code == 0, result.output
    manifest = bundle_documents(redacted)["manifest.json"]
    assert manifest["collector"]["name"] == "migsnap.sh" and manifest["hashes"]["computed"] == "migdiff on arrival"
    assert manifest["parsing"]["by"].endswith(f"(sha256 {trust.own_sha256()[:12]})")
    check = run("validate", redacted)
    assert check.exit_code == 0 and "not re-parsed" not in check.stdout, check.output

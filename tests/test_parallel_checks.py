"""The large parsed.json documents are checked in a forked child while the parent types the
snapshots and compares: the answer must be the one a single process gives, also when the child
dies, and a document the child refuses must still stop the diff before anything is written."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crafted import edit_json, fix_manifest, rebuild
from migdiff import validate
from migdiff.bundle import read_bundle
from migdiff.cli import app
from migdiff.forking import forked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here: the checks run in one process")


def test_forked_work_runs_in_another_process() -> None:
    assert forked(os.getpid)() != os.getpid()


def test_a_child_that_dies_leaves_the_work_to_the_parent() -> None:
    parent = os.getpid()

    def work() -> str:
        if os.getpid() != parent:
            os._exit(3)
        return "done here"
    assert forked(work)() == "done here"


def test_an_error_in_the_work_is_raised_in_the_parent() -> None:
    def work() -> None:
        raise LookupError("the work's own error")
    with pytest.raises(LookupError, match="the work's own error"):
        forked(work)()


@pytest.fixture
def bad_parsed(host_bundle: Path, tmp_path: Path) -> Path:
    """A bundle whose parsed.json breaks its schema but matches its manifest (sha256 and size)."""
    def change(files):
        edit_json(files, "parsed.json", lambda d: d["entries"]["uname-m"].update(warnings=[1]))
        fix_manifest(files, "parsed.json")
    return rebuild(host_bundle, tmp_path / "bad-parsed.tgz", change)


def test_forked_checks_say_what_one_process_says(host_bundle: Path, bad_parsed: Path) -> None:
    def results(fork_from: int | None):
        bundles = [read_bundle(host_bundle), read_bundle(bad_parsed)]
        return validate.start_validation(bundles, fork_from=fork_from).results()
    alone, shared = results(None), results(0)
    assert alone == shared
    assert alone[0].ok and not alone[1].ok
    assert any(reason.startswith("parsed.json $.entries['uname-m']") for reason in alone[1].reasons)


def test_a_diff_stops_on_what_the_child_refuses(host_bundle: Path, bad_parsed: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "FORK_FROM", 0)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["diff", str(host_bundle), str(bad_parsed), "--format", "json", "-o", str(out)])
    assert result.exit_code == 2
    assert "bad-parsed.tgz: INVALID: parsed.json $.entries['uname-m']" in result.stderr
    assert not out.exists()
    fine = CliRunner().invoke(app, ["diff", str(host_bundle), str(host_bundle), "-o", str(out)])
    assert fine.exit_code == 0 and out.exists()

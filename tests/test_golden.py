"""Golden fixtures: tests/fixtures/<os>/<id>.out is a real capture, <id>.json what the parser must return.

The id names the capture in the collector's table, hence the parser.  A glob
entry's fixture is a directory <id>.out/ holding the files.  Regenerate the
.json files after a deliberate parser change with MIGDIFF_REGEN=1 and review the diff.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import migsnap
from conftest import FIXTURES, glob_fixture_files

CASES = sorted(FIXTURES.glob("*/*.out"))


def parser_input(capture: migsnap.Capture, path: Path):
    """What the collector's parser gets: built by the collector's own Result, so a command whose
    stderr is read too (its <id>.err beside the <id>.out) is read as on the host."""
    if capture.kind == migsnap.GLOB:
        return [(name, migsnap.to_text(data)) for name, data in glob_fixture_files(capture, path)]
    result = migsnap.Result(capture)
    result.raw = [("raw/x.out", "stdout" if capture.kind == migsnap.CMD else "file", None, path.read_bytes())]
    if path.with_suffix(".err").exists():
        result.raw.append(("raw/x.err", "stderr", None, path.with_suffix(".err").read_bytes()))
    return result.parser_input()


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_parser_matches_golden(path: Path) -> None:
    capture = migsnap.capture_by_id(path.name[:-len(".out")])
    data, warnings = migsnap.run_parser(capture, parser_input(capture, path))
    got = {"data": data, "warnings": warnings}
    expected_path = path.with_suffix(".json")
    if os.environ.get("MIGDIFF_REGEN"):
        expected_path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(expected_path.read_text())
    assert got == expected


def test_there_are_fixtures_for_several_systems() -> None:
    systems = {p.parent.name for p in CASES}
    assert len(systems) >= 3, systems


OLD_PYTHONS = sorted(p for p in Path(os.path.expanduser("~root/.pyenv/versions")).glob("*/bin/python")
                     if p.parent.parent.name.startswith(("2.", "3.6"))) \
    if Path(os.path.expanduser("~root/.pyenv/versions")).is_dir() else []

# Runs on the old interpreter itself: the parsers must return the very same data there.
CHECK_ON_OLD_PYTHON = r"""
import io, json, os, sys
sys.path.insert(0, sys.argv[1])
import migsnap
bad = []
for folder in sorted(os.listdir(sys.argv[2])):
    base = os.path.join(sys.argv[2], folder)
    if not os.path.isdir(base):
        continue
    for name in sorted(os.listdir(base)):
        if not name.endswith(".out"):
            continue
        capture = migsnap.capture_by_id(name[:-4])
        path = os.path.join(base, name)
        if capture.kind == migsnap.GLOB:
            nested = [f for f in os.listdir(path) if os.path.isdir(os.path.join(path, f))]
            if nested:  # a folder mirroring the host's tree: each file under its own path
                arg = []
                for top, dirs, names in sorted(os.walk(path)):
                    dirs.sort()
                    for f in sorted(names):
                        full = os.path.join(top, f)
                        arg.append(("/" + os.path.relpath(full, path),
                                    migsnap.to_text(open(full, "rb").read())))
                arg.sort()
            else:
                where = os.path.dirname(capture.source[0])
                arg = [(where + "/" + f, migsnap.to_text(open(os.path.join(path, f), "rb").read()))
                       for f in sorted(os.listdir(path))]
        else:
            result = migsnap.Result(capture)
            result.raw = [("raw/x.out", "stdout", None, open(path, "rb").read())]
            if os.path.exists(path[:-4] + ".err"):
                result.raw.append(("raw/x.err", "stderr", None, open(path[:-4] + ".err", "rb").read()))
            arg = result.parser_input()
        data, warnings = migsnap.run_parser(capture, arg)
        got = json.loads(json.dumps({"data": data, "warnings": warnings}))
        expected = json.load(io.open(path[:-4] + ".json", encoding="utf-8"))
        if got != expected:
            bad.append(folder + "/" + name)
print(json.dumps(bad))
"""


@pytest.mark.parametrize("python", OLD_PYTHONS, ids=[p.parent.parent.name for p in OLD_PYTHONS])
def test_parsers_give_the_same_data_on_old_pythons(python: Path) -> None:
    """The collector parses on the host under whatever Python it has: 2.7 must agree with 3."""
    import subprocess
    proc = subprocess.run([str(python), "-c", CHECK_ON_OLD_PYTHON, str(FIXTURES.parent.parent / "snapshot"),
                           str(FIXTURES)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []

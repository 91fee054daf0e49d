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
from conftest import FIXTURES

CASES = sorted(FIXTURES.glob("*/*.out"))


def parser_input(capture: migsnap.Capture, path: Path):
    if capture.kind == migsnap.GLOB:
        where = os.path.dirname(capture.source[0])
        return [(f"{where}/{p.name}", migsnap.to_text(p.read_bytes())) for p in sorted(path.iterdir())]
    return migsnap.to_text(path.read_bytes())


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

"""The diff of the two sample bundles, in every format, against stored expected output.

Regenerate after a deliberate change with MIGDIFF_REGEN=1 and review the diff of tests/golden_diff/.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migdiff.cli import app

GOLDEN = Path(__file__).resolve().parent / "golden_diff"
FORMATS = {"text": "txt", "json": "json", "markdown": "md", "csv": "csv", "html": "html"}
# the sample pair in every format; the labelled application pair (tests/scenarios/) as a person reads it
CASES = [("sysv11-to-systemd12", fmt) for fmt in FORMATS] + [("app11-to-app12gaps", "text"),
                                                              ("app11-to-app12gaps", "markdown")]


@pytest.mark.parametrize("name,fmt", CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_diff_matches_golden(name: str, fmt: str, sample_pair, gaps_pair) -> None:
    a, b = sample_pair if name == "sysv11-to-systemd12" else gaps_pair
    result = CliRunner().invoke(app, ["diff", str(a), str(b), "--format", fmt, "--width", "100"],
                                env={"NO_COLOR": "1", "COLUMNS": "100"})
    assert result.exit_code == 1, result.output
    expected = GOLDEN / f"{name}.{FORMATS[fmt]}"
    if os.environ.get("MIGDIFF_REGEN"):
        expected.write_text(result.stdout)
    assert result.stdout == expected.read_text()


def test_listing_identical_records_changes_no_count(sample_pair, host_bundle) -> None:
    """Identical packages are counted without building their records unless --all asks for them:
    both ways must count the same and report the same differences."""
    import json
    for a, b in (sample_pair, (host_bundle, sample_pair[1]), (host_bundle, host_bundle)):
        reports = {}
        for listing in ("--only-changes", "--all"):
            result = CliRunner().invoke(app, ["diff", str(a), str(b), "--format", "json", listing])
            assert result.exit_code in (0, 1), result.output
            reports[listing] = json.loads(result.stdout)
        short, full = reports["--only-changes"], reports["--all"]
        assert short["summary"] == full["summary"]
        assert short["changes"] == [c for c in full["changes"] if c["kind"] != "identical"]
        listed = sum(c["kind"] == "identical" and c["section"] == "packages" for c in full["changes"])
        assert listed == full["summary"]["packages"]["identical"] > 0

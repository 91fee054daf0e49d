"""The verdict scored against hand labels on real booted hosts (tests/scenarios/).

The labels were committed before migdiff first ran on each pair, and are never edited to match
its output; the bundles were collected from the host-lab hosts by tests/scenarios/make.sh.
"""
from __future__ import annotations

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "scenarios"))
import score as scoring  # noqa: E402

PAIRS = scoring.labelled_pairs()


@pytest.fixture(scope="module")
def scores() -> dict[str, scoring.Score]:
    out = {}
    for pair, source, target, labels in PAIRS:
        report = scoring.run_pair(source, target, [sys.executable, "-m", "migdiff"])
        out[pair] = scoring.score(pair, report, scoring.tomllib.loads(labels.read_text()))
        print("\n".join(out[pair].lines()))
    return out


def test_there_are_two_labelled_pairs_and_their_bundles() -> None:
    assert len(PAIRS) >= 2
    for _, source, target, _ in PAIRS:
        assert source.is_file() and target.is_file()


@pytest.mark.parametrize("pair", [p[0] for p in PAIRS])
def test_every_true_blocker_is_found(scores, pair: str) -> None:
    s = scores[pair]
    assert s.blocker_recall == 1.0, s.lines()


@pytest.mark.parametrize("pair", [p[0] for p in PAIRS])
def test_nine_reported_blockers_in_ten_are_real(scores, pair: str) -> None:
    s = scores[pair]
    assert s.blocker_precision >= 0.9, s.lines()


@pytest.mark.parametrize("pair", [p[0] for p in PAIRS])
def test_four_decisions_in_five_are_raised(scores, pair: str) -> None:
    s = scores[pair]
    assert s.warning_recall >= 0.8, s.lines()


@pytest.mark.parametrize("pair", [p[0] for p in PAIRS])
def test_the_verdict_is_the_labelled_one(scores, pair: str) -> None:
    s = scores[pair]
    assert s.verdict == s.expected_verdict, s.lines()


def test_a_complete_migration_has_no_blocker(scores) -> None:
    complete = [s for s in scores.values() if s.expected_verdict != "NOT READY"]
    assert complete
    for s in complete:
        assert s.blockers_reported == 0, s.lines()

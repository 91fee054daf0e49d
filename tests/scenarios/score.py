"""Scores migdiff's verdict on a labelled pair of real hosts against the hand labels.

    python tests/scenarios/score.py                     # every labelled pair, with the figures
    python tests/scenarios/score.py --migdiff OTHER/bin/migdiff   # another build (an older commit)

A change matches a label when its section is the label's and the label's name is one of the
names the change involves: its key (or either side of a "a = b" key), either side of its pair,
the package name in a package key.  A change no label matches is expected to be info; a change
set aside by a rule counts as info.  Blocker recall: blocker labels that some matching change
reports as a blocker.  Blocker precision: reported blockers whose change matches a blocker
label.  Warning recall: warning labels that some matching change reports as a warning.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
BUNDLES = HERE / "bundles"


@dataclass
class Score:
    pair: str
    verdict: str
    expected_verdict: str
    blocker_labels: int
    blockers_found: int
    blockers_reported: int
    blockers_right: int
    warning_labels: int
    warnings_found: int
    warnings_reported: int
    missed: list[str] = field(default_factory=list)
    false_blockers: list[str] = field(default_factory=list)
    unlabelled_warnings: list[str] = field(default_factory=list)
    wrong_info: list[str] = field(default_factory=list)

    @property
    def blocker_recall(self) -> float:
        return self.blockers_found / self.blocker_labels if self.blocker_labels else 1.0

    @property
    def blocker_precision(self) -> float:
        return self.blockers_right / self.blockers_reported if self.blockers_reported else 1.0

    @property
    def warning_recall(self) -> float:
        return self.warnings_found / self.warning_labels if self.warning_labels else 1.0

    def lines(self) -> list[str]:
        out = [f"{self.pair}: {self.verdict} (labelled {self.expected_verdict})",
               f"  blockers: {self.blockers_reported} reported, {self.blockers_right} right; recall "
               f"{self.blockers_found}/{self.blocker_labels} = {self.blocker_recall:.0%}, precision "
               f"{self.blockers_right}/{self.blockers_reported} = {self.blocker_precision:.0%}",
               f"  warnings: {self.warnings_reported} reported; recall {self.warnings_found}/{self.warning_labels} "
               f"= {self.warning_recall:.0%}; {len(self.unlabelled_warnings)} not labelled"]
        out += [f"  missed: {m}" for m in self.missed]
        out += [f"  false blocker: {m}" for m in self.false_blockers]
        out += [f"  warning, labelled info: {m}" for m in self.wrong_info]
        out += [f"  warning, not labelled: {m}" for m in self.unlabelled_warnings]
        return out


def names_of(change: dict) -> set[str]:
    names = set(change["key"].split(" = ")) | {change["key"]}
    if change.get("pair"):
        names |= {change["pair"]["source"], change["pair"]["target"]}
    if change["section"] == "packages":
        names |= {part.split(":")[1] for part in change["key"].split(" = ") if part.count(":") == 2}
    return names


def score(pair: str, report: dict, labels: dict) -> Score:
    changes = [c for c in report["changes"] if c["kind"] != "identical"]

    def severity(c: dict) -> str:
        return "info" if c.get("ignored") else c["severity"]

    def matches(label: dict) -> list[dict]:
        return [c for c in changes if c["section"] == label["section"] and label["name"] in names_of(c)]

    def label_of(c: dict) -> dict | None:
        found = [lab for lab in labels["label"] if lab["section"] == c["section"] and lab["name"] in names_of(c)]
        return max(found, key=lambda lab: {"info": 0, "warning": 1, "blocker": 2}[lab["severity"]]) if found else None

    blocker_labels = [lab for lab in labels["label"] if lab["severity"] == "blocker"]
    warning_labels = [lab for lab in labels["label"] if lab["severity"] == "warning"]
    found_b = [lab for lab in blocker_labels if any(severity(c) == "blocker" for c in matches(lab))]
    found_w = [lab for lab in warning_labels if any(severity(c) == "warning" for c in matches(lab))]
    reported_b = [c for c in changes if severity(c) == "blocker"]
    right_b = [c for c in reported_b if (label_of(c) or {}).get("severity") == "blocker"]
    reported_w = [c for c in changes if severity(c) == "warning"]
    s = Score(pair, report["judgement"]["verdict"], labels["verdict"], len(blocker_labels), len(found_b),
              len(reported_b), len(right_b), len(warning_labels), len(found_w), len(reported_w))
    s.missed = [f"{lab['section']} {lab['name']} ({lab['severity']}): {lab['why']}"
                for lab in blocker_labels + warning_labels if lab not in found_b + found_w]
    s.false_blockers = [f"{c['section']}: {c['text']}" for c in reported_b if c not in right_b]
    for c in reported_w:
        lab = label_of(c)
        if lab is None:
            s.unlabelled_warnings.append(f"{c['section']}: {c['text']}")
        elif lab["severity"] == "info":
            s.wrong_info.append(f"{c['section']}: {c['text']}")
    return s


def labelled_pairs() -> list[tuple[str, Path, Path, Path]]:
    out = []
    for labels in sorted(HERE.glob("*-to-*.labels.toml")):
        pair = labels.name[:-len(".labels.toml")]
        source, _, target = pair.partition("-to-")
        out.append((pair, BUNDLES / f"{source}.tgz", BUNDLES / f"{target}.tgz", labels))
    return out


def run_pair(source: Path, target: Path, migdiff: list[str]) -> dict:
    proc = subprocess.run([*migdiff, "diff", str(source), str(target), "--format", "json"],
                          capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"migdiff failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migdiff", default=None, help="the migdiff to run (default: this checkout's)")
    args = parser.parse_args(argv)
    command = [args.migdiff] if args.migdiff else [sys.executable, "-m", "migdiff"]
    for pair, source, target, labels in labelled_pairs():
        s = score(pair, run_pair(source, target, command), tomllib.loads(labels.read_text()))
        print("\n".join(s.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Version order by each package manager's own rules.

Cases come from the managers' documentation and test suites: deb-version(7) (~ sorts before
everything, even the end of a part; epochs; revisions), rpm's tests/rpmvercmp.at (including ~ and
^), apk-tools' test/version.data, plus pairs seen on the sample hosts.  Where the real tool is
installed (dpkg, rpm), every case is checked against it too, so a library regression or a wrong
expectation both show.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from migdiff.versions import compare_versions, movement

SIGN = {"<": -1, "=": 0, ">": 1}

DPKG = [
    # deb-version(7): "~~" < "~~a" < "~" < (empty) < "a"
    ("1.0~~", "<", "1.0~~a"), ("1.0~~a", "<", "1.0~"), ("1.0~", "<", "1.0"), ("1.0", "<", "1.0a"),
    ("1.0~rc1", "<", "1.0"), ("1.2.3~beta1", "<", "1.2.3"), ("1.0~rc1-1", "<", "1.0-1"),
    ("1:0.9", ">", "2.0"), ("0:1.0", "=", "1.0"), ("1:1.0", ">", "1.0"), ("2:1.0", ">", "1:9.9"),
    ("2.0-1", "<", "2.0-1ubuntu1"), ("1.0-1", "<", "1.0-1.1"), ("1.2.3-1", "=", "1.2.3-01"),
    ("1.10", ">", "1.9"), ("1.0.1", ">", "1.0"), ("1.0", "<", "1.0.0"), ("10.0001", "=", "10.1"),
    ("1.0a", "<", "1.0b"), ("1.0+dfsg-1", ">", "1.0-1"), ("2.30-1", ">", "2.4-1"), ("1.0-a", "<", "1.0-b"),
    ("1.0+b1", ">", "1.0"), ("1.0-1+b1", ">", "1.0-1"), ("1.0-1~bpo1", "<", "1.0-1"),
    # seen between the sample hosts (Debian 11 -> 12)
    ("7.6.q-31", "<", "7.6.q-32"), ("3.0pl1-137", "<", "3.0pl1-162"),
    ("1:8.4p1-5+deb11u3", "<", "1:9.2p1-2+deb12u10"), ("2.36-9+deb12u14", ">", "2.31-13+deb11u11"),
    ("2:6.2.1+dfsg-1+deb11u1", "<", "2:6.2.1+dfsg1-1.1"), ("0.5.11+git20200708+dd9ef66-5", "<", "0.5.12-2"),
    ("5.3.28+dfsg1-0.8", "<", "5.3.28+dfsg2-1"), ("2024a-0+deb11u1", "<", "2026b-0+deb12u1"),
    ("1:10.5.23-0+deb11u1", "<", "1:10.11.18-0+deb12u1"), ("1.3.4.20200120-2", "<", "1.3.4.20200120-3.1"),
]

RPM = [  # tests/rpmvercmp.at
    ("1.0", "=", "1.0"), ("1.0", "<", "2.0"), ("2.0.1", ">", "2.0"), ("2.0.1a", ">", "2.0.1"),
    ("5.5p1", "<", "5.5p2"), ("5.5p10", ">", "5.5p1"), ("10xyz", "<", "10.1xyz"), ("xyz10", "<", "xyz10.1"),
    ("xyz.4", "<", "8"), ("2", ">", "xyz.4"), ("5.5p2", "<", "5.6p1"), ("6.0.rc1", ">", "6.0"),
    ("10b2", ">", "10a1"), ("1.0a", "<", "1.0aa"), ("10.0001", "=", "10.1"), ("10.0001", "<", "10.0039"),
    ("4.999.9", "<", "5.0"), ("20101121", "<", "20101122"), ("2.0", "=", "2_0"), ("a+", "=", "a_"),
    ("1.0~rc1", "<", "1.0"), ("1.0~rc1", "<", "1.0~rc2"), ("1.0~rc1~git123", "<", "1.0~rc1"),
    ("1.0^", ">", "1.0"), ("1.0^git1", ">", "1.0"), ("1.0^git1", "<", "1.0^git2"), ("1.0^git1", "<", "1.01"),
    ("1.0^20160101", "<", "1.0.1"), ("1.0^20160102", ">", "1.0^20160101^git1"),
    ("1.0~rc1^git1", ">", "1.0~rc1"), ("1.0^git1", ">", "1.0^git1~pre"),
    # epoch and release, as rpm -qa shows them
    ("1:1.0-1", ">", "2.0-1"), ("1.0-1.el7", "<", "1.0-2.el7"), ("2.4.6-97.el7", "<", "2.4.6-98.el7"),
    ("3.10.0-1062.el7", "<", "3.10.0-1160.el7"), ("4:5.16.3-299.el7", ">", "5.30.0-1.fc31"),
]

APK = [  # apk-tools test/version.data
    ("2.34", ">", "0.1.0_alpha"), ("0.1.0_alpha2", ">", "0.1.0_alpha"), ("1.0.4-r3", "<", "1.0.4-r4"),
    ("1.1", ">", "1.1_alpha1"), ("1.3_alpha2", "<", "1.3_alpha3"), ("0.8_beta1", "<", "0.8_beta2"),
    ("2.3.0b-r1", "<", "2.3.0b-r2"), ("0.12.3", ">", "0.12"), ("3.1_p16", "<", "3.1_p17"),
    ("1.2.2-r1", ">", "1.2.2"), ("9.3.4-r2", ">", "9.3.4"), ("2.0.0_rc3-r1", ">", "1.5"),
    ("3.9_pre20060124", ">", "0.01"), ("0.10.0", "<", "0.10.1_rc1"), ("4.3_p2-r1", "<", "4.3_p2-r5"),
    ("4.5_p1-r1", ">", "4.5_p1"), ("1.8.5", "<", "1.8.5_p2"), ("1.7", "<", "1.7b"),
    ("2.9.11_pre20051101-r3", ">", "2.9.11_pre20051101"), ("1.6.8_p12-r1", ">", "1.6.8_p9-r2"),
    ("1.3-r0", "<", "1.3.1-r0"), ("1.3_pre1-r1", "<", "1.3.2"), ("1.0_p10-r0", ">", "1.0_p9-r0"),
    ("0.1.0_alpha_pre2", "<", "0.1.0_alpha"), ("7.0.17", "<", "7.0.174"), ("1.0.0", "=", "1.0.0"),
    ("1.0.0_pre20191002222144-r0", "<", "1.0.0_pre20210530193627-r0"), ("2.6.1.3-r1", ">", "2.6.1.3"),
]

CASES = [("dpkg", *c) for c in DPKG] + [("rpm", *c) for c in RPM] + [("apk", *c) for c in APK]


@pytest.mark.parametrize("manager,a,op,b", CASES, ids=[f"{m}:{a}{op}{b}" for m, a, op, b in CASES])
def test_documented_order(manager: str, a: str, op: str, b: str) -> None:
    assert compare_versions(manager, a, b) == SIGN[op]
    assert compare_versions(manager, b, a) == -SIGN[op]


@pytest.mark.skipif(not shutil.which("dpkg"), reason="dpkg is not installed")
def test_expectations_agree_with_dpkg_itself() -> None:
    for a, op, b in DPKG:
        relation = {"<": "lt", "=": "eq", ">": "gt"}[op]
        assert subprocess.run(["dpkg", "--compare-versions", a, relation, b]).returncode == 0, (a, op, b)


@pytest.mark.skipif(not shutil.which("rpm"), reason="rpm is not installed (apt-get install rpm)")
def test_expectations_agree_with_rpm_itself() -> None:
    script = "".join(f'print(rpm.vercmp("{a}", "{b}") .. " ") ' for a, _, b in RPM)
    out = subprocess.run(["rpm", "--eval", "%{lua: " + script + "}"], capture_output=True, text=True).stdout
    assert [int(x) for x in out.split()] == [SIGN[op] for _, op, _ in RPM]


def test_invalid_versions_claim_no_order() -> None:
    assert compare_versions("dpkg", "not a version!", "1.0") is None
    assert compare_versions("apk", "1.0", "1.0bc") is None  # version.data: "invalid. do string sort"


@pytest.mark.parametrize("manager,a,b,a_up,b_up,expected", [
    ("dpkg", "2.0-1", "2.0-1ubuntu1", "2.0", "2.0", "repackaged"),
    ("dpkg", "2.0-1ubuntu1", "2.0-1", "2.0", "2.0", "repackaged"),
    ("dpkg", "1:8.4p1-5+deb11u3", "1:9.2p1-2+deb12u10", "8.4p1", "9.2p1", "upgraded"),
    ("dpkg", "1:0.9-1", "2.0-1", "0.9", "2.0", "downgraded"),
    ("dpkg", "1:2.0-1", "2.0-1", "2.0", "2.0", "downgraded"),  # same upstream, but the epoch fell
    ("dpkg", "0:1.0-1", "1.0-1", "1.0", "1.0", "same"),
    ("rpm", "2.4.6-97.el7", "2.4.6-98.el7_9", "2.4.6", "2.4.6", "repackaged"),
    ("rpm", "3.10.0-1062.el7", "3.10.0-957.el7", "3.10.0", "3.10.0", "repackaged"),
    ("rpm", "1.0^git1-1", "1.0-1", "1.0^git1", "1.0", "downgraded"),
    ("apk", "1.2.3-r0", "1.2.3-r2", "1.2.3", "1.2.3", "repackaged"),
    ("apk", "1.0", "1.0bc", "1.0", "1.0bc", "unordered"),
])
def test_movement(manager, a, b, a_up, b_up, expected) -> None:
    assert movement(manager, a, b, a_up, b_up) == expected

"""Conformance of migsnap's parsers with real RHEL 5-10 captures kept by insights-core's tests.

Many RHEL hosts are documented today only by what insights-client or sos collected, so
`migdiff parse` must read those shapes.  `../shared/fixtures/insights/` holds 40 such captures
(insights-core's test data, Apache-2.0), each `<command>/<name>.out` beside `<name>.truth.json`:
records read from the raw text by small regular expressions, independently of our parsers, and
checked by hand.  Its manifest.json says which of our entries reads each file and whether the
command insights ran prints the format that entry reads (`same_format`).

- same format: our records, projected on the truth's fields, are the truth's records.
- another format (other flags: netstat -neopa, ss -tupna, full lsof, rpm -qa with an install-date
  column, insights' JSON lines): every record we give is one of the truth's (none wrong or
  invented), and each record we leave out is accounted for by a warning.

The files are read from `<repo>/../shared/fixtures/insights` (or MIGDIFF_INSIGHTS_FIXTURES);
without them this module is skipped.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import migsnap
from conftest import REPO

FIXTURES = Path(os.environ.get("MIGDIFF_INSIGHTS_FIXTURES") or REPO.parent / "shared" / "fixtures" / "insights")
if not (FIXTURES / "manifest.json").is_file():
    pytest.skip(f"insights fixtures not found at {FIXTURES} (set MIGDIFF_INSIGHTS_FIXTURES)", allow_module_level=True)

MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())


def _text(value):
    return None if value is None else str(value)


def _unbracket(address):
    """The truth keeps ss's "[::]"; our split_host_port drops the brackets (a matter of spelling)."""
    if isinstance(address, str) and address.startswith("[") and address.endswith("]"):
        return address[1:-1]
    return address


def chkconfig(data):
    out = [("sysv", s["name"], " ".join(s["runlevels"].get(str(i), "?") for i in range(7)))
           for s in data.get("services", [])]
    return out + [("xinetd", x["name"], x["state"]) for x in data.get("xinetd", [])]


def netstat(data):
    return [(r["proto"], r["local_address"], r["local_port"], r["state"], _text(r["pid"]), r["program"], r["type"],
             r["path"]) for r in data]


def ss(data):
    return [(r["netid"], r["state"], r["local_address"], r["local_port"], r["peer_address"], r["peer_port"],
             ",".join(f"{p['name']}/{p['pid']}" for p in r["processes"]) or None) for r in data]


def lsof(data):
    return [(r["command"], _text(r["pid"]), r["user"], r["fd"], r["type"], r["name"]) for r in data]


def fields_of(*names):
    return lambda data: [tuple(r.get(n) for n in names) for r in data]


PROJECT = {
    "chkconfig": chkconfig,
    "unit-files": fields_of("unit_file", "state", "preset"),
    "list-units": fields_of("unit", "load", "active", "sub", "description"),
    "initctl-list": lambda data: [(r["name"], r["instance"], r["goal"], r["state"], _text(r["pid"])) for r in data],
    "netstat": netstat,
    "ss": ss,
    "lsof": lsof,
    "rpm-qa": fields_of("name", "epoch", "version", "release", "arch"),
    "rpm-json": fields_of("name", "epoch", "version", "release", "arch"),
    "release": lambda data: [(data.get("name"), data.get("version"), data.get("codename"))],
    "os-release": lambda data: sorted(data.items()),
    "uname": lambda data: [tuple(data.get(f) for f in ("kernel_name", "node_name", "kernel_release",
                                                         "kernel_version", "machine", "processor",
                                                         "hardware_platform", "operating_system"))],
}


# Shapes other tools keep that are read whole, not only without inventing (issue 14): netstat -neopa's
# Timer column, rpm -qa with install dates, rpm's own errors mixed in, insights' rpm JSON lines.
READ_WHOLE = ("netstat/rhel7-neopa-satellite.out", "netstat/rhel6-neopa-portmap.out",
              "rpm/rhel6-manifest-installtime.out", "rpm/rhel7-qf-installtime-buildtime.out",
              "rpm/rhel6-satellite5-installtime.out", "rpm/rhel5-rpmdb-error.out", "rpm/rpmdb-broken.out",
              "rpm/rhel7-insights-json-qf.out")


def _records(truth):
    return [tuple(r) if isinstance(r, list) else r for r in truth["records"]]


@pytest.mark.parametrize("item", MANIFEST, ids=[m["file"] for m in MANIFEST])
def test_our_parser_reads_the_insights_capture(item: dict) -> None:
    raw = (FIXTURES / item["file"]).read_bytes()
    truth = json.loads((FIXTURES / item["file"].replace(".out", ".truth.json")).read_text())
    capture = migsnap.capture_by_id(item["entry"])
    data, warnings = migsnap.run_parser(capture, migsnap.to_text(raw))
    ours = [tuple(r) for r in PROJECT[item["kind"]](data)]
    expected = [tuple(r) for r in _records(truth)]
    if item["kind"] == "ss":
        expected = [(r[0], r[1], _unbracket(r[2]), r[3], _unbracket(r[4])) + tuple(r[5:]) for r in expected]
    if item["kind"] == "os-release":
        expected = sorted(expected)
    if item["same_format"]:
        assert ours == expected, warnings
        return
    invented = [r for r in ours if r not in expected]
    assert not invented, f"records no line of the capture holds: {invented[:5]}"
    missing = [r for r in expected if r not in ours]
    if item["file"] in READ_WHOLE:
        assert not missing, f"a shape migdiff parse must read whole: {missing[:3]}"
    assert len(warnings) >= min(len(missing), 1) if missing else True, \
        f"{len(missing)} records left out without a warning: {missing[:3]}"


def test_the_suite_covers_every_capture() -> None:
    assert len(MANIFEST) == 40
    assert {m["entry"] for m in MANIFEST} <= {c.id for c in migsnap.captures()}

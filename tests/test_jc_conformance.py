"""Conformance of migsnap's parsers with jc, on real command outputs.

The jc project (github.com/kellyjonbrazil/jc) keeps real outputs of many commands,
captured on CentOS 7.7 and Ubuntu 18.04, each `<name>.out` beside jc's parsed
`<name>.json`.  For every such file of a command one of our captures reads, the
records our parser finds must equal jc's, compared on the identifying fields only
(jc's shapes differ from ours), and the parser must give no warnings unless listed
in EXPECTED_WARNINGS below.

The files are not in this repository: they are looked for in
`<repo>/../shared/fixtures/jc` (see its README.md for which file is which command),
or wherever MIGDIFF_JC_FIXTURES points; without them this module is skipped.

Where jc and we disagree and jc is the one that is wrong (or makes a different,
defensible choice), our parser is not bent: the projections normalize what is only
a matter of spelling, JC_ERRATA corrects jc's record where it is wrong, and a test
near the end of the file asserts our choice and says why.
"""
import collections
import glob
import io
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    import migsnap
except ImportError:  # not installed: use the file of this checkout
    sys.path.insert(0, os.path.join(REPO, "snapshot"))
    import migsnap

FIXTURES = os.environ.get("MIGDIFF_JC_FIXTURES") or os.path.join(REPO, os.pardir, "shared", "fixtures", "jc")
FIXTURES = os.path.normpath(FIXTURES)
if not os.path.isdir(FIXTURES):
    pytest.skip("jc fixtures not found at %s (set MIGDIFF_JC_FIXTURES to their folder)" % FIXTURES,
                allow_module_level=True)


# ---------------------------------------------------------------------------
# Projections: one record (ours or jc's) -> a tuple of its identifying fields
# ---------------------------------------------------------------------------

def _unbracket(addr):
    """jc keeps the brackets of "[::]:ssh" (but not of ":::22"); our split_host_port drops them."""
    if addr and addr.startswith("[") and addr.endswith("]"):
        return addr[1:-1]
    return addr


def netstat_ours(r):
    if r["proto"] == "unix":
        return ("unix", r["type"], r["state"], r["inode"], r["pid"], r["program"], r["path"])
    return (r["proto"], r["local_address"], r["local_port"], r["foreign_address"], r["foreign_port"],
            r["state"], r["pid"], r["program"], r["user"], r["inode"])


def netstat_jc(r):
    if r["proto"] == "unix":
        return ("unix", r.get("type"), r.get("state"), r.get("inode"), r.get("pid"), r.get("program_name"),
                r.get("path"))
    return (r["proto"], _unbracket(r["local_address"]), r["local_port"], _unbracket(r["foreign_address"]),
            r["foreign_port"], r.get("state"), r.get("pid"), r.get("program_name"), r.get("user"), r.get("inode"))


def ss_ours(r):
    # A pid may hold the socket on several fds; jc keys its processes by pid, so compare sets.
    procs = frozenset((p["name"], p["pid"]) for p in r["processes"])
    # "*" with no port gives port "" from split_host_port; jc leaves the field out.
    return (r["netid"], r["state"], r["local_address"], r["local_port"], r["peer_address"], r["peer_port"] or None,
            procs)


def ss_jc(r):
    netid = r["netid"]
    if netid.startswith("u_"):
        # unix: our local_address is the path, local_port the inode
        local, port = r.get("path"), r.get("local_port")
    elif netid == "nl":
        # ss prints "rtnl:systemd-resolve/893"; we split it at the colon like any address,
        # jc splits it into channel "rtnl:systemd-resolve" and pid 893.
        channel = r["channel"] + ("/%d" % r["pid"] if "pid" in r else "")
        local, port = channel.split(":", 1)
    elif netid == "p_raw":
        # "LLDP:ens33": jc calls the two halves link_layer and interface
        local, port = r["link_layer"], r["interface"]
    else:
        # "127.0.0.53%lo:domain": we keep the zone in the address, jc moves it to "interface"
        local, port = _unbracket(r["local_address"]), r["local_port"]
        if r.get("interface"):
            local += "%" + r["interface"]
    # jc names the process name "user" (opts.process_id.<pid>.user)
    procs = frozenset((v["user"], int(pid)) for pid, v in r.get("opts", {}).get("process_id", {}).items())
    return (netid, r["state"], local, port, _unbracket(r["peer_address"]), r.get("peer_port"), procs)


LSOF_FIELDS = ("command", "pid", "tid", "user", "fd", "type", "device", "name")  # node, size_off: see below


def lsof_ours(r):
    return tuple(r[k] for k in LSOF_FIELDS)


def lsof_jc(r):
    return tuple(r.get(k) for k in LSOF_FIELDS)


# jc spells dpkg's states its own way; this maps jc's words to ours (dpkg's own names).
JC_DPKG_STATUS = {"not installed": "not-installed", "installed": "installed", "config-files": "config-files",
                  "unpacked": "unpacked", "failed config": "half-configured", "half installed": "half-installed",
                  "trigger await": "triggers-awaited", "trigger pending": "triggers-pending"}
JC_DPKG_ERROR = {None: None, "reinstall required": "reinst-required"}


def dpkg_ours(r):
    return (r["codes"], r["name"], r["version"], r["arch"], r["desired"], r["status"], r["error"], r["description"])


def dpkg_jc(r):
    return (r["codes"], r["name"], r["version"], r["architecture"], r["desired"], JC_DPKG_STATUS[r["status"]],
            JC_DPKG_ERROR[r.get("error")], r["description"])


def units_ours(r):
    return (r["unit"], r["load"], r["active"], r["sub"], r["description"])


def units_jc(r):
    return (r["unit"], r["load"], r["active"], r["sub"], r["description"])


def unit_files_ours(r):
    return (r["unit_file"], r["state"], r["preset"])


def unit_files_jc(r):
    return (r["unit_file"], r["state"], r.get("preset"))


def uname_ours(r):
    return (r["kernel_name"], r["node_name"], r["kernel_release"], r["kernel_version"], r["machine"],
            r["processor"], r["hardware_platform"], r["operating_system"])


def uname_jc(r):
    # jc reads the 6th and 7th words swapped: `uname -a` prints -m -p -i, i.e. machine,
    # processor, hardware platform (coreutils uname.c); see test_uname_processor_order.
    return (r["kernel_name"], r["node_name"], r["kernel_release"], r["kernel_version"], r["machine"],
            r["hardware_platform"], r["processor"], r["operating_system"])


def os_release(r):
    return tuple(sorted(r.items()))


def ls_ours(r, size=True):
    # jc squeezes the blanks of the date ("Aug  5  2019" -> "Aug 5 2019"); we keep ls's text.
    return (r["dir"], r["name"], r["mode"], r["links"], r["owner"], r["group"], r["size"] if size else None,
            r["target"], " ".join(r["date"].split()))


def ls_jc(r, size=True):
    return (r.get("parent"), r["filename"], r["flags"], r["links"], r["owner"], r["group"],
            str(r["size"]) if size else None, r.get("link_to"), r["date"])


def ls_h_ours(r):
    return ls_ours(r, size=False)  # jc turns "4.0K" into 4: see test_ls_human_sizes


def ls_h_jc(r):
    return ls_jc(r, size=False)


# ---------------------------------------------------------------------------
# The table: jc files (globs under the fixture folder) -> capture whose parser reads
# that command -> projections of our record and of jc's
# ---------------------------------------------------------------------------
TABLE = (
    ("*/netstat*.out",           "netstat-nlp",                  netstat_ours,    netstat_jc),
    ("*/ss-*.out",               "ss-nlpaxtudw",                 ss_ours,         ss_jc),
    ("*/lsof*.out",              "lsof-nPi",                     lsof_ours,       lsof_jc),
    ("*/dpkg-l*.out",            "dpkg-l",                       dpkg_ours,       dpkg_jc),
    ("*/systemctl.out",          "systemctl-units-service",      units_ours,      units_jc),
    ("*/systemctl-luf.out",      "systemctl-unit-files-service", unit_files_ours, unit_files_jc),
    ("*/uname-a*.out",           "uname-a",                      uname_ours,      uname_jc),
    ("generic/os-release-*",     "os-release",                   os_release,      os_release),
    ("*/ls-al.out",              "ls-rc-d",                      ls_ours,         ls_jc),
    ("*/ls-alR.out",             "ls-rc-d",                      ls_ours,         ls_jc),
    ("*/ls-l-iso.out",           "ls-rc-d",                      ls_ours,         ls_jc),
    ("*/ls-l*-newlines.out",     "ls-rc-d",                      ls_ours,         ls_jc),
    ("*/ls-alh.out",             "ls-rc-d",                      ls_h_ours,       ls_h_jc),
)


def _newline_warnings(first_lines):
    """ls prints a newline in a file name as is; parse_ls_l joins the lines back and warns once a name."""
    names = ("\n\nthis file has\na combination\n\n\nof everything\n\n\n\n", "this file has\na newline inside",
             "this file has\n\n\n\nfour contiguous newlines inside", "this file\nhas\nsix\n\nnewlines\n\nwithin",
             "\n\n\n\nthis file starts with four newlines", "\nthis file starts with one newline")
    return ["line %d: file name with %d newline(s), joined from the lines below: %r" % (n, name.count("\n"), name)
            for n, name in zip(first_lines, names)]


EXPECTED_WARNINGS = {
    # "rh": lower-case "h" is no status dpkg prints (its status letters are "ncHUFWti",
    # half-installed is "H"); the line was edited by hand for jc's test.  jc lower-cases
    # the codes and reads "half installed"; we refuse to guess and warn.
    "ubuntu-18.04/dpkg-l-codes.out": [
        "line 9: unrecognized line: 'rh  acpid                           1:2.0.28-1ubuntu1    amd64"
        "                Advanced Configuration...'"],
    "centos-7.7/ls-l-newlines.out": _newline_warnings((3, 14, 16, 21, 28, 33)),
    "ubuntu-18.04/ls-l-newlines.out": _newline_warnings((3, 14, 16, 21, 28, 33)),
    "centos-7.7/ls-lR-newlines.out": _newline_warnings((14, 25, 27, 32, 39, 44)),
    "ubuntu-18.04/ls-lR-newlines.out": _newline_warnings((11, 22, 24, 29, 36, 41)),
}


def _drop_rh(records):
    return [r for r in records if r["codes"] != "rh"]  # see EXPECTED_WARNINGS


def _strip_last_name(records):
    # ls-l-iso.out ends in a blank line ("zipdetails\n\n"); jc makes it part of the last
    # name.  An extra line end at the very end of a capture is an artifact, not a name.
    return records[:-1] + [dict(records[-1], filename=records[-1]["filename"].rstrip("\n"))]


JC_ERRATA = {
    "ubuntu-18.04/dpkg-l-codes.out": _drop_rh,
    "ubuntu-18.04/ls-l-iso.out": _strip_last_name,
}


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _rel(path):
    return os.path.relpath(path, FIXTURES).replace(os.sep, "/")


def _files(pattern):
    return sorted(_rel(p) for p in glob.glob(os.path.join(FIXTURES, pattern)) if not p.endswith(".json"))


def _parse(rel, capture_id):
    with open(os.path.join(FIXTURES, rel), "rb") as f:
        text = migsnap.to_text(f.read())  # decoded the way the collector decodes command output
    return migsnap.run_parser(migsnap.capture_by_id(capture_id), text)


def _jc(rel):
    base = rel[:-len(".out")] if rel.endswith(".out") else rel
    with io.open(os.path.join(FIXTURES, base + ".json"), encoding="utf-8") as f:
        return json.load(f)


def _records(data):
    return data if isinstance(data, list) else [data]  # uname and os-release give one dict


CASES = [pytest.param(rel, capture_id, ours, theirs, id=rel)
         for pattern, capture_id, ours, theirs in TABLE for rel in _files(pattern)]


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_table_covers_the_fixtures():
    seen = collections.Counter(rel for pattern, _, _, _ in TABLE for rel in _files(pattern))
    assert [rel for rel, count in seen.items() if count > 1] == []
    for pattern, capture_id, _, _ in TABLE:
        assert _files(pattern), "no jc file matches %s" % pattern
        assert migsnap.capture_by_id(capture_id).parser.startswith("parse_")
    # ../shared grows (47 files by December 2026): fewer than the 45 first covered means lost coverage
    assert len(seen) >= 45


@pytest.mark.parametrize("rel, capture_id, ours, theirs", CASES)
def test_records_match_jc(rel, capture_id, ours, theirs):
    data, _ = _parse(rel, capture_id)
    jc = _jc(rel)
    jc = JC_ERRATA.get(rel, lambda records: records)(_records(jc))
    got = collections.Counter(ours(r) for r in _records(data))
    want = collections.Counter(theirs(r) for r in jc)
    assert got, "parser found nothing"
    only_ours = sorted((got - want).elements(), key=repr)
    only_jc = sorted((want - got).elements(), key=repr)
    assert (only_ours, only_jc) == ([], [])


@pytest.mark.parametrize("rel, capture_id, ours, theirs", CASES)
def test_warnings(rel, capture_id, ours, theirs):
    _, warnings = _parse(rel, capture_id)
    assert warnings == EXPECTED_WARNINGS.get(rel, [])


# Our deliberate divergences from jc, each asserted on the file that shows it.

def test_uname_processor_order():
    # "... i686 i686 i386 GNU/Linux": coreutils prints machine (-m), processor (-p), hardware
    # platform (-i), so the processor is i686 and the platform i386; jc swaps the two.
    data, _ = _parse("generic/uname-a-different-proc.out", "uname-a")
    assert (data["machine"], data["processor"], data["hardware_platform"]) == ("i686", "i686", "i386")
    jc = _jc("generic/uname-a-different-proc.out")
    assert (jc["machine"], jc["processor"], jc["hardware_platform"]) == ("i686", "i386", "i686")


def test_plain_uname_is_not_uname_a():
    # centos-7.7/uname.out is plain `uname` (jc rejects it and has no .json).
    assert _parse("centos-7.7/uname.out", "uname-a") == ({}, ["line 1: too few fields for uname -a: 'Linux'"])


@pytest.mark.parametrize("rel", _files("*/lsof*.out"))
def test_lsof_node_and_offset_stay_text(rel):
    # jc turns NODE and SIZE/OFF into numbers: "TCP"/"UDP" (the NODE of a network file)
    # becomes null and an offset "0t0" becomes 0.  We keep lsof's text.
    data, _ = _parse(rel, "lsof-nPi")
    jc = _jc(rel)
    assert [lsof_ours(r) for r in data] == [lsof_jc(r) for r in jc]  # same rows, same order
    for ours, theirs in zip(data, jc):
        if theirs["node"] is None:
            assert ours["node"] in (None, "TCP", "UDP", "ALL")
        else:
            assert ours["node"] == str(theirs["node"])
        if theirs["size_off"] is None:
            assert ours["size_off"] is None
        else:
            assert int(ours["size_off"].replace("0t", "")) == theirs["size_off"]
    if "sudo" in rel:
        assert set(r["node"] for r in data if r["type"] in ("IPv4", "IPv6")) == set(["TCP", "UDP"])


@pytest.mark.parametrize("rel", _files("*/ls-alh.out"))
def test_ls_human_sizes(rel):
    # jc turns the -h size "4.0K" into 4 (lossy); we keep ls's text.
    data, _ = _parse(rel, "ls-rc-d")
    sizes = dict((r["name"], r["size"]) for r in data)
    jc_sizes = dict((r["filename"], r["size"]) for r in _jc(rel))
    assert sizes["boot"] == "4.0K" and jc_sizes["boot"] == 4
    for name, size in sizes.items():
        assert int(float(size.rstrip("KMGTP"))) == jc_sizes[name]


def test_ls_trailing_blank_line_is_no_part_of_a_name():
    data, warnings = _parse("ubuntu-18.04/ls-l-iso.out", "ls-rc-d")
    assert data[-1]["name"] == "zipdetails" and warnings == []
    assert _jc("ubuntu-18.04/ls-l-iso.out")[-1]["filename"] == "zipdetails\n"


def test_dpkg_impossible_status_is_a_warning_not_a_guess():
    data, _ = _parse("ubuntu-18.04/dpkg-l-codes.out", "dpkg-l")
    assert "acpid" not in [r["name"] for r in data]
    assert [r["codes"] for r in _jc("ubuntu-18.04/dpkg-l-codes.out") if r["name"] == "acpid"] == ["rh"]

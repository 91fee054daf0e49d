"""OpenRC (issue 15): the Debian host booted with sysvinit's init and Debian's openrc as its rc
system (host-lab kind openrc12, sample_bundles/debian12-openrc.tgz), its normalization, and the
verdict on two pairs scored against hand labels (tests/scenarios/openrc/, committed before
migdiff first ran on them and never edited to match its output)."""
from __future__ import annotations

import sys

import pytest

import migsnap
from conftest import FIXTURES, REPO

sys.path.insert(0, str(REPO / "tests" / "scenarios"))
import score as scoring  # noqa: E402

LABELS = REPO / "tests" / "scenarios" / "openrc"
SAMPLES = REPO / "sample_bundles"
PAIRS = sorted(p.name[:-len(".labels.toml")] for p in LABELS.glob("*-to-*.labels.toml"))


def _parsed(folder: str, *ids: str) -> dict:
    out = {}
    for cid in ids:
        path = FIXTURES / folder / f"{cid}.out"
        capture = migsnap.capture_by_id(cid)
        result = migsnap.Result(capture)
        result.raw = [("raw/x.out", "stdout" if capture.kind == migsnap.CMD else "file", None, path.read_bytes())]
        err = path.with_suffix(".err")
        if err.exists():
            result.raw.append(("raw/x.err", "stderr", None, err.read_bytes()))
        out[cid], _ = migsnap.run_parser(capture, result.parser_input())
    return out


OPENRC_IDS = ("rc-status-a", "rc-update-show-v", "openrc-runlevels", "openrc-softlevel")


def test_an_openrc_host_is_recognised_with_its_runlevel() -> None:
    parsed = _parsed("debian-12-openrc", *OPENRC_IDS)
    parsed["pid1-comm"] = {"value": "init"}
    parsed["runlevel"] = {"previous": "N", "current": "2"}
    init = migsnap.normalize(parsed)["init"]
    assert init["active"] == "openrc" and "openrc" in init["present"]
    assert init["openrc_runlevel"] == "default" and init["sources"]["openrc_runlevel"] == "openrc-softlevel"
    assert init["current_runlevel"] == "2"  # sysvinit's own runlevel is kept


def test_without_the_softlevel_file_rc_status_tells_the_runlevel() -> None:
    parsed = _parsed("debian-12-openrc", "rc-status-a", "rc-update-show-v")
    parsed["pid1-comm"] = {"value": "init"}
    init = migsnap.normalize(parsed)["init"]
    assert init["active"] == "openrc" and init["openrc_runlevel"] == "default"


def test_openrc_services_get_their_runlevels_and_state() -> None:
    parsed = _parsed("debian-12-openrc", *OPENRC_IDS)
    parsed["pid1-comm"] = {"value": "init"}
    # sysv-rc's rc2.d links left behind: OpenRC ignores them, so must the snapshot
    parsed["rc-links"] = [{"runlevel": "2", "action": "S", "priority": 2, "script": "rsync", "link": "S02rsync",
                           "target": "../init.d/rsync"}]
    services = migsnap.normalize(parsed)["services"]
    ssh, memcached, rsync = services["ssh"], services["memcached"], services["rsync"]
    assert (ssh["init"], ssh["runlevels"], ssh["enabled"], ssh["running"]) == ("openrc", {"default": "on"}, True, True)
    assert memcached["runlevels"] == {"boot": "on"} and memcached["enabled"] is True
    assert rsync["runlevels"] == {"offline": "on"} and rsync["enabled"] is False and rsync["running"] is False
    assert services["bootmisc.sh"]["enabled_state"] == "in runlevel sysinit"


def test_a_dead_daemon_of_an_lsb_script_is_not_running() -> None:
    """OpenRC still says "started" of memcached after its daemon was killed (LSB scripts have no
    supervision); the script's own status says stopped (real output, host openrc12)."""
    parsed = _parsed("debian-12-openrc-crashed", "rc-status-a", "service-status-all")
    parsed.update(_parsed("debian-12-openrc", "rc-update-show-v", "openrc-softlevel"))
    parsed["pid1-comm"] = {"value": "init"}
    script = {"default_start": ["2", "3", "4", "5"], "default_stop": ["0", "1", "6"], "description": None}
    parsed["init-scripts"] = [dict(script, name="memcached", file="/etc/init.d/memcached", provides=["memcached"],
                                   daemons=["/usr/bin/memcached"], pidfiles=["/var/run/memcached.pid"]),
                              dict(script, name="procps", file="/etc/init.d/procps", provides=["procps"],
                                   daemons=["/sbin/sysctl"], pidfiles=[])]
    parsed["init-d"] = [{"name": n, "type": "file", "target": None} for n in ("memcached", "procps")]
    services = migsnap.normalize(parsed)["services"]
    assert services["memcached"]["running"] is False and services["memcached"]["state"] == "crashed"
    assert services["procps"]["running"] is True  # a one-shot: its status always says stopped


def test_the_sample_bundle_validates_and_shows_openrc_runlevels() -> None:
    from typer.testing import CliRunner

    from migdiff.cli import app
    bundle = SAMPLES / "debian12-openrc.tgz"
    runner = CliRunner()
    assert runner.invoke(app, ["validate", str(bundle)]).exit_code == 0
    shown = runner.invoke(app, ["show", str(bundle), "-s", "init", "-s", "services"])
    assert shown.exit_code == 0, shown.output
    assert "active: openrc" in shown.output
    assert "memcached [openrc] running, enabled (runlevels boot)" in shown.output
    assert "bootlogs [openrc] running, enabled (runlevels default, recovery)" in shown.output


@pytest.fixture(scope="module")
def scores() -> dict[str, scoring.Score]:
    out = {}
    for pair in PAIRS:
        source, _, target = pair.partition("-to-")
        report = scoring.run_pair(SAMPLES / f"{source}.tgz", SAMPLES / f"{target}.tgz",
                                  [sys.executable, "-m", "migdiff"])
        out[pair] = scoring.score(pair, report, scoring.tomllib.loads((LABELS / f"{pair}.labels.toml").read_text()))
        print("\n".join(out[pair].lines()))
    return out


def test_there_are_two_labelled_openrc_pairs() -> None:
    assert PAIRS == ["debian11-sysv-to-debian12-openrc", "debian12-openrc-to-debian12-systemd"]


@pytest.mark.parametrize("pair", PAIRS)
def test_the_verdict_follows_the_labels(scores, pair: str) -> None:
    s = scores[pair]
    assert s.verdict == s.expected_verdict, s.lines()
    assert s.blocker_recall == 1.0 and s.blocker_precision >= 0.9 and s.warning_recall >= 0.8, s.lines()
    assert not s.wrong_info, s.lines()


def test_rc_status_shapes_beyond_the_debian_host() -> None:
    """A supervised service's uptime and respawn count, a line before any heading, colour-free."""
    text = ("Runlevel: default\n sshd        [  started 1 day 02:03:04 (0)  ]\n"
            " nginx       [  crashed  ]\nDynamic Runlevel: manual\n foo   [  started  ]\n")
    data, warnings = migsnap.parse_rc_status(text)
    assert data[0] == {"runlevel": "default", "dynamic": False, "name": "sshd", "status": "started",
                       "detail": "1 day 02:03:04 (0)"}
    assert data[1]["status"] == "crashed" and data[2]["dynamic"] and not warnings
    assert migsnap.parse_rc_status(" sshd [ started ]\n")[1]  # outside a runlevel: a warning


def test_a_stacked_runlevel_is_no_service() -> None:
    text = "/etc/runlevels/default/boot\tlink\t../boot\n/etc/runlevels/default/sshd\tlink\t/etc/init.d/sshd\n"
    data, _ = migsnap.parse_openrc_runlevels(text)
    assert [(r["name"], r["stacked"]) for r in data] == [("boot", True), ("sshd", False)]

"""The migration verdict: severities, attribution, cross-distribution names, expected differences."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import migsnap
from conftest import FIXTURES, SHARED, by_key, diff_json, snapshot_of
from migdiff import names as names_map
from migdiff import schema
from migdiff.attribution import attribute
from migdiff.changes import HostRef
from migdiff.cli import app
from migdiff.compare import compare
from migdiff.models import Snapshot
from migdiff.verdict import judge, load_rules

runner = CliRunner()


def run(*args: object, env: dict | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)


# --- the sample pair: a SysV Debian 11 host and its systemd Debian 12 replacement -------------------

def test_the_report_opens_with_the_verdict_and_blockers(gaps_pair) -> None:
    result = run("diff", *gaps_pair, "--width", "1000", env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("NOT READY: 4 blockers, ") and " warnings" in lines[0]
    blockers = lines[lines.index("Blockers") + 1:lines.index("Warnings") - 1]
    memcached = [line for line in blockers if "services: memcached:" in line]
    assert memcached and "serves tcp/127.0.0.1:11211" in memcached[0] and "[service-missing]" in memcached[0]
    assert "install and enable it on target" in memcached[0], "a blocker says what to do"
    myapp = [line for line in blockers if "services: myapp:" in line]
    assert myapp and "serves tcp/*:8080" in myapp[0]
    assert all(not line.startswith("  + ") for line in blockers), "extra on target is never a blocker"
    summary = lines[lines.index("Other differences, by kind (every one with --all)") + 1:]
    assert any("packages upgraded within their release series" in line for line in summary)
    assert not any(line.startswith("Other differences: packages") for line in lines), "details only with --all"
    full = run("diff", *gaps_pair, "--all", "--width", "1000", env={"NO_COLOR": "1"}).stdout
    assert "Other differences: packages" in full and "= cron: running and enabled on both" in full


def test_severities_on_the_sample_pair(sample_pair) -> None:
    report = diff_json(*sample_pair)
    assert report["judgement"]["verdict"] == "READY WITH WARNINGS"
    services, ports, packages = by_key(report, "services"), by_key(report, "ports"), by_key(report, "packages")
    swap = services["apache2 = nginx"][0]
    assert (swap["field"], swap["severity"], swap["reason"], swap["role"]) == \
        ("replaced-by", "warning", "role-swapped", "web-server")
    assert "virtual hosts" in swap["hint"]
    assert ports["tcp/*:80"][0]["severity"] == "info" and ports["tcp/*:80"][0]["reason"] == "role-swapped"
    bind = ports["tcp/127.0.0.1:3306 = tcp/*:3306"][0]
    assert bind["pair"]["how"] == "wider-bind" and bind["severity"] == "warning" and bind["reason"] == "exposed-port"
    assert "tcp/*:3306" not in ports, "the wildcard socket is the bind change, not a new listener too"
    rsyslog = services["rsyslog"][0]
    assert rsyslog["pair"]["how"] == "built-in" and rsyslog["pair"]["target"] == "systemd-journald"
    assert rsyslog["severity"] == "warning" and rsyslog["reason"] == "role-builtin"
    openssh = packages["dpkg:openssh-server:amd64"][0]
    assert openssh["movement"] == "upgraded" and openssh["new_series"] is True
    assert openssh["severity"] == "warning" and openssh["reason"] == "new-series", "8.4 to 9.2 of what serves :22"
    assert packages["dpkg:cron:amd64"][0]["movement"] == "repackaged"  # 3.0pl1-137 -> 3.0pl1-162
    assert packages["dpkg:cron:amd64"][0]["severity"] == "info"
    assert packages["dpkg:apache2:amd64"][0]["reason"] == "follows-service", "judged by its service"
    assert packages["dpkg:apache2-bin:amd64"][0]["severity"] == "info"
    libssl = packages["dpkg:libssl1.1:amd64 = dpkg:libssl3:amd64"][0]
    assert libssl["pair"]["how"] == "library-soname" and libssl["severity"] == "info"
    assert packages["dpkg:gcc-10-base:amd64 = dpkg:gcc-12-base:amd64"][0]["pair"]["how"] == "successor"
    assert packages["dpkg:libprocps8:amd64 = dpkg:libproc2-0:amd64"][0]["pair"]["how"] == "successor", \
        "renamed within its source package"
    provided = packages["dpkg:mariadb-server-10.5:amd64"][0]
    assert provided["pair"] == {"source": "mariadb-server-10.5", "target": "mariadb-server", "function": "mysql",
                                "how": "provided-by"} and provided["severity"] == "info"
    mariadb = packages["dpkg:mariadb-server-core-10.5:amd64 = dpkg:mariadb-server-core:amd64"][0]
    assert mariadb["severity"] == "warning" and mariadb["role"] == "database", "10.5 to 10.11 holds data"
    assert packages["dpkg:mariadb-server:all = dpkg:mariadb-server:amd64"][-1]["reason"] == "covered"
    assert packages["dpkg:lsb-base:all"][0]["installed_as"] == "dependency", "pulled in by debootstrap"
    assert packages["dpkg:gcc-9-base:amd64"][0]["installed_as"] == "base"
    init = by_key(report, "init")
    assert init["active"][0]["severity"] == "warning"
    assert init["default_boot"][0]["severity"] == "info", "graphical.target starts all multi-user.target does"
    assert by_key(report, "system")["hostname"][0]["ignored"].startswith("identity")
    assert report["judgement"]["blocker"] == 0 and report["judgement"]["evidence"] == []


def test_reverse_direction_reports_downgrades(sample_pair) -> None:
    report = diff_json(sample_pair[1], sample_pair[0])
    openssh = by_key(report, "packages")["dpkg:openssh-server:amd64"][0]
    assert openssh["movement"] == "downgraded" and openssh["severity"] == "warning"
    assert openssh["reason"] == "downgraded"
    memcached = by_key(report, "services")["memcached"][0]
    assert memcached["severity"] == "blocker" and memcached["reason"] == "service-missing"
    assert by_key(report, "services")["nginx = apache2"][0]["reason"] == "role-swapped"


def test_json_report_follows_its_schema(sample_pair) -> None:
    report = diff_json(*sample_pair, "--show-ignored")
    errors = list(schema.validator("diff").iter_errors(report))
    assert not errors, [e.message for e in errors[:3]]
    assert {"blocker", "warning", "info"} <= {c["severity"] for c in report["changes"]}


# --- attribution --------------------------------------------------------------------------------------

def test_ports_are_tied_to_service_and_package(sample_pair) -> None:
    names = names_map.load()
    sysv, systemd = (attribute(snapshot_of(p), names) for p in sample_pair)
    assert sysv.for_port("tcp/*:80").service == "apache2" and sysv.for_port("tcp/*:80").package == "apache2-bin"
    assert sysv.for_port("tcp/*:22").service == "ssh" and sysv.for_port("tcp/*:22").package == "openssh-server"
    mysql = sysv.for_port("tcp/127.0.0.1:3306")
    assert (mysql.process, mysql.service, mysql.package) == ("mariadbd", "mariadb", "mariadb-server-core-10.5")
    # on systemd the unit comes from the process's cgroup; PID 1 holding mariadb.socket is not the daemon
    assert systemd.for_port("tcp/*:3306").service == "mariadb"
    assert systemd.for_port("tcp/*:80").service == "nginx" and systemd.for_port("tcp/*:80").package == "nginx"
    assert systemd.for_service("memcached").ports == ["tcp/127.0.0.1:11211"]
    assert sysv.for_service("rsyslog").package == "rsyslog"


# --- across distribution families ----------------------------------------------------------------------

def snapshot_from_fixtures(*files: Path) -> Snapshot:
    """A snapshot normalized by the collector's own code from real captures of one host."""
    parsed = {}
    for path in files:
        capture = migsnap.capture_by_id(path.name[:-len(".out")])
        parsed[capture.id] = migsnap.run_parser(capture, migsnap.to_text(path.read_bytes()))[0]
    snap = migsnap.normalize(parsed)
    snap["collector_version"] = migsnap.__version__
    return Snapshot.model_validate(snap)


def ref(name: str) -> HostRef:
    return HostRef(bundle=name, hostname=None, distro=None, kernel_release=None, init=None, collected_at=None,
                   collector_version=None)


def judged(a: Snapshot, b: Snapshot) -> dict:
    report = compare(a, b, ref("a"), ref("b"), names_map.load(), include_identical=True)
    return judge(report, load_rules()).model_dump(mode="json")


def test_debian_services_pair_with_red_hat_names(sample_pair) -> None:
    rhel = snapshot_from_fixtures(FIXTURES / "centos-6-xinetd" / "chkconfig-list.out")
    report = judged(snapshot_of(sample_pair[0]), rhel)
    pairs = {c["pair"]["source"]: c["pair"]["target"] for c in report["changes"] if c["pair"]}
    assert pairs["apache2"] == "httpd" and pairs["ssh"] == "sshd" and pairs["cron"] == "crond"
    assert pairs["mariadb"] == "mysqld"
    keys = {c["key"] for c in report["changes"] if c["section"] == "services"}
    assert "apache2" not in keys and "httpd" not in keys and "apache2 = httpd" in keys


def test_debian_packages_and_ports_pair_with_a_red_hat_host(sample_pair) -> None:
    rhel = snapshot_from_fixtures(*(FIXTURES / "rhel-6.4-i686" / f for f in
                                    ("netstat-nlp.out", "rpm-qa.out", "redhat-release.out")))
    report = judged(snapshot_of(sample_pair[0]), rhel)
    packages = {c["pair"]["source"]: c["pair"] for c in report["changes"]
                if c["section"] == "packages" and c["pair"]}
    assert packages["apache2"]["target"] == "httpd" and packages["apache2"]["how"] == "same-function"
    assert packages["openssh-server"]["how"] == "other-manager"
    assert packages["cron"]["target"] == "cronie"
    ports = by_key(report, "ports")
    assert ports["tcp/*:80"][0]["kind"] == "identical", "apache2 and httpd serving :80 is the same function"
    assert ports["tcp/*:22"][0]["kind"] == "identical"


@pytest.mark.skipif(not (SHARED / "fixtures" / "jc").is_dir(), reason="../shared/fixtures/jc is not here")
def test_ubuntu_and_centos_systemd_hosts_pair_ssh_with_sshd() -> None:
    jc = SHARED / "fixtures" / "jc"

    def host(folder: str, packages: str | None) -> Snapshot:
        tmp = {"systemctl-units-service": jc / folder / "systemctl.out",
               "systemctl-unit-files-service": jc / folder / "systemctl-luf.out",
               "netstat-nlp": jc / folder / "netstat-sudo-lnp.out"}
        parsed = {}
        for cid, path in tmp.items():
            capture = migsnap.capture_by_id(cid)
            parsed[cid] = migsnap.run_parser(capture, path.read_text())[0]
        parsed["systemctl-units-service"] = [u for u in parsed["systemctl-units-service"]
                                             if u["unit"].endswith(".service")]
        parsed["systemctl-unit-files-service"] = [u for u in parsed["systemctl-unit-files-service"]
                                                  if u["unit_file"].endswith(".service")]
        parsed["pid1-comm"] = {"value": "systemd"}
        if packages:
            parsed["dpkg-l"] = migsnap.parse_dpkg_l((jc / folder / packages).read_text())[0]
        snap = migsnap.normalize(parsed)
        snap["collector_version"] = migsnap.__version__
        return Snapshot.model_validate(snap)

    report = judged(host("ubuntu-18.04", "dpkg-l.out"), host("centos-7.7", None))
    pairs = {c["pair"]["source"]: c["pair"] for c in report["changes"] if c["section"] == "services" and c["pair"]}
    assert pairs["ssh"]["target"] == "sshd" and pairs["cron"]["target"] == "crond"
    services = by_key(report, "services")
    assert "cron" not in services and "crond" not in services, "paired, not one missing and one extra"


# --- expected differences, names of your own, exit codes ------------------------------------------------

def test_an_ignore_file_sets_changes_aside_with_their_reason(gaps_pair, tmp_path: Path) -> None:
    rules = tmp_path / "ignore.toml"
    rules.write_text('[services]\n"memcached" = "the cache moves to its own host"\n'
                     '[packages]\n"reason:new-series" = "every upgrade was tested in staging"\n')
    plain = diff_json(*gaps_pair)
    report = diff_json(*gaps_pair, "--ignore", rules)
    memcached = by_key(report, "services")["memcached"][0]
    assert memcached["ignored"].startswith("the cache moves to its own host") and str(rules) in memcached["ignored"]
    assert report["judgement"]["blocker"] == plain["judgement"]["blocker"] - 1
    assert report["judgement"]["ignored"] > plain["judgement"]["ignored"]
    upgrades = [c for c in report["changes"] if c["reason"] == "new-series"]
    assert upgrades and all(c["ignored"].startswith("every upgrade was tested") for c in upgrades), \
        "a rule can name a reason code"
    text = run("diff", *gaps_pair, "--ignore", rules, "--show-ignored", env={"NO_COLOR": "1"}).stdout
    assert "Set aside as expected" in text and "the cache moves to its own host" in text
    assert "the cache moves to its own host" not in run("diff", *gaps_pair, "--ignore", rules).stdout


def test_a_services_rule_covers_the_runlevels_of_a_paired_service(sample_pair, full_pair, tmp_path: Path) -> None:
    """rc.local and rc-local (or apache2 and httpd) are one service, keyed by both names in the
    services and runlevels sections alike: a rule on either name covers both."""
    rules = tmp_path / "ignore.toml"
    rules.write_text('[services]\n"rc.local" = "nothing in /etc/rc.local"\n')
    report = diff_json(*sample_pair, "--ignore", rules)
    levels = by_key(report, "runlevels")["rc.local = rc-local"][0]
    assert levels["ignored"].startswith("nothing in /etc/rc.local")
    assert by_key(report, "services")["rc.local = rc-local"][0]["ignored"].startswith("nothing in")
    mapped = by_key(diff_json(*full_pair, "--all"), "runlevels")
    assert mapped["php7.4-fpm = php8.2-fpm"][0]["kind"] == "identical", "runlevels 2345 = multi-user.target"
    assert mapped["myapp"][0]["kind"] == "identical", "a script in 2345 and a unit of multi-user.target"


def test_default_ignore_file_location(sample_pair, tmp_path: Path) -> None:
    (tmp_path / "migdiff").mkdir()
    (tmp_path / "migdiff" / "ignore.toml").write_text('[services]\n"rsyslog" = "journald does it"\n')
    result = run("diff", *sample_pair, "-f", "json", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert by_key(json.loads(result.stdout), "services")["rsyslog"][0]["ignored"].startswith("journald does it")


def test_builtin_ignores_can_be_turned_off(sample_pair) -> None:
    report = diff_json(*sample_pair, "--no-builtin-ignores")
    assert by_key(report, "system")["hostname"][0]["ignored"] is None
    assert report["judgement"]["ignored"] == 0


@pytest.mark.parametrize("content,words", [
    ("[servces]\nx = 'y'\n", "unknown section [servces]"),
    ("[services]\nx = ''\n", "needs a reason"),
    ("[services\n", "not valid TOML"),
])
def test_a_bad_ignore_file_is_one_line_and_exit_2(sample_pair, tmp_path: Path, content: str, words: str) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_text(content)
    result = run("diff", *sample_pair, "--ignore", rules)
    assert result.exit_code == 2 and words in result.stderr and str(rules) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fail_on_levels(sample_pair, gaps_pair, tmp_path: Path) -> None:
    assert run("diff", *gaps_pair, "--fail-on", "blocker").exit_code == 1
    assert run("diff", *sample_pair, "--fail-on", "blocker").exit_code == 0, "warnings only"
    assert run("diff", *sample_pair, "--fail-on", "warning").exit_code == 1
    rules = tmp_path / "all.toml"
    rules.write_text('[services]\n"*" = "reviewed"\n[packages]\n"*" = "reviewed"\n[ports]\n"*" = "reviewed"\n'
                     '[runlevels]\n"*" = "reviewed"\n[jobs]\n"*" = "reviewed"\n[units]\n"*" = "reviewed"\n'
                     '[connections]\n"*" = "reviewed"\n')
    assert run("diff", *gaps_pair, "--ignore", rules, "--fail-on", "blocker").exit_code == 0
    assert run("diff", *gaps_pair, "--ignore", rules, "--fail-on", "warning").exit_code == 1  # init changes
    assert run("diff", *gaps_pair, "--ignore", rules).exit_code == 1  # any: diff(1)


def test_your_own_names_pair_a_replacement(sample_pair, tmp_path: Path) -> None:
    mine = tmp_path / "names.toml"
    mine.write_text('[web]\nservices = ["apache2", "nginx"]\nprocesses = ["apache2", "nginx"]\nreplacement = true\n')
    report = diff_json(*sample_pair, "--names", mine)
    services = by_key(report, "services")
    change = services["apache2 = nginx"][0]
    assert change["field"] == "replaced-by" and change["severity"] == "warning"
    assert "tcp/*:80" not in by_key(report, "ports"), "both serve :80 as the same function now"
    bad = tmp_path / "bad.toml"
    bad.write_text('[web]\nservices = "apache2"\n')
    result = run("diff", *sample_pair, "--names", bad)
    assert result.exit_code == 2 and "must be a list" in result.stderr


def test_one_of_a_kind_is_said_in_the_singular() -> None:
    """Issue 14: "1 records of a service already reported"."""
    from migdiff.verdict import REASONS, kind_phrase
    assert kind_phrase("ports:follows-service", 1) == "1 record of a service already reported"
    assert kind_phrase("ports:follows-service", 2) == "2 records of a service already reported"
    assert kind_phrase("packages:library", 1) == "1 library changed or gone"
    assert kind_phrase("services:more-on-target", 1) == "1 service that runs or starts at boot on target only"
    assert kind_phrase("units:unit-changed", 1) == "1 local unit that runs something else"
    for reason in REASONS:  # no phrase keeps a plural noun beside "1"
        assert not any(f" {w} " in f" {kind_phrase('x:' + reason, 1)} "
                       for w in ("records", "services", "packages", "jobs", "units", "sockets", "endpoints"))

"""What the verdict is built from, on real bundles and fixtures: why a package is on a host, renamed
successors, roles, boot levels, attribution of local services, and evidence the bundles lack."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import migsnap
from conftest import FIXTURES, by_key, diff_json, snapshot_of
from migdiff import names as names_map
from migdiff import roles as roles_map
from migdiff.attribution import attribute
from migdiff.cli import app
from migdiff.compare import boot_levels, compare
from migdiff.host import opened_hosts
from migdiff.models import Snapshot
from migdiff.packages import Classifier, new_series, stem
from migdiff.verdict import judge, load_rules

runner = CliRunner()


# --- why a package is there ------------------------------------------------------------------------

def test_dpkg_packages_are_told_apart_on_a_real_debootstrapped_host(gaps_pair) -> None:
    snap = snapshot_of(gaps_pair[0])
    kind = Classifier(snap)
    by_name = {p.name: kind(p) for p in snap.packages}
    assert by_name["gcc-10-base"] == "base", "Priority: required"
    assert by_name["cron"] == "base" and by_name["ifupdown"] == "base", "Priority: important"
    assert by_name["lsb-base"] == "dependency", "manual (debootstrap) but needed by the init scripts' packages"
    assert by_name["libpcre3"] == "library"
    assert by_name["php7.4-common"] == "dependency", "apt's Auto-Installed"
    for chosen in ("apache2", "php7.4-fpm", "postgresql-13", "memcached", "rsync", "python3", "openssh-server"):
        assert by_name[chosen] == "chosen", chosen
    counts = {k: list(by_name.values()).count(k) for k in set(by_name.values())}
    assert counts["chosen"] < 25 < counts["base"] + counts["library"] + counts["dependency"]


def test_rpm_packages_of_the_first_transaction_are_the_installed_system() -> None:
    out = (FIXTURES / "debian-rpm-4.18" / "rpm-qa-qf.out").read_text()
    parsed = {"rpm-qa-qf": migsnap.parse_rpm_qf(out)[0]}
    snap = migsnap.normalize(parsed)
    snap["collector_version"] = migsnap.__version__
    snapshot = Snapshot.model_validate(snap)
    kind = Classifier(snapshot)
    by_name = {p.name: kind(p) for p in snapshot.packages}
    assert by_name["demo-kernel"] == "base" and by_name["demo-tzdata"] == "base"
    assert by_name["demo-httpd"] == "chosen" and by_name["demo-post"] == "chosen", "installed a second later"
    assert {p.source_package for p in snapshot.packages if p.name == "demo-httpd"} == {"demo-httpd"}


def test_apk_world_is_what_the_admin_asked_for() -> None:
    world = migsnap.parse_apk_world((FIXTURES / "alpine-pinewall" / "apk-world.out").read_text())[0]
    info = migsnap.parse_apk_info((FIXTURES / "alpine-3.10" / "apk-info.out").read_text())[0]
    snap = migsnap.normalize({"apk-info": info, "apk-world": world})
    names = {p["name"]: p["auto"] for p in snap["packages"]}
    assert names["musl"] is True, "not in the world file: a dependency"
    assert names["alpine-baselayout"] is True
    assert {w["name"] for w in world} >= {"openssh", "chrony", "unbound", "nftables"}


# --- the same software under a new release's name ---------------------------------------------------

@pytest.mark.parametrize("old,new", [
    ("gcc-10-base", "gcc-12-base"), ("python3.9", "python3.11"), ("libicu67", "libicu72"),
    ("postgresql-client-13", "postgresql-client-15"), ("php7.4-fpm", "php8.2-fpm"), ("libssl3", "libssl3t64"),
    ("unix:/run/php/php7.4-fpm.sock", "unix:/run/php/php8.2-fpm.sock"), ("postgresql@13-main", "postgresql@15-main"),
])
def test_release_numbers_in_names_make_successors(old: str, new: str) -> None:
    assert stem(old) is not None and stem(old) == stem(new)


def test_a_new_release_series_by_name_or_by_version() -> None:
    assert new_series("postgresql-13", "postgresql-15", "13.16", "15.18")
    assert new_series("openssh-server", "openssh-server", "8.4p1", "9.2p1")
    assert not new_series("exim4-daemon-light", "exim4-daemon-light", "4.94.2", "4.96")
    assert new_series("mariadb-server", "mariadb-server", "1:10.5.23", "1:10.11.18", parts=2)
    assert not new_series("mariadb-server", "mariadb-server", "1:10.11.6", "1:10.11.18", parts=2)


def test_renamed_successors_pair_on_a_real_migration(full_pair) -> None:
    report = diff_json(*full_pair)
    pairs = {c["pair"]["source"]: c["pair"] for c in report["changes"] if c["section"] == "packages" and c["pair"]}
    for old, new in (("gcc-10-base", "gcc-12-base"), ("python3.9", "python3.11"), ("libicu67", "libicu72"),
                     ("postgresql-client-13", "postgresql-client-15"), ("php7.4-fpm", "php8.2-fpm"),
                     ("libprocps8", "libproc2-0"), ("postgresql-13", "postgresql-15")):
        assert pairs[old]["target"] == new and pairs[old]["how"] in ("successor", "library-soname", "same-function"), old
    ports = by_key(report, "ports")
    sock = ports["unix:/run/php/php7.4-fpm.sock = unix:/run/php/php8.2-fpm.sock"][0]
    assert sock["pair"]["how"] == "successor" and sock["severity"] == "info"


# --- roles ------------------------------------------------------------------------------------------

def test_roles_name_the_job_of_services_packages_and_processes() -> None:
    roles, names = roles_map.load(), names_map.load()
    assert roles.of("services", "exim4", names).name == roles.of("services", "postfix", names).name == "mta"
    assert roles.of("services", "apache2", names).name == "web-server" == roles.of("processes", "nginx", names).name
    assert roles.of("packages", "postgresql-15", names).data is True
    assert "systemd-journald" in roles.of("services", "rsyslog", names).builtin
    assert roles.of("services", "myapp", names) is None


def test_your_own_roles_replace_a_table(gaps_pair, tmp_path: Path) -> None:
    mine = tmp_path / "roles.toml"
    mine.write_text('[cache]\ntitle = "cache"\nmembers = ["memcached", "redis"]\n'
                    'check = "point the application at redis"\n')
    report = diff_json(*gaps_pair, "--roles", mine)
    swap = by_key(report, "services")["memcached = redis-server"]
    assert swap[0]["reason"] == "role-swapped" and swap[0]["hint"] == "point the application at redis"
    blockers = {c["key"]: c for c in report["changes"] if c["severity"] == "blocker" and not c["ignored"]
                and c["section"] in ("services", "ports")}
    assert set(blockers) == {"myapp", "tcp/127.0.0.1:11211"}, "memcached's job is redis's now, not its port"
    assert "repoint its clients" in blockers["tcp/127.0.0.1:11211"]["hint"]


@pytest.mark.parametrize("content,words", [
    ('[cache]\nmembers = "memcached"\n', "members must be a list"),
    ('[cache]\ntitle = "cache"\n', "needs members"),
    ('[cache]\nmembers = ["x"]\nsize = 3\n', "unknown keys: size"),
    ('[cache\n', "not valid TOML"),
])
def test_a_bad_roles_file_is_one_line_and_exit_2(gaps_pair, tmp_path: Path, content: str, words: str) -> None:
    bad = tmp_path / "roles.toml"
    bad.write_text(content)
    result = runner.invoke(app, ["diff", *map(str, gaps_pair), "--roles", str(bad)])
    assert result.exit_code == 2 and words in result.stderr and str(bad) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- boot levels, /etc/default, local services ----------------------------------------------------------

def test_runlevels_and_targets_are_one_question(full_pair) -> None:
    source, target = (snapshot_of(p) for p in full_pair)
    assert boot_levels(source.services["myapp"], source) == {"multi-user", "graphical"}, "runlevels 2345"
    assert boot_levels(target.services["myapp"], target) == {"multi-user", "graphical"}, "multi-user.target"
    assert boot_levels(target.services["systemd-journald"], target) >= {"rescue", "multi-user"}, "sysinit.target"
    assert boot_levels(source.services["rsync"], source) == set(), "switched off in /etc/default/rsync"


def test_a_script_its_default_file_switches_off_is_not_enabled(sample_pair) -> None:
    rsync = snapshot_of(sample_pair[0]).services["rsync"]
    assert rsync.runlevels["2"] == "on", "the links are there"
    assert rsync.enabled is False and rsync.disabled_by == "/etc/default/rsync: RSYNC_ENABLE=false"


def test_a_local_python_service_owns_its_port_not_the_interpreter(full_pair) -> None:
    names = names_map.load()
    for path in full_pair:  # SysV: the pid file its script names; systemd: the unit's cgroup
        who = attribute(snapshot_of(path), names).for_port("tcp/*:8080")
        assert who.service == "myapp" and who.process == "python3"
        assert who.package is None, "python3.x-minimal runs it; no package owns myapp"


# --- evidence the bundles lack -------------------------------------------------------------------------

def test_a_target_collected_without_root_gives_unknown_not_absent(gaps_pair) -> None:
    root = diff_json(*gaps_pair)
    user = diff_json(gaps_pair[0], gaps_pair[1].with_name("app12gaps-labuser.tgz"))
    assert user["target"]["euid"] != 0 and root["target"]["euid"] == 0
    assert any("without root" in note for note in user["judgement"]["evidence"])
    assert root["judgement"]["evidence"] == []
    blockers = lambda r: sorted(c["key"] for c in r["changes"] if c["severity"] == "blocker" and not c["ignored"])  # noqa: E731
    assert blockers(root) == ["/etc/cron.d/myapp-report: /opt/myapp/report.sh", "crontab labuser: "
                              "/home/labuser/backup.sh", "memcached", "myapp"]
    assert blockers(user) == ["/etc/cron.d/myapp-report: /opt/myapp/report.sh", "memcached", "myapp"], \
        "labuser cannot list /var/spool/cron/crontabs: the crontab is unknown, not absent"
    crontab = by_key(user, "jobs")["crontab labuser: /home/labuser/backup.sh"][0]
    assert crontab["reason"] == "unknown-evidence" and "user-crontabs denied" in crontab["hint"]
    assert diff_json(*gaps_pair)["readiness"][0]["ready"] is False
    assert user["readiness"][0]["ready"] is None, "the target's keys are root's: unknown to labuser"
    ssh = by_key(user, "ports")["tcp/*:22"][0]
    assert ssh["severity"] == "warning" and ssh["reason"] == "unknown-evidence" and "tcp/*:2222" in ssh["hint"]
    headline = runner.invoke(app, ["diff", str(gaps_pair[0]), str(gaps_pair[1].with_name("app12gaps-labuser.tgz"))],
                             env={"NO_COLOR": "1"}).stdout.splitlines()
    assert headline[0].endswith("; evidence incomplete")
    header = headline[:headline.index("")]  # the lines above the table
    assert any(line.startswith("evidence: target: collected without root") for line in header)


def test_a_service_list_cut_short_on_the_target_is_unknown(gaps_pair) -> None:
    with opened_hosts([str(p) for p in gaps_pair]) as (a, b):
        target_ref = b.ref.model_copy(update={"incomplete": {"timeout": ["systemctl-units-service"]}})
        report = compare(a.snapshot, b.snapshot, a.ref, target_ref, names_map.load())
    judge(report, load_rules())
    memcached = [c for c in report.changes if c.section == "services" and c.key == "memcached"][0]
    assert memcached.severity == "warning" and memcached.reason == "unknown-evidence"
    assert "systemctl-units-service timeout" in memcached.hint
    assert report.judgement.evidence == ["target: services incomplete (systemctl-units-service timeout)"]

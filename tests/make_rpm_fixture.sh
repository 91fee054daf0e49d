#!/bin/bash
# Real `rpm -qa`, `rpm -qa --qf ...` and `rpm -qf --qf ... PATH...` output for
# tests/fixtures/debian-rpm-4.18/: no RPM-based
# distribution can be installed here, so this builds a few small packages with Debian's own rpm
# (apt-get install rpm), installs them into a scratch database and queries it with the exact
# commands of the collector's table.  Packages cover: an epoch, noarch, two installed versions of
# one name (as kernels are), a ~ pre-release and a ^ post-release version.
set -eu
OUT=${1:?usage: make_rpm_fixture.sh OUTDIR}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/root" "$OUT"
spec() {  # name epoch version release arch [file shipped in /usr/sbin]
  local install="" files=""
  if [ -n "${6:-}" ]; then
    install="echo binary > %{buildroot}/usr/sbin/$6"
    files="/usr/sbin/$6"
  fi
  cat > "$W/$1-$3.spec" <<SPEC
Name: $1
${2:+Epoch: $2}
Version: $3
Release: $4
BuildArch: $5
Summary: migdiff fixture package $1
License: MIT
%description
Fixture package for migdiff's rpm parser tests.
%install
mkdir -p %{buildroot}/usr/sbin %{buildroot}/etc/$1
$install
echo conf > %{buildroot}/etc/$1/$1.conf
%files
/etc/$1/$1.conf
$files
SPEC
  rpmbuild --quiet -bb --define "_topdir $W/top" "$W/$1-$3.spec" >/dev/null
}
spec demo-httpd "" 2.4.6 97.el7 x86_64 demo-httpd
spec demo-perl 4 5.16.3 299.el7 x86_64 demo-sshd
spec demo-tzdata "" 2024a 1.el7 noarch
spec demo-kernel "" 3.10.0 1062.el7 x86_64
spec demo-kernel "" 3.10.0 1160.el7 x86_64
spec demo-snapshot "" 1.0~rc1 1 noarch
spec demo-post "" 1.0^git1 2 x86_64
rpm --root "$W/root" --initdb
# Two transactions, as a host has: the installed system, then what an admin added a second later
# (INSTALLTID is the transaction's start in seconds).
rpm --root "$W/root" -i --nodeps --ignorearch $(ls "$W"/top/RPMS/*/*.rpm | grep -v -e demo-httpd -e demo-post) 2>/dev/null
sleep 1.1
rpm --root "$W/root" -i --nodeps --ignorearch "$W"/top/RPMS/*/demo-httpd-*.rpm "$W"/top/RPMS/*/demo-post-*.rpm 2>/dev/null
LC_ALL=C rpm --root "$W/root" -qa > "$OUT/rpm-qa.out"
# the query format of the collector's own table, not a copy of it
QF=$(cd "$(dirname "$0")/../snapshot" && python3 -c 'import migsnap; print(migsnap.capture_by_id("rpm-qa-qf").source[3])')
LC_ALL=C rpm --root "$W/root" -qa --qf "$QF" > "$OUT/rpm-qa-qf.out"
# as the collector's listen-rpm-qf entry asks about the executables of listening processes
LC_ALL=C rpm --root "$W/root" -qf --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t[%{FILENAMES}\t]\n' \
  /usr/sbin/demo-httpd /usr/sbin/demo-sshd /usr/bin/env > "$OUT/listen-rpm-qf.out" || true  # env: in no package here
# as the collector's files-rpm-qf entry asks which package owns the unit, init and cron files it found
# (a package's file and one an admin wrote); the format is the table's own
FQF=$(cd "$(dirname "$0")/../snapshot" && python3 -c 'import migsnap; print(migsnap.capture_by_id("files-rpm-qf").source[3])')
LC_ALL=C rpm --root "$W/root" -qf --qf "$FQF" /etc/demo-httpd/demo-httpd.conf /etc/hostname \
  > "$OUT/files-rpm-qf.out" || true  # /etc/hostname: in no package here (exit 1)
echo "wrote $OUT/rpm-qa.out $OUT/rpm-qa-qf.out $OUT/listen-rpm-qf.out $OUT/files-rpm-qf.out ($(rpm --version))"

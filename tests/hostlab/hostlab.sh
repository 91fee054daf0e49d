#!/bin/bash
# hostlab.sh - build and boot real Debian hosts on this machine, so that the
# collector (snapshot/migsnap.py) can be run against a real init system and
# real daemons for sample bundles, fixtures and CI tests.
#
# Kinds of host (see README.md beside this file):
#   sysv11     Debian 11 bullseye, SysV init as PID 1 (runs in a user namespace)
#   systemd12  Debian 12 bookworm, systemd as PID 1 (runs under systemd-nspawn)
# and the three hosts of the migration scenario (tests/scenarios/):
#   app11      Debian 11, SysV init: the source application server
#   app12full  Debian 12, systemd: the same workload, migrated completely
#   app12gaps  Debian 12, systemd: migrated with deliberate gaps
#   peer12     Debian 12, systemd: "db1", the other end of their network
#              connections (a fake database on 5433, a web client of port 80)
# and
#   openrc12   Debian 12, sysvinit's init with Debian's openrc as the rc
#              system (booted like sysv11, in a user namespace)
#
# DANGER: never run a distribution's /sbin/init as PID 1 without a user
# namespace (e.g. a bare `unshare --pid ... chroot ROOT /sbin/init`): its
# shutdown scripts remount / read-only - and that is THIS machine's root file
# system - and write sysctls and the clock.  The user namespace used by `boot`
# for sysv11 is what makes those writes fail harmlessly; systemd12 runs under
# systemd-nspawn, which does its own sandboxing.  `chroot-run` refuses to run
# an init for the same reason.
#
# Run `hostlab.sh --help` for the subcommands.  Needs root.
# Shell snippets run inside the hosts are single-quoted on purpose:
# shellcheck disable=SC2016
set -eu
set -o pipefail

PROG=hostlab.sh
SELF=$(readlink -f "$0")
IN_PATH=PATH=/usr/sbin:/usr/bin:/sbin:/bin

# Tunables (environment).
STATE_BASE=${HOSTLAB_STATE_DIR:-/run/migdiff-hostlab}       # boot state + logs
CACHE=${HOSTLAB_CACHE-/var/cache/migdiff-hostlab/debs}     # .deb cache; set empty to disable
MIRROR=${HOSTLAB_MIRROR:-http://deb.debian.org/debian}
BOOT_TIMEOUT=${HOSTLAB_BOOT_TIMEOUT:-120}                  # seconds
STOP_TIMEOUT=${HOSTLAB_STOP_TIMEOUT:-60}                   # seconds

usage() {
	cat <<EOF
usage: $PROG COMMAND ARGS...

Build and boot real Debian hosts (real init as PID 1, real daemons) to run the
collector in.  All commands need root.

  mkroot KIND DIR       debootstrap a root file system into DIR (does nothing
                        if DIR/.hostlab-ready exists).  KIND is one of:
                          sysv11     Debian 11, SysV init, ssh apache2 cron
                                     rsyslog mariadb, python2.7
                          systemd12  Debian 12, systemd, ssh nginx cron
                                     mariadb memcached, python3
                        and, for the migration scenario (tests/scenarios/):
                          app11      Debian 11, SysV init: an application
                                     server (ssh apache2+php-fpm exim4
                                     postgresql memcached myapp ...)
                          app12full  Debian 12, systemd: the same workload
                                     migrated completely
                          app12gaps  Debian 12, systemd: migrated with gaps
                                     (ssh on 2222, nginx, postfix, redis ...)
                          peer12     Debian 12, systemd: "db1", the peer the
                                     scenario hosts are wired to (fake-db on
                                     5433, web-client of 10.99.0.1:80)
                          openrc12   Debian 12, sysvinit + openrc: ssh cron
                                     lighttpd rsyslog (default runlevel),
                                     memcached (boot runlevel), rsync
                                     (custom runlevel "offline"), python3
  boot DIR              boot DIR with its own init as PID 1 and wait until
                        it is up and its daemons listen
  exec DIR CMD...       run CMD inside the booted host (all its namespaces,
                        env -i $IN_PATH); exit code, stdin,
                        stdout and stderr pass through
  collect DIR COLLECTOR.py PYTHON OUTDIR [ARGS...]
                        copy COLLECTOR.py to /tmp/migsnap.py in the booted
                        host, run PYTHON /tmp/migsnap.py -o /tmp/out ARGS...,
                        copy /tmp/out/*.tgz to OUTDIR and print their paths
                        (exits with the collector's status)
  stop DIR              shut the booted host down cleanly and remove every
                        process, mount, namespace and cgroup it had
  status DIR            print whether DIR is booted (exit 0) or not (exit 3)
  pid DIR               print the pid (as seen here) of the booted host's
                        PID 1, after checking it is the host's init; e.g. for
                        "ip link add ... netns /proc/PID/ns/net"
  chroot-run DIR CMD... run CMD in a plain chroot of DIR (no init) with its
                        own /proc, pid, mount, net (lo only), uts and ipc
                        namespaces; everything is gone when CMD exits

environment:
  HOSTLAB_USER=NAME          exec, collect, chroot-run: run as this user of
                             the host (e.g. nobody, labuser) instead of root
  HOSTLAB_BOOT_TIMEOUT=SEC   default 120      HOSTLAB_STOP_TIMEOUT=SEC  default 60
  HOSTLAB_CACHE=DIR          .deb cache shared by builds (default
                             /var/cache/migdiff-hostlab/debs; empty: no cache)
  HOSTLAB_MIRROR=URL         default http://deb.debian.org/debian
  HOSTLAB_STATE_DIR=DIR      boot state and logs (default /run/migdiff-hostlab)
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 1; }
note() { echo "$PROG: $*" >&2; }
usage_die() { echo "$PROG: error: $* (see $PROG --help)" >&2; exit 2; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }
need_cmds() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || die "command '$c' not found on this machine (see tests/hostlab/README.md for the host packages)"; done
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- kinds

KINDS="sysv11 systemd12 app11 app12full app12gaps peer12 openrc12"

# kind_def KIND: set K_* for a kind of host.
#   K_INIT      sysv, openrc or systemd   K_SUITE    Debian suite
#               (openrc: sysvinit's /sbin/init runs Debian's openrc as the rc
#               system; booted and stopped like sysv)
#   K_HOSTNAME  the host's name           K_INCLUDE  debootstrap --include (init system)
#   K_PACKAGES  apt-get install list (--no-install-recommends)
#   K_DEBCONF   debconf-set-selections lines, loaded before apt-get install
#               (answers for packages that ask questions; may be empty)
#   K_SETUP     a function run in the build after apt-get install and before
#               the checks, as `K_SETUP ROOT` (see "kind setup hooks"; may be empty)
#   K_PYTHON    an interpreter that must run in the root
#   K_SERVICES  init scripts / units that must be enabled
#   K_PROCS     processes (exact name, pgrep -x) that must run once booted
#   K_CMDLINES  command-line patterns (pgrep -f) that must run once booted
#   K_PORTS     TCP ports that must listen once booted
kind_def() {
	K_DEBCONF="" K_SETUP="" K_CMDLINES=""
	case $1 in
	sysv11)
		K_INIT=sysv
		K_SUITE=bullseye
		K_HOSTNAME=hostlab-sysv11
		K_INCLUDE=sysvinit-core,sysv-rc,initscripts
		K_PACKAGES="openssh-server apache2 cron rsyslog mariadb-server
			python2.7 sysv-rc-conf lsof net-tools iproute2 procps
			orphan-sysvinit-scripts ifupdown"
		K_PYTHON=python2.7
		K_SERVICES="ssh apache2 cron rsyslog mariadb"
		K_PROCS="sshd apache2 cron rsyslogd mariadbd"
		K_PORTS="22 80 3306"
		;;
	systemd12)
		K_INIT=systemd
		K_SUITE=bookworm
		K_HOSTNAME=hostlab-systemd12
		K_INCLUDE=systemd,systemd-sysv,dbus
		K_PACKAGES="openssh-server nginx cron mariadb-server memcached
			python3 lsof net-tools iproute2 procps"
		K_PYTHON=python3
		K_SERVICES="ssh nginx cron mariadb memcached"
		K_PROCS="sshd nginx cron mariadbd memcached"
		K_PORTS="22 80 3306 11211"
		;;
	# The migration scenario (tests/scenarios/): an application server moved
	# from a SysV Debian 11 host (app11) to a systemd Debian 12 host, once
	# migrated completely (app12full) and once with deliberate gaps (app12gaps).
	app11)
		K_INIT=sysv
		K_SUITE=bullseye
		K_HOSTNAME=app11
		K_INCLUDE=sysvinit-core,sysv-rc,initscripts
		K_DEBCONF="exim4-config exim4/mailname string app11"
		K_PACKAGES="openssh-server apache2 php7.4-fpm exim4-daemon-light
			postgresql-13 rsyslog cron memcached rsync python3
			sysv-rc-conf lsof net-tools iproute2 procps
			orphan-sysvinit-scripts ifupdown"
		K_SETUP=setup_app11
		K_PYTHON=python3
		K_SERVICES="ssh apache2 php7.4-fpm exim4 postgresql rsyslog cron
			memcached rsync myapp"
		K_PROCS="sshd apache2 php-fpm7.4 exim4 postgres rsyslogd cron memcached"
		K_CMDLINES=/opt/myapp/app.py
		K_PORTS="22 80 25 5432 11211 8080"
		;;
	app12full)
		K_INIT=systemd
		K_SUITE=bookworm
		K_HOSTNAME=app12full
		K_INCLUDE=systemd,systemd-sysv,dbus
		K_DEBCONF="exim4-config exim4/mailname string app12full"
		K_PACKAGES="openssh-server apache2 php8.2-fpm exim4-daemon-light
			postgresql-15 rsyslog cron memcached rsync python3
			lsof net-tools iproute2 procps"
		K_SETUP=setup_app12full
		K_PYTHON=python3
		K_SERVICES="ssh apache2 php8.2-fpm exim4 postgresql rsyslog cron
			memcached myapp"
		K_PROCS="sshd apache2 php-fpm8.2 exim4 postgres rsyslogd cron memcached"
		K_CMDLINES=/opt/myapp/app.py
		K_PORTS="22 80 25 5432 11211 8080"
		;;
	app12gaps)
		K_INIT=systemd
		K_SUITE=bookworm
		K_HOSTNAME=app12gaps
		K_INCLUDE=systemd,systemd-sysv,dbus
		K_DEBCONF="postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string app12gaps"
		K_PACKAGES="openssh-server nginx-light php8.2-fpm postfix
			postgresql-15 cron redis-server python3
			lsof net-tools iproute2 procps"
		K_SETUP=setup_app12gaps
		K_PYTHON=python3
		K_SERVICES="ssh nginx php8.2-fpm postfix postgresql cron redis-server"
		K_PROCS="sshd nginx php-fpm8.2 master postgres cron redis-server"
		K_PORTS="2222 80 25 5432 6379"
		;;
	# The other end of the scenario hosts' connections (tests/scenarios/make.sh
	# wires it to each host with a veth pair: host 10.99.0.1, db1 10.99.0.2).
	peer12)
		K_INIT=systemd
		K_SUITE=bookworm
		K_HOSTNAME=db1
		K_INCLUDE=systemd,systemd-sysv,dbus
		K_PACKAGES="python3 iproute2 procps"
		K_SETUP=setup_peer12
		K_PYTHON=python3
		K_SERVICES="fake-db web-client"
		K_PROCS=""
		K_CMDLINES="/usr/local/bin/fake-db /usr/local/bin/web-client"
		K_PORTS="5433"
		;;
	# OpenRC on Debian (issue 15): sysvinit's init as PID 1, Debian's openrc
	# package as the rc system instead of sysv-rc (/etc/runlevels, rc-update).
	openrc12)
		K_INIT=openrc
		K_SUITE=bookworm
		K_HOSTNAME=hostlab-openrc12
		K_INCLUDE=sysvinit-core,initscripts
		K_PACKAGES="openrc openssh-server cron lighttpd rsyslog memcached rsync
			python3 lsof net-tools iproute2 procps orphan-sysvinit-scripts
			ifupdown"
		K_SETUP=setup_openrc12
		K_PYTHON=python3
		K_SERVICES="ssh cron lighttpd rsyslog"
		K_PROCS="sshd cron lighttpd rsyslogd memcached"
		K_PORTS="22 80 11211"
		;;
	*) usage_die "unknown KIND '$1' (want one of: $KINDS)" ;;
	esac
}

# ---------------------------------------------------------------- kind setup hooks

# A K_SETUP function runs inside build_inner (private mount, pid and uts
# namespaces) after apt-get install, with policy-rc.d still in place (nothing
# starts), /proc mounted in the root and "${run[@]}" (build_inner's chroot
# command) to run the root's own tools.  It configures the daemons the way an
# administrator would: the packages' tools (a2enmod, update-rc.d, systemctl
# enable, pg_ctlcluster) and sed on the shipped config files, each change
# checked.  A failing command fails the build (set -e).

# myapp: a local HTTP service that no package owns; the same file on the
# source (started by an LSB init script) and on app12full (a systemd unit).
# Besides serving :8080 it keeps one TCP connection open to its "remote
# database" at 10.99.0.2:5433 (db1, the peer12 host that make.sh wires up).
MYAPP_PY='#!/usr/bin/python3
# myapp: the in-house HTTP service on port 8080 (installed by hand, no package).
# It keeps one connection open to its database server, db1 (10.99.0.2:5433).
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

DATABASE = ("10.99.0.2", 5433)


def hold_database_connection():
    while True:
        try:
            conn = socket.create_connection(DATABASE, timeout=5)
        except OSError:
            time.sleep(2)  # not reachable (yet): try again
            continue
        conn.settimeout(None)
        try:
            while conn.recv(4096):  # hold it open until the server closes it
                pass
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(2)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"myapp ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


threading.Thread(target=hold_database_connection, daemon=True).start()
HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
'

# myapp's report, run every quarter of an hour as www-data: from an admin's
# cron file on the source, from a systemd timer on app12full.
MYAPP_REPORT_SH='#!/bin/sh
# myapp: append a line to the report log (installed by hand, no package)
date >> /var/tmp/myapp-report.log
'

MYAPP_REPORT_CRON='# /etc/cron.d/myapp-report: myapp'"'"'s report, every quarter of an hour
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

*/15 * * * * www-data /opt/myapp/report.sh
'

MYAPP_REPORT_SERVICE='[Unit]
Description=myapp report (was /etc/cron.d/myapp-report)

[Service]
Type=oneshot
User=www-data
ExecStart=/opt/myapp/report.sh
'

MYAPP_REPORT_TIMER='[Unit]
Description=myapp report, every quarter of an hour

[Timer]
OnCalendar=*:0/15

[Install]
WantedBy=timers.target
'

# labuser's own crontab (installed with `crontab -u labuser`) and its script.
LABUSER_CRONTAB='# labuser: nightly backup of the home directory
0 3 * * * /home/labuser/backup.sh
'
LABUSER_BACKUP_SH='#!/bin/sh
# labuser: nightly backup of the home directory (run from labuser'"'"'s crontab)
tar -czf /var/tmp/labuser-backup.tgz -C /home labuser
'

MYAPP_INITD='#!/bin/sh
### BEGIN INIT INFO
# Provides:          myapp
# Required-Start:    $remote_fs $network $syslog
# Required-Stop:     $remote_fs $network $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: myapp, the in-house HTTP service on port 8080
### END INIT INFO

NAME=myapp
DAEMON=/usr/bin/python3
SCRIPT=/opt/myapp/app.py
PIDFILE=/run/myapp.pid
RUNAS=www-data

[ -x "$DAEMON" ] && [ -f "$SCRIPT" ] || exit 0
. /lib/lsb/init-functions

case "$1" in
start)
	log_daemon_msg "Starting $NAME" "$NAME"
	start-stop-daemon --start --quiet --oknodo --background --make-pidfile \
		--pidfile "$PIDFILE" --chuid "$RUNAS" --exec "$DAEMON" -- "$SCRIPT"
	log_end_msg $?
	;;
stop)
	log_daemon_msg "Stopping $NAME" "$NAME"
	start-stop-daemon --stop --quiet --oknodo --retry TERM/5/KILL/2 \
		--pidfile "$PIDFILE" --exec "$DAEMON"
	rc=$?
	[ $rc -ne 0 ] || rm -f "$PIDFILE"
	log_end_msg $rc
	;;
status)
	status_of_proc -p "$PIDFILE" "$DAEMON" "$NAME" && exit 0 || exit $?
	;;
restart|force-reload)
	"$0" stop && "$0" start
	;;
*)
	echo "Usage: /etc/init.d/$NAME {start|stop|status|restart|force-reload}" >&2
	exit 3
	;;
esac
'

MYAPP_UNIT='[Unit]
Description=myapp, the in-house HTTP service on port 8080
After=network.target

[Service]
User=www-data
ExecStart=/usr/bin/python3 /opt/myapp/app.py
Restart=on-failure

[Install]
WantedBy=multi-user.target
'

# run_mount ROOT / run_umount ROOT: a private tmpfs on the root's /run (with
# /run/lock = /var/lock) while a daemon is checked or started in the build, as
# at boot where /run is a fresh tmpfs too: nothing it puts there stays in the root.
run_mount() { mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$1/run" && mkdir -m 1777 "$1/run/lock"; }
run_umount() { umount "$1/run"; }

# setup_myapp_file ROOT: /opt/myapp/app.py
setup_myapp_file() {
	mkdir -p "$1/opt/myapp"
	printf '%s' "$MYAPP_PY" >"$1/opt/myapp/app.py"
	chmod 755 "$1/opt/myapp/app.py"
	"${run[@]}" python3 -m py_compile /opt/myapp/app.py
	rm -rf "$1/opt/myapp/__pycache__"
}

# setup_myapp_report ROOT: /opt/myapp/report.sh (the job itself; what runs
# it, a cron file or a timer, is up to the kind)
setup_myapp_report() {
	mkdir -p "$1/opt/myapp"
	printf '%s' "$MYAPP_REPORT_SH" >"$1/opt/myapp/report.sh"
	chmod 755 "$1/opt/myapp/report.sh"
	"${run[@]}" sh -n /opt/myapp/report.sh
}

# setup_labuser_crontab ROOT: ~labuser/backup.sh and labuser's crontab, put in
# place with crontab(1) as an admin would (crontab -u labuser FILE), so the
# spool file /var/spool/cron/crontabs/labuser gets cron's owner, group, mode.
setup_labuser_crontab() {
	local R=$1 f
	printf '%s' "$LABUSER_BACKUP_SH" >"$R/home/labuser/backup.sh"
	chmod 755 "$R/home/labuser/backup.sh"
	"${run[@]}" chown labuser:labuser /home/labuser/backup.sh
	printf '%s' "$LABUSER_CRONTAB" >"$R/tmp/labuser.crontab"
	"${run[@]}" crontab -u labuser /tmp/labuser.crontab
	rm -f "$R/tmp/labuser.crontab"
	"${run[@]}" crontab -u labuser -l | grep -qx '0 3 \* \* \* /home/labuser/backup.sh'
	f=$("${run[@]}" stat -c '%U:%G %a' /var/spool/cron/crontabs/labuser)
	[ "$f" = "labuser:crontab 600" ] || { echo "labuser's crontab has owner/mode $f"; exit 1; }
}

# setup_root_sshkey ROOT HOSTNAME: root's own ssh key pair (ed25519, no
# passphrase), made with ssh-keygen as an admin would.
setup_root_sshkey() {
	local R=$1
	"${run[@]}" install -d -m 700 /root/.ssh
	"${run[@]}" ssh-keygen -q -t ed25519 -N '' -C "root@$2" -f /root/.ssh/id_ed25519
	[ -f "$R/root/.ssh/id_ed25519" ] && grep -q " root@$2\$" "$R/root/.ssh/id_ed25519.pub"
}

# setup_apache_php ROOT PHPVERSION: apache2 hands *.php to php-fpm's unix
# socket through mod_proxy_fcgi (what php-fpm's postinst tells you to do).
setup_apache_php() {
	local R=$1 v=$2
	"${run[@]}" a2enmod proxy_fcgi setenvif
	"${run[@]}" a2enconf "php$v-fpm"
	grep -q "unix:/run/php/php$v-fpm.sock" "$R/etc/apache2/conf-enabled/php$v-fpm.conf"
	grep -qx "listen = /run/php/php$v-fpm.sock" "$R/etc/php/$v/fpm/pool.d/www.conf"
	printf '<?php phpinfo();\n' >"$R/var/www/html/info.php"
	run_mount "$R"; "${run[@]}" apache2ctl -t; run_umount "$R"
}

# setup_pg_appdb ROOT PGVERSION: create the database appdb in the cluster
# that the package made (PGVERSION/main).  The cluster is started only for
# this, with pg_ctlcluster, in a network namespace of its own and without
# TCP sockets (listen_addresses empty), with a private tmpfs /run for its
# unix socket; then it is stopped again and nothing of it is left running.
setup_pg_appdb() {
	local R=$1 v=$2
	run_mount "$R"
	unshare --net "${run[@]}" /bin/sh -e -c '
		pg_ctlcluster -o "-c listen_addresses=" "$1" main start
		runuser -u postgres -- createdb appdb
		runuser -u postgres -- psql -Atc "SELECT datname FROM pg_database" | grep -qx appdb
		pg_ctlcluster "$1" main stop' setup-pg "$v"
	run_umount "$R"
	if "${run[@]}" pgrep -x postgres >/dev/null; then echo "postgres still runs after setup"; exit 1; fi
	[ ! -e "$R/var/lib/postgresql/$v/main/postmaster.pid" ] || { echo "postgres $v left a postmaster.pid"; exit 1; }
}

setup_app11() {
	local R=$1
	setup_apache_php "$R" 7.4
	setup_pg_appdb "$R" 13
	# myapp: an LSB init script of our own, enabled like any other
	setup_myapp_file "$R"
	printf '%s' "$MYAPP_INITD" >"$R/etc/init.d/myapp"
	chmod 755 "$R/etc/init.d/myapp"
	"${run[@]}" update-rc.d myapp defaults
	# myapp's report: an admin's cron file, no package owns it
	setup_myapp_report "$R"
	printf '%s' "$MYAPP_REPORT_CRON" >"$R/etc/cron.d/myapp-report"
	chmod 644 "$R/etc/cron.d/myapp-report"
	# labuser's own crontab; root's ssh key pair (make.sh authorizes app12full's key here)
	setup_labuser_crontab "$R"
	setup_root_sshkey "$R" app11
	# rsync: stock /etc/default/rsync, so it has rc links but never runs
	grep -qx 'RSYNC_ENABLE=false' "$R/etc/default/rsync"
}

setup_app12full() {
	local R=$1
	setup_apache_php "$R" 8.2
	setup_pg_appdb "$R" 15
	# myapp: the init script became a unit
	setup_myapp_file "$R"
	printf '%s' "$MYAPP_UNIT" >"$R/etc/systemd/system/myapp.service"
	"${run[@]}" systemctl enable myapp.service
	# the cron job became a timer (and there is no /etc/cron.d/myapp-report)
	setup_myapp_report "$R"
	printf '%s' "$MYAPP_REPORT_SERVICE" >"$R/etc/systemd/system/myapp-report.service"
	printf '%s' "$MYAPP_REPORT_TIMER" >"$R/etc/systemd/system/myapp-report.timer"
	"${run[@]}" systemctl enable myapp-report.timer
	[ "$("${run[@]}" systemctl is-enabled myapp-report.timer)" = enabled ]
	"${run[@]}" systemd-analyze calendar '*:0/15' >/dev/null
	[ ! -e "$R/etc/cron.d/myapp-report" ]
	# a local drop-in for a packaged unit
	mkdir -p "$R/etc/systemd/system/memcached.service.d"
	printf '[Service]\nLimitNOFILE=65536\n' >"$R/etc/systemd/system/memcached.service.d/limits.conf"
	grep -qx 'LimitNOFILE=65536' "$R/etc/systemd/system/memcached.service.d/limits.conf"
	[ -f "$R/lib/systemd/system/memcached.service" ]   # (systemctl cat refuses to run in a chroot)
	setup_labuser_crontab "$R"
	setup_root_sshkey "$R" app12full
}

setup_app12gaps() {
	local R=$1 f
	# sshd moved to port 2222
	f=$R/etc/ssh/sshd_config
	sed -i -E 's/^#?Port 22$/Port 2222/' "$f"
	grep -qx 'Port 2222' "$f"
	run_mount "$R"; mkdir -m 755 "$R/run/sshd"   # sshd -t wants its privsep dir
	"${run[@]}" sshd -t
	run_umount "$R"
	# nginx instead of apache2; its default site hands *.php to php8.2-fpm
	f=$R/etc/nginx/sites-available/default
	sed -i -E '/^\s*#location ~ \\\.php\$ \{/,/^\s*#\}/{
		s/^(\s*)#(location ~ \\\.php\$ \{)/\1\2/
		s/^(\s*)#(\s*include snippets\/fastcgi-php\.conf;)/\1\2/
		s/^(\s*)#(\s*fastcgi_pass unix:).*/\1\2\/run\/php\/php8.2-fpm.sock;/
		s/^(\s*)#\}/\1}/
	}' "$f"
	grep -q 'fastcgi_pass unix:/run/php/php8.2-fpm.sock;' "$f"
	grep -qx 'listen = /run/php/php8.2-fpm.sock' "$R/etc/php/8.2/fpm/pool.d/www.conf"
	printf '<?php phpinfo();\n' >"$R/var/www/html/info.php"
	run_mount "$R"; "${run[@]}" nginx -t; run_umount "$R"
	# postfix (instead of exim4): "Local only" = inet_interfaces loopback-only
	[ "$("${run[@]}" postconf -h inet_interfaces)" = loopback-only ]
	# postgres listens on every address, not only on localhost
	setup_pg_appdb "$R" 15
	f=$R/etc/postgresql/15/main/postgresql.conf
	sed -i -E "s/^#listen_addresses = 'localhost'/listen_addresses = '*'      /" "$f"
	grep -q "^listen_addresses = '\*'" "$f"
	# redis on all addresses, without protected mode: a listener nobody asked for
	f=$R/etc/redis/redis.conf
	sed -i -E 's/^bind 127\.0\.0\.1 -::1$/bind * -::*/; s/^protected-mode yes$/protected-mode no/' "$f"
	grep -qx 'bind \* -::\*' "$f"
	grep -qx 'protected-mode no' "$f"
	# root's ssh key pair (authorized nowhere); no myapp, report, cron file,
	# timer or labuser crontab
	setup_root_sshkey "$R" app12gaps
}

# peer12 ("db1"): the far end of the scenario hosts' network connections.
# fake-db listens on 5433 and holds every connection open (myapp's database);
# web-client keeps an HTTP connection to 10.99.0.1:80 (the host being collected).
PEER_FAKE_DB='#!/usr/bin/python3
# fake-db: stands in for the database server on port 5433.  It accepts every
# connection and holds it open (one thread each) until the client closes it.
# TCP keepalive drops a connection whose client vanished (a host stopped).
import socket
import socketserver


class Hold(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        try:
            while self.request.recv(4096):
                pass
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("0.0.0.0", 5433), Hold).serve_forever()
'

PEER_WEB_CLIENT='#!/usr/bin/python3
# web-client: a client of the web server at 10.99.0.1:80.  It sends GET /
# every 5 s over one kept-alive connection; when the server closes the idle
# connection it reconnects at once, when connecting fails it retries every 2 s.
import http.client
import select
import time

HOST, PORT, EVERY = "10.99.0.1", 80, 5

while True:
    conn = http.client.HTTPConnection(HOST, PORT, timeout=10)
    try:
        conn.connect()
        while True:
            conn.request("GET", "/", headers={"User-Agent": "web-client"})
            conn.getresponse().read()
            # wait, but notice at once when the server closes the connection
            if conn.sock is None or select.select([conn.sock], [], [], EVERY)[0]:
                break
    except OSError:
        time.sleep(2)
    finally:
        conn.close()
'

PEER_FAKE_DB_UNIT='[Unit]
Description=fake-db, a stand-in database server on port 5433
After=network.target

[Service]
User=nobody
ExecStart=/usr/bin/python3 /usr/local/bin/fake-db
Restart=on-failure

[Install]
WantedBy=multi-user.target
'

PEER_WEB_CLIENT_UNIT='[Unit]
Description=web-client, keeps an HTTP connection to 10.99.0.1:80
After=network.target

[Service]
User=nobody
ExecStart=/usr/bin/python3 /usr/local/bin/web-client
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
'

setup_peer12() {
	local R=$1 f
	printf '%s' "$PEER_FAKE_DB" >"$R/usr/local/bin/fake-db"
	printf '%s' "$PEER_WEB_CLIENT" >"$R/usr/local/bin/web-client"
	printf '%s' "$PEER_FAKE_DB_UNIT" >"$R/etc/systemd/system/fake-db.service"
	printf '%s' "$PEER_WEB_CLIENT_UNIT" >"$R/etc/systemd/system/web-client.service"
	for f in fake-db web-client; do
		chmod 755 "$R/usr/local/bin/$f"
		"${run[@]}" python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "/usr/local/bin/$f"
		"${run[@]}" systemctl enable "$f.service"
	done
}

# openrc12: memcached moved from the default runlevel to "boot" (it still
# starts at boot, earlier), and rsync put into a runlevel of the admin's own,
# "offline", that the host does not boot into (so rsync is not running).
setup_openrc12() {
	local R=$1
	"${run[@]}" rc-update del memcached default || true
	"${run[@]}" rc-update add memcached boot
	mkdir -p "$R/etc/runlevels/offline"
	"${run[@]}" rc-update del rsync default 2>/dev/null || true
	"${run[@]}" rc-update add rsync offline
	"${run[@]}" rc-update show -v >&2
	"${run[@]}" rc-update show boot | grep -qw memcached || { echo "memcached is not in the boot runlevel"; exit 1; }
	"${run[@]}" rc-update show offline | grep -qw rsync || { echo "rsync is not in runlevel offline"; exit 1; }
}

# The kind recorded in a finished root's marker file.
marker_kind() {
	local k
	k=$(sed -n 's/^kind=//p' "$1/.hostlab-ready" 2>/dev/null | head -n1)
	[ -n "$k" ] || die "$1/.hostlab-ready has no kind= line"
	echo "$k"
}

# ---------------------------------------------------------------- per-root state

# set_root DIR: ROOT (absolute), ID (short name for state dir, nspawn machine
# name, cgroup name), STATE_DIR, STATE_FILE.
set_root() {
	ROOT=$(realpath -m -- "$1")
	[ "$ROOT" != / ] || die "refusing to use / as a host root"
	local base hash
	base=$(basename -- "$ROOT" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9\n' '-' | cut -c1-40)
	hash=$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)
	ID="$base-$hash"
	STATE_DIR=$STATE_BASE/$ID
	STATE_FILE=$STATE_DIR/state
}

need_ready_root() {
	[ -d "$ROOT" ] || die "$ROOT does not exist (build it with: $PROG mkroot KIND $ROOT)"
	[ -f "$ROOT/.hostlab-ready" ] || die "$ROOT is not a finished hostlab root (no .hostlab-ready; run: $PROG mkroot KIND $ROOT)"
	KIND=$(marker_kind "$ROOT")
	kind_def "$KIND"
}

# Start time (clock ticks since boot) of a process: together with the pid it
# identifies the process, so a recycled pid is never mistaken for ours.
# A zombie (exited, not yet reaped) counts as gone.
proc_start() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	[ "$1" != Z ] || return 1
	echo "${20}"
}
proc_is() { [ -n "$1" ] && [ "$(proc_start "$1" 2>/dev/null)" = "$2" ]; }

state_write() {   # state_write KEY=VALUE... (whole file)
	mkdir -p "$STATE_DIR"
	printf '%s\n' "$@" >"$STATE_FILE.new"
	mv -f "$STATE_FILE.new" "$STATE_FILE"
}
state_get() { sed -n "s/^$1=//p" "$STATE_FILE" 2>/dev/null | head -n1; }

# load_state: S_* from the state file.  Returns 0 if the host is running,
# 1 if there is no state, 2 if the state is stale (its init is gone).
load_state() {
	[ -f "$STATE_FILE" ] || return 1
	S_KIND=$(state_get kind)
	S_INIT=$(state_get init_pid); S_INIT_START=$(state_get init_start)
	S_LAUNCHER=$(state_get launcher_pid); S_LAUNCHER_START=$(state_get launcher_start)
	S_PIDNS=$(state_get pidns)
	S_MACHINE=$(state_get machine)
	S_CGROUPS=$(state_get cgroups)
	S_STATUS=$(state_get status)
	proc_is "$S_INIT" "$S_INIT_START" || return 2
	return 0
}

# The booted host's PID 1 (as seen from here), after checks that it really is
# the container's init and not a process of this machine: nsenter -r into the
# wrong process would run the command on this machine itself.
target_ok() {
	local p=$1 comm
	[ -n "$p" ] && [ -d "/proc/$p" ] || return 1
	[ "$(readlink "/proc/$p/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] || return 1
	[ "$(readlink "/proc/$p/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || return 1
	comm=$(cat "/proc/$p/comm" 2>/dev/null) || return 1
	case $comm in init|systemd) return 0 ;; esac
	return 1
}

require_running() {
	local rc=0
	load_state || rc=$?
	case $rc in
	0) ;;
	1) die "$ROOT is not booted (run: $PROG boot $ROOT)" ;;
	*) die "$ROOT is not booted any more (stale state; run: $PROG stop $ROOT to clean up)" ;;
	esac
	target_ok "$S_INIT" || die "$ROOT: recorded init pid $S_INIT does not look like the host's init; refusing to enter it"
}

# Run a shell snippet as user $1 (name or uid) inside a host: resolve the
# user there, then drop to it with the host's own setpriv.
AS_USER_SH='u=$1; shift
uid=$(id -u "$u" 2>/dev/null) && gid=$(id -g "$u" 2>/dev/null) || { echo "hostlab: no user \"$u\" in this host" >&2; exit 125; }
exec setpriv --reuid="$uid" --regid="$gid" --init-groups -- "$@"'

# in_host CMD...: run CMD in the booted host (state loaded, target checked),
# as root or as $HOSTLAB_USER, with a clean environment.
in_host() {
	if [ -n "${HOSTLAB_USER:-}" ]; then
		nsenter -t "$S_INIT" -a -r -w env -i "$IN_PATH" /bin/sh -c "$AS_USER_SH" hostlab-as-user "$HOSTLAB_USER" "$@"
	else
		nsenter -t "$S_INIT" -a -r -w env -i "$IN_PATH" "$@"
	fi
}
in_host_root() { HOSTLAB_USER='' in_host "$@"; }

# ---------------------------------------------------------------- mkroot

cmd_mkroot() {
	[ $# -eq 2 ] || usage_die "mkroot needs KIND DIR"
	local kind=$1
	kind_def "$kind"
	need_root
	set_root "$2"
	if [ -f "$ROOT/.hostlab-ready" ]; then
		local have
		have=$(marker_kind "$ROOT")
		[ "$have" = "$kind" ] || die "$ROOT is already a hostlab root of kind $have, not $kind"
		note "$ROOT is ready ($kind); nothing to do"
		return 0
	fi
	if [ -e "$ROOT" ] && [ -n "$(ls -A "$ROOT" 2>/dev/null)" ]; then
		die "$ROOT exists and is not empty but has no .hostlab-ready marker (a failed or foreign build? remove it first)"
	fi
	need_cmds debootstrap chroot unshare flock du realpath sha256sum
	[ -z "$CACHE" ] || case $CACHE in /*) ;; *) die "HOSTLAB_CACHE must be an absolute path" ;; esac

	# Build in DIR.partial and rename at the end: DIR is either finished or absent.
	local work="$ROOT.partial"
	if [ -e "$work" ]; then
		[ -f "$work/.hostlab-building" ] || [ -z "$(ls -A "$work")" ] ||
			die "$work exists and was not made by $PROG; remove it first"
		rm_tree "$work"
	fi
	mkdir -p "$work" "$STATE_DIR"
	echo "kind=$kind" >"$work/.hostlab-building"
	local log=$STATE_DIR/build.log t0
	t0=$(now)
	note "building $kind ($K_SUITE) in $work; log: $log"

	# One cache user at a time (apt and debootstrap both lock/rename in it).
	if [ -n "$CACHE" ]; then
		mkdir -p "$CACHE/partial"
		exec 8>"$CACHE/.hostlab.lock"
		flock -n 8 || { note "waiting for another build using $CACHE"; flock 8; }
	fi
	# The whole build runs in private mount and pid namespaces: whatever it
	# mounts (proc, the cache) and whatever a package script starts is gone
	# when it ends, even if it fails half way.  Its own uts namespace carries
	# the host's name, so that package scripts that ask `hostname` (exim4,
	# postfix, ssh-keygen's key comments) see the host's and not this machine's.
	if ! unshare --mount --propagation private --pid --uts --fork \
		"$SELF" __build "$kind" "$work" >"$log" 2>&1 </dev/null; then
		tail -n 25 "$log" >&2
		die "mkroot $kind failed after $(since "$t0") s (full log: $log; partial root left in $work)"
	fi
	[ -z "$CACHE" ] || exec 8>&-
	grep '^hostlab-build:' "$log" | sed 's/^hostlab-build: /  /' >&2

	rm -f "$work/.hostlab-building"
	{
		echo "kind=$kind"
		echo "suite=$K_SUITE"
		echo "mirror=$MIRROR"
		echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "packages=$(grep -c '^ii' <(chroot "$work" dpkg -l))"
	} >"$work/.hostlab-ready"
	[ ! -d "$ROOT" ] || rmdir "$ROOT"
	mv "$work" "$ROOT"
	note "built $kind in $ROOT in $(since "$t0") s, size $(du -sxh "$ROOT" | cut -f1)"
}

# rm -rf a (partial) root, but never through a mount point.
rm_tree() {
	local d
	d=$(realpath -m -- "$1")
	case $d in /|/bin|/boot|/dev|/etc|/home|/lib*|/proc|/root|/run|/sbin|/sys|/usr|/var|/var/tmp|/tmp) die "refusing to remove $d" ;; esac
	if findmnt -rn -o TARGET | grep -q -F -x -e "$d" -e "$d/"; then die "something is mounted under $d; not removing it"; fi
	if findmnt -rn -o TARGET | grep -q -F "$d/"; then die "something is mounted under $d; not removing it"; fi
	rm -rf --one-file-system -- "$d"
}

# __build KIND WORK: runs inside `unshare --mount --pid --fork` (see cmd_mkroot).
build_inner() {
	local kind=$1 R=$2 t
	kind_def "$kind"
	mount --make-rprivate /
	hostname "$K_HOSTNAME"
	step() { echo "hostlab-build: $1 $(since "$t") s"; t=$(now); }
	t=$(now)

	# 1. base system with the init system already chosen (so that for sysv11
	#    systemd-sysv is never even considered)
	local cache_opt=()
	[ -z "$CACHE" ] || cache_opt=(--cache-dir="$CACHE")
	debootstrap --variant=minbase "${cache_opt[@]}" --include="$K_INCLUDE" \
		"$K_SUITE" "$R" "$MIRROR"
	step "debootstrap $K_SUITE minbase:"

	# 2. the daemons.  policy-rc.d "exit 101" keeps invoke-rc.d from starting
	#    anything on this machine while packages are configured (update-rc.d
	#    and systemctl enable still create the boot links).
	printf '#!/bin/sh\n# hostlab: no daemon starts during the build\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
	chmod 755 "$R/usr/sbin/policy-rc.d"
	if [ "$K_INIT" != systemd ]; then
		# keep it a SysV host even if a later apt-get wants systemd-sysv
		printf 'Package: systemd-sysv\nPin: release *\nPin-Priority: -1\n' \
			>"$R/etc/apt/preferences.d/hostlab-no-systemd-sysv"
	fi
	echo "$K_HOSTNAME" >"$R/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
		"$K_HOSTNAME" >"$R/etc/hosts"
	mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
	if [ -n "$CACHE" ]; then mount --bind "$CACHE" "$R/var/cache/apt/archives"; fi
	local run=(chroot "$R" env -i "$IN_PATH" DEBIAN_FRONTEND=noninteractive LC_ALL=C)
	# answers to the questions some packages ask (debconf, noninteractive)
	[ -z "$K_DEBCONF" ] || printf '%s\n' "$K_DEBCONF" | "${run[@]}" debconf-set-selections
	"${run[@]}" apt-get -q update
	# shellcheck disable=SC2086
	"${run[@]}" apt-get -q -y --no-install-recommends install $K_PACKAGES
	step "apt-get install daemons:"

	# 3. a plain login user, for running the collector as non-root
	"${run[@]}" adduser --quiet --disabled-password --gecos 'hostlab user' --uid 1000 labuser

	# 3b. the kind's own configuration (see "kind setup hooks")
	if [ -n "$K_SETUP" ]; then
		"$K_SETUP" "$R"
		step "setup ($K_SETUP):"
	fi

	# 4. init-system specific configuration and checks
	local s
	if [ "$K_INIT" != systemd ]; then
		# lo comes up at boot through ifupdown (the only interface: private net ns)
		grep -q '^auto lo' "$R/etc/network/interfaces" ||
			printf '\nauto lo\niface lo inet loopback\n' >>"$R/etc/network/interfaces"
		# no ttys in the container: gettys would respawn-fail forever
		sed -i -E 's/^([0-9]+:[0-9]+:respawn:\/sbin\/getty)/#\1/' "$R/etc/inittab"
		[ "$("${run[@]}" dpkg-query -W -f '${Status}' systemd-sysv 2>/dev/null || true)" != "install ok installed" ] ||
			{ echo "systemd-sysv got installed"; exit 1; }
		case $("${run[@]}" dpkg -S /sbin/init) in sysvinit-core:*) ;; *) echo "/sbin/init is not sysvinit's"; exit 1 ;; esac
		if [ "$K_INIT" = openrc ]; then
			[ -x "$R/sbin/openrc" ] || { echo "openrc is not installed"; exit 1; }
			[ "$("${run[@]}" dpkg-query -W -f '${Status}' sysv-rc 2>/dev/null || true)" != "install ok installed" ] ||
				{ echo "sysv-rc is still installed (openrc should have replaced it)"; exit 1; }
		fi
		for s in $K_SERVICES; do
			[ -x "$R/etc/init.d/$s" ] || { echo "no init script /etc/init.d/$s"; exit 1; }
			if [ "$K_INIT" = openrc ]; then
				# openrc is the rc system: the default runlevel holds the service
				[ -L "$R/etc/runlevels/default/$s" ] || "${run[@]}" rc-update add "$s" default
				[ -L "$R/etc/runlevels/default/$s" ] || { echo "$s is not in openrc's default runlevel"; exit 1; }
				continue
			fi
			if ! ls "$R/etc/rc2.d/S"[0-9][0-9]"$s" >/dev/null 2>&1; then
				"${run[@]}" update-rc.d "$s" defaults
				"${run[@]}" update-rc.d "$s" enable
			fi
			ls "$R/etc/rc2.d/S"[0-9][0-9]"$s" >/dev/null 2>&1 || { echo "$s does not start in runlevel 2"; exit 1; }
		done
	else
		[ "$(readlink "$R/sbin/init")" = /lib/systemd/systemd ] || { echo "/sbin/init is not systemd"; exit 1; }
		# the journal is persistent (/var/log/journal); every unclean stop
		# leaves an 8 MB file behind, so cap it for a root that is reused
		mkdir -p "$R/etc/systemd/journald.conf.d"
		printf '# hostlab: keep a reused root small\n[Journal]\nSystemMaxUse=32M\n' \
			>"$R/etc/systemd/journald.conf.d/hostlab.conf"
		for s in $K_SERVICES; do
			[ "$("${run[@]}" systemctl is-enabled "$s.service" 2>/dev/null || true)" = enabled ] ||
				"${run[@]}" systemctl enable "$s.service"
		done
	fi
	"${run[@]}" "$K_PYTHON" -c 'import sys; sys.stdout.write(sys.version + "\n")' >/dev/null

	# 5. tidy up: no build-time policy, no downloaded .debs in the root
	rm -f "$R/usr/sbin/policy-rc.d"
	if [ -n "$CACHE" ]; then umount "$R/var/cache/apt/archives"; fi
	"${run[@]}" apt-get -q clean
	rm -f "$R"/var/cache/apt/*.bin
	umount "$R/proc"
	step "configure and check:"
}

# ---------------------------------------------------------------- boot

cmd_boot() {
	[ $# -eq 1 ] || usage_die "boot needs DIR"
	need_root
	set_root "$1"
	need_ready_root
	local rc=0
	load_state || rc=$?
	case $rc in
	0) die "$ROOT is already booted (init pid $S_INIT); stop it first" ;;
	2) note "cleaning up stale state of an earlier boot"; teardown ;;
	esac
	need_cmds unshare nsenter setsid mkfifo
	mkdir -p "$STATE_DIR"
	exec 9>"$STATE_DIR/lock"
	flock -n 9 || die "another $PROG boot/stop is working on $ROOT"

	local t0
	t0=$(now)
	# From here on a failure (or ^C) must not leave a half-booted host behind.
	trap 'teardown_quiet' EXIT
	trap 'exit 1' INT TERM
	if [ "$K_INIT" != systemd ]; then launch_sysv; else launch_systemd; fi
	wait_ready "$t0"
	trap - EXIT INT TERM
	state_write "$(grep -v '^status=' "$STATE_FILE")" "status=running"
	note "booted $KIND from $ROOT in $(since "$t0") s (init pid $S_INIT; console log $STATE_DIR/console.log)"
}

# Wait (bounded) for a process to become a given state; prints nothing.
# wait_for SECONDS CMD...: retry CMD every 0.05 s until it succeeds.
wait_for() {
	local deadline
	deadline=$(( $(date +%s) + $1 )); shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# The first child of a process (nspawn's and unshare's child is the host's PID 1).
first_child() { local c; c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 1; c=${c%% *}; [ -n "$c" ] && echo "$c"; }

# SysV: init in new user (identity-mapped 0..65535), mount, pid, uts, ipc and
# net namespaces.  Same method as /work/shared/recipes/ns-launch.sh: the
# unshare --user process waits on a fifo until we have written its uid/gid
# maps, then execs the second unshare, whose child (__sysv-pid1) builds /dev,
# /proc, /sys, /run, pivots into the root and execs /sbin/init 2.
launch_sysv() {
	local fifo=$STATE_DIR/go.fifo log=$STATE_DIR/console.log
	: >"$log"
	rm -f "$fifo"; mkfifo -m 600 "$fifo"
	setsid unshare --user /bin/sh -c 'read _ < "$0"; rm -f "$0"; exec "$@"' "$fifo" \
		unshare --mount --propagation private --pid --fork --uts --ipc --net \
		"$SELF" __sysv-pid1 "$ROOT" "$log" \
		</dev/null >"$STATE_DIR/launcher.log" 2>&1 9>&- &
	local u=$!
	userns_moved() { [ "$(readlink "/proc/$u/ns/user" 2>/dev/null)" != "$(readlink /proc/self/ns/user)" ] || ! kill -0 "$u" 2>/dev/null; }
	wait_for 10 userns_moved || { kill -KILL "$u" 2>/dev/null || true; die "boot: unshare --user did not start (see $STATE_DIR/launcher.log)"; }
	kill -0 "$u" 2>/dev/null || die "boot: unshare --user failed: $(tail -n 3 "$STATE_DIR/launcher.log" | tr '\n' ' ')"
	echo '0 0 65536' >"/proc/$u/uid_map"
	echo '0 0 65536' >"/proc/$u/gid_map"
	# record the launcher before releasing it, so teardown can always find it
	S_LAUNCHER=$u; S_LAUNCHER_START=$(proc_start "$u")
	state_write kind="$KIND" root="$ROOT" launcher_pid="$u" launcher_start="$S_LAUNCHER_START" status=booting
	echo go >"$fifo"
	find_init "$u"
	state_write kind="$KIND" root="$ROOT" launcher_pid="$u" launcher_start="$S_LAUNCHER_START" \
		init_pid="$S_INIT" init_start="$S_INIT_START" pidns="$S_PIDNS" status=booting
}

# find_init LAUNCHER: wait until the launcher's child has exec'd the real
# init (comm "init"/"systemd" in its own namespaces) and set S_INIT*.
find_init() {
	local l=$1
	S_INIT=
	init_up() {
		kill -0 "$l" 2>/dev/null || return 0
		S_INIT=$(first_child "$l") || return 1
		target_ok "$S_INIT"
	}
	wait_for 20 init_up || true
	if [ -z "$S_INIT" ] || ! target_ok "$S_INIT"; then
		tail -n 20 "$STATE_DIR/console.log" "$STATE_DIR/launcher.log" >&2 2>/dev/null || true
		teardown_quiet
		die "boot: the init of $ROOT did not start (logs in $STATE_DIR)"
	fi
	S_INIT_START=$(proc_start "$S_INIT")
	S_PIDNS=$(readlink "/proc/$S_INIT/ns/pid")
}

# __sysv-pid1 ROOT CONSOLE_LOG: PID 1 of the new namespaces (still this
# script, running as root of the user namespace).  Builds a minimal container
# /dev, /proc, /sys, /run under ROOT, pivots into it and execs /sbin/init 2.
sysv_pid1() {
	local R=$1 LOG=$2 p n
	mount --make-rprivate /
	mount --bind "$R" "$R"                      # pivot_root needs a mount point
	mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
	for p in sys sysrq-trigger; do              # kernel-global knobs read-only, like nspawn ...
		[ -e "$R/proc/$p" ] || continue
		mount --bind "$R/proc/$p" "$R/proc/$p"; mount -o remount,bind,ro "$R/proc/$p"
	done
	mount --bind "$R/proc/sys/net" "$R/proc/sys/net"   # ... but net.* is namespaced: writable
	mount -o remount,bind,rw "$R/proc/sys/net"
	mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
	mount -t tmpfs -o mode=755,size=64m,nosuid,nodev tmpfs "$R/run"
	mount -t tmpfs -o mode=755,size=16m,nosuid tmpfs "$R/dev"
	for n in null zero full random urandom tty; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
	mkdir -p "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$R/dev/pts"
	ln -s pts/ptmx "$R/dev/ptmx"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
	touch "$R/dev/console"; mount --bind "$LOG" "$R/dev/console"   # console -> a plain log file
	ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"
	ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
	cd "$R"; mkdir -p .oldroot; pivot_root . .oldroot
	# Drop from the bounding set what systemd-nspawn drops too (only the
	# capabilities this root's setpriv knows: bullseye's has no perfmon, bpf,
	# checkpoint_restore), then exec init.
	exec /usr/bin/env -i container=migdiff-hostlab TERM=linux "$IN_PATH" /bin/sh -c '
		umount -l /.oldroot && rmdir /.oldroot
		drop=""
		for c in sys_rawio sys_module sys_time sys_pacct mac_admin mac_override syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore; do
			setpriv --list-caps | grep -qx "$c" && drop="$drop,-$c"
		done
		exec setpriv --bounding-set "${drop#,}" /sbin/init 2' hostlab-pid1
}

# cgroup directories of this process in the hierarchies systemd-nspawn uses:
# the cgroup2 one and the v1 name=systemd one (whichever are mounted).
nspawn_cgroup_parents() {
	local v mp path
	# mountinfo: ... MOUNTPOINT ... - FSTYPE SOURCE SUPEROPTS
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break;
	       if ($(i+1) == "cgroup2") print "2", $5;
	       else if ($(i+1) == "cgroup" && $(i+3) ~ /(^|,)name=systemd(,|$)/) print "1", $5 }' /proc/self/mountinfo |
	while read -r v mp; do
		if [ "$v" = 2 ]; then path=$(sed -n 's/^0:://p' /proc/self/cgroup)
		else path=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup); fi
		[ -n "$path" ] && echo "${mp%/}${path%/}"
	done
}

# systemd: systemd-nspawn, in a cgroup of its own so that its "payload" and
# "supervisor" sub-cgroups do not collide with another booted host and can be
# removed afterwards.
launch_systemd() {
	need_cmds systemd-nspawn
	local machine="hl-$ID" cgs="" d
	for d in $(nspawn_cgroup_parents); do cgs="$cgs${cgs:+,}$d/migdiff-hostlab-$ID"; done
	[ -n "$cgs" ] || die "boot: found no cgroup hierarchy for systemd-nspawn"
	: >"$STATE_DIR/console.log"
	state_write kind="$KIND" root="$ROOT" machine="$machine" cgroups="$cgs" status=booting
	setsid "$SELF" __nspawn "$ROOT" "$machine" "$cgs" \
		</dev/null >"$STATE_DIR/console.log" 2>&1 9>&- &
	local n=$!
	S_LAUNCHER=$n; S_LAUNCHER_START=$(proc_start "$n") || S_LAUNCHER_START=gone
	state_write kind="$KIND" root="$ROOT" machine="$machine" cgroups="$cgs" \
		launcher_pid="$n" launcher_start="$S_LAUNCHER_START" status=booting
	find_init "$n"
	state_write kind="$KIND" root="$ROOT" machine="$machine" cgroups="$cgs" \
		launcher_pid="$n" launcher_start="$S_LAUNCHER_START" \
		init_pid="$S_INIT" init_start="$S_INIT_START" pidns="$S_PIDNS" status=booting
}

# __nspawn ROOT MACHINE CGDIRS: move into our own cgroups, exec systemd-nspawn.
nspawn_exec() {
	local R=$1 machine=$2 d
	for d in $(printf '%s' "$3" | tr ',' ' '); do mkdir -p "$d"; echo $$ >"$d/cgroup.procs"; done
	# --register=no/--keep-unit: no systemd-machined or PID-1 systemd needed here.
	# --resolv-conf/--timezone=off, --link-journal=no: leave the root and this
	# machine's /var/log/journal untouched.
	exec systemd-nspawn -D "$R" -b --register=no --keep-unit --private-network \
		--console=pipe --machine="$machine" --link-journal=no \
		--resolv-conf=off --timezone=off
}

# Readiness probes, run inside the host: "$1" = processes, "$2" = TCP ports,
# "$3" = command-line patterns (for a daemon whose name alone says little).
PROBE_COMMON='
for p in $1; do pgrep -x "$p" >/dev/null || { echo "no $p process yet"; exit 1; }; done
for c in $3; do pgrep -f "$c" >/dev/null || { echo "no process running $c yet"; exit 1; }; done
for port in $2; do [ -n "$(ss -Hnlt "sport = :$port")" ] || { echo "nothing listens on TCP port $port yet"; exit 1; }; done
exit 0'
PROBE_SYSV='
rl=$(runlevel 2>/dev/null) || rl=""
[ "$rl" = "N 2" ] || { echo "runlevel says \"${rl:-nothing}\", want \"N 2\""; exit 1; }
'"$PROBE_COMMON"
PROBE_OPENRC='
rl=$(runlevel 2>/dev/null) || rl=""
[ "$rl" = "N 2" ] || { echo "runlevel says \"${rl:-nothing}\", want \"N 2\""; exit 1; }
sl=$(cat /run/openrc/softlevel 2>/dev/null) || sl=""
[ "$sl" = default ] || { echo "openrc softlevel is \"${sl:-nothing}\", want \"default\""; exit 1; }
'"$PROBE_COMMON"
PROBE_SYSTEMD='
st=$(systemctl is-system-running 2>/dev/null) || true
case $st in running|degraded) ;; *) echo "systemctl is-system-running: ${st:-no answer}"; exit 1 ;; esac
'"$PROBE_COMMON"

wait_ready() {
	local t0=$1 probe msg="" deadline
	case $K_INIT in sysv) probe=$PROBE_SYSV ;; openrc) probe=$PROBE_OPENRC ;; *) probe=$PROBE_SYSTEMD ;; esac
	deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
	while :; do
		if ! proc_is "$S_INIT" "$S_INIT_START"; then
			tail -n 30 "$STATE_DIR/console.log" >&2 || true
			teardown_quiet
			die "boot: the init of $ROOT exited during boot (console log: $STATE_DIR/console.log)"
		fi
		if msg=$(in_host_root /bin/sh -c "$probe" probe "$K_PROCS" "$K_PORTS" "$K_CMDLINES" 2>&1); then break; fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			tail -n 30 "$STATE_DIR/console.log" >&2 || true
			teardown_quiet
			die "boot of $ROOT timed out after $BOOT_TIMEOUT s: ${msg:-no answer} (console log: $STATE_DIR/console.log)"
		fi
		sleep 0.1
	done
	if [ "$K_INIT" = systemd ] && [ "$(in_host_root systemctl is-system-running 2>/dev/null || true)" = degraded ]; then
		note "warning: $ROOT is up but degraded; failed units:"
		in_host_root systemctl --failed --no-legend --no-pager >&2 || true
	fi
}

# ---------------------------------------------------------------- stop / teardown

cmd_stop() {
	[ $# -eq 1 ] || usage_die "stop needs DIR"
	need_root
	set_root "$1"
	local rc=0
	load_state || rc=$?
	if [ $rc = 1 ]; then
		note "$ROOT is not booted; nothing to stop"
		return 0
	fi
	mkdir -p "$STATE_DIR"
	exec 9>"$STATE_DIR/lock"
	flock -w "$STOP_TIMEOUT" 9 || die "another $PROG boot/stop is working on $ROOT"
	if [ $rc = 2 ]; then
		note "$ROOT was not running any more; cleaning up its leftovers"
		teardown
		return 0
	fi
	target_ok "$S_INIT" || die "$ROOT: recorded init pid $S_INIT does not look like the host's init; not touching it"
	local t0 gone
	t0=$(now)
	kind_def "$S_KIND"
	if [ "$K_INIT" != systemd ]; then
		# telinit 0: rc0 stops the daemons, then halt(8) -> reboot(2), which in
		# a pid namespace just ends its init.  umount/remount of / fail
		# harmlessly in the user namespace.
		in_host_root telinit 0 || note "telinit 0 failed; will kill"
	elif proc_is "$S_LAUNCHER" "$S_LAUNCHER_START"; then
		# nspawn turns SIGTERM into a clean poweroff of the container's systemd
		kill -TERM "$S_LAUNCHER"
	else
		# nspawn is gone (killed?) but the container lives on: ask its systemd
		# directly, with the signal nspawn would have sent (SIGRTMIN+3 = halt)
		note "systemd-nspawn of $ROOT is gone; halting its systemd directly"
		kill -s SIGRTMIN+3 "$S_INIT"
	fi
	init_gone() { ! proc_is "$S_INIT" "$S_INIT_START"; }
	gone=yes
	wait_for "$STOP_TIMEOUT" init_gone || gone=no
	if [ $gone = no ]; then
		note "warning: $ROOT did not shut down within $STOP_TIMEOUT s; killing it"
		tail -n 15 "$STATE_DIR/console.log" >&2 || true
	fi
	teardown
	if [ $gone = yes ]; then
		note "stopped $ROOT in $(since "$t0") s"
	else
		die "$ROOT did not shut down cleanly within $STOP_TIMEOUT s (killed; console log: $STATE_DIR/console.log)"
	fi
}

# teardown: kill whatever is left of the host recorded in the state file and
# remove everything it left on this machine: processes (killing the pid
# namespace's init kills the whole namespace; the mount, net, uts, ipc and
# user namespaces go with their last process), nspawn's cgroup folders and
# /run/systemd/nspawn entries, the fifo and the state file.  The console log
# is kept for inspection until the next boot.
teardown() {
	if [ -f "$STATE_FILE" ]; then load_state || true; fi
	local pid
	if proc_is "${S_INIT:-}" "${S_INIT_START:-}" && target_ok "$S_INIT"; then
		kill -KILL "$S_INIT" 2>/dev/null || true
		wait_for 10 eval '! proc_is "$S_INIT" "$S_INIT_START"' || note "warning: init $S_INIT survived SIGKILL"
	fi
	# stragglers in the host's pid namespace (should not exist once its init is dead)
	if [ -n "${S_PIDNS:-}" ]; then
		for pid in $(pids_in_pidns "$S_PIDNS"); do kill -KILL "$pid" 2>/dev/null || true; done
	fi
	# An init whose parent is gone stays a zombie until this machine's PID 1
	# reaps it; give that a moment so that nothing is seen left over.
	wait_reaped "${S_INIT:-}"
	# the launcher (unshare or systemd-nspawn) ends when its child has ended
	if proc_is "${S_LAUNCHER:-}" "${S_LAUNCHER_START:-}"; then
		wait_for 10 eval '! proc_is "$S_LAUNCHER" "$S_LAUNCHER_START"' || {
			note "warning: launcher $S_LAUNCHER still running; killing it"
			kill -KILL "$S_LAUNCHER" 2>/dev/null || true
			wait_for 5 eval '! proc_is "$S_LAUNCHER" "$S_LAUNCHER_START"' || true
		}
	fi
	wait_reaped "${S_LAUNCHER:-}"
	# cgroups made by us (migdiff-hostlab-ID) and by nspawn below it
	local d
	for d in $(printf '%s' "${S_CGROUPS:-}" | tr ',' ' '); do
		case $d in */migdiff-hostlab-*) ;; *) continue ;; esac   # only ever our own
		[ -d "$d" ] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null |
			while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done
		wait_for 10 eval '[ -z "$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)" ]' || true
		wait_for 5 eval 'find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; [ ! -d "$d" ]' ||
			note "warning: could not remove cgroup $d"
	done
	if [ -n "${S_MACHINE:-}" ] && [ -d /run/systemd/nspawn ]; then
		rm -rf "/run/systemd/nspawn/propagate/$S_MACHINE" "/run/systemd/nspawn/unix-export/$S_MACHINE"
		# nspawn's lock on the root directory (left behind if nspawn was killed)
		rm -f "/run/systemd/nspawn/locks/inode-$(stat -c '%d:%i' "$ROOT")"
		# only if now empty: another nspawn may be using them
		rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn/unix-export 2>/dev/null || true
		rmdir /run/systemd/nspawn 2>/dev/null || true
	fi
	rm -f "$STATE_DIR/go.fifo" "$STATE_FILE" "$STATE_FILE.new"
}
wait_reaped() {   # a zombie whose parent has gone waits for this machine's PID 1
	local zpid=$1
	[ -n "$zpid" ] || return 0
	wait_for 10 eval '! grep -qs "^$zpid (.*) Z " "/proc/$zpid/stat"' || true
}
teardown_quiet() { teardown 2>/dev/null || true; }

pids_in_pidns() {
	local f
	for f in /proc/[0-9]*/ns/pid; do
		[ "$(readlink "$f" 2>/dev/null)" = "$1" ] || continue
		f=${f#/proc/}; echo "${f%%/*}"
	done
}

cmd_status() {
	[ $# -eq 1 ] || usage_die "status needs DIR"
	set_root "$1"
	local rc=0 kind=unbuilt
	[ ! -f "$ROOT/.hostlab-ready" ] || kind=$(marker_kind "$ROOT")
	load_state || rc=$?
	case $rc in
	0) echo "$ROOT: $S_KIND booted, ${S_STATUS:-?}, init pid $S_INIT, launcher pid $S_LAUNCHER" ;;
	1) echo "$ROOT: $kind, not booted"; return 3 ;;
	*) echo "$ROOT: $kind, not booted (stale state: run '$PROG stop $ROOT')"; return 3 ;;
	esac
}

cmd_pid() {
	[ $# -eq 1 ] || usage_die "pid needs DIR"
	need_root
	set_root "$1"
	require_running
	echo "$S_INIT"
}

# ---------------------------------------------------------------- exec / collect

cmd_exec() {
	[ $# -ge 2 ] || usage_die "exec needs DIR CMD..."
	need_root
	set_root "$1"; shift
	require_running
	in_host "$@" || return $?
}

cmd_collect() {
	[ $# -ge 4 ] || usage_die "collect needs DIR COLLECTOR.py PYTHON OUTDIR [ARGS...]"
	need_root
	set_root "$1"
	local collector=$2 python=$3 outdir=$4
	shift 4
	{ [ -f "$collector" ] && [ -r "$collector" ]; } || die "collector $collector is not a readable file"
	require_running
	mkdir -p "$outdir" || die "cannot create $outdir"
	outdir=$(realpath -- "$outdir")

	# A clean /tmp/out owned by the user who runs the collector.
	in_host_root /bin/sh -c 'rm -rf /tmp/out /tmp/migsnap.py && mkdir -m 0755 /tmp/out &&
		cat >/tmp/migsnap.py && chmod 0644 /tmp/migsnap.py' <"$collector" ||
		die "could not copy $collector into $ROOT"
	if [ -n "${HOSTLAB_USER:-}" ]; then
		in_host_root /bin/sh -c 'chown "$1:$(id -g "$1")" /tmp/out' sh "$HOSTLAB_USER" ||
			die "no user $HOSTLAB_USER in $ROOT"
	fi
	# The collector's own stdout goes to our stderr: our stdout is the bundle paths.
	local crc=0
	in_host "$python" /tmp/migsnap.py -o /tmp/out "$@" </dev/null >&2 || crc=$?
	local names name n=0
	names=$(in_host_root /bin/sh -c 'cd /tmp/out && for f in *.tgz; do [ -f "$f" ] && echo "$f"; done; true')
	for name in $names; do
		case $name in */*|.*) continue ;; esac
		in_host_root cat "/tmp/out/$name" >"$outdir/.$name.part"
		mv -f "$outdir/.$name.part" "$outdir/$name"
		echo "$outdir/$name"
		n=$((n + 1))
	done
	in_host_root rm -rf /tmp/out /tmp/migsnap.py || true
	[ $crc = 0 ] || note "warning: the collector exited with status $crc"
	[ $n -gt 0 ] || die "the collector (exit status $crc) wrote no *.tgz into /tmp/out"
	return $crc
}

# ---------------------------------------------------------------- chroot-run

cmd_chroot_run() {
	[ $# -ge 2 ] || usage_die "chroot-run needs DIR CMD..."
	need_root
	set_root "$1"; shift
	[ -x "$ROOT/bin/sh" ] || die "$ROOT does not look like a root file system (no /bin/sh)"
	# See DANGER at the top: an init here would be PID 1 without a user namespace.
	case ${1##*/} in
	init|systemd|telinit|shutdown|halt|poweroff|reboot|runlevel-*) die "chroot-run refuses to run '$1' (an init must run via '$PROG boot')" ;;
	esac
	need_cmds unshare chroot
	unshare --mount --propagation private --pid --fork --net --uts --ipc \
		"$SELF" __chroot-inner "$ROOT" "$@" || return $?
}

# __chroot-inner ROOT CMD...: PID 1 of the private namespaces; CMD runs as its child.
chroot_inner() {
	local R=$1; shift
	mount --make-rprivate /
	mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
	if command -v ip >/dev/null; then ip link set lo up; fi
	[ ! -s "$R/etc/hostname" ] || hostname "$(head -n1 "$R/etc/hostname")"
	local rc=0
	if [ -n "${HOSTLAB_USER:-}" ]; then
		chroot "$R" env -i "$IN_PATH" /bin/sh -c "$AS_USER_SH" hostlab-as-user "$HOSTLAB_USER" "$@" || rc=$?
	else
		chroot "$R" env -i "$IN_PATH" "$@" || rc=$?
	fi
	exit $rc
}

# ---------------------------------------------------------------- main

[ $# -ge 1 ] || usage_die "no command given"
cmd=$1; shift
case $cmd in
-h|--help|help) usage ;;
mkroot)      cmd_mkroot "$@" ;;
boot)        cmd_boot "$@" ;;
exec)        cmd_exec "$@" ;;
collect)     cmd_collect "$@" ;;
stop)        cmd_stop "$@" ;;
status)      cmd_status "$@" ;;
pid)         cmd_pid "$@" ;;
chroot-run)  cmd_chroot_run "$@" ;;
# internal entry points (run in new namespaces by the commands above)
__build)        build_inner "$@" ;;
__sysv-pid1)    sysv_pid1 "$@" ;;
__nspawn)       nspawn_exec "$@" ;;
__chroot-inner) chroot_inner "$@" ;;
*) usage_die "unknown command '$cmd'" ;;
esac

#!/bin/sh
# migsnap.sh 0.4.0: a read-only snapshot of a Linux host, for planning a migration; the
# POSIX sh twin of migsnap.py, for hosts without Python (minimal installs, Alpine, appliances).
#
#     sh migsnap.sh            # writes ./migsnap-<host>-<UTC stamp>.tgz
#     sh migsnap.sh --list     # prints what it would capture, runs nothing
#
# GENERATED from migsnap.py's capture table by `python migsnap.py --emit-sh`: do not edit this
# file, edit migsnap.py and generate it again.  It runs the very same table, and writes the raw
# output of every entry under the same names as migsnap.py, with a manifest, but no parsed JSON:
# `migdiff complete` parses it on the analyst's machine with migsnap.py's own parsers.
#
# It needs sh (dash, bash, busybox ash, mksh, ksh), awk, head, tar, gzip; sha256sum, openssl
# or busybox for the hashes where present.  It only reads: the commands it runs are those of the
# table, and it writes nothing but a work folder and the bundle in the output folder (the bundle
# linked into place at the very end; a file already at that name is never replaced).
#
# Checked with dash, bash, busybox sh, mksh and `shellcheck -s sh`; the checks left out are style
# (A && B || C, unquoted numbers and word lists meant to split) and -ef, which all four know.
# shellcheck disable=SC1007,SC2012,SC2015,SC2016,SC2046,SC2086,SC2209,SC2317,SC3013

# The locale first: glob order, awk and the commands all work on bytes, in C's order.
LC_ALL=C LANG=C
export LC_ALL LANG
unset LANGUAGE LC_CTYPE LC_NUMERIC LC_TIME LC_COLLATE LC_MONETARY LC_MESSAGES LC_PAPER LC_NAME \
	LC_ADDRESS LC_TELEPHONE LC_MEASUREMENT LC_IDENTIFICATION 2>/dev/null
umask 077  # the bundle holds the host's secrets' neighbours: for its owner only, as migsnap.py's
IFS=' 	
'

VERSION=0.4.0
FORMAT_VERSION=1
PROG=migsnap

# ---------------------------------------------------------------------------------------------
# Capture table (from migsnap.py)
# ---------------------------------------------------------------------------------------------
# row INDEX ID SECTION KIND PARSER SOURCE ARG...: SOURCE as --list shows it; ARG the argv of a
# cmd, the patterns of a glob or links, the path of a file.  @EXES@ and @FILES@ stand for what
# earlier entries found (migsnap.py's EXES and FILES placeholders).
table() {
	row 001 uname-r system cmd parse_value 'uname -r' uname -r
	row 002 uname-m system cmd parse_value 'uname -m' uname -m
	row 003 uname-a system cmd parse_uname_a 'uname -a' uname -a
	row 004 hostname system cmd parse_value hostname hostname
	row 005 etc-issue system file parse_issue /etc/issue /etc/issue
	row 006 os-release system file parse_os_release /etc/os-release /etc/os-release
	row 007 usr-lib-os-release system file parse_os_release /usr/lib/os-release /usr/lib/os-release
	row 008 lsb-release system file parse_os_release /etc/lsb-release /etc/lsb-release
	row 009 redhat-release system file parse_release_file /etc/redhat-release /etc/redhat-release
	row 010 system-release system file parse_release_file /etc/system-release /etc/system-release
	row 011 suse-release system file parse_release_file /etc/SuSE-release /etc/SuSE-release
	row 012 debian-version system file parse_value /etc/debian_version /etc/debian_version
	row 013 machine-id system file parse_value /etc/machine-id /etc/machine-id
	row 014 etc-passwd system file parse_passwd /etc/passwd /etc/passwd
	row 015 pid1-comm init file parse_value /proc/1/comm /proc/1/comm
	row 016 runlevel init cmd parse_runlevel runlevel runlevel
	row 017 who-r init cmd parse_who_r 'who -r' who -r
	row 018 inittab init file parse_inittab /etc/inittab /etc/inittab
	row 019 openrc-softlevel init file parse_value /run/openrc/softlevel /run/openrc/softlevel
	row 020 service-status-all services cmd parse_service_status_all 'service --status-all' service --status-all
	row 021 chkconfig-list services cmd parse_chkconfig 'chkconfig --list' chkconfig --list
	row 022 sysv-rc-conf-list services cmd parse_chkconfig 'sysv-rc-conf --list' sysv-rc-conf --list
	row 023 init-d services links parse_init_d '/etc/init.d/*' '/etc/init.d/*'
	row 024 rc-links services links parse_rc_links '/etc/rc[0-6S].d/*' '/etc/rc[0-6S].d/*'
	row 025 ls-rc-d services cmd parse_ls_l 'ls -l /etc/rc*.d' ls -l '/etc/rc*.d'
	row 026 init-scripts services glob parse_init_scripts '/etc/init.d/*' '/etc/init.d/*'
	row 027 etc-default services glob parse_etc_default '/etc/default/*' '/etc/default/*'
	row 028 pid-files services glob parse_pid_files '/run/*.pid /run/*/*.pid /var/run/*.pid /var/run/*/*.pid' '/run/*.pid' '/run/*/*.pid' '/var/run/*.pid' '/var/run/*/*.pid'
	row 029 systemd-local services glob parse_unit_files '/etc/systemd/system/*.service /etc/systemd/system/*.timer /etc/systemd/system/*.socket /etc/systemd/system/*.path /etc/systemd/system/*.d/*.conf /run/systemd/system/*.service /run/systemd/system/*.timer /run/systemd/system/*.d/*.conf' '/etc/systemd/system/*.service' '/etc/systemd/system/*.timer' '/etc/systemd/system/*.socket' '/etc/systemd/system/*.path' '/etc/systemd/system/*.d/*.conf' '/run/systemd/system/*.service' '/run/systemd/system/*.timer' '/run/systemd/system/*.d/*.conf'
	row 030 initctl-list services cmd parse_initctl_list 'initctl list' initctl list
	row 031 initctl-show-config services cmd parse_initctl_show_config 'initctl show-config' initctl show-config
	row 032 upstart-jobs services glob parse_upstart_jobs '/etc/init/*.conf /etc/init/*.override' '/etc/init/*.conf' '/etc/init/*.override'
	row 033 rc-status-a services cmd parse_rc_status 'rc-status -a' rc-status -a
	row 034 rc-update-show-v services cmd parse_rc_update_show 'rc-update show -v' rc-update show -v
	row 035 openrc-runlevels services links parse_openrc_runlevels '/etc/runlevels/*/*' '/etc/runlevels/*/*'
	row 036 systemctl-get-default init cmd parse_value 'systemctl get-default' systemctl get-default
	row 037 systemctl-units-service services cmd parse_systemctl_units 'systemctl list-units -t service --all --no-pager' systemctl list-units -t service --all --no-pager
	row 038 systemctl-unit-files-service services cmd parse_systemctl_unit_files 'systemctl list-unit-files -t service --no-pager' systemctl list-unit-files -t service --no-pager
	row 039 systemctl-units-target init cmd parse_systemctl_units 'systemctl list-units -t target --all --no-pager' systemctl list-units -t target --all --no-pager
	row 040 systemctl-unit-files-target init cmd parse_systemctl_unit_files 'systemctl list-unit-files -t target --no-pager' systemctl list-unit-files -t target --no-pager
	row 041 systemctl-deps-default services cmd parse_systemctl_dependencies 'systemctl list-dependencies --no-pager default.target' systemctl list-dependencies --no-pager default.target
	row 042 systemctl-deps-multi-user services cmd parse_systemctl_dependencies 'systemctl list-dependencies --no-pager multi-user.target' systemctl list-dependencies --no-pager multi-user.target
	row 043 cron-files jobs glob parse_cron_files '/etc/crontab /etc/cron.d/* /etc/anacrontab' /etc/crontab '/etc/cron.d/*' /etc/anacrontab
	row 044 cron-scripts jobs links parse_cron_scripts '/etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*' '/etc/cron.hourly/*' '/etc/cron.daily/*' '/etc/cron.weekly/*' '/etc/cron.monthly/*'
	row 045 user-crontabs jobs glob parse_user_crontabs '/var/spool/cron/crontabs/* /var/spool/cron/*' '/var/spool/cron/crontabs/*' '/var/spool/cron/*'
	row 046 systemctl-timers jobs cmd parse_systemctl_timers 'systemctl list-timers --all --no-pager' systemctl list-timers --all --no-pager
	row 047 atq jobs cmd parse_atq atq atq
	row 048 netstat-nlp ports cmd parse_netstat 'netstat -nlp' netstat -nlp
	row 049 lsof-nPi ports cmd parse_lsof 'lsof -nPi' lsof -nPi
	row 050 ss-nlpaxtudw ports cmd parse_ss 'ss -nlpaxtudw' ss -nlpaxtudw
	row 051 proc-net-tcp ports file parse_proc_net_inet /proc/net/tcp /proc/net/tcp
	row 052 proc-net-tcp6 ports file parse_proc_net_inet /proc/net/tcp6 /proc/net/tcp6
	row 053 proc-net-udp ports file parse_proc_net_inet /proc/net/udp /proc/net/udp
	row 054 proc-net-udp6 ports file parse_proc_net_inet /proc/net/udp6 /proc/net/udp6
	row 055 proc-net-unix ports file parse_proc_net_unix /proc/net/unix /proc/net/unix
	row 056 ss-ntup connections cmd parse_ss 'ss -ntup' ss -ntup
	row 057 netstat-ntp connections cmd parse_netstat 'netstat -ntp' netstat -ntp
	row 058 ssh-keys ssh glob parse_ssh_keys '/root/.ssh/id_*.pub /root/.ssh/authorized_keys /root/.ssh/authorized_keys2 /home/*/.ssh/id_*.pub /home/*/.ssh/authorized_keys /home/*/.ssh/authorized_keys2' '/root/.ssh/id_*.pub' /root/.ssh/authorized_keys /root/.ssh/authorized_keys2 '/home/*/.ssh/id_*.pub' '/home/*/.ssh/authorized_keys' '/home/*/.ssh/authorized_keys2'
	row 059 ssh-dirs ssh links parse_ssh_dirs '/root/.ssh/* /home/*/.ssh/*' '/root/.ssh/*' '/home/*/.ssh/*'
	row 060 sshd-T ssh cmd parse_sshd_config 'sshd -T' sshd -T
	row 061 sshd-config ssh file parse_sshd_config /etc/ssh/sshd_config /etc/ssh/sshd_config
	row 062 dpkg-l packages cmd parse_dpkg_l 'dpkg -l' dpkg -l
	row 063 dpkg-query packages cmd parse_dpkg_query 'dpkg-query -W -f '\''${Package}\t${Version}\t${Architecture}\t${Status}\t${Priority}\t${Essential}\t${Section}\t${Source}\t${Pre-Depends}\t${Depends}\t${Provides}\n'\''' dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\t${Status}\t${Priority}\t${Essential}\t${Section}\t${Source}\t${Pre-Depends}\t${Depends}\t${Provides}\n'
	row 064 rpm-qa packages cmd parse_rpm_qa 'rpm -qa' rpm -qa
	row 065 rpm-qa-qf packages cmd parse_rpm_qf 'rpm -qa --qf '\''%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{INSTALLTID}\n'\''' rpm -qa --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{INSTALLTID}\n'
	row 066 apk-info packages cmd parse_apk_info 'apk info -v' apk info -v
	row 067 apk-world packages file parse_apk_world /etc/apk/world /etc/apk/world
	row 068 apt-extended-states packages file parse_apt_extended_states /var/lib/apt/extended_states /var/lib/apt/extended_states
	row 069 listen-procs ports procs parse_listen_procs '/proc/<each listening pid, and its parents>/{exe,comm,stat,cgroup,cmdline}'
	row 070 listen-dpkg-S ports cmd parse_dpkg_search 'dpkg -S '\''<exe of each listening pid>'\''' dpkg -S @EXES@
	row 071 listen-rpm-qf ports cmd parse_rpm_owners 'rpm -qf --qf '\''%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t[%{FILENAMES}\t]\n'\'' '\''<exe of each listening pid>'\''' rpm -qf --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t[%{FILENAMES}\t]\n' @EXES@
	row 072 files-dpkg-S services cmd parse_dpkg_search 'dpkg -S '\''<each unit, init script, job and cron file>'\''' dpkg -S @FILES@
	row 073 files-rpm-qf services cmd parse_rpm_owners 'rpm -qf --qf '\''%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t[%{FILENAMES}\t]\n'\'' '\''<each unit, init script, job and cron file>'\''' rpm -qf --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t[%{FILENAMES}\t]\n' @FILES@
	row 074 files-ls-l services cmd parse_ls_l 'ls -l '\''<each unit, init script, job and cron file>'\''' ls -l @FILES@
}
STARTS_FIRST=' service-status-all lsof-nPi rpm-qa rpm-qa-qf systemctl-unit-files-service systemctl-unit-files-target netstat-nlp dpkg-l dpkg-query '
FOUND_NOTHING=' atq:1 lsof-nPi:1 listen-dpkg-S:1 listen-rpm-qf:1-255 files-dpkg-S:1 files-rpm-qf:1-255 '  # id:codes, codes as N or N-M
GLOB_SKIPS_LINKS=' systemd-local '
NOTES_JSON='["read-only: commands only list state; nothing is installed, started, stopped, enabled or reloaded", "ss may make the kernel autoload *_diag modules (sock_diag); /proc/net/{tcp,tcp6,udp,udp6,unix} are read directly as a module-free source and skip it with --skip ss-nlpaxtudw", "lsof and netstat -p read /proc/<pid>/fd of every process"]'
LOST_JSON='["not root (euid @EUID@): ss -p, netstat -p and lsof show processes of this user only; sockets of other users'\'' processes have no process name or pid", "not root: /proc/<pid>/fd and /proc/<pid>/exe of other users'\'' processes are unreadable"]'  # when not root, @EUID@ replaced
NOTHING_PIDS='nothing to look at: no listening process found'
NOTHING_EXES='nothing to look at: no executable of a listening process could be read'
NOTHING_FILES='nothing to look at: no unit, init script or cron file found'
EXTRA_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
TIMEOUT=30
MAX_OUTPUT=16777216
JOBS=4

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
say() { [ -n "$QUIET" ] || printf '%s: %s\n' "$PROG" "$1" >&2; }
trouble() { printf '%s: error: %s\n' "$PROG" "$1" >&2; cleanup; trap - EXIT; exit 2; }
usage_error() {
	printf 'Usage: migsnap.sh [options]\n\nmigsnap.sh: error: %s\n' "$1" >&2
	exit 2
}

# The last ": "-separated part of a tool's first error line: strerror ("Permission denied").
errtail() {
	ERR=
	[ -s "$1" ] && IFS= read -r ERR <"$1"
	ERR=${ERR##*: }
}

# JSON strings.  Plain printable ASCII without quotes needs no awk; anything else (quotes,
# control characters, bytes that are not UTF-8) goes through jstr, which escapes as migsnap.py's
# json (ensure_ascii) does and spells a byte that is not UTF-8 as U+FFFD.
AWK_JSON='
function jinit(  i) { for (i = 1; i < 256; i++) ORD[sprintf("%c", i)] = i; HEX = "0123456789abcdef"; JINIT = 1 }
function hex4(n) { return substr(HEX, int(n / 4096) % 16 + 1, 1) substr(HEX, int(n / 256) % 16 + 1, 1) substr(HEX, int(n / 16) % 16 + 1, 1) substr(HEX, n % 16 + 1, 1) }
function jstr(s,   out, i, n, c, o, need, cp, j, b, ok) {
	if (!JINIT) jinit()
	out = "\""; n = length(s)
	for (i = 1; i <= n; i++) {
		c = substr(s, i, 1); o = ORD[c]
		if (c == "\"") out = out "\\\""
		else if (c == "\\") out = out "\\\\"
		else if (o >= 32 && o < 127) out = out c
		else if (o == 10) out = out "\\n"
		else if (o == 9) out = out "\\t"
		else if (o == 13) out = out "\\r"
		else if (o < 128) out = out "\\u" hex4(o)
		else {
			need = 0
			if (o >= 194 && o <= 223) { need = 1; cp = o - 192 }
			else if (o >= 224 && o <= 239) { need = 2; cp = o - 224 }
			else if (o >= 240 && o <= 244) { need = 3; cp = o - 240 }
			ok = need > 0 && i + need <= n
			for (j = 1; ok && j <= need; j++) {
				b = ORD[substr(s, i + j, 1)]
				if (b < 128 || b > 191) ok = 0; else cp = cp * 64 + b - 128
			}
			if (ok && ((need == 2 && (cp < 2048 || (cp >= 55296 && cp <= 57343))) || (need == 3 && (cp < 65536 || cp > 1114111)))) ok = 0
			if (!ok) { out = out "\\ufffd"; continue }
			i += need
			if (cp >= 65536) { cp -= 65536; out = out "\\u" hex4(55296 + int(cp / 1024)) "\\u" hex4(56320 + cp % 1024) }
			else out = out "\\u" hex4(cp)
		}
	}
	return out "\""
}'
js() {
	case $1 in
	*[!\ -~]*|*[\"\\]*) JS=$(V=$1 awk "$AWK_JSON"' BEGIN { printf "%s", jstr(ENVIRON["V"]) }') ;;
	*) JS="\"$1\"" ;;
	esac
}
# jlist ARG...: a JSON list of strings in JL
jlist() {
	JL=
	for _a in "$@"; do
		js "$_a"
		JL="$JL${JL:+, }$JS"
	done
	JL="[$JL]"
}

# A monotonic clock in hundredths of a second (/proc/uptime: no process to start), else seconds.
now() {
	if read -r _up _rest </proc/uptime 2>/dev/null; then
		_c=${_up#*.}
		NOW=$(( ${_up%.*} * 100 + ${_c#0} ))  # "12.34": two decimals, 1234 ("08" is no octal)
	else
		NOW=$(( $(date +%s) * 100 ))
	fi
}
seconds() {  # hundredths to "s.cc"
	SECS=$(( $1 / 100 )).$(( $1 % 100 / 10 ))$(( $1 % 10 ))
}

# which NAME: the executable PATH finds, in WHICH ("" when none); no process started.
which_cmd() {
	WHICH=
	case $1 in */*) [ -x "$1" ] && WHICH=$1; return ;; esac
	_IFS=$IFS IFS=:
	for _d in $PATH; do
		[ -n "$_d" ] || continue
		if [ -f "$_d/$1" ] && [ -x "$_d/$1" ]; then WHICH=$_d/$1; break; fi
	done
	IFS=$_IFS
}

# Processes to kill: PID, and every process descending from it (read from /proc/*/stat).
descendants() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); kids[f[2]] = kids[f[2]] " " $1 }
		END { todo = root; while (todo != "") { n = split(todo, t, " "); todo = ""
			for (i = 1; i <= n; i++) { if (seen[t[i]]++) continue; print t[i]; todo = todo " " kids[t[i]] } } }'
}
kill_tree() {  # PID: the command's process group (its own session, with setsid) and descendants
	[ -n "$1" ] || return 0
	[ -n "$SETSID" ] && kill -KILL -"$1" 2>/dev/null
	# shellcheck disable=SC2046
	kill -KILL $(descendants "$1") 2>/dev/null
	return 0
}

# ---------------------------------------------------------------------------------------------
# Signals: the first INT, TERM or HUP ends the run (running command killed, work folder removed,
# nothing written, 128 + its number); later ones are ignored so they cannot cut that short.  Once
# the bundle is at its name, the run has succeeded: a signal then only cuts the last line short.
# ---------------------------------------------------------------------------------------------
W= TMPF= FINAL= PHASE=working CMD_PID= DOG= JOB=
cleanup() {
	if [ -n "$CMD_PID" ] || [ -n "$JOB" ]; then
		[ -n "$W" ] && [ -s "$W/pid" ] && read -r CMD_PID <"$W/pid"
		kill_tree "$CMD_PID"
		[ -n "$DOG" ] && kill "$DOG" 2>/dev/null
		[ -n "$JOB" ] && kill "$JOB" 2>/dev/null
	fi
	[ -n "$TMPF" ] && rm -f "$TMPF"
	[ -n "$W" ] && rm -rf "$W"
	TMPF= W=
}
on_signal() {
	trap '' INT TERM HUP
	if [ "$PHASE" = published ]; then exit 0; fi
	if [ "$PHASE" = publishing ] && [ -n "$TMPF" ] && [ "$FINAL" -ef "$TMPF" ]; then
		rm -f "$FINAL"  # put in place as the signal came: taken away again
	fi
	cleanup
	if [ "$1" = 2 ]; then
		printf '%s: interrupted; no bundle written\n' "$PROG" >&2
	else
		printf '%s: terminated by signal %s; no bundle written\n' "$PROG" "$1" >&2
	fi
	trap - EXIT  # mksh would exit with the status of an EXIT trap's last command
	exit $((128 + $1))
}
trap 'on_signal 2' INT
trap 'on_signal 15' TERM
trap 'on_signal 1' HUP
trap 'cleanup' EXIT  # a shell error that ends the run leaves no work folder either
trap '' PIPE  # a progress reader that went away costs no entry (commands get it back: run_cmd)

# ---------------------------------------------------------------------------------------------
# Running: one function a kind, as migsnap.py's Runner; each sets STATUS, ERROR, EXIT, ARGV,
# EXE, TRUNC and adds its raw files with add_file NAME ROLE PATH.
# ---------------------------------------------------------------------------------------------
add_file() {  # member name (under raw/), role, path or "": a manifest record, its size and
	NFILES=$((NFILES + 1))  # hash filled in at the end
	printf '%s\n' "$1" 2>/dev/null >>"$W/members" || rm -f "$W/writes-ok"
	js "$1"; _n=$JS
	if [ -n "$3" ]; then js "$3"; _p=$JS; else _p=null; fi
	FILES_JSON="$FILES_JSON${FILES_JSON:+,}
   {\"name\": $_n, \"path\": $_p, \"role\": \"$2\", @F$NFILES@}"
}
raw_path() { RAW="$W/$TOP/$1"; }

# head -c N, and whether the source held more: cut to N then.  Sets CUT.
cap_copy() {  # SRC DEST LIMIT
	CUT=
	head -c $(($3 + 1)) "$1" >"$2" 2>"$W/err" || return 1
	size_of "$2"
	if [ "$SIZE" -gt "$3" ]; then
		CUT=1
		head -c "$3" "$2" >"$2.cut" && mv -f "$2.cut" "$2" || rm -f "$W/writes-ok"
	fi
	return 0
}
size_of() { SIZE=$(wc -c <"$1"); SIZE=$((SIZE + 0)); }

os_status() {  # from an error message's strerror, as migsnap.py's _os_error_status
	case $ERR in
	"No such file or directory") STATUS=absent ;;
	"Permission denied"|"Operation not permitted") STATUS=denied ;;
	*) STATUS=error ;;
	esac
}

run_file() {  # PATH
	raw_path "raw/$ID.out"
	if [ ! -e "$1" ]; then STATUS=absent; return; fi
	if ! cap_copy "$1" "$RAW" "$MAX_OUTPUT"; then
		errtail "$W/err"
		case $ERR in *"No space left"*|*"Disk quota"*) rm -f "$W/writes-ok" ;; esac
		rm -f "$RAW"; os_status
		[ "$STATUS" = absent ] && ERR=
		ERROR=$ERR
		return
	fi
	add_file "raw/$ID.out" file "$1"
	if [ -n "$CUT" ]; then
		TRUNC=true STATUS=truncated ERROR="file over $MAX_OUTPUT bytes: cut"
	fi
}

# The folders of a glob's patterns that exist but may not be listed (not root): HIDDEN.
unlistable() {
	HIDDEN=
	for _pat in "$@"; do
		_folder=${_pat%/*}
		_static=$_folder
		while :; do case $_static in *[*?[]*) _static=${_static%/*} ;; *) break ;; esac; done
		while [ -n "$_static" ] && [ "$_static" != / ] && [ ! -e "$_static" ] && [ ! -L "$_static" ]; do
			_static=${_static%/*}
		done
		for _f in $_folder "$_static"; do
			if [ -d "$_f" ] && { [ ! -r "$_f" ] || [ ! -x "$_f" ]; }; then
				case " $HIDDEN, " in *" $_f, "*) ;; *) HIDDEN="$HIDDEN${HIDDEN:+, }$_f" ;; esac
			fi
		done
	done
}

CTL=$(printf '\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020\021\022\023\024\025\026\027\030\031\032\033\034\035\036\037\177')

run_glob() {  # PATTERN...
	unlistable "$@"
	: >"$W/paths"
	_seen=
	_lastdir= _real=
	for _pat in "$@"; do
		for _p in $_pat; do
			[ -e "$_p" ] || [ -L "$_p" ] || continue
			case " $GLOB_SKIPS_LINKS " in *" $ID "*) [ -L "$_p" ] && continue ;; esac
			[ -f "$_p" ] || continue
			case $_p in *["$CTL"]*) continue ;; esac  # no control character in a member's name
			_dir=${_p%/*}
			if [ "$_dir" != "$_lastdir" ]; then
				_lastdir=$_dir
				_real=$(cd -P -- "${_dir:-/}" 2>/dev/null && pwd -P)
			fi
			_where="$_real/${_p##*/}"  # /var/run/x.pid and /run/x.pid: one file, read once
			case $_seen in *"
$_where
"*) continue ;; esac
			_seen="$_seen
$_where
"
			printf '%s\n' "$_p" >>"$W/paths"
		done
	done
	# names that are not UTF-8 cannot name a member (migsnap.py's _member_safe)
	awk "$AWK_JSON"' index(jstr($0), "\\ufffd") == 0' "$W/paths" >"$W/paths.ok"
	if [ -n "$HIDDEN" ]; then STATUS=denied ERROR="cannot list $HIDDEN: permission denied"; fi
	if [ ! -s "$W/paths.ok" ]; then
		[ -n "$HIDDEN" ] || STATUS=absent
		return
	fi
	_budget=$MAX_OUTPUT
	_last=$(tail -n 1 "$W/paths.ok")
	while IFS= read -r _p; do
		raw_path "raw/$ID$_p"
		_dir=${RAW%/*}
		[ -d "$_dir" ] || mkdir -p "$_dir" || rm -f "$W/writes-ok"
		if ! cap_copy "$_p" "$RAW" "$_budget"; then
			errtail "$W/err"
			case $ERR in *"No space left"*|*"Disk quota"*) rm -f "$W/writes-ok" ;; esac
			rm -f "$RAW"
			STATUS=partial
			ERROR="$ERROR${ERROR:+; }$_p: $ERR"
			continue
		fi
		[ -n "$CUT" ] && TRUNC=true
		add_file "raw/$ID$_p" file "$_p"
		_budget=$((_budget - SIZE))
		[ -n "$CUT" ] && _budget=0
		if [ "$_budget" -le 0 ]; then
			[ "$_p" != "$_last" ] && TRUNC=true
			break
		fi
	done <"$W/paths.ok"
	if [ "$TRUNC" = true ]; then
		if [ "$STATUS" = ok ]; then
			STATUS=truncated ERROR="files over $MAX_OUTPUT bytes in all: cut"
		else
			ERROR="$ERROR; files over $MAX_OUTPUT bytes in all: cut"
		fi
	fi
}

# link target: readlink where there is one, else what ls -l shows after "-> "
readlink_to() {  # PATH DEST(appended)
	if [ -n "$READLINK" ]; then
		readlink "$1" >>"$2" 2>"$W/err"
	else
		LC_ALL=C ls -ld "$1" 2>"$W/err" | sed 's/^.* -> //' >>"$2"
	fi
}

run_links() {  # PATTERN...
	raw_path "raw/$ID.out"
	: >"$RAW"
	for _pat in "$@"; do
		for _p in $_pat; do
			if [ -L "$_p" ]; then
				printf '%s\tlink\t' "$_p" >>"$RAW"
				readlink_to "$_p" "$RAW" || printf '\n' >>"$RAW"
			elif [ -d "$_p" ]; then
				printf '%s\tdir\t\n' "$_p" >>"$RAW"
			elif [ -e "$_p" ]; then
				printf '%s\tfile\t\n' "$_p" >>"$RAW"
			fi
		done
	done
	if [ ! -s "$RAW" ]; then STATUS=absent; rm -f "$RAW"; return; fi
	add_file "raw/$ID.out" stdout ""
}

# The procs entry: for each pid (and then its parents), "pid<TAB>field<TAB>value" lines as
# migsnap.py's _read_procs writes them: exe, comm, ppid, cgroup lines, one arg line per
# argument (backslash, tab and newline escaped).
proc_facts() {  # PID DEST
	_b=/proc/$1
	: >"$W/lnk"
	if readlink_to "$_b/exe" "$W/lnk" && [ -s "$W/lnk" ]; then
		printf '%s\texe\t' "$1" >>"$2"
		cat "$W/lnk" >>"$2"
	else  # not root: other users' processes hide their executable; or the process is gone
		if [ ! -d "$_b" ]; then _e="No such file or directory"
		elif [ "$MY_EUID" != 0 ]; then _e="Permission denied"
		else _e="No such file or directory"; fi
		printf '%s\terror\texe: %s\n' "$1" "$_e" >>"$2"
	fi
	PPID_OF=
	for _name in comm stat cgroup cmdline; do
		if [ ! -r "$_b/$_name" ] || ! head -c 65536 "$_b/$_name" >"$W/pf" 2>/dev/null; then
			if [ -d "$_b" ]; then _e="Permission denied"; else _e="No such file or directory"; fi
			printf '%s\terror\t%s: %s\n' "$1" "$_name" "$_e" >>"$2"
			continue
		fi
		case $_name in
		comm) awk -v pid="$1" '{ t = t (NR > 1 ? "\n" : "") $0 } END { gsub(/^[ \t\r\n\f\v]+|[ \t\r\n\f\v]+$/, "", t); print pid "\tcomm\t" t }' "$W/pf" >>"$2" ;;
		stat)
			PPID_OF=$(tr '\n' ' ' <"$W/pf" | sed 's/.*)//' | awk '{ print $2 }')
			printf '%s\tppid\t%s\n' "$1" "$PPID_OF" >>"$2" ;;
		cgroup) awk -v pid="$1" '{ print pid "\tcgroup\t" $0 }' "$W/pf" >>"$2" ;;
		cmdline)  # NUL-separated; a newline inside an argument travels as \001 meanwhile
			tr '\n\000' '\001\n' <"$W/pf" | awk -v pid="$1" '
				{ a[++n] = $0 }
				END { while (n > 0 && a[n] == "") n--
					for (i = 1; i <= n && i <= 64; i++) { s = substr(a[i], 1, 4096)
						gsub(/\\/, "\\\\", s); gsub(/\t/, "\\t", s); gsub(/\001/, "\\n", s)
						print pid "\targ\t" s } }' >>"$2" ;;
		esac
	done
}

run_procs() {
	raw_path "raw/$ID.out"
	: >"$RAW"
	_todo=$(cat "$W/pids")
	_seen=' '
	_count=0
	while [ -n "$_todo" ]; do
		set -- $_todo
		_pid=$1; shift; _todo=$*
		case $_seen in *" $_pid "*) continue ;; esac
		[ "$_pid" -gt 1 ] && [ "$_count" -lt 4096 ] || continue
		_seen="$_seen$_pid "
		_count=$((_count + 1))
		proc_facts "$_pid" "$RAW"
		case $PPID_OF in ''|*[!0-9]*) ;; *) _todo="$_todo $PPID_OF" ;; esac
	done
	[ -s "$RAW" ] || printf '\n' >"$RAW"  # no process: one empty line, as migsnap.py
	add_file "raw/$ID.out" stdout ""
}

# A command: in its own session (setsid, where there is one), stdin /dev/null, stdout and
# stderr each kept to MAX_OUTPUT bytes (head), killed with its children at TIMEOUT by a
# watchdog; the wrapper waits for the command itself, so one that closed its pipes and hangs
# is killed at the deadline all the same.
run_cmd() {  # ARGV...
	which_cmd "$1"
	if [ -z "$WHICH" ]; then STATUS=missing ERROR="$1: command not found"; return; fi
	EXE=$WHICH
	shift
	raw_path "raw/$ID.out"; _out=$RAW
	raw_path "raw/$ID.err"; _err=$RAW
	rm -f "$W/pid" "$W/rc" "$W/timedout"
	(
		trap - PIPE
		{
			{
				$SETSID "$EXE" "$@" </dev/null 2>&1 >&3 3>&- &
				echo $! >"$W/pid"
				wait $!
				echo $? >"$W/rc"
			} | { head -c $((MAX_OUTPUT + 1)) >"$_err" 3>&- || rm -f "$W/writes-ok"; }
		} 3>&1 | { head -c $((MAX_OUTPUT + 1)) >"$_out" || rm -f "$W/writes-ok"; }
	) </dev/null >/dev/null 2>&1 &
	JOB=$!
	(
		trap 'kill $_s 2>/dev/null; exit 0' TERM
		sleep "$TIMEOUT" 2>/dev/null & _s=$!
		wait $_s || { sleep "$TIMEOUT_CEIL" & _s=$!; wait $_s; }  # a sleep without fractions
		: >"$W/timedout"
		_c=
		[ -s "$W/pid" ] && read -r _c <"$W/pid"
		kill_tree "$_c"
	) </dev/null >/dev/null 2>&1 &
	DOG=$!
	wait $JOB
	kill "$DOG" 2>/dev/null
	wait "$DOG" 2>/dev/null
	JOB= DOG=
	EXIT=
	[ -s "$W/rc" ] && read -r EXIT <"$W/rc"
	[ -n "$EXIT" ] || EXIT=-9
	size_of "$_out"; _so=$SIZE
	size_of "$_err"; _se=$SIZE
	_cut=
	for _f in "$_out" "$_err"; do
		size_of "$_f"
		if [ "$SIZE" -gt "$MAX_OUTPUT" ]; then
			_cut=1
			head -c "$MAX_OUTPUT" "$_f" >"$_f.cut" && mv -f "$_f.cut" "$_f" || rm -f "$W/writes-ok"
		fi
	done
	if [ -n "$_cut" ] || [ -f "$W/timedout" ]; then
		kill_tree "$(cat "$W/pid" 2>/dev/null)"  # stopped early: the whole group goes
		[ "$EXIT" -gt 128 ] && EXIT=$((128 - EXIT))  # killed by a signal: -N, as Python says it
	fi
	if [ -n "$_cut" ]; then
		TRUNC=true STATUS=truncated ERROR="output over $MAX_OUTPUT bytes: command killed, output cut"
	elif [ -f "$W/timedout" ]; then
		STATUS=timeout ERROR="killed after ${TIMEOUT_G}s"
	elif [ "$EXIT" = 127 ] && [ "$_so" = 0 ]; then
		STATUS=missing
	elif [ "$EXIT" != 0 ] && ! found_nothing "$EXIT"; then
		STATUS=failed
	fi
	add_file "raw/$ID.out" stdout ""
	add_file "raw/$ID.err" stderr ""
}

found_nothing() {  # EXIT: whether this entry's exit code means "found nothing"
	case $FOUND_NOTHING in *" $ID:"*) ;; *) return 1 ;; esac
	_codes=${FOUND_NOTHING#* "$ID":}
	_codes=${_codes%% *}
	_IFS=$IFS IFS=,
	for _c in $_codes; do
		case $_c in
		*-*) [ "$1" -ge "${_c%-*}" ] && [ "$1" -le "${_c#*-}" ] && { IFS=$_IFS; return 0; } ;;
		*) [ "$1" = "$_c" ] && { IFS=$_IFS; return 0; } ;;
		esac
	done
	IFS=$_IFS
	return 1
}

# expand ARG...: migsnap.py's expand_argv into "$W/argv", one argument a line: @EXES@ and
# @FILES@ become what earlier entries found; an argument with * or [ that starts with / is
# globbed (kept as it is when nothing matches).
expand_args() {
	: >"$W/argv"
	_first=1
	for _a in "$@"; do
		case $_a in
		@EXES@) cat "$W/exes" >>"$W/argv" ;;
		@FILES@) cat "$W/files" >>"$W/argv" ;;
		/*\**|/*\[*)
			if [ -z "$_first" ]; then
				_any=
				for _m in $_a; do
					[ -e "$_m" ] || [ -L "$_m" ] || continue
					_any=1; printf '%s\n' "$_m" >>"$W/argv"
				done
				[ -n "$_any" ] || printf '%s\n' "$_a" >>"$W/argv"
			else printf '%s\n' "$_a" >>"$W/argv"; fi ;;
		*) printf '%s\n' "$_a" >>"$W/argv" ;;
		esac
		_first=
	done
}

# ---------------------------------------------------------------------------------------------
# What the dependent entries work on (migsnap.py's derive_inputs, without its parsers)
# ---------------------------------------------------------------------------------------------
is_complete() {  # ID: whether the entry ran to a complete, non-empty output (ok or failed)
	[ -s "$W/st/$1" ] || return 1
	read -r _st <"$W/st/$1"
	case $_st in ok|failed) ;; *) return 1 ;; esac
	[ -s "$W/$TOP/raw/$1.out" ]
}

# PIDS: the processes holding the sockets the socket listings show as listening (ss or netstat:
# TCP, UDP and named unix sockets, datagram ones too: /proc does not name a datagram socket's
# peer, so a named one may add a pid migsnap.py leaves out, never lose one; lsof: TCP and UDP),
# and those holding the connections ss -ntup shows: the socket inodes of /proc/net/*, found
# among the /proc/<pid>/fd links.
derive_pids() {
	_kinds=
	if is_complete ss-nlpaxtudw || is_complete netstat-nlp; then _kinds="listen unix"
	elif is_complete lsof-nPi; then _kinds=listen; fi
	is_complete ss-ntup && _kinds="$_kinds conn"
	: >"$W/pids"
	[ -n "$_kinds" ] || return 0
	{
		for _f in tcp tcp6 udp udp6 unix; do
			[ -r "/proc/net/$_f" ] || continue
			awk -v f="$_f" -v kinds=" $_kinds " '
				function want(k) { return index(kinds, " " k " ") > 0 }
				FNR == 1 { next }
				f ~ /^tcp/ && $4 == "0A" && want("listen") { print "I " $10; next }
				f ~ /^tcp/ && $4 ~ /^(01|02|04|05|08|09|0B)$/ && want("conn") { print "I " $10; next }
				f ~ /^udp/ && $4 == "07" && want("listen") && $3 ~ /:0000$/ && $2 !~ /:0000$/ { print "I " $10; next }
				f ~ /^udp/ && $4 == "01" && want("conn") { print "I " $10; next }
				f == "unix" && want("unix") && NF >= 8 && ($5 == "0001" || $5 == "0005") && $4 == "00010000" { print "I " $7; next }
				f == "unix" && want("unix") && NF >= 8 && $5 == "0002" { print "I " $7 }
			' "/proc/net/$_f"
		done
		ls -l /proc/[0-9]*/fd 2>/dev/null
	} | awk '
		$1 == "I" { want[$2] = 1; next }
		/^\/proc\/[0-9]+\/fd\/?:$/ { split($0, p, "/"); pid = p[3]; next }
		/ -> socket:\[[0-9]+\]$/ { s = $NF; gsub(/[^0-9]/, "", s); if (s in want) print pid }
	' | sort -n -u >"$W/pids"
}

# EXES: the executables listen-procs read, with their other name on a merged /usr.
derive_exes() {
	: >"$W/exes"
	is_complete listen-procs || return 0
	awk -F '\t' '$2 == "exe" && $3 != "" {
		e = $3; sub(/ \(deleted\)$/, "", e); if (e == "") next
		print e
		n = split("/bin/ /sbin/ /lib/ /lib64/", s, " ")
		for (i = 1; i <= n; i++) {
			if (index(e, "/usr" s[i]) == 1) print substr(e, 5)
			else if (index(e, s[i]) == 1) print "/usr" e
		}
	}' "$W/$TOP/raw/listen-procs.out" | sort -u >"$W/exes"
}

# FILES: unit files, init scripts, Upstart jobs, cron files with a job and cron scripts (the
# files migsnap.py's workload_files takes from the parsed entries).
derive_files() {
	{
		for _id in systemd-local init-scripts cron-files upstart-jobs; do
			[ -s "$W/st/$_id" ] && read -r _st <"$W/st/$_id" || continue
			case $_st in ok|failed) ;; *) continue ;; esac
			[ -d "$W/$TOP/raw/$_id" ] || continue
			_pre="raw/$_id"
			grep "^$_pre/" "$W/members" | while IFS= read -r _m; do
				_path=${_m#"$_pre"}
				case $_id in
				init-scripts)
					_n=${_path##*/}
					case $_n in README|skeleton|functions|rc|rcS|.*|*.dpkg-*|*.rpmnew|*.rpmsave|*~) continue ;; esac ;;
				cron-files)  # a file with at least one job line
					awk -v anacron="$([ "${_path##*/}" = anacrontab ] && echo 1)" '
						{ s = $0; gsub(/^[ \t\r\f\v]+|[ \t\r\f\v]+$/, "", s) }
						s == "" || s ~ /^#/ || s ~ /^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/ { next }
						anacron { n = split(s, w, /[ \t]+/); if (n >= 4 && w[1] ~ /^([0-9]+|@[A-Za-z0-9_]+)$/ && w[2] ~ /^[0-9]+$/) { found = 1; exit } next }
						{ n = split(s, w, /[ \t]+/)
						  if (w[1] ~ /^@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)$/) { if (n >= 3) { found = 1; exit } next }
						  if (n >= 7 && w[1] w[2] w[3] w[4] w[5] ~ /^[0-9*\/,A-Za-z-]+$/) { found = 1; exit } }
						END { exit !found }' "$W/$TOP/$_m" || continue ;;
				esac
				printf '%s\n' "$_path"
			done
		done
		if is_complete cron-scripts; then
			awk -F '\t' '$2 == "file" { n = split($1, p, "/"); if (n >= 3 && p[n] != ".placeholder") print $1 }' \
				"$W/$TOP/raw/cron-scripts.out"
		fi
	} | sort -u >"$W/files"
}

# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
# row, while running: the entries of this stage, each run once; their manifest record written.
run_row() {
	IDX=$1 ID=$2 SECTION=$3 KIND=$4 PARSER=$5 SOURCE=$6
	shift 6
	case " $DONE " in *" $ID "*) return ;; esac
	case " $SKIP " in *" $ID "*) return ;; esac
	NEED=
	case $KIND in procs) NEED=pids ;; cmd) case " $* " in *" @EXES@ "*) NEED=exes ;; *" @FILES@ "*) NEED=files ;; esac ;; esac
	case $STAGE in
	first) [ -z "$NEED" ] || return; case " $STARTS_FIRST " in *" $ID "*) ;; *) return ;; esac ;;
	plain) [ -z "$NEED" ] || return ;;
	pids) [ "$NEED" = pids ] || return ;;
	last) [ "$NEED" = exes ] || [ "$NEED" = files ] || return ;;
	esac
	DONE="$DONE $ID"
	STATUS=ok ERROR= EXIT= EXE= TRUNC=false ARGV_JSON=null FILES_JSON=
	now; _t0=$NOW
	if [ -n "$NEED" ] && [ ! -s "$W/$NEED" ]; then
		STATUS=skipped
		case $NEED in pids) ERROR=$NOTHING_PIDS ;; exes) ERROR=$NOTHING_EXES ;; files) ERROR=$NOTHING_FILES ;; esac
	else
		case $KIND in
		cmd)
			expand_args "$@"
			set --
			while IFS= read -r _a; do set -- "$@" "$_a"; done <"$W/argv"
			jlist "$@"; ARGV_JSON=$JL
			run_cmd "$@" ;;
		file) run_file "$1" ;;
		glob) run_glob "$@" ;;
		links) run_links "$@" ;;
		procs) run_procs ;;
		esac
	fi
	now
	seconds $((NOW - _t0)); _dur=$SECS
	printf '%s\n' "$STATUS" 2>/dev/null >"$W/st/$ID" || rm -f "$W/writes-ok"
	record
	disk_ok
	COUNT=$((COUNT + 1))
	_extra=
	[ -n "$ERROR" ] && [ "$STATUS" != missing ] && _extra=": $ERROR"
	if [ "$STATUS" = failed ]; then
		_first=
		[ -s "$W/$TOP/raw/$ID.err" ] && IFS= read -r _first <"$W/$TOP/raw/$ID.err"
		_first=${_first#"${_first%%[! 	]*}"}
		_extra=": exit $EXIT${_first:+, }$(printf '%.100s' "$_first")"
	fi
	say "$(printf '[%2d/%d] %-30s %s%s (%s s)' "$COUNT" "$TODO" "$ID" "$STATUS" "$_extra" "$_dur")"
}

# The manifest record of the entry just run (or skipped), as migsnap.py's manifest_entry.
record() {
	js "$SOURCE"; _src=$JS
	if [ -n "$ERROR" ]; then js "$ERROR"; _e=$JS; else _e=null; fi
	if [ -n "$EXE" ]; then js "$EXE"; _x=$JS; else _x=null; fi
	printf '  {\n   "argv": %s,\n   "duration": %s,\n   "error": %s,\n   "executable": %s,\n   "exit_code": %s,\n   "files": [%s%s],\n   "id": "%s",\n   "kind": "%s",\n   "parse_error": null,\n   "parser": "%s",\n   "section": "%s",\n   "source": %s,\n   "status": "%s",\n   "truncated": %s,\n   "warnings": null\n  }' \
		"$ARGV_JSON" "${_dur:-0}" "$_e" "$_x" "${EXIT:-null}" "$FILES_JSON" "${FILES_JSON:+
  }" "$ID" "$KIND" "$PARSER" "$SECTION" "$_src" "$STATUS" "$TRUNC" 2>/dev/null >"$W/rec/$IDX" || rm -f "$W/writes-ok"
}

# A write that failed (a full disk) ends the run at once, nothing written: strerror from a probe
# whose message stays in memory, as the disk may not take even that.
disk_ok() {
	[ -f "$W/writes-ok" ] && return 0
	_e=$(head -c 65536 /dev/zero 2>&1 >"$W/probe")
	rm -f "$W/probe"
	trouble "writing $FINAL: ${_e:+${_e##*: }}${_e:-a file of the bundle could not be written in full}"
}

skip_row() {  # --skip: recorded, not run
	IDX=$1 ID=$2 SECTION=$3 KIND=$4 PARSER=$5 SOURCE=$6
	case " $SKIP " in *" $ID "*) ;; *) return ;; esac
	STATUS=skipped ERROR=--skip EXIT= EXE= TRUNC=false ARGV_JSON=null FILES_JSON= _dur=0.0
	printf 'skipped\n' >"$W/st/$ID"
	record
}
count_row() { case " $SKIP " in *" $2 "*) ;; *) TODO=$((TODO + 1)) ;; esac; }
id_row() { IDS="$IDS $2"; }
list_row() { printf '%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$5" "$6"; }

list_table() {
	{ printf 'ID\tSECTION\tKIND\tPARSER\tSOURCE\n'; table; } | awk -F '\t' '
		{ for (i = 1; i <= 4; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } s[NR] = $5 }
		END { for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= 4; i++) line = line sprintf("%-" w[i] "s", c[r, i]) "  "; print line s[r] } }'
}

usage() {
	cat <<EOF
Usage: migsnap.sh [options]

Read-only snapshot of this host for migration planning: runs the listing commands in the
capture table (see --list), and writes one .tgz bundle with their raw output and manifest.json
(no parsed JSON: \`migdiff complete\` adds it on the analyst's machine). Exit status: 0 bundle
written, 2 trouble (nothing written), 130/143/129 interrupted (nothing written).

Options:
  --version             show program's version number and exit
  -h, --help            show this help message and exit
  -l, --list            print the capture table and run nothing
  -o PATH, --output=PATH
                        bundle file, or directory to write migsnap-<host>-<time>.tgz in
                        (default: .); an existing file is never replaced
  --timeout=SECONDS     kill a command (and its children) after this long (default $TIMEOUT)
  --max-output=BYTES    keep at most this much output per command or file (default $MAX_OUTPUT)
  -j N, --jobs=N        accepted for migsnap.py's sake; this collector runs one command at a time
  --skip=ID             do not run this entry (repeat, or comma-separated)
  -q, --quiet           no progress lines; print the bundle's name on stdout
  --sign-key-file=FILE  sign the bundle: an HMAC-SHA256 of manifest.json with the site key in
                        FILE (at least 8 bytes), written as signature.json (with the host's
                        sha256 tool; the key never on a command line)
  --redact              not here: redact on the analyst's machine with \`migdiff redact\`
EOF
}

# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------
QUIET= LIST= OUTPUT= SKIP= SIGN_KEY_FILE=
case $0 in /*) ARGV0=$0 ;; *) ARGV0=$PWD/$0 ;; esac  # hashed at the end, from another folder
jlist "$0" "$@"; ARGV_ALL=$JL
need_value() { [ $# -ge 2 ] || usage_error "$1 option requires 1 argument"; }
while [ $# -gt 0 ]; do
	_o=$1 _v=
	case $_o in --*=*) _v=${_o#*=}; _o=${_o%%=*}; shift; set -- "$_o" "$_v" "$@" ;; esac
	case $_o in
	-h|--help) usage; exit 0 ;;
	--version) printf 'migsnap.sh %s (bundle format %s)\n' "$VERSION" "$FORMAT_VERSION"; exit 0 ;;
	-l|--list) LIST=1 ;;
	-q|--quiet) QUIET=1 ;;
	-o|--output) need_value "$@"; OUTPUT=$2; shift ;;
	-o?*) OUTPUT=${_o#-o} ;;
	--timeout) need_value "$@"; TIMEOUT=$2; shift ;;
	--max-output) need_value "$@"; MAX_OUTPUT=$2; shift ;;
	-j|--jobs) need_value "$@"; JOBS=$2; shift ;;
	-j?*) JOBS=${_o#-j} ;;
	--skip) need_value "$@"; SKIP="$SKIP $(printf '%s' "$2" | tr ',' ' ')"; shift ;;
	--sign-key-file) need_value "$@"; SIGN_KEY_FILE=$2; shift ;;
	--redact|--redact-key|--redact-key-file)
		printf '%s: error: %s is not in migsnap.sh: redact the bundle on the analyst'"'"'s machine with `migdiff redact`\n' "$PROG" "$_o" >&2
		exit 2 ;;
	-*) usage_error "no such option: $_o" ;;
	*) usage_error "unexpected argument: $_o" ;;
	esac
	shift
done

if [ -n "$LIST" ]; then
	row() { list_row "$@"; }
	list_table
	exit 0
fi
case $TIMEOUT in
''|*[!0-9.]*|*.*.*|.) usage_error "--timeout must be a positive number of seconds, not $TIMEOUT" ;;
esac
if ! awk -v t="$TIMEOUT" 'BEGIN { exit !(t + 0 > 0) }'; then
	usage_error "--timeout must be a positive number of seconds, not $TIMEOUT"
fi
case $MAX_OUTPUT in ''|*[!0-9]*) usage_error "option --max-output: invalid integer value: '$MAX_OUTPUT'" ;; esac
[ "$MAX_OUTPUT" -gt 0 ] 2>/dev/null || usage_error "--max-output must be a positive number of bytes"
case $JOBS in ''|*[!0-9]*) usage_error "option --jobs: invalid integer value: '$JOBS'" ;; esac
[ "$JOBS" -gt 0 ] || usage_error "--jobs must be a positive number"
TIMEOUT_G=$(awk -v t="$TIMEOUT" 'BEGIN { printf "%g", t }')
TIMEOUT_JSON=$(awk -v t="$TIMEOUT" 'BEGIN { if (t == int(t)) printf "%d.0", t; else printf "%.15g", t }')
TIMEOUT_CEIL=$(awk -v t="$TIMEOUT" 'BEGIN { printf "%d", (t == int(t)) ? t : int(t) + 1 }')
IDS=
row() { id_row "$@"; }
table
_unknown=
for _s in $SKIP; do case " $IDS " in *" $_s "*) ;; *) _unknown="$_unknown${_unknown:+, }$_s" ;; esac; done
[ -z "$_unknown" ] || usage_error "--skip: no such entry: $_unknown (see --list)"
SKIP_JSON=$(printf '%s\n' $SKIP | awk 'NF { printf "%s\"%s\"", (n++ ? ", " : ""), $0 }')

# The site key, as migsnap.py's read_key_file: its bytes without the whitespace around them.
if [ -n "$SIGN_KEY_FILE" ]; then
		if [ ! -r "$SIGN_KEY_FILE" ] || ! head -c 1 "$SIGN_KEY_FILE" >/dev/null 2>&1; then
		ERR=$(head -c 1 "$SIGN_KEY_FILE" 2>&1 >/dev/null); ERR=${ERR##*: }
		printf '%s: error: --sign-key-file %s: %s\n' "$PROG" "$SIGN_KEY_FILE" "${ERR:-cannot read it}" >&2; exit 2
	fi
	SIGN_HEX=$(od -An -v -tx1 "$SIGN_KEY_FILE" | awk '
		{ for (i = 1; i <= NF; i++) h[++n] = $i }
		END { s = 1; while (s <= n && h[s] ~ /^(20|09|0a|0d|0b|0c)$/) s++
			e = n; while (e >= s && h[e] ~ /^(20|09|0a|0d|0b|0c)$/) e--
			if (n > 65536) { print "over"; exit } for (i = s; i <= e; i++) printf "%s", h[i]; print "" }')
	case $SIGN_HEX in over) printf '%s: error: --sign-key-file %s: over 65536 bytes, not a key file\n' "$PROG" "$SIGN_KEY_FILE" >&2; exit 2 ;; esac
	if [ ${#SIGN_HEX} -lt 16 ]; then
		printf '%s: error: --sign-key-file %s: the key must be at least 8 bytes (it has %d)\n' "$PROG" "$SIGN_KEY_FILE" $((${#SIGN_HEX} / 2)) >&2; exit 2
	fi
fi

# ---------------------------------------------------------------------------------------------
# The environment every command runs in (migsnap.py's command_env)
# ---------------------------------------------------------------------------------------------
_p=
_IFS=$IFS IFS=:
for _d in $PATH; do [ -n "$_d" ] && _p="$_p${_p:+:}$_d"; done
for _d in $EXTRA_PATH; do case ":$_p:" in *":$_d:"*) ;; *) _p="$_p${_p:+:}$_d" ;; esac; done
IFS=$_IFS
PATH=$_p COLUMNS=512 TERM=dumb PAGER=cat SYSTEMD_PAGER= SYSTEMD_COLORS=0 SYSTEMD_LESS=
export PATH COLUMNS TERM PAGER SYSTEMD_PAGER SYSTEMD_COLORS SYSTEMD_LESS
SETSID=
command -v setsid >/dev/null 2>&1 && SETSID=setsid
READLINK=
command -v readlink >/dev/null 2>&1 && READLINK=readlink

# Hashes: sha256sum, openssl or busybox, checked on empty input; none: the manifest says so.
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
HASH_TOOL= HASH_CMD=
for _t in sha256sum openssl busybox; do
	command -v $_t >/dev/null 2>&1 || continue
	case $_t in
	sha256sum) _h=$(printf '' | sha256sum 2>/dev/null) ;;
	openssl) _h=$(printf '' | openssl dgst -sha256 -r 2>/dev/null) ;;
	busybox) _h=$(printf '' | busybox sha256sum 2>/dev/null) ;;
	esac
	case $_h in "$EMPTY_SHA"*) ;; *) continue ;; esac
	HASH_CMD=$_t HASH_TOOL=$_t
	case $_t in
	openssl) HASH_CMD="openssl dgst -sha256 -r" ;;
	busybox) HASH_CMD="busybox sha256sum" HASH_TOOL="busybox sha256sum" ;;
	sha256sum)  # busybox's applet under that name says so
		which_cmd sha256sum  # (busybox sh's command -v names its applets without a path)
		_r=$(readlink -f "$WHICH" 2>/dev/null)
		case ${_r##*/} in busybox|'') HASH_TOOL="busybox sha256sum" ;; esac ;;
	esac
	break
done
if [ -n "$SIGN_HEX" ] && [ -z "$HASH_CMD" ]; then
	printf '%s: error: --sign-key-file needs sha256sum, openssl or busybox, which this host lacks: sign with migdiff complete --sign-key-file\n' "$PROG" >&2
	exit 2
fi

# HMAC-SHA256 (RFC 2104) of stdin with the site key, in hex, from the host's sha256 tool: the key
# goes through here-documents and pipes only, never onto a command line that ps shows.
key_bytes() {  # BYTE: the key (hashed first when over 64 bytes) padded to 64 bytes, each xor BYTE
	awk -v x="$1" '
		function hv(c) { return index("0123456789abcdef", c) - 1 }
		function xr(a, b,   r, bit) {  # not xor: gawk and busybox awk have one built in
			r = 0
			for (bit = 1; bit < 256; bit *= 2) if ((int(a / bit) + int(b / bit)) % 2 == 1) r += bit
			return r }
		{ k = k $0 }
		END { n = length(k) / 2
			for (i = 1; i <= 64; i++) {
				v = i <= n ? hv(substr(k, 2 * i - 1, 1)) * 16 + hv(substr(k, 2 * i, 1)) : 0
				printf "%c", xr(v, x) } }' <<EOF
$SIGN_KEY
EOF
}
hex_bytes() {  # the bytes of the hex digits on stdin
	awk 'function hv(c) { return index("0123456789abcdef", c) - 1 }
		{ for (i = 1; i < length($1); i += 2) printf "%c", hv(substr($1, i, 1)) * 16 + hv(substr($1, i + 1, 1)) }'
}
digest() { $HASH_CMD | awk '{ print $1 }'; }
hmac() {
	if [ -z "${SIGN_KEY:-}" ]; then
		if [ ${#SIGN_HEX} -gt 128 ]; then
			SIGN_KEY=$(hex_bytes <<EOF | digest
$SIGN_HEX
EOF
)
		else SIGN_KEY=$SIGN_HEX; fi
	fi
	_inner=$({ key_bytes 54; cat; } | digest)
	{ key_bytes 92; printf '%s\n' "$_inner" | hex_bytes; } | digest
}

# ---------------------------------------------------------------------------------------------
# Where the bundle goes
# ---------------------------------------------------------------------------------------------
now; T0=$NOW
set -- $(date -u '+%s %Y%m%dT%H%M%SZ %Y-%m-%dT%H:%M:%SZ')
STAMP=$2 STARTED_AT=$3
# the kernel's name of the host (socket.gethostname's), read without starting a command
HOST=
{ IFS= read -r HOST </proc/sys/kernel/hostname; } 2>/dev/null || HOST=$(uname -n 2>/dev/null)
# migsnap-<host>-<stamp>: letters, digits, '.', '_' and '-' only; a character that is no ASCII
# letter (a UTF-8 sequence, or a byte that is not UTF-8) becomes one '_'
SAFE_HOST=$(V=$HOST awk "$AWK_JSON"' BEGIN { s = jstr(ENVIRON["V"]); s = substr(s, 2, length(s) - 2)
	gsub(/\\u[0-9a-f][0-9a-f][0-9a-f][0-9a-f]|\\./, "_", s); gsub(/[^A-Za-z0-9._-]/, "_", s); print s }')
TOP=migsnap-${SAFE_HOST:-host}-$STAMP
NAME=$TOP.tgz
if [ -z "$OUTPUT" ]; then
	OUTDIR=$PWD
elif [ -d "$OUTPUT" ] || case $OUTPUT in */) true ;; *) false ;; esac; then
	OUTDIR=${OUTPUT%/}; OUTDIR=${OUTDIR:-/}
else
	case $OUTPUT in */*) OUTDIR=${OUTPUT%/*}; OUTDIR=${OUTDIR:-/}; NAME=${OUTPUT##*/} ;; *) OUTDIR=.; NAME=$OUTPUT ;; esac
	case $NAME in *.tgz) TOP=${NAME%.tgz} ;; *) TOP=$NAME ;; esac
fi
case $OUTDIR in /*) ;; .) OUTDIR=$PWD ;; *) OUTDIR=$PWD/$OUTDIR ;; esac
FINAL=${OUTDIR%/}/$NAME
if [ -e "$FINAL" ] || [ -L "$FINAL" ]; then
	printf '%s: error: %s already exists; not overwriting it\n' "$PROG" "$FINAL" >&2; exit 2
fi
# the work folder, in the output folder: proves it writable before any time is spent
_n=0
while :; do
	_w=${OUTDIR%/}/.migsnap-$$-$_n.d
	if _e=$(mkdir "$_w" 2>&1); then W=$_w; break; fi
	if [ -e "$_w" ] && [ $_n -lt 50 ]; then _n=$((_n + 1)); continue; fi
	printf '%s: error: cannot write in %s: %s\n' "$PROG" "$OUTDIR" "${_e##*: }" >&2; exit 2
done
TMPF=$W.tgz.part
mkdir "$W/$TOP" "$W/$TOP/raw" "$W/rec" "$W/st" || trouble "cannot write in $OUTDIR"
: >"$W/members"
printf 'ok\n' >"$W/writes-ok"  # removed by any write that fails (a full disk)

# ---------------------------------------------------------------------------------------------
# Run the table: plain entries (those that take long first), then the procs entry on PIDS,
# then the package queries on EXES and FILES.
# ---------------------------------------------------------------------------------------------
MY_EUID=$(id -u) RUID=$(id -ru 2>/dev/null || id -u)
TODO=0
row() { count_row "$@"; }
table
COUNT=0 DONE= NFILES=0
row() { run_row "$@"; }
STAGE=first; table
STAGE=plain; table
derive_pids
derive_files
STAGE=pids; table
derive_exes
STAGE=last; table
row() { skip_row "$@"; }
table

# ---------------------------------------------------------------------------------------------
# The manifest: sizes and sha256 of the raw files filled in, then the tarball.
# ---------------------------------------------------------------------------------------------
SELF_SHA=null
set --
while IFS= read -r _m; do set -- "$@" "$_m"; done <"$W/members"
cd "$W/$TOP" || trouble "cannot enter $W"
: >"$W/sizes"; : >"$W/hashes"
if [ $# -gt 0 ]; then
	wc -c "$@" | awk '{ print $1 }' | head -n $# >"$W/sizes" || rm -f "$W/writes-ok"
	if [ -n "$HASH_CMD" ]; then
		$HASH_CMD "$@" | sed 's/^\\//' | awk '{ print $1 }' >"$W/hashes" || rm -f "$W/writes-ok"
	fi
fi
cd / || :
if [ -n "$HASH_CMD" ] && [ -f "$ARGV0" ]; then
	_h=$($HASH_CMD "$ARGV0" 2>/dev/null | sed 's/^\\//' | awk '{ print $1 }')
	[ -n "$_h" ] && SELF_SHA="\"$_h\""
fi
SHELL_EXE=$(readlink /proc/$$/exe 2>/dev/null)
case ${SHELL_EXE##*/} in
dash|bash|busybox|mksh) SHELL_NAME=${SHELL_EXE##*/} ;;
ksh*|lksh) SHELL_NAME=ksh ;;
*) SHELL_NAME=sh ;;
esac
if [ -n "$SHELL_EXE" ]; then js "$SHELL_EXE"; SHELL_EXE=$JS; else SHELL_EXE=null; fi
if [ -n "$HASH_TOOL" ]; then HASH_JSON="\"$HASH_TOOL\""; else HASH_JSON=null; fi
if [ "$MY_EUID" = 0 ]; then LOST='[]'; else LOST=$(printf '%s' "$LOST_JSON" | sed "s/@EUID@/$MY_EUID/"); fi
js "$HOST"; HOST_JSON=$JS
js "$PATH"; PATH_JSON=$JS
now
seconds $((NOW - T0)); DURATION=$SECS
FINISHED_AT=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
{
	printf '{\n "argv": %s,\n "collector": {\n  "name": "migsnap.sh",\n  "sha256": %s,\n  "version": "%s"\n },\n' \
		"$ARGV_ALL" "$SELF_SHA" "$VERSION"
	printf ' "duration": %s,\n "entries": [\n' "$DURATION"
	_sep=
	for _r in "$W"/rec/*; do printf '%s' "$_sep"; cat "$_r"; _sep=',
'; done
	printf '\n ],\n "euid": %s,\n "files": [],\n "finished_at": "%s",\n "format": "migsnap-bundle",\n' "$MY_EUID" "$FINISHED_AT"
	printf ' "format_version": %s,\n "hashes": {\n  "tool": %s\n },\n "hostname": %s,\n "lost": %s,\n' \
		"$FORMAT_VERSION" "$HASH_JSON" "$HOST_JSON" "$LOST"
	printf ' "notes": %s,\n "parsing": {\n  "where": "none"\n },\n "python": null,\n' "$NOTES_JSON"
	printf ' "settings": {\n  "jobs": %s,\n  "locale": "C",\n  "max_output": %s,\n  "path": %s,\n  "skip": [%s],\n  "timeout": %s\n },\n' \
		"$JOBS" "$MAX_OUTPUT" "$PATH_JSON" "$SKIP_JSON" "$TIMEOUT_JSON"
	printf ' "shell": {\n  "executable": %s,\n  "name": "%s"\n },\n "started_at": "%s",\n "uid": %s\n}\n' \
		"$SHELL_EXE" "$SHELL_NAME" "$STARTED_AT" "$RUID"
} | awk -v sizes="$W/sizes" -v hashes="$W/hashes" '
	BEGIN { while ((getline s < sizes) > 0) size[++n] = s; n = 0; while ((getline h < hashes) > 0) sha[++n] = h }
	/@F[0-9]+@/ { match($0, /@F[0-9]+@/); i = substr($0, RSTART + 2, RLENGTH - 3)
		$0 = substr($0, 1, RSTART - 1) "\"sha256\": " (i in sha ? "\"" sha[i] "\"" : "null") ", \"size\": " size[i] substr($0, RSTART + RLENGTH) }
	{ print }
' >"$W/$TOP/manifest.json.body" || rm -f "$W/writes-ok"
# the summary, counted from the records
awk '
	/^   "status": / { s = $2; gsub(/[",]/, "", s); st[s]++; n++ }
	/^   "kind": "cmd"/ { c++ }
	END { printf " \"summary\": {\n  \"commands\": %d,\n  \"entries\": %d,\n  \"parse_errors\": null,\n  \"parse_warnings\": null,\n  \"statuses\": {", c, n
		k = 0; for (s in st) names[++k] = s
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (names[j] < names[i]) { t = names[i]; names[i] = names[j]; names[j] = t }
		for (i = 1; i <= k; i++) printf "%s\n   \"%s\": %d", (i > 1 ? "," : ""), names[i], st[names[i]]
		printf "\n  }\n },\n"
		printf "%d commands, %d missing, %d failed, %d timed out\n", c, st["missing"], st["failed"], st["timeout"] > wrote }' \
	wrote="$W/wrote" "$W/$TOP/manifest.json.body" >"$W/summary" || rm -f "$W/writes-ok"
SUMMARY_LINE=$(cat "$W/wrote")
# the summary goes between "started_at" and "uid" (keys in order, as migsnap.py's json)
awk -v summary="$W/summary" '/^ "uid": / { while ((getline l < summary) > 0) print l } { print }' \
	"$W/$TOP/manifest.json.body" >"$W/$TOP/manifest.json" || rm -f "$W/writes-ok"
rm -f "$W/$TOP/manifest.json.body"
set -- "$@" manifest.json
if [ -n "$SIGN_HEX" ]; then
	_mac=$(hmac <"$W/$TOP/manifest.json")
	_kid=$(printf 'migsnap signing key id' | hmac | cut -c1-16)
	[ ${#_mac} = 64 ] && [ ${#_kid} = 16 ] || trouble "signing failed: $HASH_TOOL gave no digest"
	printf '{\n "algorithm": "HMAC-SHA256",\n "format": "migsnap-signature",\n "format_version": 1,\n "key_id": "%s",\n "mac": "%s"\n}\n' \
		"$_kid" "$_mac" >"$W/$TOP/signature.json" || rm -f "$W/writes-ok"
	set -- "$@" signature.json
fi
disk_ok
# tar members in order (raw files, manifest last), each named under the top folder
_n=$#
for _m in "$@"; do set -- "$@" "$TOP/$_m"; done
shift $_n
if ! _e=$(tar -czf "$TMPF" -C "$W" "$@" 2>&1); then
	_e=$(printf '%s' "$_e" | sed -n '1p'); trouble "writing $FINAL: ${_e##*: }"
fi
# Publish: a hard link, which never replaces a file that appeared at the name meanwhile; where
# the folder holds no links, a copy into a file made with noclobber (O_EXCL).
PHASE=publishing
if ! ln "$TMPF" "$FINAL" 2>/dev/null; then
	if [ -e "$FINAL" ] || [ -L "$FINAL" ]; then
		trouble "$FINAL appeared while this run was working; not replacing it (nothing written)"
	fi
	if ! (set -C; cat "$TMPF" >"$FINAL") 2>/dev/null; then
		if [ -e "$FINAL" ] && ! [ -s "$FINAL" ]; then rm -f "$FINAL"; fi
		trouble "writing $FINAL: cannot create it"
	fi
fi
PHASE=published
rm -f "$TMPF"; TMPF=
rm -rf "$W"; W=
now
seconds $((NOW - T0))
say "wrote $FINAL ($SUMMARY_LINE, $SECS s)"
[ -n "$QUIET" ] && printf '%s\n' "$FINAL"
exit 0

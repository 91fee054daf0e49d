#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""migsnap: a read-only snapshot of a Linux host, for planning a migration.

Copy this one file to the server and run it with whatever Python is there
(CPython 2.6 to 3.14, standard library only):

    python migsnap.py            # writes ./migsnap-<host>-<UTC stamp>.tgz
    python migsnap.py --list     # prints what it would capture, runs nothing

The bundle holds the raw output of every command and copies of every file read
(byte for byte), the parsed JSON of each entry (parsed.json), one normalized
snapshot.json (system, init, services, ports, packages) and manifest.json.

It only reads: it never installs, starts, stops, enables or reloads anything,
and it writes nothing but the bundle (a temporary file in the output
directory, linked into place at the very end; a file already at that name,
or one that appeared there during the run, is never replaced).

Layout of this file: capture table, runner, parsers, normalizer, bundle
writer, command line.  The parsers are pure functions (text in, data and
warnings out); the analyst tool `migdiff` imports them from this file.
"""
from __future__ import print_function

import signal
import sys


def _early_signal(signum, frame):
    """A signal while the collector starts (imports, options) ends it at once: nothing is written
    yet, so one line and 128 + the signal's number; main() takes over from here."""
    try:
        sys.stderr.write("migsnap: interrupted; no bundle written\n" if signum == signal.SIGINT
                         else "migsnap: terminated by signal %d; no bundle written\n" % signum)
    except Exception:  # no stderr to say it on
        pass
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    for _signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(_signum, _early_signal)

# the handlers above come first: importing is most of the start
import errno
import fcntl
import glob
import hashlib
import hmac
import io
import json
import os
import re
import socket
import stat
import subprocess
import tarfile
import threading
import time
from optparse import OptionParser

__version__ = "0.4.0"
BUNDLE_FORMAT = "migsnap-bundle"
SNAPSHOT_FORMAT = "migsnap-snapshot"
FORMAT_VERSION = 1

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
DEFAULT_JOBS = 4
MAX_WARNINGS = 50

EXIT_OK = 0
EXIT_TROUBLE = 2
EXIT_INTERRUPTED = 130

PY2 = sys.version_info[0] == 2
if PY2:  # pragma: no cover - exercised by the python2.7 runs
    text_type = unicode  # noqa: F821  (Python 2 only)
else:
    text_type = str

_clock = getattr(time, "monotonic", time.time)
_uchr = unichr if PY2 else chr  # noqa: F821

# Glyphs systemctl draws: status bullets (filled, hollow, cross) and the tree of list-dependencies.
_BULLETS = "".join(_uchr(c) for c in (0x25cf, 0x25cb, 0x00d7))
_TREE = "".join(_uchr(c) for c in (0x2502, 0x251c, 0x2514, 0x2500))


# ---------------------------------------------------------------------------
# Capture table
# ---------------------------------------------------------------------------
# One entry a line: id (names the raw file, the key in parsed.json and the
# property of the parsed schema), section it feeds, kind, source, parser.
# Kinds: cmd   argv; an argument with * or [ is expanded like a shell glob
#        file  one file copied byte for byte
#        glob  every regular file matching the patterns, copied byte for byte (raw/<id>/<path>;
#              a file reached twice through a linked directory, /var/run and /run, once)
#        links the entries matching the patterns, as "path<TAB>type<TAB>target"
#              lines (os.readlink, not a command)
#        procs facts of each process that listens on a socket and of its parents up to PID 1,
#              as "pid<TAB>field<TAB>value" lines read from /proc/<pid> (exe link, comm,
#              ppid, cgroup, one line per argument of cmdline)
# Placeholders make later entries depend on earlier ones: PIDS are the processes the socket
# listings name as listening, EXES their executables (read by the procs entry) with their
# /usr-merged aliases, FILES the unit files, init scripts, Upstart jobs and cron files found (to
# ask the package database, in one process, which of them a package owns, and ls their owner and
# mode, which `migdiff plan` gives them again on the target).  Entries run in three stages: plain,
# then PIDS, then EXES and FILES.
CMD, FILE, GLOB, LINKS, PROCS = "cmd", "file", "glob", "links", "procs"
PIDS = "<each listening pid, and its parents>"
EXES = "<exe of each listening pid>"
FILES = "<each unit, init script, job and cron file>"

CAPTURES = (
    # id                           section     kind   source                                                                  parser
    ("uname-r",                    "system",   CMD,   ["uname", "-r"],                                                        "parse_value"),
    ("uname-m",                    "system",   CMD,   ["uname", "-m"],                                                        "parse_value"),
    ("uname-a",                    "system",   CMD,   ["uname", "-a"],                                                        "parse_uname_a"),
    ("hostname",                   "system",   CMD,   ["hostname"],                                                           "parse_value"),
    ("etc-issue",                  "system",   FILE,  "/etc/issue",                                                           "parse_issue"),
    ("os-release",                 "system",   FILE,  "/etc/os-release",                                                      "parse_os_release"),
    ("usr-lib-os-release",         "system",   FILE,  "/usr/lib/os-release",                                                  "parse_os_release"),
    ("lsb-release",                "system",   FILE,  "/etc/lsb-release",                                                     "parse_os_release"),
    ("redhat-release",             "system",   FILE,  "/etc/redhat-release",                                                  "parse_release_file"),
    ("system-release",             "system",   FILE,  "/etc/system-release",                                                  "parse_release_file"),
    ("suse-release",               "system",   FILE,  "/etc/SuSE-release",                                                    "parse_release_file"),
    ("debian-version",             "system",   FILE,  "/etc/debian_version",                                                  "parse_value"),
    ("machine-id",                 "system",   FILE,  "/etc/machine-id",                                                      "parse_value"),
    ("etc-passwd",                 "system",   FILE,  "/etc/passwd",                                                          "parse_passwd"),
    ("pid1-comm",                  "init",     FILE,  "/proc/1/comm",                                                         "parse_value"),
    ("runlevel",                   "init",     CMD,   ["runlevel"],                                                           "parse_runlevel"),
    ("who-r",                      "init",     CMD,   ["who", "-r"],                                                          "parse_who_r"),
    ("inittab",                    "init",     FILE,  "/etc/inittab",                                                         "parse_inittab"),
    ("openrc-softlevel",           "init",     FILE,  "/run/openrc/softlevel",                                                "parse_value"),
    ("service-status-all",         "services", CMD,   ["service", "--status-all"],                                            "parse_service_status_all"),
    ("chkconfig-list",             "services", CMD,   ["chkconfig", "--list"],                                                "parse_chkconfig"),
    ("sysv-rc-conf-list",          "services", CMD,   ["sysv-rc-conf", "--list"],                                             "parse_chkconfig"),
    ("init-d",                     "services", LINKS, ["/etc/init.d/*"],                                                      "parse_init_d"),
    ("rc-links",                   "services", LINKS, ["/etc/rc[0-6S].d/*"],                                                  "parse_rc_links"),
    ("ls-rc-d",                    "services", CMD,   ["ls", "-l", "/etc/rc*.d"],                                             "parse_ls_l"),
    ("init-scripts",               "services", GLOB,  ["/etc/init.d/*"],                                                      "parse_init_scripts"),
    ("etc-default",                "services", GLOB,  ["/etc/default/*"],                                                     "parse_etc_default"),
    ("pid-files",                  "services", GLOB,  ["/run/*.pid", "/run/*/*.pid", "/var/run/*.pid", "/var/run/*/*.pid"],   "parse_pid_files"),
    ("systemd-local",              "services", GLOB,  ["/etc/systemd/system/*.service", "/etc/systemd/system/*.timer", "/etc/systemd/system/*.socket", "/etc/systemd/system/*.path", "/etc/systemd/system/*.d/*.conf", "/run/systemd/system/*.service", "/run/systemd/system/*.timer", "/run/systemd/system/*.d/*.conf"], "parse_unit_files"),
    ("initctl-list",               "services", CMD,   ["initctl", "list"],                                                    "parse_initctl_list"),
    ("initctl-show-config",        "services", CMD,   ["initctl", "show-config"],                                             "parse_initctl_show_config"),
    ("upstart-jobs",               "services", GLOB,  ["/etc/init/*.conf", "/etc/init/*.override"],                           "parse_upstart_jobs"),
    ("rc-status-a",                "services", CMD,   ["rc-status", "-a"],                                                    "parse_rc_status"),
    ("rc-update-show-v",           "services", CMD,   ["rc-update", "show", "-v"],                                            "parse_rc_update_show"),
    ("openrc-runlevels",           "services", LINKS, ["/etc/runlevels/*/*"],                                                 "parse_openrc_runlevels"),
    ("systemctl-get-default",      "init",     CMD,   ["systemctl", "get-default"],                                           "parse_value"),
    ("systemctl-units-service",    "services", CMD,   ["systemctl", "list-units", "-t", "service", "--all", "--no-pager"],    "parse_systemctl_units"),
    ("systemctl-unit-files-service", "services", CMD, ["systemctl", "list-unit-files", "-t", "service", "--no-pager"],         "parse_systemctl_unit_files"),
    ("systemctl-units-target",     "init",     CMD,   ["systemctl", "list-units", "-t", "target", "--all", "--no-pager"],     "parse_systemctl_units"),
    ("systemctl-unit-files-target", "init",    CMD,   ["systemctl", "list-unit-files", "-t", "target", "--no-pager"],         "parse_systemctl_unit_files"),
    ("systemctl-deps-default",     "services", CMD,   ["systemctl", "list-dependencies", "--no-pager", "default.target"],     "parse_systemctl_dependencies"),
    ("systemctl-deps-multi-user",  "services", CMD,   ["systemctl", "list-dependencies", "--no-pager", "multi-user.target"],  "parse_systemctl_dependencies"),
    ("cron-files",                 "jobs",     GLOB,  ["/etc/crontab", "/etc/cron.d/*", "/etc/anacrontab"],                   "parse_cron_files"),
    ("cron-scripts",               "jobs",     LINKS, ["/etc/cron.hourly/*", "/etc/cron.daily/*", "/etc/cron.weekly/*", "/etc/cron.monthly/*"], "parse_cron_scripts"),
    ("user-crontabs",              "jobs",     GLOB,  ["/var/spool/cron/crontabs/*", "/var/spool/cron/*"],                    "parse_user_crontabs"),
    ("systemctl-timers",           "jobs",     CMD,   ["systemctl", "list-timers", "--all", "--no-pager"],                    "parse_systemctl_timers"),
    ("atq",                        "jobs",     CMD,   ["atq"],                                                                "parse_atq"),
    ("netstat-nlp",                "ports",    CMD,   ["netstat", "-nlp"],                                                    "parse_netstat"),
    ("lsof-nPi",                   "ports",    CMD,   ["lsof", "-nPi"],                                                       "parse_lsof"),
    ("ss-nlpaxtudw",               "ports",    CMD,   ["ss", "-nlpaxtudw"],                                                   "parse_ss"),
    ("proc-net-tcp",               "ports",    FILE,  "/proc/net/tcp",                                                        "parse_proc_net_inet"),
    ("proc-net-tcp6",              "ports",    FILE,  "/proc/net/tcp6",                                                       "parse_proc_net_inet"),
    ("proc-net-udp",               "ports",    FILE,  "/proc/net/udp",                                                        "parse_proc_net_inet"),
    ("proc-net-udp6",              "ports",    FILE,  "/proc/net/udp6",                                                       "parse_proc_net_inet"),
    ("proc-net-unix",              "ports",    FILE,  "/proc/net/unix",                                                       "parse_proc_net_unix"),
    ("ss-ntup",                    "connections", CMD, ["ss", "-ntup"],                                                       "parse_ss"),
    ("netstat-ntp",                "connections", CMD, ["netstat", "-ntp"],                                                   "parse_netstat"),
    ("ssh-keys",                   "ssh",      GLOB,  ["/root/.ssh/id_*.pub", "/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2", "/home/*/.ssh/id_*.pub", "/home/*/.ssh/authorized_keys", "/home/*/.ssh/authorized_keys2"], "parse_ssh_keys"),
    ("ssh-dirs",                   "ssh",      LINKS, ["/root/.ssh/*", "/home/*/.ssh/*"],                                     "parse_ssh_dirs"),
    ("sshd-T",                     "ssh",      CMD,   ["sshd", "-T"],                                                         "parse_sshd_config"),
    ("sshd-config",                "ssh",      FILE,  "/etc/ssh/sshd_config",                                                 "parse_sshd_config"),
    ("dpkg-l",                     "packages", CMD,   ["dpkg", "-l"],                                                         "parse_dpkg_l"),
    ("dpkg-query",                 "packages", CMD,   ["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\t${Architecture}\\t${Status}\\t${Priority}\\t${Essential}\\t${Section}\\t${Source}\\t${Pre-Depends}\\t${Depends}\\t${Provides}\\n"], "parse_dpkg_query"),
    ("rpm-qa",                     "packages", CMD,   ["rpm", "-qa"],                                                         "parse_rpm_qa"),
    ("rpm-qa-qf",                  "packages", CMD,   ["rpm", "-qa", "--qf", "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{INSTALLTID}\\n"], "parse_rpm_qf"),
    ("apk-info",                   "packages", CMD,   ["apk", "info", "-v"],                                                  "parse_apk_info"),
    ("apk-world",                  "packages", FILE,  "/etc/apk/world",                                                       "parse_apk_world"),
    ("apt-extended-states",        "packages", FILE,  "/var/lib/apt/extended_states",                                         "parse_apt_extended_states"),
    ("listen-procs",               "ports",    PROCS, "/proc/" + PIDS + "/{exe,comm,stat,cgroup,cmdline}",                    "parse_listen_procs"),
    ("listen-dpkg-S",              "ports",    CMD,   ["dpkg", "-S", EXES],                                                   "parse_dpkg_search"),
    ("listen-rpm-qf",              "ports",    CMD,   ["rpm", "-qf", "--qf", "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t[%{FILENAMES}\\t]\\n", EXES], "parse_rpm_owners"),
    ("files-dpkg-S",               "services", CMD,   ["dpkg", "-S", FILES],                                                  "parse_dpkg_search"),
    ("files-rpm-qf",               "services", CMD,   ["rpm", "-qf", "--qf", "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t[%{FILENAMES}\\t]\\n", FILES], "parse_rpm_owners"),
    ("files-ls-l",                 "services", CMD,   ["ls", "-l", FILES],                                                    "parse_ls_l"),
)

# Entries that can take seconds (a status script per service; every process's open files; the
# package database; systemctl asking PID 1): they start first, so that the run is not as long
# as the last of them to start.  Only the order of starting changes; the bundle is the same.
STARTS_FIRST = ("service-status-all", "lsof-nPi", "rpm-qa", "rpm-qa-qf", "systemctl-unit-files-service",
                "systemctl-unit-files-target", "netstat-nlp", "dpkg-l", "dpkg-query")

# Commands whose non-zero exit means "found nothing" (dpkg -S: some path belongs to no package;
# lsof: no socket; rpm -qf: as many paths unowned as its exit code says): their status stays ok.
FOUND_NOTHING = {"listen-dpkg-S": (1,), "files-dpkg-S": (1,), "lsof-nPi": (1,), "listen-rpm-qf": tuple(range(1, 256)),
                 "files-rpm-qf": tuple(range(1, 256)), "atq": (1,)}

# Globs whose symbolic links are not read: in /etc/systemd/system a link is an alias, an enabled
# unit's wants or a masked unit (to /dev/null), never a unit an admin wrote.
GLOB_SKIPS_LINKS = ("systemd-local",)

# Commands that write part of their answer to stderr: their parser reads stdout, then stderr
# (Debian's `service --status-all` prints the "[ ? ]" lines of scripts without a status there).
BOTH_STREAMS = ("service-status-all",)

# Facts recorded in every manifest so a reader knows what a run may have touched.
NOTES = (
    "read-only: commands only list state; nothing is installed, started, stopped, enabled or reloaded",
    "ss may make the kernel autoload *_diag modules (sock_diag); /proc/net/{tcp,tcp6,udp,udp6,unix} are read "
    "directly as a module-free source and skip it with --skip ss-nlpaxtudw",
    "lsof and netstat -p read /proc/<pid>/fd of every process",
)


class Capture(object):
    """One row of CAPTURES, with the fields named."""

    __slots__ = ("id", "section", "kind", "source", "parser")

    def __init__(self, row):
        self.id, self.section, self.kind, self.source, self.parser = row

    @property
    def needs(self):
        """Which earlier findings this entry works on: None, PIDS or EXES."""
        if self.kind == PROCS:
            return PIDS
        if self.kind == CMD and (EXES in self.source or FILES in self.source):
            return EXES  # the last stage: both are found by the plain entries and the procs one
        return None

    @property
    def consumes(self):
        """The placeholder whose findings this entry works on: PIDS, EXES, FILES or None."""
        if self.kind == PROCS:
            return PIDS
        for placeholder in (EXES, FILES):
            if self.kind == CMD and placeholder in self.source:
                return placeholder
        return None

    def describe(self):
        if self.kind == CMD:
            return " ".join(_shell_quote(a) for a in self.source)
        if self.kind in (FILE, PROCS):  # one path (a pattern for PROCS), not a list of them
            return self.source
        return " ".join(self.source)


def captures():
    return [Capture(row) for row in CAPTURES]


def capture_by_id(capture_id):
    for c in captures():
        if c.id == capture_id:
            return c
    raise KeyError(capture_id)


def _shell_quote(arg):
    if re.match(r"^[A-Za-z0-9_@%+=:,./*\[\]-]+$", arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------
EXTRA_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def command_env(base):
    """The environment every command runs in: C locale, wide, no pager, no color."""
    env = dict(base)
    for key in list(env):
        if key.startswith("LC_") or key in ("LANG", "LANGUAGE"):
            del env[key]
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    for p in EXTRA_PATH:
        if p not in path:
            path.append(p)
    env.update({
        "PATH": os.pathsep.join(path),
        "LC_ALL": "C",
        "LANG": "C",
        "COLUMNS": "512",   # dpkg -l truncates names and versions to the terminal width
        "TERM": "dumb",
        "PAGER": "cat",
        "SYSTEMD_PAGER": "",
        "SYSTEMD_COLORS": "0",
        "SYSTEMD_LESS": "",
    })
    return env


def which(name, path):
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    for d in path.split(os.pathsep):
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def expand_argv(argv, inputs=None):
    """Expand glob characters in arguments the way a shell would (sorted; kept literal if nothing
    matches), and the EXES and FILES placeholders into what earlier entries found."""
    out = []
    for arg in argv:
        if arg in (EXES, FILES):
            out.extend((inputs or {}).get(arg) or [])
        elif arg != argv[0] and ("*" in arg or "[" in arg) and arg.startswith("/"):
            matches = sorted(glob.glob(arg))
            out.extend(matches or [arg])
        else:
            out.append(arg)
    return out


class Result(object):
    """What happened when one capture ran; raw holds (name, role, path, bytes)."""

    def __init__(self, capture):
        self.capture = capture
        self.status = "ok"
        self.exit_code = None
        self.error = None
        self.duration = 0.0
        self.truncated = False
        self.argv = None
        self.executable = None
        self.raw = []
        self.warnings = 0
        self.parse_error = None
        self.parsed = None  # (data, warnings) once parsed

    def parser_input(self):
        """What the parser reads: the stdout or file text (then stderr, for BOTH_STREAMS); for a
        glob, [(path, text)]."""
        if self.capture.kind == GLOB:
            return [(path, to_text(data)) for name, role, path, data in self.raw]
        if self.capture.id not in BOTH_STREAMS:
            for name, role, path, data in self.raw:
                if role in ("stdout", "file"):
                    return to_text(data)
            return to_text(b"")
        texts = [to_text(data) for role_wanted in ("stdout", "stderr")
                 for name, role, path, data in self.raw if role == role_wanted and data]
        return "".join(t if t.endswith("\n") else t + "\n" for t in texts)

    def has_output(self):
        return any(data for name, role, path, data in self.raw
                   if role != "stderr" or self.capture.id in BOTH_STREAMS)


def to_text(data):
    return data.decode("utf-8", "replace")


def _fs_bytes(s):
    """A file-system string back to its bytes (Python 2 paths already are bytes)."""
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8", "strict" if PY2 else "surrogateescape")


def _fs_text(s):
    """A path from os.readlink as text on both Pythons."""
    return s.decode("utf-8", "replace") if isinstance(s, bytes) else s


def _os_error_status(exc):
    if exc.errno == errno.ENOENT:
        return "absent"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "denied"
    return "error"


def _read_capped(path, limit):
    """At most `limit` bytes of a file, and whether it holds more.  Read a piece at a time: a read
    of `limit` bytes at once would allocate that much, whatever the file holds (--max-output 1e12)."""
    f = open(path, "rb")
    try:
        chunks, size = [], 0
        while size <= limit:
            data = f.read(min(READ_PIECE, limit + 1 - size))
            if not data:
                break
            chunks.append(data)
            size += len(data)
    finally:
        f.close()
    data = b"".join(chunks)
    return data[:limit], size > limit


READ_PIECE = 1024 * 1024


# Why a dependent entry did not run: what it works on was not found.
NOTHING_TO_LOOK_AT = {PIDS: "nothing to look at: no listening process found",
                      EXES: "nothing to look at: no executable of a listening process could be read",
                      FILES: "nothing to look at: no unit, init script or cron file found"}


class Runner(object):
    """Runs captures: commands in their own process group with a timeout and an output cap."""

    def __init__(self, timeout, max_output, env):
        self.timeout = timeout
        self.max_output = max_output
        self.env = env
        self._lock = threading.Lock()
        self._running = set()
        self.aborted = False

    def run(self, capture, inputs=None):
        """Runs one capture; `inputs` maps PIDS / EXES to the values a dependent entry works on."""
        result = Result(capture)
        started = _clock()
        try:
            needed = capture.consumes
            if needed and not (inputs or {}).get(needed):
                result.status = "skipped"
                result.error = NOTHING_TO_LOOK_AT[needed]
            else:
                self._run(capture, result, inputs or {})
        except Exception as exc:  # a bug here must cost one entry, not the bundle: recorded in the manifest
            result.status = "error"
            result.error = "collector error: %s: %s" % (type(exc).__name__, exc)
        result.duration = round(_clock() - started, 3)
        return result

    def _run(self, capture, result, inputs):
        try:
            if capture.kind == CMD:
                self._run_command(capture, result, inputs)
            elif capture.kind == PROCS:
                self._read_procs(capture, result, inputs[PIDS])
            elif capture.kind == FILE:
                self._read_file(capture, result)
            elif capture.kind == GLOB:
                self._read_glob(capture, result)
            elif capture.kind == LINKS:
                self._read_links(capture, result)
            else:
                raise ValueError("unknown capture kind %r" % capture.kind)
        except (OSError, IOError) as exc:
            result.status = _os_error_status(exc) if capture.kind != CMD else "error"
            result.error = None if result.status == "absent" else (exc.strerror or str(exc))

    def _read_file(self, capture, result):
        data, truncated = _read_capped(capture.source, self.max_output)
        result.raw.append(("raw/%s.out" % capture.id, "file", capture.source, data))
        if truncated:  # cut like a command's output: flagged, and kept out of snapshot.json
            result.truncated = True
            result.status = "truncated"
            result.error = "file over %d bytes: cut" % self.max_output

    def _read_glob(self, capture, result):
        paths, seen = [], set()
        hidden = _unlistable(capture.source)
        for pattern in capture.source:
            for path in sorted(glob.glob(pattern)):
                # /var/run/x.pid and /run/x.pid are one file when /var/run links to /run; a
                # link in the last place (an init script named twice) keeps its own name
                where = (os.path.realpath(os.path.dirname(path)), os.path.basename(path))
                if capture.id in GLOB_SKIPS_LINKS and os.path.islink(path):
                    continue
                if where not in seen and os.path.isfile(path) and _member_safe(path):
                    seen.add(where)
                    paths.append(path)
        if hidden:  # not root: /var/spool/cron/crontabs, /root/.ssh cannot even be listed
            result.status = "denied"
            result.error = "cannot list %s: permission denied" % ", ".join(hidden)
        if not paths:
            result.status = "denied" if hidden else "absent"
            return
        budget = self.max_output
        for path in paths:
            try:
                data, truncated = _read_capped(path, budget)
            except (OSError, IOError) as exc:
                result.status = "partial"
                result.error = (result.error + "; " if result.error else "") + "%s: %s" % (path, exc.strerror)
                continue
            budget -= len(data)
            result.truncated = result.truncated or truncated
            result.raw.append(("raw/%s%s" % (capture.id, path), "file", path, data))
            if budget <= 0:
                result.truncated = result.truncated or path != paths[-1]
                break
        if result.truncated:
            cut = "files over %d bytes in all: cut" % self.max_output
            if result.status == "ok":
                result.status, result.error = "truncated", cut
            else:  # partial: some files unreadable, and the rest cut
                result.error += "; " + cut

    def _read_links(self, capture, result):
        lines = []
        for pattern in capture.source:
            for path in sorted(glob.glob(pattern)):
                try:
                    mode = os.lstat(path).st_mode
                    if stat.S_ISLNK(mode):
                        lines.append("%s\tlink\t%s" % (path, os.readlink(path)))
                    elif stat.S_ISDIR(mode):
                        lines.append("%s\tdir\t" % path)
                    else:
                        lines.append("%s\tfile\t" % path)
                except OSError as exc:  # vanished between glob and lstat
                    lines.append("%s\terror\t%s" % (path, exc.strerror))
        if not lines:
            result.status = "absent"
            return
        data = _fs_bytes("\n".join(lines) + "\n")
        result.raw.append(("raw/%s.out" % capture.id, "stdout", None, data))

    def _read_procs(self, capture, result, pids):
        lines = []
        todo, seen = list(pids), set()
        while todo:  # the listening processes, then the parents they were started by
            pid = todo.pop(0)
            if pid in seen or pid <= 1 or len(seen) >= 4096:
                continue
            seen.add(pid)
            base = "/proc/%d/" % pid
            try:
                lines.append("%d\texe\t%s" % (pid, _fs_text(os.readlink(base + "exe"))))
            except OSError as exc:  # not root: other users' processes hide their executable
                lines.append("%d\terror\texe: %s" % (pid, exc.strerror))
            for name in ("comm", "stat", "cgroup", "cmdline"):
                try:
                    data, _ = _read_capped(base + name, 65536)
                except (OSError, IOError) as exc:  # the process may have exited meanwhile
                    lines.append("%d\terror\t%s: %s" % (pid, name, exc.strerror))
                    continue
                text = to_text(data)
                if name == "stat":  # "pid (comm) state ppid ...": comm may hold spaces and parens
                    fields = text[text.rfind(")") + 1:].split()
                    lines.append("%d\tppid\t%s" % (pid, fields[1] if len(fields) > 1 else ""))
                    if len(fields) > 1 and fields[1].isdigit():
                        todo.append(int(fields[1]))
                elif name == "cmdline":  # NUL-separated arguments, each on a line of its own
                    args = text.split("\x00")
                    while args and not args[-1]:
                        args.pop()  # the terminating NUL; a process that rewrote its title pads with NULs
                    for arg in args[:64]:
                        lines.append("%d\targ\t%s" % (pid, _escape_arg(arg[:4096])))
                elif name == "comm":
                    lines.append("%d\tcomm\t%s" % (pid, text.strip()))
                else:
                    for line in text.splitlines():
                        lines.append("%d\tcgroup\t%s" % (pid, line))
        result.raw.append(("raw/%s.out" % capture.id, "stdout", None, _fs_bytes("\n".join(lines) + "\n")))

    def _run_command(self, capture, result, inputs):
        argv = expand_argv(capture.source, inputs)
        result.argv = argv
        exe = which(argv[0], self.env["PATH"])
        if exe is None:
            result.status = "missing"
            result.error = "%s: command not found" % argv[0]
            return
        result.executable = exe
        with self._lock:
            if self.aborted:
                result.status = "skipped"
                result.error = "interrupted"
                return
            devnull = open(os.devnull, "rb")
            try:
                # own process group (the timeout kills its children too); no descriptor of ours leaks
                if sys.version_info >= (3, 2):
                    kwargs = {"start_new_session": True, "close_fds": True}
                elif os.path.isdir("/proc/self/fd"):  # pragma: no cover
                    kwargs = {"preexec_fn": _py2_child_setup, "close_fds": False}
                else:  # pragma: no cover
                    kwargs = {"preexec_fn": os.setsid, "close_fds": True}
                proc = subprocess.Popen([exe] + argv[1:], stdin=devnull, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=self.env, **kwargs)
            finally:
                devnull.close()
            self._running.add(proc.pid)
        try:
            out, err, timed_out, truncated = self._collect(proc)
        finally:
            with self._lock:
                self._running.discard(proc.pid)
        result.truncated = truncated
        result.exit_code = proc.returncode
        if timed_out:
            result.status = "timeout"
            result.error = "killed after %gs" % self.timeout
        elif truncated:
            result.status = "truncated"
            result.error = "output over %d bytes: command killed, output cut" % self.max_output
        elif proc.returncode == 127 and not out:
            result.status = "missing"
        elif proc.returncode != 0 and proc.returncode not in FOUND_NOTHING.get(capture.id, ()):
            result.status = "failed"
        result.raw.append(("raw/%s.out" % capture.id, "stdout", None, out))
        result.raw.append(("raw/%s.err" % capture.id, "stderr", None, err))

    def _collect(self, proc):
        """Read both pipes until EOF, the deadline or the cap; kill the process group on either."""
        import select
        deadline = _clock() + self.timeout
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        chunks = {out_fd: [], err_fd: []}
        sizes = {out_fd: 0, err_fd: 0}
        open_fds = [out_fd, err_fd]
        timed_out = truncated = False
        while open_fds:
            left = deadline - _clock()
            if left <= 0 or self.aborted:
                timed_out = not self.aborted
                break
            try:
                ready = select.select(open_fds, [], [], min(left, 0.5))[0]
            except select.error as exc:  # EINTR from a signal on old Pythons
                if exc.args[0] == errno.EINTR:
                    continue
                raise
            for fd in ready:
                data = os.read(fd, 65536)
                if not data:
                    open_fds.remove(fd)
                    continue
                room = self.max_output - sizes[fd]
                if len(data) > room:
                    data = data[:room]
                    truncated = True
                chunks[fd].append(data)
                sizes[fd] += len(data)
            if truncated:
                break
        if not open_fds and not self._reap(proc, deadline):
            # both pipes closed but the command runs on (a helper that closed them and hangs):
            # the deadline holds all the same
            timed_out = not self.aborted
        if proc.returncode is None:  # stopped early: the whole group goes, children included
            _kill_group(proc.pid)
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
        return b"".join(chunks[out_fd]), b"".join(chunks[err_fd]), timed_out, truncated

    def _reap(self, proc, deadline):
        """Waits for the command to end until the deadline (or an abort); whether it ended.  Polls,
        briefly at first: a command that closed its pipes by exiting is gone within microseconds."""
        delay = 0.0005
        while proc.poll() is None:
            left = deadline - _clock()
            if left <= 0 or self.aborted:
                return False
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)
        return True

    def abort(self):
        """Stop everything still running (Ctrl-C or SIGTERM)."""
        with self._lock:
            self.aborted = True
            pids = list(self._running)
        for pid in pids:
            _kill_group(pid)


def _unlistable(patterns):
    """The folders of these patterns that exist but this user may not list: what a glob would
    silently find empty."""
    hidden = []
    for pattern in patterns:
        folder = os.path.dirname(pattern)
        static = folder
        while any(c in static for c in "*?["):  # the part of the path without wildcards
            static = os.path.dirname(static)
        while static not in ("", "/") and not os.path.lexists(static):
            static = os.path.dirname(static)  # /root/.ssh behind a /root we may not enter
        candidates = sorted(glob.glob(folder)) + [static]
        for found in candidates:
            if os.path.isdir(found) and not os.access(found, os.R_OK | os.X_OK) and found not in hidden:
                hidden.append(found)
    return hidden


def _escape_arg(arg):
    """One argument of a command line on one line: backslash, tab and newline escaped."""
    return arg.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _member_safe(path):
    """Whether a path can name a bundle member: text, no control character (the reader refuses
    those, and one odd file name must not cost the bundle)."""
    text = _fs_text(path)  # undecodable bytes show as U+FFFD (Python 2) or surrogates (Python 3)
    return not any(ord(c) < 32 or ord(c) == 127 or 0xd800 <= ord(c) <= 0xdfff or ord(c) == 0xfffd for c in text)


def _py2_child_setup():
    """In a command's child before exec, on Python 2: a new session, and our descriptors closed.

    Python 2's close_fds calls close() on every number up to the descriptor limit, in each
    child: 5 ms a command at a limit of 20,000, a quarter of a second at 1,048,576 (common on
    servers).  Python 3 does this in C, from /proc/self/fd; this does the same in Python.
    Descriptors marked close-on-exec are left to exec: subprocess reports a failed exec on one.
    """
    os.setsid()
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                if not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                    os.close(fd)
            except (OSError, IOError):  # the descriptor listdir itself used, closed since
                continue


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:  # already gone
        pass


# ---------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------
# Each parser is pure: text in (the raw output, already decoded), a pair
# (data, warnings) out.  No I/O, no clock, no locale.  Empty input gives an
# empty result; a line that cannot be understood becomes a warning.

class _Warnings(object):
    """Collects parser warnings, capped so a garbage input cannot flood the bundle."""

    def __init__(self):
        self.items = []
        self.dropped = 0

    def line(self, lineno, line, why="unrecognized line"):
        self.add("line %d: %s: %s" % (lineno, why, _quote(line)))

    def add(self, message):
        if len(self.items) < MAX_WARNINGS:
            self.items.append(message)
        else:
            self.dropped += 1

    def result(self):
        if self.dropped:
            return self.items + ["%d more warnings not shown" % self.dropped]
        return list(self.items)


def _quote(text, strip=True):
    """A clipped line in quotes, control characters escaped: the same text under Python 2 and 3
    (%r would add u'' on 2 and differ in escapes)."""
    out = []
    for ch in _clip(text, strip=strip):
        code = ord(ch)
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif 0x20 <= code < 0x7f or (code >= 0xa0 and not 0xd800 <= code < 0xe000):
            out.append(ch)
        elif code < 0x100:
            out.append("\\x%02x" % code)
        else:
            out.append("\\u%04x" % code)
    return "'" + "".join(out) + "'"


def _clip(text, width=100, strip=True):
    if strip:
        text = text.strip()
    if len(text) > width:
        return text[:width] + "..."
    return text


def _lines(text):
    """Numbered lines (1-based), without line ends; NULs become spaces."""
    return enumerate(text.replace("\x00", " ").splitlines(), 1)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_value(text):
    """A one-value output: `uname -r`, `uname -m`, `hostname`, /etc/debian_version, /proc/1/comm, ...

    Returns {"value": "5.10.0-28-amd64"}; {} when empty.
    """
    w = _Warnings()
    values = [(n, line.strip()) for n, line in _lines(text) if line.strip()]
    if not values:
        return {}, []
    for n, extra in values[1:]:
        w.line(n, extra, "more than one value")
    return {"value": values[0][1]}, w.result()


def parse_uname_a(text):
    """`uname -a`: "Linux web1 5.10.0-28-amd64 #1 SMP Debian 5.10.209-2 (2024-01-31) x86_64 GNU/Linux".

    Returns {"kernel_name", "node_name", "kernel_release", "kernel_version", "machine",
    "processor", "hardware_platform", "operating_system"}; the last three are "unknown"
    when uname leaves them out (Debian does).
    """
    w = _Warnings()
    lines = [(n, l) for n, l in _lines(text) if l.strip()]
    if not lines:
        return {}, []
    n, line = lines[0]
    for n2, extra in lines[1:]:
        w.line(n2, extra, "more than one line")
    tokens = line.split()
    if len(tokens) < 5:
        w.line(n, line, "too few fields for uname -a")
        return {}, w.result()
    data = {"kernel_name": tokens[0], "node_name": tokens[1], "kernel_release": tokens[2],
            "operating_system": "unknown", "machine": "unknown", "processor": "unknown",
            "hardware_platform": "unknown"}
    rest = tokens[3:]
    if rest and "/" in rest[-1] or rest[-1] in ("Linux", "GNU"):
        data["operating_system"] = rest.pop()
    # machine, processor and hardware platform close the line: lower-case words
    # like x86_64, i686 or unknown; the version before them ends in a date or ")".
    tail = []
    while rest and len(tail) < 3 and re.match(r"^(unknown|[a-z][a-z0-9_]*)$", rest[-1]):
        tail.insert(0, rest.pop())
    if not tail or not rest:
        w.line(n, line, "no machine field")
    for key, value in zip(("machine", "processor", "hardware_platform"), tail):
        data[key] = value
    data["kernel_version"] = " ".join(rest)
    return data, w.result()


_SHELL_VALUE = re.compile(r"""^([A-Za-z_][A-Za-z0-9_]*)=(.*)$""")


def _unquote_shell(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == '"':
            inner = re.sub(r'\\([\\$"`])', r"\1", inner)
        return inner
    return re.sub(r"\\(.)", r"\1", value)


def parse_os_release(text):
    """/etc/os-release, /usr/lib/os-release, /etc/lsb-release: shell-style KEY=value lines.

    Returns {"NAME": "Debian GNU/Linux", "VERSION_ID": "11", ...} with quotes removed.
    """
    w = _Warnings()
    data = {}
    for n, line in _lines(text):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = _SHELL_VALUE.match(s)
        if not m:
            w.line(n, line)
            continue
        data[m.group(1)] = _unquote_shell(m.group(2))
    return data, w.result()


_RELEASE_LINE = re.compile(
    r"^(?P<name>.*?)\s+(?:release\s+|version\s+)?(?P<version>\d[\w.]*?)(?:\s+[A-Za-z][\w ]*?)?"
    r"\s*(?:\((?P<codename>[^)]*)\))?\s*$")


def parse_release_file(text):
    """/etc/redhat-release, /etc/system-release, /etc/SuSE-release.

    "CentOS release 6.10 (Final)" -> {"line": ..., "name": "CentOS", "version": "6.10",
    "codename": "Final", "fields": {}}; also "release 6.10(Santiago)" and "release 8.5 Beta (Ootpa)"
    (a word after the version is not part of it); SuSE's "VERSION = 11" lines land in "fields".
    """
    w = _Warnings()
    data = {}
    fields = {}
    for n, line in _lines(text):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if "line" not in data:
            data["line"] = s
            m = _RELEASE_LINE.match(s)
            if m:
                data["name"] = m.group("name")
                data["version"] = m.group("version")
                data["codename"] = m.group("codename")
            else:
                w.line(n, line, "no version in release line")
            continue
        key, sep, value = s.partition("=")
        if sep and re.match(r"^[A-Za-z_][A-Za-z0-9_ ]*$", key):
            fields[key.strip()] = value.strip()
        else:
            w.line(n, line)
    if data:
        data["fields"] = fields
    return data, w.result()


def parse_issue(text):
    """/etc/issue: "Ubuntu 12.04.2 LTS \\n \\l" -> {"lines": ["Ubuntu 12.04.2 LTS"]}.

    getty escapes (\\n, \\l, \\r, \\m, \\s, ...) are dropped, as are blank lines.
    """
    lines = []
    for n, line in _lines(text):
        clean = re.sub(r"\\[a-zA-Z]({[^}]*})?", "", line)
        clean = re.sub(r"\s+", " ", clean).strip()
        if clean:
            lines.append(clean)
    if not lines:
        return {}, []
    return {"lines": lines}, []


def parse_passwd(text):
    """/etc/passwd: "name:x:uid:gid:gecos:home:shell" lines (the accounts services run as).

    Returns [{"name", "uid", "gid", "gecos", "home", "shell"}].
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 7 or _int(parts[2]) is None or _int(parts[3]) is None:
            w.line(n, line)
            continue
        out.append({"name": parts[0], "uid": int(parts[2]), "gid": int(parts[3]), "gecos": parts[4],
                    "home": parts[5], "shell": parts[6]})
    return out, w.result()


def parse_runlevel(text):
    """`runlevel`: "N 2" -> {"previous": "N", "current": "2"}; "unknown" -> {}."""
    w = _Warnings()
    for n, line in _lines(text):
        s = line.strip()
        if not s or s == "unknown":
            continue
        m = re.match(r"^(\S)\s+(\S)$", s)
        if m:
            return {"previous": m.group(1), "current": m.group(2)}, w.result()
        w.line(n, line)
    return {}, w.result()


def parse_who_r(text):
    """`who -r`: "         run-level 2  2026-11-26 04:33                   last=S".

    Returns {"current": "2", "previous": "S" or None, "since": "2026-11-26 04:33"}.
    """
    w = _Warnings()
    for n, line in _lines(text):
        if not line.strip():
            continue
        m = re.match(r"^\s*run-level\s+(\S+)\s*(.*?)\s*(?:last=(\S+))?\s*$", line)
        if m:
            return {"current": m.group(1), "since": m.group(2) or None,
                    "previous": m.group(3)}, w.result()
        w.line(n, line)
    return {}, w.result()


def parse_inittab(text):
    """/etc/inittab: "id:runlevels:action:process" lines.

    Returns {"default_runlevel": "3" or None, "entries": [{"id", "runlevels", "action", "process"}]}.
    """
    w = _Warnings()
    entries = []
    default = None
    for n, line in _lines(text):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split(":", 3)
        if len(parts) != 4:
            w.line(n, line)
            continue
        entry = {"id": parts[0], "runlevels": parts[1], "action": parts[2], "process": parts[3]}
        entries.append(entry)
        if entry["action"] == "initdefault":
            default = entry["runlevels"]
    if not entries:
        return {}, w.result()
    return {"default_runlevel": default, "entries": entries}, w.result()


_STATUS_ALL_DEBIAN = re.compile(r"^\s*\[\s*([+?-])\s*\]\s+(\S+)\s*$")
_STATUS_ALL_REDHAT = (
    (re.compile(r"^(?P<name>[\w@.:+-]+)\s+\(pid\s+(?P<pid>[\d ]+)\)\s+is running"), "running"),
    (re.compile(r"^(?P<name>[\w@.:+-]+)\s+is running"), "running"),
    (re.compile(r"^(?P<name>[\w@.:+-]+)\s+is stopped"), "stopped"),
    (re.compile(r"^(?P<name>[\w@.:+-]+)\s+is not running"), "stopped"),
    (re.compile(r"^(?P<name>[\w@.:+-]+)\s+dead but (?:pid file exists|subsys locked)"), "dead"),
    (re.compile(r"^(?P<name>[\w@.+-]+): .*\bis not running\b"), "stopped"),   # "iptables: Firewall is not running."
    (re.compile(r"^(?P<name>[\w@.+-]+): .*\bis running\b"), "running"),
)


def parse_service_status_all(text):
    """`service --status-all`, Debian/Ubuntu (" [ + ]  apache2") and Red Hat ("sshd (pid  1234) is running...").

    Debian's prints the "[ ? ]" lines (scripts without a status action) on stderr: the collector
    gives this parser stdout, then stderr (capture it by hand with 2>&1).
    Returns [{"name", "status": "running"|"stopped"|"unknown"|"dead", "pid"}]. Red Hat init
    scripts print free-form status text too; lines that state no service status are warnings.
    """
    w = _Warnings()
    out = []
    marks = {"+": "running", "-": "stopped", "?": "unknown"}
    for n, line in _lines(text):
        if not line.strip():
            continue
        m = _STATUS_ALL_DEBIAN.match(line)
        if m:
            out.append({"name": m.group(2), "status": marks[m.group(1)], "pid": None})
            continue
        for rx, status in _STATUS_ALL_REDHAT:
            m = rx.match(line.strip())
            if m:
                pids = (m.groupdict().get("pid") or "").split()
                out.append({"name": m.group("name"), "status": status,
                            "pid": _int(pids[0]) if pids else None})
                break
        else:
            w.line(n, line)
    return out, w.result()


def parse_chkconfig(text):
    """`chkconfig --list` and `sysv-rc-conf --list`: "apache2 0:off 1:off 2:on ...".

    Returns {"services": [{"name", "runlevels": {"0": "off", ...}}],
    "xinetd": [{"name", "state": "on"|"off"}]}.  sysv-rc-conf prints only the "on" levels
    and cuts names to 12 characters; a name with no levels gets an empty map.  The note
    chkconfig prints on systemd hosts is skipped; a level cut off at the line's end is a warning.
    """
    w = _Warnings()
    services = []
    xinetd = []
    in_xinetd = in_note = False
    for n, line in _lines(text):
        s = line.strip()
        if not s:
            continue
        if s.lower().startswith("xinetd based services"):
            in_xinetd, in_note = True, False
            continue
        if in_xinetd and line[:1] in (" ", "\t"):
            m = re.match(r"^([^:\s]+):\s*(on|off)$", s)
            if m:
                xinetd.append({"name": m.group(1), "state": m.group(2)})
            else:
                w.line(n, line)
            continue
        in_xinetd = False
        if s.startswith(("Note: ", "If you want to list")):
            in_note = True  # RHEL 7's paragraphs about native systemd services
            continue
        tokens = s.split()
        levels = {}
        bad = None
        for i, tok in enumerate(tokens[1:]):
            m = re.match(r"^([0-6S]):(on|off)$", tok)
            if m:
                levels[m.group(1)] = m.group(2)
            elif i == len(tokens) - 2 and re.match(r"^[0-6S]:o?f?$", tok):
                w.line(n, line, "last runlevel cut off")
            else:
                bad = tok
                break
        if bad is not None or not re.match(r"^[\w@.:+-]+$", tokens[0]):
            if not in_note:
                w.line(n, line)
            continue
        in_note = False
        services.append({"name": tokens[0], "runlevels": levels})
    if not services and not xinetd:
        return {}, w.result()
    return {"services": services, "xinetd": xinetd}, w.result()


def _link_lines(text, w):
    for n, line in _lines(text):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            w.line(n, line)
            continue
        yield parts


def parse_init_d(text):
    """The /etc/init.d/* listing (kind links: "path<TAB>type<TAB>target" lines).

    Returns [{"name": "ssh", "type": "file"|"link"|..., "target": None or link target}].
    """
    w = _Warnings()
    out = []
    skip = ("README", "skeleton", "rc", "rcS", ".depend.boot", ".depend.start", ".depend.stop",
            ".legacy-bootordering", "functions")
    for path, kind, target in _link_lines(text, w):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if name in skip or kind == "dir" or name.endswith((".dpkg-old", ".dpkg-dist", ".rpmsave", ".rpmnew")):
            continue
        out.append({"name": name, "type": kind, "target": target or None})
    return out, w.result()


def parse_rc_links(text):
    """The /etc/rc?.d/* link farm (kind links: "path<TAB>type<TAB>target" lines).

    Returns [{"runlevel": "2", "action": "S"|"K", "priority": 20, "script": "apache2",
    "link": "S20apache2", "target": "../init.d/apache2"}]; README files are skipped.
    """
    w = _Warnings()
    out = []
    for path, kind, target in _link_lines(text, w):
        m = re.match(r"^(?:.*/)?rc([0-6S])\.d/([SK])(\d+)(.+)$", path)
        if not m:
            if not path.endswith("/README"):
                w.add("unexpected entry %s" % _quote(path))
            continue
        priority = _int(m.group(3))
        if priority is None:  # more digits than int() takes (Python 3.11+ limits them)
            w.add("priority too long in %s" % _quote(path))
            continue
        script = target.rstrip("/").rsplit("/", 1)[-1] if kind == "link" and target else m.group(4)
        out.append({"runlevel": m.group(1), "action": m.group(2), "priority": priority,
                    "script": script, "link": m.group(2) + m.group(3) + m.group(4),
                    "target": target or None})
    return out, w.result()


_RC_STATUS_HEAD = re.compile(r"^(Dynamic )?Runlevel:\s*(.*?)\s*$")
_RC_STATUS_ROW = re.compile(r"^\s*(\S+)\s+\[\s*([a-z]+)(?:\s+(.*?))?\s*\]\s*$")


def parse_rc_status(text):
    """`rc-status -a` (OpenRC): "Runlevel: default" headings, each followed by its services
    (" sshd                [  started  ]"), then the "Dynamic Runlevel:" ones (hotplugged,
    needed/wanted, manual).  A supervised service's status carries its uptime and respawn count
    ("started 2 day(s) 01:02:03 (0)").

    Returns [{"runlevel", "dynamic": bool, "name", "status": "started"|"stopped"|"crashed"|...,
    "detail": None or the words after the status}], one row a service a runlevel, in order.
    """
    w = _Warnings()
    out = []
    runlevel, dynamic = None, False
    for n, line in _lines(text):
        if not line.strip():
            continue
        m = _RC_STATUS_HEAD.match(line)
        if m:
            runlevel, dynamic = m.group(2), bool(m.group(1))
            continue
        m = _RC_STATUS_ROW.match(line)
        if m and runlevel:
            out.append({"runlevel": runlevel, "dynamic": dynamic, "name": m.group(1), "status": m.group(2),
                        "detail": m.group(3) or None})
        else:
            w.line(n, line, "service outside a runlevel" if m else "unrecognized line")
    return out, w.result()


def parse_rc_update_show(text):
    """`rc-update show -v` (OpenRC): "          sshd |      default" - each init script and the
    runlevels it is added to (with -v also the scripts in none: nothing after the bar).

    Returns [{"name", "runlevels": ["boot", "default", ...]}].
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        name, bar, levels = line.partition("|")
        name = name.strip()
        if not bar or not name or " " in name:
            w.line(n, line)
            continue
        out.append({"name": name, "runlevels": levels.split()})
    return out, w.result()


def parse_openrc_runlevels(text):
    """The /etc/runlevels/*/* links (kind links: "path<TAB>type<TAB>target" lines), OpenRC's own
    record of which runlevel starts which init script: /etc/runlevels/default/sshd ->
    /etc/init.d/sshd.  A directory, or a link to one (../boot), is a stacked runlevel.

    Returns [{"runlevel", "name", "type", "target": None or link target, "stacked": bool}].
    """
    w = _Warnings()
    out = []
    for path, kind, target in _link_lines(text, w):
        m = re.match(r"^(?:.*/)?runlevels/([^/]+)/([^/]+)$", path.rstrip("/"))
        if not m:
            w.add("unexpected entry %s" % _quote(path))
            continue
        stacked = kind == "dir" or (kind == "link" and bool(target) and "init.d/" not in target)
        out.append({"runlevel": m.group(1), "name": m.group(2), "type": kind, "target": target or None,
                    "stacked": stacked})
    return out, w.result()


_LS_LINE = re.compile(
    r"^(?P<mode>[-bcdlpsDn?][-rwxsStTlL?]{9}[.+@]?)\s+(?P<links>\d+)\s+(?P<owner>\S+)\s+(?P<group>\S+)\s+"
    r"(?P<size>\d+(?:,\s*\d+)?|[\d.]+[KMGTP]?)\s+"
    r"(?P<date>\w{3}\s+\d{1,2}\s+(?:\d{4}|\d{1,2}:\d{2})|\d{4}-\d{2}-\d{2}(?:\s+\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s+[+-]\d{4})?)?)\s"
    r"(?P<name>.*)$")


def _ls_row(m, directory):
    return {"dir": directory, "name": m.group("name"), "type": m.group("mode")[0], "mode": m.group("mode"),
            "links": int(m.group("links")), "owner": m.group("owner"), "group": m.group("group"),
            "size": m.group("size"), "date": m.group("date"), "target": None}


def _ls_close(row, first_line, w):
    """Finish a row: split "name -> target" of a link; warn when the name ran over several lines."""
    name = row["name"]
    if row["mode"].startswith("l") and " -> " in name:
        row["name"], row["target"] = name.split(" -> ", 1)
    if "\n" in name:
        w.add("line %d: file name with %d newline(s), joined from the lines below: %s"
              % (first_line, name.count("\n"), _quote(name, strip=False)))


def parse_ls_l(text):
    """`ls -l DIR...` (here `ls -l /etc/rc*.d`): long listings, one block per directory.

    Returns [{"dir": "/etc/rc2.d" or None, "name", "type": "-"|"l"|"d"|..., "mode",
    "links", "owner", "group", "size", "date", "target"}]; "size" and "date" are as ls
    printed them ("4.0K" with -h, "Aug  5  2019").  ls prints a newline inside a file name
    as is, so such a name runs over several lines: they are joined back (blank lines in
    between are newlines of the name, except the one that ends a directory block and any
    at the end of the output) and each such name gives a warning, as the split is a guess.
    """
    w = _Warnings()
    out = []
    directory = None
    row = None          # the last row, whose name may go on over the next lines
    row_line = 0
    blanks = 0          # blank lines since the last non-blank one
    prev = "start"      # what the last non-blank line was: start, dir, total, row
    for n, line in _lines(text):
        if not line.strip():
            blanks += 1
            continue
        m = _LS_LINE.match(line)
        if m is not None and _int(m.group("links")) is None:  # more digits than int() takes: no row
            m = None
        if m is None and line.endswith(":") and (prev == "start" or blanks):
            if row is not None:
                row["name"] += "\n" * max(blanks - 1, 0)   # one blank line ends the block
                _ls_close(row, row_line, w)
                row = None
            directory, prev, blanks = line[:-1], "dir", 0
            continue
        if m is None and (prev == "start" or (prev == "dir" and not blanks)) and re.match(r"^total \S+$", line):
            prev = "total"
            continue
        if m is None and row is not None:
            row["name"] += "\n" * (blanks + 1) + line
            blanks = 0
            continue
        if m is None:
            w.line(n, line)
            blanks = 0
            continue
        if row is not None:
            row["name"] += "\n" * blanks
            _ls_close(row, row_line, w)
        row, row_line, blanks, prev = _ls_row(m, directory), n, 0, "row"
        out.append(row)
    if row is not None:  # blank lines at the very end are no part of a name
        _ls_close(row, row_line, w)
    return out, w.result()


_INITCTL_JOB = re.compile(r"^(?P<name>\S+)(?: \((?P<instance>[^)]*)\))? (?P<goal>\w+)/(?P<state>[\w-]+)(?:, process (?P<pid>\d+))?\s*$")


def parse_initctl_list(text):
    """`initctl list` (Upstart): "rsyslog start/running, process 482".

    Returns [{"name", "instance", "goal", "state", "pid"}]; the indented extra process
    lines of a job (pre-start/post-start) are folded into it.
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        if line[:1] in (" ", "\t") and out:
            if not re.match(r"^\s+[\w-]+ process \d+\s*$", line):
                w.line(n, line)
            continue
        m = _INITCTL_JOB.match(line)
        if not m:
            w.line(n, line)
            continue
        out.append({"name": m.group("name"), "instance": m.group("instance") or None,
                    "goal": m.group("goal"), "state": m.group("state"), "pid": _int(m.group("pid"))})
    return out, w.result()


def parse_initctl_show_config(text):
    """`initctl show-config` (Upstart): a job name, then indented "start on"/"stop on"/"emits" lines.

    Returns [{"name", "start_on": str or None, "stop_on": str or None, "emits": [..]}].
    """
    w = _Warnings()
    out = []
    job = None
    for n, line in _lines(text):
        if not line.strip():
            continue
        if line[:1] not in (" ", "\t"):
            if not re.match(r"^[\w@.:+-]+$", line.strip()):
                w.line(n, line)
                job = None
                continue
            job = {"name": line.strip(), "start_on": None, "stop_on": None, "emits": []}
            out.append(job)
            continue
        s = line.strip()
        if job is None:
            w.line(n, line, "stanza outside a job")
        elif s.startswith("start on "):
            job["start_on"] = s[len("start on "):]
        elif s.startswith("stop on "):
            job["stop_on"] = s[len("stop on "):]
        elif s.startswith("emits "):
            job["emits"].append(s[len("emits "):])
        else:
            w.line(n, line)
    return out, w.result()


_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s;#]*)\s*(?:[;#].*)?$")


def parse_etc_default(files):
    """/etc/default/* (the settings SysV init scripts read); `files` is [(path, text)].

    Returns [{"file", "name", "vars": {KEY: value}}]: the plain assignments of each file (shell
    code around them is skipped without a warning: these files may hold any shell).  A switch
    such as RSYNC_ENABLE=false is how a Debian package keeps its daemon from starting.
    """
    out = []
    for path, text in files:
        values = {}
        for n, line in _lines(text):
            m = _ASSIGNMENT.match(line)
            if m:
                values[m.group(1)] = _unquote_shell(m.group(2))
        out.append({"file": path, "name": path.rsplit("/", 1)[-1], "vars": values})
    return out, []


_LSB_FIELD = re.compile(r"^#\s*([A-Z][A-Za-z-]+):\s*(.*)$")
_CHKCONFIG = re.compile(r"^#\s*(chkconfig|pidfile|processname|config|description):\s*(.*)$")
_SHELL_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_PIDFILE = re.compile(r"(?:/var)?/run/[A-Za-z0-9_./@+-]+\.pid\b")
_DAEMON_VARS = ("DAEMON", "DAEMON_PATH", "DAEMON_BIN", "EXEC", "BIN", "BINARY", "exec", "prog_path")
_NOT_SCRIPTS = ("README", "skeleton", "functions", "rc", "rcS")


def _expand(value, variables):
    return _SHELL_VAR.sub(lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), value)


def _logical_lines(text):
    """Shell lines with backslash continuations joined."""
    buf = ""
    for n, line in _lines(text):
        if line.endswith("\\") and not line.lstrip().startswith("#"):
            buf += line[:-1] + " "
            continue
        yield buf + line
        buf = ""
    if buf:
        yield buf


def parse_init_scripts(files):
    """SysV init scripts /etc/init.d/*; `files` is [(path, text)].

    Returns [{"name", "file", "provides", "default_start", "default_stop", "description",
    "daemons", "pidfiles"}]: the LSB header (or Red Hat's "# chkconfig: 2345 55 25" lines), and
    what ties a running process to the script: the programs it starts (DAEMON=, exec=,
    start-stop-daemon --exec/--startas and the paths after its "--") and the pid files it names,
    with the script's own plain variables expanded ($NAME, ${PIDFILE}).  Helper files that are
    not scripts (README, skeleton, functions, *.dpkg-*, .depend.*) are left out.
    """
    out = []
    for path, text in files:
        name = path.rsplit("/", 1)[-1]
        if name in _NOT_SCRIPTS or name.startswith(".") or ".dpkg-" in name or name.endswith((".rpmnew", ".rpmsave", "~")):
            continue
        script = {"name": name, "file": path, "provides": [], "default_start": None, "default_stop": None,
                  "description": None, "daemons": [], "pidfiles": []}
        variables = {"NAME": name}
        in_lsb = False
        for line in _logical_lines(text):
            stripped = line.strip()
            if stripped.startswith("### BEGIN INIT INFO"):
                in_lsb = True
                continue
            if stripped.startswith("### END INIT INFO"):
                in_lsb = False
                continue
            m = _LSB_FIELD.match(stripped) if in_lsb else _CHKCONFIG.match(stripped)
            if m:
                key, value = m.group(1).lower(), m.group(2).strip()
                if key == "provides":
                    script["provides"] = value.split()
                elif key == "default-start":
                    script["default_start"] = value.split()
                elif key == "default-stop":
                    script["default_stop"] = value.split()
                elif key in ("short-description", "description") and script["description"] is None:
                    script["description"] = value
                elif key == "chkconfig":
                    levels = value.split()
                    if levels and levels[0] != "-":
                        script["default_start"] = list(levels[0])
                elif key == "pidfile":
                    script["pidfiles"].append(value)
                elif key == "processname":
                    script["daemons"].append(value)
                continue
            if stripped.startswith("#"):
                continue
            a = _ASSIGNMENT.match(line)
            if a:
                value = _expand(_unquote_shell(a.group(2)), variables)
                variables.setdefault(a.group(1), value)  # the first value: later ones sit in branches
                if a.group(1) in _DAEMON_VARS and value.startswith("/"):
                    script["daemons"].append(value)
                if a.group(1).upper().endswith("PIDFILE") and value.startswith("/"):
                    script["pidfiles"].append(value)
                continue
            expanded = _expand(line, variables)
            for found in _PIDFILE.findall(expanded):
                script["pidfiles"].append(found)
            if "start-stop-daemon" in expanded and ("--start" in expanded or " -S " in expanded):
                words = expanded.replace("=", " ").split()
                for i, word in enumerate(words):
                    nxt = words[i + 1].strip("\"'") if i + 1 < len(words) else ""
                    if word in ("--exec", "-x", "--startas", "-a") and nxt.startswith("/"):
                        script["daemons"].append(nxt)
                    elif word == "--":  # what the program runs: its first path (python3 -- /opt/app.py)
                        script["daemons"].extend([x.strip("\"'") for x in words[i + 1:i + 4]
                                                  if x.strip("\"'").startswith("/")][:1])
                        break
        for key in ("daemons", "pidfiles"):
            unique = []
            for value in script[key]:
                if value not in unique and "$" not in value:
                    unique.append(value)
            script[key] = unique
        out.append(script)
    return out, []


def parse_pid_files(files):
    """Pid files /run/*.pid, /run/*/*.pid (and /var/run's); `files` is [(path, text)].

    Returns [{"file", "name", "pid"}]: "name" is the file name without .pid; a file that does
    not hold a process id is a warning.
    """
    w = _Warnings()
    out = []
    for path, text in files:
        first = (text.strip().split() or [""])[0]
        pid = _int(first)
        if pid is None or pid <= 0:
            w.add("%s: no process id in it: %s" % (path, _quote(text[:80])))
            continue
        base = path.rsplit("/", 1)[-1]
        out.append({"file": path, "name": base[:-len(".pid")] if base.endswith(".pid") else base, "pid": pid})
    return out, w.result()


# --- scheduled jobs -------------------------------------------------------------------------

_CRON_SPECIAL = ("@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_ENV = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=")


def _cron_line(line, with_user):
    """(schedule, user, command) of one crontab line, or None; user is None without with_user."""
    words = line.split(None, 6 if with_user else 5)
    if words and words[0] in _CRON_SPECIAL:
        words = line.split(None, 2 if with_user else 1)
        need = 3 if with_user else 2
        if len(words) < need:
            return None
        return words[0], (words[1] if with_user else None), words[-1].strip()
    need = 7 if with_user else 6
    if len(words) < need or not all(re.match(r"^[\d*/,\-A-Za-z]+$", w) for w in words[:5]):
        return None
    return " ".join(words[:5]), (words[5] if with_user else None), words[-1].strip()


def parse_cron_files(files):
    """The system crontabs: /etc/crontab and /etc/cron.d/* ("m h dom mon dow user command"), and
    /etc/anacrontab ("period delay job-id command"); `files` is [(path, text)].

    Returns [{"file", "user", "schedule", "command"}] (anacron's schedule is "every N days,
    delay M min", its user root).  Variable lines (MAILTO=..., PATH=...) and comments are skipped;
    any other line that is no job is a warning.
    """
    w = _Warnings()
    out = []
    for path, text in files:
        anacron = path.rsplit("/", 1)[-1] == "anacrontab"
        for n, line in _lines(text):
            s = line.strip()
            if not s or s.startswith("#") or _CRON_ENV.match(s):
                continue
            if anacron:
                words = s.split(None, 3)
                if len(words) == 4 and re.match(r"^(?:\d+|@\w+)$", words[0]) and words[1].isdigit():
                    period = ("every %s days" % words[0]) if words[0].isdigit() else words[0].lstrip("@")
                    out.append({"file": path, "user": "root", "schedule": "%s, delay %s min" % (period, words[1]),
                                "command": words[3]})
                else:
                    w.line(n, "%s: %s" % (path, line))
                continue
            job = _cron_line(s, True)
            if job is None:
                w.line(n, "%s: %s" % (path, line))
                continue
            out.append({"file": path, "user": job[1], "schedule": job[0], "command": job[2]})
    return out, w.result()


def parse_user_crontabs(files):
    """Users' crontabs, /var/spool/cron/crontabs/USER (Debian) or /var/spool/cron/USER (Red Hat):
    "m h dom mon dow command"; `files` is [(path, text)].

    Returns [{"file", "user", "schedule", "command"}]: the user is the file's name.
    """
    w = _Warnings()
    out = []
    for path, text in files:
        user = path.rsplit("/", 1)[-1]
        for n, line in _lines(text):
            s = line.strip()
            if not s or s.startswith("#") or _CRON_ENV.match(s):
                continue
            job = _cron_line(s, False)
            if job is None:
                w.line(n, "%s: %s" % (path, line))
                continue
            out.append({"file": path, "user": user, "schedule": job[0], "command": job[2]})
    return out, w.result()


def parse_cron_scripts(text):
    """The scripts run-parts runs from /etc/cron.{hourly,daily,weekly,monthly} (kind links:
    "path<TAB>type<TAB>target" lines).

    Returns [{"dir": "cron.daily", "name", "file", "type", "target"}]; .placeholder files are skipped.
    """
    w = _Warnings()
    out = []
    for path, kind, target in _link_lines(text, w):
        parts = path.rstrip("/").rsplit("/", 2)
        if len(parts) < 3 or parts[-1] == ".placeholder" or kind == "dir":
            continue
        out.append({"dir": parts[-2], "name": parts[-1], "file": path, "type": kind, "target": target or None})
    return out, w.result()


def parse_systemctl_timers(text):
    """`systemctl list-timers --all --no-pager`: NEXT LEFT LAST PASSED UNIT ACTIVATES columns.

    Returns [{"unit", "activates", "next", "last"}] ("next" and "last" as printed, None for
    "n/a"); the footer lines are skipped.
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        s = line.strip()
        if not s or s.startswith(("NEXT ", "Pass --all")) or re.match(r"^\d+ timers? listed\.?$", s):
            continue
        words = s.split()
        timer = [i for i, word in enumerate(words) if word.endswith(".timer")]
        if not timer:
            w.line(n, line)
            continue
        i = timer[-1]
        head = " ".join(words[:i])
        # NEXT and LAST are dates ("Wed 2026-12-02 07:00:00 UTC") or n/a; LEFT and PASSED spans
        dates = re.findall(r"(?:\w{3} )?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: \w+)?|n/a", head)
        out.append({"unit": words[i], "activates": words[i + 1] if len(words) > i + 1 else None,
                    "next": dates[0] if dates and dates[0] != "n/a" else None,
                    "last": dates[2] if len(dates) > 2 and dates[2] != "n/a" else
                    (dates[1] if len(dates) == 2 and dates[1] != "n/a" else None)})
    return out, w.result()


def parse_atq(text):
    """`atq`: "3<TAB>Wed Dec  2 08:00:00 2026 a root" (job, time, queue, user).

    Returns [{"job", "when", "queue", "user"}].
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        m = re.match(r"^(\d+)\s+(.+?)\s+([a-zA-Z=])\s+(\S+)\s*$", line)
        if not m or _int(m.group(1)) is None:  # more digits than int() takes (Python 3.11+)
            w.line(n, line)
            continue
        out.append({"job": int(m.group(1)), "when": m.group(2), "queue": m.group(3), "user": m.group(4)})
    return out, w.result()


# --- local units -----------------------------------------------------------------------------

UNIT_KEYS = ("Description", "ExecStart", "User", "Type", "WantedBy", "RequiredBy", "Alias", "OnCalendar",
             "OnBootSec", "OnStartupSec", "OnUnitActiveSec", "OnActiveSec", "Unit", "ListenStream")


def parse_unit_files(files):
    """systemd unit files and drop-ins an admin put in /etc/systemd/system or /run/systemd/system
    (*.service, *.timer, ..., NAME.d/*.conf); `files` is [(path, text)].

    Returns [{"file", "unit", "dropin": bool, "settings": {KEY: [values]}}] with the settings that
    say what a unit does and when (UNIT_KEYS: ExecStart, User, WantedBy, OnCalendar, ...); other
    keys (Environment= may hold secrets) are left in the raw file.  A drop-in's unit is the one
    it changes.
    """
    w = _Warnings()
    out = []
    for path, text in files:
        parts = path.rsplit("/", 2)
        parent, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", path)
        dropin = parent.endswith(".d") and name.endswith(".conf")
        settings = {}
        for line in _logical_lines(text):
            s = line.strip()
            if not s or s.startswith(("#", ";", "[")):
                continue
            key, sep, value = s.partition("=")
            if not sep:
                w.add("%s: not a setting: %s" % (path, _quote(line)))
                continue
            if key.strip() in UNIT_KEYS:
                settings.setdefault(key.strip(), []).append(" ".join(value.split()))
        out.append({"file": path, "unit": parent[:-2] if dropin else name, "dropin": dropin, "settings": settings})
    return out, w.result()


# --- SSH trust ---------------------------------------------------------------------------------

_KEY_TYPES = ("ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
              "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
              "ssh-rsa-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com")


def key_fingerprint(blob_b64):
    """OpenSSH's SHA256 fingerprint of a public key's base64 blob ("SHA256:..."), or None."""
    import base64
    import binascii
    try:
        blob = base64.b64decode(blob_b64.encode("ascii") if not isinstance(blob_b64, bytes) else blob_b64)
    except (binascii.Error, TypeError, ValueError, UnicodeEncodeError):
        return None
    if not blob:
        return None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return "SHA256:" + digest


def _ssh_user(path):
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "root":
        return "root"
    if len(parts) > 3 and parts[1] == "home":
        return parts[2]
    return None


def parse_ssh_keys(files):
    """Public keys: ~/.ssh/id_*.pub (a user's own keys) and ~/.ssh/authorized_keys (the keys that
    may log in as that user), of root and of /home/*; `files` is [(path, text)].

    Returns [{"file", "user", "kind": "identity"|"authorized", "type", "fingerprint", "comment"}]
    with OpenSSH's SHA256 fingerprint computed here; authorized_keys options are skipped; a line
    that holds no key is a warning.  Private keys are never read.
    """
    w = _Warnings()
    out = []
    for path, text in files:
        kind = "identity" if path.endswith(".pub") else "authorized"
        for n, line in _lines(text):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            words = s.split()
            found = [i for i, word in enumerate(words) if word in _KEY_TYPES]
            fingerprint = key_fingerprint(words[found[0] + 1]) if found and len(words) > found[0] + 1 else None
            if fingerprint is None:
                w.add("%s line %d: no public key in it" % (path, n))
                continue
            i = found[0]
            out.append({"file": path, "user": _ssh_user(path), "kind": kind, "type": words[i],
                        "fingerprint": fingerprint, "comment": " ".join(words[i + 2:]) or None})
    return out, w.result()


def parse_ssh_dirs(text):
    """What lies in root's and the users' ~/.ssh (kind links, names only: no file is read).

    Returns [{"user", "name", "type", "private_key": bool}]: an id_* file without .pub beside a
    .pub of the same name is a private key (its existence only).
    """
    w = _Warnings()
    out = []
    rows = list(_link_lines(text, w))
    names = set(path for path, kind, target in rows)
    for path, kind, target in rows:
        name = path.rsplit("/", 1)[-1]
        out.append({"user": _ssh_user(path), "name": name, "type": kind,
                    "private_key": name.startswith("id_") and not name.endswith(".pub") and path + ".pub" in names})
    return out, w.result()


def parse_sshd_config(text):
    """`sshd -T` ("port 22" lines, sshd's effective settings) or /etc/ssh/sshd_config ("Port 22").

    Returns {keyword (lower case): [values]}; a config file's Match blocks are left out (they apply
    to some connections only).
    """
    w = _Warnings()
    data = {}
    for n, line in _lines(text):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = re.split(r"[\s=]+", s, 1)
        key, value = parts[0].lower(), (parts[1] if len(parts) > 1 else "")
        if key == "match":
            break
        if not re.match(r"^[a-z0-9]+$", key):
            w.line(n, line)
            continue
        data.setdefault(key, []).append(value.strip())
    return data, w.result()


def _job_stanzas(text):
    """Logical stanza lines of an Upstart job file: comments dropped, (...) continuations joined."""
    buf = ""
    for n, line in _lines(text):
        s = line.split("#", 1)[0].rstrip() if not line.lstrip().startswith(("exec ", "script")) else line.rstrip()
        if not s.strip() and not buf:
            continue
        buf = (buf + " " + s.strip()) if buf else s.strip()
        if buf.count("(") > buf.count(")"):
            continue
        yield n, buf
        buf = ""
    if buf:
        yield 0, buf


def parse_upstart_jobs(files):
    """Upstart job files /etc/init/*.conf and *.override; `files` is [(path, text)].

    Returns [{"name": "ssh", "file": "/etc/init/ssh.conf", "description", "start_on", "stop_on",
    "manual": bool, "override": bool, "env": {KEY: value}}] -- a .override with "manual"
    disables a job; rc-sysinit's env DEFAULT_RUNLEVEL is the default runlevel.
    """
    w = _Warnings()
    out = []
    for path, text in files:
        base = path.rsplit("/", 1)[-1]
        if base.endswith(".conf"):
            name, override = base[:-5], False
        elif base.endswith(".override"):
            name, override = base[:-9], True
        else:
            w.add("%s: not a job file" % path)
            continue
        job = {"name": name, "file": path, "description": None, "start_on": None, "stop_on": None,
               "manual": False, "override": override, "env": {}}
        in_script = False
        for n, s in _job_stanzas(text):
            if in_script:
                if s.strip() == "end script":
                    in_script = False
                continue
            word = s.split(None, 1)
            if not word:
                continue
            if word[0] in ("script", "pre-start", "post-start", "pre-stop", "post-stop") and s.endswith("script"):
                in_script = True
            elif s.startswith("start on "):
                job["start_on"] = s[len("start on "):].strip()
            elif s.startswith("stop on "):
                job["stop_on"] = s[len("stop on "):].strip()
            elif word[0] == "description":
                job["description"] = _unquote_shell(word[1]) if len(word) > 1 else ""
            elif s.strip() == "manual":
                job["manual"] = True
            elif word[0] == "env" and len(word) > 1 and "=" in word[1]:
                key, value = word[1].split("=", 1)
                job["env"][key.strip()] = _unquote_shell(value)
        out.append(job)
    return out, w.result()


_UNIT_ROW = re.compile("^[\\s*" + _BULLETS + r"]*\s*(?P<unit>\S+\.(?:service|socket|target|device|mount|automount|swap|timer|path|slice|scope))\s+(?P<rest>.*)$")


def _systemctl_body(text):
    """Numbered unit rows of a systemctl listing: header and legend dropped."""
    for n, line in _lines(text):
        s = line.strip()
        if not s:
            continue
        if (s.startswith(("UNIT ", "LOAD ", "ACTIVE ", "SUB ", "To show all", "Pass --all"))
                or re.match(r"^\d+ (loaded )?units? (files? )?listed\b", s)
                or s.startswith(("LOAD   =", "ACTIVE =", "SUB    ="))):
            continue
        yield n, line


def parse_systemctl_units(text):
    """`systemctl list-units -t service|target --all --no-pager`.

    Returns [{"unit", "load", "active", "sub", "description"}]; the status markers
    (a bullet before failed or not-found units) are dropped.
    """
    w = _Warnings()
    out = []
    for n, line in _systemctl_body(text):
        m = _UNIT_ROW.match(line)
        parts = m.group("rest").split(None, 3) if m else []
        if not m or len(parts) < 3:
            w.line(n, line)
            continue
        out.append({"unit": m.group("unit"), "load": parts[0], "active": parts[1], "sub": parts[2],
                    "description": parts[3].strip() if len(parts) > 3 else ""})
    return out, w.result()


def parse_systemctl_unit_files(text):
    """`systemctl list-unit-files -t service|target --no-pager`: "ssh.service enabled enabled".

    Returns [{"unit_file", "state", "preset": str or None}] (older systemd has no preset column).
    """
    w = _Warnings()
    out = []
    for n, line in _systemctl_body(text):
        parts = line.split()
        if len(parts) < 2 or len(parts) > 3 or "." not in parts[0]:
            w.line(n, line)
            continue
        preset = parts[2] if len(parts) > 2 and parts[2] != "-" else None
        out.append({"unit_file": parts[0], "state": parts[1], "preset": preset})
    return out, w.result()


# A tree row: an optional state bullet, then continuation columns ("| " or "  ") and a connector
# ("|-", "`-"; drawn as box characters in a UTF-8 locale), then the unit.
_V, _TEE, _ELBOW, _H = _TREE
# A unit's state bullet: "●", "○", "×" in a UTF-8 locale; "*", "x" in the C locale (x: failed).
_DEP_ROW = re.compile("^(?P<bullet>\\s*[*x" + _BULLETS + "]\\s)?"
                      "(?P<tree>(?:[|" + _V + " ] )*[|`" + _TEE + _ELBOW + "][-" + _H + "])?"
                      r"(?P<unit>\S+\.[a-z]+)\s*$")


def parse_systemctl_dependencies(text):
    """`systemctl list-dependencies --no-pager TARGET`: a tree drawn with "├─", "└─" and "│"
    (or "|-", "`-" and "|" outside a UTF-8 locale, as under the collector's LC_ALL=C), each unit
    after its state bullet ("●", "○", "×"; in the C locale "*", and "x" for a failed unit).

    Returns [{"unit", "depth", "parent"}]; the root has depth 0 and parent None.
    """
    w = _Warnings()
    out = []
    stack = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        m = _DEP_ROW.match(line)
        if not m:
            w.line(n, line)
            continue
        depth = len(m.group("tree")) // 2 if m.group("tree") else 0
        del stack[depth:]
        parent = stack[-1] if stack else None
        while len(stack) < depth:
            stack.append(parent)
        stack.append(m.group("unit"))
        out.append({"unit": m.group("unit"), "depth": depth, "parent": parent})
    return out, w.result()


def split_host_port(addr):
    """ "[::]:22" -> ("::", "22"); "0.0.0.0%lo:53" -> ("0.0.0.0%lo", "53"); ":::22" -> ("::", "22")."""
    if addr.startswith("["):
        close = addr.find("]")
        if close > 0:
            host = addr[1:close]
            rest = addr[close + 1:]
            iface, sep, port = rest.rpartition(":")
            return host + iface, (port if sep else "")
    host, sep, port = addr.rpartition(":")
    if not sep:
        return addr, ""
    return host, port


def _tokens(line):
    """Whitespace-separated tokens with their start offsets."""
    return [(m.start(), m.group()) for m in re.finditer(r"\S+", line)]


_STATE_WORD = re.compile(r"^([A-Z][A-Z0-9_]*|\d+)$")


def parse_netstat(text):
    """`netstat -nlp` (also -l, -p, -a, -e variants): internet and unix socket tables.

    Returns [{"proto", "recv_q", "send_q", "local_address", "local_port", "foreign_address",
    "foreign_port", "state", "user", "inode", "pid", "program", "path", "flags", "type"}];
    fields a table does not have are None.  "pid"/"program" are None when netstat shows "-"
    (not root: the socket belongs to another user's process).
    """
    w = _Warnings()
    out = []
    has_user = False
    unix_cols = None
    for n, line in _lines(text):
        s = line.strip()
        if not s or s.startswith("Active "):
            continue
        if s.startswith("Proto "):
            has_user = " User " in s and "Inode" in s
            if "RefCnt" in s:
                unix_cols = (line.find("PID/"), line.find("Path"))
            continue
        toks = _tokens(line)
        proto = toks[0][1]
        if proto == "unix":
            row = _netstat_unix(line, unix_cols)
            if row is None:
                w.line(n, line)
            else:
                out.append(row)
            continue
        if len(toks) < 5 or not re.match(r"^(tcp|udp|raw|sctp|udpl)[46]?$", proto):
            w.line(n, line)
            continue
        local, lport = split_host_port(toks[3][1])
        foreign, fport = split_host_port(toks[4][1])
        rest = toks[5:]
        state = user = inode = None
        if rest and _STATE_WORD.match(rest[0][1]) and not (has_user and len(rest) == 3 and proto.startswith("udp")):
            state = rest.pop(0)[1]
        if has_user and len(rest) >= 2:
            user, inode = rest[0][1], _int(rest[1][1])
            rest = rest[2:]
        pid, program = _pid_program(_NETSTAT_TIMER.sub("", line[rest[0][0]:]).strip() if rest else "")
        out.append({"proto": proto, "recv_q": _int(toks[1][1]), "send_q": _int(toks[2][1]),
                    "local_address": local, "local_port": lport, "foreign_address": foreign,
                    "foreign_port": fport, "state": state, "user": user, "inode": inode,
                    "pid": pid, "program": program, "path": None, "flags": None, "type": None})
    return out, w.result()


# netstat -o's Timer column, after PID/Program name: "off (0.00/0/0)", "keepalive (7.13/0/0)"
_NETSTAT_TIMER = re.compile(r"\s+(?:off|on|keepalive|timewait|probe|unkn-\d+)\s+\([\d.]+/\d+/\d+\)\s*$")


def _pid_program(field):
    m = re.match(r"^(\d+)/(.*)$", field)
    if m and _int(m.group(1)) is not None:  # not more digits than int() takes (Python 3.11+)
        return int(m.group(1)), m.group(2).strip()
    return None, None


_NETSTAT_UNIX = re.compile(r"^unix\s+(\d+)\s+\[\s*([^\]]*?)\s*\]\s+(\S+)\s+(?:([A-Z_]+)\s+)?(\d+)(?:\s+|$)")


def _netstat_unix(line, cols):
    """One unix row; cols = (start of "PID/Program name", start of "Path") in the header, -1 when absent."""
    m = _NETSTAT_UNIX.match(line)
    if not m:
        return None
    rest = line[m.end():]
    width = (cols[1] - cols[0]) if cols and cols[0] > 0 and cols[1] > cols[0] else 0
    if cols and cols[0] < 0:  # no -p: everything after the inode is the path
        prog_field, path = "", rest.strip()
    elif width and rest[:1] not in ("", " ") and re.match(r"^(\d+/|-\s)", rest[:width] + " "):
        prog_field, path = rest[:width].strip(), rest[width:].strip()
    else:
        parts = rest.split(None, 1)
        prog_field, path = (parts[0] if parts else ""), (parts[1].strip() if len(parts) > 1 else "")
    pid, program = _pid_program(prog_field)
    return {"proto": "unix", "recv_q": None, "send_q": None, "local_address": None, "local_port": None,
            "foreign_address": None, "foreign_port": None, "state": m.group(4), "user": None,
            "inode": _int(m.group(5)), "pid": pid, "program": program, "path": path or None,
            "flags": m.group(2), "type": m.group(3)}


def _header_columns(header):
    return [(start, start + len(tok), tok) for start, tok in _tokens(header)]


def parse_lsof(text):
    """`lsof -nPi` (and plain `lsof`): a table aligned under its header.

    Returns [{"command", "pid", "tid", "user", "fd", "type", "device", "size_off", "node", "name"}];
    for -i the NAME is "127.0.0.1:3306 (LISTEN)" or "10.0.0.1:22->10.0.0.9:5100 (ESTABLISHED)".
    """
    w = _Warnings()
    out = []
    cols = None
    for n, line in _lines(text):
        if not line.strip():
            continue
        if cols is None:
            if line.startswith("COMMAND"):
                cols = _header_columns(line)
                continue
            w.line(n, line, "before the header")
            continue
        row, name = _lsof_aligned(line, cols)
        if row is None:  # not aligned under the header (whitespace squeezed in a paste): go by order
            row, name = _lsof_ordered(line, cols)
        if row is None or row.get("COMMAND") is None or _int(row.get("PID")) is None:  # a header without them
            w.line(n, line)
            continue
        out.append({"command": row.get("COMMAND"), "pid": _int(row.get("PID")), "tid": _int(row.get("TID")),
                    "user": row.get("USER"), "fd": row.get("FD"), "type": row.get("TYPE"),
                    "device": row.get("DEVICE"), "size_off": row.get("SIZE/OFF"), "node": row.get("NODE"),
                    "name": name})
    return out, w.result()


def _lsof_aligned(line, cols):
    """Each token under the header column it overlaps most; None when a column gets two tokens."""
    name_start = [c[0] for c in cols if c[2] == "NAME"]
    name_start = name_start[0] if name_start else len(line)
    row = dict((c[2], None) for c in cols)
    for start, tok in _tokens(line[:name_start]):
        end = start + len(tok)
        best = max(cols, key=lambda c: (min(end, c[1]) - max(start, c[0]), -abs(start - c[0])))
        if best[2] == "NAME":
            continue
        if row[best[2]] is not None:
            return None, None
        row[best[2]] = tok
    name = line[name_start:].strip() if len(line) > name_start else ""
    if name_start and line[name_start - 1:name_start].strip():  # NAME began left of its column
        name = line[line.rfind(" ", 0, name_start) + 1:].strip()
    if row.get("COMMAND") is None or _int(row.get("PID")) is None or not name:
        return None, None
    return row, name


def _lsof_ordered(line, cols):
    """Tokens taken in header order; only for rows where every column before NAME is filled."""
    names = [c[2] for c in cols]
    if "NAME" not in names:
        return None, None
    fixed = names[:names.index("NAME")]
    if "TID" in fixed:
        fixed.remove("TID")  # empty for processes, the usual case
    toks = line.split(None, len(fixed))
    if len(toks) != len(fixed) + 1 or _int(toks[1]) is None:
        return None, None
    row = dict(zip(fixed, toks))
    return row, toks[-1].strip()


_SS_USER = re.compile(r'\("((?:[^"\\]|\\.)*)",(?:pid=)?(\d+),(?:fd=)?(\d+)\)')
_SS_TWO_FIELD = ("u_str", "u_dgr", "u_seq", "u_seqpacket")


_SS_TCP_STATES = ("LISTEN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSE-WAIT",
                  "LAST-ACK", "CLOSING", "CLOSE")


def parse_ss(text):
    """`ss -nlpaxtudw` (any ss table with a Netid column): all socket kinds.  A table without the
    Netid column (`ss -ltnp`, `ss -lunp`, as a person captures it) is read with the protocol taken
    from the state, and says so in a warning.

    Returns [{"netid", "state", "recv_q", "send_q", "local_address", "local_port",
    "peer_address", "peer_port", "processes": [{"name", "pid", "fd"}], "extra"}].
    Unix sockets: local_address is the path ("*" unnamed, "@..." abstract), local_port the inode.
    """
    w = _Warnings()
    out = []
    has_netid = True
    for n, line in _lines(text):
        toks = line.split()
        if not toks:
            continue
        if toks[0] in ("Netid", "State") and "Recv-Q" in line:
            has_netid = toks[0] == "Netid"
            if not has_netid:
                w.add("line %d: no Netid column (ss run with only -t or only -u, or without -a): the protocol is "
                      "taken from each socket's state (UNCONN: udp; LISTEN, ESTAB and the other TCP states: tcp); "
                      "migsnap runs ss -nlpaxtudw" % n)
            continue
        if not has_netid:
            guess = "udp" if toks[0] == "UNCONN" else "tcp" if toks[0] in _SS_TCP_STATES else None
            if guess is None:
                w.line(n, line, "no Netid column and a state that names no protocol")
                continue
            toks = [guess] + toks
        netid = toks[0]
        width = 2 if netid in _SS_TWO_FIELD else 1
        if len(toks) < 4 + 2 * width or _int(toks[2]) is None or _int(toks[3]) is None:
            w.line(n, line)
            continue
        local = toks[4:4 + width]
        peer = toks[4 + width:4 + 2 * width]
        rest = toks[4 + 2 * width:]
        if width == 2:
            laddr, lport, paddr, pport = local[0], local[1], peer[0], peer[1]
        else:
            laddr, lport = split_host_port(local[0])
            paddr, pport = split_host_port(peer[0])
        extra = " ".join(rest)
        procs = []
        users = re.search(r"users:\((.*)\)", extra)
        if users:
            for name, pid, fd in _SS_USER.findall(users.group(1)):
                if _int(pid) is None or _int(fd) is None:  # more digits than int() takes (Python 3.11+)
                    w.line(n, line, "process id or fd too long")
                    continue
                procs.append({"name": name.replace('\\"', '"'), "pid": int(pid), "fd": int(fd)})
            extra = (extra[:users.start()] + extra[users.end():]).strip()
        out.append({"netid": netid, "state": toks[1], "recv_q": int(toks[2]), "send_q": int(toks[3]),
                    "local_address": laddr, "local_port": lport, "peer_address": paddr,
                    "peer_port": pport, "processes": procs, "extra": extra or None})
    return out, w.result()


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
              "0B": "CLOSING", "0C": "NEW_SYN_RECV"}


def _hex_address(hexaddr):
    """Kernel hex address (32-bit words in host byte order, little-endian here) to text."""
    raw = bytearray()
    for i in range(0, len(hexaddr), 8):
        word = bytearray.fromhex(hexaddr[i:i + 8])
        word.reverse()
        raw.extend(word)
    if len(raw) == 4:
        return ".".join(str(b) for b in raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, bytes(raw))
    raise ValueError("bad address length")


def parse_proc_net_inet(text):
    """/proc/net/tcp, tcp6, udp, udp6: the kernel's socket tables (hex addresses).

    Returns [{"local_address", "local_port", "remote_address", "remote_port", "state_code",
    "state", "uid", "inode"}]; "state" is the TCP name of the code (for UDP "CLOSE" means
    an unconnected, bound socket).
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        parts = line.split()
        if not parts or parts[0] == "sl":
            continue
        try:
            lhost, lport = parts[1].split(":")
            rhost, rport = parts[2].split(":")
            lport, rport = int(lport, 16), int(rport, 16)
            if not (0 <= lport <= 0xFFFF and 0 <= rport <= 0xFFFF):
                raise ValueError("port out of range")
            out.append({"local_address": _hex_address(lhost), "local_port": lport,
                        "remote_address": _hex_address(rhost), "remote_port": rport,
                        "state_code": parts[3].upper(), "state": TCP_STATES.get(parts[3].upper()),
                        "uid": int(parts[7]), "inode": int(parts[9])})
        except (ValueError, IndexError, TypeError):
            w.line(n, line)
    return out, w.result()


UNIX_TYPES = {"0001": "STREAM", "0002": "DGRAM", "0005": "SEQPACKET"}
_SO_ACCEPTCON = 0x10000


def parse_proc_net_unix(text):
    """/proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path".

    Returns [{"refcount", "flags", "type", "state", "inode", "path", "listening"}];
    "listening" is the __SO_ACCEPTCON flag.
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        parts = line.split(None, 7)
        if not parts or parts[0] == "Num":
            continue
        try:
            flags, refcount = int(parts[3], 16), int(parts[1], 16)
            if not 0 <= refcount < 1 << 64:  # the kernel prints it with %08X; a huge one is no JSON number
                raise ValueError("refcount out of range")
            out.append({"refcount": refcount, "flags": parts[3], "type": UNIX_TYPES.get(parts[4], parts[4]),
                        "state": parts[5], "inode": int(parts[6]),
                        "path": parts[7].strip() if len(parts) > 7 else None,
                        "listening": bool(flags & _SO_ACCEPTCON)})
        except (ValueError, IndexError):
            w.line(n, line)
    return out, w.result()


DPKG_DESIRED = {"u": "unknown", "i": "install", "h": "hold", "r": "remove", "p": "purge"}
DPKG_STATUS = {"n": "not-installed", "c": "config-files", "H": "half-installed", "U": "unpacked",
               "F": "half-configured", "W": "triggers-awaited", "t": "triggers-pending", "i": "installed"}
DPKG_ERROR = {"R": "reinst-required"}


def parse_dpkg_l(text):
    """`dpkg -l`: "ii  openssh-server  1:8.4p1-5  amd64  secure shell (SSH) server".

    Returns [{"codes", "desired", "status", "error", "name", "version", "arch", "description"}];
    "arch" is None for old dpkg without an Architecture column.
    """
    w = _Warnings()
    out = []
    has_arch = True
    in_body = False
    for n, line in _lines(text):
        if not line.strip():
            continue
        if not in_body:
            if line.startswith("||/"):
                has_arch = "Architecture" in line or "Arch " in line
            elif line.startswith("+++-"):
                in_body = True
            elif not line.startswith(("Desired=", "| ", "|/")):
                w.line(n, line, "before the table")
            continue
        parts = line.split(None, 4 if has_arch else 3)
        codes = parts[0] if parts else ""
        if len(parts) < (4 if has_arch else 3) or not re.match(r"^[uihrp][ncHUFWti][R]?$", codes):
            w.line(n, line)
            continue
        out.append({"codes": codes, "desired": DPKG_DESIRED[codes[0]], "status": DPKG_STATUS[codes[1]],
                    "error": DPKG_ERROR.get(codes[2:3]), "name": parts[1], "version": parts[2],
                    "arch": parts[3] if has_arch else None,
                    "description": (parts[-1] if len(parts) == (5 if has_arch else 4) else "").strip()})
    return out, w.result()


def parse_dpkg_query(text):
    """`dpkg-query -W -f '${Package}\\t${Version}\\t${Architecture}\\t${Status}\\t${Priority}\\t${Essential}\\t${Section}\\t${Source}\\t${Pre-Depends}\\t${Depends}\\t${Provides}\\n'`.

    Returns [{"name", "version", "arch", "want", "flag", "status", "priority", "essential",
    "section", "source", "dependents"}] ("install ok installed" splits into want, flag, status;
    "source" is the source package's name, without the version dpkg adds when it differs;
    "dependents" how many other installed packages name it, or a name it provides, in their
    Pre-Depends or Depends, any alternative).  Two shapes a person captures by hand are read too:
    the first four fields alone (migsnap 0.1), and plain `dpkg-query -W` ("name[:arch]<TAB>
    version", no status: a package with a version is taken as installed).  Fields a shape lacks
    are None.
    """
    w = _Warnings()
    out = []
    relations = []  # (row index, names it depends on, names it provides)
    for n, line in _lines(text):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) == 2 and parts[0]:
            name, _, arch = parts[0].partition(":")
            version = parts[1].strip()
            status = ["install", "ok", "installed" if version else "not-installed"]
            parts = [name, version, arch, ""]
        elif len(parts) in (4, 11):
            status = parts[3].split()
        else:
            status = []
        if not parts[0] or len(status) != 3:
            w.line(n, line, "unrecognized line (expected the format of the dpkg-query entry, see "
                            "migsnap.py --list, or plain dpkg-query -W)")
            continue
        full = len(parts) == 11
        out.append({"name": parts[0], "version": parts[1], "arch": parts[2] or None,
                    "want": status[0], "flag": status[1], "status": status[2],
                    "priority": (parts[4] or None) if full else None,
                    "essential": (parts[5] == "yes") if full else None,
                    "section": (parts[6] or None) if full else None,
                    "source": (parts[7].split(" (")[0].strip() or parts[0]) if full else None,
                    "dependents": None})
        if full:
            relations.append((len(out) - 1, _relation_names(parts[8] + "," + parts[9]), _relation_names(parts[10])))
    _count_dependents(out, relations)
    return out, w.result()


def _count_dependents(rows, relations):
    """Sets each installed row's "dependents": how many other installed packages depend on it,
    by its name or a name it provides (the shapes without Depends keep None).  Linear: each
    package adds one to each distinct package its relations name."""
    gone = ("not-installed", "config-files")
    providers = {}
    for index, depends, provides in relations:
        if rows[index]["status"] not in gone:
            name = rows[index]["name"]
            providers.setdefault(name, set()).add(name)
            for virtual in provides:
                providers.setdefault(virtual, set()).add(name)
    counts = {}
    for index, depends, provides in relations:
        if rows[index]["status"] in gone:
            continue
        named = set()
        for dep in depends:
            found = providers.get(dep)
            if found:
                named.update(found)
        named.discard(rows[index]["name"])
        for provider in named:
            counts[provider] = counts.get(provider, 0) + 1
    for index, depends, provides in relations:
        rows[index]["dependents"] = counts.get(rows[index]["name"], 0)


_RELATION_NAME = re.compile(r"(?:^|[,|])\s*([^\s,|(:]+)")


def _relation_names(field):
    """ "libc6 (>= 2.14), debconf (>= 0.5) | debconf-2.0, perl:any" -> {"libc6", "debconf", "debconf-2.0", "perl"}."""
    return set(_RELATION_NAME.findall(field))


RPM_ARCHES = ("noarch", "x86_64", "i386", "i486", "i586", "i686", "athlon", "aarch64", "armv7hl",
              "armv7l", "armv6hl", "ppc", "ppc64", "ppc64le", "s390", "s390x", "ia64", "src",
              "riscv64", "sparc", "sparc64", "alpha", "mips", "mipsel", "loongarch64", "(none)")


def parse_rpm_qa(text):
    """`rpm -qa`: "bash-4.2.46-33.el7.x86_64" (name-version-release.arch, epoch when shown as E:).

    Returns [{"name", "epoch", "version", "release", "arch"}]; gpg-pubkey entries have no arch.
    Lists other tools keep are read too: an install date (and build time) after the name, as older
    insights-client and sos's installed-rpms hold them ("bash-4.1.2-48.el6.x86_64  Sat Aug 29
    19:17:55 2015"); rpm's own "error: ..." lines mixed in (a damaged rpmdb) are warnings.
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        s = line.strip()
        if not s:
            continue
        if s.startswith("error:") or s.startswith("warning:"):
            w.line(n, line, "rpm's own message, not a package")
            continue
        s = s.split()[0]  # a package name holds no blank: what follows is a date or a build time
        base, arch = s, None
        head, dot, tail = s.rpartition(".")
        if dot and tail in RPM_ARCHES:
            base, arch = head, tail
        parts = base.rsplit("-", 2)
        if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2]:
            w.line(n, line)
            continue
        epoch, version = None, parts[1]
        if ":" in version:
            epoch, version = version.split(":", 1)
        out.append({"name": parts[0], "epoch": epoch, "version": version, "release": parts[2], "arch": arch})
    return out, w.result()


def parse_rpm_qf(text):
    """`rpm -qa --qf '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{INSTALLTID}\\n'`.

    Returns [{"name", "epoch", "version", "release", "arch", "source_rpm", "transaction"}];
    "(none)" becomes None (a line with no name is a warning).  "transaction" is the id of the
    rpm transaction that installed the package (the packages of the first one are the installed
    system).  The first five fields alone (older migsnap) are read too, and the JSON lines that
    insights-client collects ({"name": ..., "epoch": ..., "srpm": ...}); missing fields are None.
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            row = _rpm_json(line)
            if row is None:
                w.line(n, line)
            else:
                out.append(row)
            continue
        parts = line.split("\t")
        if len(parts) not in (5, 7) or parts[0] in ("", "(none)"):
            w.line(n, line)
            continue
        parts = [None if p in ("(none)", "") else p for p in parts] + [None, None]
        out.append({"name": parts[0], "epoch": parts[1], "version": parts[2], "release": parts[3], "arch": parts[4],
                    "source_rpm": parts[5], "transaction": _int(parts[6])})
    return out, w.result()


def _rpm_json(line):
    """One line of insights' `rpm -qa --qf '{"name":"%{NAME}",...}'`, or None."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), (text_type, str)) or not doc["name"]:
        return None

    def field(key):
        value = doc.get(key)
        return None if value in (None, "", "(none)") else text_type(value)
    return {"name": doc["name"], "epoch": field("epoch"), "version": field("version"), "release": field("release"),
            "arch": field("arch"), "source_rpm": field("srpm") or field("sourcerpm"),
            "transaction": _int(doc.get("installtid"))}


def parse_apk_info(text):
    """`apk info -v` (Alpine): "musl-1.2.4-r2".

    Returns [{"name", "version"}] with the version including its -rN package release.
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        s = line.strip()
        if not s:
            continue
        m = re.match(r"^(?P<name>.+?)-(?P<version>\d[^-\s]*-r\d+)$", s)
        if not m:
            w.line(n, line)
            continue
        out.append({"name": m.group("name"), "version": m.group("version")})
    return out, w.result()


_APK_CONSTRAINT = re.compile(r"^(?P<name>[^<>=~@\s]+)(?P<rest>[<>=~@].*)?$")


def parse_apk_world(text):
    """/etc/apk/world (Alpine): the packages the admin asked for, one a line or space-separated,
    each possibly with a version constraint or a repository tag ("nginx", "php8>=8.1", "foo@edge").

    Returns [{"name", "spec"}] ("spec" is the word as written); a "!name" (must not be installed)
    is not a package asked for and is left out.
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        for word in line.split():
            if word.startswith("!"):
                continue
            m = _APK_CONSTRAINT.match(word)
            if not m:
                w.line(n, line)
                continue
            out.append({"name": m.group("name"), "spec": word})
    return out, w.result()


def parse_apt_extended_states(text):
    """/var/lib/apt/extended_states: "Package: x", "Architecture: amd64", "Auto-Installed: 1" stanzas.

    Returns [{"name", "arch", "auto": bool}]: apt installed the package only as a dependency.
    """
    w = _Warnings()
    out = []
    stanza = {}
    for n, line in _lines(text + "\n"):
        if not line.strip():
            if stanza:
                if "Package" in stanza:
                    out.append({"name": stanza["Package"], "arch": stanza.get("Architecture"),
                                "auto": stanza.get("Auto-Installed") == "1"})
                else:
                    w.add("a stanza without Package ends at line %d" % n)
            stanza = {}
            continue
        key, sep, value = line.partition(":")
        if not sep or " " in key:
            w.line(n, line)
            continue
        stanza[key] = value.strip()
    return out, w.result()


def parse_listen_procs(text):
    """The procs entry: "pid<TAB>field<TAB>value" lines read from /proc/<pid> of listening processes.

    Returns [{"pid", "exe", "comm", "ppid", "cgroup", "unit", "cmdline", "errors": [..]}]: "unit"
    is the systemd service whose cgroup holds the process (None outside a .service), "exe" has a
    " (deleted)" suffix removed (the binary was upgraded since the process started), "cmdline"
    is the list of its arguments (None when not read).  The parents of the listening processes
    are listed too.
    """
    w = _Warnings()
    procs = {}
    order = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        pid = _int(parts[0])
        if len(parts) != 3 or pid is None:
            w.line(n, line)
            continue
        proc = procs.get(pid)
        if proc is None:
            proc = procs[pid] = {"pid": pid, "exe": None, "comm": None, "ppid": None, "cgroup": None,
                                 "unit": None, "cmdline": None, "errors": []}
            order.append(pid)
        field, value = parts[1], parts[2]
        if field == "exe":
            proc["exe"] = value[:-len(" (deleted)")] if value.endswith(" (deleted)") else value
        elif field == "comm":
            proc["comm"] = value
        elif field == "ppid":
            proc["ppid"] = _int(value)
        elif field == "cgroup":
            # cgroup v2 "0::/system.slice/x.service"; v1 "N:name=systemd:/..." is the one to read
            hierarchy, _, path = value.partition(":")
            controllers, _, path = path.partition(":")
            if hierarchy == "0" or controllers == "name=systemd" or proc["cgroup"] is None:
                proc["cgroup"] = path
                units = [c for c in path.split("/") if c.endswith(".service")]
                proc["unit"] = units[-1] if units else None
        elif field == "arg":
            proc["cmdline"] = (proc["cmdline"] or []) + [_unescape_arg(value)]
        elif field == "error":
            proc["errors"].append(value)
        else:
            w.line(n, line, "unknown field")
    for proc in procs.values():
        while proc["cmdline"] and not proc["cmdline"][-1]:
            proc["cmdline"].pop()  # a rewritten title padded with NULs (php-fpm: master process ...)
    return [procs[pid] for pid in order], w.result()


def _unescape_arg(text):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n"}.get(m.group(1), m.group(1)), text)


def parse_dpkg_search(text):
    """`dpkg -S PATH...`: "openssh-server: /usr/sbin/sshd" (several packages comma-separated).

    Returns [{"packages": ["openssh-server"], "path": "/usr/sbin/sshd"}]; diversion lines are skipped.
    """
    w = _Warnings()
    out = []
    for n, line in _lines(text):
        if not line.strip() or line.startswith(("diversion by ", "local diversion ")):
            continue
        head, sep, path = line.partition(": /")
        packages = [p.strip() for p in head.split(",") if p.strip()]
        if not sep or not packages:
            w.line(n, line)
            continue
        out.append({"packages": packages, "path": "/" + path.strip()})
    return out, w.result()


def parse_rpm_owners(text):
    """`rpm -qf --qf '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t[%{FILENAMES}\\t]\\n' PATH...`.

    Returns {"packages": [{"name", "epoch", "version", "release", "arch", "files": [...]}],
    "unowned": [paths rpm says no package owns]}; "(none)" becomes None (a line with no name
    is a warning).
    """
    w = _Warnings()
    packages = []
    unowned = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        m = re.match(r"^file (/.*) is not owned by any package$", line.strip())
        if m:
            unowned.append(m.group(1))
            continue
        parts = line.rstrip("\t").split("\t")
        if len(parts) < 5 or parts[0] in ("", "(none)") or line.startswith("error:"):
            w.line(n, line)
            continue
        meta = [None if p in ("(none)", "") else p for p in parts[:5]]
        packages.append({"name": meta[0], "epoch": meta[1], "version": meta[2], "release": meta[3],
                         "arch": meta[4], "files": parts[5:]})
    if not packages and not unowned:
        return {}, w.result()
    return {"packages": packages, "unowned": unowned}, w.result()


# ---------------------------------------------------------------------------
# Normalizer
# ---------------------------------------------------------------------------
# normalize() turns the parsed entries into snapshot.json.  Pure as well: it
# sees only parsed data, so migdiff can rebuild a snapshot from raw output.

def _get(parsed, capture_id, default=None):
    value = parsed.get(capture_id)
    return default if value in (None, {}, []) else value


def _value(parsed, capture_id):
    return (_get(parsed, capture_id) or {}).get("value")


def normalize(parsed):
    """parsed: {capture id: parser data}.  Returns the snapshot sections (see snapshot.schema.json)."""
    system = _normalize_system(parsed)
    init = _normalize_init(parsed)
    ports = _normalize_ports(parsed)
    owners = file_owners(parsed)
    return {
        "format": SNAPSHOT_FORMAT,
        "format_version": FORMAT_VERSION,
        "system": system,
        "init": init,
        "services": _normalize_services(parsed, init),
        "ports": ports,
        "packages": _normalize_packages(parsed),
        "jobs": _normalize_jobs(parsed, owners),
        "units": _normalize_units(parsed, owners),
        "connections": _normalize_connections(parsed, ports),
        "ssh": _normalize_ssh(parsed),
    }


def _first(*candidates):
    """The first (value, source) whose value is set."""
    for value, source in candidates:
        if value not in (None, "", []):
            return value, source
    return None, None


_REDHAT_IDS = (("red hat", "rhel"), ("centos", "centos"), ("fedora", "fedora"), ("scientific", "scientific"),
               ("oracle", "ol"), ("rocky", "rocky"), ("alma", "almalinux"), ("amazon", "amzn"),
               ("suse linux enterprise", "sles"), ("opensuse", "opensuse"))


def _release_id(name):
    lower = (name or "").lower()
    for needle, distro in _REDHAT_IDS:
        if needle in lower:
            return distro
    return None


def _normalize_system(parsed):
    uname = _get(parsed, "uname-a", {})
    osr = _get(parsed, "os-release") or _get(parsed, "usr-lib-os-release") or {}
    osr_src = "os-release" if _get(parsed, "os-release") else "usr-lib-os-release"
    lsb = _get(parsed, "lsb-release", {})
    rel = _get(parsed, "redhat-release") or _get(parsed, "suse-release") or _get(parsed, "system-release") or {}
    rel_src = [c for c in ("redhat-release", "suse-release", "system-release") if _get(parsed, c)][:1]
    rel_src = rel_src[0] if rel_src else None
    debian = _value(parsed, "debian-version")
    issue = (_get(parsed, "etc-issue") or {}).get("lines") or [None]
    sources = {}

    def pick(field, *candidates):
        value, source = _first(*candidates)
        if source:
            sources[field] = source
        return value

    system = {
        "hostname": pick("hostname", (_value(parsed, "hostname"), "hostname"),
                         (uname.get("node_name"), "uname-a")),
        "kernel_release": pick("kernel_release", (_value(parsed, "uname-r"), "uname-r"),
                               (uname.get("kernel_release"), "uname-a")),
        "kernel_version": pick("kernel_version", (uname.get("kernel_version"), "uname-a")),
        "arch": pick("arch", (_value(parsed, "uname-m"), "uname-m"), (uname.get("machine"), "uname-a")),
        "distro_id": pick("distro_id", (osr.get("ID"), osr_src),
                          ((lsb.get("DISTRIB_ID") or "").lower() or None, "lsb-release"),
                          (_release_id(rel.get("name") or rel.get("line")), rel_src),
                          ("debian" if debian else None, "debian-version")),
        "distro_version": pick("distro_version", (osr.get("VERSION_ID"), osr_src),
                               (lsb.get("DISTRIB_RELEASE"), "lsb-release"), (rel.get("version"), rel_src),
                               (debian, "debian-version")),
        "distro_codename": pick("distro_codename", (osr.get("VERSION_CODENAME"), osr_src),
                                (osr.get("UBUNTU_CODENAME"), osr_src),
                                (lsb.get("DISTRIB_CODENAME"), "lsb-release"), (rel.get("codename"), rel_src)),
        "distro_name": pick("distro_name", (osr.get("NAME"), osr_src), (lsb.get("DISTRIB_ID"), "lsb-release"),
                            (rel.get("name"), rel_src)),
        "distro_pretty_name": pick("distro_pretty_name", (osr.get("PRETTY_NAME"), osr_src),
                                   (lsb.get("DISTRIB_DESCRIPTION"), "lsb-release"), (rel.get("line"), rel_src),
                                   (issue[0], "etc-issue")),
        "distro_like": (osr.get("ID_LIKE") or "").split(),
        "debian_version": debian,
        "issue": issue[0],
        "machine_id": _value(parsed, "machine-id"),
    }
    system["sources"] = sources
    return system


def _normalize_init(parsed):
    pid1 = _value(parsed, "pid1-comm")
    units = _get(parsed, "systemctl-units-service", []) + _get(parsed, "systemctl-units-target", [])
    upstart = _get(parsed, "initctl-list", [])
    present = []
    if pid1 == "systemd" or units or _get(parsed, "systemctl-unit-files-service"):
        present.append("systemd")
    if upstart or _get(parsed, "upstart-jobs") or _get(parsed, "initctl-show-config"):
        present.append("upstart")
    if _get(parsed, "init-d") or _get(parsed, "rc-links") or _get(parsed, "chkconfig-list"):
        present.append("sysv")
    openrc_level, openrc_source = openrc_runlevel(parsed)
    if openrc_level or _get(parsed, "rc-update-show-v") or _get(parsed, "openrc-runlevels"):
        present.append("openrc")
    if pid1 == "systemd":
        active = "systemd"
    elif pid1 in ("init", "upstart") and upstart:
        active = "upstart"
    elif openrc_level and pid1 in ("init", "openrc-init", "busybox"):
        # sysvinit's init (Debian), busybox init (Alpine) or openrc-init starting OpenRC, which
        # booted the host: it wrote its runlevel to /run/openrc, or rc-status says what started
        active = "openrc"
    elif pid1 == "init":
        active = "sysv"
    else:
        active = "unknown"
    runlevel = _get(parsed, "runlevel", {})
    who = _get(parsed, "who-r", {})
    default_runlevel = (_get(parsed, "inittab", {}) or {}).get("default_runlevel")
    source = "inittab" if default_runlevel else None
    if not default_runlevel:
        for job in _get(parsed, "upstart-jobs", []):
            if job["name"] == "rc-sysinit" and job["env"].get("DEFAULT_RUNLEVEL"):
                default_runlevel, source = job["env"]["DEFAULT_RUNLEVEL"], "upstart-jobs"
    current = runlevel.get("current") or who.get("current")
    default_target = _value(parsed, "systemctl-get-default")
    return {
        "pid1": pid1,
        "active": active,
        "present": present,
        "default_runlevel": default_runlevel,
        "current_runlevel": current if current not in ("unknown",) else None,
        "previous_runlevel": runlevel.get("previous") or who.get("previous"),
        "default_target": default_target,
        "active_targets": sorted(u["unit"] for u in _get(parsed, "systemctl-units-target", [])
                                 if u["unit"].endswith(".target") and u["active"] == "active"),
        "openrc_runlevel": openrc_level,
        "sources": {"default_runlevel": source,
                    "current_runlevel": "runlevel" if runlevel.get("current") else ("who-r" if who else None),
                    "default_target": "systemctl-get-default" if default_target else None,
                    "openrc_runlevel": openrc_source},
    }


# OpenRC's runlevels that are no boot target of their own: what a service in one of them does
OPENRC_BOOT = ("sysinit", "boot", "default")  # a host boots through these three, in this order


def openrc_runlevel(parsed):
    """(OpenRC's current runlevel, its source): /run/openrc/softlevel, which OpenRC writes when it
    enters a runlevel, else the one non-boot runlevel `rc-status -a` shows services started in
    (None when OpenRC did not boot the host)."""
    level = _value(parsed, "openrc-softlevel")
    if level:
        return level, "openrc-softlevel"
    started = set(r["runlevel"] for r in _get(parsed, "rc-status-a", [])
                  if not r["dynamic"] and r["status"] == "started")
    if started:
        level = [x for x in started if x not in ("sysinit", "boot")]
        return (level[0] if len(level) == 1 else "default" if "default" in level or not level else None,
                "rc-status-a")
    return None, None


_UPSTART_RUNLEVELS = re.compile(r"runlevel\s+\[(!?)([0-6S]+)\]")
ENABLED_STATES = ("enabled", "enabled-runtime")
DISABLED_STATES = ("disabled", "masked", "masked-runtime")


def upstart_runlevels(start_on, stop_on):
    """{"2": "on", ...} from Upstart "start on runlevel [2345]" / "stop on runlevel [!2345]"."""
    levels = {}
    for expr, state in ((stop_on, "off"), (start_on, "on")):
        m = _UPSTART_RUNLEVELS.search(expr or "")
        if not m:
            continue
        chosen = m.group(2) if not m.group(1) else "".join(c for c in "0123456" if c not in m.group(2))
        for level in chosen:
            levels[level] = state
    return levels


def _service_name(unit):
    return unit[:-len(".service")] if unit.endswith(".service") else unit


def _normalize_services(parsed, init):
    services = {}

    def svc(name, init_system, source):
        rec = services.get(name)
        if rec is None:
            rec = services[name] = {"name": name, "init": init_system, "unit": None, "running": None,
                                    "state": None, "enabled": None, "enabled_state": None,
                                    "disabled_by": None, "daemons": None, "runlevels": {}, "targets": [],
                                    "sources": []}
        if source not in rec["sources"]:
            rec["sources"].append(source)
        return rec

    order = {"systemd": (_svc_systemd, _svc_upstart, _svc_sysv, _svc_openrc),
             "upstart": (_svc_upstart, _svc_sysv, _svc_systemd, _svc_openrc),
             "openrc": (_svc_openrc, _svc_sysv, _svc_upstart, _svc_systemd)}.get(
                 init["active"], (_svc_sysv, _svc_upstart, _svc_systemd, _svc_openrc))
    view = parsed
    if init["active"] == "openrc":
        # OpenRC starts what /etc/runlevels holds: rc?.d links left by sysv-rc or update-rc.d,
        # and chkconfig's view of them, decide nothing
        view = dict((k, v) for k, v in parsed.items() if k not in ("rc-links", "chkconfig-list",
                                                                   "sysv-rc-conf-list"))
    for step in order:
        step(view, svc)
    if init["active"] == "openrc":
        _openrc_crashed(parsed, services)
    default_rl = init["default_runlevel"] or init["current_runlevel"]
    switches = _default_switches(parsed) if init["active"] != "systemd" else {}
    for rec in services.values():
        # an OpenRC script's enabled comes from its OpenRC runlevels (_svc_openrc)
        if rec["init"] != "openrc" and rec["enabled"] is None and default_rl and default_rl in rec["runlevels"]:
            rec["enabled"] = rec["runlevels"][default_rl] == "on"
        if rec["init"] in ("sysv", "openrc") and rec["name"] in switches:
            # the links are there, but the script reads its /etc/default file and does nothing
            rec["disabled_by"] = switches[rec["name"]]
            rec["enabled"] = False
            rec["enabled_state"] = "off in " + switches[rec["name"]]
        rec["targets"].sort()
        rec["sources"].sort()
    return services


_SWITCH = re.compile(r"(?:^|_)(?:ENABLED?|START|RUN)(?:_|$)")


def _default_switches(parsed):
    """{script name: "/etc/default/rsync: RSYNC_ENABLE=false"} for the /etc/default files that turn
    their init script off (Debian's RSYNC_ENABLE=false, ENABLED=0, START=no ...)."""
    found = {}
    for f in _get(parsed, "etc-default", []):
        for key in sorted(f["vars"]):
            if _SWITCH.search(key) and f["vars"][key].strip().lower() in ("false", "no", "0", "off", "n"):
                found[f["name"]] = "%s: %s=%s" % (f["file"], key, f["vars"][key])
                break
    return found


def _svc_systemd(parsed, svc):
    for u in _get(parsed, "systemctl-units-service", []):
        if u["load"] == "not-found":
            continue  # referenced by another unit, not installed
        rec = svc(_service_name(u["unit"]), "systemd", "systemctl-units-service")
        rec["unit"] = u["unit"]
        rec["state"] = "%s/%s" % (u["active"], u["sub"])
        rec["running"] = u["active"] in ("active", "reloading", "deactivating")
    for f in _get(parsed, "systemctl-unit-files-service", []):
        if f["state"] == "alias":
            continue  # another name of a unit listed under its own name
        rec = svc(_service_name(f["unit_file"]), "systemd", "systemctl-unit-files-service")
        rec["unit"] = rec["unit"] or f["unit_file"]
        rec["enabled_state"] = f["state"]
        if f["state"] in ENABLED_STATES:
            rec["enabled"] = True
        elif f["state"] in DISABLED_STATES:
            rec["enabled"] = False
    known = _known(parsed)
    for capture_id in ("systemctl-deps-default", "systemctl-deps-multi-user"):
        stack = []
        for node in _get(parsed, capture_id, []):
            del stack[node["depth"]:]
            stack.append(node["unit"])
            if not node["unit"].endswith(".service"):
                continue
            targets = [u for u in stack[:-1] if u.endswith(".target")]
            name = _service_name(node["unit"])
            if targets and name in known:
                rec = svc(name, "systemd", capture_id)
                if targets[-1] not in rec["targets"]:
                    rec["targets"].append(targets[-1])


def _known(parsed):
    """Service names systemd lists as loaded or installed (dependency trees also name missing units)."""
    names = set()
    for u in _get(parsed, "systemctl-units-service", []):
        if u["load"] != "not-found":
            names.add(_service_name(u["unit"]))
    for f in _get(parsed, "systemctl-unit-files-service", []):
        names.add(_service_name(f["unit_file"]))
    return names


def _svc_sysv(parsed, svc):
    texts = dict((s["name"], s) for s in _get(parsed, "init-scripts", []))
    for script in _get(parsed, "init-d", []):
        if script["target"] and script["target"].endswith("upstart-job"):
            continue  # an Upstart job's compatibility link, not a SysV script
        rec = svc(script["name"], "sysv", "init-d")
        if script["name"] in texts:  # what it starts; nothing: a one-shot script (rmnologin, rc.local)
            rec["daemons"] = texts[script["name"]]["daemons"] + texts[script["name"]]["pidfiles"]
    links = _get(parsed, "rc-links", [])
    for link in links:
        rec = svc(link["script"], "sysv", "rc-links")
        rec["runlevels"][link["runlevel"]] = "on" if link["action"] == "S" else "off"
    chk = _get(parsed, "chkconfig-list", {})
    for entry in chk.get("services", []):
        rec = svc(entry["name"], "sysv", "chkconfig-list")
        if not links:
            rec["runlevels"].update(entry["runlevels"])
    for entry in chk.get("xinetd", []):
        rec = svc(entry["name"], "xinetd", "chkconfig-list")
        rec["enabled_state"] = entry["state"]
        rec["enabled"] = entry["state"] == "on"
    if not links and not chk:
        _svc_sysv_rc_conf(parsed, svc)
    for entry in _get(parsed, "service-status-all", []):
        rec = svc(entry["name"], "sysv", "service-status-all")
        if rec["running"] is None and entry["status"] != "unknown":
            rec["running"] = entry["status"] == "running"
            rec["state"] = rec["state"] or entry["status"]


def _svc_openrc(parsed, svc):
    """OpenRC: the runlevels each script is in (rc-update show -v, else the /etc/runlevels links)
    and its status (rc-status -a).  A script in sysinit, boot or default starts at boot."""
    levels = {}
    for row in _get(parsed, "rc-update-show-v", []):
        levels.setdefault(row["name"], set()).update(row["runlevels"])
        svc(row["name"], "openrc", "rc-update-show-v")
    for link in _get(parsed, "openrc-runlevels", []):
        if not link["stacked"]:
            levels.setdefault(link["name"], set()).add(link["runlevel"])
            svc(link["name"], "openrc", "openrc-runlevels")
    for name in sorted(levels):
        rec = svc(name, "openrc", "rc-update-show-v")
        for level in levels[name]:
            rec["runlevels"][level] = "on"
        boot = [x for x in OPENRC_BOOT if x in levels[name]]
        rec["enabled"] = bool(boot)
        shown = boot or sorted(levels[name])
        rec["enabled_state"] = ("in runlevel%s %s" % ("s" if len(shown) > 1 else "", ", ".join(shown))
                                if shown else "in no runlevel")
    status = {}
    for row in _get(parsed, "rc-status-a", []):
        status.setdefault(row["name"], row)  # the same status under each runlevel it is listed in
    for name, row in status.items():
        rec = svc(name, "openrc", "rc-status-a")
        rec["state"] = row["status"]
        rec["running"] = row["status"] in ("started", "starting", "stopping")
        if row["dynamic"] and not rec["runlevels"]:
            # in no runlevel, but started: by hand (manual), or because a started service needs
            # it or a device came (needed/wanted, hotplugged), which happens again at boot
            manual = row["runlevel"] == "manual"
            rec["enabled"] = False if manual else None
            rec["enabled_state"] = "started by hand" if manual else "started (%s)" % row["runlevel"]


def _openrc_crashed(parsed, services):
    """OpenRC says "crashed" when the daemon of one of its own scripts died; of an LSB script
    (Debian's) it only knows that it started it.  A started script that names a daemon's pid file
    and whose own status (service --status-all) says stopped has lost its daemon: not running,
    "crashed".  (A one-shot script, procps's sysctl, has no pid file and always says stopped.)"""
    own = dict((e["name"], e["status"]) for e in _get(parsed, "service-status-all", []))
    for rec in services.values():
        if rec["init"] == "openrc" and rec["state"] == "started" and own.get(rec["name"]) in ("stopped", "dead") \
                and any(d.endswith(".pid") for d in rec["daemons"] or ()):
            rec["state"], rec["running"] = "crashed", False


def _svc_sysv_rc_conf(parsed, svc):
    """sysv-rc-conf cuts names at 12 characters: complete them from /etc/init.d when unambiguous."""
    scripts = [s["name"] for s in _get(parsed, "init-d", [])]
    for entry in (_get(parsed, "sysv-rc-conf-list", {}) or {}).get("services", []):
        name = cut = entry["name"]
        if name not in scripts:
            longer = [s for s in scripts if s.startswith(name)]
            name = longer[0] if len(longer) == 1 else name
        rec = svc(name, "sysv", "sysv-rc-conf-list")
        if name != cut:
            rec["cut_name"] = cut  # said, so that a reader can tell the name was completed here
        for level, state in entry["runlevels"].items():
            rec["runlevels"][level] = state


def _svc_upstart(parsed, svc):
    for job in _get(parsed, "initctl-list", []):
        name = job["name"] + (" (%s)" % job["instance"] if job["instance"] else "")
        rec = svc(name, "upstart", "initctl-list")
        rec["state"] = "%s/%s" % (job["goal"], job["state"])
        rec["running"] = job["state"] == "running"
    configs = {}
    for job in _get(parsed, "upstart-jobs", []):
        configs.setdefault(job["name"], {}).update(
            dict((k, v) for k, v in job.items() if v not in (None, False, {}) or k == "name"))
        if job["override"] and job["manual"]:
            configs[job["name"]]["manual"] = True
    for job in _get(parsed, "initctl-show-config", []):
        merged = configs.setdefault(job["name"], {"name": job["name"]})
        for key in ("start_on", "stop_on"):
            merged[key] = merged.get(key) or job[key]
    for name, job in configs.items():
        rec = svc(name, "upstart", "upstart-jobs" if "file" in job else "initctl-show-config")
        rec["runlevels"].update(upstart_runlevels(job.get("start_on"), job.get("stop_on")))
        if job.get("manual"):
            rec["enabled"], rec["enabled_state"] = False, "manual"
        elif job.get("start_on"):
            rec["enabled"], rec["enabled_state"] = True, "start on " + job["start_on"]
        else:
            rec["enabled_state"] = "no start on"


def _family(address):
    if ":" in address:
        return "inet6"
    if re.match(r"^\d+\.\d+\.\d+\.\d+$", address):
        return "inet"
    return None


def _bind(address):
    """Address without brackets and scope: ("127.0.0.53", "lo") from "127.0.0.53%lo"."""
    host, sep, iface = address.partition("%")
    return host.strip("[]"), (iface or None)


def _normalize_ports(parsed):
    ports = {}
    lsof_users = {}

    def add(protocol, address, port, path, procs, source, family=None):
        bind, iface = _bind(address) if address is not None else (None, None)
        key = (protocol, bind, port, path)
        rec = ports.get(key)
        if rec is None:
            rec = ports[key] = {"protocol": protocol, "family": family or (_family(bind) if bind else "unix"),
                                "bind": bind, "port": port, "path": path, "interface": iface,
                                "processes": [], "uid": None, "source": source}
        for p in procs:
            if p["pid"] not in [q["pid"] for q in rec["processes"]]:
                rec["processes"].append({"name": p["name"], "pid": p["pid"], "user": None})
        return rec

    lsof = _get(parsed, "lsof-nPi", [])
    for row in lsof:
        lsof_users[row["pid"]] = row["user"]
    if _get(parsed, "ss-nlpaxtudw"):
        _ports_from_ss(parsed, add)
    elif _get(parsed, "netstat-nlp"):
        _ports_from_netstat(parsed, add)
    else:
        _ports_from_proc(parsed, add, "proc-net-")
    _ports_from_proc_uids(parsed, ports)
    _ports_from_lsof(lsof, ports)
    procs = dict((p["pid"], p) for p in _get(parsed, "listen-procs", []))
    owners = exe_owners(parsed)
    service_of = _process_services(parsed, procs)
    out = []
    for rec in ports.values():
        for p in rec["processes"]:
            p["user"] = p["user"] or lsof_users.get(p["pid"])
            info = procs.get(p["pid"]) or {}
            if rec["source"].startswith("netstat") and info.get("comm") and p["name"] != info["comm"] \
                    and _cut_by_netstat(p["name"]):
                if p["name"] is not None:  # an unnamed process is named, not completed
                    p["cut_name"] = p["name"]
                p["name"] = info["comm"]
            p["exe"] = info.get("exe")
            p["unit"] = info.get("unit")
            p["package"] = owners.get(p["exe"]) if p["exe"] else None
            p["service"] = service_of(p["pid"])
        rec["processes"].sort(key=lambda p: (p["pid"] is None, p["pid"]))
        out.append(rec)
    out.sort(key=lambda r: (r["protocol"], r["port"] or 0, r["bind"] or "", r["path"] or ""))
    return out


def _cut_by_netstat(name):
    """Whether netstat's PID/Program name column cut this name: it keeps 15 characters of the
    process title, which a daemon may have rewritten ("sshd: /usr/sbin/sshd -D [listener]")."""
    return name is None or len(name) >= 15 or ": " in name or name.endswith("/")


def _process_services(parsed, procs):
    """A function pid -> the service the process belongs to, or None.

    Under systemd the process's cgroup names its unit.  Otherwise (SysV) the process or one of
    its parents is found in a pid file that an init script names (or one named after the
    script), or runs a program or script an init script starts (start-stop-daemon --exec, the
    paths after its "--", DAEMON=); a program several scripts start decides nothing.
    """
    scripts = _get(parsed, "init-scripts", [])
    names = set(s["name"] for s in scripts)
    by_pidfile, by_program = {}, {}
    for script in scripts:
        for path in script["pidfiles"]:
            by_pidfile.setdefault(_run_path(path), script["name"])
        for path in script["daemons"]:
            by_program.setdefault(path, set()).add(script["name"])
    by_pid = {}
    for f in _get(parsed, "pid-files", []):
        owner = by_pidfile.get(_run_path(f["file"])) or (f["name"] if f["name"] in names else None)
        if owner:
            by_pid.setdefault(f["pid"], owner)

    def one(proc):
        if proc.get("unit") and proc["unit"].endswith(".service"):
            return proc["unit"][:-len(".service")]
        if proc["pid"] in by_pid:
            return by_pid[proc["pid"]]
        runs = [a for a in (proc.get("cmdline") or [])[1:] if a.startswith("/")]
        if proc.get("exe") and not INTERPRETER.match(proc["exe"].rsplit("/", 1)[-1]):
            runs.append(proc["exe"])  # an interpreter runs many scripts: its script decides
        for path in runs:
            owners = by_program.get(path) or ()
            if len(owners) == 1:
                return list(owners)[0]
        return None

    def service_of(pid):
        seen = set()
        while pid in procs and pid not in seen and len(seen) < 16:
            seen.add(pid)
            found = one(procs[pid])
            if found:
                return found
            pid = procs[pid].get("ppid")
        return None
    return service_of


# Programs that run other programs' code: the script they run, not the program, names the service.
INTERPRETER = re.compile(r"^(?:python|perl|ruby|node|nodejs|java|php|php-cgi|lua|tclsh|sh|bash|dash|ksh|busybox)[\d.]*$")


def _run_path(path):
    return path[len("/var"):] if path.startswith("/var/run/") else path


def file_owners(parsed):
    """{file: package} for the workload files asked about (files-dpkg-S, files-rpm-qf); a file
    the package database was asked about and does not name is the workload's own (None)."""
    asked = workload_files(parsed)
    owners = dict((path, None) for path in asked) if (_get(parsed, "files-dpkg-S") is not None
                                                       or _get(parsed, "files-rpm-qf") is not None) else {}
    for row in _get(parsed, "files-dpkg-S", []):
        if row["path"] in asked:
            owners[row["path"]] = row["packages"][0].split(":")[0]
    for pkg in (_get(parsed, "files-rpm-qf", {}) or {}).get("packages", []):
        for path in pkg["files"]:
            if path in asked:
                owners[path] = pkg["name"]
    return owners


def _owner(owners, path):
    """The package owning a workload file: a name, None (no package: the workload's own), or
    "?" (the package database was not asked: unknown)."""
    return owners.get(path, "?") if owners else "?"


def _normalize_jobs(parsed, owners):
    """Every scheduled job, wherever it is defined: system crontabs, users' crontabs, cron's
    run-parts folders, systemd timers, at.  "package" is the package owning its definition (None:
    an admin's; "?": not known)."""
    jobs = []

    def add(kind, where, user, schedule, command, source, package="?", unit=None):
        jobs.append({"kind": kind, "where": where, "user": user, "schedule": schedule, "command": command,
                     "unit": unit, "package": package, "source": source})
    for row in _get(parsed, "cron-files", []):
        kind = "anacron" if row["file"].endswith("anacrontab") else "cron"
        add(kind, row["file"], row["user"], row["schedule"], row["command"], "cron-files", _owner(owners, row["file"]))
    for row in _get(parsed, "user-crontabs", []):
        add("crontab", "crontab " + row["user"], row["user"], row["schedule"], row["command"], "user-crontabs", None)
    for row in _get(parsed, "cron-scripts", []):
        add("cron-script", row["dir"], "root", row["dir"][len("cron."):] if row["dir"].startswith("cron.") else
            row["dir"], row["file"], "cron-scripts", _owner(owners, row["file"]) if row["type"] == "file" else "?")
    local = dict((u["unit"], u) for u in _get(parsed, "systemd-local", []) if not u["dropin"])
    for row in _get(parsed, "systemctl-timers", []):
        timer, service = local.get(row["unit"]), local.get(row["activates"] or "")
        schedule = None
        if timer:
            found = [timer["settings"].get(k) for k in ("OnCalendar", "OnBootSec", "OnUnitActiveSec", "OnActiveSec")]
            schedule = "; ".join(v[0] for v in found if v) or None
        command = (service["settings"].get("ExecStart") or [None])[0] if service else None
        owner = _owner(owners, timer["file"]) if timer else "?"
        add("timer", row["unit"], (service["settings"].get("User") or ["root"])[0] if service else None, schedule,
            command, "systemctl-timers", owner, row["activates"])
    for row in _get(parsed, "atq", []):
        add("at", "at %d" % row["job"], row["user"], row["when"], None, "atq", None)
    jobs.sort(key=lambda j: (j["kind"], j["where"], j["command"] or ""))
    return jobs


def _normalize_units(parsed, owners):
    """The unit files, drop-ins, init scripts and Upstart jobs on the host, each with the package
    owning its file (None: no package does, an admin's; "?": not known).  Units a package ships in
    /lib/systemd/system are not listed: only /etc and /run, where admins put theirs."""
    units = []
    for row in _get(parsed, "systemd-local", []):
        settings = row["settings"]
        units.append({"name": row["unit"] + ("/" + row["file"].rsplit("/", 1)[-1] if row["dropin"] else ""),
                      "kind": "drop-in" if row["dropin"] else "unit", "file": row["file"],
                      "package": _owner(owners, row["file"]),
                      "description": (settings.get("Description") or [None])[0],
                      "exec": (settings.get("ExecStart") or [None])[0],
                      "wanted_by": sorted(set(" ".join(settings.get("WantedBy") or []).split())),
                      "source": "systemd-local"})
    for row in _get(parsed, "init-scripts", []):
        runs = [d for d in row["daemons"] if not INTERPRETER.match(d.rsplit("/", 1)[-1])] or row["daemons"]
        units.append({"name": row["name"], "kind": "init-script", "file": row["file"],
                      "package": _owner(owners, row["file"]), "description": row["description"],
                      "exec": (runs or [None])[0], "wanted_by": [], "source": "init-scripts"})
    for job in _get(parsed, "upstart-jobs", []):
        units.append({"name": job["name"] + (".override" if job["override"] else ""), "kind": "upstart-job",
                      "file": job["file"], "package": _owner(owners, job["file"]), "description": job["description"],
                      "exec": None, "wanted_by": [], "source": "upstart-jobs"})
    units.sort(key=lambda u: (u["kind"], u["name"]))
    return units


def _loopback(address):
    address = (address or "").split("%")[0].strip("[]")
    return address.startswith("127.") or address in ("::1", "localhost") or address.startswith("::ffff:127.")


def _normalize_connections(parsed, ports):
    """Established TCP connections, reduced: the remote endpoints this host connects to (its
    dependencies: a database or an API on another host), per process, and the remote addresses
    that connect to its listening ports (its clients), counted.  Loopback stays local."""
    rows = []
    for row in _get(parsed, "ss-ntup", []):
        if row["netid"] == "tcp" and row["state"] == "ESTAB":
            rows.append((row["local_address"], row["local_port"], row["peer_address"], row["peer_port"],
                         [p["name"] for p in row["processes"]], [p["pid"] for p in row["processes"]], "ss-ntup"))
    if not rows:
        for row in _get(parsed, "netstat-ntp", []):
            if row["proto"].startswith("tcp") and row["state"] == "ESTABLISHED":
                rows.append((row["local_address"], row["local_port"], row["foreign_address"], row["foreign_port"],
                             [row["program"]] if row["program"] else [], [row["pid"]] if row["pid"] else [],
                             "netstat-ntp"))
    if not rows:
        for cid in ("proc-net-tcp", "proc-net-tcp6"):
            for row in _get(parsed, cid, []):
                if row["state_code"] == "01":
                    rows.append((row["local_address"], str(row["local_port"]), row["remote_address"],
                                 str(row["remote_port"]), [], [], cid))
    listening = set(p["port"] for p in ports if p["protocol"] == "tcp")
    procs = dict((p["pid"], p) for p in _get(parsed, "listen-procs", []))
    service_of = _process_services(parsed, procs)
    deps, clients = {}, {}
    for local, lport, peer, pport, names, pids, source in rows:
        if _loopback(peer) or _int(lport) is None or _int(pport) is None:
            continue
        peer = peer.split("%")[0]
        if peer.startswith("::ffff:") and "." in peer:
            peer = peer[len("::ffff:"):]  # an IPv4 peer seen through a dual-stack socket
        if int(lport) in listening:
            key = (int(lport), peer)
            clients[key] = clients.get(key, 0) + 1
            continue
        key = (peer, int(pport), names[0] if names else None)
        dep = deps.setdefault(key, {"remote": peer, "port": int(pport), "process": key[2],
                                    "service": None, "count": 0, "source": source})
        dep["count"] += 1
        for pid in pids:
            dep["service"] = dep["service"] or service_of(pid)
    return {"dependencies": sorted(deps.values(), key=lambda d: (d["remote"], d["port"], d["process"] or "")),
            "clients": [{"port": port, "remote": peer, "count": n} for (port, peer), n in sorted(clients.items())]}


def _normalize_ssh(parsed):
    """The host's SSH trust: the users' own keys (with whether the private half is there, never
    its content), the keys allowed to log in, and sshd's port and root login policy."""
    private = set((row["user"], row["name"]) for row in _get(parsed, "ssh-dirs", []) if row["private_key"])
    keys, authorized = [], []
    for row in _get(parsed, "ssh-keys", []):
        if row["kind"] == "identity":
            name = row["file"].rsplit("/", 1)[-1][:-len(".pub")]
            keys.append({"user": row["user"], "type": row["type"], "fingerprint": row["fingerprint"],
                         "private_key": (row["user"], name) in private, "file": row["file"]})
        else:
            authorized.append({"user": row["user"], "type": row["type"], "fingerprint": row["fingerprint"],
                               "comment": row["comment"], "file": row["file"]})
    config = _get(parsed, "sshd-T") or _get(parsed, "sshd-config") or {}
    source = "sshd-T" if _get(parsed, "sshd-T") else ("sshd-config" if config else None)
    return {"keys": keys, "authorized": authorized,
            "sshd": {"ports": sorted(set(_int(p) for p in config.get("port", []) if _int(p) is not None)),
                     "permit_root_login": (config.get("permitrootlogin") or [None])[0], "source": source}}


def exe_owners(parsed):
    """{executable: package} from dpkg -S and rpm -qf, under either /usr-merged name."""
    owners = {}
    for row in _get(parsed, "listen-dpkg-S", []):
        for name in exe_aliases(row["path"]):
            owners.setdefault(name, row["packages"][0].split(":")[0])
    for pkg in (_get(parsed, "listen-rpm-qf", {}) or {}).get("packages", []):
        for path in pkg["files"]:
            for name in exe_aliases(path):
                owners.setdefault(name, pkg["name"])
    return owners


def _ports_from_ss(parsed, add):
    for row in _get(parsed, "ss-nlpaxtudw", []):
        netid, state = row["netid"], row["state"]
        if netid in ("tcp", "udp") and (state == "LISTEN" or (netid == "udp" and state == "UNCONN")):
            port = _int(row["local_port"])
            if port is not None and (netid == "tcp" or row["peer_port"] in ("*", "0", "")):
                add(netid, row["local_address"], port, None, row["processes"], "ss-nlpaxtudw")
        elif netid in ("u_str", "u_seq", "u_seqpacket") and state == "LISTEN":
            path = row["local_address"]
            if path and path != "*":
                add("unix", None, None, path, row["processes"], "ss-nlpaxtudw")
        elif netid == "u_dgr" and row["peer_port"] in ("0", "*", ""):
            # a datagram socket bound to a name and connected to no peer receives: the journal's
            # and syslog's /dev/log, an MTA's or systemd's notify socket (ss says ESTAB or UNCONN)
            path = row["local_address"]
            if path and path != "*":
                add("unix", None, None, path, row["processes"], "ss-nlpaxtudw")


def _ports_from_netstat(parsed, add):
    for row in _get(parsed, "netstat-nlp", []):
        procs = [{"name": row["program"], "pid": row["pid"]}] if row["pid"] is not None else []
        proto = row["proto"].rstrip("6")
        if proto == "tcp" and row["state"] == "LISTEN" or proto == "udp":
            port = _int(row["local_port"])
            if port is not None:
                fam = "inet6" if row["proto"].endswith("6") else "inet"
                add(proto, row["local_address"], port, None, procs, "netstat-nlp", fam)
        elif proto == "unix" and row["state"] == "LISTENING" and row["path"]:
            add("unix", None, None, row["path"], procs, "netstat-nlp")


def _proc_listening(parsed, prefix):
    for proto, suffix, family in (("tcp", "tcp", "inet"), ("tcp", "tcp6", "inet6"),
                                  ("udp", "udp", "inet"), ("udp", "udp6", "inet6")):
        for row in _get(parsed, prefix + suffix, []):
            if proto == "tcp" and row["state_code"] == "0A" or proto == "udp" and row["state_code"] == "07" \
                    and row["remote_port"] == 0:
                yield proto, family, prefix + suffix, row


def _ports_from_proc(parsed, add, prefix):
    for proto, family, source, row in _proc_listening(parsed, prefix):
        add(proto, row["local_address"], row["local_port"], None, [], source, family)
    for row in _get(parsed, prefix + "unix", []):
        # /proc does not name a datagram socket's peer: one bound to a name is taken as receiving
        if (row["listening"] or row["type"] == "DGRAM") and row["path"]:
            add("unix", None, None, row["path"], [], prefix + "unix")


def _ports_from_proc_uids(parsed, ports):
    for proto, family, source, row in _proc_listening(parsed, "proc-net-"):
        rec = ports.get((proto, row["local_address"], row["local_port"], None))
        if rec is not None and rec["uid"] is None:
            rec["uid"] = row["uid"]


def _ports_from_lsof(lsof, ports):
    """Fill in processes that ss/netstat could not name from lsof rows of the same socket."""
    by_port = {}
    for rec in ports.values():
        by_port.setdefault((rec["protocol"], rec["port"]), []).append(rec)
    for row in lsof:
        m = re.match(r"^(.*):(\d+)(?: \((LISTEN)\))?$", row["name"] or "")
        proto = (row["node"] or "").lower()
        if not m or proto not in ("tcp", "udp") or (proto == "tcp" and not m.group(3)):
            continue
        host = m.group(1).strip("[]")
        for rec in by_port.get((proto, int(m.group(2))), ()):
            if not rec["processes"] and (rec["bind"] == host or host == "*" and rec["bind"] in ("0.0.0.0", "::", "*")):
                rec["processes"].append({"name": row["command"], "pid": row["pid"], "user": row["user"]})


def _srpm_name(srpm):
    """ "openssh-7.4p1-21.el7.src.rpm" -> "openssh"."""
    if not srpm:
        return None
    base = re.sub(r"\.(?:no)?src\.rpm$", "", srpm)
    parts = base.rsplit("-", 2)
    return parts[0] if len(parts) == 3 and parts[0] else None


def split_dpkg_version(version):
    """ "1:8.4p1-5+deb11u3" -> ("1", "8.4p1", "5+deb11u3"); no epoch / revision gives None."""
    epoch, sep, rest = version.partition(":")
    if not sep or not epoch.isdigit():
        epoch, rest = None, version
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        return epoch, rest, None
    return epoch, upstream, revision


def _normalize_packages(parsed):
    out = []

    apt = _get(parsed, "apt-extended-states")
    # apt's record of why a package is there (by name: apt files arch "all" packages under the
    # native arch); a package it does not list was asked for by name
    auto = set(p["name"] for p in apt or [] if p["auto"])

    # apk's world file lists what the admin asked for; everything else came as a dependency
    world = set(p["name"] for p in _get(parsed, "apk-world", []))

    def add(manager, name, epoch, version, release, arch, status, source, **facts):
        how = (name in auto) if manager == "dpkg" and apt else None
        if manager == "apk" and world:
            how = name not in world
        record = {"manager": manager, "name": name, "epoch": epoch, "version": version,
                  "release": release, "arch": arch, "status": status, "auto": how, "source": source,
                  "source_package": None, "priority": None, "essential": None, "section": None,
                  "transaction": None, "dependents": None}
        record.update(facts)
        out.append(record)

    if _get(parsed, "dpkg-query"):
        for p in parsed["dpkg-query"]:
            if p["status"] != "not-installed":
                add("dpkg", p["name"], *(split_dpkg_version(p["version"]) + (p["arch"], p["status"], "dpkg-query")),
                    source_package=p.get("source"), priority=p.get("priority"), essential=p.get("essential"),
                    section=p.get("section"), dependents=p.get("dependents"))
    else:
        for p in _get(parsed, "dpkg-l", []):
            if p["status"] != "not-installed":
                name, _, arch = p["name"].partition(":")
                add("dpkg", name, *(split_dpkg_version(p["version"]) + (p["arch"] or arch or None, p["status"], "dpkg-l")))
    rpm_source = "rpm-qa-qf" if _get(parsed, "rpm-qa-qf") else "rpm-qa"
    for p in _get(parsed, rpm_source, []):
        add("rpm", p["name"], p["epoch"], p["version"], p["release"], p["arch"], "installed", rpm_source,
            source_package=_srpm_name(p.get("source_rpm")), transaction=p.get("transaction"))
    for p in _get(parsed, "apk-info", []):
        version, _, release = p["version"].rpartition("-")
        add("apk", p["name"], None, version, release, None, "installed", "apk-info")
    out.sort(key=lambda p: (p["manager"], p["name"], p["arch"] or "", p["epoch"] or "", p["version"] or "",
                            p["release"] or ""))
    return out


# ---------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------
# Bundles may have to leave a site without its names and addresses.  Hostnames
# (label by label), IPv4 and IPv6 addresses (also in /proc/net's hex form, and
# an IPv4 address seen through an IPv6 socket as ::ffff:a.b.c.d), MAC addresses
# and human user names (uid >= 1000, with their full names) are replaced in
# every raw file by pseudonyms derived from a key with HMAC-SHA256, so two
# hosts redacted with the same key still line up; loopback, wildcard and
# broadcast addresses are kept.  parsed.json and snapshot.json are then rebuilt
# from the redacted raw files, so they agree with them.  Names are handled as
# bytes: a hostname that is not UTF-8, or holds quotes or control characters,
# is redacted like any other.  migdiff's `redact` command calls
# redact_results() on an existing bundle.

KEEP_ADDRESSES = ("0.0.0.0", "255.255.255.255", "::", "::1", "*")
GENERIC_HOSTS = ("localhost", "localdomain", "local", "localhost6", "ip6-localhost", "ip6-loopback", "")
_GENERIC_LABELS = frozenset(h.encode("ascii") for h in GENERIC_HOSTS)
_IPV4 = re.compile(r"(?<![0-9.])((?:\d{1,3}\.){3}\d{1,3})(?![0-9]|\.[0-9])")
_MAC = re.compile(b"(?<![0-9A-Fa-f:])((?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})(?![0-9A-Fa-f:])")
_FFFD = b"\xef\xbf\xbd"  # U+FFFD in UTF-8: how text (parsed.json, the manifest) spells a byte that is not UTF-8
MAPPED = "::ffff:"  # an IPv4 address seen through an IPv6 socket: ::ffff:a.b.c.d


class Redactor(object):
    """Pseudonyms for identifying strings: the same key gives the same pseudonym on every host."""

    def __init__(self, key):
        import hmac
        self._hmac = hmac
        self.key = key

    def digest(self, kind, value):
        return bytearray(self._hmac.new(self.key, kind.encode("ascii") + b"\0" + _name_bytes(value),
                                        hashlib.sha256).digest())

    def label(self, kind, value, prefix):
        return prefix + "".join("%02x" % b for b in self.digest(kind, value)[:4])

    def ipv4(self, addr):
        d = self.digest("ipv4", addr)
        return "10.%d.%d.%d" % (d[0], d[1], 1 + d[2] % 254)

    def ipv6(self, addr):
        d = self.digest("ipv6", addr)
        return socket.inet_ntop(socket.AF_INET6, bytes(bytearray([0xfd]) + d[:15]))

    def mac(self, addr):
        d = self.digest("mac", addr.lower())
        return ":".join(["02"] + ["%02x" % b for b in d[:5]])


def _name_bytes(name):
    """A name as bytes: bytes as they are; text as UTF-8, with Python 3's escapes of bytes that are
    not UTF-8 (lone surrogates, as os and socket give them) turned back into those bytes."""
    if isinstance(name, bytes):
        return name
    try:
        return name.encode("utf-8", "strict" if PY2 else "surrogateescape")
    except UnicodeError:  # a surrogate no byte gave (JSON can spell one): never fatal
        return name.encode("utf-8", "replace")


def _keep_address(addr):
    return addr in KEEP_ADDRESSES or addr.startswith("127.") or addr.startswith("::ffff:127.")


def _unmapped(addr):
    """::ffff:10.1.2.3 is 10.1.2.3 seen through an IPv6 socket: the IPv4 address it is."""
    if addr.lower().startswith(MAPPED) and "." in addr:
        return addr[len(MAPPED):]
    return addr


def _proc_hex(addr):
    """The /proc/net/{tcp,udp}[6] spelling of an address (32-bit words, little-endian)."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    raw = bytearray(socket.inet_pton(family, addr))
    words = [raw[i:i + 4] for i in range(0, len(raw), 4)]
    return "".join("".join("%02X" % b for b in reversed(word)) for word in words)


def identifiers(complete, hostnames):
    """What identifies this host in its parsed entries: host names, addresses, human users.

    Returns {"hosts": set of names, "addresses": set, "users": set, "names": set of full names}.
    A host name may be text or bytes (as a raw file holds it); an IPv4 address seen through an
    IPv6 socket (::ffff:a.b.c.d) is given as the IPv4 address.
    """
    hosts = set(h for h in hostnames if h)
    uname = complete.get("uname-a") or {}
    hosts.update(v for v in (uname.get("node_name"), (complete.get("hostname") or {}).get("value")) if v)
    addresses = set()
    for row in complete.get("ss-nlpaxtudw") or []:
        if not row["netid"].startswith("u_"):
            addresses.update((row["local_address"], row["peer_address"]))
    for row in complete.get("ss-ntup") or []:  # the peers of established connections too
        if not row["netid"].startswith("u_"):
            addresses.update((row["local_address"], row["peer_address"]))
    for cid in ("netstat-nlp", "netstat-ntp"):
        for row in complete.get(cid) or []:
            addresses.update((row["local_address"], row["foreign_address"]))
    for row in complete.get("lsof-nPi") or []:
        addresses.update(_IPV4.findall(row["name"] or ""))
        addresses.update(re.findall(r"\[([0-9a-fA-F:.]+)\]", row["name"] or ""))
    for cid in ("proc-net-tcp", "proc-net-tcp6", "proc-net-udp", "proc-net-udp6"):
        for row in complete.get(cid) or []:
            addresses.update((row["local_address"], row["remote_address"]))
    clean = set()
    for addr in addresses:
        addr = _unmapped((addr or "").split("%")[0].strip("[]"))
        if addr and not _keep_address(addr) and _valid_address(addr):
            clean.add(addr)
    users, names = set(), set()
    for row in complete.get("etc-passwd") or []:
        if 1000 <= row["uid"] < 65534:
            users.add(row["name"])
            full = row["gecos"].split(",")[0].strip()
            if len(full) >= 3:
                names.add(full)
    return {"hosts": hosts, "addresses": clean, "users": users, "names": names}


def _valid_address(addr):
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)
        return True
    except (socket.error, ValueError):
        return False


class HostLabels(object):
    """The labels of a host's names, as bytes, and the pseudonym of each.

    A raw file holds a label as bytes; parsed.json and the manifest hold it as text, where a byte
    that is not UTF-8 became U+FFFD.  Both spellings get the pseudonym of the bytes.  Generic
    labels (localhost, localdomain) are no one's and are kept."""

    def __init__(self, names):
        found = set()
        for name in names:
            if name:
                found.update(label for label in _name_bytes(name).split(b".") if not _generic(label))
        whole = dict((to_text(label), label) for label in found if _FFFD not in label)
        self.source = {}  # a spelling of a label -> the bytes whose pseudonym it gets
        for label in found:
            source = whole.get(to_text(label), label) if _FFFD in label else label
            self.source[label] = source
            self.source.setdefault(to_text(source).encode("utf-8"), source)

    def pseudonym(self, label, redactor):
        return redactor.label("host", self.source.get(label, label).lower(), "h")

    def redact_name(self, name, redactor):
        """A host name, as text, with every label but the generic ones replaced by its pseudonym."""
        return ".".join(to_text(label) if _generic(label) else self.pseudonym(label, redactor)
                        for label in _name_bytes(name).split(b"."))


def _generic(label):
    return label.lower() in _GENERIC_LABELS


# Host names are replaced only where a host names itself: a host called "debian" must not
# turn ID=debian in os-release into a pseudonym.  User names are replaced everywhere but in the
# distribution's own lists (release files, package and unit names), for the same reason.
HOST_SCOPE = ("hostname", "uname-a", "etc-passwd", "manifest")
USER_EXCLUDED = ("os-release", "usr-lib-os-release", "lsb-release", "redhat-release", "system-release",
                 "suse-release", "debian-version", "etc-issue", "dpkg-l", "dpkg-query", "rpm-qa", "rpm-qa-qf",
                 "apk-info", "apt-extended-states", "systemctl-units-service", "systemctl-unit-files-service",
                 "systemctl-units-target", "systemctl-unit-files-target", "systemctl-deps-default",
                 "systemctl-deps-multi-user", "service-status-all", "chkconfig-list", "sysv-rc-conf-list",
                 "initctl-list", "initctl-show-config")


def _b(text):
    return text if isinstance(text, bytes) else text.encode("utf-8")


class Rule(object):
    """One replacement: a bytes pattern, its pseudonym, and the entries it applies to."""

    __slots__ = ("pattern", "fake", "only", "unless")

    def __init__(self, pattern, fake, only=None, unless=()):
        self.pattern, self.fake, self.only, self.unless = re.compile(pattern), _b(fake), only, unless

    def applies(self, entry):
        return (self.only is None or entry in self.only) and entry not in self.unless


def _proc_rule(addr, fake):
    """An address in /proc/net's hex spelling, followed by its port."""
    return Rule(b"(?<![0-9A-F])" + _b(_proc_hex(addr)) + b"(?=:[0-9A-F]{4}\\b)", _proc_hex(fake))


def replacements(ids, redactor):
    """The rules that redact this host's identifiers, longest first so no pseudonym is half-made."""
    rules = []
    addresses = set(_unmapped(addr) for addr in ids["addresses"])
    for addr in sorted(addresses, key=lambda a: (-len(a), a)):
        if _keep_address(addr):
            continue
        fake = redactor.ipv6(addr) if ":" in addr else redactor.ipv4(addr)
        if ":" in addr:
            pattern = b"(?<![0-9A-Fa-f:])" + re.escape(_b(addr)) + b"(?![0-9A-Fa-f]|:[0-9A-Fa-f]*:)"
        else:  # also the tail of ::ffff:a.b.c.d, the address seen through an IPv6 socket
            pattern = b"(?<![0-9.])" + re.escape(_b(addr)) + b"(?![0-9]|\\.[0-9])"
        rules.append(Rule(pattern, fake))
        rules.append(_proc_rule(addr, fake))
        if ":" not in addr:  # /proc/net/tcp6 and udp6 spell the mapped address in hex
            rules.append(_proc_rule(MAPPED + addr, MAPPED + fake))
    hosts = HostLabels(ids["hosts"])
    for label in sorted(hosts.source, key=lambda l: (-len(l), l)):
        rules.append(Rule(b"(?<![A-Za-z0-9_-])" + re.escape(label) + b"(?![A-Za-z0-9_-])",
                          hosts.pseudonym(label, redactor), only=HOST_SCOPE))
    for name in sorted(ids["names"], key=len, reverse=True):
        rules.append(Rule(re.escape(_b(name)), redactor.label("name", name, "person-"), unless=USER_EXCLUDED))
    for user in sorted(ids["users"], key=len, reverse=True):
        rules.append(Rule(b"(?<![A-Za-z0-9_.-])" + re.escape(_b(user)) + b"(?![A-Za-z0-9_-])",
                          redactor.label("user", user, "u"), unless=USER_EXCLUDED))
    return rules


def redact_bytes(data, rules, redactor, entry):
    """`data` of capture `entry` ("manifest" for the manifest) with the rules applied, and MAC addresses."""
    for rule in rules:
        if rule.applies(entry):
            data = rule.pattern.sub(rule.fake, data)

    def mac(m):
        found = m.group(1)
        if found.lower() in (b"00:00:00:00:00:00", b"ff:ff:ff:ff:ff:ff"):
            return found
        return _b(redactor.mac(found.decode("ascii")))
    return _MAC.sub(mac, data)


_KEY_LINE = re.compile(b"^(?P<options>.*?)(?P<key>(?:ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ +[A-Za-z0-9+/=]+)(?P<comment>.*)$")
_KEY_OPTION = re.compile(b'([A-Za-z-]+)="((?:[^"\\\\]|\\\\.)*)"')


def _redact_key_lines(data, redactor):
    """Public key lines with their comments (user@host of whoever made the key) and the quoted
    values of authorized_keys options (from="10.1.2.3", command="...") replaced by pseudonyms: the
    key itself, its type and fingerprint stay."""
    out = []
    for line in data.split(b"\n"):
        m = _KEY_LINE.match(line)
        if not m or line.lstrip().startswith(b"#"):
            out.append(line)
            continue
        options = _KEY_OPTION.sub(lambda o: o.group(1) + b'="' + _b(redactor.label(
            "key-option", to_text(o.group(2)), "opt-")) + b'"', m.group("options"))
        comment = m.group("comment").strip()
        fake = (b" " + _b(redactor.label("key-comment", to_text(comment), "key-"))) if comment else b""
        out.append(options + m.group("key") + fake)
    return b"\n".join(out)


def raw_host_names(results):
    """The names the host gives itself in its raw files, as bytes (hostname, uname -a's second
    field): what a label is made of when it is not UTF-8, which the parsed text no longer says."""
    names = []
    for result in results:
        if result.capture.id not in ("hostname", "uname-a"):
            continue
        for name, role, path, data in result.raw:
            if role == "stdout":
                fields = data.split(b"\n")[0].split()
                if result.capture.id == "hostname" and len(fields) == 1:
                    names.append(fields[0])
                elif result.capture.id == "uname-a" and len(fields) > 1:
                    names.append(fields[1])
    return names


def passwd_rows(results, passwd=None):
    """The accounts whose names redaction hides: `passwd` (the whole /etc/passwd, read again on
    the host) when given, else the etc-passwd entry's when it read the file whole (none when the
    host has no /etc/passwd).  A cut, unreadable or skipped etc-passwd hides the users past the
    cut: Trouble, rather than a bundle that still names them."""
    if passwd is not None:
        return parse_passwd(to_text(passwd))[0]
    found = [r for r in results if r.capture.id == "etc-passwd"]
    if found and found[0].status == "ok":
        return found[0].parsed[0] if found[0].parsed else []
    if found and found[0].status == "absent":
        return []
    how = "%s%s" % (found[0].status, " (cut by --max-output)" if found[0].status == "truncated" else "") \
        if found else "not in the bundle"
    raise Trouble("cannot redact: the etc-passwd entry is %s, so not every user name to hide is known; "
                  "collect the host again (with --redact there, or a larger --max-output)" % how)


def _redact_value(value, rules, redactor):
    """A manifest value with every string redacted as bytes (a JSON spelling hides nothing)."""
    if isinstance(value, dict):
        return dict((k, _redact_value(v, rules, redactor)) for k, v in value.items())
    if isinstance(value, list):
        return [_redact_value(v, rules, redactor) for v in value]
    if isinstance(value, (bytes, text_type)):
        data = _name_bytes(value)
        done = redact_bytes(data, rules, redactor, "manifest")
        return value if done == data else to_text(done)
    return value


def redact_results(results, meta, key, passwd=None):
    """Redacts every raw file of `results` in place, re-parses them, and returns the redacted
    manifest fields (`meta`) with a note that redaction was applied (never the key).

    `passwd`: the whole /etc/passwd when the etc-passwd entry is not whole (see passwd_rows)."""
    redactor = Redactor(key)
    complete = complete_data(results)
    complete["etc-passwd"] = passwd_rows(results, passwd)
    ids = identifiers(complete, [meta.get("hostname")] + raw_host_names(results))
    rules = replacements(ids, redactor)
    for result in results:
        cid = result.capture.id

        def text(value):  # a member name, path or argument: a user's home names the user
            return to_text(redact_bytes(_fs_bytes(value), rules, redactor, cid)) if value else value
        raw = []
        for name, role, path, data in result.raw:
            if cid == "ssh-keys":
                data = _redact_key_lines(data, redactor)
            raw.append((text(name), role, text(path), redact_bytes(data, rules, redactor, cid)))
        result.raw = raw
        result.argv = [text(a) for a in result.argv] if result.argv else result.argv
        result.error = text(result.error)
        result.parsed, result.warnings, result.parse_error = None, 0, None
        apply_parser(result)
    redacted = _redact_value(meta, rules, redactor)
    if meta.get("hostname"):
        redacted["hostname"] = HostLabels(ids["hosts"]).redact_name(meta["hostname"], redactor)
    hosts = set(to_text(_name_bytes(h)) for h in ids["hosts"])
    redacted["redaction"] = {"applied": True, "method": "hmac-sha256 pseudonyms",
                             "kinds": ["hostnames", "ip addresses", "mac addresses", "human user names"],
                             "replaced": {"hosts": len(hosts), "addresses": len(ids["addresses"]),
                                          "users": len(ids["users"])}}
    return redacted


# ---------------------------------------------------------------------------
# Bundle writer
# ---------------------------------------------------------------------------
# Statuses whose output is complete enough to feed snapshot.json.  Cut output
# (timeout, truncated) is still parsed into parsed.json, flagged, but left out
# of the snapshot: half a package list would read as packages removed.
COMPLETE = ("ok", "failed")


def json_bytes(obj, pretty=True):
    """ASCII JSON with sorted keys.  The large documents are written compact: json's C encoder
    only runs without indent, and indenting parsed.json cost more than all the parsing."""
    if pretty:
        text = json.dumps(obj, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=True)
    else:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return (text + "\n").encode("ascii")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def run_parser(capture, text_or_files):
    """Runs the capture's parser: (data, warnings)."""
    return globals()[capture.parser](text_or_files)


def apply_parser(result):
    """Parses one result in place (result.parsed); a parser bug costs this entry only."""
    if not result.has_output():
        return
    try:
        data, warnings = run_parser(result.capture, result.parser_input())
    except Exception as exc:  # recorded in the manifest as parse_error, never raised
        result.parse_error = "%s: %s" % (type(exc).__name__, exc)
        return
    if result.status not in COMPLETE:
        warnings = ["output incomplete (%s): left out of snapshot.json" % result.status] + warnings
    result.parsed = (data, warnings)
    result.warnings = len(warnings)


def complete_data(results):
    """{id: data} of the entries whose output is complete: what normalize() may use."""
    return dict((r.capture.id, r.parsed[0]) for r in results if r.parsed and r.status in COMPLETE)


def derive_inputs(complete):
    """What the dependent entries work on: the listening pids, then their executables."""
    pids = set()
    for port in _normalize_ports(complete):
        for proc in port["processes"]:
            if proc["pid"] is not None:
                pids.add(proc["pid"])
    for row in complete.get("ss-ntup") or []:  # who holds a connection: its service too
        pids.update(p["pid"] for p in row["processes"])
    exes = set()
    for proc in complete.get("listen-procs") or []:
        if proc["exe"]:
            exes.update(exe_aliases(proc["exe"]))
    return {PIDS: sorted(pids), EXES: sorted(exes), FILES: sorted(workload_files(complete))}


def workload_files(complete):
    """The files whose owner decides whether they belong to the workload (no package owns them)
    or to a package: local unit candidates, init scripts, Upstart jobs, cron files and scripts."""
    files = set()
    for cid in ("systemd-local", "init-scripts", "cron-files"):
        files.update(row["file"] for row in complete.get(cid) or [])
    files.update(job["file"] for job in complete.get("upstart-jobs") or [])
    files.update(row["file"] for row in complete.get("cron-scripts") or [] if row["type"] == "file")
    return files


def exe_aliases(exe):
    """The executable and its other name on a merged-/usr system (/usr/sbin/x and /sbin/x):
    the package database may know either."""
    names = [exe]
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if exe.startswith("/usr" + short):
            names.append(exe[len("/usr"):])
        elif exe.startswith(short):
            names.append("/usr" + exe)
    return names


def manifest_entry(result):
    c = result.capture
    entry = {
        "id": c.id, "section": c.section, "kind": c.kind, "parser": c.parser, "source": c.describe(),
        "argv": result.argv, "executable": result.executable, "status": result.status,
        "exit_code": result.exit_code, "error": result.error, "duration": result.duration,
        "truncated": result.truncated, "warnings": result.warnings, "parse_error": result.parse_error,
        "files": [{"name": name, "role": role, "path": path, "size": len(data), "sha256": sha256_hex(data)}
                  for name, role, path, data in result.raw],
    }
    return entry


def summarize(results):
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {
        "entries": len(results),
        "commands": len([r for r in results if r.capture.kind == CMD]),
        "statuses": counts,
        "parse_warnings": sum(r.warnings for r in results),
        "parse_errors": len([r for r in results if r.parse_error]),
    }


def lost_notes(euid):
    if euid == 0:
        return []
    return [
        "not root (euid %d): ss -p, netstat -p and lsof show processes of this user only; "
        "sockets of other users' processes have no process name or pid" % euid,
        "not root: /proc/<pid>/fd and /proc/<pid>/exe of other users' processes are unreadable",
    ]


def build_members(results, meta):
    """All bundle files as [(name, bytes)], manifest last."""
    parsed = dict((r.capture.id, {"data": r.parsed[0], "warnings": r.parsed[1]}) for r in results if r.parsed)
    snapshot = normalize(complete_data(results))
    snapshot["collector_version"] = __version__
    members = []
    stored = {}  # sha256 -> the member holding those bytes
    for r in results:
        raw = []
        for name, role, path, data in r.raw:
            # the same bytes twice (/etc/os-release is a link to /usr/lib/os-release) are stored
            # once; the second entry's manifest record names the member that holds them
            digest = sha256_hex(data)
            if data and digest in stored:
                name = stored[digest]
            else:
                stored.setdefault(digest, name)
                members.append((name, data))
            raw.append((name, role, path, data))
        r.raw = raw
    parsed_doc = {"format": "migsnap-parsed", "format_version": FORMAT_VERSION, "entries": parsed}
    extra = [("parsed.json", json_bytes(parsed_doc, pretty=False)), ("snapshot.json", json_bytes(snapshot, pretty=False))]
    members.extend(extra)
    manifest = dict(meta)
    manifest["entries"] = [manifest_entry(r) for r in results]
    manifest["summary"] = summarize(results)
    manifest["files"] = [{"name": name, "size": len(data), "sha256": sha256_hex(data)} for name, data in extra]
    members.append(("manifest.json", json_bytes(manifest)))
    return members, manifest


# An optional site signature: HMAC-SHA256 over manifest.json's bytes with a key the site keeps.
# The manifest holds the size and sha256 of every other file, so the signature covers the bundle.
SIGNATURE_NAME = "signature.json"
SIGNATURE_FORMAT = "migsnap-signature"


def key_id(key):
    """A short name of a signing key that reveals nothing of it: which key signed, not the key."""
    return hmac.new(key, b"migsnap signing key id", hashlib.sha256).hexdigest()[:16]


def manifest_signature(manifest_bytes, key):
    """The signature.json document for these manifest bytes and this site key."""
    return {"format": SIGNATURE_FORMAT, "format_version": 1, "algorithm": "HMAC-SHA256",
            "key_id": key_id(key), "mac": hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()}


def signature_valid(manifest_bytes, signature, key):
    """Whether a signature.json document is this key's signature of these manifest bytes."""
    expected = manifest_signature(manifest_bytes, key)
    mac = signature.get("mac") if isinstance(signature, dict) else None
    if not isinstance(mac, str) or len(mac) != len(expected["mac"]):
        return False
    # compared in constant time (hmac.compare_digest is not in Python 2.6)
    diff = 0
    for a, b in zip(mac, expected["mac"]):
        diff |= ord(a) ^ ord(b)
    return diff == 0


def signed(members, key):
    """The bundle's members ([(name, bytes)], manifest last) with the site's signature of the
    manifest added after it, as signature.json; without a key, the members as they are."""
    if not key:
        return members
    name, manifest = members[-1]
    if name != "manifest.json":
        raise ValueError("the manifest must be the last member, not %s" % name)
    return members + [(SIGNATURE_NAME, json_bytes(manifest_signature(manifest, key)))]


# Where a folder cannot hold hard links (FAT, some network and FUSE file systems), the bundle
# is copied into a new file made with O_EXCL instead.
_NO_LINKS = tuple(getattr(errno, name) for name in ("EPERM", "EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EMLINK",
                                                    "EXDEV", "EACCES") if hasattr(errno, name))


def publish(tmp, final):
    """Puts the finished bundle `tmp` at `final` without ever replacing a file: a hard link, which
    fails if anything is at `final`, even a file that appeared there during the run; where links
    cannot be made, a copy into a file created with O_EXCL.  Returns (st_dev, st_ino) of what it
    put there; `tmp` stays for the caller to remove.  Trouble, naming the file, on a clash."""
    try:
        os.link(tmp, final)
        st = os.lstat(final)
        return st.st_dev, st.st_ino
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise Trouble(_clash(final))
        if exc.errno not in _NO_LINKS:
            raise
    try:
        fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise Trouble(_clash(final))
        raise
    st = os.fstat(fd)
    made, done = (st.st_dev, st.st_ino), False
    try:
        source = open(tmp, "rb")
        try:
            while True:
                data = source.read(READ_PIECE)
                if not data:
                    break
                while data:
                    data = data[os.write(fd, data):]
        finally:
            source.close()
        os.fsync(fd)
        done = True
    finally:
        os.close(fd)
        if not done:  # half a copy: removed, and only if it is still the file this run made
            remove_own(final, made)
    return made


def _clash(final):
    return "%s appeared while this run was working; not replacing it (nothing written)" % final


def remove_own(path, made):
    """Removes `path` if it is still the file (st_dev, st_ino) this run made there."""
    try:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) == made:
            os.unlink(path)
    except OSError:
        pass


def write_tar(fileobj, top, members, mtime):
    tar = tarfile.open(fileobj=fileobj, mode="w:gz")
    try:
        dirs = set()
        for name, data in members:
            parts = name.split("/")[:-1]
            for i in range(len(parts) + 1):
                d = "/".join([top] + parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    tar.addfile(_tarinfo(d, 0, mtime, tarfile.DIRTYPE, 0o755))
            info = _tarinfo(top + "/" + name, len(data), mtime, tarfile.REGTYPE, 0o644)
            tar.addfile(info, io.BytesIO(data))
    finally:
        tar.close()


def _tarinfo(name, size, mtime, kind, mode):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.type, info.mode = size, int(mtime), kind, mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def own_sha256():
    try:
        f = open(os.path.abspath(__file__), "rb")
        try:
            return sha256_hex(f.read())
        finally:
            f.close()
    except (IOError, OSError, NameError):
        return None


# ---------------------------------------------------------------------------
# sh twin
# ---------------------------------------------------------------------------
# migsnap.sh, for hosts without Python: the runtime below (POSIX sh, awk, head, tar, gzip) with
# the capture table rendered into it as data lines, so this table stays the one place that says
# what runs.  `python migsnap.py --emit-sh > migsnap.sh` writes it; the committed copy is checked
# by tests/test_sh_collector.py.  Its bundles hold the raw files (same names, roles and bytes as
# the Runner's) and a manifest with "parsing": {"where": "none"}; migdiff parses them later.

def _sh_word(arg):
    """One word for sh: quoted unless plainly safe (globs stay data until the runtime expands them)."""
    if re.match(r"^[A-Za-z0-9_@%+=:,./-]+$", arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def _sh_codes(codes):
    """FOUND_NOTHING codes as "1" or "1-255" (runs of three or more as a range)."""
    codes, out, i = sorted(codes), [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        out.extend(["%d-%d" % (codes[i], codes[j])] if j - i >= 2 else ["%d" % c for c in codes[i:j + 1]])
        i = j + 1
    return ",".join(out)


def sh_twin():
    """The text of migsnap.sh for this table and version."""
    rows = []
    for n, c in enumerate(captures()):
        if c.kind == CMD:
            args = [{EXES: "@EXES@", FILES: "@FILES@"}.get(a, a) for a in c.source]
        elif c.kind in (GLOB, LINKS):
            args = list(c.source)
        elif c.kind == FILE:
            args = [c.source]
        else:
            args = []
        words = [c.id, c.section, c.kind, c.parser, c.describe()] + args
        rows.append("\trow %03d %s" % (n + 1, " ".join(_sh_word(w) for w in words)))
    lost = json.dumps(lost_notes(-1)).replace("(euid -1)", "(euid @EUID@)")
    values = {
        "VERSION": __version__, "FORMAT_VERSION": "%d" % FORMAT_VERSION, "TABLE": "\n".join(rows),
        "STARTS_FIRST": " ".join(STARTS_FIRST), "GLOB_SKIPS_LINKS": " ".join(GLOB_SKIPS_LINKS),
        "FOUND_NOTHING": " ".join("%s:%s" % (c.id, _sh_codes(FOUND_NOTHING[c.id]))
                                  for c in captures() if c.id in FOUND_NOTHING),
        "NOTES_JSON": json.dumps(list(NOTES)), "LOST_JSON": lost,
        "NOTHING_PIDS": NOTHING_TO_LOOK_AT[PIDS], "NOTHING_EXES": NOTHING_TO_LOOK_AT[EXES],
        "NOTHING_FILES": NOTHING_TO_LOOK_AT[FILES], "EXTRA_PATH": ":".join(EXTRA_PATH),
        "DEFAULT_TIMEOUT": "%g" % DEFAULT_TIMEOUT, "DEFAULT_MAX_OUTPUT": "%d" % DEFAULT_MAX_OUTPUT,
        "DEFAULT_JOBS": "%d" % DEFAULT_JOBS,
    }
    for key in ("NOTES_JSON", "LOST_JSON", "NOTHING_PIDS", "NOTHING_EXES", "NOTHING_FILES", "EXTRA_PATH"):
        values[key] = _sh_word(values[key])
    text = _SH_TEMPLATE
    for key, value in values.items():
        text = text.replace("@@%s@@" % key, value)
    return text


_SH_TEMPLATE = r'''#!/bin/sh
# migsnap.sh @@VERSION@@: a read-only snapshot of a Linux host, for planning a migration; the
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

VERSION=@@VERSION@@
FORMAT_VERSION=@@FORMAT_VERSION@@
PROG=migsnap

# ---------------------------------------------------------------------------------------------
# Capture table (from migsnap.py)
# ---------------------------------------------------------------------------------------------
# row INDEX ID SECTION KIND PARSER SOURCE ARG...: SOURCE as --list shows it; ARG the argv of a
# cmd, the patterns of a glob or links, the path of a file.  @EXES@ and @FILES@ stand for what
# earlier entries found (migsnap.py's EXES and FILES placeholders).
table() {
@@TABLE@@
}
STARTS_FIRST=' @@STARTS_FIRST@@ '
FOUND_NOTHING=' @@FOUND_NOTHING@@ '  # id:codes, codes as N or N-M
GLOB_SKIPS_LINKS=' @@GLOB_SKIPS_LINKS@@ '
NOTES_JSON=@@NOTES_JSON@@
LOST_JSON=@@LOST_JSON@@  # when not root, @EUID@ replaced
NOTHING_PIDS=@@NOTHING_PIDS@@
NOTHING_EXES=@@NOTHING_EXES@@
NOTHING_FILES=@@NOTHING_FILES@@
EXTRA_PATH=@@EXTRA_PATH@@
TIMEOUT=@@DEFAULT_TIMEOUT@@
MAX_OUTPUT=@@DEFAULT_MAX_OUTPUT@@
JOBS=@@DEFAULT_JOBS@@

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
'''


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

class Trouble(Exception):
    """A problem that stops the run: one line for the user, exit code 2."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP: ends the run as Ctrl-C does.  Not an Exception, so that no `except
    Exception` (the one that makes a parser's bug cost one entry) can swallow it."""

    def __init__(self, signum):
        BaseException.__init__(self, "terminated by signal %d" % signum)
        self.signum = signum


# A signal, by the phase of the run.  Working: the first signal ends the run, nothing written
# (later ones are ignored, so that they cannot cut its clean-up short).  Publishing (the bundle
# being put at its name): the signal waits until that is done, and the bundle is removed again.
# Published: the run has succeeded, a signal only cuts the closing lines short (exit 0).
_signals = {"phase": "working", "pending": None}


def _on_signal(signum, frame):
    phase = _signals["phase"]
    if phase == "published":
        os._exit(EXIT_OK)
    if phase != "working":
        if _signals["pending"] is None:
            _signals["pending"] = signum
        return
    _signals["phase"] = "ending"
    if signum == signal.SIGINT:
        raise KeyboardInterrupt()
    raise Terminated(signum)


def _raise_pending():
    signum = _signals["pending"]
    if signum == signal.SIGINT:
        raise KeyboardInterrupt()
    raise Terminated(signum)


# stdout and stderr may go away (`migsnap.py 2>&1 | head`, `-q >&-`): what cannot be said there
# is dropped, never fatal, and never costs an entry.
_gone = set()


def emit(name, text):
    """Writes `text` to sys.stdout or sys.stderr (`name`); False when it cannot (closed, its reader
    gone).  Such a stream is not written again, and /dev/null takes its descriptor so that no later
    flush (the interpreter's, at exit) fails either."""
    if name in _gone:
        return False
    stream = getattr(sys, name, None)
    try:
        stream.write(text)
        stream.flush()
        return True
    except Exception:  # EPIPE, EBADF; ValueError (closed); AttributeError (None: Python 3 without fd 1 or 2)
        _gone.add(name)
        _devnull_at(1 if name == "stdout" else 2)
        return False


def _devnull_at(fd):
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    if null != fd:
        try:
            os.dup2(null, fd)
        except OSError:
            pass
        os.close(null)


def _standard_fds():
    """/dev/null on a standard descriptor that is closed: else the first file the run opens takes
    its number, and a line meant for stdout or stderr lands in it (in the bundle being written)."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            _devnull_at(fd)
            _gone.add(name)


def run_all(runner, todo, jobs, progress, inputs=None):
    """Runs captures on `jobs` threads, the STARTS_FIRST ones first; returns results in table order."""
    results = {}
    lock = threading.Lock()
    queue = sorted(todo, key=lambda c: c.id not in STARTS_FIRST)  # stable: table order otherwise

    def worker():
        while True:
            with lock:
                if not queue or runner.aborted:
                    return
                capture = queue.pop(0)
            result = runner.run(capture, inputs)
            with lock:
                results[capture.id] = result
                try:
                    progress(result)
                except Exception:  # progress is for a reader only: it never costs an entry
                    pass

    threads = [threading.Thread(target=worker) for _ in range(max(1, min(jobs, len(todo))))]
    for t in threads:
        t.daemon = True
        t.start()
    try:
        while [t for t in threads if t.is_alive()]:
            for t in threads:
                t.join(0.05)  # a bare join() would block signals on Python 2
    except BaseException:
        runner.abort()
        raise
    return [results[c.id] for c in todo if c.id in results]


def every_entry(results, skip):
    """One result for every entry of the table, in its order: what ran, what --skip left out, and
    as an error any entry that did not come back.  A bundle always holds all of them."""
    by_id = dict((r.capture.id, r) for r in results)
    out = []
    for c in captures():
        r = by_id.get(c.id)
        if r is None:
            r = Result(c)
            if c.id in skip:
                r.status, r.error = "skipped", "--skip"
            else:
                r.status, r.error = "error", "collector error: the entry did not come back"
        out.append(r)
    return out


def table_text():
    rows = [("ID", "SECTION", "KIND", "PARSER", "SOURCE")]
    rows += [(c.id, c.section, c.kind, c.parser, c.describe()) for c in captures()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for r in rows:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    return "\n".join(lines) + "\n"


def bundle_stem(host, stamp):
    """migsnap-<host>-<stamp>: the bundle's file name without .tgz, and its top folder.  Letters,
    digits, '.', '_' and '-' only: a host name may hold any byte, a file name must not."""
    def safe(text):
        return re.sub(r"[^A-Za-z0-9._-]", "_", to_text(_name_bytes(text or "")))
    return "migsnap-%s-%s" % (safe(host) or "host", safe(stamp))


def output_target(option, host, stamp):
    """(directory, final file name) for -o PATH: an existing directory or a path ending in / is a directory."""
    name = bundle_stem(host, stamp) + ".tgz"
    if not option:
        return os.getcwd(), name
    if option.endswith("/") or os.path.isdir(option):
        return os.path.abspath(option), name
    return os.path.dirname(os.path.abspath(option)), os.path.basename(option)


def make_option_parser():
    p = OptionParser(
        usage="%prog [options]",
        version="migsnap %s (bundle format %d)" % (__version__, FORMAT_VERSION),
        description="Read-only snapshot of this host for migration planning: runs the listing commands "
                    "in the capture table (see --list), and writes one .tgz bundle with their raw output, "
                    "parsed JSON, snapshot.json and manifest.json. Exit status: 0 bundle written, "
                    "2 trouble (nothing written), 130/143/129 interrupted (nothing written).")
    p.add_option("-l", "--list", action="store_true", help="print the capture table and run nothing")
    p.add_option("-o", "--output", metavar="PATH",
                 help="bundle file, or directory to write migsnap-<host>-<time>.tgz in (default: .); "
                      "an existing file is never replaced")
    p.add_option("--timeout", type="float", default=DEFAULT_TIMEOUT, metavar="SECONDS",
                 help="kill a command (and its children) after this long (default %default)")
    p.add_option("--max-output", type="int", default=DEFAULT_MAX_OUTPUT, metavar="BYTES",
                 help="keep at most this much output per command or file (default %default)")
    p.add_option("-j", "--jobs", type="int", default=DEFAULT_JOBS, metavar="N",
                 help="commands run at once (default %default)")
    p.add_option("--skip", action="append", default=None, metavar="ID",
                 help="do not run this entry (repeat, or comma-separated)")
    p.add_option("-q", "--quiet", action="store_true", help="no progress lines; print the bundle's name on stdout")
    p.add_option("--redact", action="store_true",
                 help="replace hostnames, IP and MAC addresses and human user names by pseudonyms derived "
                      "from the key (the same key on every host keeps them comparable)")
    p.add_option("--redact-key-file", metavar="FILE", help="the redaction key, read from FILE")
    p.add_option("--redact-key", metavar="KEY", help="the redaction key (visible in ps; prefer --redact-key-file)")
    p.add_option("--sign-key-file", metavar="FILE",
                 help="sign the bundle: an HMAC-SHA256 of manifest.json with the site key in FILE (at least "
                      "%d bytes), written as signature.json; `migdiff validate --verify-key-file FILE` checks it"
                      % MIN_KEY)
    p.add_option("--emit-sh", action="store_true",
                 help="print migsnap.sh, this collector's POSIX sh twin for hosts without Python, and run nothing")
    return p


def main(argv=None):
    """The command line; returns the exit status.  No signal, no closed or vanished stdout or
    stderr ends it with a traceback."""
    _signals.update(phase="working", pending=None)
    _gone.clear()
    old_handlers = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            old_handlers[signum] = signal.signal(signum, _on_signal)
        _standard_fds()
        return _main(argv)
    except Trouble as exc:
        emit("stderr", "migsnap: error: %s\n" % exc)
        return EXIT_TROUBLE
    except KeyboardInterrupt:
        emit("stderr", "migsnap: interrupted; no bundle written\n")
        return EXIT_INTERRUPTED
    except Terminated as exc:
        emit("stderr", "migsnap: %s; no bundle written\n" % exc)
        return 128 + exc.signum
    finally:
        if _signals["phase"] == "working":  # from here a signal changes nothing (and raises nothing)
            _signals["phase"] = "ending"
        for signum, handler in old_handlers.items():
            if handler is not _early_signal:  # run as a script: ours stay until the end
                signal.signal(signum, handler)


def _main(argv):
    parser = make_option_parser()
    opts, args = parser.parse_args(argv)
    if args:
        parser.error("unexpected argument: %s" % args[0])
    if opts.list:
        emit("stdout", table_text())
        return EXIT_OK
    if opts.emit_sh:
        emit("stdout", sh_twin())
        return EXIT_OK
    if not 0 < opts.timeout < float("inf"):  # nan and inf too: neither is a deadline, nor JSON
        parser.error("--timeout must be a positive number of seconds, not %s" % opts.timeout)
    if opts.max_output <= 0:
        parser.error("--max-output must be a positive number of bytes")
    if opts.jobs <= 0:
        parser.error("--jobs must be a positive number")
    skip = []
    for item in opts.skip or []:
        skip.extend(x.strip() for x in item.split(",") if x.strip())
    known = [c.id for c in captures()]
    unknown = [x for x in skip if x not in known]
    if unknown:
        parser.error("--skip: no such entry: %s (see --list)" % ", ".join(unknown))
    if (opts.redact_key or opts.redact_key_file) and not opts.redact:
        opts.redact = True
    opts.key = redaction_key(opts.redact_key, opts.redact_key_file) if opts.redact else None
    opts.sign_key = read_key_file(opts.sign_key_file, "--sign-key-file") if opts.sign_key_file else None

    def say(message):
        if not opts.quiet:
            emit("stderr", "migsnap: %s\n" % message)

    return collect(opts, skip, say)


MIN_KEY = 8
KEY_FILE_LIMIT = 64 * 1024


def read_key_file(path, option):
    """A site key from a file: its bytes without the whitespace around them (a trailing newline),
    at least MIN_KEY of them.  Trouble, naming the option and the file, otherwise."""
    try:
        data, cut = _read_capped(path, KEY_FILE_LIMIT)
    except (IOError, OSError) as exc:
        raise Trouble("%s %s: %s" % (option, path, exc.strerror or exc))
    key = data.strip()
    if cut:
        raise Trouble("%s %s: over %d bytes, not a key file" % (option, path, KEY_FILE_LIMIT))
    if len(key) < MIN_KEY:
        raise Trouble("%s %s: the key must be at least %d bytes (it has %d)" % (option, path, MIN_KEY, len(key)))
    return key


def redaction_key(text, path):
    """The key as bytes, from --redact-key or --redact-key-file."""
    if text and path:
        raise Trouble("give --redact-key or --redact-key-file, not both")
    if path:
        return read_key_file(path, "--redact-key-file")
    key = (text or "").encode("utf-8") if not isinstance(text, bytes) else text
    if len(key) < MIN_KEY:
        raise Trouble("--redact needs a key of at least %d characters (--redact-key-file FILE); use the "
                      "same key on every host so their pseudonyms match" % MIN_KEY)
    return key


def scrubbed_argv(argv):
    """argv as recorded in the manifest: a key given on the command line is not kept."""
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("***")
            hide = False
        elif arg == "--redact-key":
            out.append(arg)
            hide = True
        elif arg.startswith("--redact-key="):
            out.append("--redact-key=***")
        else:
            out.append(arg)
    return out


def _text(s):
    """A string for the manifest: text, U+FFFD for bytes that are not UTF-8 (on either Python)."""
    return None if s is None else to_text(_name_bytes(s))


def hostname_bytes():
    """This host's name as the kernel holds it: bytes, any but NUL."""
    name = socket.gethostname()
    if isinstance(name, bytes):
        return name
    fsencode = getattr(os, "fsencode", None)  # Python 3.2+: undoes the decoding socket did
    return fsencode(name) if fsencode else _name_bytes(name)


PASSWD_LIMIT = 256 * 1024 * 1024


def whole_passwd(results):
    """/etc/passwd read again, whole, when the etc-passwd entry did not read it whole (cut by
    --max-output, unreadable, skipped): redaction has to know every user whatever the cut.
    None when the entry has it all; Trouble when it cannot be read whole either."""
    found = [r for r in results if r.capture.id == "etc-passwd"]
    if found and found[0].status in ("ok", "absent"):
        return None
    path = capture_by_id("etc-passwd").source
    try:
        data, cut = _read_capped(path, PASSWD_LIMIT)
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return b""
        cut, data = exc.strerror or str(exc), None
    if cut:
        raise Trouble("cannot redact: %s could not be read whole (%s), so not every user name to hide "
                      "is known; nothing written" % (path, "over %d bytes" % PASSWD_LIMIT if cut is True else cut))
    return data


def collect(opts, skip, say):
    import tempfile
    started = time.time()
    t0 = _clock()
    host_bytes = hostname_bytes()
    host = to_text(host_bytes)  # the manifest's: text on every Python, U+FFFD for bytes that are not UTF-8
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    if opts.redact:
        shown_host = HostLabels([host_bytes]).redact_name(host_bytes, Redactor(opts.key)).split(".")[0]
    else:
        shown_host = host
    outdir, name = output_target(opts.output, shown_host, stamp)
    final = os.path.join(outdir, name)
    if os.path.lexists(final):
        raise Trouble("%s already exists; not overwriting it" % final)
    try:  # prove the directory is writable before spending time on the host
        fd, tmp = tempfile.mkstemp(prefix=".migsnap-", suffix=".tgz.part", dir=outdir)
    except (OSError, IOError) as exc:
        raise Trouble("cannot write in %s: %s" % (outdir, exc.strerror or exc))
    try:
        env = command_env(os.environ)
        runner = Runner(opts.timeout, opts.max_output, env)
        todo = [c for c in captures() if c.id not in skip]

        done = []

        def progress(result):
            done.append(result.capture.id)
            extra = (": " + result.error) if result.error and result.status != "missing" else ""
            if result.status == "failed":  # what a person needs to see why: the exit code, stderr's first line
                err = [data for name, role, path, data in result.raw if role == "stderr" and data]
                first = to_text(err[0]).strip().split("\n")[0][:100] if err else ""
                extra = ": exit %s%s" % (result.exit_code, (", " + first) if first else "")
            say("[%2d/%d] %-30s %s%s (%.2f s)" % (len(done), len(todo), result.capture.id, result.status,
                                                 extra, result.duration))

        results = []
        inputs = {}
        for stage in (None, PIDS, EXES):  # later stages work on what earlier ones found
            batch = run_all(runner, [c for c in todo if c.needs == stage], opts.jobs, progress, inputs)
            for result in batch:
                apply_parser(result)
            results.extend(batch)
            inputs = derive_inputs(complete_data(results))
        results = every_entry(results, skip)
        euid = os.geteuid()
        meta = {
            "format": BUNDLE_FORMAT, "format_version": FORMAT_VERSION,
            "collector": {"name": "migsnap", "version": __version__, "sha256": own_sha256()},
            "python": {"version": "%d.%d.%d" % tuple(sys.version_info[:3]),
                       "implementation": getattr(getattr(sys, "implementation", None), "name", "cpython"),
                       "executable": _text(sys.executable)},
            "hostname": host, "euid": euid, "uid": os.getuid(),
            "started_at": _utc(started), "argv": [_text(a) for a in scrubbed_argv(sys.argv)],
            "settings": {"timeout": opts.timeout, "max_output": opts.max_output, "jobs": opts.jobs,
                         "skip": skip, "path": _text(env["PATH"]), "locale": "C"},
            "notes": list(NOTES), "lost": lost_notes(euid),
        }
        if opts.redact:
            say("redacting hostnames, addresses and user names")
            meta = redact_results(results, meta, opts.key, passwd=whole_passwd(results))
        meta["finished_at"] = _utc(time.time())
        meta["duration"] = round(_clock() - t0, 3)
        members, manifest = build_members(results, meta)
        members = signed(members, opts.sign_key)
        top = name[:-4] if name.endswith(".tgz") else name
        f = os.fdopen(fd, "wb")
        fd = None
        try:
            write_tar(f, top, members, started)
            f.flush()
            os.fsync(f.fileno())
        finally:
            f.close()
        _signals["phase"] = "publishing"  # a signal now waits until the bundle is in place
        made = publish(tmp, final)
        if _signals["pending"] is not None:  # it came while the bundle was put in place: taken away again
            remove_own(final, made)
            _raise_pending()
        os.unlink(tmp)
        _signals["phase"] = "published"
    except (OSError, IOError) as exc:
        raise Trouble("writing %s: %s" % (final, exc.strerror or exc))
    finally:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:  # already gone
            pass
    counts = manifest["summary"]["statuses"]
    say("wrote %s (%d commands, %d missing, %d failed, %d timed out, %.1f s)" % (
        final, manifest["summary"]["commands"], counts.get("missing", 0), counts.get("failed", 0),
        counts.get("timeout", 0), _clock() - t0))
    if opts.quiet and not emit("stdout", final + "\n"):
        emit("stderr", "migsnap: wrote %s (its name could not be written to stdout)\n" % final)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""Performance figures of migsnap and migdiff, each beside its floor.  Prints; asserts nothing.

    python benchmarks/run.py              # everything this machine can do
    python benchmarks/run.py --quick      # fewer repetitions, no 100k-package point
    python benchmarks/run.py --only migdiff,growth

Sections: collector (this machine, and the booted SysV and systemd sample hosts, one of them
with 2,000 packages), migdiff (a 25,000-package pair, --help), growth (1k to 100k packages),
fleet (1,000 bundles), size (compressed bytes per 1,000 packages, nothing stored twice).
Times are medians of several runs, in seconds; a command and its floor run in turn, and their
ratio is the median of the per-turn ratios.  RSS is GNU time's peak resident set, in MB; for
migdiff, which forks a child, the peak PSS of the whole process tree is given too.
Subprocesses run without PYTHONDONTWRITEBYTECODE, as on a user's machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "snapshot"), str(REPO / "benchmarks"), str(REPO)]

import migsnap  # noqa: E402
from scale import as_written_here, scaled_pair  # noqa: E402

SH_COLLECTOR = REPO / "snapshot" / "migsnap.sh"
COLLECTOR = REPO / "snapshot" / "migsnap.py"
HOSTLAB = REPO / "tests" / "hostlab" / "hostlab.sh"
ROOTS = Path(os.environ.get("MIGDIFF_HOSTLAB_DIR", "/var/tmp/migdiff-hostlab"))
MIGDIFF = [sys.executable, "-m", "migdiff"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = str(REPO / "snapshot")


def measure(argv: list[str], runs: int, cwd: Path | None = None) -> dict[str, float]:
    """Median wall and CPU seconds and the peak RSS of a command over `runs` runs.

    GNU time runs the command: a child forked straight from this (large) process would count
    this process's pages in its own peak RSS."""
    return _summary([_once(argv, cwd) for _ in range(runs)])


def measure_against(floor: list[str], argv: list[str], runs: int) -> tuple[dict[str, float], dict[str, float], float]:
    """The floor and the command, run in turn `runs` times: (floor, command, median of the
    per-turn ratios).  Taken in turn, both see the same moments of a noisy machine, and the
    ratio is steadier than a ratio of medians taken minutes apart."""
    turns = [(_once(floor), _once(argv)) for _ in range(runs)]
    return (_summary([f for f, _ in turns]), _summary([g for _, g in turns]),
            statistics.median(g["wall"] / f["wall"] for f, g in turns))


def _once(argv: list[str], cwd: Path | None = None) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M %U %S", *argv], cwd=cwd, env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        kb, user, system = report.read().split()[-3:]
    return {"wall": wall, "cpu": float(user) + float(system), "rss": int(kb) / 1024}


def _summary(runs: list[dict[str, float]]) -> dict[str, float]:
    return {"wall": statistics.median(r["wall"] for r in runs), "cpu": statistics.median(r["cpu"] for r in runs),
            "best_cpu": min(r["cpu"] for r in runs), "rss": max(r["rss"] for r in runs), "runs": len(runs)}


def tree_memory(argv: list[str]) -> float:
    """Peak memory of a command's whole process tree, in MB: the sum of its processes' PSS (a
    page shared by two processes counts half in each), sampled every 10 ms.  migdiff forks a
    child to check parsed.json; GNU time's peak RSS sees one process at a time."""
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        pids, todo = [], [proc.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo += _children(pid)
        peak = max(peak, sum(_pss_kb(pid) for pid in pids))
        time.sleep(0.01)
    return peak / 1024


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:  # gone meanwhile
        return []


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
    except OSError:  # gone meanwhile
        return 0


def line(label: str, value: str, floor: str = "", note: str = "") -> None:
    print(f"  {label:<44} {value:>16} {floor:>18}  {note}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


# --- the collector ---------------------------------------------------------------------------------

def floor_script(path: Path) -> None:
    """A plain shell script doing what the capture table does, one thing after another: the floor."""
    lines = ["#!/bin/sh", "export LC_ALL=C COLUMNS=512 PAGER=cat SYSTEMD_PAGER= PATH=$PATH:/usr/sbin:/sbin"]
    for c in migsnap.captures():
        if c.kind == migsnap.CMD and not c.needs:
            lines.append(" ".join(migsnap._shell_quote(a) for a in c.source) + " >/dev/null 2>&1 </dev/null")
        elif c.kind == migsnap.FILE:
            lines.append(f"cat {c.source} >/dev/null 2>&1")
        elif c.kind == migsnap.GLOB:  # the capture reads every file: so does the floor
            lines.append(f"cat {' '.join(c.source)} >/dev/null 2>&1")
        elif c.kind == migsnap.LINKS:
            lines.append(f"ls -l {' '.join(c.source)} >/dev/null 2>&1")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)


def collector_here(runs: int) -> None:
    print("collector, this machine (as root: %s)" % (os.geteuid() == 0))
    with tempfile.TemporaryDirectory() as tmp:
        floor = Path(tmp) / "floor.sh"
        floor_script(floor)
        out = Path(tmp) / "out"
        out.mkdir()
        base, got, turn_ratio = measure_against(["sh", str(floor)], [sys.executable, str(COLLECTOR), "-q", "-o", str(out)],
                                                runs)
        bundle = sorted(out.glob("*.tgz"))[-1]
        manifest, packages, kb = _manifest(bundle), len(_packages(bundle)), bundle.stat().st_size / 1024
    line("floor: the same commands from sh, in a row", f"{base['wall']:.2f} s")
    line("migsnap (4 commands at once)", f"{got['wall']:.2f} s", f"{ratio(got['wall'], base['wall'])} of floor",
         f"CPU {got['cpu']:.2f} s (floor {base['cpu']:.2f} s), RSS {got['rss']:.0f} MB")
    line("overhead over the floor", f"{(turn_ratio - 1) * 100:+.0f} %", "",
         "median of the runs taken in turn; target: under +15 %")
    line("bundle", f"{kb:.0f} KB", "", f"{packages} packages, {manifest['summary']['commands']} commands")
    with tempfile.TemporaryDirectory() as tmp:  # the sh twin: one command at a time, no parsing
        floor = Path(tmp) / "floor.sh"
        floor_script(floor)
        out = Path(tmp) / "out"
        out.mkdir()
        sh_base, sh_got, sh_ratio = measure_against(["sh", str(floor)], ["sh", str(SH_COLLECTOR), "-q", "-o", str(out)],
                                                    runs)
    line("migsnap.sh under sh (raw only, serial)", f"{sh_got['wall']:.2f} s",
         f"{ratio(sh_got['wall'], sh_base['wall'])} of floor", f"median overhead {(sh_ratio - 1) * 100:+.0f} %; "
         "no target (it does what the floor does, plus hashes and a tar)")


def collector_hosts(runs: int) -> None:
    if os.geteuid() != 0 or not shutil.which("systemd-nspawn"):
        print("collector, sample hosts: skipped (needs root and systemd-nspawn)")
        return
    for kind, python in (("sysv11", "python2.7"), ("systemd12", "python3")):
        root = ROOTS / kind
        if not (root / ".hostlab-ready").exists():
            print(f"collector, {kind}: skipped ({root} not built: tests/hostlab/hostlab.sh mkroot {kind} {root})")
            continue
        subprocess.run([str(HOSTLAB), "boot", str(root)], check=True, capture_output=True)
        try:
            _collector_in_host(kind, root, python, runs)
            if kind == "systemd12":
                _grow_dpkg_status(root, 2000)
                _collector_in_host(f"{kind} with 2,000 packages", root, python, runs)
        finally:
            subprocess.run([str(HOSTLAB), "stop", str(root)], capture_output=True)


def _collector_in_host(label: str, root: Path, python: str, runs: int) -> None:
    floor = root / "var" / "tmp" / "floor.sh"
    floor_script(floor)
    shutil.copy(COLLECTOR, root / "var" / "tmp" / "migsnap.py")

    def inside(cmd: str) -> float:
        proc = subprocess.run([str(HOSTLAB), "exec", str(root), "sh", "-c",
                               f"s=$(date +%s.%N); {cmd} >/dev/null 2>&1; e=$(date +%s.%N); echo $s $e"],
                              capture_output=True, text=True, check=True)
        start, end = map(float, proc.stdout.split())
        return end - start
    turns = [(inside("sh /var/tmp/floor.sh"),
              inside(f"rm -rf /var/tmp/o; mkdir /var/tmp/o; {python} /var/tmp/migsnap.py -q -o /var/tmp/o"))
             for _ in range(runs)]  # in turn: both see the same moments of a noisy machine
    base, got = statistics.median(f for f, _ in turns), statistics.median(g for _, g in turns)
    turn_ratio = statistics.median(g / f for f, g in turns)
    bundle = next((root / "var" / "tmp" / "o").glob("*.tgz"))
    print(f"collector, {label}")
    line("floor: the same commands from sh, in a row", f"{base:.2f} s")
    line(f"migsnap under {python}", f"{got:.2f} s", f"{ratio(got, base)} of floor",
         f"{(turn_ratio - 1) * 100:+.0f} % in turn (target: under +15 %; under 5 s at 2,000 packages)")
    line("bundle", f"{bundle.stat().st_size / 1024:.0f} KB", "", f"{len(_packages(bundle))} packages")


def _grow_dpkg_status(root: Path, total: int) -> None:
    """Makes dpkg inside the booted host list `total` packages: real stanzas of its Debian
    release's package index, marked installed, bind-mounted over /var/lib/dpkg/status inside the
    host's own mount namespace (the root's file stays as it is)."""
    status = (root / "var/lib/dpkg/status").read_text()
    have = {s.split("\n", 1)[0][len("Package: "):] for s in status.split("\n\n") if s.startswith("Package: ")}
    index = next((root / "var/lib/apt/lists").glob("*_Packages")).read_text()
    extra = []
    for stanza in index.split("\n\n"):
        if len(have) >= total:
            break
        name = stanza.split("\n", 1)[0][len("Package: "):]
        if stanza.startswith("Package: ") and name not in have:
            # an index stanza names its archive file; dpkg refuses those fields in its status
            kept = [f for f in stanza.split("\n") if not f.startswith(ARCHIVE_FIELDS)]
            kept.insert(1, "Status: install ok installed")
            extra.append("\n".join(kept))
            have.add(name)
    (root / "var/tmp/status.big").write_text(status.rstrip("\n") + "\n\n" + "\n\n".join(extra) + "\n")
    subprocess.run([str(HOSTLAB), "exec", str(root), "mount", "--bind", "/var/tmp/status.big",
                    "/var/lib/dpkg/status"], check=True, capture_output=True)


ARCHIVE_FIELDS = ("Filename:", "Size:", "MD5sum:", "SHA1:", "SHA256:", "SHA512:", "Description-md5:")


def _manifest(bundle: Path) -> dict:
    with tarfile.open(bundle) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/manifest.json"))
        return json.load(tar.extractfile(member))


def _packages(bundle: Path) -> list:
    with tarfile.open(bundle) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/snapshot.json"))
        return json.load(tar.extractfile(member))["packages"]


# --- migdiff ----------------------------------------------------------------------------------------

FLOOR = r"""
import json, sys, tarfile
def load(path):
    docs = {}
    with tarfile.open(path) as tar:
        for m in tar:
            if m.name.endswith(".json"):
                docs[m.name.rsplit("/", 1)[1]] = json.load(tar.extractfile(m))
    return docs
a, b = load(sys.argv[1]), load(sys.argv[2])
for section, key in (("packages", lambda p: (p["manager"], p["name"], p["arch"])), ("services", None),
                     ("ports", lambda p: (p["protocol"], p["bind"], p["port"], p["path"]))):
    ka = set(a["snapshot.json"][section]) if key is None else {key(p) for p in a["snapshot.json"][section]}
    kb = set(b["snapshot.json"][section]) if key is None else {key(p) for p in b["snapshot.json"][section]}
    print(section, len(ka - kb), len(kb - ka))
"""


def migdiff_large(workdir: Path, runs: int) -> None:
    a, b = scaled_pair(workdir, 25_000)
    command = MIGDIFF + [str(a), str(b), "--format", "json", "-o", str(workdir / "d.json")]
    floor, got, turn_ratio = measure_against([sys.executable, "-c", FLOOR, str(a), str(b)], command, runs)
    memory = max(tree_memory(command) for _ in range(3))
    helped = measure(MIGDIFF + ["--help"], runs)
    report = json.loads((workdir / "d.json").read_text())
    changed = sum(c["changed"] for c in report["summary"].values())
    print("migdiff, a pair of 25,000 packages (2 % changed), 1,500 services, 5,000 sockets")
    line("floor: load both bundles' JSON, compare key sets", f"{floor['wall']:.2f} s", "", f"RSS {floor['rss']:.0f} MB")
    line("migdiff A B --format json", f"{got['wall']:.2f} s", f"{turn_ratio:.2f}x of floor",
         f"CPU {got['cpu']:.2f} s; RSS {got['rss']:.0f} MB, both processes {memory:.0f} MB (PSS); "
         f"targets: under 1.0 s, 3x, 250 MB; {changed} changed records")
    line("migdiff --help", f"{helped['wall']:.2f} s", "", "target: under 0.3 s")


def growth(workdir: Path, runs: int, quick: bool) -> None:
    """The same 1,500 services and 5,000 sockets, more and more packages.  CPU time, best of the
    runs (this machine's clock and neighbours make wall times wander), and its step per 1,000 more.
    From 4 MiB of parsed.json up (5,000 packages a side) the CPU time includes the forked child
    that checks it, and the page copies the two processes make."""
    print("migdiff, how cost grows with the number of packages (1,500 services, 5,000 sockets)")
    points = []
    for n in (1_000, 5_000, 25_000) + (() if quick else (100_000,)):
        a, b = scaled_pair(workdir, n)
        got = measure(MIGDIFF + [str(a), str(b), "--format", "json", "-o", str(workdir / "g.json")], runs)
        points.append((n, got))
    steps = []
    for i, (n, got) in enumerate(points):
        note = ""
        if i:
            prev_n, prev = points[i - 1]
            step = (got["best_cpu"] - prev["best_cpu"]) / (n - prev_n) * 1000
            wall_step = (got["wall"] - prev["wall"]) / (n - prev_n) * 1000
            steps.append(step)
            note = f"per 1,000 packages over {prev_n:,}: +{step * 1000:.0f} ms CPU, +{wall_step * 1000:.0f} ms wall"
        line(f"{n:,} packages", f"{got['wall']:.2f} s", f"CPU {got['best_cpu']:.2f} s",
             f"RSS {got['rss']:.0f} MB; {note}")
    if len(steps) >= 2:
        line("cost per package, last step over the one before", ratio(steps[-1], steps[-2]), "",
             "linear: about 1x (the first step is mostly fixed start-up cost)")


def fleet(workdir: Path, quick: bool) -> None:
    count = 200 if quick else 1000
    # the sample bundles as the collector migdiff carries writes them: validate re-parses those
    samples = [as_written_here(sample, workdir / sample.name)
               for sample in sorted((REPO / "sample_bundles").glob("*.tgz"))]
    folder = workdir / "fleet"
    folder.mkdir()
    for i in range(count):
        shutil.copy(samples[i % len(samples)], folder / f"host{i:04d}.tgz")
    bundles = sorted(str(p) for p in folder.glob("*.tgz"))
    checked = measure(MIGDIFF + ["validate", *bundles], 1)
    shown = measure(MIGDIFF + ["show", "--format", "json", "-o", str(workdir / "fleet.json"), *bundles], 1)
    print(f"fleet, {count} typical bundles, {os.cpu_count()} CPUs")
    line("migdiff validate", f"{checked['wall']:.1f} s", "", f"target: 1,000 in under 60 s; CPU {checked['cpu']:.1f} s")
    line("migdiff show --format json", f"{shown['wall']:.1f} s", "", f"CPU {shown['cpu']:.1f} s")


def size(workdir: Path) -> None:
    print("bundle size")
    sizes = []
    for n in (1_000, 25_000):
        a, _ = scaled_pair(workdir, n, services=100, sockets=100)
        sizes.append((n, a.stat().st_size))
    per_1000 = (sizes[1][1] - sizes[0][1]) / ((sizes[1][0] - sizes[0][0]) / 1000)
    line("compressed bytes per 1,000 packages", f"{per_1000 / 1024:.0f} KB", "",
         "raw dpkg -l and dpkg-query, parsed.json, snapshot.json")
    for sample in sorted((REPO / "sample_bundles").glob("*.tgz")):
        seen: dict[str, str] = {}
        twice = 0
        with tarfile.open(sample) as tar:
            for m in tar.getmembers():
                if m.isfile() and m.size:
                    digest = __import__("hashlib").sha256(tar.extractfile(m).read()).hexdigest()
                    twice += digest in seen
                    seen.setdefault(digest, m.name)
        line(f"{sample.name}: files stored twice", str(twice), "", f"{sample.stat().st_size / 1024:.0f} KB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="collector,hosts,migdiff,growth,fleet,size")
    args = parser.parse_args()
    only = set(args.only.split(","))
    runs = 3 if args.quick else 7
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}, Python "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "collector" in only:
            collector_here(runs)
        if "hosts" in only:
            collector_hosts(3 if args.quick else 7)
        if "migdiff" in only:
            migdiff_large(work, runs)
        if "growth" in only:
            growth(work, 3 if args.quick else 5, args.quick)
        if "fleet" in only:
            fleet(work, args.quick)
        if "size" in only:
            size(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Peak memory and time of `migdiff validate` on hostile bundles (a script, not a test).

Builds, in a temporary directory, a gzip bomb (a real bundle with 64 members of 63 MiB of zeros
slipped in before its manifest: 4 MB that inflate to about 4 GiB, every member under the
per-member cap) and a bundle of a million tiny members, runs `migdiff validate` on each as a
subprocess, and prints for each: compressed size, what it would inflate to, exit status, the
error line, wall time, peak RSS, and PASS/FAIL against the 200 MB target (PASS also needs the
bundle refused with exit 2 and no traceback).

    /work/venv/bin/python benchmarks/hostile_memory.py [--bundle X.tgz] [-- extra migdiff options]

Peak RSS comes from /usr/bin/time -v when present, else from os.wait4 through a small launcher.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from crafted import write_bomb, write_many_members  # noqa: E402

TARGET_MB = 200
MiB = 1024 * 1024
GNU_TIME = "/usr/bin/time"


# Without /usr/bin/time: a small launcher spawns migdiff and reports the grandchild's own rusage.
# (A direct child would not do: Linux records the parent's resident size in the child's ru_maxrss
# when the child execs, so this script's own size would show up as migdiff's.)
LAUNCHER = ("import os, sys; pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ); "
            "_, status, usage = os.wait4(pid, 0); "
            "open(sys.argv[1], 'w').write('%d %d' % (os.waitstatus_to_exitcode(status), usage.ru_maxrss))")


def measure(argv: list[str], workdir: Path, gnu_time: bool = True) -> tuple[int, str, str, float, float, str]:
    """(exit status, stdout, stderr, wall seconds, peak RSS in MB, how RSS was measured)."""
    out, err, report = workdir / "stdout", workdir / "stderr", workdir / "rusage.txt"
    use_time = gnu_time and os.access(GNU_TIME, os.X_OK)
    if use_time:
        cmd = [GNU_TIME, "-v", "-o", str(report), *argv]
    else:
        cmd = [sys.executable, "-S", "-c", LAUNCHER, str(report), *argv]
    with open(out, "wb") as o, open(err, "wb") as e:
        start = time.monotonic()
        proc = subprocess.run(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL, cwd=workdir)
        wall = time.monotonic() - start
    text = report.read_text()
    if use_time:
        code_match = re.search(r"Exit status: (\d+)", text)
        code = int(code_match.group(1)) if code_match else proc.returncode
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
        how = "/usr/bin/time -v"
    else:
        code, rss_kb = map(int, text.split())
        how = "os.wait4 ru_maxrss of the grandchild"
    report.unlink()
    return (code, out.read_text(errors="replace"), err.read_text(errors="replace"), wall, rss_kb / 1024, how)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "sample_bundles" / "debian12-systemd.tgz",
                        help="the real bundle the hostile ones are made from")
    parser.add_argument("--members", type=int, default=1_000_000, help="tiny members in the second case")
    parser.add_argument("--wait4", action="store_true", help="measure with os.wait4 even if /usr/bin/time is there")
    parser.add_argument("extra", nargs="*", help="more migdiff validate options (after --)")
    args = parser.parse_args()
    migdiff = [sys.executable, "-m", "migdiff", "validate", *args.extra]

    failed = 0
    with tempfile.TemporaryDirectory(prefix="migdiff-hostile-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "cwd"
        work.mkdir()
        cases = []
        start = time.monotonic()
        bomb = tmp_path / "bomb.tgz"
        cases.append(("gzip bomb (64 x 63 MiB zeros)", bomb, write_bomb(bomb, args.bundle, 64, 63 * MiB),
                      time.monotonic() - start))
        start = time.monotonic()
        many = tmp_path / "million.tgz"
        cases.append((f"{args.members:,} tiny members", many, write_many_members(many, args.bundle, args.members),
                      time.monotonic() - start))
        cases.append(("real bundle (reference)", args.bundle, None, 0.0))

        print(f"migdiff validate {' '.join(args.extra)}".rstrip() + f"   (python {sys.version.split()[0]}, "
              f"target: peak RSS under {TARGET_MB} MB)")
        print(f"{'case':32} {'compressed':>11} {'inflates to':>13} {'exit':>4} {'wall s':>7} {'RSS MB':>7}  verdict")
        for name, path, inflated, built in cases:
            code, out, err, wall, rss, how = measure([*migdiff, str(path)], work, gnu_time=not args.wait4)
            line = (err.strip() or out.strip()).splitlines()
            first = line[0] if line else ""
            clean = "Traceback" not in out + err and len(line) == 1
            leftovers = sorted(p.name for p in work.iterdir() if p.name not in ("stdout", "stderr"))
            if inflated is None:
                verdict = "PASS" if code == 0 and rss < TARGET_MB and clean and not leftovers else "FAIL"
            else:
                verdict = "PASS" if code == 2 and rss < TARGET_MB and clean and not leftovers else "FAIL"
            failed += verdict == "FAIL"
            size = path.stat().st_size
            print(f"{name:32} {size / MiB:9.1f}MB {(inflated or 0) / MiB:11.0f}MB {code:>4} {wall:7.2f} "
                  f"{rss:7.1f}  {verdict}" + (f"  (built in {built:.1f} s)" if built else ""))
            print(f"    {first[:300]}")
            if leftovers:
                print(f"    files left in the working directory: {leftovers}")
        print(f"peak RSS measured with {how}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

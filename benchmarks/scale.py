"""Large bundles for the benchmarks, grown from a real one.

The raw outputs of a real bundle (sample_bundles/debian12-systemd.tgz) are multiplied: package
lines of `dpkg-query`/`dpkg -l` under new names with their real versions, unit lines of the
systemctl listings, listening lines of `ss`.  The collector's own parsers, normalizer and writer
then build the bundle, so raw files, parsed.json, snapshot.json and the manifest agree and the
result validates like any bundle.  The target of a pair differs from the source in a given share
of package versions, and in a few services and ports.
"""
from __future__ import annotations

import copy
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "snapshot"), str(REPO)]

import migsnap  # noqa: E402

from migdiff.bundle import read_bundle  # noqa: E402
from migdiff.redact import results_of  # noqa: E402

SAMPLE = REPO / "sample_bundles" / "debian12-systemd.tgz"


def _grow_lines(text: str, keep: callable, rename: callable, total: int) -> str:
    """The lines `keep` selects, repeated under new names until there are `total` of them."""
    lines = text.splitlines()
    head = [line for line in lines if not keep(line)]
    body = [line for line in lines if keep(line)]
    grown = list(body)
    copy_no = 1
    while len(grown) < total:
        for line in body:
            if len(grown) >= total:
                break
            grown.append(rename(line, copy_no))
        copy_no += 1
    # dpkg -l and systemctl print their header first and legend last: keep that order
    first = [line for line in head if lines.index(line) < lines.index(body[0])] if body else head
    last = [line for line in head if line not in first]
    return "\n".join(first + grown + last) + "\n"


def _package_name(line: str, n: int) -> str:
    name, rest = line.split("\t", 1)
    return f"{name}-x{n}\t{rest}"


def _dpkg_l_name(line: str, n: int) -> str:
    return re.sub(r"^(\S+\s+)(\S+)", lambda m: f"{m.group(1)}{m.group(2)}-x{n}", line, count=1)


def _unit_name(line: str, n: int) -> str:
    return re.sub(r"([\w@.-]+)\.service", lambda m: f"{m.group(1)}-x{n}.service", line, count=1)


def _listen_port(counter: list[int]) -> callable:
    def rename(line: str, n: int) -> str:
        counter[0] += 1
        return re.sub(r"(0\.0\.0\.0|\[::\]|\*|127\.0\.0\.1):\d+ ", lambda m: f"{m.group(1)}:{counter[0]} ", line, count=1)
    return rename


def grow(results: list[migsnap.Result], packages: int, services: int, sockets: int) -> None:
    """Multiplies the raw outputs of `results` in place, then re-parses them."""
    port = [20000]
    plans = {
        "dpkg-query": (lambda line: "\t" in line, _package_name, packages),
        "dpkg-l": (lambda line: bool(re.match(r"^[a-z][a-zA-Z]{1,2} ", line)), _dpkg_l_name, packages),
        "systemctl-units-service": (lambda line: ".service" in line, _unit_name, services),
        "systemctl-unit-files-service": (lambda line: ".service" in line, _unit_name, services),
        "ss-nlpaxtudw": (lambda line: line.startswith(("tcp ", "udp ")) and ("LISTEN" in line or "UNCONN" in line),
                         _listen_port(port), sockets),
    }
    for result in results:
        plan = plans.get(result.capture.id)
        if plan is None:
            continue
        keep, rename, total = plan
        result.raw = [(name, role, path, _grow_lines(migsnap.to_text(data), keep, rename, total).encode()
                       if role == "stdout" else data) for name, role, path, data in result.raw]
    for result in results:
        result.parsed, result.warnings = None, 0
        migsnap.apply_parser(result)


def _rebuilt(line: str) -> str:
    """The package of a dpkg-query or dpkg -l line, one binary rebuild later (version+b1)."""
    if "\t" in line:
        name, version, rest = line.split("\t", 2)
        return f"{name}\t{version}+b1\t{rest}"
    codes, name, version, rest = line.split(None, 3)
    return line.replace(f" {version} ", f" {version}+b1 ", 1)


def change(results: list[migsnap.Result], share: float, seed: int = 7) -> None:
    """Moves `share` of the package versions up one packaging revision, stops a few services and
    drops a few listening sockets, as a replacement host would differ."""
    rng = random.Random(seed)
    for result in results:
        new_raw = []
        for name, role, path, data in result.raw:
            if role != "stdout":
                new_raw.append((name, role, path, data))
                continue
            lines = migsnap.to_text(data).splitlines()
            if result.capture.id in ("dpkg-query", "dpkg-l"):
                rng_local = random.Random(seed)  # the same packages in both listings
                lines = [_rebuilt(line) if rng_local.random() < share and ("\t" in line or line.startswith("ii "))
                         else line for line in lines]
            elif result.capture.id == "systemctl-units-service":
                lines = [line.replace(" running ", " dead    ").replace(" active ", " inactive ")
                         if rng.random() < share / 2 and " running " in line else line for line in lines]
            elif result.capture.id == "ss-nlpaxtudw":
                lines = [line for line in lines if not (line.startswith("tcp ") and rng.random() < share / 2)]
            new_raw.append((name, role, path, ("\n".join(lines) + "\n").encode()))
        result.raw = new_raw
    for result in results:
        result.parsed, result.warnings = None, 0
        migsnap.apply_parser(result)


def as_this_collector(results: list[migsnap.Result]) -> list[migsnap.Result]:
    """The results with an entry, skipped, for each capture of this collector's table the sample's
    collector did not have: the bundle this collector writes from the sample's raw files."""
    have = {r.capture.id for r in results}
    for capture in migsnap.captures():
        if capture.id not in have:
            skipped = migsnap.Result(capture)
            skipped.status, skipped.error = "skipped", "--skip"
            results.append(skipped)
    order = [c.id for c in migsnap.captures()]
    return sorted(results, key=lambda r: order.index(r.capture.id))


def write(results: list[migsnap.Result], manifest: dict, out: Path, hostname: str) -> Path:
    """The bundle this collector build writes (its version and sha256 in the manifest: migdiff
    re-parses the raw files of such a bundle to check its JSON documents)."""
    meta = {k: v for k, v in manifest.items() if k not in ("entries", "summary", "files")}
    meta["hostname"] = hostname
    meta["collector"] = dict(meta["collector"], version=migsnap.__version__, sha256=migsnap.own_sha256())
    members, _ = migsnap.build_members(results, meta)
    with open(out, "wb") as f:
        migsnap.write_tar(f, out.name[:-4], members, 0)
    return out


def as_written_here(sample: Path, out: Path) -> Path:
    """A real bundle as this collector build writes it from the same raw files (re-parsed by its
    parsers, its version and sha256 in the manifest): the bundles migdiff checks in full."""
    bundle = read_bundle(str(sample), keep_raw=True)
    results = as_this_collector(results_of(bundle))
    for result in results:
        migsnap.apply_parser(result)
    return write(results, bundle.manifest, out, bundle.manifest["hostname"])


def scaled_pair(outdir: Path, packages: int, services: int = 1500, sockets: int = 5000,
                share: float = 0.02) -> tuple[Path, Path]:
    """A source and a target bundle of the given size in `outdir`."""
    bundle = read_bundle(str(SAMPLE), keep_raw=True)
    source = as_this_collector(results_of(bundle))
    grow(source, packages, services, sockets)
    target = copy.deepcopy(source)
    change(target, share)
    a = write(source, bundle.manifest, outdir / f"large-{packages}-source.tgz", "bench-source")
    b = write(target, bundle.manifest, outdir / f"large-{packages}-target.tgz", "bench-target")
    return a, b


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 25000
    print(*scaled_pair(Path(sys.argv[2] if len(sys.argv) > 2 else "."), n))

"""Many bundles at once: a process pool over the machine's CPUs, results in the order the
bundles were given, and a progress bar when stderr is a terminal."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from .bundle import RAW_IN_MEMORY, Limits, read_bundle
from .errors import MigdiffError

T = TypeVar("T")
R = TypeVar("R")


def run_many(work: Callable[[T], R], items: Sequence[T], jobs: int | None, what: str) -> Iterator[R]:
    """work(item) for every item, on `jobs` processes (default: one per CPU), yielded in order."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(items)))
    progress = _progress(len(items), what) if len(items) > 1 and sys.stderr.isatty() else None
    try:
        if jobs == 1:
            results: Iterator[R] = map(work, items)
            for result in results:
                _advance(progress)
                yield result
            return
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for result in pool.map(work, items, chunksize=max(1, min(16, len(items) // (jobs * 8)))):
                _advance(progress)
                yield result
    finally:
        if progress is not None:
            progress.stop()


def _progress(total: int, what: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    progress = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=Console(file=sys.stderr), transient=True)
    progress.start()
    progress.add_task(what, total=total)
    return progress


def _advance(progress) -> None:
    if progress is not None:
        progress.advance(progress.task_ids[0])


# --- the work on one bundle, in a worker process (module-level, so it can be sent there) ------------

def validate_one(job: tuple[str, Limits, bytes | None]) -> tuple[str, str]:
    """("ok" | "invalid" | "trouble", the line to print) for one bundle."""
    from .validate import validate
    path, limits, key = job
    try:
        bundle = read_bundle(path, limits, raw_budget=min(RAW_IN_MEMORY, limits.max_reparse_size))
        result = validate(bundle, typed=(), limits=limits, verify_key=key)
    except MigdiffError as exc:
        return "trouble", str(exc)
    return ("ok" if result.ok else "invalid"), result.line()


def show_one(job: tuple[str, Limits, bool, list[str], str | None, str, int | None, bytes | None]
             ) -> tuple[str, str, list[str]]:
    """("ok" | "trouble", the rendered requirement list or the error line, what the user must know of
    how the bundle was parsed and hashed) for one bundle."""
    from . import names as names_map
    from .host import opened_hosts
    from .show import requirements
    path, limits, check, sections, names_file, fmt, width, key = job
    try:
        with opened_hosts([path], limits, check=check, verify_key=key) as (host,):
            req = requirements(host.ref, host.snapshot, sections,
                               names_map.load(Path(names_file) if names_file else None))
            cautions = host.cautions
    except MigdiffError as exc:
        return "trouble", str(exc), []
    from .present import render
    return "ok", render(fmt, "show", req, width), cautions

"""One piece of work in a forked child while the parent goes on: two cores for one command."""
from __future__ import annotations

import gc
import os
import pickle
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def forked(work: Callable[[], T]) -> Callable[[], T]:
    """Starts work() in a forked child; the callable returned waits for its result.

    The child shares the parent's memory copy-on-write, so it needs nothing sent to it.  Where
    fork is missing (not Linux) or fails, and when the child dies or raises, work() runs in this
    process when the result is asked for: the answer is the same, only later, and an exception
    is raised here, where it can be reported.
    """
    if not sys.platform.startswith("linux"):
        return work
    read_end, write_end = os.pipe()
    # What exists now is shared copy-on-write: kept out of the cyclic collector's reach (until
    # the child is done), its pages are not copied just because a collection wrote to them.
    gc.freeze()
    try:
        pid = os.fork()
    except OSError:
        gc.unfreeze()
        os.close(read_end)
        os.close(write_end)
        return work
    if pid == 0:  # the child: never returns, and never runs the parent's exit handlers or flushes
        os.close(read_end)
        gc.disable()  # short-lived, and what it builds holds no cycles: nothing for the collector to do
        status = 1
        try:
            payload = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)

    def result() -> T:
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        gc.unfreeze()  # nothing is shared any more
        if status == 0 and payload:
            return pickle.loads(payload)
        return work()
    return result

"""Opening a bundle for use: read it safely, validate it, and type its snapshot."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .bundle import DEFAULT_LIMITS, RAW_IN_MEMORY, Bundle, Limits, read_bundles
from .errors import BundleError, InvalidBundle

if TYPE_CHECKING:  # pydantic and the models are loaded while the bundles are read (opened_hosts)
    from .changes import HostRef
    from .models import Snapshot
    from .validate import Validation


@dataclass
class Host:
    bundle: Bundle
    snapshot: Snapshot

    @property
    def cautions(self) -> list[str]:
        """What a user must know of how this bundle was parsed and hashed (a raw-only one, parsed
        just now; a host without a sha256 tool), one line each, naming the bundle."""
        from .complete import cautions
        from .errors import escaped
        return [escaped(f"{self.bundle.path}: {note}") for note in cautions(self.bundle.manifest)]

    @property
    def ref(self) -> HostRef:
        from .compare import host_ref
        return host_ref(self.bundle.label, self.snapshot, self.bundle.manifest)


@contextmanager
def opened_hosts(paths: list[str], limits: Limits = DEFAULT_LIMITS, check: bool = True,
                 verify_key: bytes | None = None) -> Iterator[list[Host]]:
    """Bundles ready to use, checked as `migdiff validate` checks them (unless check is False),
    their signatures against verify_key when one is given.

    Their snapshots are checked and typed before the block runs.  The content of large bundles
    (parsed.json, and the raw files parsed again) is checked meanwhile, by a forked child
    (validate.start_validation): what the block computes stands only if it passes, and
    InvalidBundle is raised as it ends otherwise.  So the block computes, and the caller writes
    after it.
    """
    if not check:
        bundles = read_bundles(paths, limits, meanwhile=_load_modules)
        from .complete import is_raw_only
        from .validate import open_raw_only
        for bundle in bundles:
            if is_raw_only(bundle.manifest):  # nothing to use until its raw files are parsed
                open_raw_only(bundle, limits, check=False)
        yield [Host(bundle=bundle, snapshot=_typed_leniently(bundle)) for bundle in bundles]
        return
    # Read first, then check: a large bundle's content is checked by a child forked at once, which
    # needs none of the modules this process loads next (pydantic's models take as long to build
    # as reading takes).
    bundles = read_bundles(paths, limits, raw_budget=min(RAW_IN_MEMORY, limits.max_reparse_size))
    from . import validate
    pending = validate.start_validation(bundles, fork_from=validate.FORK_FROM, limits=limits, verify_key=verify_key)
    if not pending.usable():
        _refuse_invalid(pending.results())
    hosts = []
    for bundle in bundles:
        bundle.files.pop("snapshot.json", None)  # typed: the bytes are not read again
        hosts.append(Host(bundle=bundle, snapshot=bundle.typed["snapshot"]))
    try:
        yield hosts
    except BaseException:
        pending.results()  # the child is waited for, whatever happened in the block
        raise
    results = pending.results()
    for bundle in bundles:
        bundle.files.pop("parsed.json", None)
    _refuse_invalid(results)


def _load_modules() -> None:
    """What opening needs and comparing uses.  Building pydantic's models takes about as long as
    reading a large pair of bundles, which mostly runs outside the GIL: the two overlap."""
    from . import compare, validate  # noqa: F401


def _refuse_invalid(results: list[Validation]) -> None:
    for result in results:
        if not result.ok:
            raise InvalidBundle(result.path, list(result.reasons))


def _typed_leniently(bundle: Bundle) -> Snapshot:
    from pydantic import ValidationError

    from .models import Snapshot
    try:
        return Snapshot.model_validate(bundle.snapshot)
    except ValidationError as exc:  # --no-validate, and the snapshot is broken after all
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BundleError(bundle.path, f"snapshot.json cannot be used: {where}: {first['msg']} "
                                       f"({exc.error_count()} problems)") from None

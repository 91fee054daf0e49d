"""Opening a bundle for use: read it safely, validate it, and type its snapshot."""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from .bundle import DEFAULT_LIMITS, Bundle, Limits, read_bundle
from .changes import HostRef
from .compare import host_ref
from .errors import BundleError, InvalidBundle
from .models import Snapshot
from .validate import validate


@dataclass
class Host:
    bundle: Bundle
    snapshot: Snapshot

    @property
    def ref(self) -> HostRef:
        return host_ref(self.bundle.label, self.snapshot, self.bundle.manifest)


def open_host(path: str, limits: Limits = DEFAULT_LIMITS, check: bool = True) -> Host:
    """A bundle ready to compare; InvalidBundle when validation fails (unless check is False)."""
    return open_hosts([path], limits, check)[0]


def open_hosts(paths: list[str], limits: Limits = DEFAULT_LIMITS, check: bool = True) -> list[Host]:
    """Bundles ready to compare, checked as `migdiff validate` checks them (unless check is False).

    (Checking parsed.json in a forked child, in parallel, was measured: slower here, not faster.)"""
    hosts = []
    for path in paths:
        bundle = read_bundle(path, limits)
        if not check:
            hosts.append(Host(bundle=bundle, snapshot=_typed_leniently(bundle)))
            continue
        result = validate(bundle)
        if not result.ok:
            raise InvalidBundle(bundle.path, list(result.reasons))
        for checked in ("parsed.json", "snapshot.json"):  # checked and typed: the bytes are not read again
            bundle.files.pop(checked, None)
        hosts.append(Host(bundle=bundle, snapshot=bundle.typed["snapshot"]))
    return hosts


def _typed_leniently(bundle: Bundle) -> Snapshot:
    try:
        return Snapshot.model_validate(bundle.snapshot)
    except ValidationError as exc:  # --no-validate, and the snapshot is broken after all
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BundleError(bundle.path, f"snapshot.json cannot be used: {where}: {first['msg']} "
                                       f"({exc.error_count()} problems)") from None

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
    bundle = read_bundle(path, limits)
    if check:
        result = validate(bundle)
        if not result.ok:
            raise InvalidBundle(path, list(result.reasons))
        bundle.files.pop("parsed.json", None)  # checked; comparing never reads it
        return Host(bundle=bundle, snapshot=bundle.typed["snapshot"])
    try:
        snapshot = Snapshot.model_validate(bundle.snapshot)
    except ValidationError as exc:  # only reachable with --no-validate
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BundleError(path, f"snapshot.json cannot be used: {where}: {first['msg']} "
                                f"({exc.error_count()} problems)") from None
    return Host(bundle=bundle, snapshot=snapshot)

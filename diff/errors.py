"""The one error family of migdiff.  Only the CLI turns these into exit codes."""
from __future__ import annotations

# Exit codes, as diff(1): 0 same / valid, 1 different / invalid, 2 trouble.
EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_TROUBLE = 2


class MigdiffError(Exception):
    """Something migdiff cannot get past: one line for the user, exit 2."""

    exit_code = EXIT_TROUBLE


class BundleError(MigdiffError):
    """A bundle that cannot be read safely: names the file and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class InvalidBundle(MigdiffError):
    """A bundle that reads but fails validation (schema, integrity, format version)."""

    def __init__(self, path: str, reasons: list[str]) -> None:
        super().__init__(f"{path}: INVALID: " + "; ".join(reasons))
        self.path = path
        self.reasons = reasons


class UsageError(MigdiffError):
    """Arguments that make no sense together."""

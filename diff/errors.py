"""The one error family of migdiff.  Only the CLI turns these into exit codes."""
from __future__ import annotations

# Characters that reorder or hide text on a terminal or in a browser: the bidirectional embeddings,
# overrides and isolates, and the marks.  str.isprintable() calls them unprintable (they are format
# characters, Cf) on every Python migdiff runs on; they are named here so that no Unicode update
# can let one through.
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

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


def escaped(text: str) -> str:
    """Text as it may reach a terminal: control characters (C0, DEL, C1), bidirectional overrides
    and every other unprintable character shown as Python escapes (\\x1b, \\u202e), not obeyed.

    Callers bound the length first: this walks the text character by character when it must."""
    if text.isprintable() and not any(mark in text for mark in BIDI):
        return text
    return "".join(ch if ch.isprintable() and ch not in BIDI else repr(ch)[1:-1] for ch in text)

"""The collector seen from the analyst's side: its parsers (never a second copy) and the file itself."""
from __future__ import annotations

import filecmp
import json
import shutil
import sys
from pathlib import Path

import migsnap

from .errors import MigdiffError, UsageError


def capture(capture_id: str) -> migsnap.Capture:
    try:
        return migsnap.capture_by_id(capture_id)
    except KeyError:
        known = ", ".join(c.id for c in migsnap.captures())
        raise UsageError(f"no capture {capture_id!r}; known ids: {known}") from None


def _read(path: Path) -> str:
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise MigdiffError(f"{path}: {exc.strerror}") from None
    return migsnap.to_text(data)


def parse_files(capture_id: str, files: list[Path]) -> str:
    """Runs the capture's parser over files captured by hand: JSON {"id", "data", "warnings"}."""
    cap = capture(capture_id)
    if cap.kind == migsnap.GLOB:
        arg = [(str(p), _read(p)) for p in files]
    elif len(files) != 1:
        raise UsageError(f"{capture_id} reads one output; got {len(files)} files")
    else:
        arg = _read(files[0])
    data, warnings = migsnap.run_parser(cap, arg)
    return json.dumps({"id": cap.id, "parser": cap.parser, "data": data, "warnings": warnings},
                      indent=2, sort_keys=True)


def collector_path() -> Path:
    return Path(migsnap.__file__).resolve()


SH_NAME = "migsnap.sh"


def sh_collector_path() -> Path | None:
    """The POSIX sh collector migdiff carries, generated from migsnap.py's capture table (None
    when this migdiff has none): installed as package data (migdiff/collector/migsnap.sh), or in
    the source tree beside migsnap.py (snapshot/migsnap.sh)."""
    for candidate in (Path(__file__).resolve().parent / "collector" / SH_NAME, collector_path().with_name(SH_NAME)):
        if candidate.is_file():
            return candidate
    return None


def write_collector(output: Path, force: bool, sh: bool = False) -> str:
    """Copies migsnap.py (with sh: migsnap.sh) to `output` (a directory or a file name); refuses
    to replace a different file."""
    if sh:
        found = sh_collector_path()
        if found is None:
            raise MigdiffError(f"this migdiff carries no {SH_NAME} (it ships beside migsnap.py)")
        source, name = found, SH_NAME
    else:
        source, name = collector_path(), "migsnap.py"
    target = output / name if output.is_dir() else output
    if target.exists() and not force and not filecmp.cmp(source, target, shallow=False):
        raise UsageError(f"{target} exists and differs; use --force to replace it")
    try:
        shutil.copyfile(source, target)
        target.chmod(0o755)
    except OSError as exc:
        raise MigdiffError(f"{target}: {exc.strerror}") from None
    if sh:
        return (f"wrote {target} (migsnap.sh {migsnap.__version__}); run it on the host with: sh {target.name}, "
                f"then complete its bundle here with: migdiff complete BUNDLE.tgz -o FULL.tgz")
    return f"wrote {target} (migsnap {migsnap.__version__}); run it on the host with: python {target.name}"

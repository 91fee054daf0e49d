"""Copy the raw outputs of a real bundle into tests/fixtures/<system>/ as golden inputs.

    python tests/import_fixtures.py BUNDLE.tgz SYSTEM [ID ...]

Only entries that ran (status ok, or failed with output, as dpkg -S with one unknown path) are taken; the
expected .json files are then written with MIGDIFF_REGEN=1 pytest tests/test_golden.py
and must be reviewed by hand before they are committed.
"""
from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "snapshot"))
import migsnap  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def main(argv: list[str]) -> int:
    bundle, system, wanted = Path(argv[0]), argv[1], set(argv[2:])
    target = FIXTURES / system
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(bundle) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name and m.isfile()}
        manifest = json.load(tar.extractfile(members["manifest.json"]))
        for entry in manifest["entries"]:
            if entry["status"] not in ("ok", "failed") or (wanted and entry["id"] not in wanted):
                continue
            files = [f for f in entry["files"] if f["role"] in ("stdout", "file") and f["size"]]
            if not files:
                continue
            if entry["kind"] == "glob":  # a folder mirroring the host's tree: raw/<id>/<path> -> <id>.out/<path>
                folder = target / f"{entry['id']}.out"
                for f in files:
                    dest = folder / f["path"].lstrip("/")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(tar.extractfile(members[f["name"]]).read())
            else:
                (target / f"{entry['id']}.out").write_bytes(tar.extractfile(members[files[0]["name"]]).read())
                errors = [f for f in entry["files"] if f["role"] == "stderr" and f["size"]]
                if entry["id"] in migsnap.BOTH_STREAMS and errors:  # its parser reads stderr too
                    (target / f"{entry['id']}.err").write_bytes(tar.extractfile(members[errors[0]["name"]]).read())
            print(f"{system}/{entry['id']}.out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""JSON Schemas: generated from the pydantic models, committed under schemas/, validated with jsonschema.

`python -m migdiff.schema` rewrites schemas/*.json from the models; the test
suite fails when the committed files and the models drift apart.
"""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA_FILES = ("manifest", "snapshot", "parsed", "diff")


def _models() -> dict[str, type[BaseModel]]:
    from .changes import DiffReport
    from .models import Manifest, Snapshot
    from .parsed_models import Parsed
    return {"manifest": Manifest, "snapshot": Snapshot, "parsed": Parsed, "diff": DiffReport}


def _simplify(node: Any) -> Any:
    """pydantic spells `X | None` as anyOf [X, null]; a type list says the same and validates
    much faster (jsonschema builds no sub-validator per value).  A map with a key pattern also
    refuses other keys, as the model does."""
    if isinstance(node, list):
        return [_simplify(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _simplify(v) for k, v in node.items()}
    if "patternProperties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False  # the model refuses keys outside the pattern: so does the schema
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = options[0] if options[1] == {"type": "null"} else options[1]
        if set(other) == {"type"} and isinstance(other["type"], str):
            del node["anyOf"]
            node["type"] = [other["type"], "null"]
    return node


def generate(name: str) -> dict[str, Any]:
    """The schema of one document, from its model."""
    schema = _simplify(_models()[name].model_json_schema(mode="serialization"))
    ordered = {"$schema": schema.pop("$schema"), "$id": schema.pop("$id")}
    ordered.update(schema)
    return ordered


def render(name: str) -> str:
    return json.dumps(generate(name), indent=2, sort_keys=False) + "\n"


def schema_dir() -> Path:
    """schemas/: inside the installed package (wheel), else beside diff/ in the source tree."""
    here = Path(__file__).resolve().parent
    packaged = here / "schemas"
    return packaged if packaged.is_dir() else here.parent / "schemas"


@lru_cache(maxsize=None)
def load(name: str) -> dict[str, Any]:
    """The committed schema shipped with migdiff (schemas/<name>.schema.json)."""
    return json.loads((schema_dir() / f"{name}.schema.json").read_text("utf-8"))


@lru_cache(maxsize=None)
def validator(name: str) -> Any:
    import jsonschema
    schema = load(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def write_all(directory: Path) -> list[Path]:
    written = []
    for name in SCHEMA_FILES:
        target = directory / f"{name}.schema.json"
        target.write_text(render(name), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else schema_dir()
    for path in write_all(directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Conformance: every entry of the capture table has a parser, a schema entry and a golden fixture,
and the committed schemas are exactly what the models generate."""
from __future__ import annotations

import inspect
import json

import pytest

import migsnap
from conftest import COLLECTOR, FIXTURES, REPO
from migdiff import schema
from migdiff.parsed_models import PARSER_MODELS

CAPTURES = migsnap.captures()
IDS = [c.id for c in CAPTURES]


def test_ids_are_unique_and_name_files_safely() -> None:
    assert len(IDS) == len(set(IDS))
    for cid in IDS:
        assert cid.replace("-", "").isalnum(), cid


def test_the_table_has_one_entry_a_line() -> None:
    source = COLLECTOR.read_text()
    block = source[source.index("CAPTURES = ("):source.index("\n)\n", source.index("CAPTURES = ("))]
    rows = [line for line in block.splitlines()[1:] if line.strip() and not line.strip().startswith("#")]
    assert len(rows) == len(CAPTURES)
    for row, capture in zip(rows, CAPTURES):
        assert row.strip().startswith(f'("{capture.id}",'), row


@pytest.mark.parametrize("capture", CAPTURES, ids=IDS)
def test_entry_has_a_pure_parser(capture: migsnap.Capture) -> None:
    func = getattr(migsnap, capture.parser)
    assert callable(func) and func.__doc__, f"{capture.parser} needs a docstring naming its command and shape"
    empty = [] if capture.kind == migsnap.GLOB else ""
    data, warnings = func(empty)
    assert data in ({}, []) and warnings == []


@pytest.mark.parametrize("capture", CAPTURES, ids=IDS)
def test_entry_has_a_schema_property(capture: migsnap.Capture) -> None:
    assert capture.parser in PARSER_MODELS
    entries = schema.load("parsed")["$defs"]["ParsedEntries"]["properties"]
    assert capture.id in entries


@pytest.mark.parametrize("capture", CAPTURES, ids=IDS)
def test_entry_has_a_golden_fixture(capture: migsnap.Capture) -> None:
    assert list(FIXTURES.glob(f"*/{capture.id}.out")), f"no tests/fixtures/<system>/{capture.id}.out"


def test_no_parser_model_is_orphaned() -> None:
    assert set(PARSER_MODELS) == {c.parser for c in CAPTURES}
    parsers = {name for name, _ in inspect.getmembers(migsnap, inspect.isfunction) if name.startswith("parse_")}
    assert parsers == {c.parser for c in CAPTURES}, "a parse_ function no capture uses"


@pytest.mark.parametrize("name", schema.SCHEMA_FILES)
def test_committed_schema_matches_the_models(name: str) -> None:
    committed = (REPO / "schemas" / f"{name}.schema.json").read_text()
    assert committed == schema.render(name), f"schemas/{name}.schema.json is stale: run python -m migdiff.schema"


def test_golden_outputs_follow_the_parsed_schema() -> None:
    """The expected .json of every fixture validates as that entry of parsed.json."""
    entries: dict[str, object] = {}
    validator = schema.validator("parsed")
    for expected in sorted(FIXTURES.glob("*/*.json")):
        cid = expected.name[:-len(".json")]
        doc = {"format": "migsnap-parsed", "format_version": 1, "entries": {cid: json.loads(expected.read_text())}}
        errors = [f"{expected}: {e.json_path}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, errors[:5]
        entries[cid] = True
    assert set(entries) <= set(IDS)


# The validator's fast path checks documents with the pydantic models in strict mode and only asks
# jsonschema when they refuse; that is sound only if a document the model accepts follows the schema.
MUTATIONS = {
    "valid as collected": lambda d: None,
    "string for a name": lambda d: d["packages"][0].update(name=5),
    "string for a boolean": lambda d: d["packages"][0].update(auto="yes"),
    "null for a status": lambda d: d["packages"][0].update(status=None),
    "port out of range": lambda d: d["ports"][0].update(port=70000),
    "integral float port": lambda d: d["ports"][0].update(port=float(d["ports"][0]["port"] or 0)),
    "boolean for a port": lambda d: d["ports"][0].update(port=True),
    "field missing": lambda d: d["ports"][0].pop("source"),
    "field added": lambda d: d["system"].update(smuggled="x"),
    "field added to a record": lambda d: d["packages"][0].update(smuggled="x"),
    "field added to a nested record": lambda d: d["ports"][0]["processes"].append(
        {"name": "x", "pid": 1, "user": None, "exe": None, "unit": None, "package": None, "smuggled": 1}),
    "unknown init": lambda d: d["init"].update(active="launchd"),
    "bad runlevel key": lambda d: next(iter(d["services"].values())).update(runlevels={"9": "on"}),
    "services not an object": lambda d: d.update(services=[]),
    "newer format": lambda d: d.update(format_version=2),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_fast_model_check_agrees_with_the_schema(mutation: str, sample_pair) -> None:
    import copy

    from conftest import bundle_documents
    from migdiff.models import Snapshot
    document = copy.deepcopy(bundle_documents(sample_pair[1])["snapshot.json"])
    MUTATIONS[mutation](document)
    schema_ok = not list(schema.validator("snapshot").iter_errors(document))
    try:
        Snapshot.model_validate_json(json.dumps(document), strict=True)
        model_ok = True
    except ValueError:
        model_ok = False
    assert not model_ok or schema_ok, "the model accepted what the schema refuses"
    assert schema_ok == (mutation in ("valid as collected", "integral float port"))


def _raw_only(manifest: dict, tool: str | None = "sha256sum") -> None:
    """A Python collector's manifest turned into migsnap.sh's (crafted.raw_only, on the decoded document)."""
    manifest.update(collector=dict(manifest["collector"], name="migsnap.sh"), python=None, files=[],
                    shell={"name": "dash", "executable": "/bin/dash"}, parsing={"where": "none"}, hashes={"tool": tool})
    manifest["summary"].update(parse_warnings=None, parse_errors=None)
    for entry in manifest["entries"]:
        entry.update(warnings=None, parse_error=None)
        for record in entry["files"]:
            record["sha256"] = record["sha256"] if tool else None


def _completed(manifest: dict) -> None:
    """A raw-only manifest of a host without a sha256 tool, as migdiff complete writes it."""
    _raw_only(manifest, tool=None)
    manifest.update(parsing={"where": "migdiff", "by": "migdiff 0.1.0, migsnap 0.4.0 parsers (sha256 0123456789ab)",
                             "at": "2026-12-02T00:00:00Z"},
                    hashes={"tool": None, "computed": "migdiff on arrival", "at": "2026-12-02T00:00:00Z"},
                    files=[{"name": "parsed.json", "size": 1, "sha256": "0" * 64}])
    manifest["summary"].update(parse_warnings=0, parse_errors=0)
    for entry in manifest["entries"]:
        entry["warnings"] = 0
        for record in entry["files"]:
            record["sha256"] = "1" * 64


def _then(*edits):
    def edit(document):
        for one in edits:
            one(document)
    return edit


# Documents only checked (parsed.json always; every document in `migdiff validate`) go through a
# plain TypedDict mirror of their model (plain.py): it must accept and refuse exactly what the
# model does, constraints, aliases, defaults and extra="forbid" included.
PLAIN_MUTATIONS = {
    ("snapshot", name): mutate for name, mutate in MUTATIONS.items()
} | {
    ("manifest", "valid as collected"): lambda d: None,
    ("manifest", "sha256 not hex"): lambda d: d["entries"][0]["files"][0].update(sha256="Z" * 64),
    ("manifest", "negative size"): lambda d: d["files"][0].update(size=-1),
    ("manifest", "defaulted field absent"): lambda d: d.pop("redaction", None),
    ("manifest", "entry id pattern"): lambda d: d["entries"][0].update(id="-x"),
    ("manifest", "field added deep"): lambda d: d["settings"].update(smuggled=1),
    # raw-only bundles (migsnap.sh) and completed ones: rules across fields, which a model validator
    # and the mirror's after-validator both run (models.manifest_shape_problem)
    ("manifest", "raw only"): _raw_only,
    ("manifest", "raw only, no sha256 tool"): lambda d: _raw_only(d, tool=None),
    ("manifest", "raw only, completed"): _completed,
    ("manifest", "raw only, a null sha256 beside a tool"): _then(
        _raw_only, lambda d: d["entries"][0]["files"][0].update(sha256=None)),
    ("manifest", "raw only, a sha256 without a tool"): _then(
        lambda d: _raw_only(d, tool=None), lambda d: d["entries"][0]["files"][0].update(sha256="0" * 64)),
    ("manifest", "raw only, warnings counted"): _then(_raw_only, lambda d: d["entries"][0].update(warnings=1)),
    ("manifest", "raw only, a parse error"): _then(_raw_only, lambda d: d["entries"][0].update(parse_error="x")),
    ("manifest", "raw only, parsed.json listed"): _then(
        _raw_only, lambda d: d.update(files=[{"name": "parsed.json", "size": 1, "sha256": "0" * 64}])),
    ("manifest", "raw only, an unknown hash tool"): _then(_raw_only, lambda d: d.update(hashes={"tool": "md5sum"})),
    ("manifest", "raw only, no shell"): _then(_raw_only, lambda d: d.pop("shell")),
    ("manifest", "completed, a null sha256 left"): _then(
        _completed, lambda d: d["entries"][0]["files"][0].update(sha256=None)),
    ("manifest", "completed, parser counts null"): _then(_completed, lambda d: d["entries"][0].update(warnings=None)),
    ("manifest", "a Python bundle with a null sha256"): lambda d: d["entries"][0]["files"][0].update(sha256=None),
    ("manifest", "a Python bundle without Python"): lambda d: d.update(python=None),
    ("manifest", "a Python bundle saying where it was parsed"): lambda d: d.update(parsing={"where": "none"}),
    ("manifest", "a Python bundle with null parser counts"): lambda d: d["summary"].update(parse_errors=None),
    ("parsed", "valid as collected"): lambda d: None,
    ("parsed", "entry absent (defaults to none)"): lambda d: d["entries"].pop("uname-r"),
    ("parsed", "unknown entry"): lambda d: d["entries"].update(smuggled={"data": {}, "warnings": []}),
    ("parsed", "row field added"): lambda d: d["entries"]["dpkg-query"]["data"][0].update(smuggled=1),
    ("parsed", "row field of the wrong type"): lambda d: d["entries"]["proc-net-tcp"]["data"][0].update(
        local_port="22"),
    ("parsed", "defaulted data field absent"): lambda d: d["entries"]["etc-issue"]["data"].pop("lines"),
    ("parsed", "literal out of set"): lambda d: d["entries"]["service-status-all"]["data"][0].update(
        status="sleeping"),
    ("parsed", "warnings not strings"): lambda d: d["entries"]["uname-m"].update(warnings=[1]),
}


@pytest.mark.parametrize("document,mutation", PLAIN_MUTATIONS, ids=[f"{d}: {m}" for d, m in PLAIN_MUTATIONS])
def test_plain_mirror_accepts_what_the_model_accepts(document: str, mutation: str, sample_pair) -> None:
    import copy

    from conftest import bundle_documents
    from migdiff.plain import plain_validator
    from migdiff.validate import _model
    model = _model(document)
    data = copy.deepcopy(bundle_documents(sample_pair[1])[f"{document}.json"])
    PLAIN_MUTATIONS[document, mutation](data)
    text = json.dumps(data)
    outcomes = []
    for check in (lambda: model.model_validate_json(text, strict=True),
                  lambda: plain_validator(model).validate_json(text, strict=True)):
        try:
            check()
            outcomes.append(True)
        except ValueError:
            outcomes.append(False)
    assert outcomes[0] == outcomes[1], f"model {'accepts' if outcomes[0] else 'refuses'}, mirror does not"
    assert outcomes[0] == (mutation in ("valid as collected", "defaulted field absent",
                                        "entry absent (defaults to none)", "defaulted data field absent",
                                        "raw only", "raw only, no sha256 tool", "raw only, completed"))


def test_entries_started_first_are_in_the_table() -> None:
    assert set(migsnap.STARTS_FIRST) <= set(IDS)

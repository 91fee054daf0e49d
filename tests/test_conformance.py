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
                                        "entry absent (defaults to none)", "defaulted data field absent"))


def test_entries_started_first_are_in_the_table() -> None:
    assert set(migsnap.STARTS_FIRST) <= set(IDS)

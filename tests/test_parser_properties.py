"""Property tests: every parser of the capture table survives whatever it is fed.

For each parser named in migsnap.CAPTURES and each input strategy below, hypothesis feeds the
parser and checks that

* it does not raise;
* it returns a pair (data, warnings): data a dict or a list, whichever the parser returns on its
  golden fixtures (the docstring says the same, see test_docstring_names_the_container), warnings
  a list of str, at most MAX_WARNINGS of them plus one "N more warnings not shown" line;
* the pair survives json.dumps and comes back equal from json.loads (no tuples, no non-str keys,
  no NaN), and is valid as the parsed.json entry of every capture id that uses the parser, by the
  committed schemas/parsed.schema.json;
* it is deterministic and pure: the same input twice gives the same output, the input is untouched.

Strategies (parse_upstart_jobs takes [(path, text)]: each strategy then gives a list of files with
odd names, and "names" is its own strategy on top; "text" and "bytes" owe nothing to a parser, so
each of their inputs goes to every text parser in one test, which gives each parser the same
number of examples for a 30th of the generating):

  text       arbitrary unicode text (no surrogates): control characters, NUL, whitespace only,
             lone "\\r", tabs, very long lines and long digit runs, systemctl's glyphs
  bytes      arbitrary bytes, decoded as the collector does (migsnap.to_text: UTF-8, replacement)
  truncate   a real fixture of the parser cut at a random byte or character offset (head, tail
             or a slice), also just after the lead byte of a multibyte character
  lines      a real fixture with lines shuffled, duplicated, dropped, swapped, joined, and
             interleaved with lines (or whole fixtures) of other commands
  tokens     a window of a real fixture (its header kept) with words replaced by words of the
             parser's fixtures, other words and edge cases ("(none)", "-", "", 5000-digit numbers)
  names      (parse_upstart_jobs only) lists of (path, text) with odd paths and real job files

Settings come from the hypothesis profile "migdiff-ci" (derandomized, no example database, so a
failure reproduces run after run) or "migdiff-explore" (random, with the database), chosen with
MIGDIFF_HYPOTHESIS_PROFILE; MIGDIFF_HYPOTHESIS_EXAMPLES sets max_examples per parser and strategy
(300 by default: 90 to 120 s for the whole file, on one core).  The number of examples each parser
got is printed at the end of the run (and written as JSON to MIGDIFF_HYPOTHESIS_REPORT when set).

The inputs that broke a parser before it was fixed are kept in REGRESSIONS, and determinism across
processes (other hash seeds) has a test of its own.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import defaultdict

import jsonschema
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import migsnap
from conftest import COLLECTOR, FIXTURES, REPO, glob_fixture_files

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------
EXAMPLES = int(os.environ.get("MIGDIFF_HYPOTHESIS_EXAMPLES", "300"))
_COMMON = dict(max_examples=EXAMPLES, deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.large_base_example])
settings.register_profile("migdiff-ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("migdiff-explore", derandomize=False, **_COMMON)
PROFILE = os.environ.get("MIGDIFF_HYPOTHESIS_PROFILE", "migdiff-ci")
# Applied to the tests of this file only: other files' hypothesis settings stay as they are.
SETTINGS = settings.get_profile(PROFILE)

# ---------------------------------------------------------------------------
# The table, the fixtures, the schema
# ---------------------------------------------------------------------------
CAPTURES = migsnap.captures()
IDS_BY_PARSER: dict[str, list[str]] = defaultdict(list)
for _c in CAPTURES:
    IDS_BY_PARSER[_c.parser].append(_c.id)
PARSERS = sorted(IDS_BY_PARSER)
GLOB_PARSERS = sorted({c.parser for c in CAPTURES if c.kind == migsnap.GLOB})
GLOB_DIR = os.path.dirname([c for c in CAPTURES if c.kind == migsnap.GLOB][0].source[0])  # "/etc/init.d"
MORE = re.compile(r"^(\d+) more warnings not shown$")


def _fixtures():
    """{parser: [raw bytes of each fixture]} (a glob entry's fixture gives one item per file),
    and {parser: [[(path, bytes), ...] per fixture directory]} for the glob parsers."""
    flat: dict[str, list[bytes]] = defaultdict(list)
    whole: dict[str, list[list[tuple[str, bytes]]]] = defaultdict(list)
    ids = {c.id: c for c in CAPTURES}
    for path in sorted(FIXTURES.glob("*/*.out")):
        capture = ids.get(path.name[:-len(".out")])
        if capture is None:
            continue
        if capture.kind == migsnap.GLOB:
            files = glob_fixture_files(capture, path)
            whole[capture.parser].append(files)
            flat[capture.parser].extend(data for _, data in files)
        else:
            flat[capture.parser].append(path.read_bytes())
    return flat, whole


FIXTURE_BYTES, FIXTURE_FILES = _fixtures()
FIXTURE_TEXT = {p: [migsnap.to_text(b) for b in raws] for p, raws in FIXTURE_BYTES.items()}
GLOB_PATHS = sorted({path for dirs in FIXTURE_FILES.values() for files in dirs for path, _ in files})

SCHEMA = json.loads((REPO / "schemas" / "parsed.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)


def _entry_def(capture_id):
    prop = SCHEMA["$defs"]["ParsedEntries"]["properties"][capture_id]
    ref = [alt["$ref"] for alt in prop["anyOf"] if "$ref" in alt][0]
    return SCHEMA["$defs"][ref.rsplit("/", 1)[-1]]


def _without_titles(node):
    if isinstance(node, dict):
        return dict((k, _without_titles(v)) for k, v in node.items() if k != "title")
    if isinstance(node, list):
        return [_without_titles(v) for v in node]
    return node


def _schema_representatives(ids):
    """The ids whose schema entries differ (titles aside): parse_value's seven entries are one schema."""
    seen, out = [], []
    for capture_id in ids:
        shape = _without_titles(_entry_def(capture_id))
        if shape not in seen:
            seen.append(shape)
            out.append(capture_id)
    return out


def _call(parser, value):
    return getattr(migsnap, parser)(value)


def _container_from_goldens(parser):
    kinds = set()
    if parser in GLOB_PARSERS:
        for files in FIXTURE_FILES.get(parser, []):
            kinds.add(type(_call(parser, [(p, migsnap.to_text(b)) for p, b in files])[0]))
    else:
        for text in FIXTURE_TEXT.get(parser, []):
            kinds.add(type(_call(parser, text)[0]))
    return kinds


def _container_from_docstring(parser):
    m = re.search(r"(?:Returns|->)\s*([\[{])", getattr(migsnap, parser).__doc__ or "")
    return {"[": list, "{": dict}.get(m.group(1)) if m else None


def _expected_container(parser):
    kinds = _container_from_goldens(parser)
    if kinds:
        assert len(kinds) == 1, "%s returns %s on its golden fixtures" % (parser, kinds)
        return kinds.pop()
    return _container_from_docstring(parser)  # a parser whose fixture is not committed yet


CONTAINER = dict((p, _expected_container(p)) for p in PARSERS)
VALIDATE_AS = dict((p, _schema_representatives(IDS_BY_PARSER[p])) for p in PARSERS)

# ---------------------------------------------------------------------------
# The checks every example goes through
# ---------------------------------------------------------------------------
# What was already validated, per capture id, by its repr: rows of list results, the whole data
# of dict results.  Each list-valued entry's "data" schema is {"type": "array", "items": ...} with no
# constraint across items, so an array validates iff each of its rows does; "warnings" is an array
# of strings, which check() asserts itself (both asserted in test_validation_shortcuts_are_sound).
# Validating only what is new keeps a 700-row dpkg -l, shuffled 300 times, affordable.
_VALID: dict[str, set[str]] = defaultdict(set)
COUNTS: dict[tuple[str, str], int] = defaultdict(int)


def _copy_input(value):
    return list(value) if isinstance(value, list) else value


def _schema_errors(capture_id, data):
    seen = _VALID[capture_id]
    if isinstance(data, list):
        keys = [repr(row) for row in data]
        fresh = [row for row, key in zip(data, keys) if key not in seen]
        if not fresh:  # nothing new (an empty array is valid: no minItems, see the test below)
            return []
    else:
        keys = [repr(data)]
        if keys[0] in seen:
            return []
        fresh = data
    doc = {"format": "migsnap-parsed", "format_version": 1,
           "entries": {capture_id: {"data": fresh, "warnings": []}}}
    if VALIDATOR.is_valid(doc):
        seen.update(keys)
        return []
    errors = []
    for error in VALIDATOR.iter_errors(doc):
        leaves = [error]  # an entry is anyOf [its model, null]: say what broke the model
        while any(e.context for e in leaves):
            leaves = [c for e in leaves for c in (e.context or [e])]
        leaves.sort(key=lambda e: -len(e.absolute_path))
        errors.extend("%s: %s: %s" % (capture_id, e.json_path, e.message[:300]) for e in leaves[:3])
    return errors


def check(parser, value, strategy, in_hypothesis=True):
    """Runs the parser on value and asserts every property; counts the example."""
    before = _copy_input(value)
    if in_hypothesis:
        note("%s <- %s input of %d %s" % (parser, strategy, len(value),
                                          "files" if isinstance(value, list) else "chars"))
    result = _call(parser, value)

    assert isinstance(result, tuple) and len(result) == 2, "not a (data, warnings) pair: %r" % (result,)
    data, warnings = result
    assert type(data) is CONTAINER[parser], "%s returned %s, not %s" % (parser, type(data).__name__,
                                                                         CONTAINER[parser].__name__)
    assert type(warnings) is list
    assert all(type(x) is str for x in warnings), [x for x in warnings if type(x) is not str][:3]
    assert len(warnings) <= migsnap.MAX_WARNINGS + 1, len(warnings)
    if len(warnings) == migsnap.MAX_WARNINGS + 1:
        m = MORE.match(warnings[-1])
        assert m and int(m.group(1)) >= 1, warnings[-1]
    assert not any(MORE.match(x) for x in warnings[:migsnap.MAX_WARNINGS]), "a cap line before the cap"

    dumped = json.dumps({"data": data, "warnings": warnings}, allow_nan=False, ensure_ascii=False)
    dumped.encode("utf-8")  # parsed.json is written as UTF-8: no lone surrogates either
    assert json.loads(dumped) == {"data": data, "warnings": warnings}, "does not survive a JSON round trip"

    errors = []
    for capture_id in VALIDATE_AS[parser]:
        errors.extend(_schema_errors(capture_id, data))
    assert not errors, errors[:5]

    again = _call(parser, _copy_input(value))
    assert again == result, "two runs on the same input differ"
    assert value == before, "the parser changed its input"
    COUNTS[(parser, strategy)] += 1


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------
_GLYPHS = migsnap._BULLETS + migsnap._TREE
WHITESPACE = " \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u3000"
NASTY = ("\x00\x01\x07\x08\x1b\x7f\ufeff\ufffd\u200b\u0301" + WHITESPACE + _GLYPHS
         + " :=/-.,;()[]{}<>\"'`\\#*|@%+_~!?$&^"
         + "0123456789abcdefxyzABCDEFSKLN" + "\u0663\u00b2\u2167\u00e9\u4e2d\U0001f600")
SEPARATORS = ["\n", "\n", "\n", "\r\n", "\r", "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "", "\n\n"]

long_line = st.builds(lambda unit, n: unit * n,
                      st.one_of(st.sampled_from(["9", "0", "a", " ", "\t", "x ", "\u25cf", "\ufffd", "1:", "-"]),
                                st.text(min_size=1, max_size=6)),
                      st.integers(300, 6000))
garbage_line = st.one_of(
    st.text(max_size=80),                                          # any surrogate-free character
    st.text(alphabet=NASTY, max_size=80),
    st.text(alphabet=WHITESPACE, max_size=20),                     # whitespace only
    long_line,
)


def _join(pairs):
    return "".join(line + sep for line, sep in pairs)


text_inputs = st.one_of(
    st.text(),
    st.text(alphabet=NASTY),
    st.text(alphabet=WHITESPACE),
    st.sampled_from(["", "\r", "\n", "\r\n", "\t", "\x00", " ", "\r\r\n", "\n\r", "\x00\n\x00"]),
    long_line,
    st.lists(st.tuples(garbage_line, st.sampled_from(SEPARATORS)), max_size=12).map(_join),
)

_BYTE_BITS = [b"\xff", b"\xfe", b"\xc3", b"\xc3\xa9", b"\xe2\x94", b"\xe2\x94\x80", b"\xe2\x97\x8f", b"\xf0\x9f",
              b"\xf0\x9f\x98\x80", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\xc0\x80", b"\x00", b"\r", b"\n", b"\r\n",
              b"\t", b" ", b":", b"/", b"-", b"0", b"9" * 40]
byte_inputs = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.one_of(st.binary(max_size=12), st.sampled_from(_BYTE_BITS)), max_size=40).map(b"".join),
).map(migsnap.to_text)

# Words that tend to matter to one parser or another, and edge cases of the values they convert.
SPECIAL_WORDS = sorted({
    "", "-", "*", "?", "(none)", "0", "00", "-1", "+1", "1_000", "0x10", "\u0661\u0662", "\u00b2", "\u2167",
    "9" * 20, "9" * 5000, "F" * 40, "FFFFF", "0A", "nan", "1e400", ":", "::", "[", "]", "[::]", "[::]:",
    ":-1", "%", "@", "->", " -> ", "(deleted)", "users:((", "users:((\"a\",pid=1,fd=2))",
    "users:((\"x\\\"y\",pid=99999999999999999999999,fd=3))", "pid=" + "7" * 5000, "(pid", ")", "is running...",
    "is stopped", "dead but pid file exists", "start on", "stop on", "end script", "script", "manual", "env",
    "A=", "=", "description", "emits", "unknown", "S", "K", "on", "off", "0:on", "7:on", "S:off", "3:o",
    "x.service", ".service", "a.target", "total", "COMMAND", "PID", "TID", "NAME", "USER", "FD", "Proto",
    "RefCnt", "PID/Program name", "Path", "Netid", "State", "Recv-Q", "Desired=", "||/", "+++-", "ii", "rc",
    "Package:", "Architecture:", "Auto-Installed:", "xinetd based services:", "Note: ", "file", "is not owned by",
    "any package", "error:", "diversion by", "run-level", "last=S", "release", "version", "exe", "comm", "ppid",
    "cgroup", "error", "0::/system.slice/x.service", "1:name=systemd:/", "|-", "`-", "| ", "\u251c\u2500",
    "\u2514\u2500", "\u2502", "\u25cf", "\t", "\x00", "\ufffd", "rc2.d/S", "/etc/rc2.d/S" + "1" * 5000 + "x",
    "/etc/rc2.d/S20x", "link", "dir", "lrwxrwxrwx", "drwxr-xr-x", "-rw-r--r--", "Jan", "1", "12:00", "2024-01-01",
    "unix", "tcp", "udp6", "LISTEN", "LISTENING", "STREAM", "[ ACC ]", "0.0.0.0:22", ":::22", "*:*", "0:0",
})


def _vocabulary(texts):
    words = set()
    for text in texts:
        for line in text.splitlines():
            for tok in line.split():
                words.add(tok)
                words.update(piece for piece in re.split(r"([:/,=()\[\]\"\t.-])", tok) if piece)
    return sorted(words)


VOCABULARY = dict((p, _vocabulary(FIXTURE_TEXT.get(p, []))) for p in PARSERS)
OTHER_LINES = dict((p, sorted({line for q in PARSERS if q != p for t in FIXTURE_TEXT.get(q, [])
                               for line in t.splitlines()}) or [""]) for p in PARSERS)
OTHER_TEXTS = dict((p, [t for q in PARSERS if q != p for t in FIXTURE_TEXT.get(q, [])] or [""]) for p in PARSERS)
# sampled_from hashes its elements when built: built once here, not inside the composites.
_PICK_SEPARATOR = st.sampled_from([" ", "  ", "\t", ":", ""])
_PICK_JOINER = st.sampled_from(["", " ", "\t"])
_PICK_BLANK = st.sampled_from(["", " ", "\t", "\r"])
_PICK_ENDING = st.sampled_from(["\n", "\n", "\r\n", "\r"])
_PICK_GAP = st.sampled_from([" ", " ", "  ", "\t", ":", "/", ""])
_PICK_EDIT = st.sampled_from(["replace", "replace", "insert", "delete", "double", "line", "part", "part", "digits",
                              "grow"])
_PICK_LENGTH = st.sampled_from([4301, 6000, 20, 1])
_PUNCTUATION = re.compile(r"([:/,=()\[\]\"\t.\-@%])")


_TRUNCATIONS = st.sampled_from(["byte", "byte", "char", "char", "tail", "slice", "multibyte"])


def _lead_bytes(raw):
    return [i for i, b in enumerate(bytearray(raw)) if b >= 0xC0]


@st.composite
def truncated(draw, raws, leads):
    k = draw(st.integers(0, len(raws) - 1))
    raw = raws[k]
    how = draw(_TRUNCATIONS)
    if how == "char":
        text = migsnap.to_text(raw)
        return text[:draw(st.integers(0, len(text)))]
    if how == "multibyte":  # just after the lead byte (or inside) a multibyte UTF-8 sequence
        if leads[k]:
            at = leads[k][draw(st.integers(0, len(leads[k]) - 1))] + draw(st.integers(1, 3))
            return migsnap.to_text(raw[:at])
    at = draw(st.integers(0, len(raw)))
    if how == "tail":
        return migsnap.to_text(raw[at:])
    if how == "slice":
        return migsnap.to_text(raw[at:at + draw(st.integers(0, 4096))])
    return migsnap.to_text(raw[:at])


LINE_OPS = ("drop", "dup", "swap", "move", "insert-other", "join", "blank", "strip-end", "shuffle",
            "reverse", "interleave-other")
_PICK_OPS = st.lists(st.sampled_from(LINE_OPS), min_size=1, max_size=6)


@st.composite
def mutated_lines(draw, texts, other_lines, other_texts):
    """texts, other_texts: lists of line lists; other_lines: a sampled_from strategy."""
    lines = list(texts[draw(st.integers(0, len(texts) - 1))])
    for op in draw(_PICK_OPS):
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "insert-other":
            lines.insert(draw(st.integers(0, len(lines))), draw(other_lines))
        elif op == "interleave-other":
            other = other_texts[draw(st.integers(0, len(other_texts) - 1))]
            merged = []
            for k in range(max(len(lines), len(other))):
                merged.extend(lines[k:k + 1])
                merged.extend(other[k:k + 1])
            lines = merged
        elif op == "shuffle":
            draw(st.randoms(use_true_random=False)).shuffle(lines)
        elif op == "reverse":
            lines.reverse()
        elif op == "blank":
            lines.insert(i, draw(_PICK_BLANK))
        elif not lines:
            continue
        elif op == "drop":
            del lines[i:i + draw(st.integers(1, 5))]
        elif op == "dup":
            lines[i:i] = lines[i:i + draw(st.integers(1, 3))] * draw(st.integers(1, 3))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "move":
            lines.insert(draw(st.integers(0, len(lines) - 1)), lines.pop(i))
        elif op == "join" and i + 1 < len(lines):
            lines[i:i + 2] = [lines[i] + draw(_PICK_JOINER) + lines[i + 1]]
        elif op == "strip-end":
            lines[i] = lines[i].rstrip()
    ending = draw(_PICK_ENDING)
    return ending.join(lines) + (ending if draw(st.booleans()) else "")


_SPECIAL = st.sampled_from(SPECIAL_WORDS)
_SHORT_WORDS = st.one_of(st.text(alphabet=NASTY, max_size=8), st.text(max_size=4))


@st.composite
def token_mutations(draw, texts, vocabulary):
    """texts: lists of line lists; vocabulary: a sampled_from strategy."""
    lines = texts[draw(st.integers(0, len(texts) - 1))] or [""]
    start = draw(st.integers(0, len(lines) - 1))
    window = lines[start:start + draw(st.integers(1, 40))]
    if start and draw(st.booleans()):
        window = lines[:3] + window  # keep the header: column positions, table start, "Proto", ...
    words = st.one_of(vocabulary, _SPECIAL, _SHORT_WORDS)
    for _ in range(draw(st.integers(1, 5))):
        k = draw(st.integers(0, len(window) - 1))
        pieces = re.split(r"(\s+)", window[k])  # words at even, separators at odd indexes
        pos = draw(st.integers(0, len(pieces) - 1))
        how = draw(_PICK_EDIT)
        if how == "replace":
            pieces[pos] = draw(words)
        elif how == "insert":
            pieces[pos:pos] = [draw(words), draw(_PICK_SEPARATOR)]
        elif how == "delete":
            del pieces[pos]
        elif how == "double":
            pieces.insert(pos, pieces[pos])
        elif how == "part":  # one part of a word between punctuation: the port of "0100007F:0016", ...
            parts = _PUNCTUATION.split(pieces[pos])
            parts[draw(st.integers(0, len(parts) - 1))] = draw(words)
            pieces[pos] = "".join(parts)
        elif how == "digits":  # a run of digits longer than int() takes (4300 digits on Python 3.11+)
            runs = list(re.finditer(r"\d+", pieces[pos]))
            if runs:
                run = runs[draw(st.integers(0, len(runs) - 1))]
                digits = run.group() * (draw(_PICK_LENGTH) // len(run.group()) + 1)
                pieces[pos] = pieces[pos][:run.start()] + digits + pieces[pos][run.end():]
        elif how == "grow":  # the end of the word repeated: "FFFF" -> "FFFFFF", "0016" -> "00160016"
            word = pieces[pos]
            pieces[pos] = word + word[draw(st.integers(0, len(word))):] * draw(st.integers(1, 3))
        else:  # a whole new line of words
            n = draw(st.integers(0, 10))
            pieces = [draw(words) + draw(_PICK_GAP) for _ in range(n)]
        window[k] = "".join(pieces)
    return "\n".join(window) + ("\n" if draw(st.booleans()) else "")


odd_paths = st.one_of(
    st.sampled_from(GLOB_PATHS or [GLOB_DIR + "/ssh.conf"]),
    st.builds(lambda where, stem, ext: where + stem + ext,
              st.sampled_from([GLOB_DIR + "/", "", "/", "etc/init/", GLOB_DIR + "//", GLOB_DIR + "/sub/",
                               "\\etc\\init\\", GLOB_DIR + "/.."]),
              st.one_of(st.text(max_size=20), st.text(alphabet=NASTY, max_size=20),
                        st.binary(max_size=20).map(migsnap.to_text), long_line),
              st.sampled_from([".conf", ".override", "", ".conf.dpkg-old", ".CONF", ".conf/", ".override.conf",
                               "/.conf", ".conf\n", " .conf", ".conf ", ".override\x00", "..conf", ".conf.override"])),
    st.sampled_from(["", ".conf", ".override", "/", "/.conf", "/etc/init/.override", "\x00", "conf", "a.conf/b"]),
    st.text(),
)


def _files(texts):
    """[(path, text)] for parse_upstart_jobs, the texts from the given strategy."""
    return st.lists(st.tuples(odd_paths, texts), max_size=6)


def _strategy(parser, strategy):
    """The input strategy, or None when it does not apply (no fixture yet, names for a text parser)."""
    texts = FIXTURE_TEXT.get(parser, [])
    if strategy == "text":
        inner = text_inputs
    elif strategy == "bytes":
        inner = byte_inputs
    elif strategy == "truncate":
        raws = FIXTURE_BYTES.get(parser, [])
        inner = truncated(raws, [_lead_bytes(raw) for raw in raws]) if texts else None
    elif strategy == "lines":
        inner = mutated_lines([t.splitlines() for t in texts], st.sampled_from(OTHER_LINES[parser]),
                              [t.splitlines() for t in OTHER_TEXTS[parser]]) if texts else None
    elif strategy == "tokens":
        inner = token_mutations([t.splitlines() for t in texts],
                                st.sampled_from(VOCABULARY[parser] or [""])) if texts else None
    elif strategy == "names":
        if parser not in GLOB_PARSERS:
            return None
        real = st.sampled_from(texts) if texts else text_inputs
        inner = st.one_of(real, real, text_inputs, byte_inputs)
    else:
        raise KeyError(strategy)
    if inner is None:
        return None
    return _files(inner) if parser in GLOB_PARSERS else inner


STRATEGIES = ("text", "bytes", "truncate", "lines", "tokens", "names")
SHARED = ("text", "bytes")  # the same inputs for every text parser: drawn once, fed to all of them
TEXT_PARSERS = [p for p in PARSERS if p not in GLOB_PARSERS]
CASES = [(p, s) for p in PARSERS for s in STRATEGIES
         if (s != "names" or p in GLOB_PARSERS) and (s not in SHARED or p in GLOB_PARSERS)]
BUILT = dict((case, _strategy(*case)) for case in CASES)


# ---------------------------------------------------------------------------
# Example counts, reported at the end of the run
# ---------------------------------------------------------------------------
class _ExampleReport(object):
    def __init__(self, counts):
        self.counts = counts

    def pytest_terminal_summary(self, terminalreporter):
        if not self.counts:
            return
        per_parser: dict[str, dict[str, int]] = defaultdict(dict)
        for (parser, strategy), n in sorted(self.counts.items()):
            per_parser[parser][strategy] = n
        tr = terminalreporter
        tr.write_sep("-", "parser property examples (profile %s, max_examples %d per parser and strategy)"
                     % (PROFILE, EXAMPLES))
        for parser, by_strategy in sorted(per_parser.items()):
            tr.write_line("%-30s %6d  %s" % (parser, sum(by_strategy.values()),
                                             " ".join("%s=%d" % kv for kv in sorted(by_strategy.items()))))
        tr.write_line("%-30s %6d" % ("total", sum(self.counts.values())))


@pytest.fixture(scope="module", autouse=True)
def _report_examples(request):
    yield
    counts = dict(COUNTS)
    if not counts:
        return
    path = os.environ.get("MIGDIFF_HYPOTHESIS_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump({"profile": PROFILE, "max_examples": EXAMPLES,
                       "examples": dict(("%s %s" % k, v) for k, v in sorted(counts.items()))}, f, indent=1)
    request.config.pluginmanager.register(_ExampleReport(counts), "migdiff-parser-examples")


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("parser,strategy", [
    pytest.param(p, s, id="%s-%s" % (p, s),
                 marks=[pytest.mark.skip(reason="%s has no golden fixture yet" % p)] if BUILT[(p, s)] is None else [])
    for p, s in CASES])
@SETTINGS
@given(data=st.data())
def test_parser_property(parser, strategy, data):
    check(parser, data.draw(BUILT[(parser, strategy)], label="input"), strategy)


@pytest.mark.parametrize("strategy", SHARED)
@SETTINGS
@given(data=st.data())
def test_every_text_parser_on_arbitrary_input(strategy, data):
    """Arbitrary text and decoded bytes owe nothing to a parser: each input goes to every text parser
    (max_examples inputs, so each parser gets as many examples as from a test of its own)."""
    value = data.draw(text_inputs if strategy == "text" else byte_inputs, label="input")
    for parser in TEXT_PARSERS:
        check(parser, value, strategy)


@pytest.mark.parametrize("parser", PARSERS)
def test_docstring_names_the_container(parser):
    """The shape the goldens show is the one the docstring announces ("Returns [..." / "-> {...")."""
    assert CONTAINER[parser] in (dict, list), "%s: no golden fixture and no shape in the docstring" % parser
    assert _container_from_docstring(parser) is CONTAINER[parser], getattr(migsnap, parser).__doc__


@pytest.mark.parametrize("parser", PARSERS)
def test_empty_input_gives_the_empty_container(parser):
    data, warnings = _call(parser, [] if parser in GLOB_PARSERS else "")
    assert data == CONTAINER[parser]() and warnings == []


def test_validation_shortcuts_are_sound():
    """Validating only the rows not seen before is the same as validating the whole array, and
    check()'s own assertions on the warnings are the schema's."""
    for capture in CAPTURES:
        entry = _entry_def(capture.id)
        assert _without_titles(entry["properties"]["warnings"]) == {"type": "array", "items": {"type": "string"}}
        assert set(entry) <= {"type", "properties", "required", "additionalProperties", "title"}, entry
        if CONTAINER[capture.parser] is list:
            data_schema = entry["properties"]["data"]
            assert set(data_schema) <= {"type", "items", "title", "description", "default"}, data_schema
            assert data_schema["type"] == "array"


def test_every_parser_has_a_case_for_each_strategy():
    assert {p for p, _ in CASES} == set(IDS_BY_PARSER)
    for parser in PARSERS:
        mine = set(s for p, s in CASES if p == parser)
        if parser in GLOB_PARSERS:
            assert mine == set(STRATEGIES)
        else:
            assert mine | set(SHARED) == set(STRATEGIES) - {"names"}


# Minimal inputs that crashed a parser or broke its schema before it was fixed: found by the
# properties above (shrunk by hypothesis), plus the variants of the same faults a read of the
# parsers turned up (lsof without a PID column, a negative port).  Kept so they are tried on every
# run, whatever a derandomized hypothesis happens to draw.
_LONG = "9" * 4301  # one digit more than int() converts on Python 3.11+ (sys.get_int_max_str_digits)
REGRESSIONS = [
    # header whose first column is not exactly COMMAND, or that has no PID: rows had command/pid None
    ("parse_lsof", "COMMANDX PID NAME\nx 1 y\n"),
    ("parse_lsof", "COMMAND USER NAME\nsshd 1 x\n"),
    # "(none)" as the package name became name None, which the schema forbids
    ("parse_rpm_qf", "(none)\t(none)\t1.0^git1\t2\tx86_64"),
    ("parse_rpm_owners", "(none)\t(none)\t2.4.6\t97.el7\tx86_64\t/usr/sbin/demo-httpd\t"),
    # ValueError from int() on more than 4300 digits
    ("parse_rc_links", "/etc/rc2.d/S%sx\tlink\t../init.d/x" % _LONG),
    ("parse_ss", "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:((\"sshd\",pid=%s,fd=3))" % _LONG),
    ("parse_netstat", "tcp 0 0 0.0.0.0:22 0.0.0.0:* LISTEN %s/sshd" % _LONG),
    ("parse_netstat", "unix 2 [ ACC ] STREAM LISTENING %s /run/x" % _LONG),
    ("parse_ls_l", "lrwxrwxrwx %s root root 17 Jan  1  2020 S01x -> ../init.d/x" % _LONG),
    # ports outside 0..65535 (the schema's bounds) from hex fields
    ("parse_proc_net_inet", "0: 0100007F:0CEA 00000000:1000A 0A 0:0 0:0 0 101 0 217736"),
    ("parse_proc_net_inet", "0: 0100007F:-1 00000000:0 0A 0:0 0:0 0 101 0 217736"),
    # a huge hex refcount: an int json.dumps cannot write (more than 4300 decimal digits)
    ("parse_proc_net_unix", "0: %s 0 10000 0001 01 12345 /run/x" % ("F" * 4000)),
]


@pytest.mark.parametrize("parser,value", REGRESSIONS, ids=["%s-%d" % (r[0], i) for i, r in enumerate(REGRESSIONS)])
def test_regression(parser, value):
    check(parser, value, "regression", in_hypothesis=False)


_DETERMINISM_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import migsnap
cases = json.load(sys.stdin)
out = []
for parser, value in cases:
    if isinstance(value, list):
        value = [tuple(f) for f in value]
    out.append(getattr(migsnap, parser)(value))
sys.stdout.write(json.dumps(out, sort_keys=True))
"""


def test_same_output_under_other_hash_seeds():
    """Same input, same output across processes too (no set or dict order leaking into the data)."""
    cases = []
    for parser in PARSERS:
        if parser in GLOB_PARSERS:
            for files in FIXTURE_FILES.get(parser, []):
                texts = [(p, migsnap.to_text(b)) for p, b in files]
                cases.extend([(parser, texts), (parser, texts[::-1]), (parser, texts + texts)])
            continue
        for text in FIXTURE_TEXT.get(parser, []):
            lines = text.splitlines()
            cases.extend([(parser, text), (parser, text[:len(text) // 2]), (parser, "\n".join(lines[::-1])),
                          (parser, "\n".join(lines + OTHER_LINES[parser][:50]))])
    stdin = json.dumps(cases)
    outputs = []
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-c", _DETERMINISM_SCRIPT, str(COLLECTOR.parent)], input=stdin,
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1] == outputs[2]

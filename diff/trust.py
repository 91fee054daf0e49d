"""What a bundle's content must be, beyond its schemas and checksums: every entry of its collector's
table, JSON documents that are what the collector's own parsers make of its raw files, and, with a
site key, the signature of whoever holds that key.

The raw files are the source of truth: parsed.json and snapshot.json are derived from them by the
parsers and the normalizer of the collector file that wrote the bundle, so anyone who edits those
documents (and recomputes the manifest's sha256) is caught by parsing the raw files again.  That
takes the same parsers: migdiff carries one collector file (migsnap.py) and re-parses the bundles
that file wrote, known by the collector's sha256 in the manifest.  The version alone does not say
which parsers ran: parsers change within a version (0.2.0's did, in issue 14).

migsnap.sh, the collector's POSIX sh twin (generated from migsnap.py's table), writes raw files
and a manifest only: migdiff parses them with the parsers it carries (complete.py), and a bundle
completed so names them (manifest parsing.by, with the first 12 hex digits of their sha256).
Such a bundle is re-parsed here when those are the parsers migdiff carries; its entries follow
the table of the migsnap.sh migdiff carries when the manifest's sha256 is that file's.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import migsnap

from .bundle import SIGNATURE, Bundle, Limits, check_json_bytes, read_bundle, shown, strict_json
from .errors import BundleError

# The entry ids of collector releases, as their bundles list them, frozen: a bundle keeps the table
# of the collector that wrote it.  The collector file migdiff carries has its own table, read from
# it (entry_tables).  0.1.0 is 0.2.0 without init-scripts, etc-default, pid-files and apk-world.
_V010 = (
    "uname-r", "uname-m", "uname-a", "hostname", "etc-issue", "os-release", "usr-lib-os-release", "lsb-release",
    "redhat-release", "system-release", "suse-release", "debian-version", "machine-id", "etc-passwd", "pid1-comm",
    "runlevel", "who-r", "inittab", "service-status-all", "chkconfig-list", "sysv-rc-conf-list", "init-d",
    "rc-links", "ls-rc-d", "initctl-list", "initctl-show-config", "upstart-jobs", "systemctl-get-default",
    "systemctl-units-service", "systemctl-unit-files-service", "systemctl-units-target",
    "systemctl-unit-files-target", "systemctl-deps-default", "systemctl-deps-multi-user", "netstat-nlp",
    "lsof-nPi", "ss-nlpaxtudw", "proc-net-tcp", "proc-net-tcp6", "proc-net-udp", "proc-net-udp6",
    "proc-net-unix", "dpkg-l", "dpkg-query", "rpm-qa", "rpm-qa-qf", "apk-info", "apt-extended-states",
    "listen-procs", "listen-dpkg-S", "listen-rpm-qf",
)
_ADDED_IN_020 = {"init-scripts": "ls-rc-d", "etc-default": "init-scripts", "pid-files": "etc-default",
                 "apk-world": "apk-info"}  # each after the entry named

# 0.3.0 (issue 13) added the scheduled jobs, local units, connections and SSH entries; frozen as it shipped.
_V030 = (
    "uname-r", "uname-m", "uname-a", "hostname", "etc-issue", "os-release", "usr-lib-os-release",
    "lsb-release", "redhat-release", "system-release", "suse-release", "debian-version", "machine-id",
    "etc-passwd", "pid1-comm", "runlevel", "who-r", "inittab", "service-status-all", "chkconfig-list",
    "sysv-rc-conf-list", "init-d", "rc-links", "ls-rc-d", "init-scripts", "etc-default", "pid-files",
    "systemd-local", "initctl-list", "initctl-show-config", "upstart-jobs", "systemctl-get-default",
    "systemctl-units-service", "systemctl-unit-files-service", "systemctl-units-target",
    "systemctl-unit-files-target", "systemctl-deps-default", "systemctl-deps-multi-user", "cron-files",
    "cron-scripts", "user-crontabs", "systemctl-timers", "atq", "netstat-nlp", "lsof-nPi", "ss-nlpaxtudw",
    "proc-net-tcp", "proc-net-tcp6", "proc-net-udp", "proc-net-udp6", "proc-net-unix", "ss-ntup",
    "netstat-ntp", "ssh-keys", "ssh-dirs", "sshd-T", "sshd-config", "dpkg-l", "dpkg-query", "rpm-qa",
    "rpm-qa-qf", "apk-info", "apk-world", "apt-extended-states", "listen-procs", "listen-dpkg-S",
    "listen-rpm-qf", "files-dpkg-S", "files-rpm-qf",
)


def _after(ids: tuple[str, ...], added: dict[str, str]) -> tuple[str, ...]:
    out = list(ids)
    for new, before in added.items():
        out.insert(out.index(before) + 1, new)
    return tuple(out)


RELEASED: dict[str, tuple[str, ...]] = {"0.1.0": _V010, "0.2.0": _after(_V010, _ADDED_IN_020), "0.3.0": _V030}
SHOWN_IDS = 8      # entry ids named in one reason
SHOWN_VALUE = 60   # characters of a differing value quoted


def current_table() -> tuple[str, ...]:
    """The entry ids of the collector file migdiff carries, from its capture table."""
    return tuple(capture.id for capture in migsnap.captures())


def entry_tables(version: str, sha256: str | None) -> list[tuple[str, ...]]:
    """The tables a bundle of this collector version and build may follow; none for a version not
    known here.  A bundle of migdiff's own collector build follows its table and no other; one of
    another build, its release's table, or (same version) the table migdiff's collector has."""
    if sha256 is not None and sha256 in (own_sha256(), own_sh_sha256()):
        return [current_table()]
    tables = [RELEASED[version]] if version in RELEASED else []
    if version == migsnap.__version__ and current_table() not in tables:
        tables.append(current_table())
    return tables


def known_versions() -> list[str]:
    return sorted({*RELEASED, migsnap.__version__})


@lru_cache(maxsize=None)
def own_sha256() -> str | None:
    """The sha256 of the collector file migdiff parses with (the bundles it writes record it)."""
    return migsnap.own_sha256()


@lru_cache(maxsize=None)
def own_sh_sha256() -> str | None:
    """The sha256 of the migsnap.sh migdiff carries (its bundles record it); None without one."""
    from .reparse import sh_collector_path
    path = sh_collector_path()
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


PARSERS_SHA = re.compile(r"\(sha256 ([0-9a-f]{12})\)")


def parsers_sha256(manifest: dict[str, Any]) -> str | None:
    """The sha256 (or, for a bundle migdiff completed, its first 12 hex digits) of the collector
    file whose parsers made the bundle's parsed.json and snapshot.json; None when unknown or when
    nothing was parsed (a raw-only bundle)."""
    parsing = manifest.get("parsing")
    if not isinstance(parsing, dict):
        return manifest["collector"].get("sha256")  # the Python collector parsed them, on the host
    if parsing.get("where") != "migdiff" or not isinstance(parsing.get("by"), str):
        return None
    found = PARSERS_SHA.search(parsing["by"])
    return found.group(1) if found else None


def parsers_are_ours(manifest: dict[str, Any]) -> bool:
    theirs, ours = parsers_sha256(manifest), own_sha256()
    return theirs is not None and ours is not None and ours.startswith(theirs) and len(theirs) >= 12


def collector_name(manifest: dict[str, Any]) -> str:
    name = manifest["collector"].get("name")
    return name if name in ("migsnap", "migsnap.sh") else "migsnap"


def _version(version: str) -> str:
    return version if len(version) <= 40 else version[:40] + "..."


def _ids(ids: list[str]) -> str:
    shown_ids = ", ".join(ids[:SHOWN_IDS])
    return shown_ids + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


ENTRY_FIELDS = {"id": str, "status": str, "warnings": (int, type(None)), "files": list, "duration": (int, float),
                "truncated": bool, "exit_code": (int, type(None)), "error": (str, type(None)),
                "argv": (list, type(None)), "executable": (str, type(None)), "parse_error": (str, type(None))}
FILE_FIELDS = {"name": str, "role": str, "path": (str, type(None)), "size": int, "sha256": (str, type(None))}


def manifest_usable(manifest: Any) -> bool:
    """Whether the manifest has what the checks here read, of the types they read (a quick look, no
    pydantic: its schema is checked elsewhere, and a manifest that fails it makes the bundle
    invalid whatever is found here)."""
    try:
        collector = manifest["collector"]
        if not isinstance(collector["version"], str) or not isinstance(collector["sha256"], (str, type(None))):
            return False
        for entry in manifest["entries"]:
            if not all(isinstance(entry[k], t) for k, t in ENTRY_FIELDS.items()):
                return False
            if not all(isinstance(f[k], t) for f in entry["files"] for k, t in FILE_FIELDS.items()):
                return False
        return isinstance(manifest["entries"], list)
    except (KeyError, TypeError):
        return False


def entry_reasons(manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(reasons, notes) about the manifest's entries against its collector's table: each entry id
    once, and for a collector known here every entry of its table, and no other.

    The manifest must follow its schema.  A bundle always holds every entry of its collector's table
    (a skipped entry says "skipped"), so an entry that is missing was removed."""
    version, sha256 = manifest["collector"]["version"], manifest["collector"]["sha256"]
    name = collector_name(manifest)
    ids = [entry["id"] for entry in manifest["entries"]]
    reasons = []
    ours = own_sha256() if name == "migsnap" else own_sh_sha256()
    if sha256 is not None and sha256 == ours and version != migsnap.__version__:
        reasons.append(f"manifest.json: the collector's sha256 is this migdiff's {name} {migsnap.__version__}, "
                       f"its version says {_version(version)}")
    twice = sorted(i for i, n in Counter(ids).items() if n > 1)
    if twice:
        reasons.append(f"manifest.json: {'entry' if len(twice) == 1 else 'entries'} {_ids(twice)} "
                       f"{'appears' if len(twice) == 1 else 'appear'} twice")
    tables = entry_tables(version, sha256)
    if not tables:
        return reasons, [f"entries not checked: {name} {_version(version)} is not a collector this migdiff knows "
                         f"({', '.join(known_versions())})"]
    present = set(ids)

    def gaps(table: tuple[str, ...]) -> tuple[list[str], list[str]]:
        known = set(table)
        return [i for i in table if i not in present], sorted(i for i in present if i not in known)
    missing, unknown = min((gaps(table) for table in tables), key=lambda found: len(found[0]) + len(found[1]))
    if missing:
        reasons.append(f"manifest.json lacks {_entries(len(missing))} of {name} {_version(version)}'s table: "
                       f"{_ids(missing)}")
    if unknown:
        reasons.append(f"manifest.json: {_entries(len(unknown))} not in {name} {_version(version)}'s table: "
                       f"{_ids(unknown)}")
    return reasons, []


# --- re-parsing the raw files ------------------------------------------------------------------------

def reparse(bundle: Bundle, limits: Limits) -> tuple[list[str], list[str], set[str]]:
    """(reasons, notes, documents found byte for byte as the parsers write them): parses the raw
    files again with the collector's parsers and normalizer and compares parsed.json, snapshot.json
    and the entries' parser warnings with what they give.

    The manifest must follow its schema and list every entry of its table (entry_reasons), and the
    raw files must match it (their sizes and sha256 as read): otherwise those reasons stand and
    nothing is re-parsed here.  Only bundles written by the collector file migdiff carries are
    re-parsed (the manifest's sha256); others are not, and a note says so."""
    collector = bundle.manifest["collector"]
    ours = own_sha256()
    if not parsers_are_ours(bundle.manifest):
        theirs = (parsers_sha256(bundle.manifest) or "unknown")[:12]
        if isinstance(bundle.manifest.get("parsing"), dict):  # completed by a migdiff
            return [], [f"not re-parsed: another build of migsnap's parsers made its documents "
                        f"(sha256 {theirs}; this migdiff parses with {(ours or 'unknown')[:12]})"], set()
        return [], [f"not re-parsed: another build of migsnap {_version(collector['version'])} wrote it "
                    f"(sha256 {theirs}; this migdiff parses with {(ours or 'unknown')[:12]})"], set()
    records = {f["name"]: f for entry in bundle.manifest["entries"] for f in entry["files"]}
    if any(bundle.digests.get(name) != (f["size"], f["sha256"]) for name, f in records.items()):
        return [], [], set()  # the integrity check names what does not match
    results, reasons = parse_raw(bundle, limits, records, "re-parsed")
    if results is None:
        return reasons, [], set()
    reasons = _entry_counts(bundle.manifest["entries"], results)
    parsed = {result.capture.id: {"data": result.parsed[0], "warnings": result.parsed[1]}
              for result in results if result.parsed}
    made = {"format": "migsnap-parsed", "format_version": migsnap.FORMAT_VERSION, "entries": parsed}
    canonical = set()
    same, found = _agrees(bundle, "parsed.json", made, limits)
    reasons += found
    if same:
        canonical.add("parsed.json")
    del made, parsed
    snapshot = migsnap.normalize(migsnap.complete_data(results))
    snapshot["collector_version"] = migsnap.__version__
    del results
    same, found = _agrees(bundle, "snapshot.json", snapshot, limits)
    reasons += found
    if same:
        canonical.add("snapshot.json")
    return reasons, [], canonical


def parse_raw(bundle: Bundle, limits: Limits, records: dict[str, dict[str, Any]],
              done: str) -> tuple[list[migsnap.Result] | None, list[str]]:
    """(the collector's results rebuilt from the manifest's entries and the raw files, each
    parsed by the parsers migdiff carries, [])); (None, why not) when the raw files are over the
    re-parse limit, an entry is not in those parsers' table, or the files cannot be read again.
    The results keep no raw bytes; `done` is what the limit's reason says was not done."""
    size = sum(f["size"] for f in records.values())
    if size > limits.max_reparse_size:
        return None, [f"raw files add up to {size} bytes, over the {limits.max_reparse_size}-byte re-parse limit "
                      f"(--max-reparse-size): not {done}, refused"]
    unknown = [entry["id"] for entry in bundle.manifest["entries"] if entry["id"] not in _current_ids()]
    if unknown:
        return None, [f"manifest.json: entries {_ids(unknown)} are not in the table of the parsers this migdiff "
                      f"carries (migsnap {migsnap.__version__}, sha256 {(own_sha256() or 'unknown')[:12]})"]
    files, trouble = _raw_files(bundle, limits, set(records))
    if trouble:
        return None, [trouble]
    results = []
    pool: dict[str, str] = {}
    for entry in bundle.manifest["entries"]:
        result = rebuilt_result(migsnap.capture_by_id(entry["id"]), entry, files)
        migsnap.apply_parser(result)
        result.raw = []  # parsed: the bytes are no longer needed
        if result.parsed:
            _share_strings(result.parsed[0], pool)
        results.append(result)
    del files
    return results, []


def rebuilt_result(capture: migsnap.Capture, entry: dict[str, Any], files: dict[str, bytes]) -> migsnap.Result:
    """The collector's Result of one manifest entry, unparsed: what ran, how it ended, its raw files."""
    result = migsnap.Result(capture)
    for attr in ("status", "exit_code", "error", "duration", "truncated", "argv", "executable"):
        setattr(result, attr, entry[attr])
    result.raw = [(f["name"], f["role"], f["path"], files[f["name"]]) for f in entry["files"]]
    return result


SHARED_UP_TO = 32  # characters of a string worth sharing: arch, status, section, priority, a version


def _share_strings(data: Any, pool: dict[str, str]) -> None:
    """Makes equal short strings in the parsers' output one object: a 25,000-package listing holds
    "install", "amd64", "optional" 25,000 times each (some 20 MB of a bundle's 100 MB parsed).
    Only identity changes: the data compares and encodes as before."""
    if isinstance(data, list):
        for i, value in enumerate(data):
            if type(value) is str:
                if len(value) <= SHARED_UP_TO:
                    data[i] = pool.setdefault(value, value)
            elif isinstance(value, (list, dict)):
                _share_strings(value, pool)
    elif isinstance(data, dict):
        for key, value in data.items():
            if type(value) is str:
                if len(value) <= SHARED_UP_TO:
                    data[key] = pool.setdefault(value, value)
            elif isinstance(value, (list, dict)):
                _share_strings(value, pool)


@lru_cache(maxsize=None)
def _current_ids() -> frozenset[str]:
    return frozenset(current_table())


def _raw_files(bundle: Bundle, limits: Limits, names: set[str]) -> tuple[dict[str, bytes], str | None]:
    """The raw files the manifest lists, read again (only the documents and these are kept), and
    whether the file changed in between (its digests must be those read the first time)."""
    if all(name in bundle.files for name in names):  # kept as the bundle was read
        return bundle.files, None
    try:
        return read_again(bundle, limits, names).files, None
    except BundleError as exc:
        return {}, f"raw files: cannot read them again to re-parse them: {exc.problem}"


def member_bytes(bundle: Bundle, member: str, limits: Limits) -> bytes:
    """A JSON document of the bundle: as kept, or (let go of to save memory) read again."""
    if member not in bundle.files:
        again = read_again(bundle, limits, set())
        for name in ("parsed.json", "snapshot.json"):
            if name in again.files and name not in bundle.files:
                bundle.files[name] = again.files[name]
    return bundle.files[member]


# json_bytes(obj, pretty=False) of the collector, written piece by piece: its C encoder, the same
# settings.  A piece is a key, a short value, or up to LIST_CHUNK items of a list.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
LIST_CHUNK = 500


def canonical_sha256(obj: Any) -> str:
    """The sha256 of migsnap.json_bytes(obj, pretty=False), the collector's compact JSON, without
    holding those bytes: a 25,000-package document is encoded and hashed a piece at a time."""
    digest = hashlib.sha256()
    batch: list[str] = []
    size = 0
    for piece in _pieces(obj, 3):
        batch.append(piece)
        size += len(piece)
        if size > 1 << 20:
            digest.update("".join(batch).encode("ascii"))
            batch, size = [], 0
    batch.append("\n")
    digest.update("".join(batch).encode("ascii"))
    return digest.hexdigest()


def _pieces(obj: Any, depth: int) -> Iterator[str]:
    if depth and type(obj) is dict and obj and all(type(key) is str for key in obj):
        yield "{"
        for i, key in enumerate(sorted(obj)):
            yield ("," if i else "") + _ENCODE(key) + ":"
            yield from _pieces(obj[key], depth - 1)
        yield "}"
    elif depth and type(obj) is list and len(obj) > LIST_CHUNK:
        yield "["
        for start in range(0, len(obj), LIST_CHUNK):
            yield ("," if start else "") + _ENCODE(obj[start:start + LIST_CHUNK])[1:-1]
        yield "]"
    else:
        yield _ENCODE(obj)


def read_again(bundle: Bundle, limits: Limits, names: set[str] | None = None) -> Bundle:
    """The bundle read once more, its documents and the files named kept (by default the raw files
    its manifest lists, if it can be read); BundleError if it is no longer what was read the first
    time (every file's size and sha256)."""
    if names is None:
        try:
            names = {f["name"] for entry in bundle.manifest["entries"] for f in entry["files"]}
        except (KeyError, TypeError):
            names = set()
    again = read_bundle(bundle.path, limits, keep=names)
    if again.digests != bundle.digests:
        raise BundleError(bundle.path, "the bundle file changed while migdiff read it: refused")
    again.typed = bundle.typed
    return again


def _entry_counts(entries: list[dict[str, Any]], results: list[migsnap.Result]) -> list[str]:
    """The manifest's record of each entry's parsing against what the parsers do now."""
    for entry, result in zip(entries, results):
        if entry["warnings"] != result.warnings or (entry["parse_error"] is None) != (result.parse_error is None):
            said = f"{entry['warnings']} parser warnings" + (", a parser error" if entry["parse_error"] else "")
            found = f"{result.warnings}" + (", a parser error" if result.parse_error else "")
            return [f"manifest.json: entry {entry['id']} records {said}; its raw files give {found}"]
    return []


def _agrees(bundle: Bundle, member: str, made: Any, limits: Limits) -> tuple[bool, list[str]]:
    """(byte for byte as the collector writes it, reasons): no reason when the document is what the
    parsers made, in those bytes (their sha256 is the document's) or as the same JSON written
    otherwise (another Python's floats); else where it first differs."""
    digest = bundle.digests.get(member)
    if digest is None:
        return False, []  # its absence is reported as such
    if canonical_sha256(made) == digest[1]:
        return True, []
    try:
        data = member_bytes(bundle, member, limits)
    except BundleError as exc:
        return False, [exc.problem]
    try:
        document = strict_json(check_json_bytes(bundle.path, member, data))
    except (BundleError, ValueError, RecursionError):
        return False, []  # the document's own checks say why it does not read
    if document == made:
        return False, []
    where = _first_difference(document, made, "$", None)
    if where is None:
        return False, [f"{member} disagrees with the raw files"]
    path, record, theirs, ours = where
    about = f" ({record})" if record else ""
    return False, [f"{member} disagrees with the raw files: {path}{about}: {_value(theirs)} in the document, "
                   f"the raw files give {_value(ours)}"]


MISSING = object()


def _first_difference(doc: Any, made: Any, path: str, record: str | None) -> tuple[str, str | None, Any, Any] | None:
    """(JSON path, the record it is in, the document's value, the parsers' value) of the first place
    the two differ, in document order (keys sorted, as the collector writes them)."""
    try:
        if isinstance(doc, dict) and isinstance(made, dict):
            name = made.get("name") if isinstance(made.get("name"), str) else None
            if name is not None:
                record = f"{_kind(path)} {name!r}"
            for key in sorted(set(doc) | set(made)):
                sub = f"{path}.{key}" if key.replace("_", "").isalnum() else f"{path}[{key!r}]"
                if key not in doc or key not in made:
                    return sub, record, doc.get(key, MISSING), made.get(key, MISSING)
                if doc[key] != made[key]:
                    return _first_difference(doc[key], made[key], sub, record)
            return None
        if isinstance(doc, list) and isinstance(made, list):
            for i, (a, b) in enumerate(zip(doc, made)):
                if a != b:
                    return _first_difference(a, b, f"{path}[{i}]", record)
            if len(doc) != len(made):
                i = min(len(doc), len(made))
                theirs = doc[i] if i < len(doc) else MISSING
                return f"{path}[{i}]", record, theirs, made[i] if i < len(made) else MISSING
            return None
    except RecursionError:
        pass
    return path, record, doc, made


KINDS = (("$.packages[", "package"), ("$.services", "service"), ("$.ports[", "port"))


def _kind(path: str) -> str:
    """What a record under this path is called: $.packages[3] is a package."""
    return next((kind for prefix, kind in KINDS if path.startswith(prefix)), "record")


def _value(value: Any) -> str:
    if value is MISSING:
        return "nothing"
    text = shown(value)
    return text if len(text) <= SHOWN_VALUE else text[:SHOWN_VALUE] + "..."


# --- signatures ----------------------------------------------------------------------------------------

SIGNATURE_KEYS = {"format", "format_version", "algorithm", "key_id", "mac"}


def read_key(path: str | os.PathLike[str]) -> bytes:
    """A site key from a file, as the collector reads one: the file's bytes without surrounding
    whitespace, at least 8 of them.  UsageError otherwise."""
    from .errors import UsageError
    try:
        with open(path, "rb") as f:
            key = f.read(1024 * 1024).strip()
    except OSError as exc:
        raise UsageError(f"--verify-key-file {os.fspath(path)}: {exc.strerror or exc}") from None
    if len(key) < 8:
        raise UsageError(f"--verify-key-file {os.fspath(path)}: a key of at least 8 characters is needed")
    return key


def signature_reasons(bundle: Bundle, key: bytes | None) -> tuple[list[str], list[str]]:
    """(reasons, notes) about signature.json, the site's HMAC-SHA256 over manifest.json's bytes.

    A signature.json must be a migsnap signature whatever the key.  Without a key it is reported,
    not checked; with one, a bundle that is unsigned, signed with another key or whose manifest is
    not the one signed is refused."""
    data = bundle.files.get(SIGNATURE)
    if data is None:
        return (["not signed: --verify-key-file needs a signature.json beside manifest.json"] if key else []), []
    try:
        doc = strict_json(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [f"{SIGNATURE}: not JSON ({shown(str(exc))})"], []
    problem = _signature_problem(doc)
    if problem:
        return [f"{SIGNATURE}: {problem}: not a migsnap signature"], []
    if key is None:
        return [], [f"signed, key {doc['key_id']} (not verified: no --verify-key-file)"]
    ours = migsnap.key_id(key)
    if doc["key_id"] != ours:
        return [f"signed with key {doc['key_id']}, not with the key given ({ours})"], []
    if not migsnap.signature_valid(bundle.files["manifest.json"], doc, key):
        return ["the signature does not match manifest.json: changed after it was signed"], []
    return [], [f"signature verified, key {ours}"]


def _signature_problem(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "not a JSON object"
    if set(doc) != SIGNATURE_KEYS:
        odd = sorted(set(doc) ^ SIGNATURE_KEYS)
        return f"keys {shown(odd)} missing or unknown"
    expected = {"format": migsnap.SIGNATURE_FORMAT, "format_version": 1, "algorithm": "HMAC-SHA256"}
    for field, value in expected.items():
        if doc[field] != value or type(doc[field]) is not type(value):
            return f"{field} is {shown(doc[field])}, not {value!r}"
    for field, length in (("key_id", 16), ("mac", 64)):
        value = doc[field]
        if not isinstance(value, str) or len(value) != length or value.strip("0123456789abcdef"):
            return f"{field} is {shown(value)}, not {length} hex digits"
    return None

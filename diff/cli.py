"""migdiff's command line: parses arguments, calls the core, renders, maps errors to exit codes.

Heavy libraries (pydantic, deepdiff, jsonschema, rich) are imported inside the
commands so that `migdiff --help` stays quick.
"""
from __future__ import annotations

import enum
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator, Optional

import typer

from . import __version__
from .errors import EXIT_DIFFERENT, EXIT_SAME, EXIT_TROUBLE, MigdiffError, UsageError

if TYPE_CHECKING:
    from .bundle import Limits

COMMANDS = ("diff", "validate", "show", "parse", "collector", "redact", "complete", "plan")

app = typer.Typer(
    name="migdiff",
    help="Compare two Linux hosts before a migration, from bundles written by the migsnap collector.\n\n"
         "`migdiff SOURCE.tgz TARGET.tgz` is short for `migdiff diff SOURCE.tgz TARGET.tgz`.\n\n"
         "Exit status, as diff(1): 0 no differences / all valid, 1 differences / some invalid, 2 trouble.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"
    csv = "csv"


class ShowFormat(str, enum.Enum):
    """show has no CSV: CSV is one row per change of a diff."""

    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


class FailOn(str, enum.Enum):
    blocker = "blocker"
    warning = "warning"
    any = "any"


class Section(str, enum.Enum):
    system = "system"
    init = "init"
    services = "services"
    runlevels = "runlevels"
    ports = "ports"
    packages = "packages"
    jobs = "jobs"
    units = "units"
    connections = "connections"


BundleArg = Annotated[Path, typer.Argument(help="a bundle (.tgz) written by migsnap", show_default=False)]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="text (the terminal), json, markdown (for a "
                                           "ticket), html (one self-contained file), csv (one row per change)")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="write the report to this file",
                                                   show_default=False)]
SectionOpt = Annotated[Optional[list[Section]], typer.Option(
    "--section", "-s", help="only these sections (repeat); default: all", show_default=False)]
NoValidateOpt = Annotated[bool, typer.Option("--no-validate", help="use bundles that fail validation anyway")]
MaxMembersOpt = Annotated[int, typer.Option("--max-members", help="refuse bundles with more tar members", min=1)]
MaxMemberSizeOpt = Annotated[int, typer.Option("--max-member-size", help="refuse a member larger than this (bytes)",
                                               min=1)]
MaxTotalOpt = Annotated[int, typer.Option("--max-total-size", help="refuse bundles whose members add up to more "
                                          "(bytes, uncompressed; default 1 GiB: members are hashed as they stream "
                                          "by, so memory does not grow with it; it bounds how long a gzip bomb "
                                          "inflates before it is refused, about 6 s)", min=1)]
NamesOpt = Annotated[Optional[Path], typer.Option(
    "--names", help="your own name mappings (TOML, as data/names.toml); default: "
                    "$XDG_CONFIG_HOME/migdiff/names.toml when it exists", show_default=False)]
RolesOpt = Annotated[Optional[Path], typer.Option(
    "--roles", help="your own roles: the jobs a server does and the programs that can do each (TOML, as "
                    "data/roles.toml); default: $XDG_CONFIG_HOME/migdiff/roles.toml when it exists",
    show_default=False)]
WidthOpt = Annotated[Optional[int], typer.Option("--width", help="terminal report width (default: the terminal's)",
                                                 min=40, show_default=False)]
MaxReparseOpt = Annotated[int, typer.Option("--max-reparse-size", help="refuse bundles whose raw files add up to "
                                            "more (bytes; they are held in memory and parsed again to check "
                                            "parsed.json and snapshot.json)", min=1)]
VerifyKeyOpt = Annotated[Optional[Path], typer.Option(
    "--verify-key-file", help="the site key (a file) bundles must be signed with: a bundle without signature.json, "
                              "signed with another key, or whose manifest changed after signing is refused",
    show_default=False)]

DEFAULT_MAX_MEMBERS = 20_000
DEFAULT_MAX_MEMBER_SIZE = 64 * 1024 * 1024
DEFAULT_MAX_TOTAL = 1024 * 1024 * 1024
DEFAULT_MAX_REPARSE = 64 * 1024 * 1024


def _limits(max_members: int, max_member_size: int, max_total_size: int,
            max_reparse_size: int = DEFAULT_MAX_REPARSE) -> Limits:
    from .bundle import Limits
    return Limits(max_member_size=max_member_size, max_total_size=max_total_size, max_members=max_members,
                  max_reparse_size=max_reparse_size)


def _verify_key(path: Path | None, no_validate: bool = False) -> bytes | None:
    if path is None:
        return None
    if no_validate:
        raise UsageError("--verify-key-file checks bundles; --no-validate uses them unchecked: give one or the other")
    from .trust import read_key
    return read_key(path)


def _error(message: str) -> None:
    from .errors import escaped
    typer.echo(f"migdiff: {escaped(message)}", err=True)


def _notes(lines: list[str]) -> None:
    """What the user must know of how a bundle was parsed and hashed (a raw-only one): stderr."""
    for line in lines:
        typer.echo(f"migdiff: note: {line}", err=True)


@contextmanager
def exit_codes() -> Iterator[None]:
    """The one place a MigdiffError becomes a message and an exit code."""
    try:
        yield
    except MigdiffError as exc:
        _error(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:  # writing the report: disk full, permission denied
        _error(f"{exc.filename if exc.filename is not None else 'output'}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_TROUBLE) from None


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _write_atomically(output, text)


def _write_atomically(output: Path, text: str) -> None:
    """Write next to the destination and rename: a failed write leaves no half report.

    Only a regular file (or none) is replaced so: anything else (/dev/null, /dev/stdout, a FIFO,
    a terminal) and a symbolic link (/dev/stdout is one) are written straight through, as a shell's
    `>` would, never renamed over.  An error names the file given, not the temporary one."""
    import os
    import stat
    import tempfile
    try:
        st = os.lstat(output)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(output)) from None
    if st is not None and (stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode) and os.path.isdir(output)):
        raise UsageError(f"{output}: is a directory; give a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        try:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(output)) from None
        return
    directory = output.parent if str(output.parent) else Path(".")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a report is a normal file (mkstemp made it private)
        os.replace(tmp, output)
    except OSError as exc:
        _discard(tmp)
        raise OSError(exc.errno, exc.strerror, str(output)) from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: str | None) -> None:
    import os
    if tmp is not None and os.path.lexists(tmp):
        os.unlink(tmp)


def _present(what: str, obj: object, format: Format, output: Path | None, width: int | None, **options) -> None:
    """Hands a report ("diff" or "show") to the presenter of the format; to a terminal, in color.
    A reader that goes away (`migdiff show x.tgz | head`) is not trouble: the command ends with
    the status it would have had."""
    from .present import presenter, render
    try:
        if format is Format.text and output is None:
            module, render_one = presenter("text", what)
            render_one(obj, module.console_for(sys.stdout, to_file=False, width=width), **options)
            return
        _emit(render(format.value, what, obj, width, **options), output)
    except BrokenPipeError:
        if output is not None:
            raise
        _reader_gone()


def _reader_gone() -> None:
    """stdout's reader went away: whatever is still written to it goes nowhere, silently."""
    import os
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _version(value: bool) -> None:
    if value:
        import migsnap
        typer.echo(f"migdiff {__version__} (collector migsnap {migsnap.__version__}, "
                   f"bundle format {migsnap.FORMAT_VERSION})")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print versions and exit")] = False) -> None:
    """Compare two Linux hosts before a migration."""


@app.command("diff")
def diff_command(
    source: BundleArg,
    target: BundleArg,
    format: FormatOpt = Format.text,
    output: OutputOpt = None,
    section: SectionOpt = None,
    only_changes: Annotated[bool, typer.Option(
        "--only-changes/--all", help="text and Markdown: blockers and warnings in full and the other differences "
                                     "counted by kind (default), or every difference and the identical records "
                                     "too")] = True,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="which differences make the exit status 1: blocker, warning (or worse), "
                          "or any difference (as diff(1))")] = FailOn.any,
    ignore: Annotated[Optional[Path], typer.Option(
        "--ignore", help="expected differences (TOML: [section] pattern = \"reason\"); default: "
                         "$XDG_CONFIG_HOME/migdiff/ignore.toml when it exists", show_default=False)] = None,
    no_builtin_ignores: Annotated[bool, typer.Option(
        "--no-builtin-ignores", help="do not set aside the built-in expected differences "
                                     "(hostname, machine id, init plumbing)")] = False,
    show_ignored: Annotated[bool, typer.Option("--show-ignored", help="also list the differences set aside")] = False,
    names: NamesOpt = None,
    roles: RolesOpt = None,
    no_validate: NoValidateOpt = False,
    verify_key_file: VerifyKeyOpt = None,
    width: WidthOpt = None,
    max_members: MaxMembersOpt = DEFAULT_MAX_MEMBERS,
    max_member_size: MaxMemberSizeOpt = DEFAULT_MAX_MEMBER_SIZE,
    max_total_size: MaxTotalOpt = DEFAULT_MAX_TOTAL,
    max_reparse_size: MaxReparseOpt = DEFAULT_MAX_REPARSE,
) -> None:
    """Diff two hosts and judge whether the target can take over: system, init, services, runlevels,
    ports and packages.

    The report opens with the verdict (NOT READY / READY WITH WARNINGS / READY) and lists blockers
    first.  Both bundles are validated first.  Exit 0 when nothing at the --fail-on level differs,
    1 when something does, 2 on trouble.
    """
    with exit_codes():
        from .host import opened_hosts
        limits = _limits(max_members, max_member_size, max_total_size, max_reparse_size)
        key = _verify_key(verify_key_file, no_validate)
        # the HTML report keeps identical records behind a toggle, so it always carries them
        identical = not only_changes or format is Format.html
        with opened_hosts([str(source), str(target)], limits, check=not no_validate, verify_key=key) as (a, b):
            from . import names as names_map  # loaded as the bundles were read
            from . import roles as roles_map
            from .changes import SECTIONS
            from .compare import compare
            from .verdict import fails, judge, load_rules
            rules = load_rules(ignore, builtin=not no_builtin_ignores)
            jobs = roles_map.load(roles)
            sections = [s.value for s in section] if section else list(SECTIONS)
            report = compare(a.snapshot, b.snapshot, a.ref, b.ref, names_map.load(names), sections,
                             include_identical=identical, roles=jobs)
            cautions = a.cautions + b.cautions
        _notes(cautions)
        judge(report, rules, fail_on.value, roles=jobs)
        _present("diff", report, format, output, width, show_ignored=show_ignored, full=not only_changes)
    raise typer.Exit(EXIT_DIFFERENT if fails(report) else EXIT_SAME)


JobsOpt = Annotated[Optional[int], typer.Option("--jobs", "-j", help="bundles checked at once (default: one "
                                                "process per CPU)", min=1, show_default=False)]


@app.command("validate")
def validate_command(
    bundles: Annotated[list[Path], typer.Argument(help="bundles to check", show_default=False)],
    jobs: JobsOpt = None,
    verify_key_file: VerifyKeyOpt = None,
    max_members: MaxMembersOpt = DEFAULT_MAX_MEMBERS,
    max_member_size: MaxMemberSizeOpt = DEFAULT_MAX_MEMBER_SIZE,
    max_total_size: MaxTotalOpt = DEFAULT_MAX_TOTAL,
    max_reparse_size: MaxReparseOpt = DEFAULT_MAX_REPARSE,
) -> None:
    """Check bundles: JSON Schemas, sha256 and size of every file, safety, format version, every entry
    of the collector's table, parsed.json and snapshot.json against the raw files parsed again (for
    bundles of the collector build migdiff carries), and the signature.

    One line per bundle, in the order given, OK or INVALID with the reasons. Many bundles are
    checked in parallel, with a progress bar on a terminal. Exit 0 all valid, 1 some invalid,
    2 some could not be read at all (those lines go to stderr).
    """
    from .fleet import run_many, validate_one
    limits = _limits(max_members, max_member_size, max_total_size, max_reparse_size)
    with exit_codes():
        key = _verify_key(verify_key_file)
    worst = EXIT_SAME
    for status, line in run_many(validate_one, [(str(p), limits, key) for p in bundles], jobs, "validating"):
        if status == "trouble":
            _error(line)
            worst = EXIT_TROUBLE
            continue
        typer.echo(line)
        if status == "invalid" and worst == EXIT_SAME:
            worst = EXIT_DIFFERENT
    raise typer.Exit(worst)


@app.command("show")
def show_command(
    bundles: Annotated[list[Path], typer.Argument(help="one bundle or many (written in the order given; "
                                                  "JSON gives a list)", show_default=False)],
    show_format: Annotated[ShowFormat, typer.Option("--format", "-f", help="text (the terminal), json, markdown "
                                                    "(for a ticket), html (one self-contained file)")] = ShowFormat.text,
    output: OutputOpt = None,
    section: Annotated[Optional[list[str]], typer.Option(
        "--section", "-s", help="system, init, services, ports, packages, jobs, units, connections (repeat); "
                                "default: all", show_default=False)] = None,
    names: NamesOpt = None,
    no_validate: NoValidateOpt = False,
    verify_key_file: VerifyKeyOpt = None,
    width: WidthOpt = None,
    jobs: JobsOpt = None,
    max_members: MaxMembersOpt = DEFAULT_MAX_MEMBERS,
    max_member_size: MaxMemberSizeOpt = DEFAULT_MAX_MEMBER_SIZE,
    max_total_size: MaxTotalOpt = DEFAULT_MAX_TOTAL,
    max_reparse_size: MaxReparseOpt = DEFAULT_MAX_REPARSE,
) -> None:
    """One host's requirement list: system, init, services running or enabled, listening ports, packages.

    Exit 0, or 2 when a bundle could not be used (its line goes to stderr; the others are shown).
    """
    format = Format(show_format.value)
    with exit_codes():
        from .show import SHOW_SECTIONS
        chosen = section or list(SHOW_SECTIONS)
        bad = [s for s in chosen if s not in SHOW_SECTIONS]
        if bad:
            raise UsageError(f"--section: unknown section {bad[0]!r}; choose from {', '.join(SHOW_SECTIONS)}")
        limits = _limits(max_members, max_member_size, max_total_size, max_reparse_size)
        key = _verify_key(verify_key_file, no_validate)
        if len(bundles) == 1 and format is Format.text and output is None:  # straight to the terminal, in color
            from . import names as names_map
            from .host import opened_hosts
            from .show import requirements
            with opened_hosts([str(bundles[0])], limits, check=not no_validate, verify_key=key) as (host,):
                req = requirements(host.ref, host.snapshot, chosen, names_map.load(names))
                cautions = host.cautions
            _notes(cautions)
            _present("show", req, format, None, width)
            return
        from .fleet import run_many, show_one
        jobs_in = [(str(p), limits, not no_validate, chosen, str(names) if names else None, format.value, width, key)
                   for p in bundles]
        shown, trouble = [], False
        for status, text, cautions in run_many(show_one, jobs_in, jobs, "reading"):
            if status == "trouble":
                _error(text)
                trouble = True
            else:
                _notes(cautions)
                shown.append(text)
        if format is Format.json and len(bundles) > 1:
            body = "[\n" + ",\n".join(t.rstrip("\n") for t in shown) + "\n]\n"
        else:
            body = "\n".join(shown)
        try:
            _emit(body, output)
        except BrokenPipeError:
            if output is not None:
                raise
            _reader_gone()
    if trouble:
        raise typer.Exit(EXIT_TROUBLE)


@app.command("parse")
def parse_command(
    capture_id: Annotated[str, typer.Argument(metavar="ID", help="a capture id from `migsnap.py --list`, "
                                              "e.g. ss-nlpaxtudw", show_default=False)],
    files: Annotated[list[Path], typer.Argument(help="raw output captured by hand ('-' for stdin); "
                                                "several files for glob entries such as upstart-jobs",
                                                show_default=False)],
) -> None:
    """Parse a raw output captured by hand with the collector's own parser; prints {data, warnings} as JSON."""
    with exit_codes():
        from .reparse import parse_files
        typer.echo(parse_files(capture_id, files))


@app.command("redact")
def redact_command(
    bundle: BundleArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="redacted bundle: a file, or a directory to put it in",
                                         show_default=False)],
    redact_key_file: Annotated[Optional[Path], typer.Option(
        "--redact-key-file", help="the key, read from FILE (use the same key for every bundle you compare)",
        show_default=False)] = None,
    redact_key: Annotated[Optional[str], typer.Option(
        "--redact-key", help="the key itself (visible in ps; prefer --redact-key-file)", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing output file")] = False,
    sign_key_file: Annotated[Optional[Path], typer.Option(
        "--sign-key-file", help="sign the redacted copy with the site key in FILE (at least 8 bytes): "
        "signature.json, an HMAC-SHA256 of its manifest, as the collector writes it", show_default=False)] = None,
    no_validate: NoValidateOpt = False,
    max_members: MaxMembersOpt = DEFAULT_MAX_MEMBERS,
    max_member_size: MaxMemberSizeOpt = DEFAULT_MAX_MEMBER_SIZE,
    max_total_size: MaxTotalOpt = DEFAULT_MAX_TOTAL,
) -> None:
    """Write a copy of a bundle with hostnames, IP and MAC addresses and human user names replaced by
    pseudonyms derived from the key, in raw output and parsed JSON alike.

    Two bundles redacted with the same key still diff as the originals do.  A bundle whose
    /etc/passwd was cut by --max-output is refused: the users past the cut could not be hidden.
    """
    with exit_codes():
        from .bundle import read_bundle
        from .redact import read_key, read_sign_key, redact_bundle
        from .validate import validate
        from .errors import InvalidBundle
        key = read_key(redact_key, redact_key_file)
        sign_key = read_sign_key(sign_key_file)
        source = read_bundle(str(bundle), _limits(max_members, max_member_size, max_total_size), keep_raw=True)
        if not no_validate:
            result = validate(source, typed=())  # checked, not used: no model objects
            if not result.ok:
                raise InvalidBundle(str(bundle), list(result.reasons))
        written = redact_bundle(source, key, output, force, sign_key)
        typer.echo(f"wrote {written}")


@app.command("collector")
def collector_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="file or directory to write migsnap.py "
                                         "(migsnap.sh with --sh) to")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="replace an existing, different file")] = False,
    sh: Annotated[bool, typer.Option("--sh", help="write migsnap.sh, the POSIX sh collector for a host without "
                                     "Python: its bundle holds raw output only, which `migdiff complete` parses")]
    = False,
) -> None:
    """Write the collector (one Python file, any Python 2.6-3.14; or with --sh one POSIX sh file) to carry
    to a host."""
    with exit_codes():
        from .reparse import write_collector
        typer.echo(write_collector(output, force, sh=sh))


@app.command("complete")
def complete_command(
    bundle: Annotated[Path, typer.Argument(help="a raw-only bundle (.tgz) written by migsnap.sh", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="the completed bundle: a file, or a directory to "
                                         "put <top folder>-full.tgz in", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="replace an existing output file")] = False,
    verify_key_file: Annotated[Optional[Path], typer.Option(
        "--verify-key-file", help="the site key the bundle must be signed with (as for validate); a signed bundle "
                                  "is completed only once its signature is verified", show_default=False)] = None,
    sign_key_file: Annotated[Optional[Path], typer.Option(
        "--sign-key-file", help="sign the completed bundle with the site key in FILE: signature.json, an "
                                "HMAC-SHA256 of its new manifest, as the collector writes it", show_default=False)]
    = None,
    max_members: MaxMembersOpt = DEFAULT_MAX_MEMBERS,
    max_member_size: MaxMemberSizeOpt = DEFAULT_MAX_MEMBER_SIZE,
    max_total_size: MaxTotalOpt = DEFAULT_MAX_TOTAL,
    max_reparse_size: MaxReparseOpt = DEFAULT_MAX_REPARSE,
) -> None:
    """Complete a raw-only bundle of migsnap.sh (raw output and a manifest, collected where there is no
    Python): parse its raw files with the collector's own parsers and write the full bundle, with
    parsed.json and snapshot.json as the Python collector writes them.

    The bundle is validated first (entries, sizes, sha256); its manifest keeps every fact of the
    collector and says where, by what and when it was parsed.  A host without a sha256 tool gave
    no sha256: they are computed now, as the bundle arrives, and the manifest says integrity starts
    there.  The collector's signature covers the manifest it wrote, which completing rewrites: a
    signed bundle is completed only once --verify-key-file verifies it, and the completed bundle is
    signed again only with --sign-key-file.  A bundle already parsed is left alone (nothing written,
    exit 0).  Exit 0 written, 1 invalid bundle (nothing written), 2 trouble.
    """
    with exit_codes():
        from .bundle import read_bundle
        from .complete import completed_line, is_raw_only, signature_needed, where_parsed, write_completed
        from .errors import escaped
        from .redact import read_sign_key
        from .validate import validate
        key = _verify_key(verify_key_file)
        sign_key = read_sign_key(sign_key_file)
        limits = _limits(max_members, max_member_size, max_total_size, max_reparse_size)
        source = read_bundle(str(bundle), limits, keep_raw=True)
        if not is_raw_only(source.manifest):
            by = "by migdiff" if where_parsed(source.manifest) == "migdiff" else "on its host"
            typer.echo(escaped(f"{bundle}: already parsed ({by}): nothing to complete, nothing written"))
            return
        result = validate(source, typed=(), limits=limits, verify_key=key)
        if not result.ok:  # one line, as validate's; nothing written
            _error(result.line())
            raise typer.Exit(EXIT_DIFFERENT)
        signature_needed(source, verified=key is not None)
        written = write_completed(source, output, force, sign_key)
        typer.echo(escaped(f"wrote {written}: {completed_line(source.manifest, sign_key is not None)}"))


class PlanFormat(str, enum.Enum):
    sh = "sh"
    markdown = "markdown"
    ansible = "ansible"


@app.command("plan")
def plan_command(
    source: BundleArg,
    target: BundleArg,
    plan_format: Annotated[PlanFormat, typer.Option("--format", "-f", help="sh (a script), markdown (a checklist "
                                                    "for a change ticket), ansible (a playbook)")] = PlanFormat.sh,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="write the plan to this file (never "
                                                   "replacing one without --force)", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing output file")] = False,
    ignore: Annotated[Optional[Path], typer.Option(
        "--ignore", help="expected differences, as for diff: what they set aside is not planned",
        show_default=False)] = None,
    no_builtin_ignores: Annotated[bool, typer.Option("--no-builtin-ignores", help="as for diff")] = False,
    names: NamesOpt = None,
    roles: RolesOpt = None,
    no_validate: NoValidateOpt = False,
    verify_key_file: VerifyKeyOpt = None,
    max_members: MaxMembersOpt = DEFAULT_MAX_MEMBERS,
    max_member_size: MaxMemberSizeOpt = DEFAULT_MAX_MEMBER_SIZE,
    max_total_size: MaxTotalOpt = DEFAULT_MAX_TOTAL,
    max_reparse_size: MaxReparseOpt = DEFAULT_MAX_REPARSE,
) -> None:
    """Write a plan that makes the target take over: FOR REVIEW, NOT FOR BLIND EXECUTION.

    From the diff's blockers and warnings: install the packages the target lacks (by the target's
    names and package manager, never at a pinned version), enable and start services with the
    target's init, recreate local units, init scripts, cron files and crontabs from the source
    bundle's raw files; what a command cannot settle is a "# DECIDE:" item saying what to look at.
    The script runs with set -eu, has --dry-run, refuses any host whose hostname or machine id is
    not the target's, changes nothing on a second run and deletes nothing.  Exit 0 plan written,
    1 invalid bundle, 2 trouble.
    """
    with exit_codes():
        from .plan import plan_bundles
        from .present import plan_ansible, plan_markdown, plan_sh
        if output is not None and not force and (output.exists() or output.is_symlink()) and output.is_file():
            raise UsageError(f"{output} exists: give --force to replace it")
        limits = _limits(max_members, max_member_size, max_total_size, max_reparse_size)
        key = _verify_key(verify_key_file, no_validate)
        plan, cautions = plan_bundles(str(source), str(target), limits, check=not no_validate, verify_key=key,
                                      names=names, roles=roles, ignore=ignore,
                                      builtin_ignores=not no_builtin_ignores)
        _notes(cautions)
        render = {PlanFormat.sh: plan_sh, PlanFormat.markdown: plan_markdown,
                  PlanFormat.ansible: plan_ansible}[plan_format].render_plan
        _emit(render(plan), output)
        if output is not None:
            typer.echo(f"wrote {output}: {plan.actions} steps, {plan.decisions} decisions", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: `migdiff A B` means `migdiff diff A B`."""
    import gc
    # A bundle becomes some hundred thousand small objects that live until the process ends; the
    # cyclic collector would rescan them again and again (a third of a large diff's time). They
    # hold no cycles to speak of, so collections are made rare rather than frequent.
    gc.set_threshold(100_000, 50, 100)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=default_command(args), prog_name="migdiff")
    except SystemExit as exc:
        _exit_now(exc.code)
    except OSError as exc:  # writing to stdout outside a command's own care (--help, a result line)
        _exit_now(EXIT_TROUBLE, exc)
    _exit_now(0)


def _exit_now(code: int | str | None, output_error: OSError | None = None) -> None:
    """Ends the process without freeing its objects one by one, as mypy does: for a large diff
    that teardown took 0.13 s of 1.1.  Every file written is closed by now; stdout is flushed
    here.  Failing to write it is trouble (exit 2), said in one line on stderr unless the reader
    went away (`migdiff ... | head`)."""
    import errno
    import os
    if isinstance(code, str):
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else (0 if code is None else EXIT_TROUBLE)
    if output_error is None:
        try:
            sys.stdout.flush()
        except OSError as exc:
            output_error = exc
    if output_error is not None and output_error.errno != errno.EPIPE:  # a reader gone is no trouble
        status = EXIT_TROUBLE
        print(f"migdiff: output: {output_error.strerror or output_error}", file=sys.stderr)
    try:
        sys.stderr.flush()
    except OSError:  # nowhere left to say anything
        pass
    os._exit(status)


def default_command(args: list[str]) -> list[str]:
    """Insert `diff` when the first word is not a command (and not a request for help or version)."""
    if not args or args[0] in ("--help", "-h", "--version"):
        return args
    first = next((a for a in args if not a.startswith("-")), None)
    if first is None or first in COMMANDS:
        return args
    return ["diff", *args]

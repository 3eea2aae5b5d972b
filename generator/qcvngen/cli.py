"""The Typer app: parse arguments, call the library, map results to exit codes. Nothing else.

Heavy modules (the pipeline, pydantic, jinja2, httpx, uvicorn) are imported inside the commands, so
``qcvngen --help`` and a typo answer at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence
from enum import Enum, IntEnum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .diagnostics import Diagnostic
    from .ir import Regulation
    from .pipeline import BuildResult
    from .sandbox.accounts import Credentials
    from .sandbox.portal import SandboxPortal


class Exit(IntEnum):
    """The exit codes the README documents: 0 success, 1 a negative verdict, 2 a usage or spec error.

    Each name says one thing; the verdicts of different commands share the code 1 (enum aliases).
    """

    OK = 0
    STALE = 1
    """``check``: the output folder differs from a fresh build."""
    INVALID_PAYLOAD = 1
    """``validate-data``: a payload breaks a rule of the regulation."""
    BREAKING_CHANGE = 1
    """``diff``: a change a data submitter must act on."""
    CONFORMANCE_FAILED = 1
    """``conformance``: a vector did not get the verdict the spec expects."""
    SPEC_ERROR = 2
    """The spec has errors (nothing was written)."""
    USAGE_ERROR = 2
    """Wrong arguments, an input that cannot be read, an output folder or a server that cannot be used."""


app = typer.Typer(
    name="qcvngen",
    help="Build every QCVN 120:2019/BTTTT artefact (schemas, OpenAPI, models, docs) from spec/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SpecOption = Annotated[
    Path | None,
    typer.Option("--spec", help="Spec folder (default: ./spec if present, else the bundled spec).", file_okay=False),
]
OutOption = Annotated[Path, typer.Option("--out", help="Output folder.", file_okay=False)]


def _spec_dir(spec: Path | None) -> Path:
    from .resources import default_spec_dir

    chosen = spec if spec is not None else default_spec_dir(Path.cwd())
    if not chosen.is_dir():
        typer.echo(f"error: spec folder {chosen} does not exist", err=True)
        raise typer.Exit(Exit.SPEC_ERROR)
    return chosen


def _report(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in sorted(diagnostics):
        typer.echo(str(diagnostic), err=True)


def _regulation_or_exit(spec_dir: Path, *, show_warnings: bool = False, heading: str | None = None) -> Regulation:
    """The spec's IR, or exit 2 after printing its diagnostics (``heading`` first, when given).

    With ``show_warnings`` the diagnostics are printed even when the spec loads (its warnings).
    """
    from .diagnostics import has_errors
    from .pipeline import load_spec

    reg, diagnostics = load_spec(spec_dir)
    failed = reg is None or has_errors(diagnostics)
    if failed and heading is not None:
        typer.echo(heading, err=True)
    if failed or show_warnings:
        _report(diagnostics)
    if reg is None or failed:
        raise typer.Exit(Exit.SPEC_ERROR)
    return reg


def _choice_or_exit(option: str, value: str, choices: Sequence[str]) -> str:
    """``value`` when it is one of ``choices``; else exit 2 naming them and the closest one."""
    from .suggest import did_you_mean

    if value not in choices:
        hint = did_you_mean(value, choices)
        typer.echo(f"error: {option} must be one of {', '.join(choices)}, not '{value}'{hint}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR)
    return value


def _built(spec_dir: Path) -> BuildResult | None:
    """The build of ``spec_dir``, or None after printing why nothing may be written."""
    from .diagnostics import error_count
    from .pipeline import build
    from .writer import OutputError

    try:
        result = build(spec_dir)
    except OutputError as exc:
        typer.echo(f"error: {exc}", err=True)
        return None
    _report(result.diagnostics)
    if not result.ok:
        typer.echo(f"{error_count(result.diagnostics)} error(s) in {spec_dir}; nothing was written.", err=True)
        return None
    return result


def _build_or_exit(spec: Path | None) -> BuildResult:
    result = _built(_spec_dir(spec))
    if result is None:
        raise typer.Exit(Exit.SPEC_ERROR)
    return result


def _write_or_exit(out: Path, result: BuildResult) -> str:
    """Write the build into ``out`` (exit 2 when it cannot be) and say what changed."""
    from .writer import OutputError, write

    try:
        changes = write(out, result.files)
    except (OutputError, OSError) as exc:
        typer.echo(f"error: cannot write {out}: {exc}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    written = len(changes.added) + len(changes.changed)
    return f"{out}: {written} file(s) written, {len(changes.unchanged)} unchanged, {len(changes.removed)} removed"


WatchOption = Annotated[
    bool,
    typer.Option(
        "--watch",
        help="Stay running and rebuild whenever the spec or the templates change (Ctrl-C stops).",
    ),
]


@app.command()
def build(spec: SpecOption = None, out: OutOption = Path("generated"), watch: WatchOption = False) -> None:
    """Build every artefact into the output folder (atomically: all old or all new)."""
    _claim_or_exit(out, "write")  # before the build's seconds of work
    if watch:
        _watch(_spec_dir(spec), out)
        return
    inputs = _inputs(_spec_dir(spec))
    summary = _write_or_exit(out, _build_or_exit(spec))
    _remember(_spec_dir(spec), out, inputs)
    typer.echo(summary)


def _watch(spec_dir: Path, out: Path) -> None:
    """``build --watch``: a build now and after every change; a spec error is reported and waited out."""
    import time

    from .resources import templates_dir
    from .watch import Watcher, restart_self, stamp

    def rebuild() -> None:
        started = time.perf_counter()
        inputs = _inputs(spec_dir)
        result = _built(spec_dir)
        if result is None:
            typer.echo(f"{out} left as it was; watching {spec_dir} for a fix …", err=True)
            return
        summary = _write_or_exit(out, result)
        _remember(spec_dir, out, inputs)
        typer.echo(f"{summary} in {time.perf_counter() - started:.2f} s; watching {spec_dir} …")

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    package = Path(__file__).resolve().parent
    watcher = Watcher(
        inputs=lambda: stamp(spec_dir, templates_dir(), skip=out),
        own_code=lambda: stamp(package, suffixes=(".py",)),
        rebuild=rebuild,
        restart=restart_self,
    )
    try:
        watcher.run()
    except KeyboardInterrupt:
        typer.echo("stopped watching")


def _claim_or_exit(out: Path, verb: str) -> None:
    """Exit 2, touching nothing, unless ``out`` is absent, empty or qcvngen's own output folder."""
    from .writer import OutputError, claim

    try:
        claim(out)
    except (OutputError, OSError) as exc:
        typer.echo(f"error: cannot {verb} {out}: {exc}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None


def _inputs(spec_dir: Path) -> str | None:
    """The digest of the build's inputs, taken before it reads them (see :func:`_remember`)."""
    from .fastcheck import inputs_before_build
    from .resources import templates_dir

    return inputs_before_build(spec_dir, templates_dir())


def _remember(spec_dir: Path, out: Path, inputs: str | None) -> None:
    """Record ``out`` as the build of ``inputs`` (their digest from before the build: a table saved
    while it ran makes the record name the older inputs, so a plain ``check`` rebuilds)."""
    from .fastcheck import record
    from .resources import templates_dir

    if inputs is not None:
        record(spec_dir, templates_dir(), out, inputs)


@app.command()
def check(
    spec: SpecOption = None,
    out: OutOption = Path("generated"),
    full: Annotated[bool, typer.Option("--full", help="Always rebuild and compare (ignore the cache).")] = False,
) -> None:
    """Exit 0 when the output folder equals a fresh build, 1 when it is stale."""
    from .fastcheck import is_fresh
    from .resources import templates_dir
    from .writer import OutputError, compare

    if not full and is_fresh(_spec_dir(spec), templates_dir(), out):
        typer.echo(f"{out} is up to date (inputs unchanged since the last build)")
        return
    _claim_or_exit(out, "check")  # a folder qcvngen did not make is not "stale": it is the wrong folder
    from .toolcache import bypass

    inputs = _inputs(_spec_dir(spec))
    # --full proves the output from the tools themselves: their cached output is not consulted.
    with bypass() if full else contextlib.nullcontext():
        result = _build_or_exit(spec)
    try:
        changes = compare(out, result.files)
    except (OutputError, OSError) as exc:
        typer.echo(f"error: cannot check {out}: {exc}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    if not changes.stale:
        _remember(_spec_dir(spec), out, inputs)
        typer.echo(f"{out} is up to date ({len(changes.unchanged)} files)")
        return
    for label, paths in (("added", changes.added), ("changed", changes.changed), ("removed", changes.removed)):
        for path in paths:
            typer.echo(f"  {label}: {path.as_posix()}")
    typer.echo(
        f"{out} is stale: {len(changes.added)} to add, {len(changes.changed)} changed, "
        f"{len(changes.removed)} to remove; run `qcvngen build`",
        err=True,
    )
    raise typer.Exit(Exit.STALE)


@app.command()
def validate(spec: SpecOption = None) -> None:
    """Check the spec and print its diagnostics; writes nothing."""
    spec_dir = _spec_dir(spec)
    reg = _regulation_or_exit(spec_dir, show_warnings=True)
    typer.echo(f"{spec_dir}: {len(reg.packets)} packets, {len(reg.tables)} field tables, no errors")


@app.command()
def coverage(
    spec: SpecOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per table: number, packet, declared, specified and status."""
    from .coverage import summary

    data = summary(_regulation_or_exit(_spec_dir(spec)))
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        return
    typer.echo(f"{'table':>5}  {'packet':<30} {'declared':>8} {'specified':>9} {'cand.':>5} {'obs.':>4}  status")
    for row in data["tables"]:
        typer.echo(
            f"{row['table']:>5}  {row['packet']:<30} {row['declared']:>8} {row['specified']:>9} "
            f"{row['candidates']:>5} {row['observed']:>4}  {row['status']}"
        )
    typer.echo(f"total: {data['specified']} of {data['declared']} declared fields specified")


# The sandbox's options, named once here so that its signature stays readable.
_AccountOpt = Annotated[
    list[str] | None,
    typer.Option("--account", help="USER:PASSWORD:MADONVI; repeat for more (default sandbox:sandbox:000.00.00.G05)."),
]
_AccountsFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--accounts-file",
        help="Accounts file: JSON [{username, password, madonvi}] or USER:PASSWORD:MADONVI lines (\\ escapes : , # \\).",
    ),
]
_SessionsOpt = Annotated[
    int,
    typer.Option(
        "--max-sessions-per-account", help="Live sessions per account; a new login ends the oldest beyond it.", min=1
    ),
]
_PersonalOpt = Annotated[
    bool,
    typer.Option(
        "--show-personal-data", help="Show names, phones, e-mails and ID numbers in /sandbox/api/ (masked by default)."
    ),
]
_CaptureOpt = Annotated[
    Path | None,
    typer.Option(
        "--capture",
        help="Append a capture line (shapes, never a value) per authenticated request to this"
        " JSON Lines file, for `qcvngen learn` (docs/learn.md). Off by default.",
    ),
]
_SeedOpt = Annotated[
    Path | None,
    typer.Option(
        "--seed",
        help="The portal's answers to pull packets: a JSON file shaped like qcvngen/sandbox/seed.json"
        " (default: the bundled seed).",
        dir_okay=False,
    ),
]
_LogLevelOpt = Annotated[
    str,
    typer.Option(
        "--log-level", help="critical, error, warning, info or debug; JSON lines on stderr, never request values."
    ),
]
# Limits of the generated app (each refusal names its setting) and of the connections.
_BodyBytesOpt = Annotated[int, typer.Option(help="Bytes of one request body (413 above).", min=1)]
_JsonNodesOpt = Annotated[int, typer.Option(help="JSON values in one body, counted before parsing (413).", min=1)]
_ObjectKeysOpt = Annotated[int, typer.Option(help="Keys of one JSON object (413).", min=1)]
_ListItemsOpt = Annotated[int, typer.Option(help="Items of one JSON array (413).", min=1)]
_BatchOpt = Annotated[int, typer.Option(help="Records in the data of one call (413).", min=1)]
_ParallelOpt = Annotated[int, typer.Option(help="Requests processed at once in worker threads.", min=1)]
_BodyTimeoutOpt = Annotated[
    float, typer.Option(help="Seconds to receive a body once its headers arrived (408).", min=0.1)
]
_BufferedOpt = Annotated[
    int,
    typer.Option(help="Bytes of request bodies (64 KiB or more each) held at once; others wait, then 503.", min=1),
]
_BodyRateOpt = Annotated[
    int,
    typer.Option(
        help="Bytes/s a body must average after 5 s (408); slower bodies may be closed at the connection cap.", min=1
    ),
]
_LoginFailuresOpt = Annotated[
    int,
    typer.Option(help="Failed logins of an account at one address before growing delays (429).", min=1),
]
_HeaderTimeoutOpt = Annotated[
    float, typer.Option(help="Seconds a new connection has to send its request headers.", min=0.1)
]
_KeepAliveOpt = Annotated[float, typer.Option(help="Seconds an idle keep-alive connection stays open.", min=1)]
_ConnectionsOpt = Annotated[
    int,
    typer.Option(
        help="Open connections; at the cap a new one closes the oldest slow one (lowered to fit the fd limit).", min=1
    ),
]


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8120,
    db: Annotated[str, typer.Option(help="SQLite file, or :memory:.")] = "qcvngen-sandbox.sqlite3",
    account: _AccountOpt = None,
    session_ttl: Annotated[float, typer.Option(help="Session lifetime in seconds.", min=1)] = 600.0,
    accounts_file: _AccountsFileOpt = None,
    max_sessions_per_account: _SessionsOpt = 100,
    show_personal_data: _PersonalOpt = False,
    capture: _CaptureOpt = None,
    log_level: _LogLevelOpt = "warning",
    max_body_bytes: _BodyBytesOpt = 8 * 1024 * 1024,
    max_json_nodes: _JsonNodesOpt = 500_000,
    max_object_keys: _ObjectKeysOpt = 1_000,
    max_list_items: _ListItemsOpt = 10_000,
    max_batch: _BatchOpt = 1_000,
    max_parallel: _ParallelOpt = 8,
    max_buffered_bytes: _BufferedOpt = 64 * 1024 * 1024,
    body_timeout: _BodyTimeoutOpt = 60.0,
    min_body_rate: _BodyRateOpt = 8 * 1024,
    login_free_failures: _LoginFailuresOpt = 5,
    header_timeout: _HeaderTimeoutOpt = 10.0,
    keep_alive_timeout: _KeepAliveOpt = 5.0,
    max_connections: _ConnectionsOpt = 1000,
    spec: SpecOption = None,
    seed: _SeedOpt = None,
) -> None:
    """Run a local stand-in for the national portal on server stubs built from the spec (SQLite state)."""
    accounts = _sandbox_accounts(account, accounts_file, log_level)
    if capture is not None:
        from .runtime.shared.capture import CaptureFileError, check_capture_path

        try:  # refused now, not as a warning on every request later
            check_capture_path(capture)
        except CaptureFileError as exc:
            typer.echo(f"error: --capture: {exc}", err=True)
            raise typer.Exit(Exit.USAGE_ERROR) from None
    limits = {
        "max_body_bytes": max_body_bytes,
        "max_json_nodes": max_json_nodes,
        "max_object_keys": max_object_keys,
        "max_list_items": max_list_items,
        "max_parallel": max_parallel,
        "max_buffered_bytes": max_buffered_bytes,
        "body_timeout": body_timeout,
        "min_body_rate": min_body_rate,
        "login_free_failures": login_free_failures,
    }
    options = {
        "session_ttl": session_ttl,
        "max_batch": max_batch,
        "show_personal_data": show_personal_data,
        "max_sessions_per_account": max_sessions_per_account,
        "limits": limits,
        "capture": capture,
        # A fixed token from the environment (scripts, CI), else a new random one per start.
        "view_token": os.environ.get("QCVNGEN_SANDBOX_VIEW_TOKEN") or None,
    }
    # Bound before anything else starts: a busy port is one line and exit 2 (no banner, no state file).
    sock = _listen_or_exit(host, port)
    app_, portal = _sandbox_app_or_exit(db, accounts, _spec_dir(spec), seed, options)
    _sandbox_banner(f"http://{host}:{port}", db, accounts, app_.state.view_token)
    connections = {
        "header_timeout": header_timeout,
        "keep_alive_timeout": keep_alive_timeout,
        "max_connections": max_connections,
        # No min_body_rate here: the guarded protocol reads the app's own (set in limits above).
    }
    _serve(portal.served.serving, app_, sock, host, port, log_level, connections)


def _listen_or_exit(host: str, port: int) -> socket.socket:
    # The runtime module every served package copies verbatim: binding needs no spec.
    from .runtime.server import serving

    try:
        listening: socket.socket = serving.listening_socket(host, port)
    except serving.PortUnavailable as exc:
        typer.echo(f"error: --host/--port: {exc.strerror}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    return listening


def _sandbox_app_or_exit(
    db: str, accounts: list[Credentials], spec_dir: Path, seed_file: Path | None, options: dict[str, Any]
) -> tuple[FastAPI, SandboxPortal]:
    """The sandbox app of the spec in ``spec_dir``, or exit 2 saying why it cannot be served: the spec's
    diagnostics, a seed that cannot be read or does not fit, or a packet with no behaviour (one line)."""
    from .sandbox import create_sandbox_app
    from .sandbox.portal import NoBehaviour
    from .sandbox.runtime import SpecNotServable
    from .sandbox.seed import SeedError, load

    try:
        seed = load(seed_file)
        return create_sandbox_app(db, accounts, spec=spec_dir, seed=seed, **options)
    except SpecNotServable as exc:
        _report(exc.diagnostics)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    except (SeedError, NoBehaviour) as exc:
        typer.echo(f"error: sandbox: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None


def _sandbox_accounts(account: list[str] | None, accounts_file: Path | None, log_level: str) -> list[Credentials]:
    """The sandbox's accounts (options, file or environment) with logging configured, or exit 2."""
    from .sandbox import DEFAULT_ACCOUNT
    from .sandbox.accounts import configured_accounts
    from .sandbox.logs import configure_logging

    try:
        # An accounts file or $QCVNGEN_SANDBOX_ACCOUNTS keeps passwords out of the process list.
        accounts = configured_accounts(
            account, os.environ.get("QCVNGEN_SANDBOX_ACCOUNTS"), accounts_file, DEFAULT_ACCOUNT
        )
    except ValueError as exc:
        typer.echo(f"error: accounts: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    try:
        configure_logging(log_level)
    except ValueError as exc:
        typer.echo(f"error: --log-level: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    return accounts


def _sandbox_banner(base: str, db: str, accounts: list[Credentials], view_token: str) -> None:
    """What the sandbox serves, where; account names and units only, never a password. The view
    token (every unit's data in the views) is shown: whoever reads the console may look."""
    typer.echo(f"qcvngen sandbox: {base}  (state: {db})")
    typer.echo(f"  POST {base}/auth         login {{username, password}} -> session")
    typer.echo(f"  POST {base}/integration  pushes and pulls (service in the body)")
    typer.echo(f"  POST {base}/share        catalogue services")
    typer.echo(f"  GET  {base}/sandbox/?token={view_token}")
    typer.echo("       what the sandbox received, every unit (JSON under /sandbox/api/ with")
    typer.echo("       Authorization: Bearer <that token>, or a session of /auth for its own unit)")
    typer.echo("  accounts: " + ", ".join(f"{a.username} ({a.madonvi})" for a in accounts))


# How long `qcvngen sandbox` lets requests in flight finish after SIGTERM/Ctrl-C (a view takes far less).
SHUTDOWN_GRACE_SECONDS = 5


def _serve(
    serving: ModuleType,
    app_: object,
    sock: socket.socket,
    host: str,
    port: int,
    log_level: str,
    connections: dict[str, float],
) -> None:
    """uvicorn with the served package's connection guard; repeated log lines rate-limited."""
    import uvicorn

    serving.limit_logs()
    serving.return_large_buffers()
    config = serving.server_config(
        app_,
        host=host,
        port=port,
        log_level=log_level.lower(),
        log_config=None,
        # SIGTERM waits this long at most for requests in flight: uvicorn also waits for a keep-alive
        # connection that was accepted while it began shutting down, and that one never closes.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        **connections,
    )
    # uvicorn stops on SIGTERM and then raises the signal again under the handler it found: with
    # the default one the process would die there, skipping the exit cleanup (the sandbox's package
    # folder). A SIGTERM is a request to stop: it ends the process normally, exit code 0.
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.Server(config).run(sockets=[sock])


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


class Format(str, Enum):
    """The report formats of ``validate-data``."""

    text = "text"
    json = "json"
    github = "github"


@app.command("validate-data")
def validate_data(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Payload files (JSON, at most 64 MiB each; no FIFO, device or folder); - reads standard input."
        ),
    ],
    packet: Annotated[
        str | None, typer.Option("--packet", help="Packet name, when the payload has no 'service' key.")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="text, json or github (workflow annotations).")] = "text",
    spec: SpecOption = None,
) -> None:
    """Validate payloads (an envelope, a bare data array or one record): every error with its path,
    rule and regulation table/row, in Vietnamese and English. Exit 0 valid, 1 invalid, 2 usage error."""
    from .payloads import RULE_TEXT, Finding, PayloadValidator, UsageError, one_line, report_json
    from .wirejson import NotWireJson, parse

    fmt = Format(_choice_or_exit("--format", output, [f.value for f in Format]))
    checker = PayloadValidator(_regulation_or_exit(_spec_dir(spec)))
    try:
        checker.check_packet(packet)
    except UsageError as exc:
        typer.echo(one_line(f"error: --packet: {exc}"), err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    findings: list[Finding] = []
    for name in files:
        # File names and messages may hold anything a payload or a folder holds: one line each.
        label = "<stdin>" if name == "-" else name
        text = _payload_text(name, label)
        try:
            data = parse(text)
        except (ValueError, RecursionError) as exc:
            too_deep = "nested too deeply or a number too long"
            detail = str(exc) if isinstance(exc, (NotWireJson, json.JSONDecodeError)) else too_deep
            vi, en = RULE_TEXT["json"]
            findings.append(Finding(label, "$", "json", "error", "-", f"{vi}: {detail}", f"{en}: {detail}"))
            continue
        try:
            findings.extend(checker.validate(label, data, packet))
        except UsageError as exc:
            typer.echo(one_line(f"error: {label}: {exc}"), err=True)
            raise typer.Exit(Exit.USAGE_ERROR) from None
    report = report_json(findings, len(files))
    if fmt is Format.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        for finding in findings:
            typer.echo(finding.github() if fmt is Format.github else finding.text())
        if fmt is Format.text:
            verdict = "hợp lệ / valid" if report["valid"] else "không hợp lệ / invalid"
            counts = f"{report['errors']} error(s), {report['warnings']} warning(s)"
            typer.echo(f"{len(files)} file(s): {verdict} ({counts})")
    if not report["valid"]:
        raise typer.Exit(Exit.INVALID_PAYLOAD)


def _payload_text(name: str, label: str) -> str:
    """The text of one payload file (``-``: standard input), or exit 2 saying why it cannot be read.

    At most :data:`~qcvngen.payloads.MAX_PAYLOAD_BYTES` are read; a FIFO, a device or a folder is
    refused unread rather than blocking or reading forever.
    """
    from .payloads import MAX_PAYLOAD_BYTES, one_line
    from .safefs import UnsafeFileError, read_named_file

    try:
        data = _stdin_bytes(MAX_PAYLOAD_BYTES) if name == "-" else read_named_file(Path(name), limit=MAX_PAYLOAD_BYTES)
        return data.decode("utf-8")
    except UnsafeFileError as exc:
        reason = exc.reason
    except UnicodeDecodeError:
        reason = "is not UTF-8 text"
    except OSError as exc:
        reason = f"{exc.strerror or exc}"
    typer.echo(one_line(f"error: cannot read {label}: {reason}"), err=True)
    raise typer.Exit(Exit.USAGE_ERROR)


def _stdin_bytes(limit: int) -> bytes:
    """Standard input, refused (like a file) beyond ``limit`` bytes."""
    from .safefs import TooLargeError

    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read(limit + 1) if stream is not None else sys.stdin.read(limit + 1).encode("utf-8")
    if len(data) > limit:
        raise TooLargeError("<stdin>", limit)
    return bytes(data)


@app.command()
def conformance(
    base_url: Annotated[
        str, typer.Option("--base-url", help="The implementation's adapter URL, e.g. http://127.0.0.1:8120.")
    ],
    account: Annotated[
        str,
        typer.Option(
            "--account",
            help="USER:PASSWORD:MADONVI to log in with; a backslash escapes : , # \\ in a part (pa\\:ss is pa:ss).",
        ),
    ] = "sandbox:sandbox:000.00.00.G05",
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a JUnit XML report here.", dir_okay=False)
    ] = None,
    spec: SpecOption = None,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Test a LocalServiceHandler implementation (ThongKeHoSoTheoKy at /thongke, no login) instead "
            "of a national portal; its name, path and parameters are qcvngen's inference.",
        ),
    ] = False,
) -> None:
    """Run spec-generated test vectors (valid, and one broken rule each) against a national-portal implementation."""
    from .conformance import junit, run, run_local, summary
    from .sandbox.accounts import Credentials

    try:
        # The sandbox's own rule, so any password that can log in there can be given here.
        credentials = Credentials.parse(account)
    except ValueError as exc:  # the message never quotes the text: it holds a password
        typer.echo(f"error: --account: {exc}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    reg = _regulation_or_exit(_spec_dir(spec))
    try:
        if local:  # the national portal calls the local side: no login, madonvi names the caller
            suite = run_local(reg, base_url, madonvi=credentials.madonvi)
        else:
            suite = run(
                reg,
                base_url,
                username=credentials.username,
                password=credentials.password,
                madonvi=credentials.madonvi,
            )
    except (ConnectionError, OSError) as exc:
        typer.echo(f"error: {base_url}: {exc}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    except Exception as exc:
        typer.echo(f"error: {base_url}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    typer.echo(summary(suite))
    if report is not None:
        report.write_bytes(junit(suite))
    if suite.failed:
        raise typer.Exit(Exit.CONFORMANCE_FAILED)


@app.command()
def diff(
    old: Annotated[
        str,
        typer.Argument(
            metavar="OLD", help="Old spec: a folder, or a git revision whose spec/ is read (HEAD~3, main, a tag)."
        ),
    ],
    new: Annotated[
        str | None,
        typer.Argument(
            metavar="NEW",
            help="New spec: a folder or a git revision (default: ./spec if present, else the bundled spec).",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or markdown.")] = "text",
) -> None:
    """A bilingual change notice between two spec versions; exit 1 when a change is breaking."""
    import tempfile

    from .specdiff import FORMATS, DiffInputError, compare, open_input, render

    _choice_or_exit("--format", fmt, FORMATS)
    with tempfile.TemporaryDirectory(prefix="qcvngen-diff-") as tmp:
        sides, regs = [], []
        for role, arg in (("OLD", old), ("NEW", new if new is not None else str(_spec_dir(None)))):
            try:
                side = open_input(arg, Path(tmp) / role.lower(), Path.cwd())
            except DiffInputError as exc:
                typer.echo(f"error: {role}: {exc}", err=True)
                raise typer.Exit(Exit.USAGE_ERROR) from None
            regs.append(_regulation_or_exit(side.path, heading=f"error: {role} ({arg}) is not a valid spec:"))
            sides.append(side)
        result = compare(regs[0], regs[1], sides[0], sides[1])
    sys.stdout.write(render(result, fmt))
    if result.breaking:
        raise typer.Exit(Exit.BREAKING_CHANGE)  # a data submitter must act


@app.command()
def docs(
    spec: SpecOption = None,
    out: OutOption = Path("site"),
    serve: Annotated[bool, typer.Option("--serve", help="Then serve the folder on 127.0.0.1 until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve (0 picks a free one).", min=0, max=65535)] = 8000,
) -> None:
    """Build the HTML documentation site (vi/en switch, search) from the spec."""
    from .site import SiteError, make_server, render_site, write_site
    from .writer import OutputError

    reg = _regulation_or_exit(_spec_dir(spec), show_warnings=True)
    try:
        changes = write_site(out, render_site(reg))
    except (SiteError, OutputError, OSError) as exc:
        typer.echo(f"error: cannot write {out}: {exc}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    written = len(changes.added) + len(changes.changed)
    typer.echo(f"{out}: {written} file(s) written, {len(changes.unchanged)} unchanged, {len(changes.removed)} removed")
    if not serve:
        return
    try:
        server = make_server(out, port)
    except OSError as exc:
        typer.echo(f"error: cannot serve on 127.0.0.1:{port}: {exc}", err=True)
        raise typer.Exit(Exit.USAGE_ERROR) from None
    typer.echo(f"serving {out} at http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command()
def learn(
    captures: Annotated[
        list[Path],
        typer.Argument(
            metavar="CAPTURE...",
            help="Capture files (*.jsonl), raw answer files (*.json, with --packet) or folders of them.",
        ),
    ],
    spec: SpecOption = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or markdown.")] = "text",
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="Add the unknown keys to the spec as membership: observed fields, with a source entry."
        ),
    ] = False,
    packet: Annotated[
        str | None, typer.Option("--packet", help="The service that answered, for raw answer files.")
    ] = None,
    source_id: Annotated[
        str | None, typer.Option("--source-id", help="Id of the new source entry (default: the next free S<n>).")
    ] = None,
    supplied_by: Annotated[
        str | None, typer.Option("--supplied-by", help="Who supplied the captures (required with --write).")
    ] = None,
) -> None:
    """Compare captured traffic shapes with the spec: unknown keys, unseen fields, new codes, contradictions.
    Exit 0 with a report, 2 on bad input."""
    from .learn import FORMATS, LearnInputError, compare, read_inputs, render, write_spec
    from .learn.compare import code_paths, record_for
    from .learn.write import WriteError

    _choice_or_exit("--format", fmt, FORMATS)
    if write and not (supplied_by or "").strip():
        typer.echo(
            "error: --write needs --supplied-by TEXT (who supplied the captures, for the source entry)", err=True
        )
        raise typer.Exit(Exit.USAGE_ERROR)
    spec_dir = _spec_dir(spec)
    reg = _regulation_or_exit(spec_dir)
    if packet is not None:
        _choice_or_exit("--packet", packet, [p.name for p in reg.packets])
    try:
        found = read_inputs(
            captures,
            packet=packet,
            code_paths=lambda name: code_paths(reg, record_for(reg, name, "answer")),
            endpoint=lambda name: reg.packet(name).endpoint,
            packets=[p.name for p in reg.packets],
            wire_names={f.wire_name for r in reg.records for f in r.fields},
        )
        report = compare(reg, found)
        result = (
            write_spec(spec_dir, reg, report, supplied_by=supplied_by or "", source_id=source_id) if write else None
        )
    except (LearnInputError, WriteError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    sys.stdout.write(render(report, fmt))
    if result is not None:
        what = (
            f"{len(result.added)} observed field(s) and {len(result.codes)} code(s) added, source {result.source_id}"
            if result.source_id
            else "nothing new: the spec already has every key and code"
        )
        typer.echo(f"{spec_dir}: {what}", err=True)


def main() -> None:
    """The Typer app, after the fast ``check`` answer when it applies (see :mod:`qcvngen.console`,
    the console script, which tries it before importing this module)."""
    from .console import fast_check

    if fast_check(sys.argv[1:]):
        return
    app()


if __name__ == "__main__":
    main()

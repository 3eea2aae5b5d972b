"""The Typer app: parse arguments, call the library, map results to exit codes. Nothing else."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum, IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .pipeline import BuildResult


class Exit(IntEnum):
    OK = 0
    STALE = 1
    SPEC_ERROR = 2


app = typer.Typer(
    name="qcvngen",
    help="Build every QCVN 120:2019/BTTTT artefact (schemas, OpenAPI, models, docs) from spec/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SpecOption = Annotated[
    Optional[Path],
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


def _build_or_exit(spec: Path | None) -> BuildResult:
    from .pipeline import build
    from .writer import OutputError

    spec_dir = _spec_dir(spec)
    try:
        result = build(spec_dir)
    except OutputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    _report(result.diagnostics)
    if not result.ok:
        errors = sum(1 for d in result.diagnostics if d.severity.value == "error")
        typer.echo(f"{errors} error(s) in {spec_dir}; nothing was written.", err=True)
        raise typer.Exit(Exit.SPEC_ERROR)
    return result


@app.command()
def build(spec: SpecOption = None, out: OutOption = Path("generated")) -> None:
    """Build every artefact into the output folder (atomically: all old or all new)."""
    from .writer import OutputError, write

    result = _build_or_exit(spec)
    try:
        changes = write(out, result.files)
    except (OutputError, OSError) as exc:
        typer.echo(f"error: cannot write {out}: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    _remember(spec, out)
    written = len(changes.added) + len(changes.changed)
    typer.echo(
        f"{out}: {written} file(s) written, {len(changes.unchanged)} unchanged, {len(changes.removed)} removed"
    )


def _remember(spec: Path | None, out: Path) -> None:
    from .fastcheck import record
    from .resources import templates_dir

    record(_spec_dir(spec), templates_dir(), out)


@app.command()
def check(
    spec: SpecOption = None,
    out: OutOption = Path("generated"),
    full: Annotated[bool, typer.Option("--full", help="Always rebuild and compare (ignore the cache).")] = False,
) -> None:
    """Exit 0 when the output folder equals a fresh build, 1 when it is stale."""
    from .fastcheck import is_fresh
    from .resources import templates_dir
    from .writer import compare

    if not full and is_fresh(_spec_dir(spec), templates_dir(), out):
        typer.echo(f"{out} is up to date (inputs unchanged since the last build)")
        return
    result = _build_or_exit(spec)
    changes = compare(out, result.files)
    if not changes.stale:
        _remember(spec, out)
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
    from .pipeline import load_spec

    spec_dir = _spec_dir(spec)
    reg, diagnostics = load_spec(spec_dir)
    _report(diagnostics)
    if reg is None:
        raise typer.Exit(Exit.SPEC_ERROR)
    typer.echo(f"{spec_dir}: {len(reg.packets)} packets, {len(reg.tables)} field tables, no errors")


@app.command()
def coverage(
    spec: SpecOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per table: number, packet, declared, specified and status."""
    from .coverage import summary
    from .pipeline import load_spec

    reg, diagnostics = load_spec(_spec_dir(spec))
    if reg is None:
        _report(diagnostics)
        raise typer.Exit(Exit.SPEC_ERROR)
    data = summary(reg)
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        return
    typer.echo(f"{'table':>5}  {'packet':<30} {'declared':>8} {'specified':>9} {'cand.':>5}  status")
    for row in data["tables"]:
        typer.echo(
            f"{row['table']:>5}  {row['packet']:<30} {row['declared']:>8} {row['specified']:>9} "
            f"{row['candidates']:>5}  {row['status']}"
        )
    typer.echo(f"total: {data['specified']} of {data['declared']} declared fields specified")


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8120,
    db: Annotated[str, typer.Option(help="SQLite file, or :memory:.")] = "qcvngen-sandbox.sqlite3",
    account: Annotated[
        Optional[list[str]],
        typer.Option("--account", help="USER:PASSWORD:MADONVI; repeat for more (default sandbox:sandbox:000.00.00.G05)."),
    ] = None,
    session_ttl: Annotated[float, typer.Option(help="Session lifetime in seconds.", min=1)] = 600.0,
    show_personal_data: Annotated[
        bool, typer.Option("--show-personal-data", help="Show names, phones, e-mails and ID numbers in /sandbox/api/ (masked by default).")
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level",
            help="critical, error, warning, info or debug; JSON lines on stderr, never request values.",
        ),
    ] = "warning",
    # Limits of the generated app (each refusal names its setting) and of the connections.
    max_body_bytes: Annotated[int, typer.Option(help="Bytes of one request body (413 above).", min=1)] = 8 * 1024 * 1024,
    max_json_nodes: Annotated[int, typer.Option(help="JSON values in one body, counted before parsing (413).", min=1)] = 500_000,
    max_object_keys: Annotated[int, typer.Option(help="Keys of one JSON object (413).", min=1)] = 1_000,
    max_list_items: Annotated[int, typer.Option(help="Items of one JSON array (413).", min=1)] = 10_000,
    max_batch: Annotated[int, typer.Option(help="Records in the data of one call (413).", min=1)] = 1_000,
    max_parallel: Annotated[int, typer.Option(help="Requests processed at once in worker threads.", min=1)] = 8,
    body_timeout: Annotated[float, typer.Option(help="Seconds to receive a body once its headers arrived (408).", min=0.1)] = 60.0,
    header_timeout: Annotated[float, typer.Option(help="Seconds a new connection has to send its request headers.", min=0.1)] = 10.0,
    keep_alive_timeout: Annotated[float, typer.Option(help="Seconds an idle keep-alive connection stays open.", min=1)] = 5.0,
    max_connections: Annotated[
        int, typer.Option(help="Open connections; at the cap a new one closes the oldest slow one (lowered to fit the fd limit).", min=1)
    ] = 1000,
) -> None:
    """Run a local stand-in for the national portal on the generated server stubs (SQLite state)."""
    from .sandbox import DEFAULT_ACCOUNT, Credentials, create_sandbox_app
    from .sandbox.logs import configure_logging

    try:
        # Accounts from $QCVNGEN_SANDBOX_ACCOUNTS keep passwords out of the process list.
        from_env = [text for text in os.environ.get("QCVNGEN_SANDBOX_ACCOUNTS", "").split(",") if text]
        texts = account or from_env
        accounts = [Credentials.parse(text) for text in texts] if texts else [DEFAULT_ACCOUNT]
    except ValueError as exc:
        typer.echo(f"error: --account: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    try:
        configure_logging(log_level)
    except ValueError as exc:
        typer.echo(f"error: --log-level: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    limits = {"max_body_bytes": max_body_bytes, "max_json_nodes": max_json_nodes, "max_object_keys": max_object_keys,
              "max_list_items": max_list_items, "max_parallel": max_parallel, "body_timeout": body_timeout}
    app_, _ = create_sandbox_app(db, accounts, session_ttl=session_ttl, max_batch=max_batch, show_personal_data=show_personal_data, limits=limits)
    base = f"http://{host}:{port}"
    typer.echo(f"qcvngen sandbox: {base}  (state: {db})")
    typer.echo(f"  POST {base}/auth         login {{username, password}} -> session")
    typer.echo(f"  POST {base}/integration  pushes and pulls (service in the body)")
    typer.echo(f"  POST {base}/share        catalogue services")
    typer.echo(f"  GET  {base}/sandbox/     what the sandbox received (JSON under /sandbox/api/)")
    typer.echo("  accounts: " + ", ".join(f"{a.username} ({a.madonvi})" for a in accounts))
    connections = {"header_timeout": header_timeout, "keep_alive_timeout": keep_alive_timeout, "max_connections": max_connections}
    _serve(app_, host, port, log_level, connections)


def _serve(app_: object, host: str, port: int, log_level: str, connections: dict[str, float]) -> None:
    """uvicorn with the generated package's connection guard; repeated log lines rate-limited."""
    import uvicorn

    from .sandbox.runtime import generated_modules

    serving = generated_modules().serving
    serving.limit_logs()
    serving.return_large_buffers()
    config = serving.server_config(app_, host=host, port=port, log_level=log_level.lower(), log_config=None, **connections)
    uvicorn.Server(config).run()


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"


@app.command("validate-data")
def validate_data(
    files: Annotated[list[str], typer.Argument(help="Payload files (JSON); - reads standard input.")],
    packet: Annotated[Optional[str], typer.Option("--packet", help="Packet name, when the payload has no 'service' key.")] = None,
    output: Annotated[Format, typer.Option("--format", help="text, json or github (workflow annotations).")] = Format.text,
    spec: SpecOption = None,
) -> None:
    """Validate payloads (an envelope, a bare data array or one record): every error with its path,
    rule and regulation table/row, in Vietnamese and English. Exit 0 valid, 1 invalid, 2 usage error."""
    from .payloads import RULE_TEXT, Finding, PayloadValidator, UsageError, parse, report_json
    from .pipeline import load_spec

    reg, diagnostics = load_spec(_spec_dir(spec))
    if reg is None:
        _report(diagnostics)
        raise typer.Exit(Exit.SPEC_ERROR)
    checker = PayloadValidator(reg)
    findings: list[Finding] = []
    for name in files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"error: cannot read {name}: {exc}", err=True)
            raise typer.Exit(Exit.SPEC_ERROR) from None
        label = "<stdin>" if name == "-" else name
        try:
            data = parse(text)
        except ValueError as exc:
            vi, en = RULE_TEXT["json"]
            findings.append(Finding(label, "$", "json", "error", "-", f"{vi}: {exc}", f"{en}: {exc}"))
            continue
        try:
            findings.extend(checker.validate(label, data, packet))
        except UsageError as exc:
            typer.echo(f"error: {label}: {exc}", err=True)
            raise typer.Exit(Exit.SPEC_ERROR) from None
    report = report_json(findings, len(files))
    if output is Format.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        for finding in findings:
            typer.echo(finding.github() if output is Format.github else finding.text())
        if output is Format.text:
            verdict = "hợp lệ / valid" if report["valid"] else "không hợp lệ / invalid"
            typer.echo(f"{len(files)} file(s): {verdict} ({report['errors']} error(s), {report['warnings']} warning(s))")
    if not report["valid"]:
        raise typer.Exit(Exit.STALE)


@app.command()
def conformance(
    base_url: Annotated[str, typer.Option("--base-url", help="The implementation's adapter URL, e.g. http://127.0.0.1:8120.")],
    account: Annotated[str, typer.Option("--account", help="USER:PASSWORD:MADONVI to log in with.")] = "sandbox:sandbox:000.00.00.G05",
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a JUnit XML report here.", dir_okay=False)] = None,
    spec: SpecOption = None,
) -> None:
    """Run spec-generated test vectors (valid, and one broken rule each) against a national-portal implementation."""
    from .conformance import junit, run, summary
    from .pipeline import load_spec

    parts = account.split(":")
    if len(parts) != 3 or not all(parts):
        typer.echo("error: --account is USER:PASSWORD:MADONVI", err=True)
        raise typer.Exit(Exit.SPEC_ERROR)
    reg, diagnostics = load_spec(_spec_dir(spec))
    if reg is None:
        _report(diagnostics)
        raise typer.Exit(Exit.SPEC_ERROR)
    try:
        suite = run(reg, base_url, username=parts[0], password=parts[1], madonvi=parts[2])
    except (ConnectionError, OSError) as exc:
        typer.echo(f"error: {base_url}: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    except Exception as exc:  # httpx errors: the implementation is unreachable
        typer.echo(f"error: {base_url}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    typer.echo(summary(suite))
    if report is not None:
        report.write_bytes(junit(suite))
    if suite.failed:
        raise typer.Exit(Exit.STALE)


@app.command()
def diff(
    old: Annotated[str, typer.Argument(metavar="OLD", help="Old spec: a folder, or a git revision whose spec/ is read (HEAD~3, main, a tag).")],
    new: Annotated[Optional[str], typer.Argument(metavar="NEW", help="New spec: a folder or a git revision (default: ./spec if present, else the bundled spec).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or markdown.")] = "text",
) -> None:
    """A bilingual change notice between two spec versions; exit 1 when a change is breaking."""
    import tempfile

    from .pipeline import load_spec
    from .specdiff import FORMATS, DiffInputError, compare, open_input, render

    if fmt not in FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(FORMATS)}, not '{fmt}'", err=True)
        raise typer.Exit(Exit.SPEC_ERROR)
    with tempfile.TemporaryDirectory(prefix="qcvngen-diff-") as tmp:
        sides, regs = [], []
        for role, arg in (("OLD", old), ("NEW", new if new is not None else str(_spec_dir(None)))):
            try:
                side = open_input(arg, Path(tmp) / role.lower(), Path.cwd())
            except DiffInputError as exc:
                typer.echo(f"error: {role}: {exc}", err=True)
                raise typer.Exit(Exit.SPEC_ERROR) from None
            reg, diagnostics = load_spec(side.path)
            if reg is None:
                typer.echo(f"error: {role} ({arg}) is not a valid spec:", err=True)
                _report(diagnostics)
                raise typer.Exit(Exit.SPEC_ERROR)
            sides.append(side)
            regs.append(reg)
        result = compare(regs[0], regs[1], sides[0], sides[1])
    sys.stdout.write(render(result, fmt))
    if result.breaking:
        raise typer.Exit(Exit.STALE)  # 1: something breaking, a data submitter must act


@app.command()
def docs(
    spec: SpecOption = None,
    out: OutOption = Path("site"),
    serve: Annotated[bool, typer.Option("--serve", help="Then serve the folder on 127.0.0.1 until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve (0 picks a free one).", min=0, max=65535)] = 8000,
) -> None:
    """Build the HTML documentation site (vi/en switch, search) from the generated Markdown docs."""
    from .pipeline import load_spec
    from .site import SiteError, docs_markdown, make_server, render_site, write_site
    from .writer import OutputError

    reg, diagnostics = load_spec(_spec_dir(spec))
    _report(diagnostics)
    if reg is None or any(d.severity.value == "error" for d in diagnostics):
        raise typer.Exit(Exit.SPEC_ERROR)
    try:
        changes = write_site(out, render_site(docs_markdown(reg)))
    except (SiteError, OutputError, OSError) as exc:
        typer.echo(f"error: cannot write {out}: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    written = len(changes.added) + len(changes.changed)
    typer.echo(f"{out}: {written} file(s) written, {len(changes.unchanged)} unchanged, {len(changes.removed)} removed")
    if not serve:
        return
    try:
        server = make_server(out, port)
    except OSError as exc:
        typer.echo(f"error: cannot serve on 127.0.0.1:{port}: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    typer.echo(f"serving {out} at http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:
    if _fast_check(sys.argv[1:]):
        return
    app()


def _fast_check(argv: list[str]) -> bool:
    """`qcvngen check` with default folders and nothing changed: answer before importing Typer."""
    if argv != ["check"]:
        return False
    from .fastcheck import is_fresh
    from .resources import default_spec_dir, templates_dir

    out = Path("generated")
    if not is_fresh(default_spec_dir(Path.cwd()), templates_dir(), out):
        return False
    sys.stdout.write(f"{out} is up to date (inputs unchanged since the last build)\n")
    return True


if __name__ == "__main__":
    main()

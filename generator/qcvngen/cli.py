"""The Typer app: parse arguments, call the library, map results to exit codes. Nothing else."""

from __future__ import annotations

import json
import sys
from enum import IntEnum
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
) -> None:
    """Run a local stand-in for the national portal on the generated server stubs (SQLite state)."""
    import uvicorn

    from .sandbox import DEFAULT_ACCOUNT, Credentials, create_sandbox_app

    try:
        accounts = [Credentials.parse(text) for text in account] if account else [DEFAULT_ACCOUNT]
    except ValueError as exc:
        typer.echo(f"error: --account: {exc}", err=True)
        raise typer.Exit(Exit.SPEC_ERROR) from None
    app_, _ = create_sandbox_app(db, accounts, session_ttl=session_ttl)
    base = f"http://{host}:{port}"
    typer.echo(f"qcvngen sandbox: {base}  (state: {db})")
    typer.echo(f"  POST {base}/auth         login {{username, password}} -> session")
    typer.echo(f"  POST {base}/integration  pushes and pulls (service in the body)")
    typer.echo(f"  POST {base}/share        catalogue services")
    typer.echo(f"  GET  {base}/sandbox/     what the sandbox received (JSON under /sandbox/api/)")
    typer.echo("  accounts: " + ", ".join(f"{a.username} ({a.madonvi})" for a in accounts))
    uvicorn.run(app_, host=host, port=port, log_level="warning")


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

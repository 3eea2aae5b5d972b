"""The one pure pipeline: spec folder → IR → targets → formatter → ``{path: text}``.

Nothing here writes to disk; :mod:`qcvngen.writer` does that for the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import ir, kinds
from .diagnostics import Diagnostic, has_errors
from .formatter import format_files
from .resolve import load_regulation
from .targets import common
from .writer import OutputError, check_paths, with_marker

Target = Callable[[ir.Regulation, common.Context], common.Files]


def _targets() -> list[Target]:
    from .targets import docs, jsonschema, openapi, python_package, server

    return [
        jsonschema.render,
        openapi.render,
        python_package.render,
        server.render,
        docs.render,
    ]


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build` made: the files by output path, every diagnostic, and the IR when the spec loaded."""

    files: dict[PurePosixPath, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    regulation: ir.Regulation | None = None

    @property
    def ok(self) -> bool:
        """Whether the build may be written: the spec loaded and no diagnostic is an error."""
        return self.regulation is not None and not has_errors(self.diagnostics)


def registry_diagnostics() -> list[Diagnostic]:
    """One error per gap of the field-kind registry (an incomplete kind entry): nothing is built on it."""
    return [Diagnostic(kinds.__file__, 1, 1, "", problem) for problem in kinds.problems()]


def load_spec(spec_dir: Path) -> tuple[ir.Regulation | None, list[Diagnostic]]:
    """The IR of the spec in ``spec_dir`` (None when any diagnostic is an error) and every diagnostic."""
    registry = registry_diagnostics()
    if registry:
        return None, registry
    return load_regulation(spec_dir)


def build(spec_dir: Path) -> BuildResult:
    """Every artefact for the spec in ``spec_dir``, or the diagnostics that prevent it."""
    reg, diagnostics = load_spec(spec_dir)
    if reg is None:
        return BuildResult(diagnostics=diagnostics)
    ctx = common.context_for(reg)
    files: dict[PurePosixPath, str] = {}
    for target in _targets():
        for path, text in target(reg, ctx).items():
            if path in files:
                raise OutputError(f"two targets produce {path.as_posix()}")
            files[path] = text
    check_paths(list(files))
    # The marker is an output file like any other: `check` compares it, a clean clone carries it.
    files = with_marker(dict(sorted(format_files(files).items())))
    return BuildResult(files=files, diagnostics=diagnostics, regulation=reg)

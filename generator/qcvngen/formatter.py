"""The one formatting step: every generated Python file ends up exactly as black (pinned) writes it.

black is the reference for the style. ruff's formatter produces the same bytes for everything this
generator emits, about a hundred times faster, so it does the work when it is installed; the test
suite runs black over every generated file and requires it to change nothing. Set
``QCVNGEN_FORMATTER=black`` to format with black itself.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from .toolcache import cached_many, versions

LINE_LENGTH = 100
TARGET = "py311"


def format_with_black(source: str) -> str:
    """Python source formatted by the pinned black, at the generated code's line length."""
    import black
    from black.mode import Mode, TargetVersion

    mode = Mode(target_versions={TargetVersion.PY311}, line_length=LINE_LENGTH)
    return black.format_str(source, mode=mode)


def _ruff_binary() -> str | None:
    if os.environ.get("QCVNGEN_FORMATTER", "ruff") == "black":
        return None
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        return str(find_ruff_bin())
    except FileNotFoundError:
        return None


def _format_with_ruff(ruff: str, sources: dict[PurePosixPath, str]) -> dict[PurePosixPath, str]:
    """All files in one ruff process (isolated from any project configuration)."""
    with tempfile.TemporaryDirectory(prefix="qcvngen-format-") as scratch:
        root = Path(scratch)
        names = {path: root / f"f{index}.py" for index, path in enumerate(sorted(sources))}
        for path, target in names.items():
            target.write_text(sources[path], encoding="utf-8")
        completed = subprocess.run(
            [
                ruff,
                "format",
                "--isolated",
                "--no-cache",
                "--line-length",
                str(LINE_LENGTH),
                "--target-version",
                TARGET,
                "--quiet",
                str(root),
            ],
            capture_output=True,
            text=True,
            check=False,  # a non-zero exit is reported below, with ruff's own message
        )
        if completed.returncode != 0:
            raise SyntaxError(f"generated Python does not parse: {completed.stderr.strip()[:500]}")
        return {path: target.read_text(encoding="utf-8") for path, target in names.items()}


def format_files(files: dict[PurePosixPath, str]) -> dict[PurePosixPath, str]:
    """Every ``.py`` file formatted as black writes it (by ruff when installed, in one process); others unchanged."""
    sources = {path: text for path, text in files.items() if path.suffix == ".py"}
    ruff = _ruff_binary()
    if ruff is not None and sources:
        # Through the tool cache, per file: an edit to one table reformats only the files it changed.
        settings = [versions("ruff"), f"line-length={LINE_LENGTH}", f"target-version={TARGET}"]
        formatted = cached_many("ruff-format", settings, sources, lambda missing: _format_with_ruff(ruff, missing))
    else:
        formatted = {path: format_with_black(text) for path, text in sources.items()}
    return {path: formatted.get(path, text) for path, text in files.items()}

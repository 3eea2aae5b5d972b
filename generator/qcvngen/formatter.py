"""The one formatting step: every generated Python file goes through black (version pinned)."""

from __future__ import annotations

from pathlib import PurePosixPath

LINE_LENGTH = 100


def format_python(source: str) -> str:
    import black
    from black.mode import Mode, TargetVersion

    mode = Mode(target_versions={TargetVersion.PY311}, line_length=LINE_LENGTH)
    return black.format_str(source, mode=mode)


def format_files(files: dict[PurePosixPath, str]) -> dict[PurePosixPath, str]:
    return {path: format_python(text) if path.suffix == ".py" else text for path, text in files.items()}

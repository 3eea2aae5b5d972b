"""Where the bundled spec and templates live: in a wheel, or beside the source in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent.parent


def _locate(name: str) -> Path:
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _CHECKOUT / name


def templates_dir() -> Path:
    return _locate("templates")


def bundled_spec_dir() -> Path:
    return _locate("spec")


def default_spec_dir(cwd: Path) -> Path:
    """``./spec`` when the current folder has one, else the spec shipped with qcvngen."""
    local = cwd / "spec"
    return local if (local / "packets.yaml").is_file() else bundled_spec_dir()

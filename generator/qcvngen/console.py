"""The ``qcvngen`` console script: a no-op ``qcvngen check`` is answered with the standard library
only (no Typer, pydantic or Jinja: the interpreter's start-up is most of what it costs); anything
else goes to the Typer app in :mod:`qcvngen.cli`."""

from __future__ import annotations

import sys
from pathlib import Path

_FOLDER_OPTIONS = ("--spec", "--out")


def _folders(argv: list[str]) -> dict[str, str] | None:
    """``check`` with at most ``--spec DIR`` and ``--out DIR`` (either form); None for anything else."""
    if not argv or argv[0] != "check":
        return None
    chosen: dict[str, str] = {}
    rest = argv[1:]
    while rest:
        name, _, value = rest[0].partition("=")
        if name not in _FOLDER_OPTIONS or name in chosen:
            return None
        if not value:
            if len(rest) < 2 or rest[1].startswith("-"):
                return None
            value, rest = rest[1], rest[1:]
        chosen[name] = value
        rest = rest[1:]
    return chosen


def fast_check(argv: list[str]) -> bool:
    """True when ``argv`` is a ``check`` whose output is proven fresh by the recorded digests (and
    the answer is printed); False means the full command must run and decide."""
    folders = _folders(argv)
    if folders is None:
        return False
    from .fastcheck import is_fresh
    from .resources import default_spec_dir, templates_dir

    spec = Path(folders["--spec"]) if "--spec" in folders else default_spec_dir(Path.cwd())
    out = Path(folders.get("--out", "generated"))
    if not spec.is_dir() or not is_fresh(spec, templates_dir(), out):
        return False
    sys.stdout.write(f"{out} is up to date (inputs unchanged since the last build)\n")
    return True


def main() -> None:
    if fast_check(sys.argv[1:]):
        return
    from .cli import main as full

    full()


if __name__ == "__main__":
    main()

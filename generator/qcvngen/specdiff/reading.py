"""The two sides of a diff: a spec folder as is, or ``spec/`` of a git revision copied to a folder."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

from .model import Side


class DiffInputError(Exception):
    """OLD or NEW is neither a spec folder nor a git revision that has spec/."""


def open_input(arg: str, dest: Path, cwd: Path) -> Side:
    """``arg`` as a spec folder: an existing folder as is, else ``spec/`` of a git revision copied to ``dest``."""
    path = Path(arg)
    if path.is_dir():
        return Side(arg, path)
    if path.exists():
        raise DiffInputError(f"'{arg}' is a file, not a spec folder or a git revision")
    if not arg or arg.startswith("-"):
        raise DiffInputError(f"'{arg}' is neither a folder nor a git revision")
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top is None:
        raise DiffInputError(
            f"'{arg}' is not an existing folder, and {cwd} is not in a git repository to read it as a revision"
        )
    root = Path(top.decode().strip())
    sha = _git(["rev-parse", "--verify", "--quiet", f"{arg}^{{commit}}"], root)
    if sha is None:
        raise DiffInputError(f"'{arg}' is neither an existing folder nor a known git revision of {root}")
    commit = sha.decode().strip()
    _copy_spec(arg, commit, root, dest)
    return Side(arg, dest / "spec", commit)


def _copy_spec(arg: str, commit: str, root: Path, dest: Path) -> None:
    """Write every file under ``spec/`` at ``commit`` below ``dest``."""
    listing = _git(["ls-tree", "-r", "-z", "--name-only", commit, "spec/"], root) or b""
    names = [name for name in listing.decode().split("\0") if name]
    if not names:
        raise DiffInputError(f"revision '{arg}' ({commit[:12]}) has no spec/ folder")
    for name in names:
        relative = PurePosixPath(name)
        content = _git(["show", f"{commit}:{name}"], root)
        if content is None or ".." in relative.parts or relative.is_absolute():
            raise DiffInputError(f"cannot read {name} at revision '{arg}'")
        target = dest.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as exc:
        raise DiffInputError(f"cannot run git: {exc}") from None
    return done.stdout if done.returncode == 0 else None

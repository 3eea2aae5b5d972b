"""The only module that touches the output folder: compare, or replace it as a whole, atomically.

A build writes the complete new tree into a sibling temporary folder and then swaps it with the
old one in a single ``renameat2(RENAME_EXCHANGE)`` call where Linux offers it, so a reader (or a
build killed half-way) only ever sees the entire old tree or the entire new one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


# Caches that tools leave in any folder they run in; they are not part of the output.
TOOL_CACHES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


class OutputError(Exception):
    """The output folder cannot be written safely."""


@dataclass
class Changes:
    added: list[PurePosixPath] = field(default_factory=list)
    changed: list[PurePosixPath] = field(default_factory=list)
    removed: list[PurePosixPath] = field(default_factory=list)
    unchanged: list[PurePosixPath] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def check_path(path: PurePosixPath) -> None:
    """Refuse any output path that could leave the output folder or clash across file systems."""
    text = path.as_posix()
    if path.is_absolute() or not path.parts or ".." in path.parts or "." in path.parts:
        raise OutputError(f"unsafe output path {text!r}")
    for part in path.parts:
        if not part or "\\" in part or ":" in part or "\x00" in part or len(part) > 120:
            raise OutputError(f"unsafe output path {text!r}")
        if part.split(".")[0].lower() in _WINDOWS_RESERVED:
            raise OutputError(f"output path {text!r} uses a reserved device name")


def check_paths(paths: list[PurePosixPath]) -> None:
    folded: dict[str, PurePosixPath] = {}
    for path in paths:
        check_path(path)
        key = path.as_posix().casefold()
        if key in folded and folded[key] != path:
            raise OutputError(f"output paths {folded[key].as_posix()!r} and {path.as_posix()!r} differ only in case")
        folded[key] = path


def read_tree(root: Path) -> dict[PurePosixPath, bytes]:
    tree: dict[PurePosixPath, bytes] = {}
    if not root.is_dir():
        return tree
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in TOOL_CACHES]
        for name in filenames:
            full = Path(dirpath) / name
            if name.endswith(".pyc"):
                continue
            tree[PurePosixPath(full.relative_to(root).as_posix())] = full.read_bytes()
    return tree


def compare(root: Path, files: dict[PurePosixPath, str]) -> Changes:
    existing = read_tree(root)
    changes = Changes()
    for path in sorted(files):
        data = files[path].encode("utf-8")
        if path not in existing:
            changes.added.append(path)
        elif existing[path] != data:
            changes.changed.append(path)
        else:
            changes.unchanged.append(path)
    changes.removed = sorted(set(existing) - set(files))
    return changes


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name or not hasattr(os, "O_DIRECTORY"):
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(result == 0)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_abandoned(root: Path) -> None:
    """Staging folders left by a build that was killed (their process is gone) are deleted."""
    for leftover in root.parent.glob(f".{root.name}.*-*-*"):
        try:
            pid = int(leftover.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def write(root: Path, files: dict[PurePosixPath, str]) -> Changes:
    """Make ``root`` hold exactly ``files``; nothing is touched when it already does."""
    check_paths(list(files))
    if root.is_symlink():
        raise OutputError(f"output folder {root} is a symbolic link; refusing to replace it")
    if root.exists() and not root.is_dir():
        raise OutputError(f"output path {root} exists and is not a folder")
    changes = compare(root, files)
    if not changes.stale:
        return changes
    parent = root.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.new-{os.getpid()}-", dir=parent))
    try:
        for path in sorted(files):
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(files[path].encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        for dirpath, _, _ in os.walk(staging):
            _fsync_dir(Path(dirpath))
        if not root.exists():
            os.rename(staging, root)
        elif not _exchange(staging, root):
            # No atomic exchange here: move the old tree aside, then the new one in.
            aside = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-{os.getpid()}-", dir=parent))
            os.rmdir(aside)
            os.rename(root, aside)
            os.rename(staging, root)
            staging = aside
        _fsync_dir(parent)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return changes

"""Reading inside a folder without ever leaving it: no links followed, no FIFOs or devices opened.

The spec folder and the output folder are read by ``build``, ``check`` and ``validate``. A symbolic
link there could make qcvngen echo another file's lines in a diagnostic or hash ``/dev/zero`` until
memory runs out, and a FIFO would block the read forever. Every file is therefore opened component by
component with ``O_NOFOLLOW`` (the folder given by the user is the only thing followed), with
``O_NONBLOCK`` so that opening a FIFO cannot hang, and is read only when ``fstat`` says it is a
regular file no larger than the caller's limit. Standard library only: ``qcvngen check``'s fast path
imports it.

The one deletion here, :func:`remove_abandoned_folders`, is as careful: it removes only the marked
folders of processes that are gone (a killed build's staging folder, a killed sandbox's packages).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
from pathlib import Path, PurePosixPath

# Caches that tools leave in any folder they run in; they are not part of the output.
TOOL_CACHES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})

__all__ = [
    "TOOL_CACHES",
    "TooLargeError",
    "UnsafeFileError",
    "describe",
    "hash_file",
    "open_inside",
    "read_file",
    "read_named_file",
    "regular_files",
    "remove_abandoned_folders",
]

_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


# Spec files larger than this are refused before they are read (the loader's limit).
SPEC_FILE_LIMIT = 4 * 1024 * 1024


class UnsafeFileError(Exception):
    """A path that is not a regular file inside its folder (a link, FIFO, device…), or too large."""

    def __init__(self, display: str, reason: str) -> None:
        super().__init__(f"{display} {reason}")
        self.display = display
        self.reason = reason


class TooLargeError(UnsafeFileError):
    """A regular file over the caller's size limit (refused before it is read)."""

    def __init__(self, display: str, limit: int, size: int | None = None) -> None:
        shown = f"is {size} bytes, larger" if size is not None else "is larger"
        super().__init__(display, f"{shown} than the limit of {limit} bytes")
        self.limit = limit
        self.size = size


def describe(mode: int) -> str:
    """What kind of entry ``mode`` (from ``lstat``) is, in words for a message."""
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a regular file"),
    )
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def _refuse(display: str, mode: int) -> UnsafeFileError:
    if stat.S_ISLNK(mode):
        return UnsafeFileError(
            display, "is a symbolic link; qcvngen reads only files inside the folder, never through links"
        )
    return UnsafeFileError(display, f"is {describe(mode)}, not a regular file")


def _open_component(name: str, dir_fd: int, display: str, *, folder: bool) -> int:
    """Open ``name`` in ``dir_fd`` without following it; refuse anything of the wrong kind."""
    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    wanted = stat.S_ISDIR(mode) if folder else stat.S_ISREG(mode)
    if not wanted:
        raise _refuse(display, mode)
    # lstat said it is fine; O_NOFOLLOW and the fstat below close the race with a swap in between.
    fd = os.open(name, (_DIR_FLAGS | _NOFOLLOW) if folder else _FILE_FLAGS, dir_fd=dir_fd)
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISDIR(mode) if folder else stat.S_ISREG(mode)):
        os.close(fd)
        raise _refuse(display, mode)
    return fd


def open_inside(root: Path, relative: PurePosixPath, display: str) -> int:
    """A read-only descriptor of the regular file ``root/relative``; no component of ``relative`` is followed."""
    if relative.is_absolute() or not relative.parts or ".." in relative.parts:
        raise UnsafeFileError(display, "is outside its folder")
    fd = os.open(root, _DIR_FLAGS)
    try:
        for index, part in enumerate(relative.parts):
            last = index == len(relative.parts) - 1
            shown = display if last else f"{display}: its folder {'/'.join(relative.parts[: index + 1])}"
            child = _open_component(part, fd, shown, folder=not last)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_file(root: Path, relative: PurePosixPath, *, limit: int, display: str) -> bytes:
    """The bytes of ``root/relative``, refused unread when it is not a regular file or is over ``limit`` bytes."""
    fd = open_inside(root, relative, display)
    try:
        return _read_bounded(fd, limit, display)
    finally:
        os.close(fd)


def read_named_file(path: Path, *, limit: int, display: str | None = None) -> bytes:
    """The bytes of a file the user named, refused unread when it is not a regular file or is over ``limit``.

    Unlike :func:`read_file`, a symbolic link is followed: the user chose the path. A FIFO, a device
    or a folder is refused (opening is non-blocking, so a FIFO without a writer cannot hang the read).
    """
    shown = display if display is not None else str(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(shown, mode)
        return _read_bounded(fd, limit, shown)
    finally:
        os.close(fd)


def _read_bounded(fd: int, limit: int, display: str) -> bytes:
    """Every byte of the regular file open as ``fd``; more than ``limit`` is refused, even if it grew after fstat."""
    size = os.fstat(fd).st_size
    if size > limit:
        raise TooLargeError(display, limit, size)
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, min(_CHUNK, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:  # the file grew after fstat
            raise TooLargeError(display, limit)
    return b"".join(chunks)


def hash_file(root: Path, relative: PurePosixPath, *, limit: int | None = None) -> str:
    """SHA-256 of ``root/relative``, read in chunks (same refusals as :func:`read_file`)."""
    display = (root / relative).as_posix()
    fd = open_inside(root, relative, display)
    try:
        size = os.fstat(fd).st_size
        if limit is not None and size > limit:
            raise TooLargeError(display, limit, size)
        digest = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def regular_files(
    root: Path, *, skip_dirs: frozenset[str] = frozenset(), skip_suffixes: tuple[str, ...] = ()
) -> list[PurePosixPath]:
    """Every regular file under ``root`` (sorted, relative); any link, FIFO, socket or device is refused.

    Entries named in ``skip_dirs`` or ending with ``skip_suffixes`` are neither listed nor followed.
    An absent ``root`` holds no files.
    """
    found: list[PurePosixPath] = []
    pending = [PurePosixPath()]
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(os.scandir(root / folder), key=lambda e: e.name)
        except FileNotFoundError:
            if folder == PurePosixPath():
                return []
            raise
        for entry in entries:
            relative = folder / entry.name
            if entry.name in skip_dirs or entry.name.endswith(skip_suffixes):
                continue
            # d_type answers these without a system call; only an odd entry is lstat-ed, for the message.
            if entry.is_dir(follow_symlinks=False):
                pending.append(relative)
            elif entry.is_file(follow_symlinks=False):
                found.append(relative)
            else:
                raise _refuse((root / relative).as_posix(), entry.stat(follow_symlinks=False).st_mode)
    return sorted(found)


def remove_abandoned_folders(parent: Path, prefix: str, marker: str) -> None:
    """Delete the folders in ``parent`` that processes now gone made for themselves, and nothing else.

    A folder is one only when its name is ``<prefix><pid>-…``, process ``pid`` is gone, and it holds
    ``marker`` as a regular file (its maker creates it first, before anything else goes in). An
    unmarked folder of that name (its maker killed before the marker existed) is removed with
    ``rmdir``, which cannot delete anything. A user's folder of another name matches none of this.
    """
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(prefix) :].partition("-")[0]
        if not entry.name.startswith(prefix) or not pid_text.isdigit() or not entry.is_dir(follow_symlinks=False):
            continue
        if not _process_gone(int(pid_text)):
            continue
        try:
            marked = stat.S_ISREG(os.lstat(os.path.join(entry.path, marker)).st_mode)
        except OSError:
            marked = False
        if marked:
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.rmdir(entry.path)


def _process_gone(pid: int) -> bool:
    """Whether no process ``pid`` exists (one alive under another user, or unknown, keeps its folder)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False

"""The per-user folder qcvngen's caches live in, never the folder qcvngen runs in.

A cache entry is trusted output: the tool cache's text goes into generated/ as is, and the fast
path's record makes ``qcvngen check`` answer "fresh" without building. In the working folder, a
change under review could commit a planted entry; so the caches live in a folder of the user's own,
like Jinja's compiled templates: ``$QCVNGEN_CACHE_DIR`` when set (tests and benches isolate their
runs with it), else ``$XDG_CACHE_HOME/qcvngen``, else ``~/.cache/qcvngen``. It is made private
(0o700) and used only while it is a real folder (not a link), owned by the user and writable by
nobody else, in folders no other user may rename it out of (owned by the user or root, and not
writable by others unless sticky, as ``/tmp`` is); otherwise the caches are off for the process,
with one line on stderr, and every command still works. A ``.qcvngen-cache/`` older versions
left in a working folder is not read. Standard library only: ``qcvngen check``'s fast path
imports it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import sys
from pathlib import Path

ENV_VAR = "QCVNGEN_CACHE_DIR"
_warned: set[str] = set()


def root() -> Path | None:
    """Where the caches should live (not yet checked); None when no home folder can be found."""
    chosen = os.environ.get(ENV_VAR, "")
    if chosen:
        return Path(os.path.abspath(chosen))
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative value is invalid and ignored
        return Path(xdg) / "qcvngen"
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return None
    return home / ".cache" / "qcvngen" if home.is_absolute() else None  # HOME=. is no home


def _in_working_tree(top: Path) -> bool:
    """Whether ``top`` lies in the folder qcvngen runs in, or in the git work tree holding it: where
    a change under review could plant entries. CI setups put ``XDG_CACHE_HOME`` (or ``HOME``) in
    the checkout so that their cache step can keep it; only ``$QCVNGEN_CACHE_DIR`` may choose so."""
    here = Path.cwd().resolve()
    git_tree = next((folder for folder in (here, *here.parents) if (folder / ".git").exists()), None)
    if git_tree is None and here == Path.home().resolve():
        return False  # run from one's own home, which is not a checkout: its ~/.cache is the user's
    tree = git_tree or here
    place = top.resolve()
    return place == tree or tree in place.parents


def _problem(path: Path) -> str | None:
    """Why ``path`` is not a safe cache folder, or None when it is: ours, a folder, private enough."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"is owned by user {info.st_uid}, not by the current user"
    if _others_may_write(info):
        return "is writable by other users"
    return None


# Said with a refusal the user cannot mend in place (a folder above the cache is not theirs).
_CHOOSE = " (set QCVNGEN_CACHE_DIR to a folder of your own)"


def _ancestor_problem(top: Path) -> str | None:
    """Why another user could swap ``top`` after it was checked, through a folder it lies in: one
    owned by another user (root aside), or one others may write to without the sticky bit that
    keeps them from renaming what is not theirs (as ``/tmp`` has); None when no folder above it
    lets them. Both the folders written in the path and those its links lead to count: whoever may
    write beside a link may change where it leads."""
    if not hasattr(os, "getuid"):
        return None
    written = [folder for folder in top.parents if os.path.lexists(folder)]
    if not written:
        return None
    real = Path(os.path.realpath(written[0]))
    for folder in dict.fromkeys([*written, real, *real.parents]):
        info = os.stat(folder)
        if info.st_uid not in (os.getuid(), 0):
            return f"lies in {folder}, owned by user {info.st_uid}{_CHOOSE}"
        if _others_may_write(info) and not info.st_mode & stat.S_ISVTX:
            return f"lies in {folder}, which other users may write to{_CHOOSE}"
    return None


def _others_may_write(info: os.stat_result) -> bool:
    """Whether a user but the owner may write to this folder: anyone, or its group unless that is
    the user's own (umask 002 systems make every new folder group-writable, for a group that holds
    the user alone)."""
    if info.st_mode & stat.S_IWOTH:
        return True
    return bool(info.st_mode & stat.S_IWGRP) and not _private_group(info.st_gid)


@functools.cache
def _private_group(gid: int) -> bool:
    """Whether ``gid`` is the user's private group: their primary group, named after them, with no
    other member listed."""
    try:
        import grp
        import pwd
    except ImportError:  # not a Unix
        return False
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(gid)
    except KeyError:
        return False
    return gid == os.getgid() and group.gr_name == user and set(group.gr_mem) <= {user}


def _warn_once(top: Path, where: Path, why: str) -> None:
    """One line per cache root and process, however many caches ask."""
    if str(top) not in _warned:
        _warned.add(str(top))
        sys.stderr.write(f"warning: qcvngen's cache folder {where} {why}; running without caches\n")


def _made_private(path: Path) -> None:
    # Whatever is already there (a link too) is judged by _problem, never followed.
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)


def folder(name: str) -> Path | None:
    """The cache root's subfolder ``name``, both made private when missing; None (caches off) when
    either is unsafe or cannot be made."""
    top = root()
    if top is None:
        return None
    where, why = _judged(top, name)
    if why is not None:
        _warn_once(top, where, why)
        return None
    return where


def _judged(top: Path, name: str) -> tuple[Path, str | None]:
    """(``top``'s subfolder ``name``, None) when both are safe, made if missing; else (the folder
    at fault, why)."""
    if not os.environ.get(ENV_VAR) and _in_working_tree(top):
        return top, "is inside the working folder or its git work tree (set QCVNGEN_CACHE_DIR to choose so)"
    where = top
    try:
        above = _ancestor_problem(top)
        if above is not None:
            return top, above
        # Missing folders above it are made private too (as XDG asks of its cache home), one at a
        # time: mkdir(parents=True) would make them as the umask says, group-writable under 002.
        for missing in [folder for folder in reversed(top.parents) if not os.path.lexists(folder)]:
            _made_private(missing)
        for where in (top, top / name):
            _made_private(where)
            why = _problem(where)
            if why is not None:
                return where, why
    except OSError as exc:
        return where, f"cannot be used ({exc.strerror or exc})"
    return top / name, None

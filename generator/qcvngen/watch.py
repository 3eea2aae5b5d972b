"""``qcvngen build --watch``: rebuild whenever the spec or the templates change, in one warm process.

A fresh ``qcvngen build`` pays for its start-up on every run: the interpreter, qcvngen's own modules
and datamodel-code-generator's import (a quarter of a second by itself). A maintainer editing a
table pays it once here; each rebuild then costs only the work the edit causes (the tool caches
keep the rest). A rebuild is the same :func:`qcvngen.pipeline.build` and :func:`qcvngen.writer.write`
a fresh build runs, so its output is byte for byte a fresh build's.

Changes are found by polling the files' sizes and modification times (standard library only,
every platform): a few hundred ``stat`` calls per poll. When qcvngen's own source changes the
process starts itself again, since the modules it has loaded are stale.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .safefs import TOOL_CACHES

# How often the inputs are looked at, and how long they must stay unchanged before a rebuild:
# an editor's save can take several writes (truncate, write, rename), each seen as a change.
POLL_SECONDS = 0.05
SETTLE_SECONDS = 0.02
# qcvngen's own source changes rarely and has the most files: looked at once a second.
OWN_CODE_EVERY = 20

Stamp = tuple[tuple[str, int, int], ...]


def stamp(*roots: Path, suffixes: tuple[str, ...] = (), skip: Path | None = None) -> Stamp:
    """(path, size, modification time in ns) of every file under ``roots``, sorted; links and
    special files are listed like files (the build itself refuses them, with its own message).
    Nothing under ``skip`` (the output folder, should it sit inside the spec) is looked at."""
    found: list[tuple[str, int, int]] = []
    skipped = os.path.realpath(skip) if skip is not None else None
    for root in roots:
        for path in _walk(root, skipped):
            if suffixes and not path.endswith(suffixes):
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue  # removed while we looked: the next poll sees it gone
            found.append((path, info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


def _walk(root: Path, skipped: str | None) -> Iterator[str]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [
            name for name in dirs if name not in TOOL_CACHES and os.path.realpath(os.path.join(folder, name)) != skipped
        ]
        for name in files:
            yield os.path.join(folder, name)


@dataclass
class Watcher:
    """Calls ``rebuild`` once now and again after every settled change of the watched inputs."""

    inputs: Callable[[], Stamp]
    own_code: Callable[[], Stamp]
    rebuild: Callable[[], None]
    restart: Callable[[], None]
    sleep: Callable[[float], None] = time.sleep

    def run(self, rounds: int | None = None) -> None:
        """Watch until interrupted (or for ``rounds`` polls, for tests)."""
        code = self.own_code()
        seen = self.inputs()
        self.rebuild()
        polls = 0
        while rounds is None or polls < rounds:
            polls += 1
            self.sleep(POLL_SECONDS)
            if polls % OWN_CODE_EVERY == 0 and self.own_code() != code:
                self.restart()
                return
            now = self.inputs()
            if now == seen:
                continue
            seen = self._settled(now)
            self.rebuild()

    def _settled(self, now: Stamp) -> Stamp:
        """The inputs once they stay unchanged for :data:`SETTLE_SECONDS`."""
        while True:
            self.sleep(SETTLE_SECONDS)
            later = self.inputs()
            if later == now:
                return now
            now = later


def restart_self() -> None:
    """Replace this process by a fresh ``qcvngen`` with the same arguments (its code changed)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "qcvngen.console", *sys.argv[1:]])

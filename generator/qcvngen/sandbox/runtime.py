"""Build and import the qcvn120_client / qcvn120_server packages of the spec the sandbox serves.

The sandbox runs on packages built from the very spec it serves, at start, in this process:
:func:`qcvngen.pipeline.build` renders them, their ``python/`` and ``server/`` trees are written to a
private temporary folder (removed at exit) and imported from there. Nothing is read from a committed
``generated/`` folder, an installed distribution or the working folder: data flows forward from the
IR, so ``qcvngen sandbox --spec DIR`` serves whatever DIR says (about a second for the full spec).

The generated packages have fixed names, so a process holds one build at a time: loading another
spec's build replaces the modules (apps made from the previous build keep the module objects they
hold). The same spec is built once per process.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import cast

from .. import ir
from ..diagnostics import Diagnostic
from ..pipeline import BuildResult, build
from ..runtime.server import answers
from ..safefs import remove_abandoned_folders

PACKAGES = ("qcvn120_client", "qcvn120_server")
# The output trees that hold the two importable packages (see targets/python_package.py, server.py).
TREES = ("python", "server")


class SpecNotServable(Exception):
    """The spec has errors, so there is nothing to serve; ``diagnostics`` says where and what."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(f"the spec has {len(diagnostics)} problem(s)")
        self.diagnostics = diagnostics


@dataclass(frozen=True)
class Served:
    """One spec's IR and its imported generated packages (``services`` holds ``create_app`` and
    ``SERVICES``). The answer classes are the served package's own (the app catches *its*
    ``ErrorAnswer``), typed as the runtime module they are verbatim copies of."""

    regulation: ir.Regulation
    root: Path
    services: ModuleType
    handler: ModuleType
    models: ModuleType
    serving: ModuleType

    @property
    def portal_handler(self) -> type:
        """The generated abstract ``PortalHandler`` (one method per packet)."""
        return cast(type, self.handler.PortalHandler)

    @property
    def answer(self) -> type[answers.Answer]:
        return cast(type[answers.Answer], self.handler.Answer)

    @property
    def error(self) -> type[answers.ErrorAnswer]:
        return cast(type[answers.ErrorAnswer], self.handler.ErrorAnswer)

    @property
    def account(self) -> type[answers.Account]:
        return cast(type[answers.Account], self.handler.Account)

    @property
    def call_context(self) -> type[answers.CallContext]:
        return cast(type[answers.CallContext], self.handler.CallContext)


_current: tuple[str, Served] | None = None


def spec_digest(spec_dir: Path) -> str:
    """A digest of every file of the spec folder (names and bytes): the same spec is built once."""
    digest = hashlib.sha256()
    for path in sorted(p for p in spec_dir.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(path.relative_to(spec_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load(spec_dir: Path, built: BuildResult | None = None) -> Served:
    """The generated packages of the spec in ``spec_dir``, imported (``built``: its build, if at hand,
    as the test suite's session build is).

    Raises :class:`SpecNotServable` when the spec has errors.
    """
    global _current
    digest = spec_digest(spec_dir)
    if _current is not None and _current[0] == digest:
        return _current[1]
    built = built if built is not None else build(spec_dir)
    if not built.ok or built.regulation is None:
        raise SpecNotServable(built.diagnostics)
    root = _write_packages(built)
    modules = _import_from(root, previous=_current[1].root if _current else None)
    served = Served(built.regulation, root, *modules)
    _current = (digest, served)
    return served


# Each sandbox's packages live in <temp>/qcvngen-sandbox-<pid>-<random>/, which holds this marker
# from its creation on: only marked folders of processes that are gone are ever cleaned up.
FOLDER_PREFIX = "qcvngen-sandbox-"
FOLDER_MARKER = ".qcvngen-sandbox"


def _write_packages(built: BuildResult) -> Path:
    """The importable trees of ``built`` in a fresh private folder, removed when the process exits
    (and by the next sandbox, should this one be killed before it can)."""
    remove_abandoned(Path(tempfile.gettempdir()))
    root = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    atexit.register(shutil.rmtree, root, True)
    (root / FOLDER_MARKER).touch()
    for path, text in built.files.items():
        if path.parts[0] in TREES:
            target = root.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return root


def remove_abandoned(temp: Path) -> None:
    """Delete the package folders of sandboxes that were killed (SIGKILL skips the exit cleanup):
    marked ``qcvngen-sandbox-<pid>-…`` folders whose process is gone, nothing else."""
    remove_abandoned_folders(temp, FOLDER_PREFIX, FOLDER_MARKER)


def _import_from(root: Path, previous: Path | None) -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """(services, handler, models, serving) imported from ``root``, replacing any earlier build."""
    for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
        del sys.modules[name]
    if previous is not None:
        for tree in TREES:
            if str(previous / tree) in sys.path:
                sys.path.remove(str(previous / tree))
    sys.path[0:0] = [str(root / tree) for tree in TREES]
    importlib.invalidate_caches()
    return (
        importlib.import_module("qcvn120_server.services"),
        importlib.import_module("qcvn120_server.handler"),
        importlib.import_module("qcvn120_server.models"),
        importlib.import_module("qcvn120_server.serving"),
    )

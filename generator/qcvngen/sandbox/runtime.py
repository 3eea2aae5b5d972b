"""Import the generated qcvn120_client / qcvn120_server packages the sandbox runs on.

Where they come from, in order: the folder named by ``$QCVNGEN_GENERATED`` (a build of your own);
the installed ``qcvn120-client`` and ``qcvn120-server`` distributions, when both are installed at
qcvngen's version; else the copy bundled with qcvngen (``qcvngen/_data/generated`` in a wheel,
``generated/`` beside the source in a checkout). Code in the working folder is never picked up by
accident: a ``./generated`` folder is used only when named in ``$QCVNGEN_GENERATED``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from ..resources import bundled_generated_dir
from ..version import __version__

ENV_VAR = "QCVNGEN_GENERATED"
DISTRIBUTIONS = ("qcvn120-client", "qcvn120-server")


class Generated(NamedTuple):
    """The imported packages: ``app`` holds ``create_app`` and ``SERVICES`` (the services module)."""

    root: Path | None
    app: ModuleType
    handler: ModuleType
    models: ModuleType
    serving: ModuleType


def _installed() -> bool:
    """Both distributions installed, at the version this qcvngen generates."""
    try:
        return all(importlib.metadata.version(name) == __version__ for name in DISTRIBUTIONS)
    except importlib.metadata.PackageNotFoundError:
        return False


def generated_root() -> Path | None:
    """``$QCVNGEN_GENERATED``; None when the installed distributions serve; else the bundled build."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    if _installed():
        return None
    return bundled_generated_dir()


_loaded: Generated | None = None


def generated_modules() -> Generated:
    """The generated packages, imported once per process (see the module's docstring for where from)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    root = generated_root()
    if root is not None:
        root = root.resolve()
        for sub in ("python", "server"):
            path = str(root / sub)
            if path not in sys.path:
                sys.path.insert(0, path)
    _loaded = Generated(
        root=root,
        app=importlib.import_module("qcvn120_server.services"),
        handler=importlib.import_module("qcvn120_server.handler"),
        models=importlib.import_module("qcvn120_server.models"),
        serving=importlib.import_module("qcvn120_server.serving"),
    )
    return _loaded

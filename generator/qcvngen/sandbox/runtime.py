"""Find and import the generated qcvn120_client / qcvn120_server packages the sandbox runs on."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from ..resources import bundled_generated_dir

ENV_VAR = "QCVNGEN_GENERATED"


class Generated(NamedTuple):
    root: Path
    app: ModuleType
    handler: ModuleType
    models: ModuleType


def generated_root() -> Path:
    """``$QCVNGEN_GENERATED``, else ./generated when it holds the server stubs, else the bundled build."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    local = Path.cwd() / "generated"
    if (local / "server" / "qcvn120_server" / "app.py").is_file():
        return local
    return bundled_generated_dir()


_loaded: Generated | None = None


def generated_modules() -> Generated:
    global _loaded
    if _loaded is not None:
        return _loaded
    root = generated_root().resolve()
    for sub in ("python", "server"):
        path = str(root / sub)
        if path not in sys.path:
            sys.path.insert(0, path)
    _loaded = Generated(
        root=root,
        app=importlib.import_module("qcvn120_server.app"),
        handler=importlib.import_module("qcvn120_server.handler"),
        models=importlib.import_module("qcvn120_client.models"),
    )
    return _loaded

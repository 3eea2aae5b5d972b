"""qcvngen: QCVN 120:2019/BTTTT written once as data, built into every artefact an integrator needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .pipeline import BuildResult, build, load_spec

__all__ = ["BuildResult", "Diagnostic", "__version__", "build", "load_spec"]


def __getattr__(name: str) -> Any:
    # Lazy: `qcvngen --help` and `qcvngen check` must not pay for pydantic, PyYAML and Jinja up front.
    if name in ("BuildResult", "build", "load_spec"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "Diagnostic":
        from . import diagnostics

        return getattr(diagnostics, name)
    raise AttributeError(name)

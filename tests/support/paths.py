"""Where things are: the repository, its spec, the shared samples; and a spec copy to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SPEC = ROOT / "spec"
SAMPLES = ROOT.parent / "shared" / "qcvn120" / "samples"


def copy_spec(dest: Path) -> Path:
    """A copy of spec/ at ``dest/spec``, for a test to edit."""
    target = dest / "spec"
    shutil.copytree(SPEC, target)
    return target

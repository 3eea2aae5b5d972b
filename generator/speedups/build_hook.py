"""Hatchling build hook: compiles qcvn120_speedups.c (the generated server's optional native scan of
request bodies) into the wheel, editable ones included.

Without a C compiler the wheel is built without it and says so: the generated server then reads every
body the careful, pure-Python way, with the same verdicts (runtime/server/plainbody.py).
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path(__file__).with_name("qcvn120_speedups.c")
MODULE = "qcvn120_speedups"


def compile_command(source: Path, target: Path, *, strict: bool = False) -> list[str]:
    """The compiler command line that builds ``source`` into the extension module ``target``;
    ``strict`` (the tests) turns every warning into an error, which a user's newer compiler must not."""
    # $CC first, as every C build honours it (the tests point it at a compiler that fails).
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    flags = ["-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", *(["-Werror"] if strict else [])]
    if sys.platform == "darwin":
        flags += ["-undefined", "dynamic_lookup"]
    return [*compiler, *flags, f"-I{include}", str(source), "-o", str(target)]


class SpeedupsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"
    _folder: Path | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        name = MODULE + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
        # A folder of its own, removed once the wheel holds the module (finalize), or when the
        # build process ends if hatchling fails before calling finalize.
        self._folder = Path(tempfile.mkdtemp(prefix="qcvngen-speedups-"))
        atexit.register(shutil.rmtree, self._folder, ignore_errors=True)
        target = self._folder / name
        try:
            subprocess.run(compile_command(SOURCE, target), check=True, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as failure:
            detail = getattr(failure, "stderr", "") or str(failure)
            self.app.display_warning(
                f"qcvngen: {MODULE} not compiled ({detail.strip()[:500]}); the generated server "
                "reads every request body the pure-Python way (same verdicts, slower)"
            )
            return
        build_data["force_include"][str(target)] = name
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

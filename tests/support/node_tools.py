"""npm packages some tests run (openapi-typescript, tsc, redocly, spectral): installed once into a cache folder.

A fresh clone has none of them: the first test that needs a set installs it from the npm registry with
the ordinary `npm install`, pinned, into ``~/.cache/qcvngen/node/<name>`` under a lock parallel runs
share; later runs find it there. Node and npm themselves come from Debian (tests/system_packages.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

import pytest

from .system_packages import Need, provide

NODE = Need(("node", "npm"), ("nodejs", "npm"), "generating and compiling TypeScript clients, linting OpenAPI")
CACHE = Path(os.environ.get("QCVNGEN_NODE_CACHE", Path.home() / ".cache" / "qcvngen" / "node"))


def npm_folder(name: str, packages: dict[str, str]) -> Path:
    """A folder whose ``node_modules`` holds exactly ``packages`` (name → version), installed when missing."""
    provide(NODE)
    folder = CACHE / name
    wanted = json.dumps(packages, sort_keys=True)
    stamp = folder / "installed.json"
    if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
            return folder
        (folder / "package.json").write_text(json.dumps({"name": f"qcvngen-{name}", "private": True}), encoding="utf-8")
        specs = [f"{package}@{version}" for package, version in sorted(packages.items())]
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--save-exact", *specs],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm install {' '.join(specs)} failed in {folder}:\n{done.stderr[-3000:]}", pytrace=False)
        stamp.write_text(wanted, encoding="utf-8")
    return folder


def bin_path(folder: Path, program: str) -> str:
    """The path of an installed package's program (``node_modules/.bin/<program>``)."""
    path = folder / "node_modules" / ".bin" / program
    assert path.exists(), f"{program} not installed in {folder}"
    return str(path)

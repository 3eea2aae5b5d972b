"""The generated client is its own distribution: it installs alone and never needs qcvngen."""

from __future__ import annotations

import ast
import subprocess
import sys
import venv
from pathlib import Path

import pytest


def test_client_installs_alone_in_a_fresh_venv(out_dir: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(out_dir / "python")],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    probe = (
        "import importlib.util, qcvn120_client\n"
        "assert importlib.util.find_spec('qcvngen') is None, 'qcvngen must not be installed here'\n"
        "from qcvn120_client import models\n"
        "print(models.DongBoHoSoMCRecord.__name__, qcvn120_client.__version__)\n"
    )
    run = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("DongBoHoSoMCRecord")


@pytest.mark.parametrize("package", ["python/qcvn120_client", "server/qcvn120_server"])
def test_generated_code_never_imports_qcvngen(out_dir: Path, package: str) -> None:
    for path in (out_dir / package).glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "qcvngen" for n in names), f"{path.name} imports qcvngen"


def test_server_package_passes_mypy_strict(out_dir: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", "-p", "qcvn120_server"],
        cwd=out_dir, env={"MYPYPATH": f"{out_dir / 'python'}:{out_dir / 'server'}", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr

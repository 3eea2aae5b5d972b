"""Shared fixtures: one fresh build per session, written to a temp folder and importable."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcvngen import build
from qcvngen.pipeline import BuildResult
from qcvngen.writer import write

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"
SAMPLES = ROOT.parent / "shared" / "qcvn120" / "samples"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/ from the current output")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def result() -> BuildResult:
    built = build(SPEC)
    assert built.ok, "\n".join(str(d) for d in built.diagnostics)
    return built


@pytest.fixture(scope="session")
def out_dir(result: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "generated"
    write(out, result.files)
    return out


@pytest.fixture(scope="session")
def models(out_dir: Path) -> Iterator[Any]:
    """The freshly generated ``qcvn120_client.models``, imported from the temp build."""
    sys.path.insert(0, str(out_dir / "python"))
    sys.path.insert(0, str(out_dir / "server"))
    for name in [m for m in sys.modules if m.startswith(("qcvn120_client", "qcvn120_server"))]:
        del sys.modules[name]
    module = importlib.import_module("qcvn120_client.models")
    assert Path(module.__file__ or "").is_relative_to(out_dir)
    yield module
    sys.path.remove(str(out_dir / "python"))
    sys.path.remove(str(out_dir / "server"))


@pytest.fixture(scope="session")
def bundle(result: BuildResult) -> dict[str, Any]:
    from pathlib import PurePosixPath

    return dict(json.loads(result.files[PurePosixPath("jsonschema/qcvn120.schema.json")]))


def copy_spec(dest: Path) -> Path:
    import shutil

    target = dest / "spec"
    shutil.copytree(SPEC, target)
    return target

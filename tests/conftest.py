"""Shared fixtures: one fresh build per session, written to a temp folder and importable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcvngen import build
from qcvngen.pipeline import BuildResult
from qcvngen.sandbox.runtime import Served
from qcvngen.sandbox.runtime import load as load_served
from qcvngen.writer import write
from support.paths import SPEC


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/ from the current output")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """qcvngen's caches, for every test and every qcvngen a test starts, in a folder of this session
    (made 0o700 by pytest), never the user's: a test sees only what this session cached. Tests that
    count cache hits set ``QCVNGEN_CACHE_DIR`` to a folder of their own."""
    root = tmp_path_factory.mktemp("qcvngen-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QCVNGEN_CACHE_DIR", str(root))
        yield root


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
def served(result: BuildResult) -> Served:
    """The spec's packages as the sandbox imports them (one build; in-process sandboxes share it)."""
    return load_served(SPEC, result)


@pytest.fixture(scope="session")
def models(served: Served) -> Any:
    """The freshly generated ``qcvn120_client.models``, imported from the sandbox's build of spec/
    (``served.models`` is the server package's own copy of the model layer, which the sandbox uses)."""
    import importlib

    return importlib.import_module("qcvn120_client.models")


@pytest.fixture(scope="session")
def bundle(result: BuildResult) -> dict[str, Any]:
    from pathlib import PurePosixPath

    return dict(json.loads(result.files[PurePosixPath("jsonschema/qcvn120.schema.json")]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """Say that the default run is the fast tier, and how to run the rest (never a silent skip)."""
    deselected = len(terminalreporter.stats.get("deselected", []))
    if config.getoption("markexpr") == "not slow" and deselected:
        terminalreporter.write_line(
            f"fast tier: {deselected} test(s) marked slow were not run; the full suite is"
            ' `python -m pytest -m ""` (.ci/run runs both tiers)'
        )

"""Every bench script runs to the end at tiny sizes and prints every one of its sections.

The figures are printed, never asserted (timings belong to bench/, not to tests). What is checked
is that the benches cannot rot unnoticed: each script runs in its own process, as a user runs it
after ``pip install -e '.[bench]'``, with pytest made unimportable (the benches must not lean on
the test suite), exits 0, and prints the heading of each section it declares in ``SECTIONS``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import ROOT
from support.system_packages import Need, provide

# Full suite only (`pytest -m ""`, .ci/run): every bench script run end to end at tiny sizes.
pytestmark = pytest.mark.slow

BENCH = ROOT / "bench"
# Script → the arguments of its tiny run. A script in bench/ that is missing here fails the
# inventory test below, so a new bench cannot be left out of CI.
SMOKE_ARGS: dict[str, list[str]] = {
    "run.py": ["--smoke"],
    "server.py": ["--smoke"],
    "learn.py": ["--mb", "2"],  # `qcvngen learn` reading a capture (issue 17's bench)
}
# A script that prints one result line instead of sections: the words that line must hold.
RESULT_WORDS = {"learn.py": ["MB/s", "peak memory"]}
# Modules imported by the scripts, not run on their own.
LIBRARIES = {"baselines.py", "ingest.py", "synthetic.py", "stub_server.py"}
JAVA = Need(("java",), ("default-jre-headless",), "openapi-generator-cli, a peer generator timed by bench/run.py")


def declared_sections(script: Path) -> list[str] | None:
    """The ``SECTIONS`` tuple of a bench script, read without running it (None when it has none)."""
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SECTIONS" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, tuple) and value, f"{script.name}: SECTIONS must be a non-empty tuple"
            return [str(item) for item in value]
    return None


def present() -> list[str]:
    """The scripts of SMOKE_ARGS that exist in this checkout (bench/learn.py comes with issue 17)."""
    return sorted(name for name in SMOKE_ARGS if (BENCH / name).is_file())


def test_every_bench_script_has_a_smoke_run() -> None:
    scripts = {path.name for path in BENCH.glob("*.py")} - LIBRARIES
    assert scripts <= set(SMOKE_ARGS), (
        f"bench scripts without a smoke run (add to SMOKE_ARGS): {scripts - set(SMOKE_ARGS)}"
    )
    for name in present():
        assert declared_sections(BENCH / name) or name in RESULT_WORDS, f"{name}: declare SECTIONS or its RESULT_WORDS"


@pytest.mark.parametrize("script", present())
def test_bench_script_runs_and_prints_every_section(script: str, tmp_path: Path) -> None:
    if script == "run.py":
        provide(JAVA)
    # A pytest that cannot be imported: a bench reaching into tests/conftest.py fails here.
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "pytest.py").write_text("raise ImportError('bench scripts must not import pytest')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(blocker), "PYTHONUNBUFFERED": "1"}
    completed = subprocess.run(
        [sys.executable, str(BENCH / script), *SMOKE_ARGS[script]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = completed.stdout + completed.stderr
    print(output)  # the figures, for whoever reads the log
    assert completed.returncode == 0, f"{script} failed:\n{output[-4000:]}"
    headings = [line for line in completed.stdout.splitlines() if line.startswith("## ")]
    for title in declared_sections(BENCH / script) or ():
        assert any(heading.startswith(f"## {title}") for heading in headings), (
            f"{script} never printed section {title!r}:\n{output[-3000:]}"
        )
    for word in RESULT_WORDS.get(script, ()):
        assert word in completed.stdout, f"{script} never printed {word!r}:\n{output[-3000:]}"
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]

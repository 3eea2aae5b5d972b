"""Issue 19: a packet is added by the spec alone, following docs/architecture.md's "Add a packet".

The recipe is applied to a copy of the repository's sources (a push, and a pull answered from that
push through the seed); the files it touched are exactly the kinds the page names; then the real
sandbox serves the copy (``qcvngen sandbox --spec DIR --seed FILE``) and ``qcvngen conformance --spec
DIR`` passes every vector, the new packets' included. A pull the seed does not answer stops the
sandbox at start with one line.
"""

from __future__ import annotations

import filecmp
import fnmatch
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qcvngen.examples import example_record
from qcvngen.pipeline import load_spec
from support.paths import ROOT, SPEC
from support.sandbox_process import Sandbox, free_port, start_sandbox, view_all
from support.table1 import table1

SEED = ROOT / "generator" / "qcvngen" / "sandbox" / "seed.json"


def _unused(base: str, taken: list[str]) -> str:
    """``base``, or ``base2``, ``base3`` … when the spec already has it (e.g. after this very recipe)."""
    return next(name for name in (base, *(f"{base}{n}" for n in range(2, 100))) if name not in taken)


# Names and tables the spec does not have yet, so the test holds for any spec, the recipe's result included.
PUSH, PULL = _unused("DongBoThuNghiem", table1().packets), _unused("LayThuNghiem", table1().packets)
PUSH_TABLE, PULL_TABLE = max(table1().tables) + 1, max(table1().tables) + 2
MADONVI = "000.00.00.G05"


def recipe_files() -> list[str]:
    """The file patterns of docs/architecture.md's "Add a packet" table (first column, backticked)."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = page.split("### Add a packet", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, re.MULTILINE)


def packet_row(number: str, name: str, direction: str, table: int) -> str:
    return (
        f'  - number: "{number}"\n    name: {name}\n    group: "1"\n'
        f'    purpose: {{vi: "Gói tin thử nghiệm {name}", en: "test packet {name}"}}\n'
        f'    direction: {direction}\n    endpoint: integration\n    declared: "9"\n'
        f"    tables:\n      - table: {table}\n        declared: 9\n    sources: [S1]\n"
    )


def follow_the_recipe(repo: Path) -> None:
    """Add a push (Table 3's fields) and a pull answering the caller's pushes of it (the same fields)."""
    table3 = (repo / "spec" / "tables" / "t03-cap-nhat-tien-do-ho-so-mc.yaml").read_text(encoding="utf-8")
    for table, name in ((PUSH_TABLE, PUSH), (PULL_TABLE, PULL)):
        text = re.sub(r"^table: 3$", f"table: {table}", table3, flags=re.MULTILINE)
        text = re.sub(r"^packet: CapNhatTienDoHoSoMC$", f"packet: {name}", text, flags=re.MULTILINE)
        (repo / "spec" / "tables" / f"t{table}-{name.lower()}.yaml").write_text(text, encoding="utf-8")
    packets = repo / "spec" / "packets.yaml"
    numbers = [row.number for row in table1(repo / "spec").rows if row.number.startswith("1.")]
    last = max(int(number.split(".")[1]) for number in numbers)
    rows = packet_row(f"1.{last + 1}", PUSH, "push", PUSH_TABLE) + packet_row(f"1.{last + 2}", PULL, "pull", PULL_TABLE)
    packets.write_text(packets.read_text(encoding="utf-8").rstrip("\n") + "\n" + rows, encoding="utf-8")
    seed = repo / "generator" / "qcvngen" / "sandbox" / "seed.json"
    data = json.loads(seed.read_text(encoding="utf-8"))
    data["pulls"][PULL] = {"from_push": PUSH}
    seed.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def changed_files(before: Path, after: Path) -> list[str]:
    """Files of ``after`` that are new or differ from ``before`` (relative POSIX paths)."""
    out = []
    for path in sorted(p for p in after.rglob("*") if p.is_file()):
        relative = path.relative_to(after)
        old = before / relative
        if not old.is_file() or not filecmp.cmp(old, path, shallow=False):
            out.append(relative.as_posix())
    return out


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sources the recipe may touch (spec/ and the sandbox's seed), the recipe applied."""
    copy = tmp_path_factory.mktemp("recipe")
    shutil.copytree(SPEC, copy / "spec")
    (copy / SEED.relative_to(ROOT)).parent.mkdir(parents=True)
    shutil.copy(SEED, copy / SEED.relative_to(ROOT))
    follow_the_recipe(copy)
    return copy


@pytest.fixture(scope="module")
def sandbox(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    db = tmp_path_factory.mktemp("state") / "state.sqlite3"
    served = start_sandbox(db, "--spec", str(repo / "spec"), "--seed", str(repo / SEED.relative_to(ROOT)))
    yield served
    served.stop()


def test_the_recipe_touches_only_the_files_it_names(repo: Path) -> None:
    named = recipe_files()
    assert named, "docs/architecture.md: no file table under '### Add a packet'"
    changed = changed_files(ROOT, repo)
    assert changed, "the recipe changed nothing"
    unnamed = [path for path in changed if not any(fnmatch.fnmatchcase(path, pattern) for pattern in named)]
    assert not unnamed, f"the recipe touched files docs/architecture.md does not name: {unnamed} (named: {named})"
    untouched = [pattern for pattern in named if not any(fnmatch.fnmatchcase(p, pattern) for p in changed)]
    assert not untouched, f"docs/architecture.md names files a push and a pull never need: {untouched}"
    assert table1(repo / "spec").packets == [*table1().packets, PUSH, PULL], "Table 1 is read from the spec"


def test_the_sandbox_serves_the_new_packets(sandbox: Sandbox, repo: Path) -> None:
    reg, diagnostics = load_spec(repo / "spec")
    assert reg is not None, diagnostics
    record = example_record(reg, f"{PUSH}Record")
    base = sandbox.base_url
    session = httpx.post(f"{base}/auth", json={"username": "sandbox", "password": "sandbox"}).json()["session"]
    envelope = {"session": session, "madonvi": MADONVI}
    pushed = httpx.post(f"{base}/integration", json={**envelope, "service": PUSH, "data": [record]})
    assert pushed.status_code == 200 and pushed.json()["error_code"] == "0", pushed.text
    pulled = httpx.post(f"{base}/integration", json={**envelope, "service": PULL})
    assert pulled.status_code == 200 and pulled.json()["error_code"] == "0", pulled.text
    assert pulled.json()["result"] == [record], "the pull answers the unit's own pushes (seed: from_push)"
    stored = view_all(base, "/sandbox/api/receipts", "receipts")
    assert [(r["service"], r["records"]) for r in stored] == [(PUSH, 1)]


def test_conformance_passes_on_the_new_spec(sandbox: Sandbox, repo: Path, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    args = ["conformance", "--spec", str(repo / "spec"), "--base-url", sandbox.base_url, "--report", str(report)]
    done = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    text = report.read_text(encoding="utf-8")
    for name in (PUSH, PULL):
        assert f'name="{name}.valid' in text, f"no vector of {name}: conformance did not read the new spec"
    assert re.search(rf'name="{PUSH}\.\w+\.required', text), "the new push's rules are tested too"


def test_a_pull_without_an_answer_stops_the_sandbox_in_one_line(repo: Path, tmp_path: Path) -> None:
    db = tmp_path / "never.sqlite3"
    args = ["sandbox", "--spec", str(repo / "spec"), "--db", str(db), "--port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert PULL in lines[0] and "seed" in lines[0], "the line names the packet and what to add"
    assert not db.exists(), "nothing is opened before the sandbox can serve every packet"


def test_a_seed_that_does_not_fit_the_spec_is_one_line(repo: Path, tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    data = json.loads((repo / SEED.relative_to(ROOT)).read_text(encoding="utf-8"))
    data["pulls"]["LayThuTuc"]["by"] = "maTTHCC"
    seed.write_text(json.dumps(data), encoding="utf-8")
    args = ["sandbox", "--spec", str(repo / "spec"), "--seed", str(seed), "--db", ":memory:", "--port", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == (
        "error: sandbox: seed: pulls.LayThuTuc.by: 'maTTHCC' is not a parameter of LayThuTuc (parameters: maTTHC)"
    )

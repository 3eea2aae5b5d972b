"""The generated client is its own distribution: it installs alone and never needs qcvngen."""

from __future__ import annotations

import ast
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

# Full suite only (`pytest -m ""`, .ci/run): fresh virtual environments and mypy over the built packages.
pytestmark = pytest.mark.slow


def test_client_installs_alone_in_a_fresh_venv(out_dir: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(out_dir / "python")],
        capture_output=True,
        check=False,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    probe = (
        "import importlib.util, qcvn120_client\n"
        "assert importlib.util.find_spec('qcvngen') is None, 'qcvngen must not be installed here'\n"
        "from qcvn120_client import models\n"
        "print(models.DongBoHoSoMCRecord.__name__, qcvn120_client.__version__)\n"
    )
    run = subprocess.run(
        [str(python), "-c", probe], capture_output=True, check=False, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("DongBoHoSoMCRecord")


@pytest.mark.parametrize("package", ["python/qcvn120_client", "server/qcvn120_server"])
def test_generated_code_never_imports_qcvngen(out_dir: Path, package: str) -> None:
    for path in (out_dir / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "qcvngen" for n in names), f"{path.name} imports qcvngen"


def test_server_package_passes_mypy_strict(out_dir: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
            "-p",
            "qcvn120_server",
        ],
        cwd=out_dir,
        env={"MYPYPATH": f"{out_dir / 'python'}:{out_dir / 'server'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_client_package_passes_mypy_strict(out_dir: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
            "-p",
            "qcvn120_client",
        ],
        cwd=out_dir,
        env={"MYPYPATH": f"{out_dir / 'python'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_client_works_vendored_under_another_name(out_dir: Path, tmp_path: Path) -> None:
    """Relative imports only: copied as ``myapp.vendor.portal`` it imports, validates and sends."""
    import shutil

    target = tmp_path / "myapp" / "vendor" / "portal"
    shutil.copytree(out_dir / "python" / "qcvn120_client", target)
    for folder in (tmp_path / "myapp", tmp_path / "myapp" / "vendor"):
        (folder / "__init__.py").write_text("")
    probe = (
        "import sys, httpx\n"
        "from myapp.vendor.portal import Client, RecordValidationError\n"
        "assert not any(m.startswith('qcvn120_client') for m in sys.modules)\n"
        "def handler(request):\n"
        "    if request.url.path == '/auth':\n"
        "        return httpx.Response(200, json={'error_code': 0, 'message': 'ok', 'session': 't'})\n"
        "    return httpx.Response(200, json={'error_code': 0, 'message': 'ok', 'result': []})\n"
        "portal = Client('http://p.test', username='u', password='p', madonvi='m', transport=httpx.MockTransport(handler))\n"
        "print(portal.lay_thu_tuc(ma_tthc='1.000001'))\n"
        "try:\n"
        "    portal.dong_bo_ho_so_mc([{'NgayTiepNhan': '2020-01-15'}])\n"
        "except RecordValidationError as error:\n"
        "    print('refused', 'yyyyMMddHHmmss' in str(error))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, check=False, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["[]", "refused True"]


def test_readme_examples_pass_mypy_strict(out_dir: Path, tmp_path: Path) -> None:
    """The generated README's Python examples type-check as a typed shop would run them."""
    import re

    readme = (out_dir / "python" / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks and "codes.TrangThaiHoSo.RECEIVED" in blocks[0]
    for index, block in enumerate(blocks):
        (tmp_path / f"example_{index}.py").write_text(block, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", str(tmp_path)],
        cwd=tmp_path,
        env={"MYPYPATH": f"{out_dir / 'python'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    # The examples that need no portal run too (their asserts hold).
    offline = [i for i, block in enumerate(blocks) if "Client(" not in block]
    assert offline, "the README should show a record built as a typed model"
    for index in offline:
        run = subprocess.run(
            [sys.executable, str(tmp_path / f"example_{index}.py")],
            env={"PYTHONPATH": f"{out_dir / 'python'}", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr


HANDLER = """
from __future__ import annotations

from {server} import Account, Answer, CallContext, ErrorAnswer, PortalHandler, codes, create_app, models
from {client} import Client


class MyPortal(PortalHandler):
    def login(self, username: str, password: str) -> str | None:
        return "token" if (username, password) == ("u", "p") else None

    def account_for_session(self, session: str) -> Account | None:
        return None

    def dong_bo_ho_so_mc(self, request: models.DongBoHoSoMCRequest, context: CallContext) -> Answer:
        if request.data[0].trang_thai_ho_so == codes.TrangThaiHoSo.RECEIVED:
            raise ErrorAnswer("-3", "exists")
        return Answer()


def check(portal: Client) -> None:
    portal.lay_thu_tuc(ma_tthc="1")


app = create_app
"""


def _vendor(out_dir: Path, root: Path, *, server: bool) -> None:
    import shutil

    vendor = root / "myapp" / "vendor"
    shutil.copytree(out_dir / "python" / "qcvn120_client", vendor / "portal")
    if server:
        shutil.copytree(out_dir / "server" / "qcvn120_server", vendor / "portal_server")
    for folder in (root / "myapp", vendor):
        (folder / "__init__.py").write_text("")


def _mypy(paths: list[Path], mypypath: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", *map(str, paths)],
        cwd=cwd,
        env={"MYPYPATH": mypypath, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )


def test_server_and_client_vendored_side_by_side_under_other_names(out_dir: Path, tmp_path: Path) -> None:
    """Relative imports only: both packages copied under new names import alone and type-check
    with a handler written against them (no qcvn120_* module involved)."""
    _vendor(out_dir, tmp_path, server=True)
    handler = tmp_path / "myapp" / "handlers.py"
    handler.write_text(HANDLER.format(server="myapp.vendor.portal_server", client="myapp.vendor.portal"))
    checked = _mypy([tmp_path / "myapp"], "", tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    probe = (
        "import sys\n"
        "import myapp.handlers\n"
        "assert not any(m.startswith(('qcvn120_client', 'qcvn120_server')) for m in sys.modules), 'absolute import'\n"
        "print(sorted(myapp.handlers.MyPortal.__abstractmethods__)[:1])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, check=False, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr


def test_installed_server_beside_a_vendored_client_type_checks(out_dir: Path, tmp_path: Path) -> None:
    """The server as installed (``qcvn120_server`` on the path) and the client vendored under another
    name: a handler using both passes mypy --strict (the server never refers to ``qcvn120_client``)."""
    _vendor(out_dir, tmp_path, server=False)
    handler = tmp_path / "myapp" / "handlers.py"
    handler.write_text(HANDLER.format(server="qcvn120_server", client="myapp.vendor.portal"))
    checked = _mypy([tmp_path / "myapp"], str(out_dir / "server"), tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_server_model_layer_is_the_clients(out_dir: Path) -> None:
    """The server carries the client's models, wire types and code lists byte for byte (one source)."""
    models = sorted(f"models/{p.name}" for p in (out_dir / "python" / "qcvn120_client" / "models").glob("*.py"))
    assert "models/__init__.py" in models and len(models) > 2
    assert models == sorted(f"models/{p.name}" for p in (out_dir / "server" / "qcvn120_server" / "models").glob("*.py"))
    for name in (*models, "wire.py", "codes.py", "_codes.py", "_scalars.py"):
        client = (out_dir / "python" / "qcvn120_client" / name).read_bytes()
        assert (out_dir / "server" / "qcvn120_server" / name).read_bytes() == client, name
    server_pyproject = (out_dir / "server" / "pyproject.toml").read_text(encoding="utf-8")
    assert "qcvn120-client" not in server_pyproject


def test_contract_moves_refs_as_data_not_text() -> None:
    """The draft-7 copy of the served schemas rewrites ``$ref`` values only, never a text that looks like one."""
    from qcvngen.runtime.server.contract import _moved_refs

    schemas: dict[str, Any] = {
        "A": {"description": 'see "#/components/schemas/B"', "items": [{"$ref": "#/components/schemas/B"}]},
        "B": {"examples": ["#/components/schemas/A"], "$ref": "urn:other#/x"},
    }
    moved: Any = _moved_refs(schemas, "#/components/schemas/", "#/definitions/")
    assert moved["A"]["items"][0]["$ref"] == "#/definitions/B"
    assert moved["A"]["description"] == schemas["A"]["description"] and moved["B"] == schemas["B"]
    assert schemas["A"]["items"][0]["$ref"] == "#/components/schemas/B"  # the original is untouched

"""docs/deploy.md's nginx example: it matches the app's defaults, nginx accepts it, and it serves.

The structural check always runs; `nginx -t` and the real proxy run in the nginx this machine has,
or installs for the run (tests/support/system_packages.py: as root with apt-get, else a clear failure).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qcvngen.runtime.server import limits, serving
from support.paths import ROOT
from support.sandbox_process import Sandbox, free_port, start_sandbox
from support.system_packages import Need, provide

# Full suite only (`pytest -m ""`, .ci/run): a real nginx in front of the generated server.
pytestmark = pytest.mark.slow

DEPLOY = ROOT / "docs" / "deploy.md"


def nginx_example() -> str:
    blocks = re.findall(r"```nginx\n(.*?)```", DEPLOY.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1, "docs/deploy.md holds exactly one nginx example"
    return str(blocks[0])


def directive(config: str, name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", config, re.MULTILINE)


def test_the_example_matches_the_app_defaults() -> None:
    config = nginx_example()
    defaults = limits.Limits()
    assert directive(config, "client_max_body_size") == ["8m", "64k"]
    assert defaults.max_body_bytes == 8 * 1024 * 1024 and defaults.max_login_bytes == 64 * 1024
    assert directive(config, "client_header_timeout") == [f"{serving.DEFAULT_HEADER_TIMEOUT:g}s"]
    assert directive(config, "proxy_request_buffering") == ["on"]
    assert directive(config, "limit_req") and directive(config, "limit_conn")


def for_test(config: str, scratch: Path, listen: int, upstream: int) -> Path:
    """The example with its ports and writable paths moved into ``scratch``."""
    temp = "".join(
        f"    {kind}_temp_path {scratch / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = config.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    text = text.replace("server 127.0.0.1:8120;", f"server 127.0.0.1:{upstream};")
    text = text.replace("http {\n", f"http {{\n{temp}    access_log off;\n", 1)
    path = scratch / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


NGINX = Need(("nginx",), ("nginx",), "tests/test_server_deploy.py runs docs/deploy.md's example in a real nginx")


@pytest.fixture()
def nginx_binary() -> str:
    """nginx, installed first when missing and possible (never a skip)."""
    return provide(NGINX)[0]


@pytest.fixture()
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    running = start_sandbox(tmp_path / "state.sqlite3")
    yield running
    running.stop()


def test_nginx_accepts_the_example_and_proxies_a_login(nginx_binary: str, sandbox: Sandbox, tmp_path: Path) -> None:
    scratch = tmp_path / "nginx"
    scratch.mkdir()
    listen = free_port()
    config = for_test(nginx_example(), scratch, listen, sandbox.port)
    globals_ = f"pid {scratch / 'nginx.pid'}; error_log {scratch / 'error.log'}; user root;"
    checked = subprocess.run(
        [nginx_binary, "-t", "-p", str(scratch), "-c", str(config), "-g", globals_],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0 and "syntax is ok" in checked.stderr, checked.stderr
    proxy = subprocess.Popen(
        [nginx_binary, "-p", str(scratch), "-c", str(config), "-g", f"daemon off; {globals_}"], stderr=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{listen}"
        for _ in range(100):
            try:
                login = httpx.post(f"{base}/auth", json={"username": "sandbox", "password": "sandbox"}, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise AssertionError("nginx did not start")
        assert login.status_code == 200 and login.json()["error_code"] == "0"
        too_big = httpx.post(
            f"{base}/integration",
            content=b"x" * (9 * 1024 * 1024),
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert too_big.status_code == 413  # refused by nginx, the app never saw it
        refused = httpx.post(
            f"{base}/integration", json={"session": "bad", "madonvi": "x", "service": "LayThuTuc"}, timeout=5
        )
        assert refused.status_code == 401 and refused.json()["error_code"] == "-2"
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)

"""docs/deploy.md's nginx example: it matches the app's defaults, nginx accepts it, and it serves.

The structural check always runs; `nginx -t` and the real proxy run in the nginx this machine has,
or installs for the run (tests/support/system_packages.py: as root with apt-get, else a clear failure).
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    """The proxy's body limits sit above the app's, so that the app answers 413 itself (naming its
    setting) for everything the proxy lets through."""
    config = nginx_example()
    defaults = limits.Limits()
    sizes = {"9m": 9 * 1024 * 1024, "128k": 128 * 1024}
    body, login = (sizes[value] for value in directive(config, "client_max_body_size"))
    assert body > defaults.max_body_bytes and login > defaults.max_login_bytes
    assert directive(config, "client_header_timeout") == [f"{serving.DEFAULT_HEADER_TIMEOUT:g}s"]
    assert directive(config, "proxy_request_buffering") == ["on"]
    assert directive(config, "limit_req") and directive(config, "limit_conn")
    pages = " ".join(directive(config, "error_page"))
    assert all(code in pages for code in ("413", "429", "502", "503", "504"))


def for_test(config: str, scratch: Path, listen: int, upstream: int, **replace: str) -> Path:
    """The example with its ports and writable paths moved into ``scratch`` (and ``replace``'s
    directives set to other values: ``proxy_read_timeout="1s"``)."""
    temp = "".join(
        f"    {kind}_temp_path {scratch / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = config.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    text = text.replace("server 127.0.0.1:8120;", f"server 127.0.0.1:{upstream};")
    text = text.replace("http {\n", f"http {{\n{temp}    access_log off;\n", 1)
    for name, value in replace.items():
        text, count = re.subn(rf"^(\s*{name}\s+)[^;]+;", rf"\g<1>{value};", text, flags=re.MULTILINE)
        assert count, name
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


@contextmanager
def nginx_in_front(binary: str, scratch: Path, upstream: int, **replace: str) -> Iterator[str]:
    """docs/deploy.md's nginx, checked by ``nginx -t``, running in front of ``upstream``: its base URL."""
    scratch.mkdir()
    listen = free_port()
    config = for_test(nginx_example(), scratch, listen, upstream, **replace)
    globals_ = f"pid {scratch / 'nginx.pid'}; error_log {scratch / 'error.log'}; user root;"
    checked = subprocess.run(
        [binary, "-t", "-p", str(scratch), "-c", str(config), "-g", globals_],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0 and "syntax is ok" in checked.stderr, checked.stderr
    proxy = subprocess.Popen([binary, "-p", str(scratch), "-c", str(config), "-g", f"daemon off; {globals_}"])
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", listen), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{listen}"
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def assert_json_refusal(reply: httpx.Response, status: int, error_code: str, words: str) -> None:
    assert reply.status_code == status, (reply.status_code, reply.text[:300])
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    assert reply.json()["error_code"] == error_code and words in reply.json()["message"], reply.text


def test_nginx_in_front_answers_every_refusal_as_the_app_s_json(
    nginx_binary: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    json_type = {"content-type": "application/json"}
    with nginx_in_front(nginx_binary, tmp_path / "nginx", sandbox.port) as base:
        login = httpx.post(f"{base}/auth", json={"username": "sandbox", "password": "sandbox"}, timeout=5)
        assert login.status_code == 200 and login.json()["error_code"] == "0"
        # Between the app's limit and the proxy's: the app's own 413, naming its setting.
        over_app = httpx.post(
            f"{base}/integration", content=b"x" * (8 * 1024 * 1024 + 10), headers=json_type, timeout=30
        )
        assert_json_refusal(over_app, 413, "-1", "max_body_bytes=8388608")
        login_over_app = httpx.post(f"{base}/auth", content=b"x" * (64 * 1024 + 10), headers=json_type, timeout=30)
        assert_json_refusal(login_over_app, 413, "-1", "max_login_bytes=65536")
        # Above the proxy's: nginx's refusal, in the same JSON shape.
        over_proxy = httpx.post(f"{base}/integration", content=b"x" * (10 * 1024 * 1024), headers=json_type, timeout=30)
        assert_json_refusal(over_proxy, 413, "-1", "client_max_body_size")
        refused = httpx.post(
            f"{base}/integration", json={"session": "bad", "madonvi": "x", "service": "LayThuTuc"}, timeout=5
        )
        assert_json_refusal(refused, 401, "-2", "invalid or expired session")
        # A login flood beyond limit_req's burst: 429 in JSON, with Retry-After.
        with httpx.Client(base_url=base, timeout=5) as http:
            flood = [http.post("/auth", json={"username": "sandbox", "password": "sandbox"}) for _ in range(40)]
        limited = [reply for reply in flood if reply.status_code == 429]
        assert limited and limited[0].headers["retry-after"] == "1"
        assert_json_refusal(limited[0], 429, "-1", "too many requests")
        # The application server gone: 502 in JSON.
        sandbox.stop()
        gone = httpx.post(f"{base}/integration", json={"session": "s"}, timeout=10)
        assert_json_refusal(gone, 502, "-5", "bad gateway")


def test_nginx_in_front_answers_timeouts_as_json(nginx_binary: str, tmp_path: Path) -> None:
    """504 in JSON when the application server does not answer in time (an upstream that accepts
    and stays silent). A body that stops arriving (client_body_timeout) is closed by nginx without
    any answer (nginx never writes its own 408; docs/deploy.md says so): no HTML either."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    replace = {"proxy_read_timeout": "1s", "client_body_timeout": "1s"}
    try:
        with nginx_in_front(nginx_binary, tmp_path / "nginx", silent.getsockname()[1], **replace) as base:
            slow_app = httpx.post(f"{base}/integration", json={"session": "s"}, timeout=30)
            assert_json_refusal(slow_app, 504, "-5", "gateway timeout")
            port = int(base.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=30) as stalled:
                stalled.sendall(
                    b"POST /integration HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                    b"content-length: 100\r\n\r\n{"
                )
                answer = b""
                while chunk := stalled.recv(4096):
                    answer += chunk
            assert answer == b"", answer[:300]
    finally:
        silent.close()


# -- serving.run with workers, and a busy port ------------------------------------------------------
WORKERS_SCRIPT = """
import os, sys
sys.path.insert(0, {tests!r})
from test_server_runtime import Portal, portal_app
from qcvngen.runtime.server import serving

class PidPortal(Portal):
    def login(self, username, password):
        return f"pid-{{os.getpid()}}" if (username, password) == ("u", "p") else None

serving.run(portal_app(PidPortal()), workers=2, port=int(sys.argv[1]), header_timeout=1, log_level="warning")
"""


def _children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def test_serving_run_with_workers_forks_guarded_workers_and_stops_them(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import sys

    port = free_port()
    script = tmp_path / "workers.py"
    script.write_text(WORKERS_SCRIPT.format(tests=str(ROOT / "tests")), encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script), str(port)], cwd=tmp_path)
    try:
        seen: set[str] = set()
        for _ in range(400):  # a fresh connection per login: the kernel hands them to either worker
            try:
                reply = httpx.post(f"http://127.0.0.1:{port}/auth", json={"username": "u", "password": "p"}, timeout=5)
                seen.add(reply.json()["session"])
            except httpx.TransportError:
                time.sleep(0.05)
            if len(seen) == 2:
                break
        workers = _children(parent.pid)
        assert len(workers) == 2 and seen == {f"pid-{pid}" for pid in workers}, (seen, workers)
        # Every worker keeps the guard: connections that never finish their headers are closed.
        dribblers = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
        for sock in dribblers:
            sock.sendall(b"POST /auth HTTP/1.1\r\nhost: x\r\n")
        assert all(sock.recv(1024) == b"" for sock in dribblers)
        for sock in dribblers:
            sock.close()
        # A worker that dies is replaced.
        lost = min(workers)
        os.kill(lost, signal.SIGKILL)
        for _ in range(200):
            if len(now := _children(parent.pid)) == 2 and lost not in now:
                break
            time.sleep(0.05)
        assert len(now) == 2 and lost not in now, now
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0
        assert all(
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text() for pid in now
        )
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)


def test_the_sandbox_on_a_busy_port_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    import socket
    import sys

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "qcvngen.cli", "sandbox", "--port", str(port), "--db", str(tmp_path / "s.sqlite3")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
    finally:
        busy.close()
    assert done.returncode == 2
    assert done.stdout == ""  # no banner
    assert done.stderr == f"error: --host/--port: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert not (tmp_path / "s.sqlite3").exists()  # nothing started, nothing written


# The handler the page's snippets assume (``MyPortal``): a login and nothing else, in the generated package.
MY_PORTAL = """
import os
from qcvn120_server import Account, PortalHandler

def _unused(*args, **kwargs):
    raise NotImplementedError

MyPortal = type(
    "MyPortal",
    (PortalHandler,),
    {
        **{name: _unused for name in PortalHandler.__abstractmethods__},
        "login": lambda self, username, password: f"pid-{os.getpid()}" if password == "pw" else None,
        "account_for_session": lambda self, session: Account("u", "000.00.00.G05") if session.startswith("pid-") else None,
    },
)
"""


def python_snippets() -> list[str]:
    return [str(block) for block in re.findall(r"```python\n(.*?)```", DEPLOY.read_text(encoding="utf-8"), re.DOTALL)]


@pytest.mark.parametrize("snippet", python_snippets(), ids=lambda text: text.strip().splitlines()[-1][:60])
def test_each_python_recipe_of_the_page_serves(snippet: str, tmp_path: Path) -> None:
    """Every ```python block of docs/deploy.md, run as written (its port moved to a free one, and
    ``app`` made from ``MyPortal`` where the block takes it as given): it answers a login and a
    refusal in the portal's shape, and stops on SIGTERM (uvicorn re-raises it once shut down)."""
    import os
    import signal
    import sys

    port = free_port()
    text = snippet.replace("port=8120", f"port={port}")
    assert text != snippet, "every recipe names the port 8120"
    prelude = MY_PORTAL
    if "app = " not in text:
        prelude += "from qcvn120_server import create_app, serving\napp = create_app(MyPortal())\n"
    script = tmp_path / "recipe.py"
    script.write_text(prelude + text, encoding="utf-8")
    paths = os.pathsep.join(str(ROOT / "generated" / part) for part in ("python", "server"))
    env = {**os.environ, "PYTHONPATH": paths}
    process = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env)
    try:
        for _ in range(300):
            try:
                login = httpx.post(f"http://127.0.0.1:{port}/auth", json={"username": "u", "password": "pw"}, timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the recipe stopped"
                time.sleep(0.1)
        else:
            raise AssertionError("the recipe never served")
        assert login.status_code == 200 and login.json()["session"].startswith("pid-")
        wrong = httpx.post(f"http://127.0.0.1:{port}/auth", json={"username": "u", "password": "no"}, timeout=5)
        assert wrong.status_code == 401 and wrong.json()["error_code"] == "-2"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_connections_on_the_bound_port_have_nagle_off() -> None:
    """The port is bound by serving.listening_socket, not by uvicorn: its accepted connections
    must still get TCP_NODELAY from asyncio (a first version left it off, and every login then
    waited ~40 ms for the client's delayed ACK)."""
    import asyncio
    import socket

    listener = serving.listening_socket("127.0.0.1", 0)
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()

    asyncio.run(accept_one())
    assert seen == [1]


FAILING_WORKERS = """
import sys
from contextlib import asynccontextmanager
from fastapi import FastAPI
from qcvngen.runtime.server import serving

@asynccontextmanager
async def broken(app):
    raise RuntimeError("the database is not there")
    yield

serving.run(FastAPI(lifespan=broken), workers=2, port=int(sys.argv[1]), log_level="critical")
"""


def test_workers_that_die_as_they_start_stop_the_parent(tmp_path: Path) -> None:
    """A worker that cannot start is replaced, but not endlessly: after 3 x workers restarts
    within a minute the parent stops with an error instead of forking for ever."""
    import sys

    script = tmp_path / "failing.py"
    script.write_text(FAILING_WORKERS, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(free_port())], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert "workers kept exiting (6 restarts within 60 s): stopped" in done.stderr

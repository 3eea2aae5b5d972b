"""Start `qcvngen sandbox` as a real process under uvicorn on a loopback port, and stop it; or serve
an app made in the test under uvicorn in a thread (:func:`serving`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from .paths import ROOT

# The sandboxes tests start open their views to this token (QCVNGEN_SANDBOX_VIEW_TOKEN).
VIEW_TOKEN = "test-view-token-0123456789abcdef"


def view(url: str, **kwargs: Any) -> httpx.Response:
    """GET a sandbox view (``/sandbox/…``) with the tests' view token."""
    return httpx.get(url, headers={"Authorization": f"Bearer {VIEW_TOKEN}"}, **kwargs)


def view_all(base: str, path: str, items: str, **kwargs: Any) -> list[Any]:
    """Every item of a paged sandbox view (``items``: ``dossiers``, ``records``, ``receipts``)."""
    out: list[Any] = []
    url: str | None = path
    while url:
        page = view(f"{base}{url}", **kwargs).json()
        out += page[items]
        url = page["next"]
        kwargs.pop("params", None)  # the next page's URL carries them
    return out


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under a real uvicorn on a free loopback port, in a thread: its base URL while it runs."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):  # at most ~20 s: a start that fails says so below instead of hanging
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port} (see the log above)")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sandbox:
    process: subprocess.Popen[bytes]
    port: int
    db: Path
    args: list[str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_sandbox(db: Path, *extra: str, port: int | None = None, cwd: Path = ROOT) -> Sandbox:
    port = port or free_port()
    args = [sys.executable, "-m", "qcvngen.cli", "sandbox", "--port", str(port), "--db", str(db), *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "QCVNGEN_SANDBOX_VIEW_TOKEN": VIEW_TOKEN}
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sandbox = Sandbox(process, port, db, args)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(
                f"qcvngen sandbox exited at start (exit {process.returncode}); run it by hand to see why:"
                f" {' '.join(args)}\n{output}"
            )
        try:
            if httpx.get(f"{sandbox.base_url}/openapi.json", timeout=1).status_code == 200:
                return sandbox
        except httpx.TransportError:
            time.sleep(0.1)
    sandbox.stop()
    raise RuntimeError(
        f"qcvngen sandbox did not answer on port {port} within 30 s (a busy machine, or a port taken);"
        f" run it by hand: {' '.join(args)}"
    )

"""A scriptable stand-in portal served by real uvicorn on loopback: each test sets what it answers.

Unlike the sandbox it follows no convention of its own: a test decides every answer (for example a
``-3`` that names no dossier), and the portal keeps what it stored so a test can count it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class FakePortal:
    """Login always succeeds; every other request goes to ``handler`` (set by the test)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    async def auth(self, request: Request) -> JSONResponse:
        return JSONResponse({"error_code": "0", "message": "ok", "session": "fake-session"})

    async def call(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        body.pop("session", None)
        with self.lock:
            self.requests.append(body)
            answer = self.handler(body)
        return JSONResponse(answer)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/auth", self.auth, methods=["POST"]),
                Route("/integration", self.call, methods=["POST"]),
                Route("/share", self.call, methods=["POST"]),
            ]
        )


@contextmanager
def serve(portal: FakePortal) -> Iterator[str]:
    """``portal`` on a free loopback port; yields its base URL."""
    config = uvicorn.Config(portal.app(), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the fake portal did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

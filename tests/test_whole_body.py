"""Large bodies received whole (runtime/server/wholebody.py, serving.py, factory.read_body) and the
session scan done as their bytes arrive (strictjson.SessionScan), over a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from qcvngen.runtime.server import factory, limits, serving, strictjson
from qcvngen.runtime.server.refusals import Refused

LIMITS = limits.Limits()


def hostile_body(items: int, session: bytes = b'"\\u0073ession" :\n "b\\u0061d"') -> bytes:
    """A wide body with session members at its start, in its middle and at its end."""
    half = (b"{}," * 99 + b'"\\u00e9",') * (items // 200)
    return b"{" + session + b',"z":[' + half + b'{"session":"mid"},' + half + b'{}],"session":"end"}'


@pytest.mark.parametrize("seed", range(6))
def test_a_scan_fed_piece_by_piece_finds_what_one_scan_finds(seed: int) -> None:
    """Members cut at any point between two arrivals are found once, like a scan of the whole."""
    chooser = random.Random(seed)
    raw = bytearray(hostile_body(20_000))
    cuts = sorted([*chooser.sample(range(1, len(raw)), 40), raw.index(b"mid") - 3, raw.index(b"end") + 1])
    scan = strictjson.SessionScan(LIMITS)
    for cut in [*cuts, len(raw)]:
        scan.feed(raw, cut)
    assert scan.candidates() == strictjson.session_candidates(bytes(raw), LIMITS) == ("bad", "mid", "end")
    one_byte_at_a_time = strictjson.SessionScan(LIMITS)
    small = b'{"s":1, "\\u0073ession"\t: "x\\"y", "session":"z"}'
    for end in range(len(small) + 1):
        one_byte_at_a_time.feed(small, end)
    assert one_byte_at_a_time.candidates() == ('x"y', "z")


def test_a_scan_fed_piece_by_piece_counts_every_quote() -> None:
    budget = limits.Limits(max_json_nodes=1000)
    raw = b'["' + b'","' * 2000 + b'"]'
    scan = strictjson.SessionScan(budget)
    for end in range(0, len(raw) + 1, 7):
        scan.feed(raw, end)
    scan.feed(raw, len(raw))
    with pytest.raises(Refused) as caught:
        scan.candidates()
    assert caught.value.status == 413 and "max_json_nodes=1000" in caught.value.message


class Served:
    def __init__(self, settings: limits.Limits) -> None:
        self.disconnects = 0
        self.slow_answered: list[float] = []
        app = FastAPI()

        @app.post("/echo")
        async def echo(request: Request) -> JSONResponse:
            try:
                raw = await factory.read_body(
                    request, settings.max_body_bytes, "max_body_bytes", settings, scan_sessions=True
                )
            except Refused as refused:
                return JSONResponse({"message": refused.message}, status_code=refused.status)
            except ClientDisconnect:
                self.disconnects += 1
                raise
            scan = getattr(raw, "session_scan", None)
            found = scan.candidates() if isinstance(scan, strictjson.SessionScan) else None
            return JSONResponse({"sha": hashlib.sha256(raw).hexdigest(), "scanned": found})

        @app.post("/slow")
        async def slow() -> JSONResponse:
            await asyncio.sleep(0.3)  # a handler that takes a while: what waits behind it waits
            self.slow_answered.append(time.monotonic())
            return JSONResponse({})

        sock = serving.listening_socket("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(serving.server_config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                break
            time.sleep(0.01)

    def connections(self) -> int:
        return len(self.server.server_state.connections)


@pytest.fixture()
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    settings = getattr(request, "param", LIMITS)
    running = Served(settings)
    yield running
    running.server.should_exit = True
    running.thread.join(timeout=30)


def head(size: int) -> bytes:
    return (
        f"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n".encode()
    )


def answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """One answer, read byte by byte up to its body so that nothing of the next one is taken."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, data
        data += byte
    lines = data.split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length")))
    rest = b""
    while len(rest) < length:
        rest += sock.recv(length - len(rest))
    return int(lines[0].split()[1]), json.loads(rest)


def test_a_large_body_comes_whole_in_any_pieces_and_keep_alive_goes_on(served: Served) -> None:
    body = hostile_body(600_000)  # 1.8 MB: more than one read (256 KiB) comes after the headers
    chooser = random.Random(7)
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(head(len(body)) + body[:1000])  # bytes with the headers, before the app asks
        sent = 1000
        while sent < len(body):
            step = chooser.randint(1, 50_000)
            sock.sendall(body[sent : sent + step])
            sent += step
            time.sleep(0.001)
        assert answer(sock) == (200, {"sha": hashlib.sha256(body).hexdigest(), "scanned": ["bad", "mid", "end"]})
        # The same connection: h11 was told the body ended, so the next requests are read as usual.
        small = b'{"session":"s"}'
        sock.sendall(head(len(small)) + small)
        assert answer(sock) == (200, {"sha": hashlib.sha256(small).hexdigest(), "scanned": None})
        sock.sendall(head(len(body)) + body)
        assert answer(sock)[1]["scanned"] == ["bad", "mid", "end"]
        # Pipelined behind another request (read through h11 as ASGI messages when its first
        # bytes came with the other's): the same bytes either way.
        sock.sendall(head(len(small)) + small + head(len(body)) + body)
        assert answer(sock)[0] == 200
        status, echoed = answer(sock)
        assert (status, echoed["sha"]) == (200, hashlib.sha256(body).hexdigest())
        assert echoed["scanned"] in (None, ["bad", "mid", "end"])


def test_a_request_pipelined_behind_a_slow_one_gets_its_own_clocks_and_the_whole_body_receive(
    served: Served,
) -> None:
    """Its headers were read when the slow answer completed, not by data_received: its body-rate
    clock starts then (not with the slow request's), and its large body is still received whole."""
    body = hostile_body(600_000)
    slow = head(0).replace(b"/echo", b"/slow")
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(slow + head(len(body)) + body[:1000])  # one segment: both heads, a bit of body
        assert answer(sock)[0] == 200
        (protocol,) = served.server.server_state.connections
        assert isinstance(protocol, serving.GuardedH11Protocol)
        # The server's thread may still be finishing the answer's bookkeeping: wait (by count) for it.
        for _ in range(500):
            if protocol._request_started >= served.slow_answered[0]:
                break
            time.sleep(0.01)
        assert protocol._request_started >= served.slow_answered[0], "the clock of the request behind"
        sock.sendall(body[1000:])
        status, echoed = answer(sock)
    assert (status, echoed["sha"]) == (200, hashlib.sha256(body).hexdigest())
    assert echoed["scanned"] == ["bad", "mid", "end"], "received whole, scanned as it arrived"


def test_a_sender_leaving_mid_body_frees_its_connection(served: Served) -> None:
    body = hostile_body(600_000)  # 1.8 MB: more than one read (256 KiB) comes after the headers
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(head(len(body)) + body[:100_000])
        time.sleep(0.2)
    for _ in range(500):  # bounded by count: the server sees the close and lets go
        if served.connections() == 0 and served.disconnects == 1:
            break
        time.sleep(0.02)
    assert (served.connections(), served.disconnects) == (0, 1)
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(head(len(body)) + body)
        assert answer(sock)[0] == 200


@pytest.mark.parametrize("served", [limits.Limits(min_body_rate=20_000)], indirect=True)
def test_a_large_body_below_the_minimum_rate_gets_408(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "BODY_RATE_GRACE", 0.5)
    body = hostile_body(600_000)  # 1.8 MB: more than one read (256 KiB) comes after the headers
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(head(len(body)) + body[:70_000])  # 3.5 s worth at the minimum rate
        sock.settimeout(0.2)
        reply = b""
        for index in range(300):  # then 1 KB every 0.2 s: 5 KB/s, a quarter of the minimum
            try:
                sock.sendall(body[70_000 + 1000 * index : 71_000 + 1000 * index])
                reply += sock.recv(65536)
            except TimeoutError:
                continue
            if reply:
                break
        sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError):  # answered: closed, its buffer let go
            while chunk := sock.recv(65536):  # the answer's body may come in a later segment
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 408") and b"min_body_rate=20000" in reply, reply[:300]
    for _ in range(500):
        if served.connections() == 0:
            break
        time.sleep(0.02)
    assert served.connections() == 0

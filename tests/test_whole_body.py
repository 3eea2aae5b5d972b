"""Large bodies received whole (runtime/server/wholebody.py, serving.py, factory.read_body) and the
session scan done as their bytes arrive (strictjson.SessionScan), over a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
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
        # An app of our own: its limits are handed to the protocol (create_app's carry theirs).
        self.server = uvicorn.Server(serving.server_config(app, limits=settings, log_level="warning"))
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
    monkeypatch.setattr(limits, "BODY_RATE_GRACE", 0.5)
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


# -- one min_body_rate: the app's 408 and the protocol's judgement at the cap --------------------
class Login(BaseModel):
    username: str
    password: str


class NobodyLogsIn:
    def login(self, username: str, password: str) -> str | None:
        return None

    def account_for_session(self, session: str) -> None:
        return None


LOGIN_DOCUMENT = {
    "components": {
        "schemas": {
            "LoginRequest": {
                "type": "object",
                "required": ["username", "password"],
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
            }
        }
    }
}


def login_app(**settings: Any) -> Any:
    """The factory's portal app, login only: its limits are set once, as ``create_app`` sets them."""
    return factory.build_portal_app(
        NobodyLogsIn(),
        services={},
        paths={"auth": "/auth"},
        login_model=Login,
        served_document=json.dumps(LOGIN_DOCUMENT).encode(),
        limits=limits.Limits(**settings),
        logger=logging.getLogger("test_whole_body"),
    )


LOGIN_BODY = b" " * 1000 + b'{"username": "u", "password": "p"}'.ljust(1000)


def login_head(size: int) -> bytes:
    return head(size).replace(b"/echo", b"/auth")


def wait_until(condition: Callable[[], Any]) -> Any:
    for _ in range(1000):  # bounded by count, not by a clock
        if found := condition():
            return found
        time.sleep(0.01)
    return condition()


@contextlib.contextmanager
def serving_config(config: Any) -> Iterator[uvicorn.Server]:
    sock = serving.listening_socket("127.0.0.1", 0)
    config.port = sock.getsockname()[1]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def status_of(reply: bytes) -> int:
    assert reply.startswith(b"HTTP/1.1 "), reply[:200]
    return int(reply.split()[1])


def read_reply(sock: socket.socket) -> bytes:
    """What the server sends until it closes, or one whole answer on a connection kept alive."""
    reply = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            reply += chunk
            head, _, rest = reply.partition(b"\r\n\r\n")
            length = next(
                (line.split(b":")[1] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")),
                None,
            )
            if length is not None and len(rest) >= int(length):
                break
    return reply


def receiving(server: uvicorn.Server, at_least: int) -> serving.GuardedH11Protocol | None:
    """The guarded connection that has received ``at_least`` bytes of a body, if any."""
    guarded = [c for c in server.server_state.connections if isinstance(c, serving.GuardedH11Protocol)]
    return next((c for c in guarded if c._received >= at_least), None)


@pytest.mark.parametrize("rate", [20_000, 100])
def test_one_min_body_rate_judges_a_body_in_the_app_and_in_the_protocol(
    rate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """min_body_rate is set once, in the app's limits; server_config is given no rate. The same body
    (1,000 bytes at once, the rest later) is, at 20,000 bytes/s, slow for the protocol (closed at
    the cap for a newcomer) and late for the app (408); at 100 bytes/s it is neither. The grace,
    patched in limits only, moves both. No assertion depends on how fast the machine is: the body's
    start is set back rather than waited for, and the ranking runs under a grace no stall outlasts."""
    monkeypatch.setattr(limits, "BODY_RATE_GRACE", 60.0)
    app = login_app(min_body_rate=rate)
    config = serving.server_config(app, max_connections=1, log_level="warning")
    assert config.http.limits is app.state.limits
    slow = rate == 20_000
    with serving_config(config) as server:
        port = config.port
        first = socket.create_connection(("127.0.0.1", port), timeout=10)
        first.sendall(login_head(len(LOGIN_BODY)) + LOGIN_BODY[:1000])
        protocol = wait_until(lambda: receiving(server, 1000))
        # A second into the body: 20,000 bytes due at 20,000 bytes/s (1,000 came), 100 at 100 bytes/s.
        protocol._request_started -= 1.0
        assert protocol.eviction_rank() == (2 if slow else None)  # slow, and within its grace: not late
        newcomer = socket.create_connection(("127.0.0.1", port), timeout=10)
        newcomer.sendall(login_head(len(LOGIN_BODY)) + LOGIN_BODY)
        if slow:  # the slow body is closed to make room, and the newcomer is answered by the app
            assert read_reply(first) == b""
            assert status_of(read_reply(newcomer)) == 401
        else:  # nothing may go: the newcomer is turned away, the body goes on and is answered
            assert status_of(read_reply(newcomer)) == 503
            first.sendall(LOGIN_BODY[1000:])
            assert status_of(read_reply(first)) == 401
        first.close()
        newcomer.close()
        assert wait_until(lambda: not server.server_state.connections)

        # The app: the same body, its second half sent once a grace of 3 s is over.
        monkeypatch.setattr(limits, "BODY_RATE_GRACE", 3.0)
        late = socket.create_connection(("127.0.0.1", port), timeout=10)
        late.sendall(login_head(len(LOGIN_BODY)) + LOGIN_BODY[:1000])
        time.sleep(3.5)  # pacing only: past the grace, and far behind 20,000 bytes/s
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            late.sendall(LOGIN_BODY[1000:])
        reply = read_reply(late)
        late.close()
    if slow:
        assert status_of(reply) == 408 and b"min_body_rate=20000" in reply, reply[:300]
    else:
        assert status_of(reply) == 401, reply[:300]


def test_a_second_setting_of_the_rate_is_refused_unless_it_agrees() -> None:
    app = login_app(min_body_rate=4096)
    assert serving.server_config(app, min_body_rate=4096).http.limits.min_body_rate == 4096
    with pytest.raises(ValueError, match="min_body_rate=1000 differs from the app's min_body_rate=4096"):
        serving.server_config(app, min_body_rate=1000)
    with pytest.raises(ValueError, match="the app has its own"):
        serving.server_config(app, limits=limits.Limits())
    # An app of one's own, with no limits of its own: handed, or built from the old parameter.
    plain = FastAPI()
    assert serving.server_config(plain, min_body_rate=1000).http.limits == limits.Limits(min_body_rate=1000)
    assert serving.server_config(plain).http.limits == limits.Limits()
    # The app's own limits are found through middleware wrapping it; a fractional old rate rounds up.
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    wrapped = ProxyHeadersMiddleware(ProxyHeadersMiddleware(app))
    assert serving.server_config(wrapped).http.limits.min_body_rate == 4096
    with pytest.raises(ValueError, match="differs from the app's"):
        serving.server_config(wrapped, min_body_rate=1000)
    assert serving.server_config(plain, min_body_rate=0.5).http.limits.min_body_rate == 1

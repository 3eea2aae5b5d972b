"""The client against a hostile server on a real loopback socket: compression bombs (stacked
encodings included, login too), duplicate keys, oversized codes and messages, and what every error
says (the URL, the portal's code and message, host, port and the OS reason)."""

from __future__ import annotations

import gzip
import json
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sandbox_process import free_port

LIMIT = 1024 * 1024
Reply = tuple[int, dict[str, str], bytes]


class Hostile:
    """A loopback HTTP server whose answers the test sets per path."""

    def __init__(self) -> None:
        self.replies: dict[str, Callable[[dict[str, Any]], Reply]] = {}
        self.seen: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.seen.append(self.path)
                status, headers, content = owner.replies[self.path](body)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.replies["/auth"] = lambda body: (200, {}, b'{"error_code": "0", "message": "ok", "session": "tok"}')

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    yield server
    server.close()


def client(qc: Any, base_url: str, **options: Any) -> Any:
    settings: dict[str, Any] = {"username": "user-h5", "password": "Secret-h5!", "madonvi": "000.00.01.H22", "backoff": 0, "max_response_bytes": LIMIT}
    return qc.Client(base_url, **{**settings, **options})


@pytest.fixture(scope="module")
def qc(models: Any) -> Any:
    import qcvn120_client

    return qcvn120_client


def bomb(layers: int) -> bytes:
    data = b" " * (256 * 1024 * 1024)  # 256 MiB of spaces: a valid JSON prefix, whatever the limit
    for _ in range(layers):
        data = gzip.compress(data, compresslevel=9)
    return data


@pytest.fixture(scope="module")
def stacked() -> bytes:
    data = bomb(3)
    assert len(data) < 2000
    return data


@pytest.mark.parametrize("path", ["/auth", "/integration"])
def test_stacked_gzip_is_refused_within_a_small_multiple_of_the_limit(qc: Any, hostile: Hostile, stacked: bytes, path: str) -> None:
    hostile.replies[path] = lambda body: (200, {"Content-Encoding": "gzip, gzip, gzip"}, stacked)
    portal = client(qc, hostile.base_url)
    tracemalloc.start()
    try:
        with pytest.raises(qc.ResponseFormatError) as caught:
            portal.lay_thu_tuc(ma_tthc="1.000001")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * LIMIT, f"peak {peak} bytes"
    assert f"exceeds {LIMIT} bytes" in str(caught.value) and hostile.base_url + path in str(caught.value)


def test_deflate_stacked_is_refused_too(qc: Any, hostile: Hostile) -> None:
    import zlib

    data = zlib.compress(zlib.compress(b" " * (64 * 1024 * 1024), 9), 9)
    hostile.replies["/integration"] = lambda body: (200, {"Content-Encoding": "deflate, deflate"}, data)
    with pytest.raises(qc.ResponseFormatError, match="exceeds"):
        client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001")


def test_a_compressed_answer_within_the_limit_is_read(qc: Any, hostile: Hostile) -> None:
    answer = json.dumps({"error_code": "0", "message": "ok", "result": []}).encode()
    hostile.replies["/integration"] = lambda body: (200, {"Content-Encoding": "gzip, gzip"}, gzip.compress(gzip.compress(answer)))
    assert client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001") == []


@pytest.mark.parametrize("path", ["/auth", "/integration"])
def test_duplicate_keys_are_refused(qc: Any, hostile: Hostile, path: str) -> None:
    hostile.replies[path] = lambda body: (200, {}, b'{"error_code": "-1", "message": "no", "error_code": "0", "session": "t", "result": []}')
    with pytest.raises(qc.ResponseFormatError, match="repeats a key"):
        client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001")


def test_a_huge_error_code_and_message_are_not_carried_whole(qc: Any, hostile: Hostile) -> None:
    code = "9" * 4000
    hostile.replies["/integration"] = lambda body: (200, {}, ('{"error_code": ' + code + ', "message": "' + "m" * 100_000 + '"}').encode())
    with pytest.raises(qc.ResponseFormatError) as caught:
        client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001")
    assert len(str(caught.value)) < 400 and "9999999999" not in str(caught.value)
    hostile.replies["/integration"] = lambda body: (200, {}, json.dumps({"error_code": "-7", "message": "m" * 100_000}).encode())
    with pytest.raises(qc.PortalError) as refused:
        client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001")
    assert len(str(refused.value)) < 600 and refused.value.code == "-7"


def test_a_server_that_is_not_a_portal_is_named(qc: Any, hostile: Hostile) -> None:
    hostile.replies["/auth"] = lambda body: (501, {"Content-Type": "text/html"}, b"<h1>Not Implemented</h1>")
    with pytest.raises(qc.PortalNotFoundError) as caught:
        client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001")
    text = str(caught.value)
    assert f"no portal answered at {hostile.base_url}/auth: HTTP 501" in text and "check base_url" in text
    assert hostile.seen == ["/auth"]  # not retried
    hostile.replies["/auth"] = lambda body: (200, {"Content-Type": "text/html"}, b"<html>welcome</html>")
    with pytest.raises(qc.PortalNotFoundError, match="no portal answered at"):
        client(qc, hostile.base_url).login()


def test_a_stopped_server_names_host_port_and_reason(qc: Any) -> None:
    port = free_port()
    with pytest.raises(qc.TransportError) as caught:
        client(qc, f"http://127.0.0.1:{port}", max_retries=1).lay_thu_tuc(ma_tthc="1.000001")
    text = str(caught.value)
    assert f"127.0.0.1:{port}" in text and "ConnectError" in text and "refused" in text.lower()
    assert caught.value.url == f"http://127.0.0.1:{port}/auth" and caught.value.reason

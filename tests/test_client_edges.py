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

from qcvngen.examples import example_record
from qcvngen.pipeline import BuildResult
from support.sandbox_process import free_port

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
    settings: dict[str, Any] = {
        "username": "user-h5",
        "password": "Secret-h5!",
        "madonvi": "000.00.01.H22",
        "backoff": 0,
        "max_response_bytes": LIMIT,
    }
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


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/auth", "/integration"])
def test_stacked_gzip_is_refused_within_a_small_multiple_of_the_limit(
    qc: Any, hostile: Hostile, stacked: bytes, path: str
) -> None:
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
    hostile.replies["/integration"] = lambda body: (
        200,
        {"Content-Encoding": "gzip, gzip"},
        gzip.compress(gzip.compress(answer)),
    )
    assert client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001") == []


@pytest.mark.parametrize("path", ["/auth", "/integration"])
def test_duplicate_keys_are_refused(qc: Any, hostile: Hostile, path: str) -> None:
    hostile.replies[path] = lambda body: (
        200,
        {},
        b'{"error_code": "-1", "message": "no", "error_code": "0", "session": "t", "result": []}',
    )
    with pytest.raises(qc.ResponseFormatError, match="repeats a key"):
        client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001")


def test_a_huge_error_code_and_message_are_not_carried_whole(qc: Any, hostile: Hostile) -> None:
    code = "9" * 4000
    hostile.replies["/integration"] = lambda body: (
        200,
        {},
        ('{"error_code": ' + code + ', "message": "' + "m" * 100_000 + '"}').encode(),
    )
    with pytest.raises(qc.ResponseFormatError) as caught:
        client(qc, hostile.base_url).lay_thu_tuc(ma_tthc="1.000001")
    assert len(str(caught.value)) < 400 and "9999999999" not in str(caught.value)
    hostile.replies["/integration"] = lambda body: (
        200,
        {},
        json.dumps({"error_code": "-7", "message": "m" * 100_000}).encode(),
    )
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


class AllOrNothing:
    """DongBoHoSoMC as contracts.md §2 has it: a request is stored whole or not at all, and the
    refused records' keys come back in ``result``."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}  # MaHoSo -> times written
        self.requests: list[tuple[str, list[str]]] = []
        self.fail_next_update = False

    def __call__(self, body: dict[str, Any]) -> Reply:
        keys = [record["MaHoSo"] for record in body["data"]]
        updating = body["isUpdating"] == "True"
        self.requests.append((body["isUpdating"], keys))
        if updating and self.fail_next_update:
            self.fail_next_update = False
            return 502, {}, b"bad gateway"
        refused = [k for k in keys if (k in self.held) != updating]
        if refused:
            code, said = (
                ("-4", "không tồn tại — does not exist")
                if updating
                else ("-3", "Hồ sơ đã tồn tại — dossier already exists")
            )
            answer = {
                "error_code": code,
                "message": f"{said}: {', '.join(refused)}",
                "result": [{"MaHoSo": k} for k in refused],
            }
            return 200, {}, json.dumps(answer).encode()
        for key in keys:
            self.held[key] = self.held.get(key, 0) + 1
        return 200, {}, b'{"error_code": "0", "message": "ok"}'


@pytest.fixture()
def dossiers(result: BuildResult) -> Callable[..., list[dict[str, Any]]]:
    reg = result.regulation
    assert reg is not None
    base = example_record(reg, "DongBoHoSoMCRecord")
    return lambda *keys: [{**base, "MaHoSo": key} for key in keys]


def test_new_or_update_resends_only_the_existing_ones_as_updates(qc: Any, hostile: Hostile, dossiers: Any) -> None:
    fake = AllOrNothing()
    hostile.replies["/integration"] = fake
    portal = client(qc, hostile.base_url, batch_size=3)
    portal.dong_bo_ho_so_mc(dossiers("HS-OLD-1", "HS-OLD-2"))
    mixed = dossiers("HS-OLD-1", "HS-NEW-1", "HS-OLD-2", "HS-NEW-2")
    with pytest.raises(qc.AlreadyExistsError) as caught:
        portal.dong_bo_ho_so_mc(mixed)
    assert caught.value.keys == ("HS-OLD-1", "HS-OLD-2") and "HS-OLD-1" not in str(caught.value)
    assert "batch 1 of 2: 0 record(s) of earlier batches were accepted, the other 4 were not" in str(caught.value)
    fake.requests.clear()
    results = portal.dong_bo_ho_so_mc_new_or_update(mixed)
    assert fake.held == {"HS-OLD-1": 2, "HS-OLD-2": 2, "HS-NEW-1": 1, "HS-NEW-2": 1}
    assert fake.requests == [
        ("False", ["HS-OLD-1", "HS-NEW-1", "HS-OLD-2"]),
        ("False", ["HS-NEW-1"]),
        ("True", ["HS-OLD-1", "HS-OLD-2"]),
        ("False", ["HS-NEW-2"]),
    ]
    assert [r.count for r in results] == [1, 2, 1]


def test_new_or_update_never_resends_when_the_outcome_is_unknown(qc: Any, hostile: Hostile, dossiers: Any) -> None:
    fake = AllOrNothing()
    hostile.replies["/integration"] = fake
    portal = client(qc, hostile.base_url)
    portal.dong_bo_ho_so_mc(dossiers("HS-U-1"))
    fake.fail_next_update = True
    with pytest.raises(qc.OutcomeUnknownError):
        portal.dong_bo_ho_so_mc_new_or_update(dossiers("HS-U-1", "HS-U-2"))
    updates = [r for r in fake.requests if r[0] == "True"]
    assert updates == [("True", ["HS-U-1"])]  # sent once, not retried


def test_async_new_or_update_behaves_the_same(qc: Any, hostile: Hostile, dossiers: Any) -> None:
    import asyncio

    fake = AllOrNothing()
    hostile.replies["/integration"] = fake
    fake.held["HS-A-1"] = 1

    async def run() -> list[Any]:
        async with qc.AsyncClient(
            hostile.base_url, username="u-h5", password="p-h5!", madonvi="000.00.01.H22", backoff=0
        ) as portal:
            return list(await portal.dong_bo_ho_so_mc_new_or_update(dossiers("HS-A-1", "HS-A-2")))

    results = asyncio.run(run())
    assert fake.held == {"HS-A-1": 2, "HS-A-2": 1} and [r.count for r in results] == [1, 1]

"""Client faults over real sockets: TLS, resets before and after sending, slow drips, session expiry.

A small TCP proxy sits between the generated client and the real sandbox process and misbehaves on
purpose; after every scenario the sandbox's own receipts must show no duplicate submission.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import uvicorn

from support.portal_calls import MADONVI, opencps_dossier
from support.sandbox_process import Sandbox, free_port, start_sandbox, view

# Full suite only (`pytest -m ""`, .ci/run): TLS, resets and slow drips against real servers.
pytestmark = pytest.mark.slow


class FaultProxy:
    """Forwards loopback TCP to the sandbox; ``mode`` decides how each new connection misbehaves."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.failures_left: int | None = None  # misbehave for this many connections, then pass
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            mode = self.mode
            if self.failures_left is not None:
                if self.failures_left <= 0:
                    mode = "pass"
                self.failures_left -= 1
            threading.Thread(target=self._serve, args=(client, mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        with contextlib.suppress(OSError):  # the client gave up first: the point of most scenarios
            self._misbehave(client, mode)

    def _misbehave(self, client: socket.socket, mode: str) -> None:
        with client:
            if mode == "reset-before":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return  # RST before a byte of the request was read
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with upstream:
                request = self._read_request(client)
                upstream.sendall(request)
                if mode == "reset-after":
                    time.sleep(0.3)  # the sandbox has the request; drop the line before any answer
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return
                reply = self._read_all(upstream)
                if mode == "drip":
                    head, _, body = reply.partition(b"\r\n\r\n")
                    client.sendall(head + b"\r\n\r\n")
                    for byte in body:  # the body a byte at a time, each well within the read timeout
                        client.sendall(bytes([byte]))
                        time.sleep(0.05)
                    return
                client.sendall(reply)

    @staticmethod
    def _read_request(sock: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        while len(body) < length:
            body += sock.recv(65536)
        return head + b"\r\n\r\n" + body

    @staticmethod
    def _read_all(sock: socket.socket) -> bytes:
        sock.settimeout(10)
        data = b""
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                if len(body) >= length:
                    return data
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = start_sandbox(tmp_path_factory.mktemp("faults") / "state.sqlite3", "--session-ttl", "2")
    yield running
    running.stop()


def receipts(sandbox: Sandbox) -> dict[str, Any]:
    return dict(view(f"{sandbox.base_url}/sandbox/api/receipts").json())


def stored_dossiers(sandbox: Sandbox) -> list[str]:
    return [d["MaHoSo"] for d in view(f"{sandbox.base_url}/sandbox/api/dossiers").json()["dossiers"]]


def client_for(models: Any, port: int, **options: Any) -> Any:
    import qcvn120_client

    # No keep-alive: the proxy serves one request per connection, and each scenario counts connections.
    transport = httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
    return qcvn120_client.Client(
        f"http://127.0.0.1:{port}",
        username="sandbox",
        password="sandbox",
        madonvi=MADONVI,
        backoff=0.01,
        transport=transport,
        **options,
    )


def test_reset_before_and_after_sending_never_duplicates(sandbox: Sandbox, models: Any) -> None:
    import qcvn120_client

    proxy = FaultProxy(sandbox.port)
    try:
        with client_for(models, proxy.port, timeout=5) as portal:
            portal.login()
            proxy.mode = "reset-after"
            with pytest.raises(qcvn120_client.OutcomeUnknownError):
                portal.dong_bo_ho_so_mc([opencps_dossier("FAULT-AFTER-1")])
            proxy.mode = "reset-before"
            with pytest.raises((qcvn120_client.OutcomeUnknownError, qcvn120_client.TransportError)):
                portal.dong_bo_ho_so_mc([opencps_dossier("FAULT-BEFORE-1")])
            proxy.mode = "pass"
            # Reconciling the unknown outcome: a resend as new is refused as a duplicate, never stored twice.
            with pytest.raises(qcvn120_client.AlreadyExistsError):
                portal.dong_bo_ho_so_mc([opencps_dossier("FAULT-AFTER-1")])
            # A pull survives a reset by retrying.
            proxy.mode = "reset-before"
            proxy.failures_left = 2
            assert portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99")[0].ten_tthc == "Đăng ký khai sinh"
    finally:
        proxy.close()
    held = stored_dossiers(sandbox)
    assert held.count("FAULT-AFTER-1") == 1 and "FAULT-BEFORE-1" not in held
    assert len(held) == len(set(held))


def test_slow_drip_times_out_and_a_push_is_not_resent(sandbox: Sandbox, models: Any) -> None:
    import qcvn120_client

    proxy = FaultProxy(sandbox.port)
    try:
        with client_for(models, proxy.port, timeout=httpx.Timeout(1.0), deadline=1.5) as portal:
            portal.login()
            proxy.mode = "drip"
            before = proxy.connections
            # The proxy drips the answer forever: only the client's deadline can end this call.
            with pytest.raises(qcvn120_client.OutcomeUnknownError) as refused:
                portal.dong_bo_ho_so_mc([opencps_dossier("FAULT-DRIP-1")])
            assert "deadline" in str(refused.value), str(refused.value)
            assert proxy.connections - before == 1, "a push with an unknown outcome is not resent"
    finally:
        proxy.close()
    assert stored_dossiers(sandbox).count("FAULT-DRIP-1") == 1


def test_session_expiry_in_the_middle_of_a_batch_relogs_once(sandbox: Sandbox, models: Any) -> None:
    records = [opencps_dossier(f"FAULT-TTL-{i}") for i in range(6)]
    with client_for(models, sandbox.port, batch_size=2, session_ttl=3600) as portal:
        first = portal.dong_bo_ho_so_mc(records[:2])
        time.sleep(2.5)  # the sandbox's sessions live 2 s; the client still believes in its token
        rest = portal.dong_bo_ho_so_mc(records[2:])
    assert [r.error_code for r in first + rest] == ["0", "0", "0"]
    held = stored_dossiers(sandbox)
    assert all(held.count(f"FAULT-TTL-{i}") == 1 for i in range(6))


@pytest.fixture(scope="module")
def tls_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, trustme.CA, trustme.CA]]:
    """The sandbox app over HTTPS with a certificate for 127.0.0.1 from a private CA."""
    from qcvngen.sandbox import create_sandbox_app

    folder = tmp_path_factory.mktemp("tls")
    ca, other_ca = trustme.CA(), trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    app, _ = create_sandbox_app(":memory:")
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ssl_certfile=str(folder / "server.pem")
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"https://127.0.0.1:{port}", ca, other_ca
    server.should_exit = True
    thread.join(timeout=10)


def test_tls_fails_closed_and_works_with_the_right_ca(
    tls_portal: tuple[str, trustme.CA, trustme.CA], models: Any, tmp_path: Path
) -> None:
    import qcvn120_client

    url, ca, other_ca = tls_portal
    options = {"username": "sandbox", "password": "sandbox", "madonvi": MADONVI, "max_retries": 0}
    # system trust store: self-signed → refused
    with qcvn120_client.Client(url, **options) as portal, pytest.raises(qcvn120_client.TransportError):
        portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99")
    wrong = ssl.create_default_context()
    other_ca.configure_trust(wrong)
    # a CA that did not sign it
    with qcvn120_client.Client(url, verify=wrong, **options) as portal, pytest.raises(qcvn120_client.TransportError):
        portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99")
    host_mismatch = url.replace("127.0.0.1", "localhost")
    right = ssl.create_default_context()
    ca.configure_trust(right)
    # right CA, wrong host name
    with (
        qcvn120_client.Client(host_mismatch, verify=right, **options) as portal,
        pytest.raises(qcvn120_client.TransportError),
    ):
        portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with qcvn120_client.Client(url, verify=str(bundle), **options) as portal:  # a custom CA bundle works
        assert portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99")[0].ten_tthc == "Đăng ký khai sinh"
    with pytest.raises(ValueError):
        qcvn120_client.Client(url, verify=False, **options)

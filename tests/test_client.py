"""The generated client, driven through httpx.MockTransport against a fake portal that follows
docs/wire-conventions.md: login, batching, sessions, retries, typed errors, and no secret in any log."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
import pytest

from qcvngen.examples import example_record
from qcvngen.pipeline import BuildResult

BASE = "http://portal.test"
USERNAME = "tinh-h22-user"
PASSWORD = "S3cr3t-Pa55word!"
MADONVI = "000.00.01.H22"
# Personal data put into the records: none of it may leave the client except in request bodies.
PERSONAL = {
    "ChuHoSo": "Trần Thị Bí Mật",
    "SoDienThoai": "0987654321",
    "Email": "bi.mat@example.vn",
    "MaDoiTuong": "079123456789",
}

Action = Callable[[httpx.Request, dict[str, Any]], "httpx.Response | None"]


def answer(status: int = 200, error_code: Any = 0, message: str = "Thành công", **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"error_code": error_code, "message": message, **extra})


class Portal:
    """A fake adapter: /auth issues tokens, /integration and /share answer per the wire conventions.

    ``script`` holds one action per coming data call (not login): an action returns a response to
    send instead of the normal answer, or None to carry on normally.
    """

    def __init__(self, result: dict[str, Any] | None = None, login_delay: float = 0.0) -> None:
        self.logins = 0
        self.calls: list[tuple[str, dict[str, Any], httpx.Headers]] = []
        self.tokens: set[str] = set()
        self.issued: list[str] = []
        self.held: set[str] = set()
        self.script: list[Action] = []
        self.result = result or {}
        self.login_delay = login_delay
        self.auth_bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def expire_sessions(self) -> None:
        self.tokens.clear()

    def login(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self._lock:
            self.logins += 1
            self.auth_bodies.append(body)
        if body != {"username": USERNAME, "password": PASSWORD}:
            return answer(401, -2, "Sai tên đăng nhập hoặc mật khẩu")
        token = f"tok-{uuid.uuid4().hex}"
        with self._lock:
            self.tokens.add(token)
            self.issued.append(token)
        return answer(session=token, message="Đăng nhập thành công")

    def data_call(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self._lock:
            self.calls.append((request.url.path, body, request.headers))
            action = self.script.pop(0) if self.script else None
        if action is not None:
            scripted = action(request, body)
            if scripted is not None:
                return scripted
        if body.get("session") not in self.tokens or body.get("madonvi") != MADONVI:
            return answer(401, -2, "Phiên làm việc không hợp lệ")
        service = body["service"]
        if service == "DongBoHoSoMC":
            codes = [record["MaHoSo"] for record in body["data"]]
            if body["isUpdating"] == "False" and any(code in self.held for code in codes):
                return answer(200, -3, "Hồ sơ đã tồn tại")
            self.held.update(codes)
            return answer(message="Đồng bộ thành công")
        if "data" in body:
            return answer(message="Đồng bộ thành công")
        return answer(result=[self.result])

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth":
            if self.login_delay:
                time.sleep(self.login_delay)
            return self.login(request)
        return self.data_call(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth" and self.login_delay:
            await asyncio.sleep(self.login_delay)
            return self.login(request)
        return self.handler(request)

    def data_calls(self, service: str | None = None) -> list[dict[str, Any]]:
        return [body for _, body, _ in self.calls if service is None or body.get("service") == service]


@pytest.fixture(scope="module")
def qc(models: Any) -> ModuleType:
    import qcvn120_client

    assert qcvn120_client.models is models
    module: ModuleType = qcvn120_client
    return module


@pytest.fixture()
def dossier(result: BuildResult) -> dict[str, Any]:
    assert result.regulation is not None
    return example_record(result.regulation, "DongBoHoSoMCRecord") | PERSONAL


@pytest.fixture()
def procedure(result: BuildResult) -> dict[str, Any]:
    assert result.regulation is not None
    return example_record(result.regulation, "LayThuTucResult")


def dossiers(dossier: dict[str, Any], count: int) -> list[dict[str, Any]]:
    out = []
    for index in range(count):
        record = copy.deepcopy(dossier)
        record["MaHoSo"] = f"H22.01-200101-{index:04d}"
        out.append(record)
    return out


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(qc: ModuleType, portal: Portal, **options: Any) -> Any:
    options.setdefault("backoff", 0.0)
    client = qc.Client(
        BASE,
        username=USERNAME,
        password=PASSWORD,
        madonvi=MADONVI,
        transport=httpx.MockTransport(portal.handler),
        **options,
    )
    client._sleep = Sleeps()
    return client


def make_async_client(qc: ModuleType, portal: Portal, **options: Any) -> Any:
    options.setdefault("backoff", 0.0)
    client = qc.AsyncClient(
        BASE,
        username=USERNAME,
        password=PASSWORD,
        madonvi=MADONVI,
        transport=httpx.MockTransport(portal.async_handler),
        **options,
    )
    sleeps = Sleeps()

    async def sleep(delay: float) -> None:
        sleeps(delay)

    client._sleep = sleep
    client.sleeps = sleeps
    return client


# ---------------------------------------------------------------------------------------------
# Login and push


def test_login_then_push_sends_the_canonical_envelope(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    record = dossier | {"LoaiDoiTuong": 1, "GhiChu": None}  # a number where a code is expected; None = absent
    with make_client(qc, portal) as client:
        results = client.dong_bo_ho_so_mc([record])
    assert portal.logins == 1 and portal.auth_bodies == [{"username": USERNAME, "password": PASSWORD}]
    assert results == [qc.BatchResult(error_code="0", message="Đồng bộ thành công", count=1)]
    path, body, headers = portal.calls[0]
    assert path == "/integration"
    assert list(body) == ["session", "madonvi", "service", "data", "isUpdating"]
    assert body["session"] == portal.issued[0] and body["madonvi"] == MADONVI and body["service"] == "DongBoHoSoMC"
    assert body["isUpdating"] == "False"
    sent = body["data"][0]
    assert sent["LoaiDoiTuong"] == "1" and "GhiChu" not in sent and sent["ChuHoSo"] == PERSONAL["ChuHoSo"]
    assert sent == qc.models.DongBoHoSoMCRecord.model_validate(record).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    assert headers["content-type"] == "application/json" and "dstcode" not in headers
    assert client._http.is_closed


def test_dstcode_header_is_sent_only_when_set(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    with make_client(qc, portal, dstcode="DVCQG-TEST") as client:
        client.cap_nhat_tien_do_ho_so_mc([])  # nothing to send: no request at all
        assert portal.calls == [] and portal.logins == 0
        client.dong_bo_ho_so_mc([dossier])
    assert portal.calls[0][2]["dstcode"] == "DVCQG-TEST"


def test_records_are_sent_in_batches(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    with make_client(qc, portal) as client:
        results = client.dong_bo_ho_so_mc(dossiers(dossier, 250))
    assert [len(body["data"]) for body in portal.data_calls()] == [100, 100, 50]
    assert [r.count for r in results] == [100, 100, 50] and portal.logins == 1
    with make_client(qc, portal, batch_size=7) as client:
        client.dong_bo_ho_so_mc(dossiers(dossier, 15), is_updating=True)
    assert [len(body["data"]) for body in portal.data_calls()[3:]] == [7, 7, 1]


def test_is_updating_is_sent_as_true_or_false(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    with make_client(qc, portal) as client:
        client.dong_bo_ho_so_mc([dossier])
        client.dong_bo_ho_so_mc([dossier], is_updating=True)
        with pytest.raises(qc.AlreadyExistsError):
            client.dong_bo_ho_so_mc([dossier], is_updating=False)
    assert [body["isUpdating"] for body in portal.data_calls()] == ["False", "True", "False"]


@pytest.mark.parametrize(
    ("error_code", "message", "expected"),
    [
        (-3, "Hồ sơ đã tồn tại", "-3"),
        ("3", "Hồ sơ đã tồn tại", "3"),
        ("-3", "", "-3"),
        (" 3 ", "", "3"),
        (-9, "Mã hồ sơ ĐÃ TỒN TẠI", "-9"),
    ],
)
def test_already_exists(qc: ModuleType, dossier: dict[str, Any], error_code: Any, message: str, expected: str) -> None:
    portal = Portal()
    portal.script = [lambda request, body: answer(200, error_code, message)]
    with make_client(qc, portal) as client, pytest.raises(qc.AlreadyExistsError) as caught:
        client.dong_bo_ho_so_mc([dossier])
    assert isinstance(caught.value, qc.PortalError)
    assert caught.value.code == expected and caught.value.message == message


@pytest.mark.parametrize("error_code", [0, "0", " 0", 0.0])
def test_error_code_zero_as_number_or_string_is_success(
    qc: ModuleType, dossier: dict[str, Any], error_code: Any
) -> None:
    portal = Portal()
    portal.script = [lambda request, body: answer(200, error_code, "Đồng bộ thành công")]
    with make_client(qc, portal) as client:
        assert client.dong_bo_ho_so_mc([dossier])[0].error_code == "0"


@pytest.mark.parametrize(("error_code", "status"), [(-4, 200), ("-4", 200), (-1, 400), ("ERR_X", 200)])
def test_non_zero_error_code_is_a_portal_error(
    qc: ModuleType, dossier: dict[str, Any], error_code: Any, status: int
) -> None:
    portal = Portal()
    portal.script = [lambda request, body: answer(status, error_code, "Hồ sơ không tồn tại")]
    with make_client(qc, portal) as client, pytest.raises(qc.PortalError) as caught:
        client.dong_bo_ho_so_mc([dossier])
    assert type(caught.value) is qc.PortalError
    assert caught.value.code == str(error_code).strip() and caught.value.status == status
    assert "Hồ sơ không tồn tại" in str(caught.value) and len(portal.calls) == 1


def test_a_failed_batch_tells_how_many_records_were_accepted(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    portal.script = [lambda r, b: None, lambda r, b: answer(200, -4, "Lỗi dữ liệu")]
    with make_client(qc, portal) as client, pytest.raises(qc.PortalError) as caught:
        client.dong_bo_ho_so_mc(dossiers(dossier, 250))
    error = caught.value
    assert (error.batch, error.batches, error.accepted) == (2, 3, 100)
    assert "batch 2 of 3" in str(error) and "100 record(s) of earlier batches were accepted" in str(error)
    assert len(portal.calls) == 2


# ---------------------------------------------------------------------------------------------
# Sessions


@pytest.mark.parametrize("rejection", ["expire", "200 -2", "401 empty"])
def test_session_expiry_mid_batch_logs_in_again_exactly_once(
    qc: ModuleType, dossier: dict[str, Any], rejection: str
) -> None:
    portal = Portal()

    def expire(request: httpx.Request, body: dict[str, Any]) -> httpx.Response | None:
        portal.expire_sessions()
        if rejection == "200 -2":
            return answer(200, "-2", "Phiên làm việc không hợp lệ")
        if rejection == "401 empty":
            return httpx.Response(401)
        return None

    portal.script = [lambda r, b: None, expire]
    with make_client(qc, portal) as client:
        results = client.dong_bo_ho_so_mc(dossiers(dossier, 250))
    assert portal.logins == 2 and len(results) == 3
    sessions = [body["session"] for body in portal.data_calls()]
    assert sessions == [portal.issued[0], portal.issued[0], portal.issued[1], portal.issued[1]]
    assert [len(body["data"]) for body in portal.data_calls()] == [100, 100, 100, 50]


def test_a_fresh_session_rejected_again_is_a_session_error_not_a_loop(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    portal.script = [lambda r, b: answer(401, -2, "Phiên làm việc không hợp lệ")] * 5
    with make_client(qc, portal) as client, pytest.raises(qc.SessionError) as caught:
        client.dong_bo_ho_so_mc([dossier])
    assert portal.logins == 2 and len(portal.calls) == 2 and caught.value.code == "-2"


def test_session_error_codes_are_configurable(qc: ModuleType) -> None:
    portal = Portal()
    portal.script = [lambda r, b: answer(200, 99, "Session expired")]
    with make_client(qc, portal, session_error_codes=("-2", "99")) as client:
        assert client.lay_thu_tuc(ma_tthc="1.0") != []
    assert portal.logins == 2


def test_session_is_renewed_after_session_ttl(qc: ModuleType) -> None:
    portal = Portal()
    with make_client(qc, portal) as client:
        client.lay_thu_tuc(ma_tthc="1.0")
        client.lay_thu_tuc(ma_tthc="1.0")
        assert portal.logins == 1
    with make_client(qc, portal, session_ttl=1e-9) as client:
        client.lay_thu_tuc(ma_tthc="1.0")
        client.lay_thu_tuc(ma_tthc="1.0")
    assert portal.logins == 3


def test_wrong_credentials_raise_session_error_without_retry(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    client = qc.Client(
        BASE,
        username=USERNAME,
        password="wrong-password",
        madonvi=MADONVI,
        transport=httpx.MockTransport(portal.handler),
    )
    with client, pytest.raises(qc.SessionError) as caught:
        client.dong_bo_ho_so_mc([dossier])
    assert portal.logins == 1 and portal.calls == []
    assert caught.value.status == 401 and "wrong-password" not in str(caught.value) + repr(caught.value)


def test_login_without_session_is_a_session_error(qc: ModuleType) -> None:
    transport = httpx.MockTransport(lambda request: answer(200, 0, "OK"))
    client = qc.Client(BASE, username=USERNAME, password=PASSWORD, madonvi=MADONVI, transport=transport)
    with client, pytest.raises(qc.SessionError):
        client.login()


def test_concurrent_threads_share_one_login(qc: ModuleType) -> None:
    portal = Portal(login_delay=0.2)
    client = make_client(qc, portal)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            client.lay_thu_tuc(ma_tthc="1.0")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    client.close()
    assert errors == [] and portal.logins == 1 and len(portal.calls) == 8


def test_async_gather_shares_one_login_and_behaves_like_the_sync_client(
    qc: ModuleType, dossier: dict[str, Any], procedure: dict[str, Any]
) -> None:
    portal = Portal(result=procedure, login_delay=0.1)

    async def main() -> tuple[list[Any], list[Any]]:
        async with make_async_client(qc, portal) as client:
            pulls = await asyncio.gather(*(client.lay_thu_tuc(ma_tthc=f"1.{i}") for i in range(10)))
            pushed = await client.dong_bo_ho_so_mc(dossiers(dossier, 250))
            with pytest.raises(qc.AlreadyExistsError) as caught:
                await client.dong_bo_ho_so_mc(dossiers(dossier, 1))
            assert caught.value.batch == 1
        assert client._http.is_closed
        return list(pulls), pushed

    pulls, pushed = asyncio.run(main())
    assert portal.logins == 1
    assert all(isinstance(p[0], qc.models.LayThuTucResult) for p in pulls)
    assert [r.count for r in pushed] == [100, 100, 50]


def test_async_session_expiry_and_retry_policy(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()

    def expire(request: httpx.Request, body: dict[str, Any]) -> None:
        portal.expire_sessions()

    async def main() -> Any:
        async with make_async_client(qc, portal) as client:
            portal.script = [expire]
            await client.dong_bo_ho_so_mc([dossier])
            assert portal.logins == 2
            portal.script = [
                lambda r, b: httpx.Response(503),
                lambda r, b: httpx.Response(429, headers={"Retry-After": "3"}),
            ]
            await client.lay_thu_tuc(ma_tthc="1.0")
            portal.script = [lambda r, b: httpx.Response(503)]
            with pytest.raises(qc.OutcomeUnknownError):
                await client.dong_bo_ho_so_mc([dossier], is_updating=True)
            return client

    client = asyncio.run(main())
    assert client.sleeps.delays == [0.0, 3.0]
    assert len(portal.calls) == 2 + 3 + 1


def test_client_and_async_client_have_the_same_surface(qc: ModuleType, result: BuildResult) -> None:
    assert result.regulation is not None

    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    assert public(qc.Client) - {"close"} == public(qc.AsyncClient) - {"aclose"}
    for packet in result.regulation.packets:
        sync, aio = getattr(qc.Client, packet.method), getattr(qc.AsyncClient, packet.method)
        assert inspect.signature(sync) == inspect.signature(aio), packet.name
        assert inspect.iscoroutinefunction(aio) and not inspect.iscoroutinefunction(sync)
    assert inspect.signature(qc.Client).parameters.keys() == inspect.signature(qc.AsyncClient).parameters.keys()
    defaults = {name: p.default for name, p in inspect.signature(qc.Client).parameters.items()}
    assert (
        defaults["auth_path"] == "/auth"
        and defaults["integration_path"] == "/integration"
        and defaults["share_path"] == "/share"
    )
    assert (
        defaults["batch_size"] == 100 and defaults["session_ttl"] == 600 and defaults["session_error_codes"] == ("-2",)
    )
    assert defaults["verify"] is True and defaults["max_retries"] == 3
    assert list(inspect.signature(qc.Client.dong_bo_ho_so_mc).parameters) == ["self", "records", "is_updating"]


# ---------------------------------------------------------------------------------------------
# Pulls and the retry policy


def test_pull_sends_params_and_returns_models(qc: ModuleType, procedure: dict[str, Any]) -> None:
    portal = Portal(result=procedure)
    with make_client(qc, portal, share_path="/chia-se") as client:
        found = client.lay_thu_tuc(ma_tthc="3.000181.000.00.00.H22")
    body = portal.data_calls()[0]
    assert body == {
        "session": portal.issued[0],
        "madonvi": MADONVI,
        "service": "LayThuTuc",
        "maTTHC": "3.000181.000.00.00.H22",
    }
    assert len(found) == 1 and isinstance(found[0], qc.models.LayThuTucResult)
    assert found[0].model_dump(by_alias=True, exclude_none=True, mode="json")["MATTHC"] == procedure["MATTHC"]


@pytest.mark.parametrize(("result_value", "count"), [(None, 0), ([], 0), ({"data": [{}]}, 1), ({}, 1)])
def test_pull_result_shapes(qc: ModuleType, result_value: Any, count: int) -> None:
    portal = Portal()
    portal.script = [lambda r, b: answer(result=result_value)]
    with make_client(qc, portal) as client:
        assert len(client.danh_sach_pakn_cho_xu_ly()) == count


def test_pull_result_that_does_not_fit_names_paths_not_values(qc: ModuleType) -> None:
    portal = Portal()
    portal.script = [lambda r, b: answer(result=[{"LOAITTHC": "Nguyễn Văn Riêng Tư"}])] * 2
    # LOAITTHC is not normative (its row is unknown): kept as sent by default, fatal when strict.
    with make_client(qc, portal) as client:
        (kept,) = client.lay_thu_tuc(ma_tthc="1.0")
    assert kept.loai_tthc == "Nguyễn Văn Riêng Tư"
    with make_client(qc, portal, strict_answers=True) as client, pytest.raises(qc.ResponseFormatError) as caught:
        client.lay_thu_tuc(ma_tthc="1.0")
    assert "result[0].LOAITTHC" in str(caught.value)
    assert "Riêng Tư" not in str(caught.value) and caught.value.__cause__ is None and caught.value.__context__ is None


def test_pull_retries_on_503_and_429_honouring_retry_after(qc: ModuleType, procedure: dict[str, Any]) -> None:
    portal = Portal(result=procedure)
    portal.script = [
        lambda r, b: httpx.Response(503),
        lambda r, b: httpx.Response(429, headers={"Retry-After": "7"}),
        lambda r, b: httpx.Response(502, headers={"Retry-After": "3600"}),
    ]
    with make_client(qc, portal, backoff=0.01) as client:
        found = client.lay_thu_tuc(ma_tthc="1.0")
    assert len(found) == 1 and len(portal.calls) == 4
    delays = client._sleep.delays
    assert len(delays) == 3 and 0.005 <= delays[0] <= 0.01 and delays[1] == 7.0 and delays[2] == 60.0  # capped


def test_pull_retries_on_transport_errors_then_gives_up(qc: ModuleType) -> None:
    portal = Portal()

    def drop(request: httpx.Request, body: dict[str, Any]) -> None:
        raise httpx.ReadTimeout("timed out", request=request)

    portal.script = [drop] * 10
    with make_client(qc, portal, max_retries=2) as client, pytest.raises(qc.RequestTimeout) as caught:
        client.lay_thu_tuc(ma_tthc="1.0")
    assert len(portal.calls) == 3 and caught.value.attempts == 3 and isinstance(caught.value, qc.TransportError)
    portal.script = [lambda r, b: httpx.Response(503)] * 10
    with make_client(qc, portal, max_retries=1) as client, pytest.raises(qc.ServiceUnavailableError) as unavailable:
        client.lay_thu_tuc(ma_tthc="1.0")
    assert unavailable.value.status == 503 and len(portal.calls) == 5


@pytest.mark.parametrize("failure", ["503", "500", "read-timeout", "remote-protocol", "write-error"])
def test_push_is_not_retried_when_it_may_have_reached_the_portal(
    qc: ModuleType, dossier: dict[str, Any], failure: str
) -> None:
    portal = Portal()

    def fail(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        if failure == "read-timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if failure == "remote-protocol":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        if failure == "write-error":
            raise httpx.WriteError("broken pipe", request=request)
        return answer(int(failure), -5, "correlation 1234")

    portal.script = [fail] * 5
    with make_client(qc, portal) as client, pytest.raises(qc.OutcomeUnknownError) as caught:
        client.dong_bo_ho_so_mc([dossier])
    assert len(portal.calls) == 1 and client._sleep.delays == []
    assert caught.value.batch == 1 and caught.value.accepted == 0


@pytest.mark.parametrize("failure", ["connect", "connect-timeout", "pool-timeout", "429"])
def test_push_is_retried_when_nothing_reached_the_portal(qc: ModuleType, dossier: dict[str, Any], failure: str) -> None:
    portal = Portal()

    def fail(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        if failure == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if failure == "connect-timeout":
            raise httpx.ConnectTimeout("timed out", request=request)
        if failure == "pool-timeout":
            raise httpx.PoolTimeout("no connection", request=request)
        return httpx.Response(429, headers={"Retry-After": "1"})

    portal.script = [fail]
    with make_client(qc, portal) as client:
        assert client.dong_bo_ho_so_mc([dossier])[0].error_code == "0"
    assert len(portal.calls) == 2 and len(portal.data_calls("DongBoHoSoMC")) == 2


def test_push_gives_up_on_connect_errors_after_max_retries(qc: ModuleType, dossier: dict[str, Any]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = qc.Client(
        BASE,
        username=USERNAME,
        password=PASSWORD,
        madonvi=MADONVI,
        transport=httpx.MockTransport(refuse),
        max_retries=2,
        backoff=0,
    )
    with client, pytest.raises(qc.TransportError) as caught:
        client.dong_bo_ho_so_mc([dossier])
    assert type(caught.value) is qc.TransportError and caught.value.attempts == 3


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(qc: ModuleType, dossier: dict[str, Any], status: int) -> None:
    portal = Portal()
    portal.script = [lambda r, b: httpx.Response(status, headers={"Location": "http://elsewhere.test/steal"})] * 2
    with make_client(qc, portal) as client:
        with pytest.raises(qc.ResponseFormatError) as caught:
            client.lay_thu_tuc(ma_tthc="1.0")
        assert f"HTTP {status}" in str(caught.value)
        with pytest.raises(qc.ResponseFormatError):
            client.dong_bo_ho_so_mc([dossier])
    assert len(portal.calls) == 2 and all(path == "/integration" for path, _, _ in portal.calls)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b'{"message": "no code"}',
        b'{"error_code": true}',
        b'{"error_code": NaN}',
        b"\xff\xfe",
        b"",
    ],
)
def test_unreadable_answers_are_response_format_errors(qc: ModuleType, dossier: dict[str, Any], content: bytes) -> None:
    portal = Portal()
    portal.script = [lambda r, b: httpx.Response(200, content=content)] * 2
    with make_client(qc, portal) as client:
        with pytest.raises(qc.ResponseFormatError):
            client.lay_thu_tuc(ma_tthc="1.0")
        with pytest.raises(qc.ResponseFormatError):
            client.dong_bo_ho_so_mc([dossier])
    assert len(portal.calls) == 2


def test_oversized_answers_are_refused(qc: ModuleType) -> None:
    portal = Portal()
    big = answer(result=[{"MOTA": "x" * 5000}])
    portal.script = [lambda r, b: big]
    with make_client(qc, portal, max_response_bytes=1024) as client, pytest.raises(qc.ResponseFormatError) as caught:
        client.lay_thu_tuc(ma_tthc="1.0")
    assert "exceeds 1024 bytes" in str(caught.value)

    def streamed(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(200, content=iter([b'{"error_code":0,"result":["', b"y" * 2000, b'"]}']))

    portal.script = [streamed]
    with make_client(qc, portal, max_response_bytes=1024) as client, pytest.raises(qc.ResponseFormatError):
        client.lay_thu_tuc(ma_tthc="1.0")


# ---------------------------------------------------------------------------------------------
# Records


def test_records_are_all_validated_before_anything_is_sent(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    good = dossiers(dossier, 3)
    good[1]["NgayTiepNhan"] = "2024-01-01 08:00"
    del good[2]["MaHoSo"]
    good[2]["SoDienThoai"] = 987654321  # wrong type: the value must not be shown
    with make_client(qc, portal) as client, pytest.raises(qc.RecordValidationError) as caught:
        client.dong_bo_ho_so_mc(good)
    assert portal.logins == 0 and portal.calls == []
    found = {(issue.index, issue.path) for issue in caught.value.issues}
    assert {(1, "NgayTiepNhan"), (2, "MaHoSo"), (2, "SoDienThoai")} <= found
    text = str(caught.value) + repr(caught.value)
    assert "2 record(s) failed validation" in text and "2024-01-01 08:00" not in text and "987654321" not in text
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_nested_paths_and_wrong_inputs(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    nested = copy.deepcopy(dossier)
    nested["DanhSachHoSoBoSung"][0]["NgayBoSung"] = "hôm qua"
    with make_client(qc, portal) as client:
        with pytest.raises(qc.RecordValidationError) as caught:
            client.dong_bo_ho_so_mc([nested, "not a record", qc.models.DongBoDanhGiaRecord()])
        paths = {(issue.index, issue.path, issue.type) for issue in caught.value.issues}
        assert (0, "DanhSachHoSoBoSung[0].NgayBoSung", "string_pattern_mismatch") in paths
        assert (1, "", "record_type") in paths and (2, "", "model_type") in paths
        with pytest.raises(TypeError):
            client.dong_bo_ho_so_mc(dossier)
    assert portal.calls == []


def test_model_instances_are_sent_canonically(qc: ModuleType, dossier: dict[str, Any]) -> None:
    portal = Portal()
    record = qc.models.DongBoHoSoMCRecord.model_validate(dossier)
    with make_client(qc, portal) as client:
        client.dong_bo_ho_so_mc([record, dossiers(dossier, 2)[1]])
    sent = portal.data_calls()[0]["data"]
    assert sent[0] == record.model_dump(by_alias=True, exclude_none=True, mode="json") and len(sent) == 2


# ---------------------------------------------------------------------------------------------
# Secrets and personal data


def test_no_password_token_or_personal_data_in_logs_reprs_or_errors(
    qc: ModuleType, dossier: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "qcvn120_client"):
        caplog.set_level(logging.DEBUG, logger=name)
    portal = Portal()
    echo = f"Hồ sơ của {PERSONAL['ChuHoSo']} ({PERSONAL['Email']}, {PERSONAL['SoDienThoai']}) đã tồn tại; session {{}}"

    def expire(request: Any, body: Any) -> None:
        portal.expire_sessions()  # and let the portal answer as it would

    portal.script = [
        lambda r, b: None,
        expire,
        lambda r, b: httpx.Response(429, headers={"Retry-After": "0"}),
        lambda r, b: None,
        lambda r, b: answer(200, -3, echo.format(b["session"]) + f" {PASSWORD} {USERNAME}"),
    ]
    errors: list[BaseException] = []
    with make_client(qc, portal) as client:
        client.dong_bo_ho_so_mc(dossiers(dossier, 3), is_updating=True)
        client.lay_thu_tuc(ma_tthc="1.0")
        with pytest.raises(qc.AlreadyExistsError) as exists:
            client.dong_bo_ho_so_mc(dossiers(dossier, 1))
        errors.append(exists.value)
        bad = dossier | {"NgayTiepNhan": PERSONAL["ChuHoSo"]}
        with pytest.raises(qc.RecordValidationError) as invalid:
            client.dong_bo_ho_so_mc([bad])
        errors.append(invalid.value)
        shown_client = repr(client) + str(client) + repr(client._config) + repr(client._token)
    wrong = qc.Client(
        BASE, username=USERNAME, password=PASSWORD + "x", madonvi=MADONVI, transport=httpx.MockTransport(portal.handler)
    )
    with wrong, pytest.raises(qc.SessionError) as refused:
        wrong.login()
    errors.append(refused.value)

    assert portal.logins == 3 and len(portal.issued) == 2
    assert "qcvn120 DongBoHoSoMC integration" in caplog.text and "HTTP Request: POST" in caplog.text
    assert shown_client.startswith(f"Client(base_url='{BASE}', madonvi='{MADONVI}')")
    assert "***" in str(exists.value) and "đã tồn tại" in str(exists.value)
    forbidden = [PASSWORD, *portal.issued, *PERSONAL.values()]
    shown = [caplog.text, *(repr(r.__dict__) for r in caplog.records), shown_client]
    shown += [str(e) + repr(e) + repr(getattr(e, "issues", "")) for e in errors]
    for text in shown:
        for secret in forbidden:
            assert secret not in text, secret


def test_configuration_errors_never_echo_values(qc: ModuleType) -> None:
    with pytest.raises(ValueError) as caught:
        qc.Client(f"https://{USERNAME}:{PASSWORD}@portal.test", username=USERNAME, password=PASSWORD, madonvi=MADONVI)
    assert PASSWORD not in str(caught.value)
    for bad in ("https://portal.test/?token=abc", "ftp://portal.test", "portal.test"):
        with pytest.raises(ValueError):
            qc.Client(bad, username=USERNAME, password=PASSWORD, madonvi=MADONVI)
    with pytest.raises(ValueError, match="cannot be turned off"):
        qc.Client(BASE, username=USERNAME, password=PASSWORD, madonvi=MADONVI, verify=False)
    with pytest.raises(ValueError, match="batch_size"):
        qc.Client(BASE, username=USERNAME, password=PASSWORD, madonvi=MADONVI, batch_size=0)
    client = qc.Client(BASE + "/adapter/", username=USERNAME, password=PASSWORD, madonvi=MADONVI)
    assert client.base_url == BASE + "/adapter" and client._config.url("integration") == BASE + "/adapter/integration"
    client.close()


# ---------------------------------------------------------------------------------------------
# Spec text cannot change the generated code


HOSTILE = 'x"""\nimport os; os.system("boom")  # \u2028 \u202e\' \\'


def test_spec_text_lands_in_the_client_only_as_literals(result: BuildResult) -> None:
    import ast
    import dataclasses
    from pathlib import PurePosixPath

    from qcvngen import ir
    from qcvngen.formatter import format_files
    from qcvngen.targets import client as client_target
    from qcvngen.targets.common import context_for

    reg = result.regulation
    assert reg is not None
    packets = tuple(dataclasses.replace(p, purpose=ir.Text(HOSTILE, HOSTILE), number=HOSTILE) for p in reg.packets)
    endpoints = tuple(dataclasses.replace(e, path=HOSTILE) for e in reg.envelope.endpoints)
    endpoints += (dataclasses.replace(endpoints[0], name=HOSTILE + " share"),)
    hostile = dataclasses.replace(reg, packets=packets, envelope=dataclasses.replace(reg.envelope, endpoints=endpoints))
    files = format_files(client_target.client_files(hostile, context_for(hostile)))
    tree = ast.parse(files[PurePosixPath("python/qcvn120_client/client.py")])
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(n.col_offset == 0 for n in imports) and not any(a.name == "os" for n in imports for a in n.names)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for name in ("Client", "AsyncClient"):
        methods = {n.name: n for n in classes[name].body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        method = methods["dong_bo_ho_so_mc"]
        doc = ast.get_docstring(method, clean=True) or ""
        assert doc.startswith(f"Push DongBoHoSoMC (Table 1, row {HOSTILE}): {HOSTILE}\n\n{HOSTILE}\n\nArgs:")
        init = methods["__init__"]
        defaults = [d.value for d in init.args.kw_defaults if isinstance(d, ast.Constant)]
        assert defaults.count(HOSTILE) == len(endpoints)
        assert any(a.arg.endswith("_share_path") for a in init.args.kwonlyargs)


def test_a_real_http_exchange_logs_no_secret(
    qc: ModuleType, dossier: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Through a real socket, so httpcore's DEBUG trace (headers, events) is in the log too."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    token = f"tok-{uuid.uuid4().hex}"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply: dict[str, Any] = {"error_code": 0, "message": "Thành công"}
            if self.path == "/auth":
                reply["session"] = token
            elif body.get("session") != token:
                reply = {"error_code": -2, "message": "Phiên làm việc không hợp lệ"}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "qcvn120_client"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with qc.Client(base, username=USERNAME, password=PASSWORD, madonvi=MADONVI, dstcode="DST") as client:
            assert client.dong_bo_ho_so_mc([dossier])[0].error_code == "0"
    finally:
        server.shutdown()
        server.server_close()
    assert "httpcore" in {r.name.split(".")[0] for r in caplog.records}
    logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    for secret in (PASSWORD, token, *PERSONAL.values()):
        assert secret not in logged

"""`qcvngen sandbox` under real uvicorn on loopback, driven by a raw HTTP client as OpenCPS would."""

from __future__ import annotations

import json
import signal
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.paths import ROOT, SPEC
from support.portal_calls import MADONVI, login, opencps_dossier
from support.sandbox_process import Sandbox, start_sandbox, view


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = start_sandbox(
        tmp_path_factory.mktemp("sandbox") / "state.sqlite3",
        "--account",
        f"opencps:secret-pw:{MADONVI}",
        "--account",
        "other:pw2:000.00.00.H22",
    )
    yield running
    running.stop()


def call(base: str, body: dict[str, Any], endpoint: str = "/integration") -> httpx.Response:
    return httpx.post(f"{base}{endpoint}", json=body, timeout=10)


def test_opencps_style_push_already_exists_update_and_progress(sandbox: Sandbox) -> None:
    base = sandbox.base_url
    session = login(base)
    envelope: dict[str, Any] = {
        "session": session,
        "madonvi": MADONVI,
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": [opencps_dossier("H99.01-240105-0001")],
    }

    first = call(base, envelope)
    assert first.status_code == 200 and first.json()["error_code"] == "0", first.text

    again = call(base, envelope).json()
    assert again["error_code"] == "-3" and "đã tồn tại" in again["message"]

    envelope["isUpdating"] = "True"
    envelope["data"][0]["TrangThaiHoSo"] = "4"
    assert call(base, envelope).json()["error_code"] == "0"
    stored = view(f"{base}/sandbox/api/dossiers").json()["dossiers"]
    mine = [d for d in stored if d["MaHoSo"] == "H99.01-240105-0001"]
    assert len(mine) == 1 and mine[0]["versions"] == 2 and mine[0]["record"]["TrangThaiHoSo"] == "4"

    step = {
        "MaHoSo": "H99.01-240105-0001",
        "NguoiXuLy": "Cán bộ một cửa",
        "ChucDanh": "Chuyên viên",
        "ThoiDiemXuLy": "20240105090000",
        "PhongBanXuLy": "Bộ phận một cửa",
        "NoiDungXuLy": "Tiếp nhận hồ sơ",
        "TrangThai": "2",
        "NgayBatDau": "20240105083000",
        "NgayKetThucTheoQuyDinh": "",
    }
    progress = {"session": session, "madonvi": MADONVI, "service": "CapNhatTienDoHoSoMC", "data": [step]}
    assert call(base, progress).json()["error_code"] == "0"
    unknown = call(base, {**progress, "data": [{**step, "MaHoSo": "KHONG-CO"}]}).json()
    assert unknown["error_code"] == "-4" and "KHONG-CO" in unknown["message"]

    shown = mine[0]["record"]
    assert shown["ChuHoSo"] == shown["SoDienThoai"] == shown["Email"] == "***", (
        "personal data is masked in the views by default"
    )
    assert shown["MaTTHC"] == "1.001193.000.00.00.H99"

    page = view(f"{base}/sandbox/").text
    assert "H99.01-240105-0001" in page and "Tiếp nhận hồ sơ" in page
    assert "Nguyễn Văn An" not in page, "the page shows no personal data"


def test_pulls_answer_from_seed_and_validate(sandbox: Sandbox, models: Any) -> None:
    base = sandbox.base_url
    session = login(base)
    envelope = {"session": session, "madonvi": MADONVI}
    procedure = call(base, {**envelope, "service": "LayThuTuc", "maTTHC": "1.001193.000.00.00.H99"}).json()
    parsed = models.LayThuTucResponse.model_validate(procedure)
    assert parsed.error_code == "0" and parsed.result[0].ten_tthc == "Đăng ký khai sinh"
    assert procedure["result"][0]["TENTTHC"] == "Đăng ký khai sinh"
    decision = call(
        base, {**envelope, "service": "LayQDCB", "idQDCB": procedure["result"][0]["IDQUYETDINHCONGBO"]}
    ).json()
    assert models.LayQDCBResponse.model_validate(decision).result[0].so_quyet_dinh == "1872/QĐ-BTP"
    for service in (
        "DanhSachPAKNChoXuLy",
        "DanhSachPAKNCongKhai",
        "LayDanhSachHoiDapGuiTuDVCQG",
        "LayDanhSachHoiDapBoCoQuan",
    ):
        reply = call(base, {**envelope, "service": service}).json()
        assert reply["error_code"] == "0" and reply["result"], service
        getattr(models, f"{service}Response").model_validate(reply)
    files = call(base, {**envelope, "service": "LayTaiLieuPAKN", "TepTinPhanAnh": "/pakn/71001/don.pdf"}).json()
    assert files["error_code"] == "0" and files["result"] == []
    missing = call(base, {**envelope, "service": "LayThuTuc", "maTTHC": "0.000000"}).json()
    assert missing["error_code"] == "-4"


def test_openapi_json_is_the_generated_document(sandbox: Sandbox) -> None:
    served = httpx.get(f"{sandbox.base_url}/openapi.json").json()
    assert served == json.loads((ROOT / "generated" / "openapi" / "openapi.json").read_text(encoding="utf-8"))


RAW = "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "says"),
    [
        (b'{"service": "LayThuTuc", ', RAW, 400, "-1", "invalid JSON"),
        (b'{"service": "LayThuTuc", "service": "LayQDCB"}', RAW, 400, "-1", "duplicate key"),
        (b'{"service": "DongBoThongKeHoSo", "x": NaN}', RAW, 400, "-1", "NaN"),
        (b'{"service": "\xff"}', RAW, 400, "-1", "UTF-8"),
        (b"[1, 2]", RAW, 400, "-1", "JSON object"),
        (b'{"service": "LayThuTuc"}', "text/plain", 415, "-1", "application/json"),
        (b'{"service": "KhongCo", "session": "x"}', RAW, 400, "-1", "unknown service"),
        (
            b'{"service": "LayThuTuc", "madonvi": "000.00.00.G05", "maTTHC": "1"}',
            RAW,
            401,
            "-2",
            "invalid or expired session",
        ),
    ],
)
def test_malformed_requests_get_portal_style_errors(
    sandbox: Sandbox, body: bytes, content_type: str, status: int, code: str, says: str
) -> None:
    reply = httpx.post(f"{sandbox.base_url}/integration", content=body, headers={"content-type": content_type})
    assert reply.status_code == status, reply.text
    assert reply.json()["error_code"] == code
    assert says in reply.json()["message"]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda r: r.__setitem__("NgayTiepNhan", "2024-01-05"), "data[0].NgayTiepNhan"),
        (lambda r: r.__setitem__("TrangThaiHoSo", "99"), "data[0].TrangThaiHoSo"),
        (lambda r: r.pop("MaHoSo"), "data[0].MaHoSo"),
        (lambda r: r.__setitem__("TaiLieuNop", "not a list"), "data[0].TaiLieuNop"),
        (lambda r: r.__setitem__("MaTTHC", 12), "data[0].MaTTHC"),
    ],
)
def test_invalid_records_name_the_field_path_and_never_echo_values(sandbox: Sandbox, mutate: Any, path: str) -> None:
    base = sandbox.base_url
    record = opencps_dossier("H99.01-240105-0099")
    mutate(record)
    reply = call(
        base,
        {
            "session": login(base),
            "madonvi": MADONVI,
            "service": "DongBoHoSoMC",
            "isUpdating": "False",
            "data": [record],
        },
    )
    assert reply.status_code == 400
    body = reply.json()
    assert body["error_code"] == "-1" and path in body["message"]
    for personal in ("Nguyễn Văn An", "0912345678", "an.nguyen@example.invalid"):
        assert personal not in reply.text


def test_a_bad_date_is_refused_in_the_words_of_validate_data(sandbox: Sandbox) -> None:
    """Forward-only data: the server's words for a wire pattern come from the IR's table (the one
    the client and validate-data use), not from splitting the OpenAPI descriptions."""
    from qcvngen.payloads import RULE_TEXT

    base = sandbox.base_url
    record = {**opencps_dossier("H99.01-240105-0098"), "NgayTiepNhan": "2024-01-05"}
    body = {"session": login(base), "madonvi": MADONVI, "service": "DongBoHoSoMC", "isUpdating": "False"}
    reply = call(base, {**body, "data": [record]})
    vi, en = RULE_TEXT["datetime"]
    assert reply.status_code == 400 and f"{vi} — {en}" in reply.json()["message"], reply.text
    assert "2024-01-05" not in reply.text and "[0-9]" not in reply.text


def test_wrong_endpoint_wrong_unit_and_bad_login(sandbox: Sandbox) -> None:
    base = sandbox.base_url
    session = login(base)
    wrong_endpoint = call(
        base, {"session": session, "madonvi": MADONVI, "service": "LayThuTuc", "maTTHC": "1"}, "/share"
    )
    assert wrong_endpoint.status_code == 400 and "integration" in wrong_endpoint.json()["message"]
    other_unit = call(base, {"session": session, "madonvi": "000.00.00.H22", "service": "LayThuTuc", "maTTHC": "1"})
    assert other_unit.status_code == 401 and other_unit.json()["error_code"] == "-2"
    bad = httpx.post(f"{base}/auth", json={"username": "opencps", "password": "wrong"})
    unknown_user = httpx.post(f"{base}/auth", json={"username": "nobody", "password": "wrong"})
    assert bad.status_code == unknown_user.status_code == 401
    assert bad.json() == unknown_user.json(), "no hint whether the user exists"
    assert httpx.get(f"{base}/integration").status_code == 405


@pytest.mark.slow
def test_sessions_expire_and_state_survives_a_kill(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    first = start_sandbox(db, "--session-ttl", "1")
    try:
        session = login(first.base_url, "sandbox", "sandbox")
        body = {
            "session": session,
            "madonvi": MADONVI,
            "service": "DongBoHoSoMC",
            "isUpdating": "False",
            "data": [opencps_dossier("H99-KILL-1")],
        }
        assert call(first.base_url, body).json()["error_code"] == "0"
        time.sleep(1.5)
        expired = call(first.base_url, {**body, "data": [opencps_dossier("H99-KILL-2")]})
        assert expired.status_code == 401 and expired.json()["error_code"] == "-2"
    finally:
        first.stop(signal.SIGKILL)
    second = start_sandbox(db)
    try:
        dossiers = view(f"{second.base_url}/sandbox/api/dossiers").json()["dossiers"]
        assert [d["MaHoSo"] for d in dossiers] == ["H99-KILL-1"]
        session = login(second.base_url, "sandbox", "sandbox")
        again = call(
            second.base_url,
            {
                "session": session,
                "madonvi": MADONVI,
                "service": "DongBoHoSoMC",
                "isUpdating": "False",
                "data": [opencps_dossier("H99-KILL-1")],
            },
        )
        assert again.json()["error_code"] == "-3"
    finally:
        second.stop()


@pytest.mark.slow
def test_accounts_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCVNGEN_SANDBOX_ACCOUNTS", f"envuser:env-secret:{MADONVI}")
    running = start_sandbox(tmp_path / "state.sqlite3")
    try:
        assert login(running.base_url, "envuser", "env-secret")
        assert "env-secret" not in " ".join(running.args)
    finally:
        running.stop()


def test_bad_account_flag_is_a_usage_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", "sandbox", "--account", "no-colons"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "USER:PASSWORD:MADONVI" in done.stderr and "Traceback" not in done.stderr


def test_a_batch_is_all_or_nothing_and_names_the_refused_records_as_data(sandbox: Sandbox) -> None:
    base = sandbox.base_url
    session = login(base)
    envelope = {"session": session, "madonvi": MADONVI, "service": "DongBoHoSoMC", "isUpdating": "False"}
    assert (
        call(base, {**envelope, "data": [opencps_dossier("BATCH-B"), opencps_dossier("BATCH-D")]}).json()["error_code"]
        == "0"
    )
    mixed = [opencps_dossier(key) for key in ("BATCH-D", "BATCH-NEW", "BATCH-B")]
    again = call(base, {**envelope, "data": mixed})
    assert again.status_code == 200
    assert again.json() == {
        "error_code": "-3",
        "message": "Hồ sơ đã tồn tại — dossier already exists: BATCH-D, BATCH-B",
        "result": [{"MaHoSo": "BATCH-D"}, {"MaHoSo": "BATCH-B"}],
    }, "the existing ones, in request order"
    held = {d["MaHoSo"] for d in view(f"{base}/sandbox/api/dossiers").json()["dossiers"]}
    assert "BATCH-NEW" not in held, "nothing of a refused request is stored"

    update = call(
        base,
        {**envelope, "isUpdating": "True", "data": [opencps_dossier(key) for key in ("BATCH-X", "BATCH-B", "BATCH-Y")]},
    ).json()
    assert update["error_code"] == "-4" and update["result"] == [{"MaHoSo": "BATCH-X"}, {"MaHoSo": "BATCH-Y"}]
    step = {
        "MaHoSo": "BATCH-B",
        "NguoiXuLy": "Cán bộ",
        "ChucDanh": "Chuyên viên",
        "ThoiDiemXuLy": "20240105090000",
        "PhongBanXuLy": "Một cửa",
        "NoiDungXuLy": "Tiếp nhận",
        "TrangThai": "2",
        "NgayBatDau": "20240105083000",
        "NgayKetThucTheoQuyDinh": "",
    }
    progress = {"session": session, "madonvi": MADONVI, "service": "CapNhatTienDoHoSoMC"}
    steps = [{**step, "MaHoSo": "BATCH-Q"}, step, {**step, "MaHoSo": "BATCH-Q"}]
    refused = call(base, {**progress, "data": steps}).json()
    assert refused["error_code"] == "-4" and refused["result"] == [{"MaHoSo": "BATCH-Q"}, {"MaHoSo": "BATCH-Q"}], (
        "one object per refused record"
    )
    typo = call(base, {**progress, "data": [{**step, "MaHoSo": "BATCH-BB"}]}).json()
    assert typo["error_code"] == "-4" and "did you mean: BATCH-B" in typo["message"]
    dossier = next(d for d in view(f"{base}/sandbox/api/dossiers").json()["dossiers"] if d["MaHoSo"] == "BATCH-B")
    assert dossier["progress"] == [] and dossier["versions"] == 1


def test_unknown_codes_name_the_closest_seeded_ones(sandbox: Sandbox) -> None:
    base = sandbox.base_url
    envelope = {"session": login(base), "madonvi": MADONVI}
    typo = call(base, {**envelope, "service": "LayThuTuc", "maTTHC": "1.001193.000.00.00.H98"}).json()
    assert typo["error_code"] == "-4" and typo["result"] == []
    assert "did you mean: 1.001193.000.00.00.H99?" in typo["message"]
    assert "known codes: 1.001193.000.00.00.H99, 1.009994.000.00.00.H99, 2.000720.000.00.00.H99" in typo["message"]
    decision = call(base, {**envelope, "service": "LayQDCB", "idQDCB": "9003"}).json()
    assert decision["error_code"] == "-4" and "9001" in decision["message"] and "9002" in decision["message"]
    far = call(base, {**envelope, "service": "LayThuTuc", "maTTHC": "khong-co"}).json()
    assert "did you mean" not in far["message"] and "known codes" in far["message"]


def test_page_shows_readable_dates_and_json_keeps_wire_values(sandbox: Sandbox) -> None:
    base = sandbox.base_url
    body = {
        "session": login(base),
        "madonvi": MADONVI,
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": [opencps_dossier("DATES-1")],
    }
    assert call(base, body).json()["error_code"] == "0"
    page = view(f"{base}/sandbox/", params={"madonvi": MADONVI}).text
    section = page[page.index('id="000.00.00.G05/DATES-1"') :]
    assert "05/01/2024 08:30:00" in section[:3000] and "20240105083000" not in section[:3000]
    shown = next(d for d in view(f"{base}/sandbox/api/dossiers").json()["dossiers"] if d["MaHoSo"] == "DATES-1")
    assert shown["record"]["NgayTiepNhan"] == "20240105083000"


def test_unknown_keys_are_masked_in_views_like_personal_data(sandbox: Sandbox) -> None:
    base = sandbox.base_url
    record = {
        "NgayTongHop": "20240131000000",
        "TongSoNguoiDanhGia": "10",
        "MaThuTuc": "1.001193.000.00.00.H99",
        "HoTen": "Nguyễn Thị Ẩn Danh",
        "Ghi": {"SoCCCD": "079099000111"},
        "Rong": "",
    }
    reply = call(
        base, {"session": login(base), "madonvi": MADONVI, "service": "DongBoDanhGia", "data": [record]}
    ).json()
    assert reply["error_code"] == "0", reply
    entries = view(f"{base}/sandbox/api/records/DongBoDanhGia").json()["records"]
    shown = [e for e in entries if e["record"].get("NgayTongHop") == "20240131000000"][-1]
    assert shown["madonvi"] == MADONVI
    assert shown["record"]["HoTen"] == shown["record"]["Ghi"] == "***" and shown["record"]["Rong"] == ""
    assert shown["record"]["MaThuTuc"] == "1.001193.000.00.00.H99"
    assert "079099000111" not in view(f"{base}/sandbox/api/records/DongBoDanhGia").text


def in_process_portal(accounts: list[Any]) -> Any:
    from qcvngen.sandbox import seed
    from qcvngen.sandbox.portal import build_portal
    from qcvngen.sandbox.runtime import load
    from qcvngen.sandbox.store import Store

    return build_portal(load(SPEC), Store(":memory:"), accounts, seed.load(), max_sessions_per_account=3)


def context_for(portal: Any, session: str) -> Any:
    account = portal.account_for_session(session)
    assert account is not None
    return portal.served.call_context(account=account, endpoint="integration", dstcode=None)


def test_the_store_refuses_a_number_it_could_not_keep_as_sent() -> None:
    from qcvngen.sandbox import Credentials

    portal = in_process_portal([Credentials("u", "p", MADONVI)])
    generated = portal.served
    context = context_for(portal, portal.login("u", "p"))
    base = {"session": "s", "madonvi": MADONVI, "service": "DongBoHoiDap"}
    record = {"HOIDAPID": "1", "NOIDUNG": "Câu hỏi", "MADONVI": MADONVI}
    # A JSON parser that reads 1e400 as infinity (the server refuses it before this; the store must not rely on that).
    for value in (float("inf"), [1, {"x": float("-inf")}], float("nan")):
        request = generated.models.DongBoHoiDapRequest.model_validate(
            {**base, "data": [record, {**record, "SoLon": value}]}
        )
        with pytest.raises(generated.handler.ErrorAnswer) as refused:
            portal.dong_bo_hoi_dap(request, context)
        assert refused.value.error_code == "-1" and refused.value.message.startswith("data[1].SoLon")
    kept = generated.models.DongBoHoiDapRequest.model_validate(
        {**base, "data": [{**record, "Rong": None, "Ds": [None, 1.5]}]}
    )
    assert portal.dong_bo_hoi_dap(kept, context).error_code == "0"
    assert portal.store.stored("DongBoHoiDap", MADONVI) == [{**record, "Rong": None, "Ds": [None, 1.5]}], (
        "a null under an unknown key is kept as sent"
    )


def test_sessions_end_when_accounts_are_reconfigured_in_process() -> None:
    import unicodedata

    from qcvngen.sandbox import Credentials

    nfd = unicodedata.normalize("NFD", "Mật khẩu đặc biệt:,")
    portal = in_process_portal([Credentials("a", nfd, MADONVI), Credentials("b", "pb", MADONVI)])
    assert portal.login("a", unicodedata.normalize("NFC", nfd)) and portal.login("a", nfd)
    a, b = portal.login("a", nfd), portal.login("b", "pb")
    portal.set_accounts([Credentials("a", "changed", MADONVI), Credentials("b", "pb", MADONVI)])
    assert portal.account_for_session(a) is None and portal.account_for_session(b) is not None
    portal.set_accounts([Credentials("a", "changed", MADONVI), Credentials("b", "pb", "000.00.00.H22")])
    assert portal.account_for_session(b) is None and portal.login("b", "pb")
    portal.set_accounts([Credentials("a", "changed", MADONVI)])
    assert portal.login("b", "pb") is None
    tokens = [portal.login("a", "changed") for _ in range(5)]
    assert [portal.account_for_session(t) is not None for t in tokens] == [False, False, True, True, True]
    assert portal.store.live_sessions("a") == 3


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("u:p:X", ("u", "p", "X")),
        ("u:p\\:w\\,d\\#\\\\:X", ("u", "p:w,d#\\", "X")),
        ("u\\:1:pw:X", ("u:1", "pw", "X")),
    ],
)
def test_account_texts_escape_any_password(text: str, parts: tuple[str, str, str]) -> None:
    from qcvngen.sandbox import Credentials

    parsed = Credentials.parse(text)
    assert (parsed.username, parsed.password, parsed.madonvi) == parts
    assert parts[1] not in repr(parsed) or parts[1] == "p"


def test_environment_accounts_split_on_unescaped_commas() -> None:
    from qcvngen.sandbox.accounts import from_environment

    accounts = from_environment("a:p\\,q:X,b:r:Y")
    assert [(a.username, a.password, a.madonvi) for a in accounts] == [("a", "p,q", "X"), ("b", "r", "Y")]
    for bad in ("a:p\\q:X", "a:p:X\\", "a:p", "a::X"):
        with pytest.raises(ValueError, match="USER:PASSWORD:MADONVI"):
            from_environment(bad)


def test_a_state_file_from_before_session_fingerprints_opens_without_its_sessions(tmp_path: Path) -> None:
    import sqlite3

    from qcvngen.sandbox.store import Store

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE sessions (token TEXT PRIMARY KEY, username TEXT NOT NULL, madonvi TEXT NOT NULL, expires REAL NOT NULL)"
        )
        old.execute("INSERT INTO sessions VALUES ('tok', 'sandbox', ?, 1e12)", (MADONVI,))
    old.close()
    store = Store(path)
    assert store.session("tok") is None, "an unverifiable session is not honoured"
    key = store.fingerprint("u", "p", MADONVI)
    store.close()
    assert Store(path).fingerprint("u", "p", MADONVI) == key, "the key is kept, so sessions survive a restart"


def test_stored_records_are_text_in_every_table() -> None:
    """Records are serialised to UTF-8 bytes and cast to text inside SQLite (no decoding in Python):
    every table holds them as TEXT (a BLOB would come back as bytes), and they read back as sent."""
    from qcvngen.sandbox import Credentials

    portal = in_process_portal([Credentials("u", "p", MADONVI)])
    models = portal.served.models
    context = context_for(portal, portal.login("u", "p"))
    base = {"session": "s", "madonvi": MADONVI}
    dossier = opencps_dossier("H99.01-240105-0009")
    push = {**base, "service": "DongBoHoSoMC", "isUpdating": "False", "data": [dossier]}
    assert portal.dong_bo_ho_so_mc(models.DongBoHoSoMCRequest.model_validate(push), context).error_code == "0"
    update = {**push, "isUpdating": "True", "data": [{**dossier, "TrichYeuHoSo": "Đã sửa"}]}
    assert portal.dong_bo_ho_so_mc(models.DongBoHoSoMCRequest.model_validate(update), context).error_code == "0"
    step = {
        "MaHoSo": dossier["MaHoSo"],
        "NguoiXuLy": "Cán bộ một cửa",
        "ChucDanh": "Chuyên viên",
        "ThoiDiemXuLy": "20240105090000",
        "PhongBanXuLy": "Bộ phận một cửa",
        "NoiDungXuLy": "Tiếp nhận hồ sơ",
        "TrangThai": "2",
        "NgayBatDau": "20240105083000",
        "NgayKetThucTheoQuyDinh": "",
    }
    progress = models.CapNhatTienDoHoSoMCRequest.model_validate(
        {**base, "service": "CapNhatTienDoHoSoMC", "data": [step]}
    )
    assert portal.cap_nhat_tien_do_ho_so_mc(progress, context).error_code == "0"
    record = {"HOIDAPID": "1", "NOIDUNG": "Câu hỏi", "MADONVI": MADONVI}
    answered = models.DongBoHoiDapRequest.model_validate({**base, "service": "DongBoHoiDap", "data": [record]})
    assert portal.dong_bo_hoi_dap(answered, context).error_code == "0"
    kinds = {
        table: {row[0] for row in portal.store.query(f"SELECT typeof(record) FROM {table}")}
        for table in ("dossiers", "progress", "records")
    }
    assert kinds == {"dossiers": {"text"}, "progress": {"text"}, "records": {"text"}}
    stored = portal.store.query("SELECT record FROM dossiers")[0][0]
    assert json.loads(stored)["TrichYeuHoSo"] == "Đã sửa"
    assert portal.store.stored("DongBoHoiDap", MADONVI) == [record]


def test_a_record_class_built_only_inside_its_request_is_stored_the_same() -> None:
    """A record class validated only as part of its request (a forward reference) has no
    serialiser of its own until first used; the store then goes through pydantic's own method,
    which builds it: the same bytes before and after."""
    from pydantic import BaseModel
    from pydantic_core import SchemaSerializer

    from qcvngen.runtime.server.answers import ErrorAnswer
    from qcvngen.sandbox.portal import _wire

    module = types.ModuleType("forward_records")  # a real module: where pydantic looks names up
    sys.modules[module.__name__] = module
    try:
        module.__dict__["BaseModel"] = BaseModel
        exec(
            "class Record(BaseModel):\n"
            "    name: str\n"
            "    later: 'Later | None' = None\n"
            "class Request(BaseModel):\n"
            "    data: list[Record]\n"
            "class Later(BaseModel):\n"
            "    x: str\n"
            "Request.model_rebuild()\n",
            module.__dict__,
        )
        request = module.__dict__["Request"].model_validate({"data": [{"name": "Hồ sơ", "later": {"x": "1"}}]})
        record = request.data[0]
        assert not isinstance(type(record).__pydantic_serializer__, SchemaSerializer)
        first = _wire(record, "data[0]", ErrorAnswer)
        assert isinstance(type(record).__pydantic_serializer__, SchemaSerializer)
        assert first == _wire(record, "data[0]", ErrorAnswer) == '{"name":"Hồ sơ","later":{"x":"1"}}'.encode()
    finally:
        del sys.modules[module.__name__]

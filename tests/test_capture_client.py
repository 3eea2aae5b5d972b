"""Capture by the generated client against the real sandbox process: shapes of every exchange,
refusals included, never a value (issue 13). Canary personal data is pushed and pulled back; none of
it may appear in a capture line, in a file or handed to a callback, nor in `qcvngen learn`'s output."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from support.paths import ROOT
from support.portal_calls import opencps_dossier
from support.sandbox_process import Sandbox, start_sandbox

# Full suite only (`pytest -m ""`, .ci/run): canary runs of the generated client against a real sandbox process.
pytestmark = pytest.mark.slow

USER, PASSWORD, MADONVI = "h11-user", "h11-Password-9", "000.00.00.G05"
NAME = "Trịnh Thị Xuyến Canary"
PHONE = "0987650123"
EMAIL = "xuyen.canary@example.invalid"
CCCD = "079203004567"
TEXT = "Bí mật canary: con tôi sinh ngày mồng bảy tháng bảy"
DOSSIER = "CANARY-HS-7788"
ANSWER_TEXT = "Trả lời riêng canary cho bà Xuyến: nộp tại quầy 3"
# Every canary, and words of them that would still identify someone.
CANARIES = (NAME, PHONE, EMAIL, CCCD, TEXT, DOSSIER, ANSWER_TEXT, "Xuyến", "Xuyen", "canary", "Canary", "7788", "4567")
# Values the sandbox's own seed answers carry (a citizen's name and address): shapes only, too.
SEED_VALUES = ("Ngô Thị Giang", "giang.ngo@example.invalid", "Đăng ký khai sinh quá hạn có bị phạt không?")
SCHEMA = json.loads((ROOT / "docs" / "capture.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = start_sandbox(
        tmp_path_factory.mktemp("h11") / "state.sqlite3", "--account", f"{USER}:{PASSWORD}:{MADONVI}"
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def qc(models: Any) -> Any:
    import qcvn120_client

    return qcvn120_client


def settings(**options: Any) -> dict[str, Any]:
    return {"username": USER, "password": PASSWORD, "madonvi": MADONVI, "backoff": 0, **options}


def canary_dossier() -> dict[str, Any]:
    return {
        **opencps_dossier(DOSSIER),
        "ChuHoSo": NAME,
        "SoDienThoai": PHONE,
        "Email": EMAIL,
        "MaDoiTuong": CCCD,
        "TrichYeuHoSo": TEXT,
        "ThongTinKhac": f"CCCD {CCCD}, {NAME}",
    }


def canary_answer() -> dict[str, Any]:
    return {
        "HOIDAPID": "50001",
        "MADONVI": MADONVI,
        "NGUOITRALOI": NAME,
        "CHUCVUNGUOITRALOI": "Chuyên viên",
        "NGAYTRALOI": "20240105083000",
        "NOIDUNGTRALOI": ANSWER_TEXT,
    }


def exchanges(qc: Any, client: Any) -> list[Any]:
    """Pushes and pulls canary data: a stored push, a -3 refusal naming the dossier, a Q&A answer
    pulled back, and a -4 refusal of an unknown procedure. Returns what the pulls gave."""
    client.dong_bo_ho_so_mc([canary_dossier()])
    with pytest.raises(qc.AlreadyExistsError) as refused:
        client.dong_bo_ho_so_mc([canary_dossier()])
    assert refused.value.keys == (DOSSIER,)
    client.dong_bo_ket_qua_hoi_dap_gui_tu_dvcqg([canary_answer()])
    pulled = client.lay_danh_sach_hoi_dap_gui_tu_dvcqg()
    assert client.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99")
    with pytest.raises(qc.PortalError):
        client.lay_thu_tuc(ma_tthc=PHONE)
    return list(pulled)


def assert_no_value(text: str) -> None:
    for value in CANARIES + SEED_VALUES:
        assert value not in text, value


def test_capture_to_a_file_holds_shapes_and_no_canary(qc: Any, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "captures" / "run.jsonl"
    path.parent.mkdir()
    with qc.Client(sandbox.base_url, **settings(capture=path)) as client:
        pulled = exchanges(qc, client)
    # The canary really went through: the pull carried it back, so the capture saw it.
    assert any(ANSWER_TEXT in json.dumps(item.model_dump(by_alias=True), ensure_ascii=False) for item in pulled)
    text = path.read_text(encoding="utf-8")
    assert_no_value(text)
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        jsonschema.validate(line, SCHEMA)
    seen = [(line["packet"], line["error_code"]) for line in lines]
    assert seen == [
        ("DongBoHoSoMC", "0"),
        ("DongBoHoSoMC", "-3"),
        ("DongBoKetQuaHoiDapGuiTuDVCQG", "0"),
        ("LayDanhSachHoiDapGuiTuDVCQG", "0"),
        ("LayThuTuc", "0"),
        ("LayThuTuc", "-4"),
    ]
    refusal = lines[1]
    assert refusal["refused"] is True and refusal["records"] == 1 and "message" not in refusal
    assert refusal["keys"] == [] and refusal["named"] == [], "no key of the refusal's result is learned"
    answer = {k["path"]: k for k in lines[3]["keys"]}
    assert answer["NOIDUNGTRALOI"]["max_length"] == len(ANSWER_TEXT) and "codes" not in answer["NOIDUNGTRALOI"]
    assert not any("codes" in k for k in lines[3]["keys"])  # no field of Table 15 is a code
    procedure = {k["path"]: k for k in lines[4]["keys"]}
    assert procedure["TRANGTHAI"]["codes"] == ["1"]  # a code field: its values are what learn needs
    assert "codes" not in procedure["MATTHC"] and "codes" not in procedure["TENTTHC"]
    assert not any(line["endpoint"] == "auth" or line["packet"] == "login" for line in lines)
    learned = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", "learn", str(path), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert learned.returncode == 0, learned.stderr[-2000:]
    assert json.loads(learned.stdout) and "LayDanhSachHoiDapGuiTuDVCQG" in learned.stdout
    assert_no_value(learned.stdout + learned.stderr)


def test_capture_to_a_callback_from_the_async_client_gives_the_same_lines(
    qc: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    handed: list[dict[str, Any]] = []

    async def run() -> list[str]:
        async with qc.AsyncClient(sandbox.base_url, **settings(capture=handed.append)) as client:
            await client.dong_bo_ho_so_mc_new_or_update([canary_dossier()])  # -3 then an update
            await client.dong_bo_ket_qua_hoi_dap_gui_tu_dvcqg([canary_answer()])
            pulled = await client.lay_danh_sach_hoi_dap_gui_tu_dvcqg()
        return [json.dumps(item.model_dump(by_alias=True), ensure_ascii=False) for item in pulled]

    assert any(ANSWER_TEXT in item for item in asyncio.run(run()))
    assert [(line["packet"], line["error_code"]) for line in handed] == [
        ("DongBoHoSoMC", "-3"),
        ("DongBoHoSoMC", "0"),
        ("DongBoKetQuaHoiDapGuiTuDVCQG", "0"),
        ("LayDanhSachHoiDapGuiTuDVCQG", "0"),
    ]
    for line in handed:
        jsonschema.validate(line, SCHEMA)
    assert_no_value(json.dumps(handed, ensure_ascii=False))
    # The sync client with a file records the same shapes for the same pull.
    path = tmp_path / "sync.jsonl"
    with qc.Client(sandbox.base_url, **settings(capture=os.fspath(path))) as client:
        client.lay_danh_sach_hoi_dap_gui_tu_dvcqg()
    assert json.loads(path.read_text(encoding="utf-8"))["keys"] == handed[-1]["keys"]


def test_capture_is_off_by_default(qc: Any, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with qc.Client(sandbox.base_url, **settings()) as client:
        assert client._config.capture is None
        client.lay_danh_sach_hoi_dap_gui_tu_dvcqg()
    assert list(tmp_path.iterdir()) == []


def test_a_capture_that_fails_never_fails_the_call(
    qc: Any, sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(line: dict[str, Any]) -> None:
        raise RuntimeError(f"disk full while writing {line}")

    later = tmp_path / "becomes-a-folder.jsonl"  # fine at start, a folder by the time it is written
    for sink in (later, broken):
        with (
            caplog.at_level(logging.WARNING, logger="qcvn120_client"),
            qc.Client(sandbox.base_url, **settings(capture=sink)) as client,
        ):
            later.mkdir(exist_ok=True)
            assert client.lay_danh_sach_hoi_dap_gui_tu_dvcqg()
    warnings = [r.getMessage() for r in caplog.records if "capture not recorded" in r.getMessage()]
    assert len(warnings) == 2 and "IsADirectoryError" in warnings[0] and "RuntimeError" in warnings[1]
    assert_no_value(caplog.text)
    assert str(tmp_path) not in caplog.text


def test_a_capture_setting_of_the_wrong_type_is_refused(qc: Any) -> None:
    for wrong in (42, "", b"captures.jsonl"):
        with pytest.raises(ValueError, match="capture must be None, a file path or a callable"):
            qc.Client("http://127.0.0.1:9", **settings(capture=wrong))

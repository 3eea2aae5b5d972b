"""Every packet through the generated sync and async clients against the real sandbox process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qcvngen.examples import example_record
from qcvngen.pipeline import BuildResult
from support.sandbox_process import Sandbox, start_sandbox, view

USER, PASSWORD, MADONVI = "e2e-user", "CANARY-PASSWORD-7f3e", "000.00.00.H22"
PERSONAL = {
    "ChuHoSo": "CANARY Trần Văn Bí Mật",
    "SoDienThoai": "0999000111",
    "Email": "canary.pii@example.invalid",
    "MaDoiTuong": "079099000111",
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = start_sandbox(
        tmp_path_factory.mktemp("e2e") / "state.sqlite3",
        "--account",
        f"{USER}:{PASSWORD}:{MADONVI}",
        "--show-personal-data",
    )
    yield running
    running.stop()


def records_for(reg: Any, packet: Any, tag: str, count: int = 3) -> list[dict[str, Any]]:
    out = []
    for index in range(count):
        record = example_record(reg, packet.data_record)
        if "MaHoSo" in record:
            record["MaHoSo"] = f"{tag}-{index}"
        if packet.name == "DongBoHoSoMC":
            record.update(PERSONAL)
        out.append(record)
    return out


def pull_arguments(packet: Any) -> dict[str, Any]:
    values = {"maTTHC": "1.001193.000.00.00.H99", "idQDCB": "9001", "TepTinPhanAnh": "/pakn/71001/don.pdf"}
    return {field.py_name: values[field.wire_name] for field in packet.params}


def stored(sandbox: Sandbox, service: str) -> list[dict[str, Any]]:
    return [entry["record"] for entry in view(f"{sandbox.base_url}/sandbox/api/records/{service}").json()["records"]]


def dossiers(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {d["MaHoSo"]: d for d in view(f"{sandbox.base_url}/sandbox/api/dossiers").json()["dossiers"]}


def drive_sync(client_module: Any, reg: Any, sandbox: Sandbox, tag: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    with client_module.Client(
        sandbox.base_url, username=USER, password=PASSWORD, madonvi=MADONVI, batch_size=2, backoff=0
    ) as portal:
        for packet in reg.packets:
            method = getattr(portal, packet.method)
            if packet.direction == "push":
                records = records_for(reg, packet, f"{tag}-{packet.name}")
                if packet.name == "CapNhatTienDoHoSoMC":
                    for index, record in enumerate(records):
                        record["MaHoSo"] = f"{tag}-DongBoHoSoMC-{index}"
                results = method(records)
                assert [r.count for r in results] == [2, 1] and all(r.error_code == "0" for r in results), packet.name
                seen[packet.name] = records
            else:
                seen[packet.name] = method(**pull_arguments(packet))
        with pytest.raises(client_module.AlreadyExistsError):
            portal.dong_bo_ho_so_mc(records_for(reg, reg.packet("DongBoHoSoMC"), f"{tag}-DongBoHoSoMC", 1))
        updated = records_for(reg, reg.packet("DongBoHoSoMC"), f"{tag}-DongBoHoSoMC", 1)
        updated[0]["TrangThaiHoSo"] = "10"
        assert portal.dong_bo_ho_so_mc(updated, is_updating=True)[0].error_code == "0"
        with pytest.raises(client_module.PortalError) as refused:
            portal.cap_nhat_tien_do_ho_so_mc(
                [{**records_for(reg, reg.packet("CapNhatTienDoHoSoMC"), "x", 1)[0], "MaHoSo": f"{tag}-UNKNOWN"}]
            )
        assert refused.value.code == "-4"
    return seen


async def drive_async(client_module: Any, reg: Any, sandbox: Sandbox, tag: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with client_module.AsyncClient(
        sandbox.base_url, username=USER, password=PASSWORD, madonvi=MADONVI, batch_size=2, backoff=0
    ) as portal:
        for packet in reg.packets:
            method = getattr(portal, packet.method)
            if packet.direction == "push":
                records = records_for(reg, packet, f"{tag}-{packet.name}")
                if packet.name == "CapNhatTienDoHoSoMC":
                    for index, record in enumerate(records):
                        record["MaHoSo"] = f"{tag}-DongBoHoSoMC-{index}"
                results = await method(records)
                assert sum(r.count for r in results) == 3, packet.name
                seen[packet.name] = records
            else:
                seen[packet.name] = await method(**pull_arguments(packet))
        # Concurrent pulls share one login and all succeed.
        answers = await asyncio.gather(*(portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99") for _ in range(8)))
        assert all(a[0].ten_tthc == "Đăng ký khai sinh" for a in answers)
    return seen


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_every_packet_through_the_client(
    flavour: str, sandbox: Sandbox, models: Any, result: BuildResult, caplog: pytest.LogCaptureFixture
) -> None:
    import qcvn120_client

    reg = result.regulation
    assert reg is not None
    for name in ("", "httpx", "httpcore", "qcvn120_client", "qcvngen"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    tag = f"E2E-{flavour.upper()}"
    others = [p for p in reg.packets if p.direction == "push" and p.name not in ("DongBoHoSoMC", "CapNhatTienDoHoSoMC")]
    before = {p.name: len(stored(sandbox, p.name)) for p in others}
    if flavour == "sync":
        seen = drive_sync(qcvn120_client, reg, sandbox, tag)
    else:
        seen = asyncio.run(drive_async(qcvn120_client, reg, sandbox, tag))

    # What the sandbox stored is what the client sent, exactly once.
    held = dossiers(sandbox)
    for index in range(3):
        dossier = held[f"{tag}-DongBoHoSoMC-{index}"]
        assert dossier["record"]["ChuHoSo"] == PERSONAL["ChuHoSo"]
        assert len(dossier["progress"]) == 1 and dossier["progress"][0]["MaHoSo"] == f"{tag}-DongBoHoSoMC-{index}"
    for packet in others:
        now = stored(sandbox, packet.name)
        assert len(now) - before[packet.name] == 3, packet.name
        assert packet.data_record is not None, packet.name  # every push packet carries records
        sent = [
            getattr(models, packet.data_record)
            .model_validate(x)
            .model_dump(by_alias=True, exclude_none=True, mode="json")
            for x in seen[packet.name]
        ]
        assert now[-3:] == sent, packet.name
    # Pulls came back typed.
    assert seen["LayThuTuc"][0].ten_tthc == "Đăng ký khai sinh"
    assert isinstance(seen["LayQDCB"][0], models.LayQDCBResult)
    assert seen["LayDanhSachHoiDapBoCoQuan"] and seen["LayTaiLieuPAKN"] == []

    # Nothing secret or personal in the logs (plain, and as the JSON-escaped form).
    log_text = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records)
    assert caplog.records, "the DEBUG run must have logged something"
    for canary in [PASSWORD, *PERSONAL.values()]:
        assert canary not in log_text
        assert canary.encode("unicode_escape").decode() not in log_text
    sessions = httpx.post(f"{sandbox.base_url}/auth", json={"username": USER, "password": PASSWORD}).json()["session"]
    assert sessions not in log_text

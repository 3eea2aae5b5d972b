"""The local side's on-demand statistics service (Table 1 note on 3.1), served by the generated stubs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from support.sandbox_process import free_port


@pytest.fixture()
def local_service(models: Any) -> Iterator[str]:
    from qcvn120_server import Answer, LocalServiceHandler, create_local_app

    class Statistics(LocalServiceHandler):  # type: ignore[misc]
        def thong_ke_ho_so_theo_ky(self, request: Any) -> Any:
            row = {
                "Thang": "0",
                "Nam": request.tu_ngay[:4],
                "SoNhanTrongKy": "12",
                "SoTonKyTruoc": "3",
                "TongSoXuLy": "15",
                "TongDaXuLy": "10",
                "TongXuLyDungHan": "9",
                "PhanTramXuLyDungHan": "90.00",
                "TongXuLyTreHan": "1",
                "PhanTramXuLyTreHan": "10.00",
                "TongChuaXuLy": "5",
                "TongChuaXuLyTrongHan": "5",
                "PhanTramChuaXuLyTrongHan": "100.00",
                "TongChuaXuLyTreHan": "0",
                "PhanTramChuaXuLyTreHan": "0",
                "Madonvi": request.madonvi or "",
                "TenDonVi": "UBND tỉnh",
                "LoaiThongKe": "1",
            }
            return Answer(result=[models.DongBoThongKeHoSoRecord.model_validate(row)])

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_local_app(Statistics()), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_statistics_on_demand_answers_for_an_arbitrary_period(local_service: str, models: Any) -> None:
    reply = httpx.post(
        f"{local_service}/thongke",
        json={
            "service": "ThongKeHoSoTheoKy",
            "madonvi": "000.00.00.H22",
            "TuNgay": "20240101000000",
            "DenNgay": "20240315235959",
        },
    )
    assert reply.status_code == 200, reply.text
    parsed = models.ThongKeHoSoTheoKyResponse.model_validate(reply.json())
    assert parsed.error_code == "0" and parsed.result[0].nam == "2024"


def test_statistics_on_demand_rejects_a_bad_period(local_service: str) -> None:
    reply = httpx.post(
        f"{local_service}/thongke",
        json={"service": "ThongKeHoSoTheoKy", "TuNgay": "2024-01-01", "DenNgay": "20240315235959"},
    )
    assert reply.status_code == 400
    assert reply.json()["error_code"] == "-1" and "TuNgay" in reply.json()["message"]


def test_the_service_is_marked_an_inference_in_the_spec(result: Any) -> None:
    service = result.regulation.envelope.local_services[0]
    assert service.inference and "S18" in service.sources

"""`qcvngen conformance --local`: test vectors for a LocalServiceHandler implementation (issue 18, part 8).

ThongKeHoSoTheoKy is the service the national portal calls on a ministry/province for statistics of
an arbitrary period; its name, path (``/thongke``) and parameters (``TuNgay``/``DenNgay``) are
qcvngen's inference. Every implementation is served by real uvicorn on loopback: the generated
stubs with a correct handler pass every vector; a handler whose answer breaks the published
response fails exactly the valid vectors; stubs that read Python names fail exactly those vectors;
a hand-written app that accepts anything fails every vector that must be refused.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from qcvngen.conformance import local_vectors, run_local, summary
from qcvngen.pipeline import BuildResult
from support.paths import ROOT
from support.sandbox_process import serving

MADONVI = "000.00.00.H22"


def statistics_row(request: Any) -> dict[str, str]:
    """One DongBoThongKeHoSo record for the period asked (every required field, wire values)."""
    return {
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


def stubs_with(models: Any, row: Callable[[Any], dict[str, Any]]) -> Any:
    """The generated local app with a handler answering ``row(request)``."""
    from qcvn120_server import Answer, LocalServiceHandler, create_local_app

    class Statistics(LocalServiceHandler):  # type: ignore[misc]
        def thong_ke_ho_so_theo_ky(self, request: Any) -> Any:
            return Answer(result=[row(request)])

    return create_local_app(Statistics())


def test_a_correct_implementation_passes_every_vector(result: BuildResult, models: Any) -> None:
    reg = result.regulation
    assert reg is not None
    with serving(stubs_with(models, statistics_row)) as base:
        suite = run_local(reg, base, madonvi=MADONVI)
        done = subprocess.run(
            [sys.executable, "-m", "qcvngen.cli", "conformance", "--local", "--base-url", base],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert not suite.failed, summary(suite)
    rules = {o.vector.rule for o in suite.outcomes}
    assert {"valid", "required", "datetime", "type", "wire-names", "additionalProperties", "service"} <= rules
    assert len(suite.outcomes) == len(local_vectors(reg, madonvi=MADONVI)) >= 15
    assert done.returncode == 0 and "0 failed" in done.stdout, done.stdout + done.stderr


def test_an_answer_that_breaks_the_response_fails_the_valid_vectors(result: BuildResult, models: Any) -> None:
    reg = result.regulation
    assert reg is not None

    def year_in_words(request: Any) -> dict[str, Any]:
        return {**statistics_row(request), "Nam": "hai nghìn"}

    with serving(stubs_with(models, year_in_words)) as base:
        suite = run_local(reg, base, madonvi=MADONVI)
    assert {o.vector.id for o in suite.failed} == {
        v.id for v in local_vectors(reg, madonvi=MADONVI) if v.expect == "accept"
    }
    details = {o.detail for o in suite.failed}
    assert details == {"answer breaks ThongKeHoSoTheoKyResponse: $.result[0].Nam type"}, details


def test_an_app_on_the_bare_models_fails_the_python_names(result: BuildResult, models: Any) -> None:
    """A hand-written app validating with the generated models as they are (``model_validate``, which
    populates by name and is tolerant on input) instead of the stubs: the vectors name its mistakes."""
    reg = result.regulation
    assert reg is not None
    app = FastAPI()

    @app.post("/thongke")
    async def statistics(request: Request) -> JSONResponse:
        try:
            parsed = models.ThongKeHoSoTheoKyRequest.model_validate(await request.json())
        except ValidationError:
            return JSONResponse({"error_code": "-1", "message": "invalid"}, status_code=400)
        answer = {"error_code": "0", "message": "Thành công", "result": [statistics_row(parsed)]}
        return JSONResponse(answer)

    with serving(app) as base:
        suite = run_local(reg, base, madonvi=MADONVI)
    # The models take their Python names for the fields (populate_by_name): the mistake of issue 18.
    assert sorted(o.vector.id for o in suite.failed) == [
        "ThongKeHoSoTheoKy.DenNgay.python-name",
        "ThongKeHoSoTheoKy.TuNgay.python-name",
    ]


def test_an_app_accepting_anything_fails_every_refusal(result: BuildResult, models: Any) -> None:
    """Not built on the stubs: any FastAPI app at /thongke is tested the same way."""
    reg = result.regulation
    assert reg is not None
    app = FastAPI()

    @app.post("/thongke")
    def anything() -> dict[str, Any]:
        request = type("Request", (), {"tu_ngay": "20240101000000", "madonvi": MADONVI})()
        return {"error_code": "0", "message": "Thành công", "result": [statistics_row(request)]}

    with serving(app) as base:
        suite = run_local(reg, base, madonvi=MADONVI)
    expected = {v.id for v in local_vectors(reg, madonvi=MADONVI) if v.expect == "reject"}
    assert {o.vector.id for o in suite.failed} == expected and len(expected) >= 12


def test_the_docs_say_in_plain_words_what_qcvngen_chose(result: BuildResult) -> None:
    """The service's name, path and parameter names come from no source: the generated docs say so."""
    from pathlib import PurePosixPath

    reg = result.regulation
    assert reg is not None
    envelope = result.files[PurePosixPath("docs/envelope.md")]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for service in reg.envelope.local_services:
        assert service.inference
        names = ", ".join(f"`{p.wire_name}`" for p in service.params)
        said = f"nor its path `{service.path}`, nor the parameter names {names}: they are qcvngen's inference"
        assert said in envelope
        assert f"`{service.path}`" in readme and all(f"`{p.wire_name}`" in readme for p in service.params)
    assert "qcvngen conformance --local" in readme

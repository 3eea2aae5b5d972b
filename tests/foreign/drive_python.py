"""Drives the clients openapi-python-client generated from generated/openapi/services/*.json.

Run by tests/test_foreign_clients.py (and type-checked there with mypy --strict): every answer is read
into the generated type of its own service, with isinstance narrowing only, no cast, no re-parse.
Usage: drive_python.py BASE_URL USERNAME PASSWORD MADONVI DOSSIERS.json PROGRESS.json MATTHC
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cap_nhat_tien_do_ho_so_mc_client import Client as ProgressClient
from cap_nhat_tien_do_ho_so_mc_client.api.integration import cap_nhat_tien_do_ho_so_mc
from cap_nhat_tien_do_ho_so_mc_client.models import (
    CapNhatTienDoHoSoMCRecord,
    CapNhatTienDoHoSoMCRequest,
    CapNhatTienDoHoSoMCResponse,
)
from dong_bo_ho_so_mc_client import Client as DossierClient
from dong_bo_ho_so_mc_client.api.auth import login
from dong_bo_ho_so_mc_client.api.integration import dong_bo_ho_so_mc
from dong_bo_ho_so_mc_client.models import (
    DongBoHoSoMCRecord,
    DongBoHoSoMCRequest,
    DongBoHoSoMCResponse,
    LoginRequest,
    LoginResponse,
    WireFlag,
)
from lay_danh_sach_hoi_dap_bo_co_quan_client import Client as QuestionsClient
from lay_danh_sach_hoi_dap_bo_co_quan_client.api.integration import lay_danh_sach_hoi_dap_bo_co_quan
from lay_danh_sach_hoi_dap_bo_co_quan_client.models import (
    LayDanhSachHoiDapBoCoQuanRequest,
    LayDanhSachHoiDapBoCoQuanResponse,
)
from lay_thu_tuc_client import Client as ProcedureClient
from lay_thu_tuc_client.api.integration import lay_thu_tuc
from lay_thu_tuc_client.models import LayThuTucRequest, LayThuTucResponse


def main(base_url: str, username: str, password: str, madonvi: str, dossiers: str, progress: str, code: str) -> None:
    said: dict[str, object] = {}
    session_answer = login.sync(client=DossierClient(base_url), body=LoginRequest(username=username, password=password))
    assert isinstance(session_answer, LoginResponse), session_answer
    assert session_answer.error_code == "0" and isinstance(session_answer.session, str)
    session = session_answer.session

    records = [DongBoHoSoMCRecord.from_dict(item) for item in json.loads(Path(dossiers).read_text(encoding="utf-8"))]
    push = DongBoHoSoMCRequest(
        session=session, madonvi=madonvi, service="DongBoHoSoMC", data=records, is_updating=WireFlag.FALSE
    )
    pushed = dong_bo_ho_so_mc.sync(client=DossierClient(base_url), body=push)
    assert isinstance(pushed, DongBoHoSoMCResponse), pushed
    said["push"] = pushed.error_code

    again = dong_bo_ho_so_mc.sync(client=DossierClient(base_url), body=push)
    assert isinstance(again, DongBoHoSoMCResponse), again
    refused = again.result if isinstance(again.result, list) else []
    said["again"] = [again.error_code, [item.ma_ho_so for item in refused]]

    steps = [
        CapNhatTienDoHoSoMCRecord.from_dict(item) for item in json.loads(Path(progress).read_text(encoding="utf-8"))
    ]
    progressed = cap_nhat_tien_do_ho_so_mc.sync(
        client=ProgressClient(base_url),
        body=CapNhatTienDoHoSoMCRequest(session=session, madonvi=madonvi, service="CapNhatTienDoHoSoMC", data=steps),
    )
    assert isinstance(progressed, CapNhatTienDoHoSoMCResponse), progressed
    said["progress"] = progressed.error_code

    procedure = lay_thu_tuc.sync(
        client=ProcedureClient(base_url),
        body=LayThuTucRequest(session=session, madonvi=madonvi, service="LayThuTuc", ma_tthc=code),
    )
    assert isinstance(procedure, LayThuTucResponse), procedure
    found = procedure.result if isinstance(procedure.result, list) else []
    said["procedure"] = [procedure.error_code, [p.matthc for p in found], [p.tentthc for p in found]]

    questions = lay_danh_sach_hoi_dap_bo_co_quan.sync(
        client=QuestionsClient(base_url),
        body=LayDanhSachHoiDapBoCoQuanRequest(session=session, madonvi=madonvi, service="LayDanhSachHoiDapBoCoQuan"),
    )
    assert isinstance(questions, LayDanhSachHoiDapBoCoQuanResponse), questions
    listed = questions.result if isinstance(questions.result, list) else []
    said["questions"] = [
        questions.error_code,
        len(listed),
        sorted({q.madonvi for q in listed if isinstance(q.madonvi, str)}),
    ]
    print(json.dumps(said, ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:8])

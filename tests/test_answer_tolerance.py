"""Answers where the spec is a guess: an off-spec value in a candidate field keeps its record.

Real uvicorn serves a fake portal whose Table 15 answer carries ``TRANGTHAI: "chua-tra-loi"``
(the spec guesses an integer, membership candidate, confidence low).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from support.fake_portal import FakePortal, serve

CANARY_NAME = "Nguyễn Canary Thị"
CANARY_PHONE = "0912345678"


def faq(index: int, status: str = "1") -> dict[str, Any]:
    return {
        "HOIDAPID": f"{1000 + index}",
        "NOIDUNG": "Hỏi về thủ tục",
        "HOVATEN": CANARY_NAME,
        "SODIENTHOAI": CANARY_PHONE,
        "TRANGTHAI": status,
    }


def answering(result: Any) -> FakePortal:
    return FakePortal(lambda body: {"error_code": "0", "message": "ok", "result": result})


def client(models: Any, url: str, **options: Any) -> Any:
    import qcvn120_client

    return qcvn120_client.Client(url, username="u", password="p", madonvi="000.00.00.H99", **options)


def test_off_spec_value_of_a_candidate_field_keeps_every_record(models: Any, caplog: pytest.LogCaptureFixture) -> None:
    records = [faq(i) for i in range(8)]
    records[3]["TRANGTHAI"] = "chua-tra-loi"
    with (
        serve(answering(records)) as url,
        client(models, url) as portal,
        caplog.at_level(logging.WARNING, logger="qcvn120_client"),
    ):
        pulled = portal.lay_danh_sach_hoi_dap_gui_tu_dvcqg()
    assert len(pulled) == 8
    assert pulled[3].trang_thai == "chua-tra-loi"  # the value as sent, readable from the model
    assert pulled[3].hoi_dap_id == "1003" and pulled[4].trang_thai == "1"
    assert pulled[3].model_dump(by_alias=True)["TRANGTHAI"] == "chua-tra-loi"
    (warning,) = pulled.warnings
    assert (warning.index, warning.field) == (3, "TRANGTHAI")
    assert "Table 15" in warning.where and "status" in warning.title
    assert "^" not in warning.rule and "pattern" not in warning.rule, warning.rule
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "TRANGTHAI" in logged and "Table 15" in logged
    assert "chua-tra-loi" not in logged and CANARY_NAME not in logged and CANARY_PHONE not in logged


def test_nested_off_spec_value_is_kept_inside_its_typed_record(models: Any) -> None:
    record = {
        "MATTHC": "1.001193.000.00.00.H99",
        "TENTTHC": "Đăng ký khai sinh",
        "THANHPHANHOSO": [{"GIAYTO": [{"MAGIAYTO": "GT1", "SOBANCHINH": 1}, {"MAGIAYTO": "GT2", "SOBANCHINH": "một"}]}],
    }
    with serve(answering([record])) as url, client(models, url) as portal:
        (pulled,) = portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99")
        warnings = portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99").warnings
    first, second = pulled.thanh_phan_ho_so[0].giay_to
    assert type(first).__name__ == type(second).__name__ == "GiayTo"
    assert first.so_ban_chinh == "1"  # validated and canonical as usual
    assert second.so_ban_chinh == "một" and second.ma_giay_to == "GT2"  # kept as sent
    assert [w.field for w in warnings] == ["THANHPHANHOSO[].GIAYTO[].SOBANCHINH"]
    assert warnings[0].path == "THANHPHANHOSO[0].GIAYTO[1].SOBANCHINH"


def test_strict_answers_restores_all_or_nothing_in_words(models: Any) -> None:
    import qcvn120_client

    records = [faq(i) for i in range(8)]
    records[3]["TRANGTHAI"] = "chua-tra-loi"
    with (
        serve(answering(records)) as url,
        client(models, url, strict_answers=True) as portal,
        pytest.raises(qcvn120_client.ResponseFormatError) as refused,
    ):
        portal.lay_danh_sach_hoi_dap_gui_tu_dvcqg()
    text = str(refused.value)
    assert "result[3].TRANGTHAI" in text and "Trạng thái — status" in text and "Table 15" in text
    assert "^(?:" not in text and "pattern" not in text and "chua-tra-loi" not in text
    shown = json.dumps(refused.value.answer, ensure_ascii=False)
    assert '"TRANGTHAI": "<text, 12 characters>"' in shown
    assert CANARY_NAME not in shown and CANARY_PHONE not in shown and "chua-tra-loi" not in shown


def test_normative_field_off_its_rule_fails_in_words(models: Any) -> None:
    import qcvn120_client
    from qcvn120_client.client import ANSWER_FIELDS

    normative, where, title = ANSWER_FIELDS["LayThuTuc"]["CACHTHUCTHUCHIEN[].KENH"]
    assert normative, "KENH is the regulation's, at high confidence"
    record = {
        "MATTHC": "1.001193.000.00.00.H99",
        "TENTTHC": "Đăng ký khai sinh",
        "CACHTHUCTHUCHIEN": [{"KENH": "1"}, {"KENH": "qua-zalo"}],
    }
    with (
        serve(answering([record])) as url,
        client(models, url) as portal,
        pytest.raises(qcvn120_client.ResponseFormatError) as refused,
    ):
        portal.lay_thu_tuc(ma_tthc="1.001193.000.00.00.H99")
    text = str(refused.value)
    assert f"result[0].CACHTHUCTHUCHIEN[1].KENH ({title}; {where})" in text, text
    assert "qua-zalo" not in text
    assert refused.value.answer["result"][0]["CACHTHUCTHUCHIEN"][1] == {"KENH": "<text, 8 characters>"}


def test_async_client_keeps_the_record_too_and_learn_reports_the_contradiction(models: Any, tmp_path: Any) -> None:
    import asyncio
    import subprocess
    import sys

    import qcvn120_client

    from support.paths import ROOT

    records = [faq(i) for i in range(8)]
    records[3]["TRANGTHAI"] = "chua-tra-loi"
    capture = tmp_path / "pulls.jsonl"

    async def pull(url: str) -> Any:
        async with qcvn120_client.AsyncClient(
            url, username="u", password="p", madonvi="000.00.00.H99", capture=str(capture)
        ) as portal:
            return await portal.lay_danh_sach_hoi_dap_gui_tu_dvcqg()

    with serve(answering(records)) as url:
        pulled = asyncio.run(pull(url))
    assert len(pulled) == 8 and pulled[3].trang_thai == "chua-tra-loi"
    assert [w.field for w in pulled.warnings] == ["TRANGTHAI"]
    learned = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", "learn", str(capture)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert learned.returncode == 0, learned.stderr
    assert "TRANGTHAI is integer in the spec, but captures show values of kind code" in learned.stdout
    assert "chua-tra-loi" not in learned.stdout + capture.read_text() and CANARY_NAME not in capture.read_text()

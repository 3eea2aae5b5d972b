"""The capture runtime module: shapes of every key path, never a value (issue 13)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import jsonschema
import pytest

from qcvngen.formatter import format_files
from qcvngen.runtime.shared import capture

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 11, 30)

# Canary personal data: none of these may appear anywhere in a capture.
CANARIES = [
    "Nguyễn Thị Canary",
    "Canary",
    "0912345678",
    "canary.person@example.vn",
    "079188001234",
    "Số 12 ngõ Hoàng Hoa Thám",
    "khiếu nại bí mật về cán bộ xã",
    "PAKN-2026-000123",
    "20261130101500",
    "123456.75",
]


def _answer(code: str = "0") -> dict[str, Any]:
    record = {
        "MAPAKN": "PAKN-2026-000123",
        "TIEUDE": "khiếu nại bí mật về cán bộ xã",
        "NGAYGUI": "20261130101500",
        "HOTEN": "Nguyễn Thị Canary",
        "SODIENTHOAI": "0912345678",
        "EMAIL": "canary.person@example.vn",
        "CMND": "079188001234",
        "DIACHI": "Số 12 ngõ Hoàng Hoa Thám",
        "SOTIEN": "123456.75",
        "DAXULY": "True",
        "TRANGTHAI": "2",
        "TONGSO": 17,
        "TEPDINHKEM": [{"TENTEP": "Nguyễn Thị Canary.pdf", "DUONGDAN": "/files/0912345678.pdf"}, {"TENTEP": "b.pdf"}],
        "0912345678": "a key that is itself a value",
    }
    return {
        "error_code": code,
        "message": "Không tìm thấy hồ sơ PAKN-2026-000123 của Nguyễn Thị Canary (canary.person@example.vn); thiếu trường MaHoSo",
        "result": [record, {"MAPAKN": "x", "TRANGTHAI": "1", "TEPDINHKEM": []}],
    }


def _line() -> dict[str, Any]:
    return capture.build_line(
        "DanhSachPAKNChoXuLy",
        "integration",
        _answer(),
        {"TRANGTHAI"},
        day=DAY,
    )


def test_no_canary_reaches_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    capture.capture(path, "DanhSachPAKNChoXuLy", "integration", _answer(), {"TRANGTHAI"}, day=DAY)
    capture.capture(path, "DanhSachPAKNChoXuLy", "integration", _answer("-1"), {"TRANGTHAI"}, day=DAY)
    text = path.read_text(encoding="utf-8")
    for canary in CANARIES:
        assert canary not in text, canary
    # Word by word too: no piece of a name, phone, address or free text survives.
    for word in ("Nguyễn", "Thị", "0912345678", "example", "Hoàng", "bí mật", "cán bộ"):
        assert word not in text, word


def test_shapes_of_every_key_path() -> None:
    keys = {row["path"]: row for row in _line()["keys"]}
    assert keys["NGAYGUI"]["kinds"] == {"datetime": 1}
    assert keys["DAXULY"]["kinds"] == {"flag": 1}
    assert keys["SOTIEN"]["kinds"] == {"decimal": 1}
    assert keys["TONGSO"]["json"] == {"number": 1} and keys["TONGSO"]["kinds"] == {"integer": 1}
    assert keys["TIEUDE"]["kinds"] == {"string": 1} and keys["TIEUDE"]["max_length"] == 29
    assert keys["MAPAKN"]["records"] == 2 and keys["MAPAKN"]["kinds"] == {"code": 2}
    assert keys["TEPDINHKEM"]["list_length"] == [0, 2]
    assert keys["TEPDINHKEM[]"]["json"] == {"object": 2}
    assert keys["TEPDINHKEM[].TENTEP"]["seen"] == 2 and keys["TEPDINHKEM[].DUONGDAN"]["seen"] == 1
    assert "*" in keys, "a key that is not an identifier is recorded as *"


def test_codes_kept_only_for_code_paths() -> None:
    keys = {row["path"]: row for row in _line()["keys"]}
    assert keys["TRANGTHAI"]["codes"] == ["1", "2"]
    assert all("codes" not in row for path, row in keys.items() if path != "TRANGTHAI")


def test_a_refusal_leaves_one_short_entry_without_values_or_keys() -> None:
    line = capture.build_line(
        "DanhSachPAKNChoXuLy", "integration", _answer("-1"), {"TRANGTHAI"}, day=DAY, keys={"MaHoSo"}, count=7
    )
    assert line["refused"] is True and line["error_code"] == "-1" and line["records"] == 7
    assert line["keys"] == [] and line["envelope_keys"] == [] and "message" not in line
    assert line["named"] == ["MaHoSo"], "only the spec's key names the refusal named"
    text = json.dumps(line, ensure_ascii=False)
    assert all(canary not in text for canary in CANARIES) and "TEPDINHKEM" not in text
    ok = capture.build_line("LayThuTuc", "share", {"error_code": "0", "message": "Thành công", "result": []}, day=DAY)
    assert "message" not in ok and ok["records"] == 0 and "refused" not in ok


@pytest.mark.parametrize(
    "value",
    ["Nguyễn Văn A", "0912345678", "+84912345678", "079188001234", "canary\n::error::x", "a@b.vn", "x" * 41, ""],
)
def test_a_code_path_keeps_only_values_that_look_like_codes(value: str) -> None:
    body = {"error_code": "0", "result": [{"TRANGTHAI": value}, {"TRANGTHAI": "G03-GD10"}]}
    line = capture.build_line("LayThuTuc", "share", body, {"TRANGTHAI"}, day=DAY)
    assert line["keys"][0]["codes"] == ["G03-GD10"]


def test_a_line_is_never_larger_than_its_message() -> None:
    records = [{f"K{i}": {"A": [{"B": str(n)}]} for i in range(120)} for n in range(3)]
    body = {"error_code": "0", "result": records}
    size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    line = capture.build_line("LayThuTuc", "share", body, day=DAY)
    assert len(json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()) <= size
    assert line["truncated"] is True and line["keys"], "rows are dropped, the line stays useful"


def test_line_matches_the_documented_schema() -> None:
    schema = json.loads((ROOT / "docs" / "capture.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(_line())
    jsonschema.Draft202012Validator(schema).validate(
        capture.build_line("LayThuTuc", "share", _answer("-3"), day=DAY, keys={"MaHoSo"})
    )
    request = capture.build_line(
        "DongBoHoSoMC", "integration", {"data": [{"MaHoSo": "A"}]}, direction="request", day=DAY
    )
    jsonschema.Draft202012Validator(schema).validate(request)
    assert request["records"] == 1 and request["error_code"] is None


def test_bounded_walk_of_a_deep_or_wide_answer() -> None:
    deep: dict[str, Any] = {"A": "x"}
    for _ in range(50):
        deep = {"A": deep}
    wide = {f"K{i}": "v" for i in range(capture.MAX_PATHS + 100)}
    for body in ({"result": [deep]}, {"result": [wide]}):
        line = capture.build_line("LayThuTuc", "share", body, day=DAY)
        assert line["truncated"] is True
        assert len(line["keys"]) <= capture.MAX_PATHS


def test_callback_sink_and_concurrent_appends(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []
    capture.capture(got.append, "LayThuTuc", "share", {"error_code": "0", "result": [{"ID": 1}]}, day=DAY)
    assert got[0]["packet"] == "LayThuTuc" and got[0]["keys"][0]["path"] == "ID"
    path = tmp_path / "c.jsonl"
    threads = [threading.Thread(target=capture.emit, args=(got[0], path)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 and all(json.loads(line) == got[0] for line in lines)


def test_dates_only_or_months() -> None:
    assert _line()["date"] == "2026-11-30"
    assert capture.build_line("LayThuTuc", "share", {}, day=DAY, month_only=True)["date"] == "2026-11"
    assert len(capture.build_line("LayThuTuc", "share", {})["date"]) == 10  # today, never a time


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("12", "integer"),
        ("-7", "integer"),
        ("0", "integer"),
        ("0912345678", "string"),
        ("007", "string"),
        ("123456789012", "string"),
        ("12.5", "decimal"),
        ("20240131093000", "datetime"),
    ],
)
def test_digits_that_a_number_would_change_are_strings(value: str, kind: str) -> None:
    """A phone number or a zero-led code read as an integer would lose what makes it itself."""
    assert capture.kind_of(value) == kind


def test_bad_direction_is_refused() -> None:
    with pytest.raises(ValueError, match="direction"):
        capture.build_line("LayThuTuc", "share", {}, direction="sideways")


def test_runtime_module_is_formatted_and_self_contained() -> None:
    source = (ROOT / "generator" / "qcvngen" / "runtime" / "shared" / "capture.py").read_text(encoding="utf-8")
    assert "qcvngen" not in source.replace("qcvngen learn", "")
    assert max(len(line) for line in source.splitlines()) <= 100
    # It is copied verbatim into the generated client, which is formatted: the copy must not change.
    header = "# header line\n"
    path = PurePosixPath("qcvn120_client/capture.py")
    assert format_files({path: header + source})[path] == header + source


def test_one_source_is_copied_into_both_generated_packages() -> None:
    """The client and the server stubs write the same format from the same file, never two copies."""
    source = (ROOT / "generator" / "qcvngen" / "runtime" / "shared" / "capture.py").read_text(encoding="utf-8")
    for package in ("python/qcvn120_client", "server/qcvn120_server"):
        header, _, body = (ROOT / "generated" / package / "capture.py").read_text(encoding="utf-8").partition("\n")
        assert header.startswith("# Generated by qcvngen"), package
        assert body == source, package
    assert not (ROOT / "generator" / "qcvngen" / "runtime" / "client" / "capture.py").exists()
    assert not (ROOT / "generator" / "qcvngen" / "runtime" / "server" / "capture.py").exists()


def test_a_real_sandbox_run_with_canary_personal_data_leaves_none_in_the_capture(tmp_path: Path) -> None:
    """Push and pull canary personal data through the real sandbox; capture every exchange."""
    from support.portal_calls import opencps_dossier
    from support.sandbox_process import start_sandbox

    password, madonvi = "CANARY-PW-51c9", "000.00.00.G05"
    personal = {"ChuHoSo": "CANARY Lò Thị Bí Mật", "SoDienThoai": "0988777666", "Email": "canary.kin@example.invalid"}
    dossier = {**opencps_dossier("H99.01-261130-7777"), **personal, "TrichYeuHoSo": "canary trích yếu riêng tư"}
    answer_text = "Canary trả lời: ông Lò Văn Mật, số 0988777666"
    canaries = [
        password,
        *personal.values(),
        dossier["MaHoSo"],
        dossier["TrichYeuHoSo"],
        answer_text,
        "Lò Văn Mật",
        "Ngô Thị Giang",
        "giang.ngo@example.invalid",
    ]
    sink = tmp_path / "capture.jsonl"
    sandbox = start_sandbox(tmp_path / "state.sqlite3", "--account", f"canary:{password}:{madonvi}")
    try:
        base = sandbox.base_url
        session = httpx.post(f"{base}/auth", json={"username": "canary", "password": password}).json()["session"]
        canaries.append(session)
        envelope = {"session": session, "madonvi": madonvi}
        exchanges: list[tuple[str, dict[str, Any]]] = [
            ("integration", {"service": "DongBoHoSoMC", "isUpdating": "False", "data": [dossier]}),
            ("integration", {"service": "DongBoHoSoMC", "isUpdating": "False", "data": [dossier]}),  # -3
            (
                "integration",
                {
                    "service": "DongBoKetQuaHoiDapGuiTuDVCQG",
                    "data": [{"HOIDAPID": "50001", "NOIDUNGTRALOI": answer_text}],
                },
            ),
            ("integration", {"service": "LayDanhSachHoiDapGuiTuDVCQG"}),
        ]
        codes, raw = [], []
        for endpoint, body in exchanges:
            request = {**envelope, **body}
            answer = httpx.post(f"{base}/{endpoint}", json=request, timeout=10).json()
            codes.append(answer["error_code"])
            raw.append(json.dumps(answer, ensure_ascii=False))
            capture.capture(sink, body["service"], endpoint, answer, {"TRANGTHAI"})
            capture.capture(sink, body["service"], endpoint, request, direction="request")
    finally:
        sandbox.stop()
    assert codes == ["0", "-3", "0", "0"], codes
    # The answers themselves carried the canaries: the capture had something to leak.
    assert dossier["MaHoSo"] in raw[1] and answer_text in raw[3] and "Ngô Thị Giang" in raw[3]
    text = sink.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    pulled = next(
        line for line in lines if line["packet"] == "LayDanhSachHoiDapGuiTuDVCQG" and line["direction"] == "answer"
    )
    assert {"NOIDUNGTRALOI", "HOVATEN", "THUDIENTU"} <= {row["path"] for row in pulled["keys"]}
    refusals = [line for line in lines if line.get("refused")]
    assert [(r["error_code"], r["records"], r["keys"]) for r in refusals] == [("-3", 1, [])], "one short entry"
    for canary in canaries:
        assert canary not in text, canary
        assert json.dumps(canary)[1:-1] not in text, canary


@pytest.mark.parametrize(
    "value",
    [
        True,
        None,
        5,
        5.5,
        "",
        "20240101083000",
        "True",
        "12",
        "1.5",
        "H22.01",
        "text with spaces",
        {"a": 1},
        [1],
        "0912",
    ],
)
def test_the_classes_a_value_gets_are_the_ones_learn_accepts(value: object) -> None:
    """learn refuses a line whose counts use any other name: the two vocabularies are one."""
    assert capture.kind_of(value) in capture.CAPTURE_KINDS
    assert capture.kind_of(value, is_code=True) in capture.CAPTURE_KINDS
    assert capture.json_type(value) in capture.JSON_TYPES

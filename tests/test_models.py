"""The generated pydantic models, imported and run: tolerant input, canonical output, clear errors."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

import samples
from qcvngen.examples import example_record, example_request
from qcvngen.pipeline import BuildResult


def errors_of(model: Any, data: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(tuple(e["loc"]), e["type"]) for e in caught.value.errors()]


@pytest.fixture()
def dossier(result: BuildResult) -> dict[str, Any]:
    assert result.regulation is not None
    return example_request(result.regulation, result.regulation.packet("DongBoHoSoMC")) | {"isUpdating": "False"}


def test_example_requests_of_every_packet_validate(result: BuildResult, models: Any, bundle: dict[str, Any]) -> None:
    reg = result.regulation
    assert reg is not None
    for packet in reg.packets:
        body = example_request(reg, packet)
        getattr(models, f"{packet.name}Request").model_validate(body)
        schema = {"$ref": f"#/$defs/{packet.name}Request", "$defs": bundle["$defs"]}
        jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("field", "value", "error_type"),
    [
        ("NgayTiepNhan", "20240230000000", "string_pattern_mismatch"),  # 30 February
        ("NgayTiepNhan", "2024-01-01 08:00", "string_pattern_mismatch"),
        ("NgayTiepNhan", "20240101250000", "string_pattern_mismatch"),  # hour 25
        ("TrangThaiHoSo", "11", "literal_error"),  # not a code of TrangThaiHoSo
        ("LoaiDoiTuong", "9", "literal_error"),
        ("MaHoSo", 123, "string_type"),  # wrong type
        ("HinhThuc", True, "literal_error"),
    ],
)
def test_broken_dossier_is_rejected_with_the_field_path(
    models: Any, dossier: dict[str, Any], field: str, value: Any, error_type: str
) -> None:
    broken = copy.deepcopy(dossier)
    broken["data"][0][field] = value
    found = errors_of(models.DongBoHoSoMCRequest, broken)
    assert any(loc[:3] == ("data", 0, field) and kind == error_type for loc, kind in found), found


@pytest.mark.parametrize(
    ("name", "mutate", "path"),
    [
        ("DongBoThongKeHoSo.request.json", lambda d: d["data"][0].__setitem__("Nam", "năm 2020"), ("data", 0, "Nam")),
        ("DongBoThongKeHoSo.request.json", lambda d: d["data"][0].__setitem__("PhanTramXuLyDungHan", "abc"), ("data", 0, "PhanTramXuLyDungHan")),
        ("DongBoThongKeHoSo.request.json", lambda d: d.pop("madonvi"), ("madonvi",)),
        ("DongBoDanhGia.request.json", lambda d: d["data"][0].__setitem__("TongSoNguoiDanhGia", [1]), ("data", 0, "TongSoNguoiDanhGia")),
        ("LayThuTuc.request.json", lambda d: d.__setitem__("service", "LayQDCB"), ("service",)),
        ("Login.response.json", lambda d: d.__setitem__("error_code", "zero"), ("error_code",)),
    ],
)
def test_broken_samples_are_rejected_with_path(name: str, mutate: Any, path: tuple[Any, ...], models: Any, bundle: dict[str, Any]) -> None:
    definition = {**samples.REQUESTS, **samples.RESPONSES}[name]
    data = samples.fill_placeholders(samples.load(name), {"$ref": f"#/$defs/{definition}"}, bundle)
    mutate(data)
    found = errors_of(getattr(models, definition), data)
    assert any(loc[: len(path)] == path for loc, _ in found), found
    schema = {"$ref": f"#/$defs/{definition}", "$defs": bundle["$defs"]}
    schema_errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert schema_errors, "the JSON Schema must reject it too"


def test_real_systems_forms_are_accepted_and_sent_canonically(models: Any, dossier: dict[str, Any]) -> None:
    record = dossier["data"][0]
    record["TrangThaiHoSo"] = 2  # a JSON number where a code is expected
    record["NgayHenTra"] = ""  # absent date
    request = models.DongBoHoSoMCRequest.model_validate(dossier)
    wire = request.model_dump(by_alias=True, exclude_none=True)
    assert wire["data"][0]["TrangThaiHoSo"] == "2"
    assert wire["data"][0]["NgayHenTra"] == ""
    assert request.data[0].ma_ho_so == record["MaHoSo"]


def test_error_code_as_number_or_string(models: Any) -> None:
    for value in (0, "0", -3, "-3"):
        response = models.DongBoHoSoMCResponse.model_validate({"error_code": value, "message": "x"})
        assert response.error_code == str(value)
    for bad in (True, 1.5, "0x1", float("nan")):
        errors_of(models.DongBoHoSoMCResponse, {"error_code": bad})


def test_complete_table_rejects_unknown_keys_incomplete_accepts_and_keeps_them(models: Any, dossier: dict[str, Any], result: BuildResult) -> None:
    dossier["data"][0]["KhoaLa"] = "x"
    found = errors_of(models.DongBoHoSoMCRequest, dossier)
    assert (("data", 0, "KhoaLa"), "extra_forbidden") in found
    reg = result.regulation
    assert reg is not None
    body = example_request(reg, reg.packet("DongBoHoiDap"))
    body["data"][0]["TRUONGMOI"] = "unknown to the spec"
    parsed = models.DongBoHoiDapRequest.model_validate(body)
    assert parsed.data[0].model_extra == {"TRUONGMOI": "unknown to the spec"}


def test_unknown_table_is_built_and_accepts_any_keys(models: Any) -> None:
    record = models.DongBoPAKNDiaPhuongRecord.model_validate({"AnyKey": "v"})
    assert record.model_extra == {"AnyKey": "v"}


def test_python_names_alias_wire_names(models: Any, result: BuildResult) -> None:
    reg = result.regulation
    assert reg is not None
    record = models.DongBoHoSoMCRecord.model_validate(example_record(reg, "DongBoHoSoMCRecord"))
    fields = models.DongBoHoSoMCRecord.model_fields
    assert fields["ma_ho_so"].alias == "MaHoSo"
    assert fields["danh_sach_giay_to_ket_qua"].alias == "DanhSachGiayToKetQua"
    assert record.model_dump(by_alias=True, exclude_none=True)["MaHoSo"] == record.ma_ho_so


def test_generated_package_passes_mypy_strict(out_dir: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", "qcvn120_client"],
        cwd=out_dir / "python",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_json_numbers_become_plain_wire_strings(models: Any) -> None:
    from pydantic import TypeAdapter

    wire = __import__("qcvn120_client.wire", fromlist=["wire"])
    assert TypeAdapter(wire.WireDecimal).validate_python(1e-05) == "0.00001"
    assert TypeAdapter(wire.WireInteger).validate_python(5.0) == "5"
    with pytest.raises(ValidationError):
        TypeAdapter(wire.WireInteger).validate_python(5.5)
    with pytest.raises(ValidationError):
        TypeAdapter(wire.WireDecimal).validate_python(float("inf"))

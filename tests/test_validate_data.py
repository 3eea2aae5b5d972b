"""`qcvngen validate-data`: accepts the real-shaped samples, rejects broken ones with path and table/row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from qcvngen.cli import app
from support import samples
from support.paths import ROOT, SPEC

REPORT_SCHEMA = json.loads((ROOT / "docs" / "validate-data.schema.json").read_text(encoding="utf-8"))
PACKET_OF = {
    "LayDanhSachHoiDap.response-union.json": "LayDanhSachHoiDapGuiTuDVCQG",
    "LayQDCB.response-partial.json": "LayQDCB",
    "LayThuTuc.response-structure.json": "LayThuTuc",
    "Push.response.json": "DongBoHoSoMC",
    "Push.response-already-exists.json": "DongBoHoSoMC",
    "Login.response.json": None,
}


def run(args: list[str], stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate-data", "--spec", str(SPEC), *args], input=stdin)
    return result.exit_code, result.stdout + result.stderr


def write_sample(
    tmp_path: Path, name: str, bundle: dict[str, Any], definition: str, list_key: str | None = None
) -> Path:
    data = samples.load(name)
    data = data[list_key] if list_key else data
    if isinstance(data, list):
        data = [samples.fill_placeholders(item, {"$ref": f"#/$defs/{definition}"}, bundle) for item in data]
    else:
        data = samples.fill_placeholders(data, {"$ref": f"#/$defs/{definition}"}, bundle)
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_request_samples_are_accepted(tmp_path: Path, bundle: dict[str, Any]) -> None:
    files = [str(write_sample(tmp_path, name, bundle, definition)) for name, definition in samples.REQUESTS.items()]
    code, output = run(files)
    assert code == 0, output
    assert "hợp lệ / valid" in output


@pytest.mark.parametrize(("name", "definition", "list_key"), [(n, d, k) for n, (d, k) in samples.RECORD_LISTS.items()])
def test_bare_record_arrays_are_accepted_with_packet(
    tmp_path: Path, bundle: dict[str, Any], name: str, definition: str, list_key: str | None
) -> None:
    path = write_sample(tmp_path, name, bundle, definition, list_key)
    code, output = run(["--packet", definition.removesuffix("Result"), str(path)])
    assert code == 0, output


@pytest.mark.parametrize("name", [n for n in samples.RESPONSES if PACKET_OF.get(n)])
def test_response_samples_are_accepted_with_packet(tmp_path: Path, bundle: dict[str, Any], name: str) -> None:
    path = write_sample(tmp_path, name, bundle, samples.RESPONSES[name])
    code, output = run(["--packet", str(PACKET_OF[name]), str(path)])
    assert code == 0, output


@pytest.mark.parametrize(
    ("mutate", "path", "rule", "ref"),
    [
        (lambda d: d["data"][0].__setitem__("Nam", "hai nghìn"), "$.data[0].Nam", "integer", "Table 5, row 2"),
        (lambda d: d["data"][0].__setitem__("LoaiThongKe", ["1"]), "$.data[0].LoaiThongKe", "type", "Table 5, row 18"),
        (lambda d: d.pop("madonvi"), "$.madonvi", "required", "envelope"),
        (lambda d: d["data"][0].__setitem__("KhongCo", "x"), "$.data[0].KhongCo", "additionalProperties", "Table 5"),
    ],
)
def test_broken_payloads_are_rejected_with_path_and_table_row(
    tmp_path: Path, bundle: dict[str, Any], mutate: Any, path: str, rule: str, ref: str
) -> None:
    data = samples.fill_placeholders(
        samples.load("DongBoThongKeHoSo.request.json"), {"$ref": "#/$defs/DongBoThongKeHoSoRequest"}, bundle
    )
    mutate(data)
    code, output = run(["--format", "json", "-"], stdin=json.dumps(data, ensure_ascii=False))
    assert code == 1
    report = json.loads(output)
    jsonschema.validate(report, REPORT_SCHEMA)
    hits = [f for f in report["findings"] if f["path"] == path]
    assert hits and hits[0]["rule"] == rule and hits[0]["ref"] == ref, report["findings"]
    assert hits[0]["vi"] and hits[0]["en"] and hits[0]["vi"] != hits[0]["en"]


def test_dates_and_codes_in_a_dossier(tmp_path: Path, result: Any) -> None:
    from qcvngen.examples import example_request

    body = example_request(result.regulation, result.regulation.packet("DongBoHoSoMC")) | {"isUpdating": "False"}
    body["data"][0]["NgayTiepNhan"] = "20240230000000"
    body["data"][0]["TrangThaiHoSo"] = "11"
    code, output = run(["--format", "github", "-"], stdin=json.dumps(body, ensure_ascii=False))
    assert code == 1
    # GitHub reads "," and ":" in a property as separators: they are escaped (%2C, %3A).
    assert "::error file=<stdin>,title=QCVN 120 Table 2%2C row 14::$.data[0].NgayTiepNhan" in output
    assert "TrangThaiHoSo" in output and "not a code of the list TrangThaiHoSo" in output


def test_unknown_keys_of_an_incomplete_table_are_warnings(result: Any) -> None:
    body = {
        "HOIDAPID": "1",
        "MaLinhVuc": "G06",
        "NOIDUNG": "x",
        "MADONVI": "000.00.00.G05",
        "TENDONVI": "y",
        "TRUONGMOI": "z",
    }
    code, output = run(["--packet", "DongBoHoiDap", "--format", "json", "-"], stdin=json.dumps(body))
    assert code == 0
    report = json.loads(output)
    assert report["warnings"] == 1 and report["findings"][0]["rule"] == "unknown-key"


@pytest.mark.parametrize(
    ("args", "stdin", "code", "says"),
    [
        (["-"], '{"a": 1}', 2, "--packet"),
        (["--packet", "KhongCo", "-"], "{}", 2, "unknown packet"),
        (["/no/such/file.json"], None, 2, "cannot read"),
        (["-"], '{"service": "LayThuTuc", "service": "LayQDCB"}', 1, "duplicate key"),
        (["-"], '{"x": NaN', 1, "JSON"),
    ],
)
def test_usage_errors_and_bad_json(args: list[str], stdin: str | None, code: int, says: str) -> None:
    got, output = run(args, stdin)
    assert got == code and says in output and "Traceback" not in output


@pytest.mark.parametrize(
    "value", ["20240105083000\n", "\n20240105083000", "20240105083000 ", "２０２４０１０５０８３０００"]
)
def test_a_date_with_a_trailing_newline_or_other_digits_is_refused(result: Any, value: str) -> None:
    """ECMA-262 patterns: ``$`` is the end of the string, not also the place before a final newline."""
    from qcvngen.examples import example_request

    body = example_request(result.regulation, result.regulation.packet("DongBoHoSoMC")) | {"isUpdating": "False"}
    body["data"][0]["NgayTiepNhan"] = value
    code, output = run(["--format", "json", "-"], stdin=json.dumps(body, ensure_ascii=False))
    report = json.loads(output)
    assert code == 1 and [(f["path"], f["rule"], f["ref"]) for f in report["findings"]] == [
        ("$.data[0].NgayTiepNhan", "datetime", "Table 2, row 14")
    ]


FORGED = "a\n::error file=README.md,line=1::INJECTED\n::add-mask::x\r::warning::CR%0A"


def _bad_dossier(result: Any) -> dict[str, Any]:
    from qcvngen.examples import example_request

    body = example_request(result.regulation, result.regulation.packet("DongBoHoSoMC")) | {"isUpdating": "False"}
    body["data"][0][FORGED] = "x"  # a key the complete table does not have: its path is reported
    body[FORGED] = FORGED
    return body


def test_github_annotations_cannot_be_forged_by_keys_or_file_names(tmp_path: Path, result: Any) -> None:
    body = json.dumps(_bad_dossier(result), ensure_ascii=False)
    named = tmp_path / "x\n::error file=README.md,line=1::FROM-NAME, a:b %0A.json"
    named.write_text(body, encoding="utf-8")
    code, output = run(["--format", "github", "-", str(named)], stdin=body)
    assert code == 1
    lines = output.splitlines()
    assert all(line.startswith(("::error file=", "::warning file=")) for line in lines), lines
    annotations = [line for line in lines if line.startswith("::")]
    assert len(annotations) == 4  # 2 files × 2 keys neither the envelope nor Table 2 has
    for line in annotations:
        properties, message = line[2:].split("::", 1)
        kind, props = properties.split(" ", 1)
        assert kind in ("error", "warning") and "INJECTED" not in props and "FROM-NAME" not in message
        assert [p.split("=", 1)[0] for p in props.split(",")] == ["file", "title"], props
        assert "\r" not in line and "%0A" not in message.replace("%250A", "")
    assert "%250A.json" in output and "%3A%3Aerror file=README.md%2Cline=1%3A%3AFROM-NAME%2C a%3Ab" in output


def test_text_findings_are_one_line_each(tmp_path: Path, result: Any) -> None:
    code, output = run(["-"], stdin=json.dumps(_bad_dossier(result), ensure_ascii=False))
    assert code == 1
    lines = output.splitlines()
    assert len(lines) == 3 and lines[-1].startswith("1 file(s): không hợp lệ / invalid (2 error(s)")
    assert all(line.startswith("<stdin>: $") for line in lines[:-1]), lines
    assert '$["a\\n::error file=README.md,line=1::INJECTED\\n::add-mask::x\\r::warning::CR%0A"]' in output


def test_cannot_read_message_is_one_line(tmp_path: Path) -> None:
    code, output = run([str(tmp_path / "no\n::error::such.json")])
    assert code == 2 and len(output.splitlines()) == 1 and "no\\n::error::such.json" in output


@pytest.mark.parametrize(
    ("stdin", "says"),
    [
        ('{"service": "LayThuTuc", "x": 1e400}', "out of range"),
        ('{"service": "LayThuTuc", "x": "\\ud800"}', "lone surrogate"),
        ("[" * 40 + "]" * 40, "nested deeper than 32"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_what_the_server_cannot_read_is_refused_as_json(stdin: str, says: str) -> None:
    code, output = run(["--packet", "LayThuTuc", "-"], stdin)
    assert code == 1 and says in output and "Traceback" not in output


def test_nfd_text_is_counted_as_sent_like_every_schema_reader_and_the_server(result: Any) -> None:
    """A maximum length counts the code points the JSON text holds (what ajv, python-jsonschema and
    jsonschema-rs count): "ệ" in NFD is 3 of them. The server judges the same and stores NFC after."""
    reg = result.regulation
    record = reg.record(reg.packet("DongBoHoSoMC").data_record)
    limited = next(f for f in record.fields if f.max_length and f.type.kind == "string")
    from qcvngen.examples import example_request

    body = example_request(reg, reg.packet("DongBoHoSoMC")) | {"isUpdating": "False"}
    nfd = "e\u0323\u0302"  # "ệ" in NFD: 3 code points
    body["data"][0][limited.wire_name] = nfd * (limited.max_length // 3)
    assert run(["-"], stdin=json.dumps(body))[0] == 0
    body["data"][0][limited.wire_name] = nfd * (limited.max_length // 3 + 1)
    code, output = run(["--format", "json", "-"], stdin=json.dumps(body))
    assert code == 1 and json.loads(output)["findings"][0]["rule"] == "maxLength"


def test_a_request_with_a_wrong_service_is_judged_as_the_packet_named(result: Any) -> None:
    """With --packet, a request whose ``service`` is not a packet is that packet's request with a
    wrong ``service``: refused like the server refuses it, not read as a bare (open) record."""
    from qcvngen.examples import example_request

    body = example_request(result.regulation, result.regulation.packet("DongBoDanhGia")) | {"service": "٣"}
    code, output = run(["--packet", "DongBoDanhGia", "--format", "json", "-"], stdin=json.dumps(body))
    report = json.loads(output)
    assert code == 1 and [(f["path"], f["rule"], f["ref"]) for f in report["findings"]] == [
        ("$.service", "const", "envelope")
    ]


def test_nested_records_are_cited_from_the_ir(result: Any) -> None:
    """Required, unknown and badly typed keys inside records nested in lists name their own table and row."""
    from qcvngen.examples import example_request

    body = example_request(result.regulation, result.regulation.packet("DongBoHoSoMC")) | {"isUpdating": "False"}
    fee = body["data"][0]["DanhSachLePhi"][0]
    fee["Gia"], fee["KhoaMoi"] = True, "x"
    del body["data"][0]["MaHoSo"]
    code, output = run(["--format", "json", "-"], stdin=json.dumps(body, ensure_ascii=False))
    found = [(f["path"], f["rule"], f["ref"], f["severity"]) for f in json.loads(output)["findings"]]
    assert code == 1 and found == [
        ("$.data[0].MaHoSo", "required", "Table 2, row 1", "error"),
        ("$.data[0].DanhSachLePhi[0].Gia", "decimal", "Table 2, row unknown", "error"),
        ("$.data[0].DanhSachLePhi[0].KhoaMoi", "unknown-key", "Table 2", "warning"),
    ], found

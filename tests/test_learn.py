"""`qcvngen learn`: unknown keys from traffic shapes, written back as observed fields (issue 13)."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from qcvngen.cli import app
from qcvngen.pipeline import build
from qcvngen.runtime.client import capture
from support.paths import SPEC, copy_spec

# Values of the answers: none of them may reach learn's output or the spec it writes.
CANARIES = [
    "PAKN-2026-000991",
    "PAKN-2026-000992",
    "Canary phản ánh đường hỏng",
    "Hỏi về thủ tục cấp phép",
    "20261101083000",
    "Trần Văn Canary",
    "0912345678",
    "anh-canary.jpg",
    "/pakn/2026/991.jpg",
    "canary note",
    "Cấp tỉnh canary",
    "1.000001.000.00.00.H22",
    "Canary",
]
T06 = "tables/t06-lay-thu-tuc.yaml"
T09 = "tables/t09-danh-sach-pakn-cho-xu-ly.yaml"


def _pakn(n: int) -> dict[str, Any]:
    return {
        "MAPAKN": f"PAKN-2026-00099{n}",
        "TIEUDE": "Canary phản ánh đường hỏng" if n == 1 else "Hỏi về thủ tục cấp phép",
        "NGAYGUI": f"2026110{n}083000",
        "HOTEN": "Trần Văn Canary",
        "SODIENTHOAI": "0912345678",
        "TEPDINHKEM": [{"TENTEP": "anh-canary.jpg", "DUONGDAN": "/pakn/2026/991.jpg"}] if n == 1 else [],
    }


def _answers(folder: Path) -> Path:
    """Raw answers of two packets (packet from the file name), plus a dated capture file."""
    folder.mkdir()
    ok = {"error_code": "0", "message": "Thành công"}
    (folder / "DanhSachPAKNChoXuLy.2026-11-01.json").write_text(
        json.dumps({**ok, "result": [_pakn(1), _pakn(2)]}, ensure_ascii=False), encoding="utf-8"
    )
    thu_tuc = [
        {
            "ID": "1",
            "MATTHC": "1.000001.000.00.00.H22",
            "TRANGTHAI": "9",
            "NGAYCAPNHAT": "20261101000000",
            "CAPTHUCHIEN": [{"CAPTHUCHIEN": "1", "GHICHU": "canary note"}],
        },
        {"ID": 2, "MATTHC": "1.000001.000.00.00.H22", "TRANGTHAI": "1", "CAPTHUCHIEN": "Cấp tỉnh canary"},
    ]
    (folder / "LayThuTuc.json").write_text(json.dumps({**ok, "result": thu_tuc}, ensure_ascii=False), encoding="utf-8")
    refused = {"error_code": "-1", "message": "Phiên của Trần Văn Canary (0912345678) đã hết hạn: thiếu trường MaDonVi"}
    (folder / "DanhSachPAKNChoXuLy.refused.json").write_text(
        json.dumps({**refused, "result": []}, ensure_ascii=False), encoding="utf-8"
    )
    line = capture.build_line(
        "DanhSachPAKNChoXuLy", "integration", {**ok, "result": [_pakn(3)]}, day=dt.date(2026, 11, 3)
    )
    (folder / "client.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _no_canary(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, canary


def _added(before: dict[Path, str], after: dict[Path, str]) -> str:
    """The lines ``learn --write`` added (the spec's own examples are not the answers' values)."""
    lines = []
    for path, text in after.items():
        diff = difflib.unified_diff(before[path].splitlines(), text.splitlines(), lineterm="", n=0)
        lines += [line for line in diff if line.startswith("+") and not line.startswith("+++")]
    assert lines
    return "\n".join(lines)


def _report(answers: Path, spec: Path = SPEC) -> dict[str, Any]:
    code, out, err = run("learn", str(answers), "--spec", str(spec), "--format", "json")
    assert code == 0, err
    return {p["packet"]: p for p in json.loads(out)["packets"]}


def test_json_report_lists_each_unknown_key_with_packet_count_and_kind(tmp_path: Path) -> None:
    packets = _report(_answers(tmp_path / "answers"))
    pakn = {u["path"]: u for u in packets["DanhSachPAKNChoXuLy"]["unknown_keys"]}
    assert set(pakn) == {"MAPAKN", "TIEUDE", "NGAYGUI", "HOTEN", "SODIENTHOAI", "TEPDINHKEM"}
    assert pakn["NGAYGUI"]["kind"] == "datetime" and pakn["NGAYGUI"]["packet"] == "DanhSachPAKNChoXuLy"
    assert (pakn["MAPAKN"]["records"], pakn["MAPAKN"]["captures"]) == (3, 2)
    assert pakn["TIEUDE"]["kind"] == "string" and pakn["TIEUDE"]["max_length"] == 26
    assert pakn["SODIENTHOAI"]["kind"] == "string"  # a phone number: its leading zero must survive
    nested = pakn["TEPDINHKEM"]
    assert (nested["kind"], nested["item_kind"], nested["list_length"]) == ("list", "record", [0, 1])
    assert {n["path"] for n in nested["nested"]} == {"[]", "[].TENTEP", "[].DUONGDAN"}
    thu_tuc = packets["LayThuTuc"]
    found = {u["path"]: u for u in thu_tuc["unknown_keys"]}
    assert found["NGAYCAPNHAT"]["kind"] == "datetime"
    assert (found["CAPTHUCHIEN[].GHICHU"]["record"], found["CAPTHUCHIEN[].GHICHU"]["depth"]) == ("CapThucHien", 2)
    assert thu_tuc["new_codes"] == [{"path": "TRANGTHAI", "codelist": "TrangThaiThuTuc", "codes": ["9"]}]
    assert [c["path"] for c in thu_tuc["contradictions"]] == ["CAPTHUCHIEN"]
    assert packets["DanhSachPAKNChoXuLy"]["refusals"] == [{"error_code": "-1", "said": "", "count": 1}]
    assert "TENTTHC" in thu_tuc["unseen_fields"] and "MATTHC" not in thu_tuc["unseen_fields"]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_no_value_reaches_the_report(tmp_path: Path, fmt: str) -> None:
    code, out, err = run("learn", str(_answers(tmp_path / "answers")), "--format", fmt)
    assert code == 0, err
    assert "NGAYGUI" in out and "TEPDINHKEM" in out
    _no_canary(out + err)


def test_write_validates_builds_shows_in_coverage_is_compatible_and_idempotent(tmp_path: Path) -> None:
    answers = _answers(tmp_path / "answers")
    spec = copy_spec(tmp_path)
    before = {p: p.read_text(encoding="utf-8") for p in spec.rglob("*.yaml")}
    code, _, err = run("learn", str(answers), "--spec", str(spec), "--write", "--supplied-by", "Test integrator")
    assert code == 0, err
    assert "8 observed field(s) and 1 code(s) added" in err, err
    after = {p: p.read_text(encoding="utf-8") for p in spec.rglob("*.yaml")}
    _no_canary(_added(before, after))
    validated = run("validate", "--spec", str(spec))
    assert validated[0] == 0 and "warning" not in validated[1] + validated[2], validated  # notes in vi and en
    assert run("build", "--spec", str(spec), "--out", str(tmp_path / "out"))[0] == 0

    code, out, _ = run("coverage", "--spec", str(spec), "--json")
    rows = {row["table"]: row for row in json.loads(out)["tables"]}
    assert set(rows[9]["observed_fields"]) == {"MAPAKN", "TIEUDE", "NGAYGUI", "HOTEN", "SODIENTHOAI", "TEPDINHKEM"}
    assert (rows[9]["specified"], rows[9]["observed"], rows[6]["observed_fields"]) == (0, 6, ["NGAYCAPNHAT"])

    code, out, err = run("diff", str(SPEC), str(spec), "--format", "json")
    assert code == 0, err
    changes = json.loads(out)["changes"]
    added = {c["subject"]: c["class"] for c in changes if c["kind"] == "field.added"}
    assert set(added) == {
        "MAPAKN",
        "TIEUDE",
        "NGAYGUI",
        "HOTEN",
        "SODIENTHOAI",
        "TEPDINHKEM",
        "NGAYCAPNHAT",
        "CapThucHien.GHICHU",
    }
    assert set(added.values()) == {"compatible"}
    codes = [c for c in changes if c["kind"] == "code.added"]
    assert codes and {c["class"] for c in codes} == {"compatible"}, codes
    assert not json.loads(out)["breaking"] and all(c["class"] != "breaking" for c in changes)

    code, _, err = run("learn", str(answers), "--spec", str(spec), "--write", "--supplied-by", "Test integrator")
    assert code == 0 and "nothing new" in err, err
    assert {p: p.read_text(encoding="utf-8") for p in spec.rglob("*.yaml")} == after
    assert set(after) == set(before)


def test_write_keeps_comments_and_layout(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    originals = {name: (spec / name).read_text(encoding="utf-8") for name in (T06, "sources.yaml", "codelists.yaml")}
    code, _, err = run(
        "learn", str(_answers(tmp_path / "answers")), "--spec", str(spec), "--write", "--supplied-by", "x"
    )
    assert code == 0, err
    for name, old in originals.items():
        new = (spec / name).read_text(encoding="utf-8").splitlines()
        position = 0
        for line in old.splitlines():  # every old line, in order: only insertions happened
            position = new.index(line, position) + 1
    assert "fields: []" not in (spec / T09).read_text(encoding="utf-8")
    assert (spec / "sources.yaml").read_text(encoding="utf-8").startswith("# The sources catalogue")
    sources = (spec / "sources.yaml").read_text(encoding="utf-8")
    assert "kind: capture" in sources and "supplied by x" in sources and "2026-11-03" in sources


def test_generated_schemas_accept_what_they_accepted(tmp_path: Path) -> None:
    answers = _answers(tmp_path / "answers")
    spec = copy_spec(tmp_path)
    assert run("learn", str(answers), "--spec", str(spec), "--write", "--supplied-by", "x")[0] == 0
    body = json.loads((answers / "DanhSachPAKNChoXuLy.2026-11-01.json").read_text(encoding="utf-8"))
    for folder in (SPEC, spec):
        files = build(folder).files
        schema = next(text for path, text in files.items() if path.name == "DanhSachPAKNChoXuLy.response.schema.json")
        jsonschema.Draft202012Validator(json.loads(schema)).validate(body)


def _write_line(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_input_exits_2_with_a_located_message(tmp_path: Path) -> None:
    good = json.dumps(capture.build_line("LayThuTuc", "share", {"result": []}, day=dt.date(2026, 1, 1)))
    bad_json = _write_line(tmp_path / "a.jsonl", good + "\n{not json\n")
    code, _, err = run("learn", str(bad_json))
    assert code == 2 and f"{bad_json}:2: not JSON" in err
    unknown = _write_line(tmp_path / "b.jsonl", good.replace("LayThuTuc", "NoSuchPacket") + "\n")
    code, _, err = run("learn", str(unknown))
    assert code == 2 and f"{unknown}:1: packet 'NoSuchPacket' is not in the spec" in err
    smuggled = json.loads(good)
    smuggled["keys"] = [{"path": "Nguyễn Văn A", "records": 1, "seen": 1, "json": {}, "kinds": {}}]
    bad_path = _write_line(tmp_path / "c.jsonl", json.dumps(smuggled) + "\n")
    code, out, err = run("learn", str(bad_path))
    assert code == 2 and f"{bad_path}:1: keys[0].path: not a key path" in err and "Nguyễn" not in out + err
    raw = _write_line(tmp_path / "answer.json", '{"error_code": "0", "result": []}')
    code, _, err = run("learn", str(raw))
    assert code == 2 and "--packet" in err
    assert run("learn", str(raw), "--packet", "LayThuTuc")[0] == 0
    code, _, err = run("learn", str(raw), "--packet", "LayThuTuc", "--write")
    assert code == 2 and "--supplied-by" in err
    code, _, err = run("learn", str(tmp_path / "missing"))
    assert code == 2 and "no such file" in err
    assert "Traceback" not in err


def test_a_taken_source_id_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    before = {p: p.read_bytes() for p in spec.rglob("*.yaml")}
    args = ["learn", str(_answers(tmp_path / "answers")), "--spec", str(spec), "--write", "--supplied-by", "x"]
    code, _, err = run(*args, "--source-id", "S1")
    assert code == 2 and "--source-id S1: already used" in err
    assert {p: p.read_bytes() for p in spec.rglob("*.yaml")} == before


def _capture_line(packet: str, direction: str, rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "format": "qcvn120-capture/1",
        "packet": packet,
        "endpoint": "integration",
        "direction": direction,
        "date": "2026-11-30",
        "error_code": "0",
        "records": 1,
        "envelope_keys": [],
        "keys": rows,
        **extra,
    }


def _row(path: str, kind: str = "code", codes: list[str] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"path": path, "records": 1, "seen": 1, "json": {"string": 1}, "kinds": {kind: 1}}
    if codes is not None:
        row["codes"] = codes
    return row


HOSTILE_CODES = ["Nguyễn Văn A 0912345678", "079188001234", "canary\n::error::x", "a\u2028b", "x\x1b[31m"]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_refused_lines_teach_nothing_and_hostile_text_is_escaped(tmp_path: Path, fmt: str) -> None:
    spec = copy_spec(tmp_path / "spec")
    lines = [
        # A refused request that (written by another system) still carries shapes: never learned from.
        _capture_line(
            "DongBoHoSoMC",
            "request",
            [_row("NguoiXuLyy", "string"), _row("ma_ho_so", "string")],
            error_code="-1\n::error::forged",
        ),
        # An accepted request to a closed list with values that are no codes at all.
        _capture_line("DongBoHoSoMC", "request", [_row("TrangThaiHoSo", codes=[*HOSTILE_CODES[:3], "99"])]),
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    code, out, err = run("learn", str(path), "--spec", str(spec), "--format", fmt)
    assert code == 0, err
    assert "NguoiXuLyy" not in out and "ma_ho_so" not in out
    assert "\n::error::" not in out and "::error::" not in "".join(line[:9] for line in out.splitlines())
    for hostile in HOSTILE_CODES:
        assert hostile not in out
    assert "0912345678" not in out and "079188001234" not in out
    assert "\x1b" not in out and "\u2028" not in out
    code, _, err = run("learn", str(path), "--spec", str(spec), "--write", "--supplied-by", "test")
    assert code == 0, err
    codelists = (spec / "codelists.yaml").read_text(encoding="utf-8")
    assert '"99"' not in codelists, "an accepted request cannot teach a closed list"
    assert all(h not in codelists for h in HOSTILE_CODES)


def test_write_proposes_only_what_a_reviewer_would_accept(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path / "spec")
    before = {p: p.read_text(encoding="utf-8") for p in spec.rglob("*.yaml")}
    lines = [
        # Table 3 is complete: a typo of NguoiXuLy, and a key it lacks, are reported, never proposed.
        _capture_line("CapNhatTienDoHoSoMC", "request", [_row("NguoiXuLyy", "string"), _row("KhoaMoi", "string")]),
        # A Python name sent on the wire is the twin of a wire name of the same record.
        _capture_line("DongBoHoSoMC", "request", [_row("ma_ho_so", "string")]),
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    code, out, err = run("learn", str(path), "--spec", str(spec), "--format", "json")
    assert code == 0, err
    unknown = {u["path"]: u for p in json.loads(out)["packets"] for u in p["unknown_keys"]}
    assert unknown["NguoiXuLyy"]["not_proposed_because"] == "probably a typo of NguoiXuLy"
    assert unknown["ma_ho_so"]["not_proposed_because"] == "probably a typo of MaHoSo"
    assert "Table 3 is complete" in unknown["KhoaMoi"]["not_proposed_because"]
    code, out, _ = run("learn", str(path), "--spec", str(spec))
    assert "NguoiXuLyy [string] in 1 record(s), 1 capture(s) — not proposed: probably a typo of NguoiXuLy" in out
    assert "(request, Table 3): 1 capture(s) of accepted requests" in out
    code, _, err = run("learn", str(path), "--spec", str(spec), "--write", "--supplied-by", "x")
    assert code == 0 and "nothing new" in err, err
    assert {p: p.read_text(encoding="utf-8") for p in spec.rglob("*.yaml")} == before


def test_write_types_nested_records_and_writes_notes_a_reviewer_can_keep(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path / "spec")
    code, _, err = run(
        "learn", str(_answers(tmp_path / "answers")), "--spec", str(spec), "--write", "--supplied-by", "x"
    )
    assert code == 0, err
    table = (spec / T09).read_text(encoding="utf-8")
    assert "    type: list\n    of: TepdinhkemObserved\n" in table
    record = table[table.index("records:\n  - name: TepdinhkemObserved") :]
    assert "      - name: DUONGDAN" in record and "      - name: TENTEP" in record
    assert "type: any" not in table
    # Notes say where the keys were seen (answers), in Vietnamese that reads as Vietnamese, and leave
    # personal data to the field's own `pii:` (a reviewer's later `pii: false` stays true to them).
    notes = [line for line in table.splitlines() if "qcvngen learn" in line]
    assert notes and all("personal data" not in n and "dữ liệu cá nhân" not in n for n in notes)
    vi = [n for n in notes if n.strip().startswith("vi:")]
    assert all(" to " not in n and "câu trả lời" in n and "lần trao đổi được thu lại" in n for n in vi), vi
    assert all("bản ghi lưu lượng" not in n for n in vi)
    sources = (spec / "sources.yaml").read_text(encoding="utf-8")
    assert "DanhSachPAKNChoXuLy (answers): " in sources


def test_write_quotes_keys_yaml_would_read_as_something_else(tmp_path: Path) -> None:
    """Keys named like YAML 1.1 words (null, True, ON, no), at the top and in a nested record, are
    written as quoted names: the spec still loads, with those very wire names. A nested key no wire
    name can be is left out, as a top-level one is, instead of failing the whole write."""
    from qcvngen.pipeline import load_spec

    spec = copy_spec(tmp_path / "spec")
    folder = tmp_path / "answers"
    folder.mkdir()
    records = [
        {
            **_pakn(1),
            "null": "a",
            "ON": "b",
            "TEPDINHKEM": [{"TENTEP": "x.jpg", "True": "c", "no": "d", "tên tệp": "e"}],
        }
    ]
    (folder / "DanhSachPAKNChoXuLy.2026-11-01.json").write_text(
        json.dumps({"error_code": "0", "message": "ok", "result": records}, ensure_ascii=False), encoding="utf-8"
    )
    code, _, err = run("learn", str(folder), "--spec", str(spec), "--write", "--supplied-by", "x")
    assert code == 0, err
    reg, diagnostics = load_spec(spec)
    assert reg is not None, [str(d) for d in diagnostics]
    names = {f.wire_name for r in reg.records for f in r.fields}
    assert {"null", "ON", "True", "no"} <= names and "tên tệp" not in names, sorted(names)


@pytest.mark.parametrize(
    ("name", "date"),
    [
        ("LayThuTuc.2026-11-30.json", "2026-11-30"),
        ("LayThuTuc_20261130.json", "2026-11-30"),
        ("LayThuTuc-2026_11_30-page2.json", "2026-11-30"),
        ("LayThuTuc.2026-11.json", "2026-11"),
        ("LayThuTuc.json", ""),
        ("LayThuTuc.12345678901.json", ""),
    ],
)
def test_raw_answers_are_dated_by_their_file_names(name: str, date: str) -> None:
    from qcvngen.learn.read import answer_date

    assert answer_date(Path(name)) == date


def test_learn_streams_a_capture_in_bounded_memory(tmp_path: Path) -> None:
    """Ten times the lines, the same peak: learn holds shapes per path, never the lines."""
    import tracemalloc

    from qcvngen.learn import compare, read_inputs
    from qcvngen.pipeline import load_spec

    reg, _ = load_spec(SPEC)
    assert reg is not None
    line = json.dumps(
        capture.build_line("DanhSachPAKNChoXuLy", "integration", {"error_code": "0", "result": [_pakn(1), _pakn(2)]})
    )
    peaks = []
    for count in (300, 3000):
        path = tmp_path / f"c{count}.jsonl"
        path.write_text((line + "\n") * count, encoding="utf-8")
        tracemalloc.start()
        report = compare(reg, read_inputs([path]))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert report.captures == count and report.packets[0].unknown
    assert peaks[1] < peaks[0] * 1.5, peaks


def test_refusals_are_counted_by_the_keys_they_named(tmp_path: Path) -> None:
    """Named keys are summed per key across refusals; a legacy message is one phrase, never split."""
    named = [["MaHoSo", "NgayTiepNhan"], ["NgayTiepNhan", "MaHoSo", "MaHoSo"], ["MaHoSo", "not_a_spec_key"]]
    lines = [
        *(_capture_line("DongBoHoSoMC", "request", [], error_code="-1", refused=True, named=n) for n in named),
        _capture_line("DongBoHoSoMC", "request", [], error_code="-2", refused=True, message="named a, b"),
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    code, out, err = run("learn", str(path), "--spec", str(SPEC))
    assert code == 0, err
    assert "error_code -1 (not learned from); keys named: MaHoSo (3), NgayTiepNhan (2)\n" in out
    assert "error_code -2 (not learned from); keys named: named a, b (1)\n" in out
    packet = _report(path)["DongBoHoSoMC"]
    assert packet["refusals"] == [
        {"error_code": "-1", "said": "named MaHoSo", "count": 1},
        {"error_code": "-1", "said": "named MaHoSo, NgayTiepNhan", "count": 2},
        {"error_code": "-2", "said": "named a, b", "count": 1},
    ]

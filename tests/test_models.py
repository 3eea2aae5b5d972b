"""The generated pydantic models, imported and run: tolerant input, canonical output, clear errors."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from qcvngen import naming
from qcvngen.examples import example_record, example_request
from qcvngen.pipeline import BuildResult
from support import samples


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
        (
            "DongBoThongKeHoSo.request.json",
            lambda d: d["data"][0].__setitem__("PhanTramXuLyDungHan", "abc"),
            ("data", 0, "PhanTramXuLyDungHan"),
        ),
        ("DongBoThongKeHoSo.request.json", lambda d: d.pop("madonvi"), ("madonvi",)),
        (
            "DongBoDanhGia.request.json",
            lambda d: d["data"][0].__setitem__("TongSoNguoiDanhGia", [1]),
            ("data", 0, "TongSoNguoiDanhGia"),
        ),
        ("LayThuTuc.request.json", lambda d: d.__setitem__("service", "LayQDCB"), ("service",)),
        ("Login.response.json", lambda d: d.__setitem__("error_code", "zero"), ("error_code",)),
    ],
)
def test_broken_samples_are_rejected_with_path(
    name: str, mutate: Any, path: tuple[Any, ...], models: Any, bundle: dict[str, Any]
) -> None:
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


def test_complete_table_rejects_unknown_keys_incomplete_accepts_and_keeps_them(
    models: Any, dossier: dict[str, Any], result: BuildResult
) -> None:
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


READABLE = [
    ("CACHTHUCTHUCHIEN", "Cách thức thực hiện", "cach_thuc_thuc_hien"),
    ("MATTHC", "Mã thủ tục hành chính", "ma_tthc"),
    ("TTHCLIENTHONG", "Thủ tục hành chính liên thông", "tthc_lien_thong"),
    ("MA_KQ_THAYTHE", "Mã kết quả thay thế", "ma_kq_thay_the"),
    ("DIACHI", "Địa chỉ", "dia_chi"),
    ("MODELDUMP", "model dump", "f_model_dump"),  # pydantic's namespace, as for any name
    ("KENH", "Kênh", None),  # one word: nothing to split
    ("MaHoSo", "Mã hồ sơ", None),  # a lower-case letter: the wire name's own case decides
    ("XYZW", "Không liên quan", None),  # the title explains none of it
]


@pytest.mark.parametrize(("wire", "title", "expected"), READABLE)
def test_upper_case_wire_names_read_through_their_title(wire: str, title: str, expected: str | None) -> None:
    assert naming.readable_identifier(wire, title) == expected


HOSTILE_TITLES = [
    '"""; import os; os.system("x") #',
    "ma\nthu tuc\x00 hanh; chinh') or 1 --",
    "{{ 7*7 }} ${x} `rm -rf /` ma tthc",
    "Mã " * 5000,
    "\u202e\u200b đ Đ ß ǅ Ⅻ ﬁ",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_title_only_places_underscores(title: str) -> None:
    for wire in ("MATTHC", "CACHTHUCTHUCHIEN", "MA_KQ_THAYTHE", "A" * 80, "CLASS1"):
        name = naming.readable_identifier(wire, title)
        if name is not None:
            assert name.isidentifier() and name.isascii()
            assert name.removeprefix("f_").replace("_", "") == wire.lower().replace("_", "")


def test_pulled_records_have_readable_names_only(models: Any, result: BuildResult) -> None:
    answer = {
        "MATTHC": "1.001193",
        "CACHTHUCTHUCHIEN": [{"KENH": "1"}],
        "LINHVUCTHUCHIEN": [{"MALINHVUC": "G06", "TENLINHVUC": "Hộ tịch"}],
    }
    procedure = models.LayThuTucResult.model_validate(answer)
    assert procedure.linh_vuc_thuc_hien[0].ma_linh_vuc == "G06" and procedure.cach_thuc_thuc_hien[0].kenh == "1"
    # The former, flattened names are gone (0.1.0 had no users to keep them for): one name per field.
    assert not hasattr(procedure, "linhvucthuchien") and not hasattr(procedure.linh_vuc_thuc_hien[0], "malinhvuc")
    assert procedure.ma_tthc == "1.001193" and procedure.model_dump(by_alias=True, exclude_none=True) == answer
    assert models.LayThuTucResult.model_validate({"linh_vuc_thuc_hien": []}).linh_vuc_thuc_hien == []
    assert "linhvucthuchien" not in models.LayThuTucResult.model_fields  # not a field: not in the schema


def test_every_model_field_has_the_python_name_of_the_ir(models: Any, result: BuildResult) -> None:
    reg = result.regulation
    assert reg is not None
    for record in reg.records:
        cls = getattr(models, record.name)
        cls.model_rebuild()
        by_wire = {info.alias or name: name for name, info in cls.model_fields.items()}
        assert {f.wire_name: f.py_name for f in record.fields}.items() <= by_wire.items(), record.name


def test_a_wire_name_named_differently_in_two_records_keeps_both_names(result: BuildResult) -> None:
    import dataclasses

    from qcvngen.targets import models as models_target
    from qcvngen.targets.common import context_for

    reg = result.regulation
    assert reg is not None
    owners = [r for r in reg.records if any(f.wire_name == "MALINHVUC" for f in r.fields)]
    assert len(owners) >= 2
    odd = owners[0]
    fields = tuple(
        dataclasses.replace(f, py_name="malinh_vuc") if f.wire_name == "MALINHVUC" else f for f in odd.fields
    )
    records = tuple(dataclasses.replace(r, fields=fields) if r is odd else r for r in reg.records)
    odd_reg = dataclasses.replace(reg, records=records)
    source = "".join(models_target.model_source(odd_reg, context_for(odd_reg)).values())
    classes = source.split("\nclass ")
    odd_class = next(c for c in classes if c.startswith(f"{odd.name}("))
    other_class = next(c for c in classes if c.startswith(f"{owners[1].name}("))
    assert "malinh_vuc:" in odd_class and "ma_linh_vuc:" not in odd_class
    assert "ma_linh_vuc:" in other_class


@pytest.mark.slow
def test_generated_package_passes_mypy_strict(out_dir: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", "qcvn120_client"],
        cwd=out_dir / "python",
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_json_numbers_become_plain_wire_strings(models: Any) -> None:
    from pydantic import TypeAdapter

    wire = __import__("qcvn120_client.wire", fromlist=["wire"])
    assert TypeAdapter(wire.WireDecimal).validate_python(0.05) == "0.05"
    assert TypeAdapter(wire.WireInteger).validate_python(5.0) == "5"
    with pytest.raises(ValidationError):
        TypeAdapter(wire.WireInteger).validate_python(5.5)
    with pytest.raises(ValidationError):
        TypeAdapter(wire.WireDecimal).validate_python(float("inf"))
    # Numbers the published schema refuses (digits past the string form, past ±(2**53 - 1)).
    for refused in (1e-05, 1e20, 2**53):
        with pytest.raises(ValidationError):
            TypeAdapter(wire.WireDecimal).validate_python(refused)


def test_member_names_come_from_the_meaning_or_the_code() -> None:
    codes = [("1", "in person"), ("2", "in person (again)"), ("3", "'; import os"), ("4", "Đường bộ"), ("5", "C2")]
    assert naming.code_member_names(codes) == ["IN_PERSON", "C2", "C3", "DUONG_BO", "C5"]


def test_code_lists_are_written_out_as_enum_classes(result: BuildResult, out_dir: Path) -> None:
    """Every member is in the source (a type checker sees it), its meaning in its docstring."""
    import ast

    reg = result.regulation
    assert reg is not None
    tree = ast.parse((out_dir / "python" / "qcvn120_client" / "codes.py").read_text(encoding="utf-8"))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for codelist in reg.codelists:
        body = classes[codelist.name].body
        members = [n.targets[0].id for n in body if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)]
        assert members == naming.code_member_names([(c.code, c.title.en) for c in codelist.codes])
        docs = [n.value.value for n in body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)]
        assert docs[1:] == [f"{c.code}: {c.title.vi} — {c.title.en}" for c in codelist.codes]


def test_help_shows_a_short_signature_without_patterns(models: Any, result: BuildResult) -> None:
    """Wire types are named aliases: help() shows ``WireDateTime``, never the regex behind it."""
    import inspect

    reg = result.regulation
    assert reg is not None
    for record in reg.records:
        signature = str(inspect.signature(getattr(models, record.name)))
        assert "^(?:" not in signature and "BeforeValidator" not in signature, record.name
    dossier = str(inspect.signature(models.CapNhatTienDoHoSoMCRecord))
    assert "ThoiDiemXuLy: WireDateTime" in dossier and len(dossier) < 600, dossier


def test_models_package_is_rendered_not_patched(out_dir: Path, result: BuildResult) -> None:
    """One name per field (no former-name properties), the package lists its classes by packet and
    re-exports each, each module lists its own, and every class has the docstring the IR gives it."""
    import ast

    from qcvngen.targets.models import model_modules, model_plans

    reg = result.regulation
    assert reg is not None
    folder = out_dir / "python" / "qcvn120_client" / "models"
    init = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    doc = ast.get_docstring(init) or ""
    assert all(f"{p.number} {p.name}: {p.name}Request" in doc for p in reg.packets), doc
    exported = [n.value for n in init.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "__all__"]
    assert [ast.literal_eval(value) for value in exported] == [[plan.name for plan in model_plans(reg)]]
    classes: dict[str, str | None] = {}
    for module in model_modules(reg):
        source = (folder / f"{module.name}.py").read_text(encoding="utf-8")
        assert "M0" not in source  # the generator's sort keys never reach a module
        tree = ast.parse(source)
        assert not any(isinstance(n, ast.FunctionDef) for n in ast.walk(tree))
        own = {n.name: ast.get_docstring(n) for n in tree.body if isinstance(n, ast.ClassDef)}
        assert ", ".join(own) in " ".join((ast.get_docstring(tree) or "").split()), module.name
        classes.update(own)
    assert sorted(path.name for path in folder.glob("*.py")) == sorted(
        ["__init__.py", *(f"{module.name}.py" for module in model_modules(reg))]
    )
    # In the plan's order: per packet its request, record and answer (then the records it nests).
    assert [(plan.name, plan.doc) for plan in model_plans(reg)] == list(classes.items())
    assert list(classes)[:3] == [
        f"{reg.packets[0].name}Request",
        reg.packets[0].data_record,
        f"{reg.packets[0].name}Response",
    ]


def test_module_names_never_take_a_class_or_another_module_name(result: BuildResult) -> None:
    """The package's ``__init__`` binds module and class names side by side: none may be both."""
    import dataclasses

    from qcvngen.targets.models import Layout

    reg = result.regulation
    assert reg is not None
    packets = list(reg.packets)
    for index, method in enumerate(("envelope", "shared", "lay")):
        packets[index] = dataclasses.replace(packets[index], method=method)
    record = dataclasses.replace(reg.records[0], name="lay")
    layout = Layout.of(dataclasses.replace(reg, packets=tuple(packets), records=(*reg.records, record)))
    assert (layout.envelope, layout.shared) == ("envelope", "shared")
    assert [layout.packets[p.name] for p in packets[:3]] == ["envelope_", "shared_", "lay_"]
    assert layout.packets[packets[3].name] == packets[3].method
    assert len({layout.envelope, layout.shared, *layout.packets.values()}) == len(packets) + 2


def test_records_several_packets_or_none_nest_go_to_shared_and_import(result: BuildResult, tmp_path: Path) -> None:
    """A record two packets nest, and one nothing nests, are defined once in ``models.shared``; the
    packets' modules import it from there and the package imports and validates."""
    import dataclasses

    from qcvngen.targets import python_package
    from qcvngen.targets.common import context_for
    from qcvngen.targets.models import model_modules

    reg = result.regulation
    assert reg is not None
    borrowed = next(f for f in reg.record("LayThuTucResult").fields if f.wire_name == "COQUANTHUCHIEN")
    orphan = dataclasses.replace(reg.record("CoQuan"), name="CoQuanKhac")
    records = tuple(
        dataclasses.replace(r, fields=(*r.fields, borrowed)) if r.name == "LayQDCBResult" else r for r in reg.records
    )
    odd = dataclasses.replace(reg, records=(*records, orphan))
    homes = {plan.name: module.name for module in model_modules(odd) for plan in module.plans}
    assert (homes["CoQuan"], homes["CoQuanKhac"], homes["LayQDCBResult"]) == ("shared", "shared", "lay_qdcb")
    for path, text in python_package.render(odd, context_for(odd)).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    assert (
        "from .shared import (\n    CoQuan,\n)" in (tmp_path / "python/qcvn120_client/models/lay_qdcb.py").read_text()
    )
    probe = (
        "from qcvn120_client import models\n"
        "assert models.CoQuan.__module__ == 'qcvn120_client.models.shared', models.CoQuan.__module__\n"
        "got = models.LayQDCBResult.model_validate({'COQUANTHUCHIEN': [{'MADONVI': 'X'}]})\n"
        "assert isinstance(got.co_quan_thuc_hien[0], models.CoQuan), got\n"
        "assert 'CoQuanKhac' in models.__all__\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path / "python", capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr


def test_the_wire_and_codes_modules_bind_only_names_a_code_list_may_not_take(result: BuildResult) -> None:
    """naming.MODULE_NAMES is what the resolver refuses as a code list's name: it must hold every
    name the generated ``wire`` and ``codes`` modules bind besides the lists' own classes and the
    Wire…/Code… types (a new import in a template without it would let a list shadow it)."""
    import ast

    reg = result.regulation
    assert reg is not None
    lists = {codelist.name for codelist in reg.codelists}
    bound: set[str] = set()
    for module in ("wire.py", "codes.py"):
        tree = ast.parse(result.files[PurePosixPath("python/qcvn120_client") / module])
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                bound |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                bound.add(node.name)
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            bound |= {t.id for t in targets if isinstance(t, ast.Name)}
    own = {name for name in bound - lists - {"__all__"} if not name.startswith(naming.GENERATOR_PREFIXES)}
    assert own and own <= naming.MODULE_NAMES, sorted(own - naming.MODULE_NAMES)

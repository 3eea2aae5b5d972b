"""`qcvngen diff`: every change between two spec versions, classified, for folders and git revisions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qcvngen.cli import app
from qcvngen.ir import FieldType
from qcvngen.pipeline import load_spec
from qcvngen.specdiff import Impact, type_impact
from support.paths import SPEC, copy_spec

T02 = "tables/t02-dong-bo-ho-so-mc.yaml"
T03 = "tables/t03-cap-nhat-tien-do-ho-so-mc.yaml"
TEN_LINH_VUC = """  - name: TenLinhVuc
    row: 5
    title: {vi: "Tên lĩnh vực", en: "field name"}
    type: string
    required: true
    membership: regulation
    sources: [S1, S3]
    confidence: high
    example: "Giáo dục và Đào tạo"
    notes:
      vi: "S1 sao chép LINHVUCTHUCHIEN[0].TENLINHVUC từ LayThuTuc."
      en: "S1 copies LINHVUCTHUCHIEN[0].TENLINHVUC from LayThuTuc."
"""
STATUS_10 = '        title: {vi: "Đã trả kết quả", en: "result returned"}\n'
STATUS_11 = '      - code: "11"\n        title: {vi: "Đã huỷ", en: "cancelled"}\n'


def edit(spec: Path, relative: str, old: str, new: str) -> None:
    path = spec / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["diff", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def changes(args: list[str]) -> tuple[int, list[dict[str, Any]]]:
    code, out, err = run([*args, "--format", "json"])
    assert code in (0, 1), err
    return code, list(json.loads(out)["changes"])


def one(found: list[dict[str, Any]], subject: str, kind: str) -> dict[str, Any]:
    hits = [c for c in found if c["subject"] == subject and c["kind"] == kind]
    assert len(hits) == 1, found
    return hits[0]


def removed_field_and_added_code(tmp_path: Path) -> Path:
    spec = copy_spec(tmp_path)
    edit(spec, T02, TEN_LINH_VUC, "")
    edit(spec, "codelists.yaml", STATUS_10, STATUS_10 + STATUS_11)
    return spec


def test_a_removed_field_is_breaking_and_an_added_code_compatible(tmp_path: Path) -> None:
    new = removed_field_and_added_code(tmp_path)

    code, out, err = run([str(SPEC), str(new)])

    assert code == 1, err
    assert "[KHÔNG TƯƠNG THÍCH / BREAKING] TenLinhVuc: trường bị bỏ / field removed" in out
    assert '[TƯƠNG THÍCH / COMPATIBLE] "11": mã mới / code added' in out
    assert "Gói tin 1.1 DongBoHoSoMC (bảng 2) / Packet 1.1 DongBoHoSoMC (table 2)" in out
    assert "Danh mục mã TrangThaiHoSo / Code list TrangThaiHoSo" in out
    _, found = changes([str(SPEC), str(new)])
    removed = one(found, "TenLinhVuc", "field.removed")
    assert (removed["class"], removed["packet"], removed["table"]) == ("breaking", "DongBoHoSoMC", 2)
    assert removed["old"] == "string, bắt buộc/required" and removed["new"] is None
    added = one(found, '"11"', "code.added")
    assert (added["class"], added["new"]) == ("compatible", "Đã huỷ / cancelled")
    # Table 2 is no longer complete: it now accepts unknown keys, which only widens what is accepted.
    assert one(found, "bảng/table 2", "record.opened")["class"] == "compatible"


def test_json_lists_every_change_with_a_summary(tmp_path: Path) -> None:
    new = removed_field_and_added_code(tmp_path)

    code, out, _ = run([str(SPEC), str(new), "--format", "json"])

    data = json.loads(out)
    assert code == 1 and data["breaking"] is True
    assert data["old"] == {"source": str(SPEC), "revision": None, "spec_version": "0.1.0"}
    assert data["summary"]["breaking"] == sum(c["class"] == "breaking" for c in data["changes"]) >= 1
    assert {(c["subject"], c["class"]) for c in data["changes"]} >= {("TenLinhVuc", "breaking"), ('"11"', "compatible")}
    for change in data["changes"]:
        assert set(change) == {"group", "packet", "table", "subject", "kind", "class", "old", "new", "vi", "en"}


def test_markdown_has_one_section_per_packet(tmp_path: Path) -> None:
    new = removed_field_and_added_code(tmp_path)

    code, out, _ = run([str(SPEC), str(new), "--format", "markdown"])

    assert code == 1
    assert "## Gói tin 1.1 DongBoHoSoMC (bảng 2) / Packet 1.1 DongBoHoSoMC (table 2)" in out
    assert "| `TenLinhVuc` | trường bị bỏ / field removed |" in out


def test_a_description_change_is_informational_and_exits_0(tmp_path: Path) -> None:
    new = copy_spec(tmp_path)
    edit(new, T02, 'en: "dossier code"}', 'en: "dossier code (number)"}')
    edit(new, T02, "en: \"Optional ('ko bb' in S1).\"", "en: \"Optional; S1 marks it 'ko bb'.\"")

    code, found = changes([str(SPEC), str(new)])

    assert code == 0
    assert {(c["subject"], c["kind"], c["class"]) for c in found} == {
        ("MaHoSo", "field.title", "informational"),
        ("ChuHoSo", "field.notes", "informational"),
    }
    assert one(found, "MaHoSo", "field.title")["new"] == "Mã hồ sơ / dossier code (number)"
    assert "Không có thay đổi không tương thích. / No breaking changes." in run([str(SPEC), str(new)])[1]


def test_identical_specs_have_no_changes(tmp_path: Path) -> None:
    code, out, _ = run([str(SPEC), str(copy_spec(tmp_path))])
    assert code == 0
    assert "Không có thay đổi. / No changes." in out


def test_optional_to_required_and_a_shorter_max_length_are_breaking(tmp_path: Path) -> None:
    new = copy_spec(tmp_path)
    edit(
        new,
        T03,
        '  - name: ChucDanh\n    row: 3\n    title: {vi: "Chức danh", en: "handler\'s title"}\n'
        "    type: string\n    required: false\n",
        '  - name: ChucDanh\n    row: 3\n    title: {vi: "Chức danh", en: "handler\'s title"}\n'
        "    type: string\n    required: true\n",
    )
    edit(new, T03, "    max_length: 50\n", "    max_length: 40\n")

    code, found = changes([str(SPEC), str(new)])

    assert code == 1
    required = one(found, "ChucDanh", "field.required")
    assert (required["class"], required["old"], required["new"]) == (
        "breaking",
        "tuỳ chọn/optional",
        "bắt buộc/required",
    )
    length = one(found, "NguoiXuLy", "field.max_length")
    assert (length["class"], length["old"], length["new"]) == ("breaking", "50", "40")
    # and back again: required → optional and a longer max_length are compatible
    code, back = changes([str(new), str(SPEC)])
    assert code == 0
    assert one(back, "ChucDanh", "field.optional")["class"] == "compatible"
    assert one(back, "NguoiXuLy", "field.max_length")["class"] == "compatible"


def test_a_field_replaced_in_the_same_row_is_a_rename_and_narrowing_a_type_is_breaking(tmp_path: Path) -> None:
    new = copy_spec(tmp_path)
    edit(new, T03, "  - name: ChucDanh\n    row: 3\n", "  - name: ChucVu\n    row: 3\n")
    edit(
        new,
        T02,
        "    type: string\n    required: true\n    membership: regulation\n    sources: [S1, S3]\n"
        '    confidence: high\n    example: "Tuyển sinh trung học cơ sở"\n',
        "    type: any\n    required: true\n    membership: regulation\n    sources: [S1, S3]\n    confidence: high\n",
    )

    code, found = changes([str(SPEC), str(new)])

    assert code == 1
    renamed = one(found, "ChucVu", "field.renamed")
    assert (renamed["class"], renamed["old"], renamed["new"]) == ("breaking", "ChucDanh", "ChucVu")
    assert not [c for c in found if c["kind"] in ("field.removed", "field.added")]
    assert one(found, "TenTTHC", "field.example")["class"] == "informational"
    widened = one(found, "TenTTHC", "field.type")
    assert (widened["class"], widened["old"], widened["new"]) == ("compatible", "string", "any")
    code, back = changes([str(new), str(SPEC)])
    assert one(back, "TenTTHC", "field.type")["class"] == "breaking"


@pytest.mark.parametrize(
    ("old", "new", "impact"),
    [
        (FieldType("string"), FieldType("code", codelist="TrangThaiHoSo"), Impact.BREAKING),
        (FieldType("string"), FieldType("datetime"), Impact.BREAKING),
        (FieldType("string"), FieldType("integer"), Impact.BREAKING),
        (FieldType("decimal"), FieldType("integer"), Impact.BREAKING),
        (FieldType("code", codelist="TrangThaiHoSo"), FieldType("string"), Impact.COMPATIBLE),
        (FieldType("datetime"), FieldType("string"), Impact.COMPATIBLE),
        (FieldType("integer"), FieldType("decimal"), Impact.COMPATIBLE),
        (FieldType("list", of="string"), FieldType("any"), Impact.COMPATIBLE),
        (FieldType("list", of="string"), FieldType("string"), Impact.BREAKING),
        (FieldType("string"), FieldType("list", of="string"), Impact.BREAKING),
        (FieldType("record", record="LePhi"), FieldType("record", record="TaiLieuNop"), Impact.BREAKING),
        (FieldType("list", of="string"), FieldType("list", of="any"), Impact.COMPATIBLE),
        (FieldType("any"), FieldType("string"), Impact.BREAKING),
        (FieldType("list", of="any", empty_string=True), FieldType("list", of="any"), Impact.BREAKING),
        (FieldType("list", of="any"), FieldType("list", of="any", empty_string=True), Impact.COMPATIBLE),
    ],
)
def test_type_changes_widen_or_narrow(old: FieldType, new: FieldType, impact: Impact) -> None:
    reg, _ = load_spec(SPEC)
    assert reg is not None
    assert type_impact(old, new, reg) is impact


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_revisions_are_read_from_the_repository_of_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    spec = copy_spec(repo)
    git(repo, "add", "spec")
    git(repo, "commit", "-q", "-m", "first")
    edit(spec, T02, TEN_LINH_VUC, "")
    git(repo, "commit", "-q", "-a", "-m", "second")
    git(repo, "tag", "v2")
    monkeypatch.chdir(repo / "spec")  # from a subfolder too: revisions are of the repository's spec/

    code, out, err = run(["HEAD~1", "v2", "--format", "json"])

    assert code == 1, err
    data = json.loads(out)
    assert data["old"]["source"] == "HEAD~1" and len(data["old"]["revision"]) == 40
    assert [(c["subject"], c["kind"]) for c in data["changes"] if c["class"] == "breaking"] == [
        ("TenLinhVuc", "field.removed")
    ]
    code, out, _ = run(["HEAD", "HEAD"])
    assert code == 0 and "No changes." in out


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_unknown_revision_missing_folder_and_broken_spec_exit_2_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    spec = copy_spec(repo)
    git(repo, "add", "spec")
    git(repo, "commit", "-q", "-m", "first")
    edit(spec, T02, "    type: string\n", "    type: strng\n")
    monkeypatch.chdir(repo)
    cases = {
        ("no-such-rev", "HEAD"): "OLD: 'no-such-rev' is neither an existing folder nor a known git revision",
        ("HEAD", str(tmp_path / "missing")): f"NEW: '{tmp_path / 'missing'}' is neither an existing folder",
        ("HEAD", "spec"): "error: NEW (spec) is not a valid spec:",
        ("HEAD", "spec/regulation.yaml"): "is a file, not a spec folder",
        ("HEAD", "HEAD", "--format", "xml"): "--format must be one of text, json, markdown",
    }
    for args, message in cases.items():
        code, out, err = run(list(args))
        assert code == 2, (args, out, err)
        assert message in err, (args, err)
        assert "Traceback" not in out + err and out == ""
    assert "unknown type 'strng'" in run(["HEAD", "spec"])[2]

    monkeypatch.chdir(tmp_path)  # outside any repository, even when the temp folder sits in one
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    code, _, err = run(["HEAD~1", str(SPEC)])
    assert code == 2 and "not in a git repository" in err


def test_every_attribute_of_the_ir_is_compared_or_deliberately_left_out() -> None:
    """The diff names IR attributes in typed code (a rename breaks mypy); a new attribute fails here until
    it is compared or listed as handled elsewhere."""
    from dataclasses import fields as dataclass_fields

    from qcvngen.specdiff import comparing as c

    reg, _ = load_spec(SPEC)
    assert reg is not None
    packet, table, record = reg.packets[0], reg.tables[0], reg.records[0]
    env, field = reg.envelope, reg.records[0].fields[0]
    cases: list[tuple[object, list[Any], set[str]]] = [
        (packet, [c._packet_contract, c._packet_facts], {"name", "method", "params", "data_record", "result_record"}),
        (reg.codelists[0], [c._codelist_facts], {"name", "closed", "codes"}),
        (reg.codelists[0].codes[0], [c._code_facts], {"code"}),
        (reg.meta, [c._meta_facts], set()),
        (reg.sources[0], [c._source_facts], {"id"}),
        (reg.groups[0], [c._group_facts], {"number"}),
        (table, [c._table_facts], {"number", "packet", "part", "record", "gaps", "coverage", "file"}),
        (
            table.coverage,
            [c._coverage_facts],
            {"specified", "candidates", "later", "hypothesis", "known_rows", "gap_rows"},
        ),
        (record, [c._record_facts], {"name", "fields", "open", "table"}),
        (field, [c._field_facts], {"wire_name", "py_name", "type", "required", "max_length", "origin", "position"}),
        (env.endpoints[0], [c._endpoint_contract, c._endpoint_facts], {"name"}),
        (env.headers[0], [c._header_facts], {"name", "required"}),
        (env.errors[0], [c._error_facts], {"code"}),
        (env.local_services[0], [c._service_contract, c._service_facts], {"name", "params"}),
    ]
    for item, facts, elsewhere in cases:
        compared = {name for fn in facts for name in fn(item)}
        attributes = {f.name for f in dataclass_fields(item)}  # type: ignore[arg-type]
        assert compared | elsewhere == attributes, (type(item).__name__, attributes - compared - elsewhere)
        assert not compared & elsewhere


def test_a_change_of_the_regulation_notes_is_reported(tmp_path: Path) -> None:
    """Meta.notes was left out of the old space-separated attribute list; the typed facts include it."""
    new = copy_spec(tmp_path)
    edit(new, "regulation.yaml", "No replacement regulation was found", "A replacement regulation was found")
    code, found = changes([str(SPEC), str(new)])
    assert code == 0
    change = one(found, "regulation", "regulation.notes")
    assert change["class"] == "informational" and "A replacement regulation" in change["new"]


def test_a_change_of_only_the_vietnamese_of_a_note_is_reported_with_both_languages(tmp_path: Path) -> None:
    """Notes are bilingual: a change in either language is a change, shown as ``vi / en``."""
    new = copy_spec(tmp_path)
    edit(new, T02, "vi: \"Không bắt buộc ('ko bb' trong S1).\"", "vi: \"Tuỳ chọn; S1 ghi 'ko bb'.\"")
    code, found = changes([str(SPEC), str(new)])
    assert code == 0
    change = one(found, "ChuHoSo", "field.notes")
    assert change["class"] == "informational"
    assert change["old"] == "Không bắt buộc ('ko bb' trong S1). / Optional ('ko bb' in S1)."
    assert change["new"] == "Tuỳ chọn; S1 ghi 'ko bb'. / Optional ('ko bb' in S1)."

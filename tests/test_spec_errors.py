"""Spec mistakes: reported together as file:line:col: path: message, exit 2, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qcvngen.cli import app
from qcvngen.pipeline import load_spec
from support.paths import copy_spec
from support.table1 import table1

DIAGNOSTIC = re.compile(r"^(spec/[^:]+):(\d+):(\d+): (\S+): (.+)$")
T02 = "tables/t02-dong-bo-ho-so-mc.yaml"


def edit(spec: Path, relative: str, old: str, new: str) -> None:
    path = spec / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(spec: Path, relative: str, needle: str) -> int:
    for number, line in enumerate((spec / relative).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout + result.stderr


def test_type_typo_duplicate_key_and_unquoted_no_are_all_reported(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    edit(spec, T02, "    type: string\n", "    type: strng\n")
    edit(
        spec,
        "tables/t03-cap-nhat-tien-do-ho-so-mc.yaml",
        "    required: true\n",
        "    required: true\n    required: false\n",
    )
    edit(spec, "codelists.yaml", 'code: "1"', "code: no")
    out = tmp_path / "generated"

    code, output = run(["build", "--spec", str(spec), "--out", str(out)])

    assert code == 2
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if DIAGNOSTIC.match(line)]
    assert len(lines) == 3, output
    typo = next(line for line in lines if "strng" in line)
    assert typo.startswith(f"spec/{T02}:{line_of(spec, T02, 'type: strng')}:")
    assert "DongBoHoSoMC.fields[0].type: unknown type 'strng' (did you mean 'string'?)" in typo
    assert any("duplicate key 'required'" in line and line.startswith("spec/tables/t03-") for line in lines)
    quoted = next(line for line in lines if "quote this value" in line)
    assert quoted.startswith(f"spec/codelists.yaml:{line_of(spec, 'codelists.yaml', 'code: no')}:")
    assert "`no` would be read by YAML 1.1 as a boolean" in quoted
    assert not out.exists(), "nothing may be written when the spec has errors"


def test_errors_leave_an_existing_output_untouched(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    out = tmp_path / "generated"
    out.mkdir()
    (out / "keep.txt").write_text("old", encoding="utf-8")
    edit(spec, T02, "    type: string\n", "    type: strng\n")
    code, _ = run(["build", "--spec", str(spec), "--out", str(out)])
    assert code == 2
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (
            T02,
            "    codelist: LoaiDoiTuong\n",
            "    codelist: LoaiDoiTuongg\n",
            "unknown code list 'LoaiDoiTuongg' (did you mean 'LoaiDoiTuong'?)",
        ),
        (T02, "of: TaiLieuNop", "of: TaiLieuNopp", "unknown record 'TaiLieuNopp'"),
        (T02, "  - name: MaTTHC\n", "  - name: MaHoSo\n", "duplicate field name 'MaHoSo'"),
        (T02, "  - name: MaTTHC\n", "  - name: ma_ho_so\n", "both become the Python name 'ma_ho_so'"),
        (T02, "    required: true\n", "    required: true\n    colour: red\n", "unknown key 'colour'"),
        (
            T02,
            "    required: true\n",
            "    required: yes\n",
            "`yes` is a YAML 1.1 boolean spelling; write true or false",
        ),
        (T02, "confidence: high\n", "confidence: certain\n", "Input should be 'high', 'medium' or 'low'"),
        (T02, "    sources: [S1", "    sources: [S99, S1", "unknown source 'S99'"),
        (T02, "    row: 2\n", "    row: 1\n", "row 1 is also fields[0]"),
        ("packets.yaml", "endpoint: integration", "endpoint: integraton", "unknown endpoint 'integraton'"),
        ("regulation.yaml", "spec_version:", "spec_versio:", "unknown key 'spec_versio'"),
    ],
)
def test_each_rule_names_file_line_and_path(tmp_path: Path, relative: str, old: str, new: str, message: str) -> None:
    spec = copy_spec(tmp_path)
    edit(spec, relative, old, new)
    reg, diagnostics = load_spec(spec)
    assert reg is None
    rendered = [str(d) for d in diagnostics]
    hits = [line for line in rendered if message in line]
    assert hits, rendered
    match = DIAGNOSTIC.match(hits[0])
    assert match, hits[0]
    assert match.group(1) == f"spec/{relative}"


def test_a_table_missing_from_tables_folder_is_reported(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    (spec / "tables/t16-dong-bo-ket-qua-hoi-dap-gui-tu-dvcqg.yaml").unlink()
    reg, diagnostics = load_spec(spec)
    assert reg is None
    assert any("table 16 has no file in tables/" in str(d) for d in diagnostics)


def test_more_regulation_fields_than_declared_is_an_error(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    edit(spec, "packets.yaml", "declared: 9\n", "declared: 8\n")
    reg, diagnostics = load_spec(spec)
    assert reg is None
    assert any("9 fields are marked membership: regulation but Table 1 declares 8" in str(d) for d in diagnostics)


def test_validate_command_reports_and_exits_2(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    edit(spec, T02, "    type: string\n", "    type: strng\n")
    code, output = run(["validate", "--spec", str(spec)])
    assert code == 2 and "unknown type 'strng'" in output
    code, output = run(["validate", "--spec", str(copy_spec(tmp_path / "ok"))])
    counts = table1()
    assert code == 0 and f"{len(counts.packets)} packets, {len(counts.tables)} field tables" in output


def test_diagnostics_golden(tmp_path: Path, update_golden: bool) -> None:
    """What users read when the spec is wrong; `pytest --update-golden` rewrites the snapshot."""
    spec = copy_spec(tmp_path)
    edit(spec, T02, "    type: string\n", "    type: strng\n")
    edit(
        spec,
        "tables/t03-cap-nhat-tien-do-ho-so-mc.yaml",
        "    required: true\n",
        "    required: true\n    required: false\n",
    )
    edit(spec, "codelists.yaml", 'code: "1"', "code: no")
    edit(spec, T02, "    codelist: LoaiDoiTuong\n", "    codelist: LoaiDoiTuongg\n")
    edit(spec, T02, "    required: true\n", "    required: true\n    colour: red\n")
    _, diagnostics = load_spec(spec)
    text = "".join(f"{d}\n" for d in diagnostics)
    golden = Path(__file__).parent / "golden" / "diagnostics" / "bad-spec.txt"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), "run pytest --update-golden to create the snapshot"
    assert text == golden.read_text(encoding="utf-8"), (
        "the diagnostics users read changed; if that is intended, run"
        " `python -m pytest tests/test_spec_errors.py --update-golden` and review the diff of tests/golden/"
    )


def test_the_public_api_is_exactly_these_names() -> None:
    """The package's public API, as httpx's test_exported_members does: no dead export (SpecError is gone)."""
    import qcvngen
    from qcvngen.diagnostics import Diagnostic, Severity, has_errors

    assert qcvngen.__all__ == sorted(qcvngen.__all__)
    assert qcvngen.__all__ == ["BuildResult", "Diagnostic", "__version__", "build", "load_spec"]
    for name in qcvngen.__all__:
        assert getattr(qcvngen, name) is not None
    warning = Diagnostic("spec/x.yaml", 1, 1, "", "w", Severity.WARNING)
    assert not has_errors([warning]) and has_errors([warning, Diagnostic("spec/x.yaml", 2, 1, "", "e")])


def test_a_clash_is_located_at_the_definition_that_came_second(tmp_path: Path) -> None:
    """resolve locates a name clash from naming.Owner data (kind and name), not by parsing its message."""
    spec = copy_spec(tmp_path)
    edit(spec, "envelope.yaml", "  - name: ThongKeHoSoTheoKy\n", "  - name: DongBoHoSoMC\n")
    reg, diagnostics = load_spec(spec)
    assert reg is None
    clashes = [d for d in diagnostics if "is defined by" in d.message]
    assert [(d.file, d.line, d.spec_path) for d in clashes] == [
        (
            "spec/envelope.yaml",
            line_of(spec, "envelope.yaml", "- name: DongBoHoSoMC"),
            "envelope.local_services[0].name",
        )
    ] * 2
    assert clashes[0].message == (
        "the name 'DongBoHoSoMCRequest' is defined by packet 'DongBoHoSoMC'"
        " and by local service 'DongBoHoSoMC'; rename one"
    )


# --- notes: bilingual everywhere; the older plain string reads as English only, with a warning ----

NOTE_EN = "Must match a dossier already sent with DongBoHoSoMC."
T03 = "tables/t03-cap-nhat-tien-do-ho-so-mc.yaml"
NOTE_BLOCK = f'    notes:\n      vi: "Phải khớp với một hồ sơ đã gửi bằng DongBoHoSoMC."\n      en: "{NOTE_EN}"\n'


def test_the_bundled_spec_has_every_note_in_both_languages(tmp_path: Path) -> None:
    reg, diagnostics = load_spec(copy_spec(tmp_path))
    assert reg is not None and diagnostics == []


def test_a_plain_string_note_is_read_as_english_only_with_a_located_warning(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    edit(spec, T03, NOTE_BLOCK, f'    notes: "{NOTE_EN}"\n')
    reg, diagnostics = load_spec(spec)
    assert reg is not None, [str(d) for d in diagnostics]
    expected = (
        f"spec/{T03}:{line_of(spec, T03, 'notes: ')}:12: CapNhatTienDoHoSoMC.fields[0].notes: warning: note is "
        'in English only: the Vietnamese is missing; write notes: {vi: "…", en: "…"}'
    )
    assert [str(d) for d in diagnostics] == [expected]
    field = reg.record(reg.table(3).record or "").fields[0]
    assert field.notes is not None and (field.notes.vi, field.notes.en) == ("", NOTE_EN)
    code, output = run(["build", "--spec", str(spec), "--out", str(tmp_path / "out")])
    assert code == 0 and "warning: note is in English only" in output


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ('    notes:\n      en: "x"\n', "notes.vi: missing required key 'vi'"),
        ('    notes:\n      vi: "x"\n      en: ""\n', "notes.en: String should have at least 1 character"),
        ('    notes: {vi: "x", en: "y", fr: "z"}\n', "notes.fr: unknown key 'fr'"),
        ("    notes: 12\n", "notes: expected a note {vi: ..., en: ...}, got 12"),
        ('    notes: ""\n', "notes: expected a note {vi: ..., en: ...}, got an empty text"),
        ("    notes: yes\n", "notes: `yes` would be read by YAML 1.1 as a boolean; quote this value"),
    ],
)
def test_a_malformed_note_is_an_error_at_its_position(tmp_path: Path, new: str, message: str) -> None:
    spec = copy_spec(tmp_path)
    edit(spec, T03, NOTE_BLOCK, new)
    reg, diagnostics = load_spec(spec)
    assert reg is None
    hits = [str(d) for d in diagnostics if message in str(d)]
    assert hits, [str(d) for d in diagnostics]
    match = DIAGNOSTIC.match(hits[0])
    assert (
        match
        and match.group(1) == f"spec/{T03}"
        and match.group(4) == f"CapNhatTienDoHoSoMC.fields[0].{message.split(':')[0]}"
    )
    # The note follows the field's example; a nested key's problem sits on the note's lines.
    assert int(match.group(2)) - line_of(spec, T03, 'example: "H22.01-200101-0001"') in (1, 2, 3)


@pytest.mark.parametrize("name", ["datetime", "TIMEZONE", "CodeEnum", "WireDateTime", "None", "match"])
def test_a_code_list_named_like_the_generated_modules_own_names_is_an_error_at_its_name(
    tmp_path: Path, name: str
) -> None:
    """A code list becomes a class in ``codes`` imported into ``wire``: a keyword, or a name those
    modules bind themselves, would break or silently shadow them."""
    spec = copy_spec(tmp_path)
    edit(spec, "codelists.yaml", "name: KENH", f"name: {name}")
    code, out = run(["validate", "--spec", str(spec)])
    line = line_of(spec, "codelists.yaml", f"name: {name}")
    assert code == 2
    assert re.search(rf"spec/codelists\.yaml:{line}:\d+: codelists\[\d+\]\.name: code list name '{name}'", out), out

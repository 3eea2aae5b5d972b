"""The strict YAML loader: YAML 1.1 surprises, duplicate keys, unsafe constructs, bad bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcvngen.loader import Ambiguous, load_file, load_text


@pytest.mark.parametrize(
    ("raw", "reads_as"),
    [
        ("no", "boolean"),
        ("On", "boolean"),
        ("yes", "boolean"),
        ("0243123456", "number"),
        ("001012345670", "number"),
        ("1.001610", "number"),
        ("1:20", "number"),
        ("2001-02-03", "date"),
        ("0x1F", "number"),
        ("1_000", "number"),
    ],
)
def test_yaml11_scalars_are_never_converted(raw: str, reads_as: str) -> None:
    doc, problems = load_text(f"value: {raw}\n", "t.yaml")
    assert not problems and doc is not None
    assert doc.data["value"] == Ambiguous(raw, reads_as)


def test_plain_values_that_are_unambiguous_load_as_themselves() -> None:
    doc, problems = load_text('a: 12\nb: true\nc: false\nd: text\ne: "0243123456"\nf: ~\n', "t.yaml")
    assert not problems and doc is not None
    assert doc.data == {"a": 12, "b": True, "c": False, "d": "text", "e": "0243123456", "f": None}


def test_positions_of_values_and_keys() -> None:
    doc, _ = load_text("top:\n  - name: x\n    type: strng\n", "t.yaml")
    assert doc is not None
    assert doc.mark(("top", 0, "type")).line == 3
    assert doc.mark(("top", 0, "type")).col == 11
    assert doc.mark(("top", 0, "type"), key=True).col == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb:\n  c: 1\n  c: 2\n", "duplicate key 'c' (first defined at line 3)"),
        ("a: !!python/object/apply:os.system [echo pwned]\n", "tags"),
        ("a: &anchor 1\nb: *anchor\n", "anchors"),
        ("a: *missing\n", "alias"),
        ("base: {x: 1}\nderived:\n  <<: {y: 2}\n", "merge keys"),
        ("a: [1, 2\n", "YAML syntax error"),
        ("a: 1\n---\nb: 2\n", "only one YAML document"),
        ("? [a, b]\n: 1\n", "mapping keys must be plain text"),
    ],
)
def test_hazards_are_rejected_with_position(text: str, message: str) -> None:
    doc, problems = load_text(text, "t.yaml")
    assert doc is None
    assert len(problems) == 1
    assert message in problems[0].message
    assert problems[0].line >= 1 and problems[0].file == "t.yaml"


def test_alias_bomb_is_rejected_fast() -> None:
    lines = ['a0: &a0 ["x", "x"]'] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    doc, problems = load_text("\n".join(lines), "bomb.yaml")
    assert doc is None and "anchors" in problems[0].message


def test_deep_nesting_is_rejected() -> None:
    doc, problems = load_text("a: " + "[" * 200 + "]" * 200, "deep.yaml")
    assert doc is None and "nested deeper" in problems[0].message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xef\xbb\xbfa: 1\n", "byte-order mark"),
        (b"a: 1\nb: \xff\xfe\n", "invalid UTF-8 at byte offset 8"),
        (b"a: 1\x00\n", "NUL byte"),
        (b"\xff\xfea\x00:\x00", "UTF-16"),
        (b'a: "bell\x07"\n', "control characters"),
    ],
)
def test_bad_bytes_are_rejected(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    doc, problems = load_file(path, "spec/bad.yaml")
    assert doc is None
    assert message in problems[0].message
    assert problems[0].file == "spec/bad.yaml"

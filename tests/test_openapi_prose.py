"""Spec text in the OpenAPI documents' descriptions, which OpenAPI says are CommonMark, stays text.

A documentation viewer (Swagger UI, Redoc) renders every ``description`` as Markdown: a title or a
purpose holding ``<img onerror=…>``, ``*…*``, ``[…](javascript:…)`` or a line opening with ``#``
would become HTML, emphasis, a link or a heading there. The documents escape such text (and only
such text: plain prose stays as written, for the client generators that copy it into doc comments);
the JSON Schemas, whose descriptions are plain text, keep it as written.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from qcvngen import build, render
from qcvngen.pipeline import BuildResult
from qcvngen.render import md_prose
from qcvngen.targets import openapi
from support.paths import copy_spec

PAYLOAD = "<img src=x onerror=alert(1)> *em* __strong__ [a](javascript:b) ~~gone~~ `tick` &amp; x_y"
# Where the payload goes: (file, text as written, replacement). Titles are written "vi — en" in one
# line, so a payload also opens a line (its vi) to reach the block-level markers.
PLACES = [
    ("packets.yaml", '"Synchronise administrative-procedure', f'"{PAYLOAD} Synchronise administrative-procedure'),
    (
        "tables/t02-dong-bo-ho-so-mc.yaml",
        '{vi: "Mã hồ sơ", en: "dossier code"}',
        f'{{vi: "# Mã hồ sơ", en: "{PAYLOAD}"}}',
    ),
    ("envelope.yaml", 'en: "integration services"', f'en: "{PAYLOAD}"'),
    ("codelists.yaml", 'en: "dossier status"', f'en: "{PAYLOAD}"'),
    (
        "codelists.yaml",
        '{vi: "Được tiếp nhận", en: "received/accepted"}',
        f'{{vi: "1. Được tiếp nhận", en: "{PAYLOAD}"}}',
    ),
    ("regulation.yaml", '  en: "National technical regulation', f'  en: "{PAYLOAD} National technical regulation'),
]
MARKS = ("onerror", "strong", "javascript", "gone", "tick")  # words only the payload holds
DATA_KEYS = {"example", "examples", "enum", "const", "default"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    spec = copy_spec(tmp_path_factory.mktemp("hostile"))
    for name, written, replacement in PLACES:
        path = spec / name
        text = path.read_text()
        assert written in text, f"{name} no longer holds {written!r}: update PLACES"
        path.write_text(text.replace(written, replacement, 1))
    result = build(spec)
    assert not result.diagnostics, result.diagnostics
    return result


def _descriptions(node: Any) -> list[str]:
    if isinstance(node, list):
        return [text for item in node for text in _descriptions(item)]
    if not isinstance(node, dict):
        return []
    out = []
    for key, value in node.items():
        if key in DATA_KEYS or key.startswith("x-"):
            continue
        out += [value] if key == "description" and isinstance(value, str) else _descriptions(value)
    return out


def _viewer() -> MarkdownIt:
    viewer = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    viewer.validateLink = lambda url: True  # type: ignore[method-assign]
    return viewer


def test_spec_text_in_openapi_descriptions_renders_as_the_text_itself(hostile: BuildResult) -> None:
    viewer = _viewer()
    documents = {path: json.loads(text) for path, text in hostile.files.items() if path.parts[0] == "openapi"}
    assert len(documents) == 16
    shown = 0
    for path, document in documents.items():
        for description in _descriptions(document):
            rendered = viewer.render(description)
            tags = set(re.findall(r"</?([a-z0-9]+)", rendered))
            assert tags <= {"p", "code"}, f"{path}: {description!r} renders as {rendered!r}"
            for code in re.findall(r"<code>(.*?)</code>", rendered):
                assert not any(mark in code for mark in MARKS), f"{path}: spec text in a code span: {code!r}"
            text = html.unescape(re.sub(r"<[^>]+>", "", rendered))
            shown += PAYLOAD.replace("&amp;", "&") in text or PAYLOAD in text
    assert shown >= 16  # the payload is there, as text, in every document


def test_the_json_schemas_keep_spec_text_as_written(hostile: BuildResult) -> None:
    record = json.loads(hostile.files[PurePosixPath("jsonschema/DongBoHoSoMC.record.schema.json")])
    assert PAYLOAD in json.dumps(record, ensure_ascii=False)


@pytest.mark.parametrize(
    "text",
    ["Mã hồ sơ — dossier code", "Asia/Ho_Chi_Minh", 'Cờ "True"/"False"', "a & b", "2^53 |x| ok", "see http://x.y"],
)
def test_plain_prose_is_left_as_written(text: str) -> None:
    assert md_prose(text) == text


@pytest.mark.parametrize(
    "text",
    ["# h", "1. x", "- item", "> quote", "a *b* c", "[x](y)", "![i](x)", "<b>", "~~s~~", "&amp;", "x  \ny", " lead"],
)
def test_markup_is_escaped_and_reads_as_the_text(text: str) -> None:
    escaped = md_prose(text)
    assert escaped != text
    rendered = _viewer().render(escaped)
    assert set(re.findall(r"</?([a-z0-9]+)", rendered)) <= {"p"}
    shown = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    assert shown.split() == text.split()  # the same text (a line break may come out as a space)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="ab_ 1.)-+=#>*~`[]()!<&;|\n\r\tđé\\:", max_size=14))
def test_text_the_quick_look_passes_is_prose_indeed(text: str) -> None:
    """The look that spares markdown-it for most text never lets markup through."""
    if not render._may_hold_markup(text):
        assert render._reads_as_itself(text), repr(text)


def test_a_field_named_like_a_keyword_gets_its_description_escaped_too() -> None:
    """Under ``properties`` a key is a field's wire name: ``default``, ``example``, ``x-a`` are fields there."""
    hostile = "<img src=x onerror=alert(1)>"
    schemas = {
        "R": {
            "properties": {name: {"type": "string", "description": hostile} for name in ("default", "example", "x-a")},
            "default": {"description": hostile},  # a keyword's value: data, kept as written
        }
    }
    escaped = openapi.prose_descriptions(schemas, names=True)
    assert all(field["description"] != hostile for field in escaped["R"]["properties"].values())
    assert escaped["R"]["default"] == {"description": hostile}


@pytest.mark.parametrize(
    "text", ["foo\r# Heading", "Title\r===", "a\r- item", "a | b\r--|--\rc | d", "foo\rbar  \rbaz"]
)
def test_a_lone_carriage_return_is_a_line_break_to_commonmark(text: str) -> None:
    rendered = _viewer().render(md_prose(text))
    assert set(re.findall(r"</?([a-z0-9]+)", rendered)) <= {"p"}, rendered

"""One voice: every refusal of the server stubs and the sandbox in validate-data's bilingual words.

The words come from one table built from the IR (``qcvn120_client.wire.PATTERN_MESSAGES``, which
``qcvngen validate-data`` and the client use too); pydantic's English (``Field required``, ``Input
should be …``, ``Extra inputs are not permitted``) never reaches an answer. "Did you mean" names
the wire name of a mistyped or Python-named key and the closest code of a list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_differential import _as_sent, cases, server_url
from test_wire_names import name_cases

from qcvngen.examples import example_request
from qcvngen.pipeline import BuildResult
from support.sandbox_process import serving

__all__ = ["server_url"]  # the differential test's server (every service exact_on_strings)

PYDANTIC_ENGLISH = re.compile(
    r"Field required|Input should|Extra inputs|String should|List should|Value error|validation error"
    r"|should have at|is not a valid"
)
INVALID_DATA = "Dữ liệu không hợp lệ — invalid data: "
_HINTS = re.compile(r" \((?:có phải|did you mean)[^()]*\)")
MADONVI = "000.00.00.G05"


def _parts(message: str) -> list[tuple[str, str]]:
    """(path, words) of each failing field of an "invalid data" answer."""
    body = re.sub(r" \(\+\d+ more\)$", "", message.removeprefix(INVALID_DATA))
    return [tuple(part.split(": ", 1)) for part in body.split("; ")]  # type: ignore[misc]


# A bound of a JSON number (an id beyond ±10¹⁸): bilingual with the bound, the contract's own words
# (number verdicts belong to the kind registry's work in progress, issue 18's other half).
_BOUNDS = re.compile(r"(?:lớn hơn|nhỏ hơn) -?\d+ — must be at (?:most|least) -?\d+")


def _in_the_table(words: str, table: set[str]) -> bool:
    plain = _HINTS.sub("", words)
    if _BOUNDS.fullmatch(plain):
        return True
    return any(plain == text or plain.startswith((text + " (", text + ": ")) for text in table)


@pytest.mark.slow  # the whole differential table over the wire
def test_every_refusal_of_the_server_speaks_the_table(result: BuildResult, models: Any, server_url: str) -> None:
    from qcvn120_client.wire import PATTERN_MESSAGES

    reg = result.regulation
    assert reg is not None
    table = set(PATTERN_MESSAGES.values())
    paths = {e.name: e.path for e in reg.envelope.endpoints}
    endpoint_of = {p.name: p.endpoint for p in reg.packets}
    payloads = [c for c in (*cases(reg), *name_cases(reg)) if c.definition.endswith("Request")]
    problems: list[str] = []
    said: list[str] = []
    with httpx.Client(base_url=server_url, timeout=30) as http:
        for case in payloads:
            path = paths["auth"] if case.packet == "Login" else paths[endpoint_of[case.packet]]
            answer = http.post(
                path,
                content=case.text.encode() if case.text is not None else _as_sent(case.payload),
                headers={"content-type": "application/json"},
            )
            if answer.status_code == 200:
                continue
            message = answer.json()["message"]
            if PYDANTIC_ENGLISH.search(message):
                problems.append(f"{case.where}: pydantic's English: {message}")
            if message.startswith(INVALID_DATA):
                said.append(message)
                problems += [f"{case.where}: {p}: {w}" for p, w in _parts(message) if not _in_the_table(w, table)]
    assert not problems, f"{len(problems)} answer(s) not in the table's words:\n" + "\n".join(problems[:30])
    assert len(said) >= 500, len(said)  # not vacuous: hundreds of refusals, every rule of the table among them
    used = {
        text for message in said for _, w in _parts(message) for text in table if _HINTS.sub("", w).startswith(text)
    }
    rules = {key for key, text in PATTERN_MESSAGES.items() if text in used and key.startswith("@")}
    assert {"@required", "@additionalProperties", "@type", "@maxLength", "@code", "@flag"} <= rules, rules


def _post(http: httpx.Client, body: dict[str, Any], path: str = "/integration") -> dict[str, Any]:
    answer = http.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    return dict(answer.json())


def test_did_you_mean_names_the_wire_name_and_the_code(result: BuildResult, models: Any, server_url: str) -> None:
    reg = result.regulation
    assert reg is not None
    packet = next(p for p in reg.packets if p.name == "CapNhatTienDoHoSoMC")
    body = example_request(reg, packet, session="differential-session", madonvi=MADONVI)
    record = dict(body["data"][0])
    with httpx.Client(base_url=server_url, timeout=30) as http:
        python_name = {key if key != "NguoiXuLy" else "nguoi_xu_ly": value for key, value in record.items()}
        said = _post(http, {**body, "data": [python_name]})["message"]
        assert "data[0].NguoiXuLy: thiếu trường bắt buộc — missing required field" in said, said
        assert (
            "data[0].nguoi_xu_ly: trường không có trong bảng (bảng đã đầy đủ) (có phải 'NguoiXuLy'?)"
            " — field not in the table (the table is complete) (did you mean 'NguoiXuLy'?)"
        ) in said, said
        typo = {**body, "data": [{**body["data"][0], "TrangThai": "11"}]}
        said = _post(http, typo)["message"]
        assert "data[0].TrangThai: không phải mã của danh mục — not a code of the list: '1', '2'" in said, said
        assert said.endswith("(có phải / did you mean '1'?)"), said
        flag = {**body, "service": "DongBoHoSoMC", "data": []}
        said = _post(http, {**flag, "service": "DongBoHoSoMc"})["message"]
        assert "(có phải / did you mean 'DongBoHoSoMC'?)" in said, said


@pytest.fixture(scope="module")
def sandbox_url(models: Any) -> Iterator[str]:
    """The sandbox (the generated app with the sandbox behind it) under uvicorn on loopback."""
    from qcvngen.sandbox import create_sandbox_app

    app, _ = create_sandbox_app(":memory:")
    with serving(app) as url:
        yield url


def test_the_sandbox_speaks_the_table_too(result: BuildResult, sandbox_url: str) -> None:
    """The issue's record in Python names, a flag ``"true"`` and a record that is not an object."""
    reg = result.regulation
    assert reg is not None
    packet = next(p for p in reg.packets if p.name == "DongBoHoSoMC")
    with httpx.Client(base_url=sandbox_url, timeout=30) as http:
        session = http.post("/auth", json={"username": "sandbox", "password": "sandbox"}).json()["session"]
        body = example_request(reg, packet, session=session, madonvi=MADONVI)
        names = {f.wire_name: f.py_name for f in reg.record(packet.data_record or "").fields}
        answers = [
            _post(http, {**body, "data": [{names.get(k, k): v for k, v in body["data"][0].items()}]}),
            _post(http, {**body, "isUpdating": "true"}),
            _post(http, {**body, "data": ["not a record"]}),
            _post(http, {**body, "data": [{**body["data"][0], "NgayTiepNhan": 20240105083000}]}),
        ]
    for answer in answers:
        assert answer["error_code"] == "-1" and not PYDANTIC_ENGLISH.search(answer["message"]), answer
    assert "data[0].MaHoSo: thiếu trường bắt buộc" in answers[0]["message"]
    assert "(did you mean 'MaHoSo'?)" in answers[0]["message"]
    assert 'isUpdating: phải là "True" hoặc "False" — must be "True" or "False"' in answers[1]["message"]
    assert "data[0]: sai kiểu dữ liệu — wrong type" in answers[2]["message"]
    assert "data[0].NgayTiepNhan: sai kiểu dữ liệu — wrong type (string, not integer)" in answers[3]["message"]


def test_the_table_has_every_rule_the_wording_names(result: BuildResult, models: Any) -> None:
    """The runtime asks the table for these keys: the generated table holds each, from the IR."""
    from qcvn120_client.wire import PATTERN_MESSAGES

    from qcvngen.payloads import RULE_TEXT
    from qcvngen.runtime.shared import wording

    keys = {*wording.RULE_KEYS.values(), wording.CODE_KEY, wording.FLAG_KEY, wording.OTHER_KEY, "@type"}
    assert keys <= set(PATTERN_MESSAGES), keys - set(PATTERN_MESSAGES)
    for key in keys:
        assert PATTERN_MESSAGES[key] == " — ".join(RULE_TEXT[key[1:]]) == wording.FALLBACK[key]

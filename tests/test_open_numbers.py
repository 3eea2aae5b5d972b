"""Numbers under an open table's unknown keys: stored exactly as sent, or refused (issue 18, part 9).

A double cannot hold every number JSON can write. The server keeps a number when the double it reads
writes back the same number (``1e308`` stays ``1e+308``, never a 309-digit integer with the
double's artefact digits; ``5.0`` is ``5``; integers of any length are exact), and refuses with a
clear message one it would store changed: ``1e-400`` (a non-zero number that rounds to 0) or
``0.10000000000000001`` (more digits than a double keeps). ``-0.0`` is the number 0 (JSON Schema
compares numbers, and ``-0 == 0``). ``validate-data`` refuses what the server refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qcvngen.examples import example_request
from qcvngen.pipeline import BuildResult
from support.sandbox_process import serving

MADONVI = "000.00.00.G05"
KEPT = {"SoLon": "1e308", "AmKhong": "-0.0", "MotPhanMuoi": "0.1", "NamChamKhong": "5.0", "Dai": "1" * 40}
REFUSED = ("1e-400", "0.10000000000000001", "12345678901234567890.0")


@pytest.fixture(scope="module")
def sandbox(models: Any) -> Iterator[tuple[str, Any]]:
    from qcvngen.sandbox import create_sandbox_app

    app, portal = create_sandbox_app(":memory:", view_token="numbers")
    with serving(app) as url:
        yield url, portal


def _body_text(result: BuildResult, session: str, numbers: dict[str, str]) -> str:
    """A DongBoDanhGia request (an open table) with ``numbers`` written verbatim under unknown keys."""
    reg = result.regulation
    assert reg is not None
    packet = next(p for p in reg.packets if p.name == "DongBoDanhGia")
    body = example_request(reg, packet, session=session, madonvi=MADONVI)
    body["data"][0].update({key: f"@@{key}@@" for key in numbers})
    text = json.dumps(body, ensure_ascii=False)
    for key, number in numbers.items():
        text = text.replace(f'"@@{key}@@"', number)
    return text


def _post(base: str, text: str) -> httpx.Response:
    return httpx.post(f"{base}/integration", content=text.encode(), headers={"content-type": "application/json"})


def test_numbers_are_stored_exactly_as_sent_or_refused(result: BuildResult, sandbox: tuple[str, Any]) -> None:
    base, portal = sandbox
    session = httpx.post(f"{base}/auth", json={"username": "sandbox", "password": "sandbox"}).json()["session"]
    answer = _post(base, _body_text(result, session, KEPT))
    assert answer.status_code == 200 and answer.json()["error_code"] == "0", answer.text
    assert "kept as sent" in answer.json()["message"]
    stored_text = portal.store.query("SELECT record FROM records WHERE service = 'DongBoDanhGia'")[-1]["record"]
    stored = json.loads(stored_text)
    assert stored["SoLon"] == float("1e308") and '"SoLon":1e+308' in stored_text
    assert "52504760255204420248704468581108" not in stored_text  # int(1e308)'s artefact digits
    assert stored["MotPhanMuoi"] == 0.1 and stored["NamChamKhong"] == 5 and stored["AmKhong"] == 0
    assert stored["Dai"] == int("1" * 40)
    for number in REFUSED:
        refused = _post(base, _body_text(result, session, {"SoLe": number}))
        assert refused.status_code == 400, (number, refused.text)
        message = refused.json()["message"]
        assert "cannot be kept exactly as sent" in message and number not in message
    count = portal.store.query("SELECT COUNT(*) AS n FROM records WHERE service = 'DongBoDanhGia'")[0]["n"]
    assert count == 1, "a refused request stores nothing"


@pytest.mark.parametrize("number", REFUSED)
def test_validate_data_refuses_what_the_server_refuses(result: BuildResult, number: str, tmp_path: Path) -> None:
    from qcvngen.payloads import PayloadValidator
    from qcvngen.wirejson import NotWireJson, parse

    text = _body_text(result, "", {"SoLe": number})
    with pytest.raises(NotWireJson, match="cannot be kept exactly as sent"):
        parse(text)
    assert result.regulation is not None
    kept = parse(_body_text(result, "", KEPT))
    findings = PayloadValidator(result.regulation).validate("kept.json", kept, "DongBoDanhGia")
    assert not [f for f in findings if f.severity == "error"], findings

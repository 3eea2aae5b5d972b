"""Capture on the receiving side: the server stubs and the sandbox record the shapes of what they get.

A real sandbox process (`qcvngen sandbox --capture`) receives pushes of canary personal data from the
generated client, a refused -3 push among them; its capture holds no canary, every line is a valid
``qcvn120-capture/1`` request line, and `qcvngen learn` reads it. Without ``--capture`` nothing is
written; a capture that fails never fails the request.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from test_capture_client import (
    CANARIES,
    CCCD,
    DOSSIER,
    MADONVI,
    NAME,
    PASSWORD,
    PHONE,
    USER,
    canary_answer,
    canary_dossier,
    settings,
)

from support.paths import ROOT
from support.sandbox_process import Sandbox, serving, start_sandbox

SCHEMA = json.loads((ROOT / "docs" / "capture.schema.json").read_text(encoding="utf-8"))
UNKNOWN_KEY = "SoBienNhanGiay"


@pytest.fixture(scope="module")
def capturing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    folder = tmp_path_factory.mktemp("h13")
    path = folder / "received.jsonl"
    running = start_sandbox(
        folder / "state.sqlite3", "--account", f"{USER}:{PASSWORD}:{MADONVI}", "--capture", str(path)
    )
    yield running, path
    running.stop()


@pytest.fixture(scope="module")
def qc(models: Any) -> Any:
    import qcvn120_client

    return qcvn120_client


def login(base_url: str) -> str:
    reply = httpx.post(f"{base_url}/auth", json={"username": USER, "password": PASSWORD})
    token = reply.json()["session"]
    assert isinstance(token, str)
    return token


def push_raw(base_url: str, session: str, records: list[dict[str, Any]]) -> httpx.Response:
    body = {"service": "DongBoHoSoMC", "session": session, "madonvi": MADONVI, "data": records}
    return httpx.post(f"{base_url}/integration", json=body)


def send_everything(qc: Any, base_url: str) -> None:
    """Pushes of canary data (stored, refused -3, refused by validation), an unauthenticated push, a
    pull with a canary parameter, and a Q&A answer."""
    with qc.Client(base_url, **settings()) as client:
        client.dong_bo_ho_so_mc([canary_dossier()])
        with pytest.raises(qc.AlreadyExistsError):
            client.dong_bo_ho_so_mc([canary_dossier()])
        client.dong_bo_ket_qua_hoi_dap_gui_tu_dvcqg([canary_answer()])
        with pytest.raises(qc.PortalError):
            client.lay_thu_tuc(ma_tthc=PHONE)
    # An unknown key carrying a canary: refused by the contract after authentication, still recorded.
    odd = {**canary_dossier(), "MaHoSo": f"{DOSSIER}-2", UNKNOWN_KEY: f"{NAME} {CCCD}"}
    assert push_raw(base_url, login(base_url), [odd]).json()["error_code"] != "0"
    # Not authenticated: never recorded.
    assert push_raw(base_url, "not-a-session", [canary_dossier()]).status_code == 401


def assert_no_canary(text: str) -> None:
    for value in (*CANARIES, f"{DOSSIER}-2"):
        assert value not in text, value


def test_the_sandbox_captures_what_it_receives_and_never_a_value(qc: Any, capturing: tuple[Sandbox, Path]) -> None:
    sandbox, path = capturing
    send_everything(qc, sandbox.base_url)
    text = path.read_text(encoding="utf-8")
    assert_no_canary(text)
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        jsonschema.validate(line, SCHEMA)
        assert line["direction"] == "request" and line["endpoint"] != "auth"
    seen = [(line["packet"], line["error_code"]) for line in lines]
    assert seen[:4] == [
        ("DongBoHoSoMC", "0"),
        ("DongBoHoSoMC", "-3"),
        ("DongBoKetQuaHoiDapGuiTuDVCQG", "0"),
        ("LayThuTuc", "-4"),
    ]
    assert len(lines) == 5 and lines[4]["packet"] == "DongBoHoSoMC" and lines[4]["error_code"] == "-1"
    stored, refused, _, pull, invalid = lines
    keys = {k["path"]: k for k in stored["keys"]}
    # Code fields of the request record keep their values (to learn new codes); nothing else does.
    assert keys["TrangThaiHoSo"]["codes"] == ["2"] and keys["LoaiDoiTuong"]["codes"] == ["1"]
    assert "codes" not in keys["ChuHoSo"] and keys["ChuHoSo"]["max_length"] == len(NAME)
    assert keys["TaiLieuNop[].TenTepDinhKem"]["kinds"] == {"code": 1}
    assert stored["records"] == 1 and "data" in stored["envelope_keys"] and "message" not in stored
    # A refusal leaves one short entry: no value, no message, none of the refused records' keys.
    assert refused["refused"] is True and refused["records"] == 1 and refused["keys"] == []
    assert "message" not in refused and refused["envelope_keys"] == []
    # A refused pull: not even its parameters' names are kept.
    assert pull["refused"] is True and pull["keys"] == [] and pull["envelope_keys"] == []
    assert invalid["refused"] is True and invalid["keys"] == [] and UNKNOWN_KEY not in json.dumps(invalid)


def test_learn_reads_the_server_capture(qc: Any, capturing: tuple[Sandbox, Path]) -> None:
    sandbox, path = capturing
    if not path.exists():
        send_everything(qc, sandbox.base_url)
    learned = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", "learn", str(path), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert learned.returncode == 0, learned.stderr[-2000:]
    report = json.loads(learned.stdout)
    pushes = [p for p in report["packets"] if p["packet"] == "DongBoHoSoMC"]
    assert [p["direction"] for p in pushes] == ["request"]
    # The key of a refused request never becomes a candidate (issue 17: a typo must not reach the spec).
    assert pushes[0]["record"] and UNKNOWN_KEY not in learned.stdout
    assert {r["error_code"] for r in pushes[0]["refusals"]} == {"-3", "-1"}
    assert_no_canary(learned.stdout + learned.stderr)


def sandbox_app(**options: Any) -> Any:
    from qcvngen.sandbox import create_sandbox_app
    from qcvngen.sandbox.accounts import Credentials

    app, _ = create_sandbox_app(":memory:", [Credentials(USER, PASSWORD, MADONVI)], **options)
    return app


def test_capture_off_writes_nothing(qc: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = sandbox_app()
    with serving(app) as base_url:
        send_everything(qc, base_url)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_capture_never_fails_the_request(qc: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def broken(line: dict[str, Any]) -> None:
        raise RuntimeError(f"disk full while writing {line}")

    handed: list[dict[str, Any]] = []
    later = tmp_path / "becomes-a-folder.jsonl"  # fine at start, a folder by the time it is written
    for sink in (later, broken, handed.append):
        with caplog.at_level(logging.WARNING, logger="qcvngen.sandbox"):
            app = sandbox_app(capture=sink)
            later.mkdir(exist_ok=True)
            with serving(app) as base_url, qc.Client(base_url, **settings()) as client:
                client.dong_bo_ho_so_mc([canary_dossier()])  # a refusal would raise
    warnings = [r.getMessage() for r in caplog.records if "capture not recorded" in r.getMessage()]
    assert len(warnings) == 2 and "IsADirectoryError" in warnings[0] and "RuntimeError" in warnings[1]
    assert_no_canary(caplog.text)
    assert [(line["packet"], line["error_code"]) for line in handed] == [("DongBoHoSoMC", "0")]

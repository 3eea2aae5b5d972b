"""Two units against one real sandbox process: neither sees nor changes the other's data; sessions
end when their account changes; accounts files take any password (issue 9, items 5 and 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qcvngen.examples import example_record
from qcvngen.pipeline import load_spec
from support.paths import ROOT, SPEC
from support.sandbox_process import Sandbox, start_sandbox, view

# Unit A's password holds every character the text form must escape, and Vietnamese in NFC.
UNIT_A = ("unit-a", "mật:khẩu,A#1\\x", "000.00.00.G05")
UNIT_B = ("unit-b", "pw-b", "000.00.00.H22")
CANARY_B = "ZQXB"  # in every free-text value unit B sends
CANARY_A = "ZQXA"


def escaped(text: str) -> str:
    """A part of ``USER:PASSWORD:MADONVI`` in the accounts-file text form."""
    return "".join("\\" + c if c in ":,#\\" else c for c in text)


def account_line(account: tuple[str, str, str]) -> str:
    return ":".join(escaped(part) for part in account)


@pytest.fixture(scope="module")
def reg() -> Any:
    loaded, _ = load_spec(SPEC)
    assert loaded is not None
    return loaded


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp("isolation")
    accounts = folder / "accounts.txt"
    accounts.write_text(f"# two units\n\n{account_line(UNIT_A)}\n{account_line(UNIT_B)}\n", encoding="utf-8")
    running = start_sandbox(folder / "state.sqlite3", "--accounts-file", str(accounts))
    yield running
    running.stop()


def login(base: str, username: str, password: str) -> str:
    reply = httpx.post(f"{base}/auth", json={"username": username, "password": password}, timeout=10)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["session"])


def call(base: str, session: str, madonvi: str, service: str, **rest: Any) -> dict[str, Any]:
    reply = httpx.post(
        f"{base}/integration", json={"session": session, "madonvi": madonvi, "service": service, **rest}, timeout=10
    )
    assert reply.status_code in (200, 401), reply.text
    return dict(reply.json())


def planted(reg: Any, packet: Any, canary: str, key: str) -> dict[str, Any]:
    """An example record of ``packet`` with ``canary`` in every free-text field, and an unknown key
    holding it when the table is open."""
    record = example_record(reg, packet.data_record)
    for field in reg.record(packet.data_record).fields:
        if field.type.kind == "string" and (field.max_length is None or field.max_length >= 12):
            record[field.wire_name] = f"{canary}-{field.wire_name}"[: field.max_length or 80]
    if "MaHoSo" in record:
        record["MaHoSo"] = key
    if "HOIDAPID" in record:
        record["HOIDAPID"] = "50001"
    if reg.record(packet.data_record).open:
        record["HoTen"] = f"{canary}-unknown-key"
    return record


def push_everything(base: str, reg: Any, session: str, madonvi: str, canary: str) -> None:
    for packet in reg.packets:
        if packet.direction != "push":
            continue
        extra = {"isUpdating": "False"} if packet.name == "DongBoHoSoMC" else {}
        reply = call(base, session, madonvi, packet.name, data=[planted(reg, packet, canary, "ISO-1")], **extra)
        assert reply["error_code"] == "0", (packet.name, reply)


def pull_everything(base: str, reg: Any, session: str, madonvi: str) -> dict[str, str]:
    arguments = {"maTTHC": "1.001193.000.00.00.H99", "idQDCB": "9001", "TepTinPhanAnh": "/pakn/71001/don.pdf"}
    out = {}
    for packet in reg.packets:
        if packet.direction == "pull":
            params = {field.wire_name: arguments[field.wire_name] for field in packet.params}
            reply = httpx.post(
                f"{base}/integration",
                json={"session": session, "madonvi": madonvi, "service": packet.name, **params},
                timeout=10,
            )
            assert reply.status_code == 200 and reply.json()["error_code"] == "0", (packet.name, reply.text)
            out[packet.name] = reply.text
    return out


def answers(base: str, session: str, madonvi: str) -> dict[str, Any]:
    reply = call(base, session, madonvi, "LayDanhSachHoiDapGuiTuDVCQG")
    return {str(q["HOIDAPID"]): q for q in reply["result"]}


def test_neither_unit_sees_nor_changes_the_others_data(sandbox: Sandbox, reg: Any) -> None:
    base = sandbox.base_url
    user_a, password_a, unit_a = UNIT_A
    user_b, password_b, unit_b = UNIT_B
    session_b = login(base, user_b, password_b)
    # NFD on the wire logs in as well as NFC: both sides are compared after NFC normalisation.
    session_a = login(base, user_a, unicodedata.normalize("NFD", password_a))
    assert login(base, user_a, password_a)

    push_everything(base, reg, session_b, unit_b, CANARY_B)
    step = planted(reg, reg.packet("CapNhatTienDoHoSoMC"), CANARY_B, "ISO-1")
    assert call(base, session_b, unit_b, "CapNhatTienDoHoSoMC", data=[step])["error_code"] == "0"

    # Every pull of unit A: nothing unit B sent, not even B's unit code; the questions are A's.
    for service, text in pull_everything(base, reg, session_a, unit_a).items():
        assert CANARY_B not in text and unit_b not in text, service
    mine = answers(base, session_a, unit_a)
    assert "NOIDUNGTRALOI" not in mine["50001"] and mine["50001"]["MADONVI"] == unit_a
    assert answers(base, session_b, unit_b)["50001"]["NOIDUNGTRALOI"].startswith(CANARY_B)

    # Unit A can neither update nor add progress to B's dossier; its own MaHoSo ISO-1 is a new dossier.
    dossier_a = planted(reg, reg.packet("DongBoHoSoMC"), CANARY_A, "ISO-1")
    update = call(base, session_a, unit_a, "DongBoHoSoMC", isUpdating="True", data=[dossier_a])
    assert update["error_code"] == "-4" and update["result"] == [{"MaHoSo": "ISO-1"}]
    assert (
        call(base, session_a, unit_a, "CapNhatTienDoHoSoMC", data=[{**step, "NoiDungXuLy": CANARY_A}])["error_code"]
        == "-4"
    )
    push_everything(base, reg, session_a, unit_a, CANARY_A)

    # After A's pushes, B's pulls and B's data are as B left them.
    for service, text in pull_everything(base, reg, session_b, unit_b).items():
        assert CANARY_A not in text, service
    assert answers(base, session_b, unit_b)["50001"]["NOIDUNGTRALOI"].startswith(CANARY_B)
    assert answers(base, session_a, unit_a)["50001"]["NOIDUNGTRALOI"].startswith(CANARY_A)

    check_views(base, reg, unit_a, unit_b)


def check_views(base: str, reg: Any, unit_a: str, unit_b: str) -> None:
    """The views show every unit, each item labelled with its own unit, personal data masked."""
    dossiers = view(f"{base}/sandbox/api/dossiers").json()["dossiers"]
    by_unit = {d["madonvi"]: d for d in dossiers if d["MaHoSo"] == "ISO-1"}
    assert set(by_unit) == {unit_a, unit_b}
    assert by_unit[unit_b]["versions"] == 1 and by_unit[unit_b]["record"]["TrichYeuHoSo"].startswith(CANARY_B)
    assert by_unit[unit_a]["record"]["TrichYeuHoSo"].startswith(CANARY_A)
    assert [len(by_unit[u]["progress"]) for u in (unit_a, unit_b)] == [1, 2], "each unit sees only its own steps"
    assert by_unit[unit_b]["record"]["ChuHoSo"] == "***"
    only_a = view(f"{base}/sandbox/api/dossiers", params={"madonvi": unit_a}).json()["dossiers"]
    assert {d["madonvi"] for d in only_a} == {unit_a}
    for packet in reg.packets:
        if packet.direction != "push" or packet.name in ("DongBoHoSoMC", "CapNhatTienDoHoSoMC"):
            continue
        entries = view(f"{base}/sandbox/api/records/{packet.name}").json()["records"]
        assert sorted(e["madonvi"] for e in entries) == sorted([unit_a, unit_b]), packet.name
        for entry in entries:
            values = str(entry["record"])
            assert (CANARY_A if entry["madonvi"] == unit_b else CANARY_B) not in values, packet.name
            if "HoTen" in entry["record"]:
                assert entry["record"]["HoTen"] == "***", "values under unknown keys are masked like personal data"
        filtered = view(f"{base}/sandbox/api/records/{packet.name}", params={"madonvi": unit_b}).json()["records"]
        assert [e["madonvi"] for e in filtered] == [unit_b]
    receipts = view(f"{base}/sandbox/api/receipts", params={"madonvi": unit_b}).json()
    assert receipts["receipts"] and {r["madonvi"] for r in receipts["receipts"]} == {unit_b}
    page = view(f"{base}/sandbox/").text
    assert f'ISO-1 <span class="muted">· {unit_a}' in page and f'ISO-1 <span class="muted">· {unit_b}' in page


@pytest.mark.slow
def test_sessions_end_when_their_account_changes_and_are_bounded_per_account(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    accounts = tmp_path / "accounts.json"
    keep, repass, move = (
        ("keep", "k", "000.00.00.G05"),
        ("repass", "old", "000.00.00.G05"),
        ("move", "m", "000.00.00.G05"),
    )
    rows = [{"username": u, "password": p, "madonvi": d} for u, p, d in (keep, repass, move)]
    accounts.write_text(json.dumps(rows), encoding="utf-8")
    first = start_sandbox(db, "--accounts-file", str(accounts), "--max-sessions-per-account", "2")
    try:
        base = first.base_url
        sessions = {name: login(base, name, password) for name, password, _ in (keep, repass, move)}
        oldest, newer, newest = login(base, "keep", "k"), login(base, "keep", "k"), login(base, "keep", "k")
        # At most 2 live sessions for "keep": the 2 oldest of its 4 logins were ended.
        assert call(base, oldest, "000.00.00.G05", "LayDanhSachHoiDapBoCoQuan")["error_code"] == "-2"
        assert call(base, sessions["keep"], "000.00.00.G05", "LayDanhSachHoiDapBoCoQuan")["error_code"] == "-2"
        for live in (newer, newest):
            assert call(base, live, "000.00.00.G05", "LayDanhSachHoiDapBoCoQuan")["error_code"] == "0"
    finally:
        first.stop()
    rows[1]["password"], rows[2]["madonvi"] = "new", "000.00.00.H22"
    accounts.write_text(json.dumps(rows), encoding="utf-8")
    second = start_sandbox(db, "--accounts-file", str(accounts))
    try:
        base = second.base_url
        assert call(base, newest, "000.00.00.G05", "LayDanhSachHoiDapBoCoQuan")["error_code"] == "0", (
            "an unchanged account keeps its sessions"
        )
        assert call(base, sessions["repass"], "000.00.00.G05", "LayDanhSachHoiDapBoCoQuan")["error_code"] == "-2", (
            "password changed"
        )
        assert call(base, sessions["move"], "000.00.00.G05", "LayDanhSachHoiDapBoCoQuan")["error_code"] == "-2", (
            "unit changed"
        )
        assert login(base, "repass", "new") and login(base, "move", "m")
        assert httpx.post(f"{base}/auth", json={"username": "repass", "password": "old"}).status_code == 401
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("user:pa\\ss:000.00.00.G05\n", "accounts.txt:1: a backslash must be followed by"),
        ("# ok\nuser:pw\n", "accounts.txt:2: an account is USER:PASSWORD:MADONVI"),
        ("a:1:X\na:2:Y\n", "user 'a' is configured twice"),
        ('[{"username": "a", "password": "p"}]', "accounts.txt: [0]: expected exactly the keys"),
        ('[{"username": "a", "password": "p", "madonvi": "X", "madonvi": "Y"}]', "duplicate key 'madonvi'"),
    ],
)
def test_bad_accounts_files_are_usage_errors(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "accounts.txt"
    path.write_text(content, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", "sandbox", "--accounts-file", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "pa\\ss" not in done.stderr


def _dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def test_only_marked_package_folders_of_dead_sandboxes_are_cleaned(tmp_path: Path) -> None:
    from qcvngen.sandbox.runtime import FOLDER_MARKER, remove_abandoned

    dead, alive = _dead_pid(), os.getpid()
    folders = {
        "killed": tmp_path / f"qcvngen-sandbox-{dead}-abc",
        "killed before its marker": tmp_path / f"qcvngen-sandbox-{dead}-def",
        "running": tmp_path / f"qcvngen-sandbox-{alive}-ghi",
        "a user's, same shape, unmarked and not empty": tmp_path / f"qcvngen-sandbox-{dead}-keep",
        "a user's, other name": tmp_path / "qcvngen-sandbox-notes",
    }
    for folder in folders.values():
        folder.mkdir()
    for name in ("killed", "running"):
        (folders[name] / FOLDER_MARKER).touch()
        (folders[name] / "python").mkdir()
    (folders["a user's, same shape, unmarked and not empty"] / "mine.txt").write_text("keep me\n")
    remove_abandoned(tmp_path)
    left = {name for name, folder in folders.items() if folder.exists()}
    assert left == {"running", "a user's, same shape, unmarked and not empty", "a user's, other name"}


@pytest.mark.slow
def test_a_killed_sandboxs_packages_are_removed_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    first = start_sandbox(tmp_path / "a.sqlite3")
    first.process.kill()
    first.process.wait(timeout=60)
    (abandoned,) = list(temp.glob("qcvngen-sandbox-*"))
    second = start_sandbox(tmp_path / "b.sqlite3")
    try:
        assert not abandoned.exists()
        assert len(list(temp.glob("qcvngen-sandbox-*"))) == 1, "the running sandbox's own folder stays"
    finally:
        second.stop()
    assert list(temp.glob("qcvngen-sandbox-*")) == [], "a sandbox stopped cleanly removes its own"

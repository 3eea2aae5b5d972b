"""The sandbox's views are private, paged and masked from the spec the sandbox serves (issue 18, part 5).

Real `qcvngen sandbox` processes under uvicorn on loopback: no view answers without the banner's
token or a live session (whose unit alone it then sees); a page holds at most 100 items and names
the next; a view reads as many rows with 1,250 dossiers stored as with 250; SIGTERM with views in
flight ends the process; the personal fields masked are the served document's, whatever ./spec
of the working folder says.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.paths import SPEC
from support.portal_calls import login, opencps_dossier
from support.sandbox_process import VIEW_TOKEN, Sandbox, start_sandbox, view

MADONVI = "000.00.00.G05"
OTHER = "000.00.00.H22"
VIEWS = ("/sandbox/", "/sandbox/api/dossiers", "/sandbox/api/receipts", "/sandbox/api/records/DongBoDanhGia")


def _push(base: str, session: str, madonvi: str, keys: list[str], batch: int = 500) -> None:
    for start in range(0, len(keys), batch):
        body = {
            "session": session,
            "madonvi": madonvi,
            "service": "DongBoHoSoMC",
            "isUpdating": "False",
            "data": [opencps_dossier(key) for key in keys[start : start + batch]],
        }
        answer = httpx.post(f"{base}/integration", json=body, timeout=60).json()
        assert answer["error_code"] == "0", answer


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Any:
    running = start_sandbox(
        tmp_path_factory.mktemp("views") / "state.sqlite3",
        "--account",
        f"opencps:secret-pw:{MADONVI}",
        "--account",
        f"other:pw2:{OTHER}",
    )
    mine = login(running.base_url)
    _push(running.base_url, mine, MADONVI, [f"VIEW-{n:04d}" for n in range(250)])
    _push(running.base_url, login(running.base_url, "other", "pw2"), OTHER, ["OTHER-1"])
    step = {
        "MaHoSo": "VIEW-0000",
        "NguoiXuLy": "Cán bộ",
        "ThoiDiemXuLy": "20240105090000",
        "NoiDungXuLy": "Bước",
        "TrangThai": "4",
    }
    progress = {"session": mine, "madonvi": MADONVI, "service": "CapNhatTienDoHoSoMC", "data": [step] * 30}
    assert httpx.post(f"{running.base_url}/integration", json=progress).json()["error_code"] == "0"
    yield running
    running.stop()


def test_no_view_answers_without_a_token(sandbox: Sandbox) -> None:
    for path in VIEWS:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Bearer " + "x" * 5000}):
            answer = httpx.get(f"{sandbox.base_url}{path}", headers=headers)
            assert answer.status_code == 401, (path, headers, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "VIEW-" not in answer.text and "Nguyễn" not in answer.text
        assert httpx.get(f"{sandbox.base_url}{path}", params={"token": "wrong"}).status_code == 401
        assert view(f"{sandbox.base_url}{path}").status_code == 200, path


def test_a_session_sees_its_own_unit_only(sandbox: Sandbox) -> None:
    session = login(sandbox.base_url, "other", "pw2")
    headers = {"Authorization": f"Bearer {session}"}
    for unit in (None, MADONVI):
        params = {"madonvi": unit} if unit else {}
        shown = httpx.get(f"{sandbox.base_url}/sandbox/api/dossiers", headers=headers, params=params).json()
        assert [d["MaHoSo"] for d in shown["dossiers"]] == ["OTHER-1"], "a unit's session never sees another's"
    everyone = view(f"{sandbox.base_url}/sandbox/api/dossiers").json()["dossiers"]
    assert {d["madonvi"] for d in everyone} == {MADONVI}, "the first page holds the first pusher's dossiers"


def test_the_browser_keeps_the_banner_token_in_a_cookie(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url) as browser:
        first = browser.get("/sandbox/", params={"token": VIEW_TOKEN, "madonvi": MADONVI})
        assert first.status_code == 303 and first.headers["location"] == f"/sandbox/?madonvi={MADONVI}"
        cookie = first.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/sandbox" in cookie
        page = browser.get(first.headers["location"])
        assert page.status_code == 200 and "VIEW-0000" in page.text
        assert browser.get("/sandbox/api/receipts").status_code == 200


def test_a_view_token_never_reaches_the_log() -> None:
    import logging

    from qcvngen.sandbox.logs import JsonLines

    line = '127.0.0.1:5 - "GET /sandbox/?madonvi=X&token=secret-view-token HTTP/1.1" 303'
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, line, None, None)
    written = JsonLines().format(record)
    assert "secret-view-token" not in written and "token=***" in written


def test_pages_hold_at_most_100_items_and_name_the_next(sandbox: Sandbox) -> None:
    seen: list[str] = []
    url: str | None = "/sandbox/api/dossiers"
    sizes = []
    while url:
        page = view(f"{sandbox.base_url}{url}").json()
        sizes.append(len(page["dossiers"]))
        seen += [d["MaHoSo"] for d in page["dossiers"]]
        url = page["next"]
    assert sizes == [100, 100, 51] and len(set(seen)) == 251
    first = view(f"{sandbox.base_url}/sandbox/api/dossiers", params={"limit": "5"}).json()
    assert len(first["dossiers"]) == 5 and "limit=5" in first["next"]
    progress = first["dossiers"][0]
    assert progress["MaHoSo"] == "VIEW-0000" and len(progress["progress"]) == 20 and progress["progress_count"] == 30
    for bad in ({"limit": "101"}, {"limit": "0"}, {"after": "-1"}, {"after": "x"}, {"limit": "9" * 30}):
        answer = view(f"{sandbox.base_url}/sandbox/api/dossiers", params=bad)
        assert answer.status_code == 400 and "invalid" in answer.json()["message"], (bad, answer.text)
    html = view(f"{sandbox.base_url}/sandbox/").text
    assert html.count("<h2 id=") == 100 and "/sandbox/?after=" in html and "20 of 30 steps" in html


@pytest.mark.slow  # 1,250 dossiers pushed
def test_a_view_reads_the_same_rows_whatever_the_store_holds(tmp_path: Path) -> None:
    """Bounded by counts, not by time: the rows the four views read from SQLite, with 250 and 1,250
    dossiers (and more than a page of receipts both times)."""
    import time

    import uvicorn

    from qcvngen.sandbox import create_sandbox_app
    from qcvngen.sandbox.accounts import Credentials
    from qcvngen.sandbox.store import Store
    from support.sandbox_process import free_port

    read: list[int] = []
    original = Store.query

    def counting(self: Store, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = original(self, sql, params)
        read.append(len(rows))
        return rows

    app, _ = create_sandbox_app(":memory:", [Credentials("u", "p", MADONVI)], view_token="t")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    figures = []
    try:
        session = login(base, "u", "p")
        _push(base, session, MADONVI, [f"ROWS-{n:05d}" for n in range(250)], batch=2)
        for more in (0, 1000):
            _push(base, session, MADONVI, [f"MORE-{n:05d}" for n in range(more)])
            read.clear()
            Store.query = counting  # type: ignore[method-assign]
            try:
                for path in VIEWS:
                    assert httpx.get(f"{base}{path}", headers={"Authorization": "Bearer t"}).status_code == 200
            finally:
                Store.query = original  # type: ignore[method-assign]
            figures.append(sum(read))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"rows read by the four views: {figures[0]} with 250 dossiers, {figures[1]} with 1,250")
    assert figures[0] == figures[1] and figures[0] < 1_000, figures


@pytest.mark.slow  # a real process stopped under load
def test_sigterm_ends_the_sandbox_with_views_in_flight(tmp_path: Path) -> None:
    running = start_sandbox(tmp_path / "state.sqlite3")
    _push(running.base_url, login(running.base_url, "sandbox", "sandbox"), MADONVI, [f"T-{n}" for n in range(600)])
    stop = threading.Event()

    def look() -> None:
        with httpx.Client(base_url=running.base_url, timeout=5) as http:
            while not stop.is_set():
                try:
                    http.get("/sandbox/", headers={"Authorization": f"Bearer {VIEW_TOKEN}"})
                except httpx.HTTPError:
                    return

    lookers = [threading.Thread(target=look, daemon=True) for _ in range(16)]
    for looker in lookers:
        looker.start()
    try:
        running.process.send_signal(signal.SIGTERM)
        # A hang guard, not a timing: the process must end on its own after SIGTERM.
        returncode = running.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        running.process.kill()
        raise
    finally:
        stop.set()
    assert running.process.stdout is not None
    output = running.process.stdout.read().decode()
    # uvicorn ends a graceful shutdown by re-raising the signal it caught: -SIGTERM, or 0.
    assert returncode in (0, -signal.SIGTERM), (returncode, output[-3000:])
    assert "Traceback" not in output, output[-3000:]


def test_masking_comes_from_the_served_spec_not_the_working_folder(tmp_path: Path) -> None:
    """A ./spec where nothing is personal changes nothing while the sandbox serves another spec
    (``--spec``): what is personal is the served spec's ``pii``, never the working folder's."""
    shutil.copytree(SPEC, tmp_path / "spec")
    for table in (tmp_path / "spec" / "tables").glob("*.yaml"):
        table.write_text(table.read_text(encoding="utf-8").replace("pii: true", "pii: false"), encoding="utf-8")
    running = start_sandbox(tmp_path / "state.sqlite3", "--spec", str(SPEC), cwd=tmp_path)
    try:
        _push(running.base_url, login(running.base_url, "sandbox", "sandbox"), MADONVI, ["MASK-1"])
        shown = view(f"{running.base_url}/sandbox/api/dossiers").json()["dossiers"][0]["record"]
    finally:
        running.stop()
    assert shown["ChuHoSo"] == "***" and shown["SoDienThoai"] == "***" and shown["Email"] == "***"
    assert shown["TenTTHC"] == "Đăng ký khai sinh"


def test_the_banner_prints_the_view_token(tmp_path: Path) -> None:
    running = start_sandbox(tmp_path / "state.sqlite3")
    running.stop()
    assert running.process.stdout is not None
    banner = running.process.stdout.read().decode()
    assert f"/sandbox/?token={VIEW_TOKEN}" in banner, banner

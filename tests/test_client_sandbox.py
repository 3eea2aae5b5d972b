"""The integrator's first day against the real sandbox process: errors that say what the portal said,
dates in the types people have, and a one-call "new or update" push that stores every record once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from qcvngen import kinds
from support.portal_calls import opencps_dossier
from support.sandbox_process import Sandbox, free_port, start_sandbox, view

USER, PASSWORD, MADONVI = "h5-user", "h5-Password-9", "000.00.00.G05"
OTHER = ("h5-other", "h5-Other-9", "000.00.00.H22")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    accounts = [f"{USER}:{PASSWORD}:{MADONVI}", ":".join(OTHER)]
    running = start_sandbox(
        tmp_path_factory.mktemp("h5") / "state.sqlite3", *[a for text in accounts for a in ("--account", text)]
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def qc(models: Any) -> Any:
    import qcvn120_client

    return qcvn120_client


def portal(qc: Any, base_url: str, **options: Any) -> Any:
    settings = {"username": USER, "password": PASSWORD, "madonvi": MADONVI, "backoff": 0, **options}
    return qc.Client(base_url, **settings)


def dossiers(sandbox: Sandbox) -> list[str]:
    return [d["MaHoSo"] for d in view(f"{sandbox.base_url}/sandbox/api/dossiers").json()["dossiers"]]


def raw_login(sandbox: Sandbox, password: str) -> dict[str, Any]:
    return dict(httpx.post(f"{sandbox.base_url}/auth", json={"username": USER, "password": password}).json())


def test_wrong_password_shows_the_portals_message_and_no_batch_text(qc: Any, sandbox: Sandbox) -> None:
    said = raw_login(sandbox, "wrong-password")["message"]
    with pytest.raises(qc.SessionError) as caught:
        portal(qc, sandbox.base_url, password="wrong-password").dong_bo_ho_so_mc([opencps_dossier("H5-PW-1")])
    text = str(caught.value)
    assert said and said in text and caught.value.message == said
    assert f"{sandbox.base_url}/auth" in text and "batch" not in text and "wrong-password" not in text
    assert caught.value.code is not None and caught.value.code in text


def test_mismatched_madonvi_shows_the_portals_message(qc: Any, sandbox: Sandbox) -> None:
    with pytest.raises(qc.Qcvn120Error) as caught:
        portal(qc, sandbox.base_url, madonvi=OTHER[2]).dong_bo_ho_so_mc([opencps_dossier("H5-MDV-1")])
    error = caught.value
    assert isinstance(error, (qc.SessionError, qc.PortalError)), type(error)
    assert error.message and error.code and error.message.split(" — ")[0] in str(error)
    assert f"{sandbox.base_url}/integration" in str(error) and "batch 1 of 1" not in str(error)
    assert "H5-MDV-1" not in dossiers(sandbox)


def test_wrong_base_path_says_no_portal_answered(qc: Any, sandbox: Sandbox) -> None:
    with pytest.raises(qc.PortalNotFoundError) as caught:
        portal(qc, sandbox.base_url + "/api/v1").lay_thu_tuc(ma_tthc="1.000001")
    assert f"no portal answered at {sandbox.base_url}/api/v1/auth: HTTP 404 — check base_url" in str(caught.value)


def test_stopped_server_names_url_and_reason(qc: Any) -> None:
    port = free_port()
    with pytest.raises(qc.TransportError) as caught:
        portal(qc, f"http://127.0.0.1:{port}", max_retries=0).dong_bo_ho_so_mc([opencps_dossier("H5-STOP-1")])
    assert f"127.0.0.1:{port}" in str(caught.value) and "Connection refused" in str(caught.value)


def test_a_wrong_date_names_the_format_not_a_regex(qc: Any, sandbox: Sandbox) -> None:
    record = {**opencps_dossier("H5-DATE-1"), "NgayTiepNhan": "2020-01-15"}
    with pytest.raises(qc.RecordValidationError) as caught:
        portal(qc, sandbox.base_url).dong_bo_ho_so_mc([record])
    text = str(caught.value)
    example = kinds.kind("datetime").example  # the registry's example, which every message shows
    assert example and "yyyyMMddHHmmss" in text and example in text and "ngày giờ" in text
    assert "[0-9]" not in text and "(?:" not in text and "2020-01-15" not in text
    wrong_code = {**opencps_dossier("H5-DATE-2"), "TrangThaiHoSo": "11"}
    with pytest.raises(qc.RecordValidationError, match="không phải mã của danh mục — not a code of the list: '1', '2'"):
        portal(qc, sandbox.base_url).dong_bo_ho_so_mc([wrong_code])


def test_missing_wrong_type_and_too_long_use_the_words_of_validate_data(qc: Any, sandbox: Sandbox) -> None:
    """One wording for every validator the project ships: the client says what validate-data says."""
    from qcvngen.payloads import RULE_TEXT

    record = {**opencps_dossier("H5-WORDS-1"), "TrichYeuHoSo": "x" * 2000, "DonViXuLy": ["a list"]}
    del record["TenTTHC"]
    with pytest.raises(qc.RecordValidationError) as caught:
        portal(qc, sandbox.base_url).dong_bo_ho_so_mc([record])
    said = {issue.path: issue.message for issue in caught.value.issues}
    assert said["TenTTHC"] == " — ".join(RULE_TEXT["required"]), said
    assert said["DonViXuLy"] == " — ".join(RULE_TEXT["type"]) + " (string, not array)", said
    assert said["TrichYeuHoSo"] == " — ".join(RULE_TEXT["maxLength"]) + " (1000)", said
    assert "Field required" not in str(caught.value) and "should have at most" not in str(caught.value)


def test_a_datetime_is_sent_as_viet_nam_wire_time(qc: Any, sandbox: Sandbox) -> None:
    received = datetime(2024, 3, 1, 1, 30, 5, tzinfo=UTC)  # 08:30:05 in Ha Noi
    record = {**opencps_dossier("H5-DT-1"), "NgayTiepNhan": received}
    bodies: list[dict[str, Any]] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            bodies.append(json.loads(request.content))
            return super().handle_request(request)

    with portal(qc, sandbox.base_url, transport=Recording()) as client:
        results = client.dong_bo_ho_so_mc([record])
    assert results[0].error_code == "0" and "H5-DT-1" in dossiers(sandbox)
    assert bodies[-1]["data"][0]["NgayTiepNhan"] == "20240301083005"
    assert qc.wire.parse_datetime("20240301083005") == received
    model = qc.models.DongBoHoSoMCRecord.model_validate(record)
    assert model.model_dump(by_alias=True)["NgayTiepNhan"] == "20240301083005"


def lists_refused_keys(sandbox: Sandbox) -> bool:
    """Whether the sandbox answers a refused record with its key in ``result`` (all-or-nothing batches)."""
    session = raw_login(sandbox, PASSWORD)["session"]
    body = {
        "session": session,
        "madonvi": MADONVI,
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": [opencps_dossier("H5-MIX-A")],
    }
    httpx.post(f"{sandbox.base_url}/integration", json=body)  # stores H5-MIX-A (or finds it held)
    answer = httpx.post(f"{sandbox.base_url}/integration", json=body).json()
    return bool(answer.get("error_code") == "-3" and answer.get("result") == [{"MaHoSo": "H5-MIX-A"}])


def test_mixed_batch_gives_existing_keys_and_new_or_update_stores_each_once(qc: Any, sandbox: Sandbox) -> None:
    assert lists_refused_keys(sandbox), "the sandbox must list refused keys in `result` (docs/wire-conventions.md)"
    with portal(qc, sandbox.base_url) as client:
        client.dong_bo_ho_so_mc([opencps_dossier("H5-MIX-B")])
        mixed = [opencps_dossier("H5-MIX-A"), opencps_dossier("H5-MIX-NEW"), opencps_dossier("H5-MIX-B")]
        with pytest.raises(qc.AlreadyExistsError) as caught:
            client.dong_bo_ho_so_mc(mixed)
        assert caught.value.keys == ("H5-MIX-A", "H5-MIX-B")
        assert "H5-MIX-NEW" not in dossiers(sandbox)  # all or nothing: the new one was not stored
        results = client.dong_bo_ho_so_mc_new_or_update(mixed)
    assert [r.count for r in results] == [1, 2] and all(r.error_code == "0" for r in results)
    held = dossiers(sandbox)
    for key in ("H5-MIX-A", "H5-MIX-B", "H5-MIX-NEW"):
        assert held.count(key) == 1, key


def test_the_package_readme_first_push_works(qc: Any, sandbox: Sandbox, out_dir: Any) -> None:
    readme = (out_dir / "python" / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'Client("http://127.0.0.1:8000", username="sandbox", password="sandbox", madonvi="000.00.00.G05")' in code
    code = code.replace("http://127.0.0.1:8000", sandbox.base_url).replace(
        'username="sandbox", password="sandbox"', f'username="{USER}", password="{PASSWORD}"'
    )
    code = code.replace("000.00.00.G05-240105-0001", "H5-README-1")
    run = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(out_dir / "python")},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "H5-README-1" in dossiers(sandbox) and "LayThuTucResult" in run.stdout

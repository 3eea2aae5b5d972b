"""The CLI's edges: "did you mean" for packet names, keys and choices; payload files that cannot be
read; ``conformance --account`` with any password; one exit name per meaning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qcvngen import payloads
from qcvngen.cli import Exit, app
from qcvngen.suggest import closest, did_you_mean
from support.paths import ROOT, SPEC
from support.sandbox_process import start_sandbox


def run(args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def validate_data(args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    return run(["validate-data", "--spec", str(SPEC), *args], stdin)


# -- did you mean ------------------------------------------------------------------------------------
def test_closest_prefers_a_name_that_differs_only_in_case() -> None:
    known = ["DongBoHoSoMC", "DongBoTienDoHoSoMC", "DongBoHoSoMc2"]
    assert closest("DongBoHoSoMc", known) == ["DongBoHoSoMC"]
    assert closest("dongbohoso", ["DongBoHoSoMC", "LayThuTuc"]) == ["DongBoHoSoMC"]
    assert closest("zzzz", ["text", "json", "github"]) == []
    assert did_you_mean("jsn", ["text", "json", "github"]) == " (did you mean 'json'?)"
    assert did_you_mean("markdwn", ["text", "json", "markdown"]) == " (did you mean 'markdown'?)"


def test_an_unknown_packet_names_the_closest_packet() -> None:
    code, _, err = validate_data(["--packet", "DongBoHoSoMc", "-"], "{}")
    assert code == int(Exit.USAGE_ERROR) == 2
    assert "unknown packet 'DongBoHoSoMc' (did you mean 'DongBoHoSoMC'?)" in err
    code, _, err = validate_data(["--packet", "KhongCoGiCa", "-"], "{}")
    assert code == 2 and "unknown packet 'KhongCoGiCa'" in err and "did you mean" not in err


def test_a_mistyped_service_in_the_payload_names_the_closest_packet() -> None:
    code, _, err = validate_data(["-"], json.dumps({"service": "DongBoHoSoMc", "data": []}))
    assert code == 2
    assert "not a packet of the spec (did you mean 'DongBoHoSoMC'?)" in err and "--packet" in err
    # The payload's own text is not echoed (it may hold anything); only known names are.
    assert "DongBoHoSoMc'" not in err


def test_a_key_not_in_a_complete_table_names_the_closest_field(result: Any) -> None:
    from qcvngen.examples import example_request

    body = example_request(result.regulation, result.regulation.packet("DongBoThongKeHoSo"))
    body["data"][0]["Namm"] = body["data"][0].pop("Nam")
    code, out, _ = validate_data(["--format", "json", "-"], json.dumps(body, ensure_ascii=False))
    assert code == int(Exit.INVALID_PAYLOAD) == 1
    extra = next(f for f in json.loads(out)["findings"] if f["path"] == "$.data[0].Namm")
    assert extra["rule"] == "additionalProperties"
    assert extra["en"].endswith("(did you mean 'Nam'?)") and extra["vi"].endswith("(có phải 'Nam'?)")


def test_an_unknown_key_of_an_incomplete_table_names_the_closest_field() -> None:
    body = {"HOIDAPID": "1", "MaLinhVuc": "G06", "NOIDUNG": "x", "MADONVI": "000.00.00.G05", "TENDONVI": "y"}
    body["NOIDUNGG"] = "a typo an open table accepts"
    code, out, _ = validate_data(["--packet", "DongBoHoiDap", "--format", "json", "-"], json.dumps(body))
    assert code == 0, out
    findings = json.loads(out)["findings"]
    warning = next(f for f in findings if f["path"] == "$.NOIDUNGG")
    assert warning["severity"] == "warning" and "(did you mean 'NOIDUNG'" in warning["en"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["validate-data", "--format", "jsn", "-"], "one of text, json, github, not 'jsn' (did you mean 'json'?)"),
        (["diff", "--format", "markdwn", "HEAD"], "markdown, not 'markdwn' (did you mean 'markdown'?)"),
        (["validate-data", "--format", "xml", "-"], "--format must be one of text, json, github, not 'xml'"),
        (["sandbox", "--db", ":memory:", "--log-level", "warn"], "info, debug (did you mean 'warning'?)"),
    ],
)
def test_an_unknown_choice_names_the_closest_one(args: list[str], says: str) -> None:
    code, _, err = run(args, "{}")
    assert code == 2 and says in err, err
    if "xml" in args:
        assert "did you mean" not in err


def test_typer_already_suggests_commands_and_options() -> None:
    """Checked rather than duplicated: a mistyped command or option gets Typer's own suggestion."""
    code, out, err = run(["validat"])
    assert code == 2 and "Did you mean" in out + err
    code, out, err = run(["build", "--outt", "x"])
    assert code == 2 and "--out" in out + err


# -- payload files that cannot be read ---------------------------------------------------------------
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "payload.json"
    os.mkfifo(fifo)
    # A subprocess with a safety net: if the read blocked, the test would fail instead of hanging.
    done = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", "validate-data", "--spec", str(SPEC), str(fifo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"cannot read {fifo}: is a FIFO (named pipe), not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("target", "says"), [("folder", "is a folder"), ("/dev/null", "is a character device")])
def test_folders_and_devices_are_refused(tmp_path: Path, target: str, says: str) -> None:
    path = str(tmp_path) if target == "folder" else target
    code, _, err = validate_data([path])
    assert code == 2 and f"cannot read {path}: {says}, not a regular file" in err


def test_a_link_the_user_names_is_followed_to_its_file(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text(json.dumps({"username": "a", "password": "b"}), encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, out, err = validate_data([str(link)])
    assert code == 0, out + err
    device_link = tmp_path / "zero.json"
    device_link.symlink_to("/dev/zero")
    code, _, err = validate_data([str(device_link)])
    assert code == 2 and "is a character device" in err


def test_files_and_stdin_over_the_limit_are_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payloads, "MAX_PAYLOAD_BYTES", 64)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"username": "a", "password": "b" * 100}), encoding="utf-8")
    code, _, err = validate_data([str(big)])
    assert code == 2 and "larger than the limit of 64 bytes" in err
    code, _, err = validate_data(["-"], big.read_text(encoding="utf-8"))
    assert code == 2 and "cannot read <stdin>" in err and "limit of 64 bytes" in err
    small = '{"username": "a", "password": "b"}'
    assert validate_data(["-"], small)[0] == 0


def test_the_help_states_the_size_limit() -> None:
    assert payloads.MAX_PAYLOAD_BYTES == 64 * 1024 * 1024
    code, out, _ = run(["validate-data", "--help"])
    assert code == 0 and "64 MiB" in out


def test_a_payload_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"username": "Nguyễn"}'.encode("utf-16"))
    code, _, err = validate_data([str(path)])
    assert code == 2 and "is not UTF-8 text" in err


# -- conformance --account ---------------------------------------------------------------------------
HARD_PASSWORD = "p:a,s#s\\w ờ"
ESCAPED = "p\\:a\\,s\\#s\\\\w ờ"


def test_conformance_account_takes_the_sandbox_escaping(monkeypatch: pytest.MonkeyPatch) -> None:
    from qcvngen import conformance

    seen: dict[str, str] = {}

    def fake_run(reg: Any, base_url: str, **account: str) -> conformance.Suite:
        seen.update(account)
        return conformance.Suite()

    monkeypatch.setattr(conformance, "run", fake_run)
    account = f"user:{ESCAPED}:000.00.00.G05"
    code, out, err = run(["conformance", "--base-url", "http://127.0.0.1:9", "--account", account])
    assert code == 0, out + err
    assert seen == {"username": "user", "password": HARD_PASSWORD, "madonvi": "000.00.00.G05"}


@pytest.mark.parametrize("account", ["user:secret", "user:sec\\ret:000.00.00.G05", "user::000.00.00.G05"])
def test_a_malformed_account_is_a_usage_error_that_never_shows_the_password(account: str) -> None:
    code, out, err = run(["conformance", "--base-url", "http://127.0.0.1:9", "--account", account])
    assert code == 2 and "error: --account: " in err and "USER:PASSWORD:MADONVI" in err
    assert "secret" not in out + err and "sec\\ret" not in out + err


@pytest.mark.slow
def test_conformance_logs_in_to_a_real_sandbox_with_a_hard_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qcvngen import conformance

    accounts = tmp_path / "accounts.json"
    accounts.write_text(
        json.dumps([{"username": "hard", "password": HARD_PASSWORD, "madonvi": "000.00.00.G05"}]), encoding="utf-8"
    )
    original = conformance.vectors
    # Two vectors are enough to prove the login; the full suite is test_conformance's.
    monkeypatch.setattr(conformance, "vectors", lambda reg, **kw: original(reg, **kw)[:2])
    sandbox = start_sandbox(tmp_path / "state.sqlite3", "--accounts-file", str(accounts))
    try:
        base = ["conformance", "--base-url", sandbox.base_url, "--spec", str(SPEC)]
        code, out, err = run([*base, "--account", f"hard:{ESCAPED}:000.00.00.G05"])
        assert code == 0, out + err
        assert "2 passed, 0 failed" in out
        code, out, err = run([*base, "--account", "hard:p:000.00.00.G05"])
        assert code == 2 and "login failed" in err
    finally:
        sandbox.stop()


# -- exit codes --------------------------------------------------------------------------------------
def test_each_exit_name_keeps_the_documented_code() -> None:
    verdicts = [Exit.OK, Exit.STALE, Exit.INVALID_PAYLOAD, Exit.BREAKING_CHANGE, Exit.CONFORMANCE_FAILED]
    assert [int(e) for e in verdicts] == [0, 1, 1, 1, 1]
    assert [int(Exit.SPEC_ERROR), int(Exit.USAGE_ERROR)] == [2, 2]


def test_help_does_not_import_the_pipeline() -> None:
    """``qcvngen --help`` stays fast: the heavy modules are imported by the commands that need them."""
    code = (
        "import sys\n"
        "from qcvngen.cli import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('qcvngen.pipeline', 'jinja2', 'httpx', 'uvicorn', 'fastapi') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert "HEAVY []" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


def test_sandbox_capture_into_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sandbox", "--db", ":memory:", "--capture", str(tmp_path / "no" / "such.jsonl")])
    assert result.exit_code == 2 and "--capture" in result.stderr, result.output

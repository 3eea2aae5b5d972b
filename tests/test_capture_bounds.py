"""Bounded capture (issue 17 part 3): lines no larger than their message, a size cap with rotation,
and a capture path that is a FIFO, a device or a link refused at start, for client, stubs and sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_capture_client import MADONVI, PASSWORD, USER, canary_dossier, settings

from qcvngen.runtime.shared import capture
from support.paths import ROOT
from support.sandbox_process import start_sandbox


def _line(n: int) -> dict[str, Any]:
    return capture.build_line(
        "LayThuTuc", "share", {"error_code": "0", "result": [{"MATTHC": "x" * n, "TRANGTHAI": "1"}]}, {"TRANGTHAI"}
    )


def test_a_capture_file_rotates_within_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    sink = capture.CaptureFile(path, max_bytes=64 * 1024)
    for n in range(2000):
        sink(_line(n % 300))
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["c.jsonl", "c.jsonl.1", "c.jsonl.2", "c.jsonl.3"]
    assert sum(f.stat().st_size for f in files) <= 64 * 1024
    for file in files:  # every line whole: a rotation never splits one
        assert all(json.loads(line)["packet"] == "LayThuTuc" for line in file.read_text().splitlines())


def _hostile_paths(tmp_path: Path) -> list[Path]:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "elsewhere.jsonl")
    return [fifo, link, Path("/dev/null"), tmp_path]


def test_a_fifo_device_or_link_is_refused_when_the_client_or_app_starts(tmp_path: Path, models: Any) -> None:
    import qcvn120_client

    from qcvngen.sandbox import create_sandbox_app

    for path in _hostile_paths(tmp_path):
        with pytest.raises(ValueError, match="not a regular file") as refused:
            qcvn120_client.Client("http://127.0.0.1:9", **settings(capture=str(path)))
        assert "\n" not in str(refused.value)
        with pytest.raises(ValueError, match="not a regular file"):
            create_sandbox_app(":memory:", capture=path)
    assert not (tmp_path / "elsewhere.jsonl").exists(), "a link is never followed"


def test_the_sandbox_cli_refuses_a_fifo_capture_in_one_line(tmp_path: Path) -> None:
    fifo = _hostile_paths(tmp_path)[0]
    done = subprocess.run(
        [sys.executable, "-m", "qcvngen.cli", "sandbox", "--db", str(tmp_path / "s.sqlite3"), "--capture", str(fifo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "is a FIFO, not a regular file" in done.stderr


def test_client_and_sandbox_capture_lines_are_no_larger_than_their_messages(tmp_path: Path, models: Any) -> None:
    import qcvn120_client

    received = tmp_path / "received.jsonl"
    sent = tmp_path / "sent.jsonl"
    sandbox = start_sandbox(
        tmp_path / "state.sqlite3", "--account", f"{USER}:{PASSWORD}:{MADONVI}", "--capture", str(received)
    )
    try:
        records = [{**canary_dossier(), "MaHoSo": f"H99.01-261130-{n:04d}"} for n in range(60)]
        with qcvn120_client.Client(sandbox.base_url, **settings(capture=str(sent), batch_size=60)) as client:
            client.dong_bo_ho_so_mc(records)
            with pytest.raises(qcvn120_client.AlreadyExistsError):
                client.dong_bo_ho_so_mc(records)
    finally:
        sandbox.stop()
    message = len(json.dumps({"data": records}, ensure_ascii=False, separators=(",", ":")).encode())
    assert message > 20_000
    for path in (received, sent):
        lines = path.read_bytes().splitlines()
        assert len(lines) == 2
        assert all(len(line) <= message for line in lines), [len(line) for line in lines]
    stored, refused = (json.loads(line) for line in received.read_bytes().splitlines())
    assert stored["records"] == 60 and len(json.dumps(stored)) < message // 4, "shapes, not a cross-product"
    assert refused["refused"] is True and len(json.dumps(refused)) < 400


def test_writers_of_one_path_share_one_capture_file(tmp_path: Path) -> None:
    """A client and a server in one process writing the same capture path share its lock and its
    rotation (emit, the client's and the server's sinks alike)."""
    path = tmp_path / "c.jsonl"
    first = capture.sink_of(path)
    assert capture.sink_of(str(path)) is first and isinstance(first, capture.CaptureFile)
    capture.emit({"packet": "X"}, path)
    assert path.read_text(encoding="utf-8").count("\n") == 1

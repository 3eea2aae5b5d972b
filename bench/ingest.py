"""Sandbox ingest: 1,000-record DongBoHoSoMC batches, client → uvicorn → SQLite over loopback."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "generated" / "python"))

BATCH = 1000


def _records(reg: Any, prefix: str, count: int) -> list[dict[str, Any]]:
    from qcvngen.examples import example_record

    counted = {f.wire_name for f in reg.record("DongBoHoSoMCRecord").fields if f.membership == "regulation"}
    base = {k: v for k, v in example_record(reg, "DongBoHoSoMCRecord").items() if k in counted}
    return [{**base, "MaHoSo": f"{prefix}-{i:07d}"} for i in range(count)]


def ingest(model_rate: float, batches: int = 10) -> str:
    from qcvn120_client import Client
    from qcvngen import load_spec
    from support.sandbox_process import start_sandbox

    reg, _ = load_spec(ROOT / "spec")
    assert reg is not None
    rows = []
    with tempfile.TemporaryDirectory(prefix="qcvngen-ingest-") as scratch:
        sandbox = start_sandbox(Path(scratch) / "state.sqlite3")
        try:
            login = httpx.post(f"{sandbox.base_url}/auth", json={"username": "sandbox", "password": "sandbox"}).json()
            session = login["session"]
            # Raw httpx: bodies built up front, so only transport + server work is timed.
            bodies = [
                {"session": session, "madonvi": "000.00.00.G05", "service": "DongBoHoSoMC", "isUpdating": "False", "data": _records(reg, f"RAW{b}", BATCH)}
                for b in range(batches)
            ]
            with httpx.Client(base_url=sandbox.base_url, timeout=120) as http:
                http.post("/integration", json={**bodies[0], "data": _records(reg, "WARM", BATCH)})
                started = time.perf_counter()
                for body in bodies:
                    reply = http.post("/integration", json=body).json()
                    assert reply["error_code"] == "0", reply
                raw_rate = batches * BATCH / (time.perf_counter() - started)
            records = _records(reg, "CLIENT", batches * BATCH)
            with Client(sandbox.base_url, username="sandbox", password="sandbox", madonvi="000.00.00.G05", batch_size=BATCH, timeout=120) as client:
                client.dong_bo_ho_so_mc(_records(reg, "CWARM", BATCH))
                started = time.perf_counter()
                results = client.dong_bo_ho_so_mc(records)
                client_rate = batches * BATCH / (time.perf_counter() - started)
            assert all(r.error_code == "0" for r in results)
        finally:
            sandbox.stop()
    rows.append(["pure model validation (single)", f"{model_rate:,.0f}", "100%", ""])
    rows.append(["raw httpx → sandbox", f"{raw_rate:,.0f}", f"{raw_rate / model_rate:.0%}", "1.00×"])
    rows.append(["generated Client → sandbox", f"{client_rate:,.0f}", f"{client_rate / model_rate:.0%}", f"{raw_rate / client_rate:.2f}× (client overhead {raw_rate / client_rate - 1:+.0%})"])
    from run import table

    return table(rows, ["path", "records / s", "÷ model validation", "time ÷ raw httpx"])

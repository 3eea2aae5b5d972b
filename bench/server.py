"""The generated server under load (issue 11): ingest vs model validation vs a raw floor, login
latency under hostile bodies, CPU per unauthenticated byte, peak memory per request size.

    .venv/bin/python bench/server.py                  # about 2-3 minutes on the project's machine
    .venv/bin/python bench/server.py --ingest-only    # the ingest tables only, under a minute
    .venv/bin/python bench/server.py --smoke          # tiny sizes: proves every section runs (CI)

The ingest section is bench/ingest.py's, shared with bench/run.py, against the baselines of
bench/baselines.py. Every figure of one run comes from the same process and machine, so the
ratios hold even when the shared machine is slow; in-process figures are CPU time, and the
ingest rows give the server's CPU per 1,000 records beside the wall rate.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import baselines  # noqa: E402  (the shared baselines; puts the generated packages on the path)
import ingest  # noqa: E402
from baselines import MADONVI, section, start_sandbox, table  # noqa: E402

BATCH = 1000
WIDE_ITEMS = 2_700_000  # the 8.1 MB body


def _table(rows: list[list[str]], header: list[str]) -> str:
    return table(rows, header)


def records(prefix: str, count: int) -> list[dict[str, Any]]:
    return baselines.records(prefix, count)


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS MB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return cpu, peak / 1024


def login_latencies(base: str, count: int, stop: threading.Event | None = None) -> list[float]:
    out: list[float] = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(count):
            started = time.perf_counter()
            assert http.post("/auth", json={"username": "sandbox", "password": "sandbox"}).status_code == 200
            out.append((time.perf_counter() - started) * 1000)
            if stop is not None and stop.is_set():
                break
            time.sleep(0.02)
    return out


def under_attack(base: str, pid: int, rounds: int) -> tuple[list[float], float, float, int]:
    """Login latencies (ms) while 6 clients send the wide body ``rounds`` times each; the server's
    CPU ms per 100 KB of hostile body and its peak RSS."""
    wide = b'{"session":"bad","madonvi":"x","service":"DongBoHoSoMC","z":[' + b"{}," * (WIDE_ITEMS - 1) + b"{}]}"
    cpu_before, _ = _proc(pid)
    done = threading.Event()
    statuses: list[int] = []

    def hostile() -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            for _ in range(rounds):
                statuses.append(http.post("/integration", content=wide, headers={"content-type": "application/json"}).status_code)

    threads = [threading.Thread(target=hostile) for _ in range(6)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    latencies: list[float] = []
    watcher = threading.Thread(target=lambda: latencies.extend(login_latencies(base, 10_000, done)))
    watcher.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    elapsed = time.perf_counter() - started
    cpu_after, peak = _proc(pid)
    assert set(statuses) == {401}, set(statuses)
    hostile_cpu = cpu_after - cpu_before  # includes the logins: an upper bound
    per_100kb = hostile_cpu * 1000 / (len(statuses) * len(wide) / 100_000)
    return latencies, per_100kb, peak, int(elapsed)


def memory_by_size(base: str, session: str, pid: int) -> list[list[str]]:
    rows = []
    for count in (100, 500, 1000):
        body = json.dumps({"session": session, "madonvi": MADONVI, "service": "DongBoHoSoMC", "isUpdating": "False", "data": records(f"M{count}", count)}, ensure_ascii=False).encode()
        reply = httpx.post(f"{base}/integration", content=body, headers={"content-type": "application/json"}, timeout=120)
        rows.append([f"{count} valid records", f"{len(body) / 1e6:.1f}", str(reply.status_code), f"{_proc(pid)[1]:.0f}"])
    for label, size_items, who in (("wide body, dead session", WIDE_ITEMS, "bad"), ("wide body within max_json_nodes, live session", 240_000, session)):
        body = b'{"session":"' + who.encode() + b'","madonvi":"' + MADONVI.encode() + b'","service":"DongBoHoSoMC","z":[' + b"{}," * (size_items - 1) + b"{}]}"
        reply = httpx.post(f"{base}/integration", content=body, headers={"content-type": "application/json"}, timeout=120)
        rows.append([label, f"{len(body) / 1e6:.1f}", str(reply.status_code), f"{_proc(pid)[1]:.0f}"])
    return rows


def memory_series(scratch: Path) -> list[list[str]]:
    sandbox = start_sandbox(scratch / "memory.sqlite3")
    try:
        base = sandbox.base_url
        session = httpx.post(f"{base}/auth", json={"username": "sandbox", "password": "sandbox"}).json()["session"]
        return [["(idle, after one login)", "", "", f"{_proc(sandbox.process.pid)[1]:.0f}"], *memory_by_size(base, session, sandbox.process.pid)]
    finally:
        sandbox.stop()


SECTIONS = ("Ingest", "Inside the server", "Peak memory", "Login latency under attack")


def main() -> None:
    smoke = "--smoke" in sys.argv
    batch, batches = (50, 1) if smoke else (BATCH, 5)
    section(SECTIONS[0] + f" of {batch:,}-record DongBoHoSoMC batches")
    print(ingest.ingest_table(baselines.model_rate(200 if smoke else 2000), batches, batch), "\n", flush=True)
    section(SECTIONS[1] + f": one {batch:,}-record request (CPU ms, best of 3)")
    print(ingest.stages_table(batch), "\n", flush=True)
    if "--ingest-only" in sys.argv:
        return
    with tempfile.TemporaryDirectory(prefix="qcvngen-bench-") as scratch, start_sandbox(Path(scratch) / "state.sqlite3") as sandbox:
        base = sandbox.base_url
        section(SECTIONS[2] + " (server VmHWM after each request, cumulative, fresh server)")
        print(_table(memory_series(Path(scratch)), ["request", "MB", "HTTP", "peak RSS MB"]), "\n", flush=True)
        quiet = login_latencies(base, 5 if smoke else 30)
        rounds = 1 if smoke else 4
        attacked, per_100kb, peak, seconds = under_attack(base, sandbox.process.pid, rounds=rounds)
        section(SECTIONS[3] + f": 6 clients send the 8.1 MB wide body ({rounds} rounds each)")
        rows = [
            ["quiet", str(len(quiet)), f"{statistics.median(quiet):.1f}", f"{sorted(quiet)[int(len(quiet) * 0.95) - 1]:.1f}", f"{max(quiet):.1f}"],
            ["under attack", str(len(attacked)), f"{statistics.median(attacked):.1f}", f"{sorted(attacked)[int(len(attacked) * 0.95) - 1]:.1f}", f"{max(attacked):.1f}"],
        ]
        print(_table(rows, ["", "logins", "median ms", "p95 ms", "max ms"]), "\n")
        print(f"Attack lasted {seconds} s; server CPU per 100 KB of hostile body (logins included): {per_100kb:.2f} ms; server peak RSS {peak:.0f} MB\n")


if __name__ == "__main__":
    main()

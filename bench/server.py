"""The generated server under load (issue 11): ingest vs model validation vs a raw floor, login
latency under hostile bodies, CPU per unauthenticated byte, peak memory per request size.

    .venv/bin/python bench/server.py                  # about 2-3 minutes on the project's machine
    .venv/bin/python bench/server.py --ingest-only    # the ingest tables only, under a minute
    .venv/bin/python bench/server.py --attack-only    # issue 18's attack figures only
    .venv/bin/python bench/server.py --smoke          # tiny sizes: proves every section runs (CI)

The ingest section is bench/ingest.py's, shared with bench/run.py, against the baselines of
bench/baselines.py. Every figure of one run comes from the same process and machine, so the
ratios hold even when the shared machine is slow; in-process figures are CPU time, and the
ingest rows give the server's CPU per 1,000 records beside the wall rate.
"""

from __future__ import annotations

import json
import math
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


def escaped_wide_body() -> bytes:
    """The issue's wide body with its session key and value spelled with escapes (which turned the
    cheap session look-up off before issue 18), and an escaped letter in every 1,000th item."""
    head = b'{"\\u0073ession" : "b\\u0061d","madonvi":"x","service":"DongBoHoSoMC","z":['
    items = (b"{}," * 999 + b'"\\u00e9",') * (WIDE_ITEMS // 1000)
    return head + items + b"{}]}"


# Attackers run in a process of their own (threads with raw sockets), so that the login
# latencies measured here do not include the attackers' own CPU in this process.
ATTACKERS = """
import http.client, sys, threading
host, port, clients, rounds, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
body = open(path, "rb").read()
statuses = []
def send():
    for _ in range(rounds):
        connection = http.client.HTTPConnection(host, port, timeout=600)
        connection.request("POST", "/integration", body, {"content-type": "application/json"})
        statuses.append(connection.getresponse().status)
        connection.close()
threads = [threading.Thread(target=send) for _ in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
print(" ".join(map(str, statuses)))
"""


def under_attack(base: str, pid: int, clients: int, rounds: int, scratch: Path, login_cpu_ms: float) -> dict[str, Any]:
    """Login latencies (ms) while ``clients`` attackers send the escaped wide body ``rounds`` times
    each; the server's CPU ms per refused body (with the logins' CPU, an upper bound, and without
    it, ``login_cpu_ms`` per login as measured on the quiet server) and its peak RSS."""
    import subprocess

    body = escaped_wide_body()
    path = scratch / "hostile.json"
    path.write_bytes(body)
    host, port = base.removeprefix("http://").rsplit(":", 1)
    cpu_before, _ = _proc(pid)
    started = time.perf_counter()
    attack = subprocess.Popen(
        [sys.executable, "-c", ATTACKERS, host, port, str(clients), str(rounds), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    done = threading.Event()
    latencies: list[float] = []
    watcher = threading.Thread(target=lambda: latencies.extend(login_latencies(base, 100_000, done)))
    time.sleep(0.5)  # the first bodies are on their way
    watcher.start()
    output, _ = attack.communicate()
    done.set()
    watcher.join()
    elapsed = time.perf_counter() - started
    cpu_after, peak = _proc(pid)
    statuses = [int(s) for s in output.split()]
    assert statuses == [401] * (clients * rounds), set(statuses)
    cpu_ms = (cpu_after - cpu_before) * 1000
    return {
        "latencies": latencies,
        "cpu_ms_per_body_with_logins": cpu_ms / len(statuses),
        "cpu_ms_per_body": (cpu_ms - login_cpu_ms * len(latencies)) / len(statuses),
        "peak": peak,
        "seconds": elapsed,
        "body_mb": len(body) / 1e6,
    }


def _percentile(values: list[float], share: float) -> float:
    """Nearest rank: of 2 values the 95th percentile is the larger, never below the median."""
    return sorted(values)[max(0, math.ceil(len(values) * share) - 1)]


def attack_table(scratch: Path, smoke: bool = False) -> None:
    """Issue 18's goal, printed beside each figure: a fresh sandbox per attacker count."""
    goals = {"median": 100.0, "p95": 300.0, "cpu": 20.0, "peak": 300.0}
    rows = []
    for clients, rounds in ((2, 1),) if smoke else ((8, 12), (40, 4)):
        sandbox = start_sandbox(scratch / f"attack-{clients}.sqlite3")
        try:
            cpu_before, _ = _proc(sandbox.process.pid)
            quiet = login_latencies(sandbox.base_url, 5 if smoke else 30)
            login_cpu_ms = (_proc(sandbox.process.pid)[0] - cpu_before) * 1000 / len(quiet)
            result = under_attack(sandbox.base_url, sandbox.process.pid, clients, rounds, scratch, login_cpu_ms)
        finally:
            sandbox.stop()
        attacked = result["latencies"]
        figures = {
            "median": statistics.median(attacked),
            "p95": _percentile(attacked, 0.95),
            "cpu": result["cpu_ms_per_body"],
            "peak": result["peak"],
        }
        verdict = "yes" if all(figures[k] <= goals[k] for k in goals) else "**no**"
        rows.append(
            [
                f"{clients} × {rounds} bodies ({result['body_mb']:.1f} MB), {result['seconds']:.0f} s",
                f"{statistics.median(quiet):.1f}",
                f"{len(attacked)}",
                f"{figures['median']:.1f} (≤ {goals['median']:.0f})",
                f"{figures['p95']:.1f} (≤ {goals['p95']:.0f})",
                f"{max(attacked):.1f}",
                f"{figures['cpu']:.1f} (≤ {goals['cpu']:.0f}); {result['cpu_ms_per_body_with_logins']:.1f} with the logins'",
                f"{figures['peak']:.0f} (≤ {goals['peak']:.0f})",
                verdict,
            ]
        )
    section(SECTIONS[3] + ": attackers send the escaped wide body (issue 18; goals in brackets)")
    header = ["attackers", "quiet median ms", "logins", "median ms", "p95 ms", "max ms", "server CPU ms / refused body", "peak RSS MB", "goal met"]
    print(_table(rows, header), "\n", flush=True)


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
    if "--attack-only" in sys.argv:
        with tempfile.TemporaryDirectory(prefix="qcvngen-bench-") as scratch:
            attack_table(Path(scratch), smoke)
        return
    batch, batches = (50, 1) if smoke else (BATCH, 5)
    section(SECTIONS[0] + f" of {batch:,}-record DongBoHoSoMC batches")
    print(ingest.ingest_table(baselines.model_rate(200 if smoke else 2000), batches, batch), "\n", flush=True)
    section(SECTIONS[1] + f": one {batch:,}-record request (CPU ms, best of 3)")
    print(ingest.stages_table(batch), "\n", flush=True)
    if "--ingest-only" in sys.argv:
        return
    with tempfile.TemporaryDirectory(prefix="qcvngen-bench-") as scratch:
        section(SECTIONS[2] + " (server VmHWM after each request, cumulative, fresh server)")
        print(_table(memory_series(Path(scratch)), ["request", "MB", "HTTP", "peak RSS MB"]), "\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="qcvngen-bench-") as scratch:
        attack_table(Path(scratch), smoke)


if __name__ == "__main__":
    main()

"""The generated server under load (issue 11): ingest vs model validation vs a raw floor, login
latency under hostile bodies, CPU per unauthenticated byte, peak memory per request size.

    .venv/bin/python bench/server.py                  # about 2-3 minutes on the project's machine
    .venv/bin/python bench/server.py --ingest-only    # the ingest tables only, under a minute
    .venv/bin/python bench/server.py --attack-only    # issue 18's attack figures only

Every figure of one run comes from the same process and machine, so the ratios hold even when the
shared machine is slow; absolute figures vary by ±30% between runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench"), str(ROOT / "generated" / "python"), str(ROOT / "generated" / "server")]

BATCH = 1000
WIDE_ITEMS = 2_700_000  # the 8.1 MB body
MADONVI = "000.00.00.G05"


def _table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _rate(fn: Callable[[], Any], count: int, repeat: int = 3) -> float:
    """Items per second of the best of ``repeat`` runs of ``fn`` (which handles ``count`` items)."""
    fn()
    best = min(_timed(fn) for _ in range(repeat))
    return count / best


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def records(prefix: str, count: int) -> list[dict[str, Any]]:
    from ingest import _records
    from qcvngen import load_spec

    reg, _ = load_spec(ROOT / "spec")
    assert reg is not None
    return list(_records(reg, prefix, count))


def model_rate(record: dict[str, Any]) -> float:
    from qcvn120_client import models

    raw = json.dumps(record, ensure_ascii=False).encode()
    return _rate(lambda: [models.DongBoHoSoMCRecord.model_validate_json(raw) for _ in range(2000)], 2000)


def floor_rate(batch: list[dict[str, Any]]) -> float:
    """bytes → json.loads → SQLite executemany of each record's JSON: what any server must do."""
    raw = json.dumps({"data": batch}, ensure_ascii=False).encode()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE r (k TEXT, record TEXT)")

    def once() -> None:
        data = json.loads(raw)["data"]
        with db:
            db.executemany("INSERT INTO r VALUES (?, ?)", [(r["MaHoSo"], json.dumps(r, ensure_ascii=False)) for r in data])

    return _rate(once, len(batch))


def stages(batch: list[dict[str, Any]], scratch: Path) -> list[list[str]]:
    """Where one 1,000-record request's time goes inside the server (ms, best of 3)."""
    from qcvn120_client import models
    from qcvn120_server import answers, contract, factory, limits, strictjson

    from qcvngen.sandbox.app import create_sandbox_app

    body = {"session": "s", "madonvi": MADONVI, "service": "DongBoHoSoMC", "isUpdating": "False", "data": batch}
    raw = bytearray(json.dumps(body, ensure_ascii=False).encode())
    settings = limits.Limits()
    checker = contract.Contract(json.loads(factory.packaged_document("qcvn120_server")))
    parsed, strings_only = strictjson.read_object(raw, settings)
    assert strings_only, "the bench's records are bodies of strings"
    model = models.DongBoHoSoMCRequest.model_validate(parsed)
    _, portal = create_sandbox_app(scratch / "stages.sqlite3")
    context = answers.CallContext(answers.Account("sandbox", MADONVI), "integration", None, ())
    fresh = iter([models.DongBoHoSoMCRequest.model_validate({**body, "data": records(f"T{n}", len(batch))}) for n in range(4)])
    parts = {
        "`json.loads` alone (for reference)": lambda: json.loads(raw),
        "strict parse (NFC, `json.loads`, census of keys, strings and limits)": lambda: strictjson.read_object(raw, settings),
        "model validation": lambda: models.DongBoHoSoMCRequest.model_validate(parsed),
        "schema contract (fastjsonschema), when it runs": lambda: checker.errors(parsed, "DongBoHoSoMCRequest"),
        "storage serialisation (`model_dump_json` per record)": lambda: [r.model_dump_json(by_alias=True, exclude_unset=True) for r in model.data],
        "sandbox handler (serialisation + SQLite insert and commit)": lambda: portal.dong_bo_ho_so_mc(next(fresh), context),
    }
    return [[label, f"{min(_timed(fn) for _ in range(3)) * 1000:.0f}"] for label, fn in parts.items()]


def start_marked_sandbox(db: Path) -> Any:
    """``qcvngen sandbox`` with every generated service marked ``exact_on_strings`` (what the
    services template does once it passes the mark; a no-op when it already does)."""
    import subprocess

    from support.sandbox_process import Sandbox, free_port

    port = free_port()
    mark = (
        "import dataclasses, pathlib, sys; from qcvngen.sandbox.runtime import load; "
        "s = load(pathlib.Path('spec')).services.SERVICES; "
        "s.update({k: dataclasses.replace(v, exact_on_strings=True) for k, v in s.items()}); "
        "from qcvngen.cli import main; main()"
    )
    args = [sys.executable, "-c", mark, "sandbox", "--port", str(port), "--db", str(db)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sandbox = Sandbox(process, port, db, args)
    for _ in range(300):
        try:
            if httpx.get(f"{sandbox.base_url}/openapi.json", timeout=1).status_code == 200:
                return sandbox
        except httpx.TransportError:
            time.sleep(0.1)
    sandbox.stop()
    raise RuntimeError("the marked sandbox did not start in 30 s")


def marked_in_template() -> bool:
    from qcvn120_server import services

    return all(service.exact_on_strings for service in services.SERVICES.values())


def ingest_marked(scratch: Path, batches: int) -> float:
    sandbox = start_marked_sandbox(scratch / "marked.sqlite3")
    try:
        session = httpx.post(f"{sandbox.base_url}/auth", json={"username": "sandbox", "password": "sandbox"}).json()["session"]
        return ingest(sandbox.base_url, session, batches)
    finally:
        sandbox.stop()


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS MB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return cpu, peak / 1024


def ingest(base: str, session: str, batches: int) -> float:
    bodies = [
        json.dumps({"session": session, "madonvi": MADONVI, "service": "DongBoHoSoMC", "isUpdating": "False", "data": records(f"B{b}", BATCH)}, ensure_ascii=False).encode()
        for b in range(batches + 1)
    ]
    with httpx.Client(base_url=base, timeout=120, headers={"content-type": "application/json"}) as http:
        assert http.post("/integration", content=bodies[0]).json()["error_code"] == "0"  # warm-up
        started = time.perf_counter()
        for body in bodies[1:]:
            reply = http.post("/integration", content=body).json()
            assert reply["error_code"] == "0", reply
        return batches * BATCH / (time.perf_counter() - started)


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
    return sorted(values)[max(0, int(len(values) * share) - 1)]


def attack_table(scratch: Path) -> None:
    """Issue 18's goal, printed beside each figure: a fresh sandbox per attacker count."""
    from sandbox_process import start_sandbox

    goals = {"median": 100.0, "p95": 300.0, "cpu": 20.0, "peak": 300.0}
    rows = []
    for clients, rounds in ((8, 4), (40, 2)):
        sandbox = start_sandbox(scratch / f"attack-{clients}.sqlite3")
        try:
            cpu_before, _ = _proc(sandbox.process.pid)
            quiet = login_latencies(sandbox.base_url, 30)
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
    print("## Logins while attackers send the escaped wide body (issue 18; goals in brackets)\n")
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
    from support.sandbox_process import start_sandbox

    sandbox = start_sandbox(scratch / "memory.sqlite3")
    try:
        base = sandbox.base_url
        session = httpx.post(f"{base}/auth", json={"username": "sandbox", "password": "sandbox"}).json()["session"]
        return [["(idle, after one login)", "", "", f"{_proc(sandbox.process.pid)[1]:.0f}"], *memory_by_size(base, session, sandbox.process.pid)]
    finally:
        sandbox.stop()


def main() -> None:
    from support.sandbox_process import start_sandbox

    if "--attack-only" in sys.argv:
        with tempfile.TemporaryDirectory(prefix="qcvngen-bench-") as scratch:
            attack_table(Path(scratch))
        return
    sample = records("S", BATCH)
    counted = model_rate(sample[0])
    floor = floor_rate(sample)
    print("## Ingest of 1,000-record DongBoHoSoMC batches\n")
    with tempfile.TemporaryDirectory(prefix="qcvngen-bench-") as scratch:
        sandbox = start_sandbox(Path(scratch) / "state.sqlite3")
        try:
            base = sandbox.base_url
            session = httpx.post(f"{base}/auth", json={"username": "sandbox", "password": "sandbox"}).json()["session"]
            through = ingest(base, session, batches=5)
            rows = [
                ["generated model, single record (`model_validate_json`)", f"{counted:,.0f}", "100%"],
                ["raw floor: bytes → json.loads → SQLite executemany", f"{floor:,.0f}", f"{floor / counted:.0%}"],
                ["**sandbox over loopback (httpx → uvicorn → SQLite)**", f"**{through:,.0f}**", f"**{through / counted:.0%}**"],
            ]
            if not marked_in_template():
                marked = ingest_marked(Path(scratch), batches=5)
                label = "**the same, services marked `exact_on_strings` (contract skipped on bodies of strings)**"
                rows.append([label, f"**{marked:,.0f}**", f"**{marked / counted:.0%}**"])
            print(_table(rows, ["path", "records / s", "÷ model"]), "\n")
            print("Inside the server, one 1,000-record request (ms):\n")
            print(_table(stages(sample, Path(scratch)), ["stage", "ms"]), "\n", flush=True)
            if "--ingest-only" in sys.argv:
                return
            print("## Peak memory (server VmHWM after each request, cumulative, fresh server)\n")
            print(_table(memory_series(Path(scratch)), ["request", "MB", "HTTP", "peak RSS MB"]), "\n", flush=True)
        finally:
            sandbox.stop()
        attack_table(Path(scratch))


if __name__ == "__main__":
    main()

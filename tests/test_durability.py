"""Faults that must never lose or duplicate: a build killed mid-write, a sandbox killed mid-ingest."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path, PurePosixPath

import httpx
import pytest

from qcvngen.writer import write
from support.paths import ROOT
from support.portal_calls import MADONVI, login, opencps_dossier
from support.sandbox_process import start_sandbox, view_all

# Full suite only (`pytest -m ""`, .ci/run): processes killed mid-write and mid-push, many times over.
pytestmark = pytest.mark.slow

WRITER = """
import json, sys
from pathlib import Path, PurePosixPath
from qcvngen.writer import write
files = {PurePosixPath(k): v for k, v in json.loads(Path(sys.argv[2]).read_text()).items()}
print("writing", flush=True)
write(Path(sys.argv[1]), files)
print("done", flush=True)
"""


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def tree(tag: str, count: int = 1500) -> dict[PurePosixPath, str]:
    return {PurePosixPath(f"d{i % 20}/f{i}.txt"): f"{tag} {i}\n" * 200 for i in range(count)}


def test_a_build_killed_mid_write_leaves_the_whole_old_or_the_whole_new_tree(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    old, new = tree("old"), tree("new")
    write(out, old)
    old_digest = digest(out)
    scratch = tmp_path / "scratch"
    write(scratch, new)
    new_digest = digest(scratch)
    payload = tmp_path / "new.json"
    payload.write_text(json.dumps({k.as_posix(): v for k, v in new.items()}))
    # How long the swap takes, so the kills land before, during and after it.
    timer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "timing"), str(payload)], stdout=subprocess.PIPE, cwd=ROOT
    )
    assert timer.stdout is not None
    timer.stdout.readline()
    started = time.monotonic()
    timer.stdout.readline()
    duration = time.monotonic() - started
    timer.wait(timeout=30)
    rng = random.Random(120)
    outcomes = {"old": 0, "new": 0}
    for _ in range(16):
        write(out, old)  # back to the old tree (removes abandoned staging folders too)
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(out), str(payload)], stdout=subprocess.PIPE, cwd=ROOT
        )
        assert process.stdout is not None
        process.stdout.readline()  # "writing": the new tree is being staged now
        time.sleep(rng.uniform(0.0, duration * 2.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        found = digest(out)
        assert found in (old_digest, new_digest), "generated/ is half old, half new"
        outcomes["old" if found == old_digest else "new"] += 1
    write(out, new)
    assert digest(out) == new_digest
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".generated")] == [], (
        "abandoned staging folders are cleaned"
    )
    assert outcomes["old"], f"some kills should land before the swap: {outcomes}"
    print(f"build kill trials: {outcomes}")


def test_acknowledged_pushes_survive_sigkill_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    sandbox = start_sandbox(db)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        with httpx.Client(base_url=sandbox.base_url, timeout=5) as http:
            session = login(sandbox.base_url, "sandbox", "sandbox")
            for batch in range(200):
                if stop.is_set():
                    return
                keys = [f"W{worker}-B{batch}-R{i}" for i in range(25)]
                body = {
                    "session": session,
                    "madonvi": MADONVI,
                    "service": "DongBoHoSoMC",
                    "isUpdating": "False",
                    "data": [opencps_dossier(k) for k in keys],
                }
                try:
                    reply = http.post("/integration", json=body)
                except httpx.TransportError:
                    return  # the sandbox died under us: this batch was never acknowledged
                if reply.status_code == 200 and reply.json().get("error_code") == "0":
                    with lock:
                        acknowledged.extend(keys)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    sandbox.stop(signal.SIGKILL)
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    assert len(acknowledged) >= 1000, "the run must have acknowledged thousands of records before the kill"

    restarted = start_sandbox(db)
    try:
        stored = view_all(restarted.base_url, "/sandbox/api/dossiers", "dossiers", timeout=30)
    finally:
        restarted.stop()
    keys = [d["MaHoSo"] for d in stored]
    assert len(keys) == len(set(keys)), "a dossier is stored twice"
    missing = set(acknowledged) - set(keys)
    assert not missing, f"{len(missing)} acknowledged records lost"
    print(f"sigkill: {len(acknowledged)} acknowledged before the kill, {len(keys)} stored, 0 lost, 0 duplicated")

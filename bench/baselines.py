"""One definition of every baseline the benches compare against, and the plumbing they share.

Every bench script imports its baselines from here, so "the model's rate" or "raw httpx" means
the same thing in every table. Nothing here imports the test suite (``tests/`` needs pytest, which
``pip install -e '.[bench]'`` does not bring); a missing piece is a :class:`BenchError` that says
what is missing and how to get it, never a silently skipped section.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"
# The committed generated packages, imported as a user of them would.
for _folder in (GENERATED / "server", GENERATED / "python"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

RECORD = "DongBoHoSoMCRecord"
MADONVI = "000.00.00.G05"
SANDBOX_LOGIN = {"username": "sandbox", "password": "sandbox"}


class BenchError(RuntimeError):
    """A piece the bench needs is missing or misbehaves; the message says which and why."""


def require(module: str, why: str) -> ModuleType:
    """Import ``module`` or fail saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise BenchError(f"{why} needs the Python module {module!r} ({error}); install the bench extra: pip install -e '.[bench]'") from error


def section(title: str) -> None:
    """Print a section heading; the smoke test checks every script printed all of its sections."""
    print(f"## {title}\n", flush=True)


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(row[i])) for row in [*rows, header]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def timed(fn: Callable[[], Any]) -> float:
    """CPU seconds of this process during ``fn()``: every in-process figure is single-threaded CPU
    work, and on a shared machine wall time would also count the time other processes hold the core."""
    started = time.process_time()
    fn()
    return time.process_time() - started


def best_rate(fn: Callable[[], Any], items: int, repeat: int = 3) -> float:
    """Items per CPU second of the best of ``repeat`` calls of ``fn`` (each handling ``items``), after a warm-up."""
    fn()
    return items / min(timed(fn) for _ in range(repeat))


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}{load}"


# -- the records every bench sends and validates -----------------------------------------------


@functools.cache
def regulation_record() -> dict[str, Any]:
    """A valid DongBoHoSoMC record with the 27 regulation fields of Table 2 (nested lists filled):
    the record the peers' published figures were measured on."""
    from qcvngen import load_spec
    from qcvngen.examples import example_record

    registry, diagnostics = load_spec(ROOT / "spec")
    if registry is None:
        raise BenchError(f"spec/ does not load: {diagnostics}")
    counted = {f.wire_name for f in registry.record(RECORD).fields if f.membership == "regulation"}
    return {k: v for k, v in example_record(registry, RECORD).items() if k in counted}


def records(prefix: str, count: int) -> list[dict[str, Any]]:
    """``count`` distinct valid records (``MaHoSo`` differs, so the sandbox stores every one)."""
    base = regulation_record()
    return [{**base, "MaHoSo": f"{prefix}-{i:07d}"} for i in range(count)]


def request_body(session: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    return {"session": session, "madonvi": MADONVI, "service": "DongBoHoSoMC", "isUpdating": "False", "data": batch}


# -- the baselines -------------------------------------------------------------------------------


def json_loads_rate(count: int) -> float:
    """The floor: records/s of ``json.loads`` on one record's UTF-8 bytes."""
    raw = json.dumps(regulation_record(), ensure_ascii=False).encode()
    return best_rate(lambda: [json.loads(raw) for _ in range(count)], count)


def model_rate(count: int) -> float:
    """**The model's rate**: records/s of the generated ``DongBoHoSoMCRecord.model_validate_json``
    on one record's UTF-8 bytes at a time (single-record validation, no batching), per CPU second
    of this process (see :func:`timed`)."""
    return _model_loop(count, time.process_time)


def model_cpu_per_1000(count: int) -> float:
    """The same loop's CPU seconds per 1,000 records (best of three): the model's rate as a cost,
    to set beside a server's CPU per 1,000 records."""
    return 1000 / _model_loop(count, time.process_time)


def _model_loop(count: int, clock: Callable[[], float]) -> float:
    from qcvn120_client import models

    raw = json.dumps(regulation_record(), ensure_ascii=False).encode()
    validate = models.DongBoHoSoMCRecord.model_validate_json

    def once() -> float:
        started = clock()
        for _ in range(count):
            validate(raw)
        return clock() - started

    once()
    return count / max(min(once() for _ in range(3)), 1e-9)


@dataclass(frozen=True)
class Sent:
    """Records/s of a sender, and the CPU seconds its own process spent per 1,000 records."""

    rate: float
    cpu_per_1000: float


def raw_httpx_send(base_url: str, batches: list[list[dict[str, Any]]]) -> Sent:
    """**Raw httpx**: plain ``httpx.Client.post(json=…)`` of already valid records, one request
    per batch after one login, each answer read and checked for ``error_code`` "0". No
    validation, no retries: what the generated client is compared with."""
    import httpx

    count = sum(map(len, batches))
    with httpx.Client(base_url=base_url, timeout=120) as http:
        session = http.post("/auth", json=SANDBOX_LOGIN).json()["session"]
        started, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            reply = http.post("/integration", json=request_body(session, batch)).json()
            if reply.get("error_code") != "0":
                raise BenchError(f"the sandbox refused a valid batch: {reply}")
        return Sent(count / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / count)


def client_send(base_url: str, batches: list[list[dict[str, Any]]]) -> Sent:
    """The generated ``Client`` sending the same kind of records (it validates and canonicalises each)."""
    from qcvn120_client import Client

    size = len(batches[0])
    flat = [record for batch in batches for record in batch]
    with Client(base_url, username="sandbox", password="sandbox", madonvi=MADONVI, batch_size=size, timeout=120) as client:
        client.login()
        started, cpu = time.perf_counter(), time.process_time()
        results = client.dong_bo_ho_so_mc(flat)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not all(result.error_code == "0" for result in results):
        raise BenchError(f"the sandbox refused a batch the client sent: {[r for r in results if r.error_code != '0'][:1]}")
    return Sent(len(flat) / elapsed, cpu * 1000 / len(flat))


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux ``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError as error:
        raise BenchError(f"cannot read the CPU time of process {pid} ({error}): this bench needs Linux /proc") from error
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- a sandbox process on a loopback port --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process answering on 127.0.0.1:``port``."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(args: Sequence[str], port: int, what: str, env: dict[str, str] | None = None) -> Server:
    """Run ``args`` (a Python command line), with ``env`` added to the environment, and wait until
    ``/openapi.json`` answers."""
    import httpx

    env = {**os.environ, "QCVNGEN_GENERATED": str(GENERATED), "PYTHONUNBUFFERED": "1", **(env or {})}
    # Its output goes to a file (a pipe nobody reads would fill and stall the server).
    log = tempfile.TemporaryFile()  # noqa: SIM115 (the Server owns it and closes it when it stops)
    process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise BenchError(f"{what} exited at start:\n{output[-2000:]}")
        try:
            if httpx.get(f"{server.base_url}/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise BenchError(f"{what} did not answer within 60 s")


def start_sandbox(db: Path, env: dict[str, str] | None = None) -> Server:
    """``qcvngen sandbox`` on a free loopback port with its state in ``db`` (``env`` added)."""
    port = free_port()
    args = ["-m", "qcvngen.cli", "sandbox", "--port", str(port), "--db", str(db)]
    return start_server(args, port, "qcvngen sandbox", env)

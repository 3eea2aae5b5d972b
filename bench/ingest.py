"""Ingest and client overhead over loopback, the one definition both ``run.py`` and ``server.py`` print.

* Ingest: already serialised request bodies of ``batch`` DongBoHoSoMC records posted with httpx to
  the sandbox (uvicorn → strict parse → models → SQLite) and to the generated stubs with a handler
  that stores nothing, against the model's rate (:func:`baselines.model_rate`).
* Client overhead: the generated ``Client`` against raw httpx (:func:`baselines.raw_httpx_send`),
  both sending the same kind of already valid records to the same sandbox, in alternating rounds.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import (
    MADONVI,
    SANDBOX_LOGIN,
    BenchError,
    Sent,
    best_rate,
    client_send,
    free_port,
    model_cpu_per_1000,
    process_cpu,
    raw_httpx_send,
    records,
    request_body,
    start_sandbox,
    start_server,
    table,
    timed,
)


def floor_rate(batch: list[dict[str, Any]]) -> float:
    """bytes → ``json.loads`` → SQLite ``executemany`` of each record's JSON: what any server must do."""
    raw = json.dumps({"data": batch}, ensure_ascii=False).encode()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE r (k TEXT, record TEXT)")

    def once() -> None:
        data = json.loads(raw)["data"]
        with db:
            db.executemany("INSERT INTO r VALUES (?, ?)", [(r["MaHoSo"], json.dumps(r, ensure_ascii=False)) for r in data])

    return best_rate(once, len(batch))


def post_bytes_rate(base_url: str, batches: int, batch_size: int, prefix: str, pid: int) -> tuple[float, float]:
    """Records/s of posting pre-serialised bodies (built before the clock starts), one warm-up
    first; and the server's CPU seconds per 1,000 records meanwhile."""
    import httpx

    with httpx.Client(base_url=base_url, timeout=120, headers={"content-type": "application/json"}) as http:
        session = http.post("/auth", json=SANDBOX_LOGIN).json()["session"]
        bodies = [json.dumps(request_body(session, records(f"{prefix}{b}", batch_size)), ensure_ascii=False).encode() for b in range(batches + 1)]
        started = cpu = 0.0
        for index, body in enumerate(bodies):
            if index == 1:
                started, cpu = time.perf_counter(), process_cpu(pid)
            reply = http.post("/integration", content=body).json()
            if reply.get("error_code") != "0":
                raise BenchError(f"{base_url} refused a valid batch: {reply}")
        count = batches * batch_size
        return count / (time.perf_counter() - started), (process_cpu(pid) - cpu) * 1000 / count


def start_stubs() -> Any:
    port = free_port()
    return start_server([str(Path(__file__).resolve().parent / "stub_server.py"), str(port)], port, "the generated stubs (bench/stub_server.py)")


def ingest_rows(model: float, batches: int, batch_size: int) -> list[list[str]]:
    """The model's rate beside the raw floor, the stubs and the sandbox: records/s (wall) and, as a
    cost the shared machine cannot inflate, CPU ms per 1,000 records (the server process's own)."""
    model_cpu = model_cpu_per_1000(max(batch_size, 200))
    floor = floor_rate(records("F", batch_size))
    with tempfile.TemporaryDirectory(prefix="qcvngen-ingest-") as scratch, start_sandbox(Path(scratch) / "state.sqlite3") as sandbox:
        through, through_cpu = post_bytes_rate(sandbox.base_url, batches, batch_size, "B", sandbox.pid)
    careful_env = {"QCVN120_NATIVE_SCAN": "off"}
    with tempfile.TemporaryDirectory(prefix="qcvngen-ingest-") as scratch, start_sandbox(Path(scratch) / "state.sqlite3", careful_env) as sandbox:
        careful, careful_cpu = post_bytes_rate(sandbox.base_url, batches, batch_size, "C", sandbox.pid)
    with start_stubs() as stubs:
        stubbed, stubbed_cpu = post_bytes_rate(stubs.base_url, batches, batch_size, "S", stubs.pid)

    def cpu(seconds: float) -> list[str]:
        if seconds <= 0:  # a tiny run can finish within one tick of the kernel's CPU clock
            return ["under one clock tick", ""]
        return [f"{seconds * 1000:.0f}", f"{model_cpu / seconds:.0%}"]

    return [
        ["generated model, single record (the model's rate)", f"{model:,.0f}", "100%", *cpu(model_cpu)],
        ["raw floor: bytes → json.loads → SQLite executemany", f"{floor:,.0f}", f"{floor / model:.0%}", "", ""],
        ["generated stubs over loopback, handler stores nothing", f"{stubbed:,.0f}", f"{stubbed / model:.0%}", *cpu(stubbed_cpu)],
        ["**sandbox over loopback (httpx → uvicorn → stubs → SQLite)**", f"**{through:,.0f}**", f"**{through / model:.0%}**", *cpu(through_cpu)],
        ["the same sandbox with the native scan off (`QCVN120_NATIVE_SCAN=off`: the careful way)", f"{careful:,.0f}", f"{careful / model:.0%}", *cpu(careful_cpu)],
    ]


def ingest_table(model: float, batches: int, batch_size: int) -> str:
    header = ["path", "records / s", "÷ model's rate", "CPU ms / 1,000 records (server's own)", "model's CPU ÷ this"]
    return table(ingest_rows(model, batches, batch_size), header)


def client_table(batches: int, batch_size: int, rounds: int) -> str:
    """Raw httpx and the generated client in alternating rounds against one sandbox. Wall time:
    the best round of each and the median of the per-round ratios; CPU of the sender's own
    process per 1,000 records (what the client itself adds, whatever the shared machine does)."""
    raw: list[Sent] = []
    mine: list[Sent] = []
    served = {"raw": 0.0, "client": 0.0}  # the sandbox's CPU seconds for each sender's records
    with tempfile.TemporaryDirectory(prefix="qcvngen-client-") as scratch, start_sandbox(Path(scratch) / "state.sqlite3") as sandbox:
        client_send(sandbox.base_url, [records("WARM", batch_size)])
        for turn in range(rounds):
            for who, send, out in (("raw", raw_httpx_send, raw), ("client", client_send, mine)):
                batch = [records(f"{who}{turn}-{b}", batch_size) for b in range(batches)]
                before = process_cpu(sandbox.pid)
                out.append(send(sandbox.base_url, batch))
                served[who] += process_cpu(sandbox.pid) - before
    per_1000 = {who: seconds * 1e6 / (rounds * batches * batch_size) for who, seconds in served.items()}
    ratio = statistics.median(r.rate / m.rate for r, m in zip(raw, mine, strict=True))
    raw_cpu, my_cpu = statistics.median(r.cpu_per_1000 for r in raw), statistics.median(m.cpu_per_1000 for m in mine)
    raw_cpu = raw_cpu or 1e-9  # a tiny run can finish within one tick of the CPU clock
    rows = [
        ["raw httpx (`post(json=…)`, no validation)", f"{max(r.rate for r in raw):,.0f}", "1.00×", f"{raw_cpu * 1000:.0f}", f"{per_1000['raw']:.0f}"],
        [
            "**generated Client (validates and canonicalises each record)**",
            f"**{max(m.rate for m in mine):,.0f}**",
            f"**{ratio:.2f}× ({ratio - 1:+.0%})**",
            f"{my_cpu * 1000:.0f} ({my_cpu / raw_cpu - 1:+.0%})",
            f"{per_1000['client']:.0f}",
        ],
    ]
    return table(rows, ["sender → sandbox", "records / s (best round)", "time ÷ raw httpx (median of rounds)", "sender CPU ms / 1,000 records", "sandbox CPU ms / 1,000 records"])


def stages(batch: list[dict[str, Any]], scratch: Path) -> list[list[str]]:
    """Where one request's time goes inside the server (CPU ms, best of 3): the short way a plain
    body takes (native scan, records read from their bytes, stored as sent), and the careful way."""
    from qcvn120_client.wire import PATTERN_MESSAGES
    from qcvn120_server import answers, contract, factory, limits, models, native, plainbody, plainrequest, strictjson

    from qcvngen.sandbox.app import create_sandbox_app

    if native.scan is None:
        raise BenchError("qcvn120_speedups is not installed: reinstall qcvngen (pip install -e '.[bench]') with a C compiler")
    body = request_body("s", batch)
    raw = bytearray(json.dumps(body, ensure_ascii=False).encode())
    settings = limits.Limits()
    request = models.DongBoHoSoMCRequest
    reader = plainrequest.plain_reader(request)
    if reader is None:
        raise BenchError("DongBoHoSoMCRequest should have a plain reader (plainrequest.plain_reader)")
    checker = contract.Contract(json.loads(factory.packaged_document("qcvn120_server")), PATTERN_MESSAGES)
    plain = plainbody.read_plain(raw, settings)
    parsed, strings_only, _ = strictjson.read_object(raw, settings)
    if plain is None or not strings_only:
        raise BenchError("the bench's records should be plain bodies of strings only")
    model = request.model_validate(parsed)
    model.data[0].model_dump_json()  # builds the record class's own serialiser, as the sandbox's _wire does
    _, portal = create_sandbox_app(scratch / "stages.sqlite3")
    account = answers.Account("sandbox", MADONVI)
    fresh = []
    for n in range(4):
        text = json.dumps({**body, "data": records(f"T{n}", len(batch))}, ensure_ascii=False).encode()
        pushed = plainbody.read_plain(text, settings)
        assert pushed is not None
        context = answers.CallContext(account, "integration", None, (), tuple(pushed.records))
        fresh.append((reader.read(text), context))  # what the sandbox is handed (reads_plain_requests)
    stored = iter(fresh)
    parts = {
        "the short way: native scan (`plainbody.read_plain`)": lambda: plainbody.read_plain(raw, settings),
        "the short way: the request model from the bytes (`plainbody.validate_plain`: for the stubs)": lambda: plainbody.validate_plain(request, raw),
        "the short way: the request's fields from the bytes, no model instances (`PlainReader.read`: for the sandbox)": lambda: reader.read(raw),
        "the short way: sandbox handler (SQLite insert and commit of the records as sent)": lambda: portal.dong_bo_ho_so_mc(*next(stored)),
        "the careful way: `json.loads` alone (for reference)": lambda: json.loads(raw),
        "the careful way: strict parse (NFC, `json.loads`, census of keys, strings and limits)": lambda: strictjson.read_object(raw, settings),
        "the careful way: model validation of the parsed body": lambda: request.model_validate(parsed),
        "the careful way: schema contract (fastjsonschema), when it runs": lambda: checker.errors(parsed, "DongBoHoSoMCRequest"),
        "the careful way: storage serialisation (`to_json` per record)": lambda: [type(r).__pydantic_serializer__.to_json(r, by_alias=True, exclude_unset=True) for r in model.data],
    }
    with as_the_server_collects(factory.GC_YOUNG_THRESHOLD):
        return [[label, f"{min(timed(fn) for _ in range(3)) * 1000:.1f}"] for label, fn in parts.items()]


@contextlib.contextmanager
def as_the_server_collects(young: int) -> Iterator[None]:
    """The garbage collector set as the app sets it at startup (factory._settled: what is alive
    frozen, the young generation collected only past ``young`` allocations), then put back: a
    stage measured under the defaults would count collections the server never makes."""
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(max(threshold[0], young), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def stages_table(batch_size: int) -> str:
    with tempfile.TemporaryDirectory(prefix="qcvngen-stages-") as scratch:
        return table(stages(records("S", batch_size), Path(scratch)), ["stage", "CPU ms"])

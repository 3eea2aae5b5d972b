"""qcvngen benchmarks: build vs peer generators, scaling, validation and ingest throughput.

    python bench/run.py            # full run (installs the peers into bench/.peers on first use)
    python bench/run.py --quick    # fewer repetitions, no 1,500-packet spec
    python bench/run.py --smoke    # one repetition at tiny sizes: proves every section runs (CI)

Every figure is measured in this run on this machine and printed as a table with ratios to
qcvngen; nothing here gates CI. Child processes are timed by wall clock and CPU seconds; in-process
rates by CPU time (bench/baselines.py), which a shared machine's other processes do not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEERS = BENCH / ".peers"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PEER_PACKAGES = ["openapi-python-client==0.29.1", "openapi-generator-cli==7.26.0"]

sys.path.insert(0, str(BENCH))

import baselines  # noqa: E402  (the shared baselines; puts the generated packages on the path)
from baselines import BenchError, best_rate, section, table  # noqa: E402


@dataclass
class Timing:
    label: str
    seconds: list[float]
    peak_mib: float
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run_timed(cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall time, peak RSS (MiB) and CPU seconds (user + system) of one child process and its children."""
    # Every tool runs as installed, its bytecode cached: a session that sets PYTHONDONTWRITEBYTECODE
    # would make qcvngen (an editable install, never byte-compiled by pip) compile its ~50 modules on
    # every run while the peers (byte-compiled at install) do not.
    env = {key: value for key, value in (os.environ if env is None else env).items() if key != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def cache_env(folder: Path) -> dict[str, str]:
    """The environment with qcvngen's caches in ``folder/.cache``: a scratch folder's own, never the
    user's (qcvngen keeps them per user, in ``$QCVNGEN_CACHE_DIR`` when set)."""
    return {**os.environ, "QCVNGEN_CACHE_DIR": str(folder / ".cache")}


def measure(label: str, make_cmd: Callable[[Path], Sequence[str]], runs: int, cwd: Path | Callable[[Path], Path] | None = None, env: dict[str, str] | Callable[[Path], dict[str, str]] | None = None) -> Timing:
    """Median of ``runs`` after one warm-up, each into a fresh output folder (``cwd`` and ``env`` may depend on it)."""
    seconds: list[float] = []
    cpus: list[float] = []
    peak = 0.0
    for index in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="qcvngen-bench-") as scratch:
            where = cwd(Path(scratch)) if callable(cwd) else cwd
            elapsed, rss, cpu = run_timed(make_cmd(Path(scratch)), cwd=where, env=env(Path(scratch)) if callable(env) else env)
        if index:
            seconds.append(elapsed)
            cpus.append(cpu)
            peak = max(peak, rss)
    return Timing(label, seconds, peak, cpus)


def edited_rebuilds(workspace: Path, runs: int) -> Timing:
    """``qcvngen build`` over an existing output after one table's text was edited (a field's
    English title changes, so its schema, models, docs and site change), caches as a previous
    build left them."""
    table_file = workspace / "spec" / "tables" / "t03-cap-nhat-tien-do-ho-so-mc.yaml"
    original = table_file.read_text(encoding="utf-8")
    command = [str(BIN / "qcvngen"), "build", "--spec", "spec", "--out", "g"]
    seconds: list[float] = []
    cpus: list[float] = []
    peak = 0.0
    for index in range(runs + 1):
        edited = original.replace('en: "dossier code"', f'en: "dossier code (edit {index})"', 1)
        if edited == original:
            raise BenchError(f"{table_file.name} no longer has the field title this bench edits")
        table_file.write_text(edited, encoding="utf-8")
        elapsed, rss, cpu = run_timed(command, cwd=workspace, env=cache_env(workspace))
        if index:
            seconds.append(elapsed)
            cpus.append(cpu)
            peak = max(peak, rss)
    table_file.write_text(original, encoding="utf-8")
    run_timed(command, cwd=workspace, env=cache_env(workspace))  # back to the spec as it was, so `check` finds it fresh
    return Timing("**qcvngen build after editing one table (rebuild)**", seconds, peak, cpus)


def watched_rebuilds(workspace: Path, runs: int) -> Timing:
    """The same one-table edit under one ``qcvngen build --watch`` process: wall time from the
    edited file's write until the watcher printed its rebuild (polling and settling included),
    and the watcher's own CPU seconds for it (from /proc)."""
    import select

    table_file = workspace / "spec" / "tables" / "t03-cap-nhat-tien-do-ho-so-mc.yaml"
    original = table_file.read_text(encoding="utf-8")
    command = [str(BIN / "qcvngen"), "build", "--watch", "--spec", "spec", "--out", "g"]
    watcher = subprocess.Popen(command, cwd=workspace, env=cache_env(workspace), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert watcher.stdout is not None
    fd = watcher.stdout.fileno()

    def next_line() -> str:
        data = b""
        while not data.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], 120)
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                raise BenchError(f"qcvngen build --watch stopped answering (printed {data!r})")
            data += chunk
        return data.decode()

    seconds: list[float] = []
    cpus: list[float] = []
    try:
        next_line()  # the first build
        for index in range(runs + 1):
            edited = original.replace('en: "dossier code"', f'en: "dossier code (watched {index})"', 1)
            before = baselines.process_cpu(watcher.pid)
            started = time.perf_counter()
            table_file.write_text(edited, encoding="utf-8")
            line = next_line()
            elapsed = time.perf_counter() - started
            if "file(s) written" not in line:
                raise BenchError(f"qcvngen build --watch did not rebuild: {line!r}")
            if index:
                seconds.append(elapsed)
                cpus.append(baselines.process_cpu(watcher.pid) - before)
        peak = _peak_mib(watcher.pid)
    finally:
        watcher.terminate()
        watcher.wait(timeout=60)
        table_file.write_text(original, encoding="utf-8")
    run_timed([str(BIN / "qcvngen"), "build", "--spec", "spec", "--out", "g"], cwd=workspace, env=cache_env(workspace))
    return Timing("**the same edit under `qcvngen build --watch` (edit saved → output written)**", seconds, peak, cpus)


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ensure_peers() -> Path:
    python = PEERS / "bin" / "python"
    if not python.exists():
        print("installing the peer generators into bench/.peers (first run only) …", flush=True)
        # Their own venv: their pins (older typer and httpx) must not change what qcvngen is measured with.
        made = subprocess.run([sys.executable, "-m", "venv", str(PEERS)], capture_output=True, text=True)
        installed = made.returncode == 0 and subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], capture_output=True, text=True)
        if not installed or installed.returncode != 0:
            shutil.rmtree(PEERS, ignore_errors=True)
            detail = (installed.stderr if installed else made.stderr)[-1500:]
            raise BenchError(f"could not install the peer generators {PEER_PACKAGES} into bench/.peers with pip:\n{detail}")
    if shutil.which("java") is None:
        raise BenchError("openapi-generator-cli needs Java on PATH (Debian: apt-get install default-jre-headless)")
    return PEERS / "bin"


def qcvngen_runs(runs: int) -> list[Timing]:
    """qcvngen's own runs, in a scratch workspace whose caches (``QCVNGEN_CACHE_DIR``, see
    :func:`cache_env`) are its own, never the user's: a build with nothing cached (each run's
    cache a fresh folder), a cold build into a fresh folder with the caches an earlier build of
    this spec left, a rebuild after a one-table edit, a no-op check."""
    qcvngen = str(BIN / "qcvngen")
    with tempfile.TemporaryDirectory(prefix="qcvngen-workspace-") as scratch:
        workspace = Path(scratch)
        shutil.copytree(ROOT / "spec", workspace / "spec")
        warm = cache_env(workspace)
        subprocess.run([qcvngen, "build", "--spec", "spec", "--out", "g"], cwd=workspace, env=warm, check=True, capture_output=True)
        build = lambda out: [qcvngen, "build", "--spec", str(workspace / "spec"), "--out", str(out / "g")]  # noqa: E731
        return [
            measure("qcvngen build, nothing cached (fresh folder and cache)", build, runs, cwd=lambda out: out, env=cache_env),
            measure("**qcvngen build (cold: fresh process and output folder, caches of an earlier build)**", build, runs, cwd=workspace, env=warm),
            edited_rebuilds(workspace, runs),
            watched_rebuilds(workspace, runs),
            measure("**qcvngen check (no-op)**", lambda out: [qcvngen, "check", "--spec", "spec", "--out", "g"], runs, cwd=workspace, env=warm),
        ]


def generators(runs: int) -> str:
    peers = ensure_peers()
    bundle = ROOT / "generated" / "jsonschema" / "qcvn120.schema.json"
    openapi = ROOT / "generated" / "openapi" / "openapi.json"
    ours = qcvngen_runs(runs)
    opc = lambda out: [str(peers / "openapi-python-client"), "generate", "--path", str(openapi), "--output-path", str(out / "c"), "--overwrite"]  # noqa: E731
    timings = [
        *ours,
        measure("datamodel-code-generator (models only)", lambda out: [str(BIN / "datamodel-codegen"), "--input", str(bundle), "--input-file-type", "jsonschema", "--output-model-type", "pydantic_v2.BaseModel", "--output", str(out / "m.py")], runs),
        measure("datamodel-code-generator, builtin formatter", lambda out: [str(BIN / "datamodel-codegen"), "--input", str(bundle), "--input-file-type", "jsonschema", "--output-model-type", "pydantic_v2.BaseModel", "--formatters", "builtin", "--output", str(out / "m.py")], runs),
        # As its users run it: its own venv's bin on PATH, so its post-hooks (ruff check --fix,
        # ruff format) run. Without them on PATH it skips them with a warning (the second row).
        measure("**openapi-python-client (client alone, its ruff post-hooks run)**", opc, runs, env={**os.environ, "PATH": f"{peers}{os.pathsep}{os.environ.get('PATH', '')}"}),
        measure("openapi-python-client, ruff not on PATH (post-hooks skipped)", opc, runs, env={**os.environ, "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if not (Path(p) / "ruff").exists())}),
        measure("openapi-generator-cli -g python (client)", lambda out: [str(peers / "openapi-generator-cli"), "generate", "-i", str(openapi), "-g", "python", "-o", str(out / "c")], max(1, runs // 2)),
    ]
    base = ours[1]
    rows = [
        [t.label, f"{t.median:.3f}", f"{min(t.seconds):.3f}–{max(t.seconds):.3f}", f"{statistics.median(t.cpu):.3f}", f"{t.peak_mib:.0f}", f"{t.median / base.median:.2f}×", f"{statistics.median(t.cpu) / statistics.median(base.cpu):.2f}×"]
        for t in timings
    ]
    return table(rows, ["run", "median s", "min–max s", "CPU s", "peak MiB", "÷ qcvngen cold build", "CPU ÷"])


def scaling(sizes: list[int]) -> str:
    from synthetic import make_spec

    rows = []
    first: float | None = None
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="qcvngen-scale-") as scratch:
            spec = make_spec(Path(scratch) / "spec", size)
            timing = measure(f"{size} packets", lambda out, spec=spec: [str(BIN / "qcvngen"), "build", "--spec", str(spec), "--out", str(out / "g")], 3 if size < 1000 else 1, cwd=lambda out: out, env=cache_env)
        per_packet = timing.median / size
        first = first or per_packet
        rows.append([str(size), f"{timing.median:.2f}", f"{per_packet * 1000:.1f}", f"{per_packet / first:.2f}", f"{timing.peak_mib:.0f}"])
    return table(rows, ["packets", "build s", "ms / packet", "per-packet ÷ 15-packet", "peak MiB"])


def _each(fn: Callable[[], Any], count: int) -> float:
    """Records/s of ``fn`` (one record per call), best of three."""
    return best_rate(lambda: [fn() for _ in range(count)], count)


def validation(count: int) -> tuple[str, float]:
    """Validators on one record's bytes; the two baselines come from :mod:`baselines`."""
    fastjsonschema = baselines.require("fastjsonschema", "the validation table")
    jsonschema = baselines.require("jsonschema", "the validation table")
    msgspec = baselines.require("msgspec", "the validation table")
    from pydantic import TypeAdapter
    from qcvn120_client import models

    record = baselines.regulation_record()
    raw = json.dumps(record, ensure_ascii=False).encode()
    batch_raw = json.dumps([record] * 100, ensure_ascii=False).encode()
    bundle = json.loads((ROOT / "generated" / "jsonschema" / "qcvn120.schema.json").read_text(encoding="utf-8"))
    schema = {"$ref": f"#/$defs/{baselines.RECORD}", "$defs": bundle["$defs"]}
    fast = fastjsonschema.compile(schema)
    slow = jsonschema.Draft202012Validator(schema)
    struct = msgspec.defstruct("Record", [(k, list[dict[str, Any]] if isinstance(v, list) else str) for k, v in record.items()])
    adapter = TypeAdapter(list[models.DongBoHoSoMCRecord])
    model_rate = baselines.model_rate(count)
    rates = {
        "json.loads (floor)": baselines.json_loads_rate(count),
        "msgspec typed decode": _each(lambda: msgspec.json.decode(raw, type=struct), count),
        "**generated model, single (`model_validate_json`): the model's rate**": model_rate,
        "generated model, batch of 100 (per record)": best_rate(lambda: [adapter.validate_json(batch_raw) for _ in range(max(count // 100, 1))], max(count // 100, 1) * 100),
        "fastjsonschema": _each(lambda: fast(json.loads(raw)), count),
        "jsonschema": _each(lambda: slow.validate(json.loads(raw)), max(count // 20, 10)),
    }
    floor = rates["json.loads (floor)"]
    rows = [[label, f"{rate:,.0f}", f"{rate / floor:.0%}"] for label, rate in rates.items()]
    return f"{len(record)}-field DongBoHoSoMC record\n\n" + table(rows, ["validator", "records / s", "÷ json.loads"]), model_rate


SECTIONS = ("Generators", "Scaling", "Validation throughput", "Sandbox ingest", "Client overhead")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; skip the 1,500-packet spec")
    parser.add_argument("--smoke", action="store_true", help="one repetition at tiny sizes (proves every section runs)")
    args = parser.parse_args()
    runs = 1 if args.smoke else 3 if args.quick else 5
    batch, batches = (50, 1) if args.smoke else (1000, 3 if args.quick else 10)
    print(f"# qcvngen benchmarks\n\nMachine: {baselines.machine()}\n", flush=True)
    section(f"{SECTIONS[0]} (medians of {runs} after a warm-up, the full 15-packet spec)")
    print(generators(runs), "\n", flush=True)
    section(SECTIONS[1])
    print(scaling([15] if args.smoke else [15, 150] if args.quick else [15, 150, 1500]), "\n", flush=True)
    section(SECTIONS[2])
    text, model_rate = validation(200 if args.smoke else 5_000 if args.quick else 20_000)
    print(text, "\n", flush=True)
    from ingest import client_table, ingest_table

    section(f"{SECTIONS[3]} ({batch:,}-record DongBoHoSoMC batches over loopback)")
    print(ingest_table(model_rate, batches, batch), "\n", flush=True)
    section(f"{SECTIONS[4]} (the same batches, best of {1 if args.smoke else 3} alternating rounds)")
    print(client_table(batches, batch, 1 if args.smoke else 3), "\n", flush=True)


if __name__ == "__main__":
    main()

"""qcvngen benchmarks: build vs peer generators, scaling, validation and ingest throughput.

    python bench/run.py            # full run (installs the peers into bench/.peers on first use)
    python bench/run.py --quick    # fewer repetitions, no 1,500-packet spec

Every figure is measured in this run on this machine and printed as a table with ratios to
qcvngen; nothing here gates CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEERS = BENCH / ".peers"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PEER_PACKAGES = ["openapi-python-client==0.29.1", "openapi-generator-cli==7.26.0"]

sys.path.insert(0, str(BENCH))


@dataclass
class Timing:
    label: str
    seconds: list[float]
    peak_mib: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run_timed(cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def measure(label: str, make_cmd: Callable[[Path], Sequence[str]], runs: int, cwd: Path | None = None, env: dict[str, str] | None = None) -> Timing:
    """Median of ``runs`` after one warm-up, each into a fresh output folder."""
    seconds: list[float] = []
    peak = 0.0
    for index in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="qcvngen-bench-") as scratch:
            elapsed, rss = run_timed(make_cmd(Path(scratch)), cwd=cwd, env=env)
        if index:
            seconds.append(elapsed)
            peak = max(peak, rss)
    return Timing(label, seconds, peak)


def ensure_peers() -> Path:
    python = PEERS / "bin" / "python"
    if not python.exists():
        print("installing the peer generators into bench/.peers (first run only) …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return PEERS / "bin"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def generators(runs: int) -> str:
    peers = ensure_peers()
    bundle = ROOT / "generated" / "jsonschema" / "qcvn120.schema.json"
    openapi = ROOT / "generated" / "openapi" / "openapi.json"
    env = {**os.environ, "QCVNGEN_NO_CACHE": "1"}
    timings = [
        measure("qcvngen build (all artefacts)", lambda out: [str(BIN / "qcvngen"), "build", "--spec", str(ROOT / "spec"), "--out", str(out / "g")], runs, cwd=ROOT, env=env),
        measure("datamodel-code-generator (models only)", lambda out: [str(BIN / "datamodel-codegen"), "--input", str(bundle), "--input-file-type", "jsonschema", "--output-model-type", "pydantic_v2.BaseModel", "--output", str(out / "m.py")], runs),
        measure("datamodel-code-generator, builtin formatter", lambda out: [str(BIN / "datamodel-codegen"), "--input", str(bundle), "--input-file-type", "jsonschema", "--output-model-type", "pydantic_v2.BaseModel", "--formatters", "builtin", "--output", str(out / "m.py")], runs),
        measure("openapi-python-client (client)", lambda out: [str(peers / "openapi-python-client"), "generate", "--path", str(openapi), "--output-path", str(out / "c"), "--overwrite"], runs),
        measure("openapi-generator-cli -g python (client)", lambda out: [str(peers / "openapi-generator-cli"), "generate", "-i", str(openapi), "-g", "python", "-o", str(out / "c")], max(2, runs // 2)),
    ]
    subprocess.run([str(BIN / "qcvngen"), "build"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    timings.append(measure("qcvngen check (no-op)", lambda out: [str(BIN / "qcvngen"), "check"], runs, cwd=ROOT))
    base = timings[0].median
    rows = [[t.label, f"{t.median:.3f}", f"{min(t.seconds):.3f}–{max(t.seconds):.3f}", f"{t.peak_mib:.0f}", f"{t.median / base:.2f}×"] for t in timings]
    return table(rows, ["run", "median s", "min–max s", "peak MiB", "÷ qcvngen build"])


def scaling(sizes: list[int]) -> str:
    from synthetic import make_spec

    rows = []
    first: float | None = None
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="qcvngen-scale-") as scratch:
            spec = make_spec(Path(scratch) / "spec", size)
            timing = measure(f"{size} packets", lambda out, spec=spec: [str(BIN / "qcvngen"), "build", "--spec", str(spec), "--out", str(out / "g")], 3 if size < 1000 else 1)
        per_packet = timing.median / size
        first = first or per_packet
        rows.append([str(size), f"{timing.median:.2f}", f"{per_packet * 1000:.1f}", f"{per_packet / first:.2f}", f"{timing.peak_mib:.0f}"])
    return table(rows, ["packets", "build s", "ms / packet", "per-packet ÷ 15-packet", "peak MiB"])


def _rate(fn: Callable[[], Any], count: int) -> float:
    fn()
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            fn()
        best = max(best, count / (time.perf_counter() - started))
    return best


def validation(count: int) -> tuple[str, float]:
    sys.path.insert(0, str(ROOT / "generated" / "python"))
    import fastjsonschema
    import jsonschema
    import msgspec
    from pydantic import TypeAdapter

    from qcvn120_client import models
    from qcvngen import load_spec
    from qcvngen.examples import example_record

    reg, _ = load_spec(ROOT / "spec")
    assert reg is not None
    # The 27 regulation fields of Table 2, as the peers' figures were measured on.
    counted = {f.wire_name for f in reg.record("DongBoHoSoMCRecord").fields if f.membership == "regulation"}
    record = {k: v for k, v in example_record(reg, "DongBoHoSoMCRecord").items() if k in counted}
    raw = json.dumps(record, ensure_ascii=False).encode()
    batch_raw = json.dumps([record] * 100, ensure_ascii=False).encode()
    bundle = json.loads((ROOT / "generated" / "jsonschema" / "qcvn120.schema.json").read_text(encoding="utf-8"))
    schema = {"$ref": "#/$defs/DongBoHoSoMCRecord", "$defs": bundle["$defs"]}
    fast = fastjsonschema.compile(schema)
    slow = jsonschema.Draft202012Validator(schema)
    struct = msgspec.defstruct("Record", [(k, list[dict[str, Any]] if isinstance(v, list) else str) for k, v in record.items()])
    adapter = TypeAdapter(list[models.DongBoHoSoMCRecord])
    rates = {
        "json.loads (floor)": _rate(lambda: json.loads(raw), count),
        "msgspec typed decode": _rate(lambda: msgspec.json.decode(raw, type=struct), count),
        "generated model, single (model_validate_json)": _rate(lambda: models.DongBoHoSoMCRecord.model_validate_json(raw), count),
        "generated model, batch of 100 (per record)": _rate(lambda: adapter.validate_json(batch_raw), count // 100) * 100,
        "fastjsonschema": _rate(lambda: fast(json.loads(raw)), count),
        "jsonschema": _rate(lambda: slow.validate(json.loads(raw)), max(count // 20, 50)),
    }
    floor = rates["json.loads (floor)"]
    rows = [[label, f"{rate:,.0f}", f"{rate / floor:.0%}"] for label, rate in rates.items()]
    fields = len(record)
    return f"{fields}-field DongBoHoSoMC record\n\n" + table(rows, ["validator", "records / s", "÷ json.loads"]), rates["generated model, single (model_validate_json)"]


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu or 'unknown CPU'}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; skip the 1,500-packet spec")
    args = parser.parse_args()
    runs = 3 if args.quick else 5
    print(f"# qcvngen benchmarks\n\nMachine: {machine()}\n", flush=True)
    print("## Generators (medians of %d after a warm-up, the full 15-packet spec)\n" % runs)
    print(generators(runs), "\n", flush=True)
    print("## Scaling\n")
    print(scaling([15, 150] if args.quick else [15, 150, 1500]), "\n", flush=True)
    print("## Validation throughput\n")
    text, model_rate = validation(5_000 if args.quick else 20_000)
    print(text, "\n", flush=True)
    try:
        from ingest import ingest

        print("## Sandbox ingest and client overhead (1,000-record DongBoHoSoMC batches over loopback)\n")
        print(ingest(model_rate, batches=3 if args.quick else 10), "\n", flush=True)
    except ImportError:
        pass


if __name__ == "__main__":
    main()

"""`qcvngen learn` throughput: stream a large capture file through read + compare.

    python bench/learn.py [--mb 1024] [--keep PATH]

Writes a synthetic capture (real-shaped lines: answers of Tables 6, 9 and 15 with unknown keys,
nested lists, code values, accepted requests and refusals) of about ``--mb`` MB, then runs
learn's reader and comparison on it in a fresh process and prints the size, the time, MB/s and
the peak resident memory of that process. Timings are for this machine only: bench/, not tests.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "generator"))


def _lines(rng: random.Random) -> list[str]:
    from qcvngen.runtime.shared.capture import build_line

    out = []
    for n in range(200):
        pakn = [
            {
                "MAPAKN": f"PAKN-{n}-{i}",
                "TIEUDE": "x" * rng.randint(5, 80),
                "NGAYGUI": "20261101083000",
                f"KHOA{rng.randint(0, 30)}": "v",
                "TEPDINHKEM": [{"TENTEP": "a.pdf", "DUONGDAN": "/a"}] * rng.randint(0, 3),
            }
            for i in range(rng.randint(1, 20))
        ]
        out.append(build_line("DanhSachPAKNChoXuLy", "integration", {"error_code": "0", "result": pakn}))
        faq = [{"HOIDAPID": str(i), "TRANGTHAI": str(rng.randint(0, 3)), "NOIDUNG": "?"} for i in range(10)]
        out.append(build_line("LayDanhSachHoiDapGuiTuDVCQG", "integration", {"error_code": "0", "result": faq}))
        out.append(build_line("LayThuTuc", "share", {"error_code": "-1", "message": "Lỗi", "result": []}))
    return [json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n" for line in out]


def write_capture(path: Path, megabytes: int) -> int:
    lines = _lines(random.Random(17))
    target = megabytes * 1024 * 1024
    size = 0
    with path.open("w", encoding="utf-8") as out:
        while size < target:
            for line in lines:
                out.write(line)
                size += len(line.encode("utf-8"))
    return size


def _measure(path: str) -> None:
    """Run in the child: stream the file through learn, print seconds and peak RSS."""
    from qcvngen.learn import compare, read_inputs
    from qcvngen.pipeline import load_spec

    reg, _ = load_spec(ROOT / "spec")
    assert reg is not None
    started = time.perf_counter()
    report = compare(reg, read_inputs([Path(path)]))
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "peak_mib": peak_kib / 1024, "captures": report.captures}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _measure(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "capture.jsonl"
        size = write_capture(path, args.mb)
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=True
        )
        figures = json.loads(done.stdout)
    mb = size / 1024 / 1024
    print(
        f"learn: {mb:.0f} MB, {figures['captures']:,} capture lines in {figures['seconds']:.1f} s"
        f" = {mb / figures['seconds']:.1f} MB/s; peak memory {figures['peak_mib']:.0f} MiB"
    )


if __name__ == "__main__":
    main()

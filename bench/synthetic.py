"""Synthetic specs of N packets for the scaling series: the real spec plus clones of Table 3."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent / "spec"
TEMPLATE_TABLE = "t03-cap-nhat-tien-do-ho-so-mc.yaml"


def make_spec(target: Path, packets: int) -> Path:
    """Copy the real 15-packet spec into ``target`` and add clones until it has ``packets`` packets."""
    shutil.copytree(SPEC, target)
    extra = packets - 15
    if extra <= 0:
        return target
    table_text = (SPEC / "tables" / TEMPLATE_TABLE).read_text(encoding="utf-8")
    packet_lines = []
    for index in range(extra):
        name = f"SynthPacket{index:05d}"
        number = 100 + index
        text = re.sub(r"^table: 3$", f"table: {number}", table_text, flags=re.M)
        text = re.sub(r"^packet: CapNhatTienDoHoSoMC$", f"packet: {name}", text, flags=re.M)
        (target / "tables" / f"t{number}-synth.yaml").write_text(text, encoding="utf-8")
        packet_lines.append(
            f'  - number: "9.{index}"\n    name: {name}\n    group: "1"\n'
            f'    purpose: {{vi: "Gói tin tổng hợp {index}", en: "synthetic packet {index}"}}\n'
            f"    direction: push\n    endpoint: integration\n    declared: \"9\"\n"
            f"    tables:\n      - table: {number}\n        declared: 9\n    sources: [S1]\n"
        )
    packets_file = target / "packets.yaml"
    packets_file.write_text(packets_file.read_text(encoding="utf-8").rstrip("\n") + "\n" + "".join(packet_lines), encoding="utf-8")
    return target

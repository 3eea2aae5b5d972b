"""Table 1 as the spec states it (spec/packets.yaml, read as plain YAML), for tests that count.

Tests compare what a tool reports with these figures instead of literals, so a packet added to the
spec (docs/architecture.md, "Add a packet") changes no test; one test compares the bundled spec's
Table 1 with the reference (../shared/qcvn120/TABLE1.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .paths import SPEC


@dataclass(frozen=True)
class Row:
    """One packet of Table 1: its number, name, direction, endpoint class, declared fields and tables."""

    number: str
    name: str
    direction: str
    endpoint: str
    declared: str
    tables: dict[int, int]


@dataclass(frozen=True)
class Table1:
    """Every packet row of Table 1, in the spec's order."""

    rows: tuple[Row, ...]

    @property
    def packets(self) -> list[str]:
        return [row.name for row in self.rows]

    @property
    def tables(self) -> dict[int, int]:
        """Declared field count per field table (Tables 2–17 in the regulation), by table number."""
        return dict(sorted((table, declared) for row in self.rows for table, declared in row.tables.items()))

    def on_endpoint(self, endpoint: str) -> list[str]:
        return [row.name for row in self.rows if row.endpoint == endpoint]


def table1(spec_dir: Path = SPEC) -> Table1:
    """Table 1 of the spec in ``spec_dir``."""
    data: dict[str, Any] = yaml.safe_load((spec_dir / "packets.yaml").read_text(encoding="utf-8"))
    return Table1(
        tuple(
            Row(
                number=str(p["number"]),
                name=p["name"],
                direction=p["direction"],
                endpoint=p["endpoint"],
                declared=str(p["declared"]),
                tables={int(t["table"]): int(t["declared"]) for t in p["tables"]},
            )
            for p in data["packets"]
        )
    )

"""`qcvngen coverage --json`: declared vs specified per table, as REFERENCE.md supports."""

from __future__ import annotations

import json
import re
from typing import Any

from typer.testing import CliRunner

from qcvngen.cli import app
from support.paths import SAMPLES, SPEC
from support.table1 import table1

# What REFERENCE.md supports (§0 and §8): complete tables, partial ones, and those with nothing known.
SPECIFIED = {2: 27, 3: 9, 4: 8, 5: 18, 6: 23, 7: 3, 8: 0, 9: 0, 10: 0, 11: 1, 12: 0, 13: 0, 14: 5, 15: 7, 16: 6, 17: 7}
STATUS = {
    2: "complete",
    3: "complete",
    4: "unverified",
    5: "complete",
    8: "unknown",
    9: "unknown",
    11: "complete",
    16: "complete",
}


def coverage_json() -> dict[str, Any]:
    result = CliRunner().invoke(app, ["coverage", "--json", "--spec", str(SPEC)])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_one_row_per_field_table_of_table_1() -> None:
    data = coverage_json()
    tables = data["tables"]
    assert isinstance(tables, list)
    expected = table1()
    assert [row["table"] for row in tables] == list(expected.tables), "a row per field table Table 1 lists, in order"
    assert data["packets"] == len(expected.packets)
    assert len({row["packet"] for row in tables}) == len(expected.packets), "every packet has a field table"


def test_declared_counts_match_table_1_and_specified_match_reference() -> None:
    tables = coverage_json()["tables"]
    assert isinstance(tables, list)
    assert {row["table"]: row["declared"] for row in tables} == table1().tables, "declared counts are Table 1's"
    specified = {row["table"]: row["specified"] for row in tables}
    assert {t: n for t, n in specified.items() if t in SPECIFIED} == SPECIFIED, "what REFERENCE.md supports"
    for row in tables:
        if row["table"] in STATUS:
            assert row["status"] == STATUS[row["table"]], row
        assert row["specified"] == len(row["fields"])


def test_gaps_are_listed_not_hidden() -> None:
    tables = {row["table"]: row for row in coverage_json()["tables"]}
    assert tables[8]["missing_rows"] == list(range(1, 24))
    assert tables[2]["missing_rows"] == []
    assert tables[7]["missing"] == 2
    assert any(gap["row"] == 13 for gap in tables[9]["gaps"])
    assert "SoBienNhan" in tables[2]["candidate_fields"]


def test_human_table_output() -> None:
    result = CliRunner().invoke(app, ["coverage", "--spec", str(SPEC)])
    assert result.exit_code == 0
    assert "DongBoPAKNDiaPhuong" in result.stdout and "unknown" in result.stdout


def test_the_spec_states_the_reference_table_1() -> None:
    """The one place Table 1's figures are compared with the reference (../shared/qcvn120/TABLE1.md);
    every other test reads them from the spec, so a packet added there changes no test."""
    reference = (SAMPLES.parent / "TABLE1.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| (\d+\.\d+(?:\.\d+)?) \| (\w+) \| [^|]* \| ([^|]+) \| ([\d, ]+) \|$", reference, re.MULTILINE
    )
    assert rows, "TABLE1.md: no packet rows found; has its table layout changed?"
    stated = [
        (row.number, row.name, row.declared, ", ".join(map(str, row.tables)))
        for row in table1().rows
        if row.name in {name for _, name, _, _ in rows}
    ]
    assert stated == [(number, name, fields.strip(), tables.strip()) for number, name, fields, tables in rows], (
        "spec/packets.yaml differs from TABLE1.md (number, name, declared fields, tables)"
    )

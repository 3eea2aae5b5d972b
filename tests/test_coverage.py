"""`qcvngen coverage --json`: declared vs specified per table, as REFERENCE.md supports."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from conftest import SPEC
from qcvngen.cli import app

DECLARED = {
    2: 27,
    3: 9,
    4: 8,
    5: 18,
    6: 25,
    7: 5,
    8: 23,
    9: 24,
    10: 7,
    11: 1,
    12: 3,
    13: 26,
    14: 11,
    15: 12,
    16: 6,
    17: 11,
}
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


def test_sixteen_tables_for_fifteen_packets() -> None:
    data = coverage_json()
    tables = data["tables"]
    assert isinstance(tables, list)
    assert [row["table"] for row in tables] == list(range(2, 18))
    assert data["packets"] == 15
    assert len({row["packet"] for row in tables}) == 15


def test_declared_counts_match_table_1_and_specified_match_reference() -> None:
    tables = coverage_json()["tables"]
    assert isinstance(tables, list)
    assert {row["table"]: row["declared"] for row in tables} == DECLARED
    assert {row["table"]: row["specified"] for row in tables} == SPECIFIED
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

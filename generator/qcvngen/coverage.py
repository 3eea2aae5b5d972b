"""Declared vs specified fields per table: the gaps made visible."""

from __future__ import annotations

from typing import Any

from . import ir


def coverage_rows(reg: ir.Regulation) -> list[dict[str, Any]]:
    """One row per field table, in table order; the shape of ``qcvngen coverage --json``."""
    rows: list[dict[str, Any]] = []
    for table in reg.tables:
        packet = reg.packet(table.packet)
        fields = _table_fields(reg, table)
        cov = table.coverage
        rows.append(
            {
                "table": table.number,
                "packet": table.packet,
                "packet_number": packet.number,
                "part": table.part,
                "declared": cov.declared,
                "specified": cov.specified,
                "candidates": cov.candidates,
                "later": cov.later,
                "hypothesis": cov.hypothesis,
                # Keys learned from traffic (qcvngen learn): shown, never counted as specified.
                "observed": sum(1 for f in fields if f.membership == "observed"),
                "missing": cov.missing,
                "status": cov.status,
                "confidence": table.confidence,
                "fields": [f.wire_name for f in fields if f.membership == "regulation"],
                "candidate_fields": [f.wire_name for f in fields if f.membership == "candidate"],
                "observed_fields": [f.wire_name for f in fields if f.membership == "observed"],
                "missing_rows": _missing_rows(cov),
                "gaps": [{"row": g.row, "en": g.title.en, "vi": g.title.vi} for g in table.gaps],
            }
        )
    return rows


def _table_fields(reg: ir.Regulation, table: ir.Table) -> tuple[ir.Field, ...]:
    if table.record:
        return reg.record(table.record).fields
    return tuple(f for f in reg.packet(table.packet).params if f.origin.table == table.number)


def _missing_rows(cov: ir.Coverage) -> list[int] | str:
    """Row numbers not yet specified, when rows are known; otherwise how many are missing."""
    if cov.missing == 0:
        return []
    if cov.specified and len(cov.known_rows) == cov.specified:
        return [row for row in range(1, cov.declared + 1) if row not in cov.known_rows]
    if cov.specified == 0:
        return list(range(1, cov.declared + 1))
    return f"{cov.missing} rows (positions unknown)"


def summary(reg: ir.Regulation) -> dict[str, Any]:
    """The ``qcvngen coverage --json`` document: per-table rows and totals."""
    rows = coverage_rows(reg)
    return {
        "regulation": reg.meta.id,
        "spec_version": reg.meta.spec_version,
        "packets": len(reg.packets),
        "tables": rows,
        "declared": sum(r["declared"] for r in rows),
        "specified": sum(r["specified"] for r in rows),
        "observed": sum(r["observed"] for r in rows),
    }

"""The table phase: one file per table that packets.yaml lists, its records, fields, gaps and coverage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import dsl, ir
from ..loader import Document, PathKey
from .fields import Resolver
from .reading import bilingual, note


def table_coverage(fields: tuple[ir.Field, ...], declared: int, gaps: tuple[ir.Gap, ...]) -> ir.Coverage:
    """How much of a table its fields specify, against the count Table 1 declares."""
    counted = [f for f in fields if f.membership == "regulation"]
    specified = len(counted)
    candidates = sum(1 for f in fields if f.membership == "candidate")
    status: ir.CoverageStatus
    if specified == 0 and candidates == 0:
        status = "unknown"
    elif specified >= declared:
        status = "unverified" if any(f.confidence == "low" for f in counted) else "complete"
    else:
        status = "partial"
    return ir.Coverage(
        declared=declared,
        specified=specified,
        candidates=candidates,
        later=sum(1 for f in fields if f.membership == "later"),
        hypothesis=sum(1 for f in fields if f.membership == "hypothesis"),
        status=status,
        known_rows=tuple(sorted(f.origin.row for f in counted if f.origin.row is not None)),
        gap_rows=tuple(g.row for g in gaps),
    )


@dataclass
class Tables:
    """What the table phase builds: IR tables, and each packet's params and record names by role."""

    declared: dict[int, tuple[str, int]]  # table number → (packet, declared field count), from packets.yaml
    seen: dict[int, str] = field(default_factory=dict)  # table number → the file defining it
    tables: list[ir.Table] = field(default_factory=list)
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)


def _declared_tables(res: Resolver) -> dict[int, tuple[str, int]]:
    """Table number → (packet, declared field count), as packets.yaml lists them."""
    declared: dict[int, tuple[str, int]] = {}
    if res.inputs.packets is None:
        return declared
    pdoc, pfile = res.inputs.packets
    for index, pk in enumerate(pfile.packets):
        for tindex, ref in enumerate(pk.tables):
            if ref.table in declared:
                where = ("packets", index, "tables", tindex, "table")
                res.check.error(pdoc, "", where, f"table {ref.table} is listed twice")
            declared[ref.table] = (pk.name, ref.declared)
    return declared


def resolve_tables(res: Resolver) -> Tables:
    """One file per declared table, each naming the packet that lists it; its records and fields."""
    out = Tables(_declared_tables(res))
    for doc, prefix, tf in res.inputs.tables:
        if _table_claimed(res, out, doc, prefix, tf):
            _table(res, out, doc, prefix, tf)
    return out


def _table_claimed(res: Resolver, out: Tables, doc: Document, prefix: str, tf: dsl.TableFile) -> bool:
    """Whether this file is the one definition of a table that packets.yaml gives to its packet."""
    if tf.table in out.seen:
        res.check.error(doc, prefix, ("table",), f"table {tf.table} is also defined in {out.seen[tf.table]}")
        return False
    out.seen[tf.table] = doc.file
    if res.inputs.packets is None:
        return True
    if tf.table not in out.declared:
        res.check.error(doc, prefix, ("table",), f"table {tf.table} is not listed by any packet in packets.yaml")
        return False
    owner = out.declared[tf.table][0]
    if owner != tf.packet:
        res.check.error(
            doc, prefix, ("packet",), f"packets.yaml gives table {tf.table} to '{owner}', not '{tf.packet}'"
        )
        return False
    return True


def _table(res: Resolver, out: Tables, doc: Document, prefix: str, tf: dsl.TableFile) -> None:
    packets_known = res.inputs.packets is not None
    declared = out.declared[tf.table][1] if packets_known else 0
    for rindex, rec in enumerate(tf.records):
        rloc: PathKey = ("records", rindex)
        if res.declare_record(rec.name, doc, prefix, (*rloc, "name")):
            rfields = res.fields(rec.fields, doc, prefix, (*rloc, "fields"), tf.table)
            res.records.append(
                ir.Record(rec.name, bilingual(rec.title), rfields, open=True, table=tf.table, notes=note(rec.notes))
            )
    flds = res.fields(tf.fields, doc, prefix, ("fields",), tf.table)
    gaps = tuple(
        ir.Gap(
            g.row, bilingual(g.title), res.check_sources(doc, prefix, ("gaps", i, "sources"), g.sources), note(g.notes)
        )
        for i, g in enumerate(tf.gaps)
    )
    cov = table_coverage(flds, declared, gaps)
    if packets_known:
        _check_rows(res, doc, prefix, cov, declared)
    if set(cov.known_rows) & set(cov.gap_rows):
        res.check.error(doc, prefix, ("gaps",), "a gap row is also the row of a known field")
    record_name = _table_part(res, out, doc, prefix, tf, flds, cov) if tf.packet in res.packet_specs else ""
    out.tables.append(
        ir.Table(
            tf.table,
            tf.packet,
            tf.part,
            bilingual(tf.title),
            tf.confidence,
            note(tf.notes),
            record_name,
            gaps,
            cov,
            doc.file,
        )
    )


def _check_rows(res: Resolver, doc: Document, prefix: str, cov: ir.Coverage, declared: int) -> None:
    """A table specifies no more fields, and no row beyond, what Table 1 declares."""
    if cov.specified > declared:
        message = f"{cov.specified} fields are marked membership: regulation but Table 1 declares {declared}"
        res.check.error(doc, prefix, ("fields",), message)
    for row in cov.known_rows + cov.gap_rows:
        if row > declared:
            res.check.error(doc, prefix, ("fields",), f"row {row} is beyond the {declared} rows Table 1 declares")


def _table_part(
    res: Resolver,
    out: Tables,
    doc: Document,
    prefix: str,
    tf: dsl.TableFile,
    flds: tuple[ir.Field, ...],
    cov: ir.Coverage,
) -> str:
    """File the table under its packet: params, or the data (push) / result (pull) record; the record's name."""
    parts = out.parts.setdefault(tf.packet, {})
    if tf.part == "params":
        parts["params"] = flds
        return ""
    role = "data" if res.packet_specs[tf.packet][1].direction == "push" else "result"
    if role in parts:
        res.check.error(doc, prefix, ("part",), f"packet '{tf.packet}' already has a {role} table")
    record_name = f"{tf.packet}{'Record' if role == 'data' else 'Result'}"
    if res.declare_record(record_name, doc, prefix, ("packet",)):
        open_ = cov.status != "complete"
        res.records.append(
            ir.Record(record_name, bilingual(tf.title), flds, open=open_, table=tf.table, notes=note(tf.notes))
        )
    parts[role] = record_name
    return record_name


def missing_tables(res: Resolver, out: Tables) -> None:
    """Every table packets.yaml lists has a file (unless that file is already reported broken)."""
    if res.inputs.packets is None:
        return
    pdoc = res.inputs.packets[0]
    for number, (packet_name, _) in sorted(out.declared.items()):
        if number not in out.seen and number not in res.inputs.broken_tables:
            index = res.packet_specs[packet_name][0] if packet_name in res.packet_specs else 0
            res.check.error(pdoc, "", ("packets", index, "tables"), f"table {number} has no file in tables/")

"""Bilingual Markdown docs: Table 1 index, one page per packet, envelope, code lists, coverage, sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .. import ir, kinds
from ..coverage import coverage_rows
from ..render import render as render_template
from .common import Context, Files

FOLDER = PurePosixPath("docs")


@dataclass(frozen=True)
class FieldRow:
    """A field as the docs show it; every value is raw text, escaped by the template."""

    number: str
    name: str
    type_label: str
    link: str | None
    link_page: str
    required: str
    max_length: str
    vi: str
    en: str
    provenance: str
    ref: str
    notes: ir.Text | None


def _link(field: ir.Field) -> str | None:
    return field.type.codelist if field.type.kind == "code" else field.type.nested_record


def _membership_mark(membership: str) -> str:
    # Observed keys come from traffic, not from the regulation's text: say so where they are listed.
    if membership == "observed":
        return "observed in traffic (qcvngen learn)"
    return membership if membership != "regulation" else ""


def field_rows(fields: tuple[ir.Field, ...], numbered_by_row: bool) -> list[FieldRow]:
    """The docs' rows for ``fields``, numbered by regulation row or by position."""
    rows: list[FieldRow] = []
    for field in fields:
        t = field.type
        label = kinds.kind(t.kind).full_label.en
        if t.kind == "list":
            label = f"list of {t.of}" if t.of in kinds.LIST_ITEM_KINDS else "list of"
        if t.empty_string:
            label += ' or ""'
        number = (
            str(field.origin.row)
            if numbered_by_row and field.origin.row is not None
            else ("–" if numbered_by_row else str(field.position))
        )
        extras = [
            s
            for s in (
                _membership_mark(field.membership),
                "personal data" if field.pii else "",
                "secret" if field.secret else "",
            )
            if s
        ]
        rows.append(
            FieldRow(
                number=number,
                name=field.wire_name,
                type_label=label,
                link=_link(field),
                link_page="codelists.md" if t.kind == "code" else "",
                required="yes" if field.required else "no",
                max_length=str(field.max_length) if field.max_length else "",
                vi=field.title.vi,
                en=field.title.en,
                provenance=f"{', '.join(field.sources)} · {field.confidence}"
                + (f" · {', '.join(extras)}" if extras else ""),
                ref=field.origin.ref,
                notes=field.notes,
            )
        )
    return rows


def _packet_view(reg: ir.Regulation, packet: ir.Packet) -> dict[str, Any]:
    tables = [reg.table(n) for n in packet.tables]
    sections = []
    for table in tables:
        if table.record:
            fields = reg.record(table.record).fields
            role = "data" if packet.direction == "push" else "result"
        else:
            fields = tuple(f for f in packet.params if f.origin.table == table.number)
            role = "params"
        sections.append(
            {"table": table, "role": role, "rows": field_rows(fields, numbered_by_row=True), "record": table.record}
        )
    envelope_params = [f for f in packet.params if f.origin.table is None]
    roots = [t.record for t in tables if t.record]
    nested = [{"record": r, "rows": field_rows(r.fields, numbered_by_row=False)} for r in reg.nested_records(roots)]
    return {
        "packet": packet,
        "sections": sections,
        "envelope_params": field_rows(tuple(envelope_params), numbered_by_row=False),
        "nested": nested,
        "endpoint": next(e for e in reg.envelope.endpoints if e.name == packet.endpoint),
    }


def render(reg: ir.Regulation, ctx: Context) -> Files:
    """Every Markdown page under docs/."""
    common = {"reg": reg, "ctx": ctx, "coverage": {row["table"]: row for row in coverage_rows(reg)}}
    files: Files = {
        FOLDER / "README.md": render_template("docs/index.md.jinja", **common),
        FOLDER / "envelope.md": render_template(
            "docs/envelope.md.jinja",
            **common,
            login_request=field_rows(reg.envelope.login_request.fields, False),
            login_response=field_rows(reg.envelope.login_response.fields, False),
            request=field_rows(reg.envelope.request.fields, False),
            response=field_rows(reg.envelope.response.fields, False),
            local_services=[{"service": s, "params": field_rows(s.params, False)} for s in reg.envelope.local_services],
        ),
        FOLDER / "codelists.md": render_template("docs/codelists.md.jinja", **common),
        FOLDER / "coverage.md": render_template("docs/coverage.md.jinja", **common, rows=coverage_rows(reg)),
        FOLDER / "sources.md": render_template("docs/sources.md.jinja", **common),
    }
    for packet in reg.packets:
        files[FOLDER / "packets" / f"{packet.name}.md"] = render_template(
            "docs/packet.md.jinja", **common, **_packet_view(reg, packet)
        )
    return files

"""The site's bilingual view model, built from the IR: what each page shows, every label as ``Text(vi, en)``.

Templates only lay these values out. Spec text arrives here as the IR holds it: titles,
purposes and notes as ``Text`` pairs. A note whose ``vi`` is empty was written in English only (an
older spec form resolve warns about): the templates mark it English and give Vietnamese-only readers
a pointer instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .. import ir, kinds
from ..coverage import coverage_rows
from . import labels
from .labels import L

__all__ = ["Entry", "FieldRow", "Link", "Page", "TypeCell", "pages"]


@dataclass(frozen=True)
class Link:
    """A link to a code list or a nested record: its name (wire text) and the target."""

    name: str
    href: str


@dataclass(frozen=True)
class TypeCell:
    """A field's type: a bilingual label, wire text (a format or values) and what it links to."""

    label: ir.Text
    code: str | None = None
    link: Link | None = None
    or_empty: bool = False


@dataclass(frozen=True)
class FieldRow:
    """One row of a field table; every word has its Vietnamese and English form."""

    anchor: str
    number: str
    name: str
    type: TypeCell
    required: ir.Text
    max_length: str
    title: ir.Text
    sources: str
    tags: tuple[ir.Text, ...]
    ref: ir.Text
    notes: ir.Text | None


@dataclass(frozen=True)
class Entry:
    """One search-index entry (a packet or a field), the same keys for every entry."""

    kind: str
    name: str
    page: str
    anchor: str = ""
    number: str = ""
    packet: str = ""
    vi: str = ""
    en: str = ""
    section_vi: str = ""
    section_en: str = ""
    ref_vi: str = ""
    ref_en: str = ""


# Ids the frame and the page templates write themselves; generated ids never take them.
RESERVED_IDS = frozenset(
    {
        "top",
        "content",
        "search-input",
        "search-results",
        "table-1",
        "envelope-parameters",
        "endpoints",
        "headers",
        "error-codes",
        "local-services",
    }
)


@dataclass
class Page:
    """One page: where it goes, its title, the content template and its view, its search entries."""

    path: PurePosixPath
    title: ir.Text
    template: str
    view: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)
    _ids: set[str] = field(default_factory=lambda: set(RESERVED_IDS))

    def unique(self, wanted: str) -> str:
        """An id not yet used on this page (a field can appear in two tables of one page)."""
        chosen, n = wanted, 1
        while chosen in self._ids:
            chosen, n = f"{wanted}-{n}", n + 1
        self._ids.add(chosen)
        return chosen


def anchor_of(name: str) -> str:
    """The id of a code list or record section: its name in lower case (as the Markdown docs link it)."""
    return re.sub(r"[^a-z0-9_-]", "_", name.lower())


def _type_cell(t: ir.FieldType, prefix: str) -> TypeCell:
    if t.kind == "code" and t.codelist:
        return TypeCell(
            labels.KINDS["code"],
            link=Link(t.codelist, f"{prefix}codelists.html#{anchor_of(t.codelist)}"),
            or_empty=t.empty_string,
        )
    nested = t.nested_record
    if nested:
        label = labels.KINDS["record"] if t.kind == "record" else labels.KINDS["list"]
        return TypeCell(label, link=Link(nested, f"#{anchor_of(nested)}"), or_empty=t.empty_string)
    if t.kind == "list":
        return TypeCell(labels.LIST_OF[t.of or "any"], or_empty=t.empty_string)
    return TypeCell(labels.KINDS[t.kind], code=kinds.kind(t.kind).notation, or_empty=t.empty_string)


def field_rows(
    page: Page, fields: Iterable[ir.Field], *, by_row: bool, section: ir.Text, packet: str
) -> list[FieldRow]:
    """The rows of one field table, each with a unique anchor and a search entry on ``page``."""
    prefix = "../" * (len(page.path.parts) - 1)
    rows: list[FieldRow] = []
    for f in fields:
        tags = [labels.CONFIDENCE[f.confidence]]
        if f.membership != "regulation":
            tags.append(labels.MEMBERSHIP[f.membership])
        tags += [tag for tag, on in ((L.PERSONAL, f.pii), (L.SECRET, f.secret)) if on]
        number = str(f.origin.row if f.origin.row is not None else "–") if by_row else str(f.position)
        row = FieldRow(
            anchor=page.unique(f"f-{re.sub(r'[^A-Za-z0-9_-]', '_', f.wire_name)}"),
            number=number,
            name=f.wire_name,
            type=_type_cell(f.type, prefix),
            required=labels.REQUIRED[f.required],
            max_length=str(f.max_length) if f.max_length else "",
            title=f.title,
            sources=", ".join(f.sources),
            tags=tuple(tags),
            ref=labels.ref(f.origin),
            notes=f.notes,
        )
        rows.append(row)
        page.entries.append(
            Entry(
                kind="field",
                name=f.wire_name,
                page=page.path.as_posix(),
                anchor=row.anchor,
                packet=packet,
                vi=f.title.vi,
                en=f.title.en,
                section_vi=section.vi,
                section_en=section.en,
                ref_vi=row.ref.vi,
                ref_en=row.ref.en,
            )
        )
    return rows


def _declared(reg: ir.Regulation, packet: ir.Packet) -> ir.Text:
    """Table 1's field count, per table when a packet has two ("1 gửi / 3 nhận" / "1 sent / 3 received")."""
    tables = [reg.table(n) for n in packet.tables]
    if len(tables) == 1:
        count = str(tables[0].coverage.declared)
        return ir.Text(count, count)
    parts = [(t.coverage.declared, labels.PART_WAY[t.part]) for t in tables]
    return ir.Text(" / ".join(f"{n} {w.vi}" for n, w in parts), " / ".join(f"{n} {w.en}" for n, w in parts))


def _missing(row: dict[str, Any]) -> ir.Text:
    missing = row["missing_rows"]
    if isinstance(missing, str):  # the positions are unknown: only how many
        return ir.Text(f"{row['missing']} dòng (chưa rõ vị trí)", f"{row['missing']} rows (positions unknown)")
    text = ", ".join(str(n) for n in missing) if missing else "–"
    return ir.Text(text, text)


def _coverage(reg: ir.Regulation) -> dict[int, dict[str, Any]]:
    return {
        row["table"]: {**row, "status_text": labels.STATUS[row["status"]], "missing_text": _missing(row)}
        for row in coverage_rows(reg)
    }


def _packet_sections(reg: ir.Regulation, page: Page, packet: ir.Packet) -> list[dict[str, Any]]:
    sections = []
    for number in packet.tables:
        table = reg.table(number)
        heading = ir.Text(f"Bảng {number} — {table.title.vi}", f"Table {number} — {table.title.en}")
        if table.record:
            fields = reg.record(table.record).fields
            role = "data" if packet.direction == "push" else "result"
        else:
            fields = tuple(f for f in packet.params if f.origin.table == number)
            role = "params"
        rows = field_rows(page, fields, by_row=True, section=heading, packet=packet.name)
        sections.append(
            {
                "table": table,
                "heading": heading,
                "anchor": page.unique(f"table-{number}"),
                "role": role,
                "rows": rows,
                "confidence": labels.CONFIDENCE[table.confidence],
            }
        )
    return sections


def packet_page(reg: ir.Regulation, packet: ir.Packet, coverage: dict[int, dict[str, Any]]) -> Page:
    """A packet: its facts, envelope parameters, one section per table, then the nested records."""
    page = Page(
        PurePosixPath("packets") / f"{packet.name}.html",
        ir.Text(packet.name, packet.name),
        "site/packet.html.jinja",
        {},
    )
    page.entries.append(
        Entry(
            kind="packet",
            name=packet.name,
            page=page.path.as_posix(),
            number=packet.number,
            packet=packet.name,
            vi=packet.purpose.vi,
            en=packet.purpose.en,
        )
    )
    envelope_heading = ir.Text("Tham số của phong bì", "Envelope parameters")
    envelope = field_rows(
        page,
        (f for f in packet.params if f.origin.table is None),
        by_row=False,
        section=envelope_heading,
        packet=packet.name,
    )
    sections = _packet_sections(reg, page, packet)
    nested = []
    for record in reg.nested_records([s["table"].record for s in sections if s["table"].record]):
        heading = ir.Text(record.name, record.name)
        rows = field_rows(page, record.fields, by_row=False, section=heading, packet=packet.name)
        nested.append({"record": record, "anchor": page.unique(anchor_of(record.name)), "rows": rows})
    page.view = {
        "packet": packet,
        "direction": labels.DIRECTION[packet.direction],
        "declared": _declared(reg, packet),
        "endpoint": next(e for e in reg.envelope.endpoints if e.name == packet.endpoint),
        "envelope_heading": envelope_heading,
        "envelope_params": envelope,
        "sections": sections,
        "nested": nested,
        "coverage": coverage,
    }
    return page


def index_page(reg: ir.Regulation, coverage: dict[int, dict[str, Any]]) -> Page:
    """Table 1: the packets by group and section."""
    groups = []
    for group in reg.groups:
        rows: list[dict[str, Any]] = []
        section_seen: str | None = None
        for packet in (p for p in reg.packets if p.group == group.number):
            if packet.section and packet.section != section_seen:
                section_seen = packet.section
                rows += [{"section": s} for s in group.sections if s.number == packet.section]
            rows.append(
                {
                    "packet": packet,
                    "direction": labels.DIRECTION_SHORT[packet.direction],
                    "declared": _declared(reg, packet),
                }
            )
        groups.append({"group": group, "rows": rows})
    view = {"groups": groups, "coverage": coverage}
    return Page(
        PurePosixPath("index.html"),
        ir.Text("Bảng 1 — Các gói tin", "Table 1 — The packets"),
        "site/index.html.jinja",
        view,
    )


def envelope_page(reg: ir.Regulation) -> Page:
    """The envelope: endpoints, headers, login, request and response envelopes, errors, local services."""
    page = Page(
        PurePosixPath("envelope.html"),
        ir.Text("Phong bì và đăng nhập", "Envelope and login"),
        "site/envelope.html.jinja",
        {},
    )
    env = reg.envelope
    records = []
    for anchor, heading, record in (
        ("login-request", ir.Text("Đăng nhập — yêu cầu", "Login — request"), env.login_request),
        ("login-response", ir.Text("Đăng nhập — kết quả", "Login — response"), env.login_response),
        ("request", ir.Text("Phong bì yêu cầu", "Request envelope"), env.request),
        ("response", ir.Text("Phong bì kết quả", "Response envelope"), env.response),
    ):
        rows = field_rows(page, record.fields, by_row=False, section=heading, packet="")
        records.append({"anchor": page.unique(anchor), "heading": heading, "rows": rows})
    services = []
    for service in env.local_services:
        heading = ir.Text(service.name, service.name)
        rows = field_rows(page, service.params, by_row=False, section=heading, packet=service.name)
        services.append({"service": service, "anchor": page.unique(f"service-{anchor_of(service.name)}"), "rows": rows})
    headers = [{"header": h, "required": labels.REQUIRED[h.required]} for h in env.headers]
    page.view = {"env": env, "headers": headers, "records": records, "services": services}
    return page


def codelists_page(reg: ir.Regulation) -> Page:
    """Every code list with its codes."""
    lists = [
        {
            "list": cl,
            "anchor": anchor_of(cl.name),
            "confidence": labels.CONFIDENCE[cl.confidence],
            "codes": [
                {"code": c, "membership": labels.MEMBERSHIP[c.membership] if c.membership != "regulation" else None}
                for c in cl.codes
            ],
        }
        for cl in reg.codelists
    ]
    return Page(
        PurePosixPath("codelists.html"),
        ir.Text("Danh mục mã", "Code lists"),
        "site/codelists.html.jinja",
        {"lists": lists},
    )


def coverage_page(reg: ir.Regulation, coverage: dict[int, dict[str, Any]]) -> Page:
    """Declared against specified fields, per table."""
    rows = [{**row, "part_text": labels.PART[row["part"]]} for row in coverage.values()]
    return Page(
        PurePosixPath("coverage.html"),
        ir.Text("Độ phủ", "Coverage"),
        "site/coverage.html.jinja",
        {"rows": rows, "statuses": list(labels.STATUS.items()), "legend": labels.STATUS_MEANING},
    )


def sources_page(reg: ir.Regulation) -> Page:
    """The sources catalogue; titles are citations, shown as written."""
    sources = [{"source": s, "kind": labels.SOURCE_KINDS.get(s.kind, ir.Text(s.kind, s.kind))} for s in reg.sources]
    return Page(
        PurePosixPath("sources.html"), ir.Text("Nguồn", "Sources"), "site/sources.html.jinja", {"sources": sources}
    )


def pages(reg: ir.Regulation) -> list[Page]:
    """Every page of the site, the main pages first, then one per packet in Table 1 order."""
    coverage = _coverage(reg)
    main = [
        index_page(reg, coverage),
        envelope_page(reg),
        codelists_page(reg),
        coverage_page(reg, coverage),
        sources_page(reg),
    ]
    return main + [packet_page(reg, packet, coverage) for packet in reg.packets]

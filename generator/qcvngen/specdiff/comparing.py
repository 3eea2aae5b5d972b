"""Two IRs → every change between them, classified by what it means for a data submitter.

Which attributes of an IR item are compared is written as typed functions (``_packet_facts`` …)
that read the attributes by name in code: renaming an IR field breaks type-checking here instead of
silently dropping it from the diff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from .. import kinds
from ..ir import (
    Code,
    CodeList,
    Coverage,
    Endpoint,
    Envelope,
    ErrorCode,
    Field,
    FieldType,
    Group,
    Header,
    LocalService,
    Meta,
    Packet,
    Record,
    Regulation,
    Section,
    Source,
    Table,
    Text,
)
from .model import RANK, Change, Impact, Scope, Side, SpecDiff

T = TypeVar("T")
# An item's compared attributes, by the name that labels their change (see model._ATTRS).
Facts = dict[str, object]


def compare(old: Regulation, new: Regulation, old_side: Side, new_side: Side) -> SpecDiff:
    """Every change from ``old`` to ``new``, grouped by scope in notice order."""
    differ = _Differ(old, new)
    differ.run()
    changes = sorted(differ.changes, key=lambda c: c.scope.order)  # stable: field order kept within a scope
    return SpecDiff(old_side, new_side, old.meta.spec_version, new.meta.spec_version, new.meta.id, tuple(changes))


# -- what is compared, per IR type ------------------------------------------------------------


def _packet_contract(p: Packet) -> Facts:
    return {"endpoint": p.endpoint, "direction": p.direction}


def _packet_facts(p: Packet) -> Facts:
    return {
        "number": p.number,
        "group": p.group,
        "section": p.section,
        "purpose": p.purpose,
        "declared": p.declared,
        "tables": p.tables,
        "sources": p.sources,
        "notes": p.notes,
    }


def _codelist_facts(c: CodeList) -> Facts:
    return {"title": c.title, "sources": c.sources, "confidence": c.confidence, "notes": c.notes}


def _code_facts(c: Code) -> Facts:
    return {"title": c.title, "membership": c.membership, "notes": c.notes}


def _meta_facts(m: Meta) -> Facts:
    return {
        "id": m.id,
        "title": m.title,
        "circular": m.circular,
        "issued": m.issued,
        "effective": m.effective,
        "issuer": m.issuer,
        "spec_version": m.spec_version,
        "timezone": m.timezone,
        "datetime_format": m.datetime_format,
        "notes": m.notes,
    }


def _source_facts(s: Source) -> Facts:
    return {"title": s.title, "kind": s.kind, "reference": s.reference, "gives": s.gives}


def _group_facts(g: Group) -> Facts:
    return {"title": g.title, "sections": g.sections}


def _table_facts(t: Table) -> Facts:
    return {"title": t.title, "confidence": t.confidence, "notes": t.notes}


def _coverage_facts(c: Coverage) -> Facts:
    return {"declared": c.declared, "status": c.status}


def _record_facts(r: Record) -> Facts:
    return {"title": r.title, "notes": r.notes}


def _field_facts(f: Field) -> Facts:
    return {
        "title": f.title,
        "notes": f.notes,
        "sources": f.sources,
        "confidence": f.confidence,
        "membership": f.membership,
        "example": f.example,
        "pii": f.pii,
        "secret": f.secret,
    }


def _endpoint_contract(e: Endpoint) -> Facts:
    return {"path": e.path}


def _endpoint_facts(e: Endpoint) -> Facts:
    return {"title": e.title, "notes": e.notes}


def _header_facts(h: Header) -> Facts:
    return {"description": h.description, "sources": h.sources}


def _error_facts(e: ErrorCode) -> Facts:
    return {"title": e.title, "sources": e.sources, "notes": e.notes}


def _service_contract(s: LocalService) -> Facts:
    return {"method": s.method, "path": s.path, "result_record": s.result_record}


def _service_facts(s: LocalService) -> Facts:
    return {"title": s.title, "inference": s.inference, "sources": s.sources, "notes": s.notes}


# The envelope's records, with the prefix their fields' subjects take.
_ENVELOPE_RECORDS: tuple[tuple[str, Callable[[Envelope], Record]], ...] = (
    ("login.request.", lambda e: e.login_request),
    ("login.response.", lambda e: e.login_response),
    ("request.", lambda e: e.request),
    ("response.", lambda e: e.response),
)


# -- helpers ------------------------------------------------------------------------------------


def _pairs(old: Iterable[T], new: Iterable[T], key: Callable[[T], str]) -> Iterator[tuple[str, T | None, T | None]]:
    """Items matched by key: every old one in old order (None when gone), then the new-only ones."""
    new_by = {key(item): item for item in new}
    old_keys = set()
    for item in old:
        old_keys.add(key(item))
        yield key(item), item, new_by.get(key(item))
    for k, item in new_by.items():
        if k not in old_keys:
            yield k, None, item


def _show(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Text):
        return f"{value.vi} / {value.en}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(str(_show(v)) for v in value)
    if isinstance(value, Section):
        return f"{value.number} {_show(value.title)}"
    return str(value)


def _brief(item: object) -> object:
    """What an added or removed item was: its title, purpose or description, if it has one."""
    for name in ("title", "purpose", "description"):
        if isinstance(getattr(item, name, None), (Text, str)):
            return getattr(item, name)
    return None


def _type(t: FieldType) -> str:
    arg = t.codelist or t.record or t.of
    return f"{t.kind}({arg})" if arg else t.kind + (' | ""' if t.empty_string else "")


_REQUIRED = {True: "bắt buộc/required", False: "tuỳ chọn/optional"}
_OPEN = {True: "mở/open", False: "đóng/closed"}


def _summary(f: Field) -> str:
    length = f", max_length {f.max_length}" if f.max_length is not None else ""
    return f"{_type(f.type)}, {_REQUIRED[f.required]}{length}"


def type_impact(old: FieldType, new: FieldType, new_reg: Regulation) -> Impact:
    """Widening is compatible (the kind registry says which kinds widen); narrowing is breaking."""
    if old.kind != new.kind:
        return Impact.COMPATIBLE if kinds.widens(old.kind, new.kind) else Impact.BREAKING
    impacts = [Impact.INFORMATIONAL]
    if old.codelist != new.codelist:
        closed = new.codelist is not None and new_reg.codelist(new.codelist).closed
        impacts.append(Impact.BREAKING if closed else Impact.COMPATIBLE)
    if old.record != new.record:
        impacts.append(Impact.BREAKING)
    if old.of != new.of:
        impacts.append(Impact.COMPATIBLE if new.of == "any" else Impact.BREAKING)
    if old.empty_string != new.empty_string:
        impacts.append(Impact.BREAKING if old.empty_string else Impact.COMPATIBLE)
    return max(impacts, key=RANK.__getitem__)


def _codelist_scope(name: str) -> Scope:
    return Scope((1, (), name), f"Danh mục mã {name}", f"Code list {name}")


def _service_scope(name: str) -> Scope:
    return Scope((3, (), name), f"Dịch vụ địa phương {name}", f"Local service {name}")


_REGULATION_SCOPE = Scope((4, (), ""), "Quy chuẩn và nguồn", "Regulation and sources")
_ENVELOPE_SCOPE = Scope((2, (), ""), "Phong bì (envelope)", "Envelope")


def _same_place(old: Field, new: Field) -> bool:
    """A field gone and one new in the same regulation row (or, without rows, the same position): a rename."""
    if old.origin.row is not None and new.origin.row is not None:
        return old.origin.row == new.origin.row
    return old.position == new.position


def _informational(_: object) -> Impact:
    return Impact.INFORMATIONAL


# -- the walk -----------------------------------------------------------------------------------


@dataclass
class _Differ:
    old: Regulation
    new: Regulation
    changes: list[Change] = field(default_factory=list)

    def add(
        self,
        scope: Scope,
        subject: str,
        kind: str,
        impact: Impact,
        old: object = None,
        new: object = None,
        table: int | None = None,
    ) -> None:
        self.changes.append(Change(scope, subject, kind, impact, _show(old), _show(new), table))

    def attrs(
        self,
        scope: Scope,
        subject: str,
        noun: str,
        old: Facts,
        new: Facts,
        impact: Impact = Impact.INFORMATIONAL,
        table: int | None = None,
    ) -> None:
        """One change per compared attribute that differs (both sides come from the same facts function)."""
        for name, before in old.items():
            if before != new[name]:
                self.add(scope, subject, f"{noun}.{name}", impact, before, new[name], table)

    def matched(
        self,
        scope: Scope | Callable[[str], Scope],
        noun: str,
        old: Iterable[T],
        new: Iterable[T],
        key: Callable[[T], str],
        removed: Impact = Impact.BREAKING,
        added: Callable[[T], Impact] = lambda _: Impact.COMPATIBLE,
    ) -> Iterator[tuple[str, T, T]]:
        """The items on both sides; an item gone or new is reported here."""
        for name, before, after in _pairs(old, new, key):
            where = scope if isinstance(scope, Scope) else scope(name)
            if before is not None and after is not None:
                yield name, before, after
            elif after is not None:
                self.add(where, name, f"{noun}.added", added(after), None, _brief(after))
            else:
                self.add(where, name, f"{noun}.removed", removed, _brief(before))

    def run(self) -> None:
        old, new = self.old, self.new
        for name, op, np_ in self.matched(self.packet_scope, "packet", old.packets, new.packets, lambda p: p.name):
            scope = self.packet_scope(name)
            self.attrs(scope, name, "packet", _packet_contract(op), _packet_contract(np_), Impact.BREAKING)
            self.attrs(scope, name, "packet", _packet_facts(op), _packet_facts(np_))
            self.fields(scope, "request.", op.params, np_.params)
        self.tables()
        self.records()
        self.codelists()
        self.envelope()
        self.local_services()
        self.regulation()

    def codelists(self) -> None:
        for name, ol, nl in self.matched(
            _codelist_scope, "codelist", self.old.codelists, self.new.codelists, lambda c: c.name
        ):
            scope = _codelist_scope(name)
            if ol.closed != nl.closed:
                self.add(
                    scope,
                    name,
                    "codelist.closed" if nl.closed else "codelist.opened",
                    Impact.BREAKING if nl.closed else Impact.COMPATIBLE,
                    _OPEN[not ol.closed],
                    _OPEN[not nl.closed],
                )
            self.attrs(scope, name, "codelist", _codelist_facts(ol), _codelist_facts(nl))
            gone = Impact.BREAKING if ol.closed and nl.closed else Impact.COMPATIBLE
            for code, oc, nc in self.matched(scope, "code", ol.codes, nl.codes, lambda c: f'"{c.code}"', gone):
                self.attrs(scope, code, "code", _code_facts(oc), _code_facts(nc))

    def regulation(self) -> None:
        reg, old, new = _REGULATION_SCOPE, self.old, self.new
        self.attrs(reg, "regulation", "regulation", _meta_facts(old.meta), _meta_facts(new.meta))
        for sid, os_, ns in self.matched(
            reg, "source", old.sources, new.sources, lambda s: s.id, Impact.INFORMATIONAL, _informational
        ):
            self.attrs(reg, sid, "source", _source_facts(os_), _source_facts(ns))
        for number, og, ng in self.matched(
            reg,
            "group",
            old.groups,
            new.groups,
            lambda g: f"nhóm/group {g.number}",
            Impact.INFORMATIONAL,
            _informational,
        ):
            self.attrs(reg, number, "group", _group_facts(og), _group_facts(ng))

    def packet_scope(self, name: str) -> Scope:
        reg = self.new if any(p.name == name for p in self.new.packets) else self.old
        packet = reg.packet(name)
        tables = ", ".join(str(t) for t in packet.tables)
        order = tuple(int(part) for part in packet.number.split(".") if part.isdigit())
        return Scope(
            (0, order, name),
            f"Gói tin {packet.number} {name} (bảng {tables})",
            f"Packet {packet.number} {name} (table {tables})",
            name,
        )

    def on_both_sides(self, packet: str) -> bool:
        return any(p.name == packet for p in self.old.packets) and any(p.name == packet for p in self.new.packets)

    def tables(self) -> None:
        for _, ot, nt in _pairs(self.old.tables, self.new.tables, lambda t: str(t.number)):
            table = nt or ot
            if table is None or not self.on_both_sides(table.packet):
                continue  # reported as the packet added or removed
            scope, subject = self.packet_scope(table.packet), f"bảng/table {table.number}"
            if ot is None or nt is None:
                self.add(scope, subject, "table.removed" if nt is None else "table.added", Impact.INFORMATIONAL)
                continue
            self.attrs(scope, subject, "table", _table_facts(ot), _table_facts(nt))
            self.attrs(scope, subject, "table", _coverage_facts(ot.coverage), _coverage_facts(nt.coverage))
            if ot.gaps != nt.gaps:
                gaps = (tuple(g.row for g in ot.gaps), tuple(g.row for g in nt.gaps))
                self.add(scope, subject, "table.gaps", Impact.INFORMATIONAL, *gaps)

    def records(self) -> None:
        for name, orec, nrec in _pairs(self.old.records, self.new.records, lambda r: r.name):
            reg, rec = (self.new, nrec) if nrec is not None else (self.old, orec)
            if rec is None or rec.table is None or not self.on_both_sides(reg.table(rec.table).packet):
                continue
            table = reg.table(rec.table)
            scope = self.packet_scope(table.packet)
            if orec is None or nrec is None:
                impact = Impact.BREAKING if nrec is None else Impact.COMPATIBLE
                self.add(scope, name, "record.removed" if nrec is None else "record.added", impact, table=rec.table)
                continue
            main = table.record == name  # a table's own record: its fields are the packet's, titled by the table
            if orec.open != nrec.open:
                self.add(
                    scope,
                    f"bảng/table {table.number}" if main else name,
                    "record.opened" if nrec.open else "record.closed",
                    Impact.COMPATIBLE if nrec.open else Impact.BREAKING,
                    _OPEN[orec.open],
                    _OPEN[nrec.open],
                    rec.table,
                )
            if not main:
                self.attrs(scope, name, "record", _record_facts(orec), _record_facts(nrec))
            self.fields(scope, "" if main else f"{name}.", orec.fields, nrec.fields)

    def fields(self, scope: Scope, prefix: str, old: tuple[Field, ...], new: tuple[Field, ...]) -> None:
        old_names = {f.wire_name for f in old}
        added = [f for f in new if f.wire_name not in old_names]
        for of in old:
            nf = next((f for f in new if f.wire_name == of.wire_name), None)
            if nf is None:
                nf = next((f for f in added if _same_place(of, f)), None)
                if nf is None:
                    self.add(
                        scope,
                        prefix + of.wire_name,
                        "field.removed",
                        Impact.BREAKING,
                        _summary(of),
                        None,
                        of.origin.table,
                    )
                    continue
                added.remove(nf)
                self.add(
                    scope,
                    prefix + nf.wire_name,
                    "field.renamed",
                    Impact.BREAKING,
                    of.wire_name,
                    nf.wire_name,
                    nf.origin.table,
                )
            self.field(scope, prefix + nf.wire_name, of, nf)
        for nf in added:
            kind, impact = (
                ("field.added-required", Impact.BREAKING) if nf.required else ("field.added", Impact.COMPATIBLE)
            )
            self.add(scope, prefix + nf.wire_name, kind, impact, None, _summary(nf), nf.origin.table)

    def field(self, scope: Scope, subject: str, of: Field, nf: Field) -> None:
        table = nf.origin.table
        if of.type != nf.type:
            impact = type_impact(of.type, nf.type, self.new)
            self.add(scope, subject, "field.type", impact, _type(of.type), _type(nf.type), table)
        self.required(scope, subject, of.required, nf.required, table)
        if of.max_length != nf.max_length:
            narrower = nf.max_length is not None and (of.max_length is None or nf.max_length < of.max_length)
            impact = Impact.BREAKING if narrower else Impact.COMPATIBLE
            self.add(scope, subject, "field.max_length", impact, of.max_length, nf.max_length, table)
        self.attrs(scope, subject, "field", _field_facts(of), _field_facts(nf), table=table)
        self.attrs(scope, subject, "field", {"row": of.origin.row}, {"row": nf.origin.row}, table=table)

    def required(self, scope: Scope, subject: str, old: bool, new: bool, table: int | None = None) -> None:
        if old != new:
            kind, impact = ("field.required", Impact.BREAKING) if new else ("field.optional", Impact.COMPATIBLE)
            self.add(scope, subject, kind, impact, _REQUIRED[old], _REQUIRED[new], table)

    def envelope(self) -> None:
        scope = _ENVELOPE_SCOPE
        old, new = self.old.envelope, self.new.envelope
        for name, oe, ne in self.matched(scope, "endpoint", old.endpoints, new.endpoints, lambda e: e.name):
            self.attrs(scope, name, "endpoint", _endpoint_contract(oe), _endpoint_contract(ne), Impact.BREAKING)
            self.attrs(scope, name, "endpoint", _endpoint_facts(oe), _endpoint_facts(ne))

        def required(h: Header) -> Impact:
            return Impact.BREAKING if h.required else Impact.COMPATIBLE

        for name, oh, nh in self.matched(scope, "header", old.headers, new.headers, lambda h: h.name, added=required):
            self.required(scope, name, oh.required, nh.required)
            self.attrs(scope, name, "header", _header_facts(oh), _header_facts(nh))
        for prefix, record in _ENVELOPE_RECORDS:
            self.fields(scope, prefix, record(old).fields, record(new).fields)
        for code, oerr, nerr in self.matched(
            scope, "error", old.errors, new.errors, lambda e: f'error_code "{e.code}"', Impact.INFORMATIONAL
        ):
            self.attrs(scope, code, "error", _error_facts(oerr), _error_facts(nerr))
        self.attrs(scope, "envelope", "envelope", {"notes": old.notes}, {"notes": new.notes})

    def local_services(self) -> None:
        old, new = self.old.envelope, self.new.envelope
        for name, osv, nsv in self.matched(
            _service_scope, "service", old.local_services, new.local_services, lambda s: s.name
        ):
            sscope = _service_scope(name)
            self.attrs(sscope, name, "service", _service_contract(osv), _service_contract(nsv), Impact.BREAKING)
            self.attrs(sscope, name, "service", _service_facts(osv), _service_facts(nsv))
            self.fields(sscope, "request.", osv.params, nsv.params)

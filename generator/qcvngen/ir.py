"""The frozen, target-neutral IR that every target renders from.

Names are already sanitised and order already fixed here, so targets only translate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from .kinds import LIST_ITEM_KINDS, Kind

Direction = Literal["push", "pull"]
Part = Literal["records", "params"]
CoverageStatus = Literal["complete", "unverified", "partial", "unknown"]


@dataclass(frozen=True)
class Text:
    """A text in Vietnamese and English.

    ``vi`` is empty only in a note the spec wrote as a plain string (English only; resolve warns).
    """

    vi: str
    en: str


@dataclass(frozen=True)
class Origin:
    """Where a fact sits: the spec file and line, and the regulation table and row."""

    file: str
    line: int
    table: int | None = None
    row: int | None = None

    @property
    def ref(self) -> str:
        """The regulation reference, ``Table 2, row 5`` (or ``envelope``)."""
        if self.table is None:
            return "envelope"
        row = f"row {self.row}" if self.row is not None else "row unknown"
        return f"Table {self.table}, {row}"


@dataclass(frozen=True)
class FieldType:
    """A field's kind (see :mod:`qcvngen.kinds`) and what it refers to: a code list, a record, list items."""

    kind: Kind
    codelist: str | None = None
    record: str | None = None
    of: str | None = None
    empty_string: bool = False

    @property
    def nested_record(self) -> str | None:
        """The record a ``record`` field holds, or a ``list`` field's item record."""
        if self.kind == "record":
            return self.record
        if self.kind == "list" and self.of not in LIST_ITEM_KINDS:
            return self.of
        return None


@dataclass(frozen=True)
class Field:
    """One field: its wire and Python names, type, rules, provenance and where it is defined."""

    wire_name: str
    py_name: str
    title: Text
    type: FieldType
    required: bool
    max_length: int | None
    membership: str
    sources: tuple[str, ...]
    confidence: str
    pii: bool
    secret: bool
    example: str | None
    notes: Text | None
    origin: Origin
    position: int


@dataclass(frozen=True)
class Record:
    """An object of the wire: its fields, and whether it accepts keys the spec does not know (``open``)."""

    name: str
    title: Text
    fields: tuple[Field, ...]
    open: bool
    table: int | None
    notes: Text | None


@dataclass(frozen=True)
class Gap:
    """A declared row whose field is not known yet."""

    row: int
    title: Text
    sources: tuple[str, ...]
    notes: Text | None


@dataclass(frozen=True)
class Coverage:
    """How much of a table is specified: declared, specified and other fields, and its status."""

    declared: int
    specified: int
    candidates: int
    later: int
    hypothesis: int
    status: CoverageStatus
    known_rows: tuple[int, ...]
    gap_rows: tuple[int, ...]

    @property
    def missing(self) -> int:
        """How many declared fields are not specified yet."""
        return max(self.declared - self.specified, 0)


@dataclass(frozen=True)
class Table:
    """A regulation field table: its packet, part (records or params), record, gaps and coverage."""

    number: int
    packet: str
    part: Part
    title: Text
    confidence: str
    notes: Text | None
    record: str
    gaps: tuple[Gap, ...]
    coverage: Coverage
    file: str


@dataclass(frozen=True)
class Packet:
    """A packet of Table 1 with its request parameters and data/result records."""

    number: str
    name: str
    method: str
    group: str
    section: str | None
    purpose: Text
    direction: Direction
    endpoint: str
    declared: str
    tables: tuple[int, ...]
    params: tuple[Field, ...]
    data_record: str | None
    result_record: str | None
    sources: tuple[str, ...]
    notes: Text | None


@dataclass(frozen=True)
class Code:
    """One code of a code list, with its meaning."""

    code: str
    title: Text
    membership: str
    notes: Text | None


@dataclass(frozen=True)
class CodeList:
    """A code list; ``closed`` means only its codes are valid."""

    name: str
    title: Text
    closed: bool
    sources: tuple[str, ...]
    confidence: str
    notes: Text | None
    codes: tuple[Code, ...]


@dataclass(frozen=True)
class Source:
    """A source the spec cites."""

    id: str
    title: str
    kind: str
    reference: str
    gives: str


@dataclass(frozen=True)
class Section:
    """A section of a packet group."""

    number: str
    title: Text


@dataclass(frozen=True)
class Group:
    """A group of packets in Table 1."""

    number: str
    title: Text
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class Endpoint:
    """An endpoint class of the portal: a URL path serving several packets."""

    name: str
    path: str
    title: Text
    notes: Text | None


@dataclass(frozen=True)
class Header:
    """An HTTP header the portal expects."""

    name: str
    required: bool
    description: Text
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ErrorCode:
    """An ``error_code`` the portal answers with."""

    code: str
    title: Text
    sources: tuple[str, ...]
    notes: Text | None


@dataclass(frozen=True)
class LocalService:
    """A service the local system offers and the national portal calls (Table 1 note on 3.1)."""

    name: str
    method: str
    path: str
    title: Text
    inference: bool
    sources: tuple[str, ...]
    notes: Text | None
    params: tuple[Field, ...]
    result_record: str


@dataclass(frozen=True)
class Envelope:
    """What wraps every packet: endpoints, headers, login, request/response envelopes, errors."""

    endpoints: tuple[Endpoint, ...]
    headers: tuple[Header, ...]
    login_request: Record
    login_response: Record
    request: Record
    response: Record
    errors: tuple[ErrorCode, ...]
    local_services: tuple[LocalService, ...]
    notes: Text | None


@dataclass(frozen=True)
class Meta:
    """The regulation's identity and the wire's time conventions."""

    id: str
    title: Text
    circular: str
    issued: str
    effective: str
    issuer: Text
    spec_version: str
    timezone: str
    datetime_format: str
    notes: Text | None = None


@dataclass(frozen=True)
class Regulation:
    """The whole IR: what every target renders from."""

    meta: Meta
    sources: tuple[Source, ...]
    groups: tuple[Group, ...]
    packets: tuple[Packet, ...]
    tables: tuple[Table, ...]
    records: tuple[Record, ...]
    codelists: tuple[CodeList, ...]
    envelope: Envelope

    def record(self, name: str) -> Record:
        """The record named ``name`` (KeyError when there is none)."""
        for record in self.records:
            if record.name == name:
                return record
        raise KeyError(name)

    def nested_records(self, roots: list[str]) -> list[Record]:
        """Records reachable from ``roots`` through record and list fields (not the roots), in a stable order."""
        seen: list[str] = []
        stack = list(roots)
        while stack:
            for field in self.record(stack.pop(0)).fields:
                target = field.type.nested_record
                if target and target not in seen and target not in roots:
                    seen.append(target)
                    stack.append(target)
        return [self.record(name) for name in seen]

    def key_paths(self, record: str | None) -> Iterator[tuple[str, Field]]:
        """Every field of ``record`` with its key path through nested records and lists, as capture
        lines write it (``A``, ``A.B``, ``A[].B``); eight levels at most (a record may nest itself)."""
        stack: list[tuple[str, str, int]] = [(record, "", 0)] if record else []
        while stack:
            name, prefix, depth = stack.pop()
            for field in self.record(name).fields:
                path = prefix + field.wire_name
                yield path, field
                target = field.type.nested_record
                if target and depth < 8:
                    stack.append((target, path + ("[]." if field.type.kind == "list" else "."), depth + 1))

    def codelist(self, name: str) -> CodeList:
        """The code list named ``name`` (KeyError when there is none)."""
        for codelist in self.codelists:
            if codelist.name == name:
                return codelist
        raise KeyError(name)

    def packet(self, name: str) -> Packet:
        """The packet named ``name`` (KeyError when there is none)."""
        for packet in self.packets:
            if packet.name == name:
                return packet
        raise KeyError(name)

    def table(self, number: int) -> Table:
        """The table numbered ``number`` (KeyError when there is none)."""
        for table in self.tables:
            if table.number == number:
                return table
        raise KeyError(number)

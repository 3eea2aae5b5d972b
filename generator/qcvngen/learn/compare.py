"""Compare capture lines with the spec: unknown keys, unseen fields, new codes, contradicting shapes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .. import ir
from ..kinds import KINDS
from ..runtime.shared.capture import redact_message
from .read import Capture, LearnInputError

IGNORED_KINDS = frozenset({"empty", "null"})
_STRINGS = KINDS["string"].capture_kinds
# What a capture may show of a field of each kind without contradicting it: the registry's.
ALLOWED: dict[str, frozenset[str]] = {name: info.capture_kinds for name, info in KINDS.items() if info.capture_kinds}


@dataclass
class Stats:
    """One key path, summed over captures: counts and shapes, never values (bar code values)."""

    records: int = 0
    seen: int = 0
    captures: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    json: Counter[str] = field(default_factory=Counter)
    max_length: int | None = None
    list_length: tuple[int, int] | None = None
    codes: set[str] = field(default_factory=set)

    def add(self, row: dict[str, Any]) -> None:
        self.records += row["records"]
        self.seen += row["seen"]
        self.captures += 1
        self.kinds.update(row["kinds"])
        self.json.update(row["json"])
        if isinstance(row.get("max_length"), int):
            self.max_length = max(self.max_length or 0, row["max_length"])
        low_high = row.get("list_length")
        if isinstance(low_high, list) and len(low_high) == 2:
            old = self.list_length or (low_high[0], low_high[1])
            self.list_length = (min(old[0], low_high[0]), max(old[1], low_high[1]))
        self.codes.update(row.get("codes", ()))


@dataclass(frozen=True)
class UnknownKey:
    """A key the spec lacks, with what was seen of it (and of the keys nested under it)."""

    record: str
    path: str
    name: str
    depth: int
    stats: Stats
    kind: str
    item_kind: str | None
    nested: tuple[tuple[str, str, int], ...]


@dataclass
class PacketReport:
    """What the captures of one packet (and direction) showed against its field table."""

    packet: str
    direction: str
    table: int | None
    record: str | None
    captures: int = 0
    records: int = 0
    paths: dict[str, Stats] = field(default_factory=dict)
    unknown: list[UnknownKey] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    new_codes: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    contradictions: list[tuple[str, str, str]] = field(default_factory=list)
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass
class Report:
    """Everything learned from a set of captures."""

    captures: int
    records: int
    dates: tuple[str, str] | None
    packets: list[PacketReport]
    sources: list[str]


def infer_kind(kinds: Counter[str]) -> str:
    """The spec kind that every non-empty value seen matches, or ``string``/``any``."""
    seen = {k for k, n in kinds.items() if n and k not in IGNORED_KINDS}
    if not seen:
        return "any"
    if len(seen) == 1:
        return next(iter(seen))
    if seen <= {"integer", "decimal"}:
        return "decimal"
    if seen <= _STRINGS:
        return "string"
    return "any"


def code_paths(reg: ir.Regulation, record: str | None) -> set[str]:
    """Key paths of ``record`` (through nested records and lists) whose fields are ``code``."""
    out: set[str] = set()
    stack: list[tuple[str, str, int]] = [(record, "", 0)] if record else []
    while stack:
        name, prefix, depth = stack.pop()
        for f in reg.record(name).fields:
            path = prefix + f.wire_name
            if f.type.kind == "code":
                out.add(path)
            target = f.type.nested_record
            if target and depth < 8:
                stack.append((target, path + ("[]." if f.type.kind == "list" else "."), depth + 1))
    return out


def record_for(reg: ir.Regulation, packet: str, direction: str) -> str | None:
    """The record of a packet's records: ``result`` items for answers, ``data`` for requests."""
    p = reg.packet(packet)
    return p.result_record if direction == "answer" else p.data_record


def compare(reg: ir.Regulation, captures: list[Capture]) -> Report:
    """Sum the captures per packet and compare them with the spec's tables."""
    names = {p.name for p in reg.packets}
    wire_names = {f.wire_name for r in reg.records for f in r.fields}
    reports: dict[tuple[str, str], PacketReport] = {}
    dates = sorted(c.line["date"] for c in captures if c.line.get("date"))
    for cap in captures:
        packet, direction = cap.line["packet"], cap.line["direction"]
        if packet not in names:
            raise LearnInputError(f"{cap.where}: packet {packet!r} is not in the spec")
        rep = reports.get((packet, direction))
        if rep is None:
            record = record_for(reg, packet, direction)
            table = next((t.number for t in reg.tables if record and t.record == record), None)
            rep = reports[(packet, direction)] = PacketReport(packet, direction, table, record)
        rep.captures += 1
        rep.records += cap.line["records"]
        code = cap.line.get("error_code")
        if code not in (None, "0"):
            # Redacted again: a capture written by another system may not have blanked its values.
            message = redact_message(str(cap.line.get("message") or ""), keys=wire_names)
            rep.refusals[(str(code), message)] += 1
        for row in cap.line["keys"]:
            rep.paths.setdefault(row["path"], Stats()).add(row)
    ordered = sorted(reports.values(), key=lambda r: (reg.packet(r.packet).number, r.direction))
    for rep in ordered:
        if rep.record:
            _classify(reg, rep)
    return Report(
        captures=len(captures),
        records=sum(r.records for r in ordered),
        dates=(dates[0], dates[-1]) if dates else None,
        packets=ordered,
        sources=sorted({c.where.rsplit(":", 1)[0] for c in captures}),
    )


def _split(segment: str) -> tuple[str, int]:
    name = segment.rstrip("[]")
    return name, (len(segment) - len(name)) // 2


def _resolve(reg: ir.Regulation, record: str, path: str) -> tuple[str, Any, str, int]:
    """("known", field, record, depth) | ("unknown", root path, parent record, depth) | ("opaque", …)."""
    current = record
    done: list[str] = []
    segments = path.split(".")
    for depth, segment in enumerate(segments, start=1):
        name, lists = _split(segment)
        found = next((f for f in reg.record(current).fields if f.wire_name == name), None)
        if found is None:
            return "unknown", ".".join([*done, name]), current, depth
        if depth == len(segments):
            return ("known" if lists == 0 else "items"), found, current, depth
        target = found.type.nested_record
        if target is None:
            return "opaque", found, current, depth
        done.append(segment)
        current = target
    return "opaque", None, current, 0


def _classify(reg: ir.Regulation, rep: PacketReport) -> None:
    assert rep.record is not None
    roots: dict[tuple[str, str], tuple[str, int]] = {}
    for path, stats in sorted(rep.paths.items()):
        status, found, parent, depth = _resolve(reg, rep.record, path)
        if status == "unknown":
            roots.setdefault((found, parent), (found.rsplit(".", 1)[-1], depth))
        elif status == "known":
            _check_known(reg, rep, path, found, stats)
    for (root, parent), (name, depth) in sorted(roots.items()):
        rep.unknown.append(_unknown_key(rep, root, parent, name, depth))
    seen = {p.split(".")[0].rstrip("[]") for p in rep.paths}
    if rep.records:
        rep.unseen = [f.wire_name for f in reg.record(rep.record).fields if f.wire_name not in seen]


def _unknown_key(rep: PacketReport, root: str, parent: str, name: str, depth: int) -> UnknownKey:
    stats = rep.paths.get(root, Stats())
    items = rep.paths.get(root + "[]")
    nested = tuple(
        (path[len(root) :], infer_kind(s.kinds), s.records)
        for path, s in sorted(rep.paths.items())
        if path.startswith(root) and path != root and path[len(root)] in ".["
    )
    return UnknownKey(
        record=parent,
        path=root,
        name=name,
        depth=depth,
        stats=stats,
        kind=infer_kind(stats.kinds),
        item_kind=infer_kind(items.kinds) if items else None,
        nested=nested,
    )


def _check_known(reg: ir.Regulation, rep: PacketReport, path: str, f: ir.Field, stats: Stats) -> None:
    kind = f.type.kind
    allowed = ALLOWED.get(kind)
    if allowed is not None:
        if f.type.empty_string:
            allowed = allowed | {"empty"}
        bad = sorted(k for k in stats.kinds if k not in allowed and k != "null")
        if bad:
            rep.contradictions.append((path, kind, "values of kind " + ", ".join(bad)))
    if f.max_length and stats.max_length and stats.max_length > f.max_length:
        rep.contradictions.append((path, kind, f"a value of {stats.max_length} characters (max_length {f.max_length})"))
    if kind == "code" and f.type.codelist:
        listed = {c.code for c in reg.codelist(f.type.codelist).codes}
        new = tuple(sorted(stats.codes - listed))
        if new:
            rep.new_codes.append((path, f.type.codelist, new))

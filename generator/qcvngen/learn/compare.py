"""Compare capture lines with the spec: unknown keys, unseen fields, new codes, contradicting shapes."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .. import ir
from ..kinds import KINDS
from ..runtime.shared.capture import looks_like_code, redact_message
from ..runtime.shared.wording import folded
from .read import Capture, LearnInputError

# Bounds on what a capture set can make learn hold, whatever its size: memory stays flat.
MAX_CODES_PER_PATH = 200
MAX_PATHS_PER_PACKET = 5000
# Characters that could forge a line or a workflow command in a terminal or a CI log.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as ``\\uXXXX``: printable on one line."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
        for name, count in row["kinds"].items():
            self.kinds[name] += count
        for name, count in row["json"].items():
            self.json[name] += count
        if isinstance(row.get("max_length"), int):
            self.max_length = max(self.max_length or 0, row["max_length"])
        low_high = row.get("list_length")
        if isinstance(low_high, list) and len(low_high) == 2:
            old = self.list_length or (low_high[0], low_high[1])
            self.list_length = (min(old[0], low_high[0]), max(old[1], low_high[1]))
        for code in row.get("codes", ()):
            # Only what looks like a code is ever learned: never a name, phone or ID number.
            if looks_like_code(code) and len(self.codes) < MAX_CODES_PER_PATH:
                self.codes.add(code)


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
    rejected: str | None = None  # why --write will not propose it ("probably a typo of MaHoSo")


@dataclass(frozen=True)
class Refusal:
    """What refused exchanges are counted by: their error code and the spec keys they named."""

    error_code: str
    named: tuple[str, ...] = ()  # the spec's key names it named, sorted, at most 20
    message: str = ""  # legacy lines named no keys: their redacted message instead

    @property
    def said(self) -> str:
        """The refusal in one phrase (the ``said`` of ``--format json``, and its sort order)."""
        return "named " + ", ".join(self.named) if self.named else self.message


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
    refusals: Counter[Refusal] = field(default_factory=Counter)
    refused_records: int = 0
    truncated: bool = False


@dataclass
class Report:
    """Everything learned from a set of captures."""

    captures: int
    records: int
    dates: tuple[str, str] | None
    packets: list[PacketReport]
    sources: list[str]
    fingerprint: str = ""


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
    return {path for path, f in reg.key_paths(record) if f.type.kind == "code"}


def record_for(reg: ir.Regulation, packet: str, direction: str) -> str | None:
    """The record of a packet's records: ``result`` items for answers, ``data`` for requests."""
    p = reg.packet(packet)
    return p.result_record if direction == "answer" else p.data_record


class _SetHash:
    """An order-independent fingerprint of a multiset of lines, computed as they stream past."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, text: str) -> None:
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        self.total = (self.total + int.from_bytes(digest, "big")) % (1 << 256)

    def hexdigest(self) -> str:
        return f"{self.total:064x}"[:16]


def _refusal(line: dict[str, Any], wire_names: set[str]) -> Refusal:
    """What a refusal is reported by: the spec's key names it named (legacy: its redacted message)."""
    code = escape_controls(str(line.get("error_code")))
    named = [n for n in line.get("named") or () if isinstance(n, str) and n in wire_names]
    if named:
        return Refusal(code, named=tuple(sorted(set(named))[:20]))
    # Redacted again: a capture written by another system may not have blanked its values.
    return Refusal(code, message=escape_controls(redact_message(str(line.get("message") or ""), keys=wire_names)))


def _report_for(reg: ir.Regulation, reports: dict[tuple[str, str], PacketReport], cap: Capture) -> PacketReport:
    packet, direction = cap.line["packet"], cap.line["direction"]
    rep = reports.get((packet, direction))
    if rep is None:
        if packet not in {p.name for p in reg.packets}:
            raise LearnInputError(f"{cap.where}: packet {escape_controls(packet)[:80]!r} is not in the spec")
        record = record_for(reg, packet, direction)
        table = next((t.number for t in reg.tables if record and t.record == record), None)
        rep = reports[(packet, direction)] = PacketReport(packet, direction, table, record)
    return rep


def compare(reg: ir.Regulation, captures: Iterable[Capture]) -> Report:
    """Sum the captures per packet and compare them with the spec's tables.

    ``captures`` is consumed once, as a stream: memory depends on the spec and the distinct key
    paths seen, never on the number of lines. Refused exchanges teach nothing: they are counted
    per error code and named keys, and their shapes (if a capture holds any) are ignored.
    """
    wire_names = {f.wire_name for r in reg.records for f in r.fields}
    reports: dict[tuple[str, str], PacketReport] = {}
    first = last = ""
    count = 0
    sources: set[str] = set()
    fingerprint = _SetHash()
    for cap in captures:
        count += 1
        sources.add(cap.where.rsplit(":", 1)[0])
        fingerprint.add(cap.text or json.dumps(cap.line, sort_keys=True, ensure_ascii=False))
        date = cap.line.get("date") or ""
        if date:
            first, last = min(first or date, date), max(last, date)
        rep = _report_for(reg, reports, cap)
        code = cap.line.get("error_code")
        if cap.line.get("refused") or code not in (None, "0"):
            rep.refusals[_refusal(cap.line, wire_names)] += 1
            rep.refused_records += cap.line["records"]
            continue
        rep.captures += 1
        rep.records += cap.line["records"]
        for row in cap.line["keys"]:
            stats = rep.paths.get(row["path"])
            if stats is None:
                if len(rep.paths) >= MAX_PATHS_PER_PACKET:
                    rep.truncated = True
                    continue
                stats = rep.paths[row["path"]] = Stats()
            stats.add(row)
    ordered = sorted(reports.values(), key=lambda r: (reg.packet(r.packet).number, r.direction))
    for rep in ordered:
        if rep.record:
            _classify(reg, rep)
    return Report(
        captures=count,
        records=sum(r.records for r in ordered),
        dates=(first, last) if first else None,
        packets=ordered,
        sources=sorted(sources),
        fingerprint=fingerprint.hexdigest(),
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
        unknown = unknown_key(rep, root, parent, name, depth)
        rep.unknown.append(replace(unknown, rejected=rejection(reg, parent, name)))
    seen = {p.split(".")[0].rstrip("[]") for p in rep.paths}
    if rep.records:
        rep.unseen = [f.wire_name for f in reg.record(rep.record).fields if f.wire_name not in seen]


def edit_distance(a: str, b: str, bound: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``bound + 1`` once it must exceed ``bound``."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        if min(current) > bound:
            return bound + 1
        previous = current
    return previous[-1]


def typo_of(name: str, known: Iterable[str]) -> str | None:
    """The known key ``name`` is probably a typo or a Python-name twin of (``ma_ho_so`` → ``MaHoSo``)."""
    wanted = folded(name)
    bound = 1 if len(name) < 6 else 2
    best: tuple[int, str] | None = None
    for other in sorted(set(known)):
        if other == name:
            continue
        if folded(other) == wanted:
            return other
        distance = edit_distance(name.casefold(), other.casefold(), bound)
        if distance <= bound and (best is None or distance < best[0]):
            best = (distance, other)
    return best[1] if best else None


def rejection(reg: ir.Regulation, record: str, name: str) -> str | None:
    """Why an unknown key of ``record`` should not become a field, or None when it may."""
    # Only the record's own keys: other tables follow other conventions (SODIENTHOAI in Table 9,
    # SoDienThoai in Table 2), and a key near one of theirs is no typo.
    near = typo_of(name, [f.wire_name for f in reg.record(record).fields])
    if near is not None:
        return f"probably a typo of {near}"
    number = reg.record(record).table
    if number is not None and reg.table(number).coverage.status == "complete":
        return f"Table {number} is complete: a key it lacks is not one of its fields"
    return None


def unknown_key(rep: PacketReport, root: str, parent: str, name: str, depth: int) -> UnknownKey:
    """The key at path ``root`` of record ``parent``, with what the capture saw of it and below it."""
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
        codelist = reg.codelist(f.type.codelist)
        new = tuple(sorted(stats.codes - {c.code for c in codelist.codes}))
        if new and rep.direction == "request" and codelist.closed:
            # An accepted request cannot teach a closed list: its receiver should have refused it.
            rep.contradictions.append((path, kind, f"{len(new)} code(s) outside the closed list {codelist.name}"))
        elif new:
            rep.new_codes.append((path, f.type.codelist, new))

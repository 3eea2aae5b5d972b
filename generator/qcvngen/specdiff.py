"""`qcvngen diff`: classify what changed between two versions of the spec, for data submitters."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import TypeVar

from . import kinds
from .ir import Field, FieldType, Header, Regulation, Section, Text

T = TypeVar("T")
FORMATS = ("text", "json", "markdown")


class Impact(str, Enum):
    BREAKING = "breaking"
    COMPATIBLE = "compatible"
    INFORMATIONAL = "informational"


_RANK = {Impact.INFORMATIONAL: 0, Impact.COMPATIBLE: 1, Impact.BREAKING: 2}
_IMPACT_TEXT = {
    Impact.BREAKING: ("KHÔNG TƯƠNG THÍCH", "BREAKING"),
    Impact.COMPATIBLE: ("TƯƠNG THÍCH", "COMPATIBLE"),
    Impact.INFORMATIONAL: ("THÔNG TIN", "INFORMATIONAL"),
}
# Labels of change kinds; an attribute change without its own entry reads "<attribute> changed".
_KINDS = {
    "removed": ("bị bỏ", "removed"),
    "added": ("mới", "added"),
    "field.added-required": ("trường bắt buộc mới", "required field added"),
    "field.renamed": ("đổi tên trường", "field renamed"),
    "field.required": ("trở thành bắt buộc", "now required"),
    "field.optional": ("trở thành tuỳ chọn", "now optional"),
    "record.closed": ("từ chối khoá không khai báo", "unknown keys now rejected"),
    "record.opened": ("chấp nhận khoá không khai báo", "unknown keys now accepted"),
    "codelist.closed": ("danh mục thành đóng", "code list made closed"),
    "codelist.opened": ("danh mục thành mở", "code list made open"),
}
_NOUNS = {
    "packet": ("gói tin", "packet"), "table": ("bảng", "table"), "record": ("bản ghi", "record"),
    "field": ("trường", "field"), "codelist": ("danh mục mã", "code list"), "code": ("mã", "code"),
    "endpoint": ("điểm cuối", "endpoint"), "header": ("tiêu đề HTTP", "header"), "error": ("mã lỗi", "error code"),
    "service": ("dịch vụ địa phương", "local service"), "source": ("nguồn", "source"), "group": ("nhóm", "group"),
    "regulation": ("quy chuẩn", "regulation"),
}
_ATTRS = {
    "type": ("kiểu dữ liệu", "type"), "max_length": ("độ dài tối đa", "max length"), "title": ("tiêu đề", "title"),
    "notes": ("ghi chú", "notes"), "sources": ("nguồn", "sources"), "confidence": ("độ tin cậy", "confidence"),
    "membership": ("phân loại (membership)", "membership"), "example": ("ví dụ", "example"),
    "pii": ("dữ liệu cá nhân", "personal data"), "secret": ("bí mật", "secret"), "row": ("số dòng", "row"),
    "declared": ("số trường công bố", "declared field count"), "endpoint": ("điểm cuối", "endpoint"),
    "direction": ("chiều trao đổi", "direction"), "path": ("đường dẫn", "path"), "purpose": ("mục đích", "purpose"),
    "description": ("mô tả", "description"), "gaps": ("dòng chưa rõ tên", "unnamed rows"),
    "status": ("mức bao phủ", "coverage status"), "number": ("số hiệu", "number"), "tables": ("bảng", "tables"),
    "spec_version": ("phiên bản đặc tả", "spec version"), "sections": ("mục", "sections"),
}


@dataclass(frozen=True)
class Scope:
    """A heading of the notice: a packet (with its tables), a code list, the envelope, …"""

    order: tuple[int, tuple[int, ...], str]
    vi: str
    en: str
    packet: str | None = None


@dataclass(frozen=True)
class Change:
    scope: Scope
    subject: str
    kind: str
    impact: Impact
    old: str | None = None
    new: str | None = None
    table: int | None = None

    @property
    def label(self) -> tuple[str, str]:
        if self.kind in _KINDS:
            return _KINDS[self.kind]
        noun, _, what = self.kind.partition(".")
        if what in ("removed", "added"):
            n, w = _NOUNS[noun], _KINDS[what]
            return f"{n[0]} {w[0]}", f"{n[1]} {w[1]}"
        vi, en = _ATTRS.get(what, (what, what.replace("_", " ")))
        return f"đổi {vi}", f"{en} changed"


@dataclass(frozen=True)
class Side:
    label: str
    path: Path
    revision: str | None = None


@dataclass(frozen=True)
class SpecDiff:
    old: Side
    new: Side
    old_version: str
    new_version: str
    regulation: str
    changes: tuple[Change, ...]

    def count(self, impact: Impact) -> int:
        return sum(1 for c in self.changes if c.impact is impact)

    @property
    def breaking(self) -> bool:
        return self.count(Impact.BREAKING) > 0


class DiffInputError(Exception):
    """OLD or NEW is neither a spec folder nor a git revision that has spec/."""


# -- inputs ------------------------------------------------------------------------------------


def open_input(arg: str, dest: Path, cwd: Path) -> Side:
    """``arg`` as a spec folder: an existing folder as is, else ``spec/`` of a git revision copied to ``dest``."""
    path = Path(arg)
    if path.is_dir():
        return Side(arg, path)
    if path.exists():
        raise DiffInputError(f"'{arg}' is a file, not a spec folder or a git revision")
    if not arg or arg.startswith("-"):
        raise DiffInputError(f"'{arg}' is neither a folder nor a git revision")
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top is None:
        raise DiffInputError(f"'{arg}' is not an existing folder, and {cwd} is not in a git repository to read it as a revision")
    root = Path(top.decode().strip())
    sha = _git(["rev-parse", "--verify", "--quiet", f"{arg}^{{commit}}"], root)
    if sha is None:
        raise DiffInputError(f"'{arg}' is neither an existing folder nor a known git revision of {root}")
    commit = sha.decode().strip()
    listing = _git(["ls-tree", "-r", "-z", "--name-only", commit, "spec/"], root) or b""
    names = [name for name in listing.decode().split("\0") if name]
    if not names:
        raise DiffInputError(f"revision '{arg}' ({commit[:12]}) has no spec/ folder")
    for name in names:
        relative = PurePosixPath(name)
        content = _git(["show", f"{commit}:{name}"], root)
        if content is None or ".." in relative.parts or relative.is_absolute():
            raise DiffInputError(f"cannot read {name} at revision '{arg}'")
        target = dest.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return Side(arg, dest / "spec", commit)


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as exc:
        raise DiffInputError(f"cannot run git: {exc}") from None
    return done.stdout if done.returncode == 0 else None


# -- comparison --------------------------------------------------------------------------------


def compare(old: Regulation, new: Regulation, old_side: Side, new_side: Side) -> SpecDiff:
    differ = _Differ(old, new)
    differ.run()
    changes = sorted(differ.changes, key=lambda c: c.scope.order)  # stable: field order kept within a scope
    return SpecDiff(old_side, new_side, old.meta.spec_version, new.meta.spec_version, new.meta.id, tuple(changes))


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
    return f"{t.kind}({arg})" if arg else t.kind + (" | \"\"" if t.empty_string else "")


_REQUIRED = {True: "bắt buộc/required", False: "tuỳ chọn/optional"}
_OPEN = {True: "mở/open", False: "đóng/closed"}


def _summary(f: Field) -> str:
    length = f", max_length {f.max_length}" if f.max_length is not None else ""
    return f"{_type(f.type)}, {_REQUIRED[f.required]}{length}"


def type_impact(old: FieldType, new: FieldType, new_reg: Regulation) -> Impact:
    """Widening is compatible; narrowing, and any move from or to a list, record or ``any``, is breaking."""
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
    return max(impacts, key=_RANK.__getitem__)


@dataclass
class _Differ:
    old: Regulation
    new: Regulation
    changes: list[Change] = field(default_factory=list)

    def add(self, scope: Scope, subject: str, kind: str, impact: Impact, old: object = None, new: object = None,
            table: int | None = None) -> None:
        self.changes.append(Change(scope, subject, kind, impact, _show(old), _show(new), table))

    def attrs(self, scope: Scope, subject: str, noun: str, old: object, new: object, names: str,
              impact: Impact = Impact.INFORMATIONAL, table: int | None = None) -> None:
        for name in names.split():
            if getattr(old, name) != getattr(new, name):
                self.add(scope, subject, f"{noun}.{name}", impact, getattr(old, name), getattr(new, name), table)

    def matched(self, scope: Scope | Callable[[str], Scope], noun: str, old: Iterable[T], new: Iterable[T],
                key: Callable[[T], str], removed: Impact = Impact.BREAKING,
                added: Callable[[T], Impact] = lambda _: Impact.COMPATIBLE) -> Iterator[tuple[str, T, T]]:
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
            self.attrs(scope, name, "packet", op, np_, "endpoint direction", Impact.BREAKING)
            self.attrs(scope, name, "packet", op, np_, "number group section purpose declared tables sources notes")
            self.fields(scope, "request.", op.params, np_.params)
        self.tables()
        self.records()
        for name, ol, nl in self.matched(_codelist_scope, "codelist", old.codelists, new.codelists, lambda c: c.name):
            scope = _codelist_scope(name)
            if ol.closed != nl.closed:
                self.add(scope, name, "codelist.closed" if nl.closed else "codelist.opened",
                         Impact.BREAKING if nl.closed else Impact.COMPATIBLE, _OPEN[not ol.closed], _OPEN[not nl.closed])
            self.attrs(scope, name, "codelist", ol, nl, "title sources confidence notes")
            gone = Impact.BREAKING if ol.closed and nl.closed else Impact.COMPATIBLE
            codes = self.matched(scope, "code", ol.codes, nl.codes, lambda c: f'"{c.code}"', gone)
            for code, oc, nc in codes:
                self.attrs(scope, code, "code", oc, nc, "title membership notes")
        self.envelope()
        reg = Scope((4, (), ""), "Quy chuẩn và nguồn", "Regulation and sources")
        self.attrs(reg, "regulation", "regulation", old.meta, new.meta,
                   "id title circular issued effective issuer spec_version timezone datetime_format")
        info: Callable[[object], Impact] = lambda _: Impact.INFORMATIONAL
        for sid, os_, ns in self.matched(reg, "source", old.sources, new.sources, lambda s: s.id,
                                         Impact.INFORMATIONAL, info):
            self.attrs(reg, sid, "source", os_, ns, "title kind reference gives")
        for number, og, ng in self.matched(reg, "group", old.groups, new.groups, lambda g: f"nhóm/group {g.number}",
                                           Impact.INFORMATIONAL, info):
            self.attrs(reg, number, "group", og, ng, "title sections")

    def packet_scope(self, name: str) -> Scope:
        reg = self.new if any(p.name == name for p in self.new.packets) else self.old
        packet = reg.packet(name)
        tables = ", ".join(str(t) for t in packet.tables)
        order = tuple(int(part) for part in packet.number.split(".") if part.isdigit())
        return Scope((0, order, name), f"Gói tin {packet.number} {name} (bảng {tables})",
                     f"Packet {packet.number} {name} (table {tables})", name)

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
            self.attrs(scope, subject, "table", ot, nt, "title confidence notes")
            self.attrs(scope, subject, "table", ot.coverage, nt.coverage, "declared status")
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
                self.add(scope, f"bảng/table {table.number}" if main else name,
                         "record.opened" if nrec.open else "record.closed",
                         Impact.COMPATIBLE if nrec.open else Impact.BREAKING, _OPEN[orec.open], _OPEN[nrec.open], rec.table)
            if not main:
                self.attrs(scope, name, "record", orec, nrec, "title notes")
            self.fields(scope, "" if main else f"{name}.", orec.fields, nrec.fields)

    def fields(self, scope: Scope, prefix: str, old: tuple[Field, ...], new: tuple[Field, ...]) -> None:
        old_names = {f.wire_name for f in old}
        added = [f for f in new if f.wire_name not in old_names]
        for of in old:
            nf = next((f for f in new if f.wire_name == of.wire_name), None)
            if nf is None:
                nf = next((f for f in added if _same_place(of, f)), None)
                if nf is None:
                    self.add(scope, prefix + of.wire_name, "field.removed", Impact.BREAKING, _summary(of), None,
                             of.origin.table)
                    continue
                added.remove(nf)
                self.add(scope, prefix + nf.wire_name, "field.renamed", Impact.BREAKING, of.wire_name, nf.wire_name,
                         nf.origin.table)
            self.field(scope, prefix + nf.wire_name, of, nf)
        for nf in added:
            kind, impact = ("field.added-required", Impact.BREAKING) if nf.required else ("field.added", Impact.COMPATIBLE)
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
        self.attrs(scope, subject, "field", of, nf, "title notes sources confidence membership example pii secret",
                   table=table)
        self.attrs(scope, subject, "field", of.origin, nf.origin, "row", table=table)

    def required(self, scope: Scope, subject: str, old: bool, new: bool, table: int | None = None) -> None:
        if old != new:
            kind, impact = ("field.required", Impact.BREAKING) if new else ("field.optional", Impact.COMPATIBLE)
            self.add(scope, subject, kind, impact, _REQUIRED[old], _REQUIRED[new], table)

    def envelope(self) -> None:
        scope = Scope((2, (), ""), "Phong bì (envelope)", "Envelope")
        old, new = self.old.envelope, self.new.envelope
        for name, oe, ne in self.matched(scope, "endpoint", old.endpoints, new.endpoints, lambda e: e.name):
            self.attrs(scope, name, "endpoint", oe, ne, "path", Impact.BREAKING)
            self.attrs(scope, name, "endpoint", oe, ne, "title notes")
        required: Callable[[Header], Impact] = lambda h: Impact.BREAKING if h.required else Impact.COMPATIBLE
        for name, oh, nh in self.matched(scope, "header", old.headers, new.headers, lambda h: h.name,
                                         added=required):
            self.required(scope, name, oh.required, nh.required)
            self.attrs(scope, name, "header", oh, nh, "description sources")
        for prefix, attr in (("login.request.", "login_request"), ("login.response.", "login_response"),
                             ("request.", "request"), ("response.", "response")):
            self.fields(scope, prefix, getattr(old, attr).fields, getattr(new, attr).fields)
        for code, oerr, nerr in self.matched(scope, "error", old.errors, new.errors,
                                             lambda e: f'error_code "{e.code}"', Impact.INFORMATIONAL):
            self.attrs(scope, code, "error", oerr, nerr, "title sources notes")
        self.attrs(scope, "envelope", "envelope", old, new, "notes")
        for name, osv, nsv in self.matched(_service_scope, "service", old.local_services, new.local_services,
                                           lambda s: s.name):
            sscope = _service_scope(name)
            self.attrs(sscope, name, "service", osv, nsv, "method path result_record", Impact.BREAKING)
            self.attrs(sscope, name, "service", osv, nsv, "title inference sources notes")
            self.fields(sscope, "request.", osv.params, nsv.params)


def _codelist_scope(name: str) -> Scope:
    return Scope((1, (), name), f"Danh mục mã {name}", f"Code list {name}")


def _service_scope(name: str) -> Scope:
    return Scope((3, (), name), f"Dịch vụ địa phương {name}", f"Local service {name}")


def _same_place(old: Field, new: Field) -> bool:
    """A field gone and one new in the same regulation row (or, without rows, the same position): a rename."""
    if old.origin.row is not None and new.origin.row is not None:
        return old.origin.row == new.origin.row
    return old.position == new.position


# -- reports -----------------------------------------------------------------------------------


def render(diff: SpecDiff, fmt: str) -> str:
    return {"text": render_text, "json": render_json, "markdown": render_markdown}[fmt](diff)


def _grouped(diff: SpecDiff) -> list[tuple[Scope, list[Change]]]:
    groups: dict[Scope, list[Change]] = {}
    for change in diff.changes:
        groups.setdefault(change.scope, []).append(change)
    return list(groups.items())


def _short(value: str | None, limit: int = 100) -> str:
    if value is None:
        return "—"
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _side(side: Side, version: str) -> str:
    rev = f" @ {side.revision[:12]}" if side.revision else ""
    return f"{side.label}{rev} (spec_version {version})"


def _totals(diff: SpecDiff) -> str:
    return " · ".join(f"{vi.capitalize()} / {en.capitalize()}: {diff.count(i)}" for i, (vi, en) in _IMPACT_TEXT.items())


_VERDICT = {
    True: "Có thay đổi không tương thích: hệ thống gửi dữ liệu cần cập nhật. / "
    "Breaking changes: data submitters must update their systems.",
    False: "Không có thay đổi không tương thích. / No breaking changes.",
}


def render_text(diff: SpecDiff) -> str:
    from .render import one_line

    lines = [
        f"{diff.regulation} — thông báo thay đổi đặc tả / specification change notice",
        f"Cũ / Old:  {one_line(_side(diff.old, diff.old_version))}",
        f"Mới / New: {one_line(_side(diff.new, diff.new_version))}",
        _totals(diff),
    ]
    for scope, changes in _grouped(diff):
        lines += ["", one_line(f"{scope.vi} / {scope.en}")]
        for c in changes:
            vi, en = _IMPACT_TEXT[c.impact]
            lines.append(f"  [{vi} / {en}] {one_line(c.subject)}: {c.label[0]} / {c.label[1]}")
            if c.old is not None or c.new is not None:
                lines.append(f"      {one_line(_short(c.old))} → {one_line(_short(c.new))}")
    if not diff.changes:
        lines += ["", "Không có thay đổi. / No changes."]
    return "\n".join(lines + ["", _VERDICT[diff.breaking]]) + "\n"


def render_markdown(diff: SpecDiff) -> str:
    from .render import md, md_code

    lines = [
        f"# {md(diff.regulation)} — Thông báo thay đổi đặc tả / Specification change notice",
        "",
        f"* Cũ / Old: {md(_side(diff.old, diff.old_version))}",
        f"* Mới / New: {md(_side(diff.new, diff.new_version))}",
        f"* {_totals(diff)}",
        "",
        f"**{_VERDICT[diff.breaking]}**",
    ]
    for scope, changes in _grouped(diff):
        lines += ["", f"## {md(scope.vi)} / {md(scope.en)}", ""]
        lines += ["| Trường / Field | Thay đổi / Change | Cũ / Old | Mới / New | Mức / Class |", "|---|---|---|---|---|"]
        for c in changes:
            vi, en = _IMPACT_TEXT[c.impact]
            mark = f"**{vi} / {en}**" if c.impact is Impact.BREAKING else f"{vi} / {en}"
            lines.append(
                f"| {md_code(c.subject)} | {c.label[0]} / {c.label[1]} | {md(_short(c.old))} | {md(_short(c.new))} | {mark} |"
            )
    return "\n".join(lines) + "\n"


def render_json(diff: SpecDiff) -> str:
    def side(s: Side, version: str) -> dict[str, str | None]:
        return {"source": s.label, "revision": s.revision, "spec_version": version}

    data = {
        "regulation": diff.regulation,
        "old": side(diff.old, diff.old_version),
        "new": side(diff.new, diff.new_version),
        "breaking": diff.breaking,
        "summary": {i.value: diff.count(i) for i in Impact},
        "changes": [
            {
                "group": {"vi": c.scope.vi, "en": c.scope.en},
                "packet": c.scope.packet,
                "table": c.table,
                "subject": c.subject,
                "kind": c.kind,
                "class": c.impact.value,
                "old": c.old,
                "new": c.new,
                "vi": c.label[0],
                "en": c.label[1],
            }
            for c in diff.changes
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

"""`learn --write`: add observed fields and a capture source to spec/ by textual insertion.

Only lines are inserted, so every comment and the layout of the YAML files stay as they were. A
capture set is identified by a fingerprint of its lines; a second run with the same captures finds
every key already in the spec and the source already listed, and changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import directions, ir
from ..loader import plain_is_text
from ..naming import wire_name_problem
from .compare import PacketReport, Report, UnknownKey, unknown_key

SPEC_TYPES = {"datetime", "flag", "integer", "decimal"}
_SOURCE_ID = re.compile(r"^S[0-9]{1,3}[a-z]?$")


class WriteError(Exception):
    """The spec cannot take what was learned; the message says why. Nothing was written."""


@dataclass
class WriteResult:
    """What ``write_spec`` did: files changed, fields added (packet, record, name), the source id."""

    changed: list[str] = field(default_factory=list)
    added: list[tuple[str, str, str]] = field(default_factory=list)
    source_id: str | None = None
    codes: list[tuple[str, str]] = field(default_factory=list)


def write_spec(
    spec_dir: Path,
    reg: ir.Regulation,
    report: Report,
    *,
    supplied_by: str,
    source_id: str | None = None,
) -> WriteResult:
    """Insert observed fields and a source entry into ``spec_dir``; a no-op when nothing is new."""
    learned = _learned(report)
    codes = _new_codes(report)
    result = WriteResult()
    if not learned and not codes:
        return result
    sources_path = spec_dir / "sources.yaml"
    sources_text = _read(sources_path)
    mark = f"capture fingerprint {report.fingerprint}"
    result.source_id = _existing_source(sources_text, mark) or _new_source_id(reg, source_id)
    texts: dict[Path, str] = {}
    if mark not in sources_text:
        entry = _source_entry(result.source_id, mark, report, learned, codes, supplied_by)
        texts[sources_path] = _append_source(sources_text, entry)
    taken = {r.name for r in reg.records}
    for rep, unknown in learned:
        path = _file_of(spec_dir, reg, unknown.record)
        text = texts.get(path) or _read(path)
        context = _Context(rep, report, result.source_id, taken)
        field_lines, records = _field_and_records(unknown, context, 1)
        text = insert_field(text, reg, unknown.record, field_lines, path)
        for record in records:
            text = insert_record(text, record)
        texts[path] = text
        result.added.append((rep.packet, unknown.record, unknown.name))
    codes_path = spec_dir / "codelists.yaml"
    for codelist, code, where in codes:
        text = texts.get(codes_path) or _read(codes_path)
        texts[codes_path] = insert_code(text, codelist, _code_entry(code, where, result.source_id), codes_path)
        result.codes.append((codelist, code))
    _commit(spec_dir, texts)
    result.changed = sorted(str(p) for p in texts)
    return result


def _learned(report: Report) -> list[tuple[PacketReport, UnknownKey]]:
    """Unknown keys that can become fields: identifiers, once per record (a record may be reached
    by several paths or packets)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for rep in report.packets:
        for unknown in rep.unknown:
            if unknown.rejected is not None:
                continue  # a typo, or a key a complete table lacks: reported, never proposed
            if wire_name_problem(unknown.name) is None and (unknown.record, unknown.name) not in seen:
                seen.add((unknown.record, unknown.name))
                out.append((rep, unknown))
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WriteError(f"{path}: cannot read: {exc}") from None


def _existing_source(text: str, mark: str) -> str | None:
    """The id of the source entry that already records this capture set."""
    current = None
    for line in text.splitlines():
        found = re.match(r"^\s*- id:\s*\"?([A-Za-z0-9]+)\"?\s*$", line)
        if found:
            current = found.group(1)
        elif mark in line:
            return current
    return None


def _new_source_id(reg: ir.Regulation, wanted: str | None) -> str:
    taken = {s.id for s in reg.sources}
    if wanted is not None:
        if not _SOURCE_ID.match(wanted):
            raise WriteError(f"--source-id {wanted!r}: expected S followed by 1-3 digits (and a letter), e.g. S30")
        if wanted in taken:
            raise WriteError(f"--source-id {wanted}: already used in sources.yaml")
        return wanted
    numbers = [int(re.sub(r"[^0-9]", "", s.id)) for s in reg.sources if _SOURCE_ID.match(s.id)]
    return f"S{max(numbers, default=0) + 1}"


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escaping is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _plain_or_quoted(name: str) -> str:
    """A key's name as the spec writes it: plain, unless the loader would read it as something else
    (a key named null, True, ON or no is quoted)."""
    return name if plain_is_text(name) else _q(name)


def _dates(report: Report) -> str:
    return f"{report.dates[0]} to {report.dates[1]}" if report.dates else "dates not recorded"


def _dates_vi(report: Report) -> str:
    return f"từ {report.dates[0]} đến {report.dates[1]}" if report.dates else "không ghi ngày"


def _source_entry(
    sid: str,
    mark: str,
    report: Report,
    learned: list[tuple[PacketReport, UnknownKey]],
    codes: list[tuple[str, str, str]],
    supplied_by: str,
) -> str:
    packets = sorted({rep.packet for rep in report.packets})
    keys = sorted({(rep.packet, rep.direction) for rep, _ in learned})
    gives = "; ".join(
        f"{p} ({directions.CAPTURE[d].en}): "
        + ", ".join(u.path for rep, u in learned if (rep.packet, rep.direction) == (p, d))
        for p, d in keys
    )
    if codes:
        gives += ("; " if gives else "") + "codes: " + ", ".join(f"{cl} {code}" for cl, code, _ in codes)
    return (
        f"  - id: {sid}\n"
        f"    title: {_q(f'Traffic capture: {report.captures} exchange(s) of ' + ', '.join(packets) + f' ({_dates(report)})')}\n"
        "    kind: capture\n"
        f"    reference: {_q(f'qcvngen learn, {mark}; {report.records} record(s); supplied by {supplied_by}')}\n"
        f"    gives: {_q('Keys observed in accepted traffic (membership observed, shapes only, never values) — ' + gives)}\n"
    )


def _append_source(text: str, entry: str) -> str:
    return text.rstrip("\n") + "\n" + entry


def _spec_type(u: UnknownKey) -> tuple[str, str | None]:
    if u.kind in SPEC_TYPES:
        return u.kind, None
    if u.kind == "list":
        return "list", "string" if u.item_kind in ("string", "code") else "any"
    if u.kind in ("string", "code"):
        return "string", None
    return "any", None


def _confidence(u: UnknownKey) -> str:
    # Traffic shows that a key exists, never what the regulation calls it: at most medium.
    steady = u.kind not in ("any", "string") or len([k for k in u.stats.kinds if k not in ("empty", "null")]) == 1
    return "medium" if u.stats.captures >= 2 and u.stats.records >= 10 and steady else "low"


# Capture kinds that are not field kinds, in both languages.
_EXTRA_KINDS = {"empty": ("chuỗi rỗng", "empty"), "null": ("null", "null"), "boolean": ("boolean JSON", "JSON boolean")}


def _kind_words(kind: str) -> tuple[str, str]:
    from ..kinds import KINDS

    info = KINDS.get(kind)  # type: ignore[call-overload]
    if info is not None:
        return info.label.vi, info.label.en
    return _EXTRA_KINDS.get(kind, (kind, kind))


def _field_notes(u: UnknownKey, report: Report, direction: str) -> tuple[str, str]:
    """The observed field's note in Vietnamese and English: shapes and counts, never a value.

    Nothing about personal data is said here: the field's own ``pii:`` says it, and stays right
    when a reviewer changes it.
    """
    kinds = sorted(u.stats.kinds.items())
    where = directions.CAPTURE.get(direction, directions.CAPTURE["answer"])
    vi = (
        f"qcvngen learn quan sát thấy khóa này trong {u.stats.records} bản ghi thuộc {u.stats.captures} lần trao đổi "
        f"được thu lại ({where.vi}, {_dates_vi(report)}); kiểu giá trị: "
        + ", ".join(f"{_kind_words(k)[0]} {n}" for k, n in kinds)
    )
    en = (
        f"Observed by qcvngen learn in {u.stats.records} record(s) of {u.stats.captures} captured exchange(s) "
        f"({where.en}, {_dates(report)}); value kinds: " + ", ".join(f"{_kind_words(k)[1]} {n}" for k, n in kinds)
    )
    if u.stats.max_length is not None:
        vi += f"; giá trị dài nhất {u.stats.max_length} ký tự"
        en += f"; longest value {u.stats.max_length} characters"
    if u.stats.list_length:
        vi += "; danh sách có từ {} đến {} phần tử".format(*u.stats.list_length)
        en += "; list length {}-{}".format(*u.stats.list_length)
    vi += ". Chưa rõ ý nghĩa và dòng tương ứng trong quy chuẩn: cần xem xét trước khi dựa vào."
    en += ". Meaning and regulation row unknown: review before relying on it."
    return vi, en


def _notes_lines(indent: str, vi: str, en: str) -> list[str]:
    return [f"{indent}notes:", f"{indent}  vi: {_q(vi)}", f"{indent}  en: {_q(en)}"]


@dataclass
class _Context:
    """What every entry of one learned key needs: its packet report, the report, the source id and
    the record names already taken (new nested records get fresh ones)."""

    rep: PacketReport
    report: Report
    sid: str
    taken: set[str]


def _record_name(name: str, taken: set[str]) -> str:
    base = "".join(part[:1].upper() + part[1:].lower() for part in name.split("_") if part) + "Observed"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}{number}", number + 1
    taken.add(candidate)
    return candidate


def _children(u: UnknownKey, rep: PacketReport, base: str, record: str) -> list[UnknownKey]:
    """The keys directly under ``base`` (``A.`` or ``A[].``) as keys of the new record ``record``."""
    out = []
    for path in sorted(rep.paths):
        rest = path[len(base) :]
        if not path.startswith(base) or not rest or "." in rest or "[" in rest or rest == "*":
            continue
        if wire_name_problem(rest) is not None:  # as for the top-level keys: no spec can take it
            continue
        out.append(unknown_key(rep, path, record, rest, u.depth + 1))
    return out


def _field_and_records(u: UnknownKey, ctx: _Context, depth: int) -> tuple[list[str], list[list[str]]]:
    """The field entry of ``u`` and the nested record entries it needs (typed, with their keys)."""
    type_lines, records = _type_of(u, ctx, depth)
    lines = [
        f"- name: {_plain_or_quoted(u.name)}",
        f"  title: {{vi: {_q(u.name + ' (khóa quan sát được trong lưu lượng)')}, en: {_q(u.name + ' (key observed in traffic)')}}}",
        *type_lines,
        "  required: false",
        "  membership: observed",
        f"  sources: [{ctx.sid}]",
        # Shapes cannot tell a name or a phone number from a harmless value: personal data until a
        # reviewer says otherwise, so that no log or sandbox view shows these values.
        f"  confidence: {_confidence(u)}",
        "  pii: true",
        *_notes_lines("  ", *_field_notes(u, ctx.report, ctx.rep.direction)),
    ]
    return lines, records


def _type_of(u: UnknownKey, ctx: _Context, depth: int) -> tuple[list[str], list[list[str]]]:
    nested_base = {"record": f"{u.path}.", "list": f"{u.path}[]."}.get(u.kind)
    is_records = u.kind == "record" or (u.kind == "list" and u.item_kind == "record")
    if nested_base is not None and is_records and depth < 4:
        name = _record_name(u.name, ctx.taken)
        children = _children(u, ctx.rep, nested_base, name)
        if children:
            fields: list[str] = []
            records: list[list[str]] = []
            for child in children:
                entry, more = _field_and_records(child, ctx, depth + 1)
                fields += entry
                records += more
            title = f"{{vi: {_q(u.name + ' (bản ghi lồng quan sát được)')}, en: {_q(u.name + ' (observed nested record)')}}}"
            record = [f"- name: {name}", f"  title: {title}", "  fields:", *(f"    {line}" for line in fields)]
            typed = ["  type: record", f"  record: {name}"] if u.kind == "record" else ["  type: list", f"  of: {name}"]
            return typed, [record, *records]
    kind, of = _spec_type(u)
    return [f"  type: {kind}", *([f"  of: {of}"] if of else [])], []


def _new_codes(report: Report) -> list[tuple[str, str, str]]:
    """(code list, code, where seen) for each code a list lacks, once per list, in a stable order."""
    found: dict[tuple[str, str], list[str]] = {}
    for rep in report.packets:
        for path, codelist, codes in rep.new_codes:
            for code in codes:
                found.setdefault((codelist, code), []).append(f"{rep.packet} {path} ({rep.direction})")
    return [(cl, code, ", ".join(sorted(set(w)))) for (cl, code), w in sorted(found.items())]


def _code_entry(code: str, where: str, sid: str) -> list[str]:
    vi = f"qcvngen learn thấy tại {where} (nguồn {sid}); chưa rõ ý nghĩa: hãy xem xét trước khi dựa vào."
    en = f"Seen by qcvngen learn at {where} (source {sid}); meaning unknown: review before relying on it."
    return [
        f"- code: {_q(code)}",
        '  title: {vi: "Mã quan sát được trong lưu lượng", en: "code observed in traffic"}',
        "  membership: observed",
        *_notes_lines("  ", vi, en),
    ]


def _file_of(spec_dir: Path, reg: ir.Regulation, record: str) -> Path:
    number = reg.record(record).table
    if number is None:
        raise WriteError(f"record {record} belongs to no field table: add its keys by hand")
    return spec_dir / "tables" / Path(reg.table(number).file).name


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def insert_field(text: str, reg: ir.Regulation, record: str, entry: list[str], path: Path) -> str:
    """``text`` with ``entry`` appended to the fields of ``record`` (the table's, or a nested one)."""
    lines = text.splitlines(keepends=True)
    table = reg.table(reg.record(record).table or 0)
    if table.record == record:
        return _insert(lines, 0, "fields", entry, f"{path}: no top-level 'fields:'")
    return _insert(lines, _named_line(lines, record, path), "fields", entry, f"{path}: {record} has no 'fields:'")


def insert_record(text: str, entry: list[str]) -> str:
    """``text`` (a table file) with the nested record ``entry`` appended to its ``records:``."""
    lines = text.splitlines(keepends=True)
    if _header(lines, 0, "records") is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append("records:\n")
    return _insert(lines, 0, "records", entry, "no top-level 'records:'")


def insert_code(text: str, codelist: str, entry: list[str], path: Path) -> str:
    """``text`` (codelists.yaml) with ``entry`` appended to the codes of ``codelist``."""
    lines = text.splitlines(keepends=True)
    return _insert(lines, _named_line(lines, codelist, path), "codes", entry, f"{path}: {codelist} has no 'codes:'")


def _insert(lines: list[str], start: int, key: str, entry: list[str], missing: str) -> str:
    """Append ``entry`` to the list under the first ``key:`` at or after line ``start``."""
    header = _header(lines, start, key)
    if header is None:
        raise WriteError(missing)
    base = _indent(lines[header])
    if re.match(rf"^ *{key}: *\[\] *(#.*)?$", lines[header]):
        lines[header] = " " * base + f"{key}:\n"
        end = header + 1
    else:
        end = _block_end(lines, header, base)
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, "".join(" " * (base + 2) + line + "\n" for line in entry))
    return "".join(lines)


def _header(lines: list[str], start: int, key: str) -> int | None:
    """The ``key:`` line of the item at ``start`` (or, for 0, at the top level)."""
    for index in range(start, len(lines)):
        line = lines[index]
        if index > start and start and line.strip() and _indent(line) <= 2 and not line.lstrip().startswith("#"):
            return None  # the next item began: this one has no such key
        if re.match(rf"^ *{key}:", line) and (start or _indent(line) == 0):
            return index
    return None


def _named_line(lines: list[str], name: str, path: Path) -> int:
    """The line of the list item ``- name: <name>`` (a nested record or a code list)."""
    for index, line in enumerate(lines):
        if re.match(rf"^ *- name: *\"?{re.escape(name)}\"? *$", line) and _indent(line) == 2:
            return index
    raise WriteError(f"{path}: {name} not found")


def _block_end(lines: list[str], header: int, base: int) -> int:
    """The index after the last line of the block that starts at ``header`` (trailing blanks out)."""
    end = len(lines)
    for index in range(header + 1, len(lines)):
        line = lines[index]
        if line.strip() and not line.lstrip().startswith("#") and _indent(line) <= base:
            end = index
            break
    while end > header + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def _commit(spec_dir: Path, texts: dict[Path, str]) -> None:
    """Check the new spec in a copy first; then replace each file atomically."""
    from ..pipeline import load_spec

    with tempfile.TemporaryDirectory(prefix="qcvngen-learn-") as tmp:
        copy = Path(tmp) / "spec"
        shutil.copytree(spec_dir, copy)
        for path, text in texts.items():
            (copy / path.relative_to(spec_dir)).write_text(text, encoding="utf-8")
        reg, diagnostics = load_spec(copy)
        if reg is None:
            shown = "; ".join(str(d) for d in diagnostics[:5])
            raise WriteError(f"the learned fields would make the spec invalid, nothing was written: {shown}")
    for path, text in texts.items():
        temp = path.with_name(path.name + ".learn-tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)

"""`qcvngen validate-data`: why a packet would be rejected, field by field, in Vietnamese and English.

The verdict is the published JSON Schema's (whose patterns read alike in ECMA-262 and Python's
``re``), on the payload as the generated server reads it (strict JSON, strings as sent, ``5.0`` as
``5``). The
schema is built in memory from the IR; the rule, table and row of every finding come from the IR
fields themselves, never from walking a generated artefact back.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from . import ir, naming, wire
from .kinds import KINDS, wire_kinds
from .suggest import closest, did_you_mean, either
from .targets.jsonschema import bundle
from .targets.schema_builder import SchemaBuilder
from .wirejson import NotWireJson

# What a finding says of each rule it can name (vi, en). A field kind's rule is the kind registry's
# own text (``kinds.KINDS[kind].rule``), so the validator, the docs and the generated code agree.
_FINDING_TEXT: dict[str, tuple[str, str]] = {
    "required": ("thiếu trường bắt buộc", "missing required field"),
    "additionalProperties": (
        "trường không có trong bảng (bảng đã đầy đủ)",
        "field not in the table (the table is complete)",
    ),
    "type": ("sai kiểu dữ liệu", "wrong type"),
    "maxLength": ("dài quá số ký tự tối đa", "longer than the maximum length"),
    "minItems": ("danh sách không được rỗng", "the list must not be empty"),
    "const": ("giá trị không đúng", "wrong value"),
    "json": ("không phải JSON hợp lệ", "not valid JSON"),
    "shape": ("không nhận ra dạng dữ liệu", "unrecognised payload shape"),
    "session": (
        "thiếu session: phiên làm việc do tầng gửi thêm vào khi gửi",
        "no session: the sending layer adds the login token at send time",
    ),
    "unknown-key": (
        "khóa chưa biết (bảng chưa đầy đủ): được chấp nhận và báo cáo",
        "key unknown to the spec (incomplete table): accepted and reported",
    ),
}
RULE_TEXT: dict[str, tuple[str, str]] = {
    **{name: info.rule for name, info in KINDS.items() if info.rule is not None},
    **_FINDING_TEXT,
}
# Field kinds whose findings are named after the kind ("must be a valid date-time"), not the keyword:
# the kinds carried by a named wire scalar type.
KIND_RULES = frozenset(info.name for info in wire_kinds())
# Schema keywords whose findings are named after the keyword, whatever the field's kind.
KEYWORD_RULES = frozenset({"maxLength", "minItems", "const"})
# The packet name of a login payload (``--packet Login``): the envelope's, not a packet of Table 1.
LOGIN = "Login"
# The largest payload file `validate-data` reads (the help says 64 MiB): larger is refused unread.
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
# The generated server's reading (docs/wire-conventions.md): nesting past this is refused.
MAX_DEPTH = 32

# -- text that carries payload-derived parts, escaped for where it goes -----------------------------
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with every control, format and line/paragraph separator character spelled out
    (``\\n``, ``\\x1b``, ``\\u2028``), so that one finding stays one line whatever a payload holds."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_spelled(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in text)


def _spelled(ch: str) -> str:
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def github_data(text: str) -> str:
    """The message part of a workflow command, escaped by GitHub's rules (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A property value of a workflow command (``file=…``), escaped by GitHub's rules (data's, and ``:`` ``,``)."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Finding:
    """One problem (or warning) of one payload: where, which rule, which regulation row, and why."""

    file: str
    path: str
    rule: str
    severity: str
    ref: str
    vi: str
    en: str

    def text(self) -> str:
        """One line for a terminal; payload-derived parts cannot break it."""
        label = "" if self.severity == "error" else f"{self.severity}: "
        return one_line(f"{self.file}: {self.path}: {label}[{self.ref}] {self.rule}: {self.vi} / {self.en}")

    def github(self) -> str:
        """One GitHub Actions workflow command (an annotation) that no payload can forge another from."""
        kind = "error" if self.severity == "error" else "warning"
        file, title = github_property(one_line(self.file)), github_property(one_line(f"QCVN 120 {self.ref}"))
        return f"::{kind} file={file},title={title}::{github_data(one_line(f'{self.path}: {self.vi} / {self.en}'))}"


class UsageError(Exception):
    """The command was called wrongly (unknown packet, undetectable shape without --packet)."""


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def wire_reading(data: Any) -> Any:
    """A copy of ``data`` as the generated server reads it before validating: strings as sent (a
    length counts the code points every JSON Schema reader counts; the server puts them in NFC only
    after judging), whole floats as ints; lone surrogates, non-finite numbers and nesting past
    MAX_DEPTH refused."""
    return _read(data, ())


def _read(value: Any, path: tuple[int | str, ...]) -> Any:
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise NotWireJson("a lone surrogate (\\ud800-\\udfff) is not Unicode text", path)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotWireJson("not a finite number", path)
        # 5.0 as 5, as the server reads it; a whole double whose int is not the number it
        # writes (1e308) stays a double there too.
        return int(value) if value.is_integer() and int(value) == Decimal(repr(value)) else value
    if isinstance(value, (dict, list)) and len(path) >= MAX_DEPTH:
        raise NotWireJson(f"nested deeper than {MAX_DEPTH} levels", path)
    if isinstance(value, dict):
        return _read_object(value, path)
    if isinstance(value, list):
        return [_read(item, (*path, index)) for index, item in enumerate(value)]
    return value


def _read_object(value: dict[str, Any], path: tuple[int | str, ...]) -> dict[str, Any]:
    """Keys as sent, as the server and every JSON Schema reader read them (a KELVIN SIGN for ``K``
    makes another key); a lone surrogate in a key is refused like one in a value."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if _SURROGATE.search(key):
            raise NotWireJson("a key holds a lone surrogate", path)
        out[key] = _read(item, (*path, key))
    return out


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(parts: Any) -> str:
    """``$.data[0].NgayTiepNhan``; a key that is not a plain name is quoted as a JSON string."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_NAME.fullmatch(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not wire.ecma_search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def ecma_validator_class() -> Any:
    """python-jsonschema's Draft 2020-12 validator with ECMA-262 ``pattern`` (``$`` = end of string)."""
    import jsonschema

    extend: Any = jsonschema.validators.extend  # untyped in types-jsonschema
    return extend(jsonschema.Draft202012Validator, {"pattern": _ecma_pattern})


# -- where a value sits in the regulation: IR frames, not schema nodes ---------------------------------
@dataclass(frozen=True)
class Frame:
    """An object a payload holds at some path: its fields by wire name, whether unknown keys are
    allowed, its regulation table, and the records of list/record values the IR fixes per packet."""

    fields: Mapping[str, ir.Field]
    open: bool
    table: int | None
    items: Mapping[str, str] = field(default_factory=dict)


def _record_frame(record: ir.Record) -> Frame:
    return Frame({f.wire_name: f for f in record.fields}, record.open, record.table)


def _packet_frames(reg: ir.Regulation, packet: ir.Packet) -> dict[str, Frame]:
    """The request and response envelopes of ``packet`` (as the schema builder shapes them)."""
    env = reg.envelope
    request = {f.wire_name: f for f in env.request.fields if f.wire_name != "data" or packet.data_record}
    request.update({f.wire_name: f for f in packet.params})
    data = {"data": packet.data_record} if packet.data_record else {}
    result = {"result": packet.result_record} if packet.result_record else {}
    return {
        naming.request_model(packet.name): Frame(request, False, None, data),
        naming.response_model(packet.name): Frame({f.wire_name: f for f in env.response.fields}, True, None, result),
    }


def frames(reg: ir.Regulation) -> dict[str, Frame]:
    """Every definition a payload can be checked against, as an IR frame, by definition name."""
    env = reg.envelope
    out = {record.name: _record_frame(record) for record in (*reg.records, env.login_request, env.login_response)}
    for packet in reg.packets:
        out.update(_packet_frames(reg, packet))
    return out


class PayloadValidator:
    """Checks payloads of one regulation; one instance serves many files."""

    def __init__(self, reg: ir.Regulation) -> None:
        self.reg = reg
        self.frames = frames(reg)
        self._defs = bundle(reg, SchemaBuilder(reg, "#/$defs/", extensions=False))
        self._validator_class = ecma_validator_class()
        self._validators: dict[str, Any] = {}

    def _validator(self, definition: str) -> Any:
        if definition not in self._validators:
            schema = {"$ref": f"#/$defs/{definition}", "$defs": self._defs}
            self._validators[definition] = self._validator_class(schema)
        return self._validators[definition]

    def _frame(self, name: str | None) -> Frame | None:
        return self.frames.get(name) if name else None

    def locate(self, definition: str, path: list[Any]) -> tuple[ir.Field | None, Frame | None]:
        """The IR field whose value holds ``path`` (None at the top), and the frame of the object
        at ``path`` when it is one (None for a scalar, a list or a key the IR does not know)."""
        frame = self._frame(definition)
        found: ir.Field | None = None
        holder: Frame | None = None
        for part in path:
            if isinstance(part, int):
                target = holder.items.get(found.wire_name) if holder and found else None
                frame = self._frame(target or (found.type.nested_record if found else None))
                continue
            if frame is None or part not in frame.fields:
                return found, None
            holder, found = frame, frame.fields[part]
            frame = self._frame(found.type.record) if found.type.kind == "record" else None
        return found, frame

    def check_packet(self, packet: str | None) -> None:
        """Refuse a ``--packet`` name the spec does not have, naming the closest ones."""
        known = [*(p.name for p in self.reg.packets), LOGIN]
        if packet is not None and packet not in known:
            raise UsageError(f"unknown packet '{packet}'{did_you_mean(packet, known)}")

    def detect(self, data: Any, packet: str | None) -> tuple[str, Any]:
        """(definition, data) for a full envelope, a bare data array, or a single record."""
        self.check_packet(packet)
        names = {p.name: p for p in self.reg.packets}
        service = data.get("service") if isinstance(data, dict) else None
        if isinstance(service, str) and service in names:
            return naming.request_model(service), data
        if isinstance(data, dict) and {"username", "password"} <= set(data):
            return self.reg.envelope.login_request.name, data
        if packet is None:
            raise UsageError(f"cannot tell the packet: give --packet NAME ({_service_problem(service, names)})")
        found = names.get(packet)
        record = found.data_record or found.result_record if found else None
        envelope = {f.wire_name for f in self.reg.envelope.request.fields}
        if found and isinstance(data, dict) and not envelope.isdisjoint(data):
            # A request of --packet whose service is wrong or missing (``SERVICE``): say so.
            return naming.request_model(packet), data
        if isinstance(data, dict) and "error_code" in data:
            return naming.response_model(packet) if found else self.reg.envelope.login_response.name, data
        if record is None:
            raise UsageError(f"packet '{packet}' has no record table")
        if isinstance(data, list):
            return f"{record}[]", data
        return record, data

    def validate(self, file: str, data: Any, packet: str | None) -> list[Finding]:
        """Every finding for one payload (errors and warnings); [] when it is valid and complete."""
        return self._read_and_validate(file, data, lambda read: self.detect(read, packet))

    def validate_as(self, file: str, definition: str, data: Any) -> list[Finding]:
        """Every finding for ``data`` read as the schema ``definition`` (``ThongKeHoSoTheoKyResponse``),
        for a payload whose shape is known rather than detected."""
        return self._read_and_validate(file, data, lambda read: (definition, read))

    def _read_and_validate(self, file: str, data: Any, shape: Callable[[Any], tuple[str, Any]]) -> list[Finding]:
        """Read ``data`` as the server does (a payload it cannot read is one ``json`` finding), then
        validate it as the definition ``shape`` names (``Name[]``: each item as ``Name``)."""
        try:
            read = wire_reading(data)
        except NotWireJson as exc:
            vi, en = RULE_TEXT["json"]
            return [Finding(file, json_path(exc.path), "json", "error", "-", f"{vi}: {exc}", f"{en}: {exc}")]
        definition, payload = shape(read)
        if not definition.endswith("[]"):
            return self._validate_one(file, definition, payload, [])
        findings: list[Finding] = []
        for index, item in enumerate(payload):
            findings.extend(self._validate_one(file, definition[:-2], item, [index]))
        return findings

    def _validate_one(self, file: str, definition: str, data: Any, prefix: list[Any]) -> list[Finding]:
        findings: list[Finding] = []
        errors = sorted(self._validator(definition).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors:
            path = list(error.absolute_path)
            if error.validator == "required":
                findings.extend(self._missing(file, definition, error, path, prefix))
            elif error.validator == "additionalProperties":
                findings.extend(self._not_in_table(file, definition, error.instance, path, prefix))
            else:
                found, _ = self.locate(definition, path)
                findings.append(
                    self._finding(
                        file, prefix + path, _rule(self.reg, str(error.validator), found), definition, found, error
                    )
                )
        findings.extend(self._unknown_keys(file, definition, data, prefix))
        return _unique(findings)

    def _missing(self, file: str, definition: str, error: Any, path: list[Any], prefix: list[Any]) -> Iterator[Finding]:
        """One finding per required key absent from the object at ``path``."""
        _, frame = self.locate(definition, path)
        for key in [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]:
            if not path and key == "session" and definition.endswith("Request"):
                # A payload file rarely holds a live token: OpenCPS adds it when sending.
                vi, en = RULE_TEXT["session"]
                yield Finding(file, "$.session", "session", "warning", "envelope", vi, en)
                continue
            known = frame.fields.get(key) if frame else None
            yield self._finding(file, prefix + path + [key], "required", definition, known, None)

    def _not_in_table(
        self, file: str, definition: str, instance: Any, path: list[Any], prefix: list[Any]
    ) -> Iterator[Finding]:
        """One finding per key that a complete table (or a closed envelope) does not have."""
        _, frame = self.locate(definition, path)
        if frame is None or not isinstance(instance, dict):
            return
        ref = f"Table {frame.table}" if frame.table is not None else "envelope"
        vi, en = RULE_TEXT["additionalProperties"]
        for key in sorted(set(instance) - set(frame.fields)):
            hint_vi, hint_en = _hint(key, frame.fields)
            yield Finding(
                file, json_path(prefix + path + [key]), "additionalProperties", "error", ref, vi + hint_vi, en + hint_en
            )

    def _finding(
        self, file: str, path: list[Any], rule: str, definition: str, found: ir.Field | None, error: Any
    ) -> Finding:
        vi, en = RULE_TEXT.get(rule, RULE_TEXT["type"])
        detail = ""
        if rule in ("maxLength", "const") and error is not None:
            detail = f" ({error.validator_value!r})" if rule == "const" else f" ({error.validator_value})"
        if rule == "code" and found is not None and found.type.codelist:
            detail = f" {found.type.codelist}"
        ref = found.origin.ref if found is not None else definition
        return Finding(file, json_path(path), rule, "error", ref, vi + detail, en + detail)

    def _unknown_keys(self, file: str, definition: str, data: Any, prefix: list[Any]) -> Iterator[Finding]:
        """Keys an open (incomplete) table accepts without knowing them: warnings, not errors."""
        vi, en = RULE_TEXT["unknown-key"]

        def walk(frame: Frame | None, value: Any, path: list[Any]) -> Iterator[Finding]:
            if frame is None or not isinstance(value, dict):
                return
            for key, item in value.items():
                known = frame.fields.get(key)
                if known is None:
                    if frame.open and frame.table is not None:
                        hint_vi, hint_en = _hint(key, frame.fields)
                        yield Finding(
                            file,
                            json_path(prefix + path + [key]),
                            "unknown-key",
                            "warning",
                            f"Table {frame.table}",
                            vi + hint_vi,
                            en + hint_en,
                        )
                    continue
                if known.type.kind == "record":
                    yield from walk(self._frame(known.type.record), item, [*path, key])
                elif isinstance(item, list):
                    inner = self._frame(frame.items.get(key) or known.type.nested_record)
                    for index, element in enumerate(item):
                        yield from walk(inner, element, [*path, key, index])

        yield from walk(self._frame(definition), data, [])


def _service_problem(service: Any, names: Mapping[str, ir.Packet]) -> str:
    """Why the payload's ``service`` key does not say the packet (the value is payload text: not echoed)."""
    if service is None:
        return "no 'service' key in the payload"
    if not isinstance(service, str):
        return "the payload's 'service' is not a string"
    return f"the payload's 'service' is not a packet of the spec{did_you_mean(service, names)}"


def _hint(key: str, known: Iterable[str]) -> tuple[str, str]:
    """The (vi, en) "did you mean" tails naming the known keys closest to ``key``."""
    close = closest(key, known)
    return (f" (có phải {either(close)}?)", f" (did you mean {either(close)}?)") if close else ("", "")


def _rule(reg: ir.Regulation, keyword: str, found: ir.Field | None) -> str:
    """The rule a schema error breaks, named from the IR field it sits in."""
    if keyword in KEYWORD_RULES:
        return keyword
    kind = found.type.kind if found is not None else None
    if kind in KIND_RULES:
        return str(kind)
    if found is not None and kind == "code" and reg.codelist(found.type.codelist or "").closed:
        return "code"
    return "type"


def _unique(findings: list[Finding]) -> list[Finding]:
    """Findings in order, each once (one value may break a rule through several schema keywords)."""
    seen: set[Finding] = set()
    out: list[Finding] = []
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            out.append(finding)
    return out


def report_json(findings: list[Finding], files: int) -> dict[str, Any]:
    """The ``--format json`` report (docs/validate-data.schema.json)."""
    errors = [f for f in findings if f.severity == "error"]
    return {
        "files": files,
        "valid": not errors,
        "errors": len(errors),
        "warnings": len(findings) - len(errors),
        "findings": [asdict(f) for f in findings],
    }

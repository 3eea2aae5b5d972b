"""`qcvngen validate-data`: why a packet would be rejected, field by field, in Vietnamese and English.

Payloads are checked against the JSON Schema built from the spec (the same one written to
generated/jsonschema/), so every finding can name the regulation table and row of its field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from . import ir
from .targets.schema_builder import SchemaBuilder
from .targets.jsonschema import bundle

RULE_TEXT = {
    "required": ("thiếu trường bắt buộc", "missing required field"),
    "additionalProperties": ("trường không có trong bảng (bảng đã đầy đủ)", "field not in the table (the table is complete)"),
    "datetime": ("phải là ngày giờ yyyyMMddHHmmss hợp lệ hoặc \"\"", "must be a valid yyyyMMddHHmmss date-time or \"\""),
    "integer": ("phải là số nguyên (dạng chuỗi)", "must be an integer (string-encoded)"),
    "decimal": ("phải là số thập phân (dạng chuỗi)", "must be a decimal number (string-encoded)"),
    "percent": ("phải là phần trăm (dạng chuỗi, có thể kèm %)", "must be a percentage (string-encoded, optional %)"),
    "flag": ("phải là \"True\" hoặc \"False\"", "must be \"True\" or \"False\""),
    "id": ("phải là chuỗi hoặc số", "must be a string or a number"),
    "code": ("không phải mã của danh mục", "not a code of the list"),
    "type": ("sai kiểu dữ liệu", "wrong type"),
    "maxLength": ("dài quá số ký tự tối đa", "longer than the maximum length"),
    "minItems": ("danh sách không được rỗng", "the list must not be empty"),
    "const": ("giá trị không đúng", "wrong value"),
    "json": ("không phải JSON hợp lệ", "not valid JSON"),
    "shape": ("không nhận ra dạng dữ liệu", "unrecognised payload shape"),
    "session": ("thiếu session: phiên làm việc do tầng gửi thêm vào khi gửi", "no session: the sending layer adds the login token at send time"),
    "unknown-key": ("khóa chưa biết (bảng chưa đầy đủ): được chấp nhận và báo cáo", "key unknown to the spec (incomplete table): accepted and reported"),
}
WIRE_RULES = {"WireDateTime": "datetime", "WireInteger": "integer", "WireIntegerOrEmpty": "integer", "WireDecimal": "decimal",
              "WireDecimalOrEmpty": "decimal", "WirePercent": "percent", "WirePercentOrEmpty": "percent", "WireFlag": "flag", "WireId": "id"}


@dataclass(frozen=True)
class Finding:
    file: str
    path: str
    rule: str
    severity: str
    ref: str
    vi: str
    en: str

    def text(self) -> str:
        label = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.file}: {self.path}: {label}[{self.ref}] {self.rule}: {self.vi} / {self.en}"

    def github(self) -> str:
        kind = "error" if self.severity == "error" else "warning"
        return f"::{kind} file={self.file},title=QCVN 120 {self.ref}::{self.path}: {self.vi} / {self.en}"


class UsageError(Exception):
    """The command was called wrongly (unknown packet, undetectable shape without --packet)."""


class _Duplicate(ValueError):
    pass


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_strict_pairs, parse_constant=_no_constants)


def _json_path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class PayloadValidator:
    def __init__(self, reg: ir.Regulation) -> None:
        import jsonschema

        self.reg = reg
        self.defs = bundle(reg, SchemaBuilder(reg, "#/$defs/"))
        self._jsonschema = jsonschema

    def _validator(self, definition: str) -> Any:
        schema = {"$ref": f"#/$defs/{definition}", "$defs": self.defs}
        return self._jsonschema.Draft202012Validator(schema)

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def _property(self, definition: str, path: list[Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The annotated property schema at ``path`` and the object schema holding it."""
        node: dict[str, Any] = self.defs[definition]
        parent: dict[str, Any] | None = None
        annotated: dict[str, Any] | None = None
        for part in path:
            node = self._resolve(node)
            if isinstance(part, int):
                items = node.get("items")
                if items is None:
                    for variant in node.get("anyOf", []):
                        items = self._resolve(variant).get("items", items)
                if items is None:
                    return None, None
                node = items
            else:
                parent = node
                prop = node.get("properties", {}).get(part)
                if prop is None:
                    return None, parent
                annotated = node = prop
        return annotated, parent

    def detect(self, data: Any, packet: str | None) -> tuple[str, Any]:
        """(bundle definition, data) for a full envelope, a bare data array, or a single record."""
        names = {p.name: p for p in self.reg.packets}
        if packet is not None and packet not in names and packet != "Login":
            raise UsageError(f"unknown packet '{packet}'")
        if isinstance(data, dict) and isinstance(data.get("service"), str) and data["service"] in names:
            return f"{data['service']}Request", data
        if isinstance(data, dict) and {"username", "password"} <= set(data):
            return "LoginRequest", data
        if packet is None:
            raise UsageError("cannot tell the packet: give --packet NAME (no 'service' key in the payload)")
        found = names.get(packet)
        record = found.data_record or found.result_record if found else None
        if isinstance(data, dict) and "error_code" in data:
            return f"{packet}Response", data
        if record is None:
            raise UsageError(f"packet '{packet}' has no record table")
        if isinstance(data, list):
            return f"{record}[]", data
        return record, data

    def validate(self, file: str, data: Any, packet: str | None) -> list[Finding]:
        definition, payload = self.detect(data, packet)
        if definition.endswith("[]"):
            findings: list[Finding] = []
            record = definition[:-2]
            if not isinstance(payload, list):
                return [self._finding(file, [], "shape", record, None, None)]
            for index, item in enumerate(payload):
                findings.extend(self._validate_one(file, record, item, [index]))
            return findings
        return self._validate_one(file, definition, payload, [])

    def _validate_one(self, file: str, definition: str, data: Any, prefix: list[Any]) -> list[Finding]:
        findings: list[Finding] = []
        for error in sorted(self._validator(definition).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
            path = list(error.absolute_path)
            if error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else ""
                prop, _ = self._property(definition, path + [missing])
                if not path and missing == "session" and definition.endswith("Request"):
                    # A payload file rarely holds a live token: OpenCPS adds it when sending.
                    vi, en = RULE_TEXT["session"]
                    findings.append(Finding(file, "$.session", "session", "warning", "envelope", vi, en))
                    continue
                findings.append(self._finding(file, prefix + path + [missing], "required", definition, prop, None))
            elif error.validator == "additionalProperties":
                holder = self._resolve(error.schema) if isinstance(error.schema, dict) else {}
                table = holder.get("x-qcvn120-table")
                for key in sorted(set(error.instance) - set(holder.get("properties", {}))):
                    found = self._finding(file, prefix + path + [key], "additionalProperties", definition, None, None)
                    findings.append(Finding(found.file, found.path, found.rule, found.severity, f"Table {table}" if table else "envelope", found.vi, found.en))
            else:
                prop, _ = self._property(definition, path)
                findings.append(self._finding(file, prefix + path, self._rule(error), definition, prop, error))
        findings.extend(self._unknown_keys(file, definition, data, prefix))
        return findings

    def _rule(self, error: Any) -> str:
        ref = error.schema.get("$ref") if isinstance(error.schema, dict) else None
        for node in (error.schema, *(error.parent.schema if error.parent else {},)):
            if isinstance(node, dict):
                title = node.get("title", "")
                if title in WIRE_RULES:
                    return WIRE_RULES[title]
                if "x-qcvn120-codelist" in node:
                    return "code"
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name in WIRE_RULES:
                return WIRE_RULES[name]
        return str(error.validator) if error.validator in RULE_TEXT else "type"

    def _finding(self, file: str, path: list[Any], rule: str, definition: str, prop: dict[str, Any] | None, error: Any) -> Finding:
        vi, en = RULE_TEXT.get(rule, RULE_TEXT["type"])
        detail = ""
        if rule == "maxLength" and error is not None:
            detail = f" ({error.validator_value})"
        if rule == "code" and prop is not None:
            codelist = self._resolve(prop).get("x-qcvn120-codelist") or prop.get("x-qcvn120-codelist")
            detail = f" {codelist}" if codelist else ""
        if rule == "const" and error is not None:
            detail = f" ({error.validator_value!r})"
        ref = prop.get("x-qcvn120-ref", "envelope") if prop else definition
        return Finding(file, _json_path(path), rule, "error", ref, vi + detail, en + detail)

    def _unknown_keys(self, file: str, definition: str, data: Any, prefix: list[Any]) -> Iterator[Finding]:
        """Keys an open (incomplete) table accepts without knowing them: warnings, not errors."""

        def walk(node: dict[str, Any], value: Any, path: list[Any]) -> Iterator[Finding]:
            node = self._resolve(node)
            if isinstance(value, dict) and node.get("type") == "object":
                props = node.get("properties", {})
                for key, item in value.items():
                    if key in props:
                        yield from walk(props[key], item, path + [key])
                    elif node.get("additionalProperties") is True and "x-qcvn120-table" in node:
                        vi, en = RULE_TEXT["unknown-key"]
                        yield Finding(file, _json_path(prefix + path + [key]), "unknown-key", "warning", f"Table {node['x-qcvn120-table']}", vi, en)
            elif isinstance(value, list):
                items = node.get("items")
                for variant in node.get("anyOf", []):
                    items = self._resolve(variant).get("items", items)
                if isinstance(items, dict):
                    for index, item in enumerate(value):
                        yield from walk(items, item, path + [index])

        yield from walk(self.defs[definition], data, [])


def report_json(findings: list[Finding], files: int) -> dict[str, Any]:
    errors = [f for f in findings if f.severity == "error"]
    return {"files": files, "valid": not errors, "errors": len(errors), "warnings": len(findings) - len(errors), "findings": [asdict(f) for f in findings]}

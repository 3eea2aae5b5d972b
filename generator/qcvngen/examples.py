"""Valid wire payloads built from the spec's own examples: test vectors, docs and sandbox seeds."""

from __future__ import annotations

from typing import Any

from . import ir, kinds


def example_record(reg: ir.Regulation, record_name: str, *, depth: int = 0) -> dict[str, Any]:
    """One record holding every field that has an example (nested records filled one level deep each)."""
    record = reg.record(record_name)
    out: dict[str, Any] = {}
    for field in record.fields:
        value = example_value(reg, field, depth=depth)
        if value is not None:
            out[field.wire_name] = value
    return out


def example_value(reg: ir.Regulation, field: ir.Field, *, depth: int = 0) -> Any:
    """The field's own example, else a valid value of its kind; None for an optional field without one."""
    kind = field.type.kind
    if field.example is not None:
        return field.example
    if kind == "code":
        return reg.codelist(field.type.codelist or "").codes[0].code
    if depth > 3:
        return [] if kind == "list" else None
    if kind == "record":
        return example_record(reg, field.type.record or "", depth=depth + 1)
    if kind == "list":
        nested = field.type.nested_record
        return [example_record(reg, nested, depth=depth + 1)] if nested else []
    if field.required:
        # The registry's example is a valid wire value of the kind (the spec gives one for nearly every field).
        example = kinds.kind(kind).example
        return example[: field.max_length] if example is not None and field.max_length else example
    return None


def example_request(
    reg: ir.Regulation, packet: ir.Packet, *, session: str = "example-session", madonvi: str = "000.00.00.G05"
) -> dict[str, Any]:
    """A complete, valid request envelope for ``packet``."""
    body: dict[str, Any] = {"session": session, "madonvi": madonvi, "service": packet.name}
    if packet.data_record is not None:
        body["data"] = [example_record(reg, packet.data_record)]
    for field in packet.params:
        value = example_value(reg, field)
        if value is not None:
            body[field.wire_name] = value
    return body

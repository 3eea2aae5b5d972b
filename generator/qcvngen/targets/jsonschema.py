"""JSON Schema 2020-12 documents: per packet (record, request, response), login, and one bundle."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from .. import ir, naming
from .common import Context, Files, dump_json
from .schema_builder import (
    SchemaBuilder,
    local_request_schema,
    local_response_schema,
    request_schema,
    response_schema,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "urn:qcvngen:qcvn120-2019:"
FOLDER = PurePosixPath("jsonschema")
BUNDLE = "qcvn120"


def schema_id(name: str) -> str:
    """The ``$id`` of the schema document ``name``."""
    return f"{ID_BASE}{name}"


def _document(ctx: Context, builder: SchemaBuilder, name: str, root: dict[str, Any]) -> str:
    doc: dict[str, Any] = {"$schema": DIALECT, "$id": schema_id(name), **root}
    # The generated-by line first; the root's own provenance (its table, its packet) after it.
    doc["$comment"] = "\n".join(c for c in (ctx.header_line, root.get("$comment")) if c)
    defs = builder.closure([root])
    if defs:
        doc["$defs"] = defs
    return dump_json(doc)


def bundle(reg: ir.Regulation, builder: SchemaBuilder) -> dict[str, Any]:
    """Every wire type, record, envelope and per-packet request/response under one ``$defs``."""
    env = reg.envelope
    defs: dict[str, Any] = dict(builder.scalars)
    defs.update({r.name: builder.record(r) for r in reg.records})
    for record in (env.login_request, env.login_response, env.request, env.response):
        defs[record.name] = builder.record(record)
    for packet in reg.packets:
        defs[naming.request_model(packet.name)] = request_schema(builder, packet)
        defs[naming.response_model(packet.name)] = response_schema(builder, packet)
    for service in env.local_services:
        defs[naming.request_model(service.name)] = local_request_schema(builder, service)
        defs[naming.response_model(service.name)] = local_response_schema(builder, service)
    return defs


def record_of(packet: ir.Packet) -> str | None:
    """The packet's own record: the items of ``data`` (push) or of ``result`` (pull)."""
    return packet.data_record if packet.direction == "push" else packet.result_record


def render(reg: ir.Regulation, ctx: Context) -> Files:
    """One schema per packet (record, request, response), the login pair, and the bundle."""
    # Published for any JSON Schema reader: no extension keywords (Ajv's strict mode refuses them);
    # each field's regulation trace is in its ``$comment``.
    builder = SchemaBuilder(reg, "#/$defs/", extensions=False)
    files: Files = {}
    for packet in reg.packets:
        record = record_of(packet)
        if record is not None:
            files[FOLDER / f"{packet.name}.record.schema.json"] = _document(
                ctx, builder, f"{packet.name}.record", builder.record(reg.record(record))
            )
        files[FOLDER / f"{packet.name}.request.schema.json"] = _document(
            ctx, builder, f"{packet.name}.request", request_schema(builder, packet)
        )
        files[FOLDER / f"{packet.name}.response.schema.json"] = _document(
            ctx, builder, f"{packet.name}.response", response_schema(builder, packet)
        )
    env = reg.envelope
    files[FOLDER / "Login.request.schema.json"] = _document(
        ctx, builder, "Login.request", builder.record(env.login_request)
    )
    files[FOLDER / "Login.response.schema.json"] = _document(
        ctx, builder, "Login.response", builder.record(env.login_response)
    )
    root = {"title": reg.meta.id, "description": f"{reg.meta.title.vi} — {reg.meta.title.en}"}
    files[FOLDER / f"{BUNDLE}.schema.json"] = dump_json(
        {
            "$schema": DIALECT,
            "$id": schema_id(BUNDLE),
            "$comment": ctx.header_line,
            **root,
            "$defs": bundle(reg, builder),
        }
    )
    return files

"""One OpenAPI 3.1 document describing what really goes on the wire: endpoint classes + ``service``."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from .. import ir
from .common import Context, Files, dump_json
from .jsonschema import bundle
from .schema_builder import SchemaBuilder

PATH = PurePosixPath("openapi") / "openapi.json"
SANDBOX_URL = "http://127.0.0.1:8120"


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


# Portal-style error answers of the generated server and the sandbox (docs/wire-conventions.md).
ERROR_STATUSES = {
    "400": "Yêu cầu không hợp lệ — invalid request (error_code -1, message names the field paths)",
    "401": "Phiên làm việc hoặc tài khoản không hợp lệ — invalid credentials or session (error_code -2)",
    "413": "Yêu cầu quá lớn — body or batch too large (error_code -1)",
    "415": "Content-Type phải là application/json — Content-Type must be application/json (error_code -1)",
    "500": "Lỗi máy chủ — server error (error_code -5, a correlation id only)",
}


def _ok(builder: SchemaBuilder, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The 200 answer with ``schema``, and the error statuses, each answered with the response envelope."""
    responses: dict[str, Any] = {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}}
    }
    envelope = builder.ref(builder.reg.envelope.response.name)
    for status, text in ERROR_STATUSES.items():
        responses[status] = {"description": text, "content": {"application/json": {"schema": envelope}}}
    return responses


def _login_operation(builder: SchemaBuilder, auth: ir.Endpoint) -> dict[str, Any]:
    env = builder.reg.envelope
    return {
        "operationId": "login",
        "summary": f"{auth.title.vi} — {auth.title.en}",
        "requestBody": _json_body(builder.ref(env.login_request.name)),
        "responses": _ok(
            builder, "Phiên làm việc — session (error_code ≠ 0 on failure)", builder.ref(env.login_response.name)
        ),
        "x-qcvn120-endpoint": auth.name,
    }


def _service_operation(builder: SchemaBuilder, endpoint: ir.Endpoint, packets: list[ir.Packet]) -> dict[str, Any]:
    """One endpoint serving several packets, told apart by the body's ``service`` key."""
    requests = [builder.ref(f"{p.name}Request") for p in packets]
    responses = [builder.ref(f"{p.name}Response") for p in packets]
    mapping = {p.name: f"{builder.ref_prefix}{p.name}Request" for p in packets}
    return {
        "operationId": endpoint.name,
        "summary": f"{endpoint.title.vi} — {endpoint.title.en}",
        "description": "The operation is selected by the body's `service` key: "
        + ", ".join(f"{p.name} ({p.number})" for p in packets),
        "requestBody": _json_body(
            {"oneOf": requests, "discriminator": {"propertyName": "service", "mapping": mapping}}
        ),
        "responses": _ok(builder, "Kết quả — result; business errors come as error_code ≠ 0", {"anyOf": responses}),
        "x-qcvn120-endpoint": endpoint.name,
        "x-qcvn120-services": [p.name for p in packets],
    }


def document(reg: ir.Regulation, ctx: Context) -> dict[str, Any]:
    """The OpenAPI document as data: the login path, one path per endpoint class, the bundle as components."""
    builder = SchemaBuilder(reg, "#/components/schemas/")
    schemas = bundle(reg, builder)
    auth = next(e for e in reg.envelope.endpoints if e.name == "auth")
    paths: dict[str, Any] = {auth.path: {"post": _login_operation(builder, auth)}}
    for endpoint in reg.envelope.endpoints:
        packets = [p for p in reg.packets if p.endpoint == endpoint.name]
        if endpoint.name != "auth" and packets:
            paths[endpoint.path] = {"post": _service_operation(builder, endpoint, packets)}
    return {
        "x-generated-by": ctx.header_line,
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": f"{reg.meta.id} — National Public Service Portal adapter",
            "version": reg.meta.spec_version,
            "description": f"{reg.meta.title.vi}\n\n{reg.meta.title.en}\n\n{ctx.header_line}",
            "x-qcvn120-circular": reg.meta.circular,
        },
        "servers": [{"url": SANDBOX_URL, "description": "qcvngen sandbox (local stand-in for the national portal)"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }


def render(reg: ir.Regulation, ctx: Context) -> Files:
    """``openapi/openapi.json``, opening with its generated-by line."""
    return {PATH: dump_json(document(reg, ctx), first="x-generated-by")}

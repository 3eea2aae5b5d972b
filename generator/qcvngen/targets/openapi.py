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


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}
    for status, text in ERROR_STATUSES.items():
        responses[status] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResponseEnvelope"}}},
        }
    return responses


def document(reg: ir.Regulation, ctx: Context) -> dict[str, Any]:
    builder = SchemaBuilder(reg, "#/components/schemas/")
    schemas = bundle(reg, builder)
    paths: dict[str, Any] = {}
    auth = next(e for e in reg.envelope.endpoints if e.name == "auth")
    paths[auth.path] = {
        "post": {
            "operationId": "login",
            "summary": f"{auth.title.vi} — {auth.title.en}",
            "requestBody": _json_body(builder.ref("LoginRequest")),
            "responses": _ok("Phiên làm việc — session (error_code ≠ 0 on failure)", builder.ref("LoginResponse")),
            "x-qcvn120-endpoint": auth.name,
        }
    }
    for endpoint in reg.envelope.endpoints:
        packets = [p for p in reg.packets if p.endpoint == endpoint.name]
        if endpoint.name == "auth" or not packets:
            continue
        requests = [builder.ref(f"{p.name}Request") for p in packets]
        responses = [builder.ref(f"{p.name}Response") for p in packets]
        paths[endpoint.path] = {
            "post": {
                "operationId": endpoint.name,
                "summary": f"{endpoint.title.vi} — {endpoint.title.en}",
                "description": "The operation is selected by the body's `service` key: "
                + ", ".join(f"{p.name} ({p.number})" for p in packets),
                "requestBody": _json_body(
                    {
                        "oneOf": requests,
                        "discriminator": {
                            "propertyName": "service",
                            "mapping": {p.name: f"#/components/schemas/{p.name}Request" for p in packets},
                        },
                    }
                ),
                "responses": _ok("Kết quả — result; business errors come as error_code ≠ 0", {"anyOf": responses}),
                "x-qcvn120-endpoint": endpoint.name,
                "x-qcvn120-services": [p.name for p in packets],
            }
        }
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
    return {PATH: dump_json(document(reg, ctx), first="x-generated-by")}

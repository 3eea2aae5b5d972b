"""OpenAPI 3.1 documents: one of the whole wire (endpoint classes + ``service``), and one per service.

A generator given the whole-wire document sees one operation per endpoint class, whose 200 answer
is any of the services' answers (nothing on the wire tells them apart); a generator given
``services/<Service>.json`` sees that service's own request and typed answer. Both describe the
canonical form a client writes (:mod:`.openapi_schemas`); the JSON Schemas judge what the server accepts.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from .. import ir, naming
from ..render import md_prose
from .common import Context, Files, dump_json, once_per_build
from .jsonschema import bundle
from .openapi_schemas import CanonicalSchemaBuilder
from .schema_builder import SchemaBuilder

FOLDER = PurePosixPath("openapi")
PATH = FOLDER / "openapi.json"
SERVICES = FOLDER / "services"
SANDBOX_URL = "http://127.0.0.1:8120"

# Portal-style error answers of the generated server and the sandbox (docs/wire-conventions.md).
ERROR_STATUSES = {
    "400": "Yêu cầu không hợp lệ — invalid request (error_code -1, message names the field paths)",
    "401": "Phiên làm việc hoặc tài khoản không hợp lệ — invalid credentials or session (error_code -2)",
    "413": "Yêu cầu quá lớn — body or batch too large (error_code -1)",
    "408": "Thân yêu cầu đến quá chậm — body not received in time (error_code -1, names body_timeout or min_body_rate)",
    "415": "Content-Type phải là application/json — Content-Type must be application/json (error_code -1)",
    "500": "Lỗi máy chủ — server error (error_code -5, a correlation id only)",
    "503": "Máy chủ đang bận, hãy thử lại — server busy receiving other bodies, retry later (error_code -5)",
}
# Only the login answers it: growing delays after failed logins, with a Retry-After header.
THROTTLED = (
    "Đăng nhập sai quá nhiều lần — too many failed logins, retry after the Retry-After header's seconds (error_code -2)"
)

CANONICAL = (
    "This document describes the canonical form a client writes and the server answers: string-encoded"
    " integers, decimals and identifiers are JSON strings, code lists are string enums (member names in"
    " `x-enum-varnames`, meanings in `x-enum-descriptions`), and a list or record is sent as a list or an"
    " object. The server tolerates more than this (a JSON number for a string-encoded number or a code,"
    ' `""` for an absent list or record): what it accepts is stated by the JSON Schemas in'
    " `generated/jsonschema/`, which are the judge of every request."
)
SESSION = (
    "No HTTP security scheme: `POST {auth}` takes `username` and `password` in the JSON body and answers"
    " a `session`; every other call carries that `session` (and the unit's `madonvi`) as keys of its JSON"
    " body, so the documents declare `security: []`. An unknown or expired session is answered with"
    " HTTP 401 and `error_code` -2 (docs/wire-conventions.md)."
)


# Keys whose values are data (a value, an example), not schema: their strings stay as they are.
_DATA_KEYS = frozenset({"example", "examples", "enum", "const", "default"})


# Keywords whose values map names (of properties, definitions) to schemas, never data.
_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def prose_descriptions(schemas: Any, *, names: bool = False) -> Any:
    """``schemas`` (JSON Schemas as OpenAPI components) with every ``description`` made safe for
    CommonMark (:func:`~qcvngen.render.md_prose`), which OpenAPI says it is read as; the published
    JSON Schemas, where a description is plain text, keep theirs as written. A copy: the builder's
    schemas are shared with other documents. ``names``: the keys of ``schemas`` are names (of
    properties, definitions), so a field called ``default`` or ``example`` is a schema like any other."""
    if isinstance(schemas, list):
        return [prose_descriptions(item) for item in schemas]
    if not isinstance(schemas, dict):
        return schemas
    if names:
        return {key: prose_descriptions(value) for key, value in schemas.items()}
    return {
        key: (
            value
            if key in _DATA_KEYS or key.startswith("x-")
            else md_prose(value)
            if key == "description" and isinstance(value, str)
            else prose_descriptions(value, names=key in _NAMED_SCHEMAS)
        )
        for key, value in schemas.items()
    }


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _answers(
    builder: SchemaBuilder, description: str, schema: dict[str, Any], *, login: bool = False
) -> dict[str, Any]:
    """The 200 answer with ``schema``, and the error statuses, each answered with the response envelope."""
    responses: dict[str, Any] = {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}}
    }
    envelope = builder.ref(builder.reg.envelope.response.name)
    errors = {**ERROR_STATUSES, "429": THROTTLED} if login else ERROR_STATUSES
    for status, text in sorted(errors.items()):
        responses[status] = {"description": text, "content": {"application/json": {"schema": envelope}}}
    return responses


def _auth(reg: ir.Regulation) -> ir.Endpoint:
    return next(e for e in reg.envelope.endpoints if e.name == "auth")


def _login_operation(builder: SchemaBuilder) -> dict[str, Any]:
    env = builder.reg.envelope
    auth = _auth(builder.reg)
    return {
        "operationId": "login",
        "summary": f"{auth.title.vi} — {auth.title.en}",
        "description": "Đăng nhập lấy phiên làm việc — log in for a session token (error_code ≠ 0 on failure).",
        "tags": [auth.name],
        "security": [],
        "requestBody": _json_body(builder.ref(env.login_request.name)),
        "responses": _answers(builder, "Phiên làm việc — session", builder.ref(env.login_response.name), login=True),
        "x-qcvn120-endpoint": auth.name,
    }


def _endpoint_operation(builder: SchemaBuilder, endpoint: ir.Endpoint, packets: list[ir.Packet]) -> dict[str, Any]:
    """One endpoint serving several packets, told apart by the body's ``service`` key."""
    requests = [builder.ref(naming.request_model(p.name)) for p in packets]
    answers = [builder.ref(naming.response_model(p.name)) for p in packets]
    mapping = {p.name: builder.ref_prefix + naming.request_model(p.name) for p in packets}
    return {
        "operationId": endpoint.name,
        "summary": f"{endpoint.title.vi} — {endpoint.title.en}",
        "description": "The operation is selected by the body's `service` key: "
        + ", ".join(f"{p.name} ({p.number})" for p in packets)
        + ". Answers do not name their service: for a typed answer use `services/<Service>.json`.",
        "tags": [endpoint.name],
        "security": [],
        "requestBody": _json_body(
            {"oneOf": requests, "discriminator": {"propertyName": "service", "mapping": mapping}}
        ),
        "responses": _answers(builder, "Kết quả — result; business errors come as error_code ≠ 0", {"anyOf": answers}),
        "x-qcvn120-endpoint": endpoint.name,
        "x-qcvn120-services": [p.name for p in packets],
    }


def _service_operation(builder: SchemaBuilder, endpoint: ir.Endpoint, packet: ir.Packet) -> dict[str, Any]:
    """One packet's own operation: its request and its typed answer."""
    return {
        "operationId": packet.name,
        "summary": f"{packet.number} {packet.name}",
        "description": f"{md_prose(packet.purpose.vi)}\n\n{md_prose(packet.purpose.en)}\n\n"
        f"Body key `service` is `{packet.name}`.",
        "tags": [endpoint.name],
        "security": [],
        "requestBody": _json_body(builder.ref(naming.request_model(packet.name))),
        "responses": _answers(
            builder,
            f"Kết quả {packet.name} — {packet.name} answer; business errors come as error_code ≠ 0",
            builder.ref(naming.response_model(packet.name)),
        ),
        "x-qcvn120-endpoint": endpoint.name,
        "x-qcvn120-packet": packet.number,
    }


def _frame(
    reg: ir.Regulation, ctx: Context, title: str, paths: dict[str, Any], tags: list[ir.Endpoint]
) -> dict[str, Any]:
    auth = _auth(reg)
    titles = [md_prose(reg.meta.title.vi), md_prose(reg.meta.title.en)]
    description = "\n\n".join([*titles, CANONICAL, SESSION.replace("{auth}", auth.path), ctx.header_line])
    return {
        "x-generated-by": ctx.header_line,
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": title,
            "version": reg.meta.spec_version,
            "description": description,
            "x-qcvn120-circular": reg.meta.circular,
        },
        "servers": [{"url": SANDBOX_URL, "description": "qcvngen sandbox (local stand-in for the national portal)"}],
        "security": [],
        "tags": [{"name": e.name, "description": md_prose(f"{e.title.vi} — {e.title.en}")} for e in tags],
        "paths": paths,
    }


@once_per_build
def canonical_builder(reg: ir.Regulation, ctx: Context) -> CanonicalSchemaBuilder:
    """The schema builder every document of the build shares (building one makes every named schema)."""
    return CanonicalSchemaBuilder(reg)


def document(reg: ir.Regulation, ctx: Context) -> dict[str, Any]:
    """The whole-wire document: the login path, one path per endpoint class, every schema as components."""
    builder = canonical_builder(reg, ctx)
    doc = _whole_wire(reg, ctx, builder)
    # Only what the paths reach (the local services are another server's: see the server stubs).
    doc["components"] = {"schemas": prose_descriptions(builder.closure([doc["paths"]]), names=True)}
    return doc


def contract_document(reg: ir.Regulation, ctx: Context) -> dict[str, Any]:
    """The whole wire with the JSON Schemas' tolerant request schemas: what the server judges by."""
    builder = SchemaBuilder(reg, "#/components/schemas/")
    doc = _whole_wire(reg, ctx, builder)
    doc["info"]["description"] = (
        "The requests the server accepts (the JSON Schemas of generated/jsonschema/), for the server's"
        " own checks and for negative testing; clients write the canonical form of openapi.json.\n\n" + ctx.header_line
    )
    doc["components"] = {"schemas": prose_descriptions(bundle(reg, builder), names=True)}
    return doc


def _whole_wire(reg: ir.Regulation, ctx: Context, builder: SchemaBuilder) -> dict[str, Any]:
    auth = _auth(reg)
    paths: dict[str, Any] = {auth.path: {"post": _login_operation(builder)}}
    tags = [auth]
    for endpoint in reg.envelope.endpoints:
        packets = [p for p in reg.packets if p.endpoint == endpoint.name]
        if endpoint.name != "auth" and packets:
            paths[endpoint.path] = {"post": _endpoint_operation(builder, endpoint, packets)}
            tags.append(endpoint)
    return _frame(reg, ctx, f"{reg.meta.id} — National Public Service Portal adapter", paths, tags)


def service_document(reg: ir.Regulation, ctx: Context, packet: ir.Packet) -> dict[str, Any]:
    """One service's document: login and the packet's own operation, and only the schemas they reach."""
    builder = canonical_builder(reg, ctx)
    auth = _auth(reg)
    endpoint = next(e for e in reg.envelope.endpoints if e.name == packet.endpoint)
    login = _login_operation(builder)
    operation = _service_operation(builder, endpoint, packet)
    doc = _frame(
        reg,
        ctx,
        f"{reg.meta.id} — {packet.number} {packet.name}",
        {auth.path: {"post": login}, endpoint.path: {"post": operation}},
        [auth, endpoint],
    )
    doc["components"] = {"schemas": prose_descriptions(builder.closure([login, operation]), names=True)}
    return doc


@once_per_build
def document_text(reg: ir.Regulation, ctx: Context) -> str:
    """``openapi.json``'s text (the server serves the same file)."""
    return dump_json(document(reg, ctx), first="x-generated-by")


def render(reg: ir.Regulation, ctx: Context) -> Files:
    """``openapi/openapi.json`` and ``openapi/services/<Service>.json``, each opening with its generated-by line."""
    files: Files = {PATH: document_text(reg, ctx)}
    for packet in reg.packets:
        service = service_document(reg, ctx, packet)
        files[SERVICES / f"{packet.name}.json"] = dump_json(service, first="x-generated-by")
    return files

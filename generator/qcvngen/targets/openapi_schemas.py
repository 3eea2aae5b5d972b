"""The schemas of the OpenAPI documents: the canonical form a client writes, typed for code generators.

The JSON Schemas in ``generated/jsonschema/`` judge what the server accepts (also JSON numbers for
string-encoded numbers, ``""`` for an absent list); the OpenAPI documents describe the narrower form a
client writes and the server answers, in shapes mainstream generators (openapi-generator, openapi-python-client,
openapi-typescript) turn into types: string-encoded numbers are strings, code lists are string enums
whose members carry names (``x-enum-varnames``) and meanings (``x-enum-descriptions``), and no
``anyOf`` mixes an array with a string. Everything here comes from the IR.
"""

from __future__ import annotations

from .. import ir, naming
from .schema_builder import (
    ScalarSchemas,
    Schema,
    SchemaBuilder,
    describe,
    local_request_schema,
    local_response_schema,
    request_schema,
)

# The key of a refused record in a push answer's ``result`` (docs/wire-conventions.md: the sandbox and
# the generated server list the refused dossiers as ``{"MaHoSo": …}``, one object per record).
REFUSED_RECORD = "RefusedRecord"
REFUSED_KEY = "MaHoSo"


class CanonicalSchemaBuilder(SchemaBuilder):
    """The schema builder of the OpenAPI documents: canonical scalars, no array-or-string shapes."""

    def __init__(self, reg: ir.Regulation, ref_prefix: str = "#/components/schemas/") -> None:
        super().__init__(reg, ref_prefix)
        self._named: dict[str, Schema] = {REFUSED_RECORD: refused_record_schema(reg)}
        env = reg.envelope
        for record in (env.login_request, env.login_response, env.request, env.response):
            self._named[record.name] = self.record(record)
        for packet in reg.packets:
            self._named[naming.request_model(packet.name)] = request_schema(self, packet)
            self._named[naming.response_model(packet.name)] = response_schema(self, packet)
        for service in env.local_services:
            self._named[naming.request_model(service.name)] = local_request_schema(self, service)
            self._named[naming.response_model(service.name)] = local_response_schema(self, service)

    def scalar_form(self, forms: ScalarSchemas) -> Schema:
        """The form a client writes: string-encoded numbers as strings, codes as named string enums."""
        return forms.written

    def or_empty_string(self, schema: Schema, empty_string: bool) -> Schema:
        """A client writes the record or the list itself, never ``""`` for it."""
        return schema

    def definitions(self, name: str) -> Schema:
        """The ``components/schemas`` entry for a record, wire type, code type, envelope or the refused record."""
        if name in self._named:
            return self._named[name]
        return super().definitions(name)


def _key_field(reg: ir.Regulation) -> ir.Field | None:
    for packet in reg.packets:
        if packet.direction == "push" and packet.data_record is not None:
            for field in reg.record(packet.data_record).fields:
                if field.wire_name == REFUSED_KEY:
                    return field
    return None


def refused_record_schema(reg: ir.Regulation) -> Schema:
    """One refused record of a push (``-3``/``-4``): its key, as the sandbox and server stubs answer."""
    key = _key_field(reg)
    title = describe(key.title) if key is not None else REFUSED_KEY
    return {
        "type": "object",
        "title": REFUSED_RECORD,
        "description": "Bản ghi bị từ chối (-3 đã tồn tại, -4 không tồn tại), nêu bằng khóa"
        " — a refused record (-3 already exists, -4 does not exist), named by its key",
        "properties": {REFUSED_KEY: {"type": "string", "description": title}},
        "required": [REFUSED_KEY],
        "additionalProperties": True,
    }


def response_schema(builder: CanonicalSchemaBuilder, packet: ir.Packet) -> Schema:
    """The 200 answer of one packet: pulls list result records, pushes list the records they refused."""
    fields = builder.reg.envelope.response.fields
    props: dict[str, Schema] = {}
    for field in fields:
        if field.wire_name != "result":
            props[field.wire_name] = builder.field(field)
            continue
        item = builder.ref(packet.result_record) if packet.result_record else builder.ref(REFUSED_RECORD)
        props["result"] = {**builder.annotations(field), "type": "array", "items": item}
    return {
        "type": "object",
        "title": naming.response_model(packet.name),
        "description": f"Kết quả {packet.name} — {packet.name} response",
        "properties": props,
        "required": [f.wire_name for f in fields if f.required],
        "additionalProperties": True,
        "x-qcvn120-packet": packet.number,
    }

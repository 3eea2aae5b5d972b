"""The schemas of the OpenAPI documents: the canonical form a client writes, typed for code generators.

The JSON Schemas in ``generated/jsonschema/`` judge what the server accepts (also JSON numbers for
string-encoded numbers, ``""`` for an absent list); the OpenAPI documents describe the narrower form a
client writes and the server answers, in shapes mainstream generators (openapi-generator, openapi-python-client,
openapi-typescript) turn into types: string-encoded numbers are strings, code lists are string enums
whose members carry names (``x-enum-varnames``) and meanings (``x-enum-descriptions``), and no
``anyOf`` mixes an array with a string. Everything here comes from the IR.
"""

from __future__ import annotations

from .. import ir, kinds, naming
from .schema_builder import (
    OPEN_CODE,
    Schema,
    SchemaBuilder,
    code_type_name,
    describe,
    local_request_schema,
    local_response_schema,
    request_schema,
    wire_type_name,
)

# The key of a refused record in a push answer's ``result`` (docs/wire-conventions.md: the sandbox and
# the generated server list the refused dossiers as ``{"MaHoSo": …}``, one object per record).
REFUSED_RECORD = "RefusedRecord"
REFUSED_KEY = "MaHoSo"
EMPTY_MEMBER = "EMPTY"


def code_member_names(codelist: ir.CodeList) -> list[str]:
    """The member names of the generated Python ``codes`` enum, in code order (``RECEIVED``, ``C2``…):
    decided once, by :func:`naming.code_member_names`."""
    return naming.code_member_names([(code.code, code.title.en) for code in codelist.codes])


def code_enum_schema(codelist: ir.CodeList, *, or_empty: bool) -> Schema:
    """A closed code list as a string enum with member names and bilingual meanings."""
    names = code_member_names(codelist)
    values = [c.code for c in codelist.codes]
    meanings = [f"{c.title.vi} — {c.title.en}" for c in codelist.codes]
    if or_empty:
        empty = EMPTY_MEMBER
        while empty in names:
            empty += "_"
        names, values = [*names, empty], [*values, ""]
        meanings = [*meanings, "Không có — absent"]
    name = code_type_name(codelist.name, or_empty=or_empty)
    return {
        "title": name,
        "description": f"{describe(codelist.title)}: "
        + "; ".join(f"{c.code} = {c.title.vi} / {c.title.en}" for c in codelist.codes),
        "type": "string",
        "enum": values,
        "x-enum-varnames": names,
        "x-enum-descriptions": meanings,
        "x-qcvn120-codelist": codelist.name,
    }


def canonical_scalars(reg: ir.Regulation) -> dict[str, Schema]:
    """Named schemas of every wire scalar type (string forms only) and closed code list."""
    defs: dict[str, Schema] = {}
    for info in kinds.wire_kinds():
        for or_empty in (False, True):
            type_name = wire_type_name(info.name, or_empty=or_empty)
            if type_name not in defs:
                description = info.wire_description + (' ("" accepted)' if or_empty else "")
                if info.numbers_canonical:
                    schema = kinds.wire_schema(info.name, or_empty=or_empty)
                else:  # the string form, the one a client writes when the server also takes a number
                    schema = kinds.text_schema(info, or_empty=or_empty)
                defs[type_name] = {"title": type_name, "description": description, **schema}
    defs[OPEN_CODE] = {
        "title": OPEN_CODE,
        "description": "Mã của danh mục mở — code of an open list (only some codes are known)",
        "type": "string",
        "maxLength": 64,
    }
    for codelist in reg.codelists:
        if codelist.closed:
            for or_empty in (False, True):
                defs[code_type_name(codelist.name, or_empty=or_empty)] = code_enum_schema(codelist, or_empty=or_empty)
    return defs


class CanonicalSchemaBuilder(SchemaBuilder):
    """The schema builder of the OpenAPI documents: canonical scalars, no array-or-string shapes."""

    def __init__(self, reg: ir.Regulation, ref_prefix: str = "#/components/schemas/") -> None:
        super().__init__(reg, ref_prefix)
        self._scalars = canonical_scalars(reg)
        self._scalars[REFUSED_RECORD] = refused_record_schema(reg)
        env = reg.envelope
        for record in (env.login_request, env.login_response, env.request, env.response):
            self._scalars[record.name] = self.record(record)
        for packet in reg.packets:
            self._scalars[naming.request_model(packet.name)] = request_schema(self, packet)
            self._scalars[naming.response_model(packet.name)] = response_schema(self, packet)
        for service in env.local_services:
            self._scalars[naming.request_model(service.name)] = local_request_schema(self, service)
            self._scalars[naming.response_model(service.name)] = local_response_schema(self, service)

    def value(self, field: ir.Field) -> Schema:
        """A field's value as a client writes it: ``""``-or-list fields are plain lists here."""
        ftype = field.type
        if ftype.kind == "record":
            return self.ref(ftype.record or "")
        if ftype.kind == "list":
            nested = ftype.nested_record
            item: Schema = self.ref(nested) if nested else ({"type": "string"} if ftype.of == "string" else {})
            return {"type": "array", "items": item}
        return super().value(field)

    def definitions(self, name: str) -> Schema:
        """The ``components/schemas`` entry for a record, wire type, code type or the refused record."""
        if name in self._scalars:
            return self._scalars[name]
        return self.record(self.reg.record(name))


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

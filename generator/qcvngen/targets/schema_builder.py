"""IR records → JSON Schema 2020-12 fragments, shared by the JSON Schema and OpenAPI targets."""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import ir, kinds, naming
from .common import code_member_names
from .named_types import named_type

Schema = dict[str, Any]


def describe(title: ir.Text) -> str:
    """A bilingual description, ``vi — en``."""
    return f"{title.vi} — {title.en}"


# Re-exported for the targets that name these types (models, the wire module); the registry decides.
OPEN_CODE = kinds.OPEN_CODE
wire_type_name = kinds.wire_type_name
code_type_name = kinds.code_type_name
# The name of the ``""`` member of a code list that may be absent (suffixed while a code takes it).
EMPTY_MEMBER = "EMPTY"


def provenance(marks: dict[str, Any], *, extensions: bool) -> Schema:
    """Where a schema comes from (regulation table, row, sources, spec line; personal data), as
    extension keywords (``x-qcvn120-ref``: OpenAPI, the models) or, for the published JSON Schemas
    that strict readers (Ajv's default strict mode) refuse unknown keywords in, one ``$comment``."""
    if extensions or not marks:
        return dict(marks)
    parts = []
    for key, value in marks.items():
        shown = (
            ", ".join(map(str, value)) if isinstance(value, list) else str(value).lower() if value is True else value
        )
        parts.append(f"{key.removeprefix('x-').removeprefix('qcvn120-')}: {shown}")
    return {"$comment": "QCVN 120 — " + "; ".join(parts)}


class ScalarSchemas(NamedTuple):
    """One named scalar type's schema as the server accepts it (the JSON Schemas) and as a client
    writes it (the OpenAPI documents): made together, each target picks its form."""

    accepted: Schema
    written: Schema


def scalar_schemas(reg: ir.Regulation, *, extensions: bool = True) -> dict[str, ScalarSchemas]:
    """Every wire scalar type, ``OpenCode`` and each closed code list's code types, by name.

    ``extensions`` decides the accepted forms' provenance (see :func:`provenance`); the written
    forms are the OpenAPI documents', which keep extension keywords."""
    out: dict[str, ScalarSchemas] = {}
    for info in kinds.wire_kinds():
        for or_empty in (False, True):
            name = wire_type_name(info.name, or_empty=or_empty)
            if name in out:
                continue
            head = {"title": name, "description": info.wire_description + (' ("" accepted)' if or_empty else "")}
            accepted = kinds.wire_schema(info.name, or_empty=or_empty)
            # The string form is the one a client writes where the server also takes a number.
            written = accepted if info.numbers_canonical else kinds.text_schema(info, or_empty=or_empty)
            out[name] = ScalarSchemas({**head, **accepted}, {**head, **written})
    head = {"title": OPEN_CODE, "description": "Mã của danh mục mở — code of an open list (only some codes are known)"}
    text: Schema = {"type": "string", "maxLength": 64}
    out[OPEN_CODE] = ScalarSchemas({**head, "anyOf": [text, kinds.int_schema()]}, {**head, **text})
    for codelist in reg.codelists:
        if codelist.closed:
            for or_empty in (False, True):
                out[code_type_name(codelist.name, or_empty=or_empty)] = _code_schemas(
                    codelist, or_empty=or_empty, extensions=extensions
                )
    return out


def _code_schemas(codelist: ir.CodeList, *, or_empty: bool, extensions: bool) -> ScalarSchemas:
    name = code_type_name(codelist.name, or_empty=or_empty)
    listing = f"{describe(codelist.title)}: " + "; ".join(
        f"{c.code} = {c.title.vi} / {c.title.en}" for c in codelist.codes
    )
    marks = {"x-qcvn120-codelist": codelist.name}
    accepted = _accepted_codes(codelist, or_empty=or_empty)
    as_number = " (mã số cũng nhận dạng số JSON — a numeric code may also come as a JSON number)"
    return ScalarSchemas(
        {
            "title": name,
            "description": listing + (as_number if "anyOf" in accepted else ""),
            **provenance(marks, extensions=extensions),
            **accepted,
        },
        {"title": name, "description": listing, **_written_codes(codelist, or_empty=or_empty), **marks},
    )


def _accepted_codes(codelist: ir.CodeList, *, or_empty: bool) -> Schema:
    """The codes as strings; a numeric code also as a whole JSON number, where every reader holds it exactly."""
    codes = [c.code for c in codelist.codes]
    numbers = kinds.KINDS["code"].numbers
    bound = numbers.whole if numbers is not None else -1
    numeric = [int(c) for c in codes if c.isascii() and c.isdigit() and str(int(c)) == c and int(c) <= bound]
    text: Schema = {"type": "string", "enum": codes + ([""] if or_empty else [])}
    return {"anyOf": [text, {"type": "integer", "enum": numeric}]} if numeric else text


def _written_codes(codelist: ir.CodeList, *, or_empty: bool) -> Schema:
    """The codes as a string enum whose members carry names and bilingual meanings (code generators
    make named enum members of them)."""
    names = code_member_names(codelist)
    values = [c.code for c in codelist.codes]
    meanings = [describe(c.title) for c in codelist.codes]
    if or_empty:
        empty = EMPTY_MEMBER
        while empty in names:
            empty += "_"
        names, values = [*names, empty], [*values, ""]
        meanings = [*meanings, "Không có — absent"]
    return {"type": "string", "enum": values, "x-enum-varnames": names, "x-enum-descriptions": meanings}


def _refs(schema: object, prefix: str) -> list[str]:
    out: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(prefix):
                out.append(value[len(prefix) :])
            else:
                out.extend(_refs(value, prefix))
    elif isinstance(schema, list):
        for item in schema:
            out.extend(_refs(item, prefix))
    return out


class SchemaBuilder:
    """Builds schemas whose ``$ref``s point under ``ref_prefix`` (``#/$defs/`` or ``#/components/schemas/``)."""

    def __init__(self, reg: ir.Regulation, ref_prefix: str, *, extensions: bool = True) -> None:
        self.reg = reg
        self.ref_prefix = ref_prefix
        self.extensions = extensions
        self.scalars = {
            name: self.scalar_form(forms) for name, forms in scalar_schemas(reg, extensions=extensions).items()
        }
        """The named scalar types' schemas, in this builder's form."""

    def scalar_form(self, forms: ScalarSchemas) -> Schema:
        """Which form of a named scalar type this builder's documents hold: what the server accepts."""
        return forms.accepted

    def provenance(self, marks: dict[str, Any]) -> Schema:
        """``marks`` as extension keywords or one ``$comment`` (see :func:`provenance`)."""
        return provenance(marks, extensions=self.extensions)

    def ref(self, name: str) -> Schema:
        """A ``$ref`` to the named definition."""
        return {"$ref": f"{self.ref_prefix}{name}"}

    def annotations(self, field: ir.Field) -> Schema:
        """The field's description and its provenance (``x-qcvn120-*``), pii/secret flags, examples."""
        marks: Schema = {
            "x-qcvn120-ref": field.origin.ref,
            "x-qcvn120-membership": field.membership,
            "x-qcvn120-confidence": field.confidence,
            "x-qcvn120-sources": list(field.sources),
            "x-qcvn120-spec": f"{field.origin.file}:{field.origin.line}",
        }
        if field.origin.table is not None:
            marks["x-qcvn120-table"] = field.origin.table
        if field.origin.row is not None:
            marks["x-qcvn120-row"] = field.origin.row
        if field.pii:
            marks["x-pii"] = True
        if field.secret:
            marks["x-secret"] = True
        out: Schema = {"description": describe(field.title), **self.provenance(marks)}
        if field.example is not None:
            out["examples"] = [field.example]
        return out

    def value(self, field: ir.Field) -> Schema:
        """The schema of a field's value, without annotations: a ``$ref`` to its named type
        (:func:`named_type`), an array of them, or a plain string."""
        ftype = field.type
        named = named_type(self.reg, field)
        if ftype.kind == "list":
            item: Schema = self.ref(named) if named else ({"type": "string"} if ftype.of == "string" else {})
            return self.or_empty_string({"type": "array", "items": item}, ftype.empty_string)
        if named is not None:
            return self.or_empty_string(self.ref(named), ftype.empty_string)
        if ftype.kind == "string":
            schema: Schema = {"type": "string"}
            if field.max_length is not None:
                schema["maxLength"] = field.max_length
            return schema
        return {}

    def field(self, field: ir.Field) -> Schema:
        """The field's value schema with its annotations."""
        schema = self.value(field)
        schema.update(self.annotations(field))
        return schema

    def record(self, record: ir.Record, *, title: str | None = None) -> Schema:
        """The object schema of a record: its fields, required keys and openness."""
        schema: Schema = {
            "type": "object",
            "title": title or record.name,
            "description": describe(record.title),
            "properties": {f.wire_name: self.field(f) for f in record.fields},
            "additionalProperties": record.open,
        }
        required = [f.wire_name for f in record.fields if f.required]
        if required:
            schema["required"] = required
        if record.table is not None:
            schema.update(self.provenance({"x-qcvn120-table": record.table}))
        return schema

    def definitions(self, name: str) -> Schema:
        """The ``$defs`` entry for a record, wire type or code type name."""
        if name in self.scalars:
            return self.scalars[name]
        return self.record(self.reg.record(name))

    def closure(self, roots: list[Schema]) -> dict[str, Schema]:
        """Every named definition the given schemas reach through ``$ref``, by name."""
        found: dict[str, Schema] = {}
        pending = [ref for root in roots for ref in _refs(root, self.ref_prefix)]
        while pending:
            name = pending.pop(0)
            if name in found:
                continue
            found[name] = self.definitions(name)
            pending.extend(_refs(found[name], self.ref_prefix))
        return dict(sorted(found.items()))

    def or_empty_string(self, schema: Schema, empty_string: bool) -> Schema:
        """``schema``, or ``""`` too when the field's ``empty_string`` says a sender may write it."""
        return {"anyOf": [schema, {"type": "string", "const": ""}]} if empty_string else schema


def envelope_field(reg: ir.Regulation, name: str) -> ir.Field:
    """The request envelope's field ``name``."""
    for field in reg.envelope.request.fields:
        if field.wire_name == name:
            return field
    raise KeyError(name)


def _service_const(builder: SchemaBuilder, name: str) -> Schema:
    """The envelope's ``service`` key, fixed to one service's name."""
    annotations = builder.annotations(envelope_field(builder.reg, "service"))
    return {**{k: v for k, v in annotations.items() if k != "examples"}, "type": "string", "const": name}


def _params(
    builder: SchemaBuilder, fields: tuple[ir.Field, ...], props: dict[str, Schema], required: list[str]
) -> None:
    for field in fields:
        props[field.wire_name] = builder.field(field)
        if field.required:
            required.append(field.wire_name)


def _envelope_object(
    title: str, description: str, props: dict[str, Schema], required: list[str], *, closed: bool, extra: Schema
) -> Schema:
    return {
        "type": "object",
        "title": title,
        "description": description,
        "properties": props,
        "required": required,
        "additionalProperties": not closed,
        **extra,
    }


def request_schema(builder: SchemaBuilder, packet: ir.Packet) -> Schema:
    """The request envelope of one service: envelope keys, ``service`` fixed, typed ``data`` and params."""
    reg = builder.reg
    props: dict[str, Schema] = {}
    required: list[str] = []
    for field in reg.envelope.request.fields:
        if field.wire_name == "data":
            continue
        props[field.wire_name] = (
            _service_const(builder, packet.name) if field.wire_name == "service" else builder.field(field)
        )
        if field.required:
            required.append(field.wire_name)
    if packet.data_record is not None:
        data_field = envelope_field(reg, "data")
        props["data"] = {
            **builder.annotations(data_field),
            "type": "array",
            "minItems": 1,
            "items": builder.ref(packet.data_record),
        }
        required.append("data")
    _params(builder, packet.params, props, required)
    description = f"{packet.purpose.vi} — {packet.purpose.en}"
    return _envelope_object(
        naming.request_model(packet.name),
        description,
        props,
        required,
        closed=True,
        extra=builder.provenance({"x-qcvn120-packet": packet.number}),
    )


def _response(builder: SchemaBuilder, title: str, description: str, result_record: str | None, extra: Schema) -> Schema:
    """The response envelope; ``result`` is typed when the service has a result record."""
    fields = builder.reg.envelope.response.fields
    props: dict[str, Schema] = {}
    for field in fields:
        if field.wire_name == "result" and result_record is not None:
            props["result"] = {**builder.annotations(field), "type": "array", "items": builder.ref(result_record)}
        else:
            props[field.wire_name] = builder.field(field)
    required = [f.wire_name for f in fields if f.required]
    return _envelope_object(title, description, props, required, closed=False, extra=extra)


def response_schema(builder: SchemaBuilder, packet: ir.Packet) -> Schema:
    """The response envelope of one packet; ``result`` typed by its result record."""
    description = f"Kết quả {packet.name} — {packet.name} response"
    return _response(
        builder,
        naming.response_model(packet.name),
        description,
        packet.result_record,
        builder.provenance({"x-qcvn120-packet": packet.number}),
    )


def local_request_schema(builder: SchemaBuilder, service: ir.LocalService) -> Schema:
    """What the national portal sends to a local service: ``madonvi``, ``service`` and the parameters."""
    props: dict[str, Schema] = {
        "madonvi": builder.field(envelope_field(builder.reg, "madonvi")),
        "service": _service_const(builder, service.name),
    }
    required = ["service"]
    _params(builder, service.params, props, required)
    extra = builder.provenance({"x-qcvn120-inference": service.inference})
    return _envelope_object(
        naming.request_model(service.name), describe(service.title), props, required, closed=True, extra=extra
    )


def local_response_schema(builder: SchemaBuilder, service: ir.LocalService) -> Schema:
    """What a local service answers the national portal."""
    extra = builder.provenance({"x-qcvn120-inference": service.inference})
    return _response(
        builder, naming.response_model(service.name), describe(service.title), service.result_record, extra
    )

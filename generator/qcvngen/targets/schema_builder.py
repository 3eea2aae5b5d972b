"""IR records → JSON Schema 2020-12 fragments, shared by the JSON Schema and OpenAPI targets."""

from __future__ import annotations

from typing import Any

from .. import ir, kinds, naming

Schema = dict[str, Any]


def describe(title: ir.Text) -> str:
    """A bilingual description, ``vi — en``."""
    return f"{title.vi} — {title.en}"


# Re-exported for the targets that name these types (models, the wire module); the registry decides.
OPEN_CODE = kinds.OPEN_CODE
wire_type_name = kinds.wire_type_name
code_type_name = kinds.code_type_name


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


def scalar_definitions(reg: ir.Regulation, *, extensions: bool = True) -> dict[str, Schema]:
    """Named schemas of every wire scalar type and closed code list."""
    defs: dict[str, Schema] = {}
    for info in kinds.wire_kinds():
        for or_empty in (False, True):
            type_name = wire_type_name(info.name, or_empty=or_empty)
            if type_name in defs:
                continue
            description = info.wire_description + (' ("" accepted)' if or_empty else "")
            defs[type_name] = {
                "title": type_name,
                "description": description,
                **kinds.wire_schema(info.name, or_empty=or_empty),
            }
    defs[OPEN_CODE] = {
        "title": OPEN_CODE,
        "description": "Mã của danh mục mở — code of an open list (only some codes are known)",
        "anyOf": [{"type": "string", "maxLength": 64}, kinds.int_schema()],
    }
    for codelist in reg.codelists:
        if not codelist.closed:
            continue
        codes = [c.code for c in codelist.codes]
        # A numeric code may also come as a whole JSON number, where every reader holds it exactly.
        numbers = kinds.KINDS["code"].numbers
        bound = numbers.whole if numbers is not None else -1
        numeric = [int(c) for c in codes if c.isascii() and c.isdigit() and str(int(c)) == c and int(c) <= bound]
        for or_empty in (False, True):
            variants: list[Schema] = [{"type": "string", "enum": codes + ([""] if or_empty else [])}]
            if numeric:
                variants.append({"type": "integer", "enum": numeric})
            name = code_type_name(codelist.name, or_empty=or_empty)
            as_number = " (mã số cũng nhận dạng số JSON — a numeric code may also come as a JSON number)"
            defs[name] = {
                "title": name,
                "description": f"{describe(codelist.title)}: "
                + "; ".join(f"{c.code} = {c.title.vi} / {c.title.en}" for c in codelist.codes)
                + (as_number if numeric else ""),
                **provenance({"x-qcvn120-codelist": codelist.name}, extensions=extensions),
                **({"anyOf": variants} if len(variants) > 1 else variants[0]),
            }
    return defs


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
        self._scalars = scalar_definitions(reg, extensions=extensions)

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
        """The schema of a field's value, without annotations; wire scalars are named ``$defs``."""
        ftype = field.type
        kind = ftype.kind
        if kind == "string":
            schema: Schema = {"type": "string"}
            if field.max_length is not None:
                schema["maxLength"] = field.max_length
            return schema
        if kind == "code":
            codelist = self.reg.codelist(ftype.codelist or "")
            if not codelist.closed:
                return self.ref(OPEN_CODE)
            return self.ref(code_type_name(codelist.name, or_empty=not field.required))
        if kinds.kind(kind).wire_type is not None:
            return self.ref(wire_type_name(kind, or_empty=not field.required))
        if kind == "record":
            return self._maybe_empty(self.ref(ftype.record or ""), ftype.empty_string)
        if kind == "list":
            nested = ftype.nested_record
            item: Schema = self.ref(nested) if nested else ({"type": "string"} if ftype.of == "string" else {})
            return self._maybe_empty({"type": "array", "items": item}, ftype.empty_string)
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
        if name in self._scalars:
            return self._scalars[name]
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

    @staticmethod
    def _maybe_empty(schema: Schema, empty_string: bool) -> Schema:
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

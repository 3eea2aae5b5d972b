"""Which named type a field refers to, decided once from the IR for every target.

The JSON Schema and OpenAPI ``$ref`` of a field (:class:`.schema_builder.SchemaBuilder`) and its
Python type in the models (:func:`.models.field_type`) both read :func:`named_type`, so the two
never disagree on what a field is.
"""

from __future__ import annotations

from .. import ir, kinds


def named_type(reg: ir.Regulation, field: ir.Field) -> str | None:
    """The named type of the field's value, or of each item of a list field: a wire type or a
    closed code list's code type (their ``…OrEmpty`` variant when the field is optional: it may
    also be ``""``), :data:`kinds.OPEN_CODE`, or a record. None for a string, ``any``, and a list
    of strings or of anything."""
    ftype = field.type
    if ftype.kind == "code":
        codelist = reg.codelist(ftype.codelist or "")
        if not codelist.closed:
            return kinds.OPEN_CODE
        return kinds.code_type_name(codelist.name, or_empty=not field.required)
    if kinds.kind(ftype.kind).wire_type is not None:
        return kinds.wire_type_name(ftype.kind, or_empty=not field.required)
    return ftype.nested_record

"""The one registry of field kinds: what ``string``, ``code``, ``datetime``, … mean to every target.

A field's ``type:`` in the spec is one of :data:`Kind`. Each kind's entry in :data:`KINDS` says what
the wire carries (pattern, from :mod:`qcvngen.wire`), its JSON Schema, its Python type in the generated
models, its label in the docs (vi/en), an example value, what a validator says when a value is wrong,
and which changes of kind a data submitter can absorb (:func:`widens`). Targets ask here instead of
keeping their own ``if kind == "percent"`` tables, so adding or changing a kind is one edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, get_args

from . import naming, wire

Kind = Literal["string", "code", "datetime", "integer", "decimal", "percent", "flag", "id", "record", "list", "any"]
KIND_NAMES: tuple[Kind, ...] = get_args(Kind)
# The key a kind needs beside ``type`` in the spec: the code list, the record, the list's items.
Reference = Literal["codelist", "record", "of"]
# What a ``list`` may hold besides a record name.
LIST_ITEM_KINDS = ("string", "any")
OPEN_CODE = "OpenCode"

Schema = dict[str, Any]


class Text(NamedTuple):
    """A label in both languages (the IR's ``Text`` has the same two attributes; the IR imports this module)."""

    vi: str
    en: str


@dataclass(frozen=True)
class KindInfo:
    """Everything the generator knows about one field kind."""

    name: Kind
    label: Text
    """How the docs name the kind (its notation, when it has one, follows: :attr:`full_label`)."""
    python_type: str
    """The type of the generated models; ``{codelist}``, ``{record}`` and ``{of}`` are filled from the field."""
    example: str | None
    """A valid wire value, for fields the spec gives no example (None: the kind takes no example)."""
    pattern: str | None = None
    """The wire pattern of a string-encoded scalar (unanchored; see :func:`qcvngen.wire.anchored`)."""
    wire_type: str | None = None
    """The named schema (``$defs``) and Python type of a wire scalar; None for the other kinds."""
    wire_description: str = ""
    """The named schema's description, ``"vi — en"``."""
    or_empty_type: bool = False
    """Whether an optional field gets a distinct ``…OrEmpty`` wire type that also accepts ``""``."""
    rule: Text | None = None
    """What a validator says of a value of the wrong shape."""
    invalid: str | None = None
    """A value of the right JSON type that the kind refuses (a conformance vector)."""
    reference: Reference | None = None
    takes_max_length: bool = False
    takes_empty_string: bool = False
    widens_to: frozenset[Kind] = frozenset()
    """Kinds a field may change to without breaking a data submitter (``any`` always can)."""
    notation: str | None = None
    """How a value is written, shown after the label (``yyyyMMddHHmmss``, ``"True"/"False"``)."""
    accepts: str | None = None
    """What a typed constructor takes for a wire scalar, as a Python type (the runtime converts it):
    the static type of the named wire type, so a typed caller needs no cast."""

    @property
    def full_label(self) -> Text:
        """The label followed by the notation, as one text per language."""
        if self.notation is None:
            return self.label
        return Text(f"{self.label.vi} {self.notation}", f"{self.label.en} {self.notation}")


_SCALAR_WIDENING: frozenset[Kind] = frozenset({"string", "any"})

KINDS: dict[Kind, KindInfo] = {
    info.name: info
    for info in (
        KindInfo(
            "string",
            Text("chuỗi", "string"),
            "str",
            "ví dụ",
            takes_max_length=True,
            widens_to=frozenset({"id", "any"}),
        ),
        KindInfo(
            "code",
            Text("mã", "code"),
            "Code{codelist}",
            None,
            rule=Text("không phải mã của danh mục", "not a code of the list"),
            reference="codelist",
            takes_max_length=True,
            widens_to=_SCALAR_WIDENING,
        ),
        KindInfo(
            "datetime",
            Text("ngày giờ", "datetime"),
            "WireDateTime",
            "20240131093000",
            accepts="datetime | date | str",
            pattern=wire.DATETIME,
            wire_type="WireDateTime",
            wire_description='Ngày giờ yyyyMMddHHmmss (Asia/Ho_Chi_Minh), "" khi không có'
            ' — date-time yyyyMMddHHmmss in Asia/Ho_Chi_Minh, "" when absent',
            rule=Text(
                'phải là ngày giờ yyyyMMddHHmmss hợp lệ hoặc ""', 'must be a valid yyyyMMddHHmmss date-time or ""'
            ),
            invalid="20240230000000",
            notation="yyyyMMddHHmmss",
            widens_to=_SCALAR_WIDENING,
        ),
        KindInfo(
            "integer",
            Text("số nguyên (chuỗi)", "integer (string)"),
            "WireInteger",
            "12",
            accepts="str | int",
            pattern=wire.INTEGER,
            wire_type="WireInteger",
            or_empty_type=True,
            wire_description="Số nguyên dạng chuỗi (chấp nhận số JSON)"
            " — string-encoded integer (a JSON integer is accepted)",
            rule=Text("phải là số nguyên (dạng chuỗi)", "must be an integer (string-encoded)"),
            invalid="mười hai",
            widens_to=frozenset({"decimal", "percent", "id", "string", "any"}),
        ),
        KindInfo(
            "decimal",
            Text("số thập phân (chuỗi)", "decimal (string)"),
            "WireDecimal",
            "12.5",
            accepts="str | int | float",
            pattern=wire.DECIMAL,
            wire_type="WireDecimal",
            or_empty_type=True,
            wire_description="Số thập phân dạng chuỗi (chấp nhận số JSON)"
            " — string-encoded decimal (a JSON number is accepted)",
            rule=Text("phải là số thập phân (dạng chuỗi)", "must be a decimal number (string-encoded)"),
            invalid="12,5",
            widens_to=frozenset({"percent", "string", "any"}),
        ),
        KindInfo(
            "percent",
            Text("phần trăm (chuỗi)", "percent (string)"),
            "WirePercent",
            "50",
            accepts="str | int | float",
            pattern=wire.PERCENT,
            wire_type="WirePercent",
            or_empty_type=True,
            wire_description="Phần trăm dạng chuỗi, có thể kèm % — string-encoded percentage, optional % sign",
            rule=Text(
                "phải là phần trăm (dạng chuỗi, có thể kèm %)", "must be a percentage (string-encoded, optional %)"
            ),
            invalid="năm mươi",
            widens_to=_SCALAR_WIDENING,
        ),
        KindInfo(
            "flag",
            Text("cờ", "flag"),
            "WireFlag",
            wire.FLAG_VALUES[0],
            accepts='bool | Literal["True", "False"]',
            wire_type="WireFlag",
            wire_description='Cờ "True"/"False" — string flag "True"/"False"',
            rule=Text('phải là "True" hoặc "False"', 'must be "True" or "False"'),
            invalid="Yes",
            notation='"True"/"False"',
            widens_to=_SCALAR_WIDENING,
        ),
        KindInfo(
            "id",
            Text("mã định danh (chuỗi hoặc số)", "id (string or number)"),
            "WireId",
            "1",
            accepts="str | int",
            wire_type="WireId",
            wire_description="Mã định danh: chuỗi hoặc số JSON — identifier sent as a JSON string or number",
            rule=Text("phải là chuỗi hoặc số", "must be a string or a number"),
            takes_max_length=True,
            widens_to=_SCALAR_WIDENING,
        ),
        KindInfo(
            "record",
            Text("bản ghi", "record"),
            "{record}",
            None,
            reference="record",
            takes_empty_string=True,
            widens_to=frozenset({"any"}),
        ),
        KindInfo(
            "list",
            Text("danh sách", "list"),
            "list[{of}]",
            None,
            reference="of",
            takes_empty_string=True,
            widens_to=frozenset({"any"}),
        ),
        KindInfo("any", Text("bất kỳ", "any"), "Any", None),
    )
}


def kind(name: Kind) -> KindInfo:
    """The registry entry of ``name``."""
    return KINDS[name]


def widens(old: Kind, new: Kind) -> bool:
    """Whether a field changing from ``old`` to ``new`` still accepts every value it accepted."""
    return old == new or new in KINDS[old].widens_to


def wire_kinds() -> list[KindInfo]:
    """The kinds carried by a named wire scalar type (``WireDateTime`` …), in registry order."""
    return [info for info in KINDS.values() if info.wire_type is not None]


def wire_type_name(name: Kind, *, or_empty: bool) -> str:
    """The named wire type of a scalar kind; optional fields of some kinds also accept ``""``."""
    info = KINDS[name]
    if info.wire_type is None:
        raise KeyError(f"kind '{name}' has no wire type")
    return f"{info.wire_type}OrEmpty" if or_empty and info.or_empty_type else info.wire_type


def code_type_name(codelist: str, *, or_empty: bool) -> str:
    """The named type of a closed code list's codes (and ``""`` when ``or_empty``): :func:`naming.code_type`."""
    return naming.code_type(codelist, or_empty=or_empty)


def int_schema() -> Schema:
    """A JSON integer within the range a string-encoded integer may hold."""
    return {"type": "integer", "minimum": wire.INT_RANGE[0], "maximum": wire.INT_RANGE[1]}


def wire_schema(name: Kind, *, or_empty: bool) -> Schema:
    """The JSON Schema of a wire scalar type, without title and description."""
    if name == "datetime":
        # An absent date-time is sent as "": every datetime type accepts it.
        return {"type": "string", "pattern": wire.anchored(wire.DATETIME, allow_empty=True)}
    if name == "flag":
        return {"type": "string", "enum": list(wire.FLAG_VALUES)}
    if name == "id":
        return {"anyOf": [{"type": "string"}, int_schema()]}
    pattern = KINDS[name].pattern
    if pattern is None:
        raise KeyError(f"kind '{name}' has no wire schema")
    text = {"type": "string", "pattern": wire.anchored(pattern, allow_empty=or_empty)}
    if name == "percent":
        return text
    number = int_schema() if name == "integer" else {**int_schema(), "type": "number"}
    return {"anyOf": [text, number]}


def python_type(
    name: Kind,
    *,
    codelist: str | None = None,
    open_codes: bool = False,
    record: str | None = None,
    of: str | None = None,
) -> str:
    """The Python type of a field of kind ``name`` in the generated models (before ``| None``).

    A code of an open list is :data:`OPEN_CODE`; a list of a scalar kind holds ``str`` or ``Any``.
    """
    if name == "code" and open_codes:
        return OPEN_CODE
    if name == "list" and of in LIST_ITEM_KINDS:
        of = KINDS["string" if of == "string" else "any"].python_type
    return KINDS[name].python_type.format(codelist=codelist or "", record=record or "", of=of or "")

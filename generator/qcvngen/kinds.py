"""The one registry of field kinds: what ``string``, ``code``, ``datetime``, … mean to every target.

A field's ``type:`` in the spec is one of :data:`Kind`. Each kind's entry in :data:`KINDS` holds every
fact about it as data: its string form (a pattern from :mod:`qcvngen.wire`, or fixed values), the JSON
numbers it also accepts and in what range (:class:`Numbers`), the converter of the generated wire
module, whether ``""`` is accepted, its Python type, its docs label and notation (vi/en), an example,
a wrong value and what a validator says of it, edge values for the differential test, what ``learn``
may see of it in captures, and which changes of kind a data submitter can absorb (:func:`widens`).
Targets, conformance, learn and the tests read it; :func:`problems` refuses an incomplete entry, so
adding a kind is one edit here (docs/architecture.md, "add a kind").
"""

from __future__ import annotations

import re
import unicodedata
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
class Numbers:
    """The JSON numbers a string-encoded kind also accepts, in a form every reader judges alike.

    Whole numbers within ±``whole``; fractional ones too when ``fraction_floor`` is set, within
    ``fraction_floor`` ≤ |x| ≤ ``whole`` (:data:`qcvngen.wire.FRACTION_FLOOR` says why).
    """

    whole: int = wire.SAFE_INTEGER
    fraction_floor: float | None = None

    def schemas(self) -> list[Schema]:
        """The JSON Schema branches of these numbers."""
        out: list[Schema] = [{"type": "integer", "minimum": -self.whole, "maximum": self.whole}]
        if self.fraction_floor is not None:
            out.append({"type": "number", "minimum": self.fraction_floor, "maximum": self.whole})
            out.append({"type": "number", "minimum": -self.whole, "maximum": -self.fraction_floor})
        return out

    def converter(self) -> str:
        """The generated wire module's before-validator (``wire_number`` of the runtime's ``_scalars``)."""
        floor = "" if self.fraction_floor is None else f", fraction_floor={self.fraction_floor!r}"
        return f"wire_number(whole={self.whole}{floor})"


WHOLE_NUMBERS = Numbers()


@dataclass(frozen=True)
class KindInfo:
    """Everything the generator knows about one field kind: every consumer reads it from here."""

    name: Kind
    label: Text
    """How the docs name the kind (its notation, when it has one, follows: :attr:`full_label`)."""
    python_type: str
    """The type of the generated models; ``{codelist}``, ``{record}`` and ``{of}`` are filled from the field."""
    example: str | None
    """A valid wire value, for fields the spec gives no example (None: the kind takes no example)."""
    capture_kinds: frozenset[str]
    """What ``qcvngen learn`` may see in captures of such a field without calling it a contradiction
    (the classes of ``runtime/shared/capture.kind_of``); empty: anything."""
    edges: tuple[Any, ...]
    """Edge values of the differential test (tests/test_differential.py): valid and invalid, each
    judged alike by every reader."""
    pattern: str | None = None
    """The wire pattern of a string-encoded scalar (unanchored; see :func:`qcvngen.wire.anchored`)."""
    values: tuple[str, ...] | None = None
    """The only strings a scalar takes (a flag), instead of a pattern."""
    numbers: Numbers | None = None
    """The JSON numbers accepted besides the string form (None: none)."""
    numbers_canonical: bool = False
    """Whether a client may write those numbers too (the OpenAPI documents' canonical shapes keep
    them): an identifier really is a string or a number; other kinds are written as strings."""
    wire_type: str | None = None
    """The named schema (``$defs``) and Python type of a wire scalar; None for the other kinds."""
    wire_description: str = ""
    """The named schema's description, ``"vi — en"``."""
    converter: str | None = None
    """The generated wire module's before-validator for what real systems send besides the canonical
    string (a runtime ``_scalars`` name); by default a kind with :attr:`numbers` reads them with
    ``wire_number`` (to their string form, within the bounds the schema states)."""
    or_empty_type: bool = False
    """Whether an optional field gets a distinct ``…OrEmpty`` wire type that also accepts ``""``."""
    empty_always: bool = False
    """Whether even a required field's wire type accepts ``""`` (an absent date-time is sent so)."""
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

    @property
    def wire_converter(self) -> str | None:
        """The before-validator expression of the wire module, or None."""
        if self.converter is not None or self.numbers is None:
            return self.converter
        return self.numbers.converter()

    @property
    def python_base(self) -> str:
        """The Python type the wire module's annotated type narrows."""
        if self.values is not None:
            return "Literal[" + ", ".join(repr(v) for v in self.values) + "]"
        return "str | StrictInt" if self.numbers is not None and self.pattern is None else "str"


_SCALAR_WIDENING: frozenset[Kind] = frozenset({"string", "any"})
# -- edge values: what surrounds a valid string form, and what every kind meets --------------------
NFD_E = unicodedata.normalize("NFD", "ệ")  # 3 code points, 1 in NFC
_ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_FULLWIDTH = str.maketrans("0123456789.%", "０１２３４５６７８９．％")
COMMON_EDGES: tuple[Any, ...] = ("", " ", "\n", None, True, False, [], {})


def around(text: str) -> tuple[str, ...]:
    """A valid string form with whitespace and newlines around it, and in digits that are digits to
    Unicode-aware classes but not to ``[0-9]``."""
    return (
        text + "\n",
        "\n" + text,
        " " + text,
        text + " ",
        text + "\r\n",
        "\t" + text,
        text.translate(_ARABIC),
        text.translate(_FULLWIDTH),
    )


_NUMBER_EDGES = (
    wire.SAFE_INTEGER,
    wire.SAFE_INTEGER + 1,
    -wire.SAFE_INTEGER,
    -wire.SAFE_INTEGER - 1,
    10**18 - 1,
    10**18,
    5.0,
)

KINDS: dict[Kind, KindInfo] = {
    info.name: info
    for info in (
        KindInfo(
            "string",
            Text("chuỗi", "string"),
            "str",
            "ví dụ",
            capture_kinds=frozenset({"string", "code", "datetime", "integer", "decimal", "flag", "empty"}),
            edges=("x", "x\n", "٣", "１", "\u2028", "e" + NFD_E, "x\ud800", 12, 12.5, *COMMON_EDGES),
            takes_max_length=True,
            widens_to=frozenset({"id", "any"}),
        ),
        KindInfo(
            "code",
            Text("mã", "code"),
            "Code{codelist}",
            None,
            capture_kinds=frozenset({"code", "empty"}),
            # Besides these, the test folds in the list's own codes, around them and as numbers.
            edges=("99999", "x" * 64, "x" * 65, NFD_E * 21, NFD_E * 22, 12.5, -1, *COMMON_EDGES),
            numbers=WHOLE_NUMBERS,
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
            capture_kinds=frozenset({"datetime", "empty"}),
            edges=(
                "20240105083000",
                *around("20240105083000"),
                "20240230083000",
                "20240229083000",
                "20230229083000",
                "21000229000000",
                "20000229000000",
                "20240105240000",
                "20240105236000",
                "20240105235960",
                "20241305083000",
                "20240100083000",
                "2024010508300",
                "202401050830000",
                "2024-01-05T08:30:00",
                "20240105083000Z",
                "+20240105083000",
                20240105083000,
                20240105083000.0,
                *COMMON_EDGES,
            ),
            accepts="datetime | date | str",
            pattern=wire.DATETIME,
            wire_type="WireDateTime",
            wire_description='Ngày giờ yyyyMMddHHmmss (Asia/Ho_Chi_Minh), "" khi không có'
            ' — date-time yyyyMMddHHmmss in Asia/Ho_Chi_Minh, "" when absent',
            converter="datetime_as_text(TIMEZONE)",
            empty_always=True,
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
            capture_kinds=frozenset({"integer", "empty"}),
            edges=(
                "12",
                "-12",
                "+12",
                *around("12"),
                "1e3",
                "12.0",
                "-",
                "0",
                "-0",
                "00",
                "9" * 18,
                "9" * 19,
                "-" + "9" * 18,
                "0x10",
                "1_000",
                "True",
                12,
                -12,
                1e3,
                12.5,
                1e0,
                *_NUMBER_EDGES,
                *COMMON_EDGES,
            ),
            accepts="str | int",
            pattern=wire.INTEGER,
            numbers=WHOLE_NUMBERS,
            wire_type="WireInteger",
            or_empty_type=True,
            wire_description="Số nguyên dạng chuỗi (chấp nhận số JSON nguyên trong ±(2^53−1))"
            " — string-encoded integer (a whole JSON number within ±(2^53−1) is accepted)",
            rule=Text("phải là số nguyên (dạng chuỗi)", "must be an integer (string-encoded)"),
            invalid="mười hai",
            widens_to=frozenset({"decimal", "percent", "id", "string", "any"}),
        ),
        KindInfo(
            "decimal",
            Text("số thập phân (chuỗi)", "decimal (string)"),
            "WireDecimal",
            "12.5",
            capture_kinds=frozenset({"integer", "decimal", "empty"}),
            edges=(
                "12.5",
                "-0.5",
                ".5",
                "5.",
                "1e-5",
                "12,5",
                *around("12.5"),
                "1." + "0" * 18,
                "1." + "0" * 19,
                "NaN",
                "Infinity",
                "-",
                12.5,
                -12.5,
                0.01,
                -0.01,
                0.009,
                1e-5,
                1e-19,
                0.1 + 0.2,
                12,
                1e20,
                *_NUMBER_EDGES,
                *COMMON_EDGES,
            ),
            accepts="str | int | float",
            pattern=wire.DECIMAL,
            numbers=Numbers(fraction_floor=wire.FRACTION_FLOOR),
            wire_type="WireDecimal",
            or_empty_type=True,
            wire_description="Số thập phân dạng chuỗi (chấp nhận số JSON nguyên trong ±(2^53−1),"
            " số lẻ khi 0.01 ≤ |x| ≤ 2^53−1) — string-encoded decimal (a JSON number is accepted:"
            " whole within ±(2^53−1), fractional when 0.01 ≤ |x| ≤ 2^53−1; send others as strings)",
            rule=Text("phải là số thập phân (dạng chuỗi)", "must be a decimal number (string-encoded)"),
            invalid="12,5",
            widens_to=frozenset({"percent", "string", "any"}),
        ),
        KindInfo(
            "percent",
            Text("phần trăm (chuỗi)", "percent (string)"),
            "WirePercent",
            "50",
            capture_kinds=frozenset({"integer", "decimal", "code", "empty"}),
            edges=(
                "50",
                "50%",
                "100.5%",
                "999.123456789%",
                "999.1234567890%",
                "1000",
                "50 %",
                "%",
                "-5",
                "+5",
                "5e1",
                *around("50%"),
                50,
                50.5,
                *COMMON_EDGES,
            ),
            accepts="str | int | float",
            pattern=wire.PERCENT,
            wire_type="WirePercent",
            # The models also read a JSON number (tolerant reading); the schema takes strings only.
            converter="number_as_text",
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
            capture_kinds=frozenset({"flag", "empty"}),
            edges=("True", "False", "true", "TRUE", "false", *around("True"), "1", "0", "Yes", 1, 0, *COMMON_EDGES),
            values=wire.FLAG_VALUES,
            accepts='bool | Literal["True", "False"]',
            wire_type="WireFlag",
            wire_description='Cờ "True"/"False" — string flag "True"/"False"',
            converter="flag_as_text",
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
            capture_kinds=frozenset({"integer", "decimal", "code", "string", "empty"}),
            edges=("123", "abc", "١٢٣", "123\n", 123, -1, 12.5, *_NUMBER_EDGES, *COMMON_EDGES),
            numbers=WHOLE_NUMBERS,
            numbers_canonical=True,  # the portal's own ids are numbers
            accepts="str | int",
            wire_type="WireId",
            converter="whole_number_as_int",
            wire_description="Mã định danh: chuỗi, hoặc số JSON nguyên trong ±(2^53−1)"
            " — identifier sent as a JSON string or a whole JSON number within ±(2^53−1)",
            rule=Text("phải là chuỗi hoặc số", "must be a string or a number"),
            takes_max_length=True,
            widens_to=_SCALAR_WIDENING,
        ),
        KindInfo(
            "record",
            Text("bản ghi", "record"),
            "{record}",
            None,
            capture_kinds=frozenset({"record"}),
            edges=("x", 12, *COMMON_EDGES),
            reference="record",
            takes_empty_string=True,
            widens_to=frozenset({"any"}),
        ),
        KindInfo(
            "list",
            Text("danh sách", "list"),
            "list[{of}]",
            None,
            capture_kinds=frozenset({"list"}),
            edges=("x", 12, [1], ["x"], [None], *COMMON_EDGES),
            reference="of",
            takes_empty_string=True,
            widens_to=frozenset({"any"}),
        ),
        KindInfo(
            "any", Text("bất kỳ", "any"), "Any", None, capture_kinds=frozenset(), edges=(1, "x", 1.5, *COMMON_EDGES)
        ),
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


def wire_type_names() -> list[str]:
    """Every named wire type (``WireInteger``, ``WireIntegerOrEmpty`` …), in registry order."""
    names = [wire_type_name(info.name, or_empty=False) for info in wire_kinds()]
    return names + [wire_type_name(i.name, or_empty=True) for i in wire_kinds() if i.or_empty_type]


def code_type_name(codelist: str, *, or_empty: bool) -> str:
    """The named type of a closed code list's codes (and ``""`` when ``or_empty``): :func:`naming.code_type`."""
    return naming.code_type(codelist, or_empty=or_empty)


def int_schema() -> Schema:
    """A whole JSON number where a string-encoded code or id may hold one (see :data:`WHOLE_NUMBERS`)."""
    return WHOLE_NUMBERS.schemas()[0]


def accepts_empty(info: KindInfo, *, or_empty: bool) -> bool:
    """Whether the wire type of ``info`` (``…OrEmpty`` when ``or_empty``) takes ``""``."""
    return info.empty_always or (or_empty and info.or_empty_type)


def full_pattern(info: KindInfo, *, or_empty: bool) -> str | None:
    """The anchored pattern of the wire type's string form, None without a pattern."""
    if info.pattern is None:
        return None
    return wire.anchored(info.pattern, allow_empty=accepts_empty(info, or_empty=or_empty))


def text_schema(info: KindInfo, *, or_empty: bool) -> Schema:
    """The string form of a wire scalar: its pattern (and no newline anywhere, so that Python's
    ``$`` reads as ECMA-262's), its values, or any string."""
    pattern = full_pattern(info, or_empty=or_empty)
    if pattern is not None:
        return {"type": "string", "pattern": pattern, "not": dict(wire.NO_NEWLINE)}
    if info.values is not None:
        empty = [""] if accepts_empty(info, or_empty=or_empty) else []
        return {"type": "string", "enum": [*info.values, *empty]}
    return {"type": "string"}


def wire_schema(name: Kind, *, or_empty: bool) -> Schema:
    """The JSON Schema of a wire scalar type, without title and description: its string form, and
    the JSON numbers it accepts."""
    info = KINDS[name]
    if info.wire_type is None:
        raise KeyError(f"kind '{name}' has no wire schema")
    branches = [text_schema(info, or_empty=or_empty)]
    if info.numbers is not None:
        branches += info.numbers.schemas()
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def example_error(name: str, value: str, codes: tuple[str, ...] | None) -> str | None:
    """Why ``value`` cannot be an example of a field of kind ``name``, or None when it can."""
    info = KINDS.get(name)  # type: ignore[call-overload]
    if info is None:
        return None
    if info.pattern is not None and not re.fullmatch(info.pattern, value):
        return f"example {value!r} is not a valid {name} value"
    if info.values is not None and value not in info.values:
        return f"example {value!r} is not " + " or ".join(repr(v) for v in info.values)
    if name == "code" and codes is not None and value not in codes:
        return f"example {value!r} is not a code of the list"
    if info.example is None and info.reference != "codelist":
        return f"a {name} field takes no example"
    return None


def problems() -> list[str]:
    """Why the registry is incomplete or inconsistent, one line each ([] when it is whole): the
    build refuses to run on such a registry rather than emit artefacts that fail later."""
    out: list[str] = []
    if set(KINDS) != set(KIND_NAMES):
        out.append(f"the Kind literal and KINDS differ: {sorted(set(KIND_NAMES) ^ set(KINDS))}")
    for name, info in KINDS.items():
        out += [f"kind '{name}': {why}" for why in _entry_problems(info)]
    return out


def _entry_problems(info: KindInfo) -> list[str]:
    out: list[str] = []
    if not (info.label.vi and info.label.en and info.python_type):
        out.append("needs a label in both languages and a python_type")
    if not info.edges:
        out.append("needs edge values for the differential test (edges)")
    if info.wire_type is None:
        return out
    missing = [
        key
        for key, value in (
            ("example", info.example),
            ("rule", info.rule),
            ("invalid", info.invalid if info.pattern or info.values else ""),
            ("wire_description", info.wire_description or None),
            ("capture_kinds", info.capture_kinds or None),
            ("accepts", info.accepts),
        )
        if value is None
    ]
    if missing:
        out.append("a wire scalar kind needs " + ", ".join(missing))
    if info.python_type != info.wire_type:
        out.append(f"python_type {info.python_type!r} must be its wire_type {info.wire_type!r}")
    if info.pattern is not None and info.values is not None:
        out.append("takes a pattern or values, not both")
    if info.pattern is not None and wire.portable_pattern_problem(wire.anchored(info.pattern, allow_empty=False)):
        out.append(f"pattern: {wire.portable_pattern_problem(wire.anchored(info.pattern, allow_empty=False))}")
    if info.example is not None and example_error(info.name, info.example, None):
        out.append(f"example: {example_error(info.name, info.example, None)}")
    if info.invalid is not None and info.example is not None and _valid_text(info, info.invalid):
        out.append(f"invalid value {info.invalid!r} is accepted by the kind's own string form")
    return out


def _valid_text(info: KindInfo, value: str) -> bool:
    if info.pattern is not None:
        return re.fullmatch(info.pattern, value) is not None
    return info.values is None or value in info.values


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

"""Every identifier rule in one place: wire names → Python names, packets → methods and classes."""

from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from .reserved import is_windows_device

# Names a pydantic model field must not take: they shadow BaseModel's own attributes.
_MODEL_ATTRIBUTES = frozenset(name for name in dir(BaseModel) if not name.startswith("__"))
# Builtin types the generated models write bare in annotations (``str | None``, ``list[str]``): a field
# of that name would shadow its own annotation, and datamodel-code-generator would rename it behind
# our back, so the attribute would no longer be the name the IR (and the client) uses.
_ANNOTATION_BUILTINS = frozenset({"str", "int", "float", "bool", "bytes", "list", "dict", "set", "tuple"})
_RESERVED = (
    frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | _MODEL_ATTRIBUTES
    | _ANNOTATION_BUILTINS
    | {
        "self",
        "cls",
    }
)

# Lookarounds, not ``([A-Z]+)([A-Z][a-z])``: that one backtracks quadratically on a long run of capitals.
_ACRONYM_BOUNDARY = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_WORD_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_NOT_IDENT = re.compile(r"[^A-Za-z0-9]+")


def transliterate(text: str) -> str:
    """ASCII-fold Vietnamese (and other Latin) text: 'Hồ sơ' → 'Ho so', 'đ' → 'd'."""
    folded = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in folded if not unicodedata.combining(ch) and ord(ch) < 128)


def snake_case(name: str) -> str:
    """'MaHoSo' → 'ma_ho_so', 'DSKetNoiCSDL' → 'ds_ket_noi_csdl', 'maTTHC' → 'ma_tthc'."""
    text = transliterate(name)
    text = _ACRONYM_BOUNDARY.sub("_", text)
    text = _WORD_BOUNDARY.sub(r"\1_\2", text)
    text = _NOT_IDENT.sub("_", text).strip("_").lower()
    return re.sub(r"_+", "_", text)


def field_identifier(wire_name: str) -> str:
    """A safe Python attribute name for a wire name; the wire name stays the alias."""
    ident = snake_case(wire_name) or "field"
    if ident[0].isdigit():
        ident = f"f_{ident}"
    if ident.startswith("model_"):
        # pydantic reserves the model_ namespace (a trailing "_" still warns: 'model_dump_').
        ident = f"f_{ident}"
    elif ident in _RESERVED:
        ident = f"{ident}_"
    return ident


# An upper-case wire name with at least this many letters reads better split into the words of its
# title (``CACHTHUCTHUCHIEN`` → ``cach_thuc_thuc_hien``); shorter ones (``MA``, ``KENH``) stay as they are.
READABLE_MIN_LETTERS = 4
_TITLE_WORDS_MAX = 40
_UNMATCHED_COST = 1000  # per character of the wire name no title word explains


def _title_words(title: str) -> list[str]:
    """The title's words, ASCII-folded and lower-cased (bounded: a title is prose, not a dictionary)."""
    return [w for w in _NOT_IDENT.split(transliterate(title).lower()) if w][:_TITLE_WORDS_MAX]


def _pieces(words: list[str]) -> set[str]:
    """What a wire name may be built from: each title word, and the initials of 2+ consecutive words
    (``thủ tục hành chính`` → ``tthc``)."""
    out = set(words)
    for start in range(len(words)):
        for end in range(start + 2, len(words) + 1):
            out.add("".join(w[0] for w in words[start:end]))
    return out


def _segment(chunk: str, pieces: set[str]) -> list[str]:
    """``chunk`` (lower-case letters and digits) cut where the pieces explain it, fewest cuts first;
    letters no piece explains are kept together as one segment. The segments always join back to
    ``chunk``: the title decides only where the underscores go."""
    # best[i]: (cost, segments) of the cheapest cut of chunk[:i]
    none: list[str] = []
    best: list[tuple[int, list[str]]] = [(0, none)] + [(1 << 60, none)] * len(chunk)
    for end in range(1, len(chunk) + 1):
        cost, segments = best[end - 1]
        if segments and segments[-1].startswith("?"):
            # extend the unmatched run before this character
            candidate = (cost + _UNMATCHED_COST, [*segments[:-1], segments[-1] + chunk[end - 1]])
        else:
            candidate = (cost + _UNMATCHED_COST + 1, [*segments, "?" + chunk[end - 1]])
        for start in range(end - 1, -1, -1):  # a wire name is at most 80 characters: bounded
            piece = chunk[start:end]
            if piece in pieces and best[start][0] + 1 < candidate[0]:
                candidate = (best[start][0] + 1, best[start][1] + [piece])
        best[end] = candidate
    return [segment.lstrip("?") for segment in best[len(chunk)][1]]


def readable_identifier(wire_name: str, title: str) -> str | None:
    """A Python name for an upper-case wire name, split into the words of its (Vietnamese) title:
    ``CACHTHUCTHUCHIEN`` + "Cách thức thực hiện" → ``cach_thuc_thuc_hien``; ``MATTHC`` + "Mã thủ tục
    hành chính" → ``ma_tthc``. None when the rule does not apply (a lower-case letter, too few
    letters) or the title explains none of it; :func:`field_identifier` is then the name.

    Safe whatever the title says: the result is the wire name's own letters and digits, lower-cased,
    with underscores inserted, then checked as :func:`field_identifier` checks any name.
    """
    if any(c.islower() for c in wire_name) or sum(c.isalpha() for c in wire_name) < READABLE_MIN_LETTERS:
        return None
    if not wire_name.isascii():
        return None
    pieces = {p for p in _pieces(_title_words(title)) if p}
    segments: list[str] = []
    matched = False
    for chunk in (c for c in _NOT_IDENT.split(wire_name.lower()) if c):
        cut = _segment(chunk, pieces)
        matched = matched or any(segment in pieces for segment in cut)
        segments += cut
    if not matched or len(segments) < 2:
        return None
    return field_identifier("_".join(segments))


def request_model(name: str) -> str:
    """The request model (and JSON Schema definition) of a packet or local service: ``DongBoHoSoMCRequest``."""
    return f"{name}Request"


def response_model(name: str) -> str:
    """The answer model (and JSON Schema definition) of a packet or local service: ``LayThuTucResponse``."""
    return f"{name}Response"


_MEMBER_NOT_NAME = re.compile(r"[^A-Z0-9]+")
_MEMBER_FIRST_WORDS = re.compile(r"[(/,;:.]")
_MEMBER_LONGEST = 40


def _member_plain(text: str) -> str:
    upper = transliterate(text).upper()
    return _MEMBER_NOT_NAME.sub("_", upper).strip("_")[:_MEMBER_LONGEST].rstrip("_")


def code_member_names(codes: list[tuple[str, str]]) -> list[str]:
    """The enum member name of each ``(code, English meaning)`` of a code list, in order.

    ``RECEIVED`` from "received/accepted" (the meaning's first words); ``C2`` (``C`` + the code)
    when the meaning gives no usable or no unique name. Always ``[A-Z][A-Z0-9_]*``, never a keyword:
    spec text becomes a name only through these letters and digits.
    """
    names: list[str] = []
    for code, en in codes:
        for candidate in (_member_plain(_MEMBER_FIRST_WORDS.split(en, maxsplit=1)[0]), "C" + _member_plain(code)):
            if candidate[:1].isalpha() and candidate.isidentifier() and candidate not in names:
                names.append(candidate)
                break
        else:
            name = "C" + _member_plain(code)
            while name in names:
                name += "_"
            names.append(name)
    return names


def code_type(codelist: str, *, or_empty: bool) -> str:
    """The wire type of a closed code list's codes (``CodeTrangThaiHoSo``; ``…OrEmpty`` also takes ``""``)."""
    return f"Code{codelist}{'OrEmpty' if or_empty else ''}"


def endpoint_parameters(endpoints: list[str]) -> dict[str, str]:
    """The client constructor's argument for each endpoint's path: ``integration`` → ``integration_path``
    (``…_2_path`` for a second endpoint folding to the same name)."""
    out: dict[str, str] = {}
    for name in endpoints:
        base = field_identifier(name).rstrip("_") or "endpoint"
        param, suffix = f"{base}_path", 1
        while param in out.values():
            suffix += 1
            param = f"{base}_{suffix}_path"
        out[name] = param
    return out


def login_path_parameter(taken: set[str]) -> str:
    """The argument naming the login endpoint's path when the spec has no ``auth`` endpoint."""
    return "auth_path" if "auth_path" not in taken else "login_path"


def method_name(packet: str) -> str:
    """Client/handler method for a packet: 'DongBoHoSoMC' → 'dong_bo_ho_so_mc'."""
    return field_identifier(packet)


def collision_key(identifier: str) -> str:
    """Two names that fold to the same key cannot live side by side (case, accents, NFKC)."""
    return unicodedata.normalize("NFKC", identifier).casefold()


def file_safe(name: str) -> bool:
    """A packet or record name is used in file names: keep it to plain ASCII letters and digits."""
    return re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,79}", name) is not None


_WIRE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


def wire_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a wire name, or None.

    Every wire name known from QCVN 120 implementations is an ASCII identifier (``MaHoSo``,
    ``MA_KQ_THAYTHE``, ``isUpdating``); anything else is far likelier a typo or an attack on a
    generated artefact than a real key, so it is refused with a diagnostic.
    """
    if _WIRE_NAME.fullmatch(name):
        return None
    shown = name.encode("unicode_escape").decode("ascii")[:60]
    return f"wire name '{shown}' must be an ASCII identifier (letters, digits, _; at most 80 characters)"


def file_name_problem(name: str) -> str | None:
    """Why a packet name cannot name generated files (``docs/packets/<name>.md`` …), or None."""
    if not file_safe(name):
        shown = name.encode("unicode_escape").decode("ascii")[:60]
        return f"'{shown}' must be ASCII letters and digits, starting with a letter"
    if is_windows_device(name):
        return f"'{name}' is a reserved device name on Windows and cannot name a file"
    return None


# Type names the generator defines itself, whatever the spec says (wire scalars, the open code type).
GENERATOR_PREFIXES = ("Wire", "Code")
GENERATOR_NAMES = frozenset({"OpenCode"})
ENVELOPE_MODELS = ("LoginRequest", "LoginResponse", "RequestEnvelope", "ResponseEnvelope")

# Names the generated ``wire`` and ``codes`` modules bind themselves (imports and definitions besides
# the Wire…/Code… types): a code list's class, named as the list and imported into ``wire``, must not
# take one (tests/test_models.py reads the modules' own names and holds them to this set).
MODULE_NAMES = frozenset(
    {
        "Annotated", "BeforeValidator", "CodeEnum", "DATETIME_FORMAT", "Field", "Literal", "OpenCode",
        "PATTERN_MESSAGES", "StrictInt", "TIMEZONE", "TYPE_CHECKING", "TypeAlias", "TypeAliasType",
        "annotations", "date", "datetime", "datetime_as_text", "flag_as_text", "format_datetime",
        "from_wire_datetime", "number_as_text", "parse_datetime", "to_wire_datetime",
        "whole_number_as_int", "wire_number", "zone",
    }
)  # fmt: skip


def code_list_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a code list's class in the generated modules, or None."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"code list name '{name}' is a Python keyword; rename it"
    if name in MODULE_NAMES or name.startswith(GENERATOR_PREFIXES):
        return f"code list name '{name}' is a name the generated wire and codes modules use themselves; rename it"
    return None


OwnerKind = Literal["record", "envelope", "packet", "local service", "code list", "generator"]


@dataclass(frozen=True)
class Owner:
    """What defines a derived name: its kind and spec name, kept as data so nobody re-parses a message."""

    kind: OwnerKind
    name: str = ""

    def __str__(self) -> str:
        if self.kind == "envelope":
            return "the envelope"
        if self.kind == "generator":
            return "a type the generator defines"
        return f"{self.kind} '{self.name}'"


def derived_names(
    records: list[str], packets: list[str], local_services: list[str], codelists: list[str]
) -> list[tuple[str, Owner]]:
    """Every model or type name a build defines, with what defines it.

    Records, the envelope models, ``<packet>Request``/``<packet>Response`` (packets and local
    services) and ``Code<list>``/``Code<list>OrEmpty`` share one namespace (the JSON Schema
    ``$defs``, the models module, the wire module): two owners of one name means one silently
    replaces the other. :func:`name_clashes` finds them.
    """
    out = [(name, Owner("record", name)) for name in records]
    out += [(name, Owner("envelope")) for name in ENVELOPE_MODELS]
    kind: OwnerKind
    for kind, names in (("packet", packets), ("local service", local_services)):
        for name in names:
            out += [(request_model(name), Owner(kind, name)), (response_model(name), Owner(kind, name))]
    for name in codelists:
        out += [(code_type(name, or_empty=False), Owner("code list", name))]
        out += [(code_type(name, or_empty=True), Owner("code list", name))]
    return out


def name_clashes(derived: list[tuple[str, Owner]]) -> list[tuple[str, Owner, Owner]]:
    """``(name, first owner, second owner)`` for every name two owners define (case-insensitively,
    as on a case-insensitive file system), and for records that take a generator-reserved name."""
    clashes: list[tuple[str, Owner, Owner]] = []
    seen: dict[str, tuple[str, Owner]] = {}
    for name, owner in derived:
        if owner.kind == "record" and (name.startswith(GENERATOR_PREFIXES) or name in GENERATOR_NAMES):
            clashes.append((name, owner, Owner("generator")))
        key = collision_key(name)
        if key in seen and seen[key][1] != owner:
            clashes.append((name, seen[key][1], owner))
        seen.setdefault(key, (name, owner))
    return clashes

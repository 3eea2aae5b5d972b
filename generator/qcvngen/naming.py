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
    text = re.sub(r"_+", "_", text)
    return text


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
            out += [(f"{name}Request", Owner(kind, name)), (f"{name}Response", Owner(kind, name))]
    for name in codelists:
        out += [(f"Code{name}", Owner("code list", name)), (f"Code{name}OrEmpty", Owner("code list", name))]
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

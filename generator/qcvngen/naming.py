"""Every identifier rule in one place: wire names → Python names, packets → methods and classes."""

from __future__ import annotations

import keyword
import re
import unicodedata

from pydantic import BaseModel

# Names a pydantic model field must not take: they shadow BaseModel's own attributes.
_MODEL_ATTRIBUTES = frozenset(name for name in dir(BaseModel) if not name.startswith("__"))
_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | _MODEL_ATTRIBUTES | {
    "self",
    "cls",
}

_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_NOT_IDENT = re.compile(r"[^A-Za-z0-9]+")


def transliterate(text: str) -> str:
    """ASCII-fold Vietnamese (and other Latin) text: 'Hồ sơ' → 'Ho so', 'đ' → 'd'."""
    folded = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in folded if not unicodedata.combining(ch) and ord(ch) < 128)


def snake_case(name: str) -> str:
    """'MaHoSo' → 'ma_ho_so', 'DSKetNoiCSDL' → 'ds_ket_noi_csdl', 'maTTHC' → 'ma_tthc'."""
    text = transliterate(name)
    text = _ACRONYM_BOUNDARY.sub(r"\1_\2", text)
    text = _WORD_BOUNDARY.sub(r"\1_\2", text)
    text = _NOT_IDENT.sub("_", text).strip("_").lower()
    text = re.sub(r"_+", "_", text)
    return text


def field_identifier(wire_name: str) -> str:
    """A safe Python attribute name for a wire name; the wire name stays the alias."""
    ident = snake_case(wire_name) or "field"
    if ident[0].isdigit():
        ident = f"f_{ident}"
    if ident in _RESERVED or ident.startswith("model_"):
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

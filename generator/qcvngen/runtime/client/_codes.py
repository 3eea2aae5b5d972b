"""The generated code-list enums: each member is its wire string and carries its meaning (vi/en).

The generated ``codes`` module lists each code list as data (code, Vietnamese and English meaning)
and :func:`code_enum` makes the enum here, at import: member names are derived from the English
meaning (``"received/accepted"`` → ``RECEIVED``), and because they are made at run time, no spec
text ever becomes a name in generated source.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from enum import StrEnum
from typing import Any, Self, cast

_NOT_NAME = re.compile(r"[^A-Z0-9]+")
_FIRST_WORDS = re.compile(r"[(/,;:.]")
_LONGEST = 40


class CodeEnum(StrEnum):
    """A code of a QCVN 120 code list: equal to its wire string; ``vi`` and ``en`` say what it means.

    ``TrangThaiHoSo("2").en`` reads the meaning of a code received; members (``TrangThaiHoSo.RECEIVED``,
    also ``TrangThaiHoSo["C2"]``) can be sent wherever the code is expected.
    """

    vi: str
    en: str

    def __new__(cls, value: str, vi: str = "", en: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.vi = vi
        member.en = en
        return member

    @property
    def meaning(self) -> str:
        """Both meanings, Vietnamese first: ``"Được tiếp nhận — received/accepted"``."""
        return f"{self.vi} — {self.en}"


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    return _NOT_NAME.sub("_", ascii_only.upper()).strip("_")[:_LONGEST].rstrip("_")


def member_name(code: str, en: str, taken: set[str]) -> str:
    """``RECEIVED`` from "received/accepted"; ``C2`` when the meaning gives no usable name."""
    for candidate in (_plain(_FIRST_WORDS.split(en, maxsplit=1)[0]), "C" + _plain(code)):
        usable = candidate[:1].isalpha() and candidate.isidentifier()
        if usable and candidate not in taken and not keyword.iskeyword(candidate):
            return candidate
    name = "C" + _plain(code)
    while name in taken or not name.isidentifier() or keyword.iskeyword(name):
        name += "_"
    return name


def code_enum(
    name: str, doc: str, codes: tuple[tuple[str, str, str], ...], module: str
) -> type[CodeEnum]:
    """The enum of one code list: one member per ``(code, vi, en)``, in order."""
    members: dict[str, tuple[str, str, str]] = {}
    for code, vi, en in codes:
        members[member_name(code, en, set(members))] = (code, vi, en)
    functional: Any = CodeEnum  # the functional Enum API, which type checkers do not model
    created = cast(type[CodeEnum], functional(name, members, module=module, qualname=name))
    created.__doc__ = doc
    return created

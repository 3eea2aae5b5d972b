"""The base of the generated code-list enums: each member is its wire string and carries its meaning.

The generated ``codes`` module writes every code list out as a subclass of :class:`CodeEnum`, one
member per code (``RECEIVED = "2", "Được tiếp nhận", "received/accepted"``), so type checkers and
editors see every member; the member names are decided by the generator, never at import.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class CodeEnum(StrEnum):
    """A code of a QCVN 120 code list: equal to its wire string; ``vi`` and ``en`` say what it means.

    ``TrangThaiHoSo("2").en`` reads the meaning of a code received; members (``TrangThaiHoSo.RECEIVED``)
    can be sent wherever the code is expected.
    """

    vi: str
    en: str

    def __new__(cls, value: str, vi: str = "", en: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.vi = vi
        member.en = en
        member.__doc__ = f"{value}: {vi} — {en}"
        return member

    @property
    def meaning(self) -> str:
        """Both meanings, Vietnamese first: ``"Được tiếp nhận — received/accepted"``."""
        return f"{self.vi} — {self.en}"

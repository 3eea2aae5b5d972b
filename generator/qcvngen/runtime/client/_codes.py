"""The base of the generated code-list enums: a member is its wire string and carries its meaning."""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class CodeEnum(StrEnum):
    """A code of a QCVN 120 code list: equal to its wire string; ``vi`` and ``en`` say what it means.

    Members can be sent wherever the code is expected (``TrangThaiHoSo.RECEIVED`` is ``"2"``), and
    ``TrangThaiHoSo("2").en`` reads the meaning of a code received.
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
        """Both meanings, Vietnamese first: ``"Đã tiếp nhận — received/accepted"``."""
        return f"{self.vi} — {self.en}"

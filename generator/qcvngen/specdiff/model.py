"""What a spec diff is made of: impacts, scopes (headings of the notice), changes and their labels."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Impact(str, Enum):
    """How a change affects a data submitter: must act, may act, or only read."""

    BREAKING = "breaking"
    COMPATIBLE = "compatible"
    INFORMATIONAL = "informational"


RANK = {Impact.INFORMATIONAL: 0, Impact.COMPATIBLE: 1, Impact.BREAKING: 2}
IMPACT_TEXT = {
    Impact.BREAKING: ("KHÔNG TƯƠNG THÍCH", "BREAKING"),
    Impact.COMPATIBLE: ("TƯƠNG THÍCH", "COMPATIBLE"),
    Impact.INFORMATIONAL: ("THÔNG TIN", "INFORMATIONAL"),
}
# Labels of change kinds; an attribute change without its own entry reads "<attribute> changed".
_KINDS = {
    "removed": ("bị bỏ", "removed"),
    "added": ("mới", "added"),
    "field.added-required": ("trường bắt buộc mới", "required field added"),
    "field.renamed": ("đổi tên trường", "field renamed"),
    "field.required": ("trở thành bắt buộc", "now required"),
    "field.optional": ("trở thành tuỳ chọn", "now optional"),
    "record.closed": ("từ chối khoá không khai báo", "unknown keys now rejected"),
    "record.opened": ("chấp nhận khoá không khai báo", "unknown keys now accepted"),
    "codelist.closed": ("danh mục thành đóng", "code list made closed"),
    "codelist.opened": ("danh mục thành mở", "code list made open"),
}
_NOUNS = {
    "packet": ("gói tin", "packet"),
    "table": ("bảng", "table"),
    "record": ("bản ghi", "record"),
    "field": ("trường", "field"),
    "codelist": ("danh mục mã", "code list"),
    "code": ("mã", "code"),
    "endpoint": ("điểm cuối", "endpoint"),
    "header": ("tiêu đề HTTP", "header"),
    "error": ("mã lỗi", "error code"),
    "service": ("dịch vụ địa phương", "local service"),
    "source": ("nguồn", "source"),
    "group": ("nhóm", "group"),
    "regulation": ("quy chuẩn", "regulation"),
}
_ATTRS = {
    "type": ("kiểu dữ liệu", "type"),
    "max_length": ("độ dài tối đa", "max length"),
    "title": ("tiêu đề", "title"),
    "notes": ("ghi chú", "notes"),
    "sources": ("nguồn", "sources"),
    "confidence": ("độ tin cậy", "confidence"),
    "membership": ("phân loại (membership)", "membership"),
    "example": ("ví dụ", "example"),
    "pii": ("dữ liệu cá nhân", "personal data"),
    "secret": ("bí mật", "secret"),
    "row": ("số dòng", "row"),
    "declared": ("số trường công bố", "declared field count"),
    "endpoint": ("điểm cuối", "endpoint"),
    "direction": ("chiều trao đổi", "direction"),
    "path": ("đường dẫn", "path"),
    "purpose": ("mục đích", "purpose"),
    "description": ("mô tả", "description"),
    "gaps": ("dòng chưa rõ tên", "unnamed rows"),
    "status": ("mức bao phủ", "coverage status"),
    "number": ("số hiệu", "number"),
    "tables": ("bảng", "tables"),
    "spec_version": ("phiên bản đặc tả", "spec version"),
    "sections": ("mục", "sections"),
}


@dataclass(frozen=True)
class Scope:
    """A heading of the notice: a packet (with its tables), a code list, the envelope, …"""

    order: tuple[int, tuple[int, ...], str]
    vi: str
    en: str
    packet: str | None = None


@dataclass(frozen=True)
class Change:
    """One difference: where, what, how it affects submitters, and the old and new values as text."""

    scope: Scope
    subject: str
    kind: str
    impact: Impact
    old: str | None = None
    new: str | None = None
    table: int | None = None

    @property
    def label(self) -> tuple[str, str]:
        """What changed, in Vietnamese and English."""
        if self.kind in _KINDS:
            return _KINDS[self.kind]
        noun, _, what = self.kind.partition(".")
        if what in ("removed", "added"):
            n, w = _NOUNS[noun], _KINDS[what]
            return f"{n[0]} {w[0]}", f"{n[1]} {w[1]}"
        vi, en = _ATTRS.get(what, (what, what.replace("_", " ")))
        return f"đổi {vi}", f"{en} changed"


@dataclass(frozen=True)
class Side:
    """One side of the comparison: as the user named it, the folder read, and the git commit if any."""

    label: str
    path: Path
    revision: str | None = None


@dataclass(frozen=True)
class SpecDiff:
    """Every change between two specs, in notice order."""

    old: Side
    new: Side
    old_version: str
    new_version: str
    regulation: str
    changes: tuple[Change, ...]

    def count(self, impact: Impact) -> int:
        """How many changes have ``impact``."""
        return sum(1 for c in self.changes if c.impact is impact)

    @property
    def breaking(self) -> bool:
        """Whether data submitters must change anything."""
        return self.count(Impact.BREAKING) > 0

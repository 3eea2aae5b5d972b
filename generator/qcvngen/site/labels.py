"""Every fixed word the documentation site shows, in Vietnamese and English.

The IR carries the spec's own text as ``Text(vi, en)``; this module is the site's vocabulary for
what the IR holds as codes (field kinds, required, membership, confidence, status, direction…)
and for the site's headings and column labels. Each entry is a ``Text`` pair, so the language
switch can show exactly one of them; nothing here is guessed from the other language.
"""

from __future__ import annotations

from typing import Final

from .. import directions, kinds
from ..ir import Direction, Origin, Text

__all__ = [
    "CONFIDENCE",
    "DIRECTION",
    "DIRECTION_SHORT",
    "KINDS",
    "LIST_OF",
    "MEMBERSHIP",
    "PART",
    "PART_WAY",
    "REQUIRED",
    "SOURCE_KINDS",
    "STATUS",
    "STATUS_MEANING",
    "L",
    "ref",
]

# What a field kind is called; the datetime format and the flag values are wire text, shown as code.
# The registry's names of the kinds; a list's label is followed by its record's link ("list of X").
KINDS: Final[dict[str, Text]] = {
    **{name: Text(*info.label) for name, info in kinds.KINDS.items()},
    "list": Text("danh sách", "list of"),
}
LIST_OF: Final[dict[str, Text]] = {
    "string": Text("danh sách chuỗi", "list of string"),
    "any": Text("danh sách giá trị bất kỳ", "list of any"),
}

REQUIRED: Final[dict[bool, Text]] = {True: Text("có", "yes"), False: Text("không", "no")}

MEMBERSHIP: Final[dict[str, Text]] = {
    "regulation": Text("quy chuẩn", "regulation"),
    "candidate": Text("ứng viên", "candidate"),
    "later": Text("bổ sung sau", "later"),
    "hypothesis": Text("giả thuyết", "hypothesis"),
    "observed": Text("quan sát từ lưu lượng", "observed in traffic"),
}
CONFIDENCE: Final[dict[str, Text]] = {
    "high": Text("cao", "high"),
    "medium": Text("trung bình", "medium"),
    "low": Text("thấp", "low"),
}
STATUS: Final[dict[str, Text]] = {
    "complete": Text("đầy đủ", "complete"),
    "unverified": Text("chưa kiểm chứng", "unverified"),
    "partial": Text("một phần", "partial"),
    "unknown": Text("chưa biết", "unknown"),
}
STATUS_MEANING: Final[dict[str, Text]] = {
    "complete": Text("đã biết mọi dòng khai báo", "all declared rows known"),
    "unverified": Text(
        "đủ số nhưng một phần cấu trúc là giả thuyết", "counts match but part of the structure is a hypothesis"
    ),
    "partial": Text("đã biết một số dòng", "some rows known"),
    "unknown": Text("chưa biết dòng nào", "no row known"),
}
# A packet's direction in words: the docs say it too, so it is defined once, in directions.py.
DIRECTION: Final[dict[Direction, Text]] = directions.PACKET
DIRECTION_SHORT: Final[dict[Direction, Text]] = directions.PACKET_SHORT
PART: Final[dict[str, Text]] = {"records": Text("bản ghi", "records"), "params": Text("tham số", "params")}
# Which way a table's fields travel, for packets with more than one table ("1 sent / 3 received").
PART_WAY: Final[dict[str, Text]] = {"params": Text("gửi", "sent"), "records": Text("nhận", "received")}
SOURCE_KINDS: Final[dict[str, Text]] = {
    "repository": Text("kho mã nguồn", "repository"),
    "page": Text("trang web", "web page"),
    "article": Text("bài viết", "article"),
    "regulation": Text("văn bản quy phạm", "regulation"),
    "inference": Text("suy luận", "inference"),
    "capture": Text("bản ghi lưu lượng", "traffic capture"),
}


class L:
    """Headings, column labels and sentences of the site's own pages."""

    NUMBER = Text("TT", "No")
    FIELD = Text("Trường", "Field")
    TYPE = Text("Kiểu", "Type")
    REQUIRED = Text("Bắt buộc", "Required")
    MAX_LENGTH = Text("Độ dài tối đa", "Max length")
    DESCRIPTION = Text("Mô tả", "Description")
    SOURCE_CONFIDENCE = Text("Nguồn · độ tin cậy", "Source · confidence")
    REF = Text("Tham chiếu", "Ref")
    NAME = Text("Tên", "Name")
    DEFAULT_PATH = Text("Đường dẫn mặc định", "Default path")
    NOTES = Text("Ghi chú", "Notes")
    SOURCES = Text("Nguồn", "Sources")
    MEANING = Text("Ý nghĩa", "Meaning")
    CODE = Text("Mã", "Code")
    RESULT = Text("Kết quả", "Result")
    SERVICE = Text("Dịch vụ", "Service")
    DIRECTION = Text("Hướng", "Direction")
    ENDPOINT = Text("Điểm cuối", "Endpoint")
    DECLARED_FIELDS = Text("Số trường (Bảng 1)", "Fields (Table 1)")
    CLIENT_METHOD = Text("Phương thức client", "Client method")
    PACKET = Text("Gói tin", "Packet")
    PACKETS = Text("Gói tin", "Packets")
    PURPOSE = Text("Mục đích", "Purpose")
    FIELDS = Text("Số trường", "Fields")
    TABLE = Text("Bảng", "Table")
    COVERAGE = Text("Độ phủ", "Coverage")
    PART = Text("Phần", "Part")
    DECLARED = Text("Khai báo", "Declared")
    SPECIFIED = Text("Đã xác định", "Specified")
    CANDIDATES = Text("Ứng viên", "Candidates")
    LATER = Text("Bổ sung sau", "Later")
    STATUS = Text("Trạng thái", "Status")
    MISSING_ROWS = Text("Dòng thiếu", "Missing rows")
    KIND = Text("Loại", "Kind")
    REFERENCE = Text("Tham chiếu", "Reference")
    GIVES = Text("Cung cấp", "Gives")
    SOURCE = Text("Nguồn", "Source")
    ID = Text("Mã", "Id")
    SEARCH = Text("Tìm kiếm", "Search")
    BUILT_FROM = Text("Dựng bởi", "Built by")
    FROM_SPEC = Text("từ đặc tả", "from the spec")
    NOT_EDIT = Text("Đừng sửa trang này: sửa spec/ rồi chạy", "Do not edit: change spec/ and run")
    ENGLISH_ONLY = Text("Ghi chú này chỉ có bằng tiếng Anh: chọn EN hoặc VI + EN để đọc.", "")
    ENGLISH_ONLY_SHORT = Text("(chỉ có bằng tiếng Anh)", "")
    INFERENCE = Text("suy luận", "inference")
    PERSONAL = Text("dữ liệu cá nhân", "personal data")
    SECRET = Text("bí mật", "secret")
    NAME_UNKNOWN = Text("tên chưa biết", "name unknown")
    WIRE_NAME_UNKNOWN = Text("tên trường chưa biết", "wire name unknown")
    ROW = Text("Dòng", "Row")
    OR = Text("hoặc", "or")


def ref(origin: Origin) -> Text:
    """Where a field sits in the regulation: "Bảng 2, dòng 15" / "Table 2, row 15"."""
    if origin.table is None:
        return Text("phong bì", "envelope")
    if origin.row is None:
        return Text(f"Bảng {origin.table}, dòng chưa rõ", f"Table {origin.table}, row unknown")
    return Text(f"Bảng {origin.table}, dòng {origin.row}", f"Table {origin.table}, row {origin.row}")

"""Shapes of exchanges, never values: one JSON line per exchange for `qcvngen learn`.

The format is documented in docs/capture.schema.json and docs/learn.md. A line names the packet,
the endpoint, the day, the error code and (for refusals) the portal's message with its values
blanked, and, for every key path of the records, how many records carried it, the JSON types and
field kinds its values matched, their maximum length and list lengths. Values themselves are kept
only for paths the caller names as ``code`` fields, so that new codes can be learned.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import stat
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

FORMAT = "qcvn120-capture/1"
DIRECTIONS = ("answer", "request")
# Bounds keep a hostile answer from making the capture large or slow: deeper values and
# further paths are counted as truncated, never walked.
MAX_DEPTH = 8
MAX_PATHS = 500
MAX_CODES = 50
MAX_CODE_LENGTH = 40
MAX_MESSAGE = 300

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?[0-9]*[.,][0-9]+$")
_TOKEN = re.compile(r"^[^\s]{1,40}$")
_CAMEL = re.compile(r"^[A-Z]?[a-z0-9]+(?:[A-Z][a-z0-9]*)+$")
_WORD = re.compile(r"(\w+)")
# A code value: a short token of letters, digits and ``. _ - /`` (``2``, ``G03-GD10``).
_CODE_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
# Personal-data shapes a code never has: phone numbers, 9- and 12-digit ID numbers.
_PERSONAL = re.compile(r"^(?:\+?84|0)[0-9]{8,10}$|^[0-9]{9,}$")
_LEADING_ZERO = re.compile(r"^-?0[0-9]")
MAX_NAMED = 20
OTHER_KEY = "*"
"""Stands for a key that is not an identifier (it could be a value used as a key)."""

Line = dict[str, Any]
Sink = Union[str, "os.PathLike[str]", Callable[[Line], None]]
# Every class :func:`kind_of` and :func:`json_type` answer: the only names a capture line's
# ``kinds`` and ``json`` counts may use (``qcvngen learn`` refuses any other, which could carry
# a value).
CAPTURE_KINDS = frozenset(
    {
        "datetime",
        "flag",
        "integer",
        "decimal",
        "code",
        "string",
        "empty",
        "boolean",
        "null",
        "record",
        "list",
    }
)
JSON_TYPES = frozenset({"string", "number", "boolean", "null", "object", "array"})


def kind_of(value: Any, is_code: bool = False) -> str:
    """The field kind a JSON value would match: datetime, flag, integer, decimal, code, string,
    empty, boolean, null, record or list."""
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, dict):
        return "record"
    if isinstance(value, list):
        return "list"
    text = str(value).strip()
    if text == "":
        return "empty"
    if is_code:
        return "code"
    return _string_kind(text)


def _string_kind(text: str) -> str:
    if text in ("True", "False"):
        return "flag"
    if len(text) == 14 and text.isdigit() and _is_datetime(text):
        return "datetime"
    if _INTEGER.match(text):
        # A leading zero ("0912345678") or a phone/ID shape is an identifier's: read as a number it
        # would lose its zero, so learn proposes a string.
        return "string" if _LEADING_ZERO.match(text) or _PERSONAL.match(text) else "integer"
    if _DECIMAL.match(text):
        return "decimal"
    return "code" if _TOKEN.match(text) else "string"


def looks_like_code(value: str) -> bool:
    """Whether ``value`` can be a code of a list: a short token, no space, no control character,
    not the shape of a phone number or an ID number. Only such values are ever recorded."""
    return bool(_CODE_VALUE.match(value)) and not _PERSONAL.match(value)


def _is_datetime(text: str) -> bool:
    try:
        _dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


def json_type(value: Any) -> str:
    """The JSON type of a decoded value: string, number, boolean, null, object or array."""
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def key_segment(key: Any) -> str:
    """A key as it appears in a path: identifiers verbatim, anything else as ``*``."""
    return key if isinstance(key, str) and _KEY.match(key) else OTHER_KEY


class _Shapes:
    """Per key path: the records that carried it and the shapes of its values."""

    def __init__(self, code_paths: frozenset[str]) -> None:
        self.code_paths = code_paths
        self.paths: dict[str, dict[str, Any]] = {}
        self.truncated = False

    def walk_record(self, record: Mapping[Any, Any], index: int) -> None:
        self._walk_object(record, "", index, 1)

    def _walk_object(self, obj: Mapping[Any, Any], prefix: str, index: int, depth: int) -> None:
        for key, value in obj.items():
            path = f"{prefix}{key_segment(key)}"
            self._add(path, value, index, depth)

    def _add(self, path: str, value: Any, index: int, depth: int) -> None:
        entry = self.paths.get(path)
        if entry is None:
            if len(self.paths) >= MAX_PATHS:
                self.truncated = True
                return
            entry = self.paths[path] = {"records": set(), "seen": 0, "json": {}, "kinds": {}}
        entry["records"].add(index)
        entry["seen"] += 1
        _bump(entry["json"], json_type(value))
        is_code = path in self.code_paths
        _bump(entry["kinds"], kind_of(value, is_code))
        self._measure(entry, value, is_code)
        if depth >= MAX_DEPTH and isinstance(value, (dict, list)):
            self.truncated = True
            return
        if isinstance(value, dict):
            self._walk_object(value, f"{path}.", index, depth + 1)
        elif isinstance(value, list):
            for item in value:
                self._add(f"{path}[]", item, index, depth + 1)

    @staticmethod
    def _measure(entry: dict[str, Any], value: Any, is_code: bool) -> None:
        if isinstance(value, list):
            low, high = entry.get("list_length", (len(value), len(value)))
            entry["list_length"] = (min(low, len(value)), max(high, len(value)))
        elif isinstance(value, str):
            length = len(unicodedata.normalize("NFC", value))
            entry["max_length"] = max(entry.get("max_length", 0), length)
            if is_code and looks_like_code(value):
                codes = entry.setdefault("codes", set())
                if len(codes) < MAX_CODES:
                    codes.add(value.strip())

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.paths):
            entry = self.paths[path]
            row: dict[str, Any] = {
                "path": path,
                "records": len(entry["records"]),
                "seen": entry["seen"],
                "json": dict(sorted(entry["json"].items())),
                "kinds": dict(sorted(entry["kinds"].items())),
            }
            if "max_length" in entry:
                row["max_length"] = entry["max_length"]
            if "list_length" in entry:
                row["list_length"] = list(entry["list_length"])
            if "codes" in entry:
                row["codes"] = sorted(entry["codes"])
            out.append(row)
        return out


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def records_of(body: Mapping[str, Any], direction: str) -> list[Mapping[Any, Any]]:
    """The records of an answer (``result``) or of a request (``data``); an object counts as one."""
    value = body.get("result" if direction == "answer" else "data")
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def redact_message(message: str, sent: Iterable[str] = (), keys: Iterable[str] = ()) -> str:
    """A portal message with every value blanked: what was sent, and any word that could be one.

    Kept: lower-case words (the message's prose), punctuation, the names in ``keys`` and
    camel-case identifiers such as ``MaHoSo`` (the keys a refusal names). Anything else — numbers,
    capitalised words (names), e-mail addresses, codes — becomes ``…``.
    """
    text = unicodedata.normalize("NFC", message)
    blanks = {s for s in sent if isinstance(s, str) and len(s) >= 3}
    for value in sorted(blanks, key=len, reverse=True):
        text = text.replace(unicodedata.normalize("NFC", value), "…")
    known = set(keys)
    words = []
    for token in text.split():
        if any(c.isdigit() or c in "@/+:=" for c in token.strip(":,;.")):
            words.append("…")  # numbers, e-mail addresses, paths, phone numbers, key=value
        else:
            words.append("".join(_keep(part, known) for part in _WORD.split(token)))
    shown = re.sub(r"…(?:[\s…]*…)?", "…", " ".join(words))
    return shown if len(shown) <= MAX_MESSAGE else shown[: MAX_MESSAGE - 1] + "…"


def _keep(part: str, known: set[str]) -> str:
    if not part or not _WORD.fullmatch(part):
        return part  # punctuation between words
    if part in known or (_CAMEL.match(part) and part.isascii()):
        return part
    if part.isalpha() and part == part.lower():
        return part
    return "…"


def named_paths(message: str, keys: Iterable[str]) -> list[str]:
    """The spec's key names (``keys``) a refusal's message names: never a word the spec lacks."""
    known = set(keys)
    found = {word for word in _WORD.findall(message) if word in known}
    return sorted(found)[:MAX_NAMED]


def _head(
    packet: str,
    endpoint: str,
    direction: str,
    error_code: str | None,
    count: int,
    day: _dt.date | None,
    month_only: bool,
) -> Line:
    """What every line starts with: the date alone, never a time (``YYYY-MM`` if ``month_only``)."""
    return {
        "format": FORMAT,
        "packet": packet,
        "endpoint": endpoint,
        "direction": direction,
        "date": (day or _dt.datetime.now(_dt.UTC).date()).isoformat()[: 7 if month_only else 10],
        "error_code": error_code,
        "records": count,
    }


def refusal_line(
    packet: str,
    endpoint: str,
    *,
    direction: str,
    error_code: str,
    count: int,
    message: str = "",
    keys: Iterable[str] = (),
    day: _dt.date | None = None,
    month_only: bool = False,
) -> Line:
    """The one short line a refused exchange leaves: what was refused, how many records, and which
    of the spec's keys the refusal named. No value, no shape, no key of the refused records: a
    refused request teaches nothing (its typos must never become candidates)."""
    return {
        **_head(packet, endpoint, direction, error_code, count, day, month_only),
        "refused": True,
        "named": named_paths(message, keys),
        "envelope_keys": [],
        "keys": [],
    }


def build_line(
    packet: str,
    endpoint: str,
    body: Mapping[str, Any],
    code_paths: Iterable[str] = (),
    *,
    direction: str = "answer",
    day: _dt.date | None = None,
    month_only: bool = False,
    keys: Iterable[str] = (),
    count: int | None = None,
) -> Line:
    """The capture line of one exchange: shapes of ``body`` (an answer, or a received request).

    A refusal (``error_code`` other than ``0``) becomes a :func:`refusal_line` of ``count`` records
    (default: the records of ``body``). A line is never larger than the message it describes
    (its compact JSON, or 4 KiB for a smaller one): the longest rows are dropped first and the line
    is marked ``truncated``.

    ``code_paths`` are the key paths (``A``, ``A.B``, ``A[].B``) whose values are codes the caller
    wants learned; ``keys`` are the spec's key names a refusal may name (a refusal keeps no
    message). ``day`` defaults to today (UTC): dates
    only, never a time; ``month_only`` coarsens it to ``YYYY-MM``.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    records = records_of(body, direction)
    code = body.get("error_code")
    error_code = None if code is None else str(code).strip()[:20]
    if error_code not in (None, "0"):
        message = body.get("message")
        return refusal_line(
            packet,
            endpoint,
            direction=direction,
            error_code=str(error_code),
            count=len(records) if count is None else count,
            message=message if isinstance(message, str) else "",
            keys=keys,
            day=day,
            month_only=month_only,
        )
    shapes = _Shapes(frozenset(code_paths))
    for index, record in enumerate(records):
        shapes.walk_record(record, index)
    line: Line = {
        **_head(packet, endpoint, direction, error_code, len(records), day, month_only),
        "envelope_keys": sorted({key_segment(k) for k in body}),
        "keys": shapes.rows(),
    }
    if shapes.truncated:
        line["truncated"] = True
    return _within(line, body)


MIN_LINE_BOUND = 4096


def _size(value: Any) -> int:
    try:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except (TypeError, ValueError):
        return MIN_LINE_BOUND


def _within(line: Line, body: Any) -> Line:
    """``line``, its rows dropped (widest first) until its JSON is no larger than ``body``'s (or
    :data:`MIN_LINE_BOUND`). The body, a batch of megabytes at times, is serialised to be measured
    only when the line is over that floor, which a line of shapes seldom is."""
    size = _size(line)
    if size <= MIN_LINE_BOUND:
        return line
    bound = max(_size(body), MIN_LINE_BOUND)
    if size <= bound:
        return line
    rows = sorted(line["keys"], key=_size)
    while rows and size > bound:
        size -= _size(rows.pop()) + 1
    line["keys"] = sorted(rows, key=lambda row: str(row["path"]))
    line["truncated"] = True
    return line


# A capture file and its rotated copies (``.1`` … ``.3``) together never exceed this, by default.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
GENERATIONS = 3


class CaptureFileError(ValueError):
    """A capture path that is not (or cannot become) a regular file: a FIFO, a device, a link."""


def check_capture_path(path: str | os.PathLike[str]) -> str:
    """``path`` as text if a capture may be written there; else CaptureFileError in one line.

    A symbolic link, a FIFO, a device or a folder is refused (a FIFO would block, a link could
    point anywhere); a missing file in an existing folder is fine.
    """
    text = os.fspath(path)
    if not text:
        raise CaptureFileError("capture: the path is empty")
    try:
        info = os.lstat(text)
    except FileNotFoundError:
        if not os.path.isdir(os.path.dirname(os.path.abspath(text))):
            raise CaptureFileError(f"capture: {text!r}: its folder does not exist") from None
        return text
    except OSError as error:
        raise CaptureFileError(f"capture: {text!r}: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CaptureFileError(
            f"capture: {text!r} is {_file_kind(info.st_mode)}, not a regular file"
        )
    return text


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


class CaptureFile:
    """A capture file with a size cap: appended one line per write, rotated when it would grow
    past its share, so the file and its copies ``.1`` … ``.3`` together stay within ``max_bytes``.

    The path is checked when the sink is made (a FIFO, device or link is refused at start) and
    again, without following links, at every write.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 4 * 4096:
            raise CaptureFileError("capture: max_bytes must be an integer of at least 16384")
        self.path = check_capture_path(path)
        self.max_bytes = max_bytes
        self.share = max_bytes // (GENERATIONS + 1)
        self._lock = threading.Lock()

    def __call__(self, line: Line) -> None:
        data = (json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        if len(data) > self.share:
            raise CaptureFileError("capture: a line larger than the file's share of max_bytes")
        with self._lock:
            fd = self._open()
            try:
                if os.fstat(fd).st_size + len(data) > self.share:
                    os.close(fd)
                    self._rotate()
                    fd = self._open()
                # One write on an O_APPEND descriptor: concurrent writers never interleave a line.
                os.write(fd, data)
            finally:
                os.close(fd)

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in later must not block the call
        fd = os.open(self.path, flags, 0o600)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise CaptureFileError(f"capture: {self.path!r} is no longer a regular file")
        return fd

    def _rotate(self) -> None:
        for generation in range(GENERATIONS, 0, -1):
            older = f"{self.path}.{generation}"
            newer = self.path if generation == 1 else f"{self.path}.{generation - 1}"
            if os.path.lexists(newer):
                os.replace(newer, older)


_FILES: dict[str, CaptureFile] = {}
_FILES_LOCK = threading.Lock()


def emit(line: Line, sink: Sink) -> None:
    """Hand ``line`` to a callback (a :class:`CaptureFile` is one), or append it to the file at a
    path, capped and rotated with the default ``max_bytes``."""
    sink_of(sink)(line)


def sink_of(capture: Sink) -> Callable[[Line], None]:
    """The callable a client or app writes through: a path becomes the process's one
    :class:`CaptureFile` for it (one lock and one rotation however many writers share the path),
    checked when first made (a FIFO, device or link is refused at start, with a one-line
    CaptureFileError)."""
    if callable(capture):
        return capture
    key = os.fspath(capture)
    with _FILES_LOCK:
        target = _FILES.get(key)
        if target is None:
            target = _FILES[key] = CaptureFile(key)
    return target


def capture(
    sink: Sink,
    packet: str,
    endpoint: str,
    body: Mapping[str, Any],
    code_paths: Iterable[str] = (),
    **options: Any,
) -> Line:
    """:func:`build_line` then :func:`emit`; returns the line."""
    line = build_line(packet, endpoint, body, code_paths, **options)
    emit(line, sink)
    return line

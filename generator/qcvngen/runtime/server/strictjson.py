"""Strict, bounded JSON reading: one JSON object from a request body, or a refusal naming why.

Refused: invalid UTF-8, duplicate keys, ``NaN``/``Infinity``, numbers that do not fit a double
(``1e400`` would become infinity, which JSON cannot carry back), lone surrogates, and whatever
exceeds a :class:`~.limits.Limits` setting, and a number a double cannot hold as written
(``1e-400``, ``0.10000000000000001``: it would be stored changed). Strings come out in NFC and
whole numbers written as ``5.0`` as ``5``. Nothing here echoes a value: messages name the problem and, for keys, plain names
only.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from itertools import chain, filterfalse
from typing import Any, NamedTuple

from . import native
from .limits import Limits
from .refusals import Refused, field_path, invalid, is_plain_key, over_limit

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _letter(char: str) -> str:
    """A regex unit for one lowercase ASCII letter as JSON may write it: itself or ``\\u00XX``."""
    code = "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{ord(char):02x}")
    return f"(?:{char}|\\\\u00{code})"


# A ``"session": "…"`` member however JSON spells it: each letter of the key itself or a ``\u``
# escape, whitespace around the colon, an escaped value of at most MAX_SESSION_BYTES as written.
MAX_SESSION_BYTES = 1024
_SESSION_MEMBER = re.compile(
    (
        '"'
        + "".join(map(_letter, "session"))
        + r'"[ \t\r\n]{0,64}:[ \t\r\n]{0,64}"((?:[^"\\]|\\.){0,'
        + str(MAX_SESSION_BYTES)
        + '})"'
    ).encode()
)
MAX_SESSION_CANDIDATES = 64


class _JsonProblem(ValueError):
    """A refusal raised from inside ``json.loads`` hooks, with its message ready."""

    def __init__(self, message: str, status: int = 400, setting: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.setting = setting


def decode_utf8(raw: bytes | bytearray) -> str:
    """The body as text, or a 400 naming the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(
            f"Dữ liệu không phải UTF-8 — body is not valid UTF-8 (byte {exc.start})"
        ) from None


def node_bound(raw: bytes | bytearray) -> int:
    """An upper bound of the JSON values in ``raw``, from three native scans and no parsing: every
    value but the first follows a ``,`` or opens its container with ``{``/``[``."""
    return 1 + raw.count(b",") + raw.count(b"{") + raw.count(b"[")


def check_node_budget(raw: bytes | bytearray, limits: Limits) -> None:
    """Refuse (413) a body that may hold more JSON values than ``limits.max_json_nodes``."""
    if node_bound(raw) > limits.max_json_nodes:
        raise over_limit(
            "max_json_nodes",
            limits.max_json_nodes,
            "Quá nhiều giá trị JSON",
            f"more than {limits.max_json_nodes} JSON values",
        )


# The longest text one member can match: the tail a scan of a growing body looks at again.
_MEMBER_SPAN = 2 + 6 * len("session") + 2 * 64 + 1 + 2 + 2 * MAX_SESSION_BYTES


def _session_members(raw: bytes | bytearray, start: int, end: int) -> Iterator[re.Match[bytes]]:
    """The matches of :data:`_SESSION_MEMBER` in ``raw[start:end]``, as ``finditer`` finds them.

    The regex engine tries a match at every ``"`` of the text; but where the range holds no
    backslash, a match can only start where ``"session"`` is written as is (no letter escaped), and
    a native search finds those: the regex then runs only there."""
    if raw.find(b"\\", start, end) >= 0:
        yield from _SESSION_MEMBER.finditer(raw, start, end)
        return
    after = start
    for at in _positions(raw, _SESSION_KEY, start, end):
        member = _SESSION_MEMBER.match(raw, at, end) if at >= after else None
        if member is not None:
            yield member
            after = member.end()


_SESSION_KEY = b'"session"'


def _find_each(raw: bytes | bytearray, needle: bytes, start: int, end: int) -> Iterator[int]:
    at = raw.find(needle, start, end)
    while at >= 0:
        yield at
        at = raw.find(needle, at + 1, end)


# Every start of a needle in a range, and the quotes in one: natively where the helpers are built
# (the same positions and counts: tests/test_plainbody.py).
def _positions(raw: bytes | bytearray, needle: bytes, start: int, end: int) -> Iterable[int]:
    find_all = native.find_all
    return find_all(raw, needle, start, end) if find_all else _find_each(raw, needle, start, end)


def _quotes(raw: bytes | bytearray, start: int, end: int) -> int:
    count_byte = native.count_byte
    return count_byte(raw, 0x22, start, end) if count_byte else raw.count(b'"', start, end)


class SessionScan:
    """:func:`session_candidates` over a body whose bytes arrive in order: :meth:`feed` after
    each arrival scans only the new bytes (and the tail a member may straddle), so a received
    body is scanned while it is still in the cache, and is not scanned again."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.quotes = 0
        self.scanned = 0  # bytes counted so far
        self._resume = 0  # where the member search goes on
        self._members: list[bytes] = []
        self._overflow = False

    def feed(self, raw: bytes | bytearray, end: int) -> None:
        """``raw[:end]`` has arrived (the bytes before ``self.scanned`` unchanged)."""
        self.quotes += _quotes(raw, self.scanned, end)
        self.scanned = end
        # The regex engine tries a match at each quote: none once they are too many to count.
        if self._overflow or self.quotes > 4 * self.limits.max_json_nodes:
            return
        for member in _session_members(raw, self._resume, end):
            self._members.append(member.group(1))
            self._resume = member.end()
            if len(self._members) > MAX_SESSION_CANDIDATES:
                self._overflow = True
                return
        # A member cut off at ``end`` may match once more bytes come: look at that tail again.
        self._resume = max(self._resume, end - _MEMBER_SPAN)

    def candidates(self) -> tuple[str, ...] | None:
        """The candidates of the bytes fed so far (see :func:`session_candidates`)."""
        if self.quotes > 4 * self.limits.max_json_nodes:
            raise over_limit(
                "max_json_nodes",
                self.limits.max_json_nodes,
                "Quá nhiều chuỗi JSON",
                f"more strings than {self.limits.max_json_nodes} JSON values can hold",
            )
        if self._overflow:
            return None
        found: dict[str, None] = {}
        for written in self._members:
            try:
                value = json.loads(b'"' + written + b'"')
            except (
                ValueError
            ):  # not a JSON string (a control character, a bad escape): not a session
                continue
            found[value] = None  # as sent, as the session look-up reads the body's own
        return tuple(found)


def session_candidates(raw: bytes | bytearray, limits: Limits) -> tuple[str, ...] | None:
    """The value of every ``"session": "…"`` member written anywhere in ``raw``, decoded, found by
    two native scans of the bytes without parsing them; None when there are more than
    :data:`MAX_SESSION_CANDIDATES` members.

    Every spelling counts: keys and values with ``\\u`` escapes, whitespace around the colon, any
    key order. So the top-level ``session`` of a valid body, when it is a string of at most
    :data:`MAX_SESSION_BYTES` bytes as written, is always among them; the others (nested members,
    look-alikes inside strings) only add candidates. The regex engine tries a match at each ``"``:
    a body with more quotes than ``max_json_nodes`` values can hold (two per key and two per
    string value) is refused first, with one count. A body received with a :class:`SessionScan`
    of its own (``raw.session_scan``, see :mod:`.wholebody`) was scanned as it arrived.
    """
    scan = getattr(raw, "session_scan", None)
    if not isinstance(scan, SessionScan) or scan.scanned != len(raw):
        scan = SessionScan(limits)
        scan.feed(raw, len(raw))
    return scan.candidates()


def _reject_constant(name: str) -> Any:
    raise _JsonProblem(f"{name} không phải JSON — {name} is not valid JSON")


# Python's own bound on int() is a process-wide setting that an application may raise; the wire
# bound is this module's own (the default of that setting).
_MAX_INT_DIGITS = 4300


def _integer(text: str) -> int:
    if len(text) - text.startswith("-") > _MAX_INT_DIGITS:
        raise _JsonProblem("JSON không hợp lệ — invalid JSON: a number has too many digits")
    return int(text)


def _number(text: str) -> float | int:
    value = float(text)
    if not math.isfinite(value):
        # json.loads turns 1e400 into infinity, which no JSON answer or store can carry back.
        raise _JsonProblem(
            "Số vượt quá phạm vi — a number is out of range (not a finite double, e.g. 1e400)"
        )
    # Stored exactly as sent, or refused: a number a double cannot hold as written (more digits
    # than it keeps, ``0.10000000000000001``; a non-zero one that rounds to 0, ``1e-400``) would be
    # written back changed.
    written = Decimal(text)
    if written != Decimal(repr(value)):
        raise _JsonProblem(
            "Số không lưu được nguyên trạng — a number cannot be kept exactly as sent (more"
            " significant digits than a double holds, or too small for one): send it as a string"
        )
    if not value.is_integer():
        return value
    # 5.0 is the JSON number 5, an "integer" to the schema too; 1e308 stays the double it is (its
    # int would carry the double's artefact digits, 1000…00052504760255204420248704468581108…).
    whole = int(value)
    return whole if whole == written else value


def _first_repeat(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return ""


def _object_hook(limits: Limits) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    # Keys stay as sent, as every JSON Schema reader sees them: a KELVIN SIGN "\u212aENH" is not
    # "KENH" (an unknown key where the table is closed), and the two side by side are two keys.
    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len(pairs) > limits.max_object_keys:
            raise _JsonProblem(
                f"Đối tượng có quá nhiều khóa — an object has more than {limits.max_object_keys} "
                f"keys (limit max_object_keys={limits.max_object_keys})",
                413,
            )
        out = dict(pairs)  # built natively; a shorter dict means a repeated key, found below
        if len(out) != len(pairs):
            key = _first_repeat(pairs)
            shown = f" {key!r}" if is_plain_key(key) else ""
            raise _JsonProblem(f"khóa trùng lặp{shown} — duplicate key{shown} in a JSON object")
        return out

    return unique_keys


def _json_error(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "JSON lồng quá sâu — nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return (
            f"JSON không hợp lệ — invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        )
    if "integer string conversion" in str(exc):
        return "JSON không hợp lệ — invalid JSON: a number has too many digits"
    return "JSON không hợp lệ — invalid JSON"


def parse_object(raw: bytes | bytearray | str, limits: Limits) -> dict[str, Any]:
    """``raw`` as one strict JSON object, normalised (see :func:`normalise`), or a refusal."""
    return read_object(raw, limits).data


class ReadObject(NamedTuple):
    """A request body read by :func:`read_object`."""

    data: dict[str, Any]
    # Every scalar in ``data`` is surely a JSON string (False when that is not certain).
    strings_only: bool
    # Every string value is surely in NFC already (False when that is not certain), so that
    # ``nfc_values`` would hand back the very same object. The plain way knows it from its text: in
    # NFC without ``\\u`` escapes, a string of it between two quotes (which compose with nothing),
    # its other escapes (``\\n``…) read as the characters they stand for (which compose with
    # nothing either), is in NFC too. The careful way checks each non-ASCII value as
    # :func:`normalise` visits it anyway.
    in_nfc: bool


def read_object(raw: bytes | bytearray | str, limits: Limits) -> ReadObject:
    """``raw`` as one strict JSON object, normalised (see :func:`normalise`), or a refusal; and
    what is known of its scalars (:class:`ReadObject`).

    Keys and string values come out as sent: they are judged so, as every JSON Schema reader judges
    them; string values (never keys, which could then collide) are put in NFC after judging
    (:func:`nfc_values`). Text without ``\\u`` escapes that is in NFC can hold no lone surrogate
    (UTF-8 cannot encode one): one native check replaces a per-string walk, and
    :func:`_plain_parse` reads the text in native passes. Whatever it cannot vouch for, and other
    text, goes the careful way: repeats found as each object is built, values checked after
    parsing; that way also writes every refusal's message.
    """
    text = raw if isinstance(raw, str) else decode_utf8(raw)
    # Most bodies hold no backslash at all, which one memchr tells.
    escaped = "\\u" in raw if isinstance(raw, str) else raw.find(b"\\") >= 0 and b"\\u" in raw
    # String values are judged as sent (a length counts the code points the schema sees) and put in
    # NFC after judging (contract.validate); keys stay as sent.
    if not escaped and unicodedata.is_normalized("NFC", text):
        plain = _plain_parse(text, limits, None if isinstance(raw, str) else raw)
        if plain is not None:
            return plain
    try:
        data = json.loads(
            text,
            object_pairs_hook=_object_hook(limits),
            parse_constant=_reject_constant,
            parse_float=_number,
            parse_int=_integer,
        )
    except _JsonProblem as problem:
        raise Refused(problem.status, "-1", problem.message) from None
    except (ValueError, RecursionError) as exc:
        raise invalid(_json_error(exc)) from None
    if not isinstance(data, dict):
        raise invalid("Yêu cầu phải là một đối tượng JSON — the body must be a JSON object")
    return ReadObject(data, *normalise(data, limits, strings=True))


def _plain_parse(
    text: str, limits: Limits, wire: bytes | bytearray | None = None
) -> ReadObject | None:
    """Text without ``\\u`` escapes, already in NFC, read by ``json.loads`` without a Python hook
    per object: the same values the careful way returns, or None when it would refuse them or
    this way cannot vouch for them. ``wire`` is ``text`` in UTF-8, where native scans run faster
    than in a str (encoded here when not given).

    Repeated keys (NFC twins included: the text is in NFC) are found by counting what the text
    writes against what the dicts built hold (:func:`_census`): a repeat is dropped with its key
    and whatever its value held. Without a backslash, every ``"`` of the text opens or closes a
    string, so the strings (keys included) are counted exactly; with one, the keys are counted
    instead (:func:`_key_count`).
    """
    wire = text.encode() if wire is None else wire
    try:
        data = json.loads(
            text, parse_constant=_reject_constant, parse_float=_number, parse_int=_integer
        )
    except (ValueError, RecursionError):  # _JsonProblem too: the careful way says why
        return None
    if not isinstance(data, dict):
        return None
    census = _census(data, limits)
    if census is None:
        return None
    keys, strings, others, too_long = census
    complete = 2 * strings == wire.count(b'"') if wire.find(b"\\") < 0 else keys == _key_count(wire)
    if complete and too_long:
        # The careful way would build these very values, then refuse the list in normalise():
        # refused here the same way, without parsing the text a second time.
        normalise(data, limits, strings=False)
    return ReadObject(data, others == 0, True) if complete else None


# Where a key is told apart from string content only by parsing, the count gives up: whitespace
# before a colon (``"k" : 1``), or a key ending in an escaped backslash (``"k\\\\": 1``).
_UNCOUNTABLE = (b" :", b"\t:", b"\n:", b"\r:", b'\\\\":')


def _key_count(text: bytes | bytearray) -> int:
    """The keys written in ``text`` (JSON in UTF-8 without ``\\u`` escapes), from native scans, or -1.

    Every key ends with ``":``; so does every escaped quote before a colon inside a string
    (``\\":``), which also counts among ``\\":``, and every string that starts with a colon
    (``":…"``), which is counted as a key too. No key ends with ``\\":`` once the keys ending in
    an escaped backslash are ruled out, and none is missed once whitespace before a colon is. So
    the count is never below the keys written, and equals it unless a string starts with a colon:
    equal to the keys of the dicts built, it proves that no key was dropped as a repeat.
    """
    if any(pattern in text for pattern in _UNCOUNTABLE):
        return -1
    return text.count(b'":') - text.count(b'\\":')


# Bound ``isinstance`` checks, called from native iteration (json.loads builds plain types only).
_IS_STRING = str.__instancecheck__
_IS_DICT = dict.__instancecheck__
_IS_LIST = list.__instancecheck__


def _census(data: dict[str, Any], limits: Limits) -> tuple[int, int, int, bool] | None:
    """(keys, strings with the keys among them, scalars that are not strings, whether a list holds
    more than ``max_list_items`` items) of ``data``, or None when a container nests ``max_depth``
    deep or an object holds more than ``max_object_keys`` keys.

    One level of nesting at a time, and within a level every loop is native (``map``,
    ``filter``, ``chain``): Python code runs once per level, not once per value or container.
    """
    keys = strings = others = 0
    too_long = False
    dicts: list[dict[str, Any]] = [data]
    lists: list[list[Any]] = []
    for _ in range(limits.max_depth):
        dict_sizes = list(map(len, dicts))
        list_sizes = list(map(len, lists))
        if dict_sizes and max(dict_sizes) > limits.max_object_keys:
            return None
        too_long = too_long or (bool(list_sizes) and max(list_sizes) > limits.max_list_items)
        below = list(
            filterfalse(
                _IS_STRING,
                chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(lists)),
            )
        )
        keys += sum(dict_sizes)
        strings += sum(dict_sizes) + sum(list_sizes) - len(below)
        dicts = list(filter(_IS_DICT, below))
        lists = list(filter(_IS_LIST, below))
        others += len(below) - len(dicts) - len(lists)
        if not dicts and not lists:
            return keys, keys + strings, others, too_long
    return None


def _too_deep(loc: tuple[int | str, ...], limits: Limits) -> Refused:
    return invalid(
        f"JSON lồng quá sâu — nested deeper than {limits.max_depth} levels at {field_path(loc)} "
        f"(limit max_depth={limits.max_depth})"
    )


def _too_long(loc: tuple[int | str, ...], limits: Limits) -> Refused:
    return over_limit(
        "max_list_items",
        limits.max_list_items,
        f"{field_path(loc)}: danh sách quá dài",
        f"{field_path(loc)}: a list has more than {limits.max_list_items} items",
    )


def normalise(data: Any, limits: Limits, *, strings: bool = True) -> tuple[bool, bool]:
    """Nesting past ``max_depth`` and lists past ``max_list_items`` refused; with ``strings``,
    lone surrogates refused too (values stay as sent: :func:`nfc_values` after judging). In one
    walk over the containers, changing nothing. With ``strings``, learnt on the same walk (which
    spares validation a second one): whether every scalar is a string, and whether every string
    value is in NFC already (:func:`nfc_values` would hand back ``data`` itself); (False, False)
    without."""
    strings_only = in_nfc = strings
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if len(loc) >= limits.max_depth:
            raise _too_deep(loc, limits)
        if isinstance(node, list) and len(node) > limits.max_list_items:
            raise _too_long(loc, limits)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        if not strings:
            stack.extend((v, (*loc, k)) for k, v in items if isinstance(v, (dict, list)))
            continue
        for key, value in items:
            if isinstance(key, str) and not key.isascii() and _SURROGATE.search(key):
                raise invalid(
                    f"{field_path(loc)}: khóa chứa ký tự thay thế đơn lẻ — a key holds a lone surrogate"
                )
            if isinstance(value, str):
                if not value.isascii():  # surrogates are never ASCII, nor NFC's concern
                    _unicode_text(value, (*loc, key))
                    # The very test nfc_values applies; once one string fails, no more are tested.
                    in_nfc = in_nfc and unicodedata.is_normalized("NFC", value)
            elif isinstance(value, (dict, list)):
                stack.append((value, (*loc, key)))
            else:
                strings_only = False  # a number, a boolean or null
    return strings_only, in_nfc


def _unicode_text(value: str, loc: tuple[int | str, ...]) -> None:
    if _SURROGATE.search(value):
        raise invalid(
            f"{field_path(loc)}: ký tự thay thế đơn lẻ — lone surrogate (\\ud800-\\udfff) is not Unicode text"
        )


def nfc_values(data: Any) -> Any:
    """``data`` with every string in NFC: the very same object when all already are (the common
    case, told without copying), else a copy. Applied after judging, for what handlers store."""
    if isinstance(data, str):
        return (
            data
            if data.isascii() or unicodedata.is_normalized("NFC", data)
            else unicodedata.normalize("NFC", data)
        )
    if isinstance(data, dict):
        items = {key: nfc_values(value) for key, value in data.items()}
        return data if all(items[k] is v for k, v in data.items()) else items
    if isinstance(data, list):
        values = [nfc_values(value) for value in data]
        return data if all(a is b for a, b in zip(values, data, strict=True)) else values
    return data

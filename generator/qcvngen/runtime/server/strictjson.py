"""Strict, bounded JSON reading: one JSON object from a request body, or a refusal naming why.

Refused: invalid UTF-8, duplicate keys, ``NaN``/``Infinity``, numbers that do not fit a double
(``1e400`` would become infinity, which JSON cannot carry back), lone surrogates, and whatever
exceeds a :class:`~.limits.Limits` setting. Strings come out in NFC and whole numbers written as
``5.0`` as ``5``. Nothing here echoes a value: messages name the problem and, for keys, plain names
only.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from itertools import filterfalse, islice
from typing import Any

from pydantic_core import to_json

from .limits import Limits
from .refusals import Refused, field_path, invalid, is_plain_key, over_limit

_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A plain ``"session": "…"`` member; where the key or value is spelled with escapes, the cheap
# look gives up (see session_candidates).
_SESSION_MEMBER = re.compile(rb'"session"\s*:\s*"([^"\\]{0,256})"')
_ASCII_LETTER_ESCAPE = re.compile(rb"\\u00[67][0-9A-Fa-f]")
MAX_SESSION_CANDIDATES = 8


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


def session_candidates(raw: bytes | bytearray) -> tuple[str, ...] | None:
    """Every string written as ``"session": "…"`` anywhere in ``raw``, found by native scans of
    the bytes (no decoded copy).

    The top-level ``session``, when it is a string, is always among them; None when that cannot be
    told this cheaply (an ASCII letter written as an escape, an escaped value, too many of them).
    """
    if _ASCII_LETTER_ESCAPE.search(raw):
        return None
    matches = islice(_SESSION_MEMBER.finditer(raw), MAX_SESSION_CANDIDATES + 1)
    found = tuple(m.group(1).decode("utf-8", "replace") for m in matches)
    if len(found) > MAX_SESSION_CANDIDATES or raw.count(b'"session"') != len(found):
        return None
    return found


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
    # 5.0 is the JSON number 5, an "integer" to the schema too.
    return int(value) if value.is_integer() else value


def _first_repeat(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return ""


def _nfc_key(key: str) -> str:
    return key if key.isascii() else unicodedata.normalize("NFC", key)


def _object_hook(
    limits: Limits, nfc_keys: bool
) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if nfc_keys:  # keys written with escapes: normalised here, so that NFC twins are repeats
            pairs = [(_nfc_key(key), value) for key, value in pairs]
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
    return read_object(raw, limits)[0]


def read_object(raw: bytes | bytearray | str, limits: Limits) -> tuple[dict[str, Any], bool]:
    """``raw`` as one strict JSON object, normalised (see :func:`normalise`), or a refusal; and
    whether every scalar in it is surely a JSON string (False when that is not certain).

    Keys and strings come out in NFC. Without ``\\u`` escapes the text can hold no lone surrogate
    (UTF-8 cannot encode one) and its strings are all in NFC once the whole text is (JSON's
    structure is ASCII, and no ASCII character outside a string composes with what follows it):
    one native pass replaces a per-string walk, and :func:`_plain_parse` reads the text in native
    passes. Whatever it cannot vouch for, and text with escapes, goes the careful way: keys
    normalised and repeats found as each object is built, values checked and normalised after
    parsing; that way also writes every refusal's message.
    """
    text = raw if isinstance(raw, str) else decode_utf8(raw)
    escaped = "\\u" in text
    if not escaped:
        if not text.isascii():
            text = unicodedata.normalize("NFC", text)
        plain = _plain_parse(text, limits)
        if plain is not None:
            return plain
    try:
        data = json.loads(
            text,
            object_pairs_hook=_object_hook(limits, nfc_keys=escaped),
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
    return dict(normalise(data, limits, strings=escaped)), False


# A JSON literal that is not a string may hide in text only as one of these words (inside a string
# they are harmless, but counted too: an answer of False only costs the careful way).
_LITERALS = ("true", "false", "null")


def _plain_parse(text: str, limits: Limits) -> tuple[dict[str, Any], bool] | None:
    """Text without ``\\u`` escapes, already in NFC, read by ``json.loads`` without a Python hook
    per object: the same values the careful way returns, or None when it would refuse them.

    Repeated keys (NFC twins included: the text is in NFC) are found by counting: every key of
    the text is followed by one ``:`` outside strings, ``to_json`` writes one per key it kept,
    and the strings that remain are written with the same ``:`` inside (``:`` is never escaped);
    a dropped repeat takes at least its own ``:`` away. The limits are checked in a walk over the
    containers whose inner loops are native (:func:`_within_limits`).
    """
    numbers: list[bool] = []

    def number(parse: Callable[[str], Any]) -> Callable[[str], Any]:
        def read(token: str) -> Any:
            numbers.append(True)
            return parse(token)

        return read

    try:
        data = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=number(_number),
            parse_int=number(_integer),
        )
        if not isinstance(data, dict):
            return None
        kept = to_json(data).count(b":")
    except (ValueError, RecursionError):  # _JsonProblem too: the careful way says why
        return None
    if kept != text.count(":") or not _within_limits(data, limits):
        return None
    return data, not numbers and not any(word in text for word in _LITERALS)


_IS_STRING = str.__instancecheck__


def _within_limits(data: dict[str, Any], limits: Limits) -> bool:
    """Whether no container nests ``max_depth`` deep and none holds more than ``max_object_keys``
    keys or ``max_list_items`` items: one level at a time, the strings (most values) skipped in
    native iteration, so that Python code runs once per container, not once per value."""
    level: list[Any] = [data]
    for _ in range(limits.max_depth):
        below: list[Any] = []
        for node in level:
            if type(node) is dict:
                if len(node) > limits.max_object_keys:
                    return False
                values: Any = node.values()
            else:
                if len(node) > limits.max_list_items:
                    return False
                values = node
            below.extend(filterfalse(_IS_STRING, values))
        # json.loads builds plain dicts and lists only: no subclass to miss.
        level = [node for node in below if type(node) is dict or type(node) is list]
        if not level:
            return True
    return False


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


def normalise(data: Any, limits: Limits, *, strings: bool = True) -> Any:
    """Nesting past ``max_depth`` and lists past ``max_list_items`` refused; with ``strings``,
    strings in NFC and lone surrogates refused too. In place, in one walk over the containers."""
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
        # Assigning to existing keys or indexes while iterating is safe: no size changes.
        for key, value in items:
            if isinstance(key, str) and not key.isascii() and _SURROGATE.search(key):
                raise invalid(
                    f"{field_path(loc)}: khóa chứa ký tự thay thế đơn lẻ — a key holds a lone surrogate"
                )
            if isinstance(value, str):
                if not value.isascii():  # surrogates and composable characters are never ASCII
                    node[key] = _nfc(value, (*loc, key))
            elif isinstance(value, (dict, list)):
                stack.append((value, (*loc, key)))
    return data


def _nfc(value: str, loc: tuple[int | str, ...]) -> str:
    if _SURROGATE.search(value):
        raise invalid(
            f"{field_path(loc)}: ký tự thay thế đơn lẻ — lone surrogate (\\ud800-\\udfff) is not Unicode text"
        )
    return value if unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)

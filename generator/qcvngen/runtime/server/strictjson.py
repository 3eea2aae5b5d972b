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
from itertools import islice
from typing import Any

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
    """``raw`` as one strict JSON object, normalised (see :func:`normalise`), or a refusal.

    Keys and strings come out in NFC. Without ``\\u`` escapes the text can hold no lone surrogate
    (UTF-8 cannot encode one) and its strings are all in NFC once the whole text is (JSON's
    structure is ASCII, and no ASCII character outside a string composes with what follows it):
    one native pass replaces a per-string walk. With escapes, keys are normalised as each object
    is built and values checked and normalised after parsing.
    """
    text = raw if isinstance(raw, str) else decode_utf8(raw)
    escaped = "\\u" in text
    if not escaped and not text.isascii():
        text = unicodedata.normalize("NFC", text)
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
    return dict(normalise(data, limits, strings=escaped))


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

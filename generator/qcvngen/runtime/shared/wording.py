"""What a refused value or key is told, in `qcvngen validate-data`'s bilingual words: one table.

The words come from the generated messages table (``qcvn120_client.wire.PATTERN_MESSAGES``, built
from the spec's IR): a wire pattern → its rule with an example, and ``@rule`` keys for the rules
without a pattern (a code or flag outside its list, a missing key, an extra key, a wrong type, a
length). The client, the server stubs and the sandbox say the same thing as validate-data; pydantic's
own English (``Field required``) is never shown. "Did you mean" names only known wire names and codes,
never what was sent (it may be personal data).
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

CODE_KEY = "@code"
FLAG_KEY = "@flag"
# pydantic's error types → the validate-data rule whose words the messages table holds.
RULE_KEYS = {
    "missing": "@required",
    "extra_forbidden": "@additionalProperties",
    "string_too_long": "@maxLength",
    "too_long": "@maxLength",
    "too_short": "@minItems",
}
# A rule the table has no words for (a custom validator's error): the words of a wrong value.
OTHER_KEY = "@const"
# When the table itself is missing (a model of your own): validate-data's words all the same.
FALLBACK = {
    "@required": "thiếu trường bắt buộc — missing required field",
    "@additionalProperties": "trường không có trong bảng (bảng đã đầy đủ) — field not in the table (the table is complete)",
    "@type": "sai kiểu dữ liệu — wrong type",
    "@maxLength": "dài quá số ký tự tối đa — longer than the maximum length",
    "@minItems": "danh sách không được rỗng — the list must not be empty",
    "@code": "không phải mã của danh mục — not a code of the list",
    "@flag": 'phải là "True" hoặc "False" — must be "True" or "False"',
    "@const": "giá trị không đúng — wrong value",
    "@pattern": "sai định dạng — does not match the required format",
}
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
# difflib's default: close enough that the suggestion is usually right, far enough to stay quiet.
CUTOFF = 0.6


# pydantic's type errors → the JSON type the value should have had.
_JSON_TYPES = {
    "string_type": "string",
    "list_type": "array",
    "model_type": "object",
    "dict_type": "object",
    "model_attributes_type": "object",
    "int_type": "integer",
    "bool_type": "boolean",
    "float_type": "number",
}


def json_type(value: Any) -> str:
    """The JSON type of a value read from JSON (``integer`` for a whole number)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, (list, tuple)) else "object"


def words(key: str, messages: Mapping[str, str] | None) -> str:
    """The table's words for ``key`` (a wire pattern or an ``@rule``), validate-data's when absent."""
    found = (messages or {}).get(key)
    return found if found is not None else FALLBACK.get(key, FALLBACK["@pattern"])


def folded(name: str) -> str:
    """``name`` without ``_`` and case: ma_ho_so, MAHOSO and MaHoSo fold alike, so a Python name
    or a case slip finds its wire name."""
    return name.replace("_", "").casefold()


def closest(wanted: str, known: Iterable[str], *, limit: int = 3) -> list[str]:
    """Up to ``limit`` names of ``known`` closest to ``wanted`` (without case and underscores)."""
    names = [name for name in dict.fromkeys(known) if name != wanted]
    if len(wanted) > 200:  # a similarity of long texts costs more than a hint is worth
        return []
    same = [name for name in names if folded(name) == folded(wanted)]
    if same:
        return same[:limit]
    by_folded: dict[str, list[str]] = {}
    for name in names:
        by_folded.setdefault(folded(name), []).append(name)
    matches = difflib.get_close_matches(folded(wanted), list(by_folded), n=limit, cutoff=CUTOFF)
    return [name for match in matches for name in by_folded[match]][:limit]


def _either(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def with_hint(text: str, close: list[str]) -> str:
    """``text`` (``vi — en``) with validate-data's "có phải / did you mean" on each side."""
    if not close:
        return text
    vi, sep, en = text.partition(" — ")
    if not sep:
        return f"{text} (did you mean {_either(close)}?)"
    return f"{vi} (có phải {_either(close)}?) — {en} (did you mean {_either(close)}?)"


def hint_after(text: str, close: list[str]) -> str:
    """``text`` that ends in a list (the codes allowed), then "có phải / did you mean …?"."""
    return f"{text} (có phải / did you mean {_either(close)}?)" if close else text


def fields_of(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s fields, their annotations resolved: a model referring to one defined after it
    (the models are ordered by packet) holds forward references until pydantic completes it."""
    if not model.__pydantic_complete__:
        model.model_rebuild()
    return dict(model.model_fields)


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation refers to (through lists, unions and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in models_in(arg)]


def names_at(model: type[BaseModel], loc: Iterable[int | str]) -> list[str]:
    """The wire names of the record at ``loc`` inside ``model`` (empty when it cannot be told)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        found = [f for n, f in fields_of(current).items() if part in (n, f.alias)]
        models = models_in(found[0].annotation) if found else []
        current = models[0] if len(models) == 1 else None
    if current is None:
        return []
    return [f.alias or n for n, f in fields_of(current).items()]


def listing(values: Iterable[Any], most: int = 12) -> str:
    """``'1', '2' or '3'``: the values allowed, as pydantic lists them (strings quoted, others as
    JSON), at most ``most`` of them."""
    items = list(values)
    quoted = [f"'{v}'" if isinstance(v, str) else json.dumps(v) for v in items[:most]]
    if len(items) > most:
        return ", ".join(quoted) + ", …"
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def code_words(sent: Any, allowed: Iterable[Any], messages: Mapping[str, str] | None) -> str:
    """A code (or flag) outside its list: the table's words, the codes allowed and the closest one."""
    values = list(allowed)
    if sorted(map(str, values)) == ["False", "True"]:
        return words(FLAG_KEY, messages)
    codes = [str(code) for code in values if isinstance(code, str) and code]
    close = closest(sent, codes)[:1] if isinstance(sent, str) else []
    return hint_after(f"{words(CODE_KEY, messages)}: {listing(values)}", close)


def literal_words(item: Mapping[str, Any], messages: Mapping[str, str] | None) -> str:
    """A pydantic ``literal_error`` in words: a constant (the packet's own ``service``), or a code
    (or flag) outside its list (:func:`code_words`)."""
    expected = str((item.get("ctx") or {}).get("expected", ""))
    codes = _QUOTED.findall(expected)
    if len(codes) == 1:
        return f"{words(OTHER_KEY, messages)}: {expected}"
    return code_words(item.get("input"), codes, messages)


def rule_words(item: Mapping[str, Any], messages: Mapping[str, str] | None) -> str:
    """validate-data's words for one pydantic error (``errors(include_context=True)``)."""
    kind = str(item["type"])
    if kind == "string_pattern_mismatch":
        return words(str((item.get("ctx") or {}).get("pattern", "")), messages)
    if kind == "literal_error":
        return literal_words(item, messages)
    key = RULE_KEYS.get(kind) or ("@type" if kind.endswith(("_type", "_parsing")) else OTHER_KEY)
    text = words(key, messages)
    wanted = _JSON_TYPES.get(kind)
    if wanted is not None and "input" in item:
        return f"{text} ({wanted}, not {json_type(item['input'])})"
    bound = (item.get("ctx") or {}).get("max_length")
    return f"{text} ({bound})" if key == "@maxLength" and bound is not None else text


def extra_key_words(
    model: type[BaseModel], loc: tuple[int | str, ...], messages: Mapping[str, str] | None
) -> str:
    """A key a complete table does not have, with the wire names closest to it (its Python name's)."""
    key = loc[-1] if loc else None
    text = words("@additionalProperties", messages)
    if not isinstance(key, str):
        return text
    return with_hint(text, closest(key, names_at(model, loc[:-1]))[:1])

"""Records before sending: every one checked against its model, issues named by path (never by value)."""

from __future__ import annotations

import difflib
import json
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import RecordIssue, RecordValidationError

# Keys of the messages table (besides wire patterns) for a value outside its list of codes/flags.
CODE_KEY = "@code"
FLAG_KEY = "@flag"
# pydantic's error types → the validate-data rule whose words the generated messages table holds.
RULE_KEYS = {
    "missing": "@required",
    "extra_forbidden": "@additionalProperties",
    "string_too_long": "@maxLength",
    "too_long": "@maxLength",
    "too_short": "@minItems",
}


def _path(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation refers to (through lists, unions and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _names_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The wire names of the record at ``loc`` inside ``model`` (empty when it cannot be told)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        found = [f for n, f in current.model_fields.items() if part in (n, f.alias)]
        models = _models_in(found[0].annotation) if found else []
        current = models[0] if len(models) == 1 else None
    if current is None:
        return []
    return [f.alias or n for n, f in current.model_fields.items()]


def _suggestion(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    key = loc[-1] if loc else None
    if not isinstance(key, str):
        return ""
    close = difflib.get_close_matches(key, _names_at(model, loc[:-1]), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _literal_message(expected: str, messages: Mapping[str, str]) -> str:
    """A code (or flag) outside its list, in the validate-data wording, with the codes allowed."""
    key = FLAG_KEY if expected == "'True' or 'False'" else CODE_KEY
    shown = expected if len(expected) <= 200 else expected[:199] + "…"
    return f"{messages[key]}: {shown}" if key in messages else f"expected {shown}"


def _rule_message(item: Mapping[str, Any], messages: Mapping[str, str], fallback: str) -> str:
    """validate-data's words for a missing, wrong-type or too-long value, with the bound when known."""
    kind = str(item["type"])
    key = RULE_KEYS.get(kind) or ("@type" if kind.endswith("_type") else None)
    if key is None or key not in messages:
        return fallback
    bound = (item.get("ctx") or {}).get("max_length")
    return (
        f"{messages[key]} ({bound})" if key == "@maxLength" and bound is not None else messages[key]
    )


def issues_of(
    index: int,
    error: ValidationError,
    model: type[BaseModel],
    messages: Mapping[str, str] | None = None,
) -> list[RecordIssue]:
    """One RecordIssue per pydantic error: the path, the type and a message without the value.

    ``messages`` maps a wire pattern to what it means in words (``yyyyMMddHHmmss``, with an
    example): a regex is never shown to the caller when the pattern is known.
    """
    issues: list[RecordIssue] = []
    for item in error.errors(include_url=False, include_input=True):
        message = str(item["msg"])
        pattern = str((item.get("ctx") or {}).get("pattern"))
        if item["type"] == "string_pattern_mismatch" and messages and pattern in messages:
            message = messages[pattern]
        if item["type"] == "literal_error" and messages:
            message = _literal_message(str((item.get("ctx") or {}).get("expected", "")), messages)
        message = _rule_message(item, messages or {}, message)
        value = item.get("input")
        # pydantic's messages do not quote the input, but blank it out in case one ever does.
        if (
            isinstance(value, (str, int, float))
            and not isinstance(value, bool)
            and len(str(value)) >= 3
        ):
            message = message.replace(str(value), "***")
        if item["type"] == "extra_forbidden":
            extra = messages.get("@additionalProperties") if messages else None
            message = (
                extra
                or "trường không có trong bảng (bảng đã đầy đủ) — field not in the table (the table is complete)"
            ) + _suggestion(model, tuple(item["loc"]))
        issues.append(RecordIssue(index, _path(item["loc"]), str(item["type"]), message))
    return issues


class Canonical:
    """One checked record as it is sent: its canonical JSON (compact UTF-8, wire names, no nulls),
    written by pydantic's serialiser straight from the validated model. Building the request body
    splices these bytes (no dict per record, no second JSON pass, no re-encoding); the values are
    read back only on the rare paths that need them (a refusal's redaction, a batch split after
    "already exists")."""

    __slots__ = ("json",)

    def __init__(self, json: bytes) -> None:
        self.json = json

    def value(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.json)
        return loaded

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Canonical) and other.json == self.json

    def __hash__(self) -> int:
        return hash(self.json)

    def __repr__(self) -> str:
        return "Canonical(…)"  # never the values: a record may hold personal data


def _one(
    model: type[BaseModel], index: int, record: Any, messages: Mapping[str, str] | None
) -> tuple[Canonical | None, list[RecordIssue]]:
    if isinstance(record, BaseModel):
        if not isinstance(record, model):
            got = type(record).__name__
            return None, [
                RecordIssue(index, "", "model_type", f"expected {model.__name__}, got {got}")
            ]
        record = record.model_dump(by_alias=True, exclude_none=True, mode="json")
    elif not isinstance(record, Mapping):
        got = type(record).__name__
        return None, [
            RecordIssue(
                index, "", "record_type", f"expected {model.__name__} or a mapping, got {got}"
            )
        ]
    try:
        checked = model.model_validate(dict(record))
        serialiser = checked.__pydantic_serializer__
        return Canonical(serialiser.to_json(checked, by_alias=True, exclude_none=True)), []
    except ValidationError as error:
        return None, issues_of(index, error, model, messages)
    except (TypeError, ValueError) as error:  # a value pydantic cannot even serialise
        return None, [RecordIssue(index, "", "serialisation", type(error).__name__)]


def validate_records(
    service: str,
    model: type[BaseModel],
    records: Any,
    messages: Mapping[str, str] | None = None,
) -> list[Canonical]:
    """Every record checked against ``model`` (all of them, before anything is sent), as its canonical JSON."""
    if isinstance(records, (str, bytes, bytearray, Mapping, BaseModel)) or not isinstance(
        records, Iterable
    ):
        raise TypeError("records must be a sequence of model instances or mappings")
    out: list[Canonical] = []
    issues: list[RecordIssue] = []
    for index, record in enumerate(records):
        dumped, found = _one(model, index, record, messages)
        issues.extend(found)
        if dumped is not None:
            out.append(dumped)
    if issues:
        raise RecordValidationError(tuple(issues), service=service)
    return out


def chunked(items: list[Canonical], size: int) -> list[list[Canonical]]:
    """``items`` in consecutive batches of at most ``size``."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def leaf_strings(value: Any) -> set[str]:
    """Every scalar sent, as text: these are blanked out of any portal message shown in an error."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, Canonical):
            stack.append(item.value())
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            found.add(str(item))
    return found


def _dumps(value: Any) -> str:
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_canonical_value
    )


def _canonical_value(value: Any) -> Any:
    if isinstance(value, Canonical):
        return value.value()
    raise TypeError(f"{type(value).__name__} is not JSON")


def encode(body: Mapping[str, Any]) -> bytes:
    """The request body: compact UTF-8 JSON, no NaN; a list of :class:`Canonical` records is
    spliced in as their bytes (the same bytes ``json.dumps`` would write for their values)."""
    parts = []
    for key, value in body.items():
        if isinstance(value, list) and value and all(isinstance(item, Canonical) for item in value):
            encoded = b"[" + b",".join([item.json for item in value]) + b"]"
        else:
            encoded = _dumps(value).encode("utf-8")
        parts.append(_dumps(key).encode("utf-8") + b":" + encoded)
    return b"{" + b",".join(parts) + b"}"

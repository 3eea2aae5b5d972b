"""Records before sending: every one checked against its model, issues named by path (never by value)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from . import wording
from .errors import RecordIssue, RecordValidationError


def _path(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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
    for item in error.errors(include_url=False, include_input=True, include_context=True):
        # validate-data's words, one table for the client, the server and the sandbox.
        if item["type"] == "extra_forbidden":
            message = wording.extra_key_words(model, tuple(item["loc"]), messages)
        else:
            message = wording.rule_words(item, messages)
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

"""Answers where the spec is a guess: a value that breaks a reconstructed field's rule is kept, not fatal.

Half of the tables are reconstructed, so the real portal will send values the spec does not expect.
For a field whose membership is not ``regulation`` or whose confidence is below ``high`` (the
generated ``ANSWER_FIELDS`` says which), the record is kept with the value exactly as sent and an
:class:`AnswerWarning` names the field, the rule in words and its table and row — never the value.
A broken normative field still fails the pull, in words, with a redacted copy of the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from . import wording
from ._records import issues_of

__all__ = ["AnswerWarning", "FieldRule", "PullResult", "field_path", "redacted", "tolerant_record"]

ItemT = TypeVar("ItemT")
_SCALAR_SHOWN = 40


@dataclass(frozen=True)
class FieldRule:
    """What the spec says about one answer path: normative or not, its words and where it sits."""

    normative: bool
    where: str  # "Table 15, row 6"
    title: str  # "Trạng thái — status"


@dataclass(frozen=True)
class AnswerWarning:
    """A value kept as sent although it breaks its field's rule (the value itself is never shown)."""

    index: int
    path: str
    field: str
    title: str
    where: str
    rule: str

    def __str__(self) -> str:
        return (
            f"result[{self.index}].{self.path} ({self.title}; {self.where}): {self.rule}"
            " — kept as sent (the field is not normative)"
        )


class PullResult(list[ItemT]):
    """The records of a pull (a ``list``), with ``warnings``: values kept although off-spec."""

    warnings: tuple[AnswerWarning, ...]

    def __init__(self, items: Iterable[ItemT] = (), warnings: Iterable[AnswerWarning] = ()) -> None:
        super().__init__(items)
        self.warnings = tuple(warnings)


def field_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The location of the field an error is about: trailing list indexes belong to the field."""
    end = len(loc)
    while end and isinstance(loc[end - 1], int):
        end -= 1
    return loc[:end]


def field_path(loc: Iterable[int | str]) -> str:
    """The spec's key path of a location: ``A[].B`` for ``("A", 0, "B")``."""
    text = ""
    for part in loc:
        text += "[]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _lenient_value(annotation: Any, value: Any, bad: set[tuple[int | str, ...]]) -> Any:
    models = wording.models_in(annotation)
    if len(models) != 1:
        return value  # the record type cannot be told: the value stays as sent
    model = models[0]
    if isinstance(value, Mapping):
        return tolerant_record(model, value, bad)
    if isinstance(value, list):
        out: list[Any] = []
        for index, item in enumerate(value):
            mine = {loc[1:] for loc in bad if loc and loc[0] == index}
            if not mine:
                out.append(model.model_validate(item))
            elif () in mine or not isinstance(item, Mapping):
                out.append(item)
            else:
                out.append(tolerant_record(model, item, mine))
        return out
    return value


def tolerant_record(
    model: type[BaseModel], data: Mapping[str, Any], bad: set[tuple[int | str, ...]]
) -> BaseModel:
    """``data`` as ``model`` with every field at a ``bad`` location kept exactly as sent.

    Every other field is validated one by one (``validate_assignment``), so it is typed and
    canonical as usual; the kept values are readable from the model and dumped as sent.
    """
    fields = wording.fields_of(model)
    by_wire = {(f.alias or n): n for n, f in fields.items()}
    by_wire.update({n: n for n in fields})
    extras = {k: v for k, v in data.items() if k not in by_wire}
    instance = model.model_construct(**extras)
    instance.__pydantic_fields_set__.clear()
    here = {loc[0] for loc in bad if len(loc) == 1}
    for key, value in data.items():
        name = by_wire.get(key)
        if name is None:
            continue
        deeper = {loc[1:] for loc in bad if len(loc) > 1 and loc[0] == key}
        if key in here:
            instance.__dict__[name] = value
        elif deeper:
            annotation = fields[name].annotation
            instance.__dict__[name] = _lenient_value(annotation, value, deeper)
        else:
            model.__pydantic_validator__.validate_assignment(instance, name, value)
        instance.__pydantic_fields_set__.add(name)
    return instance


def classify(
    index: int,
    error: ValidationError,
    model: type[BaseModel],
    rules: Mapping[str, FieldRule],
    messages: Mapping[str, str] | None,
    strict: bool,
) -> tuple[list[AnswerWarning], list[str], set[tuple[int | str, ...]]]:
    """The warnings (kept values), the fatal issues in words, and the locations to keep as sent."""
    warnings: list[AnswerWarning] = []
    fatal: list[str] = []
    keep: set[tuple[int | str, ...]] = set()
    items = error.errors(include_url=False, include_input=False)
    for item, issue in zip(items, issues_of(index, error, model, messages), strict=True):
        loc = field_loc(tuple(item["loc"]))
        generic = field_path(loc)
        rule = rules.get(generic)
        words = issue.message  # the rule in words (wording.rule_words), never a regex
        shown = f"result[{index}]{'.' if issue.path else ''}{issue.path}"
        if rule is None or rule.normative or strict or not loc or issue.type == "extra_forbidden":
            about = f" ({rule.title}; {rule.where})" if rule is not None else ""
            fatal.append(f"{shown}{about}: {words}")
            continue
        keep.add(loc)
        warnings.append(AnswerWarning(index, issue.path, generic, rule.title, rule.where, words))
    return warnings, fatal, keep


def redacted(value: Any, depth: int = 0) -> Any:
    """The answer's structure with every value replaced by its shape: safe to log or show."""
    if depth > 8:
        return "…"
    if isinstance(value, Mapping):
        return {str(k)[:_SCALAR_SHOWN]: redacted(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return f"<text, {len(value)} characters>"
    return f"<{type(value).__name__}>"

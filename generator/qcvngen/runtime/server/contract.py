"""The request contract: the request schemas of the served OpenAPI document, checked besides the models.

The generated models are tolerant (they also read what real portals answer); the schema is the
contract, so nothing it forbids reaches a handler. Messages name field paths and rules, never values.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema
from pydantic import BaseModel, ValidationError

from . import wording
from .refusals import field_path, invalid
from .strictjson import nfc_values

# JSON Schema patterns are ECMA-262, where an unescaped ``$`` is the end of the string; in Python's
# ``re`` it also matches before a final newline, so it is spelled ``\Z`` here (one verdict per value).
_END_OF_STRING = re.compile(r"(?<!\\)\$")

MAX_ERRORS_SHOWN = 20


# -- the contract: the request schemas of the served OpenAPI document -------------------------------
def _json_equal(a: Any, b: Any) -> bool:
    kinds = {wording.json_type(a), wording.json_type(b)}
    return (len(kinds) == 1 or kinds == {"integer", "number"}) and bool(a == b)


def _admits(types: str | list[str], value: Any) -> bool:
    kind = wording.json_type(value)
    if isinstance(types, str):
        return kind == types or (kind == "integer" and types == "number")
    return kind in types or (kind == "integer" and "number" in types)


def _moved_refs(schema: Any, old: str, new: str) -> Any:
    """A copy of ``schema`` whose ``$ref`` values under ``old`` point under ``new`` instead (only
    ``$ref`` values: a description or example that happens to hold the same text is left alone)."""
    if isinstance(schema, dict):
        return {
            key: (
                new + value[len(old) :]
                if key == "$ref" and isinstance(value, str) and value.startswith(old)
                else _moved_refs(value, old, new)
            )
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_moved_refs(item, old, new) for item in schema]
    return schema


class Contract:
    """Checks a request against its schema in the OpenAPI document, naming paths and rules, never values."""

    KEYWORDS = frozenset(
        {
            "$ref",
            "type",
            "enum",
            "const",
            "anyOf",
            "oneOf",
            "not",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "minItems",
            "maxItems",
            "minLength",
            "maxLength",
            "pattern",
            "minimum",
            "maximum",
            "discriminator",
        }
    )

    def __init__(self, document: dict[str, Any], messages: Mapping[str, str] | None = None) -> None:
        self.schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
        # Wire pattern → its rule in words (bilingual, with an example), generated from the spec's
        # IR: the same wording as the client and validate-data, never read back out of descriptions.
        self.messages: Mapping[str, str] = messages or {}
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._compiled: dict[str, Callable[[Any], Any]] = {}

    def _fast(self, schema_name: str) -> Callable[[Any], Any]:
        """A compiled validator (fastjsonschema) for the common case, a valid request; the checker
        below stays the authority and writes the messages whenever this one objects."""
        if schema_name not in self._compiled:
            as_draft7 = _moved_refs(self.schemas, "#/components/schemas/", "#/definitions/")
            self._compiled[schema_name] = fastjsonschema.compile(
                {"$ref": f"#/definitions/{schema_name}", "definitions": as_draft7}
            )
        return self._compiled[schema_name]

    def errors(self, value: Any, schema_name: str) -> list[str]:
        """What ``value`` breaks in the schema ``schema_name`` (paths and rules), [] when it conforms."""
        if schema_name not in self.schemas:
            return []
        try:
            self._fast(schema_name)(value)
            return []
        except fastjsonschema.JsonSchemaValueException:
            pass  # find out what, and say it, below
        out: list[str] = []
        self._check(value, {"$ref": f"#/components/schemas/{schema_name}"}, [], out)
        return out

    def pattern_message(self, pattern: str) -> str:
        """What a value that breaks ``pattern`` should be, in words, when the spec names it."""
        return wording.words(pattern, self.messages)

    def _words(self, rule: str) -> str:
        return wording.words(rule, self.messages)

    def _check(self, value: Any, schema: Any, loc: list[int | str], out: list[str]) -> None:
        if not isinstance(schema, dict) or len(out) > MAX_ERRORS_SHOWN:
            return
        ref = schema.get("$ref")
        if ref is not None:
            self._check(value, self.schemas.get(ref.rsplit("/", 1)[-1], {}), loc, out)
        types = schema.get("type")
        if types is not None and not _admits(types, value):
            wanted = types if isinstance(types, str) else " or ".join(types)
            out.append(
                f"{field_path(loc)}: {self._words('@type')} ({wanted}, not {wording.json_type(value)})"
            )
            return
        if "anyOf" in schema:
            self._one_of(value, schema["anyOf"], loc, out, exactly_one=False)
        if "oneOf" in schema:
            self._one_of(value, schema["oneOf"], loc, out, exactly_one=True)
        if "not" in schema:
            found: list[str] = []
            self._check(value, schema["not"], loc, found)
            if not found:  # the wire patterns' "no newline": say what the value should be
                pattern = schema.get("pattern")
                out.append(
                    f"{field_path(loc)}: {self._words(pattern if isinstance(pattern, str) else '@pattern')}"
                )
        if "enum" in schema and not any(_json_equal(value, item) for item in schema["enum"]):
            out.append(
                f"{field_path(loc)}: {wording.code_words(value, schema['enum'], self.messages)}"
            )
        if "const" in schema and not _json_equal(value, schema["const"]):
            out.append(
                f"{field_path(loc)}: {self._words('@const')}: {wording.listing([schema['const']])}"
            )
        if isinstance(value, str):
            self._string(value, schema, loc, out)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                out.append(
                    f"{field_path(loc)}: nhỏ hơn {schema['minimum']} — must be at least {schema['minimum']}"
                )
            if "maximum" in schema and value > schema["maximum"]:
                out.append(
                    f"{field_path(loc)}: lớn hơn {schema['maximum']} — must be at most {schema['maximum']}"
                )
        elif isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                out.append(f"{field_path(loc)}: {self._words('@minItems')} ({schema['minItems']})")
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                out.append(
                    f"{field_path(loc)}: tối đa {schema['maxItems']} phần tử — at most {schema['maxItems']} item(s)"
                )
            items = schema.get("items")
            if items is not None:
                for index, item in enumerate(value):
                    loc.append(index)
                    self._check(item, items, loc, out)
                    loc.pop()
        elif isinstance(value, dict):
            self._object(value, schema, loc, out)

    def _string(
        self, value: str, schema: dict[str, Any], loc: list[int | str], out: list[str]
    ) -> None:
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{field_path(loc)}: {self._words('@maxLength')} ({schema['maxLength']})")
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(
                f"{field_path(loc)}: ngắn hơn {schema['minLength']} ký tự — shorter than {schema['minLength']} characters"
            )
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            compiled = self._patterns.get(pattern)
            if compiled is None:
                compiled = self._patterns[pattern] = re.compile(_END_OF_STRING.sub(r"\\Z", pattern))
            if not compiled.search(value):
                out.append(f"{field_path(loc)}: {self.pattern_message(pattern)}")

    def _object(
        self, value: dict[str, Any], schema: dict[str, Any], loc: list[int | str], out: list[str]
    ) -> None:
        for key in schema.get("required", ()):
            if key not in value:
                out.append(f"{field_path([*loc, key])}: {self._words('@required')}")
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            known = properties.get(key)
            if known is not None:
                loc.append(key)
                self._check(item, known, loc, out)
                loc.pop()
            elif extra is False:
                hint = wording.closest(key, properties)[:1]
                out.append(
                    f"{field_path([*loc, key])}: {wording.with_hint(self._words('@additionalProperties'), hint)}"
                )
            elif isinstance(extra, dict):
                loc.append(key)
                self._check(item, extra, loc, out)
                loc.pop()

    def _one_of(
        self,
        value: Any,
        branches: list[Any],
        loc: list[int | str],
        out: list[str],
        *,
        exactly_one: bool,
    ) -> None:
        results: list[list[str]] = []
        for branch in branches:
            found: list[str] = []
            self._check(value, branch, loc, found)
            results.append(found)
        passing = sum(1 for found in results if not found)
        if passing == 1 or (passing > 1 and not exactly_one):
            return
        if passing > 1:
            out.append(f"{field_path(loc)}: khớp nhiều dạng — matches more than one allowed form")
            return
        # Report the branch meant for this kind of value; otherwise list the kinds allowed.
        for branch, found in zip(branches, results, strict=True):
            resolved = (
                self.schemas.get(str(branch.get("$ref", "")).rsplit("/", 1)[-1], branch)
                if isinstance(branch, dict)
                else {}
            )
            if (
                isinstance(resolved, dict)
                and "type" in resolved
                and _admits(resolved["type"], value)
            ):
                out.extend(found)
                return
        kinds = sorted(
            {str(b.get("type")) for b in branches if isinstance(b, dict) and "type" in b}
        )
        wanted = " or ".join(kinds) or "another form"
        out.append(
            f"{field_path(loc)}: {self._words('@type')} ({wanted}, not {wording.json_type(value)})"
        )


# pydantic names union members in the location (``function-after[…]``, ``int``): not wire names.
_UNION_TAGS = frozenset({"int", "str", "float", "bool", "list", "dict", "none", "list[str]"})


def _wire_loc(item: Mapping[str, Any]) -> list[int | str]:
    loc = list(item["loc"])
    last = loc.pop() if item["type"] == "extra_forbidden" and loc else None  # a key sent: kept
    kept = [
        part
        for part in loc
        if not (isinstance(part, str) and ("[" in part or "(" in part or part in _UNION_TAGS))
    ]
    return kept if last is None else [*kept, last]


def describe_errors(
    error: ValidationError, contract: Contract | None = None, model: type[BaseModel] | None = None
) -> str:
    """Field paths and rules in validate-data's words (never pydantic's English), never the values
    (they may be personal data); "did you mean" names only wire names and codes."""
    messages = contract.messages if contract is not None else None
    parts: list[str] = []
    for item in error.errors(include_url=False, include_input=True, include_context=True):
        loc = _wire_loc(item)
        if item["type"] == "extra_forbidden" and model is not None:
            message = wording.extra_key_words(model, tuple(item["loc"]), messages)
        else:
            message = wording.rule_words(item, messages)
        part = f"{field_path(loc)}: {message}"
        if part not in parts:  # union members refusing one value alike: said once
            parts.append(part)
    return _invalid_data(parts)


def _invalid_data(parts: list[str]) -> str:
    shown = "; ".join(parts[:MAX_ERRORS_SHOWN])
    more = f" (+{len(parts) - MAX_ERRORS_SHOWN} more)" if len(parts) > MAX_ERRORS_SHOWN else ""
    return f"Dữ liệu không hợp lệ — invalid data: {shown}{more}"


def from_wire(model: type[BaseModel], body: Any) -> Any:
    """``body`` read by ``model`` under its wire names only.

    The generated models also take their Python names (``ma_ho_so``) so that a program can build
    them; a request is judged by its wire names, as the schema judges it: a Python name on the wire
    is an extra key (refused by a complete table, kept as an unknown key by an open one), never the
    field it names.
    """
    return model.model_validate(body, by_alias=True, by_name=False)


def validate(
    model: type[BaseModel],
    body: dict[str, Any],
    contract: Contract,
    schema_name: str | None,
    *,
    strings_only: bool = False,
    in_nfc: bool = False,
) -> Any:
    """The body parsed by the (tolerant) model, refused when it breaks the model or the schema.

    The strings are judged as sent (a maximum length counts the code points every JSON Schema
    reader counts), then the model is read again from their NFC form when it differs.
    ``strings_only`` says every scalar of ``body`` is a JSON string: the models are more tolerant
    than the schema only for other JSON types (a number for a string-encoded number, a boolean for
    a flag, ``null`` for an optional field), so on such a body their verdict is the schema's and
    the contract is not checked a second time (tests/test_differential.py proves the agreement
    through the server on every edge value, tests/test_wire_names.py on every key a Python name,
    a case variant or an NFC twin replaces: the model reads wire names only, see ``from_wire``).
    ``in_nfc`` says every string of ``body`` is already in NFC (``ReadObject.in_nfc``): the walk
    that would find none to change is skipped.
    """
    try:
        parsed = from_wire(model, body)
    except ValidationError as error:
        raise invalid(describe_errors(error, contract, model)) from None
    broken = contract.errors(body, schema_name) if schema_name and not strings_only else []
    if broken:
        raise invalid(_invalid_data(broken))
    # Judged as sent; handed over in NFC (the form stores and comparisons expect). A value that
    # NFC would lengthen past its limit (rare singleton decompositions) is handed over as sent.
    normal = body if in_nfc else nfc_values(body)
    if normal is not body:
        with contextlib.suppress(ValidationError):
            parsed = from_wire(model, normal)
    return parsed


def _open(cls: type) -> bool:
    config = getattr(cls, "model_config", None)
    return not isinstance(config, dict) or config.get("extra") == "allow"


def unknown_keys(request: BaseModel) -> tuple[str, ...]:
    """Keys an open (incomplete) table accepted without knowing them: reported, not dropped."""
    found: list[str] = []
    data = getattr(request, "data", None)
    # Only a model that allows extra keys holds any: records of closed tables need no visit.
    if isinstance(data, list) and any(_open(cls) for cls in set(map(type, data))):
        for index, record in enumerate(data):
            extra = getattr(record, "model_extra", None) or {}
            found.extend(f"data[{index}].{key}" for key in sorted(extra))
    return tuple(found)

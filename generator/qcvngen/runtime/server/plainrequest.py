"""A request model's validation that builds dicts instead of model instances, for handlers that
keep records as sent, on bodies of strings only.

Reading a 1,000-record request into pydantic models makes thousands of model instances (each record
and the records nested in it) that a handler such as the sandbox's never looks at: it reads a few
fields (each record's ``MaHoSo``, the ``isUpdating`` flag) and stores ``CallContext.records_as_sent``.
:func:`plain_reader` turns the model's own core schema into one whose records are typed dicts: every
field keeps its schema (patterns, lengths, codes, defaults) and every record its config (aliases
only, unknown keys refused or kept as the model does, where they are reported: the request and the
records of its data; deeper records drop them, which accepts the same). The converters that turn a
JSON number or boolean into the wire's text (``_scalars``, marked :data:`KEEPS_STRINGS`) return every
other value unchanged, so on a body of strings only, the only kind the short way reads, the reader
leaves them out. On such bodies the reader accepts exactly what the model accepts and holds the same values,
keyed by wire name; on any other body it accepts nothing the model refuses (a number where the model
converts one is refused, and the careful way reads the body again). tests/test_plainrequest.py
compares the two on every edge value of every field of the spec.

Only what cannot mean anything else is turned: a model with a validator, ``__init__`` or
``__post_init__`` of its own, a validator of a field that holds records (it would be handed dicts),
a root model, a typed schema for unknown keys, a record in a mapping or in a union beside anything
but scalars, a field read under several keys, or any schema key this module does not know, gives no
reader (None): such a request is read by its model, as every request is for other handlers. The
reader is built with the request model's config, as pydantic builds the model's own validator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator

if TYPE_CHECKING:
    from pydantic_core import CoreConfig

# Keys of the schemas turned here whose meaning a typed dict keeps (or that only serialising reads).
_MODEL_KEYS = frozenset(
    {
        "type",
        "cls",
        "config",
        "custom_init",
        "metadata",
        "ref",
        "root_model",
        "schema",
        "post_init",
        "serialization",
        "generic_origin",
        "revalidate_instances",
        "frozen",
    }
)
_FIELDS_KEYS = frozenset(
    {"type", "fields", "model_name", "computed_fields", "strict", "extra_behavior", "metadata"}
)
_FIELD_KEYS = frozenset(
    {
        "type",
        "schema",
        "validation_alias",
        "serialization_alias",
        "serialization_exclude",
        "frozen",
        "metadata",
    }
)
# Unknown keys refused, dropped or kept: a typed dict does each as a model does (kept ones beside
# the fields, whose keys are the wire names: no unknown key can be one).
_EXTRA = (None, "forbid", "ignore", "allow")
# The mark of a before-validator that returns every value but a number or a boolean unchanged
# (_scalars.KEEPS_STRINGS, the models' converters): on a body of strings only it does nothing.
KEEPS_STRINGS = "qcvn120_keeps_strings"
# Where a record may sit: the schema of these holds it as a field's value, an item or a default.
_HOLDERS = {"nullable": "schema", "default": "schema", "list": "items_schema"}
# Schemas that take JSON scalars only.
_SCALARS = frozenset(
    {"str", "literal", "none", "int", "float", "bool", "decimal", "date", "datetime", "time"}
)


class _Unsupported(Exception):
    """The model holds something a typed dict might read differently."""


class Shape:
    """How a record's dict is read: each field's key (its wire name, under which the reader keeps
    it, so an unknown key an open record keeps can never stand in for a field) and the records its
    fields hold (the value itself, a list of them, or None). Shared by every record of one model,
    cyclic for a recursive one."""

    __slots__ = ("keeps_unknown", "keys", "records")

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.records: dict[str, Shape] = {}
        self.keeps_unknown = False


class PlainRequest:
    """A request as a handler that keeps records as sent is handed it on the short way: the fields
    the request model validated, read by their Python names as on the model (``request.data[0]
    .ma_ho_so``, ``request.is_updating``), nested records alike. No model instance behind it:
    nothing but reading its fields. Its ``repr`` names fields only (values hold personal data)."""

    __slots__ = ("_fields", "_shape", "_views")

    def __init__(self, fields: dict[str, Any], shape: Shape) -> None:
        self._fields = fields
        self._shape = shape
        # The records of each field, wrapped on first reading (the same objects ever after).
        self._views: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        key = self._shape.keys.get(name) if not name.startswith("_") else None
        if key is None:  # no field's Python name starts with "_" (copy and pickle look for dunders)
            raise AttributeError(name)
        value = self._fields.get(key)
        shape = self._shape.records.get(name)
        if shape is None or not isinstance(value, (dict, list)):
            return value
        if self._views is None:
            self._views = {}
        elif name in self._views:
            return self._views[name]
        if isinstance(value, dict):
            view: Any = PlainRequest(value, shape)
        else:
            view = [PlainRequest(item, shape) if isinstance(item, dict) else item for item in value]
        self._views[name] = view
        return view

    def __repr__(self) -> str:
        return f"PlainRequest({', '.join(name for name, key in self._shape.keys.items() if key in self._fields)})"


class PlainReader:
    """The request model's verdict on a body's bytes, as a :class:`PlainRequest`."""

    def __init__(self, validator: SchemaValidator, shape: Shape) -> None:
        self._validator = validator
        self._shape = shape

    def read(self, raw: bytes | bytearray) -> PlainRequest | None:
        """The request in ``raw``, a body of strings only (the native scan vouched for it), read
        under wire names only as ``plainbody.validate_plain`` reads it; None when the model would
        refuse it (the careful way then says why)."""
        try:
            return PlainRequest(self.fields(raw), self._shape)
        except ValidationError:
            return None

    def fields(self, raw: bytes | bytearray) -> dict[str, Any]:
        """The validated fields by wire name, unknown keys beside them where they are kept (raises
        pydantic's ValidationError): what tests compare with the model's values."""
        fields: dict[str, Any] = self._validator.validate_json(raw, by_alias=True, by_name=False)
        return fields

    def unknown_keys(self, request: PlainRequest) -> tuple[str, ...]:
        """Keys an open record of ``data`` kept without knowing them, as ``contract.unknown_keys``
        reports them from the models (``data[0].X``)."""
        shape = self._shape.records.get("data")
        records = request._fields.get(self._shape.keys.get("data", ""))
        if shape is None or not shape.keeps_unknown or not isinstance(records, list):
            return ()
        known = set(shape.keys.values())
        return tuple(
            f"data[{index}].{key}"
            for index, record in enumerate(records)
            if isinstance(record, dict)
            for key in sorted(set(record) - known)
        )


def plain_reader(request: type[BaseModel]) -> PlainReader | None:
    """A reader that gives ``request``'s verdict on every body and holds its values as dicts; None
    when the model holds anything a typed dict might read differently (see the module's text)."""
    schema = request.__pydantic_core_schema__
    if not isinstance(schema, Mapping):  # a model not fully defined yet
        return None
    try:
        turn = _Turn(schema)
        turned = turn.schema(schema, record_here=True)
    except _Unsupported:
        return None
    # Built with the request model's config, as pydantic builds the model's own validator: the
    # definitions (the wire types every record shares) are built under it.
    config = cast("CoreConfig | None", turn.request.get("config"))
    return PlainReader(SchemaValidator(turned, config=config), turn.shape(turn.request))


class _Turn:
    """One request model's core schema, its models turned into typed dicts."""

    def __init__(self, top: Mapping[str, Any]) -> None:
        # Every model named in the schema's definitions, by its ref.
        self.definitions: dict[str, Mapping[str, Any]] = {}
        if top.get("type") == "definitions":
            for item in top.get("definitions", ()):
                if isinstance(item, Mapping) and isinstance(item.get("ref"), str):
                    self.definitions[item["ref"]] = item
        self.shapes: dict[int, Shape] = {}
        self.request = self._target(top["schema"] if top.get("type") == "definitions" else top)
        if not self._is_model(self.request):
            raise _Unsupported("a request that is not a model")
        # Unknown keys are kept (as the model keeps them) only where they are reported: in the
        # request and in the records of its data (contract.unknown_keys). A record nested deeper
        # drops them as "ignore" does, which accepts exactly what "allow" accepts, and costs less.
        fields = self.request.get("schema", {}).get("fields", {})
        data = fields.get("data") if isinstance(fields, Mapping) else None
        record = self._record_in(data.get("schema")) if isinstance(data, Mapping) else None
        self.reporting = {id(self.request), id(record)}

    def shape(self, model: Any) -> Shape:
        return self.shapes.setdefault(id(model), Shape())

    def _target(self, schema: Any) -> Any:
        """The schema a definition-ref stands for (or ``schema`` itself)."""
        if isinstance(schema, Mapping) and schema.get("type") == "definition-ref":
            return self.definitions.get(str(schema.get("schema_ref")), schema)
        return schema

    def _is_model(self, schema: Any) -> bool:
        target = self._target(schema)
        return isinstance(target, Mapping) and target.get("type") == "model"

    def _record_in(self, schema: Any) -> Any:
        """The model a field's value is (itself, an item of its list, the one choice of a union
        that holds records beside choices of scalars only, or None), if any."""
        while True:
            target = self._target(schema)
            if not isinstance(target, Mapping):
                return None
            kind = target.get("type", "")
            if kind == "model":
                return target
            if kind == "union":
                return self._record_choice(target)
            holder = _HOLDERS.get(kind)
            if holder is None:
                return None
            schema = target.get(holder)

    def _record_choice(self, union: Mapping[str, Any]) -> Any:
        """The model of the one choice of ``union`` that holds records, when every other choice
        takes scalars only (no JSON array or object): which choice a value is read by then depends
        on its JSON type alone, records or not."""
        held = [(choice, self._record_in(choice)) for choice in _choices(union)]
        records = [record for _, record in held if record is not None]
        others = [choice for choice, record in held if record is None]
        if len(records) != 1 or not all(self._scalar(choice, set()) for choice in others):
            return None
        return records[0]

    def _scalar(self, schema: Any, seen: set[int]) -> bool:
        """True when ``schema`` takes JSON scalars only."""
        target = self._target(schema)
        if not isinstance(target, Mapping) or id(target) in seen:
            return False
        seen.add(id(target))
        kind = target.get("type", "")
        if kind in _SCALARS:
            return True
        if kind == "nullable" or (kind == "function-before" and _marked(target)):
            return self._scalar(target.get("schema"), seen)
        if kind == "union":
            return all(self._scalar(choice, seen) for choice in _choices(target))
        return False

    def _holds_record(self, schema: Any, seen: set[int]) -> bool:
        """True when a model sits anywhere in ``schema`` (definitions followed)."""
        if isinstance(schema, (list, tuple)):
            return any(self._holds_record(item, seen) for item in schema)
        target = self._target(schema)
        if not isinstance(target, Mapping) or id(target) in seen:
            return False
        seen.add(id(target))
        return target.get("type") == "model" or any(
            self._holds_record(value, seen)
            for value in target.values()
            if isinstance(value, (Mapping, list, tuple))
        )

    def schema(self, node: Any, *, record_here: bool) -> Any:
        """``node`` with its models turned; ``record_here``: a record may be the value here."""
        if isinstance(node, (list, tuple)):
            return type(node)(self.schema(item, record_here=record_here) for item in node)
        if not isinstance(node, Mapping):
            return node
        kind = node.get("type")
        if kind == "model":
            if not record_here:
                raise _Unsupported("a record where a typed dict might read it differently")
            return self._model(node)
        if kind == "definition-ref" and not record_here and self._is_model(node):
            raise _Unsupported("a record where a typed dict might read it differently")
        if kind == "function-before" and _marked(node):
            # Returns every value of a body of strings unchanged: left out (see the module's text).
            inner = self.schema(node["schema"], record_here=record_here)
            if "ref" not in node:
                return inner
            if isinstance(inner, dict) and "ref" not in inner:
                return {**inner, "ref": node["ref"]}
        elif (
            isinstance(kind, str)
            and kind.startswith("function-")
            and self._holds_record(node.get("schema"), set())
        ):
            raise _Unsupported("a validator of records, which would be handed dicts")
        if kind == "union":
            here = record_here and self._record_choice(node) is not None
            return {**node, "choices": self.schema(node.get("choices", []), record_here=here)}
        turned: dict[str, Any] = {}
        for key, value in node.items():
            here = kind == "definitions" or (record_here and _HOLDERS.get(kind or "") == key)
            turned[key] = self.schema(value, record_here=here)
        return turned

    def _model(self, model: Mapping[str, Any]) -> dict[str, Any]:
        config = model.get("config") or {}
        if (
            not _MODEL_KEYS.issuperset(model)
            or model.get("custom_init")
            or model.get("root_model")
            or model.get("post_init")
        ):
            raise _Unsupported("a record with behaviour of its own")
        fields = model["schema"]
        if (
            not isinstance(fields, Mapping)
            or fields.get("type") != "model-fields"
            or not _FIELDS_KEYS.issuperset(fields)
        ):
            raise _Unsupported("a record's fields this module does not know")
        extra = fields.get("extra_behavior", config.get("extra_fields_behavior"))
        if extra not in _EXTRA:
            raise _Unsupported("a record with unknown keys read in a way this module does not know")
        if extra == "allow" and id(model) not in self.reporting:
            extra = "ignore"
        shape = self.shape(model)
        shape.keeps_unknown = extra == "allow"
        turned: dict[str, Any] = {}
        for name, field in fields["fields"].items():
            if (
                not isinstance(field, Mapping)
                or field.get("type") != "model-field"
                or not _FIELD_KEYS.issuperset(field)
            ):
                raise _Unsupported("a field this module does not know")
            key = field.get("validation_alias", name)
            if not isinstance(key, str) or key in turned:
                raise _Unsupported("a field read under more than one key")
            shape.keys[name] = key
            turned[key] = {
                "type": "typed-dict-field",
                "schema": self.schema(field["schema"], record_here=True),
                # A model's field is optional exactly when its schema gives a default.
                "required": self._target(field["schema"]).get("type") != "default",
            }
            record = self._record_in(field["schema"])
            if record is not None:
                shape.records[name] = self.shape(record)
        typed: dict[str, Any] = {"type": "typed-dict", "fields": turned, "config": dict(config)}
        if extra is not None:
            typed["extra_behavior"] = extra
        if "ref" in model:
            typed["ref"] = model["ref"]
        if "strict" in fields:
            typed["strict"] = fields["strict"]
        return typed


def _choices(union: Mapping[str, Any]) -> list[Any]:
    """A union's choices, without the labels pydantic may pair them with."""
    return [c[0] if isinstance(c, (list, tuple)) else c for c in union.get("choices", ())]


def _marked(node: Mapping[str, Any]) -> bool:
    """Whether the function schema ``node`` calls a converter marked :data:`KEEPS_STRINGS`."""
    function = node.get("function")
    called = function.get("function") if isinstance(function, Mapping) else None
    return getattr(called, KEEPS_STRINGS, False) is True

"""The ``models`` module of qcvn120_client: pydantic v2 models rendered by datamodel-code-generator.

datamodel-code-generator reads the JSON Schema bundle (built from the IR as data) and renders each
class through this project's template (``templates/python/datamodel/pydantic_v2/BaseModel.jinja2``),
its documented extension point. What the template prints beyond the generator's ``Field(...)``
comes from the IR through ``extra_template_data``: each class's docstring and each field's Python
type. The file header (with the relative import of the wire types) is the generator's
``custom_file_header``. Nothing of its output text is edited afterwards.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import ir, kinds, naming, toolcache
from ..render import py
from ..render import py_docstring as docstring
from ..resources import templates_dir
from .common import Context, once_per_build, python_header
from .jsonschema import bundle
from .schema_builder import SchemaBuilder, scalar_definitions

# The generator's template folder: only the templates it finds here replace its own.
DATAMODEL_TEMPLATES = "python/datamodel"


@dataclass(frozen=True)
class ModelPlan:
    """One model class as the IR decides it: its docstring and each field's Python type (by Python name)."""

    name: str
    doc: str
    types: dict[str, str]


def field_type(reg: ir.Regulation, field: ir.Field) -> str:
    """The Python type of a model field, from its kind (:mod:`qcvngen.kinds`); ``| None`` when optional.

    Wire scalars and closed codes are the wire module's named types (the ``…OrEmpty`` variant for an
    optional field, which may also be ``""``), as in the JSON Schema.
    """
    ftype = field.type
    if ftype.kind == "code" and reg.codelist(ftype.codelist or "").closed:
        text = kinds.code_type_name(ftype.codelist or "", or_empty=not field.required)
    elif kinds.kind(ftype.kind).wire_type is not None:
        text = kinds.wire_type_name(ftype.kind, or_empty=not field.required)
    else:
        text = kinds.python_type(
            ftype.kind, codelist=ftype.codelist, open_codes=ftype.kind == "code", record=ftype.record, of=ftype.of
        )
        if ftype.empty_string:
            text += ' | Literal[""]'
    return text if field.required else f"{text} | None"


def _record_plan(reg: ir.Regulation, record: ir.Record, doc: str) -> ModelPlan:
    return ModelPlan(record.name, doc, {f.py_name: field_type(reg, f) for f in record.fields})


def record_doc(record: ir.Record) -> str:
    """What the record is, its table, and whether it is complete."""
    where = f"Table {record.table}" if record.table is not None else "a nested record"
    completeness = "open table: other keys are kept" if record.open else "complete table: other keys are refused"
    return f"{record.title.en} / {record.title.vi} ({where}; {completeness})."


def _envelope_types(
    reg: ir.Regulation, fields: tuple[ir.Field, ...], service: str, items: dict[str, str | None]
) -> dict[str, str]:
    """An envelope's fields: ``service`` fixed to the packet, ``data``/``result`` typed by the packet's record."""
    types: dict[str, str] = {}
    for field in fields:
        if field.wire_name == "service":
            types[field.py_name] = f"Literal[{py(service)}]" + ("" if field.required else " | None")
        elif items.get(field.wire_name) is not None:
            types[field.py_name] = f"list[{items[field.wire_name]}]" + ("" if field.wire_name == "data" else " | None")
        else:
            types[field.py_name] = field_type(reg, field)
    return types


def _request_plan(reg: ir.Regulation, name: str, data: str | None, params: tuple[ir.Field, ...], doc: str) -> ModelPlan:
    types = _envelope_types(reg, reg.envelope.request.fields, name, {"data": data})
    types.update({f.py_name: field_type(reg, f) for f in params})
    return ModelPlan(naming.request_model(name), doc, types)


def _response_plan(reg: ir.Regulation, name: str, result: str | None, doc: str) -> ModelPlan:
    types = _envelope_types(reg, reg.envelope.response.fields, name, {"result": result})
    return ModelPlan(naming.response_model(name), doc, types)


def _packet_plans(reg: ir.Regulation, packet: ir.Packet) -> list[ModelPlan]:
    """A packet's request, its record, its answer (and the answer's record), in that order."""
    row = f"{packet.name} (Table 1, row {packet.number})"
    purpose = f"{packet.purpose.en}\n\n{packet.purpose.vi}"
    plans = [_request_plan(reg, packet.name, packet.data_record, packet.params, f"Request of {row}: {purpose}")]
    if packet.data_record is not None:
        plans.append(_record_plan(reg, reg.record(packet.data_record), record_doc(reg.record(packet.data_record))))
    plans.append(_response_plan(reg, packet.name, packet.result_record, f"Answer of {row}: {purpose}"))
    if packet.result_record is not None and packet.result_record != packet.data_record:
        plans.append(_record_plan(reg, reg.record(packet.result_record), record_doc(reg.record(packet.result_record))))
    return plans


def _local_plans(reg: ir.Regulation, service: ir.LocalService) -> list[ModelPlan]:
    """A local service's request (``madonvi`` optional, ``service`` fixed, its parameters), answer and record."""
    what = f"the local service {service.name}: {service.title.en}\n\n{service.title.vi}"
    request: dict[str, str] = {}
    for field in reg.envelope.request.fields:
        if field.wire_name == "madonvi":
            request[field.py_name] = field_type(reg, replace(field, required=False))
        elif field.wire_name == "service":
            request[field.py_name] = f"Literal[{py(service.name)}]"
    request.update({f.py_name: field_type(reg, f) for f in service.params})
    return [
        ModelPlan(naming.request_model(service.name), f"Request of {what}", request),
        _response_plan(reg, service.name, service.result_record, f"Answer of {what}"),
        _record_plan(reg, reg.record(service.result_record), record_doc(reg.record(service.result_record))),
    ]


def model_plans(reg: ir.Regulation) -> list[ModelPlan]:
    """Every model class in the module's order: per packet its request, record and answer; then the
    local services; then the records they nest; then the login pair and the generic envelopes."""
    plans: list[ModelPlan] = []
    for packet in reg.packets:
        plans += _packet_plans(reg, packet)
    for service in reg.envelope.local_services:
        plans += _local_plans(reg, service)
    placed = {plan.name for plan in plans}
    plans += [_record_plan(reg, r, record_doc(r)) for r in reg.records if r.name not in placed]
    env = reg.envelope
    for record in (env.login_request, env.login_response, env.request, env.response):
        plans.append(_record_plan(reg, record, f"{record.title.en} / {record.title.vi} (the envelope)."))
    unique: dict[str, ModelPlan] = {}
    for plan in plans:
        unique.setdefault(plan.name, plan)
    return list(unique.values())


def aliases(reg: ir.Regulation, class_keys: dict[str, str] | None = None) -> dict[str, str]:
    """Wire name → Python name for every field; :mod:`qcvngen.naming` decides, not the generator.

    A class-scoped alias names the class as the generator knows it (``class_keys``: its sort key).
    """
    keys = class_keys or {}
    out: dict[str, str] = {}
    records = [
        *list(reg.records),
        reg.envelope.login_request,
        reg.envelope.login_response,
        reg.envelope.request,
        reg.envelope.response,
    ]
    fields = [f for r in records for f in r.fields] + [f for p in reg.packets for f in p.params]
    fields += [f for s in reg.envelope.local_services for f in s.params]
    for field in fields:
        out[field.wire_name] = field.py_name
    # A wire name's Python name can differ between records (it is read from each field's title):
    # a class-scoped alias ("Record.WIRE") wins over the flat one in datamodel-code-generator.
    for record in reg.records:
        for field in record.fields:
            if out[field.wire_name] != field.py_name:
                out[f"{keys.get(record.name, record.name)}.{field.wire_name}"] = field.py_name
    return dict(sorted(out.items()))


def _names(annotation: str) -> list[str]:
    """The identifiers of a type made here (``WireDateTime | None``); only ours, never spec text."""
    return annotation.replace("[", " ").replace("]", " ").replace("|", " ").split()


def sort_key(index: int, name: str) -> str:
    """The class name the generator sorts by (it orders a module by class name): the plan's position
    first. The template prints the real name (``qcvn_name``); the key appears nowhere in the output."""
    return f"M{index:04d}_{name}"


def template_data(plans: list[ModelPlan]) -> defaultdict[str, dict[str, Any]]:
    """What the class template reads beside the generator's own data, per class (by its sort key):
    ``qcvn_name``, ``qcvn_doc`` (an escaped docstring literal) and ``qcvn_types`` (each field's
    Python type, by Python name)."""
    data: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    for index, plan in enumerate(plans):
        data[sort_key(index, plan.name)] = {
            "qcvn_name": plan.name,
            "qcvn_doc": docstring(plan.doc, 4),
            "qcvn_types": plan.types,
        }
    return data


# Options of datamodel-code-generator's ``generate`` whose values are its enums, given here by value
# so that a cache hit never imports the tool (a third of a build's time).
_ENUM_OPTIONS = {
    "input_file_type": ("datamodel_code_generator.enums", "InputFileType"),
    "output_model_type": ("datamodel_code_generator.enums", "DataModelType"),
    "target_python_version": ("datamodel_code_generator.format", "PythonVersion"),
    "enum_field_as_literal": ("datamodel_code_generator.parser", "LiteralType"),
}


def _option_key(value: Any) -> Any:
    """An option as it enters the cache key: a folder (e.g. of templates) by the content of its files."""
    if isinstance(value, Path):
        files = sorted(p for p in value.rglob("*") if p.is_file())
        return {p.relative_to(value).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    return value


def run_datamodel_codegen(schema_text: str, options: dict[str, Any]) -> str:
    """datamodel-code-generator's ``generate(schema_text, **options)``, through qcvngen's tool cache:
    keyed by the schema text, the options (plain JSON values, enum options by value, folders by their
    files' content) and the versions of the tool, pydantic and Python. The one boundary where the
    tool is called."""

    def produce(text: str) -> str:
        import importlib

        from datamodel_code_generator import generate

        arguments = dict(options)
        # Class names travel as a plain mapping (a function cannot enter a cache key).
        names = arguments.pop("class_names", None)
        if names is not None:
            arguments["custom_class_name_generator"] = lambda name: names.get(name, name)
        for name, (module, enum) in _ENUM_OPTIONS.items():
            if name in arguments:
                arguments[name] = getattr(importlib.import_module(module), enum)(arguments[name])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = generate(text, **arguments)
        assert isinstance(source, str)
        return source

    described = json.dumps({k: _option_key(v) for k, v in options.items()}, sort_keys=True, default=sorted)
    shared = [toolcache.versions("datamodel-code-generator", "pydantic"), sys.version, described]
    return toolcache.cached("datamodel-codegen", shared, schema_text, produce)


@once_per_build  # the client and the server packages carry the same module
def model_source(reg: ir.Regulation, ctx: Context) -> str:
    """Run datamodel-code-generator in-process on the bundle, through this project's template."""
    plans = model_plans(reg)
    keys = {plan.name: sort_key(index, plan.name) for index, plan in enumerate(plans)}
    found = bundle(reg, SchemaBuilder(reg, "#/$defs/"))
    # Wire scalars are the wire module's types (the template prints them): a plain stub keeps the
    # generator from making classes of them or copying their constraints into each field.
    stubs = {name: {"title": name, "type": "string"} for name in scalar_definitions(reg)}
    defs = {plan.name: found[plan.name] for plan in plans} | stubs
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "QCVN120"}
    schema["$defs"] = defs
    code_types = sorted(
        {name for plan in plans for text in plan.types.values() for name in _names(text) if name in stubs}
    )
    return run_datamodel_codegen(
        json.dumps(schema, ensure_ascii=False),  # unsorted: the plan's order is the module's order
        {
            "input_file_type": "jsonschema",
            "output_model_type": "pydantic_v2.BaseModel",
            "target_python_version": "3.11",
            "aliases": aliases(reg, keys),
            "custom_template_dir": templates_dir() / DATAMODEL_TEMPLATES,
            "extra_template_data": template_data(plans),
            # The generator orders classes by name: it sorts by each plan's key, so the module reads
            # by packet (request, record, answer), then the nested records, the login and envelopes.
            "class_names": keys,
            "custom_file_header": file_header_for(ctx, module_doc(reg), code_types),
            # The stubs stand for types of the wire module, which the template prints: no class of them.
            "type_overrides": dict.fromkeys(stubs, "str"),
            "keep_model_order": True,
            "enum_field_as_literal": "all",
            "use_annotated": True,
            "field_constraints": True,
            "use_standard_collections": True,
            "use_union_operator": True,
            "use_double_quotes": True,
            "allow_population_by_field_name": True,
            # Traceability: every model field names its regulation table and row.
            "field_extra_keys": {"x-qcvn120-ref"},
            "disable_timestamp": True,
            "formatters": [],
            "skip_root_model": True,
        },
    )


def module_doc(reg: ir.Regulation) -> str:
    """The module's docstring: what it holds, and its classes by packet, in the module's order."""
    lines = [
        "pydantic models of every QCVN 120 packet, record and envelope (Python names; wire names as aliases).",
        "",
        "By packet (Table 1 row: a push's request, record and answer; a pull's request, answer and record):",
        "",
    ]
    for packet in reg.packets:
        record = packet.data_record if packet.direction == "push" else packet.result_record
        request, response = naming.request_model(packet.name), naming.response_model(packet.name)
        names = [request, response] if record is None else [request, record, response]
        if packet.direction == "pull" and record is not None:
            names = [request, response, record]
        lines.append(f"- {packet.number} {packet.name}: " + ", ".join(names))
    for service in reg.envelope.local_services:
        names = [naming.request_model(service.name), naming.response_model(service.name), service.result_record]
        lines.append(f"- local service {service.name}: " + ", ".join(names))
    env = reg.envelope
    lines.append(f"- login: {env.login_request.name}, {env.login_response.name}")
    return docstring("\n".join(lines), 0) + "\n"


def file_header_for(ctx: Context, doc: str, used: list[str]) -> str:
    """The module's header line, docstring and the relative import of the wire types its fields use."""
    lines = "".join(f"    {name},\n" for name in used)
    return python_header(ctx) + doc + (f"\nfrom .wire import (\n{lines})\n" if used else "")

"""The ``models`` package of qcvn120_client: pydantic v2 models rendered by datamodel-code-generator.

One module per packet (its request, its record(s), its answer and the records only it nests),
``envelope`` (the login, the envelopes and the local services), ``shared`` (records several packets
nest, or none; only when there are any), and ``__init__`` re-exporting every class. Which module
holds a class is decided here, from the IR (:func:`model_modules`).

datamodel-code-generator renders each module in a run of its own (:mod:`.datamodel`: a tool-cache
entry each, so editing one table re-runs it on that packet's module only), reading the module's
part of the JSON Schema bundle (built from the IR as data; a class of another module is a stub it
makes no class of) through this project's template
(``templates/python/datamodel/pydantic_v2/BaseModel.jinja2``), its documented extension point. What
the template prints beyond the generator's ``Field(...)`` comes from the IR through
``extra_template_data``: each class's docstring and each field's Python type. The module's header
(its docstring and the relative imports of the wire types and of other modules' classes, from the
IR's types) is the generator's ``custom_file_header``. Nothing of its output text is edited afterwards.
"""

from __future__ import annotations

import json
import textwrap
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from .. import ir, kinds, naming
from ..render import py
from ..render import py_docstring as docstring
from ..render import render as render_template
from ..resources import templates_dir
from .common import Context, python_header
from .datamodel import run_datamodel_codegen
from .jsonschema import bundle
from .named_types import named_type
from .schema_builder import SchemaBuilder

# The generator's template folder: only the templates it finds here replace its own.
DATAMODEL_TEMPLATES = "python/datamodel"


@dataclass(frozen=True)
class ModelPlan:
    """One model class as the IR decides it: its docstring, each field's Python type (by Python
    name), and the IR fields it holds (their wire and Python names make the generator's aliases)."""

    name: str
    doc: str
    types: dict[str, str]
    fields: tuple[ir.Field, ...]


@dataclass(frozen=True)
class ModelModule:
    """One module of the model layer: its name (in the ``models`` package), docstring text and classes."""

    name: str
    doc: str
    plans: tuple[ModelPlan, ...]


@dataclass(frozen=True)
class Layout:
    """The modules' names: ``envelope`` (the login, the envelopes, the local services), ``shared``
    (records several packets nest, or none), and each packet's, named like its client method. A name
    is never a class's of the layer nor another module's (a trailing ``_`` is added until it is not):
    the package's ``__init__`` binds both kinds of name."""

    envelope: str
    shared: str
    packets: dict[str, str]

    @classmethod
    def of(cls, reg: ir.Regulation) -> Layout:
        classes = {r.name for r in reg.records} | set(naming.ENVELOPE_MODELS)
        for name in [p.name for p in reg.packets] + [s.name for s in reg.envelope.local_services]:
            classes |= {naming.request_model(name), naming.response_model(name)}
        taken: list[str] = []
        for base in ["envelope", "shared", *(p.method for p in reg.packets)]:
            name = base
            while name in classes or name in taken:
                name += "_"
            taken.append(name)
        return cls(taken[0], taken[1], {p.name: name for p, name in zip(reg.packets, taken[2:], strict=True)})


def field_type(reg: ir.Regulation, field: ir.Field) -> str:
    """The Python type of a model field; ``| None`` when optional.

    Its named type (:func:`named_type`: a wire type or code type of the wire module, a record), as
    the JSON Schema's ``$ref`` names it, or a list of them; else the kind's own type (:mod:`qcvngen.kinds`).
    """
    ftype = field.type
    named = named_type(reg, field)
    if ftype.kind == "list":
        text = kinds.python_type("list", of=named or ftype.of)
    else:
        text = named or kinds.python_type(ftype.kind)
    if ftype.empty_string:
        text += ' | Literal[""]'
    return text if field.required else f"{text} | None"


def _record_plan(reg: ir.Regulation, record: ir.Record, doc: str | None = None) -> ModelPlan:
    types = {f.py_name: field_type(reg, f) for f in record.fields}
    return ModelPlan(record.name, record_doc(record) if doc is None else doc, types, record.fields)


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
    fields = reg.envelope.request.fields
    types = _envelope_types(reg, fields, name, {"data": data})
    types.update({f.py_name: field_type(reg, f) for f in params})
    return ModelPlan(naming.request_model(name), doc, types, fields + params)


def _response_plan(reg: ir.Regulation, name: str, result: str | None, doc: str) -> ModelPlan:
    fields = reg.envelope.response.fields
    types = _envelope_types(reg, fields, name, {"result": result})
    return ModelPlan(naming.response_model(name), doc, types, fields)


def _packet_plans(reg: ir.Regulation, packet: ir.Packet) -> list[ModelPlan]:
    """A packet's request, its record, its answer (and the answer's record), in that order."""
    row = f"{packet.name} (Table 1, row {packet.number})"
    purpose = f"{packet.purpose.en}\n\n{packet.purpose.vi}"
    plans = [_request_plan(reg, packet.name, packet.data_record, packet.params, f"Request of {row}: {purpose}")]
    if packet.data_record is not None:
        plans.append(_record_plan(reg, reg.record(packet.data_record)))
    plans.append(_response_plan(reg, packet.name, packet.result_record, f"Answer of {row}: {purpose}"))
    if packet.result_record is not None and packet.result_record != packet.data_record:
        plans.append(_record_plan(reg, reg.record(packet.result_record)))
    return plans


def _local_plans(reg: ir.Regulation, service: ir.LocalService) -> list[ModelPlan]:
    """A local service's request (``madonvi`` optional, ``service`` fixed, its parameters), answer and record."""
    what = f"the local service {service.name}: {service.title.en}\n\n{service.title.vi}"
    request: dict[str, str] = {}
    fields: list[ir.Field] = []
    for field in reg.envelope.request.fields:
        if field.wire_name == "madonvi":
            request[field.py_name] = field_type(reg, replace(field, required=False))
        elif field.wire_name == "service":
            request[field.py_name] = f"Literal[{py(service.name)}]"
        else:
            continue
        fields.append(field)
    request.update({f.py_name: field_type(reg, f) for f in service.params})
    return [
        ModelPlan(naming.request_model(service.name), f"Request of {what}", request, (*fields, *service.params)),
        _response_plan(reg, service.name, service.result_record, f"Answer of {what}"),
        _record_plan(reg, reg.record(service.result_record)),
    ]


def _nested(reg: ir.Regulation, root: str) -> list[str]:
    """``root`` and every record it nests, at any depth (each once)."""
    return [root, *(record.name for record in reg.nested_records([root]))]


def record_modules(reg: ir.Regulation, layout: Layout) -> dict[str, str]:
    """The module defining each record: the one packet's whose records nest it; ``envelope`` when only
    local services' do; ``shared`` when several packets' do, or nothing does.

    A packet's module imports only from ``shared``, and ``shared`` only from itself (a record it nests
    has at least its users); ``envelope`` may import from any: no import cycle."""
    users: defaultdict[str, set[str]] = defaultdict(set)
    for packet in reg.packets:
        for root in (packet.data_record, packet.result_record):
            for name in _nested(reg, root) if root is not None else ():
                users[name].add(layout.packets[packet.name])
    for service in reg.envelope.local_services:
        for name in _nested(reg, service.result_record):
            if not users[name]:  # a packet's record stays the packet's
                users[name].add(layout.envelope)
    for record in reg.records:
        for name in _nested(reg, record.name) if not users[record.name] else ():
            users[name].add(layout.shared)
    return {r.name: next(iter(users[r.name])) if len(users[r.name]) == 1 else layout.shared for r in reg.records}


def model_modules(reg: ir.Regulation) -> list[ModelModule]:
    """Every module of the model layer, in the package's order: the packets' (each its request,
    record and answer, then the records only it nests), ``envelope`` (the local services, the records
    only they nest, the login pair and the generic envelopes), then ``shared`` when it has classes."""
    layout = Layout.of(reg)
    home = record_modules(reg, layout)
    modules: dict[str, list[ModelPlan]] = {}
    whose: dict[str, str] = {}
    tops: dict[str, set[str]] = {}  # a packet module's request, record(s) and answer
    for packet in reg.packets:
        module = layout.packets[packet.name]
        modules[module] = _packet_plans(reg, packet)
        tops[module] = {plan.name for plan in modules[module]}
        whose[module] = f"{packet.name} (Table 1, row {packet.number})"
    modules[layout.envelope] = [plan for service in reg.envelope.local_services for plan in _local_plans(reg, service)]
    whose[layout.envelope] = "the local services, the login and the envelopes"
    modules[layout.shared] = []
    whose[layout.shared] = "the records several packets nest (or none does)"
    for record in reg.records:
        modules[home[record.name]].append(_record_plan(reg, record))
    env = reg.envelope
    for record in (env.login_request, env.login_response, env.request, env.response):
        doc = f"{record.title.en} / {record.title.vi} (the envelope)."
        modules[layout.envelope].append(_record_plan(reg, record, doc))
    out = []
    for name, plans in modules.items():
        unique: dict[str, ModelPlan] = {}
        for plan in plans:  # a record is kept where the module first places it, if it is its own
            if home.get(plan.name, name) == name:
                unique.setdefault(plan.name, plan)
        nests = bool(unique.keys() - tops.get(name, unique.keys()))
        doc = module_doc(whose[name] + (" and of the records only it nests" if nests else ""), list(unique))
        if unique:
            out.append(ModelModule(name, doc, tuple(unique.values())))
    return out


def model_plans(reg: ir.Regulation) -> list[ModelPlan]:
    """Every model class, in the order :func:`model_modules` places them."""
    return [plan for module in model_modules(reg) for plan in module.plans]


def aliases(plans: tuple[ModelPlan, ...], class_keys: dict[str, str]) -> dict[str, str]:
    """Wire name → Python name for every field of a module; :mod:`qcvngen.naming` decides, not the generator.

    A wire name's Python name can differ between records (it is read from each field's title): a
    class-scoped alias (``KEY.WIRE``, the class named as the generator knows it: its sort key) wins
    over the flat one in datamodel-code-generator.
    """
    flat: dict[str, str] = {}
    for plan in plans:
        for field in plan.fields:
            flat.setdefault(field.wire_name, field.py_name)
    out = dict(flat)
    for plan in plans:
        for field in plan.fields:
            if flat[field.wire_name] != field.py_name:
                out[f"{class_keys[plan.name]}.{field.wire_name}"] = field.py_name
    return dict(sorted(out.items()))


def _names(annotation: str) -> list[str]:
    """The identifiers of a type made here (``WireDateTime | None``); only ours, never spec text."""
    return annotation.replace("[", " ").replace("]", " ").replace("|", " ").split()


def sort_key(index: int, name: str) -> str:
    """The class name the generator sorts by (it orders a module by class name): the plan's position
    first. The template prints the real name (``qcvn_name``); the key appears nowhere in the output."""
    return f"M{index:04d}_{name}"


def template_data(plans: tuple[ModelPlan, ...]) -> defaultdict[str, dict[str, Any]]:
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


def _refs(schema: Any) -> Iterator[str]:
    """The ``$defs`` names a schema refers to."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            yield ref.removeprefix("#/$defs/")
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs(item)


# What every module's run shares (see :func:`_module_job` for what is each module's own).
COMMON_OPTIONS: dict[str, Any] = {
    "input_file_type": "jsonschema",
    "output_model_type": "pydantic_v2.BaseModel",
    "target_python_version": "3.11",
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
}


def _module_job(
    module: ModelModule, found: dict[str, Any], where: dict[str, str], ctx: Context
) -> tuple[str, dict[str, Any]]:
    """A module's schema text and its own options. ``where`` names the module of every class, and
    ``..wire`` for the wire types: a name the module uses but does not define is imported."""
    keys = {plan.name: sort_key(index, plan.name) for index, plan in enumerate(module.plans)}
    defs = {plan.name: found[plan.name] for plan in module.plans}
    # A wire type or another module's class is a plain stub the generator makes no class of (the
    # template prints the real type; the header imports it), so no constraint of it is copied either.
    stubs = {name: {"title": name, "type": "string"} for name in sorted(set(_refs(defs)) - defs.keys())}
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "QCVN120", "$defs": defs | stubs}
    used = {name for plan in module.plans for text in plan.types.values() for name in _names(text)}
    imports: defaultdict[str, list[str]] = defaultdict(list)
    for name in sorted(used - defs.keys()):
        if name in where and where[name] != module.name:
            imports[where[name]].append(name)
    options = {
        "aliases": aliases(module.plans, keys),
        "extra_template_data": template_data(module.plans),
        # The generator orders classes by name: it sorts by each plan's key, so the module reads
        # in the plan's order (a packet's request, record, answer, then the records it nests).
        "class_names": keys,
        "custom_file_header": file_header_for(ctx, docstring(module.doc, 0) + "\n", imports),
        "type_overrides": dict.fromkeys(stubs, "str"),
    }
    return json.dumps(schema, ensure_ascii=False), options  # unsorted: the plan's order is the module's


def model_source(reg: ir.Regulation, ctx: Context) -> dict[str, str]:
    """The model layer's files (``__init__.py`` and one per :class:`ModelModule`), by file name: each
    module by datamodel-code-generator in-process, through this project's template."""
    modules = model_modules(reg)
    builder = SchemaBuilder(reg, "#/$defs/")
    found = bundle(reg, builder)
    where = dict.fromkeys(builder.scalars, "..wire")
    where.update({plan.name: f".{module.name}" for module in modules for plan in module.plans})
    jobs = {module.name: _module_job(module, found, where, ctx) for module in modules}
    common = COMMON_OPTIONS | {"custom_template_dir": templates_dir() / DATAMODEL_TEMPLATES}
    sources = run_datamodel_codegen(jobs, common)
    files = {"__init__.py": package_init(reg, ctx, modules)}
    files.update({f"{module.name}.py": sources[module.name] for module in modules})
    return files


def package_init(reg: ir.Regulation, ctx: Context, modules: list[ModelModule]) -> str:
    """The package's ``__init__``: its docstring (every class by packet) and every class re-exported."""
    return render_template(
        "python/qcvn120_client/models/__init__.py.jinja",
        ctx=ctx,
        doc=docstring(package_doc(reg, Layout.of(reg), {module.name for module in modules}), 0),
        modules=[(module.name, [plan.name for plan in module.plans]) for module in modules],
    )


def package_doc(reg: ir.Regulation, layout: Layout, present: set[str]) -> str:
    """The package's docstring: what it holds, its modules, and its classes by packet."""
    first = f" (``models.{layout.packets[reg.packets[0].name]}``)" if reg.packets else ""
    shared = f"; records several packets share in ``models.{layout.shared}``" if layout.shared in present else ""
    where = textwrap.fill(
        "Import them from here. Each packet's classes, and the records only it nests, are in a module named"
        f" like its client method{first}; the login, the envelopes and the local services in"
        f" ``models.{layout.envelope}``{shared}.",
        width=100,
        break_on_hyphens=False,
    )
    lines = [
        "pydantic models of every QCVN 120 packet, record and envelope (Python names; wire names as aliases).",
        "",
        where,
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
    return "\n".join(lines)


def module_doc(whose: str, names: list[str]) -> str:
    """A module's docstring: whose classes it holds, and which, in its order."""
    listing = textwrap.fill(", ".join(names) + ".", width=100, break_on_hyphens=False)
    note = "Import them from the ``models`` package: it re-exports every class."
    return f"pydantic models of {whose}.\n\n{listing}\n\n{note}"


def file_header_for(ctx: Context, doc: str, imports: dict[str, list[str]]) -> str:
    """The module's header line, docstring and the relative imports of what its fields use but it
    does not define (the wire types, other modules' classes)."""
    lines = []
    for source, names in sorted(imports.items()):
        lines.append(f"from {source} import (\n" + "".join(f"    {name},\n" for name in names) + ")\n")
    return python_header(ctx) + doc + ("\n" + "".join(lines) if lines else "")

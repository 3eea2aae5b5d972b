"""pydantic v2 models, produced by datamodel-code-generator from the generated JSON Schema bundle."""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

from .. import ir, naming, toolcache
from ..render import py_docstring as docstring
from .common import Context, Files, python_header
from .jsonschema import bundle
from .schema_builder import SchemaBuilder, scalar_definitions

PACKAGE = "qcvn120_client"
MODELS_PATH = PurePosixPath("python") / PACKAGE / "models.py"
WIRE_IMPORT = f"from {PACKAGE}.wire import "
WIRE_IMPORT_RELATIVE = "from .wire import "


def aliases(reg: ir.Regulation) -> dict[str, str]:
    """Wire name → Python name for every field; :mod:`qcvngen.naming` decides, not the generator."""
    out: dict[str, str] = {}
    records = list(reg.records) + [
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
                out[f"{record.name}.{field.wire_name}"] = field.py_name
    return dict(sorted(out.items()))


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


def model_source(reg: ir.Regulation) -> str:
    """Run datamodel-code-generator in-process on the bundle; returns unformatted source."""
    defs = bundle(reg, SchemaBuilder(reg, "#/$defs/"))
    scalars = scalar_definitions(reg)
    # Wire scalars are replaced by the wire module's types; a stub keeps their variants from
    # becoming unused RootModel classes.
    defs.update({name: {"title": name, "type": "string"} for name in scalars})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "QCVN120",
        "$defs": defs,
    }
    return run_datamodel_codegen(
        json.dumps(schema, ensure_ascii=False),  # unsorted: regulation order becomes field order
        {
            "input_file_type": "jsonschema",
            "output_model_type": "pydantic_v2.BaseModel",
            "target_python_version": "3.11",
            "aliases": aliases(reg),
            # Wire scalars come from the package's own wire module, which normalises them.
            "type_overrides": {name: f"{PACKAGE}.wire.{name}" for name in scalars},
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
            "keep_model_order": True,
            "formatters": [],
            "skip_root_model": True,
        },
    )


def class_docs(reg: ir.Regulation) -> dict[str, str]:
    """Model class → its docstring: what the record is, its table, and for envelopes the packet's purpose."""
    docs: dict[str, str] = {}
    for record in reg.records:
        where = f"Table {record.table}" if record.table is not None else "a nested record"
        completeness = "open table: other keys are kept" if record.open else "complete table: other keys are refused"
        docs[record.name] = f"{record.title.en} / {record.title.vi} ({where}; {completeness})."
    for packet in reg.packets:
        row = f"{packet.name} (Table 1, row {packet.number})"
        for suffix, what in (("Request", "Request"), ("Response", "Answer")):
            docs[f"{packet.name}{suffix}"] = f"{what} envelope of {row}: {packet.purpose.en}\n\n{packet.purpose.vi}"
    return docs


_CLASS = re.compile(r"^class (\w+)\(")


def with_docstrings(lines: list[str], docs: dict[str, str]) -> list[str]:
    """Each model class opened by its docstring (escaped by ``render.py_docstring``)."""
    out: list[str] = []
    for line in lines:
        out.append(line)
        found = _CLASS.match(line)
        if found and found.group(1) in docs:
            out.append("    " + docstring(docs[found.group(1)], 4))
    return out


def former_names(reg: ir.Regulation) -> dict[str, list[tuple[str, str, str]]]:
    """Per record class, ``(former name, Python name, wire name)`` of every field whose Python name
    is now read from its title (``malinhvuc`` → ``ma_linh_vuc``): the former, flattened name stays a
    read-only property, so code written against it keeps working."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for record in reg.records:
        taken = {f.py_name for f in record.fields}
        for field in record.fields:
            former = naming.field_identifier(field.wire_name)
            if former != field.py_name and former not in taken:
                taken.add(former)
                out.setdefault(record.name, []).append((former, field.py_name, field.wire_name))
    return out


def field_types(source: str) -> dict[tuple[str, str], str]:
    """``(class, field)`` → the field's type as Python source, read from the parsed model module
    (``ast.unparse``: a re-serialised expression, so no text of the spec is copied verbatim)."""
    out: dict[tuple[str, str], str] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                annotation = item.annotation
                if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) == "Annotated":
                    inner = annotation.slice
                    annotation = inner.elts[0] if isinstance(inner, ast.Tuple) else inner
                out[(node.name, item.target.id)] = ast.unparse(annotation)
    return out


def _properties(cls: str, formers: list[tuple[str, str, str]], types: dict[tuple[str, str], str]) -> list[str]:
    out: list[str] = []
    for former, name, wire in formers:
        doc = f"Former name of ``{name}`` (wire ``{wire}``), read-only; use ``{name}``."
        out += [
            "",
            "    @property",
            f"    def {former}(self) -> {types.get((cls, name), 'Any')}:",
            f"        {docstring(doc, 8)}",
            f"        return self.{name}",
        ]
    return out


def with_former_names(
    lines: list[str], formers: dict[str, list[tuple[str, str, str]]], types: dict[tuple[str, str], str]
) -> list[str]:
    """Each class of ``formers`` closed by the read-only properties of its former field names."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        found = _CLASS.match(lines[index])
        if not found or found.group(1) not in formers:
            out.append(lines[index])
            index += 1
            continue
        end = index + 1
        while end < len(lines) and (not lines[end] or lines[end].startswith(" ")):
            end += 1
        body_end = end
        while body_end > index + 1 and not lines[body_end - 1]:
            body_end -= 1  # the blank lines between classes stay after the properties
        out += lines[index:body_end] + _properties(found.group(1), formers[found.group(1)], types)
        out += lines[body_end:end]
        index = end
    return out


def render(reg: ir.Regulation, ctx: Context) -> Files:
    source = model_source(reg)
    lines = [
        line
        for line in source.splitlines()
        if not line.startswith("#   filename:") and line != "# generated by datamodel-codegen:"
    ]
    # A relative import keeps the package working when vendored under another name.
    lines = [
        WIRE_IMPORT_RELATIVE + line[len(WIRE_IMPORT) :] if line.startswith(WIRE_IMPORT) else line for line in lines
    ]
    lines = with_former_names(with_docstrings(lines, class_docs(reg)), former_names(reg), field_types(source))
    if any(line.endswith(") -> Any:") for line in lines):
        lines.insert(lines.index("from __future__ import annotations") + 1, "from typing import Any")
    body = "\n".join(lines)
    header = (
        python_header(ctx) + '"""pydantic models of every QCVN 120 record and envelope (wire names as aliases)."""\n'
    )
    return {MODELS_PATH: header + body.lstrip("\n") + ("\n" if not body.endswith("\n") else "")}

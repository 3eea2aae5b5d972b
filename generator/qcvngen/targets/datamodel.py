"""The one boundary where datamodel-code-generator is called: its ``generate``, through the tool cache.

Each job (one module of the model layer) is a cache entry of its own, keyed by its schema text,
its options (plain JSON values, enum options by value) and what every job shares (the tool,
pydantic and Python versions, the common options, the template folder by its files' content). The
tool is imported and run only for the jobs the cache does not hold.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import toolcache

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


def _described(options: Mapping[str, Any]) -> str:
    """The options as one line of JSON (no newline: it separates them from the schema in a key)."""
    return json.dumps({k: _option_key(v) for k, v in options.items()}, sort_keys=True, default=sorted)


def _generate(text: str, options: Mapping[str, Any]) -> str:
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


def run_datamodel_codegen(jobs: Mapping[str, tuple[str, dict[str, Any]]], common: dict[str, Any]) -> dict[str, str]:
    """``generate(schema_text, **common, **options)`` for each job (name → schema text and its own
    options), each through qcvngen's tool cache; one ``produce`` call runs the jobs it lacks."""
    shared = [toolcache.versions("datamodel-code-generator", "pydantic"), sys.version, _described(common)]
    inputs = {name: _described(options) + "\n" + text for name, (text, options) in jobs.items()}

    def produce(missing: dict[str, str]) -> dict[str, str]:
        return {name: _generate(jobs[name][0], common | jobs[name][1]) for name in missing}

    return toolcache.cached_many("datamodel-codegen", shared, inputs, produce)

"""The installable ``qcvn120_client`` distribution: this target alone assembles the package.

Its parts come from their own modules: the runtime (copied verbatim), the models
(:mod:`.models`, datamodel-code-generator), the client and README (:mod:`.client`); this module
adds the wire types, the code lists, ``__init__`` and ``pyproject.toml``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import cast

from .. import ir, kinds
from ..payloads import RULE_TEXT
from ..render import py, py_docstring
from ..render import render as render_template
from ..version import __version__
from .client import client_files
from .common import Context, Files, code_member_names, once_per_build, runtime_files, runtime_modules
from .models import model_source

ROOT = PurePosixPath("python")
PACKAGE = ROOT / "qcvn120_client"


def code_types(reg: ir.Regulation) -> list[dict[str, object]]:
    """The wire type of each closed code list (and its ``…OrEmpty`` variant): its codes as literals."""
    out: list[dict[str, object]] = []
    for codelist in reg.codelists:
        if not codelist.closed:
            continue
        values = [c.code for c in codelist.codes]
        comment = f"{codelist.name}: {codelist.title.vi} / {codelist.title.en}"
        for or_empty in (False, True):
            out.append(
                {
                    "name": kinds.code_type_name(codelist.name, or_empty=or_empty),
                    "codelist": codelist.name,
                    "literals": [*values, ""] if or_empty else values,
                    "comment": comment + (' (or "")' if or_empty else ""),
                }
            )
    return out


def static_types(codes: list[dict[str, object]]) -> list[dict[str, str]]:
    """What a typed caller may pass for each wire type, as mypy sees it (the runtime converts it).

    Wire scalars take their kind's ``accepts``; a code takes its enum member, its code or an int;
    an open code any string or int.
    """
    out: list[dict[str, str]] = []
    for info in kinds.wire_kinds():
        assert info.wire_type is not None and info.accepts is not None, info.name
        out.append({"name": info.wire_type, "type": info.accepts})
        if info.or_empty_type:
            out.append({"name": kinds.wire_type_name(info.name, or_empty=True), "type": info.accepts})
    out.append({"name": kinds.OPEN_CODE, "type": "str | int"})
    for code in codes:
        literals = ", ".join(py(value) for value in cast(list[str], code["literals"]))
        out.append({"name": str(code["name"]), "type": f"{code['codelist']} | Literal[{literals}] | int"})
    return out


def pattern_messages(reg: ir.Regulation) -> list[dict[str, str]]:
    """Wire pattern → its rule in words, bilingual, with the kind's example: one text per pattern."""
    out: list[dict[str, str]] = []
    for info in kinds.wire_kinds():
        if info.pattern is None or info.rule is None:
            continue
        text = f"{info.rule.vi} — {info.rule.en} (e.g. {info.example!r})"
        for or_empty in (False, True):
            pattern = kinds.full_pattern(info, or_empty=or_empty)
            if pattern is not None and all(m["pattern"] != pattern for m in out):
                out.append({"pattern": pattern, "text": text})
    # Rules without a pattern, under keys the runtime's _records knows: a code or flag outside its
    # list, and the schema keywords that pydantic reports as missing, extra, type or length errors.
    for rule in ("code", "flag", "required", "additionalProperties", "type", "maxLength", "minItems", "const"):
        vi, en = RULE_TEXT[rule]
        out.append({"pattern": f"@{rule}", "text": f"{vi} — {en}"})
    return sorted(out, key=lambda m: m["pattern"])


def scalar_types() -> list[dict[str, str]]:
    """Every named wire type of the registry as its annotated Python type in the wire module."""
    out: list[dict[str, str]] = []
    for info in kinds.wire_kinds():
        for or_empty in (False, True) if info.or_empty_type else (False,):
            parts = [info.python_base]
            # The pattern before the converter: pydantic then checks it inside its own string
            # validator (natively); after it, through a Python wrapper per value (same verdict).
            pattern = kinds.full_pattern(info, or_empty=or_empty)
            if pattern is not None:
                parts.append(f"Field(pattern={pattern!r})")
            if info.wire_converter is not None:
                parts.append(f"BeforeValidator({info.wire_converter})")
            annotation = f"Annotated[{', '.join(parts)}]" if len(parts) > 1 else parts[0]
            out.append({"name": kinds.wire_type_name(info.name, or_empty=or_empty), "annotation": annotation})
    return out


def codelist_views(reg: ir.Regulation) -> list[dict[str, object]]:
    """Every code list as data for the ``codes`` module: a class per list, a member per code
    (named by :func:`.common.code_member_names`), each with its meaning as its docstring."""
    out: list[dict[str, object]] = []
    for codelist in reg.codelists:
        names = code_member_names(codelist)
        members = [
            {
                "name": name,
                "code": code.code,
                "vi": code.title.vi,
                "en": code.title.en,
                "doc": py_docstring(f"{code.code}: {code.title.vi} — {code.title.en}", 4),
            }
            for name, code in zip(names, codelist.codes, strict=True)
        ]
        kind = "closed list" if codelist.closed else "open list: other codes may occur"
        doc = py_docstring(f"{codelist.title.vi} — {codelist.title.en} ({kind}).", 4)
        out.append({"name": codelist.name, "members": members, "doc": doc})
    return out


# The client's runtime modules the model layer needs (wire conversions, the code-list base).
MODEL_RUNTIME = ("_codes.py", "_scalars.py")


def _wire_module(reg: ir.Regulation, ctx: Context, codes: list[dict[str, object]]) -> str:
    fixed = ["DATETIME_FORMAT", "PATTERN_MESSAGES", "TIMEZONE", kinds.OPEN_CODE, "format_datetime", "parse_datetime"]
    fixed += kinds.wire_type_names()
    return render_template(
        "python/qcvn120_client/wire.py.jinja",
        ctx=ctx,
        names=sorted(fixed + [str(c["name"]) for c in codes]),
        codes=codes,
        scalars=scalar_types(),
        code_converter=kinds.KINDS["code"].wire_converter,
        timezone=reg.meta.timezone,
        messages=pattern_messages(reg),
        static_types=static_types(codes),
        code_lists=sorted({str(c["codelist"]) for c in codes}),
    )


@once_per_build  # the client and the server packages carry the same model layer
def model_layer_files(reg: ir.Regulation, ctx: Context) -> dict[str, str]:
    """The model layer's files by path in a package, rendered once a build (see :func:`model_layer`)."""
    runtime = runtime_modules(reg, ctx)["client"]
    files = {name: runtime[name] for name in MODEL_RUNTIME}
    files.update({f"models/{name}": text for name, text in model_source(reg, ctx).items()})
    files["wire.py"] = _wire_module(reg, ctx, code_types(reg))
    files["codes.py"] = render_template("python/qcvn120_client/codes.py.jinja", ctx=ctx, codelists=codelist_views(reg))
    return files


def model_layer(reg: ir.Regulation, ctx: Context, dest: PurePosixPath) -> Files:
    """The models with what they import (wire types, code lists, two runtime modules), under ``dest``.

    The client package has them, and so has the server package, which imports them relatively:
    each package is self-contained and can be vendored under any name, and neither imports the other.
    """
    return {dest / name: text for name, text in model_layer_files(reg, ctx).items()}


def render(reg: ir.Regulation, ctx: Context) -> Files:
    """The whole ``qcvn120_client`` distribution."""
    files = runtime_files(reg, ctx, "client", PACKAGE) | client_files(reg, ctx) | model_layer(reg, ctx, PACKAGE)
    files[PACKAGE / "__init__.py"] = render_template(
        "python/qcvn120_client/__init__.py.jinja", ctx=ctx, version=__version__, spec_version=reg.meta.spec_version
    )
    files[PACKAGE / "py.typed"] = ""
    files[ROOT / "pyproject.toml"] = render_template("python/pyproject.toml.jinja", ctx=ctx, version=__version__)
    return files

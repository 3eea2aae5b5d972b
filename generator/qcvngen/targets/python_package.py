"""The installable ``qcvn120_client`` distribution around the models: wire types, package files."""

from __future__ import annotations

import keyword
from pathlib import PurePosixPath

from .. import ir, kinds
from ..payloads import RULE_TEXT
from ..render import render as render_template
from ..version import __version__
from .common import Context, Files

ROOT = PurePosixPath("python")
PACKAGE = ROOT / "qcvn120_client"


def code_types(reg: ir.Regulation) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for codelist in reg.codelists:
        if not codelist.closed:
            continue
        values = [c.code for c in codelist.codes]
        comment = f"{codelist.name}: {codelist.title.vi} / {codelist.title.en}"
        out.append({"name": f"Code{codelist.name}", "literals": values, "comment": comment})
        out.append({"name": f"Code{codelist.name}OrEmpty", "literals": values + [""], "comment": comment + ' (or "")'})
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
            if info.wire_converter is not None:
                parts.append(f"BeforeValidator({info.wire_converter})")
            pattern = kinds.full_pattern(info, or_empty=or_empty)
            if pattern is not None:
                parts.append(f"Field(pattern={pattern!r})")
            annotation = f"Annotated[{', '.join(parts)}]" if len(parts) > 1 else parts[0]
            out.append({"name": kinds.wire_type_name(info.name, or_empty=or_empty), "annotation": annotation})
    return out


def codelist_views(reg: ir.Regulation) -> list[dict[str, object]]:
    """Every code list as data for ``code_enum``: codes, meanings and the enum's docstring."""
    out: list[dict[str, object]] = []
    for codelist in reg.codelists:
        members = [{"code": code.code, "vi": code.title.vi, "en": code.title.en} for code in codelist.codes]
        if not codelist.name.isidentifier() or keyword.iskeyword(codelist.name) or codelist.name == "CodeEnum":
            raise ValueError(f"code list name is not a usable class name: {codelist.name!r}")
        kind = "closed list" if codelist.closed else "open list: other codes may occur"
        doc = f"{codelist.title.vi} — {codelist.title.en} ({kind})."
        out.append({"name": codelist.name, "members": members, "doc": doc})
    return out


def render(reg: ir.Regulation, ctx: Context) -> Files:
    codes = code_types(reg)
    fixed = ["DATETIME_FORMAT", "PATTERN_MESSAGES", "TIMEZONE", kinds.OPEN_CODE, "format_datetime", "parse_datetime"]
    fixed += kinds.wire_type_names()
    names = sorted(fixed + [str(c["name"]) for c in codes])
    return {
        PACKAGE / "wire.py": render_template(
            "python/qcvn120_client/wire.py.jinja",
            ctx=ctx,
            names=names,
            codes=codes,
            scalars=scalar_types(),
            code_converter=kinds.KINDS["code"].wire_converter,
            timezone=reg.meta.timezone,
            messages=pattern_messages(reg),
        ),
        PACKAGE / "__init__.py": render_template(
            "python/qcvn120_client/__init__.py.jinja", ctx=ctx, version=__version__, spec_version=reg.meta.spec_version
        ),
        PACKAGE / "codes.py": render_template(
            "python/qcvn120_client/codes.py.jinja", ctx=ctx, codelists=codelist_views(reg)
        ),
        PACKAGE / "py.typed": "",
        ROOT / "pyproject.toml": render_template("python/pyproject.toml.jinja", ctx=ctx, version=__version__),
    }

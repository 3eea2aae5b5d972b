"""Reading the spec folder: every file loaded with positions, checked against the DSL, problems collected."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .. import dsl, ir, kinds, naming
from ..diagnostics import Diagnostic, Severity
from ..loader import Ambiguous, Document, PathKey, format_path, load_file

M = TypeVar("M", bound=BaseModel)

SPEC_FILES = ("regulation.yaml", "sources.yaml", "packets.yaml", "envelope.yaml", "codelists.yaml")
# Where a name is defined: the document, the logical-path prefix and the path inside the document.
Where = tuple[Document, str, PathKey]
# A record named by a field or a local service, checked once every table is read.
PendingRef = tuple[Document, str, PathKey, str]


def _format_path(prefix: str, loc: PathKey) -> str:
    inner = format_path(loc)
    if not prefix:
        return inner
    return f"{prefix}{inner}" if inner.startswith("[") or not inner else f"{prefix}.{inner}"


@dataclass
class Checker:
    """Accumulates diagnostics against positioned documents."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, doc: Document, prefix: str, loc: PathKey, message: str, *, key: bool = False) -> None:
        """Record an error at ``loc`` of ``doc`` (at the key itself when ``key``)."""
        mark = doc.mark(loc, key=key)
        self.diagnostics.append(Diagnostic(doc.file, mark.line, mark.col, _format_path(prefix, loc), message))

    def warn(self, doc: Document, prefix: str, loc: PathKey, message: str) -> None:
        """Record a warning at ``loc`` of ``doc``."""
        mark = doc.mark(loc)
        self.diagnostics.append(
            Diagnostic(doc.file, mark.line, mark.col, _format_path(prefix, loc), message, Severity.WARNING)
        )

    def validate(self, model: type[M], doc: Document, prefix: str) -> M | None:
        """``doc`` as a ``model``, or None after reporting every way it does not fit."""
        try:
            return model.model_validate(doc.data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc: PathKey = tuple(err["loc"])
                self.error(doc, prefix, loc, _explain(err, loc), key=err["type"] == "extra_forbidden")
            return None


def _explain(err: Any, loc: PathKey) -> str:
    kind, value = err["type"], err.get("input")
    if isinstance(value, Ambiguous):
        if kind in ("string_type", "model_type"):
            return f"`{value.raw}` would be read by YAML 1.1 as a {value.reads_as}; quote this value"
        if kind == "bool_type":
            return f"`{value.raw}` is a YAML 1.1 boolean spelling; write true or false"
        return f"`{value.raw}` is ambiguous in YAML 1.1 (a {value.reads_as}); write a plain decimal number"
    if kind == "literal_error" and loc and loc[-1] == "type" and isinstance(value, str):
        return f"unknown type '{value}'{did_you_mean(value, kinds.KIND_NAMES)}"
    if kind == "model_type" and loc and loc[-1] == "notes":
        return f"expected a note {{vi: ..., en: ...}}, got {_shown(value)}"
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'"
    if kind == "missing":
        return f"missing required key '{loc[-1]}'"
    if kind == "string_type":
        return f"expected text, got {_shown(value)}; quote this value"
    if kind in ("int_type", "bool_type") and isinstance(value, str):
        expected = "an integer" if kind == "int_type" else "true or false"
        return f"expected {expected}, got the string {value!r}"
    return f"{err['msg']}"


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return "an empty text" if not value else repr(value)
    return {True: "true", False: "false"}.get(value, str(value)) if value is not None else "an empty value"


class SpecLoader:
    """Loads the files of one spec folder, naming them ``spec/…`` in diagnostics."""

    def __init__(self, spec_dir: Path) -> None:
        self.spec_dir = spec_dir
        self.check = Checker()
        self.display_root = spec_dir.name or "spec"

    def display(self, path: Path) -> str:
        """How diagnostics name ``path``: relative to the spec folder, under its name."""
        return f"{self.display_root}/{path.relative_to(self.spec_dir).as_posix()}"

    def load(self, relative: str) -> Document | None:
        """The document at ``relative``, or None (reported) when it is missing or unreadable."""
        path = self.spec_dir / relative
        display = f"{self.display_root}/{relative}"
        if not path.is_file():
            self.check.diagnostics.append(Diagnostic(display, 1, 1, "", "file is missing"))
            return None
        doc, problems = load_file(path, display, shared=True)  # the resolver only reads it
        self.check.diagnostics.extend(problems)
        return doc


def bilingual(spec: dsl.TextSpec) -> ir.Text:
    """The IR text of a DSL text."""
    return ir.Text(vi=spec.vi, en=spec.en)


def note(spec: dsl.TextSpec | None) -> ir.Text | None:
    """The IR text of a DSL note (``vi`` empty when the spec wrote it in English only), or None."""
    return bilingual(spec) if spec is not None else None


ENGLISH_ONLY_NOTE = 'note is in English only: the Vietnamese is missing; write notes: {vi: "…", en: "…"}'


def warn_english_only_notes(check: Checker, doc: Document, prefix: str, data: Any, loc: PathKey = ()) -> None:
    """Warn at every note of a validated document that is a plain (English-only) string."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "notes" and isinstance(value, str):
                check.warn(doc, prefix, (*loc, key), ENGLISH_ONLY_NOTE)
            else:
                warn_english_only_notes(check, doc, prefix, value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            warn_english_only_notes(check, doc, prefix, value, (*loc, i))


def did_you_mean(value: str, options: Any) -> str:
    """A ``(did you mean 'x'?)`` hint naming the closest of ``options``, or nothing."""
    close = difflib.get_close_matches(value, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _table_prefix(data: Any, fallback: str) -> str:
    if isinstance(data, dict) and isinstance(data.get("packet"), str) and naming.file_safe(data["packet"]):
        return str(data["packet"])
    return fallback


@dataclass
class Inputs:
    """Every spec file, validated against its DSL model; a file is None when missing or malformed."""

    regulation: tuple[Document, dsl.RegulationFile] | None
    sources: tuple[Document, dsl.SourcesFile] | None
    packets: tuple[Document, dsl.PacketsFile] | None
    envelope: tuple[Document, dsl.EnvelopeFile] | None
    codelists: tuple[Document, dsl.CodeListsFile] | None
    tables: list[tuple[Document, str, dsl.TableFile]]
    # Tables whose file is broken: already reported, so not also called missing.
    broken_tables: set[int]


def read_spec(loader: SpecLoader) -> Inputs:
    """Load every spec file and check each one's shape against the DSL."""
    check = loader.check
    docs = {name: loader.load(name) for name in SPEC_FILES}
    table_docs, broken_tables = _table_documents(loader)

    def validated(name: str, model: type[M], prefix: str) -> tuple[Document, M] | None:
        doc = docs[name]
        parsed = check.validate(model, doc, prefix) if doc is not None else None
        if doc is not None and parsed is not None:
            warn_english_only_notes(check, doc, prefix, doc.data)
        return (doc, parsed) if doc is not None and parsed is not None else None

    inputs = Inputs(
        regulation=validated("regulation.yaml", dsl.RegulationFile, "regulation"),
        sources=validated("sources.yaml", dsl.SourcesFile, ""),
        packets=validated("packets.yaml", dsl.PacketsFile, ""),
        envelope=validated("envelope.yaml", dsl.EnvelopeFile, "envelope"),
        codelists=validated("codelists.yaml", dsl.CodeListsFile, ""),
        tables=[],
        broken_tables=broken_tables,
    )
    for doc in table_docs:
        prefix = _table_prefix(doc.data, Path(doc.file).stem)
        parsed = check.validate(dsl.TableFile, doc, prefix)
        if parsed is not None:
            warn_english_only_notes(check, doc, prefix, doc.data)
            inputs.tables.append((doc, prefix, parsed))
        elif isinstance(doc.data, dict) and isinstance(doc.data.get("table"), int):
            inputs.broken_tables.add(doc.data["table"])
    return inputs


def _table_documents(loader: SpecLoader) -> tuple[list[Document], set[int]]:
    """The readable files of ``tables/``, and the numbers of those that could not be read."""
    tables_dir = loader.spec_dir / "tables"
    docs: list[Document] = []
    unreadable: set[int] = set()
    if not tables_dir.is_dir():
        loader.check.diagnostics.append(Diagnostic(f"{loader.display_root}/tables", 1, 1, "", "folder is missing"))
        return docs, unreadable
    for path in sorted(tables_dir.glob("*.yaml")):
        doc = loader.load(f"tables/{path.name}")
        if doc is not None:
            docs.append(doc)
        elif (numbered := re.match(r"t(\d+)-", path.name)) is not None:
            unreadable.add(int(numbered.group(1)))
    return docs, unreadable

"""Spec folder → IR: load every file, check the DSL's shape and its cross-references, build the IR.

Every problem is collected as a :class:`Diagnostic`; the IR is returned only when there is none.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from . import dsl, ir, kinds, naming, wire
from .diagnostics import Diagnostic, Severity, has_errors
from .loader import Ambiguous, Document, PathKey, format_path, load_file

M = TypeVar("M", bound=BaseModel)

SPEC_FILES = ("regulation.yaml", "sources.yaml", "packets.yaml", "envelope.yaml", "codelists.yaml")
# Where a name is defined: the document, the logical-path prefix and the path inside the document.
_Where = tuple[Document, str, PathKey]
# A record named by a field or a local service, checked once every table is read.
_PendingRef = tuple[Document, str, PathKey, str]


def _format_path(prefix: str, loc: PathKey) -> str:
    inner = format_path(loc)
    if not prefix:
        return inner
    return f"{prefix}{inner}" if inner.startswith("[") or not inner else f"{prefix}.{inner}"


@dataclass
class _Checker:
    """Accumulates diagnostics against positioned documents."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, doc: Document, prefix: str, loc: PathKey, message: str, *, key: bool = False) -> None:
        mark = doc.mark(loc, key=key)
        self.diagnostics.append(Diagnostic(doc.file, mark.line, mark.col, _format_path(prefix, loc), message))

    def warn(self, doc: Document, prefix: str, loc: PathKey, message: str) -> None:
        mark = doc.mark(loc)
        self.diagnostics.append(
            Diagnostic(doc.file, mark.line, mark.col, _format_path(prefix, loc), message, Severity.WARNING)
        )

    def validate(self, model: type[M], doc: Document, prefix: str) -> M | None:
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
        if kind == "string_type":
            return f"`{value.raw}` would be read by YAML 1.1 as a {value.reads_as}; quote this value"
        if kind == "bool_type":
            return f"`{value.raw}` is a YAML 1.1 boolean spelling; write true or false"
        return f"`{value.raw}` is ambiguous in YAML 1.1 (a {value.reads_as}); write a plain decimal number"
    if kind == "literal_error" and loc and loc[-1] == "type" and isinstance(value, str):
        return f"unknown type '{value}'{_did_you_mean(value, kinds.KIND_NAMES)}"
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'"
    if kind == "missing":
        return f"missing required key '{loc[-1]}'"
    if kind == "string_type":
        shown = {True: "true", False: "false"}.get(value, str(value)) if value is not None else "an empty value"
        return f"expected text, got {shown}; quote this value"
    if kind in ("int_type", "bool_type") and isinstance(value, str):
        expected = "an integer" if kind == "int_type" else "true or false"
        return f"expected {expected}, got the string {value!r}"
    return f"{err['msg']}"


class _SpecLoader:
    def __init__(self, spec_dir: Path) -> None:
        self.spec_dir = spec_dir
        self.check = _Checker()
        self.display_root = spec_dir.name or "spec"

    def display(self, path: Path) -> str:
        return f"{self.display_root}/{path.relative_to(self.spec_dir).as_posix()}"

    def load(self, relative: str) -> Document | None:
        path = self.spec_dir / relative
        display = f"{self.display_root}/{relative}"
        if not path.is_file():
            self.check.diagnostics.append(Diagnostic(display, 1, 1, "", "file is missing"))
            return None
        doc, problems = load_file(path, display)
        self.check.diagnostics.extend(problems)
        return doc


def _text(spec: dsl.TextSpec) -> ir.Text:
    return ir.Text(vi=spec.vi, en=spec.en)


def _did_you_mean(value: str, options: Any) -> str:
    close = difflib.get_close_matches(value, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Resolver:
    """Cross-file checks and IR construction over validated DSL models; the phases share its state."""

    def __init__(self, check: _Checker, inputs: _Inputs) -> None:
        self.check = check
        self.inputs = inputs
        self.sources: set[str] = set()
        self.codelists: dict[str, dsl.CodeListSpec] = {}
        # When a catalogue file is itself broken its names are unknown: do not call every use dangling.
        self.sources_known = inputs.sources is not None
        self.codelists_known = inputs.codelists is not None
        self.record_names: dict[str, _Where] = {}
        self.records: list[ir.Record] = []
        self.pending_refs: list[_PendingRef] = []
        self.endpoint_names: set[str] = set()
        self.packet_specs: dict[str, tuple[int, dsl.PacketSpec]] = {}
        self.service_params: dict[str, tuple[ir.Field, ...]] = {}

    # -- references ------------------------------------------------------------------------
    def check_sources(self, doc: Document, prefix: str, loc: PathKey, ids: list[str]) -> tuple[str, ...]:
        """Report unknown and repeated source ids; the ids as the IR keeps them."""
        for index, source in enumerate(ids):
            if self.sources_known and source not in self.sources:
                message = f"unknown source '{source}'{_did_you_mean(source, self.sources)}"
                self.check.error(doc, prefix, loc + (index,), message)
        if len(set(ids)) != len(ids):
            self.check.error(doc, prefix, loc, "a source is listed twice")
        return tuple(ids)

    def declare_record(self, name: str, doc: Document, prefix: str, loc: PathKey) -> bool:
        """Claim a record name; False (and a diagnostic) when it is malformed or folds onto another."""
        if not naming.file_safe(name) or not name[0].isupper():
            message = f"record name '{name}' must be an ASCII identifier starting with a capital letter"
            self.check.error(doc, prefix, loc, message)
            return False
        folded = naming.collision_key(name)
        for other, (odoc, _, oloc) in self.record_names.items():
            if naming.collision_key(other) == folded:
                where = f"{odoc.file}:{odoc.mark(oloc).line}"
                self.check.error(doc, prefix, loc, f"record name '{name}' collides with '{other}' defined at {where}")
                return False
        self.record_names[name] = (doc, prefix, loc)
        return True

    # -- fields -----------------------------------------------------------------------------
    def fields(
        self, specs: list[dsl.FieldSpec], doc: Document, prefix: str, loc: PathKey, table: int | None
    ) -> tuple[ir.Field, ...]:
        """Check a list of fields (names, rows, types, sources) and build the IR fields that pass."""
        out: list[ir.Field] = []
        names = _FieldNames()
        rows: dict[int, int] = {}
        for index, spec in enumerate(specs):
            here = loc + (index,)
            py_name = self.field_name(spec, index, names, doc, prefix, here)
            if py_name is None:
                continue
            if spec.row is not None:
                if spec.row in rows:
                    self.check.error(doc, prefix, here + ("row",), f"row {spec.row} is also fields[{rows[spec.row]}]")
                rows[spec.row] = index
            ftype = self.field_type(spec, doc, prefix, here)
            sources = self.check_sources(doc, prefix, here + ("sources",), spec.sources)
            if spec.membership != "regulation" and spec.row is not None:
                message = f"only membership: regulation fields have a row (this one is {spec.membership})"
                self.check.error(doc, prefix, here + ("row",), message)
            origin = ir.Origin(doc.file, doc.mark(here).line, table, spec.row)
            out.append(_field(spec, py_name, ftype, sources, origin, len(out) + 1))
        return tuple(out)

    def field_name(
        self, spec: dsl.FieldSpec, index: int, names: _FieldNames, doc: Document, prefix: str, here: PathKey
    ) -> str | None:
        """The field's Python name, or None (reported) when its wire or Python name is taken or unusable."""
        where = here + ("name",)
        if spec.name in names.wire:
            self.check.error(
                doc, prefix, where, f"duplicate field name '{spec.name}' (also fields[{names.wire[spec.name]}])"
            )
            return None
        names.wire[spec.name] = index
        problem = naming.wire_name_problem(spec.name)
        if problem:
            self.check.error(doc, prefix, where, problem)
            return None
        py_name = naming.field_identifier(spec.name)
        folded = naming.collision_key(py_name)
        if folded in names.python:
            other_index, other = names.python[folded]
            message = (
                f"field '{spec.name}' and field '{other}' (fields[{other_index}])"
                f" both become the Python name '{py_name}'"
            )
            self.check.error(doc, prefix, where, message)
            return None
        names.python[folded] = (index, spec.name)
        return py_name

    def field_type(self, spec: dsl.FieldSpec, doc: Document, prefix: str, here: PathKey) -> ir.FieldType:
        """Check the type keys that go with the field's kind; the IR type (``any`` when the kind is unknown)."""
        kind = spec.type
        if kind not in kinds.KIND_NAMES:
            self.check.error(
                doc, prefix, here + ("type",), f"unknown type '{kind}'{_did_you_mean(kind, kinds.KIND_NAMES)}"
            )
            return ir.FieldType(kind="any")
        info = kinds.kind(kind)
        for key in ("codelist", "record", "of"):
            given = getattr(spec, key) is not None
            if given and info.reference != key:
                self.check.error(doc, prefix, here + (key,), f"'{key}' does not apply to type '{kind}'", key=True)
            if not given and info.reference == key:
                self.check.error(doc, prefix, here, f"type '{kind}' needs '{key}'")
        if spec.empty_string and not info.takes_empty_string:
            message = "empty_string applies to record and list fields only"
            self.check.error(doc, prefix, here + ("empty_string",), message, key=True)
        if spec.max_length is not None and not info.takes_max_length:
            message = f"max_length does not apply to type '{kind}'"
            self.check.error(doc, prefix, here + ("max_length",), message, key=True)
        self.field_references(spec, doc, prefix, here)
        if spec.example is not None:
            self.field_example(spec, spec.example, doc, prefix, here)
        return ir.FieldType(
            kind=kind, codelist=spec.codelist, record=spec.record, of=spec.of, empty_string=spec.empty_string
        )

    def field_references(self, spec: dsl.FieldSpec, doc: Document, prefix: str, here: PathKey) -> None:
        """Check the code list now; queue record references until every table is read."""
        kind, codelist = spec.type, spec.codelist
        if kind == "code" and self.codelists_known and codelist is not None and codelist not in self.codelists:
            message = f"unknown code list '{codelist}'{_did_you_mean(codelist, self.codelists)}"
            self.check.error(doc, prefix, here + ("codelist",), message)
        if kind == "record" and spec.record is not None:
            self.pending_refs.append((doc, prefix, here + ("record",), spec.record))
        if kind == "list" and spec.of is not None and spec.of not in kinds.LIST_ITEM_KINDS:
            self.pending_refs.append((doc, prefix, here + ("of",), spec.of))

    def field_example(self, spec: dsl.FieldSpec, example: str, doc: Document, prefix: str, here: PathKey) -> None:
        """An example must be a valid wire value of the field (and a code of its closed list)."""
        codes = None
        codelist = self.codelists.get(spec.codelist or "")
        if spec.type == "code" and codelist is not None and codelist.closed:
            codes = tuple(c.code for c in codelist.codes)
        problem = wire.example_error(spec.type, example, codes)
        if problem is None and spec.max_length is not None and len(example) > spec.max_length:
            problem = f"example is longer than max_length {spec.max_length}"
        if problem:
            self.check.error(doc, prefix, here + ("example",), problem)


@dataclass
class _FieldNames:
    """Names already taken in one list of fields: wire names, and folded Python names."""

    wire: dict[str, int] = field(default_factory=dict)
    python: dict[str, tuple[int, str]] = field(default_factory=dict)


def _field(
    spec: dsl.FieldSpec, py_name: str, ftype: ir.FieldType, sources: tuple[str, ...], origin: ir.Origin, position: int
) -> ir.Field:
    return ir.Field(
        wire_name=spec.name,
        py_name=py_name,
        title=_text(spec.title),
        type=ftype,
        required=spec.required,
        max_length=spec.max_length,
        membership=spec.membership,
        sources=sources,
        confidence=spec.confidence,
        pii=spec.pii,
        secret=spec.secret,
        example=spec.example,
        notes=spec.notes,
        origin=origin,
        position=position,
    )


def _table_prefix(data: Any, fallback: str) -> str:
    if isinstance(data, dict) and isinstance(data.get("packet"), str) and naming.file_safe(data["packet"]):
        return str(data["packet"])
    return fallback


def _coverage(fields: tuple[ir.Field, ...], declared: int, gaps: tuple[ir.Gap, ...]) -> ir.Coverage:
    counted = [f for f in fields if f.membership == "regulation"]
    specified = len(counted)
    candidates = sum(1 for f in fields if f.membership == "candidate")
    status: ir.CoverageStatus
    if specified == 0 and candidates == 0:
        status = "unknown"
    elif specified >= declared:
        status = "unverified" if any(f.confidence == "low" for f in counted) else "complete"
    else:
        status = "partial"
    return ir.Coverage(
        declared=declared,
        specified=specified,
        candidates=candidates,
        later=sum(1 for f in fields if f.membership == "later"),
        hypothesis=sum(1 for f in fields if f.membership == "hypothesis"),
        status=status,
        known_rows=tuple(sorted(f.origin.row for f in counted if f.origin.row is not None)),
        gap_rows=tuple(g.row for g in gaps),
    )


# -- reading ---------------------------------------------------------------------------------


@dataclass
class _Inputs:
    """Every spec file, validated against its DSL model; a file is None when missing or malformed."""

    regulation: tuple[Document, dsl.RegulationFile] | None
    sources: tuple[Document, dsl.SourcesFile] | None
    packets: tuple[Document, dsl.PacketsFile] | None
    envelope: tuple[Document, dsl.EnvelopeFile] | None
    codelists: tuple[Document, dsl.CodeListsFile] | None
    tables: list[tuple[Document, str, dsl.TableFile]]
    # Tables whose file is broken: already reported, so not also called missing.
    broken_tables: set[int]


def _read(loader: _SpecLoader) -> _Inputs:
    """Load every spec file and check each one's shape against the DSL."""
    check = loader.check
    docs = {name: loader.load(name) for name in SPEC_FILES}
    table_docs, broken_tables = _table_documents(loader)

    def validated(name: str, model: type[M], prefix: str) -> tuple[Document, M] | None:
        doc = docs[name]
        parsed = check.validate(model, doc, prefix) if doc is not None else None
        return (doc, parsed) if doc is not None and parsed is not None else None

    inputs = _Inputs(
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
            inputs.tables.append((doc, prefix, parsed))
        elif isinstance(doc.data, dict) and isinstance(doc.data.get("table"), int):
            inputs.broken_tables.add(doc.data["table"])
    return inputs


def _table_documents(loader: _SpecLoader) -> tuple[list[Document], set[int]]:
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


# -- phases ----------------------------------------------------------------------------------


def _catalogue(res: _Resolver) -> list[ir.Source]:
    """sources.yaml: every source id once."""
    if res.inputs.sources is None:
        return []
    sdoc, sfile = res.inputs.sources
    out: list[ir.Source] = []
    for index, src in enumerate(sfile.sources):
        if src.id in res.sources:
            res.check.error(sdoc, "", ("sources", index, "id"), f"duplicate source id '{src.id}'")
        res.sources.add(src.id)
        out.append(ir.Source(src.id, src.title, src.kind, src.reference, src.gives))
    return out


def _codelists(res: _Resolver) -> list[ir.CodeList]:
    """codelists.yaml: unique list names, unique codes within a list."""
    if res.inputs.codelists is None:
        return []
    cdoc, cfile = res.inputs.codelists
    out: list[ir.CodeList] = []
    for index, cl in enumerate(cfile.codelists):
        here: PathKey = ("codelists", index)
        if cl.name in res.codelists:
            res.check.error(cdoc, "", here + ("name",), f"duplicate code list '{cl.name}'")
            continue
        res.codelists[cl.name] = cl
        seen_codes: set[str] = set()
        for cindex, code in enumerate(cl.codes):
            if code.code in seen_codes:
                res.check.error(cdoc, "", here + ("codes", cindex, "code"), f"duplicate code '{code.code}'")
            seen_codes.add(code.code)
        out.append(
            ir.CodeList(
                name=cl.name,
                title=_text(cl.title),
                closed=cl.closed,
                sources=res.check_sources(cdoc, "", here + ("sources",), cl.sources),
                confidence=cl.confidence,
                notes=cl.notes,
                codes=tuple(ir.Code(c.code, _text(c.title), c.membership, c.notes) for c in cl.codes),
            )
        )
    return out


# The envelope's own records: (model name, where in envelope.yaml, title).
_ENVELOPE_RECORDS: tuple[tuple[str, PathKey, ir.Text], ...] = (
    (naming.ENVELOPE_MODELS[0], ("login", "request"), ir.Text("Yêu cầu đăng nhập", "login request")),
    (naming.ENVELOPE_MODELS[1], ("login", "response"), ir.Text("Kết quả đăng nhập", "login response")),
    (naming.ENVELOPE_MODELS[2], ("request",), ir.Text("Phong bì yêu cầu", "request envelope")),
    (naming.ENVELOPE_MODELS[3], ("response",), ir.Text("Phong bì kết quả", "response envelope")),
)


def _envelope(res: _Resolver) -> ir.Envelope | None:
    """envelope.yaml: endpoints, headers, the login and envelope records, errors, local services."""
    if res.inputs.envelope is None:
        return None
    edoc, efile = res.inputs.envelope
    for index, ep in enumerate(efile.endpoints):
        if ep.name in res.endpoint_names:
            res.check.error(edoc, "envelope", ("endpoints", index, "name"), f"duplicate endpoint '{ep.name}'")
        res.endpoint_names.add(ep.name)
    for index, header in enumerate(efile.headers):
        res.check_sources(edoc, "envelope", ("headers", index, "sources"), header.sources)
    for index, err in enumerate(efile.errors):
        res.check_sources(edoc, "envelope", ("errors", index, "sources"), err.sources)
    specs: dict[PathKey, list[dsl.FieldSpec]] = {
        ("login", "request"): efile.login.request,
        ("login", "response"): efile.login.response,
        ("request",): efile.request,
        ("response",): efile.response,
    }
    records = [
        ir.Record(name, title, res.fields(specs[loc], edoc, "envelope", loc, None), open=True, table=None, notes=None)
        for name, loc, title in _ENVELOPE_RECORDS
    ]
    envelope = ir.Envelope(
        endpoints=tuple(ir.Endpoint(e.name, e.path, _text(e.title), e.notes) for e in efile.endpoints),
        headers=tuple(ir.Header(h.name, h.required, _text(h.description), tuple(h.sources)) for h in efile.headers),
        login_request=records[0],
        login_response=records[1],
        request=records[2],
        response=records[3],
        errors=tuple(ir.ErrorCode(e.code, _text(e.title), tuple(e.sources), e.notes) for e in efile.errors),
        local_services=_local_services(res, edoc, efile),
        notes=efile.notes,
    )
    for service, fspecs in efile.service_params.items():
        res.service_params[service] = res.fields(fspecs, edoc, "envelope", ("service_params", service), None)
    return envelope


def _local_services(res: _Resolver, edoc: Document, efile: dsl.EnvelopeFile) -> tuple[ir.LocalService, ...]:
    out: list[ir.LocalService] = []
    for i, ls in enumerate(efile.local_services):
        here: PathKey = ("local_services", i)
        sources = res.check_sources(edoc, "envelope", here + ("sources",), ls.sources)
        params = res.fields(ls.params, edoc, "envelope", here + ("params",), None)
        out.append(
            ir.LocalService(
                ls.name,
                naming.method_name(ls.name),
                ls.path,
                _text(ls.title),
                ls.inference,
                sources,
                ls.notes,
                params,
                ls.result_record,
            )
        )
    if res.inputs.packets is not None:  # result records are named after packets: unknowable without packets.yaml
        for i, ls in enumerate(efile.local_services):
            res.pending_refs.append((edoc, "envelope", ("local_services", i, "result_record"), ls.result_record))
    return tuple(out)


def _packets(res: _Resolver) -> list[ir.Group]:
    """packets.yaml: groups and sections, and each packet's name, number, group, endpoint and sources."""
    if res.inputs.packets is None:
        return []
    pdoc, pfile = res.inputs.packets
    group_numbers = {g.number for g in pfile.groups}
    section_numbers = {s.number for g in pfile.groups for s in g.sections}
    numbers: set[str] = set()
    for index, pk in enumerate(pfile.packets):
        here: PathKey = ("packets", index)
        if pk.name in res.packet_specs:
            res.check.error(pdoc, "", here + ("name",), f"duplicate packet '{pk.name}'")
            continue
        if pk.number in numbers:
            res.check.error(pdoc, "", here + ("number",), f"duplicate packet number '{pk.number}'")
        numbers.add(pk.number)
        res.packet_specs[pk.name] = (index, pk)
        if (problem := naming.file_name_problem(pk.name)) is not None:
            res.check.error(pdoc, "", here + ("name",), f"packet name {problem}")
        if pk.group not in group_numbers:
            res.check.error(pdoc, "", here + ("group",), f"unknown group '{pk.group}'")
        if pk.section is not None and pk.section not in section_numbers:
            res.check.error(pdoc, "", here + ("section",), f"unknown section '{pk.section}'")
        if res.inputs.envelope is not None and pk.endpoint not in res.endpoint_names:
            message = f"unknown endpoint '{pk.endpoint}'{_did_you_mean(pk.endpoint, res.endpoint_names)}"
            res.check.error(pdoc, "", here + ("endpoint",), message)
        res.check_sources(pdoc, "", here + ("sources",), pk.sources)
    return [
        ir.Group(g.number, _text(g.title), tuple(ir.Section(s.number, _text(s.title)) for s in g.sections))
        for g in pfile.groups
    ]


def _service_params_packets(res: _Resolver) -> None:
    """Every ``service_params`` key of envelope.yaml names a packet."""
    if res.inputs.packets is None or res.inputs.envelope is None:
        return
    edoc = res.inputs.envelope[0]
    for service in res.service_params:
        if service not in res.packet_specs:
            message = f"unknown packet '{service}'{_did_you_mean(service, res.packet_specs)}"
            res.check.error(edoc, "envelope", ("service_params", service), message, key=True)


@dataclass
class _Tables:
    """What the table phase builds: IR tables, and each packet's params and record names by role."""

    declared: dict[int, tuple[str, int]]  # table number → (packet, declared field count), from packets.yaml
    seen: dict[int, str] = field(default_factory=dict)  # table number → the file defining it
    tables: list[ir.Table] = field(default_factory=list)
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)


def _declared_tables(res: _Resolver) -> dict[int, tuple[str, int]]:
    """Table number → (packet, declared field count), as packets.yaml lists them."""
    declared: dict[int, tuple[str, int]] = {}
    if res.inputs.packets is None:
        return declared
    pdoc, pfile = res.inputs.packets
    for index, pk in enumerate(pfile.packets):
        for tindex, ref in enumerate(pk.tables):
            if ref.table in declared:
                where = ("packets", index, "tables", tindex, "table")
                res.check.error(pdoc, "", where, f"table {ref.table} is listed twice")
            declared[ref.table] = (pk.name, ref.declared)
    return declared


def _tables(res: _Resolver) -> _Tables:
    """One file per declared table, each naming the packet that lists it; its records and fields."""
    out = _Tables(_declared_tables(res))
    for doc, prefix, tf in res.inputs.tables:
        if _table_claimed(res, out, doc, prefix, tf):
            _table(res, out, doc, prefix, tf)
    return out


def _table_claimed(res: _Resolver, out: _Tables, doc: Document, prefix: str, tf: dsl.TableFile) -> bool:
    """Whether this file is the one definition of a table that packets.yaml gives to its packet."""
    if tf.table in out.seen:
        res.check.error(doc, prefix, ("table",), f"table {tf.table} is also defined in {out.seen[tf.table]}")
        return False
    out.seen[tf.table] = doc.file
    if res.inputs.packets is None:
        return True
    if tf.table not in out.declared:
        res.check.error(doc, prefix, ("table",), f"table {tf.table} is not listed by any packet in packets.yaml")
        return False
    owner = out.declared[tf.table][0]
    if owner != tf.packet:
        res.check.error(
            doc, prefix, ("packet",), f"packets.yaml gives table {tf.table} to '{owner}', not '{tf.packet}'"
        )
        return False
    return True


def _table(res: _Resolver, out: _Tables, doc: Document, prefix: str, tf: dsl.TableFile) -> None:
    packets_known = res.inputs.packets is not None
    declared = out.declared[tf.table][1] if packets_known else 0
    for rindex, rec in enumerate(tf.records):
        rloc: PathKey = ("records", rindex)
        if res.declare_record(rec.name, doc, prefix, rloc + ("name",)):
            rfields = res.fields(rec.fields, doc, prefix, rloc + ("fields",), tf.table)
            res.records.append(
                ir.Record(rec.name, _text(rec.title), rfields, open=True, table=tf.table, notes=rec.notes)
            )
    flds = res.fields(tf.fields, doc, prefix, ("fields",), tf.table)
    gaps = tuple(
        ir.Gap(g.row, _text(g.title), res.check_sources(doc, prefix, ("gaps", i, "sources"), g.sources), g.notes)
        for i, g in enumerate(tf.gaps)
    )
    cov = _coverage(flds, declared, gaps)
    if packets_known:
        _check_rows(res, doc, prefix, cov, declared)
    if set(cov.known_rows) & set(cov.gap_rows):
        res.check.error(doc, prefix, ("gaps",), "a gap row is also the row of a known field")
    record_name = _table_part(res, out, doc, prefix, tf, flds, cov) if tf.packet in res.packet_specs else ""
    out.tables.append(
        ir.Table(
            tf.table, tf.packet, tf.part, _text(tf.title), tf.confidence, tf.notes, record_name, gaps, cov, doc.file
        )
    )


def _check_rows(res: _Resolver, doc: Document, prefix: str, cov: ir.Coverage, declared: int) -> None:
    """A table specifies no more fields, and no row beyond, what Table 1 declares."""
    if cov.specified > declared:
        message = f"{cov.specified} fields are marked membership: regulation but Table 1 declares {declared}"
        res.check.error(doc, prefix, ("fields",), message)
    for row in cov.known_rows + cov.gap_rows:
        if row > declared:
            res.check.error(doc, prefix, ("fields",), f"row {row} is beyond the {declared} rows Table 1 declares")


def _table_part(
    res: _Resolver,
    out: _Tables,
    doc: Document,
    prefix: str,
    tf: dsl.TableFile,
    flds: tuple[ir.Field, ...],
    cov: ir.Coverage,
) -> str:
    """File the table under its packet: params, or the data (push) / result (pull) record; the record's name."""
    parts = out.parts.setdefault(tf.packet, {})
    if tf.part == "params":
        parts["params"] = flds
        return ""
    role = "data" if res.packet_specs[tf.packet][1].direction == "push" else "result"
    if role in parts:
        res.check.error(doc, prefix, ("part",), f"packet '{tf.packet}' already has a {role} table")
    record_name = f"{tf.packet}{'Record' if role == 'data' else 'Result'}"
    if res.declare_record(record_name, doc, prefix, ("packet",)):
        open_ = cov.status != "complete"
        res.records.append(ir.Record(record_name, _text(tf.title), flds, open=open_, table=tf.table, notes=tf.notes))
    parts[role] = record_name
    return record_name


def _missing_tables(res: _Resolver, out: _Tables) -> None:
    """Every table packets.yaml lists has a file (unless that file is already reported broken)."""
    if res.inputs.packets is None:
        return
    pdoc = res.inputs.packets[0]
    for number, (packet_name, _) in sorted(out.declared.items()):
        if number not in out.seen and number not in res.inputs.broken_tables:
            index = res.packet_specs[packet_name][0] if packet_name in res.packet_specs else 0
            res.check.error(pdoc, "", ("packets", index, "tables"), f"table {number} has no file in tables/")


def _record_references(res: _Resolver) -> None:
    """Every record a field or local service names exists (known only once all tables are read)."""
    for doc, prefix, loc, name in res.pending_refs:
        if name not in res.record_names:
            res.check.error(doc, prefix, loc, f"unknown record '{name}'{_did_you_mean(name, res.record_names)}")


def _ir_packets(res: _Resolver, parts: dict[str, dict[str, Any]]) -> list[ir.Packet]:
    out: list[ir.Packet] = []
    for name, (_, pk) in res.packet_specs.items():
        packet_parts = parts.get(name, {})
        out.append(
            ir.Packet(
                number=pk.number,
                name=pk.name,
                method=naming.method_name(pk.name),
                group=pk.group,
                section=pk.section,
                purpose=_text(pk.purpose),
                direction=pk.direction,
                endpoint=pk.endpoint,
                declared=pk.declared,
                tables=tuple(t.table for t in pk.tables),
                params=res.service_params.get(name, ()) + tuple(packet_parts.get("params", ())),
                data_record=packet_parts.get("data"),
                result_record=packet_parts.get("result"),
                sources=tuple(pk.sources),
                notes=pk.notes,
            )
        )
    return out


def _name_clashes(res: _Resolver, envelope: ir.Envelope | None) -> None:
    """Records, envelope models, per-packet requests/responses and code types share one namespace."""
    derived = naming.derived_names(
        [r.name for r in res.records],
        list(res.packet_specs),
        [s.name for s in envelope.local_services] if envelope else [],
        list(res.codelists),
    )
    for name, first, second in naming.name_clashes(derived):
        where = _locate(res, second) or _locate(res, first)
        message = f"the name '{name}' is defined by {first} and by {second}; rename one"
        if where is not None:
            res.check.error(*where, message)
        else:
            res.check.diagnostics.append(Diagnostic("spec/packets.yaml", 1, 1, "", message))


def _locate(res: _Resolver, owner: naming.Owner) -> _Where | None:
    """Where the spec defines ``owner``'s name (None for the envelope and the generator's own types)."""
    inputs = res.inputs
    if owner.kind == "record":
        return res.record_names.get(owner.name)
    if owner.kind == "packet" and inputs.packets is not None and owner.name in res.packet_specs:
        return inputs.packets[0], "", ("packets", res.packet_specs[owner.name][0], "name")
    if owner.kind == "code list" and inputs.codelists is not None:
        cdoc, cfile = inputs.codelists
        index = next((i for i, c in enumerate(cfile.codelists) if c.name == owner.name), 0)
        return cdoc, "", ("codelists", index, "name")
    if owner.kind == "local service" and inputs.envelope is not None:
        edoc, efile = inputs.envelope
        index = next((i for i, s in enumerate(efile.local_services) if s.name == owner.name), 0)
        return edoc, "envelope", ("local_services", index, "name")
    return None


def _meta(spec: dsl.RegulationFile) -> ir.Meta:
    return ir.Meta(
        id=spec.id,
        title=_text(spec.title),
        circular=spec.circular,
        issued=spec.issued,
        effective=spec.effective,
        issuer=_text(spec.issuer),
        spec_version=spec.spec_version,
        timezone=spec.timezone,
        datetime_format=spec.datetime_format,
        notes=_text(spec.notes) if spec.notes is not None else None,
    )


def load_regulation(spec_dir: Path) -> tuple[ir.Regulation | None, list[Diagnostic]]:
    """Load and check the spec in ``spec_dir``; the IR is None when any error was found."""
    loader = _SpecLoader(spec_dir)
    check = loader.check
    res = _Resolver(check, _read(loader))
    sources = _catalogue(res)
    codelists = _codelists(res)
    envelope = _envelope(res)
    groups = _packets(res)
    _service_params_packets(res)
    tables = _tables(res)
    _missing_tables(res, tables)
    _record_references(res)
    packets = _ir_packets(res, tables.parts)
    if not has_errors(check.diagnostics):
        _name_clashes(res, envelope)
    if has_errors(check.diagnostics) or res.inputs.regulation is None or envelope is None:
        return None, check.diagnostics
    regulation = ir.Regulation(
        meta=_meta(res.inputs.regulation[1]),
        sources=tuple(sources),
        groups=tuple(groups),
        packets=tuple(packets),
        tables=tuple(sorted(tables.tables, key=lambda t: t.number)),
        records=tuple(res.records),
        codelists=tuple(codelists),
        envelope=envelope,
    )
    return regulation, check.diagnostics

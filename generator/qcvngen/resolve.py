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

from . import dsl, ir, naming, wire
from .diagnostics import Diagnostic, Severity
from .loader import Ambiguous, Document, PathKey, format_path, load_file

M = TypeVar("M", bound=BaseModel)

SPEC_FILES = ("regulation.yaml", "sources.yaml", "packets.yaml", "envelope.yaml", "codelists.yaml")
STRING_KINDS = ("string", "code", "id")
ENVELOPE_RECORDS = ("LoginRequest", "LoginResponse", "RequestEnvelope", "ResponseEnvelope")


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
        return f"unknown type '{value}'{_did_you_mean(value, dsl.FIELD_TYPES)}"
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
    """Cross-file checks and IR construction over validated DSL models."""

    def __init__(self, check: _Checker) -> None:
        self.check = check
        self.sources: set[str] = set()
        self.codelists: dict[str, dsl.CodeListSpec] = {}
        # When a catalogue file is itself broken its names are unknown: do not call every use dangling.
        self.sources_known = False
        self.codelists_known = False
        self.record_names: dict[str, tuple[Document, str, PathKey]] = {}
        self.records: list[ir.Record] = []

    # -- references ------------------------------------------------------------------------
    def check_sources(self, doc: Document, prefix: str, loc: PathKey, ids: list[str]) -> tuple[str, ...]:
        for index, source in enumerate(ids):
            if self.sources_known and source not in self.sources:
                self.check.error(doc, prefix, loc + (index,), f"unknown source '{source}'{_did_you_mean(source, self.sources)}")
        if len(set(ids)) != len(ids):
            self.check.error(doc, prefix, loc, "a source is listed twice")
        return tuple(ids)

    def declare_record(self, name: str, doc: Document, prefix: str, loc: PathKey) -> bool:
        if not naming.file_safe(name) or not name[0].isupper():
            self.check.error(doc, prefix, loc, f"record name '{name}' must be an ASCII identifier starting with a capital letter")
            return False
        folded = naming.collision_key(name)
        for other, (odoc, oprefix, oloc) in self.record_names.items():
            if naming.collision_key(other) == folded:
                where = f"{odoc.file}:{odoc.mark(oloc).line}"
                self.check.error(doc, prefix, loc, f"record name '{name}' collides with '{other}' defined at {where}")
                return False
        self.record_names[name] = (doc, prefix, loc)
        return True

    # -- fields -----------------------------------------------------------------------------
    def fields(
        self,
        specs: list[dsl.FieldSpec],
        doc: Document,
        prefix: str,
        loc: PathKey,
        table: int | None,
        pending_refs: list[tuple[Document, str, PathKey, str]],
    ) -> tuple[ir.Field, ...]:
        out: list[ir.Field] = []
        seen_wire: dict[str, int] = {}
        seen_py: dict[str, tuple[int, str]] = {}
        rows: dict[int, int] = {}
        for index, spec in enumerate(specs):
            here = loc + (index,)
            if spec.name in seen_wire:
                self.check.error(doc, prefix, here + ("name",), f"duplicate field name '{spec.name}' (also fields[{seen_wire[spec.name]}])")
                continue
            seen_wire[spec.name] = index
            problem = naming.wire_name_problem(spec.name)
            if problem:
                self.check.error(doc, prefix, here + ("name",), problem)
                continue
            py_name = naming.field_identifier(spec.name)
            folded = naming.collision_key(py_name)
            if folded in seen_py:
                other_index, other = seen_py[folded]
                self.check.error(
                    doc, prefix, here + ("name",),
                    f"field '{spec.name}' and field '{other}' (fields[{other_index}]) both become the Python name '{py_name}'",
                )
                continue
            seen_py[folded] = (index, spec.name)
            if spec.row is not None:
                if spec.row in rows:
                    self.check.error(doc, prefix, here + ("row",), f"row {spec.row} is also fields[{rows[spec.row]}]")
                rows[spec.row] = index
            ftype = self.field_type(spec, doc, prefix, here, pending_refs)
            sources = self.check_sources(doc, prefix, here + ("sources",), spec.sources)
            if spec.membership != "regulation" and spec.row is not None:
                self.check.error(doc, prefix, here + ("row",), f"only membership: regulation fields have a row (this one is {spec.membership})")
            mark = doc.mark(here)
            out.append(
                ir.Field(
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
                    origin=ir.Origin(doc.file, mark.line, table, spec.row),
                    position=len(out) + 1,
                )
            )
        return tuple(out)

    def field_type(
        self,
        spec: dsl.FieldSpec,
        doc: Document,
        prefix: str,
        here: PathKey,
        pending_refs: list[tuple[Document, str, PathKey, str]],
    ) -> ir.FieldType:
        kind = spec.type
        if kind not in dsl.FIELD_TYPES:
            self.check.error(doc, prefix, here + ("type",), f"unknown type '{kind}'{_did_you_mean(kind, dsl.FIELD_TYPES)}")
            return ir.FieldType(kind="any")
        wants = {"code": "codelist", "record": "record", "list": "of"}
        for key in ("codelist", "record", "of"):
            given = getattr(spec, key) is not None
            if given and wants.get(kind) != key:
                self.check.error(doc, prefix, here + (key,), f"'{key}' does not apply to type '{kind}'", key=True)
            if not given and wants.get(kind) == key:
                self.check.error(doc, prefix, here, f"type '{kind}' needs '{key}'")
        if spec.empty_string and kind not in ("record", "list"):
            self.check.error(doc, prefix, here + ("empty_string",), "empty_string applies to record and list fields only", key=True)
        if spec.max_length is not None and kind not in STRING_KINDS:
            self.check.error(doc, prefix, here + ("max_length",), f"max_length does not apply to type '{kind}'", key=True)
        if kind == "code" and self.codelists_known and spec.codelist is not None and spec.codelist not in self.codelists:
            self.check.error(doc, prefix, here + ("codelist",), f"unknown code list '{spec.codelist}'{_did_you_mean(spec.codelist, self.codelists)}")
        if kind == "record" and spec.record is not None:
            pending_refs.append((doc, prefix, here + ("record",), spec.record))
        if kind == "list" and spec.of is not None and spec.of not in ("string", "any"):
            pending_refs.append((doc, prefix, here + ("of",), spec.of))
        if spec.example is not None:
            codes = None
            if kind == "code" and spec.codelist in self.codelists and self.codelists[spec.codelist].closed:
                codes = tuple(c.code for c in self.codelists[spec.codelist].codes)
            problem = wire.example_error(kind, spec.example, codes)
            if problem is None and spec.max_length is not None and len(spec.example) > spec.max_length:
                problem = f"example is longer than max_length {spec.max_length}"
            if problem:
                self.check.error(doc, prefix, here + ("example",), problem)
        return ir.FieldType(kind=kind, codelist=spec.codelist, record=spec.record, of=spec.of, empty_string=spec.empty_string)


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


def load_regulation(spec_dir: Path) -> tuple[ir.Regulation | None, list[Diagnostic]]:
    """Load and check the spec in ``spec_dir``; the IR is None when any error was found."""
    loader = _SpecLoader(spec_dir)
    check = loader.check
    docs = {name: loader.load(name) for name in SPEC_FILES}
    tables_dir = spec_dir / "tables"
    table_docs: list[Document] = []
    unreadable_tables: set[int] = set()
    if not tables_dir.is_dir():
        check.diagnostics.append(Diagnostic(f"{loader.display_root}/tables", 1, 1, "", "folder is missing"))
    else:
        for path in sorted(tables_dir.glob("*.yaml")):
            doc = loader.load(f"tables/{path.name}")
            if doc is not None:
                table_docs.append(doc)
            elif (numbered := re.match(r"t(\d+)-", path.name)) is not None:
                unreadable_tables.add(int(numbered.group(1)))

    def validated(name: str, model: type[M], prefix: str) -> tuple[Document, M] | None:
        doc = docs[name]
        if doc is None:
            return None
        parsed = check.validate(model, doc, prefix)
        return (doc, parsed) if parsed is not None else None

    regulation = validated("regulation.yaml", dsl.RegulationFile, "regulation")
    sources = validated("sources.yaml", dsl.SourcesFile, "")
    packets = validated("packets.yaml", dsl.PacketsFile, "")
    envelope = validated("envelope.yaml", dsl.EnvelopeFile, "envelope")
    codelists = validated("codelists.yaml", dsl.CodeListsFile, "")
    tables: list[tuple[Document, str, dsl.TableFile]] = []
    broken_tables = set(unreadable_tables)  # already reported; do not also call them missing
    for doc in table_docs:
        prefix = _table_prefix(doc.data, Path(doc.file).stem)
        parsed = check.validate(dsl.TableFile, doc, prefix)
        if parsed is not None:
            tables.append((doc, prefix, parsed))
        elif isinstance(doc.data, dict) and isinstance(doc.data.get("table"), int):
            broken_tables.add(doc.data["table"])

    res = _Resolver(check)
    ir_sources: list[ir.Source] = []
    if sources:
        res.sources_known = True
        sdoc, sfile = sources
        for index, src in enumerate(sfile.sources):
            if src.id in res.sources:
                check.error(sdoc, "", ("sources", index, "id"), f"duplicate source id '{src.id}'")
            res.sources.add(src.id)
            ir_sources.append(ir.Source(src.id, src.title, src.kind, src.reference, src.gives))

    ir_codelists: list[ir.CodeList] = []
    if codelists:
        res.codelists_known = True
        cdoc, cfile = codelists
        for index, cl in enumerate(cfile.codelists):
            here: PathKey = ("codelists", index)
            if cl.name in res.codelists:
                check.error(cdoc, "", here + ("name",), f"duplicate code list '{cl.name}'")
                continue
            res.codelists[cl.name] = cl
            seen_codes: set[str] = set()
            for cindex, code in enumerate(cl.codes):
                if code.code in seen_codes:
                    check.error(cdoc, "", here + ("codes", cindex, "code"), f"duplicate code '{code.code}'")
                seen_codes.add(code.code)
            ir_codelists.append(
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

    pending_refs: list[tuple[Document, str, PathKey, str]] = []
    packet_specs: dict[str, tuple[int, dsl.PacketSpec]] = {}
    endpoint_names: set[str] = set()
    ir_envelope: ir.Envelope | None = None
    service_params: dict[str, tuple[ir.Field, ...]] = {}
    if envelope:
        edoc, efile = envelope
        for index, ep in enumerate(efile.endpoints):
            if ep.name in endpoint_names:
                check.error(edoc, "envelope", ("endpoints", index, "name"), f"duplicate endpoint '{ep.name}'")
            endpoint_names.add(ep.name)
        for index, header in enumerate(efile.headers):
            res.check_sources(edoc, "envelope", ("headers", index, "sources"), header.sources)
        for index, err in enumerate(efile.errors):
            res.check_sources(edoc, "envelope", ("errors", index, "sources"), err.sources)

        def env_record(name: str, specs: list[dsl.FieldSpec], loc: PathKey, title: ir.Text) -> ir.Record:
            flds = res.fields(specs, edoc, "envelope", loc, None, pending_refs)
            return ir.Record(name=name, title=title, fields=flds, open=True, table=None, notes=None)

        ir_envelope = ir.Envelope(
            endpoints=tuple(ir.Endpoint(e.name, e.path, _text(e.title), e.notes) for e in efile.endpoints),
            headers=tuple(ir.Header(h.name, h.required, _text(h.description), tuple(h.sources)) for h in efile.headers),
            login_request=env_record("LoginRequest", efile.login.request, ("login", "request"), ir.Text("Yêu cầu đăng nhập", "login request")),
            login_response=env_record("LoginResponse", efile.login.response, ("login", "response"), ir.Text("Kết quả đăng nhập", "login response")),
            request=env_record("RequestEnvelope", efile.request, ("request",), ir.Text("Phong bì yêu cầu", "request envelope")),
            response=env_record("ResponseEnvelope", efile.response, ("response",), ir.Text("Phong bì kết quả", "response envelope")),
            errors=tuple(ir.ErrorCode(e.code, _text(e.title), tuple(e.sources), e.notes) for e in efile.errors),
            local_services=tuple(
                ir.LocalService(
                    name=ls.name,
                    method=naming.method_name(ls.name),
                    path=ls.path,
                    title=_text(ls.title),
                    inference=ls.inference,
                    sources=res.check_sources(edoc, "envelope", ("local_services", i, "sources"), ls.sources),
                    notes=ls.notes,
                    params=res.fields(ls.params, edoc, "envelope", ("local_services", i, "params"), None, pending_refs),
                    result_record=ls.result_record,
                )
                for i, ls in enumerate(efile.local_services)
            ),
            notes=efile.notes,
        )
        for i, ls in enumerate(efile.local_services):
            if packets:  # result records are named after packets: unknowable without packets.yaml
                pending_refs.append((edoc, "envelope", ("local_services", i, "result_record"), ls.result_record))
        for service, specs in efile.service_params.items():
            service_params[service] = res.fields(specs, edoc, "envelope", ("service_params", service), None, pending_refs)

    groups: list[ir.Group] = []
    if packets:
        pdoc, pfile = packets
        group_numbers = {g.number for g in pfile.groups}
        section_numbers = {s.number for g in pfile.groups for s in g.sections}
        groups = [
            ir.Group(g.number, _text(g.title), tuple(ir.Section(s.number, _text(s.title)) for s in g.sections))
            for g in pfile.groups
        ]
        numbers: set[str] = set()
        for index, pk in enumerate(pfile.packets):
            here = ("packets", index)
            if pk.name in packet_specs:
                check.error(pdoc, "", here + ("name",), f"duplicate packet '{pk.name}'")
                continue
            if pk.number in numbers:
                check.error(pdoc, "", here + ("number",), f"duplicate packet number '{pk.number}'")
            numbers.add(pk.number)
            packet_specs[pk.name] = (index, pk)
            if (problem := naming.file_name_problem(pk.name)) is not None:
                check.error(pdoc, "", here + ("name",), f"packet name {problem}")
            if pk.group not in group_numbers:
                check.error(pdoc, "", here + ("group",), f"unknown group '{pk.group}'")
            if pk.section is not None and pk.section not in section_numbers:
                check.error(pdoc, "", here + ("section",), f"unknown section '{pk.section}'")
            if envelope and pk.endpoint not in endpoint_names:
                check.error(pdoc, "", here + ("endpoint",), f"unknown endpoint '{pk.endpoint}'{_did_you_mean(pk.endpoint, endpoint_names)}")
            res.check_sources(pdoc, "", here + ("sources",), pk.sources)
        if envelope:
            edoc = envelope[0]
            for service in service_params:
                if service not in packet_specs:
                    check.error(edoc, "envelope", ("service_params", service), f"unknown packet '{service}'{_did_you_mean(service, packet_specs)}", key=True)

    # Tables: one file per declared table, each naming a packet that lists it.
    declared_tables: dict[int, tuple[str, int]] = {}
    if packets:
        pdoc, pfile = packets
        for index, pk in enumerate(pfile.packets):
            for tindex, ref in enumerate(pk.tables):
                if ref.table in declared_tables:
                    check.error(pdoc, "", ("packets", index, "tables", tindex, "table"), f"table {ref.table} is listed twice")
                declared_tables[ref.table] = (pk.name, ref.declared)
    ir_tables: list[ir.Table] = []
    seen_tables: dict[int, str] = {}
    packet_parts: dict[str, dict[str, Any]] = {}
    for doc, prefix, tf in tables:
        if tf.table in seen_tables:
            check.error(doc, prefix, ("table",), f"table {tf.table} is also defined in {seen_tables[tf.table]}")
            continue
        seen_tables[tf.table] = doc.file
        if packets and tf.table not in declared_tables:
            check.error(doc, prefix, ("table",), f"table {tf.table} is not listed by any packet in packets.yaml")
            continue
        if packets and declared_tables[tf.table][0] != tf.packet:
            check.error(doc, prefix, ("packet",), f"packets.yaml gives table {tf.table} to '{declared_tables[tf.table][0]}', not '{tf.packet}'")
            continue
        declared = declared_tables[tf.table][1] if packets else 0
        for rindex, rec in enumerate(tf.records):
            rloc: PathKey = ("records", rindex)
            if res.declare_record(rec.name, doc, prefix, rloc + ("name",)):
                rfields = res.fields(rec.fields, doc, prefix, rloc + ("fields",), tf.table, pending_refs)
                res.records.append(ir.Record(rec.name, _text(rec.title), rfields, open=True, table=tf.table, notes=rec.notes))
        flds = res.fields(tf.fields, doc, prefix, ("fields",), tf.table, pending_refs)
        gaps = tuple(ir.Gap(g.row, _text(g.title), res.check_sources(doc, prefix, ("gaps", i, "sources"), g.sources), g.notes) for i, g in enumerate(tf.gaps))
        cov = _coverage(flds, declared, gaps)
        if packets and cov.specified > declared:
            check.error(doc, prefix, ("fields",), f"{cov.specified} fields are marked membership: regulation but Table 1 declares {declared}")
        for row in cov.known_rows + cov.gap_rows if packets else ():
            if row > declared:
                check.error(doc, prefix, ("fields",), f"row {row} is beyond the {declared} rows Table 1 declares")
        if set(cov.known_rows) & set(cov.gap_rows):
            check.error(doc, prefix, ("gaps",), "a gap row is also the row of a known field")
        record_name = ""
        if packets and tf.packet in packet_specs:
            direction = packet_specs[tf.packet][1].direction
            parts = packet_parts.setdefault(tf.packet, {})
            if tf.part == "params":
                parts["params"] = flds
            else:
                role = "data" if direction == "push" else "result"
                if role in parts:
                    check.error(doc, prefix, ("part",), f"packet '{tf.packet}' already has a {role} table")
                record_name = f"{tf.packet}{'Record' if role == 'data' else 'Result'}"
                if res.declare_record(record_name, doc, prefix, ("packet",)):
                    res.records.append(
                        ir.Record(record_name, _text(tf.title), flds, open=cov.status != "complete", table=tf.table, notes=tf.notes)
                    )
                parts[role] = record_name
        ir_tables.append(
            ir.Table(tf.table, tf.packet, tf.part, _text(tf.title), tf.confidence, tf.notes, record_name, gaps, cov, doc.file)
        )
    if packets:
        pdoc = packets[0]
        for number, (packet_name, _) in sorted(declared_tables.items()):
            if number not in seen_tables and number not in broken_tables:
                index = packet_specs[packet_name][0] if packet_name in packet_specs else 0
                check.error(pdoc, "", ("packets", index, "tables"), f"table {number} has no file in tables/")

    for doc, prefix, loc, name in pending_refs:
        if name not in res.record_names:
            check.error(doc, prefix, loc, f"unknown record '{name}'{_did_you_mean(name, res.record_names)}")

    ir_packets: list[ir.Packet] = []
    for name, (_, pk) in packet_specs.items():
        parts = packet_parts.get(name, {})
        params = service_params.get(name, ()) + tuple(parts.get("params", ()))
        ir_packets.append(
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
                params=params,
                data_record=parts.get("data"),
                result_record=parts.get("result"),
                sources=tuple(pk.sources),
                notes=pk.notes,
            )
        )
    if not any(d.severity is Severity.ERROR for d in check.diagnostics):
        # Records, envelope models, per-packet requests/responses and code types share one namespace.
        derived = naming.derived_names(
            [r.name for r in res.records],
            [p.name for p in ir_packets],
            [s.name for s in ir_envelope.local_services] if ir_envelope else [],
            list(res.codelists),
        )
        def locate(owner: str) -> tuple[Document | None, str, PathKey]:
            kind, _, quoted = owner.partition(" '")
            name = quoted.rstrip("'")
            if kind == "record" and name in res.record_names:
                return res.record_names[name]
            if kind == "packet" and packets and name in packet_specs:
                return packets[0], "", ("packets", packet_specs[name][0], "name")
            if kind == "code list" and codelists:
                index = next((i for i, c in enumerate(codelists[1].codelists) if c.name == name), 0)
                return codelists[0], "", ("codelists", index, "name")
            if kind == "local service" and envelope:
                index = next((i for i, l in enumerate(envelope[1].local_services) if l.name == name), 0)
                return envelope[0], "envelope", ("local_services", index, "name")
            return None, "", ()

        for name, first, second in naming.name_clashes(derived):
            doc, prefix, loc = locate(second)
            if doc is None:
                doc, prefix, loc = locate(first)
            message = f"the name '{name}' is defined by {first} and by {second}; rename one"
            if doc is not None:
                check.error(doc, prefix, loc, message)
            else:
                check.diagnostics.append(Diagnostic("spec/packets.yaml", 1, 1, "", message))
    if any(d.severity is Severity.ERROR for d in check.diagnostics):
        return None, check.diagnostics
    assert regulation and ir_envelope is not None
    meta_spec = regulation[1]
    meta = ir.Meta(
        id=meta_spec.id,
        title=_text(meta_spec.title),
        circular=meta_spec.circular,
        issued=meta_spec.issued,
        effective=meta_spec.effective,
        issuer=_text(meta_spec.issuer),
        spec_version=meta_spec.spec_version,
        timezone=meta_spec.timezone,
        datetime_format=meta_spec.datetime_format,
        notes=_text(meta_spec.notes) if meta_spec.notes is not None else None,
    )
    return (
        ir.Regulation(
            meta=meta,
            sources=tuple(ir_sources),
            groups=tuple(groups),
            packets=tuple(ir_packets),
            tables=tuple(sorted(ir_tables, key=lambda t: t.number)),
            records=tuple(res.records),
            codelists=tuple(ir_codelists),
            envelope=ir_envelope,
        ),
        check.diagnostics,
    )

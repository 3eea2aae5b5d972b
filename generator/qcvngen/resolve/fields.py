"""Field lists: names, rows, kinds, references and examples checked; IR fields built; the phases' shared state."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import dsl, ir, kinds, naming
from ..loader import Document, PathKey
from .reading import Checker, Inputs, PendingRef, Where, bilingual, did_you_mean, note


class Resolver:
    """Cross-file checks and IR construction over validated DSL models; the phases share its state."""

    def __init__(self, check: Checker, inputs: Inputs) -> None:
        self.check = check
        self.inputs = inputs
        self.sources: set[str] = set()
        self.codelists: dict[str, dsl.CodeListSpec] = {}
        # When a catalogue file is itself broken its names are unknown: do not call every use dangling.
        self.sources_known = inputs.sources is not None
        self.codelists_known = inputs.codelists is not None
        self.record_names: dict[str, Where] = {}
        self.records: list[ir.Record] = []
        self.pending_refs: list[PendingRef] = []
        self.endpoint_names: set[str] = set()
        self.packet_specs: dict[str, tuple[int, dsl.PacketSpec]] = {}
        self.service_params: dict[str, tuple[ir.Field, ...]] = {}

    # -- references ------------------------------------------------------------------------
    def check_sources(self, doc: Document, prefix: str, loc: PathKey, ids: list[str]) -> tuple[str, ...]:
        """Report unknown and repeated source ids; the ids as the IR keeps them."""
        for index, source in enumerate(ids):
            if self.sources_known and source not in self.sources:
                message = f"unknown source '{source}'{did_you_mean(source, self.sources)}"
                self.check.error(doc, prefix, (*loc, index), message)
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
            here = (*loc, index)
            py_name = self.field_name(spec, index, names, doc, prefix, here)
            if py_name is None:
                continue
            if spec.row is not None:
                if spec.row in rows:
                    self.check.error(doc, prefix, (*here, "row"), f"row {spec.row} is also fields[{rows[spec.row]}]")
                rows[spec.row] = index
            ftype = self.field_type(spec, doc, prefix, here)
            sources = self.check_sources(doc, prefix, (*here, "sources"), spec.sources)
            if spec.membership != "regulation" and spec.row is not None:
                message = f"only membership: regulation fields have a row (this one is {spec.membership})"
                self.check.error(doc, prefix, (*here, "row"), message)
            origin = ir.Origin(doc.file, doc.mark(here).line, table, spec.row)
            out.append(_field(spec, py_name, ftype, sources, origin, len(out) + 1))
        return tuple(out)

    def field_name(
        self, spec: dsl.FieldSpec, index: int, names: _FieldNames, doc: Document, prefix: str, here: PathKey
    ) -> str | None:
        """The field's Python name, or None (reported) when its wire or Python name is taken or unusable."""
        where = (*here, "name")
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
        readable = naming.readable_identifier(spec.name, spec.title.vi)
        if readable is not None and naming.collision_key(readable) not in names.python:
            py_name = readable  # else the flattened name: a readable one never creates a clash
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
                doc, prefix, (*here, "type"), f"unknown type '{kind}'{did_you_mean(kind, kinds.KIND_NAMES)}"
            )
            return ir.FieldType(kind="any")
        info = kinds.kind(kind)
        for key in ("codelist", "record", "of"):
            given = getattr(spec, key) is not None
            if given and info.reference != key:
                self.check.error(doc, prefix, (*here, key), f"'{key}' does not apply to type '{kind}'", key=True)
            if not given and info.reference == key:
                self.check.error(doc, prefix, here, f"type '{kind}' needs '{key}'")
        if spec.empty_string and not info.takes_empty_string:
            message = "empty_string applies to record and list fields only"
            self.check.error(doc, prefix, (*here, "empty_string"), message, key=True)
        if spec.max_length is not None and not info.takes_max_length:
            message = f"max_length does not apply to type '{kind}'"
            self.check.error(doc, prefix, (*here, "max_length"), message, key=True)
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
            message = f"unknown code list '{codelist}'{did_you_mean(codelist, self.codelists)}"
            self.check.error(doc, prefix, (*here, "codelist"), message)
        if kind == "record" and spec.record is not None:
            self.pending_refs.append((doc, prefix, (*here, "record"), spec.record))
        if kind == "list" and spec.of is not None and spec.of not in kinds.LIST_ITEM_KINDS:
            self.pending_refs.append((doc, prefix, (*here, "of"), spec.of))

    def field_example(self, spec: dsl.FieldSpec, example: str, doc: Document, prefix: str, here: PathKey) -> None:
        """An example must be a valid wire value of the field (and a code of its closed list)."""
        codes = None
        codelist = self.codelists.get(spec.codelist or "")
        if spec.type == "code" and codelist is not None and codelist.closed:
            codes = tuple(c.code for c in codelist.codes)
        problem = kinds.example_error(spec.type, example, codes)
        if problem is None and spec.max_length is not None and len(example) > spec.max_length:
            problem = f"example is longer than max_length {spec.max_length}"
        if problem:
            self.check.error(doc, prefix, (*here, "example"), problem)


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
        title=bilingual(spec.title),
        type=ftype,
        required=spec.required,
        max_length=spec.max_length,
        membership=spec.membership,
        sources=sources,
        confidence=spec.confidence,
        pii=spec.pii,
        secret=spec.secret,
        example=spec.example,
        notes=note(spec.notes),
        origin=origin,
        position=position,
    )

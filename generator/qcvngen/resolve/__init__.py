"""Spec folder → IR: load every file, check the DSL's shape and its cross-references, build the IR.

Every problem is collected as a :class:`Diagnostic`; the IR is returned only when there is none.
:func:`load_regulation` runs the phases in order: :mod:`.reading` (files and DSL shapes), then
catalogue, code lists, envelope and packets (:mod:`.phases`), the tables (:mod:`.tables`), and the
cross-checks that need everything read (missing tables, record references, name clashes).
"""

from __future__ import annotations

from pathlib import Path

from .. import ir
from ..diagnostics import Diagnostic, has_errors
from . import phases
from .fields import Resolver
from .reading import SpecLoader, read_spec
from .tables import missing_tables, resolve_tables

__all__ = ["load_regulation"]


def load_regulation(spec_dir: Path) -> tuple[ir.Regulation | None, list[Diagnostic]]:
    """Load and check the spec in ``spec_dir``; the IR is None when any error was found."""
    loader = SpecLoader(spec_dir)
    check = loader.check
    res = Resolver(check, read_spec(loader))
    sources = phases.catalogue(res)
    codelists = phases.codelists(res)
    envelope = phases.envelope(res)
    groups = phases.packets(res)
    phases.service_params_packets(res)
    tables = resolve_tables(res)
    missing_tables(res, tables)
    phases.record_references(res)
    packets = phases.ir_packets(res, tables.parts)
    if not has_errors(check.diagnostics):
        phases.name_clashes(res, envelope)
    if has_errors(check.diagnostics) or res.inputs.regulation is None or envelope is None:
        return None, check.diagnostics
    regulation = ir.Regulation(
        meta=phases.meta(res.inputs.regulation[1]),
        sources=tuple(sources),
        groups=tuple(groups),
        packets=tuple(packets),
        tables=tuple(sorted(tables.tables, key=lambda t: t.number)),
        records=tuple(res.records),
        codelists=tuple(codelists),
        envelope=envelope,
    )
    return regulation, check.diagnostics

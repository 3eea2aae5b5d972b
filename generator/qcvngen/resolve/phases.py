"""The phases of resolution besides the tables: catalogue, code lists, envelope, packets, cross-checks."""

from __future__ import annotations

from typing import Any

from .. import dsl, ir, naming
from ..diagnostics import Diagnostic
from ..loader import Document, PathKey
from .fields import Resolver
from .reading import Where, bilingual, did_you_mean, note


def catalogue(res: Resolver) -> list[ir.Source]:
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


def codelists(res: Resolver) -> list[ir.CodeList]:
    """codelists.yaml: unique list names, unique codes within a list."""
    if res.inputs.codelists is None:
        return []
    cdoc, cfile = res.inputs.codelists
    out: list[ir.CodeList] = []
    for index, cl in enumerate(cfile.codelists):
        here: PathKey = ("codelists", index)
        if cl.name in res.codelists:
            res.check.error(cdoc, "", (*here, "name"), f"duplicate code list '{cl.name}'")
            continue
        if (problem := naming.code_list_name_problem(cl.name)) is not None:
            res.check.error(cdoc, "", (*here, "name"), problem)
            continue
        res.codelists[cl.name] = cl
        seen_codes: set[str] = set()
        for cindex, code in enumerate(cl.codes):
            if code.code in seen_codes:
                res.check.error(cdoc, "", (*here, "codes", cindex, "code"), f"duplicate code '{code.code}'")
            seen_codes.add(code.code)
        out.append(
            ir.CodeList(
                name=cl.name,
                title=bilingual(cl.title),
                closed=cl.closed,
                sources=res.check_sources(cdoc, "", (*here, "sources"), cl.sources),
                confidence=cl.confidence,
                notes=note(cl.notes),
                codes=tuple(ir.Code(c.code, bilingual(c.title), c.membership, note(c.notes)) for c in cl.codes),
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


def envelope(res: Resolver) -> ir.Envelope | None:
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
        endpoints=tuple(ir.Endpoint(e.name, e.path, bilingual(e.title), note(e.notes)) for e in efile.endpoints),
        headers=tuple(ir.Header(h.name, h.required, bilingual(h.description), tuple(h.sources)) for h in efile.headers),
        login_request=records[0],
        login_response=records[1],
        request=records[2],
        response=records[3],
        errors=tuple(ir.ErrorCode(e.code, bilingual(e.title), tuple(e.sources), note(e.notes)) for e in efile.errors),
        local_services=_local_services(res, edoc, efile),
        notes=note(efile.notes),
    )
    for service, fspecs in efile.service_params.items():
        res.service_params[service] = res.fields(fspecs, edoc, "envelope", ("service_params", service), None)
    return envelope


def _local_services(res: Resolver, edoc: Document, efile: dsl.EnvelopeFile) -> tuple[ir.LocalService, ...]:
    out: list[ir.LocalService] = []
    for i, ls in enumerate(efile.local_services):
        here: PathKey = ("local_services", i)
        sources = res.check_sources(edoc, "envelope", (*here, "sources"), ls.sources)
        params = res.fields(ls.params, edoc, "envelope", (*here, "params"), None)
        out.append(
            ir.LocalService(
                ls.name,
                naming.method_name(ls.name),
                ls.path,
                bilingual(ls.title),
                ls.inference,
                sources,
                note(ls.notes),
                params,
                ls.result_record,
            )
        )
    if res.inputs.packets is not None:  # result records are named after packets: unknowable without packets.yaml
        for i, ls in enumerate(efile.local_services):
            res.pending_refs.append((edoc, "envelope", ("local_services", i, "result_record"), ls.result_record))
    return tuple(out)


def packets(res: Resolver) -> list[ir.Group]:
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
            res.check.error(pdoc, "", (*here, "name"), f"duplicate packet '{pk.name}'")
            continue
        if pk.number in numbers:
            res.check.error(pdoc, "", (*here, "number"), f"duplicate packet number '{pk.number}'")
        numbers.add(pk.number)
        res.packet_specs[pk.name] = (index, pk)
        if (problem := naming.file_name_problem(pk.name)) is not None:
            res.check.error(pdoc, "", (*here, "name"), f"packet name {problem}")
        if pk.group not in group_numbers:
            res.check.error(pdoc, "", (*here, "group"), f"unknown group '{pk.group}'")
        if pk.section is not None and pk.section not in section_numbers:
            res.check.error(pdoc, "", (*here, "section"), f"unknown section '{pk.section}'")
        if res.inputs.envelope is not None and pk.endpoint not in res.endpoint_names:
            message = f"unknown endpoint '{pk.endpoint}'{did_you_mean(pk.endpoint, res.endpoint_names)}"
            res.check.error(pdoc, "", (*here, "endpoint"), message)
        res.check_sources(pdoc, "", (*here, "sources"), pk.sources)
    return [
        ir.Group(g.number, bilingual(g.title), tuple(ir.Section(s.number, bilingual(s.title)) for s in g.sections))
        for g in pfile.groups
    ]


def service_params_packets(res: Resolver) -> None:
    """Every ``service_params`` key of envelope.yaml names a packet."""
    if res.inputs.packets is None or res.inputs.envelope is None:
        return
    edoc = res.inputs.envelope[0]
    for service in res.service_params:
        if service not in res.packet_specs:
            message = f"unknown packet '{service}'{did_you_mean(service, res.packet_specs)}"
            res.check.error(edoc, "envelope", ("service_params", service), message, key=True)


def record_references(res: Resolver) -> None:
    """Every record a field or local service names exists (known only once all tables are read)."""
    for doc, prefix, loc, name in res.pending_refs:
        if name not in res.record_names:
            res.check.error(doc, prefix, loc, f"unknown record '{name}'{did_you_mean(name, res.record_names)}")


def ir_packets(res: Resolver, parts: dict[str, dict[str, Any]]) -> list[ir.Packet]:
    """The IR packets, in packets.yaml order, with their params and data/result records filed by the tables."""
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
                purpose=bilingual(pk.purpose),
                direction=pk.direction,
                endpoint=pk.endpoint,
                declared=pk.declared,
                tables=tuple(t.table for t in pk.tables),
                params=res.service_params.get(name, ()) + tuple(packet_parts.get("params", ())),
                data_record=packet_parts.get("data"),
                result_record=packet_parts.get("result"),
                sources=tuple(pk.sources),
                notes=note(pk.notes),
            )
        )
    return out


def name_clashes(res: Resolver, envelope: ir.Envelope | None) -> None:
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


def _locate(res: Resolver, owner: naming.Owner) -> Where | None:
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


def meta(spec: dsl.RegulationFile) -> ir.Meta:
    """The IR's regulation identity from regulation.yaml."""
    return ir.Meta(
        id=spec.id,
        title=bilingual(spec.title),
        circular=spec.circular,
        issued=spec.issued,
        effective=spec.effective,
        issuer=bilingual(spec.issuer),
        spec_version=spec.spec_version,
        timezone=spec.timezone,
        datetime_format=spec.datetime_format,
        notes=note(spec.notes),
    )

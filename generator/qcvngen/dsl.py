"""The shape of the spec DSL (see docs/spec-dsl.md) as strict pydantic models, and nothing else.

Cross-file rules (dangling references, duplicate names, counts) live in :mod:`qcvngen.resolve`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from .kinds import Kind

Confidence = Literal["high", "medium", "low"]
Membership = Literal["regulation", "candidate", "later", "hypothesis", "observed"]


class Strict(BaseModel):
    """Base of every DSL model: unknown keys refused, no type coercion, immutable."""

    # defer_build: a validator is made when a model first validates (the six file models, which
    # carry the nested ones), not for each of the 24 classes at import: ~12 ms less per build.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class TextSpec(Strict):
    """A text in Vietnamese and English; both are required."""

    vi: StrictStr = Field(min_length=1)
    en: StrictStr = Field(min_length=1)


def _english_only(value: Any) -> Any:
    """A note written as a plain string: English only, its Vietnamese left empty (resolve warns)."""
    if isinstance(value, str) and value:
        return TextSpec.model_construct(vi="", en=value)
    return value


# A note: a bilingual text like a title. The older plain-string form still reads (as English only,
# ``vi`` empty) so existing specs keep building; resolve warns at its position that Vietnamese is missing.
NoteSpec = Annotated[TextSpec, BeforeValidator(_english_only)]


class FieldSpec(Strict):
    """One field of a table, record, envelope or parameter list (docs/spec-dsl.md, "Fields")."""

    name: StrictStr = Field(min_length=1)
    row: StrictInt | None = Field(default=None, ge=1)
    title: TextSpec
    type: Kind
    codelist: StrictStr | None = None
    record: StrictStr | None = None
    of: StrictStr | None = None
    empty_string: StrictBool = False
    required: StrictBool
    max_length: StrictInt | None = Field(default=None, ge=1)
    membership: Membership
    sources: list[StrictStr] = Field(min_length=1)
    confidence: Confidence
    pii: StrictBool = False
    secret: StrictBool = False
    example: StrictStr | None = None
    notes: NoteSpec | None = None


class RecordSpec(Strict):
    """A nested record a table defines (the items of a list field, or a record field's value)."""

    name: StrictStr = Field(min_length=1)
    title: TextSpec
    notes: NoteSpec | None = None
    fields: list[FieldSpec]


class GapSpec(Strict):
    """A row of a table that the regulation declares but no source names yet."""

    row: StrictInt = Field(ge=1)
    title: TextSpec
    sources: list[StrictStr] = Field(min_length=1)
    notes: NoteSpec | None = None


class TableFile(Strict):
    """One file of tables/: a regulation field table (Tables 2–17), its fields, gaps and records."""

    table: StrictInt = Field(ge=2, le=99999)
    packet: StrictStr
    part: Literal["records", "params"]
    title: TextSpec
    confidence: Confidence
    notes: NoteSpec | None = None
    fields: list[FieldSpec]
    gaps: list[GapSpec] = []
    records: list[RecordSpec] = []


class RegulationFile(Strict):
    """regulation.yaml: the regulation's identity and the wire's time conventions."""

    id: StrictStr
    title: TextSpec
    circular: StrictStr
    issued: StrictStr
    effective: StrictStr
    issuer: TextSpec
    spec_version: StrictStr
    timezone: StrictStr
    datetime_format: StrictStr
    notes: NoteSpec | None = None


class SourceSpec(Strict):
    """One entry of sources.yaml: where a fact comes from."""

    id: StrictStr = Field(pattern=r"^S[0-9]{1,3}[a-z]?$")
    title: StrictStr
    kind: Literal["repository", "page", "article", "regulation", "inference", "capture"]
    reference: StrictStr
    gives: StrictStr


class SourcesFile(Strict):
    """sources.yaml: every source the spec cites."""

    sources: list[SourceSpec]


class SectionSpec(Strict):
    """A section of a packet group in Table 1."""

    number: StrictStr
    title: TextSpec


class GroupSpec(Strict):
    """A group of packets in Table 1, with its sections."""

    number: StrictStr
    title: TextSpec
    sections: list[SectionSpec] = []


class PacketTableSpec(Strict):
    """A field table a packet lists, with how many fields Table 1 declares for it."""

    table: StrictInt
    declared: StrictInt = Field(ge=0)


class PacketSpec(Strict):
    """One packet of Table 1: its number, name, direction, endpoint and tables."""

    number: StrictStr
    name: StrictStr = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,79}$")
    group: StrictStr
    section: StrictStr | None = None
    purpose: TextSpec
    direction: Literal["push", "pull"]
    endpoint: StrictStr
    declared: StrictStr
    tables: list[PacketTableSpec] = Field(min_length=1)
    sources: list[StrictStr] = Field(min_length=1)
    notes: NoteSpec | None = None


class PacketsFile(Strict):
    """packets.yaml: Table 1, the catalogue of packets."""

    groups: list[GroupSpec]
    packets: list[PacketSpec]


class CodeSpec(Strict):
    """One code of a code list, with its meaning."""

    code: StrictStr
    title: TextSpec
    membership: Membership = "regulation"
    notes: NoteSpec | None = None


class CodeListSpec(Strict):
    """A code list: closed (only its codes are valid) or open (only some codes are known)."""

    name: StrictStr = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
    title: TextSpec
    closed: StrictBool
    sources: list[StrictStr] = Field(min_length=1)
    confidence: Confidence
    notes: NoteSpec | None = None
    codes: list[CodeSpec] = Field(min_length=1)


class CodeListsFile(Strict):
    """codelists.yaml: every code list."""

    codelists: list[CodeListSpec]


class EndpointSpec(Strict):
    """An endpoint class of the portal (a URL path that serves several packets)."""

    name: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]*$")
    path: StrictStr = Field(pattern=r"^/[A-Za-z0-9_./-]*$")
    title: TextSpec
    notes: NoteSpec | None = None


class HeaderSpec(Strict):
    """An HTTP header the portal expects."""

    # An HTTP header token: no CR/LF or separators can reach a request line.
    name: StrictStr = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
    required: StrictBool
    description: TextSpec
    sources: list[StrictStr] = Field(min_length=1)


class LoginSpec(Strict):
    """The login exchange: its request and response fields."""

    request: list[FieldSpec]
    response: list[FieldSpec]


class ErrorSpec(Strict):
    """An ``error_code`` the portal answers with, and its meaning."""

    code: StrictStr
    title: TextSpec
    sources: list[StrictStr] = Field(min_length=1)
    notes: NoteSpec | None = None


class LocalServiceSpec(Strict):
    """A service the local system offers and the national portal calls."""

    name: StrictStr = Field(pattern=r"^[A-Z][A-Za-z0-9]{0,79}$")
    path: StrictStr = Field(pattern=r"^/[A-Za-z0-9_./-]*$")
    title: TextSpec
    inference: StrictBool
    sources: list[StrictStr] = Field(min_length=1)
    notes: NoteSpec | None = None
    result_record: StrictStr
    params: list[FieldSpec] = []


class EnvelopeFile(Strict):
    """envelope.yaml: endpoints, headers, login, the request/response envelopes, errors, local services."""

    endpoints: list[EndpointSpec]
    headers: list[HeaderSpec]
    login: LoginSpec
    request: list[FieldSpec]
    response: list[FieldSpec]
    service_params: dict[StrictStr, list[FieldSpec]] = {}
    errors: list[ErrorSpec] = []
    local_services: list[LocalServiceSpec] = []
    notes: NoteSpec | None = None

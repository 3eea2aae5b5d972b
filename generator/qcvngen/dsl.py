"""The shape of the spec DSL (see docs/spec-dsl.md) as strict pydantic models, and nothing else.

Cross-file rules (dangling references, duplicate names, counts) live in :mod:`qcvngen.resolve`.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

Confidence = Literal["high", "medium", "low"]
Membership = Literal["regulation", "candidate", "later", "hypothesis", "observed"]
FieldType = Literal["string", "code", "datetime", "integer", "decimal", "percent", "flag", "id", "record", "list", "any"]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TextSpec(Strict):
    vi: StrictStr = Field(min_length=1)
    en: StrictStr = Field(min_length=1)


class FieldSpec(Strict):
    name: StrictStr = Field(min_length=1)
    row: StrictInt | None = Field(default=None, ge=1)
    title: TextSpec
    type: FieldType
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
    notes: StrictStr | None = None


class RecordSpec(Strict):
    name: StrictStr = Field(min_length=1)
    title: TextSpec
    notes: StrictStr | None = None
    fields: list[FieldSpec]


class GapSpec(Strict):
    row: StrictInt = Field(ge=1)
    title: TextSpec
    sources: list[StrictStr] = Field(min_length=1)
    notes: StrictStr | None = None


class TableFile(Strict):
    table: StrictInt = Field(ge=2, le=99999)
    packet: StrictStr
    part: Literal["records", "params"]
    title: TextSpec
    confidence: Confidence
    notes: StrictStr | None = None
    fields: list[FieldSpec]
    gaps: list[GapSpec] = []
    records: list[RecordSpec] = []


class RegulationFile(Strict):
    id: StrictStr
    title: TextSpec
    circular: StrictStr
    issued: StrictStr
    effective: StrictStr
    issuer: TextSpec
    spec_version: StrictStr
    timezone: StrictStr
    datetime_format: StrictStr
    notes: TextSpec | None = None


class SourceSpec(Strict):
    id: StrictStr = Field(pattern=r"^S[0-9]{1,3}[a-z]?$")
    title: StrictStr
    kind: Literal["repository", "page", "article", "regulation", "inference", "capture"]
    reference: StrictStr
    gives: StrictStr


class SourcesFile(Strict):
    sources: list[SourceSpec]


class SectionSpec(Strict):
    number: StrictStr
    title: TextSpec


class GroupSpec(Strict):
    number: StrictStr
    title: TextSpec
    sections: list[SectionSpec] = []


class PacketTableSpec(Strict):
    table: StrictInt
    declared: StrictInt = Field(ge=0)


class PacketSpec(Strict):
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
    notes: StrictStr | None = None


class PacketsFile(Strict):
    groups: list[GroupSpec]
    packets: list[PacketSpec]


class CodeSpec(Strict):
    code: StrictStr
    title: TextSpec
    membership: Membership = "regulation"
    notes: StrictStr | None = None


class CodeListSpec(Strict):
    name: StrictStr = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
    title: TextSpec
    closed: StrictBool
    sources: list[StrictStr] = Field(min_length=1)
    confidence: Confidence
    notes: StrictStr | None = None
    codes: list[CodeSpec] = Field(min_length=1)


class CodeListsFile(Strict):
    codelists: list[CodeListSpec]


class EndpointSpec(Strict):
    name: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]*$")
    path: StrictStr = Field(pattern=r"^/[A-Za-z0-9_./-]*$")
    title: TextSpec
    notes: StrictStr | None = None


class HeaderSpec(Strict):
    # An HTTP header token: no CR/LF or separators can reach a request line.
    name: StrictStr = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
    required: StrictBool
    description: TextSpec
    sources: list[StrictStr] = Field(min_length=1)


class LoginSpec(Strict):
    request: list[FieldSpec]
    response: list[FieldSpec]


class ErrorSpec(Strict):
    code: StrictStr
    title: TextSpec
    sources: list[StrictStr] = Field(min_length=1)
    notes: StrictStr | None = None


class LocalServiceSpec(Strict):
    name: StrictStr = Field(pattern=r"^[A-Z][A-Za-z0-9]{0,79}$")
    path: StrictStr = Field(pattern=r"^/[A-Za-z0-9_./-]*$")
    title: TextSpec
    inference: StrictBool
    sources: list[StrictStr] = Field(min_length=1)
    notes: StrictStr | None = None
    result_record: StrictStr
    params: list[FieldSpec] = []


class EnvelopeFile(Strict):
    endpoints: list[EndpointSpec]
    headers: list[HeaderSpec]
    login: LoginSpec
    request: list[FieldSpec]
    response: list[FieldSpec]
    service_params: dict[StrictStr, list[FieldSpec]] = {}
    errors: list[ErrorSpec] = []
    local_services: list[LocalServiceSpec] = []
    notes: StrictStr | None = None

"""The static artefacts: meta-valid schemas, a valid OpenAPI, and samples accepted by both."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from qcvngen.pipeline import BuildResult
from support import samples
from support.table1 import table1


def schema_files(result: BuildResult) -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(text) for path, text in result.files.items() if path.parts[0] == "jsonschema"}


def test_every_json_schema_is_valid_2020_12(result: BuildResult) -> None:
    schemas = schema_files(result)
    assert len(schemas) >= len(table1().packets) * 2 + 3, "a record and a request schema per packet, and the bundle"
    for name, schema in schemas.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].startswith("urn:qcvngen:qcvn120-2019:"), name


def test_schema_files_are_named_after_packets(result: BuildResult) -> None:
    names = set(schema_files(result))
    assert result.regulation is not None
    for packet in result.regulation.packets:
        assert f"{packet.name}.request.schema.json" in names
        assert f"{packet.name}.response.schema.json" in names
    assert "DongBoHoSoMC.record.schema.json" in names


def test_openapi_document_is_valid(result: BuildResult) -> None:
    document = json.loads(result.files[PurePosixPath("openapi/openapi.json")])
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    body = document["paths"]["/integration"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "service"
    assert len(body["oneOf"]) == len(table1().on_endpoint("integration")), "one request body per integration packet"
    field = document["components"]["schemas"]["DongBoHoSoMCRecord"]["properties"]["MaHoSo"]
    assert field["x-qcvn120-table"] == 2 and field["x-qcvn120-row"] == 1
    assert "Mã hồ sơ" in field["description"] and "dossier code" in field["description"]
    # Every answer the server can give is listed: 408/503 on every operation, 429 on the login only.
    operations = [path["post"] for path in document["paths"].values()]
    assert all({"400", "401", "408", "413", "415", "500", "503"} <= set(op["responses"]) for op in operations)
    assert [op["operationId"] for op in operations if "429" in op["responses"]] == ["login"]


def test_every_field_is_traceable_to_table_and_row(result: BuildResult, bundle: dict[str, Any]) -> None:
    """In the OpenAPI document as ``x-qcvn120-*`` extensions; in the JSON Schemas, which strict
    readers (Ajv) refuse unknown keywords in, as each field's ``$comment``."""
    import re

    checked = 0
    for definition in bundle["$defs"].values():
        for prop in definition.get("properties", {}).values():
            assert not [k for k in prop if k.startswith("x-")], prop
            comment = prop["$comment"]
            ref = re.match(r"QCVN 120 — ref: ([^;]+); ", comment)
            assert ref and "; spec: " in comment, comment
            if ref.group(1) != "envelope":
                table = re.search(r"; table: ([0-9]+)", comment)
                assert table and int(table.group(1)) >= 2, comment
            checked += 1
    assert checked > 200
    # The OpenAPI document holds the components its paths reach, each field with its trace.
    extended_fields = 0
    for definition in json.loads(result.files[PurePosixPath("openapi/openapi.json")])["components"]["schemas"].values():
        for prop in definition.get("properties", {}).values():
            if "x-qcvn120-ref" in prop:
                assert "x-qcvn120-spec" in prop, prop
                extended_fields += 1
    assert extended_fields > 200


def test_every_json_sample_is_classified() -> None:
    known = set(samples.REQUESTS) | set(samples.RESPONSES) | set(samples.RECORD_LISTS) | set(samples.EXCLUDED)
    assert set(samples.all_json_samples()) <= known, "a new sample needs a place in tests/support/samples.py"


def _cases() -> list[tuple[str, str, str | None]]:
    cases: list[tuple[str, str, str | None]] = [
        (name, definition, None) for name, definition in {**samples.REQUESTS, **samples.RESPONSES}.items()
    ]
    cases += [(name, definition, key) for name, (definition, key) in samples.RECORD_LISTS.items()]
    return cases


@pytest.mark.parametrize(("name", "definition", "list_key"), _cases())
def test_real_and_reconstructed_samples_validate(
    name: str, definition: str, list_key: str | None, bundle: dict[str, Any], models: Any
) -> None:
    raw = samples.load(name)
    items = raw[list_key] if list_key else raw
    payloads = items if isinstance(items, list) and definition.endswith("Result") else [items]
    schema = {"$ref": f"#/$defs/{definition}", "$defs": bundle["$defs"]}
    validator = jsonschema.Draft202012Validator(schema)
    model = getattr(models, definition)
    for payload in payloads:
        data = samples.fill_placeholders(payload, {"$ref": f"#/$defs/{definition}"}, bundle)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, errors
        model.model_validate(data)


def test_excluded_samples_are_the_marked_ones() -> None:
    for name, kind in samples.EXCLUDED.items():
        source = name.replace(".json", ".source.txt")
        candidates = [
            samples.SAMPLES / source,
            samples.SAMPLES / (name.split(".")[0] + "." + name.split(".")[1] + ".source.txt"),
        ]
        text = " ".join(p.read_text(encoding="utf-8") for p in candidates if p.exists())
        assert kind.split()[0] in text.upper(), name

"""Wire names only on the wire: a request is judged by its wire names, whatever a model also takes.

The generated models accept their Python names (``ma_ho_so``, ``is_updating``) so that a program can
build them; a request is judged by its wire names alone. Every field of every request (envelope
keys, parameters, ``data`` records and the records nested in them) is sent with its key replaced by
a look-alike — its Python name, case variants, an NFC twin (KELVIN SIGN for ``K``: the same key once
normalised), a key that a combining accent turns into another, a fullwidth first letter (NFKC's
twin, not NFC's) — alone and beside the wire key. Each payload is judged by python-jsonschema,
jsonschema-rs, ``validate-data``, the generated server over real uvicorn (every service marked
``exact_on_strings``, so a body of strings skips the JSON-Schema contract) and the models read the
way the server reads them (``contract.from_wire``): one verdict, or the test names the payload.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_differential import (
    Case,
    Judge,
    Verdict,
    _as_sent,
    _bases,
    _places,
    ajv,
    over_http,
    python_jsonschema,
    rust_jsonschema,
    server_url,
    validate_data,
)

from qcvngen import ir
from qcvngen.pipeline import BuildResult

__all__ = ["server_url"]  # the differential test's server, shared as a fixture

KELVIN = "\u212a"  # NFC("\u212a") == "K"
assert unicodedata.normalize("NFC", KELVIN) == "K"


def look_alikes(field: ir.Field) -> list[tuple[str, str]]:
    """(what, key): keys that resemble ``field``'s wire name and are not it (before NFC)."""
    wire = field.wire_name
    out: list[tuple[str, str]] = []
    if field.py_name != wire:
        out += [("python name", field.py_name), ("python name, upper case", field.py_name.upper())]
    out += [("lower case", wire.lower()), ("upper case", wire.upper()), ("swapped case", wire.swapcase())]
    if "K" in wire:
        out.append(("NFC twin (KELVIN SIGN)", wire.replace("K", KELVIN, 1)))
    out.append(("combining accent", wire + "\u0301"))
    out.append(("fullwidth first letter", chr(ord(wire[0]) + 0xFEE0) + wire[1:]))
    seen: set[str] = set()
    unique = []
    for what, key in out:
        if key != wire and key not in seen:
            seen.add(key)
            unique.append((what, key))
    return unique


def _renamed(payload: Any, path: tuple[int | str, ...], key: str, *, keep: bool) -> Any:
    """``payload`` with the key at ``path`` sent as ``key`` (beside the wire key when ``keep``)."""
    out = copy.deepcopy(payload)
    node = out
    for part in path[:-1]:
        node = node[part]
    wire = path[-1]
    rebuilt: dict[str, Any] = {}
    for name, value in node.items():
        if name == wire:
            if keep:
                rebuilt[name] = value
            rebuilt[key] = copy.deepcopy(value)
        else:
            rebuilt[name] = value
    node.clear()
    node.update(rebuilt)
    return out


def name_cases(reg: ir.Regulation) -> Iterator[Case]:
    """Every request field under each look-alike key, alone and beside its wire key."""
    for packet, definition, base, fields, items in _bases(reg):
        if not definition.endswith("Request"):
            continue
        for path, field in _places(reg, fields, base, (), items):
            for what, key in look_alikes(field):
                for keep in (False, True):
                    where = f"{what} {key!r}" + (" beside the wire key" if keep else "")
                    yield Case(packet, definition, path, field, where, _renamed(base, path, key, keep=keep))


def _server_judges(case: Case) -> bool:
    # A session or unit under another name is answered 401 before any verdict on the body.
    return case.path[:1] not in (("session",), ("madonvi",))


def _as_the_server_reads(body_bytes: bytes) -> tuple[Any, bool] | None:
    from qcvngen.runtime.server import limits, strictjson
    from qcvngen.runtime.server.refusals import Refused

    try:
        return strictjson.read_object(body_bytes, limits.Limits())[:2]
    except Refused:
        return None


def wire_models(models: Any) -> Any:
    """The models read as the server reads a request: wire names only, after the strict reader."""
    from pydantic import ValidationError
    from qcvn120_server.contract import from_wire

    def verdict(case: Case) -> tuple[bool, bool]:
        read = _as_the_server_reads(_as_sent(case.payload))
        if read is None:
            return False, False
        body, strings_only = read
        try:
            from_wire(getattr(models, case.definition), body)
        except ValidationError:
            return False, strings_only
        return True, strings_only

    return verdict


def _refusing_usage_errors(judge: Judge) -> Judge:
    """validate-data refuses a login payload without ``username`` too: it cannot tell what it is."""
    from qcvngen.payloads import UsageError

    def one_by_one(found: list[Case]) -> list[Verdict]:
        out: list[Verdict] = []
        for case in found:
            try:
                out += judge([case])
            except UsageError:
                out.append(False)
        return out

    return one_by_one


@pytest.mark.slow  # 2,350 payloads before six judges
def test_a_request_is_judged_by_its_wire_names_only(
    result: BuildResult, out_dir: Path, models: Any, server_url: str
) -> None:
    reg = result.regulation
    assert reg is not None
    found = list(name_cases(reg))
    schema_dir = out_dir / "jsonschema"
    every: dict[str, Judge] = {
        "ajv": ajv(schema_dir),
        "jsonschema": python_jsonschema(schema_dir),
        "jsonschema-rs": rust_jsonschema(schema_dir),
        "validate-data": _refusing_usage_errors(validate_data(reg)),
        "server": over_http(reg, server_url),
    }
    judged = {name: judge(found) for name, judge in every.items()}
    by_models = wire_models(models)
    problems: list[str] = []
    counts = {"accepted": 0, "refused": 0, "strings only": 0, "python names": 0}
    for index, case in enumerate(found):
        verdicts = {name: said[index] for name, said in judged.items() if said[index] is not None}
        model, strings_only = by_models(case)
        if strings_only:  # the server's verdict on such a body is the models' alone
            verdicts["models (wire names)"] = model
            counts["strings only"] += 1
        if len(set(verdicts.values())) != 1:
            problems.append(f"{case.definition} {'.'.join(map(str, case.path))} as {case.value}: {verdicts}")
        counts["accepted" if verdicts["jsonschema"] is True else "refused"] += 1
        counts["python names"] += str(case.value).startswith("python name")
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:40])
    # Not vacuous: every Python name that differs from its wire name is sent, both verdicts occur
    # (an open table keeps a look-alike as an unknown key), and most bodies skip the contract (those
    # with a key not in NFC, a combining accent or a KELVIN SIGN, are read the careful way).
    python_names = {f.py_name for c in found for f in [c.field] if f.py_name != f.wire_name}
    assert {"ma_ho_so", "is_updating", "ma_tthc", "chu_ho_so"} <= python_names, sorted(python_names)[:20]
    assert counts["accepted"] >= 100 and counts["refused"] >= 500, counts
    assert counts["strings only"] >= 0.8 * len(found), counts


def test_a_record_in_python_names_is_refused_by_the_server(result: BuildResult, models: Any, server_url: str) -> None:
    """The issue's record: ``ma_ho_so``, ``chu_ho_so``… instead of the wire names, and ``is_updating``."""
    from qcvngen.examples import example_request

    reg = result.regulation
    assert reg is not None
    packet = next(p for p in reg.packets if p.name == "DongBoHoSoMC")
    body = example_request(reg, packet, session="differential-session", madonvi="000.00.00.G05")
    names = {f.wire_name: f.py_name for f in reg.record("DongBoHoSoMCRecord").fields}
    in_python_names = {**body, "data": [{names.get(k, k): v for k, v in body["data"][0].items()}]}
    flag_renamed = {**body, "is_updating": body["isUpdating"]}
    del flag_renamed["isUpdating"]
    said = []
    with httpx.Client(base_url=server_url, timeout=30) as http:
        for sent in (in_python_names, flag_renamed, body):
            answer = http.post("/integration", content=json.dumps(sent), headers={"content-type": "application/json"})
            said.append((answer.status_code, answer.json()["message"]))
    assert [status for status, _ in said] == [400, 400, 200], said
    assert "data[0].MaHoSo" in said[0][1] and "data[0].ma_ho_so" in said[0][1], said[0]
    assert "isUpdating" in said[1][1], said[1]


def test_the_wire_reading_keeps_keys_as_sent() -> None:
    """validate-data reads keys as the server and every schema reader do: as sent, so a KELVIN SIGN
    makes another key (unknown where the table is closed), never a repeat of ``KENH``."""
    from qcvngen.payloads import wire_reading

    assert wire_reading({"KENH": "1"}) == {"KENH": "1"}
    assert wire_reading({f"{KELVIN}ENH": "1"}) == {f"{KELVIN}ENH": "1"}
    assert wire_reading({"KENH": "1", f"{KELVIN}ENH": "2"}) == {"KENH": "1", f"{KELVIN}ENH": "2"}

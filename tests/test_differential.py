"""One verdict per value: every validator the project ships or uses judges the same edge values alike.

For every packet, every field of its request (envelope keys, parameters, ``data`` records and the
records nested in them) and of its response (``result`` records) gets edge values of its kind — a
systematic table: trailing and leading whitespace and newlines, Arabic-Indic and fullwidth digits,
signs, exponents, empty strings, lengths at the limit and one past it, NFD text at the limit,
impossible dates (``20240230…``, 24:00, 29 February of 2100), flags ``"true"``/``true``, codes
outside closed lists, JSON numbers, booleans and ``null`` where a string is expected. Each payload
(the valid example with one value replaced) is judged by:

* ``jsonschema``: python-jsonschema, Draft 2020-12, with an ECMA-262 ``pattern`` (``$`` is the end
  of the string), over the published bundle ``generated/jsonschema/qcvn120.schema.json``;
* ``jsonschema-rs``: an independent reader of the same published schema (Rust, ECMA-262 regex);
* ``validate-data``: ``qcvngen.payloads.PayloadValidator``, the library behind the CLI;
* ``server``: the generated ``qcvn120_server.create_app`` over real uvicorn on loopback (requests
  only: the server reads no responses): HTTP 200 is accepted, 400 refused, anything else is wrong;
* ``models``: the generated pydantic models (``<Packet>Request``, ``<Packet>Response``).

``conformance`` has no checker of its own: it sends vectors to a server and reads its verdict.

The rules, so that like is compared with like:

1. Every reader judges the payload as the wire reads it: strict JSON, strings in NFC, a whole number
   written ``5.0`` as ``5`` (docs/wire-conventions.md; the spec's ``max_length`` counts NFC
   characters). ``validate-data`` and the server do it themselves from the raw payload; the schema
   readers and the bare models are handed ``payloads.wire_reading(payload)``, and a payload the wire
   cannot read (a lone surrogate) counts as refused by them.
2. The published schema is the contract: ``jsonschema``, ``jsonschema-rs``, ``validate-data`` and the
   ``server`` (models and contract together) must give the same verdict on every payload.
3. The bare models are documented as more tolerant on input than the schema (a JSON number for a
   string-encoded number or percent, a JSON boolean for a flag, ``null`` for an optional field, an
   id beyond ±10¹⁸): they must accept everything the schema accepts, and must give the schema's
   verdict whenever the edge value is a JSON string.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema_rs
import pytest
import uvicorn
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qcvngen import ir, wire
from qcvngen.examples import example_record, example_request
from qcvngen.payloads import PayloadValidator, ecma_validator_class, wire_reading
from qcvngen.pipeline import BuildResult
from qcvngen.wirejson import NotWireJson
from sandbox_process import free_port

MADONVI = "000.00.00.G05"
TOKEN = "differential-session"
NFD_E = unicodedata.normalize("NFD", "ệ")  # 3 code points, 1 in NFC
assert len(NFD_E) == 3
# Digits that are digits to Python's str.isdigit() and Unicode-aware regex classes, not to [0-9].
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789.%", "０１２３４５６７８９．％")
# Every value of the table on the first field of each kind; this many values on every other field.
OTHERS = 2


def _around(text: str) -> list[Any]:
    """A valid string form with whitespace and newlines around it, and in other digits."""
    return [
        text + "\n",
        "\n" + text,
        " " + text,
        text + " ",
        text + "\r\n",
        "\t" + text,
        text.translate(ARABIC),
        text.translate(FULLWIDTH),
    ]


COMMON: list[Any] = ["", " ", "\n", None, True, False, [], {}]
TABLE: dict[str, list[Any]] = {
    "datetime": [
        "20240105083000",
        *_around("20240105083000"),
        "20240230083000",
        "20240229083000",
        "20230229083000",
        "21000229000000",
        "20000229000000",
        "20240105240000",
        "20240105236000",
        "20240105235960",
        "20241305083000",
        "20240100083000",
        "2024010508300",
        "202401050830000",
        "2024-01-05T08:30:00",
        "20240105083000Z",
        "+20240105083000",
        20240105083000,
        20240105083000.0,
        *COMMON,
    ],
    "integer": [
        "12",
        "-12",
        "+12",
        *_around("12"),
        "1e3",
        "12.0",
        "-",
        "0",
        "-0",
        "00",
        "9" * 18,
        "9" * 19,
        "-" + "9" * 18,
        "0x10",
        "1_000",
        "True",
        12,
        -12,
        1e3,
        12.5,
        10**18 - 1,
        10**18,
        -(10**18) + 1,
        -(10**18),
        5.0,
        *COMMON,
    ],
    "decimal": [
        "12.5",
        "-0.5",
        ".5",
        "5.",
        "1e-5",
        "12,5",
        *_around("12.5"),
        "1." + "0" * 18,
        "1." + "0" * 19,
        "NaN",
        "Infinity",
        "-",
        12.5,
        1e-5,
        12,
        10**18,
        -(10**18),
        1e20,
        *COMMON,
    ],
    "percent": [
        "50",
        "50%",
        "100.5%",
        "999.123456789%",
        "999.1234567890%",
        "1000",
        "50 %",
        "%",
        "-5",
        "+5",
        "5e1",
        *_around("50%"),
        50,
        50.5,
        *COMMON,
    ],
    "flag": ["True", "False", "true", "TRUE", "false", *_around("True"), "1", "0", "Yes", 1, 0, *COMMON],
    "id": ["123", "abc", "١٢٣", "123\n", 123, -1, 10**18 - 1, 10**18, 12.5, 5.0, *COMMON],
    "string": ["x", "x\n", "٣", "１", "\u2028", "e" + NFD_E, "x\ud800", 12, 12.5, *COMMON],
    "record": ["x", 12, *COMMON],
    "list": ["x", 12, [1], ["x"], [None], *COMMON],
    "any": [1, "x", 1.5, *COMMON],
}


def _lengths(limit: int) -> list[Any]:
    """Boundary lengths: at the limit and one past it, in ASCII and in NFD text that NFC shortens."""
    return [
        "x" * limit,
        "x" * (limit + 1),
        NFD_E * limit,
        NFD_E * limit + "x",
        "x" * (limit - 1) + "\n",
        "x" * limit + "\n",
    ]


def edge_values(reg: ir.Regulation, field: ir.Field) -> list[Any]:
    """The table for ``field``'s kind, with its length limit and code list folded in."""
    kind = field.type.kind
    if kind == "code":
        codelist = reg.codelist(field.type.codelist or "")
        first, last = codelist.codes[0].code, codelist.codes[-1].code
        values: list[Any] = [
            first,
            last,
            "99999",
            "x" * 64,
            "x" * 65,
            NFD_E * 64,
            NFD_E * 65,
            *_around(first),
            "0" + first,
        ]
        values += [int(first), float(first), -1, 12.5] if first.isdigit() else [12]
        return values + COMMON
    values = list(TABLE[kind])
    if kind == "string" and field.max_length:
        values += _lengths(field.max_length)
    return values


@dataclass(frozen=True)
class Case:
    """One payload: the valid example of ``definition`` with the value at ``path`` replaced."""

    packet: str
    definition: str  # LoginRequest, <Packet>Request or <Packet>Response
    path: tuple[int | str, ...]
    field: ir.Field
    value: Any
    payload: Any

    @property
    def where(self) -> str:
        return f"{self.definition} {'.'.join(map(str, self.path))} ({self.field.type.kind}) = {self.value!r}"


def _places(
    reg: ir.Regulation,
    fields: tuple[ir.Field, ...],
    body: dict[str, Any],
    path: tuple[int | str, ...],
    items: dict[str, str],
) -> Iterator[tuple[tuple[int | str, ...], ir.Field]]:
    """Every field whose value the example ``body`` holds, depth first, nested records included."""
    for field in fields:
        if field.wire_name not in body:
            continue
        at = (*path, field.wire_name)
        yield at, field
        value = body[field.wire_name]
        nested = items.get(field.wire_name) or field.type.nested_record
        if nested is None:
            continue
        if isinstance(value, dict):
            yield from _places(reg, reg.record(nested).fields, value, at, {})
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            yield from _places(reg, reg.record(nested).fields, value[0], (*at, 0), {})


def _replaced(payload: Any, path: tuple[int | str, ...], value: Any) -> Any:
    out = copy.deepcopy(payload)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = copy.deepcopy(value)
    return out


def _bases(reg: ir.Regulation) -> Iterator[tuple[str, str, dict[str, Any], tuple[ir.Field, ...], dict[str, str]]]:
    """(packet, definition, valid example, top-level fields, records of list values) per payload kind."""
    env = reg.envelope
    yield "Login", "LoginRequest", {"username": "user", "password": "pass"}, env.login_request.fields, {}
    for packet in reg.packets:
        request = example_request(reg, packet, session=TOKEN, madonvi=MADONVI)
        fields = (*env.request.fields, *packet.params)
        yield packet.name, f"{packet.name}Request", request, fields, {"data": packet.data_record or ""}
        if packet.result_record:
            response = {
                "error_code": "0",
                "message": "Thành công",
                "result": [example_record(reg, packet.result_record)],
            }
            yield packet.name, f"{packet.name}Response", response, env.response.fields, {"result": packet.result_record}


def cases(reg: ir.Regulation) -> list[Case]:
    """The whole table on the first field of each kind (and length limit) in requests and in
    responses, OTHERS values of the table on every other field of every packet."""
    out: list[Case] = []
    seen: set[tuple[bool, str, int | None]] = set()
    for packet, definition, base, fields, items in _bases(reg):
        for index, (path, field) in enumerate(_places(reg, fields, base, (), items)):
            values = edge_values(reg, field)
            kind = (definition.endswith("Response"), field.type.kind, field.max_length)
            if kind in seen:
                values = [values[(index + k * 7) % len(values)] for k in range(OTHERS)]
            seen.add(kind)
            out.extend(Case(packet, definition, path, field, v, _replaced(base, path, v)) for v in values)
        out.append(Case(packet, definition, (), fields[0], "(the valid example)", base))
    return out


# -- the validators ---------------------------------------------------------------------------------
Verdict = Callable[[Case], bool | str]


def _as_the_wire_reads(case: Case) -> Any:
    try:
        return wire_reading(case.payload)
    except NotWireJson:
        return None  # refused by the wire: every reader below says so


def schema_readers(bundle: dict[str, Any]) -> dict[str, Verdict]:
    """python-jsonschema (ECMA pattern) and jsonschema-rs, over the published bundle."""
    python_class = ecma_validator_class()
    python: dict[str, Any] = {}
    rust: dict[str, Any] = {}

    def root(definition: str) -> dict[str, Any]:
        return {"$schema": bundle["$schema"], "$ref": f"#/$defs/{definition}", "$defs": bundle["$defs"]}

    def by_python(case: Case) -> bool:
        data = _as_the_wire_reads(case)
        if case.definition not in python:
            python[case.definition] = python_class(root(case.definition))
        checker = python[case.definition]
        return data is not None and bool(checker.is_valid(data))

    def by_rust(case: Case) -> bool:
        data = _as_the_wire_reads(case)
        if case.definition not in rust:
            rust[case.definition] = jsonschema_rs.Draft202012Validator(root(case.definition))
        checker = rust[case.definition]
        return data is not None and bool(checker.is_valid(data))

    return {"jsonschema": by_python, "jsonschema-rs": by_rust}


def validate_data(reg: ir.Regulation) -> Verdict:
    checker = PayloadValidator(reg)

    def verdict(case: Case) -> bool:
        findings = checker.validate("case.json", copy.deepcopy(case.payload), case.packet)
        return not any(f.severity == "error" for f in findings)

    return verdict


def bare_models(models: Any) -> Verdict:
    from pydantic import ValidationError

    def verdict(case: Case) -> bool:
        data = _as_the_wire_reads(case)
        if data is None:
            return False
        try:
            getattr(models, case.definition).model_validate(data)
        except ValidationError:
            return False
        return True

    return verdict


class AcceptAll:
    """A portal handler that accepts every request the generated app lets through."""

    @staticmethod
    def make(server: Any) -> Any:
        def accept(self: Any, request: Any, context: Any) -> Any:
            return server.Answer()

        methods: dict[str, Any] = {name: accept for name in server.PortalHandler.__abstractmethods__}
        methods["login"] = lambda self, username, password: TOKEN
        methods["account_for_session"] = lambda self, session: (
            server.Account(username="user", madonvi=MADONVI) if session == TOKEN else None
        )
        return type("AcceptAll", (server.PortalHandler,), methods)()


@pytest.fixture(scope="module")
def server_url(models: Any) -> Iterator[str]:
    """The generated server (fresh build) with an accept-all handler, under uvicorn on loopback."""
    import dataclasses

    import qcvn120_server as server
    from qcvn120_server import services

    # Every service marked exact_on_strings, so that a body of strings gets the models' verdict
    # alone (the contract is skipped): the test below then proves that skip over the wire too.
    unmarked = dict(services.SERVICES)
    services.SERVICES.update({k: dataclasses.replace(v, exact_on_strings=True) for k, v in unmarked.items()})
    app = server.create_app(AcceptAll.make(server))  # holds SERVICES itself: restored at the end
    port = free_port()
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 20
        while not running.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.started, "the generated server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)
        services.SERVICES.update(unmarked)


def over_http(reg: ir.Regulation, http: httpx.Client) -> Verdict:
    paths = {e.name: e.path for e in reg.envelope.endpoints}
    endpoint_of = {p.name: p.endpoint for p in reg.packets}

    def verdict(case: Case) -> bool | str:
        path = paths["auth"] if case.packet == "Login" else paths[endpoint_of[case.packet]]
        answer = http.post(path, content=_as_sent(case.payload), headers={"content-type": "application/json"})
        return {200: True, 400: False}.get(answer.status_code, f"HTTP {answer.status_code}")

    return verdict


def _judged_by_server(case: Case) -> bool:
    # Session and unit are checked before the contract (401, not 400): not a verdict on the value.
    return case.definition.endswith("Request") and case.path[:1] not in (("session",), ("madonvi",))


# -- the test ---------------------------------------------------------------------------------------
def disagreements(judged: list[tuple[Case, dict[str, bool | str]]]) -> list[str]:
    """Every case on which the rules of the module docstring do not hold, named."""
    out: list[str] = []
    for case, verdicts in judged:
        contract = {name: v for name, v in verdicts.items() if name != "models"}
        if len(set(contract.values())) != 1:
            out.append(f"{case.where}: {contract}")
        schema = verdicts["jsonschema"]
        model = verdicts["models"]
        if schema is True and model is not True:
            out.append(f"{case.where}: the models refuse what the schema accepts")
        if isinstance(case.value, str) and model != schema:
            out.append(f"{case.where}: a string, and the models say {model}, the schema {schema}")
    return out


def test_every_validator_gives_one_verdict_per_value(
    result: BuildResult, bundle: dict[str, Any], models: Any, server_url: str
) -> None:
    reg = result.regulation
    assert reg is not None
    found = cases(reg)
    readers: dict[str, Verdict] = {
        **schema_readers(bundle),
        "validate-data": validate_data(reg),
        "models": bare_models(models),
    }
    judged: list[tuple[Case, dict[str, bool | str]]] = []
    with httpx.Client(base_url=server_url, timeout=30) as http:
        server = over_http(reg, http)
        for case in found:
            verdicts = {name: judge(case) for name, judge in readers.items()}
            if _judged_by_server(case):
                verdicts["server"] = server(case)
            judged.append((case, verdicts))
    problems = disagreements(judged)
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:40])
    # The table is not vacuous: it covers every packet and kind, and both verdicts occur.
    judgements = sum(len(v) for _, v in judged)
    assert 2_000 <= judgements <= 8_000, judgements
    assert {c.packet for c in found} == {p.name for p in reg.packets} | {"Login"}
    every_kind = {f.type.kind for r in (*reg.records, reg.envelope.request, reg.envelope.response) for f in r.fields}
    assert {c.field.type.kind for c in found} == every_kind
    verdicts_seen = {v["jsonschema"] for _, v in judged}
    assert verdicts_seen == {True, False}
    assert all(v["jsonschema"] for c, v in judged if c.value == "(the valid example)")
    issue = next(v for c, v in judged if c.value == "20240105083000\n" and c.field.type.kind == "datetime")
    assert set(issue.values()) == {False}, issue


def _contract_class() -> Any:
    """The generated server's schema checker (``Contract``): in ``contract.py`` once the runtime is
    split out of the template (issue 10), in ``app.py`` before."""
    import importlib

    for module in ("qcvn120_server.contract", "qcvn120_server.app"):
        try:
            return importlib.import_module(module).Contract
        except (ImportError, AttributeError):
            continue
    raise LookupError("the generated server has no Contract class")


def test_the_server_contract_alone_agrees_with_the_schema(
    result: BuildResult, bundle: dict[str, Any], models: Any, out_dir: Any
) -> None:
    """The contract the server enforces besides its models reads patterns as ECMA-262 too."""
    reg = result.regulation
    assert reg is not None
    document = json.loads((out_dir / "server" / "qcvn120_server" / "openapi.json").read_text(encoding="utf-8"))
    contract = _contract_class()(document)
    schema = schema_readers(bundle)["jsonschema"]
    problems = []
    for case in cases(reg):
        data = _as_the_wire_reads(case)
        if case.definition.endswith("Request") and data is not None:
            alone = not contract.errors(data, case.definition)
            if alone != schema(case):
                problems.append(f"{case.where}: contract {alone}, schema {not alone}")
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:20])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(kind="datetime", empty=True, text="20240105083000\n")
@example(kind="integer", empty=False, text="12\n")
@example(kind="decimal", empty=True, text="\n")
@example(kind="percent", empty=False, text="50%\n")
@given(
    kind=st.sampled_from(sorted(wire.PATTERNS)),
    empty=st.booleans(),
    text=st.text(alphabet=st.sampled_from("0123456789٣３.%-+eE \n\r\t\u2028"), max_size=24),
)
def test_the_regex_engines_agree_on_every_wire_pattern(kind: str, empty: bool, text: str) -> None:
    """ECMA-262 (jsonschema-rs), Rust regex (pydantic), Python re with ``$`` as ``\\Z`` (qcvngen,
    fastjsonschema): one verdict for any string, on every pattern the schema publishes."""
    from typing import Annotated

    import fastjsonschema
    from pydantic import Field as PydanticField
    from pydantic import TypeAdapter, ValidationError

    pattern = wire.anchored(wire.PATTERNS[kind], allow_empty=empty)
    assert wire.portable_pattern_problem(pattern) is None
    verdicts = {"qcvngen": wire.ecma_search(pattern, text)}
    verdicts["jsonschema-rs"] = jsonschema_rs.is_valid({"type": "string", "pattern": pattern}, text)
    try:
        TypeAdapter(Annotated[str, PydanticField(pattern=pattern)]).validate_python(text)
        verdicts["pydantic"] = True
    except ValidationError:
        verdicts["pydantic"] = False
    try:
        fastjsonschema.compile({"type": "string", "pattern": pattern})(text)
        verdicts["fastjsonschema"] = True
    except fastjsonschema.JsonSchemaValueException:
        verdicts["fastjsonschema"] = False
    assert len(set(verdicts.values())) == 1, (kind, text, verdicts)


def test_every_published_pattern_is_in_the_portable_subset(result: BuildResult) -> None:
    """No pattern in any generated JSON Schema or OpenAPI document (or model) leaves the subset that
    ECMA-262, Rust regex and Python re read alike (no lookaround, no \\d, ^…$ anchored)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path, text in result.files.items():
        if path.suffix == ".json":
            walk(json.loads(text))
    # The client and the server package each carry the same wire module.
    models = {text for path, text in result.files.items() if path.name == "wire.py"}
    assert len(models) == 1
    for literal in ast_patterns(models.pop()):
        found.add(literal)
    assert len(found) >= 7, found  # date-time (or ""), and integer, decimal, percent with and without ""
    problems = {p: wire.portable_pattern_problem(p) for p in found}
    assert not {p: why for p, why in problems.items() if why}, problems


def ast_patterns(source: str) -> list[str]:
    """The ``pattern=`` string arguments in a Python module."""
    import ast

    return [
        kw.value.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "pattern" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
    ]


# -- what lets the server skip its contract: the models' verdict on bodies of strings ------------
def _structural(reg: ir.Regulation) -> Iterator[tuple[str, str, str, Any]]:
    """(packet, definition, where, payload): each request example with one field left out, and with
    an unknown key added to each of its objects (the edits the value table does not make)."""
    for packet, definition, base, fields, items in _bases(reg):
        if not definition.endswith("Request"):
            continue
        for path, _field in _places(reg, fields, base, (), items):
            payload = copy.deepcopy(base)
            node: Any = payload
            for part in path[:-1]:
                node = node[part]
            del node[path[-1]]
            yield packet, definition, f"{definition} without {'.'.join(map(str, path))}", payload
        objects: list[tuple[tuple[int | str, ...], Any]] = [((), base)]
        for path, _field in _places(reg, fields, base, (), items):
            value: Any = base
            for part in path:
                value = value[part]
            if isinstance(value, list) and value and isinstance(value[0], dict):
                objects.append(((*path, 0), value[0]))
            elif isinstance(value, dict):
                objects.append((path, value))
        for path, _ in objects:
            payload = copy.deepcopy(base)
            node = payload
            for part in path:
                node = node[part]
            node["KhoaLaChuaBiet"] = "x"
            yield (
                packet,
                definition,
                f"{definition} with an unknown key at {'.'.join(map(str, path)) or 'the top'}",
                payload,
            )


def _as_sent(payload: Any) -> bytes:
    """The payload as the generated client sends it (UTF-8, no escapes) where UTF-8 can carry it."""
    try:
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only its escape can travel
        return json.dumps(payload).encode()


def test_on_bodies_of_strings_the_models_give_the_schema_verdict(
    result: BuildResult, bundle: dict[str, Any], models: Any
) -> None:
    """The server skips its contract for a service marked ``exact_on_strings`` when ``read_object``
    vouches that every scalar of the body is a JSON string: on every such request of the value
    table and of the structural edits, the models' verdict must be the schema's."""
    from pydantic import ValidationError

    from qcvngen.runtime.server import limits, strictjson
    from qcvngen.runtime.server.refusals import Refused

    reg = result.regulation
    assert reg is not None
    schema = schema_readers(bundle)["jsonschema"]
    payloads = [(c.packet, c.definition, c.where, c.payload) for c in cases(reg) if c.definition.endswith("Request")]
    payloads += list(_structural(reg))
    problems: list[str] = []
    judged = {True: 0, False: 0}
    for packet, definition, where, payload in payloads:
        try:
            body, strings_only = strictjson.read_object(_as_sent(payload), limits.Limits())
        except Refused:
            continue  # refused before any model or contract looks at it
        if not strings_only:
            continue
        try:
            getattr(models, definition).model_validate(body)
            model = True
        except ValidationError:
            model = False
        case = Case(packet, definition, (), reg.envelope.request.fields[0], where, payload)
        if model != schema(case):
            problems.append(f"{where}: the models say {model}, the schema {not model}")
        judged[model] += 1
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:40])
    # Not vacuous: most payloads are bodies of strings, and both verdicts occur among them.
    assert judged[True] >= 200 and judged[False] >= 200, judged

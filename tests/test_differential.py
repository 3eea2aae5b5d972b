"""One verdict per value: every standard JSON Schema reader, at its defaults, and every validator the
project ships judge the same edge values alike.

For every packet, every field of its request (envelope keys, parameters, ``data`` records and the
records nested in them) and of its response (``result`` records) gets the edge values of its kind
(``kinds.KINDS[kind].edges``: whitespace and newlines around a valid form, Arabic-Indic and
fullwidth digits, signs, exponents, empty strings, impossible dates, numbers at and past ±(2⁵³−1),
booleans and ``null``), lengths at the limit and one past it (in NFD text too), the list's own codes
for codes, and numbers written as JSON text no Python value dumps to (``1e0``, ``2.0``,
``999999999999999999``). Each payload (the valid example with one value replaced) travels as its
I-JSON text (RFC 7493) and is judged by:

* ``ajv``: Ajv 8 (``Ajv2020``, its default options: strict mode on) under node, over the published
  per-packet documents in ``generated/jsonschema/`` (installed from npm into a cache when missing);
* ``jsonschema``: python-jsonschema's ``Draft202012Validator`` at its defaults (Python ``re``, no
  format checker) over the same documents;
* ``jsonschema-rs``: ``jsonschema_rs.Draft202012Validator`` at its defaults, same documents;
* ``validate-data``: ``qcvngen.payloads.PayloadValidator``, the library behind the CLI;
* ``server``: the generated ``qcvn120_server.create_app`` over real uvicorn on loopback (requests
  only: the server reads no responses): HTTP 200 is accepted, 400 refused, anything else is wrong;
* ``models``: the generated pydantic models (``<Packet>Request``, ``<Packet>Response``).

The rules:

1. The published schema is the contract: ``ajv``, ``jsonschema``, ``jsonschema-rs``,
   ``validate-data`` and the ``server`` give the same verdict on every payload.
2. The bare models are documented as more tolerant on input than the schema (a JSON number for a
   percent, a JSON boolean for a flag, ``null`` for an optional field, an id past ±(2⁵³−1)): they
   accept everything the schema accepts, and give the schema's verdict whenever the edge value is a
   JSON string.
3. A payload that is not I-JSON (a lone surrogate) is refused by the server and validate-data; the
   schema readers are not asked (RFC 7493 puts it outside the texts they judge).
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qcvngen import ir, kinds, wire
from qcvngen.examples import example_record, example_request
from qcvngen.payloads import PayloadValidator, wire_reading
from qcvngen.pipeline import BuildResult
from qcvngen.wirejson import NotWireJson
from support.sandbox_process import serving as serve_in_thread
from support.system_packages import Need, provide

MADONVI = "000.00.00.G05"
TOKEN = "differential-session"
NFD_E = kinds.NFD_E
# Every value of the table on the first field of each kind; this many values on every other field.
OTHERS = 2
AJV = "ajv@8.20.0"
NODE = Need(("node", "npm"), ("nodejs", "npm"), "tests/test_differential.py runs Ajv under node")


@dataclass(frozen=True)
class RawNumber:
    """A JSON number written as this text (``1e0``, ``2.0``): no Python value dumps to it."""

    text: str


# Numbers as clients write them; each reader parses the text itself.
RAW_NUMBERS = tuple(
    RawNumber(t)
    for t in ("1e0", "2.0", "1E+1", "-0", "-0.0", "9007199254740993", "999999999999999999", "1e18", "1e-19")
)


def _lengths(limit: int) -> list[Any]:
    """Boundary lengths: at the limit and one past it, in ASCII and in NFD text (3 code points per
    letter, 1 in NFC): judged on the code points sent, as every reader counts them."""
    return [
        "x" * limit,
        "x" * (limit + 1),
        NFD_E * (limit // 3),
        NFD_E * (limit // 3 + 1),
        NFD_E * limit,
        "x" * (limit - 1) + "\n",
        "x" * limit + "\n",
    ]


def edge_values(reg: ir.Regulation, field: ir.Field) -> list[Any]:
    """The registry's edge values of ``field``'s kind, with its length limit and code list folded in."""
    kind = field.type.kind
    values = list(kinds.kind(kind).edges)
    if kind == "code" and reg.codelist(field.type.codelist or "").closed:
        codelist = reg.codelist(field.type.codelist or "")
        first, last = codelist.codes[0].code, codelist.codes[-1].code
        values = [first, last, *kinds.around(first), "0" + first, *values]
        if first.isdigit():
            values += [int(first), float(first), *RAW_NUMBERS]
    if kind in ("integer", "decimal", "id"):
        values += RAW_NUMBERS
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
        shown = self.value.text if isinstance(self.value, RawNumber) else repr(self.value)
        return f"{self.definition} {'.'.join(map(str, self.path))} ({self.field.type.kind}) = {shown}"

    @property
    def text(self) -> str | None:
        """The payload as I-JSON text, as a client sends it; None when it is not I-JSON."""
        marker = "\u0000raw\u0000"

        def encode(value: Any) -> Any:
            if isinstance(value, RawNumber):
                return marker + value.text
            if isinstance(value, dict):
                return {k: encode(v) for k, v in value.items()}
            if isinstance(value, list):
                return [encode(v) for v in value]
            return value

        try:
            text = json.dumps(encode(self.payload), ensure_ascii=False)
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: outside I-JSON
            return None
        if isinstance(self.value, RawNumber):
            text = text.replace(json.dumps(marker + self.value.text), self.value.text)
        return text

    @property
    def schema_file(self) -> str:
        """The published document that judges it: ``<Packet>.request.schema.json`` …"""
        for suffix in ("Request", "Response"):
            if self.definition.endswith(suffix):
                return f"{self.definition.removesuffix(suffix) or 'Login'}.{suffix.lower()}.schema.json"
        raise ValueError(self.definition)


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


def cases(reg: ir.Regulation, only: Callable[[ir.Field], bool] | None = None) -> list[Case]:
    """The whole table on the first field of each kind (and length limit) in requests and in
    responses, OTHERS values of the table on every other field of every packet (``only``: the whole
    table on the fields it picks, nothing else)."""
    out: list[Case] = []
    seen: set[tuple[bool, str, int | None]] = set()
    for packet, definition, base, fields, items in _bases(reg):
        for index, (path, field) in enumerate(_places(reg, fields, base, (), items)):
            if only is not None and not only(field):
                continue
            values = edge_values(reg, field)
            kind = (definition.endswith("Response"), field.type.kind, field.max_length)
            if kind in seen and only is None:
                values = [values[(index + k * 7) % len(values)] for k in range(OTHERS)]
            seen.add(kind)
            out.extend(Case(packet, definition, path, field, v, _replaced(base, path, v)) for v in values)
        if only is None:
            out.append(Case(packet, definition, (), fields[0], "(the valid example)", base))
    return out


# -- the judges: each takes every case at once and answers one verdict per case ---------------------
Verdict = bool | str | None  # None: not asked (not I-JSON, or not a request for the server)
Judge = Callable[[list[Case]], list[Verdict]]


def _documents(schema_dir: Path) -> Callable[[str], Any]:
    cache: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in cache:
            cache[name] = json.loads((schema_dir / name).read_text(encoding="utf-8"))
        return cache[name]

    return load


def _reader(schema_dir: Path, make: Callable[[Any], Any]) -> Judge:
    """A JSON Schema reader as a judge: ``make(document)`` gives a validator with ``is_valid``."""
    load = _documents(schema_dir)
    validators: dict[str, Any] = {}

    def judge(found: list[Case]) -> list[Verdict]:
        out: list[Verdict] = []
        for case in found:
            text = case.text
            if text is None:
                out.append(None)
                continue
            name = case.schema_file
            if name not in validators:
                validators[name] = make(load(name))
            out.append(bool(validators[name].is_valid(json.loads(text))))
        return out

    return judge


def python_jsonschema(schema_dir: Path) -> Judge:
    """python-jsonschema at its defaults: Draft 2020-12, Python ``re``, no format checker."""
    return _reader(schema_dir, jsonschema.Draft202012Validator)


def rust_jsonschema(schema_dir: Path) -> Judge:
    """jsonschema-rs at its defaults."""
    return _reader(schema_dir, jsonschema_rs.Draft202012Validator)


def ajv_home() -> Path:
    """A folder whose ``node_modules`` holds Ajv: installed from npm (once, under a lock) when missing."""
    provide(NODE)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qcvngen-tests" / AJV.replace("@", "-")
    if (cache / "node_modules" / "ajv" / "package.json").is_file():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with (cache.parent / "npm-install.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache / "node_modules" / "ajv" / "package.json").is_file():
            done = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(cache), AJV],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"`npm install {AJV}` failed:\n{(done.stdout + done.stderr)[-2000:]}", pytrace=False)
    return cache


# Each document compiled by its own Ajv2020 instance with no options: Ajv's defaults, strict mode on.
AJV_SCRIPT = r"""
const fs = require("fs"), path = require("path");
const [home, dir, input] = process.argv.slice(2);
const loaded = require(path.join(home, "node_modules", "ajv", "dist", "2020"));
const Ajv2020 = loaded.default || loaded;
const compiled = {};
const verdicts = [];
for (const line of fs.readFileSync(input, "utf8").split("\n")) {
  if (!line) continue;
  const item = JSON.parse(line);
  if (!(item.schema in compiled)) {
    const schema = JSON.parse(fs.readFileSync(path.join(dir, item.schema), "utf8"));
    compiled[item.schema] = new Ajv2020().compile(schema);
  }
  verdicts.push(compiled[item.schema](JSON.parse(item.text)));
}
process.stdout.write(JSON.stringify(verdicts));
"""


def ajv(schema_dir: Path) -> Judge:
    """Ajv 8 (``Ajv2020``, default options) under node; whatever it logs (a strict-mode warning)
    fails the test too."""
    home = ajv_home()

    def judge(found: list[Case]) -> list[Verdict]:
        asked = [(i, c.text) for i, c in enumerate(found) if c.text is not None]
        with tempfile.TemporaryDirectory() as work:
            script, lines = Path(work) / "judge.js", Path(work) / "cases.jsonl"
            script.write_text(AJV_SCRIPT, encoding="utf-8")
            lines.write_text(
                "".join(json.dumps({"schema": found[i].schema_file, "text": t}) + "\n" for i, t in asked),
                encoding="utf-8",
            )
            done = subprocess.run(
                ["node", str(script), str(home), str(schema_dir), str(lines)],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        assert done.returncode == 0 and not done.stderr.strip(), f"ajv: {done.stderr[-3000:]}"
        answers = json.loads(done.stdout)
        out: list[Verdict] = [None] * len(found)
        for (index, _), answer in zip(asked, answers, strict=True):
            out[index] = bool(answer)
        return out

    return judge


def validate_data(reg: ir.Regulation) -> Judge:
    """``qcvngen validate-data``'s library, on the text as the CLI reads a file."""
    from qcvngen.wirejson import parse

    checker = PayloadValidator(reg)

    def judge(found: list[Case]) -> list[Verdict]:
        out: list[Verdict] = []
        for case in found:
            text = case.text if case.text is not None else json.dumps(case.payload)
            findings = checker.validate("case.json", parse(text), case.packet)
            out.append(not any(f.severity == "error" for f in findings))
        return out

    return judge


def bare_models(models: Any) -> Judge:
    """The generated pydantic models, on the parsed text."""
    from pydantic import ValidationError

    def judge(found: list[Case]) -> list[Verdict]:
        out: list[Verdict] = []
        for case in found:
            if case.text is None:
                out.append(None)
                continue
            try:
                getattr(models, case.definition).model_validate(json.loads(case.text))
                out.append(True)
            except ValidationError:
                out.append(False)
        return out

    return judge


class AcceptAll:
    """A portal handler that accepts every request the generated app lets through."""

    @staticmethod
    def make(server: Any) -> Any:
        def accept(self: Any, request: Any, context: Any) -> Any:
            return server.Answer()

        methods: dict[str, Any] = dict.fromkeys(server.PortalHandler.__abstractmethods__, accept)
        methods["login"] = lambda self, username, password: TOKEN
        methods["account_for_session"] = lambda self, session: (
            server.Account(username="user", madonvi=MADONVI) if session == TOKEN else None
        )
        return type("AcceptAll", (server.PortalHandler,), methods)()


@contextmanager
def serving() -> Iterator[str]:
    """The generated server (imported from ``sys.path``) with an accept-all handler, under uvicorn
    on loopback; every service marked ``exact_on_strings``, so that a body of strings gets the
    models' verdict alone (the contract is skipped) and the test proves that skip over the wire."""
    import dataclasses

    import qcvn120_server as server
    from qcvn120_server import services

    unmarked = dict(services.SERVICES)
    services.SERVICES.update({k: dataclasses.replace(v, exact_on_strings=True) for k, v in unmarked.items()})
    app = server.create_app(AcceptAll.make(server))  # holds SERVICES itself: restored at the end
    try:
        with serve_in_thread(app) as url:
            yield url
    finally:
        services.SERVICES.update(unmarked)


@pytest.fixture(scope="module")
def server_url(models: Any) -> Iterator[str]:
    with serving() as url:
        yield url


def judged_by_server(case: Case) -> bool:
    # Session and unit are checked before the contract (401, not 400): not a verdict on the value.
    return case.definition.endswith("Request") and case.path[:1] not in (("session",), ("madonvi",))


def over_http(reg: ir.Regulation, url: str) -> Judge:
    paths = {e.name: e.path for e in reg.envelope.endpoints}
    endpoint_of = {p.name: p.endpoint for p in reg.packets}

    def judge(found: list[Case]) -> list[Verdict]:
        out: list[Verdict] = []
        with httpx.Client(base_url=url, timeout=30) as http:
            for case in found:
                if not judged_by_server(case):
                    out.append(None)
                    continue
                path = paths["auth"] if case.packet == "Login" else paths[endpoint_of[case.packet]]
                body = case.text.encode() if case.text is not None else json.dumps(case.payload).encode()
                answer = http.post(path, content=body, headers={"content-type": "application/json"})
                out.append({200: True, 400: False}.get(answer.status_code, f"HTTP {answer.status_code}"))
        return out

    return judge


def judges(reg: ir.Regulation, schema_dir: Path, models: Any, server_url: str) -> dict[str, Judge]:
    """Every judge of the module docstring, by name."""
    return {
        "ajv": ajv(schema_dir),
        "jsonschema": python_jsonschema(schema_dir),
        "jsonschema-rs": rust_jsonschema(schema_dir),
        "validate-data": validate_data(reg),
        "server": over_http(reg, server_url),
        "models": bare_models(models),
    }


# -- the verdicts -----------------------------------------------------------------------------------
Judged = list[tuple[Case, dict[str, Verdict]]]


def judge_all(found: list[Case], every: dict[str, Judge]) -> Judged:
    verdicts = {name: judge(found) for name, judge in every.items()}
    return [(case, {name: verdicts[name][i] for name in every}) for i, case in enumerate(found)]


def reference(verdicts: dict[str, Verdict]) -> Verdict:
    """What the value should get: the server's verdict on a request, else the schema readers' majority."""
    if verdicts.get("server") is not None:
        return verdicts["server"]
    readers = [v for k, v in verdicts.items() if k in ("ajv", "jsonschema", "jsonschema-rs") and v is not None]
    return Counter(readers).most_common(1)[0][0] if readers else verdicts.get("validate-data")


def disagreements(judged: Judged) -> tuple[list[str], Counter[str]]:
    """Every case on which the rules of the module docstring do not hold, named; and per judge,
    how many times it departs from the reference verdict."""
    problems: list[str] = []
    per_judge: Counter[str] = Counter()
    for case, verdicts in judged:
        expected = reference(verdicts)
        if case.text is None:
            if verdicts.get("server") not in (None, False) or verdicts.get("validate-data") is not False:
                problems.append(f"{case.where}: not I-JSON, and yet accepted: {verdicts}")
            continue
        for name, verdict in verdicts.items():
            if verdict is None:
                continue
            if name == "models":
                wrong = (expected is True and verdict is not True) or (
                    isinstance(case.value, str) and verdict != expected
                )
            else:
                wrong = verdict != expected
            if wrong:
                per_judge[name] += 1
                problems.append(f"{case.where}: {name} says {verdict}, the reference {expected} ({verdicts})")
    return problems, per_judge


def report(judged: Judged, per_judge: Counter[str]) -> str:
    asked = Counter(name for _, verdicts in judged for name, v in verdicts.items() if v is not None)
    lines = [f"{len(judged)} payloads ({sum(1 for c, _ in judged if c.text is None)} not I-JSON)"]
    lines += [f"  {name:14} {asked[name]:5} judged, {per_judge[name]} disagreement(s)" for name in asked]
    return "\n".join(lines)


def test_every_validator_gives_one_verdict_per_value(
    result: BuildResult, out_dir: Path, models: Any, server_url: str
) -> None:
    reg = result.regulation
    assert reg is not None
    found = cases(reg)
    judged = judge_all(found, judges(reg, out_dir / "jsonschema", models, server_url))
    problems, per_judge = disagreements(judged)
    print("\n" + report(judged, per_judge))
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:40])
    # The table is not vacuous: it covers every packet and kind, and both verdicts occur.
    judgements = sum(1 for _, v in judged for x in v.values() if x is not None)
    assert 5_000 <= judgements <= 20_000, judgements
    assert {c.packet for c in found} == {p.name for p in reg.packets} | {"Login"}
    every_kind = {f.type.kind for r in (*reg.records, reg.envelope.request, reg.envelope.response) for f in r.fields}
    assert {c.field.type.kind for c in found} == every_kind
    assert {v["ajv"] for _, v in judged} == {True, False, None}
    assert all(v["ajv"] for c, v in judged if c.value == "(the valid example)")
    # The splits of issue 16, each now one verdict.
    for value, kind in (
        ("20240105083000\n", "datetime"),
        (RawNumber("1e-19"), "decimal"),
        (RawNumber("1e18"), "integer"),
    ):
        split = next(v for c, v in judged if c.value == value and c.field.type.kind == kind)
        assert {x for x in split.values() if x is not None} == {False}, (value, split)
    code = next(v for c, v in judged if c.value == RawNumber("2.0") and c.field.type.kind == "code")
    assert {x for x in code.values() if x is not None} == {True}, code


# -- the contract alone, the patterns, and bodies of strings ----------------------------------------
def schema_verdict(schema_dir: Path) -> Callable[[Case], bool]:
    """python-jsonschema's verdict on one case (the I-JSON payload; False when it is not I-JSON)."""
    judge = python_jsonschema(schema_dir)
    return lambda case: judge([case])[0] is True


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


def _as_the_wire_reads(case: Case) -> Any:
    """The body as the server's reading hands it to the contract (``5.0`` as ``5``), or None."""
    if case.text is None:
        return None
    try:
        return wire_reading(json.loads(case.text))
    except NotWireJson:
        return None


def test_the_server_contract_alone_agrees_with_the_schema(result: BuildResult, models: Any, out_dir: Any) -> None:
    """The contract the server enforces besides its models reads patterns as ECMA-262 too."""
    reg = result.regulation
    assert reg is not None
    document = json.loads((out_dir / "server" / "qcvn120_server" / "contract.json").read_text(encoding="utf-8"))
    contract = _contract_class()(document)
    schema = schema_verdict(out_dir / "jsonschema")
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
    kind=st.sampled_from(sorted(i.name for i in kinds.KINDS.values() if i.pattern is not None)),
    empty=st.booleans(),
    text=st.text(alphabet=st.sampled_from("0123456789٣３.%-+eE \n\r\t\u2028"), max_size=24),
)
def test_the_regex_engines_agree_on_every_wire_pattern(kind: str, empty: bool, text: str) -> None:
    """ECMA-262 (jsonschema-rs), Rust regex (pydantic), Python re with ``$`` as ``\\Z`` (qcvngen,
    fastjsonschema) on the pattern, and python-jsonschema at its defaults (Python ``re``, whose
    ``$`` also matches before a final newline) on the published string form with its "no newline":
    one verdict for any string."""
    from typing import Annotated

    import fastjsonschema
    from pydantic import Field as PydanticField
    from pydantic import TypeAdapter, ValidationError

    info = kinds.KINDS[kind]  # type: ignore[index]
    pattern = kinds.full_pattern(info, or_empty=empty)
    assert pattern is not None and wire.portable_pattern_problem(pattern) is None
    verdicts = {"qcvngen": wire.ecma_search(pattern, text)}
    verdicts["jsonschema-rs"] = jsonschema_rs.is_valid({"type": "string", "pattern": pattern}, text)
    published = kinds.text_schema(info, or_empty=empty)
    verdicts["python-jsonschema"] = jsonschema.Draft202012Validator(published).is_valid(text)
    verdicts["jsonschema-rs (published)"] = jsonschema_rs.is_valid(published, text)
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
                if key == "not":
                    assert value == wire.NO_NEWLINE, value  # the one unanchored pattern: "\n" anywhere
                    continue
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
    result: BuildResult, out_dir: Path, models: Any
) -> None:
    """The server skips its contract for a service marked ``exact_on_strings`` when ``read_object``
    vouches that every scalar of the body is a JSON string: on every such request of the value
    table and of the structural edits, the models' verdict must be the schema's."""
    from pydantic import ValidationError

    from qcvngen.runtime.server import limits, strictjson
    from qcvngen.runtime.server.refusals import Refused

    reg = result.regulation
    assert reg is not None
    schema = schema_verdict(out_dir / "jsonschema")
    payloads = [
        (c.packet, c.definition, c.where, c.payload)
        for c in cases(reg)
        if c.definition.endswith("Request") and not isinstance(c.value, RawNumber)
    ]
    payloads += list(_structural(reg))
    problems: list[str] = []
    judged = {True: 0, False: 0}
    for packet, definition, where, payload in payloads:
        try:
            body, strings_only, _ = strictjson.read_object(_as_sent(payload), limits.Limits())
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

"""`qcvngen conformance`: test vectors from the spec, run against any national-portal implementation.

Valid vectors must be accepted; each invalid vector breaks exactly one rule of one field (and cites
its table and row) and must be refused. Pushes use fresh dossier codes each run, so a vector is
refused for its own rule and not because it was sent before.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from . import ir, naming
from .examples import example_request
from .kinds import KINDS

if TYPE_CHECKING:
    import httpx

    from .payloads import PayloadValidator

# A value of the right JSON type that each kind refuses: the kind registry's own vector.
INVALID_VALUES = {name: info.invalid for name, info in KINDS.items() if info.invalid is not None}
# A valid value followed by a newline, for every kind with a pattern.
TRAILING_NEWLINE = {
    name: info.example + "\n" for name, info in KINDS.items() if info.pattern is not None and info.example is not None
}


@dataclass(frozen=True)
class Vector:
    """One request to send, the rule it breaks (or "valid"), its table/row, and the expected verdict."""

    id: str
    packet: str
    rule: str
    ref: str
    expect: str  # "accept" | "reject"
    body: dict[str, Any]
    description: str


@dataclass
class Outcome:
    """What the implementation answered to one vector, and whether that was the expected verdict."""

    vector: Vector
    passed: bool
    status: int
    error_code: str
    detail: str = ""


@dataclass
class Suite:
    """The outcomes of one run."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        """The outcomes that were not the expected verdict."""
        return [o for o in self.outcomes if not o.passed]


def _mutations(reg: ir.Regulation, f: ir.Field) -> Iterator[tuple[str, str, Any, str]]:
    """(vector name, rule, bad value or a marker to delete, description) for one field."""
    kind = f.type.kind
    if f.required:
        yield "required", "required", _MISSING, f"{f.wire_name} left out"
    if kind in INVALID_VALUES:
        yield kind, kind, INVALID_VALUES[kind], f"{f.wire_name} = {INVALID_VALUES[kind]!r}"
    if kind in TRAILING_NEWLINE:
        # JSON Schema patterns are ECMA-262: "$" is the end of the string. Python's re.search lets
        # "$" match before a final newline; an implementation validating that way accepts this.
        value = TRAILING_NEWLINE[kind]
        yield f"{kind}-newline", kind, value, f"{f.wire_name} = {value!r}, a valid value followed by a newline"
    if kind == "datetime":
        yield "type", "type", 20240105083000, f"{f.wire_name} sent as a JSON number"
        yield "iso", "datetime", "2024-01-05T08:30:00", f"{f.wire_name} as ISO 8601, not yyyyMMddHHmmss"
    if kind == "code" and reg.codelist(f.type.codelist or "").closed:
        yield "code", "code", "99999", f"{f.wire_name} = '99999', not a code of {f.type.codelist}"
    if kind == "string":
        yield "type", "type", 12, f"{f.wire_name} sent as a JSON number"
        if f.max_length:
            yield (
                "maxLength",
                "maxLength",
                "x" * (f.max_length + 1),
                f"{f.wire_name} longer than {f.max_length} characters",
            )
    if kind in ("record", "list") and not f.type.empty_string:
        yield "type", "type", "not a structure", f"{f.wire_name} sent as a string"


class _Missing:
    pass


_MISSING = _Missing()


def _set(target: dict[str, Any], name: str, value: Any) -> None:
    if isinstance(value, _Missing):
        target.pop(name, None)
    else:
        target[name] = value


class _Fresh:
    """Fresh dossier codes per run, so a vector is refused for its own rule, not as a repeat."""

    def __init__(self, run_id: str) -> None:
        self.run = run_id
        self.counter = iter(range(1, 10**9))
        self.dossier = f"CONF-{run_id}-DOSSIER"

    def __call__(self, packet: ir.Packet, body: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(body)
        for record in body.get("data", []):
            if packet.name == "DongBoHoSoMC":
                record["MaHoSo"] = f"CONF-{self.run}-{next(self.counter):05d}"
            elif "MaHoSo" in record:
                record["MaHoSo"] = self.dossier
        return body


def _packet_vectors(reg: ir.Regulation, packet: ir.Packet, fresh: _Fresh, madonvi: str) -> Iterator[Vector]:
    """The valid request of ``packet``, then one vector per broken rule of its records and parameters."""
    base = example_request(reg, packet, session="", madonvi=madonvi)
    if packet.name == "DongBoHoSoMC":
        base["isUpdating"] = "False"
    valid = fresh(packet, base)
    if packet.name == "DongBoHoSoMC":
        valid["data"][0]["MaHoSo"] = fresh.dossier  # the dossier later vectors refer to
    tables = f"Table {', '.join(map(str, packet.tables))}"
    yield Vector(f"{packet.name}.valid", packet.name, "valid", tables, "accept", valid, "a complete, valid request")
    record = reg.record(packet.data_record) if packet.data_record else None
    for f in record.fields if record else ():
        for name, rule, value, text in _mutations(reg, f):
            body = fresh(packet, base)
            _set(body["data"][0], f.wire_name, value)
            yield Vector(f"{packet.name}.{f.wire_name}.{name}", packet.name, rule, f.origin.ref, "reject", body, text)
    if record is not None and not record.open:
        body = fresh(packet, base)
        body["data"][0]["KhoaKhongCoTrongBang"] = "x"
        text = "a key the complete table does not have"
        yield Vector(
            f"{packet.name}.additionalProperties",
            packet.name,
            "additionalProperties",
            f"Table {record.table}",
            "reject",
            body,
            text,
        )
    for f in packet.params:
        for name, rule, value, text in _mutations(reg, f):
            body = fresh(packet, base)
            _set(body, f.wire_name, value)
            yield Vector(f"{packet.name}.{f.wire_name}.{name}", packet.name, rule, f.origin.ref, "reject", body, text)
    yield from _python_name_vectors(reg, packet, base, fresh)


def _python_name_vectors(
    reg: ir.Regulation, packet: ir.Packet, base: dict[str, Any], fresh: _Fresh
) -> Iterator[Vector]:
    """Keys in the models' Python names (``ma_ho_so``, ``is_updating``): the wire knows only the wire
    names, so an implementation that also reads Python names (pydantic's ``populate_by_name``)
    accepts what the schema refuses. Only where the schema refuses it: a required field renamed."""
    record = reg.record(packet.data_record) if packet.data_record else None
    if record is not None and any(f.required and f.py_name != f.wire_name for f in record.fields):
        names = {f.wire_name: f.py_name for f in record.fields}
        body = fresh(packet, base)
        body["data"][0] = {names.get(key, key): value for key, value in body["data"][0].items()}
        text = "every key of the record in the models' Python names (ma_ho_so …), not the wire names"
        yield Vector(
            f"{packet.name}.python-names", packet.name, "wire-names", f"Table {record.table}", "reject", body, text
        )
    for f in packet.params:
        if f.required and f.py_name != f.wire_name:
            body = fresh(packet, base)
            body[f.py_name] = body.pop(f.wire_name)
            text = f"{f.wire_name} sent under its Python name {f.py_name}"
            yield Vector(
                f"{packet.name}.{f.wire_name}.python-name",
                packet.name,
                "wire-names",
                f.origin.ref,
                "reject",
                body,
                text,
            )


def vectors(reg: ir.Regulation, *, madonvi: str, run_id: str | None = None) -> list[Vector]:
    """Every vector of the spec: per packet a valid request and one per broken rule, then the envelope's."""
    fresh = _Fresh(run_id or uuid.uuid4().hex[:8].upper())
    out: list[Vector] = []
    for packet in reg.packets:
        out.extend(_packet_vectors(reg, packet, fresh, madonvi))
    first = reg.packets[0]
    no_session = {
        **fresh(first, example_request(reg, first, session="", madonvi=madonvi)),
        "isUpdating": "False",
        "session": None,
    }
    out.append(
        Vector("envelope.session.required", first.name, "session", "envelope", "reject", no_session, "no session")
    )
    unknown = {"service": "KhongCoDichVuNay", "madonvi": madonvi}
    out.append(
        Vector("envelope.service.unknown", first.name, "service", "envelope", "reject", unknown, "an unknown service")
    )
    return out


# -- a local service (LocalServiceHandler): what the national portal calls on a ministry/province --
def local_vectors(reg: ir.Regulation, *, madonvi: str) -> list[Vector]:
    """Vectors of every local service: valid periods, then one broken rule of one parameter each.

    Name, path and parameters of these services are qcvngen's inference (the regulation names none),
    so every vector cites the spec's sources for them: what is tested is the generated contract."""
    out: list[Vector] = []
    for service in reg.envelope.local_services:
        ref = f"{service.name} ({'inference' if service.inference else 'regulation'})"
        base: dict[str, Any] = {"service": service.name, "madonvi": madonvi}
        base |= {f.wire_name: f.example for f in service.params if f.example is not None}
        valid = {
            "valid": (base, "a valid period (the spec's example)"),
            "valid-one-day": ({**base, **_period(service, "20240229000000", "20240229235959")}, "a leap day"),
            "valid-no-unit": ({k: v for k, v in base.items() if k != "madonvi"}, "madonvi left out (optional)"),
        }
        for name, (body, text) in valid.items():
            out.append(Vector(f"{service.name}.{name}", service.name, "valid", ref, "accept", body, text))
        for f in service.params:
            for name, rule, value, text in _mutations(reg, f):
                body = dict(base)
                _set(body, f.wire_name, value)
                out.append(
                    Vector(f"{service.name}.{f.wire_name}.{name}", service.name, rule, ref, "reject", body, text)
                )
            if f.py_name != f.wire_name:
                renamed = {**{k: v for k, v in base.items() if k != f.wire_name}, f.py_name: base.get(f.wire_name)}
                text = f"{f.wire_name} sent under its Python name {f.py_name}"
                out.append(
                    Vector(
                        f"{service.name}.{f.wire_name}.python-name",
                        service.name,
                        "wire-names",
                        ref,
                        "reject",
                        renamed,
                        text,
                    )
                )
        extra = {**base, "KhoaKhongCoTrongYeuCau": "x"}
        out.append(
            Vector(
                f"{service.name}.additionalProperties",
                service.name,
                "additionalProperties",
                ref,
                "reject",
                extra,
                "a key the request does not have",
            )
        )
        wrong = {**base, "service": "KhongCoDichVuNay"}
        out.append(
            Vector(f"{service.name}.service", service.name, "service", ref, "reject", wrong, "another service name")
        )
    return out


def _period(service: ir.LocalService, start: str, end: str) -> dict[str, str]:
    """``start`` and ``end`` under the service's two date-time parameters, in their order."""
    names = [f.wire_name for f in service.params if f.type.kind == "datetime"]
    return dict(zip(names, (start, end), strict=False))  # a service with one date: its start


def _answer_problem(validator: PayloadValidator, service: str, answer: Any) -> str:
    """Why an accepted call's answer is not the published ``<service>Response`` ("" when it is)."""
    if not isinstance(answer, dict) or str(answer.get("error_code")) != "0":
        return "error_code is not 0"
    findings = validator.validate_as("answer", naming.response_model(service), answer)
    errors = [f for f in findings if f.severity == "error"]
    return f"answer breaks {service}Response: {errors[0].path} {errors[0].rule}" if errors else ""


# Why the answer to a vector that must be accepted is no acceptance ("" when it is), given the
# vector's packet (or service), the HTTP status, the answer's error_code ("" if none) and the answer.
AcceptProblem = Callable[[str, int, str, Any], str]


def _exchange(http: httpx.Client, path: str, vector: Vector, body: dict[str, Any], accepted: AcceptProblem) -> Outcome:
    """Send one vector's ``body`` and judge the answer: the one post and verdict of every run.

    A vector that must be refused passes on a 4xx status or any error_code but 0 (a server error is
    no refusal); one that must be accepted passes when ``accepted`` finds no problem."""
    import httpx

    started = time.perf_counter()
    try:
        reply = http.post(path, json=body)
    except httpx.HTTPError as exc:
        return Outcome(vector, False, 0, "", f"transport error: {type(exc).__name__}")
    elapsed = f"{(time.perf_counter() - started) * 1000:.0f} ms"
    try:
        answer = reply.json()
    except ValueError:
        answer = None
    status = reply.status_code
    code = str(answer.get("error_code", "")) if isinstance(answer, dict) else ""
    if vector.expect == "accept":
        problem = accepted(vector.packet, status, code, answer)
        return Outcome(vector, not problem, status, code, problem or elapsed)
    passed = status < 500 and (status >= 400 or code not in ("", "0"))
    return Outcome(vector, passed, status, code, elapsed)


def run_local(
    reg: ir.Regulation,
    base_url: str,
    *,
    madonvi: str,
    paths: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Suite:
    """Send every local-service vector to an implementation of ``LocalServiceHandler`` (no login:
    the regulation names none) and record whether each got the expected verdict; an accepted call
    must answer error_code 0 with a result the published schema accepts."""
    import httpx

    from .payloads import PayloadValidator

    routes = {s.name: s.path for s in reg.envelope.local_services} | (paths or {})
    validator = PayloadValidator(reg)  # built once: its schema bundle and compiled checks
    suite = Suite()
    with httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False) as http:

        def accepted(service: str, status: int, code: str, answer: Any) -> str:
            return f"HTTP {status}" if status != 200 else _answer_problem(validator, service, answer)

        for vector in local_vectors(reg, madonvi=madonvi):
            suite.outcomes.append(_exchange(http, routes[vector.packet], vector, vector.body, accepted))
    return suite


def _portal_accepted(reg: ir.Regulation) -> AcceptProblem:
    """A portal accepts a push with error_code 0, a pull with any code but -1/-2 (its codes are not known)."""
    directions = {p.name: p.direction for p in reg.packets}

    def accepted(packet: str, status: int, code: str, answer: Any) -> str:
        if status >= 400:
            return "an acceptance has an HTTP status below 400"
        if directions[packet] == "push":
            return "" if code == "0" else "a push is accepted with error_code 0"
        return "" if code not in ("-1", "-2") else "a pull is accepted with any error_code but -1 and -2"

    return accepted


def run(
    reg: ir.Regulation,
    base_url: str,
    *,
    username: str,
    password: str,
    madonvi: str,
    paths: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Suite:
    """Log in at ``base_url``, send every vector, and record whether each got the expected verdict."""
    import httpx

    routes = {e.name: e.path for e in reg.envelope.endpoints} | (paths or {})
    endpoint_of = {p.name: p.endpoint for p in reg.packets}
    accepted = _portal_accepted(reg)
    suite = Suite()
    with httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False) as http:
        login = http.post(routes["auth"], json={"username": username, "password": password})
        session = login.json().get("session") if login.status_code == 200 else None
        if not session:
            raise ConnectionError(f"login failed (HTTP {login.status_code})")
        for vector in vectors(reg, madonvi=madonvi):
            body = dict(vector.body)
            if body.get("session", "") == "":
                body["session"] = session
            if body.get("session") is None:
                body.pop("session")
            path = routes[endpoint_of[vector.packet]]
            suite.outcomes.append(_exchange(http, path, vector, body, accepted))
    return suite


def summary(suite: Suite) -> str:
    """Pass/fail counts per packet and rule, then one line per failed vector."""
    rows: dict[tuple[str, str], list[int]] = {}
    for outcome in suite.outcomes:
        key = (outcome.vector.packet, outcome.vector.rule)
        counts = rows.setdefault(key, [0, 0])
        counts[0 if outcome.passed else 1] += 1
    lines = [f"{'packet':<32} {'rule':<22} {'pass':>5} {'fail':>5}"]
    for (packet, rule), (passed, failed) in sorted(rows.items()):
        lines.append(f"{packet:<32} {rule:<22} {passed:>5} {failed:>5}")
    total_failed = len(suite.failed)
    lines.append(f"{len(suite.outcomes) - total_failed} passed, {total_failed} failed")
    for outcome in suite.failed:
        v = outcome.vector
        answer = f"HTTP {outcome.status}, error_code {outcome.error_code or '-'} {outcome.detail}"
        lines.append(f"FAIL {v.id} [{v.ref}] expected {v.expect}: {v.description} -> {answer}")
    return "\n".join(lines)


def junit(suite: Suite) -> bytes:
    """The suite as a JUnit XML report (one test case per vector)."""
    root = ElementTree.Element(
        "testsuite", name="qcvngen-conformance", tests=str(len(suite.outcomes)), failures=str(len(suite.failed))
    )
    for outcome in suite.outcomes:
        v = outcome.vector
        case = ElementTree.SubElement(root, "testcase", classname=f"qcvn120.{v.packet}", name=f"{v.id} [{v.ref}]")
        if not outcome.passed:
            failure = ElementTree.SubElement(case, "failure", message=f"expected {v.expect}")
            failure.text = f"{v.description}: HTTP {outcome.status}, error_code {outcome.error_code or '-'}"
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))

"""The server runtime (generator/qcvngen/runtime/server), imported where it stands, and its copies.

These modules are copied verbatim into every generated ``qcvn120_server``; here they are tested as
ordinary modules: strict and bounded JSON reading, the request contract, the app factory with a
tiny handler of our own, the connection guard and the log limiter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict

from qcvngen.pipeline import BuildResult
from qcvngen.runtime.server import answers, factory, limits, native, serving, strictjson
from qcvngen.runtime.server import contract as contract_module
from qcvngen.runtime.server.contract import Contract, validate
from qcvngen.runtime.server.refusals import Refused, field_path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "generator" / "qcvngen" / "runtime" / "server"
LIMITS = limits.Limits()


def refusal(text: str, settings: limits.Limits = LIMITS) -> Refused:
    with pytest.raises(Refused) as caught:
        strictjson.parse_object(text, settings)
    return caught.value


# -- strict JSON ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": -Infinity}', "-Infinity is not valid JSON"),
        ('{"a": 1e400}', "out of range"),
        ('{"a": [-1e400]}', "out of range"),
        ('{"a": "\\ud800"}', "lone surrogate"),
        ('{"\\udfff": 1}', "lone surrogate"),
        ("[1]", "must be a JSON object"),
        ('{"a": 1', "invalid JSON"),
        ('{"a": ' + "9" * 5000 + "}", "too many digits"),
    ],
)
def test_strict_json_refuses_with_a_400_naming_the_problem(text: str, says: str) -> None:
    refused = refusal(text)
    assert refused.status == 400 and refused.error_code == "-1" and says in refused.message


def test_the_digit_bound_does_not_depend_on_the_process_setting() -> None:
    """An application that lifts Python's int() limit still gets the wire's bound."""
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        assert "too many digits" in refusal('{"a": -' + "9" * 5000 + "}").message
        assert strictjson.parse_object('{"a": ' + "9" * 4300 + "}", LIMITS) == {"a": int("9" * 4300)}
    finally:
        sys.set_int_max_str_digits(previous)


def test_non_finite_numbers_are_never_turned_into_null_or_infinity() -> None:
    """1e400 parses to inf in Python, which the sandbox would have stored as null (issue 9)."""
    for literal in ("1e400", "-1e400", "1E+999", "123456789e999"):
        assert "out of range" in refusal('{"x": ' + literal + "}").message
    assert strictjson.parse_object('{"x": 1e308, "y": 5.0, "z": -0.5}', LIMITS) == {"x": 1e308, "y": 5, "z": -0.5}


def test_messages_never_echo_values_or_odd_keys() -> None:
    secret = "Nguyễn Văn Bí Mật"
    for text in (f'{{"{secret}": 1, "{secret}": 2}}', f'{{"a": "{secret}", "a": 1}}', f'{{"k": "{secret}\\ud800"}}'):
        assert secret not in refusal(text).message
    assert field_path(["data", 0, secret, "x"]) == "data[0].<key>.x"


@pytest.mark.parametrize("escaped", [False, True])
def test_keys_and_strings_come_out_as_sent_until_judged(escaped: bool) -> None:
    """Keys and values as sent, so that a key and a length are judged as every JSON Schema reader
    judges them; ``nfc_values`` puts values (never keys, which could then collide) in NFC after."""
    nfd = "Nguye\u0302\u0303n"
    text = json.dumps({nfd: nfd, "list": [nfd]}, ensure_ascii=escaped)
    assert ("\\u" in text) is escaped
    parsed = strictjson.parse_object(text.encode(), LIMITS)
    assert parsed == {nfd: nfd, "list": [nfd]}
    assert strictjson.nfc_values(parsed) == {nfd: "Nguyễn", "list": ["Nguyễn"]}
    plain = {"a": "Nguyễn", "b": ["x", {"c": "y"}]}
    assert strictjson.nfc_values(plain) is plain  # nothing to change: the very same object
    twins = json.dumps({"Nguyễn": 1}, ensure_ascii=escaped)[:-1] + ", " + json.dumps({nfd: 2}, ensure_ascii=escaped)[1:]
    assert strictjson.parse_object(twins.encode(), LIMITS) == {"Nguyễn": 1, nfd: 2}  # two keys, as a schema reads


def test_strings_come_out_as_sent_and_whole_numbers_as_ints() -> None:
    parsed = strictjson.parse_object('{"a": "Nguye\\u0302\\u0303n", "b": [2.0, 2.5], "c": {"d": "plain"}}', LIMITS)
    assert parsed == {"a": "Nguye\u0302\u0303n", "b": [2, 2.5], "c": {"d": "plain"}} and isinstance(parsed["b"][0], int)
    assert strictjson.nfc_values(parsed)["a"] == "Nguyễn"


@pytest.mark.parametrize(
    ("text", "settings", "setting"),
    [
        ('{"a": {"b": {"c": 1}}}', limits.Limits(max_depth=2), "max_depth=2"),
        ('{"a": [1, 2, 3, 4]}', limits.Limits(max_list_items=3), "max_list_items=3"),
        ('{"a": {"x": 1, "y": 2, "z": 3}}', limits.Limits(max_object_keys=2), "max_object_keys=2"),
    ],
)
def test_each_structural_limit_is_named_in_its_refusal(text: str, settings: limits.Limits, setting: str) -> None:
    refused = refusal(text, settings)
    assert setting in refused.message and refused.status in (400, 413)
    assert strictjson.parse_object(text, LIMITS)  # within the defaults: accepted


# Bodies without \u escapes, which the plain way (no Python hook per object) reads: each must come
# out exactly as the careful way reads it, or be refused with the careful way's very message.
PLAIN_BODIES = [
    '{"a": "x", "b": {"c": ["y", "z"], "d": {}}, "e": []}',
    '{"a:b": "c:d", "e": ":::", "f": {"g:": [":"]}}',  # colons inside keys and strings
    '{"a": 1, "a": 2}',
    '{"a": {"b": "x", "c": {"d": 1, "d": 1}}}',  # a repeat deep down, with the same value
    '{"a": "x:y", "b": 1, "a": "x:y"}',
    '{"k:": 1, "k:": 2}',
    '{"Nguyễn": 1, "' + unicodedata.normalize("NFD", "Nguyễn") + '": 2}',  # NFC twins, written raw
    '{"a": [{"b": 1}, {"b": 2, "b": 3}]}',
    '{"a" : 1, "a": 2}',  # whitespace before a colon: the key count gives up
    '{"a"\n:1, "b"\t:{"c"\r:2, "c":3}}',
    '{"k\\\\": 1, "k\\\\": 2}',  # keys ending in an escaped backslash
    '{"a": "x\\":y", "a": "\\":"}',  # escaped quotes before colons inside strings
    '{"a\\":": "\\":\\":", "b": {"c\\"": ":"}}',
    '{"a": "\\\\\\":", "b": 1, "b": 2}',
    '{"k\\\\": 1, "a" : {"b": [2]}}',
    '{"a": 5.0, "b": -0.5, "c": 1e308, "d": true, "e": null, "f": false}',
    '{"a": 1e400}',
    '{"a": NaN}',
    '{"a": ' + "9" * 5000 + "}",
    '{"a": 1',
    "[1, 2]",
    '{"a": ' + "[" * 40 + "]" * 40 + "}",
    '{"a": [' + ", ".join(["1"] * 20) + "]}",
    '{"o": {' + ", ".join(f'"k{i}": {i}' for i in range(20)) + "}}",
    '{"o": {' + ", ".join(f'"k{i}": {i}' for i in range(20)) + ', "k3": 0}}',
]
SMALL = limits.Limits(max_depth=8, max_list_items=10, max_object_keys=10)


def _careful(text: str, settings: limits.Limits, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(strictjson, "_plain_parse", lambda *args: None)
        return _outcome(text, settings)


def _outcome(text: str, settings: limits.Limits) -> Any:
    try:
        return strictjson.read_object(text.encode(), settings)[0]
    except Refused as refused:
        return (refused.status, refused.message)


@pytest.mark.parametrize("settings", [LIMITS, SMALL], ids=["defaults", "small limits"])
@pytest.mark.parametrize("text", PLAIN_BODIES)
def test_the_plain_way_reads_exactly_as_the_careful_way(
    text: str, settings: limits.Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "\\u" not in text
    careful = _careful(text, settings, monkeypatch)
    assert _outcome(text, settings) == careful
    try:
        plain = strictjson._plain_parse(unicodedata.normalize("NFC", text), settings)
    except Refused as refused:  # refused by the plain way itself: with the careful way's message
        assert (refused.status, refused.message) == careful
        return
    assert plain is None or (plain[0] == careful and isinstance(careful, dict))


def test_repeated_keys_are_found_by_the_plain_way_itself() -> None:
    """Without the careful way behind it, the plain way still never takes a repeat (NFC twins too)."""
    nfd = unicodedata.normalize("NFD", "Nguyễn")
    repeats = ('{"a": 1, "a": 2}', '{"x": {"a": ":", "a": ":"}}', f'{{"Nguyễn": 1, "{nfd}": 2}}')
    odd = ('{"a" : 1, "a": 2}', '{"k\\\\": 1, "k\\\\": 2}', '{"a": "\\":", "a": "\\":"}')
    for text in (*repeats, *odd):
        assert strictjson._plain_parse(unicodedata.normalize("NFC", text), LIMITS) is None
    for taken in ('{"a": "x:", "b": {"a": "\\":"}}', '{"a:b": "c:d", "t": "08:30", "u": ["x"]}', PLAIN_BODIES[0]):
        assert strictjson._plain_parse(taken, LIMITS) is not None, taken
    assert strictjson._plain_parse('{"a": ":x"}', LIMITS) is not None  # no backslash: strings counted
    # With a backslash, keys are counted instead, and a string that starts with a colon counts as
    # one more key: declined, never a repeat missed.
    assert strictjson._plain_parse('{"a": ":x", "b": "\\n"}', LIMITS) is None


@pytest.mark.parametrize(
    ("text", "strings_only"),
    [
        ('{"a": "1", "b": ["x", {"c": ""}], "d": {}}', True),
        ('{"a": "1", "b": ["x", {"c": 1}]}', False),
        ('{"a": "1", "b": [2.5]}', False),
        ('{"a": "1", "b": {"c": true}}', False),
        ('{"a": "1", "b": [false]}', False),
        ('{"a": null}', False),
        ('{"a": "null", "b": ["true", "1"]}', True),
        ('{"a": "x\\n", "b": [{"c": "d"}]}', True),  # a backslash, no \\u escape: still read the plain way
        # Escapes, NFD: read the careful way, which learns it on its walk too.
        ('{"a": "\\u0031", "b": ["e\u0301", {"c": ""}]}', True),
        ('{"a": "\\u0031", "b": [{"c": 1}]}', False),
        ('{"a": "e\u0301", "b": [null]}', False),
    ],
)
def test_read_object_says_whether_every_scalar_is_a_string(text: str, strings_only: bool) -> None:
    assert strictjson.read_object(text, LIMITS)[1] is strings_only


@pytest.mark.parametrize(
    ("text", "in_nfc"),
    [
        ('{"a": "Nguyễn", "b": ["\\/\u0301", {"c": "\u0301x"}]}', True),  # read the plain way
        # The escape's letter composes with the accent in the text (n + ◌́ = ń): text not in NFC, the
        # careful way; the value it holds (a newline, then the accent) is.
        ('{"a": "\\n\u0301"}', True),
        ('{"a": "n\\u0301"}', False),  # a \\u escape: the careful way, which tells as well
        ('{"a": "Nguy\\u1ec5n", "b": ["\\u00e9", {"c": "x"}]}', True),  # escapes, every string in NFC
        ('{"a": "Nguy\\u1ec5n", "b": ["x", {"c": "e\\u0301"}]}', False),  # the last one is not
        ('{"\\u00e9": "x", "e\\u0301": "y"}', True),  # keys stay as sent: only values count
        ('{"a": "Nguye\u0302\u0303n"}', False),  # text not in NFC: the careful way
    ],
)
def test_read_object_says_when_every_string_is_in_nfc(text: str, in_nfc: bool) -> None:
    """A body read the plain way (NFC text, no ``\\u`` escape) has only NFC strings, so the walk
    that puts them in NFC after judging is skipped: it would hand back the very same object."""
    read = strictjson.read_object(text, LIMITS)
    assert read.in_nfc is in_nfc
    assert (strictjson.nfc_values(read.data) is read.data) is in_nfc


def test_the_node_budget_is_an_upper_bound_counted_without_parsing() -> None:
    wide = b'{"z": [' + b"{}," * 999 + b"{}]}"
    assert strictjson.node_bound(wide) >= 1 + 1 + 1000  # the object, the list, its items
    with pytest.raises(Refused) as caught:
        strictjson.check_node_budget(wide, limits.Limits(max_json_nodes=1000))
    assert caught.value.status == 413 and "max_json_nodes=1000" in caught.value.message
    strictjson.check_node_budget(wide, limits.Limits(max_json_nodes=2003))


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        limits.Limits(max_batch=0)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('{"session": "abc", "data": [{"session": "def"}]}', ("abc", "def")),
        ('{"session" :  "abc"}', ("abc",)),
        ('{"data": []}', ()),
        ('{"sess\\u0069on": "abc"}', ("abc",)),  # the key spelled with an escape
        ('{"\\u0073\\u0065\\u0073\\u0073\\u0069\\u006F\\u006e"\n:\t"a\\/b\\u0063"}', ("a/bc",)),
        ('{"data": "x\\"session\\": \\"y\\"", "session": "real"}', ("real",)),  # quoted, not a member
        ('{"data": [], "session": "Nguye\u0302n"}', ("Nguye\u0302n",)),  # as sent, as the parse gives it
        ('{"session": "x" , "session" : "x"}', ("x",)),
        ('{"session": 5}', ()),  # not a string: no live session
        ('{"session": "' + "a" * 1025 + '"}', ()),  # longer than MAX_SESSION_BYTES: never a session
        ("[" + ", ".join(['{"session": "x"}'] * 65) + "]", None),  # too many members to look at
    ],
)
def test_session_candidates_find_the_top_level_session_however_spelled(
    text: str, found: tuple[str, ...] | None
) -> None:
    assert strictjson.session_candidates(text.encode(), LIMITS) == found


# Look-alikes of a session member: in strings, longer keys, odd spacing, escapes, members cut off.
SESSION_LOOKALIKES = [
    b'{"session":"a","data":[{"session" :\t"b"},{"sessions":"c"},{"x":"\\"session\\":\\"d\\""}]}',
    b'{"session""session":"e","k":"session","session":"session":"f"}',
    b'{"session": "' + b"g" * 1030 + b'", "session": "h"}',
    b'{"sess\\u0069on": "i", "session": "j\\n", "z": "\\u0073ession"}',
    b'["session", "session": , "session":"k"' + b', {"session": "l"}' * 3 + b"]",
    b'{"session":"m"' + b" " * 70 + b', "session"' + b" " * 70 + b':"n"}',
]


@pytest.mark.parametrize("raw", SESSION_LOOKALIKES)
def test_the_session_search_finds_what_the_regex_alone_finds(raw: bytes) -> None:
    """Where a range holds no backslash, only the literal ``"session"`` positions are tried: the
    same members as the regex trying every position, over every range a growing body is scanned by."""
    for start in range(0, len(raw), 7):
        for end in range(start, len(raw) + 1, 11):
            fast = [m.span() for m in strictjson._session_members(raw, start, end)]
            regex = [m.span() for m in strictjson._SESSION_MEMBER.finditer(raw, start, end)]
            assert fast == regex, (start, end)
    assert any(strictjson._SESSION_MEMBER.finditer(raw))


def test_session_candidates_refuse_more_quotes_than_the_node_budget_can_hold() -> None:
    """The regex engine tries a match at each quote: their number is bounded first, by one count."""
    budget = limits.Limits(max_json_nodes=1000)
    strictjson.session_candidates(b'["' + b'","' * 1999 + b'"]', budget)  # 4,000 quotes: fine
    with pytest.raises(Refused) as caught:
        strictjson.session_candidates(b'["' + b'","' * 2000 + b'"]', budget)
    assert caught.value.status == 413 and "max_json_nodes=1000" in caught.value.message


# -- the contract ----------------------------------------------------------------------------------
DOCUMENT: dict[str, Any] = {
    "components": {
        "schemas": {
            "LoginRequest": {
                "type": "object",
                "required": ["username", "password"],
                "properties": {"username": {"type": "string", "maxLength": 20}, "password": {"type": "string"}},
                "additionalProperties": False,
            },
            "EchoRequest": {
                "type": "object",
                "required": ["session", "madonvi", "service", "data"],
                "properties": {
                    "session": {"type": "string"},
                    "madonvi": {"type": "string"},
                    "service": {"const": "Echo"},
                    "data": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "properties": {"Ma": {"type": "string", "pattern": "^[0-9]{3}$"}}},
                    },
                },
            },
        }
    }
}


def test_the_contract_names_paths_and_rules_never_values() -> None:
    contract = Contract(DOCUMENT)
    body = {"session": "s", "madonvi": "u", "service": "Echo", "data": [{"Ma": "Nguyễn 12"}]}
    errors = contract.errors(body, "EchoRequest")
    assert errors == ["data[0].Ma: sai định dạng — does not match the required format"]
    assert contract.errors({**body, "data": [{"Ma": "123"}]}, "EchoRequest") == []
    assert "must be at most" not in " ".join(contract.errors({"username": "x" * 21, "password": "p"}, "LoginRequest"))
    too_long = contract.errors({"username": "x" * 21, "password": "p"}, "LoginRequest")
    # validate-data's words (the generated table's, here its fallback), with the bound.
    assert too_long == ["username: dài quá số ký tự tối đa — longer than the maximum length (20)"], too_long


# -- the app factory with a handler of our own -----------------------------------------------------
class Login(BaseModel):
    username: str
    password: str


class EchoRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    Ma: str


class Echo(BaseModel):
    session: str
    madonvi: str
    service: str
    data: list[EchoRecord]


class Portal:
    def __init__(self) -> None:
        self.session_lookups = 0
        self.stored: list[Echo] = []

    def login(self, username: str, password: str) -> str | None:
        return "good-session" if (username, password) == ("u", "p") else None

    def account_for_session(self, session: str) -> answers.Account | None:
        self.session_lookups += 1
        return answers.Account("u", "000.00.00.G05") if session == "good-session" else None

    def echo(self, request: Echo, context: answers.CallContext) -> answers.Answer:
        self.stored.append(request)
        return answers.Answer(message=f"{len(request.data)} stored", result=[{"Ma": r.Ma} for r in request.data])


def portal_app(portal: Portal, exact_on_strings: bool = False, **settings: Any) -> Any:
    services = {"Echo": factory.Service("Echo", "integration", "echo", Echo, "EchoRequest", exact_on_strings)}
    return factory.build_portal_app(
        portal,
        services=services,
        paths={"auth": "/auth", "integration": "/integration"},
        login_model=Login,
        served_document=json.dumps(DOCUMENT).encode(),
        limits=limits.Limits(**settings),
        logger=logging.getLogger("test_server_runtime"),
    )


def send(app: Any, path: str, content: bytes, content_type: str = "application/json") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.invalid") as client:
            return await client.post(path, content=content, headers={"content-type": content_type})

    return asyncio.run(go())


def body(**fields: Any) -> bytes:
    return json.dumps({"session": "good-session", "madonvi": "000.00.00.G05", "service": "Echo", **fields}).encode()


def test_the_factory_serves_login_and_a_service_end_to_end() -> None:
    app = portal_app(Portal())
    login = send(app, "/auth", b'{"username": "u", "password": "p"}')
    assert login.status_code == 200 and login.json()["session"] == "good-session"
    assert send(app, "/auth", b'{"username": "u", "password": "x"}').status_code == 401
    reply = send(app, "/integration", body(data=[{"Ma": "123"}]))
    assert reply.status_code == 200 and reply.json() == {
        "error_code": "0",
        "message": "1 stored",
        "result": [{"Ma": "123"}],
    }
    refused = send(app, "/integration", body(data=[{"Ma": "12"}]))
    assert refused.status_code == 400 and "data[0].Ma" in refused.json()["message"]
    assert send(app, "/integration", body(data=[]), content_type="text/plain").status_code == 415


def test_the_contract_is_skipped_only_for_models_marked_exact_and_bodies_of_strings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Echo's model is looser than its schema on strings, so it must never be marked exact: marked
    anyway, a body of strings only gets the model's verdict alone, and any other body the
    contract's. Whichever way the body is read: the native scan's (a plain body, ``\\u`` escapes
    included) or the careful way's (it learns the same on its walk: escapes, NFD text)."""
    marked = portal_app(Portal(), exact_on_strings=True)
    with_a_number = body(data=[{"Ma": "12", "n": 1}])
    for scan in (native.scan, None):
        monkeypatch.setattr(native, "scan", scan)
        for strings in (body(data=[{"Ma": "12"}]), body(data=[{"Ma": "12", "t": "Nguye\u0302\u0303n"}])):
            assert send(marked, "/integration", strings).status_code == 200  # the model's verdict
        refused = send(marked, "/integration", with_a_number)
        assert refused.status_code == 400 and "data[0].Ma" in refused.json()["message"]
    unmarked = portal_app(Portal())
    assert send(unmarked, "/integration", body(data=[{"Ma": "12"}])).status_code == 400


# Strings NFC leaves alone, and strings it changes: combining marks, Hangul jamo, a singleton.
_NFC_STRINGS = ("abc", "Nguyễn", "\u00e9", "\ud55c", "", "x\ny")
_NOT_NFC = ("Nguye\u0302\u0303n", "e\u0301", "n\u0301", "\u1100\u1161", "\u212b")


def _escaped_body(chooser: random.Random) -> bytes:
    """An Echo request written with ``\\u`` escapes (the careful way): NFC and NFD values and keys,
    nested lists and objects in the records' extra fields, now and then its ``Ma`` key escaped,
    always its service."""
    pool = _NFC_STRINGS if chooser.random() < 0.5 else _NFC_STRINGS + _NOT_NFC

    def value(depth: int) -> Any:
        kind = chooser.randrange(3 if depth < 3 else 1)
        if kind == 1:
            return [value(depth + 1) for _ in range(chooser.randrange(4))]
        if kind == 2:
            return {chooser.choice(pool) + str(i): value(depth + 1) for i in range(chooser.randrange(3))}
        return chooser.choice(pool)

    records = [
        {"Ma": f"{i:03d}", **{chooser.choice(pool) + f"k{j}": value(0) for j in range(chooser.randrange(4))}}
        for i in range(chooser.randrange(1, 6))
    ]
    text = json.dumps({"session": "s", "madonvi": chooser.choice(pool), "service": "Echo", "data": records})
    if chooser.random() < 0.3:
        text = text.replace('"Ma"', '"\\u004da"')
    return text.replace('"Echo"', '"\\u0045cho"').encode()  # an escape in every body


def test_the_careful_way_tells_nfc_and_validation_then_gives_what_the_second_walk_gave() -> None:
    """Bodies with escapes: read_object says whether every string value is in NFC exactly when
    nfc_values would hand back the very same object, and the request validated with that
    knowledge equals the one validated after the walk (as before), values in NFC either way."""
    contract = Contract(DOCUMENT)
    chooser = random.Random(120)
    told = {True: 0, False: 0}
    for _ in range(300):
        raw = _escaped_body(chooser)
        assert b"\\u" in raw
        read = strictjson.read_object(raw, LIMITS)
        assert read.in_nfc is (strictjson.nfc_values(read.data) is read.data), raw
        told[read.in_nfc] += 1
        now = validate(Echo, read.data, contract, "EchoRequest", in_nfc=read.in_nfc)
        walked = validate(Echo, strictjson.read_object(raw, LIMITS).data, contract, "EchoRequest", in_nfc=False)
        assert now == walked and now.model_dump() == walked.model_dump(), raw
        assert strictjson.nfc_values(now.model_dump()) == now.model_dump(), "handed over in NFC"
    assert min(told.values()) > 50, told  # both answers were given, many times


def test_a_body_with_escapes_all_in_nfc_is_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the app: no nfc_values walk after parsing for a body whose escaped strings are all in
    NFC; one for a body that holds a string NFC changes (which then reaches the handler in NFC)."""
    walks: list[Any] = []
    real = strictjson.nfc_values  # the function contract.validate calls

    def counted(data: Any) -> Any:
        walks.append(data)
        return real(data)

    monkeypatch.setattr(contract_module, "nfc_values", counted)
    portal = Portal()
    app = portal_app(portal)
    nfc = body(data=[{"Ma": "123", "t\u00ean": ["Nguy\u1ec5n", {"x": "\u00e9"}]}])
    assert b"\\u1ec5" in nfc  # json.dumps escapes: the careful way
    assert send(app, "/integration", nfc).json()["message"] == "1 stored"
    assert walks == []
    nfd = body(data=[{"Ma": "123", "t\u00ean": ["Nguye\u0302\u0303n", {"x": "\u00e9"}]}])
    assert send(app, "/integration", nfd).json()["message"] == "1 stored"
    assert len(walks) == 1
    assert portal.stored[-1].data[0].model_extra == {"t\u00ean": ["Nguy\u1ec5n", {"x": "\u00e9"}]}


def test_a_large_request_with_a_dead_session_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's wide body: 401 after a native scan; json.loads is never called."""
    parses: list[int] = []
    real = json.loads

    def counting_loads(*args: Any, **kwargs: Any) -> Any:
        if len(args[0]) > 100_000:  # the wide body, not a small answer read by the test
            parses.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(json, "loads", counting_loads)  # the module strictjson parses with
    portal = Portal()
    app = portal_app(portal, max_json_nodes=100_000)
    wide = b'{"session":"bad","madonvi":"x","service":"Echo","z":[' + b"{}," * 200_000 + b"{}]}"
    reply = send(app, "/integration", wide)
    assert reply.status_code == 401 and reply.json()["error_code"] == "-2"
    assert parses == [] and portal.session_lookups == 1
    # Without any session string: 401 too, unparsed.
    reply = send(app, "/integration", wide.replace(b'"session":"bad",', b""))
    assert reply.status_code == 401 and parses == []
    # The key and value spelled with escapes (issue 18): found all the same, 401 unparsed.
    escaped = wide.replace(b'"session":"bad"', b'"sess\\u0069on" :\n "b\\u0061d"')
    reply = send(app, "/integration", escaped)
    assert reply.status_code == 401 and parses == [] and portal.session_lookups == 2
    # More session members than the scan looks at: 401, unparsed.
    crowded = wide.replace(b'"z":[', b'"z":[' + b'{"session":"x"},' * 65)
    reply = send(app, "/integration", crowded)
    assert reply.status_code == 401 and "more than 64 session members" in reply.json()["message"]
    assert parses == []
    # A live session spelled with escapes is found: on to the node budget, still unparsed.
    live = wide.replace(b'"session":"bad"', b'"\\u0073ession":"good-\\u0073ession"')
    reply = send(app, "/integration", live)
    assert reply.status_code == 413 and "max_json_nodes" in reply.json()["message"] and parses == []
    # A live session: still refused unparsed by the node budget; with a larger one, parsed and
    # refused by the structural limits (413, naming the setting) after one parse, not two.
    reply = send(app, "/integration", wide.replace(b'"bad"', b'"good-session"'))
    assert reply.status_code == 413 and "max_json_nodes" in reply.json()["message"] and parses == []
    reply = send(portal_app(portal), "/integration", wide.replace(b'"bad"', b'"good-session"'))
    assert reply.status_code == 413 and "max_list_items" in reply.json()["message"] and parses == [1]


class Blocking(Portal):
    """A portal whose calls wait until released: what a slow handler or a busy worker looks like."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def echo(self, request: Echo, context: answers.CallContext) -> answers.Answer:
        self.entered.release()
        self.release.wait(timeout=30)
        return super().echo(request, context)


async def _entered(portal: Blocking) -> None:
    """Until the handler has been entered once more (polled: the handler runs in a thread)."""
    for _ in range(3000):
        if portal.entered.acquire(blocking=False):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the handler was never entered")


def test_a_login_is_answered_while_every_call_worker_is_busy() -> None:
    """Logins have a lane of their own (issue 18): calls holding every worker never queue them."""
    portal = Blocking()
    app = portal_app(portal, max_parallel=1)

    async def go() -> tuple[int, bool, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.invalid") as client:
            headers = {"content-type": "application/json"}
            calls = [
                asyncio.create_task(client.post("/integration", content=body(data=[{"Ma": "123"}]), headers=headers))
                for _ in range(3)
            ]
            await _entered(portal)
            login = await client.post("/auth", content=b'{"username": "u", "password": "p"}', headers=headers)
            waiting = not any(call.done() for call in calls)
            portal.release.set()
            answered = [(await call).status_code for call in calls]
            return login.status_code, waiting, answered.count(200)

    assert asyncio.run(go()) == (200, True, 3)


def test_large_bodies_wait_for_room_in_the_buffer_budget() -> None:
    """``max_buffered_bytes``: a large body waits for room before it is read, a small one never
    waits, and one that finds no room within ``body_timeout`` gets 503 naming the setting."""
    portal = Blocking()
    large = body(data=[{"Ma": "123", "x": "y" * 80_000}])
    app = portal_app(portal, max_buffered_bytes=100_000, body_timeout=0.5)

    async def go() -> tuple[int, int, int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.invalid") as client:
            headers = {"content-type": "application/json"}
            first = asyncio.create_task(client.post("/integration", content=large, headers=headers))
            await _entered(portal)
            crowded = await client.post("/integration", content=large, headers=headers)
            second = asyncio.create_task(client.post("/integration", content=large, headers=headers))
            small_task = asyncio.create_task(
                client.post("/integration", content=body(data=[{"Ma": "123"}]), headers=headers)
            )
            await _entered(portal)  # the small call, never the second large one
            entered_before_release = not second.done()
            portal.release.set()
            small = await small_task
            return (await first).status_code, crowded.status_code, small.status_code, int(entered_before_release)

    first, crowded, small, waited = asyncio.run(go())
    assert (first, small, waited) == (200, 200, 1)
    assert crowded == 503


def test_a_refused_large_body_is_freed_at_once() -> None:
    """The frames of a refusal's traceback hold the body in a cycle; they are let go at once,
    not at the next full garbage collection (issue 18: 30 refused 8 MB bodies held 230 MB)."""
    import gc
    import tracemalloc

    app = portal_app(Portal())
    wide = b'{"session":"bad","madonvi":"x","service":"Echo","z":[' + b"{}," * 700_000 + b"{}]}"
    send(app, "/integration", wide)  # warm-up: imports and caches
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        status = send(app, "/integration", wide).status_code
        # The worker thread lets go of its arguments just after handing the answer back.
        for _ in range(500):
            held, _ = tracemalloc.get_traced_memory()
            if held < len(wide) // 2:
                break
            time.sleep(0.01)
    finally:
        tracemalloc.stop()
        gc.enable()
    assert status == 401 and held < len(wide) // 2, held


def test_size_batch_and_login_limits_are_named() -> None:
    app = portal_app(Portal(), max_body_bytes=1000, max_batch=2, max_login_bytes=100)
    too_big = send(app, "/integration", body(data=[{"Ma": "123", "x": "y" * 2000}]))
    assert too_big.status_code == 413 and "max_body_bytes=1000" in too_big.json()["message"]
    batch = send(app, "/integration", body(data=[{"Ma": "123"}] * 3))
    assert batch.status_code == 413 and "max_batch=2" in batch.json()["message"]
    login = send(app, "/auth", json.dumps({"username": "u", "password": "p" * 200}).encode())
    assert login.status_code == 413 and "max_login_bytes=100" in login.json()["message"]


def test_a_failing_handler_gets_an_incident_id_and_the_work_runs_off_the_loop() -> None:
    import threading

    threads: list[str] = []

    class Failing(Portal):
        def echo(self, request: Echo, context: answers.CallContext) -> answers.Answer:
            threads.append(threading.current_thread().name)
            raise RuntimeError("secret value 123")

    reply = send(portal_app(Failing()), "/integration", body(data=[{"Ma": "123"}]))
    assert reply.status_code == 500 and re.search(r"incident [0-9a-f]{12}", reply.json()["message"])
    assert "secret" not in reply.text and threads and threads[0] != threading.main_thread().name


# -- serving: the connection guard and the log limiter ----------------------------------------------
def test_the_log_limiter_lets_a_burst_through_then_counts() -> None:
    limiter = serving.RateLimitFilter(burst=3, interval=3600)
    records = [
        logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "socket.accept() out of system resource", None, None)
        for _ in range(1000)
    ]
    assert sum(limiter.filter(r) for r in records) == 3
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "another message", None, None)
    assert limiter.filter(other)
    debug = [
        logging.LogRecord("asyncio", logging.DEBUG, __file__, 1, "socket.accept() out of system resource", None, None)
        for _ in range(100)
    ]
    assert all(limiter.filter(r) for r in debug), "debug lines are never dropped"


def test_the_connection_cap_never_exceeds_the_descriptor_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert serving.fd_bounded(10**9) <= max(1, soft - serving.FD_HEADROOM)
    assert serving.fd_bounded(5) == 5
    protocol = serving.guarded_protocol(header_timeout=2.5, max_connections=7)
    assert protocol.header_timeout == 2.5 and protocol.max_connections <= 7


# -- the copies in the generated package -----------------------------------------------------------
def test_every_runtime_module_is_copied_verbatim_after_the_header(result: BuildResult) -> None:
    modules = sorted(p for p in RUNTIME.glob("*.py") if p.name != "__init__.py")
    assert len(modules) >= 7
    for module in modules:
        copy = result.files[PurePosixPath("server/qcvn120_server") / module.name]
        first, rest = copy.split("\n", 1)
        assert first.startswith("# Generated by qcvngen") and rest == module.read_text(encoding="utf-8"), module.name


def test_runtime_modules_import_only_siblings_relatively() -> None:
    for module in RUNTIME.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) (qcvngen|qcvn120_)", text, re.MULTILINE), module.name


def non_blank(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_no_server_template_is_a_module_in_disguise() -> None:
    """Issue 10: no template over 80 non-blank lines with more than 60% of them free of Jinja."""
    templates = sorted((ROOT / "templates" / "server").rglob("*.jinja"))
    assert templates and not (ROOT / "templates/server/qcvn120_server/app.py.jinja").exists()
    for template in templates:
        lines = non_blank(template)
        static = [line for line in lines if not re.search(r"{{|{%|{#", line)]
        assert len(lines) <= 80 or len(static) <= 0.6 * len(lines), (template.name, len(lines), len(static))


def test_the_generated_server_works_under_another_package_name(out_dir: Path, tmp_path: Path, models: Any) -> None:
    """Vendored as ``my_portal_stubs``: relative imports only, so it imports and serves."""
    shutil.copytree(out_dir / "server" / "qcvn120_server", tmp_path / "my_portal_stubs")
    script = """
import asyncio, sys, httpx, my_portal_stubs as s
class P(s.PortalHandler):
    def login(self, username, password): return "t" if password == "p" else None
    def account_for_session(self, session): return None
for name in set(s.PortalHandler.__abstractmethods__) - {"login", "account_for_session"}:
    setattr(P, name, lambda self, *a: None)
P.__abstractmethods__ = frozenset()
async def go():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=s.create_app(P())), base_url="http://x") as c:
        a = await c.post("/auth", json={"username": "u", "password": "p"})
        b = await c.post("/integration", json={"session": "t", "madonvi": "m", "service": "DongBoHoSoMC", "data": []})
        print(a.status_code, a.json().get("session", a.text), b.status_code, s.services.__name__, "qcvn120_server" in sys.modules)
asyncio.run(go())
"""
    env_path = f"{tmp_path}:{out_dir / 'python'}"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path},
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["200", "t", "401", "my_portal_stubs.services", "False"]


def test_large_buffers_go_back_to_the_system_where_glibc_allows() -> None:
    has_glibc = Path("/lib/x86_64-linux-gnu/libc.so.6").exists() or Path("/usr/lib/x86_64-linux-gnu/libc.so.6").exists()
    assert serving.return_large_buffers() is has_glibc


def test_the_sandbox_runs_on_its_own_build_of_the_spec_never_a_generated_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issues 10 and 19: the sandbox imports the packages it built from the spec it serves, never the
    committed generated/ nor whatever ./generated the working folder holds."""
    from qcvngen.sandbox import runtime as sandbox_runtime
    from support.paths import ROOT, SPEC

    planted = tmp_path / "generated" / "server" / "qcvn120_server"
    planted.mkdir(parents=True)
    (planted / "services.py").write_text("raise SystemExit('picked up from the working folder')\n")
    monkeypatch.chdir(tmp_path)
    served = sandbox_runtime.load(SPEC)
    for module in (served.services, served.handler, served.models, served.serving):
        where = Path(module.__file__ or "").resolve()
        assert where.is_relative_to(served.root.resolve()), f"{module.__name__} imported from {where}"
        assert not where.is_relative_to((ROOT / "generated").resolve())
        assert not where.is_relative_to(tmp_path.resolve())


@pytest.mark.parametrize(
    "text",
    [
        "plain\n\nArgs:\n    x: y",
        'quotes """ and \\ and \\"',
        'ends with a quote"',
        "\\",
        "bidi \u202e here",
        "nul \x00",
        "cr \r lf",
        "ls \u2028",
        '"""); import os #',
    ],
)
def test_handler_docstrings_carry_spec_text_and_never_change_the_code(text: str) -> None:
    import ast
    import inspect

    from qcvngen.render import py_docstring

    literal = py_docstring(text, 8)
    source = f"def f():\n        {literal}\n        return 1\n"
    tree = ast.parse(source)
    body = tree.body[0].body  # type: ignore[attr-defined]
    assert len(body) == 2 and isinstance(body[1], ast.Return), "the text stayed one string"
    assert inspect.cleandoc(ast.literal_eval(literal)).strip() == inspect.cleandoc(text).strip()
    assert not any(ch in literal for ch in "\x00\r\u202e\u2028"), "hidden characters are escaped"


def test_the_app_moves_what_lives_at_startup_out_of_the_collectors_way() -> None:
    """gc.freeze at startup: full collections set off by a large request no longer walk the
    modules, models and compiled schemas (bench/RESULTS.md: a third of the server's CPU)."""
    import gc

    app = portal_app(Portal())

    async def started() -> int:
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        assert asyncio.run(started()) > 1000
    finally:
        gc.unfreeze()


def test_the_app_collects_the_young_generation_less_often_never_more() -> None:
    """A large request's live objects are walked by the collector a few times, not dozens
    (bench/RESULTS.md): the young threshold is raised at startup, never lowered, and collection
    turned off by the application stays off."""
    import gc

    from qcvngen.runtime.server.factory import GC_YOUNG_THRESHOLD

    app = portal_app(Portal())

    def started_with(threshold: tuple[int, int, int]) -> tuple[int, ...]:
        gc.set_threshold(*threshold)

        async def started() -> tuple[int, ...]:
            async with app.router.lifespan_context(app):
                return tuple(gc.get_threshold())

        return asyncio.run(started())

    saved = gc.get_threshold()
    try:
        assert started_with((700, 10, 10)) == (GC_YOUNG_THRESHOLD, 10, 10)
        assert started_with((10 * GC_YOUNG_THRESHOLD, 5, 5)) == (10 * GC_YOUNG_THRESHOLD, 5, 5)
        assert started_with((0, 10, 10)) == (0, 10, 10)
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()


def test_a_full_batch_is_read_validated_and_stored_without_the_collector(tmp_path: Path) -> None:
    """At the young threshold the app sets, a 1,000-record DongBoHoSoMC request shaped as OpenCPS
    sends it is read, validated and stored by the sandbox without the collector running once: it
    holds fewer containers at its peak than GC_YOUNG_THRESHOLD and frees them by reference
    counting (bench/RESULTS.md: at 20,000 the collector ran a few times per request, ~4.5 ms)."""
    import gc

    from qcvngen.sandbox import create_sandbox_app
    from support.portal_calls import opencps_dossier

    app, _ = create_sandbox_app(tmp_path / "state.sqlite3")

    def batch(session: str, prefix: str) -> bytes:
        data = [opencps_dossier(f"{prefix}-{n:04d}") for n in range(1000)]
        envelope = {"session": session, "madonvi": "000.00.00.G05", "service": "DongBoHoSoMC"}
        return json.dumps({**envelope, "isUpdating": "False", "data": data}, ensure_ascii=False).encode()

    async def measured() -> tuple[httpx.Response, list[int]]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://portal.invalid") as client:
                login = await client.post("/auth", json={"username": "sandbox", "password": "sandbox"})
                warm, timed = (batch(login.json()["session"], prefix) for prefix in ("WARM", "GC"))
                headers = {"content-type": "application/json"}
                assert (await client.post("/integration", content=warm, headers=headers)).status_code == 200
                runs: list[int] = []

                def seen(phase: str, info: dict[str, int]) -> None:
                    if phase == "start":
                        runs.append(info["generation"])

                gc.collect()
                gc.callbacks.append(seen)
                try:
                    reply = await client.post("/integration", content=timed, headers=headers)
                finally:
                    gc.callbacks.remove(seen)
                return reply, runs

    saved = gc.get_threshold()
    try:
        reply, runs = asyncio.run(measured())
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()
    assert reply.json()["error_code"] == "0", reply.json()
    assert runs == []


def test_a_python_name_stays_an_unknown_key_whatever_form_the_other_strings_are_in() -> None:
    """The model is read again from the NFC form of a body whose strings were not in NFC: by wire
    names too, or a Python-name key would fill its field only when some other string was decomposed."""
    from pydantic import BaseModel, ConfigDict, Field

    from qcvngen.runtime.server import contract as contract_module

    class Record(BaseModel):
        model_config = ConfigDict(populate_by_name=True, extra="allow")
        ma: str | None = Field(None, alias="Ma")
        text: str | None = Field(None, alias="T")

    for text in ("e", "e\u0301"):  # already NFC, and a decomposed é
        parsed = contract_module.validate(Record, {"ma": "X", "T": text}, Contract(DOCUMENT), None)
        assert parsed.ma is None and parsed.model_extra == {"ma": "X"}, text
        assert parsed.text == unicodedata.normalize("NFC", text)

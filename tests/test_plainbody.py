"""The native scan of request bodies (generator/speedups/qcvn120_speedups.c) and the short way it
opens through the generated server (runtime/server/plainbody.py).

The scan only ever says "plain" or "look again": so what must hold is that it says "plain" exactly
when its rules say (a reference written here in Python, differential over generated and mutated
bodies), that "plain" is sound (such a body is strict JSON of strings only, in NFC, no key
repeated, and its records are its ``data`` items), and that a server reading the short way gives
the careful way's verdict, answer and stored records (two real sandboxes, one with the scan
switched off, sent the same bodies).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcvngen.examples import example_request
from qcvngen.runtime.server import native as native_helpers
from qcvngen.runtime.server import plainbody, strictjson
from qcvngen.runtime.server.limits import Limits
from qcvngen.sandbox.runtime import Served
from support.paths import ROOT
from support.portal_calls import MADONVI, login, opencps_dossier
from support.sandbox_process import Sandbox, start_sandbox, view_all

Scan = Callable[[bytes, int, int, int], Any]
HOOK = ROOT / "generator" / "speedups" / "build_hook.py"
# The scan's own bounds (qcvn120_speedups.c): deeper nesting or more keys go the careful way.
MAX_NEST = 64
MAX_KEYS = 64
# The characters the scan takes as they are (qcvn120_speedups.c, nfc_inert): proven inert below.
INERT_RANGES = ((0x80, 0x2FF), (0x1E00, 0x1EFF), (0x2010, 0x2027), (0x2030, 0x205E), (0x20A0, 0x20C0))
VIETNAMESE = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """qcvn120_speedups compiled from the current source, every compiler warning an error."""
    hook = _load(HOOK, "qcvngen_build_hook")
    target = tmp_path_factory.mktemp("speedups") / ("qcvn120_speedups" + sysconfig.get_config_var("EXT_SUFFIX"))
    built = subprocess.run(hook.compile_command(hook.SOURCE, target, strict=True), capture_output=True, text=True)
    assert built.returncode == 0, f"qcvn120_speedups.c does not compile cleanly:\n{built.stderr}"
    return _load(target, "qcvn120_speedups")


@pytest.fixture(scope="session")
def native(compiled: Any) -> Scan:
    scan: Scan = compiled.scan
    return scan


# -- the reference: the scan's rules, written again in Python -------------------------------------
class _NotPlain(Exception):
    pass


def _inert(code: int) -> bool:
    return any(low <= code <= high for low, high in INERT_RANGES)


class _Reference:
    def __init__(self, raw: bytes, max_depth: int, max_items: int, max_keys: int) -> None:
        self.raw = raw
        self.depth_limit = min(max_depth - 1, MAX_NEST)
        self.max_items = max_items
        self.max_keys = min(max_keys, MAX_KEYS)
        self.data: tuple[int, int] | None = None
        self.records: list[bytes] | None = []

    def ws(self, at: int) -> int:
        while at < len(self.raw) and self.raw[at] in b" \t\n\r":
            at += 1
        return at

    def byte(self, at: int) -> int:
        if at >= len(self.raw):
            raise _NotPlain
        return self.raw[at]

    def string(self, at: int, key: bool) -> int:
        at += 1
        while True:
            c = self.byte(at)
            if c == ord('"'):
                return at + 1
            if c == ord("\\"):
                if key or self.byte(at + 1) not in b'"\\/bfnrtu':
                    raise _NotPlain
                if self.raw[at + 1] == ord("u"):
                    digits = self.raw[at + 2 : at + 6]
                    if len(digits) != 4 or any(d not in b"0123456789abcdefABCDEF" for d in digits):
                        raise _NotPlain
                    if int(digits, 16) >= 0x80 and not _inert(int(digits, 16)):
                        raise _NotPlain
                    at += 4
                at += 2
            elif c < 0x20:
                raise _NotPlain
            elif c < 0x80:
                at += 1
            else:
                at = self.character(at)

    def character(self, at: int) -> int:
        lead = self.raw[at]
        size = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 0
        tail = self.raw[at + 1 : at + size]
        if not size or len(tail) != size - 1 or any(b & 0xC0 != 0x80 for b in tail):
            raise _NotPlain
        code = lead & (0x1F if size == 2 else 0x0F)
        for b in tail:
            code = code << 6 | b & 0x3F
        if (size == 3 and code < 0x800) or not _inert(code):
            raise _NotPlain
        return at + size

    def value(self, at: int, depth: int) -> int:
        c = self.byte(at)
        if c == ord("{"):
            return self.object(at, depth)
        if c == ord("["):
            return self.array(at, depth, False)
        if c == ord('"'):
            return self.string(at, False)
        raise _NotPlain

    def object(self, at: int, depth: int, top: bool = False) -> int:
        if depth >= self.depth_limit:
            raise _NotPlain
        keys: list[bytes] = []
        at = self.ws(at + 1)
        if self.byte(at) == ord("}"):
            return at + 1
        while True:
            if self.byte(at) != ord('"'):
                raise _NotPlain
            end = self.string(at, True)
            key = self.raw[at + 1 : end - 1]
            if key in keys or len(keys) == self.max_keys:
                raise _NotPlain
            keys.append(key)
            at = self.ws(end)
            if self.byte(at) != ord(":"):
                raise _NotPlain
            at = self.ws(at + 1)
            if top and key == b"data" and self.byte(at) == ord("["):
                start = at
                at = self.array(at, depth + 1, True)
                self.data = (start, at)
            else:
                at = self.value(at, depth + 1)
            at = self.ws(at)
            if self.byte(at) == ord(","):
                at = self.ws(at + 1)
            elif self.byte(at) == ord("}"):
                return at + 1
            else:
                raise _NotPlain

    def array(self, at: int, depth: int, is_data: bool) -> int:
        if depth >= self.depth_limit:
            raise _NotPlain
        items = 0
        at = self.ws(at + 1)
        if self.byte(at) == ord("]"):
            return at + 1
        while True:
            items += 1
            if items > self.max_items:
                raise _NotPlain
            start = at
            at = self.value(at, depth + 1)
            if is_data and self.records is not None:
                self.records = [*self.records, self.raw[start:at]] if self.raw[start] == ord("{") else None
            at = self.ws(at)
            if self.byte(at) == ord(","):
                at = self.ws(at + 1)
            elif self.byte(at) == ord("]"):
                return at + 1
            else:
                raise _NotPlain

    def scan(self) -> Any:
        if self.depth_limit <= 0 or self.max_keys < 0:
            return None
        try:
            at = self.ws(0)
            if self.byte(at) != ord("{"):
                return None
            if self.ws(self.object(at, 0, True)) != len(self.raw):
                return None
        except _NotPlain:
            return None
        if self.data is None or self.records is None:
            return None  # no records to cut out: the careful way's business
        return (strictjson.node_bound(self.raw), *self.data, self.records)


def reference_scan(raw: bytes, max_depth: int, max_items: int, max_keys: int) -> Any:
    return _Reference(raw, max_depth, max_items, max_keys).scan()


# -- bodies: JSON-like text, written every way JSON allows (and a few it does not) ----------------
CHARACTERS = 'aaaaZ0999 _-.,:{}[]"\\/\b\n\t\x01\x7fé' + "e\u0301" + "Åđ中😀\u2028ƯạỆ–€₫" + "\u212b\u0344"
KEYS = ["a", "b", "data", "session", "", "é", "e\u0301", "MaHoSo"]
SPACE = st.sampled_from(["", "", "", " ", "\n  ", "\t", "\r\n"])


@st.composite
def json_string(draw: st.DrawFn, text: str | None = None) -> str:
    # Short strings, and long ones (the scan skips plain runs 16 bytes at a time).
    size = draw(st.sampled_from([6, 6, 6, 48]))
    text = draw(st.text(alphabet=CHARACTERS, max_size=size)) if text is None else text
    out = []
    for char in text:
        way = draw(st.sampled_from(["as is", "as is", "as is", "short", "u"]))
        short = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
        if way == "u" or (char < " " and char not in short and draw(st.booleans())):
            out.append(json.dumps(char)[1:-1] if ord(char) > 0xFFFF else f"\\u{ord(char):04x}")
        elif char in short and (way == "short" or char in '"\\' or char < " "):
            out.append(short[char])
        else:
            out.append(char)  # a raw control character included: not JSON, which the scan must see
    return '"' + "".join(out) + '"'


@st.composite
def json_value(draw: st.DrawFn, depth: int = 0) -> str:
    kinds = ["string", "string", "other"] + (["object", "array"] if depth < 4 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "string":
        return draw(json_string())
    if kind == "other":
        return draw(st.sampled_from(["1", "-0.5e3", "true", "false", "null", "NaN", "'x'", "01"]))
    if kind == "array":
        items = draw(st.lists(json_value(depth + 1), max_size=4))
        return "[" + ",".join(draw(SPACE) + item + draw(SPACE) for item in items) + "]"
    return draw(json_object(depth + 1))


@st.composite
def json_object(draw: st.DrawFn, depth: int = 0, top: bool = False) -> str:
    members = []
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=5)):
        if top and key == "data" and draw(st.booleans()):
            items = draw(st.lists(st.one_of(json_object(depth + 1), json_value(depth + 1)), max_size=4))
            value = "[" + ",".join(draw(SPACE) + item for item in items) + draw(SPACE) + "]"
        else:
            value = draw(json_value(depth))
        members.append(draw(json_string(key)) + draw(SPACE) + ":" + draw(SPACE) + value)
    return "{" + draw(SPACE) + ("," + draw(SPACE)).join(members) + draw(SPACE) + "}"


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    raw = (draw(SPACE) + draw(json_object(top=True)) + draw(SPACE)).encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from(["none", "none", "none", "cut", "byte"]))
    if mutation == "cut" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif mutation == "byte" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    return raw


LIMITS = st.tuples(
    st.sampled_from([1, 2, 3, 4, 32]), st.sampled_from([0, 1, 2, 10_000]), st.sampled_from([0, 1, 3, 1000])
)


# -- the scan's verdicts ----------------------------------------------------------------------------
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=bodies(), limits=LIMITS)
def test_the_scan_says_plain_exactly_when_its_rules_do(native: Scan, raw: bytes, limits: tuple[int, int, int]) -> None:
    assert native(raw, *limits) == reference_scan(raw, *limits)


def _strings_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(map(_strings_only, value.values()))
    if isinstance(value, list):
        return all(map(_strings_only, value))
    return isinstance(value, str) and unicodedata.is_normalized("NFC", value)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    assert len({key for key, _ in pairs}) == len(pairs), "a repeated key passed as plain"
    return dict(pairs)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=bodies())
def test_a_plain_body_is_strict_json_of_strings_in_nfc_and_its_records_are_its_data(native: Scan, raw: bytes) -> None:
    found = native(raw, 32, 10_000, 1000)
    if found is None:
        return
    data = json.loads(raw, object_pairs_hook=_unique_keys)
    assert isinstance(data, dict) and _strings_only(data)
    bound, start, end, records = found
    assert bound == strictjson.node_bound(raw)
    assert [json.loads(record) for record in records] == data["data"]
    assert json.loads(raw[:start] + b"[]" + raw[end:]) == {**data, "data": []}


def test_a_body_escaped_as_dotnet_writes_it_is_plain_unless_an_escape_could_change_under_nfc(native: Scan) -> None:
    """System.Text.Json's default encoder writes every non-ASCII character as ``\\uXXXX``."""
    record = opencps_dossier("X-1")
    escaped = json.dumps({"data": [record]}, ensure_ascii=True).encode()
    assert b"\\u1" in escaped and native(escaped, 32, 10_000, 1000) is not None
    decomposed = {**record, "ChuHoSo": unicodedata.normalize("NFD", record["ChuHoSo"])}
    assert native(json.dumps({"data": [decomposed]}, ensure_ascii=True).encode(), 32, 10_000, 1000) is None
    assert native(b'{"data":[{"a":"\\u00e9\\u0041"}]}', 32, 10_000, 1000) is not None
    for refused in (b'"\\ud83d\\ude00"', b'"\\ud800"', b'"\\u0301"', b'"\\u00e"'):
        assert native(b'{"data":[{"a":' + refused + b"}]}", 32, 10_000, 1000) is None, refused
    assert native(b'{"data":[{"\\u0061":"x"}]}', 32, 10_000, 1000) is None  # an escape in a key


def test_every_character_the_scan_takes_as_is_is_inert_under_nfc(native: Scan) -> None:
    """Soundness of the table: a character taken as is must be NFC of itself, of canonical class 0
    and never the second of a canonical pair (so it composes with nothing before it)."""
    seconds = set()
    for code in range(0x110000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(int(parts[1], 16))
    taken = []
    for code in [*range(0x80, 0xD800), *range(0xE000, 0x10000)]:
        char = chr(code)
        if native(json.dumps({"data": [{"k": char}]}, ensure_ascii=False).encode(), 32, 10, 10) is not None:
            taken.append(code)
            assert unicodedata.combining(char) == 0 and unicodedata.normalize("NFC", char) == char, hex(code)
            assert code not in seconds, hex(code)
    assert taken == [code for code in range(0x80, 0x10000) if _inert(code)]
    for letter in VIETNAMESE + VIETNAMESE.upper():
        assert native(json.dumps({"data": [{"k": letter}]}, ensure_ascii=False).encode(), 32, 10, 10) is not None, (
            letter
        )


def test_the_installed_scan_is_this_source_compiled(native: Scan) -> None:
    """The server uses the module pip built: it must be there (a C compiler is), and current."""
    module = native_helpers.load()
    assert module is not None, "qcvn120_speedups is not installed: reinstall qcvngen (pip install -e .) with gcc"
    body = json.dumps({"data": [opencps_dossier("X-1"), {"a": "đ\n"}], "z": ["é"]}, ensure_ascii=False).encode()
    for raw in (body, body.replace(b"\\n", b"\\u000a"), body[:-1], body.replace(b'"X-1"', b"1")):
        assert module.scan(raw, 32, 10_000, 1000) == native(raw, 32, 10_000, 1000)


HAYSTACK = st.binary(max_size=80) | st.lists(
    st.sampled_from([b'"', b'"session"', b"\\", b"a" * 13, b"\xc3\xa9", b"s"])
).map(b"".join)


@settings(max_examples=1000, deadline=None)
@given(raw=HAYSTACK, start=st.integers(0, 90), size=st.integers(0, 200))
def test_the_native_count_and_search_are_pythons(compiled: Any, raw: bytes, start: int, size: int) -> None:
    """What the session scan counts and looks for as a body arrives (strictjson.SessionScan)."""
    end = start + size
    for byte in (0x22, 0x5C, 0x73):
        assert compiled.count_byte(raw, byte, start, end) == raw.count(bytes([byte]), start, end)
    for needle in (b'"session"', b'"s', b"aa"):
        assert compiled.find_all(raw, needle, start, end) == list(strictjson._find_each(raw, needle, start, end))


@pytest.mark.slow
@pytest.mark.parametrize("compiler", ["", "false"])
def test_the_wheel_carries_the_scan_when_a_compiler_builds_it_and_is_pure_python_otherwise(
    tmp_path: Path, compiler: str
) -> None:
    scratch, out = tmp_path / "tmp", tmp_path / "wheel"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), **({"CC": compiler} if compiler else {})}
    wheel_of = ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)]
    built = subprocess.run(
        [sys.executable, "-m", "pip", *wheel_of], env=env, capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stderr
    assert list(scratch.glob("qcvngen-speedups-*")) == []  # the hook's own folder is gone
    (wheel,) = out.glob("qcvngen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    native = [name for name in names if name.startswith("qcvn120_speedups")]
    if compiler:
        assert wheel.name.endswith("-py3-none-any.whl") and native == []
    else:
        assert not wheel.name.endswith("-none-any.whl"), wheel.name
        assert native == ["qcvn120_speedups" + sysconfig.get_config_var("EXT_SUFFIX")]


def test_the_hooks_folder_goes_when_the_build_fails_after_it_ran(tmp_path: Path) -> None:
    """Hatchling calls finalize only after a wheel is written: a build that fails after the hook's
    initialize (here: an error raised right after it) still leaves no folder of the hook's behind."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from build_hook import SpeedupsHook\n"
        "class App:\n"
        "    def display_warning(self, text): print(text)\n"
        "hook = SpeedupsHook(sys.argv[2], {}, None, None, sys.argv[2], 'wheel', App())\n"
        "hook.initialize('standard', {'force_include': {}})\n"
        "print('made', hook._folder, flush=True)\n"
        "raise RuntimeError('hatchling failed after the hook')\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "CC": "false"}  # no compile needed to make the folder
    ran = subprocess.run(
        [sys.executable, "-c", script, str(HOOK.parent), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "hatchling failed after the hook" in ran.stderr and "made " in ran.stdout
    assert Path(ran.stdout.split("made ", 1)[1].split()[0]).parent == tmp_path
    assert list(tmp_path.glob("qcvngen-speedups-*")) == []


@pytest.mark.slow
def test_the_scan_reads_no_byte_it_does_not_own_under_address_and_undefined_behaviour_sanitizers(
    tmp_path: Path,
) -> None:
    """It reads request bodies from anyone: built with AddressSanitizer and UBSan (every finding
    fatal), it is driven over 20,000 mutated bodies and past every bound in a process of its own."""
    hook = _load(HOOK, "qcvngen_build_hook")
    target = tmp_path / ("qcvn120_speedups" + sysconfig.get_config_var("EXT_SUFFIX"))
    sanitizers = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]
    command = [*hook.compile_command(hook.SOURCE, target, strict=True), *sanitizers]
    built = subprocess.run(command, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    runtime = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    assert Path(runtime).is_file(), "gcc's AddressSanitizer runtime (libasan) is not installed"
    env = {**os.environ, "LD_PRELOAD": runtime, "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"}
    fuzz = ROOT / "tests" / "support" / "scan_fuzz.py"
    ran = subprocess.run(
        [sys.executable, str(fuzz), str(tmp_path), "20000"], env=env, capture_output=True, text=True, timeout=900
    )
    assert ran.returncode == 0 and "20000 bodies" in ran.stdout, ran.stderr[-3000:]
    assert "Sanitizer" not in ran.stderr and "runtime error" not in ran.stderr, ran.stderr[-3000:]


def test_limits_beyond_what_the_scans_integers_hold_read_the_same(
    compiled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create_app(max_object_keys=2**31) must not turn a plain body into an error."""
    monkeypatch.setattr(native_helpers, "scan", compiled.scan)
    body = json.dumps({"data": [opencps_dossier("X-1")]}, ensure_ascii=False).encode()
    huge = Limits(max_depth=2**31, max_list_items=2**63, max_object_keys=2**31)
    assert plainbody.read_plain(body, huge) == plainbody.read_plain(body, Limits())


def test_a_module_of_another_contract_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native_helpers, "CONTRACT", native_helpers.CONTRACT + 1)
    assert native_helpers.load() is None


def test_the_switch_turns_the_scan_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native_helpers.SWITCH, "off")
    assert native_helpers.load() is None


def test_every_push_of_the_spec_reads_the_short_way_and_its_records_as_sent_are_its_records(served: Served) -> None:
    """Each push's example request (every field with an example, nested records filled), three
    records long: plain, read the short way to the very model the careful way reads, and each record
    as sent is the JSON the serialiser writes of it (what the sandbox would otherwise store)."""
    package = served.services.__package__
    plainbody = importlib.import_module(f"{package}.plainbody")
    limits = importlib.import_module(f"{package}.limits").Limits()
    pushes = [p for p in served.regulation.packets if p.data_record is not None]
    assert len(pushes) >= 8
    for packet in pushes:
        service = served.services.SERVICES[packet.name]
        body = example_request(served.regulation, packet)
        body["data"] = body["data"] * 3
        raw = json.dumps(body, ensure_ascii=False).encode()
        plain = plainbody.read_plain(raw, limits)
        assert plain is not None, packet.name
        short = plainbody.validate_plain(service.request, raw)
        careful = service.request.model_validate(json.loads(raw), by_alias=True, by_name=False)
        assert short is not None and short == careful, packet.name
        for sent, record in zip(plain.records, short.data, strict=True):
            serialised = record.model_dump_json(by_alias=True, exclude_unset=True)
            assert json.loads(sent) == json.loads(serialised), packet.name


# -- the server: the short way and the careful way give one verdict --------------------------------
@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Sandbox]]:
    """Two sandboxes with the same accounts: the scan on, and switched off."""
    account = ("--account", f"opencps:secret-pw:{MADONVI}", "--account", "other:pw2:000.00.00.H22")
    short = start_sandbox(tmp_path_factory.mktemp("short") / "state.sqlite3", *account)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(native_helpers.SWITCH, "off")
        careful = start_sandbox(tmp_path_factory.mktemp("careful") / "state.sqlite3", *account)
    yield short, careful
    short.stop()
    careful.stop()


def _request(session: str, records: list[Any], **more: Any) -> dict[str, Any]:
    return {
        "session": session,
        "madonvi": MADONVI,
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": records,
        **more,
    }


def _bodies(session: str, other: str) -> list[bytes]:
    """Valid and refused bodies, each written the short way can read and ways it must leave alone."""

    def dump(value: Any, **options: Any) -> bytes:
        return json.dumps(value, **{"ensure_ascii": False, **options}).encode()

    batch = [opencps_dossier(f"PB-{n}") for n in range(3)]
    escaped = opencps_dossier("PB-esc")
    escaped["GhiChu"] = 'dòng 1\ndòng 2 / "trích"'
    decomposed = opencps_dossier("PB-nfd")
    decomposed["ChuHoSo"] = unicodedata.normalize("NFD", decomposed["ChuHoSo"])
    shuffled = dict(reversed(list(opencps_dossier("PB-order").items())))
    numbers = {**opencps_dossier("PB-num"), "LoaiDoiTuong": 1}
    extra = {**opencps_dossier("PB-extra"), "KhongCo": "x"}
    missing = {k: v for k, v in opencps_dossier("PB-missing").items() if k != "TenTTHC"}
    nested_session = {**opencps_dossier("PB-ses"), "session": session}
    many = [{"MaHoSo": f"M-{n}"} for n in range(1001)]
    python_name = {("ma_tthc" if k == "MaTTHC" else k): v for k, v in opencps_dossier("PB-py").items()}
    repeated = dump(_request(session, [opencps_dossier("PB-dup")])).replace(
        b'"MaTTHC"', b'"MaHoSo": "PB-dup2", "MaTTHC"', 1
    )
    return [
        dump(_request(session, batch)),
        dump(_request(session, batch)),  # -3: already held
        dump(_request(session, batch, isUpdating="True"), indent=2),  # an update, pretty-printed
        dump(_request(session, [escaped])),
        dump(_request(session, [{**escaped, "MaHoSo": "PB-esc2"}]), ensure_ascii=True),  # \u-escaped: short way
        dump(_request(session, [decomposed])),  # NFD text: the careful way, stored in NFC
        dump(_request(session, [{**decomposed, "MaHoSo": "PB-nfd2"}]), ensure_ascii=True),  # escaped NFD: careful
        dump(_request(session, [shuffled])),
        dump(_request(session, [numbers])),
        dump(_request(session, [extra])),
        dump(_request(session, [missing])),
        dump(_request(session, [nested_session])),
        dump(_request(session, many)),  # over max_batch
        dump(_request(session, [])),
        dump(_request(session, ["not a record"])),
        dump(_request(session, [opencps_dossier("PB-twice"), opencps_dossier("PB-twice")])),  # -1
        dump({**_request(session, [opencps_dossier("PB-top")]), "unknown": "x"}),
        dump(_request("dead-session", [opencps_dossier("PB-dead")])),
        dump({**_request(other, [opencps_dossier("PB-other")])}),  # another unit's session: 401
        dump({**_request(session, [opencps_dossier("PB-svc")]), "service": "DongBoHoSoMc"}),
        repeated,
        dump(_request(session, [python_name])),  # a field under its Python name: refused
        dump(_request(session, [opencps_dossier("PB-ok")]), separators=(",", ":")),
    ]


def test_the_short_way_gives_the_careful_ways_verdicts_answers_and_stored_records(
    sandboxes: tuple[Sandbox, Sandbox],
) -> None:
    answers: list[list[tuple[int, Any]]] = []
    for sandbox in sandboxes:
        base = sandbox.base_url
        sent = _bodies(login(base), login(base, "other", "pw2"))
        replies = [
            httpx.post(f"{base}/integration", content=body, headers={"content-type": "application/json"}, timeout=30)
            for body in sent
        ]
        answers.append([(reply.status_code, reply.json()) for reply in replies])
    short, careful = answers
    for index, (mine, theirs) in enumerate(zip(short, careful, strict=True)):
        assert mine == theirs, f"body {index}"
    codes = [answer.get("error_code") for _, answer in short]
    assert codes == ["0", "-3", "0", "0", "0", "0", "0", "0", "0", *["-1"] * 8, "-2", "-2", "-1", "-1", "-1", "0"]
    stored = [
        sorted(
            (
                {k: v for k, v in item.items() if k != "updated"}
                for item in view_all(s.base_url, "/sandbox/api/dossiers", "dossiers")
            ),
            key=lambda item: item["MaHoSo"],
        )
        for s in sandboxes
    ]
    assert stored[0] == stored[1]
    assert len(stored[0]) == 10
    # Stored as sent by the short way (keys in the order written), serialised by the careful way.
    written = list(reversed(list(opencps_dossier("PB-order"))))
    orders = [list(next(i for i in items if i["MaHoSo"] == "PB-order")["record"]) for items in stored]
    assert orders[0] == written
    assert orders[1] != written


def test_open_records_keep_and_report_unknown_keys_the_same_either_way(
    sandboxes: tuple[Sandbox, Sandbox], served: Served
) -> None:
    """The sandbox is handed its requests as PlainRequests on the short way (reads_plain_requests,
    plainrequest.py): records of open tables (every push but DongBoHoSoMC's and its progress's)
    keep and report unknown keys, the records nested in them keep theirs in the record as sent, as
    the careful way does. (No dossier is pushed: the test before counts them.)"""
    reg = served.regulation
    opened = [
        p for p in reg.packets if p.data_record is not None and p.name not in ("DongBoHoSoMC", "CapNhatTienDoHoSoMC")
    ]
    assert opened
    replies: list[list[tuple[int, Any]]] = []
    for sandbox in sandboxes:
        base, answers = sandbox.base_url, []
        session = login(base)
        for packet in opened:
            body = example_request(reg, packet, session=session, madonvi=MADONVI)
            record = {key: _nested_unknown_key(value) for key, value in body["data"][0].items()}
            if packet.name == "DongBoDanhGia":  # its opinions: records, or "" (a union the reader follows)
                record["DanhSachNoiDungYKien"] = [{"MaThuTuc": "3.1", "KhoaLong": "c"}]
            body["data"] = [{**record, "KhoaMoi": "a"}, {"AKhac": "b", **record}]
            reply = httpx.post(f"{base}/integration", json=body, timeout=30)
            answers.append((reply.status_code, reply.json()))
        stored = [view_all(base, f"/sandbox/api/records/{p.name}", "records") for p in opened]
        answers.append((0, [[{k: v for k, v in r.items() if k != "received"} for r in records] for records in stored]))
        replies.append(answers)
    short, careful = replies
    assert short == careful
    reported = [answer for status, answer in short[: len(opened)] if status == 200 and answer["error_code"] == "0"]
    assert reported and all("data[0].KhoaMoi" in a["message"] and "data[1].AKhac" in a["message"] for a in reported)
    kept = json.dumps(short[-1][1], ensure_ascii=False)
    assert kept.count('"KhoaLong"') >= 2, (
        "a nested record's unknown key, kept in the record as sent (the view masks its value)"
    )


def _nested_unknown_key(value: Any) -> Any:
    """A record's field value with an unknown key added to each record it holds."""
    if isinstance(value, list):
        return [{**item, "KhoaLong": "c"} if isinstance(item, dict) else item for item in value]
    if isinstance(value, dict):
        return {**value, "KhoaLong": "c"}
    return value

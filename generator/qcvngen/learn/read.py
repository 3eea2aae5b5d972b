"""Read capture files (JSON Lines) and raw answer files into capture lines, with located errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime.shared.capture import CAPTURE_KINDS, DIRECTIONS, FORMAT, JSON_TYPES, MAX_CODE_LENGTH, build_line

SUFFIXES = (".jsonl", ".json")
_REQUIRED = ("packet", "endpoint", "direction", "date", "records", "keys")
_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_]{0,79}|\*)(?:\[\])*"
_PATH = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})*$")
_DATE = re.compile(r"^(?:[0-9]{4}-[0-9]{2}(?:-[0-9]{2})?)?$")
# A date in a raw answer file's name: 2026-11-30, 2026_11_30, 20261130 or a month 2026-11.
_NAME_DATE = re.compile(r"(?<![0-9])(20[0-9]{2})[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(0[1-9]|[12][0-9]|3[01]))?(?![0-9])")
# Longest capture line read (a line is never larger than the message it describes).
MAX_LINE_BYTES = 64 * 1024 * 1024


class LearnInputError(Exception):
    """A capture or answer file that cannot be read; the message says where and what."""


@dataclass(frozen=True)
class Capture:
    """One capture line and where it came from (``file:line``)."""

    where: str
    line: dict[str, Any]
    text: str = ""  # the line as read (its fingerprint); "" for a line built from a raw answer


def read_inputs(
    paths: Iterable[Path],
    *,
    packet: str | None = None,
    code_paths: Callable[[str], set[str]] | None = None,
    endpoint: Callable[[str], str] | None = None,
    packets: Iterable[str] = (),
    wire_names: Iterable[str] = (),
) -> Iterator[Capture]:
    """Every capture in ``paths`` (files, or folders searched for *.jsonl and *.json), in path order,
    one at a time: a capture file is streamed line by line, never held whole.

    A raw answer ``{error_code, message, result}`` needs a packet: ``packet``, or else a file name
    that starts with one of ``packets`` (``LayThuTuc.2026-11-30.json``). It is turned into a
    capture line on the spot, with ``code_paths(packet)`` and ``endpoint(packet)`` from the spec,
    and dated by its file name when the name holds a date (``answer_date``).
    """
    known, names = set(packets), frozenset(wire_names)
    files = _files(paths)  # every path checked before the first line is read
    for file in files:
        if file.suffix == ".jsonl":
            yield from _read_jsonl(file)
        else:
            named = packet or _packet_from_name(file, known)
            yield _read_json(file, named, code_paths, endpoint, names)


def answer_date(file: Path) -> str:
    """The day (``YYYY-MM-DD``) or month (``YYYY-MM``) a raw answer file's name gives, or ""."""
    found = _NAME_DATE.search(file.name)
    if found is None:
        return ""
    year, month, day = found.groups()
    return f"{year}-{month}" + (f"-{day}" if day else "")


def _packet_from_name(file: Path, packets: set[str]) -> str | None:
    stem = re.split(r"[.\-_ ]", file.name, maxsplit=1)[0]
    return stem if stem in packets else None


def _files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
            if not found:
                raise LearnInputError(f"{path}: no *.jsonl or *.json file in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise LearnInputError(f"{path}: no such file or folder")
    return files


def _text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LearnInputError(f"{file}: cannot read: {exc}") from None


def _read_jsonl(file: Path) -> Iterator[Capture]:
    try:
        handle = file.open("rb")
    except OSError as exc:
        raise LearnInputError(f"{file}: cannot read: {exc}") from None
    with handle:
        number = 0
        while True:
            try:
                raw = handle.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:
                raise LearnInputError(f"{file}: cannot read: {exc}") from None
            if not raw:
                return
            number += 1
            where = f"{file}:{number}"
            if len(raw) > MAX_LINE_BYTES:
                raise LearnInputError(f"{where}: line longer than {MAX_LINE_BYTES} bytes")
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8").strip()
                data = json.loads(text)
            except UnicodeDecodeError:
                raise LearnInputError(f"{where}: not UTF-8") from None
            except ValueError as exc:
                raise LearnInputError(f"{where}: not JSON: {exc}") from None
            yield Capture(where, check_line(data, where), text)


def _read_json(
    file: Path,
    packet: str | None,
    code_paths: Callable[[str], set[str]] | None,
    endpoint: Callable[[str], str] | None,
    wire_names: frozenset[str] = frozenset(),
) -> Capture:
    where = f"{file}:1"
    try:
        data = json.loads(_text(file))
    except ValueError as exc:
        raise LearnInputError(f"{file}: not JSON: {exc}") from None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return Capture(where, check_line(data, where))
    if not isinstance(data, dict) or not ({"error_code", "result"} & set(data)):
        raise LearnInputError(f"{file}: neither a capture line nor an answer {{error_code, message, result}}")
    if packet is None:
        raise LearnInputError(
            f"{file}: which service answered? Give --packet NAME, or start the file name with it "
            "(LayThuTuc.2026-11-30.json)"
        )
    paths = code_paths(packet) if code_paths else set()
    name = endpoint(packet) if endpoint else "integration"
    line = build_line(packet, name, data, paths, keys=wire_names)
    line["date"] = answer_date(file)  # the answer itself carries no date: its file name may
    return Capture(where, line)


def check_line(data: Any, where: str) -> dict[str, Any]:
    """``data`` if it is a capture line learn can use; otherwise a LearnInputError naming the key."""
    if not isinstance(data, dict):
        raise LearnInputError(f"{where}: a capture line is a JSON object")
    if data.get("format") != FORMAT:
        raise LearnInputError(f"{where}: format: expected {FORMAT!r}, got {data.get('format')!r}")
    for key in _REQUIRED:
        if key not in data:
            raise LearnInputError(f"{where}: missing key {key!r}")
    if not isinstance(data["packet"], str) or data["direction"] not in DIRECTIONS:
        raise LearnInputError(f"{where}: packet must be a name and direction one of {DIRECTIONS}")
    code = data.get("error_code")
    if code is not None and not (isinstance(code, str) and len(code) <= 20):
        raise LearnInputError(f"{where}: error_code must be a short string or null")
    if not isinstance(data["date"], str) or not _DATE.match(data["date"]):
        raise LearnInputError(f"{where}: date must be YYYY-MM-DD or YYYY-MM (never a time)")
    if not isinstance(data["records"], int) or not isinstance(data["keys"], list):
        raise LearnInputError(f"{where}: records must be an integer and keys a list")
    for index, row in enumerate(data["keys"]):
        _check_key(row, where, index)
    named = data.get("named", [])
    if not isinstance(named, list) or not all(isinstance(n, str) and _PATH.match(n) for n in named):
        raise LearnInputError(f"{where}: named: a list of key names is expected")
    return data


def _check_key(row: Any, where: str, index: int) -> None:
    if type(row) is not dict or type(row.get("path")) is not str:
        raise LearnInputError(f"{where}: keys[{index}]: an object with a 'path' is expected")
    if not _PATH.match(row["path"]):
        # A path is keys only; anything else could smuggle a value into the report or the spec.
        raise LearnInputError(f"{where}: keys[{index}].path: not a key path (A, A.B, A[].B; identifiers only)")
    for name in ("records", "seen"):
        count = row.get(name)
        if type(count) is not int or count < 0:
            raise LearnInputError(f"{where}: keys[{index}].{name}: a count (integer) is expected")
    for name, allowed in (("json", JSON_TYPES), ("kinds", CAPTURE_KINDS)):
        counts = row.get(name)
        if type(counts) is not dict or not allowed.issuperset(counts):
            raise LearnInputError(f"{where}: keys[{index}].{name}: an object of counts by {name} name is expected")
        for value in counts.values():
            if type(value) is not int:
                raise LearnInputError(f"{where}: keys[{index}].{name}: an object of counts is expected")
    codes = row.get("codes")
    if codes is not None and (
        type(codes) is not list or not all(type(c) is str and len(c) <= MAX_CODE_LENGTH for c in codes)
    ):
        raise LearnInputError(
            f"{where}: keys[{index}].codes: a list of short strings (at most {MAX_CODE_LENGTH}) is expected"
        )

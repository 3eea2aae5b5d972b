"""Read the spec as data, put values anywhere in it, and write it back as YAML the loader reads exactly.

Values are written as YAML double-quoted scalars with every character that YAML could fold, drop
or refuse written as an escape, so ``load_text`` gives back the very string that was placed (the
tests check that round trip for every payload). The writer also records the line of every value,
so a diagnostic can be matched to the value that caused it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcvngen.loader import load_file

PathKey = tuple[str | int, ...]
Tree = dict[str, Any]  # spec-relative file name -> loaded data

_LONGEST_IMPLICIT_KEY = 1000
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NAMED_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\\0"}


class Plain(str):
    """A scalar written as-is, unquoted (to plant YAML 1.1 look-alikes such as ``no`` or ``0243``)."""


_NOT_PLAIN_ASCII = re.compile(r"[^ -!#-\[\]-~]")  # anything but printable ASCII other than " and \


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    # Separators would be folded; controls, format characters, non-space blanks, private use and
    # unassigned code points are not printable (str.isprintable): all of them are written as escapes.
    if ch.isprintable():
        return ch
    code = ord(ch)
    return f"\\x{code:02X}" if code <= 0xFF else (f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")


def yaml_quote(text: str) -> str:
    """``text`` as a YAML double-quoted scalar on one line."""
    return '"' + _NOT_PLAIN_ASCII.sub(_escape, text) + '"'


def _scalar(value: Any) -> str:
    if isinstance(value, Plain):
        return str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return yaml_quote(value)
    raise TypeError(type(value).__name__)


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) else yaml_quote(key)


class _Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.where: dict[PathKey, int] = {}

    def value_line(self, path: PathKey, head: str, value: Any) -> None:
        self.where.setdefault(path, len(self.lines) + 1)
        self.lines.append(f"{head} {_scalar(value)}")

    def mapping(self, data: dict[str, Any], path: PathKey, indent: int, first: str | None = None) -> None:
        if not data:
            raise ValueError("empty mappings are written by their parent")
        for index, (key, value) in enumerate(data.items()):
            lead = first if (index == 0 and first is not None) else " " * indent
            if len(key) > _LONGEST_IMPLICIT_KEY:
                # YAML limits an implicit key to 1024 characters: a longer one needs "? key".
                self.where[(*path, key)] = len(self.lines) + 1
                self.lines.append(f"{lead}? {yaml_quote(key)}")
                lead = " " * indent
            head = f"{lead}{_key(key) if len(key) <= _LONGEST_IMPLICIT_KEY else ''}:"
            self._entry(head, value, (*path, key), indent)

    def sequence(self, data: list[Any], path: PathKey, indent: int) -> None:
        for index, item in enumerate(data):
            here = (*path, index)
            lead = " " * indent + "- "
            if isinstance(item, dict) and item:
                self.where[here] = len(self.lines) + 1
                self.mapping(item, here, indent + 2, first=lead)
            elif isinstance(item, list) and item:
                self.where[here] = len(self.lines) + 1
                self.lines.append(lead.rstrip())
                self.sequence(item, here, indent + 2)
            elif isinstance(item, (dict, list)):
                self.where[here] = len(self.lines) + 1
                self.lines.append(lead + ("{}" if isinstance(item, dict) else "[]"))
            else:
                self.value_line(here, lead.rstrip(), item)

    def _entry(self, head: str, value: Any, path: PathKey, indent: int) -> None:
        self.where.setdefault(path, len(self.lines) + 1)
        if isinstance(value, dict) and value:
            self.lines.append(head)
            self.mapping(value, path, indent + 2)
        elif isinstance(value, list) and value:
            self.lines.append(head)
            self.sequence(value, path, indent + 2)
        elif isinstance(value, (dict, list)):
            self.lines.append(f"{head} {'{}' if isinstance(value, dict) else '[]'}")
        else:
            self.value_line(path, head, value)


def emit(data: Any) -> tuple[str, dict[PathKey, int]]:
    """YAML text for ``data`` and the line of every value in it."""
    emitter = _Emitter()
    if isinstance(data, dict):
        emitter.mapping(data, (), 0)
    elif isinstance(data, list):
        emitter.sequence(data, (), 0)
    else:
        emitter.value_line((), "", data)
    return "\n".join(emitter.lines) + "\n", emitter.where


def load_tree(spec_dir: Path) -> Tree:
    tree: Tree = {}
    for path in sorted(spec_dir.rglob("*.yaml")):
        rel = path.relative_to(spec_dir).as_posix()
        doc, problems = load_file(path, rel)
        assert doc is not None, problems
        tree[rel] = doc.data
    return tree


def write_tree(tree: Tree, dest: Path) -> dict[str, dict[PathKey, int]]:
    """Write every file of ``tree`` under ``dest``; returns the line of every value, per file."""
    lines: dict[str, dict[PathKey, int]] = {}
    for rel, data in tree.items():
        text, where = emit(data)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        lines[rel] = where
    return lines


def get(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data


def match(data: Any, pattern: PathKey, prefix: PathKey = ()) -> Iterator[PathKey]:
    """Every path in ``data`` matching ``pattern``; ``"*"`` matches any list index or mapping key."""
    if not pattern:
        yield prefix
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        keys: list[Any] = (
            list(range(len(data))) if isinstance(data, list) else (list(data) if isinstance(data, dict) else [])
        )
    else:
        keys = [head] if isinstance(data, dict) and head in data else []
    for key in keys:
        yield from match(data[key], rest, (*prefix, key))


Where = Callable[[Tree, str, PathKey], bool]


@dataclass(frozen=True)
class Sink:
    """A string-bearing position of the DSL."""

    name: str
    files: str  # glob over spec-relative file names
    patterns: tuple[PathKey, ...]
    role: str = "text"  # text: must build and show up; name / ref: must be refused or give safe output
    where: Where | None = None

    def instances(self, tree: Tree) -> list[tuple[str, PathKey]]:
        found: list[tuple[str, PathKey]] = []
        for rel in sorted(tree):
            if not fnmatch.fnmatch(rel, self.files):
                continue
            for path in (p for pattern in self.patterns for p in match(tree[rel], pattern)):
                if isinstance(get(tree[rel], path), str) and (self.where is None or self.where(tree, rel, path)):
                    found.append((rel, path))
        return found

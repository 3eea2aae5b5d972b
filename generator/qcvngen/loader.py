"""Strict YAML loading: documents become plain data plus a map of where every value came from.

PyYAML's own constructors apply YAML 1.1 implicit typing (``no`` → False, ``0243123456`` → an
octal int, ``1.001610`` → 1.00161) and let duplicate keys override each other silently. This
loader builds the tree from the parser's events instead, so nothing is converted behind the
author's back: a plain scalar becomes ``str`` only when YAML would read it as text, ``int``/``bool``/
``None`` only in their unambiguous spellings, and anything else becomes an :class:`Ambiguous`
marker that the DSL layer reports as "quote this value".
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from .diagnostics import Diagnostic
from .safefs import SPEC_FILE_LIMIT, TooLargeError, UnsafeFileError, read_file

# libyaml's parser is several times faster; the pure-Python one gives the same events.
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = SPEC_FILE_LIMIT
MAX_DEPTH = 64
MAX_NODES = 500_000

PathKey = tuple[str | int, ...]

_RESOLVER: Any = yaml.resolver.Resolver()
_PLAIN_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Ambiguous:
    """A plain scalar that YAML 1.1 would silently turn into a non-string value."""

    raw: str
    reads_as: str

    def __repr__(self) -> str:
        return f"`{self.raw}`"


@dataclass(frozen=True)
class Mark:
    """Where a value starts in its file: 1-based line and column, as diagnostics print them."""

    line: int
    col: int


@dataclass
class Document:
    """One loaded file: its data and where each value (and each mapping key) stands."""

    file: str
    data: Any
    values: dict[PathKey, Mark] = field(default_factory=dict)
    keys: dict[PathKey, Mark] = field(default_factory=dict)

    def mark(self, path: PathKey, *, key: bool = False) -> Mark:
        """Position of ``path`` or of its nearest known ancestor."""
        table = self.keys if key else self.values
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Mark(1, 1))


class _LoadFailure(Exception):
    def __init__(self, mark: Mark, message: str, path: PathKey = ()) -> None:
        self.mark = mark
        self.message = message
        self.path = path


def format_path(path: PathKey) -> str:
    """('fields', 3, 'type') → 'fields[3].type'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _mark(event: Any) -> Mark:
    return Mark(event.start_mark.line + 1, event.start_mark.column + 1)


def _plain_scalar(value: str) -> Any:
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    kind = tag.rsplit(":", 1)[-1]
    if kind == "str":
        return value
    if kind == "null":
        return None
    if kind == "bool" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == "int" and _PLAIN_INT.match(value):
        return int(value)
    names = {"bool": "boolean", "int": "number", "float": "number", "timestamp": "date"}
    return Ambiguous(value, names.get(kind, kind))


def plain_is_text(value: str) -> bool:
    """Whether ``value`` written as a plain (unquoted) scalar is read back as that very text."""
    return isinstance(_plain_scalar(value), str)


class _TreeBuilder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.nodes = 0

    def build(self, events: Any) -> Any:
        first = next(events)
        return self._node(first, events, (), 0)

    def _node(self, event: Any, events: Any, path: PathKey, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _LoadFailure(_mark(event), f"document has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise _LoadFailure(_mark(event), f"document is nested deeper than {MAX_DEPTH} levels")
        if isinstance(event, yaml.AliasEvent):
            raise _LoadFailure(_mark(event), "aliases (*name) are not allowed in the spec; repeat the value")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _LoadFailure(_mark(event), f"anchors (&{anchor}) are not allowed in the spec")
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":
            raise _LoadFailure(_mark(event), f"tags ({tag}) are not allowed in the spec")
        self.doc.values[path] = _mark(event)
        if isinstance(event, yaml.ScalarEvent):
            if _FORBIDDEN_CHARS.search(event.value):
                raise _LoadFailure(_mark(event), "control characters are not allowed; write them as text")
            if not event.style and event.implicit[0]:
                return _plain_scalar(event.value)
            return event.value
        if isinstance(event, yaml.SequenceStartEvent):
            items: list[Any] = []
            for item_event in events:
                if isinstance(item_event, yaml.SequenceEndEvent):
                    return items
                items.append(self._node(item_event, events, (*path, len(items)), depth + 1))
        if isinstance(event, yaml.MappingStartEvent):
            mapping: dict[str, Any] = {}
            for key_event in events:
                if isinstance(key_event, yaml.MappingEndEvent):
                    return mapping
                if not isinstance(key_event, yaml.ScalarEvent):
                    raise _LoadFailure(_mark(key_event), "mapping keys must be plain text")
                if getattr(key_event, "anchor", None) is not None:
                    raise _LoadFailure(_mark(key_event), "anchors are not allowed in the spec")
                if key_event.tag not in (None, "!"):
                    raise _LoadFailure(_mark(key_event), f"tags ({key_event.tag}) are not allowed in the spec")
                key = key_event.value
                if key == "<<" and not key_event.style:
                    raise _LoadFailure(_mark(key_event), "merge keys (<<) are not allowed in the spec")
                key_path = (*path, key)
                if key in mapping:
                    first = self.doc.keys[key_path]
                    raise _LoadFailure(
                        _mark(key_event),
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        key_path,
                    )
                self.doc.keys[key_path] = _mark(key_event)
                mapping[key] = self._node(next(events), events, key_path, depth + 1)
            return mapping
        raise _LoadFailure(_mark(event), f"unexpected YAML event {type(event).__name__}")


def _decode(raw: bytes, file: str) -> tuple[str | None, list[Diagnostic]]:
    if len(raw) > MAX_FILE_BYTES:
        return None, [Diagnostic(file, 1, 1, "", f"file is larger than {MAX_FILE_BYTES} bytes")]
    if raw.startswith(b"\xef\xbb\xbf"):
        return None, [Diagnostic(file, 1, 1, "", "file starts with a byte-order mark; save it as UTF-8 without BOM")]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Diagnostic(file, 1, 1, "", "file is UTF-16; save it as UTF-8")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Diagnostic(file, line, col, "", f"invalid UTF-8 at byte offset {exc.start}")]
    if "\x00" in text:
        offset = raw.index(b"\x00")
        line = raw.count(b"\n", 0, offset) + 1
        return None, [Diagnostic(file, line, 1, "", f"NUL byte at byte offset {offset}")]
    return text, []


def load_text_shared(text: str, file: str) -> tuple[Document | None, list[Diagnostic]]:
    """:func:`load_text`, parsed once per process for the same text and name: the document is
    shared between callers, so it must only ever be read (``build --watch`` reloads a spec whose
    files mostly did not change)."""
    doc, problems = _parsed(text, file)
    return doc, list(problems)


@functools.lru_cache(maxsize=128)
def _parsed(text: str, file: str) -> tuple[Document | None, tuple[Diagnostic, ...]]:
    doc, problems = load_text(text, file)
    return doc, tuple(problems)


def load_text(text: str, file: str) -> tuple[Document | None, list[Diagnostic]]:
    """Parse one YAML document held in ``text``; ``file`` names it in diagnostics."""
    doc = Document(file=file, data=None)
    events = iter(yaml.parse(text, Loader=_Loader))
    try:
        for event in events:
            if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
                continue
            if isinstance(event, (yaml.StreamEndEvent,)):
                break
            if isinstance(event, yaml.DocumentEndEvent):
                for rest in events:
                    if isinstance(rest, yaml.DocumentStartEvent):
                        raise _LoadFailure(_mark(rest), "only one YAML document per file is allowed")
                break
            # itertools.chain, not a generator: closing a generator would close the event stream too.
            doc.data = _TreeBuilder(doc).build(itertools.chain([event], events))
    except _LoadFailure as failure:
        return None, [Diagnostic(file, failure.mark.line, failure.mark.col, format_path(failure.path), failure.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Diagnostic(file, line, col, "", f"YAML syntax error: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(file, 1, 1, "", f"YAML error: {exc}")]
    except RecursionError:
        return None, [Diagnostic(file, 1, 1, "", "document is nested too deeply")]
    return doc, []


def _inside(path: Path, display: str, root: Path | None) -> tuple[Path, PurePosixPath]:
    """The folder ``path`` is read from and its path there: ``root`` when given, else the folder that
    ``display`` (``<folder name>/<relative path>``, as the resolver writes it) names."""
    if root is not None:
        return root, PurePosixPath(path.relative_to(root).as_posix())
    depth = min(max(len(PurePosixPath(display).parts) - 1, 1), len(path.parts))
    return Path(*path.parts[:-depth]), PurePosixPath(*path.parts[-depth:])


def load_file(
    path: Path, display: str, *, root: Path | None = None, shared: bool = False
) -> tuple[Document | None, list[Diagnostic]]:
    """Read and parse ``path``; ``display`` is the name used in diagnostics; with ``shared``, a
    document that is only read may come from an earlier parse of the same text
    (:func:`load_text_shared`).

    Nothing between the spec folder (``root``, or the folder ``display`` starts with) and the file is
    followed: a symbolic link, FIFO or device is refused unread, and so is a file over
    ``MAX_FILE_BYTES`` (its size is checked before any byte is read).
    """
    folder, relative = _inside(path, display, root)
    try:
        raw = read_file(folder, relative, limit=MAX_FILE_BYTES, display=display)
    except TooLargeError as exc:
        size = f" ({exc.size} bytes)" if exc.size is not None else ""
        return None, [Diagnostic(display, 1, 1, "", f"file{size} is larger than {MAX_FILE_BYTES} bytes; not read")]
    except UnsafeFileError as exc:
        # The reason only: the file's name is the diagnostic's own, a folder's is in the reason.
        where = exc.display[len(display) + 2 :] + " " if exc.display != display else ""
        return None, [Diagnostic(display, 1, 1, "", f"{where}{exc.reason}; not read")]
    except OSError as exc:
        return None, [Diagnostic(display, 1, 1, "", f"cannot read file: {exc.strerror}")]
    text, problems = _decode(raw, display)
    if text is None:
        return None, problems
    return load_text_shared(text, display) if shared else load_text(text, display)

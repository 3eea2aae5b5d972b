"""A content-addressed cache of the slow tools' output (datamodel-code-generator, ruff's formatter).

Both tools are deterministic: the same input text, options and tool versions give the same output
(the build's determinism tests prove it for the whole pipeline). So their output can be kept in
the per-user cache folder's ``tools/`` (:mod:`qcvngen.usercache`: never the working folder, where
a change under review could plant an entry) under a digest of exactly those, and a later build
with the same input skips the tool, and its import, altogether. Anything else in the spec (a new table, an edited
title) changes the input text and so the key: a stale entry is never found, only unused.

An entry holds its full key and the digest of its text; an entry that does not parse, belongs to
another key, is truncated or altered, is ignored and rewritten. Entries are written whole (a temporary
file renamed over), never through a link; any OS error makes the cache a no-op, never a failure.
``QCVNGEN_NO_CACHE=1``, or :func:`bypass` (``qcvngen check --full``), turns it off.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TypeVar

from . import usercache

TOOLS_FOLDER = "tools"  # under the per-user cache root
MAX_ENTRY_BYTES = 64 * 1024 * 1024
MAX_ENTRIES = 4096  # beyond it, the oldest quarter is removed (only files named as entries)

_bypassed: contextvars.ContextVar[bool] = contextvars.ContextVar("qcvngen_toolcache_bypassed", default=False)
Key = TypeVar("Key")


@contextlib.contextmanager
def bypass() -> Iterator[None]:
    """Within the block, every tool runs: nothing is read from or written to the cache."""
    token = _bypassed.set(True)
    try:
        yield
    finally:
        _bypassed.reset(token)


def enabled() -> bool:
    """Whether caches may be used now (not under ``QCVNGEN_NO_CACHE=1`` nor :func:`bypass`)."""
    return not _bypassed.get() and os.environ.get("QCVNGEN_NO_CACHE", "") in ("", "0")


def versions(*distributions: str) -> str:
    """``name=version`` of each installed distribution (``none`` when absent), for a key."""
    out = []
    for name in distributions:
        try:
            out.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}=none")
    return ";".join(out)


def key_of(kind: str, parts: Sequence[str]) -> str:
    """One digest of ``kind`` and ``parts``, each length-prefixed so no two lists collide."""
    digest = hashlib.sha256()
    for part in (kind, *parts):
        data = part.encode("utf-8", "surrogatepass")
        digest.update(f"{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def _folder() -> Path | None:
    """The cache folder, made when missing; None when it cannot be used safely."""
    return usercache.folder(TOOLS_FOLDER)


def _entry(folder: Path, kind: str, key: str) -> Path:
    return folder / f"{kind}-{key}.json"


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes, never through a link; None when absent, unreadable or over the size bound."""
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(handle, "rb") as stream:
            raw = stream.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    return raw if len(raw) <= MAX_ENTRY_BYTES else None


def _write_bytes(folder: Path, name: str, data: bytes) -> None:
    """``data`` as ``folder/name``, whole or not at all (a temporary file renamed over)."""
    scratch = folder / f".{name}.{os.getpid()}.tmp"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(scratch, flags, 0o600), "wb") as stream:
            stream.write(data)
        os.replace(scratch, folder / name)  # replaces a link itself, never writes through it
    except OSError:
        with contextlib.suppress(OSError):
            scratch.unlink()


def _read(path: Path, kind: str, key: str) -> str | None:
    raw = _read_bytes(path)
    try:
        entry = json.loads(raw.decode("utf-8")) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("kind") != kind or entry.get("key") != key:
        return None
    text = entry.get("text")
    if (
        not isinstance(text, str)
        or entry.get("sha256") != hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    ):
        return None
    return text


def _write(folder: Path, kind: str, key: str, text: str) -> None:
    encoded = text.encode("utf-8", "surrogatepass")
    entry = {"kind": kind, "key": key, "sha256": hashlib.sha256(encoded).hexdigest(), "text": text}
    data = json.dumps(entry, ensure_ascii=False).encode("utf-8", "surrogatepass")
    _write_bytes(folder, _entry(folder, kind, key).name, data)


def _prune(folder: Path) -> None:
    """Keep the folder bounded: past ``MAX_ENTRIES`` entries, remove the least recently written quarter."""
    try:
        entries = [path for path in folder.iterdir() if path.suffix == ".json" and not path.is_symlink()]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda path: path.stat().st_mtime)
        for path in entries[: len(entries) // 4]:
            path.unlink()
    except OSError:
        pass


def cached_many(
    kind: str,
    shared: Sequence[str],
    inputs: Mapping[Key, str],
    produce: Callable[[dict[Key, str]], Mapping[Key, str]],
) -> dict[Key, str]:
    """The tool's output for each input text: from the cache, and ``produce`` (one call, given
    only the inputs not found) for the rest. ``shared`` holds what else the output depends on
    (tool versions, options)."""
    folder = _folder() if enabled() else None
    if folder is None:
        return dict(produce(dict(inputs)))
    keys = {name: key_of(kind, [*shared, text]) for name, text in inputs.items()}
    found = {name: _read(_entry(folder, kind, keys[name]), kind, keys[name]) for name in inputs}
    out = {name: text for name, text in found.items() if text is not None}
    missing = {name: inputs[name] for name in inputs if name not in out}
    if missing:
        made = produce(missing)
        for name in missing:
            out[name] = made[name]
            _write(folder, kind, keys[name], made[name])
        _prune(folder)
    return out

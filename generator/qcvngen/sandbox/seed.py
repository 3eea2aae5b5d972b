"""The sandbox's seed: the portal's own answers to pull packets, as data (``seed.json``, or ``--seed FILE``).

One entry per pull packet, under ``"pulls"`` by packet name. An entry either lists its ``result``,
or looks the answer up by one request parameter (``by``: the parameter's wire name; ``answers``: value
→ items; ``not_found``: the message of the ``-4`` answer to any other value), or answers the
caller's unit's own pushes of another packet (``from_push``). ``message`` replaces ``Thành công``.
Every item must be what the served spec's result model accepts: checked at start (:func:`check`),
so a seed that drifted from the spec stops the sandbox with a message naming the item.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import ir
from ..safefs import UnsafeFileError, read_named_file
from ..wirejson import parse
from .runtime import Served

MAX_SEED_BYTES = 64 * 1024 * 1024
Item = dict[str, Any]


class SeedError(ValueError):
    """The seed cannot be read or does not fit the spec; the message says where (one line)."""


class PullSeed(BaseModel):
    """What the sandbox answers to one pull packet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    result: list[Item] = []
    by: str | None = None
    answers: dict[str, list[Item]] = {}
    not_found: str = "Không tìm thấy — not found"
    from_push: str | None = None
    message: str = "Thành công"


class Seed(BaseModel):
    """The whole seed: a note for readers, and the answers of each pull packet by packet name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    note: str = Field("", alias="_note")
    pulls: dict[str, PullSeed] = {}


def load(path: Path | None = None) -> Seed:
    """The seed in ``path``, or the one bundled with the sandbox; :class:`SeedError` when it cannot be used."""
    where = str(path) if path is not None else "seed.json (bundled)"
    try:
        if path is None:
            text = resources.files("qcvngen.sandbox").joinpath("seed.json").read_text(encoding="utf-8")
        else:
            text = read_named_file(path, limit=MAX_SEED_BYTES).decode("utf-8")
        return Seed.model_validate(parse(text))
    except UnsafeFileError as exc:
        raise SeedError(f"{where}: {exc.reason}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"{where}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        raise SeedError(f"{where}: {loc}: {first['msg']} ({exc.error_count()} problem(s))") from None
    except ValueError as exc:  # not JSON, or not the strict JSON the wire carries
        raise SeedError(f"{where}: not valid JSON: {exc}") from None


def check(seed: Seed, served: Served) -> None:
    """Every entry of a packet the spec has fits it: ``by`` is one of its parameters, ``from_push`` a
    push, and every item validates against the packet's generated result model."""
    reg = served.regulation
    for packet in reg.packets:
        entry = seed.pulls.get(packet.name)
        if entry is None or packet.direction != "pull":
            continue
        where = f"seed: pulls.{packet.name}"
        if entry.by is not None and entry.by not in {f.wire_name for f in packet.params}:
            known = ", ".join(f.wire_name for f in packet.params) or "none"
            raise SeedError(f"{where}.by: {entry.by!r} is not a parameter of {packet.name} (parameters: {known})")
        if entry.from_push is not None and not _is_push(reg, entry.from_push):
            raise SeedError(f"{where}.from_push: {entry.from_push!r} is not a push packet of the spec")
        model = getattr(served.models, packet.result_record or "", None)
        if model is None:
            continue
        items = [(f"answers.{key}[{i}]", item) for key, found in entry.answers.items() for i, item in enumerate(found)]
        items += [(f"result[{i}]", item) for i, item in enumerate(entry.result)]
        for label, item in items:
            try:
                model.model_validate(item)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(part) for part in first["loc"])
                raise SeedError(f"{where}.{label}: not a {packet.result_record}: {loc}: {first['msg']}") from None


def _is_push(reg: ir.Regulation, name: str) -> bool:
    return any(p.name == name and p.direction == "push" for p in reg.packets)

"""Strict JSON as the wire must carry it, for the files qcvngen reads (payloads, accounts).

Standard library only. Duplicate keys, ``NaN``/``Infinity`` and numbers that would become infinity
are refused with a :class:`NotWireJson` (a ``ValueError``) naming the problem, never the value.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

__all__ = ["NotWireJson", "parse"]


class NotWireJson(ValueError):
    """The payload is not something the wire can carry (duplicate keys, NaN, lone surrogates…);
    ``path`` locates it inside the payload when known."""

    def __init__(self, message: str, path: tuple[int | str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise NotWireJson(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise NotWireJson(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: json.loads would make it infinity, no wire carries that
        raise NotWireJson(f"the number {text[:40]} is out of range (not a finite double)")
    if Decimal(text) != Decimal(repr(value)):  # the server refuses what it could not keep as sent
        raise NotWireJson(
            f"the number {text[:40]} cannot be kept exactly as sent (more significant digits than a"
            " double holds, or too small for one): send it as a string"
        )
    return value


def parse(text: str) -> Any:
    """``text`` as strict JSON: duplicate keys, NaN/Infinity and out-of-range numbers refused."""
    return json.loads(text, object_pairs_hook=_strict_pairs, parse_constant=_no_constants, parse_float=_finite)

"""Wire scalars of QCVN 120 accepted tolerantly and sent canonically; wire dates to and from Python.

Real systems send almost every value as a JSON string ("1", "True"), some as JSON numbers, and
``""`` for an absent date. The converters here turn those forms (and Python ``datetime``/``date``
values) into the canonical wire string before the pattern of the wire type is checked.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DATETIME_FORMAT = "%Y%m%d%H%M%S"
# Viet Nam has kept UTC+7 without daylight saving since 1975: the fallback when the system has no
# time zone database (Windows without the tzdata package).
_FALLBACKS = {"Asia/Ho_Chi_Minh": timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")}


@functools.lru_cache(maxsize=8)
def zone(name: str) -> tzinfo:
    """The time zone ``name`` (the regulation's: Asia/Ho_Chi_Minh), looked up when first needed.

    Raises:
        ValueError: no such time zone here (and no built-in fallback for it).
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name in _FALLBACKS:
            return _FALLBACKS[name]
        raise ValueError(f"unknown time zone {name[:60]!r}") from None


# The attribute that marks a before-validator returning every value but a number or a boolean
# unchanged (the same object): on a body of strings only it does nothing, so the server's reader
# of such bodies (plainrequest.py, which names this attribute too) leaves it out.
KEEPS_STRINGS = "qcvn120_keeps_strings"


def _keeps_strings(convert: Callable[[object], object]) -> Callable[[object], object]:
    setattr(convert, KEEPS_STRINGS, True)
    return convert


@_keeps_strings
def number_as_text(value: object) -> object:
    """A JSON number where a string-encoded number is expected becomes its plain decimal text
    (``1e-05`` → ``"0.00001"``); booleans, NaN and infinities are left to fail validation."""
    if type(value) is str:  # what nearly every record holds: answered before any other test
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        return format(Decimal(repr(value)), "f")
    return value


@_keeps_strings
def flag_as_text(value: object) -> object:
    """``True``/``False`` as the wire's ``"True"``/``"False"``."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return value


def to_wire_datetime(value: datetime | date, tz: tzinfo) -> str:
    """``yyyyMMddHHmmss`` in ``tz``: an aware datetime is converted, a naive one is taken as
    already in ``tz``, a date is its midnight."""
    if isinstance(value, datetime):
        local = value.astimezone(tz) if value.tzinfo is not None else value
        return local.strftime(DATETIME_FORMAT)
    return value.strftime("%Y%m%d") + "000000"


def from_wire_datetime(text: str, tz: tzinfo) -> datetime | None:
    """The aware datetime of a wire date (``"20240105083000"`` in ``tz``); None for ``""``.

    Raises:
        ValueError: ``text`` is not a ``yyyyMMddHHmmss`` date-time.
    """
    if text == "":
        return None
    if len(text) != 14 or not text.isascii() or not text.isdigit():
        raise ValueError("not a yyyyMMddHHmmss date-time")
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=tz)


def datetime_as_text(tz_name: str) -> Callable[[object], object]:
    """A before-validator: ``datetime``/``date`` values become wire strings in ``tz_name``.

    The zone is looked up on the first datetime, so importing the models never needs it.
    """

    @_keeps_strings
    def convert(value: object) -> object:
        if type(value) is str:
            return value
        if isinstance(value, (datetime, date)):
            return to_wire_datetime(value, zone(tz_name))
        return value

    return convert


def wire_number(whole: int, fraction_floor: float | None = None) -> Callable[[object], object]:
    """A before-validator: a JSON number where a string-encoded one is expected becomes its plain
    decimal text when the published schema accepts it (a whole number within ±``whole``; a
    fraction when ``fraction_floor`` ≤ |x| ≤ ``whole``); any other number is left to fail, so the
    models judge numbers as every JSON Schema reader does."""

    @_keeps_strings
    def convert(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        if isinstance(value, float) and not math.isfinite(value):
            return value
        if isinstance(value, int) or value.is_integer():
            return str(int(value)) if abs(value) <= whole else value
        if fraction_floor is not None and fraction_floor <= abs(value) <= whole:
            return format(Decimal(repr(value)), "f")
        return value

    return convert


@_keeps_strings
def whole_number_as_int(value: object) -> object:
    """A whole JSON number written ``5.0`` is the integer 5 (an id keeps its JSON type)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

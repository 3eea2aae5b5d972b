"""What the wire really carries: the value patterns shared by schemas, examples and docs."""

from __future__ import annotations

import re

# yyyyMMddHHmmss, Gregorian-correct (month lengths and leap years), no time zone suffix.
_YEAR_MONTH_DAY = (
    r"(?:[0-9]{4}(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])(?:29|30)|(?:0[13578]|1[02])31)"
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)0229)"
)
DATETIME = _YEAR_MONTH_DAY + r"(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]"
INTEGER = r"-?[0-9]{1,18}"
DECIMAL = r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?"
PERCENT = r"[0-9]{1,3}(?:\.[0-9]{1,9})?%?"
FLAG_VALUES = ("True", "False")

# A JSON integer accepted in place of a string-encoded one must stay within this range.
INT_RANGE = (-(10**18) + 1, 10**18 - 1)

PATTERNS = {"datetime": DATETIME, "integer": INTEGER, "decimal": DECIMAL, "percent": PERCENT}


def anchored(pattern: str, *, allow_empty: bool) -> str:
    """A full-match pattern; ``allow_empty`` admits ``""`` (how real systems send "absent")."""
    return f"^(?:{pattern})?$" if allow_empty else f"^(?:{pattern})$"


def example_error(kind: str, value: str, codes: tuple[str, ...] | None) -> str | None:
    """Why ``value`` cannot be an example of ``kind``, or None when it can."""
    if kind in PATTERNS and not re.fullmatch(PATTERNS[kind], value):
        return f"example {value!r} is not a valid {kind} value"
    if kind == "flag" and value not in FLAG_VALUES:
        return f"example {value!r} is not 'True' or 'False'"
    if kind == "code" and codes is not None and value not in codes:
        return f"example {value!r} is not a code of the list"
    if kind in ("record", "list", "any"):
        return f"a {kind} field takes no example"
    return None

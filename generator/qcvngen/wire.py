"""What the wire really carries: the value patterns and number bounds the kind registry builds on."""

from __future__ import annotations

import functools
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

# A JSON number accepted in place of a string-encoded one (integer, decimal, codes, ids) must be a
# whole number within ±(2**53 - 1): I-JSON's interoperable range (RFC 7493 §2.2), the integers every
# reader holds exactly. Past it JavaScript rounds (999999999999999999 reads as 1e18), so a bound
# there would judge differently per reader.
SAFE_INTEGER = 2**53 - 1
# A fractional JSON number (decimal kind) is accepted when FRACTION_FLOOR <= |x| <= SAFE_INTEGER:
# there a double's shortest decimal text has at most 17 significant digits, so at most 18 after the
# point and 16 before it, which the string form (DECIMAL) holds. Smaller fractions (1e-19) may need
# more digits: send them as strings. A bound, unlike a digit count, reads the same in every reader.
FRACTION_FLOOR = 0.01
# Python's re (python-jsonschema at its defaults) lets ``$`` match before a final "\n", ECMA-262 does
# not: every string form with a pattern also refuses any newline, which reads alike everywhere.
NO_NEWLINE: dict[str, object] = {"type": "string", "pattern": "\\n"}


def anchored(pattern: str, *, allow_empty: bool) -> str:
    """A full-match pattern; ``allow_empty`` admits ``""`` (how real systems send "absent")."""
    return f"^(?:{pattern})?$" if allow_empty else f"^(?:{pattern})$"


# -- one semantics for every pattern ----------------------------------------------------------------
# Every pattern above is read by three engines: ECMA-262 (JSON Schema's dialect: jsonschema-rs, Ajv,
# any standard reader), Rust's regex (pydantic's models) and Python's re (python-jsonschema,
# fastjsonschema, the server's contract). They agree on the subset below, except on one point:
# Python's ``$`` also matches before a final "\n", so ``re.search("^[0-9]$", "1\n")`` succeeds.
# ECMA-262 is the semantics: ``$`` is the end of the string. Readers the project controls go through
# :func:`ecma_regex`, which spells ``$`` as ``\Z`` (what fastjsonschema does for its own patterns);
# for the readers it does not (python-jsonschema at its defaults), every published string form with
# a pattern also forbids a newline anywhere (:data:`NO_NEWLINE`), where both meanings of ``$`` agree.
_PORTABLE_TOKEN = re.compile(
    r"\[(?:[A-Za-z0-9_%.+-]|\\[.\-\]\\^$*+?()\[{}|/])+\]"  # an ASCII character class, no ^-negation
    r"|\\[.\\^$*+?()\[\]{}|/]"  # an escaped syntax character (ECMA's Unicode mode allows no other)
    r"|\(\?:|\((?!\?)|[)|?*+]|\{[0-9]+(?:,[0-9]*)?\}"  # groups (no lookaround, no names), quantifiers
    r"|[A-Za-z0-9_%,:;#@!'\"<>=~&/ -]"  # a literal that means itself in every engine
)


def portable_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is outside the subset ECMA-262, Rust regex and Python re read alike, or None.

    The subset: ``^`` first, ``$`` last, nothing else anchored; ASCII classes (``[0-9]``, never
    ``\\d``, ``\\w``, ``\\s`` or ``.``, whose meaning differs per engine and Unicode mode); escaped
    syntax characters; ``(?:…)``, ``|``, ``?``, ``*``, ``+``, ``{m,n}``. No lookaround (Rust has
    none), no backreferences, no named groups, no flags.
    """
    if not (pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")):
        return "must start with ^ and end with $"
    body, position = pattern[1:-1], 0
    while position < len(body):
        token = _PORTABLE_TOKEN.match(body, position)
        if token is None:
            return f"{body[position : position + 12]!r} at {position + 1} is outside the portable subset"
        position = token.end()
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a valid pattern: {exc}"
    return None


_DOLLAR = re.compile(r"(?<!\\)\$")


@functools.lru_cache(maxsize=256)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled for Python's re with ECMA-262's meaning of ``$`` (the end of the
    string, not also before a final newline). Use ``.search()``, as JSON Schema's ``pattern`` does."""
    return re.compile(_DOLLAR.sub(r"\\Z", pattern))


def ecma_search(pattern: str, value: str) -> bool:
    """Whether ``value`` matches the JSON Schema ``pattern`` (ECMA-262: unanchored, ``$`` = end)."""
    return ecma_regex(pattern).search(value) is not None

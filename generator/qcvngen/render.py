"""The one Jinja Environment: StrictUndefined, no autoescape, and context-correct escaping filters.

Templates never compute types or imports; a target's small view model does. Every spec value
that lands in code goes through ``py`` (a Python literal via repr) and every value that lands in
Markdown goes through ``md``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from .resources import templates_dir

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=:]|[0-9]+(?=[.)]))")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]")
# Bidi controls and zero-width characters are shown as escapes so text cannot disguise itself.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\x00-\x08\x0e-\x1f\x7f]")


def md(value: object) -> str:
    """Escape text for one Markdown table cell or inline run: no markup, no HTML, one line."""
    text = _LINE_BREAKS.sub(" ", str(value))
    text = _INVISIBLE.sub(lambda m: f"U+{ord(m.group()):04X}", text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # Text that begins a line must not turn into a heading, list item or table rule.
    return _MD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}" if not m.group(2).isdigit() else f"{m.group(1)}{m.group(2)}\\", text)


def md_code(value: object) -> str:
    """Text shown as inline code: backticks cannot be escaped inside code spans, so use enough of them."""
    text = _INVISIBLE.sub(lambda m: f"U+{ord(m.group()):04X}", _LINE_BREAKS.sub(" ", str(value)))
    text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def py(value: object) -> str:
    """A Python literal for a spec value (str, int, bool, None, tuples/lists of them)."""
    if isinstance(value, str):
        # repr() escapes quotes, backslashes and control characters; keep non-ASCII readable
        # except characters that could reorder or hide source text.
        return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", repr(value)).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, (bool, int)) or value is None:
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(py(item) for item in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
    raise TypeError(f"no Python literal for {type(value).__name__}")


def py_comment(value: object) -> str:
    """Text for a ``#`` comment: one line, no control characters."""
    return _INVISIBLE.sub(lambda m: f"U+{ord(m.group()):04X}", _LINE_BREAKS.sub(" ", str(value)))


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@lru_cache(maxsize=4)
def environment(root: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root or templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, md_code=md_code, py=py, py_comment=py_comment, json=json_text)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)

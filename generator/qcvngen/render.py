"""The one Jinja Environment: StrictUndefined, no autoescape, and context-correct escaping filters.

Templates never compute types or imports; a target's small view model does. Every spec value
that lands in code goes through ``py`` (a Python literal via repr), in a ``#`` comment through
``py_comment``, and in Markdown through ``md`` (prose, table cells) or ``md_code`` (code spans).
In every context, characters that are invisible or reorder text (bidi controls, zero-width
characters, C0/C1 controls, separators) are written as escapes, never raw: see HIDDEN_BMP.
tests/test_hostile_spec.py puts a hostile corpus through every spec position to hold this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from . import directions, toolcache
from .resources import templates_dir

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=:]|[0-9]+(?=[.)]))")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]")
# Every character that is invisible, reorders text, breaks a line or is not meant for interchange:
# C0/C1 controls, format characters (bidi, zero-width, BOM, interlinear, tags), line/paragraph
# separators, private use and noncharacters (Unicode 14 categories Cc, Cf, Zl, Zp, Co + nonchars).
# They are shown as escapes so text can never disguise itself or what follows it; a test checks
# these ranges against unicodedata.
HIDDEN_BMP = (
    "\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ue000-\uf8ff\ufdd0-\ufdef\ufeff\ufff9-\ufffb\ufffe-\uffff"
)
HIDDEN_ASTRAL = (
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U0001fffe-\U0001ffff\U0002fffe-\U0002ffff\U0003fffe-\U0003ffff\U0004fffe-\U0004ffff"
    "\U0005fffe-\U0005ffff\U0006fffe-\U0006ffff\U0007fffe-\U0007ffff\U0008fffe-\U0008ffff"
    "\U0009fffe-\U0009ffff\U000afffe-\U000affff\U000bfffe-\U000bffff\U000cfffe-\U000cffff"
    "\U000dfffe-\U000dffff\U000e0001\U000e0020-\U000e007f\U000efffe-\U0010ffff"
)
_ASTRAL_HIDDEN = re.compile(f"[{HIDDEN_ASTRAL}]")


def hidden_pattern(extra: str = "") -> re.Pattern[str]:
    """Candidates for :func:`escape_hidden`: the hidden BMP characters, ``extra``, and every astral one
    (a class with the astral ranges spelled out is several times slower on long text)."""
    return re.compile(f"[{extra}{HIDDEN_BMP}\U00010000-\U0010ffff]")


def escape_hidden(pattern: re.Pattern[str], text: str, spell: Callable[[str], str]) -> str:
    """``text`` with every hidden character that ``pattern`` finds replaced by ``spell(ch)``."""

    def one(match: re.Match[str]) -> str:
        ch = match.group()
        return spell(ch) if ord(ch) < 0x10000 or _ASTRAL_HIDDEN.match(ch) else ch

    return pattern.sub(one, text)


# In text, tab stays: it is visible white space in prose and comments.
_INVISIBLE = hidden_pattern("\\x00-\\x08\\x0a-\\x1f")
# Python source may hold an encoding declaration in a comment on line 1 or 2 (PEP 263):
# ``coding:utf-7`` there would make the interpreter read the file as UTF-7, where ``+ACc-`` is a quote.
_CODING_COOKIE = re.compile(r"(coding)([:=])", re.IGNORECASE)


def _shown(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def one_line(value: object) -> str:
    """``value`` as one line of text with every hidden character spelled out as ``U+XXXX``."""
    return escape_hidden(_INVISIBLE, _LINE_BREAKS.sub(" ", str(value)), _shown)


def _entities(space: str) -> str:
    return "".join(f"&#{ord(ch)};" for ch in space)


def md(value: object) -> str:
    """Escape text for one Markdown table cell or inline run: no markup, no HTML, one line.

    Outer white space is written as character references: raw, it would make an indented code
    block at the start of a line, stop the template's own ``*…*`` emphasis, or vanish.
    """
    return _md_text(str(value))


@lru_cache(maxsize=8192)  # the docs escape ~3,200 texts per build, 1,300 of them distinct
def _md_text(value: str) -> str:
    text = one_line(value)
    core = text.strip()
    lead = text[: len(text) - len(text.lstrip())]
    rest = text[len(lead) + len(core) :]
    core = _MD_SPECIAL.sub(r"\\\1", core)
    # An ATX heading drops a closing run of '#' (one after white space): the value would lose it.
    bare = core.rstrip("#")
    if bare != core and (not bare or bare[-1].isspace()):
        core = f"{bare}\\{core[len(bare) :]}"
    # Text that begins a line must not turn into a heading, list item or table rule.
    core = _MD_LINE_START.sub(
        lambda m: f"{m.group(1)}\\{m.group(2)}" if not m.group(2).isdigit() else f"{m.group(1)}{m.group(2)}\\", core
    )
    return f"{_entities(lead)}{core}{_entities(rest)}"


# Text that could hold markup for CommonMark with GFM's tables and strikethrough: an inline marker,
# an entity reference, a ``_`` not between two letters or digits (an intraword one opens nothing), a
# line that could open a block, outer white space or a hard break; and a ``|`` in text of several
# lines (a table). Anything else is prose as it stands: markdown-it is not even imported for it.
_MD_RISKY = re.compile(
    r"[\\`*\[\]<>~]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|(?<![^\W_])_|_(?![^\W_])"
    r"|^ {0,3}(?:[#>+=-]|[0-9]+[.)])|^\s|\s$",
    re.MULTILINE,
)


def _may_hold_markup(text: str) -> bool:
    # A lone CR ends a line for CommonMark, not for the pattern's ``^``: text holding one is looked at.
    return bool(_MD_RISKY.search(text)) or "\r" in text or ("|" in text and "\n" in text)


# What markdown-it writes for these characters of plain text (``&`` first).
_HTML_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"))


@lru_cache(maxsize=1)
def _commonmark() -> Any:
    from markdown_it import MarkdownIt  # only when a text needs looking at: most are plain prose

    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    # Every link destination counts (a viewer may not refuse ``javascript:`` as markdown-it does).
    parser.validateLink = lambda url: True  # type: ignore[method-assign]
    return parser


def _reads_as_itself(text: str) -> bool:
    def shown(paragraph: str) -> str:
        for char, entity in _HTML_ENTITIES:
            paragraph = paragraph.replace(char, entity)
        return f"<p>{paragraph}</p>\n"

    return bool(_commonmark().render(text) == "".join(shown(p) for p in text.split("\n\n") if p))


@lru_cache(maxsize=4096)
def md_prose(text: str) -> str:
    """``text`` for a field read as CommonMark (an OpenAPI ``description``): as it is when CommonMark,
    with GFM's tables and strikethrough, reads it as the very text (what a Java or TypeScript client
    generator copies into its doc comments stays unescaped); else each paragraph escaped by
    :func:`md`, so spec text never turns into markup, links or HTML in a documentation viewer."""
    if not _may_hold_markup(text) or _reads_as_itself(text):
        return text
    return "\n\n".join(md(paragraph) for paragraph in text.split("\n\n"))


def md_code(value: object, in_table: bool = True) -> str:
    """Text shown as inline code: backticks cannot be escaped inside code spans, so use enough of them.

    In a table cell a ``|`` must be written ``\\|`` even inside code (GFM splits cells first);
    elsewhere the backslash would show.
    """
    text = one_line(value)
    if in_table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def py(value: object) -> str:
    """A Python literal for a spec value (str, int, bool, None, tuples/lists of them)."""
    if isinstance(value, str):
        # repr() escapes quotes, backslashes and every non-printable character (controls, format and
        # bidi characters, separators, private use); non-ASCII letters stay readable.
        return escape_hidden(
            _INVISIBLE, repr(value), lambda ch: f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}"
        )
    if isinstance(value, (bool, int)) or value is None:
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(py(item) for item in value)
        return (
            f"({inner},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
        )
    raise TypeError(f"no Python literal for {type(value).__name__}")


def py_docstring(text: str, indent: int = 8) -> str:
    """A triple-quoted string literal of ``text`` that no spec text can break out of.

    Each line goes through ``py`` (``repr``: backslashes, quotes and hidden characters escaped);
    double quotes are escaped as well, so no ``\"\"\"`` can appear inside.
    """
    pad = " " * indent
    lines: list[str] = []
    for line in text.split("\n"):
        literal = py(line)
        inner = literal[1:-1]
        if literal.startswith("'"):
            # Only a quote that could join others into a closing triple quote needs escaping.
            inner = re.sub(r'"(?="|$)', r'\\"', inner)
        lines.append(f"{pad}{inner}" if inner and lines else inner)
    body = "\n".join(lines)
    closing = f"\n{pad}" if len(lines) > 1 else ""
    return f'"""{body}{closing}"""'


def py_comment(value: object) -> str:
    """Text for a ``#`` comment: one line, no hidden characters, no encoding declaration."""
    return _CODING_COOKIE.sub(r"\1 \2", one_line(value))


def json_text(value: object) -> str:
    """A JSON literal of ``value``, for a template that embeds data in code."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Templates compiled once and kept (compiling them was a sixth of a build) in Jinja's own
    per-user folder, which Jinja makes private and checks is the user's: never in the folder qcvngen
    runs in, where a file a repository carries would be loaded as code. Jinja discards a kept one
    whose source checksum, Jinja or Python version differs. Off when the tool cache is off."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if toolcache.enabled():
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if toolcache.enabled():
            super().dump_bytecode(bucket)


@lru_cache(maxsize=4)
def environment(root: Path | None = None) -> jinja2.Environment:
    """The one Jinja environment: StrictUndefined, no autoescape, the escaping filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root or templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=CompiledTemplates(),
    )
    env.filters.update(md=md, md_code=md_code, py=py, py_comment=py_comment, json=json_text)
    # Fixed words every template may say, from their one definition.
    env.globals.update(packet_direction=directions.PACKET, packet_direction_short=directions.PACKET_SHORT)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``template`` (a path under templates/) with ``context``."""
    return environment().get_template(template).render(**context)

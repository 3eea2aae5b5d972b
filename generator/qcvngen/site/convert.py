"""One generated Markdown page → an HTML fragment, its field-row anchors and its search entries.

The parser is markdown-it (CommonMark + tables) with raw HTML off: spec text, already escaped by
the ``md`` filter, can only become text. The few bits of HTML the docs templates write themselves
(the header comment, ``<br>`` in Table 1, ``<a id>`` anchors in the code lists) are recognised
before escapes are merged into text, so an escaped ``\\<br>`` in spec text stays text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from .bilingual import (
    Lang,
    english,
    fully,
    is_pair,
    mark,
    plain,
    prose,
    split_break,
    split_pairs,
    vi_ratio,
    words,
    wrap,
)

_HEADER = re.compile(r"\A<!-- (.*) -->\n")
_ANCHOR = re.compile(r'<a id="([A-Za-z0-9_-]+)"></a>')
_BREAK = "<br>"
_FIELD_HEADER = "Trường / Field"


def _template_markup(state: StateCore) -> None:
    """Before escapes are merged into text: turn the templates' own ``<br>`` and anchor lines into tokens."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "inline" or not token.children:
            continue
        children = token.children
        anchor = _ANCHOR.fullmatch(children[0].content) if len(children) == 1 and children[0].type == "text" else None
        if anchor and tokens[i - 1].type == "paragraph_open":
            tokens[i - 1].meta["anchor"] = anchor.group(1)
            continue
        rebuilt: list[Token] = []
        for child in children:
            if child.type == "text" and _BREAK in child.content:
                parts = child.content.split(_BREAK)
                for n, part in enumerate(parts):
                    if n:
                        rebuilt.append(Token("qcvn_br", "br", 0))
                    if part:
                        rebuilt.append(Token("text", "", 0, content=part))
            elif child.type != "text" or child.content:
                rebuilt.append(child)
        token.children = rebuilt


def _render_break(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return "<br>"


def _render_table_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return '<div class="table-wrap">\n' + str(self.renderToken(tokens, idx, options, env))


def _render_table_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return str(self.renderToken(tokens, idx, options, env)) + "</div>\n"


@functools.lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "xhtmlOut": False, "linkify": False, "typographer": False})
    md.enable("table").disable(["html_block", "html_inline"])
    md.core.ruler.before("text_join", "qcvn_template_markup", _template_markup)
    md.add_render_rule("qcvn_br", _render_break)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("table_close", _render_table_close)
    return md


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces as hyphens."""
    kept = "".join(ch for ch in text.lower() if ch in " -_" or unicodedata.category(ch)[0] in "LMN")
    return kept.replace(" ", "-") or "section"


def html_path(source: PurePosixPath) -> PurePosixPath:
    return PurePosixPath("index.html") if source == PurePosixPath("README.md") else source.with_suffix(".html")


def _href(href: str) -> str:
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:|#|/", href):
        return href
    path, hashmark, fragment = href.partition("#")
    if path.endswith(".md"):
        path = "index.html" if path == "README.md" else path[:-3] + ".html"
    return path + hashmark + fragment


@dataclass
class Page:
    """One converted page: its HTML body and what the navigation and the search index need."""

    source: PurePosixPath
    path: PurePosixPath
    title: str
    body: str
    footer: str
    entries: list[dict[str, str]] = field(default_factory=list)


@dataclass
class _Walk:
    page: PurePosixPath
    ids: set[str] = field(default_factory=set)
    anchor: str | None = None
    section: str = ""
    title: str = ""
    purpose: dict[str, str] = field(default_factory=dict)
    entries: list[dict[str, str]] = field(default_factory=list)

    def unique(self, wanted: str) -> str:
        chosen, n = wanted, 1
        while chosen in self.ids:
            chosen, n = f"{wanted}-{n}", n + 1
        self.ids.add(chosen)
        return chosen


def convert(source: PurePosixPath, markdown: str) -> Page:
    """One Markdown page of generated/docs as an HTML fragment with language marks and field anchors."""
    header = _HEADER.match(markdown)
    footer = header.group(1) if header else ""
    text = markdown[header.end():] if header else markdown
    md = _parser()
    tokens = md.parse(text)
    walk = _Walk(page=html_path(source))
    kept = _walk(tokens, walk)
    body = md.renderer.render(kept, md.options, {})
    if source.parent.name == "packets" and walk.purpose:
        number, _, name = walk.title.partition(" ")
        walk.entries.insert(0, _entry(walk, "packet", name, number=number, packet=name, **walk.purpose))
    title = walk.title or source.stem
    return Page(source=source, path=walk.page, title=title, body=body, footer=footer, entries=walk.entries)


def _entry(walk: _Walk, kind: str, name: str, **facts: str) -> dict[str, str]:
    """One search-index entry; every entry has the same keys."""
    keys = ("anchor", "en", "number", "packet", "ref", "section", "vi")
    return {"kind": kind, "name": name, "page": walk.page.as_posix(), **{key: facts.get(key, "") for key in keys}}


def _walk(tokens: list[Token], walk: _Walk) -> list[Token]:
    kept: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "paragraph_open" and "anchor" in token.meta:
            walk.anchor = token.meta["anchor"]
            i += 3
            continue
        if token.type == "heading_open":
            _heading(token, tokens[i + 1], walk)
        elif token.type == "table_open":
            end = next(j for j in range(i, len(tokens)) if tokens[j].type == "table_close")
            _table(tokens[i:end + 1], walk)
            kept += tokens[i:end + 1]
            i = end + 1
            continue
        elif token.type == "paragraph_open" and token.level == 0 and _paragraph_pair(tokens, i, walk):
            kept += tokens[i:i + 6]
            i += 6
            continue
        elif token.type == "inline" and token.children is not None and tokens[i - 1].type != "heading_open":
            token.children = split_pairs(token.children)
        kept.append(token)
        i += 1
    for token in kept:
        for child in token.children or []:
            if child.type == "link_open":
                child.attrSet("href", _href(str(child.attrGet("href") or "")))
    return kept


def _heading(opening: Token, inline: Token, walk: _Walk) -> None:
    children = inline.children or []
    text = plain(children)
    opening.attrSet("id", walk.unique(walk.anchor or slug(text)))
    walk.anchor = None
    if opening.tag == "h1" and not walk.title:
        walk.title = text
    inline.children = split_pairs(children, whole=True)
    walk.section = english(inline.children)


def _paragraph_pair(tokens: list[Token], i: int, walk: _Walk) -> bool:
    """A Vietnamese paragraph followed by its English translation (italic, or a plain one of like length)."""
    if i + 5 >= len(tokens) or tokens[i + 3].type != "paragraph_open" or tokens[i + 3].level != 0:
        return False
    first, second = tokens[i + 1].children or [], tokens[i + 4].children or []
    vi, en = prose(first), prose(second)
    if fully(second, "em"):
        paired = vi_ratio(vi) >= 0.5 and vi_ratio(en) < 0.5
    else:
        unlabelled = not any(s in vi + en for s in (" / ", " — "))
        paired = unlabelled and vi_ratio(vi) >= 0.6 and vi_ratio(en) <= 0.1 and 0.4 <= len(en) / max(len(vi), 1) <= 2.5
    if not paired:
        return False
    for offset, lang in ((0, "vi"), (3, "en")):
        tokens[i + offset].attrSet("class", f"l-{lang}")
        tokens[i + offset].attrSet("lang", lang)
    if not walk.purpose and walk.title:
        walk.purpose = {"vi": plain(first), "en": plain(second)}
    return True


def _table(tokens: list[Token], walk: _Walk) -> None:
    rows: list[tuple[Token, list[tuple[Token, Token]]]] = []
    for j, token in enumerate(tokens):
        if token.type == "tr_open":
            rows.append((token, []))
        elif token.type in ("th_open", "td_open"):
            rows[-1][1].append((token, tokens[j + 1]))
    header = [plain(inline.children or []) for _, inline in rows[0][1]]
    if not any(header):
        tokens[0].attrSet("class", "key-value")  # "| | |": a table of labels and values, no header to show
    langs: list[Lang | None] = ["vi" if h.endswith("(vi)") else "en" if h.endswith("(en)") else None for h in header]
    for row_open, cells in rows:
        _cells(cells, langs)
        if _FIELD_HEADER in header and row_open is not rows[0][0]:
            _field_row(row_open, cells, header, walk)


def _cells(cells: list[tuple[Token, Token]], langs: list[Lang | None]) -> None:
    for n, (cell, inline) in enumerate(cells):
        children = inline.children or []
        lang = langs[n] if n < len(langs) else None
        if lang is not None:
            mark(cell, lang)
            continue
        nxt = cells[n + 1][1].children or [] if n + 1 < len(cells) else []
        if fully(children, "em", "strong") and fully(nxt, "em") and is_pair(children, nxt) and words(prose(nxt)):
            # Table 1's group rows: the Vietnamese title in one cell, the English in the next.
            inline.children = wrap(children, "vi")
            cells[n + 1][1].children = wrap(nxt, "en")
            continue
        if children and children[0].type == "span_open":
            continue
        inline.children = split_break(children) or split_pairs(children)


def _field_row(row: Token, cells: list[tuple[Token, Token]], header: list[str], walk: _Walk) -> None:
    def column(test: str) -> str:
        for n, name in enumerate(header):
            if (name.endswith(test) if test.startswith("(") else name == test) and n < len(cells):
                return plain(cells[n][1].children or [])
        return ""

    name = column(_FIELD_HEADER)
    if not name:
        return
    anchor = walk.unique(f"f-{re.sub(r'[^A-Za-z0-9_-]', '_', name)}")
    row.attrSet("id", anchor)
    packet = walk.title.partition(" ")[2] if walk.page.parent.name == "packets" else walk.title
    walk.entries.append(
        _entry(walk, "field", name, anchor=anchor, packet=packet, section=walk.section, ref=column("Ref"),
               vi=column("(vi)"), en=column("(en)"))
    )

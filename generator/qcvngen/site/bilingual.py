"""Which text on a docs page is Vietnamese and which is its English translation, marked with classes.

The docs pages are bilingual side by side, in a few fixed layouts: ``vi / en`` and ``vi — en``
labels, a ``vi<br>*en*`` cell, and whole paragraphs (handled by the converter). A pair is marked
only when the left side reads as Vietnamese and the right side as English, so text that exists in
one language only (the spec's notes are English) is never hidden by the language switch.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal

from markdown_it.token import Token

Lang = Literal["vi", "en"]

# " / " and " — " join the two languages; stop characters end a label's run of words.
_PIECE = re.compile(r" / | — |\s+|[.;:,·—–()]|[^\s.;:,·—–()]+")
_STOPS = frozenset(".;:·—–")


def _vietnamese_word(word: str) -> bool:
    """A word with a Vietnamese diacritic (tone mark, breve, circumflex, horn) or đ."""
    return "đ" in word.lower() or any(unicodedata.combining(ch) for ch in unicodedata.normalize("NFD", word))


def words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s.;:,·—–()/*`]+", text) if any(ch.isalpha() for ch in w)]


def vi_ratio(text: str) -> float:
    found = words(text)
    return sum(map(_vietnamese_word, found)) / len(found) if found else 0.0


def _has_latin_word(text: str) -> bool:
    return any(re.search(r"[A-Za-z]", w) for w in words(text))


def plain(tokens: Sequence[Token]) -> str:
    return "".join(t.content for t in tokens if t.type in ("text", "code_inline"))


def prose(tokens: Sequence[Token]) -> str:
    """Text without code spans: code is wire names and values, in no language."""
    return "".join(t.content for t in tokens if t.type == "text")


def _span(lang: Lang | None) -> tuple[Token, Token]:
    opening = Token("span_open", "span", 1)
    if lang is None:
        opening.attrSet("class", "l-sep")
    else:
        opening.attrSet("class", f"l-{lang}")
        opening.attrSet("lang", lang)
    return opening, Token("span_close", "span", -1)


def wrap(tokens: Sequence[Token], lang: Lang | None) -> list[Token]:
    opening, closing = _span(lang)
    return [opening, *tokens, closing]


def mark(cell: Token, lang: Lang) -> None:
    cell.attrJoin("class", f"l-{lang}")
    cell.attrSet("lang", lang)


def fully(tokens: Sequence[Token], *kinds: str) -> bool:
    if len(tokens) < 2:
        return False
    return tokens[0].type in {f"{k}_open" for k in kinds} and tokens[-1].type in {f"{k}_close" for k in kinds}


def _pieces(children: Sequence[Token]) -> list[Token]:
    """Text tokens split into words, spaces, stops and separators, so pairs can be cut between them."""
    out: list[Token] = []
    for token in children:
        if token.type != "text":
            out.append(token)
            continue
        for piece in _PIECE.findall(token.content):
            out.append(Token("text", "", 0, content=piece))
    return out


def _kind(token: Token) -> str:
    if token.type == "code_inline":
        return "word"
    if token.type != "text":
        return "barrier"
    text = token.content
    if text in (" / ", " — "):
        return "sep"
    if text.isspace():
        return "space"
    if text in _STOPS:
        return "stop"
    return {",": "comma", "(": "open", ")": "close"}.get(text, "word")


def _left(atoms: list[Token], kinds: list[str], sep: int, floor: int) -> int | None:
    """Start of the Vietnamese label that ends just before ``atoms[sep]``."""
    depth, start, k = 0, None, sep - 1
    while k >= floor:
        kind = kinds[k]
        if kind == "close":
            depth += 1
        elif kind == "open":
            if depth == 0:
                break
            depth -= 1
        elif kind not in ("word", "space", "comma"):
            break
        if kind in ("word", "open") and depth == 0:
            start = k
        k -= 1
    if start is None or kinds[sep - 1] not in ("word", "close"):
        return None
    return start


def _right(atoms: list[Token], kinds: list[str], sep: int, left_words: set[str]) -> int | None:
    """End (exclusive) of the English label that starts just after ``atoms[sep]``."""
    depth, end, k = 0, None, sep + 1
    while k < len(atoms):
        kind = kinds[k]
        if kind == "open":
            depth += 1
        elif kind == "close":
            if depth == 0:
                break
            depth -= 1
        elif kind == "word":
            text = atoms[k].content
            # A number on the English side belongs to it only if the Vietnamese side has it too
            # ("Bảng 1 / Table 1"); otherwise it is the value both labels describe.
            if atoms[k].type == "text" and any(ch.isdigit() for ch in text) and text not in left_words:
                break
        elif kind != "space":
            break
        if kind in ("word", "close") and depth == 0:
            end = k + 1
        k += 1
    return end


def _labels(atoms: list[Token], kinds: list[str], sep: int, floor: int) -> list[tuple[int, int]]:
    """Candidate (start, end) of the two labels around ``atoms[sep]``, the widest first."""
    full_stop = kinds[sep - 1] == "stop" and atoms[sep - 1].content == "."
    # Two sentences: "… gọi. / Services … calls."
    start = _left(atoms, kinds, sep - 1 if full_stop else sep, floor)
    if start is None:
        return []
    # A code span that opens the Vietnamese label is what both labels describe: "`""` khi không có / when absent".
    while start < sep and (atoms[start].type == "code_inline" or kinds[start] == "space"):
        start += 1
    left_words = {t.content for t in atoms[start:sep]}
    end = _right(atoms, kinds, sep, left_words)
    if end is None:
        return []
    if full_stop and end < len(atoms) and atoms[end].content == ".":
        end += 1
    found = [(start, end)]
    # Parallel labels with the same inner stop on both sides: "Đóng: giá trị khác là lỗi / closed: other
    # values are errors", "Đường dẫn …; chưa rõ tên trường / path(s) …; key name unknown".
    while True:
        stop = start - 1
        while stop > floor and kinds[stop] == "space":
            stop -= 1
        parallel = stop >= floor and end < len(atoms) and atoms[stop].content in (":", ";")
        if not (parallel and atoms[end].content == atoms[stop].content):
            return found
        outer_start = _left(atoms, kinds, stop, floor)
        if outer_start is None:
            return found
        left_words |= {t.content for t in atoms[outer_start:stop]}
        outer_end = _right(atoms, kinds, end, left_words)
        if outer_end is None:
            return found
        start, end = outer_start, outer_end
        found.insert(0, (start, end))


def split_pairs(children: list[Token], whole: bool = False) -> list[Token]:
    """Mark ``vi / en`` and ``vi — en`` label pairs; ``whole`` first tries the run as one pair (headings)."""
    atoms = _pieces(children)
    kinds = [_kind(t) for t in atoms]
    seps = [i for i, kind in enumerate(kinds) if kind == "sep"]
    if whole and [atoms[i].content for i in seps].count(" / ") == 1 and "barrier" not in kinds:
        i = next(i for i in seps if atoms[i].content == " / ")
        if is_pair(atoms[:i], atoms[i + 1:], slash=True):
            return [*wrap(atoms[:i], "vi"), *wrap(atoms[i:i + 1], None), *wrap(atoms[i + 1:], "en")]
    cuts: list[tuple[int, int, int]] = []
    floor = 0
    for sep in seps:
        for start, end in _labels(atoms, kinds, sep, floor):
            if is_pair(atoms[start:sep], atoms[sep + 1:end], slash=atoms[sep].content == " / "):
                cuts.append((start, sep, end))
                floor = end
                break
    if not cuts:
        return children
    out: list[Token] = []
    done = 0
    for start, sep, end in cuts:
        out += atoms[done:start]
        out += [*wrap(atoms[start:sep], "vi"), *wrap(atoms[sep:sep + 1], None), *wrap(atoms[sep + 1:end], "en")]
        done = end
    return out + atoms[done:]


def is_pair(vi: Sequence[Token], en: Sequence[Token], slash: bool = False) -> bool:
    """Vietnamese on the left, English on the right. Many Vietnamese words carry no diacritic, so
    across " / " ("Bổ sung sau / Later") one marked word is enough when the right side has none;
    " — " also joins English phrases about Vietnamese names ("Điện Biên portal — … proxy")."""
    vi_text, en_text = prose(vi), prose(en)
    left, right = vi_ratio(vi_text), vi_ratio(en_text)
    return _has_latin_word(en_text) and (left >= 0.5 and right < 0.5 or slash and left > 0 and right == 0)


def split_break(children: list[Token]) -> list[Token] | None:
    """A cell written ``vi<br>*en*`` (Table 1's purposes)."""
    breaks = [i for i, t in enumerate(children) if t.type == "qcvn_br"]
    if len(breaks) != 1:
        return None
    i = breaks[0]
    vi, en = children[:i], children[i + 1:]
    if not (fully(en, "em") and vi_ratio(prose(vi)) >= 0.5 and vi_ratio(prose(en)) < 0.5):
        return None
    return [*wrap(vi, "vi"), *wrap(children[i:i + 1], None), *wrap(en, "en")]


def english(children: Sequence[Token]) -> str:
    """The text a reader of English sees: without the Vietnamese halves and the separators."""
    shown: list[Token] = []
    hidden = 0
    for child in children:
        if child.type == "span_open" and (hidden or child.attrGet("class") in ("l-vi", "l-sep")):
            hidden += 1
        elif child.type == "span_close" and hidden:
            hidden -= 1
        elif not hidden:
            shown.append(child)
    return plain(shown)

"""Suggestions ("did you mean …?"): the known names closest to a mistyped one, for the CLI and validate-data.

Standard library only. A name that differs only in case is the likeliest mistake (``DongBoHoSoMc``
for ``DongBoHoSoMC``), so it is offered alone when there is one; otherwise difflib's closest names,
compared without case. Only known names are ever quoted back, never the mistyped value (it may come
from a payload and hold anything).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's default: close enough that the suggestion is usually right, far enough to stay quiet.
CUTOFF = 0.6


def closest(wanted: str, known: Iterable[str], *, limit: int = 3, cutoff: float = CUTOFF) -> list[str]:
    """Up to ``limit`` names of ``known`` closest to ``wanted``, best first; [] when none is close."""
    names = list(dict.fromkeys(known))
    folded = wanted.casefold()
    same_but_case = [name for name in names if name.casefold() == folded and name != wanted]
    if same_but_case:
        return same_but_case[:limit]
    by_folded: dict[str, list[str]] = {}
    for name in names:
        by_folded.setdefault(name.casefold(), []).append(name)
    matches = difflib.get_close_matches(folded, list(by_folded), n=limit, cutoff=cutoff)
    return [name for match in matches for name in by_folded[match]][:limit]


def either(names: list[str]) -> str:
    """``'A'``, ``'A' or 'B'``, ``'A', 'B' or 'C'``."""
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def did_you_mean(wanted: str, known: Iterable[str], *, lead: str = "did you mean") -> str:
    """`` (did you mean 'A' or 'B'?)`` naming the closest known names, or "" when none is close."""
    close = closest(wanted, known)
    return f" ({lead} {either(close)}?)" if close else ""

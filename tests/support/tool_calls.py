"""A stand-in tool for the tool cache's one entry point, ``toolcache.cached_many``."""

from __future__ import annotations

from collections.abc import Callable

Produce = Callable[[dict[str, str]], dict[str, str]]


def counting(calls: list[str]) -> Produce:
    """A tool that upper-cases each input text it is given, noting each in ``calls``."""

    def produce(missing: dict[str, str]) -> dict[str, str]:
        calls.extend(missing.values())
        return {name: text.upper() for name, text in missing.items()}

    return produce

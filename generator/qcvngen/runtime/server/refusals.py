"""Requests answered with a portal-style error before they reach a handler, and how paths are shown."""

from __future__ import annotations

import re

from .answers import INVALID_REQUEST

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class Refused(Exception):
    """A request answered with ``{"error_code", "message"}`` and a 4xx status, never a handler call."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def invalid(message: str) -> Refused:
    """A 400 with ``error_code`` ``-1``: the request itself is wrong."""
    return Refused(400, INVALID_REQUEST, message)


def over_limit(setting: str, limit: int, what_vi: str, what_en: str) -> Refused:
    """A 413 naming the setting that refused the request (``max_json_nodes`` …) and its value."""
    return Refused(413, INVALID_REQUEST, f"{what_vi} — {what_en} (limit {setting}={limit})")


def is_plain_key(key: str) -> bool:
    """A key that may be shown in a message: a plain name (every wire name is one)."""
    return _PLAIN_KEY.fullmatch(key) is not None


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``data[0].NgayTiepNhan`` from a location.

    A key that is not a plain name (it may be anything a client sent, personal data included) is
    shown as ``<key>``; every wire name is a plain name.
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = part if is_plain_key(part) else "<key>"
        path += f".{name}" if path else name
    return path or "(body)"

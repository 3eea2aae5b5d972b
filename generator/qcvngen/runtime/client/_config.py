"""Settings of one client, checked once: URLs, credentials (kept as secrets), limits and TLS."""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from . import capture as shapes

Verify = Literal[True] | str | os.PathLike[str] | ssl.SSLContext
# Where capture lines go (see ``capture``): a JSON Lines file, or a callable given each line.
CaptureSink = str | os.PathLike[str] | Callable[[dict[str, Any]], None]

LOGIN = "login"
LOGGER_NAME = "qcvn120_client"
SESSION_ERROR_CODES = ("-2",)
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+")
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
# The encodings the client decodes itself, under its own size bound (see _decode).
ACCEPT_ENCODING = "gzip, deflate"


class Secret:
    """A credential or token: its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the request body only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class Config:
    """Validated settings of one client."""

    base_url: str
    paths: Mapping[str, str]
    username: Secret = field(repr=False)
    password: Secret = field(repr=False)
    madonvi: str
    dstcode: str | None
    user_agent: str
    batch_size: int
    max_retries: int
    backoff: float
    backoff_max: float
    retry_after_max: float
    session_ttl: float
    session_error_codes: frozenset[str]
    max_response_bytes: int
    deadline: float
    capture: CaptureSink | None = field(default=None, repr=False)

    def url(self, endpoint: str) -> str:
        """The full URL of an endpoint (``base_url`` never holds credentials)."""
        return self.base_url + self.paths[endpoint]

    def headers(self) -> dict[str, str]:
        """The headers of every request."""
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "Content-Type": "application/json",
            "Charset": "utf-8",
            "User-Agent": self.user_agent,
        }
        if self.dstcode is not None:
            headers["dstcode"] = self.dstcode
        return headers


def normalise_code(value: object) -> str | None:
    """``error_code`` as a short string: 0, "0", " 00 " → "0"; -3, "-3" → "-3"; None when unusable.

    Integers beyond 18 digits and texts beyond 64 characters are unusable: a code is shown in
    error texts and must stay short.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if abs(value) < 10**18 else None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e18 else None
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return str(int(text))
        if 0 < len(text) <= 64 and not CONTROL.search(text):
            return text
    return None


def _check_base_url(base_url: str) -> httpx.URL:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        raise ValueError("base_url is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an absolute http:// or https:// URL")
    if url.userinfo:
        raise ValueError("base_url must not carry user info: pass username and password instead")
    if url.query or url.fragment or "?" in base_url or "#" in base_url:
        raise ValueError("base_url must not carry a query string or a fragment")
    return url


def _check_numbers(
    batch_size: int, max_retries: int, max_response_bytes: int, floats: Mapping[str, float]
) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive integer")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError("max_retries must be an integer >= 0")
    if not isinstance(max_response_bytes, int) or max_response_bytes < 1:
        raise ValueError("max_response_bytes must be a positive integer")
    for label, number in floats.items():
        if not number >= 0:
            raise ValueError(f"{label} must be >= 0")
    for label in ("session_ttl", "deadline"):
        if not floats[label] > 0:
            raise ValueError(f"{label} must be > 0")


def make_config(
    *,
    base_url: str,
    paths: Mapping[str, str],
    username: str,
    password: str,
    madonvi: str,
    dstcode: str | None,
    user_agent: str,
    batch_size: int,
    max_retries: int,
    backoff: float,
    backoff_max: float,
    retry_after_max: float,
    session_ttl: float,
    session_error_codes: Iterable[str],
    max_response_bytes: int,
    deadline: float = 120.0,
    capture: CaptureSink | None = None,
) -> Config:
    """Checks the settings; messages name the setting, never its value (it may be a secret)."""
    url = _check_base_url(base_url)
    for name, path in paths.items():
        if not isinstance(path, str) or not path.startswith("/") or "?" in path or "#" in path:
            raise ValueError(
                f"the path of endpoint {name!r} must start with '/' and carry no query or fragment"
            )
    for label, value in (("username", username), ("password", password), ("madonvi", madonvi)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{label} must be a non-empty string")
    if dstcode is not None and (
        not isinstance(dstcode, str) or not dstcode or CONTROL.search(dstcode)
    ):
        raise ValueError("dstcode must be a non-empty string without control characters")
    floats = {
        "backoff": backoff,
        "backoff_max": backoff_max,
        "retry_after_max": retry_after_max,
        "session_ttl": session_ttl,
        "deadline": deadline,
    }
    _check_numbers(batch_size, max_retries, max_response_bytes, floats)
    _check_capture(capture)
    # A path becomes a capped, rotating capture file, checked now: a FIFO, device or link is
    # refused at start (CaptureFileError, a ValueError) instead of failing every exchange later.
    sink = None if capture is None else shapes.sink_of(capture)
    codes = frozenset(c for c in (normalise_code(c) for c in session_error_codes) if c is not None)
    return Config(
        base_url=str(url).rstrip("/"),
        paths=dict(paths),
        username=Secret(username),
        password=Secret(password),
        madonvi=madonvi,
        dstcode=dstcode,
        user_agent=user_agent,
        batch_size=batch_size,
        max_retries=max_retries,
        backoff=float(backoff),
        backoff_max=float(backoff_max),
        retry_after_max=float(retry_after_max),
        session_ttl=float(session_ttl),
        session_error_codes=codes,
        max_response_bytes=max_response_bytes,
        deadline=float(deadline),
        capture=sink,
    )


def _check_capture(capture: object) -> None:
    if capture is None or callable(capture):
        return
    if isinstance(capture, (str, os.PathLike)) and os.fspath(capture):
        return
    raise ValueError("capture must be None, a file path or a callable taking one line (a dict)")


def make_verify(verify: Verify) -> ssl.SSLContext | Literal[True]:
    """TLS verification is always on: the default trust store, a CA bundle path, or a caller's SSLContext."""
    if verify is True or isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, (str, os.PathLike)):
        return ssl.create_default_context(cafile=os.fspath(verify))
    raise ValueError(
        "verify must be True, a CA bundle path or an ssl.SSLContext;"
        " TLS verification cannot be turned off"
    )
